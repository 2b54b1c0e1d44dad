//! Per-host configuration as containerd reads it, so that a fleet set up
//! for containerd works with dist unchanged: `hosts.toml` files under a
//! directory per registry (containerd's `certs.d`), or, where a directory
//! has none, docker's certificate files.
//!
//! The directories searched: `--hosts-dir DIR`, else `$DIST_HOSTS_DIR`, else
//! `/etc/containerd/certs.d` then `/etc/docker/certs.d`. In the first that
//! has one, the directory of a registry is the first of `HOST_PORT_`,
//! `HOST:PORT`, `HOST` and `_default` that exists. A `hosts.toml` there says
//! which hosts serve the registry, in order (`[host."URL"]` tables: mirrors,
//! pull-through caches), each with its `capabilities` (`pull`, `resolve`,
//! `push`), `ca`, `client`, `skip_verify`, `header`, `override_path` and
//! `dial_timeout`; then the registry itself (`server`, else the registry's
//! own host), last. Paths are relative to the file. A directory without a
//! `hosts.toml` gives the registry its `*.crt` CAs and `*.cert`/`*.key`
//! client pairs. A file that does not parse is an error naming file, line
//! and key; nothing is silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Kind, Result, Untrusted};

/// What a host may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Blobs and manifests by digest.
    pub pull: bool,
    /// Tags.
    pub resolve: bool,
    /// Uploads.
    pub push: bool,
}

impl Caps {
    const ALL: Caps = Caps {
        pull: true,
        resolve: true,
        push: true,
    };
}

/// How to talk TLS to a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Tls {
    /// Files of CA certificates to trust, beside the system's.
    pub ca: Vec<PathBuf>,
    /// Client certificates: (certificate, key); the key may be in the first.
    pub client: Vec<(PathBuf, Option<PathBuf>)>,
    /// Do not verify the host's certificate.
    pub skip_verify: bool,
}

impl Tls {
    fn explicit(&self) -> bool {
        !self.ca.is_empty() || !self.client.is_empty() || self.skip_verify
    }
}

/// One host that serves a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// The API root: `/v2`, or what the URL says with `override_path`.
    pub path: String,
    /// What it may be asked.
    pub caps: Caps,
    /// Its TLS settings.
    pub tls: Tls,
    /// Headers sent with every request to it.
    pub headers: Vec<(String, String)>,
    /// How long to wait for a connection to it.
    pub dial_timeout: Option<Duration>,
    /// The registry itself (the last endpoint), not a mirror.
    pub upstream: bool,
}

impl Endpoint {
    /// The URL of `path` below the API root, for a request about
    /// `registry`'s content: a mirror gets `?ns=REGISTRY`, so that one
    /// cache can serve several upstreams.
    pub fn url(&self, registry: &str, path: &str) -> String {
        let url = format!("{}://{}{}/{path}", self.scheme, self.host, self.path);
        let proxy = self.host != registry
            && !(registry == "docker.io" && self.host == "registry-1.docker.io");
        match proxy {
            true => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}ns={}", super::auth::url_encode(registry))
            }
            false => url,
        }
    }
}

/// The directories searched for a registry's configuration, in order.
pub fn search_dirs(flag: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = flag {
        return vec![dir.to_path_buf()];
    }
    if let Some(dir) = std::env::var_os("DIST_HOSTS_DIR").filter(|d| !d.is_empty()) {
        return vec![PathBuf::from(dir)];
    }
    ["/etc/containerd/certs.d", "/etc/docker/certs.d"]
        .map(PathBuf::from)
        .to_vec()
}

