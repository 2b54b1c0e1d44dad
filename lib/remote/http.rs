//! One HTTP exchange with a registry or a token service: ureq agents with
//! the right TLS roots and timeouts, plain HTTP for loopback, bounded retries
//! with backoff, and redirects followed by hand so that an `Authorization`
//! never reaches another host than the one it was made for. Responses that
//! are not a success become one-line errors quoting the registry's own.
//!
//! A request here knows nothing of challenges or tokens: it carries the
//! `Authorization` its caller chose, or none.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::{self, Response};
use ureq::tls::{Certificate, ClientCert, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::Options;
use super::hosts::{Endpoint, Tls};
use crate::error::Untrusted;
use crate::error::{Error, Kind, Result};

/// Attempts of one request before a connection error, 5xx or 429 is final.
const ATTEMPTS: u32 = 6;
/// First pause between attempts; doubles each time.
const BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` we honour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;
/// The most of an error body read to quote it.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// An `Authorization` value and the host (`host[:port]`) it is meant for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub host: String,
    /// `http` or `https`: a value earned over one is not sent over the other.
    pub scheme: String,
    pub value: String,
}

/// What one request asks.
pub(crate) struct Request<'a> {
    pub method: http::Method,
    /// Absolute: `https://host/v2/…`.
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    /// The body sent, if any (kept, so that a retry can send it again).
    pub body: Option<Payload<'a>>,
}

/// A request's body, which a retry can send again.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// `len` bytes of `file` from `offset`, streamed (a blob of the store).
    File {
        file: &'a std::fs::File,
        offset: u64,
        len: u64,
        /// Told the bytes sent so far, as they go.
        sent: &'a (dyn Fn(u64) + Sync),
    },
}

/// Reads `len` bytes of a file from `offset`, without moving its cursor.
struct Slice<'a> {
    file: &'a std::fs::File,
    start: u64,
    at: u64,
    end: u64,
    sent: &'a (dyn Fn(u64) + Sync),
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = (self.end - self.at).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.at += n as u64;
        (self.sent)(self.at - self.start);
        Ok(n)
    }
}

impl Request<'_> {
    /// A request without a body.
    pub fn new(method: http::Method, url: String) -> Request<'static> {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }
}

/// Where diagnostics go (`--debug`), one line each.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// The HTTP side of the client: agents, schemes, retries and redirects.
pub(crate) struct Http {
    /// Agents by TLS settings, connection timeout and proxy use, made
    /// when first needed.
    agents: Mutex<HashMap<AgentKey, Agent>>,
    /// What `hosts.toml` says of a host (`scheme://host`): TLS, headers,
    /// connection timeout.
    hosts: Mutex<HashMap<String, Arc<Endpoint>>>,
    /// Hosts that `hosts.toml` has talked to in plain HTTP.
    plain: Mutex<std::collections::HashSet<String>>,
    plain_http: bool,
    insecure: bool,
    connect_timeout: Duration,
    read_timeout: Duration,
    log: Option<Log>,
}

/// What tells agents apart.
#[derive(Clone, PartialEq, Eq, Hash)]
struct AgentKey {
    tls: Tls,
    connect_timeout: Duration,
    /// Without a proxy (loopback hosts).
    direct: bool,
}

impl Http {
    pub fn new(opts: &Options) -> Result<Http> {
        Ok(Http {
            agents: Mutex::default(),
            hosts: Mutex::default(),
            plain: Mutex::default(),
            plain_http: opts.plain_http,
            insecure: opts.insecure,
            connect_timeout: opts.connect_timeout,
            read_timeout: opts.read_timeout,
            log: opts.log.clone(),
        })
    }

