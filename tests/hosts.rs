//! Registry hosts as containerd's hosts.toml says: a pull-through cache
//! (distribution in proxy mode) that fills and then serves alone, a dead
//! mirror, a lying mirror, a mirror that may not resolve tags, credentials
//! kept to their host, private CAs (hosts.toml and docker's layout), mutual
//! TLS, pushes past pull-only mirrors, and files that do not parse.

use crate::front::Front;
use crate::image::*;
use crate::pull::{events, layered_image};
use crate::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::tls::Ca;
use crate::util::*;
use serde_json::Value;
use std::fs;
use std::path::PathBuf;

/// Writes `text` as the hosts.toml of `registry` in the test's hosts
/// directory (`$DIST_HOSTS_DIR`); returns the registry's directory.
fn hosts_toml(env: &Env, registry: &str, text: &str) -> PathBuf {
    let dir = env.dir.join("hosts.d").join(registry);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("hosts.toml"), text).unwrap();
    dir
}

/// The host each fetched object came from, by digest.
fn served(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "fetched" && e["existed"] == false)
        .map(|e| {
            (
                e["digest"].as_str().unwrap().to_string(),
                e["host"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The digests of everything `img` is made of.
fn objects(img: &Image) -> Vec<String> {
    let mut all = vec![img.digest.clone(), img.config_digest.clone()];
    all.extend(img.layers.iter().map(|l| l.digest.clone()));
    all.sort();
    all
}

fn pushed(reg: &Registry) -> (Image, String) {
    let img = layered_image(Format::Oci);
    reg.push_image("app/web", "1.0", &img);
    let name = format!("{}/app/web:1.0", reg.host());
    (img, name)
}

#[test]
fn a_pull_through_cache_fills_then_serves_with_the_upstream_stopped() {
    let env = Env::new("hosts-cache");
    let mut upstream = Registry::start(Auth::None);
    let (img, name) = pushed(&upstream);
    let cache = Registry::start_proxy(&upstream.url(), None);
    // A front to see what the cache is asked.
    let front = Front::start(&cache.host());
    hosts_toml(
        &env,
        &upstream.host(),
        &format!(
            "server = \"{}\"\n\n[host.\"{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            upstream.url(),
            front.url()
        ),
    );
    let out = env.dist("pull").args(["--json", &name]).ok();
    let got = served(&events(&out));
    let mut digests: Vec<String> = got.iter().map(|(d, _)| d.clone()).collect();
    digests.sort();
    assert_eq!(digests, objects(&img));
    for (digest, host) in &got {
        assert_eq!(host, &front.host(), "{digest} came from the cache");
    }
    // Every request to the cache says which registry it is about.
    let ns = format!("ns={}", upstream.host().replace(':', "%3A"));
    let seen = front.requests();
    assert!(!seen.is_empty());
    for s in &seen {
        assert!(s.target.contains(&ns), "{} lacks {ns}", s.target);
    }

    // Filled: a fresh store pulls it with the upstream gone.
    upstream.stop();
    let fresh = Env::new("hosts-cache-fresh");
    hosts_toml(
        &fresh,
        &upstream.host(),
        &fs::read_to_string(
            env.dir
                .join("hosts.d")
                .join(upstream.host())
                .join("hosts.toml"),
        )
        .unwrap(),
    );
    let out = fresh.dist("pull").args(["--json", &name]).ok();
    assert_eq!(served(&events(&out)).len(), objects(&img).len());
    for l in &img.layers {
        assert_eq!(fs::read(fresh.blob(&l.digest)).unwrap(), l.blob);
    }
    fresh
        .dist("images")
        .args(["check", &name])
        .ok()
        .stdout_has("complete");
}

#[test]
fn a_dead_mirror_first_is_skipped_and_said_so() {
    let env = Env::new("hosts-dead");
    let upstream = Registry::start(Auth::None);
    let (img, name) = pushed(&upstream);
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_host = dead.local_addr().unwrap().to_string();
    drop(dead);
    // The docker way of naming the directory: HOST_PORT_.
    hosts_toml(
        &env,
        &format!("{}_", upstream.host().replace(':', "_")),
        &format!("[host.\"http://{dead_host}\"]\n"),
    );
    let out = env.dist("pull").args(["--json", "--debug", &name]).ok();
    out.clone_check(|o| {
        let err = &o.stderr;
        assert!(
            err.contains(&format!("skipped {dead_host}: ")) && err.contains("not asked again"),
            "{err}"
        );
        // Skipped once, then left alone.
        assert_eq!(
            err.matches(&format!("skipped {dead_host}")).count(),
            1,
            "{err}"
        );
    });
    for (_, host) in served(&events(&out)) {
        assert_eq!(host, upstream.host());
    }
    assert_eq!(env.blobs(), objects(&img));
}

#[test]
fn bytes_a_mirror_corrupts_come_from_the_upstream_and_nothing_bad_is_kept() {
    let env = Env::new("hosts-corrupt");
    let upstream = Registry::start(Auth::None);
    let (img, name) = pushed(&upstream);
    let mirror = Front::start(&upstream.host());
    let big = img.layers[2].digest.clone();
    {
        let big = big.clone();
        mirror.flip_byte(move |r| r.path().ends_with(&big), None, 1000);
    }
    // The mirror's manifest is wrong too.
    mirror.flip_byte(|r| r.path().contains("/manifests/"), None, 10);
    hosts_toml(
        &env,
        &upstream.host(),
        &format!(
            "[host.\"{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            mirror.url()
        ),
    );
    let out = env.dist("pull").args(["--json", "--debug", &name]).ok();
    let got = served(&events(&out));
    for (digest, host) in &got {
        let want = if *digest == big || *digest == img.digest {
            upstream.host()
        } else {
            mirror.host()
        };
        assert_eq!(host, &want, "{digest}");
    }
    out.clone_check(|o| {
        let err = &o.stderr;
        assert!(
            err.contains(&format!(
                "{big}: the bytes {} sent were wrong",
                mirror.host()
            )),
            "{err}"
        );
    });
    for l in &img.layers {
        assert_eq!(fs::read(env.blob(&l.digest)).unwrap(), l.blob);
    }
    assert!(env.ingests().is_empty());
    env.dist("images")
        .args(["check", &name])
        .ok()
        .stdout_has("complete");
}

#[test]
fn a_mirror_without_resolve_is_never_asked_for_tags() {
    let env = Env::new("hosts-noresolve");
    let upstream = Registry::start(Auth::None);
    let (img, name) = pushed(&upstream);
    let mirror = Front::start(&upstream.host());
    hosts_toml(
        &env,
        &upstream.host(),
        &format!(
            "[host.\"{}\"]\n  capabilities = [\"pull\"]\n  [host.\"{}\".header]\n    x-fleet = [\"ci\", \"eu\"]\n",
            mirror.url(),
            mirror.url()
        ),
    );
    let out = env.dist("pull").args(["--json", &name]).ok();
    assert!(mirror.requests_to("/manifests/1.0").is_empty());
    let seen = mirror.requests();
    assert!(!seen.is_empty(), "the mirror serves the rest");
    for s in &seen {
        let fleet: Vec<&str> = s
            .headers
            .iter()
            .filter(|(k, _)| k == "x-fleet")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(fleet, ["ci", "eu"], "{}", s.target);
    }
    for (digest, host) in served(&events(&out)) {
        let want = if digest == img.digest {
            upstream.host()
        } else {
            mirror.host()
        };
        assert_eq!(host, want, "{digest}");
    }
    // dist-resolve asks the registry too.
    mirror.clear_requests();
    env.dist("resolve").arg(&name).ok().stdout_has(&img.digest);
    assert!(mirror.requests().is_empty());
    // Pushes go to the first host that may push: the registry.
    let other = Registry::start(Auth::None);
    let (_, copy) = pushed(&other);
    env.dist("pull").arg(&copy).ok();
    let target = format!("{}/app/copy:1", upstream.host());
    env.dist("push").args([&copy, &target]).ok();
    assert!(mirror.requests().is_empty(), "{:?}", mirror.requests());
}

#[test]
fn a_mirror_gets_its_own_credentials_never_the_registrys() {
    let env = Env::new("hosts-creds");
    let upstream = Registry::start(Auth::Basic);
    let img = layered_image(Format::Oci);
    upstream.push_image("app/web", "1.0", &img);
    let name = format!("{}/app/web:1.0", upstream.host());
    // The mirror asks for credentials as the registry does (it is a front
    // to it): it must get its own, which the registry refuses.
    let mirror = Front::start(&upstream.host());
    hosts_toml(
        &env,
        &upstream.host(),
        &format!("[host.\"{}\"]\n", mirror.url()),
    );
    let upstream_auth = registry::basic_authorization(USER, PASSWORD);
    let mirror_auth = registry::basic_authorization("bob", "builder");
    let authfile = env.file(
        "auth.json",
        serde_json::json!({"auths": {
            upstream.host(): {"auth": registry::base64(format!("{USER}:{PASSWORD}").as_bytes())},
            mirror.host(): {"auth": registry::base64(b"bob:builder")},
        }})
        .to_string()
        .as_bytes(),
    );
    let out = env
        .dist("pull")
        .args(["--json", "--authfile"])
        .arg(&authfile)
        .arg(&name)
        .ok();
    for (_, host) in served(&events(&out)) {
        assert_eq!(host, upstream.host());
    }
    let sent: Vec<String> = mirror
        .requests()
        .iter()
        .filter_map(|s| s.header("authorization").map(str::to_string))
        .collect();
    assert!(sent.contains(&mirror_auth), "{sent:?}");
    assert!(!sent.contains(&upstream_auth), "{sent:?}");

    // --creds is for the registry named, not for its mirrors.
    mirror.clear_requests();
    let again = Env::new("hosts-creds-flag");
    hosts_toml(
        &again,
        &upstream.host(),
        &format!("[host.\"{}\"]\n", mirror.url()),
    );
    again
        .dist("pull")
        .args(["--creds", &format!("{USER}:{PASSWORD}"), &name])
        .ok();
    assert!(!mirror.requests().is_empty());
    for s in mirror.requests() {
        assert_eq!(s.header("authorization"), None, "{}", s.target);
    }
}

#[test]
fn a_private_ca_is_trusted_through_hosts_toml_or_crt_files_and_refused_without() {
    let env = Env::new("hosts-ca");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "registry", &["127.0.0.1"]);
    let reg = Registry::start_tls(Auth::None, &cert);
    let img = layered_image(Format::Oci);
    reg.push_image("app/web", "1.0", &img);
    let name = format!("{}/app/web:1.0", reg.host());

    // No CA: refused, one line naming the host and the problem.
    let dir = hosts_toml(&env, &reg.host(), &format!("server = \"{}\"\n", reg.url()));
    let out = env.dist("pull").arg(&name).fails(7);
    out.clone_check(|o| {
        let err = &o.stderr;
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&reg.host()) && err.contains("UnknownIssuer"),
            "{err}"
        );
    });
    assert!(env.blobs().is_empty());

    // hosts.toml's ca, relative to the file.
    fs::copy(ca.cert_path(), dir.join("registry-ca.pem")).unwrap();
    fs::write(
        dir.join("hosts.toml"),
        format!("server = \"{}\"\nca = \"registry-ca.pem\"\n", reg.url()),
    )
    .unwrap();
    env.dist("pull").arg(&name).ok();
    assert_eq!(env.blobs(), objects(&img));

    // docker's layout: a *.crt file and no hosts.toml; HTTPS follows.
    let docker = Env::new("hosts-ca-docker");
    let dir = docker.dir.join("hosts.d").join(reg.host());
    fs::create_dir_all(&dir).unwrap();
    fs::copy(ca.cert_path(), dir.join("ca.crt")).unwrap();
    docker.dist("pull").arg(&name).ok();
    assert_eq!(docker.blobs(), objects(&img));
}

#[test]
fn a_registry_that_wants_a_client_certificate_gets_the_configured_one() {
    let env = Env::new("hosts-mtls");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "registry", &["127.0.0.1"]);
    let client = ca.issue_client(&env.dir, "client");
    let reg = Registry::start_mtls(Auth::None, &cert, &client);
    let img = layered_image(Format::Oci);
    reg.push_image("app/web", "1.0", &img);
    let name = format!("{}/app/web:1.0", reg.host());

    let without = format!(
        "server = \"{}\"\nca = \"{}\"\n",
        reg.url(),
        ca.cert_path().display()
    );
    hosts_toml(&env, &reg.host(), &without);
    env.dist("pull").arg(&name).fails(7);
    hosts_toml(
        &env,
        &reg.host(),
        &format!(
            "{without}client = [[\"{}\", \"{}\"]]\n",
            client.cert.display(),
            client.key.display()
        ),
    );
    env.dist("pull").arg(&name).ok();
    assert_eq!(env.blobs(), objects(&img));
}

