//! Credentials for registry hosts, found where docker, podman and skopeo
//! keep them, and where each came from (for `--debug` and for the error
//! when a registry refuses them).
//!
//! Sources, first match wins: `--creds USER[:PASS]`; then `--authfile FILE`
//! alone when given; else `$REGISTRY_AUTH_FILE`, then
//! `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`), then
//! `$XDG_RUNTIME_DIR/containers/auth.json`. In each file,
//! `credHelpers[host]`, then `credsStore`, then `auths[host]` (`auth`,
//! `username`/`password` or `identitytoken`). Helpers are run as
//! `docker-credential-NAME get`.
//!
//! This module reads; `dist-login` writes through [`login_file`] and
//! [`store_in`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Error, Kind, Result};

/// Credentials for one registry host.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal token).
    Basic {
        /// The user.
        user: String,
        /// The password or token.
        password: String,
    },
    /// An OAuth2 refresh token (docker's `identitytoken`).
    Identity(String),
}

impl std::fmt::Debug for Credentials {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic {{ user: {user:?} }}"),
            Credentials::Identity(_) => f.write_str("Identity"),
        }
    }
}

impl Credentials {
    /// `user ci`, or `an identity token`: what messages say of them.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Basic { user, .. } => format!("user {user}"),
            Credentials::Identity(_) => "an identity token".to_string(),
        }
    }

    /// The `Authorization: Basic …` value, for Basic credentials.
    pub fn basic(&self) -> Option<String> {
        match self {
            Credentials::Basic { user, password } => Some(format!(
                "Basic {}",
                B64.encode(format!("{user}:{password}"))
            )),
            Credentials::Identity(_) => None,
        }
    }
}

/// Credentials and where they were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credentials.
    pub credentials: Credentials,
    /// `--creds`, a file's path, or `docker-credential-NAME`.
    pub source: String,
}

/// Where to look for credentials.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--creds USER[:PASS]` (or what dist-login checks): these, for every host.
    pub creds: Option<Found>,
    /// `--authfile FILE`: this file only.
    pub authfile: Option<PathBuf>,
}

impl Sources {
    /// The files to read, in order.
    pub fn files(&self) -> Vec<PathBuf> {
        if let Some(f) = &self.authfile {
            return vec![f.clone()];
        }
        let mut files = Vec::new();
        if let Some(f) = env_path("REGISTRY_AUTH_FILE") {
            files.push(f);
        }
        files.push(docker_config());
        if let Some(run) = env_path("XDG_RUNTIME_DIR") {
            files.push(run.join("containers/auth.json"));
        }
        files
    }

    /// Finds credentials for `host`: `--creds` (when `with_flag`: not for
    /// a mirror), else the files'.
    pub fn lookup(&self, host: &str, with_flag: bool) -> Result<Option<Found>> {
        if let Some(found) = self.creds.as_ref().filter(|_| with_flag) {
            return Ok(Some(found.clone()));
        }
        let keys = host_keys(host);
        for file in self.files() {
            let text = match std::fs::read(&file) {
                Ok(text) => text,
                Err(e) if self.authfile.is_some() => {
                    return Err(Error::io(&e).context(file.display()));
                }
                Err(_) => continue,
            };
            let config: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
                Error::new(
                    Kind::Unauthenticated,
                    format!("{}: not a valid credentials file ({e})", file.display()),
                )
            })?;
            if let Some(found) = credentials_in(&config, &keys, &file)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config() -> PathBuf {
    match env_path("DOCKER_CONFIG") {
        Some(dir) => dir.join("config.json"),
        None => env_path("HOME")
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".docker/config.json"),
    }
}

/// The file `dist-login` writes, as `docker login` and `skopeo login` do:
/// `--authfile`, else `$REGISTRY_AUTH_FILE`, else the docker config.
pub fn login_file(authfile: Option<&Path>) -> PathBuf {
    authfile
        .map(Path::to_path_buf)
        .or_else(|| env_path("REGISTRY_AUTH_FILE"))
        .unwrap_or_else(docker_config)
}

