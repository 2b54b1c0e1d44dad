//! dist-export and dist-import: round trips through skopeo and podman in
//! both formats, the old docker-save layout built here as docker before 25
//! wrote it, pipes between the two programs, shared layers once, indexes of
//! several platforms, and every bad archive refused with nothing named.

use crate::apply::{file, gzip, symlink, tar};
use crate::image::*;
use crate::pull::host_arch;
use crate::registry::{Auth, Registry};
use crate::util::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

/// A plain (uncompressed) tar layer holding `files`.
fn plain_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    tar(&files.iter().map(|(p, d)| file(p, d)).collect::<Vec<_>>())
}

/// An image config for `diff_ids`.
fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A Docker schema 2 manifest of plain layers, in the form dist-import (and
/// containerd) write one for an image of the old layout.
fn docker_plain_manifest(config: &[u8], layers: &[Vec<u8>]) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|l| {
            format!(
                r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"{}","size":{}}}"#,
                digest(l),
                l.len()
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{}","size":{}}},"layers":[{}]}}"#,
        digest(config),
        config.len(),
        layers.join(",")
    )
    .into_bytes()
}

/// An OCI image of plain layers (as docker 25+ stores them).
fn oci_plain_image(layers: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<String> = layers.iter().map(|l| digest(l)).collect();
    let config = config(&diff_ids);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(&config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest(l),
            "size": l.len(),
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    (manifest, config)
}

/// Pushes an image of `layers` (blobs as given) with `config` and `manifest`.
fn push(
    reg: &Registry,
    repo: &str,
    tag: &str,
    mt: &str,
    manifest: &[u8],
    config: &[u8],
    layers: &[Vec<u8>],
) {
    reg.push_blob(repo, config);
    for l in layers {
        reg.push_blob(repo, l);
    }
    reg.push_manifest(repo, tag, mt, manifest);
}

/// The names of namespace `default` of the store at `root`, from its
/// index.json itself: name → digest.
fn names(root: &Path) -> BTreeMap<String, String> {
    let Ok(bytes) = fs::read(root.join("index.json")) else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            Some((
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()?
                    .to_string(),
                m["digest"].as_str().unwrap().to_string(),
            ))
        })
        .collect()
}

fn skopeo(env: &Env, args: &str) -> Output {
    env.sh(&format!("skopeo --insecure-policy {args}")).ok()
}

/// The blobs of the OCI layout `dir`: digest → bytes.
fn layout_blobs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                format!("sha256:{}", e.file_name().to_string_lossy()),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The digest of the one image of the OCI layout `dir`.
fn layout_root(dir: &Path) -> String {
    let v: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    v["manifests"][0]["digest"].as_str().unwrap().to_string()
}

/// The entries of a tar file: (name, size).
fn entries(path: &Path) -> Vec<(String, u64)> {
    let mut ar = ::tar::Archive::new(fs::File::open(path).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), e.size())
        })
        .collect()
}

