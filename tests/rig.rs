//! The registry rig itself works: pushes land, pulls by tag give back what was
//! pushed, and each kind of authentication lets in and keeps out the right
//! clients. Plain HTTP through ureq, not the dist programs.

use std::collections::HashMap;

use crate::image::{self, ACCEPT_ALL, Format, Image, layer};
use crate::registry::{self, Auth, PASSWORD, Registry, SERVICE, USER};

struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = registry::agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let (parts, mut body) = resp.into_parts();
    Resp {
        status,
        headers: parts.headers,
        body: body.with_config().limit(u64::MAX).read_to_vec().unwrap(),
    }
}

fn two_layer_image() -> Image {
    image::image(
        Format::Oci,
        "linux",
        "amd64",
        vec![
            layer(&[
                ("etc/hello.txt", b"hello\n"),
                ("etc/os-release", b"ID=test\n"),
            ]),
            layer(&[("usr/bin/app", b"#!/bin/sh\necho app\n")]),
        ],
    )
}

/// GETs `repo:reference`'s manifest with `authorization` (if any) and checks
/// that it is `body` with digest `digest`.
fn check_manifest(
    reg: &Registry,
    repo: &str,
    reference: &str,
    authorization: Option<&str>,
    body: &[u8],
    digest: &str,
) {
    let url = format!("{}/v2/{repo}/manifests/{reference}", reg.url());
    let mut headers = vec![("Accept", ACCEPT_ALL)];
    if let Some(a) = authorization {
        headers.push(("Authorization", a));
    }
    let resp = get(&url, &headers);
    assert_eq!(resp.status, 200, "GET {url}: {}", resp.text());
    assert_eq!(resp.body, body, "GET {url}");
    assert_eq!(
        resp.header("Docker-Content-Digest"),
        Some(digest),
        "GET {url}"
    );
}

/// Parses `Bearer k="v",k2="v2"` (values may hold commas).
fn challenge(header: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').expect("unterminated quote");
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        rest = after.trim_start_matches(',').trim();
    }
    (scheme.to_string(), params)
}

/// Asks the token server; returns its status and the token, if any.
fn fetch_token(reg: &Registry, scope: &str, authorization: Option<&str>) -> (u16, Option<String>) {
    let url = format!(
        "{}?service={SERVICE}&scope={}",
        reg.token_realm().unwrap(),
        scope.replace(':', "%3A").replace('/', "%2F")
    );
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    let resp = get(&url, &headers);
    if resp.status != 200 {
        let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert!(json["errors"][0]["code"].is_string(), "{}", resp.text());
        return (resp.status, None);
    }
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let token = json["token"].as_str().unwrap().to_string();
    assert_eq!(json["access_token"].as_str(), Some(token.as_str()));
    assert_eq!(json["expires_in"], 300);
    let issued = json["issued_at"].as_str().unwrap();
    assert!(issued.len() == 20 && issued.ends_with('Z'), "{issued}");
    assert_eq!(token.split('.').count(), 3, "{token}");
    (200, Some(token))
}

