//! What a new user trips over (issue 14): multi-platform images for
//! dist-fetch, binary blobs and terminals, a --rootfs that is not empty,
//! skopeo's docker:// prefix, and a stderr that cannot be written.

use crate::image::*;
use crate::pull::{host_arch, layered_image};
use crate::registry::{Auth, Registry};
use crate::util::*;
use serde_json::Value;
use std::fs;

/// An index of this machine's platform and another, pushed as `multi/app:v1`.
fn multi_platform(reg: &Registry) -> Index {
    let here = layered_image(Format::Oci);
    let other_arch = if host_arch() == "s390x" {
        "ppc64le"
    } else {
        "s390x"
    };
    let other = image(
        Format::Oci,
        "linux",
        other_arch,
        vec![layer(&[("o", b"other")])],
    );
    let idx = index(Format::Oci, vec![here, other]);
    reg.push_index("multi/app", "v1", &idx);
    idx
}

#[test]
fn fetch_of_an_index_gives_this_platforms_manifest_unless_told() {
    let env = Env::new("newuser-fetch-index");
    let reg = Registry::start(Auth::None);
    let idx = multi_platform(&reg);
    let name = format!("{}/multi/app:v1", reg.host());
    // The README's pipeline works on an index.
    let out = env
        .sh(&format!("dist-fetch {name} | jq -r '.layers[].digest'"))
        .ok();
    let want: Vec<&str> = idx.images[0]
        .layers
        .iter()
        .map(|l| l.digest.as_str())
        .collect();
    assert_eq!(out.lines(), want);
    let other = &idx.images[1];
    let out = env
        .dist("fetch")
        .args(["--platform", &format!("linux/{}", other.arch), &name])
        .ok();
    assert_eq!(out.stdout.as_bytes(), other.manifest);
    assert_eq!(
        env.dist("fetch")
            .args(["--index", &name])
            .ok()
            .stdout
            .as_bytes(),
        idx.body
    );
    env.dist("fetch")
        .args(["--platform", "windows/arm64", &name])
        .fails(3)
        .stderr_has("no manifest for windows/arm64")
        .stderr_has("--index for the index itself");
    env.dist("fetch")
        .args(["--index", "--platform", "linux/amd64", &name])
        .fails(2);
}

#[test]
fn a_blob_is_not_written_to_a_terminal_unless_asked() {
    let env = Env::new("newuser-fetch-tty");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("tty/app", "v1", &img);
    let blob = format!("{}/tty/app@{}", reg.host(), img.layers[0].digest);
    let on_tty = |args: &str| {
        env.sh(&format!(
            "script -qec 'dist-fetch {args}; echo status=$?' /dev/null"
        ))
        .ok()
        .stdout
    };
    let refused = on_tty(&blob);
    assert!(
        refused.contains("a blob, not written to a terminal"),
        "{refused}"
    );
    assert!(refused.contains("status=2"), "{refused}");
    let forced = on_tty(&format!("-o - {blob} | wc -c"));
    assert!(forced.contains(&img.layers[0].size.to_string()), "{forced}");
    // A manifest is text: it goes to the terminal.
    let manifest = on_tty(&format!("{}/tty/app:v1", reg.host()));
    assert!(
        manifest.contains("\"layers\"") && manifest.contains("status=0"),
        "{manifest}"
    );
    // Through a pipe it is written as always.
    let piped = env.sh(&format!("dist-fetch {blob} | wc -c")).ok();
    assert_eq!(piped.stdout.trim(), img.layers[0].size.to_string());
}

#[test]
fn rootfs_into_a_directory_that_is_not_empty_needs_force() {
    let env = Env::new("newuser-rootfs");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("root/app", "v1", &img);
    let name = format!("{}/root/app:v1", reg.host());
    let dir = env.dir.join("rootfs");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("stale"), "from another image").unwrap();
    let flag = dir.to_str().unwrap();
    env.dist("pull")
        .args(["--rootfs", flag, &name])
        .fails(5)
        .stderr_has("rootfs: not empty")
        .stderr_has("--force");
    assert!(!env.root.exists(), "nothing fetched before the check");
    env.dist("pull")
        .args(["--rootfs", flag, "--force", &name])
        .ok();
    assert!(dir.join("stale").exists() && dir.join("srv/data").exists());
    // An empty or missing directory needs nothing.
    let fresh = env.dir.join("fresh");
    env.dist("pull")
        .args(["--rootfs", fresh.to_str().unwrap(), &name])
        .ok();
    env.dist("rootfs")
        .args(["unpack", "--rootfs", flag, &name])
        .fails(5)
        .stderr_has("not empty");
    env.dist("rootfs")
        .args(["unpack", "--rootfs", flag, "--force", &name])
        .ok();
}

#[test]
fn skopeos_docker_prefix_is_accepted() {
    let env = Env::new("newuser-docker-prefix");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Docker);
    reg.push_image("pre/app", "v1", &img);
    let out = env
        .dist("resolve")
        .arg(format!("docker://{}/pre/app:v1", reg.host()))
        .ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["digest"], img.digest);
    assert_eq!(v["name"], format!("{}/pre/app:v1", reg.host()));
    env.dist("pull")
        .args([
            "--no-unpack",
            &format!("docker://{}/pre/app:v1", reg.host()),
        ])
        .ok();
    env.dist("images")
        .args(["check", &format!("{}/pre/app:v1", reg.host())])
        .ok();
}

#[test]
fn a_host_name_that_does_not_resolve_fails_at_once_saying_so() {
    let env = Env::new("newuser-dns");
    let out = env
        .dist("pull")
        .args(["--debug", "no-such-host.invalid/a/b:c"])
        .fails(6)
        .stderr_has("dist-pull: no-such-host.invalid: the host name does not resolve");
    assert!(!out.stderr.contains("retrying"), "not retried: {out:?}");
}

#[test]
fn a_stderr_that_cannot_be_written_never_changes_the_exit_code() {
    let env = Env::new("newuser-stderr-full");
    // /dev/full: every write fails with ENOSPC. Before, exit 134 (abort).
    for (cmd, code) in [
        ("dist-list 2>/dev/full", 3),
        ("dist-path nope 2>/dev/full", 2),
        (
            "dist-pull --plain-http no-such-host.invalid/a/b:c 2>/dev/full",
            6,
        ),
        ("echo data | dist-ingest --debug r 2>/dev/full", 0),
    ] {
        let out = env.sh(&format!("set +e; {cmd}; echo status=$?")).ok();
        assert!(
            out.stdout.contains(&format!("status={code}")),
            "{cmd}: {out:?}"
        );
    }
    // A closed stderr too.
    let out = env.sh("set +e; dist-path nope 2>&-; echo status=$?").ok();
    assert!(out.stdout.contains("status=2"), "{out:?}");
}
