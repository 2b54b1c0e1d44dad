//! The registry client: the OCI distribution API over blocking `ureq`.
//!
//! [`http`] sends one request (retries, redirects, credentials kept to
//! their host); [`auth`] answers challenges with tokens for a [`Scope`];
//! [`credentials`] finds what docker and podman files hold; [`Remote`] runs
//! the 401 → authorize → retry loop over them; [`hosts`] says which hosts
//! serve a registry (mirrors, then the registry) and how to reach each;
//! [`fetch`] pulls manifests and blobs through them, and [`upload`] pushes
//! them; [`referrers`] lists what refers to a manifest, and keeps the
//! fallback tag's list.

mod auth;
pub mod credentials;
mod fetch;
pub mod hosts;
mod http;
mod referrers;
mod upload;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::Body;
use ureq::http::Response;

pub use auth::Scope;
pub use credentials::{Credentials, Sources};
pub use fetch::{Blob, Object};
pub use hosts::Endpoint;
pub use http::Log;
pub use referrers::{Listed, MAX_REFERRERS, Referrers, tag_of};
pub use upload::{Put, UploadOptions};

use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::reference::Reference;
use auth::{Auth, Party};
use http::{Http, Request, header, status_error};

/// How long to wait for a connection, and for the next byte of an answer,
/// unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach registries.
#[derive(Clone)]
pub struct Options {
    /// Use plain HTTP for every registry (loopback registries always use it).
    pub plain_http: bool,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for the next byte of an answer (or to send one).
    pub read_timeout: Duration,
    /// Where credentials come from.
    pub sources: Sources,
    /// Where `--debug` lines go: one per request, where credentials came
    /// from, why a retry happened. Never a secret.
    pub log: Option<Log>,
    /// Where registries' `hosts.toml` directories are looked for
    /// ([`hosts::search_dirs`]).
    pub hosts_dirs: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            plain_http: false,
            insecure: false,
            connect_timeout: DEFAULT_TIMEOUT,
            read_timeout: DEFAULT_TIMEOUT,
            sources: Sources::default(),
            log: None,
            hosts_dirs: hosts::search_dirs(None),
        }
    }
}

/// A client for registries, with its connections and credentials.
pub struct Remote {
    http: Http,
    auth: Auth,
    plain_http: bool,
    hosts_dirs: Vec<PathBuf>,
    /// The hosts of each registry, as read once.
    hosts: Mutex<HashMap<String, Arc<[Endpoint]>>>,
    /// The hosts each object came from (for `--debug`, events, and to
    /// stop asking a host whose bytes were wrong).
    served: Mutex<HashMap<Digest, Vec<String>>>,
    /// (object, host) pairs not to ask again: the bytes were wrong.
    distrusted: Mutex<HashSet<(Digest, String)>>,
    /// Mirrors that could not be reached: not asked again.
    down: Mutex<HashSet<String>>,
}

/// What a host is asked to do, as `hosts.toml`'s capabilities say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Resolve a tag.
    Resolve,
    /// Give an object by digest.
    Pull,
    /// Take an upload.
    Push,
}

impl Role {
    fn allowed(self, e: &Endpoint) -> bool {
        match self {
            Role::Resolve => e.caps.resolve,
            Role::Pull => e.caps.pull,
            Role::Push => e.caps.push,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Resolve => "resolve",
            Role::Pull => "pull",
            Role::Push => "push",
        }
    }
}

impl Remote {
    /// A client with `opts`.
    pub fn new(opts: &Options) -> Result<Remote> {
        Ok(Remote {
            http: Http::new(opts)?,
            auth: Auth::new(opts.sources.clone()),
            plain_http: opts.plain_http,
            hosts_dirs: opts.hosts_dirs.clone(),
            hosts: Mutex::default(),
            served: Mutex::default(),
            distrusted: Mutex::default(),
            down: Mutex::default(),
        })
    }

