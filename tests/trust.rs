//! A hostile registry: dist-pull through the fault-injecting front, which
//! sends credentials' realms elsewhere, serves manifests that break the spec,
//! lies about digests and ranges, redirects where it should not, stalls, and
//! puts escape sequences in what it says. Each lie is refused with the exit
//! code of its kind and one line naming the object and the cause; no name is
//! recorded, and nothing is committed that should not be.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::front::{Front, Req};
use crate::image::*;
use crate::pull::host_arch;
use crate::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::tls::{Ca, ServerCert};
use crate::util::*;

/// A registry without auth and a front before it.
fn rig() -> (Registry, Front) {
    let reg = Registry::start(Auth::None);
    let front = Front::start(&reg.host());
    (reg, front)
}

/// Requests for the manifest `repo:object` (a tag or a digest).
fn manifest_of(repo: &str, object: &str) -> impl Fn(&Req) -> bool + Send + Sync + 'static {
    let path = format!("/v2/{repo}/manifests/{object}");
    move |r| r.path() == path
}

/// GETs of the blob `digest`, of any repository.
fn blob_get(digest: &str) -> impl Fn(&Req) -> bool + Send + Sync + 'static {
    let tail = format!("/blobs/{digest}");
    move |r| r.method == "GET" && r.path().ends_with(&tail)
}

/// Answers GET and HEAD of the manifest `repo:object` with `body` as
/// `content_type`, its own digest as `Docker-Content-Digest`, instead of the
/// registry. Returns that digest.
fn serve_manifest(
    front: &Front,
    repo: &str,
    object: &str,
    content_type: &str,
    body: &[u8],
) -> String {
    let d = digest(body);
    let len = body.len().to_string();
    front.answer(
        manifest_of(repo, object),
        None,
        200,
        &[
            ("Content-Type", content_type),
            ("Docker-Content-Digest", &d),
            ("Content-Length", &len),
        ],
        body.to_vec(),
    );
    d
}

/// The descriptor of `data` as `media_type`, as JSON.
fn desc(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": digest(data), "size": data.len()})
}

/// An OCI manifest (with its mediaType) of `config` and `layers`.
fn oci_manifest(config: Value, layers: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": layers,
    }))
    .unwrap()
}

/// An image config for `diff_ids`.
fn config_of(diff_ids: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// Checks what a refused pull leaves: its error as one line of stderr (no
/// usage hint, nothing else) that holds each of `says`; no name in the
/// namespace; none of `absent` committed.
fn refused(env: &Env, out: &Output, name: &str, says: &[&str], absent: &[&str]) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with("dist-pull: ") {
        out.fail("expected the error as one line of stderr");
    }
    for s in says {
        if !out.stderr.contains(s) {
            out.fail(&format!("expected stderr to contain {s:?}"));
        }
    }
    unnamed(env, name);
    // No store at all holds nothing either.
    let listed = env.dist("list").arg("-q").run().stdout;
    let blobs = env.blobs();
    for d in absent {
        assert!(
            !listed.contains(d) && !blobs.iter().any(|b| b == d),
            "{d} was committed; the store holds:\n{listed}"
        );
    }
}

/// No name recorded: `dist-images ls -q` prints nothing (or finds no store
/// at all) and `dist-images check` exits 3.
fn unnamed(env: &Env, name: &str) {
    let ls = env.dist("images").args(["ls", "-q"]).run();
    match ls.code {
        Some(0) if ls.stdout.is_empty() => {}
        Some(3) if ls.stdout.is_empty() && ls.stderr.contains("no store at") => {}
        _ => ls.fail("expected no name recorded"),
    }
    env.dist("images").args(["check", name]).fails(3);
}

/// `name` recorded and complete.
fn named(env: &Env, name: &str) {
    env.dist("images")
        .args(["ls", "-q"])
        .ok()
        .stdout_has(&format!("{name}\n"));
    env.dist("images")
        .args(["check", name])
        .ok()
        .stdout_has("complete");
}

// 1. Credentials only to their host.

/// A token registry holding `public/app:v1` and `private/app:v1` (two
/// images), a front before it whose 401s name, as their realm, a second
/// front on 127.0.0.2 before the token server.
struct TokenRig {
    // Dropped in this order: fronts first.
    front: Front,
    tokens: Front,
    _reg: Registry,
    public: Image,
    private: Image,
}