#[test]
fn skopeo_archives_of_a_registry_image_import_with_the_registry_digest() {
    let env = Env::new("archive-skopeo-in");
    let reg = Registry::start(Auth::None);
    let layers = vec![
        plain_layer(&[("etc/os-release", b"ID=test\n")]),
        plain_layer(&[("srv/data", &content(50_000, 1))]),
    ];
    let diff_ids: Vec<String> = layers.iter().map(|l| digest(l)).collect();
    let cfg = config(&diff_ids);
    // The form the old layout's images take in the store, byte for byte.
    let manifest = docker_plain_manifest(&cfg, &layers);
    push(
        &reg,
        "app/plain",
        "1",
        DOCKER_MANIFEST,
        &manifest,
        &cfg,
        &layers,
    );
    let plain = format!("{}/app/plain:1", reg.host());
    // And an OCI image of gzip'd layers.
    let img = crate::pull::layered_image(Format::Oci);
    reg.push_image("app/oci", "2", &img);
    let oci = format!("{}/app/oci:2", reg.host());

    let tls = "--src-tls-verify=false";
    skopeo(
        &env,
        &format!("copy -q {tls} docker://{plain} docker-archive:plain.tar:{plain}"),
    );
    skopeo(
        &env,
        &format!("copy -q {tls} docker://{oci} oci-archive:oci.tar:{oci}"),
    );
    skopeo(
        &env,
        &format!("copy -q {tls} docker://{oci} docker-archive:oci-as-docker.tar:{oci}"),
    );

    env.dist("import")
        .arg("plain.tar")
        .ok()
        .has_lines(&[&format!("{plain} {}", digest(&manifest))]);
    env.dist("import")
        .arg("oci.tar")
        .ok()
        .has_lines(&[&format!("{oci} {}", img.digest)]);
    env.dist("images").args(["check", &plain, &oci]).ok();
    // The registry's blobs, byte for byte.
    for l in &layers {
        assert_eq!(&fs::read(env.blob(&digest(l))).unwrap(), l);
    }
    for l in &img.layers {
        assert_eq!(fs::read(env.blob(&l.digest)).unwrap(), l.blob);
    }
    // skopeo's docker-archive of gzip'd layers holds them inflated (and
    // links to them): the image is the same config over the diff IDs.
    let out = env
        .dist("import")
        .args(["--root", "other", "--json", "oci-as-docker.tar"])
        .ok();
    let v: Value = serde_json::from_str(out.lines()[0]).unwrap();
    assert_eq!(v["name"], oci.as_str());
    let m: Value = serde_json::from_slice(
        &fs::read(
            env.dir
                .join("other/blobs/sha256")
                .join(&v["digest"].as_str().unwrap()[7..]),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(m["config"]["digest"], img.config_digest.as_str());
    let got: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = img.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(got, want);
    env.dist("images")
        .args(["--root", "other", "check", &oci])
        .ok();

    // Compressed as a whole, on standard input.
    let gz = gzip(&fs::read(env.dir.join("plain.tar")).unwrap());
    env.dist("import")
        .args(["--root", "gz"])
        .stdin(gz)
        .ok()
        .has_lines(&[&format!("{plain} {}", digest(&manifest))]);
    env.sh("zstd -q -c oci.tar | dist-import --root zst")
        .ok()
        .has_lines(&[&format!("{oci} {}", img.digest)]);
}

#[test]
fn skopeo_reads_what_dist_export_writes_in_both_formats() {
    let env = Env::new("archive-skopeo-out");
    let reg = Registry::start(Auth::None);
    let layers = vec![
        plain_layer(&[("bin/tool", &content(30_000, 7))]),
        plain_layer(&[("etc/conf", b"x=1\n")]),
    ];
    let (manifest, cfg) = oci_plain_image(&layers);
    push(&reg, "app/x", "1", OCI_MANIFEST, &manifest, &cfg, &layers);
    let name = format!("{}/app/x:1", reg.host());
    env.dist("pull").args(["--no-unpack", &name]).ok();

    env.dist("export").args(["-o", "d.tar", &name]).ok();
    env.sh(&format!("dist-export --format oci {name} > o.tar"))
        .ok();
    let names: Vec<String> = entries(&env.dir.join("d.tar"))
        .into_iter()
        .map(|e| e.0)
        .collect();
    for f in ["oci-layout", "index.json", "manifest.json", "repositories"] {
        assert!(names.contains(&f.to_string()), "{names:?}");
    }
    let o_names: Vec<String> = entries(&env.dir.join("o.tar"))
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert!(
        !o_names.contains(&"manifest.json".to_string()),
        "{o_names:?}"
    );

    // OCI layouts copied as they are: the same manifest, the same blobs.
    for (archive, dir) in [("oci-archive:o.tar", "oo"), ("oci-archive:d.tar", "od")] {
        skopeo(
            &env,
            &format!("copy -q --preserve-digests {archive} oci:{dir}:x"),
        );
        let dir = env.dir.join(dir);
        assert_eq!(layout_root(&dir), digest(&manifest));
        for (d, bytes) in layout_blobs(&dir) {
            assert_eq!(fs::read(env.blob(&d)).unwrap(), bytes, "{d}");
        }
        assert_eq!(layout_blobs(&dir).len(), 4);
    }
    // The docker form through manifest.json: skopeo makes a manifest of its
    // own, of our config and layers byte for byte (dir: keeps them as they
    // come); into an OCI layout it rewrites the config in OCI form and
    // gzips plain layers, which inflated are ours.
    skopeo(&env, &format!("copy -q docker-archive:d.tar:{name} dir:dd"));
    let dd = env.dir.join("dd");
    for blob in std::iter::once(&cfg).chain(&layers) {
        assert_eq!(&fs::read(dd.join(&digest(blob)[7..])).unwrap(), blob);
    }
    skopeo(
        &env,
        &format!("copy -q docker-archive:d.tar:{name} oci:do:x"),
    );
    let dox = env.dir.join("do");
    let blobs = layout_blobs(&dox);
    let m: Value = serde_json::from_slice(&blobs[&layout_root(&dox)]).unwrap();
    let theirs: Value =
        serde_json::from_slice(&blobs[m["config"]["digest"].as_str().unwrap()]).unwrap();
    assert_eq!(theirs, serde_json::from_slice::<Value>(&cfg).unwrap());
    let have = m["layers"].as_array().unwrap();
    assert_eq!(have.len(), layers.len());
    for (l, have) in layers.iter().zip(have) {
        let blob = &blobs[have["digest"].as_str().unwrap()];
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&blob[..]), &mut plain)
            .unwrap();
        assert_eq!(&plain, l);
    }
    // And dist-import takes its own archives back.
    env.dist("import")
        .args(["--root", "back", "d.tar"])
        .ok()
        .has_lines(&[&format!("{name} {}", digest(&manifest))]);
}

