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

#[test]
fn names_other_tools_wrote_are_found_as_they_are_and_unnamed_entries_listed() {
    let env = Env::new("newuser-foreign-names");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("other/app", "v1", &img);
    // skopeo writes the store (an OCI layout) with the name `rootfs`.
    let layout = format!("oci:{}:rootfs", env.root.display());
    let copied = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/other/app:v1", reg.host()))
        .arg(&layout)
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert_eq!(
        env.dist("images").args(["ls", "-q"]).ok().stdout,
        "rootfs\n"
    );
    let ls = env.dist("images").arg("ls").ok();
    assert!(
        ls.lines()[1].contains(&format!("linux/{}", host_arch())) && ls.lines()[1].ends_with('-'),
        "PLATFORMS and LABELS: {ls:?}"
    );
    env.dist("images").args(["check", "rootfs"]).ok();
    env.dist("images")
        .args(["ls", "-q", "--filter", "name==rootfs"])
        .ok()
        .stdout_has("rootfs");
    let flat = env.dir.join("flat");
    env.dist("rootfs")
        .args(["unpack", "--rootfs", flat.to_str().unwrap(), "rootfs"])
        .ok();
    assert!(flat.join("srv/data").exists());
    env.dist("images")
        .args(["label", "rootfs", "tier=gold"])
        .ok();
    env.dist("images")
        .args(["tag", "rootfs", "example.com/app:v1"])
        .ok();
    env.dist("images")
        .args(["rm", "--no-gc", "rootfs"])
        .ok()
        .stdout_has("rootfs");
    // An entry another tool wrote without a name is listed by its digest.
    let index = env.root.join("index.json");
    let mut v: Value = serde_json::from_slice(&fs::read(&index).unwrap()).unwrap();
    let mut unnamed = v["manifests"][0].clone();
    unnamed["annotations"] = serde_json::json!({});
    v["manifests"].as_array_mut().unwrap().push(unnamed);
    fs::write(&index, v.to_string()).unwrap();
    let names = env.dist("images").args(["ls", "-q"]).ok();
    assert_eq!(names.lines(), ["example.com/app:v1", img.digest.as_str()]);
}

#[test]
fn rm_removes_what_only_that_image_reached_and_nothing_else() {
    let env = Env::new("newuser-rm");
    let reg = Registry::start(Auth::None);
    let shared = layer_of_size(200_000, 5);
    let a = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![shared.clone(), layer_of_size(1000, 6)],
    );
    let b = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![shared.clone(), layer_of_size(1000, 7)],
    );
    reg.push_image("rm/a", "v1", &a);
    reg.push_image("rm/b", "v1", &b);
    for name in ["rm/a", "rm/b"] {
        env.dist("pull")
            .args(["--no-unpack", &format!("{}/{name}:v1", reg.host())])
            .ok();
    }
    // A blob stored and not named (yet): the user's, not rm's to take.
    let mine = env
        .dist("ingest")
        .arg("mine")
        .stdin("my own blob")
        .ok()
        .stdout;
    let mine = mine.trim();
    env.dist("images")
        .args(["rm", &format!("{}/rm/a:v1", reg.host())])
        .ok();
    let blobs = env.blobs();
    assert!(blobs.contains(&mine.to_string()), "rm took an unnamed blob");
    assert!(
        blobs.contains(&shared.digest),
        "rm took a layer b still uses"
    );
    assert!(!blobs.contains(&a.layers[1].digest) && !blobs.contains(&a.digest));
    env.dist("images")
        .args(["check", &format!("{}/rm/b:v1", reg.host())])
        .ok();
    // The full sweep is dist-gc's, and its dry run says what it will take.
    let dry = env.dist("gc").arg("--dry-run").ok();
    assert_eq!(dry.lines(), [format!("blob {mine} 11")]);
    let done = env.dist("gc").arg("--json").ok();
    let v: Value = serde_json::from_str(done.lines()[0]).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["digest"].as_str()),
        (Some("blob"), Some(mine))
    );
    assert!(!env.blobs().contains(&mine.to_string()));
}

#[test]
fn json_from_every_program_that_prints_a_result() {
    let env = Env::new("newuser-json");
    let data = content(5000, 1);
    let v = |out: &Output| -> Value {
        serde_json::from_str(out.lines()[0]).unwrap_or_else(|e| out.fail(&e.to_string()))
    };
    let ingested = v(&env
        .dist("ingest")
        .args(["--json", "r"])
        .stdin(data.clone())
        .ok());
    let d = digest(&data);
    assert_eq!(
        (ingested["digest"].as_str(), ingested["size"].as_u64()),
        (Some(d.as_str()), Some(5000))
    );
    assert_eq!(ingested["existed"], false);
    let path = v(&env.dist("path").args(["--json", &d]).ok());
    assert_eq!(fs::read(path["path"].as_str().unwrap()).unwrap(), data);
    let layer = crate::apply::tar(&[crate::apply::file("f", b"x")]);
    let applied = v(&env
        .dist("apply")
        .args(["--json", env.dir.join("dir").to_str().unwrap()])
        .stdin(layer.clone())
        .ok());
    assert_eq!(applied["diffID"], digest(&layer));
    assert_eq!(applied["compression"], "none");
    let deleted = v(&env.dist("delete").args(["--json", &d]).ok());
    assert_eq!(deleted["digest"], d);
    assert_eq!(env.dist("gc").args(["--json"]).ok().stdout, "");
}