/// The registry host of `REGISTRY` as users write it: a host[:port], or a
/// URL (`https://host/v2/`); `docker.io` is Docker Hub's.
pub fn login_host(registry: Option<&str>) -> Result<String> {
    let given = registry.ok_or_else(|| Error::invalid("missing REGISTRY"))?;
    let bare = given.split_once("://").map_or(given, |(_, rest)| rest);
    let bare = bare.split('/').next().unwrap_or("");
    let host_char = |c: char| c.is_ascii_alphanumeric() || "-.:[]_".contains(c);
    if bare.is_empty() || !bare.chars().all(host_char) {
        return Err(Error::invalid(format!(
            "'{}' is no registry host (host[:port])",
            crate::error::Untrusted(given)
        )));
    }
    Ok(match bare {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "registry-1.docker.io",
        host => host,
    }
    .to_string())
}

/// Sets (or, with `None`, removes) the credentials of `host` in the file
/// `path` (docker's config.json form; other entries kept), written
/// atomically with mode 0600. Returns whether the file changed.
pub fn save(path: &Path, host: &str, creds: Option<&Credentials>) -> Result<bool> {
    let mut config = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                Kind::InvalidContent,
                format!("{}: not a valid credentials file ({e})", path.display()),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(Error::io(&e).context(path.display())),
    };
    if !store_in(&mut config, host, creds).map_err(|e| e.context(path.display()))? {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(&e).context(dir.display()))?;
    }
    let mut text = serde_json::to_vec_pretty(&config)
        .map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
    text.push(b'\n');
    crate::fs::write_atomic_mode(path, &text, 0o600)?;
    Ok(true)
}

/// `config` with `host`'s entry set to `creds` (or removed, for `None`):
/// the `auths` entry docker and skopeo read. Returns whether it changed.
pub fn store_in(
    config: &mut serde_json::Value,
    host: &str,
    creds: Option<&Credentials>,
) -> Result<bool> {
    if !config.is_object() {
        *config = serde_json::json!({});
    }
    let auths = config
        .as_object_mut()
        .and_then(|c| {
            c.entry("auths")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
        })
        .ok_or_else(|| Error::new(Kind::InvalidContent, "'auths' is not an object"))?;
    let keys = host_keys(host);
    let before = auths.len();
    auths.retain(|k, _| {
        !keys
            .iter()
            .any(|key| normalize_key(k) == normalize_key(key))
    });
    let removed = auths.len() != before;
    match creds {
        Some(Credentials::Basic { user, password }) => {
            auths.insert(
                keys[0].clone(),
                serde_json::json!({"auth": B64.encode(format!("{user}:{password}"))}),
            );
            Ok(true)
        }
        Some(Credentials::Identity(token)) => {
            auths.insert(keys[0].clone(), serde_json::json!({"identitytoken": token}));
            Ok(true)
        }
        None => Ok(removed),
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

/// The credentials `config` (read from `file`) has for a host filed as one
/// of `keys`: through its helper, its store, or its `auths` entry.
fn credentials_in(
    config: &serde_json::Value,
    keys: &[String],
    file: &Path,
) -> Result<Option<Found>> {
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
        && let Some(found) = run_helper(store, &keys[0])?
    {
        return Ok(Some(found));
    }
    let entry = config
        .get("auths")
        .and_then(|a| a.as_object())
        .and_then(|auths| {
            keys.iter().find_map(|key| {
                auths
                    .iter()
                    .find(|(k, _)| *k == key || normalize_key(k) == normalize_key(key))
                    .map(|(_, v)| v)
            })
        });
    let Some(entry) = entry else { return Ok(None) };
    let found = entry_credentials(entry).map_err(|why| {
        Error::new(
            Kind::Unauthenticated,
            format!("{}: the entry for {} {why}", file.display(), keys[0]),
        )
    })?;
    Ok(found.map(|credentials| Found {
        credentials,
        source: file.display().to_string(),
    }))
}

/// The credentials of one `auths` entry.
fn entry_credentials(entry: &serde_json::Value) -> std::result::Result<Option<Credentials>, &str> {
    let s = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = s("identitytoken") {
        return Ok(Some(Credentials::Identity(token.to_string())));
    }
    let basic = |user: &str, password: &str| {
        Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        })
    };
    if let Some(auth) = s("auth") {
        let bad = "has an 'auth' that is not base64 of user:password";
        let decoded = B64.decode(auth.trim()).map_err(|_| bad)?;
        let text = String::from_utf8(decoded).map_err(|_| bad)?;
        let (user, password) = text.split_once(':').ok_or(bad)?;
        return Ok(basic(user, password));
    }
    match (s("username"), s("password")) {
        (Some(user), Some(password)) => Ok(basic(user, password)),
        _ => Ok(None),
    }
}