#[test]
fn bad_host_files_are_errors_naming_file_line_and_key() {
    let env = Env::new("hosts-bad");
    let reg = Registry::start(Auth::None);
    let (_, name) = pushed(&reg);
    let cases = [
        (
            "server = \"http://x\"\n[host.\"http://m\"\ncapabilities = []\n",
            ":2:",
        ),
        (
            "\n[host.\"http://m\"]\ncapabilities = [\"pull\", \"teleport\"]\n",
            ":2: host.\"http://m\".capabilities: unknown capability \"teleport\"",
        ),
        (
            "[host.\"http://m\"]\nca = \"nowhere.pem\"\n",
            "nowhere.pem: no such file",
        ),
        ("skip_verfy = true\n", ":1:"),
    ];
    for (text, want) in cases {
        let dir = hosts_toml(&env, &reg.host(), text);
        let out = env.dist("pull").arg(&name).fails(4);
        out.clone_check(|o| {
            let err = &o.stderr;
            let file = dir.join("hosts.toml").display().to_string();
            assert!(err.contains(&file) && err.contains(want), "{text:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        });
    }
    assert!(env.blobs().is_empty());
}

#[test]
fn a_token_earned_with_the_registrys_credentials_never_goes_to_a_mirror() {
    let env = Env::new("hosts-token");
    let upstream = Registry::start(Auth::Token);
    let img = layered_image(Format::Oci);
    upstream.push_image("app/web", "1.0", &img);
    // The registry as dist knows it (a front, to see what it is sent), and
    // a mirror that passes the registry's own challenges on.
    let registry = Front::start(&upstream.host());
    let mirror = Front::start(&upstream.host());
    let name = format!("{}/app/web:1.0", registry.host());
    hosts_toml(
        &env,
        &registry.host(),
        &format!("[host.\"{}\"]\n", mirror.url()),
    );
    let authfile = env.file(
        "auth.json",
        serde_json::json!({"auths": {
            registry.host(): {"auth": registry::base64(format!("{USER}:{PASSWORD}").as_bytes())},
        }})
        .to_string()
        .as_bytes(),
    );
    let out = env
        .dist("pull")
        .args(["--json", "--authfile"])
        .arg(&authfile)
        .arg(&name)
        .ok();
    for (_, host) in served(&events(&out)) {
        assert_eq!(host, registry.host());
    }
    let sent = |f: &Front| -> Vec<String> {
        f.requests()
            .iter()
            .filter_map(|s| s.header("authorization").map(str::to_string))
            .collect()
    };
    let (to_registry, to_mirror) = (sent(&registry), sent(&mirror));
    assert!(!to_registry.is_empty());
    assert!(
        mirror.requests().len() > 1,
        "the mirror was asked for each object"
    );
    for a in &to_mirror {
        assert!(
            !to_registry.contains(a),
            "the registry's {a} went to the mirror"
        );
    }
}
