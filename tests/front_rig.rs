//! The front and the test CA work: the front forwards to a real registry
//! unchanged, its hooks rewrite, stall and cut answers as asked, uploads pass
//! through it, and TLS (the front's and the registry's own) is trusted by
//! clients that trust the test CA and by no other. Plain HTTP through ureq,
//! not the dist programs.

use std::time::{Duration, Instant};

use crate::front::{Front, Req};
use crate::image::{self, ACCEPT_ALL, Format, Image, OCI_MANIFEST, layer};
use crate::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::tls::{self, Ca};
use crate::util::{Env, content, digest};

#[derive(Debug)]
struct Got {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request; an error if it could not be sent or its body not read whole.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Got, ureq::Error> {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = if body.is_empty() && !matches!(method, "POST" | "PUT" | "PATCH") {
        agent.run(req.body(()).unwrap())?
    } else {
        agent.run(req.body(body.to_vec()).unwrap())?
    };
    let status = resp.status().as_u16();
    let (parts, mut body) = resp.into_parts();
    Ok(Got {
        status,
        headers: parts.headers,
        body: body.with_config().limit(u64::MAX).read_to_vec()?,
    })
}

fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    call(&registry::agent(), "GET", url, headers, b"").unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// An agent whose every request gives up after a second.
fn impatient() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(1)))
        .build()
        .new_agent()
}

/// A registry without auth holding `public/app:v1`, an image whose second
/// layer is 200 kB.
fn registry_with_image() -> (Registry, Image) {
    let reg = Registry::start(Auth::None);
    let img = image::image(
        Format::Oci,
        "linux",
        "amd64",
        vec![
            layer(&[("etc/hello.txt", b"hello\n")]),
            image::layer_of_size(200_000, 3),
        ],
    );
    reg.push_image("public/app", "v1", &img);
    (reg, img)
}

fn blobs(r: &Req) -> bool {
    r.path().contains("/blobs/sha256:")
}

fn manifests(r: &Req) -> bool {
    r.path().contains("/manifests/")
}

#[test]
fn front_rig_forwards_unchanged() {
    let (reg, img) = registry_with_image();
    let front = Front::start(&reg.host());
    assert_eq!(front.url(), format!("http://{}", front.host()));
    let agent = registry::agent();
    let manifest_url = format!("{}/v2/public/app/manifests/v1", front.url());
    let got = call(&agent, "GET", &manifest_url, &[("Accept", ACCEPT_ALL)], b"").unwrap();
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, img.manifest);
    assert_eq!(
        got.header("Docker-Content-Digest"),
        Some(img.digest.as_str())
    );
    assert_eq!(got.header("Content-Type"), Some(OCI_MANIFEST));

    let big = &img.layers[1];
    let blob_url = format!("{}/v2/public/app/blobs/{}", front.url(), big.digest);
    let got = call(&agent, "GET", &blob_url, &[], b"").unwrap();
    assert_eq!(got.status, 200);
    assert!(got.body == big.blob, "blob changed on the way");
    assert_eq!(
        got.header("Content-Length"),
        Some(big.size.to_string().as_str())
    );

    // HEAD keeps the upstream's Content-Length and sends no body.
    let got = call(&agent, "HEAD", &blob_url, &[], b"").unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("Content-Length"),
        Some(big.size.to_string().as_str())
    );
    assert!(got.body.is_empty());
    let got = call(
        &agent,
        "HEAD",
        &manifest_url,
        &[("Accept", ACCEPT_ALL)],
        b"",
    )
    .unwrap();
    assert_eq!(
        got.header("Content-Length"),
        Some(img.manifest.len().to_string().as_str())
    );
    assert_eq!(
        got.header("Docker-Content-Digest"),
        Some(img.digest.as_str())
    );

    // A HEAD between GETs does not break the connection ureq keeps.
    let got = call(&agent, "GET", &manifest_url, &[("Accept", ACCEPT_ALL)], b"").unwrap();
    assert_eq!(got.body, img.manifest);

    let seen = front.requests();
    let summary: Vec<(&str, u16, u64)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.status, s.conn))
        .collect();
    assert_eq!(
        summary,
        [
            ("GET", 200, 0),
            ("GET", 200, 0),
            ("HEAD", 200, 0),
            ("HEAD", 200, 0),
            ("GET", 200, 0)
        ],
        "{seen:#?}"
    );
    assert_eq!(seen[0].target, "/v2/public/app/manifests/v1");
    assert_eq!(seen[0].header("accept"), Some(ACCEPT_ALL));
    assert_eq!(front.requests_to("/blobs/").len(), 2);
}