/// Runs `docker-credential-NAME get` for `server`.
fn run_helper(name: &str, server: &str) -> Result<Option<Found>> {
    let program = format!("docker-credential-{name}");
    let failed = |why: String| {
        Error::new(
            Kind::Unauthenticated,
            format!("{program} get {server}: {why}"),
        )
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(Error::io(&e).to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(Error::io(&e).to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stdout.contains("credentials not found") || stderr.contains("credentials not found") {
            return Ok(None);
        }
        let why = stderr.trim().lines().next().unwrap_or("").to_string();
        return Err(failed(format!("failed: {}", crate::error::Untrusted(&why))));
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout).map_err(|e| failed(format!("not JSON ({e})")))?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let secret = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    let credentials = match (user, secret) {
        (_, "") => return Ok(None),
        ("<token>", token) => Credentials::Identity(token.to_string()),
        (user, secret) => Credentials::Basic {
            user: user.to_string(),
            password: secret.to_string(),
        },
    };
    Ok(Some(Found {
        credentials,
        source: program,
    }))
}

/// `USER[:PASS]` as `--creds` takes it.
impl std::str::FromStr for Credentials {
    type Err = Error;

    fn from_str(s: &str) -> Result<Credentials> {
        let (user, password) = s.split_once(':').unwrap_or((s, ""));
        if user.is_empty() {
            return Err(Error::invalid("--creds: the user name is empty"));
        }
        Ok(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> Credentials {
        Credentials::Basic {
            user: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn credentials_from_a_config() {
        let cfg: serde_json::Value = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6d29uZGVybGFuZA=="},
                "reg.example:5000":{"username":"u","password":"p"},
                "https://tok.example/v2/":{"identitytoken":"rt"},
                "bad.example":{"auth":"not base64!"}}}"#,
        )
        .unwrap();
        let f = Path::new("config.json");
        let get = |host: &str| {
            credentials_in(&cfg, &host_keys(host), f)
                .unwrap()
                .map(|found| found.credentials)
        };
        assert_eq!(
            get("registry-1.docker.io"),
            Some(basic("alice", "wonderland"))
        );
        assert_eq!(get("reg.example:5000"), Some(basic("u", "p")));
        assert_eq!(get("tok.example"), Some(Credentials::Identity("rt".into())));
        assert_eq!(get("other.example"), None);
        let e = credentials_in(&cfg, &host_keys("bad.example"), f).unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");
        let found = credentials_in(&cfg, &host_keys("reg.example:5000"), f)
            .unwrap()
            .unwrap();
        assert_eq!(found.source, "config.json");
    }

    #[test]
    fn login_entries_replace_every_alias_of_a_host() {
        let mut cfg = serde_json::json!({"auths": {"https://index.docker.io/v1/": {"auth": "eDp5"}, "other": {}}, "credsStore": ""});
        assert!(store_in(&mut cfg, "docker.io", Some(&basic("alice", "wonderland"))).unwrap());
        assert_eq!(
            cfg["auths"]["https://index.docker.io/v1/"]["auth"],
            "YWxpY2U6d29uZGVybGFuZA=="
        );
        assert_eq!(cfg["auths"].as_object().unwrap().len(), 2);
        assert!(store_in(&mut cfg, "registry-1.docker.io", None).unwrap());
        assert!(!store_in(&mut cfg, "registry-1.docker.io", None).unwrap());
        assert_eq!(cfg["auths"].as_object().unwrap().len(), 1);
        assert_eq!(cfg["credsStore"], "");
    }

    #[test]
    fn registries_as_users_write_them() {
        let host = |r: &str| login_host(Some(r)).unwrap();
        assert_eq!(host("docker.io"), "registry-1.docker.io");
        assert_eq!(host("https://index.docker.io/v1/"), "registry-1.docker.io");
        assert_eq!(host("localhost:5000"), "localhost:5000");
        assert_eq!(host("https://quay.io/v2/"), "quay.io");
        assert!(login_host(None).is_err());
        assert!(login_host(Some("a b")).is_err());
        assert!(login_host(Some("")).is_err());
    }

    #[test]
    fn creds_flags_and_secrets_stay_out_of_debug_output() {
        let c: Credentials = "ci:s3cret:with:colons".parse().unwrap();
        assert_eq!(c, basic("ci", "s3cret:with:colons"));
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.describe(), "user ci");
        assert_eq!(c.basic().unwrap(), "Basic Y2k6czNjcmV0OndpdGg6Y29sb25z");
        assert!(":x".parse::<Credentials>().is_err());
    }
}