    /// Takes the settings of `endpoint` (a host of `registry`) for every
    /// request to its scheme and host. Two files that set one host apart are an
    /// error: which would win is not the user's to guess.
    pub fn configure(&self, endpoint: &Endpoint, registry: &str) -> Result<()> {
        if endpoint.scheme == "http" {
            lock(&self.plain).insert(endpoint.host.clone());
        }
        if endpoint.tls == Tls::default()
            && endpoint.headers.is_empty()
            && endpoint.dial_timeout.is_none()
        {
            return Ok(());
        }
        let key = format!("{}://{}", endpoint.scheme, endpoint.host);
        let mut hosts = lock(&self.hosts);
        match hosts.get(&key) {
            Some(had)
                if (&had.tls, &had.headers, had.dial_timeout)
                    != (&endpoint.tls, &endpoint.headers, endpoint.dial_timeout) =>
            {
                Err(Error::new(
                    Kind::InvalidContent,
                    format!(
                        "the hosts of {}: {} is set otherwise for another registry (its ca, client, skip_verify, header and dial_timeout must agree)",
                        Untrusted(registry),
                        Untrusted(&key)
                    ),
                ))
            }
            Some(_) => Ok(()),
            None => {
                hosts.insert(key, Arc::new(endpoint.clone()));
                Ok(())
            }
        }
    }

    /// Whether `host` is talked to in plain HTTP: loopback, `--plain-http`,
    /// or an `http://` host of `hosts.toml`.
    pub fn is_plain(&self, host: &str) -> bool {
        self.plain_http || is_loopback(host) || lock(&self.plain).contains(host)
    }

    /// Tells the `--debug` log, if there is one.
    pub fn debug(&self, line: impl FnOnce() -> String) {
        if let Some(log) = &self.log {
            log(&line());
        }
    }

    /// The agent for requests to `host`, with its TLS settings.
    fn agent_for(&self, host: &str, endpoint: Option<&Endpoint>) -> Result<Agent> {
        let key = AgentKey {
            tls: endpoint.map(|e| e.tls.clone()).unwrap_or_default(),
            connect_timeout: endpoint
                .and_then(|e| e.dial_timeout)
                .unwrap_or(self.connect_timeout),
            direct: is_loopback(host),
        };
        if let Some(agent) = lock(&self.agents).get(&key) {
            return Ok(agent.clone());
        }
        let tls = TlsConfig::builder()
            .root_certs(root_certs(&key.tls.ca)?)
            .client_cert(client_cert(&key.tls.client)?)
            .disable_verification(self.insecure || key.tls.skip_verify)
            .build();
        let builder = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .timeout_connect(Some(key.connect_timeout))
            .timeout_per_read(Some(self.read_timeout))
            .timeout_per_write(Some(self.read_timeout))
            .user_agent(format!("dist/{}", crate::VERSION));
        let builder = if key.direct {
            builder.proxy(None)
        } else {
            builder
        };
        let agent = builder.build().new_agent();
        lock(&self.agents).insert(key, agent.clone());
        Ok(agent)
    }

    /// Sends `req` with `auth` (sent only to its own host), retrying
    /// connection errors, 5xx and 429 with backoff and following redirects.
    /// Returns the final response, whatever its status.
    pub fn send(&self, req: &Request<'_>, auth: Option<&Authorization>) -> Result<Response<Body>> {
        self.send_to(req, auth, false)
    }