#[test]
fn front_rig_hooks_rewrite() {
    let (reg, img) = registry_with_image();
    let front = Front::start(&reg.host());
    let manifest_url = format!("{}/v2/public/app/manifests/v1", front.url());

    // Status, header and body, twice only.
    front.hook(manifests, Some(2), |req, resp| {
        assert_eq!(resp.status, 200, "the hook sees the upstream's answer");
        assert_eq!(req.method, "GET");
        resp.status = 503;
        resp.set_header("Retry-After", "1");
        resp.remove_header("Docker-Content-Digest");
        resp.body = b"busy".to_vec();
    });
    for _ in 0..2 {
        let got = get(&manifest_url, &[("Accept", ACCEPT_ALL)]);
        assert_eq!(got.status, 503);
        assert_eq!(got.header("Retry-After"), Some("1"));
        assert_eq!(got.header("Docker-Content-Digest"), None);
        assert_eq!(got.header("Content-Length"), Some("4"));
        assert_eq!(got.text(), "busy");
    }
    let got = get(&manifest_url, &[("Accept", ACCEPT_ALL)]);
    assert_eq!((got.status, &got.body), (200, &img.manifest));
    let statuses: Vec<u16> = front.requests().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [503, 503, 200]);

    // One flipped byte, once.
    let blob = &img.layers[0];
    let blob_url = format!("{}/v2/public/app/blobs/{}", front.url(), blob.digest);
    front.flip_byte(blobs, Some(1), 5);
    let got = get(&blob_url, &[]);
    assert_eq!(got.body.len(), blob.blob.len());
    let differ: Vec<usize> = (0..got.body.len())
        .filter(|&i| got.body[i] != blob.blob[i])
        .collect();
    assert_eq!(differ, [5]);
    assert_eq!(get(&blob_url, &[]).body, blob.blob);

    // An answer of the front's own; the upstream is not asked.
    front.answer(
        |r| r.method == "POST" && r.path().ends_with("/blobs/uploads/"),
        None,
        500,
        &[("Content-Type", "application/json")],
        r#"{"errors":[{"code":"UNKNOWN"}]}"#,
    );
    let posts = |reg: &Registry| {
        reg.log()
            .matches("\"POST /v2/public/app/blobs/uploads/ ")
            .count()
    };
    let before = posts(&reg);
    let upload = format!("{}/v2/public/app/blobs/uploads/", front.url());
    let got = call(&registry::agent(), "POST", &upload, &[], b"").unwrap();
    assert_eq!(got.status, 500);
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    assert!(got.text().contains("UNKNOWN"));
    assert_eq!(posts(&reg), before, "the registry saw the POST");

    // Hooks run in the order added, and clear_hooks removes them all.
    front.hook(manifests, None, |_, r| r.body = b"first".to_vec());
    front.hook(manifests, None, |_, r| r.body.extend_from_slice(b" second"));
    assert_eq!(get(&manifest_url, &[]).text(), "first second");
    front.clear_hooks();
    assert_eq!(
        get(&manifest_url, &[("Accept", ACCEPT_ALL)]).body,
        img.manifest
    );
}

