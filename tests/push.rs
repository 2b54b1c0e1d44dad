//! dist-push against real registries: mounts within one registry, uploads
//! to an empty one, Basic and token auth, indexes whole and one platform,
//! many layers, a push killed and rerun, a registry restarted mid-upload,
//! and registries that answer wrongly. What was pushed is read back by
//! skopeo, byte for byte.

use crate::front::Front;
use crate::image::*;
use crate::pull::{events, host_arch, layered_image};
use crate::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::util::*;
use serde_json::Value;
use std::fs;

/// skopeo's view of `name`'s manifest: its exact bytes.
fn skopeo_raw(name: &str, creds: Option<&str>) -> Vec<u8> {
    let mut cmd = std::process::Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false", "--raw"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd.arg(format!("docker://{name}")).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Copies `name` with skopeo into the OCI layout `dir`; returns the
/// layout's blobs (digest → bytes).
fn skopeo_copy(name: &str, dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let out = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{name}"))
        .arg(format!("oci:{}:copy", dir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut blobs: Vec<(String, Vec<u8>)> = fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = fs::read(e.path()).unwrap();
            (format!("sha256:{}", e.file_name().to_string_lossy()), bytes)
        })
        .collect();
    blobs.sort();
    blobs
}

fn pushed_of(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "pushed").collect()
}

#[test]
fn a_pulled_image_pushed_to_another_repository_of_its_registry_is_mounted() {
    let env = Env::new("push-mount");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("team/src", "v1", &img);
    let src = format!("{}/team/src:v1", reg.host());
    let dst = format!("{}/team/dst:v1", reg.host());
    env.dist("pull").args(["--no-unpack", &src]).ok();
    let before = reg.log().len();
    let out = env.dist("push").args(["--json", &src, &dst]).ok();
    let evs = events(&out);
    let layers: Vec<&Value> = pushed_of(&evs)
        .into_iter()
        .filter(|e| e["kind"] == "layer")
        .collect();
    assert_eq!(layers.len(), img.layers.len());
    for l in &layers {
        assert_eq!(l["mountedFrom"], "team/src", "{out:?}");
    }
    let log = &reg.log()[before..];
    assert!(
        log.contains("POST /v2/team/dst/blobs/uploads/?mount="),
        "{log}"
    );
    assert!(!log.contains("PATCH /v2/team/dst/blobs/uploads"), "{log}");
    assert_eq!(skopeo_raw(&dst, None), img.manifest);
    let done = evs.last().unwrap();
    assert_eq!(
        (done["event"].as_str(), done["digest"].as_str()),
        (Some("done"), Some(img.digest.as_str()))
    );
    assert_eq!(
        done["mounted"],
        img.layers.len() + 1,
        "the layers and the config"
    );
}

#[test]
fn into_an_empty_registry_every_blob_is_uploaded_and_skopeo_reads_it_back() {
    let env = Env::new("push-empty");
    let from = Registry::start(Auth::None);
    let to = Registry::start(Auth::None);
    let img = layered_image(Format::Docker);
    from.push_image("app", "v1", &img);
    let src = format!("{}/app:v1", from.host());
    let dst = format!("{}/copied/app:v2", to.host());
    env.dist("pull").args(["--no-unpack", &src]).ok();
    let out = env.dist("push").args([&src, &dst]).ok();
    assert_eq!(out.stdout, format!("{}\n", img.digest));
    assert!(
        out.stderr
            .contains(&format!("layer-{}: pushed", img.layers[0].digest)),
        "{out:?}"
    );
    assert_eq!(skopeo_raw(&dst, None), img.manifest);
    let blobs = skopeo_copy(&dst, &env.dir.join("back"));
    for l in &img.layers {
        let got = blobs
            .iter()
            .find(|(d, _)| *d == l.digest)
            .expect("layer copied");
        assert_eq!(got.1, l.blob);
    }
    // A second push sends nothing but what it must.
    let again = env.dist("push").args(["--json", &src, &dst]).ok();
    for e in pushed_of(&events(&again))
        .iter()
        .filter(|e| e["kind"] != "manifest")
    {
        assert_eq!(e["existed"], true, "{again:?}");
    }
}