    /// [`Http::send`] to a mirror when `mirror`: asked once, not retried
    /// (the next host is).
    pub fn send_to(
        &self,
        req: &Request<'_>,
        auth: Option<&Authorization>,
        mirror: bool,
    ) -> Result<Response<Body>> {
        let mut url = req.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let value = auth
                .filter(|a| host_of(&url).is_some_and(|h| h == a.host))
                .filter(|a| url.split("://").next() == Some(a.scheme.as_str()))
                .map(|a| a.value.as_str());
            let resp = self.retrying(req, &url, value, mirror)?;
            let status = resp.status().as_u16();
            if !is_redirect(status) {
                return Ok(resp);
            }
            let Some(location) = header(&resp, "location") else {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!("{url}: redirect ({status}) without a Location"),
                ));
            };
            let next = join_url(&url, &location);
            if !(next.starts_with("https://") || next.starts_with("http://")) {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!(
                        "{url}: refused a redirect to {} (only http and https are followed)",
                        Untrusted(&next)
                    ),
                ));
            }
            self.debug(|| format!("{url}: redirected to {}", Untrusted(&next)));
            url = next;
        }
        Err(Error::new(
            Kind::Unavailable,
            format!("{}: more than {MAX_REDIRECTS} redirects", req.url),
        ))
    }

    /// Calls `url` until the answer is final: connection errors, 5xx and 429
    /// are tried again with backoff (honouring `Retry-After`), [`ATTEMPTS`]
    /// times in all; then the last answer, whatever its status, is returned.
    fn retrying(
        &self,
        req: &Request<'_>,
        url: &str,
        auth: Option<&str>,
        mirror: bool,
    ) -> Result<Response<Body>> {
        let host = host_of(url).unwrap_or_default();
        let scheme = url.split("://").next().unwrap_or("");
        let endpoint = lock(&self.hosts)
            .get(&format!("{scheme}://{host}"))
            .cloned();
        let agent = (self.agent_for(&host, endpoint.as_deref())?, endpoint);
        let mut attempt = 0;
        // A streamed body, or a PATCH, may have been taken in part: sending
        // it again could add to what the registry has. Its caller asks the
        // registry where it stands instead.
        let once = req.method == http::Method::PATCH
            || matches!(req.body, Some(Payload::File { .. }))
            || mirror;
        loop {
            let last = once || attempt + 1 >= ATTEMPTS;
            let backoff = BACKOFF * 2u32.pow(attempt);
            let started = Instant::now();
            let answer = self.call(&agent, req, url, auth);
            let pause = match &answer {
                Ok(r) => {
                    let status = r.status().as_u16();
                    self.debug(|| {
                        let length = header(r, "content-length")
                            .map(|l| format!(" {l} bytes"))
                            .unwrap_or_default();
                        format!(
                            "{} {} {status}{length} {} ms{}",
                            req.method,
                            redact(url),
                            started.elapsed().as_millis(),
                            if auth.is_some() { " (authorized)" } else { "" }
                        )
                    });
                    if last || !(status == 429 || status >= 500) {
                        return answer.map_err(|e| transport_error(url, &e));
                    }
                    retry_after(r).unwrap_or(backoff)
                }
                Err(e) if !last && retryable(e) => {
                    self.debug(|| format!("{} {}: {e}", req.method, redact(url)));
                    backoff
                }
                Err(e) => return Err(transport_error(url, e)),
            };
            let pause = pause.min(MAX_RETRY_AFTER);
            self.debug(|| {
                format!(
                    "{} {}: retrying in {} ms (attempt {} of {ATTEMPTS})",
                    req.method,
                    redact(url),
                    pause.as_millis(),
                    attempt + 2
                )
            });
            std::thread::sleep(pause);
            attempt += 1;
        }
    }

    fn call(
        &self,
        (agent, endpoint): &(Agent, Option<Arc<Endpoint>>),
        req: &Request<'_>,
        url: &str,
        auth: Option<&str>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut builder = http::Request::builder().method(req.method.clone()).uri(url);
        for (name, value) in endpoint.iter().flat_map(|e| &e.headers) {
            builder = builder.header(name.as_str(), value.as_str());
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        match req.body {
            Some(Payload::Bytes(body)) => agent.run(builder.body(body).map_err(ureq::Error::Http)?),
            Some(Payload::File {
                file,
                offset,
                len,
                sent,
            }) => {
                let mut slice = Slice {
                    file,
                    start: offset,
                    at: offset,
                    end: offset + len,
                    sent,
                };
                let body = ureq::SendBody::from_reader(&mut slice);
                let request = builder
                    .header("content-length", len)
                    .body(body)
                    .map_err(ureq::Error::Http)?;
                agent.run(request)
            }
            None => agent.run(builder.body(()).map_err(ureq::Error::Http)?),
        }
    }
}