fn token_rig(tls: Option<&ServerCert>) -> TokenRig {
    let reg = Registry::start(Auth::Token);
    let public = image(
        Format::Oci,
        "linux",
        "amd64",
        vec![layer(&[("p", b"public")])],
    );
    let private = image(
        Format::Oci,
        "linux",
        "amd64",
        vec![layer(&[("p", b"private")])],
    );
    reg.push_image("public/app", "v1", &public);
    reg.push_image("private/app", "v1", &private);
    let realm = reg.token_realm().unwrap();
    let token_host = realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_string();
    let tokens = Front::start_with("127.0.0.2", Some(&token_host), tls);
    let front = Front::start(&reg.host());
    let elsewhere = format!("{}/token", tokens.url());
    front.hook(
        |_| true,
        None,
        move |_, resp| {
            if resp.status != 401 {
                return;
            }
            if let Some(challenge) = resp.header("www-authenticate").map(str::to_string) {
                assert!(challenge.contains(&realm), "{challenge}");
                resp.set_header("WWW-Authenticate", &challenge.replace(&realm, &elsewhere));
            }
        },
    );
    TokenRig {
        front,
        tokens,
        _reg: reg,
        public,
        private,
    }
}

/// A docker config directory whose `auths` hold USER:PASSWORD for `host`.
fn docker_config(env: &Env, host: &str) -> PathBuf {
    let dir = env.dir.join("docker");
    fs::create_dir_all(&dir).unwrap();
    let auth = registry::base64(format!("{USER}:{PASSWORD}").as_bytes());
    let config = json!({"auths": {host: {"auth": auth}}});
    fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir
}

/// No secret on stderr.
fn no_secret(out: &Output) {
    let basic = registry::basic_authorization(USER, PASSWORD);
    let encoded = basic.trim_start_matches("Basic ");
    if out.stderr.contains(PASSWORD) || out.stderr.contains(encoded) {
        out.fail("a secret on stderr");
    }
}

#[test]
fn credentials_are_withheld_from_a_plain_http_realm_on_another_host() {
    let rig = token_rig(None);
    let withheld = |rig: &TokenRig| {
        let seen = rig.tokens.requests();
        assert!(!seen.is_empty(), "the realm was not asked");
        for s in &seen {
            assert_eq!(
                s.header("authorization"),
                None,
                "{} carried credentials",
                s.target
            );
        }
    };

    // A public image: the anonymous token is enough.
    let env = Env::new("trust-realm-plain-public");
    let config = docker_config(&env, &rig.front.host());
    let public = format!("{}/public/app:v1", rig.front.host());
    env.dist("pull")
        .args(["--no-unpack", &public])
        .env("DOCKER_CONFIG", &config)
        .ok();
    named(&env, &public);
    withheld(&rig);

    // A private one: refused, and --debug says why.
    let env = Env::new("trust-realm-plain");
    let config = docker_config(&env, &rig.front.host());
    let private = format!("{}/private/app:v1", rig.front.host());
    let out = env
        .dist("pull")
        .args(["--debug", "--no-unpack", &private])
        .env("DOCKER_CONFIG", &config)
        .fails(7);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("withheld from the token service"))
        .unwrap_or_else(|| out.fail("no line says the credentials were withheld"));
    assert!(
        line.contains("it is plain HTTP on another host") && line.contains(&rig.tokens.host()),
        "{line}"
    );
    no_secret(&out);
    withheld(&rig);

    // Without --debug, the one line says it too.
    let out = env
        .dist("pull")
        .args(["--no-unpack", &private])
        .env("DOCKER_CONFIG", &config)
        .fails(7);
    no_secret(&out);
    withheld(&rig);
    refused(
        &env,
        &out,
        &private,
        &[
            "private/app",
            "were not sent to its token service http://127.0.0.2:",
            "it is plain HTTP on another host",
        ],
        &[&rig.private.digest],
    );
}