    /// The hosts that serve `registry` (a reference's domain; `api_host`
    /// its own API host), mirrors first, read once.
    pub fn endpoints(&self, registry: &str, api_host: &str) -> Result<Arc<[Endpoint]>> {
        if let Some(e) = lock(&self.hosts).get(registry) {
            return Ok(e.clone());
        }
        let found: Arc<[Endpoint]> =
            hosts::endpoints(&self.hosts_dirs, registry, api_host, self.plain_http)?.into();
        for e in found.iter() {
            self.http.configure(e, registry)?;
        }
        if found.len() > 1 {
            self.http.debug(|| {
                let list: Vec<String> = found
                    .iter()
                    .map(|e| format!("{}://{}{} ({})", e.scheme, e.host, e.path, caps(e)))
                    .collect();
                format!("hosts of {registry}: {}", list.join(", "))
            });
        }
        lock(&self.hosts).insert(registry.to_string(), found.clone());
        Ok(found)
    }

    /// Asks `f` of the hosts of `r`'s registry that may do `role`, in order,
    /// from `from` (a host) on when given, until one succeeds; a host that
    /// fails is skipped (and said so in `--debug`) while another is left.
    /// For `object` (a digest), hosts whose bytes of it were wrong are not
    /// asked again. Returns what `f` gave and the host that gave it.
    pub(crate) fn route<T>(
        &self,
        r: &Reference,
        role: Role,
        object: Option<&Digest>,
        from: Option<&str>,
        mut f: impl FnMut(&Endpoint) -> Result<T>,
    ) -> Result<(T, Endpoint)> {
        let all = self.endpoints(r.domain(), r.api_host())?;
        let distrusted = lock(&self.distrusted).clone();
        let down = lock(&self.down).clone();
        let mut hosts: Vec<&Endpoint> = all
            .iter()
            .filter(|e| role.allowed(e))
            .filter(|e| e.upstream || !down.contains(&e.host))
            .filter(|e| object.is_none_or(|d| !distrusted.contains(&(d.clone(), e.host.clone()))))
            .collect();
        if role == Role::Push {
            hosts.truncate(1);
        }
        if let Some(from) = from
            && let Some(at) = hosts.iter().position(|e| e.host == from)
        {
            hosts.drain(..at);
        }
        if hosts.is_empty() {
            return Err(Error::new(
                Kind::FailedPrecondition,
                format!(
                    "{}: no host of it may {} (the capabilities of its hosts.toml)",
                    r.domain(),
                    role.name()
                ),
            ));
        }
        let last = hosts.len() - 1;
        for (i, e) in hosts.into_iter().enumerate() {
            match f(e) {
                Ok(v) => return Ok((v, e.clone())),
                Err(err) if i < last => {
                    // Unreachable, or failing whatever it is asked.
                    let gone = err.kind() == Kind::Unavailable && !e.upstream;
                    self.http.debug(|| {
                        let again = if gone { "; not asked again" } else { "" };
                        format!("{r}: skipped {}: {err}{again}", e.host)
                    });
                    if gone {
                        lock(&self.down).insert(e.host.clone());
                    }
                }
                Err(err) => return Err(err),
            }
        }
        unreachable!("the last host returns")
    }

    /// `scheme://host/v2/REPO/path` on the registry of `r` itself, not a
    /// mirror: for what mirrors do not keep (the referrers API, the
    /// fallback tag's list).
    pub(crate) fn registry_url(&self, r: &Reference, path: &str) -> Result<String> {
        let e = self.upstream(r.domain(), r.api_host())?;
        Ok(e.url(r.domain(), &format!("{}/{path}", r.path())))
    }

    /// The registry's own host among its hosts (the last).
    fn upstream(&self, registry: &str, api_host: &str) -> Result<Endpoint> {
        let all = self.endpoints(registry, api_host)?;
        let Some(e) = all.iter().find(|e| e.upstream) else {
            unreachable!("the registry itself is always a host");
        };
        Ok(e.clone())
    }