#[test]
fn podman_loads_what_dist_export_writes_and_dist_import_reads_what_podman_saves() {
    let env = Env::new("archive-podman");
    let reg = Registry::start(Auth::None);
    let img = crate::pull::layered_image(Format::Docker);
    reg.push_image("app/pod", "3", &img);
    let name = format!("{}/app/pod:3", reg.host());
    env.dist("pull").args(["--no-unpack", &name]).ok();
    env.dist("export").args(["-o", "out.tar", &name]).ok();
    let podman =
        "podman --root pod/root --runroot pod/run --storage-driver vfs --cgroup-manager cgroupfs";
    env.sh(&format!("{podman} load -i out.tar"))
        .ok()
        .stdout_has(&name);
    env.sh(&format!(
        "{podman} save -q --format docker-archive -o saved.tar {name}"
    ))
    .ok();
    env.sh(&format!(
        "{podman} save -q --format oci-archive -o saved-oci.tar {name}"
    ))
    .ok();
    for (archive, root) in [("saved.tar", "s1"), ("saved-oci.tar", "s2")] {
        let out = env.dist("import").args(["--root", root, archive]).ok();
        assert!(
            out.stdout.starts_with(&format!("{name} sha256:")),
            "{}",
            out.stdout
        );
        env.dist("images")
            .args(["--root", root, "check", &name])
            .ok();
    }
    // podman keeps the config, so the image is the one exported.
    assert!(
        env.dir
            .join("s1/blobs/sha256")
            .join(&img.config_digest[7..])
            .exists()
    );
}

/// An image of the old `docker save` layout, as docker before 25 wrote it:
/// `<id>/VERSION`, `<id>/json`, `<id>/layer.tar`, `<config hex>.json`,
/// `manifest.json` (last) and `repositories`; one layer plain, one gzip'd.
fn old_layout(dir: &Path, tag: &str, layers: &[Vec<u8>], blobs: &[Vec<u8>]) -> (Vec<u8>, String) {
    let diff_ids: Vec<String> = layers.iter().map(|l| digest(l)).collect();
    let cfg = config(&diff_ids);
    let id = &digest(&cfg)[7..];
    let mut paths = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        let layer_id = format!("{:064x}", i + 1);
        fs::create_dir_all(dir.join(&layer_id)).unwrap();
        fs::write(dir.join(&layer_id).join("VERSION"), "1.0").unwrap();
        fs::write(
            dir.join(&layer_id).join("json"),
            format!(r#"{{"id":"{layer_id}"}}"#),
        )
        .unwrap();
        fs::write(dir.join(&layer_id).join("layer.tar"), blob).unwrap();
        paths.push(format!("{layer_id}/layer.tar"));
    }
    fs::write(dir.join(format!("{id}.json")), &cfg).unwrap();
    let (repo, t) = tag.rsplit_once(':').unwrap();
    let manifest = json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": paths}]);
    fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    fs::write(
        dir.join("repositories"),
        json!({repo: {t: format!("{:064x}", blobs.len())}}).to_string(),
    )
    .unwrap();
    (cfg, id.to_string())
}