#[test]
fn basic_and_token_registries_take_pushes_with_credentials_only() {
    for auth in [Auth::Basic, Auth::Token] {
        let env = Env::new(&format!("push-auth-{auth:?}"));
        let open = Registry::start(Auth::None);
        let reg = Registry::start(auth);
        let img = image(
            Format::Oci,
            "linux",
            host_arch(),
            vec![layer(&[("a", b"auth")])],
        );
        open.push_image("app", "v1", &img);
        let src = format!("{}/app:v1", open.host());
        env.dist("pull").args(["--no-unpack", &src]).ok();
        let dst = format!("{}/private/app:v1", reg.host());
        let creds = format!("{USER}:{PASSWORD}");
        env.dist("push").args(["--creds", &creds, &src, &dst]).ok();
        assert_eq!(skopeo_raw(&dst, Some(&creds)), img.manifest);
        let wrong = format!("{USER}:nope");
        let out = env
            .dist("push")
            .args(["--creds", &wrong, &src, &dst])
            .fails(7);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("dist-push:"))
            .collect();
        assert_eq!(errors.len(), 1, "one line for the error: {out:?}");
        assert!(
            errors[0].contains(&format!("{}/private/app", reg.host())),
            "{out:?}"
        );
        assert!(
            errors[0].contains(&format!("user {USER} from --creds")),
            "{out:?}"
        );
        if auth == Auth::Token {
            // Anonymous tokens only pull public/: a push there is refused.
            let public = format!("{}/public/app:v1", reg.host());
            env.dist("push")
                .args([&src, &public])
                .env("DOCKER_CONFIG", env.dir.join("none"))
                .fails(7)
                .stderr_has(&format!("{}/public/app", reg.host()));
        }
    }
}

#[test]
fn an_index_goes_whole_or_one_platform_of_it() {
    let env = Env::new("push-index");
    let from = Registry::start(Auth::None);
    let to = Registry::start(Auth::None);
    let here = layered_image(Format::Oci);
    let other = image(
        Format::Oci,
        "linux",
        "s390x",
        vec![layer(&[("o", b"other")])],
    );
    let idx = index(Format::Oci, vec![here.clone(), other.clone()]);
    from.push_index("multi", "v1", &idx);
    let src = format!("{}/multi:v1", from.host());
    // One platform pulled: the index cannot go whole.
    env.dist("pull").args(["--no-unpack", &src]).ok();
    let dst = format!("{}/multi:v1", to.host());
    env.dist("push")
        .args([&src, &dst])
        .fails(3)
        .stderr_has("the store lacks the manifests for linux/s390x")
        .stderr_has("dist-pull --all-platforms")
        .stderr_has("dist-push --platform P");
    // Its platform alone: the tag names that manifest.
    let one = format!("{}/one:v1", to.host());
    let out = env
        .dist("push")
        .args(["--platform", &format!("linux/{}", host_arch()), &src, &one])
        .ok();
    assert_eq!(out.stdout, format!("{}\n", here.digest));
    assert_eq!(skopeo_raw(&one, None), here.manifest);
    // Every platform pulled: the index whole, byte for byte.
    env.dist("pull")
        .args(["--no-unpack", "--all-platforms", &src])
        .ok();
    let out = env.dist("push").args(["--all-platforms", &src, &dst]).ok();
    assert_eq!(out.stdout, format!("{}\n", idx.digest));
    assert_eq!(skopeo_raw(&dst, None), idx.body);
    let arm = format!("{}/multi@{}", to.host(), other.digest);
    assert_eq!(skopeo_raw(&arm, None), other.manifest);
}

#[test]
fn forty_layers_and_an_oci_layout_made_by_skopeo() {
    let env = Env::new("push-many");
    let from = Registry::start(Auth::None);
    let to = Registry::start(Auth::None);
    let layers: Vec<Layer> = (0..40)
        .map(|i| layer_of_size(2000 + i * 10, i as u64))
        .collect();
    let img = image(Format::Docker, "linux", host_arch(), layers);
    from.push_image("many", "v1", &img);
    let src = format!("{}/many:v1", from.host());
    // The store is an OCI layout that skopeo wrote, its image named `many`.
    let layout = env.dir.join("layout");
    let out = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{src}"))
        .arg(format!("oci:{}:many", layout.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dst = format!("{}/many:v1", to.host());
    let out = env
        .dist("push")
        .args(["-j", "8", "--root", layout.to_str().unwrap(), "many", &dst])
        .ok();
    let digest = out.stdout.trim().to_string();
    let raw = skopeo_raw(&dst, None);
    assert_eq!(dist::digest::Digest::of(&raw).to_string(), digest);
    let m: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 40);
    let blobs = skopeo_copy(&dst, &env.dir.join("back"));
    for l in &img.layers {
        assert!(
            blobs.iter().any(|(d, b)| *d == l.digest && *b == l.blob),
            "{}",
            l.digest
        );
    }
}

#[test]
fn registries_that_answer_wrongly_leave_no_tag_and_busy_ones_are_retried() {
    let env = Env::new("push-bad-answers");
    let open = Registry::start(Auth::None);
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    open.push_image("app", "v1", &img);
    let src = format!("{}/app:v1", open.host());
    env.dist("pull").args(["--no-unpack", &src]).ok();
    let front = Front::start(&reg.host());
    let dst = format!("{}/app:v1", front.host());
    let tag_put = |r: &crate::front::Req| r.method == "PUT" && r.path().ends_with("/manifests/v1");
    // 201 with another digest: not trusted, and the registry has no tag.
    let other = format!("sha256:{}", "1".repeat(64));
    let other2 = other.clone();
    front.intercept(tag_put, Some(1), move |_, resp| {
        resp.status = 201;
        resp.set_header("Docker-Content-Digest", &other2);
    });
    env.dist("push")
        .args([&src, &dst])
        .fails(8)
        .stderr_has(&format!("says it stored {other}"));
    let url = format!("{}/v2/app/manifests/v1", reg.url());
    let status = registry::agent()
        .head(&url)
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 404, "a tag left by a push that failed");
    // The registry refuses the manifest: its code and message quoted.
    front.answer(
        tag_put,
        Some(1),
        400,
        &[("Content-Type", "application/json")],
        r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
    );
    env.dist("push")
        .args([&src, &dst])
        .fails(4)
        .stderr_has("MANIFEST_BLOB_UNKNOWN: blob unknown to registry");
    // Busy, then fine: retried.
    front.answer(tag_put, Some(2), 503, &[], "");
    env.dist("push").args([&src, &dst]).ok();
    assert_eq!(
        skopeo_raw(&format!("{}/app:v1", reg.host()), None),
        img.manifest
    );
}