/// The value of header `name`, if it is text.
pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    header(resp, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn retryable(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
    ) && !unknown_host(e)
        && tls_failure(e).is_none()
}

/// Whether `e` says the host name does not resolve: not worth retrying
/// (the resolver has its own retries), and worth saying plainly.
fn unknown_host(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::HostNotFound)
        || matches!(e, ureq::Error::Io(io) if io.to_string().contains("failed to lookup address"))
}

/// A URL as `--debug` prints it: its query (signatures of storage hosts,
/// upload states) cut off.
fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((path, _)) => format!("{}?…", Untrusted(path)),
        None => Untrusted(url).to_string(),
    }
}

/// A failure to talk to `url` at all.
pub(crate) fn transport_error(url: &str, e: &ureq::Error) -> Error {
    if unknown_host(e) {
        let why = e.to_string();
        let why = why.rsplit(": ").next().unwrap_or("");
        return Error::new(
            Kind::Unavailable,
            format!(
                "{}: the host name does not resolve ({})",
                Untrusted(&host_of(url).unwrap_or_default()),
                Untrusted(why)
            ),
        );
    }
    if let Some(why) = tls_failure(e) {
        return Error::new(
            Kind::PermissionDenied,
            format!(
                "{}: TLS: {} (a registry with a certificate of its own: trust its CA with hosts.toml's ca or a *.crt file, see dist(7), or --insecure)",
                Untrusted(&host_of(url).unwrap_or_default()),
                Untrusted(&why)
            ),
        );
    }
    let text = e.to_string();
    let kind = match e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => Kind::InvalidContent,
        ureq::Error::BodyExceedsLimit(_) => Kind::InvalidContent,
        _ => Kind::Unavailable,
    };
    Error::new(kind, format!("{}: {}", redact(url), Untrusted(&text)))
}

/// What went wrong with TLS, if that is what `e` is: a certificate not
/// trusted or refused, a handshake that failed. Not worth retrying.
fn tls_failure(e: &ureq::Error) -> Option<String> {
    match e {
        ureq::Error::Tls(why) => Some(why.to_string()),
        ureq::Error::Rustls(why) => Some(why.to_string()),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|why| why.to_string()),
        _ => None,
    }
}

/// The kind of error a registry's status means.
pub(crate) fn status_kind(status: u16) -> Kind {
    match status {
        401 => Kind::Unauthenticated,
        403 => Kind::PermissionDenied,
        404 => Kind::NotFound,
        // The size or range we asked for is not what the registry has.
        416 => Kind::DataCorruption,
        429 | 500..=599 => Kind::Unavailable,
        _ => Kind::InvalidContent,
    }
}

/// Turns a response that is not a success into an error about `object`,
/// quoting the registry's own error code and message.
pub(crate) fn status_error(object: &str, resp: Response<Body>) -> Error {
    let (kind, said) = said(resp);
    Error::new(kind, format!("{object}: {} ({said})", kind.name()))
}

/// The kind of error a response means, and `registry said STATUS CODE:
/// message` quoting its error body.
pub(crate) fn said(mut resp: Response<Body>) -> (Kind, String) {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body);
    let quoted = registry_said(&body)
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    (
        status_kind(status),
        format!("registry said {status}{quoted}"),
    )
}

/// `CODE: message` of the first error in a registry error body, escaped.
fn registry_said(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(if msg.is_empty() {
        Untrusted(code).to_string()
    } else {
        format!("{}: {}", Untrusted(code), Untrusted(msg))
    })
}

/// Whether `host` (with or without port) is this machine: plain HTTP and no proxy.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = host_name(host);
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The name of `host[:port]` without its port (and brackets).
pub(crate) fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    }
}