#[test]
fn front_rig_range() {
    let (reg, img) = registry_with_image();
    let front = Front::start(&reg.host());
    let blob = img.layers[1].blob.clone();
    let url = format!(
        "{}/v2/public/app/blobs/{}",
        front.url(),
        img.layers[1].digest
    );

    let got = get(&url, &[("Range", "bytes=10-19")]);
    assert_eq!(got.status, 206, "{}", got.text());
    assert_eq!(got.body, &blob[10..20]);
    let total = blob.len();
    assert_eq!(
        got.header("Content-Range"),
        Some(format!("bytes 10-19/{total}").as_str())
    );
    assert_eq!(front.requests()[0].header("range"), Some("bytes=10-19"));

    // A server that ignores the range: 200 and the whole blob.
    let whole = blob.clone();
    front.hook(
        |r| r.header("range").is_some(),
        Some(1),
        move |_, resp| {
            assert_eq!(resp.status, 206);
            resp.status = 200;
            resp.remove_header("Content-Range");
            resp.body = whole.clone();
        },
    );
    let got = get(&url, &[("Range", "bytes=10-19")]);
    assert_eq!((got.status, got.body.len()), (200, total));
    assert_eq!(got.header("Content-Range"), None);

    // A server that lies about the range it sends.
    front.hook(
        |r| r.header("range").is_some(),
        Some(1),
        |_, resp| resp.set_header("Content-Range", "bytes 0-9/10"),
    );
    let got = get(&url, &[("Range", "bytes=10-19")]);
    assert_eq!(got.status, 206);
    assert_eq!(got.header("Content-Range"), Some("bytes 0-9/10"));
    assert_eq!(got.body, &blob[10..20]);
}

#[test]
fn front_rig_stall_and_cut() {
    let (reg, img) = registry_with_image();
    let front = Front::start(&reg.host());
    let big = &img.layers[1];
    let url = format!("{}/v2/public/app/blobs/{}", front.url(), big.digest);

    // Stalled after 1000 bytes: the client times out, the headers came.
    front.stall(blobs, Some(1), 1000);
    let start = Instant::now();
    let resp = impatient().get(&url).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("Content-Length").unwrap(),
        &big.size.to_string()
    );
    let err = resp
        .into_body()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, ureq::Error::Timeout(_)), "{err:?}");

    // Cut after 1000 bytes: the client sees the body end early.
    front.cut(blobs, Some(1), 1000);
    let resp = registry::agent().get(&url).call().unwrap();
    assert_eq!(resp.status(), 200);
    let mut reader = resp.into_body().into_reader();
    let mut got = Vec::new();
    let err = std::io::Read::read_to_end(&mut reader, &mut got).unwrap_err();
    assert_eq!(got.len(), 1000, "{err}");
    assert_eq!(got, &big.blob[..1000]);

    // A slow answer is only late.
    front.delay(blobs, Some(1), Duration::from_millis(300));
    let start = Instant::now();
    assert_eq!(get(&url, &[]).body, big.blob);
    assert!(start.elapsed() >= Duration::from_millis(300));

    // The hooks ran once each: the next download is whole.
    assert_eq!(get(&url, &[]).body, big.blob);
    let seen = front.requests();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert!(seen.iter().all(|s| s.status == 200));
}

#[test]
fn front_rig_uploads_pass_through() {
    let reg = Registry::start(Auth::None);
    let front = Front::start(&reg.host());
    let agent = registry::agent();
    let data = content(300_000, 9);
    let (first, rest) = data.split_at(100_000);

    let post = format!("{}/v2/public/up/blobs/uploads/", front.url());
    let got = call(&agent, "POST", &post, &[], b"").unwrap();
    assert_eq!(got.status, 202, "{}", got.text());
    // The registry names the front in Location (X-Forwarded-Host).
    let location = got.header("Location").unwrap().to_string();
    assert!(location.starts_with(&front.url()), "{location}");

    let got = call(
        &agent,
        "PATCH",
        &location,
        &[("Content-Type", "application/octet-stream")],
        first,
    )
    .unwrap();
    assert_eq!(got.status, 202, "{}", got.text());
    assert_eq!(got.header("Range"), Some("0-99999"));
    let location = got.header("Location").unwrap().to_string();
    assert!(location.starts_with(&front.url()), "{location}");

    // The last part chunked: ureq chunks a body of unknown length.
    let sum = digest(&data);
    let put = format!("{location}&digest={}", sum.replace(':', "%3A"));
    let mut reader: &[u8] = rest;
    let resp = agent
        .put(&put)
        .header("Content-Type", "application/octet-stream")
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers().get("Docker-Content-Digest").unwrap(),
        sum.as_str()
    );

    // The registry has it, straight from its own port.
    let direct = get(&format!("{}/v2/public/up/blobs/{sum}", reg.url()), &[]);
    assert!(direct.status == 200 && direct.body == data);
    assert_eq!(std::fs::read(reg.blob_data_path(&sum)).unwrap(), data);

    let seen = front.requests();
    let summary: Vec<(&str, usize, u16)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.body_len, s.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", 0, 202),
            ("PATCH", 100_000, 202),
            ("PUT", 200_000, 201)
        ]
    );
    assert_eq!(seen[2].header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen[2].header("content-length"), None);
    assert_eq!(seen[1].header("content-length"), Some("100000"));
}