/// The hosts that serve `registry` (a reference's domain: `docker.io`,
/// `localhost:5000`), mirrors first, the registry itself last, as the
/// first of `dirs` that has a directory for it says. `plain_http` is
/// `--plain-http`; `api_host` is where the registry's own API is.
pub fn endpoints(
    dirs: &[PathBuf],
    registry: &str,
    api_host: &str,
    plain_http: bool,
) -> Result<Vec<Endpoint>> {
    let dir = dirs.iter().find_map(|root| host_dir(root, registry));
    let (mut hosts, server) = match &dir {
        Some(dir) => load(dir)?,
        None => (Vec::new(), Upstream::default()),
    };
    let explicit_tls = server.tls.explicit();
    let mut upstream = match server.url {
        Some(url) => parse_url(&url, server.override_path)
            .map_err(|why| config_error(&dir.unwrap_or_default(), None, "server", &why))?,
        None => {
            let plain = (plain_http || super::http::is_loopback(api_host)) && !explicit_tls;
            (
                if plain { "http" } else { "https" }.to_string(),
                api_host.to_string(),
                "/v2".to_string(),
            )
        }
    };
    // As containerd: Docker Hub's API is not on docker.io itself.
    if upstream.1 == "docker.io" {
        upstream.1 = "registry-1.docker.io".to_string();
    }
    if upstream.0 == "http" && explicit_tls && !plain_http {
        // TLS settings for a plain HTTP host: it is meant to be HTTPS.
        upstream.0 = "https".to_string();
    }
    hosts.push(Endpoint {
        scheme: upstream.0,
        host: upstream.1,
        path: upstream.2,
        caps: server.caps,
        tls: server.tls,
        headers: server.headers,
        dial_timeout: server.dial_timeout,
        upstream: true,
    });
    Ok(hosts)
}

/// The directory of `registry` under `root`, if there is one.
fn host_dir(root: &Path, registry: &str) -> Option<PathBuf> {
    let mut names = Vec::new();
    if let Some((host, port)) = registry.rsplit_once(':')
        && !host.is_empty()
    {
        names.push(format!("{host}_{port}_"));
    }
    names.push(registry.to_string());
    if let Some((host, _)) = registry.rsplit_once(':')
        && !host.is_empty()
        && !host.ends_with(']')
    {
        names.push(host.to_string());
    }
    names.push("_default".to_string());
    names.into_iter().map(|n| root.join(n)).find(|p| p.is_dir())
}

/// What a directory says of the registry itself.
struct Upstream {
    url: Option<String>,
    override_path: bool,
    caps: Caps,
    tls: Tls,
    headers: Vec<(String, String)>,
    dial_timeout: Option<Duration>,
}

impl Default for Upstream {
    fn default() -> Upstream {
        Upstream {
            url: None,
            override_path: false,
            caps: Caps::ALL,
            tls: Tls::default(),
            headers: Vec::new(),
            dial_timeout: None,
        }
    }
}

/// The mirrors and the registry's own settings a directory gives.
fn load(dir: &Path) -> Result<(Vec<Endpoint>, Upstream)> {
    let file = dir.join("hosts.toml");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) if !t.trim().is_empty() => t,
        Ok(_) => return Ok((Vec::new(), cert_files(dir)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), cert_files(dir)?));
        }
        Err(e) => return Err(Error::io(&e).context(file.display())),
    };
    parse(&file, dir, &text)
}

/// docker's way: `*.crt` CAs, `*.cert` + `*.key` client pairs.
fn cert_files(dir: &Path) -> Result<Upstream> {
    let mut up = Upstream::default();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(&e).context(dir.display()))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in names {
        match p.extension().and_then(|x| x.to_str()) {
            Some("crt") => up.tls.ca.push(p),
            Some("cert") => {
                let key = p.with_extension("key");
                up.tls.client.push((p, key.is_file().then_some(key)));
            }
            _ => {}
        }
    }
    Ok(up)
}

/// A hosts.toml file's tables, as read.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HostFile {
    server: Option<String>,
    #[serde(default)]
    host: std::collections::BTreeMap<String, HostTable>,
    #[serde(flatten)]
    settings: HostTable,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HostTable {
    capabilities: Option<Vec<String>>,
    ca: Option<OneOrMany>,
    client: Option<Vec<ClientEntry>>,
    skip_verify: Option<bool>,
    #[serde(default)]
    header: std::collections::BTreeMap<String, OneOrMany>,
    #[serde(default)]
    override_path: bool,
    dial_timeout: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn list(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ClientEntry {
    Combined(String),
    Pair(Vec<String>),
}

/// Parses the `hosts.toml` `file` (in `dir`), whose text is `text`.
fn parse(file: &Path, dir: &Path, text: &str) -> Result<(Vec<Endpoint>, Upstream)> {
    let line_of = |at: usize| {
        let before = &text.as_bytes()[..at.min(text.len())];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    };
    let parsed: HostFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(s.start));
        let why = Untrusted(e.message().lines().next().unwrap_or("")).to_string();
        config_error(file, line, "", &why)
    })?;
    // The hosts in the order the file lists them (the map sorts them).
    let order = host_order(text);
    let mut hosts: Vec<(usize, Endpoint)> = Vec::new();
    for (url, table) in parsed.host {
        let at = order
            .iter()
            .find(|(u, _)| *u == url)
            .map_or(0, |(_, at)| *at);
        let line = Some(line_of(at));
        let key = format!("host.\"{}\"", Untrusted(&url));
        let (scheme, host, path) = parse_url(&url, table.override_path)
            .map_err(|why| config_error(file, line, &key, &why))?;
        let s = settings(table, dir)
            .map_err(|(k, why)| config_error(file, line, &format!("{key}.{k}"), &why))?;
        if scheme == "http" && s.tls.explicit() {
            return Err(config_error(
                file,
                line,
                &key,
                "ca, client and skip_verify are for https hosts; this one is http",
            ));
        }
        hosts.push((
            at,
            Endpoint {
                scheme,
                host,
                path,
                caps: s.caps,
                tls: s.tls,
                headers: s.headers,
                dial_timeout: s.dial_timeout,
                upstream: false,
            },
        ));
    }
    hosts.sort_by_key(|(at, _)| *at);
    let mut up =
        settings(parsed.settings, dir).map_err(|(k, why)| config_error(file, None, &k, &why))?;
    up.url = parsed.server;
    Ok((hosts.into_iter().map(|(_, e)| e).collect(), up))
}

