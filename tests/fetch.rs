//! dist-fetch against a real registry: objects by tag and digest, the seeds'
//! pipelines, corruption, resume after a registry restart.

use crate::image::*;
use crate::registry::{Auth, Registry};
use crate::resolve::two_layer_image;
use crate::util::*;
use std::fs;
use std::io::Read;

#[test]
fn fetch_manifests_configs_and_layers_by_tag_and_digest() {
    let env = Env::new("fetch");
    let reg = Registry::start(Auth::None);
    let img = two_layer_image(Format::Docker);
    reg.push_image("library/redis", "latest", &img);
    let repo = format!("{}/library/redis", reg.host());

    let by_tag = env.dist("fetch").arg(format!("{repo}:latest")).ok();
    assert_eq!(by_tag.stdout.as_bytes(), img.manifest);
    let by_digest = env.dist("fetch").arg(format!("{repo}@{}", img.digest)).ok();
    assert_eq!(by_digest.stdout.as_bytes(), img.manifest);
    let config = env
        .dist("fetch")
        .arg(format!("{repo}@{}", img.config_digest))
        .ok();
    assert_eq!(config.stdout.as_bytes(), img.config);
    // Layers are binary: fetch them to a file.
    for l in &img.layers {
        let file = env.dir.join("layer");
        env.dist("fetch")
            .args([
                "-o",
                file.to_str().unwrap(),
                &format!("{repo}@{}", l.digest),
            ])
            .ok();
        assert_eq!(fs::read(&file).unwrap(), l.blob);
    }
    // -o to a device writes through it: /dev/null stays a device.
    env.dist("fetch")
        .args([
            "-o",
            "/dev/null",
            &format!("{repo}@{}", img.layers[0].digest),
        ])
        .ok();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &fs::metadata("/dev/null").unwrap().file_type()
    ));
    // The historic form: LOCATOR OBJECT [mediatype:TYPE].
    let old = env
        .dist("fetch")
        .args([&repo, "latest", &format!("mediatype:{DOCKER_MANIFEST}")])
        .ok();
    assert_eq!(old.stdout.as_bytes(), img.manifest);
    let old = env.dist("fetch").args([&repo, &img.digest]).ok();
    assert_eq!(old.stdout.as_bytes(), img.manifest);
    let hinted = env
        .dist("fetch")
        .args([
            "--media-type",
            DOCKER_CONFIG,
            &format!("{repo}@{}", img.config_digest),
        ])
        .ok();
    assert_eq!(hinted.stdout.as_bytes(), img.config);

    env.dist("fetch")
        .arg(format!("{repo}:nope"))
        .fails(3)
        .stderr_has("library/redis:nope: not found");
    let missing = digest(b"not pushed");
    env.dist("fetch")
        .arg(format!("{repo}@{missing}"))
        .fails(3)
        .stderr_has("not found");
    env.dist("fetch").args([&repo, "latest", "extra"]).fails(2);
    env.dist("fetch")
        .args([&format!("{repo}:latest"), "latest"])
        .fails(2)
        .stderr_has("without tag or digest");
}

#[test]
fn the_seed_pipelines_fetch_every_layer_and_ingest_them_in_parallel() {
    let env = Env::new("fetch-pipelines");
    let reg = Registry::start(Auth::None);
    let layers: Vec<Layer> = (0..6)
        .map(|i| layer_of_size(300_000 + i * 1000, i as u64))
        .collect();
    let img = image(Format::Docker, "linux", "amd64", layers);
    reg.push_image("library/redis", "latest", &img);
    let repo = format!("{}/library/redis", reg.host());

    // Every layer to /dev/null, ten at a time (seed 19eecaab12).
    env.sh(&format!("dist-fetch {repo}:latest | jq -r '.layers[].digest' | xargs -n1 -P10 dist-fetch {repo} > /dev/null")).ok();
    // The parallel download into the store (seed f9cd9be61a).
    env.sh(&format!(
        r#"dist-fetch {repo}:latest | jq -r '.layers[] | "dist-fetch {repo}@"+.digest+" | dist-ingest --expected-digest "+.digest+" --expected-size "+(.size|tostring)+" {repo}@"+.digest' | xargs -I{{}} -P10 -n1 sh -c "{{}}""#
    ))
    .ok();
    let mut want: Vec<String> = img.layers.iter().map(|l| l.digest.clone()).collect();
    want.sort();
    assert_eq!(env.blobs(), want);
    for l in &img.layers {
        assert_eq!(fs::read(env.blob(&l.digest)).unwrap(), l.blob);
    }
    assert!(env.ingests().is_empty());
}

#[test]
fn corrupted_content_in_the_registry_is_never_trusted() {
    let env = Env::new("fetch-corrupt");
    let reg = Registry::start(Auth::None);
    let img = image(
        Format::Oci,
        "linux",
        "amd64",
        vec![layer_of_size(2 << 20, 7)],
    );
    reg.push_image("team/app", "v1", &img);
    let l = &img.layers[0];
    let data = reg.blob_data_path(&l.digest);
    let mut bytes = fs::read(&data).unwrap();
    bytes[1 << 20] ^= 0x55;
    fs::write(&data, &bytes).unwrap();

    let name = format!("{}/team/app@{}", reg.host(), l.digest);
    env.dist("fetch")
        .arg(&name)
        .fails(8)
        .stderr_has("not trusted");
    let out = env.dir.join("out");
    env.dist("fetch")
        .args(["-o", out.to_str().unwrap(), &name])
        .fails(8);
    assert!(!out.exists(), "-o left a file with corrupt content");
    assert_eq!(
        fs::read_dir(&env.dir)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-"))
            .count(),
        0
    );
    // Through the ingest pipeline nothing reaches the store either.
    env.sh(&format!(
        "dist-fetch {name} | dist-ingest --expected-digest {} {}",
        l.digest, l.digest
    ))
    .fails(8);
    assert!(env.blobs().is_empty());
}