#[test]
fn an_old_layout_archive_imports_to_the_right_image() {
    let env = Env::new("archive-old");
    let layers = vec![
        plain_layer(&[("etc/hostname", b"old\n")]),
        plain_layer(&[("usr/bin/x", &content(20_000, 3))]),
    ];
    let blobs = vec![layers[0].clone(), gzip(&layers[1])];
    let dir = env.dir.join("old");
    fs::create_dir_all(&dir).unwrap();
    let (cfg, id) = old_layout(&dir, "old/app:v1", &layers, &blobs);
    // GNU tar writes it, manifest.json and repositories last.
    env.sh(&format!(
        "tar -cf old.tar -C old {:064x} {:064x} {id}.json manifest.json repositories",
        1, 2
    ))
    .ok();
    let out = env.dist("import").arg("old.tar").ok();
    let (name, d) = out.lines()[0].split_once(' ').unwrap();
    assert_eq!(name, "docker.io/old/app:v1");
    let m: Value = serde_json::from_slice(&fs::read(env.blob(d)).unwrap()).unwrap();
    assert_eq!(m["mediaType"], DOCKER_MANIFEST);
    assert_eq!(m["config"]["mediaType"], DOCKER_CONFIG);
    assert_eq!(m["config"]["digest"], digest(&cfg).as_str());
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["application/vnd.docker.image.rootfs.diff.tar", DOCKER_LAYER]
    );
    for (l, b) in m["layers"].as_array().unwrap().iter().zip(&blobs) {
        assert_eq!(l["digest"], digest(b).as_str());
        assert_eq!(l["size"], b.len());
    }
    env.dist("images").args(["check", "old/app:v1"]).ok();
    // The image unpacks, each layer checked against its diff ID.
    env.dist("rootfs").args(["unpack", "old/app:v1"]).ok();
    // An extracted archive is a directory dist-import reads too.
    env.dist("import")
        .args(["--root", "fromdir", "old"])
        .ok()
        .has_lines(&[&format!("{name} {d}")]);
}