#[test]
fn credentials_go_to_an_https_realm_on_another_host() {
    let env = Env::new("trust-realm-https");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "tokens", &["127.0.0.2"]);
    let rig = token_rig(Some(&cert));
    assert!(rig.tokens.url().starts_with("https://127.0.0.2:"));
    let config = docker_config(&env, &rig.front.host());
    let private = format!("{}/private/app:v1", rig.front.host());
    let out = env
        .dist("pull")
        .args(["--debug", "--no-unpack", &private])
        .env("DOCKER_CONFIG", &config)
        .env("SSL_CERT_FILE", ca.cert_path())
        .ok()
        .stderr_has(&format!(
            "from {}/token with user {USER} from ",
            rig.tokens.url()
        ));
    no_secret(&out);
    let basic = registry::basic_authorization(USER, PASSWORD);
    let seen = rig.tokens.requests();
    assert!(
        seen.iter()
            .any(|s| s.header("authorization") == Some(basic.as_str())),
        "{seen:#?}"
    );
    named(&env, &private);
    assert!(env.blobs().contains(&rig.private.digest));
    assert!(!env.blobs().contains(&rig.public.digest));
}

// 2. Manifests that break the spec.

#[test]
fn manifests_whose_type_and_body_disagree_are_refused() {
    let env = Env::new("trust-types");
    let (_reg, front) = rig();
    let img = image(Format::Oci, "linux", "amd64", vec![layer(&[("a", b"b")])]);
    let idx = index(Format::Oci, vec![img.clone()]);
    let entry = json!({
        "mediaType": OCI_MANIFEST,
        "digest": img.digest,
        "size": img.manifest.len(),
        "platform": {"architecture": "amd64", "os": "linux"},
    });
    let config = desc(OCI_CONFIG, &img.config);
    let layers = json!([desc(OCI_LAYER, &img.layers[0].blob)]);
    let bare_index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [entry]})).unwrap();
    let bare_manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "config": config, "layers": layers,
    }))
    .unwrap();
    let both = serde_json::to_vec(&json!({
        "schemaVersion": 2, "config": config, "layers": layers, "manifests": [entry],
    }))
    .unwrap();
    let says_but = |ct: &str, body: &str| {
        vec![
            format!("the registry's Content-Type says {ct}"),
            format!("but the manifest's mediaType says {body}"),
        ]
    };
    let cases: Vec<(&str, &str, Vec<u8>, Vec<String>)> = vec![
        (
            "index-as-manifest",
            OCI_MANIFEST,
            idx.body.clone(),
            says_but(OCI_MANIFEST, OCI_INDEX),
        ),
        (
            "manifest-as-index",
            OCI_INDEX,
            img.manifest.clone(),
            says_but(OCI_INDEX, OCI_MANIFEST),
        ),
        (
            "oci-as-docker",
            DOCKER_MANIFEST,
            img.manifest.clone(),
            says_but(DOCKER_MANIFEST, OCI_MANIFEST),
        ),
        (
            "bare-index-as-manifest",
            OCI_MANIFEST,
            bare_index,
            vec!["as an index has".to_string()],
        ),
        (
            "bare-manifest-as-index",
            OCI_INDEX,
            bare_manifest,
            vec!["as a manifest has".to_string()],
        ),
        (
            "both",
            "application/json",
            both,
            vec!["did not say what the manifest is".to_string()],
        ),
    ];
    for (repo, content_type, body, says) in cases {
        let repo = format!("bad/{repo}");
        let d = serve_manifest(&front, &repo, "v1", content_type, &body);
        let name = format!("{}/{repo}:v1", front.host());
        let out = env.dist("pull").arg(&name).fails(4);
        let mut says: Vec<&str> = says.iter().map(String::as_str).collect();
        says.push(&name);
        refused(&env, &out, &name, &says, &[&d, &img.digest, &idx.digest]);
    }
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

#[test]
fn descriptors_that_break_the_spec_are_refused() {
    let env = Env::new("trust-descriptors");
    let (_reg, front) = rig();
    let l = layer(&[("a", b"b")]);
    let config = config_of(&[&l.diff_id]);
    let cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        (
            "config-as-layer",
            oci_manifest(desc(OCI_LAYER, &config), vec![desc(OCI_LAYER, &l.blob)]),
            4,
            "the type of a layer",
        ),
        (
            "control",
            oci_manifest(
                desc(OCI_CONFIG, &config),
                vec![desc("application/x\u{1b}[2Jfoo", &l.blob)],
            ),
            4,
            "malformed media type",
        ),
        (
            "data",
            oci_manifest(
                {
                    let mut c = desc(OCI_CONFIG, &config);
                    c["data"] = json!(registry::base64(b"{\"not\":\"the config\"}"));
                    c
                },
                vec![desc(OCI_LAYER, &l.blob)],
            ),
            8,
            "data embedded",
        ),
    ];
    for (repo, body, code, why) in cases {
        let repo = format!("bad/{repo}");
        // The control characters travel as JSON escapes.
        assert!(!body.contains(&0x1b), "{repo}");
        let d = serve_manifest(&front, &repo, "v1", OCI_MANIFEST, &body);
        let name = format!("{}/{repo}:v1", front.host());
        let out = env.dist("pull").arg(&name).fails(code);
        refused(&env, &out, &name, &[&name, why], &[&d]);
        if out.stderr.contains('\x1b') {
            out.fail("an escape character on stderr");
        }
    }
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

