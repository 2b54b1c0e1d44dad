//! The HTTP transport under the registry client: ureq agents with the right
//! TLS roots, plain HTTP for loopback, bounded retries with backoff, redirects
//! followed by hand so that credentials never leave the registry's host, and
//! registry error bodies turned into one-line errors.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::{self, Response};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::Options;
use super::auth::Auth;
use crate::error::{Error, Kind, Result};

/// Attempts of one request before a connection error, 5xx or 429 is final.
const ATTEMPTS: u32 = 6;
/// First pause between attempts; doubles each time.
const BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` we honour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;

/// What one request asks of a registry.
pub(crate) struct Request<'a> {
    pub method: http::Method,
    /// The registry's API host (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub host: &'a str,
    /// Path and query, starting with `/v2/`.
    pub path: String,
    /// The repository, for the auth scope.
    pub repository: &'a str,
    pub headers: Vec<(&'static str, String)>,
}

pub(crate) struct Transport {
    agent: Agent,
    /// The same agent without a proxy, for loopback hosts.
    direct: Agent,
    plain_http: bool,
    pub(crate) auth: Auth,
}

impl Transport {
    pub fn new(opts: &Options) -> Result<Transport> {
        let tls = TlsConfig::builder()
            .root_certs(root_certs())
            .disable_verification(opts.insecure)
            .build();
        let config = |proxy: bool| {
            let builder = Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .tls_config(tls.clone())
                .timeout_connect(Some(Duration::from_secs(30)))
                .timeout_recv_response(Some(Duration::from_secs(120)))
                .user_agent(format!("dist/{}", crate::cli::VERSION));
            let builder = if proxy { builder } else { builder.proxy(None) };
            builder.build().new_agent()
        };
        Ok(Transport {
            agent: config(true),
            direct: config(false),
            plain_http: opts.plain_http,
            auth: Auth::default(),
        })
    }

    /// `http` for loopback hosts and with `--plain-http`, else `https`.
    pub fn scheme(&self, host: &str) -> &'static str {
        if self.plain_http || is_loopback(host) {
            "http"
        } else {
            "https"
        }
    }

    fn agent_for(&self, host: &str) -> &Agent {
        if is_loopback(host) {
            &self.direct
        } else {
            &self.agent
        }
    }

    /// Sends `req`: authorizes on a 401 challenge, retries connection errors,
    /// 5xx and 429 with backoff, and follows redirects, sending credentials
    /// only to the registry's own host. Returns the final response, whatever
    /// its status.
    pub fn send(&self, req: &Request<'_>) -> Result<Response<Body>> {
        let url = format!("{}://{}{}", self.scheme(req.host), req.host, req.path);
        let mut authorized = false;
        loop {
            let auth = self.auth.header(req.host, req.repository);
            let resp = retrying(&url, || {
                self.call(&req.method, &url, &req.headers, auth.as_deref())
            })?;
            let status = resp.status().as_u16();
            if status == 401 && !authorized {
                let challenge = header(&resp, "www-authenticate").unwrap_or_default();
                self.auth
                    .authorize(self, req.host, req.repository, &challenge)?;
                authorized = true;
                continue;
            }
            if is_redirect(status) {
                return self.follow(req, &url, resp);
            }
            return Ok(resp);
        }
    }

    /// Follows the redirects of a response to `from`. The registry's
    /// `Authorization` goes only to the registry's host; storage hosts get
    /// none (their URLs carry their own signatures).
    fn follow(
        &self,
        req: &Request<'_>,
        from: &str,
        mut resp: Response<Body>,
    ) -> Result<Response<Body>> {
        let mut url = from.to_string();
        for _ in 0..MAX_REDIRECTS {
            let Some(location) = header(&resp, "location") else {
                return Err(Error::new(
                    Kind::Unavailable,
                    format!("{url}: redirect without a Location"),
                ));
            };
            url = join_url(&url, &location);
            let same_host = host_of(&url).is_some_and(|h| h == req.host);
            let auth = if same_host {
                self.auth.header(req.host, req.repository)
            } else {
                None
            };
            resp = retrying(&url, || {
                self.call(&req.method, &url, &req.headers, auth.as_deref())
            })?;
            if !is_redirect(resp.status().as_u16()) {
                return Ok(resp);
            }
        }
        Err(Error::new(
            Kind::Unavailable,
            format!("{from}: more than {MAX_REDIRECTS} redirects"),
        ))
    }

    fn call(
        &self,
        method: &http::Method,
        url: &str,
        headers: &[(&'static str, String)],
        auth: Option<&str>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut builder = http::Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let request = builder.body(()).map_err(ureq::Error::Http)?;
        let host = host_of(url).unwrap_or_default();
        self.agent_for(&host).run(request)
    }

    /// A plain GET (or form POST) to an auth realm, with optional Basic credentials.
    pub fn realm_request(
        &self,
        url: &str,
        basic: Option<&str>,
        form: Option<&str>,
    ) -> Result<Response<Body>> {
        let host = host_of(url).unwrap_or_default();
        retrying(url, || {
            let mut builder = http::Request::builder().uri(url);
            if let Some(b) = basic {
                builder = builder.header("authorization", format!("Basic {b}"));
            }
            let agent = self.agent_for(&host);
            match form {
                Some(form) => builder
                    .method("POST")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form.to_string())
                    .map_err(ureq::Error::Http)
                    .and_then(|r| agent.run(r)),
                None => builder
                    .method("GET")
                    .body(())
                    .map_err(ureq::Error::Http)
                    .and_then(|r| agent.run(r)),
            }
        })
    }
}

/// Calls `call` until its answer is final: connection errors, 5xx and 429
/// are tried again with backoff (honouring `Retry-After`), [`ATTEMPTS`]
/// times in all; then the last answer, whatever its status, is returned.
fn retrying(
    url: &str,
    mut call: impl FnMut() -> std::result::Result<Response<Body>, ureq::Error>,
) -> Result<Response<Body>> {
    let mut attempt = 0;
    loop {
        let last = attempt + 1 >= ATTEMPTS;
        let backoff = BACKOFF * 2u32.pow(attempt);
        let pause = match call() {
            Ok(r) if !last && (r.status().as_u16() == 429 || r.status().as_u16() >= 500) => {
                retry_after(&r).unwrap_or(backoff)
            }
            Ok(r) => return Ok(r),
            Err(e) if !last && retryable(&e) => backoff,
            Err(e) => return Err(transport_error(url, &e)),
        };
        std::thread::sleep(pause.min(MAX_RETRY_AFTER));
        attempt += 1;
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
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// A failure to talk to `url` at all.
pub(crate) fn transport_error(url: &str, e: &ureq::Error) -> Error {
    let text = e.to_string();
    let kind = match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Kind::FailedPrecondition,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => Kind::InvalidArgument,
        ureq::Error::BodyExceedsLimit(_) => Kind::InvalidContent,
        _ => Kind::Unavailable,
    };
    let hint = if kind == Kind::FailedPrecondition {
        " (for a registry with a self-signed certificate: --insecure)"
    } else {
        ""
    };
    Error::new(kind, format!("{url}: {text}{hint}"))
}

/// Turns a response that is not a success into an error about `object`,
/// quoting the registry's own error code and message.
pub(crate) fn status_error(object: &str, mut resp: Response<Body>) -> Error {
    let status = resp.status().as_u16();
    let kind = match status {
        401 => Kind::Unauthenticated,
        403 => Kind::PermissionDenied,
        404 => Kind::NotFound,
        400 | 405 | 414 => Kind::InvalidArgument,
        416 => Kind::InvalidArgument,
        429 | 500..=599 => Kind::Unavailable,
        _ => Kind::Internal,
    };
    let mut body = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(64 * 1024)
        .read_to_end(&mut body);
    let said = registry_said(&body)
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    Error::new(
        kind,
        format!("{object}: {} (registry said {status}{said})", kind.name()),
    )
}

/// `CODE: message` of the first error in a registry error body.
fn registry_said(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(if msg.is_empty() {
        code.to_string()
    } else {
        format!("{code}: {msg}")
    })
}

/// Whether `host` (with or without port) is this machine: plain HTTP and no proxy.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
/// bundled Mozilla set (for minimal systems without one).
fn root_certs() -> RootCerts {
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
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            return RootCerts::Specific(Arc::new(certs));
        }
    }
    RootCerts::WebPki
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
    fn registry_error_bodies_are_quoted() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(
            registry_said(body).unwrap(),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(registry_said(b"<html>"), None);
    }
}
