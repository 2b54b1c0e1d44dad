//! dist-resolve against a real registry: names, media types, auth.

use crate::image::*;
use crate::registry::{self, Auth, Registry};
use crate::util::*;

pub fn two_layer_image(format: Format) -> Image {
    image(
        format,
        "linux",
        "amd64",
        vec![
            layer(&[("etc/hello", b"hello\n")]),
            layer(&[("usr/bin/tool", b"#!/bin/sh\n")]),
        ],
    )
}

fn resolved(out: &Output) -> serde_json::Value {
    assert_eq!(out.lines().len(), 1, "{out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn resolve_by_tag_and_digest_for_oci_docker_and_indexes() {
    let env = Env::new("resolve");
    let reg = Registry::start(Auth::None);
    let (oci, docker) = (
        two_layer_image(Format::Oci),
        two_layer_image(Format::Docker),
    );
    reg.push_image("team/app", "oci", &oci);
    reg.push_image("team/app", "docker", &docker);
    let list = index(
        Format::Docker,
        vec![
            two_layer_image(Format::Docker),
            image(Format::Docker, "linux", "arm64/v8", vec![]),
        ],
    );
    reg.push_index("team/app", "list", &list);
    let oci_index = index(Format::Oci, vec![two_layer_image(Format::Oci)]);
    reg.push_index("team/app", "index", &oci_index);

    let cases = [
        ("oci", OCI_MANIFEST, &oci.digest, oci.manifest.len()),
        (
            "docker",
            DOCKER_MANIFEST,
            &docker.digest,
            docker.manifest.len(),
        ),
        ("list", DOCKER_LIST, &list.digest, list.body.len()),
        ("index", OCI_INDEX, &oci_index.digest, oci_index.body.len()),
    ];
    for (tag, media_type, digest, size) in cases {
        let name = format!("{}/team/app:{tag}", reg.host());
        let v = resolved(&env.dist("resolve").arg(&name).ok());
        assert_eq!(v["name"], name);
        assert_eq!(v["mediaType"], media_type);
        assert_eq!(v["digest"], digest.as_str());
        assert_eq!(v["size"], size);
        // By digest, the same descriptor.
        let by_digest = format!("{}/team/app@{digest}", reg.host());
        let v = resolved(&env.dist("resolve").arg(&by_digest).ok());
        assert_eq!(
            (v["mediaType"].as_str(), v["digest"].as_str()),
            (Some(media_type), Some(digest.as_str()))
        );
    }
    // The JSON keys come in a stable order, name first.
    let out = env
        .dist("resolve")
        .arg(format!("{}/team/app:oci", reg.host()))
        .ok();
    assert!(out.stdout.starts_with("{\"name\":"), "{out:?}");
}

#[test]
fn missing_names_and_bad_references() {
    let env = Env::new("resolve-errors");
    let reg = Registry::start(Auth::None);
    env.dist("resolve")
        .arg(format!("{}/nope/nothing:latest", reg.host()))
        .fails(3)
        .stderr_has("nope/nothing:latest: not found");
    env.dist("resolve")
        .arg("Not A Reference")
        .fails(2)
        .stderr_has("invalid reference");
    env.dist("resolve").fails(2).stderr_has("missing REF");
    env.dist("resolve")
        .args(["a", "b"])
        .fails(2)
        .stderr_has("unexpected argument 'b'");
}

/// A docker config in the test directory that holds `user:password` for the registry.
pub fn docker_config(env: &Env, reg: &Registry, user: &str, password: &str) -> std::path::PathBuf {
    let dir = env.dir.join(format!("docker-{user}-{password}"));
    std::fs::create_dir_all(&dir).unwrap();
    let auth = registry::base64(format!("{user}:{password}").as_bytes());
    let config = serde_json::json!({ "auths": { reg.host(): { "auth": auth } } });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir
}

#[test]
fn basic_auth_with_good_bad_and_no_credentials() {
    let env = Env::new("resolve-basic");
    let reg = Registry::start(Auth::Basic);
    let img = two_layer_image(Format::Oci);
    reg.push_image("private/app", "v1", &img);
    let name = format!("{}/private/app:v1", reg.host());
    let good = docker_config(&env, &reg, registry::USER, registry::PASSWORD);
    let v = resolved(
        &env.dist("resolve")
            .arg(&name)
            .env("DOCKER_CONFIG", &good)
            .ok(),
    );
    assert_eq!(v["digest"], img.digest.as_str());
    let bad = docker_config(&env, &reg, registry::USER, "wrong");
    let out = env
        .dist("resolve")
        .arg(&name)
        .env("DOCKER_CONFIG", &bad)
        .fails(7);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    out.stderr_has("unauthenticated");
    let empty = env.dir.join("no-config");
    env.dist("resolve")
        .arg(&name)
        .env("DOCKER_CONFIG", &empty)
        .fails(7)
        .stderr_has("none are configured");
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let env = Env::new("resolve-bearer");
    let reg = Registry::start(Auth::Token);
    let img = two_layer_image(Format::Docker);
    reg.push_image("public/app", "v1", &img);
    reg.push_image("private/app", "v1", &img);
    let empty = env.dir.join("no-config");
    // Anonymous pull of a public repository.
    let v = resolved(
        &env.dist("resolve")
            .arg(format!("{}/public/app:v1", reg.host()))
            .env("DOCKER_CONFIG", &empty)
            .ok(),
    );
    assert_eq!(v["digest"], img.digest.as_str());
    // A private one: refused without credentials, granted with them.
    let private = format!("{}/private/app:v1", reg.host());
    let out = env
        .dist("resolve")
        .arg(&private)
        .env("DOCKER_CONFIG", &empty)
        .fails(7);
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    // Credentials from $REGISTRY_AUTH_FILE (podman's file), from a docker config, and from a helper.
    let good = docker_config(&env, &reg, registry::USER, registry::PASSWORD);
    env.dist("resolve")
        .arg(&private)
        .env("DOCKER_CONFIG", &empty)
        .env("REGISTRY_AUTH_FILE", good.join("config.json"))
        .ok();
    env.dist("resolve")
        .arg(&private)
        .env("DOCKER_CONFIG", &good)
        .ok();
    let bad = docker_config(&env, &reg, registry::USER, "wrong");
    env.dist("resolve")
        .arg(&private)
        .env("DOCKER_CONFIG", &bad)
        .fails(7)
        .stderr_has("refused the credentials");

    let helper_dir = env.dir.join("helper");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let helper = helper_dir.join("docker-credential-dist-test");
    let script = format!(
        "#!/bin/sh\nread server\necho \"$server\" >> {}/helper.log\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{}\",\"Secret\":\"{}\"}}'\n",
        helper_dir.display(),
        registry::USER,
        registry::PASSWORD
    );
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cfg_dir = env.dir.join("helper-config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.json"),
        serde_json::json!({"credHelpers": {reg.host(): "dist-test"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap()
    );
    env.dist("resolve")
        .arg(&private)
        .env("DOCKER_CONFIG", &cfg_dir)
        .env("PATH", path)
        .ok();
    assert_eq!(
        std::fs::read_to_string(helper_dir.join("helper.log")).unwrap(),
        format!("{}\n", reg.host())
    );
}