/// Where each `[host."URL"]` table starts in `text`.
fn host_order(text: &str) -> Vec<(String, usize)> {
    let Ok(table) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in table.get_ref().iter() {
        if k.get_ref().as_ref() != "host" {
            continue;
        }
        if let toml::de::DeValue::Table(hosts) = v.get_ref() {
            for (url, _) in hosts.iter() {
                out.push((url.get_ref().to_string(), url.span().start));
            }
        }
    }
    out
}

/// The settings of one table; an error names the key.
fn settings(t: HostTable, dir: &Path) -> std::result::Result<Upstream, (String, String)> {
    let mut caps = Caps {
        pull: false,
        resolve: false,
        push: false,
    };
    match t.capabilities {
        None => caps = Caps::ALL,
        Some(list) => {
            for c in list {
                match c.to_ascii_lowercase().as_str() {
                    "pull" => caps.pull = true,
                    "resolve" => caps.resolve = true,
                    "push" => caps.push = true,
                    // Referrers ride on pull for dist.
                    "referrers" => {}
                    other => {
                        return Err((
                            "capabilities".into(),
                            format!(
                                "unknown capability \"{}\" (pull, resolve, push)",
                                Untrusted(other)
                            ),
                        ));
                    }
                }
            }
        }
    }
    let path = |p: String| -> std::result::Result<PathBuf, (String, String)> {
        let p = PathBuf::from(p);
        let p = if p.is_absolute() { p } else { dir.join(p) };
        Ok(p)
    };
    let mut tls = Tls {
        skip_verify: t.skip_verify.unwrap_or(false),
        ..Tls::default()
    };
    for ca in t.ca.map(OneOrMany::list).unwrap_or_default() {
        let p = path(ca)?;
        if !p.is_file() {
            return Err((
                "ca".into(),
                format!("{}: no such file", Untrusted(&p.display().to_string())),
            ));
        }
        tls.ca.push(p);
    }
    for c in t.client.unwrap_or_default() {
        let (cert, key) = match c {
            ClientEntry::Combined(f) => (path(f)?, None),
            ClientEntry::Pair(pair) if pair.len() == 2 => {
                let mut it = pair.into_iter();
                let cert = path(it.next().unwrap_or_default())?;
                (cert, Some(path(it.next().unwrap_or_default())?))
            }
            ClientEntry::Pair(pair) => {
                return Err((
                    "client".into(),
                    format!("a pair of files, not {} of them", pair.len()),
                ));
            }
        };
        for f in std::iter::once(&cert).chain(&key) {
            if !f.is_file() {
                return Err((
                    "client".into(),
                    format!("{}: no such file", Untrusted(&f.display().to_string())),
                ));
            }
        }
        tls.client.push((cert, key));
    }
    let mut headers = Vec::new();
    for (name, values) in t.header {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err((
                "header".into(),
                format!("\"{}\" is no header name", Untrusted(&name)),
            ));
        }
        for v in values.list() {
            if v.chars()
                .any(|c| c.is_control() && c != '\t' || !c.is_ascii())
            {
                return Err((
                    format!("header.{name}"),
                    "a value of printable ASCII only".into(),
                ));
            }
            headers.push((name.clone(), v));
        }
    }
    let dial_timeout = match t.dial_timeout {
        Some(d) => Some(
            crate::time::parse_duration(&d)
                .map_err(|e| ("dial_timeout".to_string(), e.message().to_string()))?,
        ),
        None => None,
    };
    Ok(Upstream {
        url: None,
        override_path: t.override_path,
        caps,
        tls,
        headers,
        dial_timeout,
    })
}