#[test]
fn export_to_import_through_a_pipe_shares_layers_and_takes_every_platform() {
    let env = Env::new("archive-pipe");
    let reg = Registry::start(Auth::None);
    let shared = layer(&[("base/file", &content(40_000, 9))]);
    let a = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![shared.clone(), layer(&[("a", b"a")])],
    );
    let b = image(
        Format::Docker,
        "linux",
        host_arch(),
        vec![shared.clone(), layer(&[("b", b"b")])],
    );
    reg.push_image("app/a", "1", &a);
    reg.push_image("app/b", "1", &b);
    let (na, nb) = (
        format!("{}/app/a:1", reg.host()),
        format!("{}/app/b:1", reg.host()),
    );
    for n in [&na, &nb] {
        env.dist("pull").args(["--no-unpack", n]).ok();
    }
    let out = env
        .sh(&format!("dist-export {na} {nb} | dist-import --root other"))
        .ok();
    out.has_lines(&[&format!("{na} {}", a.digest), &format!("{nb} {}", b.digest)]);
    assert_eq!(names(&env.dir.join("other")).len(), 2);
    env.dist("images")
        .args(["--root", "other", "check", &na, &nb])
        .ok();
    // The shared layer went out once.
    env.sh(&format!("dist-export -o ab.tar {na} {nb}")).ok();
    let all = entries(&env.dir.join("ab.tar"));
    let shared_path = format!("blobs/sha256/{}", &shared.digest[7..]);
    assert_eq!(all.iter().filter(|e| e.0 == shared_path).count(), 1);
    let blobs = all
        .iter()
        .filter(|e| e.0.starts_with("blobs/sha256/") && e.1 > 0)
        .count();
    assert_eq!(blobs, 7, "2 manifests, 2 configs, 3 layers: {all:?}");
    let m: Value = serde_json::from_slice(
        &env.sh("tar -xOf ab.tar manifest.json")
            .ok()
            .stdout
            .into_bytes(),
    )
    .unwrap();
    assert_eq!(m.as_array().unwrap().len(), 2);

    // An index of two platforms: all of it with --all-platforms.
    let arm = image(
        Format::Oci,
        "linux",
        "s390x",
        vec![layer(&[("s390x", b"z")])],
    );
    let here = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![layer(&[("here", b"h")])],
    );
    let idx = index(Format::Oci, vec![here.clone(), arm.clone()]);
    reg.push_index("app/multi", "1", &idx);
    let nm = format!("{}/app/multi:1", reg.host());
    env.dist("pull")
        .args(["--no-unpack", "--root", "one", &nm])
        .ok();
    // Only this machine's platform in that store: --all-platforms says which is missing.
    env.dist("export")
        .args(["--root", "one", "--all-platforms", "-o", "m.tar", &nm])
        .fails(3)
        .stderr_has("linux/s390x")
        .stderr_has("is not in the store")
        .stderr_has(&format!("--platform linux/{}", host_arch()));
    assert!(!env.dir.join("m.tar").exists());
    env.dist("export")
        .args([
            "--root",
            "one",
            "--platform",
            "linux/s390x",
            "-o",
            "m.tar",
            &nm,
        ])
        .fails(3)
        .stderr_has("linux/s390x");
    env.dist("export")
        .args(["--root", "one", "-o", "m.tar", &nm])
        .ok();
    env.dist("import")
        .args(["--root", "back1", "m.tar"])
        .ok()
        .has_lines(&[&format!("{nm} {}", idx.digest)]);
    env.dist("images")
        .args(["--root", "back1", "check", &nm])
        .ok();
    // Every platform pulled, every platform exported and imported.
    env.dist("pull")
        .args(["--no-unpack", "--all-platforms", &nm])
        .ok();
    env.sh(&format!(
        "dist-export --all-platforms --format oci {nm} | dist-import --root multi"
    ))
    .ok()
    .has_lines(&[&format!("{nm} {}", idx.digest)]);
    for d in [
        &idx.digest,
        &here.digest,
        &arm.digest,
        &arm.config_digest,
        &arm.layers[0].digest,
    ] {
        assert!(
            env.dir.join("multi/blobs/sha256").join(&d[7..]).exists(),
            "{d}"
        );
    }
}

/// Runs dist-import on `archive` in a fresh store and expects it to fail
/// with `code` and `message`, and to name nothing.
fn refused(env: &Env, what: &str, archive: Vec<u8>, code: i32, message: &str) {
    let root = env.dir.join(format!("bad-{what}"));
    env.dist("import")
        .arg("--root")
        .arg(&root)
        .stdin(archive)
        .fails(code)
        .stderr_has(message);
    assert!(names(&root).is_empty(), "{what}: {:?}", names(&root));
}

