//! Image manifests, indexes (and Docker manifest lists) and image configs:
//! parsing them strictly enough to walk an image, the children of each node,
//! and the entry of an index for a platform.
//!
//! This module reads bytes it is given; fetching and storing them is for
//! `remote`, `content` and `images`.

use std::fmt;

use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::platform::Platform;

/// An image manifest: a config and layers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's own media type, when it says.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// An index or manifest list: manifests for several platforms.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's own media type, when it says.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// What an image config says of the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The diff ID of each layer, bottom first.
    pub diff_ids: Vec<Digest>,
}

/// The parts of an image config dist uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Config {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// The layers' diff IDs.
    pub rootfs: RootFs,
}

/// The largest manifest or index dist accepts.
pub const MAX_MANIFEST: u64 = 4 << 20;

fn invalid(what: &str, e: impl fmt::Display) -> Error {
    Error::new(Kind::InvalidContent, format!("invalid {what}: {e}"))
}

impl Manifest {
    /// Parses an image manifest.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| invalid("manifest", e))?;
        if m.schema_version != 2 {
            return Err(invalid(
                "manifest",
                format!("schemaVersion {}, not 2", m.schema_version),
            ));
        }
        Ok(m)
    }
}

impl Index {
    /// Parses an index or manifest list.
    pub fn parse(bytes: &[u8]) -> Result<Index> {
        let i: Index = serde_json::from_slice(bytes).map_err(|e| invalid("index", e))?;
        if i.schema_version != 2 {
            return Err(invalid(
                "index",
                format!("schemaVersion {}, not 2", i.schema_version),
            ));
        }
        Ok(i)
    }
}

impl Config {
    /// Parses an image config.
    pub fn parse(bytes: &[u8]) -> Result<Config> {
        let c: Config = serde_json::from_slice(bytes).map_err(|e| invalid("image config", e))?;
        if c.rootfs.kind != "layers" {
            return Err(invalid(
                "image config",
                format!("rootfs type '{}', not 'layers'", c.rootfs.kind),
            ));
        }
        Ok(c)
    }
}

/// The children of the object `desc` whose bytes are `bytes`: an index's
/// manifests, a manifest's config and layers; nothing for anything else.
pub fn children(desc: &Descriptor, bytes: &[u8]) -> Result<Vec<Descriptor>> {
    if descriptor::is_index(&desc.media_type) {
        Ok(Index::parse(bytes)?.manifests)
    } else if descriptor::is_manifest(&desc.media_type) {
        let m = Manifest::parse(bytes)?;
        let mut out = Vec::with_capacity(m.layers.len() + 1);
        out.push(m.config);
        out.extend(m.layers);
        Ok(out)
    } else {
        Ok(Vec::new())
    }
}

/// The media type a manifest or index says it has, or seems to have from
/// its fields: for registries that do not send one, and blobs of a store.
pub fn sniff(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return Some(mt.to_string());
    }
    match v.get("schemaVersion").and_then(|s| s.as_u64()) {
        Some(1) => Some(descriptor::DOCKER_SCHEMA1.to_string()),
        Some(2) if v.get("manifests").is_some() => Some(descriptor::OCI_INDEX.to_string()),
        Some(2) if v.get("layers").is_some() => Some(descriptor::OCI_MANIFEST.to_string()),
        _ => None,
    }
}

/// The entry of `index` for `platform`: the first that matches, preferring
/// an exact variant. `None` when the index has nothing for it.
pub fn select<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .collect();
    candidates
        .iter()
        .find(|d| d.platform.as_ref().and_then(|p| p.variant.as_ref()) == platform.variant.as_ref())
        .or(candidates.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn index() -> Index {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
                {{"mediaType":"{m}","digest":"{D}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":2,"platform":{{"architecture":"arm","os":"linux","variant":"v6"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":3,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":4,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":5,"platform":{{"architecture":"amd64","os":"windows","os.version":"10.0"}}}}]}}"#,
            descriptor::OCI_INDEX,
            m = descriptor::OCI_MANIFEST
        );
        Index::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn platforms_are_selected() {
        let i = index();
        let pick = |p: &str| select(&i, &p.parse().unwrap()).map(|d| d.size);
        assert_eq!(pick("linux/amd64"), Some(1));
        assert_eq!(pick("linux/x86_64"), Some(1));
        assert_eq!(pick("linux/arm/v7"), Some(3));
        assert_eq!(pick("linux/arm/v6"), Some(2));
        assert_eq!(pick("linux/arm64"), Some(4));
        assert_eq!(pick("linux/aarch64/v8"), Some(4));
        assert_eq!(pick("windows/amd64"), Some(5));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("linux/arm/v5"), None);
    }

    #[test]
    fn children_of_manifests_and_indexes() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{D}","size":10}},"layers":[{{"mediaType":"l","digest":"{D}","size":20,"annotations":{{"k":"v"}}}}]}}"#,
            descriptor::OCI_CONFIG
        );
        let desc = Descriptor::new(
            descriptor::OCI_MANIFEST,
            D.parse().unwrap(),
            manifest.len() as u64,
        );
        let kids = children(&desc, manifest.as_bytes()).unwrap();
        assert_eq!(kids.iter().map(|d| d.size).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(kids[1].annotations["k"], "v");
        let idx = Descriptor::new(descriptor::DOCKER_MANIFEST_LIST, D.parse().unwrap(), 0);
        let body = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(children(&idx, body).unwrap().is_empty());
        let layer = Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            D.parse().unwrap(),
            0,
        );
        assert!(children(&layer, b"\x1f\x8b").unwrap().is_empty());
        assert_eq!(
            children(&desc, b"{\"schemaVersion\":1}")
                .unwrap_err()
                .kind(),
            Kind::InvalidContent
        );
        assert_eq!(
            children(&desc, b"not json").unwrap_err().kind(),
            Kind::InvalidContent
        );
    }

    #[test]
    fn manifests_without_a_content_type_are_sniffed() {
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#)
                .unwrap(),
            descriptor::OCI_INDEX
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"manifests":[]}"#).unwrap(),
            descriptor::OCI_INDEX
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"config":{},"layers":[]}"#).unwrap(),
            descriptor::OCI_MANIFEST
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap(),
            descriptor::DOCKER_SCHEMA1
        );
        assert_eq!(sniff(b"not json"), None);
    }

    #[test]
    fn configs_carry_diff_ids() {
        let c = Config::parse(format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{D}"]}}}}"#).as_bytes()).unwrap();
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert!(Config::parse(br#"{"rootfs":{"type":"other","diff_ids":[]}}"#).is_err());
        assert!(
            Config::parse(br#"{"rootfs":{"type":"layers","diff_ids":["sha256:bad"]}}"#).is_err()
        );
    }
}