/// (scheme, host, API root) of a host's URL (`https` when it has none).
fn parse_url(
    url: &str,
    override_path: bool,
) -> std::result::Result<(String, String, String), String> {
    let with_scheme = match url.contains("://") {
        true => url.to_string(),
        false => format!("https://{url}"),
    };
    let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("https", url));
    if scheme != "http" && scheme != "https" {
        return Err(format!("{}: only http and https", Untrusted(url)));
    }
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
    {
        return Err(format!("{}: not a host URL", Untrusted(url)));
    }
    if !authority_ok(host) {
        return Err(format!("{}: not a host URL", Untrusted(url)));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    {
        return Err(format!(
            "{}: a path of printable characters without ? or #",
            Untrusted(url)
        ));
    }
    let path = path.trim_end_matches('/');
    let path = match (path.is_empty(), override_path) {
        (true, false) => "/v2".to_string(),
        (_, true) => path.to_string(),
        (false, false) if path.ends_with("/v2") => path.to_string(),
        (false, false) => format!("{path}/v2"),
    };
    Ok((scheme.to_string(), host.to_string(), path))
}

/// Whether `host` is `NAME[:PORT]` or `[IPV6][:PORT]`.
fn authority_ok(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, after)) => match after.strip_prefix(':') {
                Some(p) => (ip, Some(p)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        },
    };
    let v6 = host.starts_with('[');
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c) || v6 && c == ':');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    name_ok && port_ok
}