#[test]
fn a_registry_restart_mid_blob_is_resumed_with_range() {
    let env = Env::new("fetch-resume");
    let mut reg = Registry::start(Auth::None);
    let img = image(
        Format::Oci,
        "linux",
        "amd64",
        vec![layer_of_size(48 << 20, 9)],
    );
    reg.push_image("team/big", "v1", &img);
    let l = &img.layers[0];
    let mut child = env
        .dist("fetch")
        .args([
            "--timeout",
            "120s",
            &format!("{}/team/big@{}", reg.host(), l.digest),
        ])
        .spawn_piped();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0u8; 8 << 20];
    stdout.read_exact(&mut got).unwrap();
    // The client is stalled on a full pipe, mid-blob: take the registry away.
    reg.stop();
    std::thread::sleep(std::time::Duration::from_millis(300));
    reg.restart();
    stdout.read_to_end(&mut got).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        reg.log()
    );
    assert_eq!(got.len(), l.blob.len());
    assert!(got == l.blob, "resumed output differs");
    let log = reg.log();
    let ranged: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(&l.digest) && line.contains("\" 206 "))
        .collect();
    assert!(
        !ranged.is_empty(),
        "no ranged GET in the registry's log:\n{}",
        reg.log()
    );
}

#[test]
fn an_unreachable_registry_is_unavailable_after_retries() {
    let env = Env::new("fetch-down");
    let mut reg = Registry::start(Auth::None);
    let host = reg.host();
    reg.stop();
    let out = env
        .dist("fetch")
        .arg(format!("{host}/team/app:v1"))
        .fails(6);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    env.dist("fetch")
        .args(["--timeout", "1s", &format!("{host}/team/app:v1")])
        .fails(6)
        .stderr_has("timed out after 1s");
}

#[test]
fn tokens_are_fetched_once_per_scope() {
    let env = Env::new("fetch-token-cache");
    let reg = Registry::start(Auth::Token);
    let img = two_layer_image(Format::Oci);
    reg.push_image("public/app", "v1", &img);
    let empty = env.dir.join("no-config");
    let out = env.dir.join("l");
    env.dist("fetch")
        .args([
            "-o",
            out.to_str().unwrap(),
            &format!("{}/public/app@{}", reg.host(), img.layers[1].digest),
        ])
        .env("DOCKER_CONFIG", &empty)
        .ok();
    assert_eq!(fs::read(&out).unwrap(), img.layers[1].blob);
    let requests = reg.token_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].contains("anonymous"), "{requests:?}");
}

#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    let env = Env::new("fetch-redirect");
    for auth in [Auth::Basic, Auth::Token] {
        let reg = Registry::start_redirecting(auth);
        let img = two_layer_image(Format::Oci);
        reg.push_image("private/app", "v1", &img);
        let config = crate::resolve::docker_config(
            &env,
            &reg,
            crate::registry::USER,
            crate::registry::PASSWORD,
        );
        let out = env.dir.join("layer");
        let name = format!("{}/private/app@{}", reg.host(), img.layers[0].digest);
        env.dist("fetch")
            .args(["-o", out.to_str().unwrap(), &name])
            .env("DOCKER_CONFIG", &config)
            .ok();
        assert_eq!(fs::read(&out).unwrap(), img.layers[0].blob);
        let seen = reg.storage_host().unwrap().requests();
        assert!(!seen.is_empty(), "{auth:?}: the registry did not redirect");
        for (path, authorization) in &seen {
            assert!(path.ends_with("/data"), "{path}");
            assert_eq!(
                authorization, &None,
                "{auth:?}: credentials went to the storage host for {path}"
            );
        }
    }
}

#[test]
fn server_errors_are_retried_with_backoff_then_unavailable() {
    let env = Env::new("fetch-5xx");
    let reg = Registry::start(Auth::None);
    let img = two_layer_image(Format::Oci);
    reg.push_image("team/app", "v1", &img);
    // Distribution answers a layer digest on the manifests endpoint with 500:
    // a manifest hint sends dist-fetch there, so every attempt fails.
    let name = format!("{}/team/app@{}", reg.host(), img.layers[0].digest);
    let start = std::time::Instant::now();
    let out = env
        .dist("fetch")
        .args(["--media-type", OCI_MANIFEST, &name])
        .fails(6);
    out.stderr_has("unavailable (registry said 500");
    let attempts = reg
        .log()
        .lines()
        .filter(|l| l.contains("GET /v2/team/app/manifests/") && l.contains("\" 500 "))
        .count();
    assert_eq!(attempts, 6, "{}", reg.log());
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(7),
        "no backoff between attempts"
    );
}
