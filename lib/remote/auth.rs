//! Registry authorization: `WWW-Authenticate` challenges (Bearer token flow,
//! anonymous or with credentials, and Basic), credentials from the files and
//! helpers docker and podman use, and a per-process cache of tokens by scope.
//!
//! Credential sources, first match wins: `$REGISTRY_AUTH_FILE`, then
//! `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`), then
//! `$XDG_RUNTIME_DIR/containers/auth.json`. In each, `credHelpers[host]`, then
//! `credsStore`, then `auths[host]` (`auth`, `username`/`password` or
//! `identitytoken`). Helpers are run as `docker-credential-NAME get`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::http::{Transport, header, status_error};
use crate::error::{Error, Kind, Result};

/// Credentials for one registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// A user name and password (or personal token).
    Basic { user: String, password: String },
    /// An OAuth2 refresh token (docker's `identitytoken`).
    Identity(String),
}

/// What this process knows: `Authorization` values per (host, repository),
/// tokens per scope and credentials per host.
#[derive(Default)]
pub(crate) struct Auth {
    headers: Mutex<HashMap<(String, String), String>>,
    tokens: Mutex<HashMap<String, String>>,
    credentials: Mutex<HashMap<String, Option<Credentials>>>,
}

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

impl Auth {
    /// The `Authorization` value to send to `host` for `repository`, if any.
    pub fn header(&self, host: &str, repository: &str) -> Option<String> {
        self.headers
            .lock()
            .ok()?
            .get(&(host.to_string(), repository.to_string()))
            .cloned()
    }

    /// Answers the challenge of a 401 from `host`: fetches a token (or builds
    /// Basic credentials) and remembers the header for later requests.
    pub fn authorize(
        &self,
        transport: &Transport,
        host: &str,
        repository: &str,
        challenge: &str,
    ) -> Result<()> {
        let challenges = parse_challenges(challenge);
        let creds = self.credentials(host)?;
        let value = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.token(transport, host, repository, c, creds.as_ref())?;
            format!("Bearer {token}")
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match &creds {
                Some(Credentials::Basic { user, password }) => {
                    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
                }
                _ => return Err(no_credentials(host, repository)),
            }
        } else {
            return Err(Error::new(
                Kind::Unauthenticated,
                format!(
                    "{host}/{repository}: unauthenticated (registry said 401 without a challenge dist knows: {challenge:?})"
                ),
            ));
        };
        if let Ok(mut h) = self.headers.lock() {
            h.insert((host.to_string(), repository.to_string()), value);
        }
        Ok(())
    }

    fn credentials(&self, host: &str) -> Result<Option<Credentials>> {
        if let Some(c) = self
            .credentials
            .lock()
            .ok()
            .and_then(|m| m.get(host).cloned())
        {
            return Ok(c);
        }
        let found = lookup_credentials(host)?;
        if let Ok(mut m) = self.credentials.lock() {
            m.insert(host.to_string(), found.clone());
        }
        Ok(found)
    }

    fn token(
        &self,
        transport: &Transport,
        host: &str,
        repository: &str,
        challenge: &Challenge,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let realm = challenge.params.get("realm").ok_or_else(|| {
            Error::new(
                Kind::Unauthenticated,
                format!("{host}: the Bearer challenge has no realm"),
            )
        })?;
        let service = challenge.params.get("service").cloned().unwrap_or_default();
        let scope = challenge
            .params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{repository}:pull"));
        let key = format!("{realm} {service} {scope}");
        if let Some(t) = self.tokens.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(t);
        }
        let mut query = Vec::new();
        if !service.is_empty() {
            query.push(format!("service={}", url_encode(&service)));
        }
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            query.push(format!("scope={}", url_encode(s)));
        }
        let resp = match creds {
            Some(Credentials::Identity(refresh)) => {
                let mut form = query.clone();
                form.extend([
                    "grant_type=refresh_token".to_string(),
                    "client_id=dist".to_string(),
                ]);
                form.push(format!("refresh_token={}", url_encode(refresh)));
                transport.realm_request(realm, None, Some(&form.join("&")))?
            }
            Some(Credentials::Basic { user, password }) => {
                let url = with_query(realm, &query);
                transport.realm_request(
                    &url,
                    Some(&base64(format!("{user}:{password}").as_bytes())),
                    None,
                )?
            }
            None => transport.realm_request(&with_query(realm, &query), None, None)?,
        };
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            let why = if creds.is_some() {
                "refused the credentials"
            } else {
                "requires credentials"
            };
            let mut e = status_error(
                &format!("token service {realm} {why} for {host}/{repository}"),
                resp,
            );
            if e.kind() == Kind::PermissionDenied {
                e = Error::new(Kind::Unauthenticated, e.message().to_string());
            }
            return Err(e);
        }
        if !(200..300).contains(&status) {
            return Err(status_error(&format!("token service {realm}"), resp));
        }
        let _ = header(&resp, "content-type");
        let mut body = Vec::new();
        let mut resp = resp;
        resp.body_mut()
            .as_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| Error::io(&e).context(realm))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                Kind::Unauthenticated,
                format!("token service {realm}: not JSON ({e})"),
            )
        })?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::new(
                    Kind::Unauthenticated,
                    format!("token service {realm}: no token in its answer"),
                )
            })?
            .to_string();
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(key, token.clone());
        }
        Ok(token)
    }
}