/// A configuration error, naming file, line and key: a file that breaks
/// its format (exit 4), like content that breaks the spec.
fn config_error(file: &Path, line: Option<usize>, key: &str, why: &str) -> Error {
    let at = line.map(|l| format!(":{l}")).unwrap_or_default();
    let key = match key {
        "" => String::new(),
        k => format!(" {k}:"),
    };
    Error::new(
        Kind::InvalidContent,
        format!("{}{at}:{key} {why}", file.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dist-hosts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn mirrors_in_file_order_then_the_server() {
        let root = scratch("order");
        let dir = root.join("docker.io");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), "x").unwrap();
        std::fs::write(
            dir.join("hosts.toml"),
            r#"server = "https://docker.io"

[host."https://zz-mirror.example"]
  capabilities = ["pull", "resolve"]
  ca = "ca.pem"

[host."http://aa-cache.example:5000/v2/proxy"]
  capabilities = ["pull"]
  override_path = true
  dial_timeout = "2s"
  [host."http://aa-cache.example:5000/v2/proxy".header]
    x-team = "ci"
"#,
        )
        .unwrap();
        let e = endpoints(
            std::slice::from_ref(&root),
            "docker.io",
            "registry-1.docker.io",
            false,
        )
        .unwrap();
        let hosts: Vec<&str> = e.iter().map(|e| e.host.as_str()).collect();
        assert_eq!(
            hosts,
            [
                "zz-mirror.example",
                "aa-cache.example:5000",
                "registry-1.docker.io"
            ]
        );
        assert_eq!(e[0].tls.ca, [dir.join("ca.pem")]);
        assert!(e[0].caps.resolve && !e[0].caps.push);
        assert!(e[1].caps.pull && !e[1].caps.resolve);
        assert_eq!(e[1].path, "/v2/proxy");
        assert_eq!(e[1].headers, [("x-team".to_string(), "ci".to_string())]);
        assert_eq!(e[1].dial_timeout, Some(Duration::from_secs(2)));
        assert!(e[2].upstream && e[2].caps.push);
        assert_eq!(
            e[1].url("docker.io", "library/redis/manifests/7"),
            "http://aa-cache.example:5000/v2/proxy/library/redis/manifests/7?ns=docker.io"
        );
        assert_eq!(
            e[2].url("docker.io", "library/redis/blobs/x"),
            "https://registry-1.docker.io/v2/library/redis/blobs/x"
        );
    }

    #[test]
    fn directories_by_port_host_and_default_and_docker_cert_files() {
        let root = scratch("dirs");
        std::fs::create_dir_all(root.join("reg.example_5000_")).unwrap();
        std::fs::write(root.join("reg.example_5000_/ca.crt"), "x").unwrap();
        std::fs::write(root.join("reg.example_5000_/me.cert"), "x").unwrap();
        std::fs::write(root.join("reg.example_5000_/me.key"), "x").unwrap();
        let e = endpoints(
            std::slice::from_ref(&root),
            "reg.example:5000",
            "reg.example:5000",
            false,
        )
        .unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].tls.ca.len(), 1);
        assert_eq!(
            e[0].tls.client[0].1.as_deref(),
            Some(root.join("reg.example_5000_/me.key").as_path())
        );
        // No directory: the registry alone, by the usual rules.
        let e = endpoints(std::slice::from_ref(&root), "quay.io", "quay.io", false).unwrap();
        assert_eq!(
            (e[0].scheme.as_str(), e[0].host.as_str()),
            ("https", "quay.io")
        );
        let e = endpoints(
            std::slice::from_ref(&root),
            "127.0.0.1:5000",
            "127.0.0.1:5000",
            false,
        )
        .unwrap();
        assert_eq!(e[0].scheme, "http");
        // TLS settings for a loopback registry mean HTTPS.
        std::fs::create_dir_all(root.join("127.0.0.1_6000_")).unwrap();
        std::fs::write(root.join("127.0.0.1_6000_/ca.crt"), "x").unwrap();
        let e = endpoints(
            std::slice::from_ref(&root),
            "127.0.0.1:6000",
            "127.0.0.1:6000",
            false,
        )
        .unwrap();
        assert_eq!(e[0].scheme, "https");
        std::fs::create_dir_all(root.join("_default")).unwrap();
        std::fs::write(
            root.join("_default/hosts.toml"),
            "[host.\"http://cache:5000\"]\n",
        )
        .unwrap();
        let e = endpoints(&[root], "quay.io", "quay.io", false).unwrap();
        assert_eq!(e[0].host, "cache:5000");
    }

    #[test]
    fn bad_files_name_file_line_and_key() {
        let root = scratch("bad");
        let dir = root.join("r.example");
        std::fs::create_dir_all(&dir).unwrap();
        let bad = |text: &str| {
            std::fs::write(dir.join("hosts.toml"), text).unwrap();
            let e = endpoints(std::slice::from_ref(&root), "r.example", "r.example", false)
                .unwrap_err();
            assert_eq!(e.kind(), Kind::InvalidContent, "{e}");
            e.to_string()
        };
        let e = bad("server = \"https://r.example\"\n[host.\"https://m\"\n");
        assert!(e.contains("hosts.toml:2:"), "{e}");
        let e = bad("\n\n[host.\"https://m\"]\ncapabilities = [\"pull\", \"teleport\"]\n");
        assert!(
            e.contains(
                "hosts.toml:3: host.\"https://m\".capabilities: unknown capability \"teleport\""
            ),
            "{e}"
        );
        let e = bad("[host.\"https://m\"]\nca = \"missing.pem\"\n");
        assert!(
            e.contains(".ca: ") && e.contains("missing.pem: no such file"),
            "{e}"
        );
        let e = bad("serverr = \"x\"\n");
        assert!(e.contains("hosts.toml:1:") && e.contains("serverr"), "{e}");
        let e = bad("[host.\"ftp://m\"]\n");
        assert!(e.contains("only http and https"), "{e}");
        // Unknown keys in a host's table, on the line of the table.
        let e = bad(
            "server = \"https://r.example\"\n\n[host.\"https://m\"]\n  capabilties = [\"pull\"]\n",
        );
        assert!(
            e.contains("hosts.toml:4:") && e.contains("capabilties"),
            "{e}"
        );
        let e = bad("[host.\"http://m:5000\"]\nskip_verify = true\n");
        assert!(e.contains("are for https hosts"), "{e}");
        for url in [
            "http://a[b",
            "http://m:",
            "http://m:5x",
            "http://m/a b",
            "http://m/p?x",
            "http://[::1",
        ] {
            let e = bad(&format!("[host.\"{url}\"]\n"));
            assert!(e.contains("hosts.toml:1:"), "{url}: {e}");
        }
        let ok = |url: &str| {
            std::fs::write(dir.join("hosts.toml"), format!("[host.\"{url}\"]\n")).unwrap();
            endpoints(std::slice::from_ref(&root), "r.example", "r.example", false).unwrap()
        };
        assert_eq!(ok("http://[::1]:5000")[0].host, "[::1]:5000");
        assert_eq!(ok("https://m.example/v2/")[0].path, "/v2");
    }
}