#[test]
fn rig_without_auth() {
    let reg = Registry::start(Auth::None);
    assert_eq!(reg.host(), format!("127.0.0.1:{}", reg.port));
    let img = two_layer_image();
    reg.push_image("public/app", "v1", &img);
    check_manifest(&reg, "public/app", "v1", None, &img.manifest, &img.digest);
    check_manifest(
        &reg,
        "public/app",
        &img.digest,
        None,
        &img.manifest,
        &img.digest,
    );

    // Blobs come back whole and by range.
    let layer0 = &img.layers[0];
    let url = format!("{}/v2/public/app/blobs/{}", reg.url(), layer0.digest);
    let whole = get(&url, &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, layer0.blob);
    let part = get(&url, &[("Range", "bytes=10-19")]);
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, &layer0.blob[10..20]);
    let config = get(
        &format!("{}/v2/public/app/blobs/{}", reg.url(), img.config_digest),
        &[],
    );
    assert_eq!(config.body, img.config);
    assert_eq!(
        std::fs::read(reg.blob_data_path(&layer0.digest)).unwrap(),
        layer0.blob
    );

    // A Docker manifest list of two platforms, and each image by digest.
    let amd = image::image(
        Format::Docker,
        "linux",
        "amd64",
        vec![layer(&[("a", b"amd")])],
    );
    let arm = image::image(
        Format::Docker,
        "linux",
        "arm64/v8",
        vec![layer(&[("a", b"arm")]), image::layer_of_size(100_000, 7)],
    );
    let list = image::index(Format::Docker, vec![amd, arm]);
    reg.push_index("public/multi", "v2", &list);
    check_manifest(&reg, "public/multi", "v2", None, &list.body, &list.digest);
    let arm = &list.images[1];
    check_manifest(
        &reg,
        "public/multi",
        &arm.digest,
        None,
        &arm.manifest,
        &arm.digest,
    );
    let json: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(json["manifests"][1]["platform"]["variant"], "v8");

    // An OCI index too.
    let oci = image::index(Format::Oci, vec![two_layer_image()]);
    reg.push_index("public/oci", "latest", &oci);
    check_manifest(&reg, "public/oci", "latest", None, &oci.body, &oci.digest);

    let log = reg.log();
    assert!(
        log.lines()
            .any(|l| l.contains("\"GET /v2/public/app/blobs/sha256:") && l.contains(" 206 10 ")),
        "no 206 line in the access log:\n{log}"
    );
}

#[test]
fn rig_basic_auth() {
    let reg = Registry::start(Auth::Basic);
    let img = two_layer_image();
    reg.push_image("public/app", "v1", &img);
    reg.push_image("private/app", "v1", &img);
    let good = registry::basic_authorization(USER, PASSWORD);
    for repo in ["public/app", "private/app"] {
        check_manifest(&reg, repo, "v1", Some(&good), &img.manifest, &img.digest);
    }
    let url = format!("{}/v2/private/app/manifests/v1", reg.url());
    let none = get(&url, &[("Accept", ACCEPT_ALL)]);
    assert_eq!(none.status, 401);
    let (scheme, params) = challenge(none.header("WWW-Authenticate").unwrap());
    assert_eq!(scheme, "Basic");
    assert_eq!(params["realm"], "dist-test");
    let bad = registry::basic_authorization(USER, "looking-glass");
    let wrong = get(&url, &[("Accept", ACCEPT_ALL), ("Authorization", &bad)]);
    assert_eq!(wrong.status, 401);
    assert!(get(&format!("{}/v2/", reg.url()), &[]).status == 401);
}