#[test]
fn inspect_shows_an_image_of_the_store_and_of_a_registry_alike() {
    let env = Env::new("newuser-inspect");
    let reg = Registry::start(Auth::None);
    let run = serde_json::json!({
        "Env": ["PATH=/usr/bin", "EVIL=\u{1b}]0;title\u{7}"],
        "Entrypoint": ["/bin/app"],
        "Cmd": ["--serve"],
        "Labels": {"org.example.tier": "gold"},
    });
    let here = image_with(
        Format::Oci,
        "linux",
        host_arch(),
        vec![layer(&[("a", b"a")])],
        run,
    );
    let other = image(Format::Oci, "linux", "s390x", vec![layer(&[("b", b"b")])]);
    let idx = index(Format::Oci, vec![here.clone(), other.clone()]);
    reg.push_index("insp/app", "v1", &idx);
    let name = format!("{}/insp/app:v1", reg.host());
    let remote = env.dist("inspect").args(["--json", &name]).ok();
    let v: Value = serde_json::from_str(&remote.stdout).unwrap();
    assert_eq!(v["digest"], idx.digest);
    assert_eq!(v["manifest"], here.digest);
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(v["platform"], format!("linux/{}", host_arch()));
    assert_eq!(v["created"], "2026-01-02T03:04:05Z");
    assert_eq!(v["Entrypoint"], serde_json::json!(["/bin/app"]));
    assert_eq!(v["Labels"]["org.example.tier"], "gold");
    assert_eq!(v["layers"][0]["digest"], here.layers[0].digest);
    // The same from the store, once pulled.
    env.dist("pull").args(["--no-unpack", &name]).ok();
    let stored = env.dist("inspect").args(["--json", &name]).ok();
    assert_eq!(stored.stdout, remote.stdout);
    // Text: one line per fact, escapes escaped.
    let text = env.dist("inspect").arg(&name).ok();
    assert!(text.stdout.contains("Cmd:        --serve"), "{text:?}");
    assert!(
        text.stdout.contains("Label:      org.example.tier=gold"),
        "{text:?}"
    );
    assert!(
        !text.stdout.contains('\x1b') && text.stdout.contains("\\x1b"),
        "{text:?}"
    );
    let arm = env
        .dist("inspect")
        .args(["--remote", "--platform", "linux/s390x", "--json", &name])
        .ok();
    let v: Value = serde_json::from_str(&arm.stdout).unwrap();
    assert_eq!(v["manifest"], other.digest);
    env.dist("inspect")
        .args(["--platform", "windows/arm64", &name])
        .fails(3)
        .stderr_has("no manifest for windows/arm64");
}

#[test]
fn debug_says_each_request_where_credentials_came_from_and_why_it_retried() {
    let env = Env::new("newuser-debug");
    let reg = Registry::start(Auth::Basic);
    let img = layered_image(Format::Oci);
    reg.push_image("dbg/app", "v1", &img);
    let name = format!("{}/dbg/app:v1", reg.host());
    let creds = format!("{}:{}", crate::registry::USER, crate::registry::PASSWORD);
    let out = env
        .dist("pull")
        .args(["--debug", "--no-unpack", "--creds", &creds, &name])
        .ok();
    let lines: Vec<&str> = out.stderr.lines().collect();
    let has = |what: &str| lines.iter().any(|l| l.contains(what));
    assert!(
        has(&format!(
            "credentials for {}: user alice from --creds",
            reg.host()
        )),
        "{out:?}"
    );
    for layer in &img.layers {
        let get = format!(
            "GET http://{}/v2/dbg/app/blobs/{} 200",
            reg.host(),
            layer.digest
        );
        assert!(has(&get), "no line for {get}: {out:?}");
    }
    assert!(has(" ms (authorized)"), "{out:?}");
    assert!(
        !out.stderr.contains(crate::registry::PASSWORD),
        "a secret: {out:?}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("dist-pull: ")),
        "{out:?}"
    );
    // A retry says why.
    let front = crate::front::Front::start(&reg.host());
    front.answer(
        |r| r.path().contains("/manifests/"),
        Some(1),
        503,
        &[],
        "busy",
    );
    let name = format!("{}/dbg/app:v1", front.host());
    let out = env
        .dist("pull")
        .args(["--debug", "--no-unpack", "--creds", &creds, &name])
        .ok();
    assert!(out.stderr.contains(" 503 "), "{out:?}");
    assert!(out.stderr.contains("retrying in "), "{out:?}");
}