fn no_credentials(host: &str, repository: &str) -> Error {
    Error::new(
        Kind::Unauthenticated,
        format!(
            "{host}/{repository}: unauthenticated: the registry wants credentials and none are configured \
             (docker login, $REGISTRY_AUTH_FILE or $DOCKER_CONFIG/config.json)"
        ),
    )
}

fn with_query(url: &str, query: &[String]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", query.join("&"))
}

/// Parses a `WWW-Authenticate` value: one or more `Scheme k=v, k="v"` challenges.
pub(crate) fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        // A token followed by '=' is a parameter of the current challenge;
        // otherwise it starts a new challenge.
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if let (Some(stripped), false) = (after.strip_prefix('='), out.is_empty()) {
            let (val, remain) = parse_value(stripped.trim_start());
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), val);
            }
            rest = remain.trim_start().trim_start_matches(',').trim_start();
        } else if token.is_empty() {
            rest = after.trim_start_matches(',').trim_start();
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: HashMap::new(),
            });
            rest = after.trim_start_matches(',').trim_start();
        }
    }
    out
}

fn parse_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut val = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        val.push(n);
                    }
                }
                '"' => return (val, &body[i + 1..]),
                _ => val.push(c),
            }
        }
        (val, "")
    } else {
        let end = s
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(s.len());
        (s[..end].to_string(), &s[end..])
    }
}

/// The names a host may be filed under in a credentials file.
fn host_keys(host: &str) -> Vec<String> {
    if matches!(
        host,
        "docker.io" | "registry-1.docker.io" | "index.docker.io"
    ) {
        [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ]
        .map(String::from)
        .to_vec()
    } else {
        vec![host.to_string()]
    }
}

/// A credentials-file key as the bare host: scheme and path stripped.
fn normalize_key(key: &str) -> &str {
    let k = key.split_once("://").map_or(key, |(_, r)| r);
    k.split('/').next().unwrap_or(k)
}