#[test]
fn a_layer_type_dist_does_not_unpack_is_kept_only_with_no_unpack() {
    let env = Env::new("trust-artifact");
    let (reg, front) = rig();
    let l = layer(&[("a", b"b")]);
    let config = config_of(&[&l.diff_id]);
    reg.push_blob("odd/layer", &config);
    reg.push_blob("odd/layer", &l.blob);
    let body = oci_manifest(
        desc(OCI_CONFIG, &config),
        vec![desc("application/x-foo", &l.blob)],
    );
    let d = reg.push_manifest("odd/layer", "v1", OCI_MANIFEST, &body);
    let name = format!("{}/odd/layer:v1", front.host());
    let out = env.dist("pull").arg(&name).fails(4);
    refused(
        &env,
        &out,
        &name,
        &[&l.digest, "application/x-foo", "no layer type dist unpacks"],
        &[],
    );
    // Kept as an artifact: fetched, named, not unpacked.
    env.dist("pull").args(["--no-unpack", &name]).ok();
    named(&env, &name);
    assert!(env.blobs().contains(&d) && env.blobs().contains(&l.digest));
    let snapshots = env.dist("rootfs").args(["ls", "-q"]).ok();
    assert_eq!(snapshots.stdout, "", "an artifact was unpacked");
}

#[test]
fn an_index_entry_that_points_at_an_index_is_refused() {
    let env = Env::new("trust-entry-type");
    let (reg, front) = rig();
    let img = image(Format::Oci, "linux", "amd64", vec![layer(&[("a", b"b")])]);
    let inner = index(Format::Oci, vec![img.clone()]);
    reg.push_index("lying/entry", "inner", &inner);
    // The outer index says its entry is an image manifest; it is an index.
    let outer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": inner.digest,
            "size": inner.body.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }))
    .unwrap();
    reg.push_manifest("lying/entry", "v1", OCI_INDEX, &outer);
    let name = format!("{}/lying/entry:v1", front.host());
    let out = env
        .dist("pull")
        .args(["--platform", "linux/amd64", &name])
        .fails(4);
    refused(
        &env,
        &out,
        &name,
        &[&inner.digest, OCI_INDEX, "the descriptor that points to it"],
        &[&inner.digest, &img.digest],
    );
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

// 3. No name for an image that failed.

/// Pushes an image whose config is `config`, described by `config_desc`,
/// over `layers`; pulls it with and without `--no-unpack`: refused both
/// times (exit 4) with a message naming the config and saying `why`, no
/// name. Returns the front, to look at what it saw.
fn config_refused(
    repo: &str,
    config: &[u8],
    config_desc: Value,
    layers: &[&Layer],
    why: &str,
) -> Front {
    let env = Env::new(&format!("trust-config-{repo}"));
    let (reg, front) = rig();
    let repo = format!("bad-config/{repo}");
    reg.push_blob(&repo, config);
    for l in layers {
        reg.push_blob(&repo, &l.blob);
    }
    let body = oci_manifest(
        config_desc,
        layers.iter().map(|l| desc(OCI_LAYER, &l.blob)).collect(),
    );
    reg.push_manifest(&repo, "v1", OCI_MANIFEST, &body);
    let name = format!("{}/{repo}:v1", front.host());
    let config_digest = digest(config);
    for args in [&["--no-unpack"][..], &[]] {
        let out = env.dist("pull").args(args).arg(&name).fails(4);
        refused(&env, &out, &name, &[&config_digest, why], &[]);
    }
    front
}