/// The `host[:port]` of an absolute URL.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(authority.to_string())
}

/// Resolves `location` against `base` (absolute, absolute-path or relative).
pub(crate) fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some(abs) = location.strip_prefix("//") {
        return format!("{scheme}://{abs}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("/");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{authority}{dir}/{location}")
}

/// Root certificates: `$SSL_CERT_FILE`, else the system bundle, else the
/// bundled Mozilla set (for minimal systems without one); and the CAs of
/// `extra` files (`hosts.toml`'s `ca`, docker's `*.crt`) beside them.
fn root_certs(extra: &[PathBuf]) -> Result<RootCerts> {
    let candidates = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/ca-bundle.pem",
                "/etc/ssl/cert.pem",
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            ]
            .map(std::path::PathBuf::from),
        );
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        certs = certificates(&pem);
        if !certs.is_empty() {
            break;
        }
    }
    if certs.is_empty() && extra.is_empty() {
        return Ok(RootCerts::WebPki);
    }
    for path in extra {
        let found = certificates(&read_pem(path)?);
        if found.is_empty() {
            return Err(no_pem(path, "certificate"));
        }
        certs.extend(found);
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// The client certificate to show, from (certificate, key) files: the
/// first pair (rustls offers one); the key may be in the certificate's file.
fn client_cert(pairs: &[(PathBuf, Option<PathBuf>)]) -> Result<Option<ClientCert>> {
    let Some((cert, key)) = pairs.first() else {
        return Ok(None);
    };
    let pem = read_pem(cert)?;
    let chain = certificates(&pem);
    if chain.is_empty() {
        return Err(no_pem(cert, "certificate"));
    }
    let (key_file, key_pem) = match key {
        Some(k) => (k, read_pem(k)?),
        None => (cert, pem),
    };
    let key = ureq::tls::parse_pem(&key_pem)
        .find_map(|item| match item {
            Ok(ureq::tls::PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        })
        .ok_or_else(|| no_pem(key_file, "private key"))?;
    Ok(Some(ClientCert::new_with_certs(&chain, key)))
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(&e).context(path.display()))
}

fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

fn no_pem(path: &std::path::Path, what: &str) -> Error {
    Error::new(
        Kind::InvalidContent,
        format!("{}: no PEM {what} in it", path.display()),
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "[::1]",
            "a.localhost",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[::2]:1",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        assert_eq!(host_name("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("reg.io"), "reg.io");
    }

    #[test]
    fn redirect_locations_resolve() {
        let base = "https://reg.io/v2/a/blobs/sha256:1?x=1";
        assert_eq!(
            join_url(base, "https://s3.example/obj?sig=1"),
            "https://s3.example/obj?sig=1"
        );
        assert_eq!(join_url(base, "/other/path"), "https://reg.io/other/path");
        assert_eq!(join_url(base, "//cdn.example/x"), "https://cdn.example/x");
        assert_eq!(join_url(base, "rel"), "https://reg.io/v2/a/blobs/rel");
        assert_eq!(
            host_of("https://user@cdn.example:8443/x?y"),
            Some("cdn.example:8443".to_string())
        );
    }

    #[test]
    fn registry_error_bodies_are_quoted_and_escaped() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_said(body).unwrap(),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(registry_said(b"<html>"), None);
        let evil = br#"{"errors":[{"code":"X","message":"a\u001b]0;pwned\u0007\nforged line"}]}"#;
        let said = registry_said(evil).unwrap();
        assert!(!said.chars().any(|c| c.is_control()), "{said:?}");
    }

    #[test]
    fn urls_lose_their_query_in_the_log() {
        assert_eq!(
            redact("https://s3/x?X-Amz-Signature=secret"),
            "https://s3/x?…"
        );
        assert_eq!(redact("http://r/v2/"), "http://r/v2/");
    }
}
