//! Test images built in memory, deterministically: gzip'd tar layers, image
//! configs, OCI and Docker manifests, OCI indexes and Docker manifest lists,
//! and the pushes that put them into a test registry.
#![allow(dead_code)]

use std::io::Write;

use serde_json::json;

use crate::registry::Registry;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Oci,
    Docker,
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Every manifest media type, for Accept headers.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// The modification time of every tar entry.
const MTIME: u64 = 1_700_000_000;

#[derive(Clone, Debug)]
pub struct Layer {
    /// The gzip'd tar.
    pub blob: Vec<u8>,
    pub digest: String,
    pub size: u64,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

fn sha256(data: &[u8]) -> String {
    dist::digest::Digest::of(data).to_string()
}

fn gzip(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for (path, data) in files {
        let path = path.trim_start_matches('/');
        let mut parent = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            parent.push_str(part);
            parent.push('/');
            if !dirs.contains(&parent) {
                dirs.push(parent.clone());
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                tar.append_data(&mut h, &parent, std::io::empty()).unwrap();
            }
        }
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        tar.append_data(&mut h, path, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn layer_from_tar(tar: Vec<u8>, level: flate2::Compression) -> Layer {
    let blob = gzip(&tar, level);
    Layer {
        digest: sha256(&blob),
        size: blob.len() as u64,
        diff_id: sha256(&tar),
        blob,
    }
}

/// A layer holding regular files (mode 0644, parent directories added as
/// 0755 entries), mtimes fixed: the same files make the same bytes.
pub fn layer(files: &[(&str, &[u8])]) -> Layer {
    layer_from_tar(tar_of(files), flate2::Compression::default())
}

/// A layer of the tar stream `tar`, gzip'd.
pub fn layer_of_tar(tar: Vec<u8>) -> Layer {
    layer_from_tar(tar, flate2::Compression::default())
}

/// A layer holding one file (`blob-SEED`) of `n` pseudo-random bytes;
/// the gzip'd blob is slightly larger than `n`.
pub fn layer_of_size(n: usize, seed: u64) -> Layer {
    let data = crate::util::content(n, seed);
    let name = format!("blob-{seed}");
    layer_from_tar(tar_of(&[(&name, &data)]), flate2::Compression::fast())
}

#[derive(Clone, Debug)]
pub struct Image {
    pub format: Format,
    pub manifest: Vec<u8>,
    pub digest: String,
    pub media_type: &'static str,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<Layer>,
    pub os: String,
    /// As given: `amd64`, or with a variant, `arm/v7`.
    pub arch: String,
}

/// `(architecture, variant)` of `arm/v7`-style `arch`.
fn split_arch(arch: &str) -> (&str, Option<&str>) {
    match arch.split_once('/') {
        Some((a, v)) => (a, Some(v)),
        None => (arch, None),
    }
}

/// An image for `os`/`arch` (`arch` may carry a variant: `arm64/v8`).
pub fn image(format: Format, os: &str, arch: &str, layers: Vec<Layer>) -> Image {
    image_with(format, os, arch, layers, json!({}))
}

/// An image whose config says to run it as `run` (`Env`, `Cmd`, `Labels`…).
pub fn image_with(
    format: Format,
    os: &str,
    arch: &str,
    layers: Vec<Layer>,
    run: serde_json::Value,
) -> Image {
    let (architecture, variant) = split_arch(arch);
    let mut config = json!({
        "architecture": architecture,
        "os": os,
        "created": "2026-01-02T03:04:05Z",
        "config": run,
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        },
        "history": layers
            .iter()
            .enumerate()
            .map(|(i, _)| json!({"created_by": format!("dist test layer {i}")}))
            .collect::<Vec<_>>(),
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = sha256(&config);
    let (media_type, config_type, layer_type) = match format {
        Format::Oci => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
        Format::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type,
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": layers
            .iter()
            .map(|l| json!({"mediaType": layer_type, "digest": l.digest, "size": l.size}))
            .collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    Image {
        format,
        digest: sha256(&manifest),
        manifest,
        media_type,
        config,
        config_digest,
        layers,
        os: os.to_string(),
        arch: arch.to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct Index {
    pub body: Vec<u8>,
    pub digest: String,
    pub media_type: &'static str,
    pub images: Vec<Image>,
}

/// An OCI index or Docker manifest list of `images`, in order.
pub fn index(format: Format, images: Vec<Image>) -> Index {
    let media_type = match format {
        Format::Oci => OCI_INDEX,
        Format::Docker => DOCKER_LIST,
    };
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|img| {
            let (architecture, variant) = split_arch(&img.arch);
            let mut platform = json!({"architecture": architecture, "os": img.os});
            if let Some(v) = variant {
                platform["variant"] = json!(v);
            }
            json!({
                "mediaType": img.media_type,
                "digest": img.digest,
                "size": img.manifest.len(),
                "platform": platform,
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    }))
    .unwrap();
    Index {
        digest: sha256(&body),
        body,
        media_type,
        images,
    }
}

impl Registry {
    /// Pushes `image`'s config, layers, then its manifest as `repo:tag`.
    pub fn push_image(&self, repo: &str, tag: &str, image: &Image) {
        self.push_image_blobs(repo, image);
        self.push_manifest(repo, tag, image.media_type, &image.manifest);
    }

    fn push_image_blobs(&self, repo: &str, image: &Image) {
        self.push_blob(repo, &image.config);
        for layer in &image.layers {
            self.push_blob(repo, &layer.blob);
        }
    }

    /// Pushes every image of `index` by digest, then the index as `repo:tag`.
    pub fn push_index(&self, repo: &str, tag: &str, index: &Index) {
        for image in &index.images {
            self.push_image_blobs(repo, image);
            self.push_manifest(repo, &image.digest, image.media_type, &image.manifest);
        }
        self.push_manifest(repo, tag, index.media_type, &index.body);
    }
}