#[test]
fn an_image_whose_config_is_not_json_gets_no_name() {
    let l = layer(&[("one", b"1")]);
    let config = b"this is no image config";
    config_refused(
        "not-json",
        config,
        desc(OCI_CONFIG, config),
        &[&l],
        "invalid image config",
    );
}

#[test]
fn an_image_whose_config_is_empty_gets_no_name() {
    let l = layer(&[("one", b"1")]);
    config_refused(
        "empty",
        b"",
        desc(OCI_CONFIG, b""),
        &[&l],
        "0 bytes; an image config has 1 to 4194304",
    );
}

#[test]
fn an_image_whose_config_is_over_4_mib_gets_no_name_and_is_not_fetched() {
    let l = layer(&[("one", b"1")]);
    // Valid JSON all the same: refused for its size alone.
    let mut huge = config_of(&[&l.diff_id]);
    huge.pop();
    huge.extend_from_slice(br#","padding":""#);
    huge.extend(std::iter::repeat_n(b'x', (4 << 20) + 1000));
    huge.extend_from_slice(br#""}"#);
    let front = config_refused(
        "huge",
        &huge,
        desc(OCI_CONFIG, &huge),
        &[&l],
        "an image config has 1 to 4194304",
    );
    let gets = front.requests_to(&format!("/blobs/{}", digest(&huge)));
    assert!(gets.is_empty(), "the config was fetched: {gets:#?}");
}

#[test]
fn an_image_with_more_layers_than_diff_ids_gets_no_name() {
    let (l1, l2) = (layer(&[("one", b"1")]), layer(&[("two", b"2")]));
    let config = config_of(&[&l1.diff_id]);
    config_refused(
        "diff-ids",
        &config,
        desc(OCI_CONFIG, &config),
        &[&l1, &l2],
        "the manifest has 2 layers, its config 1 diff IDs",
    );
}

// 4. Timeouts by default.

#[test]
fn a_registry_that_stalls_times_out_or_is_resumed() {
    let env = Env::new("trust-stall");
    let (reg, front) = rig();
    let big = layer_of_size(8 << 20, 71);
    let img = image(Format::Oci, "linux", "amd64", vec![big.clone()]);
    reg.push_image("slow/app", "v1", &img);
    let name = format!("{}/slow/app:v1", front.host());

    // The manifest's headers come, its body never does.
    front.stall(
        |r| r.method == "GET" && r.path().contains("/manifests/"),
        None,
        0,
    );
    let out = env
        .dist("pull")
        .args([
            "--idle-timeout",
            "1s",
            "--timeout",
            "60s",
            "--no-unpack",
            &name,
        ])
        .fails(6);
    refused(&env, &out, &name, &[&name], &[&img.digest]);
    if !(out.stderr.contains("timeout") || out.stderr.contains("timed out")) {
        out.fail("expected the error to say it timed out");
    }
    front.clear_hooks();

    // A layer stalls once half-way: the pull asks for the rest and succeeds.
    front.stall(blob_get(&big.digest), Some(1), 4 << 20);
    env.dist("pull")
        .args([
            "--idle-timeout",
            "1s",
            "--timeout",
            "60s",
            "--no-unpack",
            &name,
        ])
        .ok();
    named(&env, &name);
    let stored = fs::read(env.blob(&big.digest)).unwrap();
    assert!(stored == big.blob, "the layer came back other than sent");
    assert_eq!(digest(&stored), big.digest);
    let gets = front.requests_to(&format!("/blobs/{}", big.digest));
    assert_eq!(gets.len(), 2, "{gets:#?}");
    let range = gets[1].header("range").unwrap_or("");
    assert!(
        range.starts_with("bytes=") && range != "bytes=0-",
        "{range:?}"
    );
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

// 5. 206 checked.

/// The bytes of every ingest's data.
fn ingest_bytes(root: &Path) -> u64 {
    fs::read_dir(root.join("ingest"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| fs::metadata(e.path().join("data")).ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_206_that_starts_elsewhere_is_not_spliced_in() {
    let env = Env::new("trust-206");
    let (reg, front) = rig();
    let big = layer_of_size(3 << 20, 72);
    let img = image(Format::Oci, "linux", "amd64", vec![big.clone()]);
    reg.push_image("ranged/app", "v1", &img);
    let name = format!("{}/ranged/app:v1", front.host());
    // Cut once after 1 MiB; every request for the rest gets the whole blob
    // as a 206 that says it starts at 0.
    front.cut(blob_get(&big.digest), Some(1), 1 << 20);
    let whole = big.blob.clone();
    front.hook(
        |r| r.header("range").is_some(),
        None,
        move |_, resp| {
            resp.status = 206;
            resp.set_header(
                "Content-Range",
                &format!("bytes 0-{}/{}", whole.len() - 1, whole.len()),
            );
            resp.body = whole.clone();
        },
    );
    let done = AtomicBool::new(false);
    let (out, most) = std::thread::scope(|s| {
        let watch = s.spawn(|| {
            let mut most = 0;
            while !done.load(Ordering::SeqCst) {
                most = most.max(ingest_bytes(&env.root));
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        });
        let out = env.dist("pull").args(["--no-unpack", &name]).run();
        done.store(true, Ordering::SeqCst);
        (out, watch.join().unwrap())
    });
    assert!(
        most <= big.size,
        "the ingest grew to {most} of {}",
        big.size
    );
    let gets = front.requests_to(&format!("/blobs/{}", big.digest));
    match out.code {
        // Refused the 206 and started the blob again from 0, without Range.
        Some(0) => {
            assert_eq!(gets.len(), 3, "{gets:#?}");
            assert!(gets[1].header("range").is_some_and(|r| r != "bytes=0-"));
            assert_eq!(gets[1].status, 206);
            assert_eq!(gets[2].header("range"), None, "{gets:#?}");
            assert!(fs::read(env.blob(&big.digest)).unwrap() == big.blob);
            named(&env, &name);
        }
        Some(8) => {
            refused(
                &env,
                &out,
                &name,
                &[&big.digest, "not trusted"],
                &[&big.digest],
            );
        }
        _ => out.fail("expected success, or exit code 8"),
    }
    // Whatever happened, the next run ends with the right bytes.
    front.clear_hooks();
    env.dist("pull").args(["--no-unpack", &name]).ok();
    assert!(fs::read(env.blob(&big.digest)).unwrap() == big.blob);
    named(&env, &name);
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

// 6. Exit codes.

#[test]
fn a_416_a_redirect_to_a_file_and_a_lying_digest_exit_by_kind() {
    let env = Env::new("trust-exit-codes");
    let (reg, front) = rig();
    let l = layer(&[("etc/hello", b"hello\n")]);
    let img = image(Format::Oci, "linux", "amd64", vec![l.clone()]);
    reg.push_image("codes/app", "v1", &img);
    let name = format!("{}/codes/app:v1", front.host());

    front.answer(blob_get(&l.digest), None, 416, &[], "");
    let out = env.dist("pull").args(["--no-unpack", &name]).fails(8);
    refused(&env, &out, &name, &[&l.digest, "416"], &[&l.digest]);
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
    front.clear_hooks();

    front.answer(
        blob_get(&l.digest),
        None,
        302,
        &[("Location", "file:///etc/passwd")],
        "",
    );
    let out = env.dist("pull").args(["--no-unpack", &name]).fails(4);
    refused(
        &env,
        &out,
        &name,
        &[&l.digest, "refused a redirect", "file:///etc/passwd"],
        &[&l.digest],
    );
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
    front.clear_hooks();

    // A fresh store: nothing of the image is in it yet.
    let env = Env::new("trust-exit-codes-digest");
    let other = digest(b"another manifest");
    let lie = other.clone();
    front.hook(
        |r| r.method == "GET" && r.path().ends_with("/manifests/v1"),
        None,
        move |_, resp| resp.set_header("Docker-Content-Digest", &lie),
    );
    let out = env.dist("pull").args(["--no-unpack", &name]).fails(8);
    refused(
        &env,
        &out,
        &name,
        &[&name, "digest", &other],
        &[&img.digest, &other, &l.digest],
    );
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
}

// 7. Registry text escaped and bounded.

#[test]
fn a_registry_error_cannot_forge_lines_or_move_the_terminal() {
    let env = Env::new("trust-escapes");
    let (_reg, front) = rig();
    front.answer(
        manifest_of("evil/app", "v1"),
        None,
        404,
        &[("Content-Type", "application/json")],
        r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"\u001b]0;pwned\u0007\nFORGED: ok"}]}"#,
    );
    let name = format!("{}/evil/app:v1", front.host());
    let out = env.dist("pull").arg(&name).fails(3);
    refused(&env, &out, &name, &[&name, "MANIFEST_UNKNOWN"], &[]);
    if out.stderr.contains(['\x1b', '\x07']) {
        out.fail("a control character on stderr");
    }
    if out.stderr.lines().any(|l| l.starts_with("FORGED")) {
        out.fail("a forged line on stderr");
    }
}

#[test]
fn a_platform_error_lists_a_hostile_index_briefly_and_escaped() {
    let env = Env::new("trust-platforms");
    let (_reg, front) = rig();
    let target = digest(b"nothing");
    let entries: Vec<Value> = (0..18_000)
        .map(|n| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": target,
                "size": 7,
                "platform": {"architecture": format!("a{n}\x1b[2J\x1b]0;x\x07"), "os": "linux"},
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    }))
    .unwrap();
    assert!(
        body.len() < 4 << 20,
        "{} bytes: too large to test",
        body.len()
    );
    let d = serve_manifest(&front, "many/platforms", "v1", OCI_INDEX, &body);
    let name = format!("{}/many/platforms:v1", front.host());
    let out = env
        .dist("pull")
        .args(["--platform", "linux/s390x", &name])
        .fails(3);
    refused(
        &env,
        &out,
        &name,
        &[&d, "linux/s390x", "and 17990 more"],
        &[],
    );
    assert!(
        out.stderr.len() < 2048,
        "{} bytes of stderr",
        out.stderr.len()
    );
    if out.stderr.contains(['\x1b', '\x07']) {
        out.fail("a control character on stderr");
    }
}

// 8. Leftovers a rerun cleans.

#[test]
fn a_blob_the_registry_does_not_have_leaves_no_ingest() {
    let env = Env::new("trust-404");
    let (reg, front) = rig();
    let l = layer_of_size(300_000, 73);
    let img = image(Format::Oci, "linux", "amd64", vec![l.clone()]);
    reg.push_image("gone/app", "v1", &img);
    let name = format!("{}/gone/app:v1", front.host());
    front.answer(
        blob_get(&l.digest),
        None,
        404,
        &[("Content-Type", "application/json")],
        r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
    );
    let out = env.dist("pull").arg(&name).fails(3);
    refused(
        &env,
        &out,
        &name,
        &[&l.digest, "BLOB_UNKNOWN"],
        &[&l.digest],
    );
    assert!(env.ingests().is_empty(), "{:?}", env.ingests());
    front.clear_hooks();
    env.dist("pull").arg(&name).ok();
    named(&env, &name);
}

/// The entries of `STORE/snapshots/tmp`.
fn snapshot_tmp(env: &Env) -> Vec<String> {
    match fs::read_dir(env.root.join("snapshots/tmp")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn an_unpack_killed_half_way_is_reported_by_gc_and_cleaned_by_the_rerun() {
    let env = Env::new("trust-killed-unpack");
    let (reg, front) = rig();
    // One layer of one 16 MB file: the unpack is under way (extracting, or
    // syncing before the rename) long enough to be caught at it.
    let big = layer_of_size(16 << 20, 74);
    let img = image(Format::Oci, "linux", host_arch(), vec![big.clone()]);
    reg.push_image("big/unpack", "v1", &img);
    let name = format!("{}/big/unpack:v1", front.host());

    let mut child = env.dist("pull").arg(&name).spawn_piped();
    let unpacking = || snapshot_tmp(&env).iter().any(|n| !n.ends_with(".lock"));
    let start = std::time::Instant::now();
    while !unpacking() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the pull ended ({status}) before it was caught unpacking");
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no unpack began");
        std::thread::sleep(Duration::from_millis(1));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    child.wait().unwrap();
    let left = snapshot_tmp(&env);
    assert!(
        left.iter().any(|n| !n.ends_with(".lock")),
        "the kill came after the unpack: {left:?}"
    );
    unnamed(&env, &name);

    let blobs = env.blobs();
    let gc = env.dist("gc").arg("--dry-run").ok();
    assert!(
        gc.stdout.lines().any(|l| l.starts_with("unpack ")),
        "{}",
        gc.stdout
    );
    assert_eq!(snapshot_tmp(&env), left, "--dry-run removed something");
    assert_eq!(env.blobs(), blobs, "--dry-run removed something");

    env.dist("pull").arg(&name).ok();
    named(&env, &name);
    assert_eq!(snapshot_tmp(&env), Vec::<String>::new());
    let ls = env.dist("rootfs").args(["ls", "-q"]).ok();
    assert_eq!(ls.lines(), [big.diff_id.as_str()]);
}

// 9. Nested indexes.

/// An OCI index of one entry for `digest` (`media_type`, `size`): an index
/// with no platform, or an image manifest for linux/amd64.
fn index_of(media_type: &str, digest: &str, size: usize) -> Vec<u8> {
    let mut entry = json!({"mediaType": media_type, "digest": digest, "size": size});
    if media_type == OCI_MANIFEST {
        entry["platform"] = json!({"architecture": "amd64", "os": "linux"});
    }
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry],
    }))
    .unwrap()
}

#[test]
fn an_index_in_an_index_is_followed() {
    let env = Env::new("trust-nested");
    let (reg, front) = rig();
    let amd = amd64_image();
    let arm = image(
        Format::Oci,
        "linux",
        "arm64",
        vec![layer(&[("which", b"arm64")])],
    );
    let inner = index(Format::Oci, vec![arm.clone(), amd.clone()]);
    reg.push_index("nested/app", "inner", &inner);
    let outer = index_of(OCI_INDEX, &inner.digest, inner.body.len());
    let outer_digest = reg.push_manifest("nested/app", "v1", OCI_INDEX, &outer);
    let name = format!("{}/nested/app:v1", front.host());
    env.dist("pull")
        .args(["--platform", "linux/amd64", &name])
        .ok()
        .stdout_has(&format!("named {outer_digest}"));
    named(&env, &name);
    let blobs = env.blobs();
    assert!(blobs.contains(&amd.digest) && blobs.contains(&amd.layers[0].digest));
    assert!(!blobs.contains(&arm.digest));
    let snapshots = env.dist("rootfs").args(["ls", "-q"]).ok();
    assert_eq!(snapshots.lines(), [amd.layers[0].diff_id.as_str()]);
}

fn amd64_image() -> Image {
    image(
        Format::Oci,
        "linux",
        "amd64",
        vec![layer(&[("which", b"amd64")])],
    )
}

/// Pushes `img` to `repo` by digest and `n` indexes above it, one in
/// another, the last tagged `top`; returns the (digest, body) of each,
/// innermost first.
fn nested(reg: &Registry, repo: &str, img: &Image, n: usize) -> Vec<(String, Vec<u8>)> {
    reg.push_image(repo, &img.digest, img);
    let mut below = (OCI_MANIFEST, img.digest.clone(), img.manifest.len());
    let mut chain = Vec::new();
    for _ in 0..n {
        let body = index_of(below.0, &below.1, below.2);
        let d = reg.push_manifest(repo, &digest(&body), OCI_INDEX, &body);
        below = (OCI_INDEX, d.clone(), body.len());
        chain.push((d, body));
    }
    reg.push_manifest(repo, "top", OCI_INDEX, &chain[n - 1].1);
    chain
}

#[test]
fn indexes_nested_ten_deep_are_refused() {
    let env = Env::new("trust-nested-ten");
    let (reg, front) = rig();
    let amd = amd64_image();
    let chain = nested(&reg, "nested/ten", &amd, 10);
    let name = format!("{}/nested/ten:top", front.host());
    let out = env
        .dist("pull")
        .args(["--platform", "linux/amd64", &name])
        .fails(4);
    refused(
        &env,
        &out,
        &name,
        &[&chain[9].0, "nested more than 8 deep"],
        &[&amd.digest, &chain[0].0],
    );
}

#[test]
fn indexes_nested_eight_deep_are_followed_and_unpacked() {
    let (reg, front) = rig();
    let amd = amd64_image();
    nested(&reg, "nested/eight", &amd, 8);
    let name = format!("{}/nested/eight:top", front.host());
    let env = Env::new("trust-nested-eight-no-unpack");
    env.dist("pull")
        .args(["--no-unpack", "--platform", "linux/amd64", &name])
        .ok();
    named(&env, &name);
    // The unpack goes as deep as the fetch did.
    let env = Env::new("trust-nested-eight");
    env.dist("pull")
        .args(["--platform", "linux/amd64", &name])
        .ok();
    named(&env, &name);
}