/// Finds credentials for `host` in the usual files, asking helpers when they say so.
pub(crate) fn lookup_credentials(host: &str) -> Result<Option<Credentials>> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        files.push(f.into());
    }
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => files.push(PathBuf::from(dir).join("config.json")),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                files.push(PathBuf::from(home).join(".docker/config.json"));
            }
        }
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        files.push(PathBuf::from(run).join("containers/auth.json"));
    }
    let keys = host_keys(host);
    for file in files {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let config: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            Error::new(
                Kind::Unauthenticated,
                format!("{}: not a valid credentials file ({e})", file.display()),
            )
        })?;
        if let Some(c) = credentials_in(&config, &keys, &file)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn credentials_in(
    config: &serde_json::Value,
    keys: &[String],
    file: &std::path::Path,
) -> Result<Option<Credentials>> {
    let helper_for = config
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| {
                    keys.iter()
                        .any(|key| normalize_key(k) == normalize_key(key))
                })
                .and_then(|(_, v)| v.as_str())
        });
    if let Some(helper) = helper_for {
        return run_helper(helper, &keys[0]);
    }
    if let Some(store) = config
        .get("credsStore")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        && let Some(c) = run_helper(store, &keys[0])?
    {
        return Ok(Some(c));
    }
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let entry = keys.iter().find_map(|key| {
        auths
            .iter()
            .find(|(k, _)| *k == key || normalize_key(k) == normalize_key(key))
            .map(|(_, v)| v)
    });
    let Some(entry) = entry else { return Ok(None) };
    let s = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = s("identitytoken") {
        return Ok(Some(Credentials::Identity(token.to_string())));
    }
    if let Some(auth) = s("auth") {
        let bad = || {
            Error::new(
                Kind::Unauthenticated,
                format!(
                    "{}: the 'auth' entry for {} is not base64 of user:password",
                    file.display(),
                    keys[0]
                ),
            )
        };
        let decoded = unbase64(auth).ok_or_else(bad)?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }));
    }
    if let (Some(user), Some(password)) = (s("username"), s("password")) {
        return Ok(Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }));
    }
    Ok(None)
}

/// Runs `docker-credential-NAME get` for `server`.
fn run_helper(name: &str, server: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                Kind::Unauthenticated,
                format!("{program}: {}", Error::io(&e)),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(&e).context(&program))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.contains("credentials not found")
            || String::from_utf8_lossy(&out.stderr).contains("credentials not found")
        {
            return Ok(None);
        }
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        return Err(Error::new(
            Kind::Unauthenticated,
            format!("{program} get {server}: failed: {why}"),
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&stdout).map_err(|e| {
        Error::new(
            Kind::Unauthenticated,
            format!("{program} get {server}: not JSON ({e})"),
        )
    })?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let secret = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    Ok(match (user, secret) {
        (_, "") => None,
        ("<token>", token) => Some(Credentials::Identity(token.to_string())),
        (user, secret) => Some(Credentials::Basic {
            user: user.to_string(),
            password: secret.to_string(),
        }),
    })
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.trim().bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(c[0].params["scope"], "repository:library/redis:pull");
        let c = parse_challenges(r#"Basic realm="a \"quoted\" realm", Bearer realm=x,service=y"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].params["realm"], r#"a "quoted" realm"#);
        assert_eq!(
            (
                c[1].params["realm"].as_str(),
                c[1].params["service"].as_str()
            ),
            ("x", "y")
        );
        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "alice:wonderland", "ü:\u{1F600}"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"alice:wonderland"), "YWxpY2U6d29uZGVybGFuZA==");
        assert_eq!(unbase64("not base64!"), None);
    }

    #[test]
    fn credentials_from_a_config() {
        let cfg: serde_json::Value = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6d29uZGVybGFuZA=="},
                "reg.example:5000":{"username":"u","password":"p"},
                "https://tok.example/v2/":{"identitytoken":"rt"}}}"#,
        )
        .unwrap();
        let f = std::path::Path::new("config.json");
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                user: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(
            credentials_in(&cfg, &host_keys("registry-1.docker.io"), f).unwrap(),
            basic("alice", "wonderland")
        );
        assert_eq!(
            credentials_in(&cfg, &host_keys("reg.example:5000"), f).unwrap(),
            basic("u", "p")
        );
        assert_eq!(
            credentials_in(&cfg, &host_keys("tok.example"), f).unwrap(),
            Some(Credentials::Identity("rt".into()))
        );
        assert_eq!(
            credentials_in(&cfg, &host_keys("other.example"), f).unwrap(),
            None
        );
    }
}