#[test]
fn rig_token_auth() {
    let reg = Registry::start(Auth::Token);
    let img = two_layer_image();
    reg.push_image("public/app", "v1", &img);
    reg.push_image("private/app", "v1", &img);
    let realm = reg.token_realm().unwrap();
    assert!(
        reg.token_requests().is_empty(),
        "{:?}",
        reg.token_requests()
    );

    // No token: a Bearer challenge naming the realm, service and scope.
    let url = format!("{}/v2/public/app/manifests/v1", reg.url());
    let resp = get(&url, &[("Accept", ACCEPT_ALL)]);
    assert_eq!(resp.status, 401);
    let (scheme, params) = challenge(resp.header("WWW-Authenticate").unwrap());
    assert_eq!(scheme, "Bearer");
    assert_eq!(params["realm"], realm);
    assert_eq!(params["service"], SERVICE);
    assert_eq!(params["scope"], "repository:public/app:pull");

    // Anonymous: public/ yes, private/ no.
    let (status, token) = fetch_token(&reg, "repository:public/app:pull", None);
    assert_eq!(status, 200);
    let bearer = format!("Bearer {}", token.unwrap());
    check_manifest(
        &reg,
        "public/app",
        "v1",
        Some(&bearer),
        &img.manifest,
        &img.digest,
    );
    let (status, token) = fetch_token(&reg, "repository:private/app:pull", None);
    assert_eq!(status, 200);
    let bearer = format!("Bearer {}", token.unwrap());
    let private = format!("{}/v2/private/app/manifests/v1", reg.url());
    let refused = get(
        &private,
        &[("Accept", ACCEPT_ALL), ("Authorization", &bearer)],
    );
    assert!(
        matches!(refused.status, 401 | 403),
        "{} {}",
        refused.status,
        refused.text()
    );
    // Anonymous push to public/ is refused too.
    let (_, token) = fetch_token(&reg, "repository:public/app:pull,push", None);
    let upload = registry::agent()
        .post(&format!("{}/v2/public/app/blobs/uploads/", reg.url()))
        .header("Authorization", &format!("Bearer {}", token.unwrap()))
        .send_empty()
        .unwrap();
    assert!(matches!(upload.status().as_u16(), 401 | 403));

    // With credentials: private/ too.
    let good = registry::basic_authorization(USER, PASSWORD);
    let (status, token) = fetch_token(&reg, "repository:private/app:pull", Some(&good));
    assert_eq!(status, 200);
    let bearer = format!("Bearer {}", token.unwrap());
    check_manifest(
        &reg,
        "private/app",
        "v1",
        Some(&bearer),
        &img.manifest,
        &img.digest,
    );

    // Bad credentials: the token server says no.
    let bad = registry::basic_authorization(USER, "looking-glass");
    let (status, token) = fetch_token(&reg, "repository:private/app:pull", Some(&bad));
    assert_eq!((status, token), (401, None));
    let bad = registry::basic_authorization("mallory", PASSWORD);
    assert_eq!(
        fetch_token(&reg, "repository:public/app:pull", Some(&bad)).0,
        401
    );

    // No scope: a token good for /v2/ only.
    let resp = get(&format!("{realm}?service={SERVICE}"), &[]);
    assert_eq!(resp.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let bearer = format!("Bearer {}", json["token"].as_str().unwrap());
    let base = get(&format!("{}/v2/", reg.url()), &[("Authorization", &bearer)]);
    assert_eq!(base.status, 200, "{}", base.text());

    let requests = reg.token_requests();
    assert_eq!(requests.len(), 7, "{requests:?}");
    assert_eq!(
        requests[0],
        "/token?service=dist-test-registry&scope=repository%3Apublic%2Fapp%3Apull anonymous"
    );
    assert!(requests[3].ends_with(" credentials"), "{requests:?}");
}

#[test]
fn rig_restart_keeps_content() {
    let mut reg = Registry::start(Auth::Token);
    let img = two_layer_image();
    reg.push_image("private/app", "v1", &img);
    for layer in &img.layers {
        let path = reg.blob_data_path(&layer.digest);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            layer.blob,
            "{}",
            path.display()
        );
    }
    let (port, realm) = (reg.port, reg.token_realm());
    reg.restart();
    assert_eq!((reg.port, reg.token_realm()), (port, realm));
    let good = registry::basic_authorization(USER, PASSWORD);
    let (_, token) = fetch_token(&reg, "repository:private/app:pull", Some(&good));
    let bearer = format!("Bearer {}", token.unwrap());
    check_manifest(
        &reg,
        "private/app",
        "v1",
        Some(&bearer),
        &img.manifest,
        &img.digest,
    );
    // Pushing still works after the restart.
    let other = image::image(Format::Oci, "linux", "arm64", vec![layer(&[("x", b"y")])]);
    reg.push_image("private/app", "v2", &other);
    check_manifest(
        &reg,
        "private/app",
        "v2",
        Some(&bearer),
        &other.manifest,
        &other.digest,
    );
    reg.stop();
    assert!(
        std::net::TcpStream::connect(reg.host()).is_err(),
        "still listening after stop"
    );
}