#[test]
fn a_push_killed_and_run_again_sends_only_what_is_missing() {
    let env = Env::new("push-kill");
    let open = Registry::start(Auth::None);
    let reg = Registry::start(Auth::None);
    let layers: Vec<Layer> = (0..6).map(|i| layer_of_size(1 << 20, 50 + i)).collect();
    let img = image(Format::Oci, "linux", host_arch(), layers);
    open.push_image("big", "v1", &img);
    let src = format!("{}/big:v1", open.host());
    env.dist("pull").args(["--no-unpack", &src]).ok();
    // Uploads are slowed down, so that the kill lands between them.
    let front = Front::start(&reg.host());
    front.delay(
        |r| r.method == "PUT" && r.path().contains("/blobs/uploads/"),
        None,
        std::time::Duration::from_millis(400),
    );
    let dst = format!("{}/big:v1", front.host());
    let mut child = env.dist("push").args(["-j", "1", &src, &dst]).spawn_piped();
    wait_until("the config and two layers uploaded", || {
        front
            .requests()
            .iter()
            .filter(|r| {
                r.method == "PUT" && r.target.contains("/blobs/uploads/") && r.status == 201
            })
            .count()
            >= 3
    });
    child.kill().unwrap();
    child.wait().unwrap();
    front.clear_hooks();
    let out = env.dist("push").args(["--json", &src, &dst]).ok();
    let evs = events(&out);
    let layers: Vec<&Value> = pushed_of(&evs)
        .into_iter()
        .filter(|e| e["kind"] == "layer")
        .collect();
    let existed = layers.iter().filter(|e| e["existed"] == true).count();
    assert!(
        existed >= 2,
        "the layers sent before the kill are not sent again: {out:?}"
    );
    assert_eq!(
        skopeo_raw(&format!("{}/big:v1", reg.host()), None),
        img.manifest
    );
}

#[test]
fn a_registry_restarted_in_the_middle_of_a_chunked_upload() {
    let env = Env::new("push-restart");
    let open = Registry::start(Auth::None);
    let mut reg = Registry::start(Auth::None);
    let img = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![layer_of_size(2 << 20, 9)],
    );
    open.push_image("chunky", "v1", &img);
    let src = format!("{}/chunky:v1", open.host());
    env.dist("pull").args(["--no-unpack", &src]).ok();
    let front = Front::start(&reg.host());
    front.delay(
        |r| r.method == "PATCH",
        None,
        std::time::Duration::from_millis(100),
    );
    let dst = format!("{}/chunky:v1", front.host());
    let child = env
        .dist("push")
        .args(["--debug", "--chunk-size", "128k", &src, &dst])
        .spawn_piped();
    wait_until("some chunks sent", || {
        front
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.status == 202)
            .count()
            >= 4
    });
    // Down for a second: chunks sent meanwhile fail.
    reg.stop();
    std::thread::sleep(std::time::Duration::from_secs(1));
    reg.restart();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the session has") || stderr.contains("upload again from nothing"),
        "the upload went on from the session's offset or started cleanly again: {stderr}"
    );
    assert_eq!(
        skopeo_raw(&format!("{}/chunky:v1", reg.host()), None),
        img.manifest
    );
    let blobs = skopeo_copy(&format!("{}/chunky:v1", reg.host()), &env.dir.join("back"));
    assert!(
        blobs
            .iter()
            .any(|(d, b)| *d == img.layers[0].digest && *b == img.layers[0].blob)
    );
}