    /// Notes that `host` served (some of) `object`.
    pub(crate) fn served(&self, object: &Digest, host: &str) {
        let mut served = lock(&self.served);
        let hosts = served.entry(object.clone()).or_default();
        if !hosts.iter().any(|h| h == host) {
            self.http.debug(|| format!("{object}: from {host}"));
            hosts.push(host.to_string());
        }
    }

    /// Stops asking the mirror `host` for `object` (its answer broke off);
    /// whether it is a mirror (the registry itself is always asked).
    pub(crate) fn skip(&self, object: &Digest, host: &str) -> bool {
        if self.upstreams().iter().any(|h| h == host) {
            return false;
        }
        self.http
            .debug(|| format!("{object}: {host} broke off; asking the next host for the rest"));
        lock(&self.distrusted).insert((object.clone(), host.to_string()));
        true
    }

    /// The registries' own hosts.
    fn upstreams(&self) -> Vec<String> {
        lock(&self.hosts)
            .values()
            .flat_map(|all| all.iter().filter(|e| e.upstream).map(|e| e.host.clone()))
            .collect()
    }

    /// The host that last served `object`, if one did.
    pub fn served_by(&self, object: &Digest) -> Option<String> {
        lock(&self.served).get(object)?.last().cloned()
    }

    /// Stops asking the mirrors that served `object` for it: its bytes
    /// turned out wrong. Whether one was (then another host may serve it
    /// right).
    pub fn distrust(&self, object: &Digest) -> bool {
        let hosts = lock(&self.served).remove(object).unwrap_or_default();
        let upstreams = self.upstreams();
        let mut distrusted = lock(&self.distrusted);
        let mut any = false;
        for host in hosts.into_iter().filter(|h| !upstreams.contains(h)) {
            self.http.debug(|| {
                format!("{object}: the bytes {host} sent were wrong; not asking it again")
            });
            any |= distrusted.insert((object.clone(), host));
        }
        any
    }

    /// Checks that the registry `host` takes the credentials these options
    /// give: `GET /v2/`, answering its challenge. `Ok(false)` when the
    /// registry asks for none at all.
    pub fn check_login(&self, host: &str) -> Result<bool> {
        let registry = match host {
            "registry-1.docker.io" => "docker.io",
            h => h,
        };
        let e = self.upstream(registry, host)?;
        let req = Request::new(
            ureq::http::Method::GET,
            format!("{}://{}{}/", e.scheme, e.host, e.path),
        );
        let scope = Scope::default();
        let to = Party {
            host: &e.host,
            mirror: false,
        };
        let asked = self.auth.header(to, &scope).is_none();
        let resp = self.send(&e, &scope, &req)?;
        if !resp.status().is_success() {
            return Err(status_error(host, resp));
        }
        Ok(asked && self.auth.header(to, &scope).is_some())
    }

    /// Sends `req` to the host `e` with what `scope` needs: the
    /// `Authorization` known for it, or, on a 401, the one its challenge
    /// asks for, then once more. A 401 after that is an error naming the
    /// credentials tried. A mirror is asked once: the next host is its
    /// retry.
    fn send(&self, e: &Endpoint, scope: &Scope, req: &Request<'_>) -> Result<Response<Body>> {
        let to = Party {
            host: &e.host,
            mirror: !e.upstream,
        };
        let mut auth = self.auth.header(to, scope);
        let mut authorized = false;
        loop {
            let resp = self.http.send_to(req, auth.as_ref(), to.mirror)?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            if authorized {
                let object = scope.object(&e.host);
                return Err(self.auth.refused(to, status_error(&object, resp)));
            }
            let challenge = header(&resp, "www-authenticate").unwrap_or_default();
            let scheme = req.url.split("://").next().unwrap_or("");
            auth = Some(
                self.auth
                    .authorize(&self.http, to, scheme, scope, &challenge)?,
            );
            authorized = true;
        }
    }
}

fn caps(e: &Endpoint) -> String {
    let mut out = Vec::new();
    for (on, name) in [
        (e.caps.pull, "pull"),
        (e.caps.resolve, "resolve"),
        (e.caps.push, "push"),
    ] {
        if on {
            out.push(name);
        }
    }
    out.join(" ")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