#[test]
fn bad_archives_are_refused_with_the_entry_and_the_cause_and_name_nothing() {
    let env = Env::new("archive-bad");
    let layers = vec![plain_layer(&[("f", b"1")]), plain_layer(&[("g", b"2")])];
    let dir = env.dir.join("old");
    fs::create_dir_all(&dir).unwrap();
    let (cfg, id) = old_layout(&dir, "bad/app:1", &layers, &layers);
    let read = |p: &str| fs::read(dir.join(p)).unwrap();
    let l1 = format!("{:064x}/layer.tar", 1);
    let l2 = format!("{:064x}/layer.tar", 2);
    let manifest = |layers: &[&str], tags: &[&str]| {
        json!([{"Config": format!("{id}.json"), "RepoTags": tags, "Layers": layers}]).to_string()
    };
    let good = |m: &str| {
        tar(&[
            file(&l1, &read(&l1)),
            file(&l2, &read(&l2)),
            file(&format!("{id}.json"), &cfg),
            file("manifest.json", m.as_bytes()),
        ])
    };
    let whole = good(&manifest(&[&l1, &l2], &["bad/app:1"]));
    // The good one imports: the cases below differ from it by their fault.
    env.dist("import")
        .args(["--root", "good"])
        .stdin(whole.clone())
        .ok();

    refused(
        &env,
        "truncated",
        whole[..whole.len() / 2].to_vec(),
        4,
        "truncated",
    );
    let cut = whole[..1024 + 700].to_vec();
    refused(
        &env,
        "truncated-blob",
        cut,
        4,
        &format!("{l1}: the archive ends in the middle of this entry (truncated)"),
    );
    let liar = digest(b"something else");
    refused(
        &env,
        "liar",
        tar(&[file(
            &format!("blobs/sha256/{}", &liar[7..]),
            b"these bytes",
        )]),
        8,
        &format!(
            "blobs/sha256/{}: {liar}: content has digest {}",
            &liar[7..],
            digest(b"these bytes")
        ),
    );
    refused(
        &env,
        "missing",
        good(&manifest(&[&l1, "nowhere/layer.tar"], &["bad/app:1"])),
        4,
        "manifest.json: nowhere/layer.tar is not in the archive",
    );
    refused(
        &env,
        "dotdot",
        tar(&[file("a/../../etc/x", b"x")]),
        4,
        "a/../../etc/x: a name that leaves the archive (..); refused",
    );
    refused(
        &env,
        "absolute",
        tar(&[file("/etc/x", b"x")]),
        4,
        "/etc/x: an absolute name in the archive; refused",
    );
    refused(
        &env,
        "link-out",
        tar(&[symlink("x/layer.tar", "../../../etc/passwd")]),
        4,
        "x/layer.tar: a link to ../../../etc/passwd leaves the archive; refused",
    );
    refused(
        &env,
        "count",
        good(&manifest(&[&l1], &["bad/app:1"])),
        4,
        &format!("manifest.json: 1 layers for config {id}.json, which has 2 diff IDs"),
    );
    refused(
        &env,
        "diff-id",
        good(&manifest(&[&l2, &l1], &["bad/app:1"])),
        8,
        &format!(
            "manifest.json: layer {l2} has diff ID {}; its config says {}",
            digest(&layers[1]),
            digest(&layers[0])
        ),
    );
    let two = json!([
        {"Config": format!("{id}.json"), "RepoTags": ["bad/app:1"], "Layers": [&l1, &l2]},
        {"Config": "other.json", "RepoTags": ["bad/app:1"], "Layers": [&l1]},
    ]);
    let other_cfg = config(&[digest(&layers[0])]);
    let mut twice = good(&two.to_string());
    twice.truncate(twice.len() - 1024);
    twice.extend(tar(&[file("other.json", &other_cfg)]));
    refused(
        &env,
        "two-names",
        twice,
        4,
        "docker.io/bad/app:1: names two images of the archive",
    );
    refused(&env, "empty", Vec::new(), 4, "the input is empty");
    refused(
        &env,
        "not-images",
        tar(&[file("readme", b"hi")]),
        4,
        "not an image archive",
    );
}

#[test]
fn a_manifest_json_of_1_gib_is_refused_without_reading_it() {
    let env = Env::new("archive-huge");
    let mut child = env.dist("import").spawn_piped();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // A ustar header that says 1 GiB, then zeros for as long as they are read.
        let mut h = ::tar::Header::new_ustar();
        h.set_path("manifest.json").unwrap();
        h.set_size(1 << 30);
        h.set_cksum();
        let mut sent = 0u64;
        if stdin.write_all(h.as_bytes()).is_err() {
            return sent;
        }
        let zeros = vec![0u8; 1 << 20];
        while sent < 1 << 30 {
            if stdin.write_all(&zeros).is_err() {
                break;
            }
            sent += zeros.len() as u64;
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "manifest.json: 1073741824 bytes; an archive's manifest.json is at most 4194304"
        ),
        "{stderr}"
    );
    assert!(sent < 1 << 29, "dist-import read {sent} bytes of it");
    assert!(names(&env.root).is_empty());
}