#[test]
fn front_rig_records_authorization() {
    let reg = Registry::start(Auth::Basic);
    let img = image::image(
        Format::Docker,
        "linux",
        "amd64",
        vec![layer(&[("a", b"b")])],
    );
    reg.push_image("private/app", "v1", &img);
    let front = Front::start(&reg.host());
    let url = format!("{}/v2/private/app/manifests/v1", front.url());
    let refused = get(&url, &[("Accept", ACCEPT_ALL)]);
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Basic ")
    );
    let good = registry::basic_authorization(USER, PASSWORD);
    let got = get(&url, &[("Accept", ACCEPT_ALL), ("Authorization", &good)]);
    assert_eq!((got.status, &got.body), (200, &img.manifest));

    let seen = front.requests_to("/manifests/");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(seen[0].status, 401);
    assert_eq!(seen[1].header("Authorization"), Some(good.as_str()));
    assert_eq!(seen[1].status, 200);
}

#[test]
fn front_rig_without_upstream_on_second_address() {
    let front = Front::start_with("127.0.0.2", None, None);
    assert!(front.host().starts_with("127.0.0.2:"), "{}", front.host());
    let got = get(&format!("{}/v2/", front.url()), &[]);
    assert_eq!((got.status, got.body.len()), (404, 0));

    front.answer(
        |r| r.path() == "/v2/",
        None,
        200,
        &[("Docker-Distribution-API-Version", "registry/2.0")],
        "{}",
    );
    let got = get(&format!("{}/v2/?x=1", front.url()), &[]);
    assert_eq!(got.status, 200);
    assert_eq!(
        got.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    assert_eq!(got.text(), "{}");
    let got = call(
        &registry::agent(),
        "POST",
        &format!("{}/v2/other", front.url()),
        &[],
        b"hello",
    )
    .unwrap();
    assert_eq!(got.status, 404);
    let seen = front.requests();
    assert_eq!(seen[1].target, "/v2/?x=1");
    assert_eq!((seen[2].method.as_str(), seen[2].body_len), ("POST", 5));
}

#[test]
fn front_rig_tls() {
    let env = Env::new("front-rig-tls");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "front", &["127.0.0.1", "127.0.0.2", "localhost"]);
    let reg = Registry::start(Auth::None);
    let front = Front::start_with("127.0.0.2", Some(&reg.host()), Some(&cert));
    assert_eq!(front.url(), format!("https://{}", front.host()));

    let got = call(
        &ca.agent(),
        "GET",
        &format!("{}/v2/", front.url()),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(got.status, 200, "{}", got.text());
    // Uploads come back over TLS too (X-Forwarded-Proto).
    let post = format!("{}/v2/public/up/blobs/uploads/", front.url());
    let got = call(&ca.agent(), "POST", &post, &[], b"").unwrap();
    let location = got.header("Location").unwrap();
    assert!(location.starts_with(&front.url()), "{location}");

    // The default roots do not know the test CA.
    let err = call(
        &registry::agent(),
        "GET",
        &format!("{}/v2/", front.url()),
        &[],
        b"",
    )
    .unwrap_err();
    assert!(
        format!("{err}").contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    assert_eq!(front.requests().len(), 2);

    // A certificate for other names is refused even by those who trust the CA.
    let other = ca.issue(&env.dir, "other", &["localhost"]);
    let front = Front::start_with("127.0.0.1", Some(&reg.host()), Some(&other));
    let err = call(
        &ca.agent(),
        "GET",
        &format!("{}/v2/", front.url()),
        &[],
        b"",
    )
    .unwrap_err();
    assert!(
        format!("{err}").contains("certificate not valid for name"),
        "{err}"
    );
}

#[test]
fn front_rig_registry_on_tls() {
    let env = Env::new("front-rig-registry-tls");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "registry", &["127.0.0.1", "localhost"]);
    let reg = Registry::start_tls(Auth::None, &cert);
    assert!(reg.url().starts_with("https://127.0.0.1:"), "{}", reg.url());
    let img = image::image(Format::Oci, "linux", "amd64", vec![layer(&[("a", b"b")])]);
    reg.push_image("public/app", "v1", &img);
    let got = call(
        &ca.agent(),
        "GET",
        &format!("{}/v2/public/app/manifests/v1", reg.url()),
        &[("Accept", ACCEPT_ALL)],
        b"",
    )
    .unwrap();
    assert_eq!((got.status, &got.body), (200, &img.manifest));
    // Go answers plain HTTP on a TLS port with a 400.
    let plain = get(&format!("http://{}/v2/", reg.host()), &[]);
    assert_eq!(plain.status, 400, "{}", plain.text());
    assert!(
        call(
            &registry::agent(),
            "GET",
            &format!("{}/v2/", reg.url()),
            &[],
            b""
        )
        .is_err()
    );
}

#[test]
fn front_rig_registry_on_mutual_tls() {
    let env = Env::new("front-rig-registry-mtls");
    let ca = Ca::new(&env.dir);
    let cert = ca.issue(&env.dir, "registry", &["127.0.0.1"]);
    let client = ca.issue_client(&env.dir, "client");
    let reg = Registry::start_mtls(Auth::None, &cert, &client);
    let url = format!("{}/v2/", reg.url());
    let with = tls::agent(ca.cert_path(), Some(&client));
    assert_eq!(call(&with, "GET", &url, &[], b"").unwrap().status, 200);
    // Without a client certificate, the handshake fails.
    assert!(call(&ca.agent(), "GET", &url, &[], b"").is_err());
}

#[test]
fn front_rig_hook_panics_fail_the_test() {
    let front = Front::start_with("127.0.0.1", None, None);
    front.hook(
        |_| true,
        None,
        |req, _| assert_eq!(req.method, "PUT", "hooks may assert"),
    );
    let got = get(&format!("{}/v2/", front.url()), &[]);
    assert_eq!(got.status, 500);
    assert!(got.text().contains("hooks may assert"), "{}", got.text());
    assert_eq!(front.requests()[0].status, 500);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(front)));
    let panic = dropped.unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("GET /v2/: ") && message.contains("hooks may assert"),
        "{message}"
    );
}

#[test]
fn front_rig_skopeo_copies_through_tls_front() {
    // Go's client, keep-alive and TLS through the front, checked by skopeo.
    let env = Env::new("front-rig-skopeo");
    let ca = Ca::new(&env.dir);
    let certs = env.dir.join("certs.d");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(ca.cert_path(), certs.join("ca.crt")).unwrap();
    let cert = ca.issue(&env.dir, "front", &["127.0.0.1"]);
    let (reg, img) = registry_with_image();
    let front = Front::start_with("127.0.0.1", Some(&reg.host()), Some(&cert));
    env.sh(&format!(
        "skopeo --insecure-policy copy --src-cert-dir {} docker://{}/public/app:v1 dir:out",
        certs.display(),
        front.host()
    ))
    .ok();
    let out = env.dir.join("out");
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        img.manifest
    );
    for layer in &img.layers {
        let hex = layer.digest.trim_start_matches("sha256:");
        assert!(std::fs::read(out.join(hex)).unwrap() == layer.blob);
    }
    assert!(!front.requests_to("/blobs/").is_empty());
}
