//! The registry client: the OCI distribution API over blocking `ureq`.
//!
//! [`http`] sends one request (retries, redirects, credentials kept to
//! their host); [`auth`] answers challenges with tokens for a [`Scope`];
//! [`credentials`] finds what docker and podman files hold; [`Remote`] runs
//! the 401 → authorize → retry loop over them; [`fetch`] pulls manifests
//! and blobs through it, and [`upload`] pushes them; [`referrers`] lists
//! what refers to a manifest, and keeps the fallback tag's list.

mod auth;
pub mod credentials;
mod fetch;
mod http;
mod referrers;
mod upload;

use std::time::Duration;

use ureq::Body;
use ureq::http::Response;

pub use auth::Scope;
pub use credentials::{Credentials, Sources};
pub use fetch::{Blob, Object};
pub use http::Log;
pub use referrers::{Listed, MAX_REFERRERS, Referrers, tag_of};
pub use upload::{Put, UploadOptions};

use crate::error::Result;
use auth::Auth;
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
        }
    }
}

/// A client for registries, with its connections and credentials.
pub struct Remote {
    http: Http,
    auth: Auth,
}

impl Remote {
    /// A client with `opts`.
    pub fn new(opts: &Options) -> Result<Remote> {
        Ok(Remote {
            http: Http::new(opts)?,
            auth: Auth::new(opts.sources.clone()),
        })
    }

    /// `scheme://host/v2/path`.
    fn url(&self, host: &str, path: &str) -> String {
        format!("{}://{host}/v2/{path}", self.http.scheme(host))
    }

    /// Checks that the registry `host` takes the credentials these options
    /// give: `GET /v2/`, answering its challenge. `Ok(false)` when the
    /// registry asks for none at all.
    pub fn check_login(&self, host: &str) -> Result<bool> {
        let req = Request::new(ureq::http::Method::GET, self.url(host, ""));
        let scope = Scope::default();
        let asked = self.auth.header(host, &scope).is_none();
        let resp = self.send(host, &scope, &req)?;
        if !resp.status().is_success() {
            return Err(status_error(host, resp));
        }
        Ok(asked && self.auth.header(host, &scope).is_some())
    }

    /// Sends `req` to the registry `host` with what `scope` needs: the
    /// `Authorization` known for it, or, on a 401, the one its challenge
    /// asks for, then once more. A 401 after that is an error naming the
    /// credentials tried.
    fn send(&self, host: &str, scope: &Scope, req: &Request<'_>) -> Result<Response<Body>> {
        let mut auth = self.auth.header(host, scope);
        let mut authorized = false;
        loop {
            let resp = self.http.send(req, auth.as_ref())?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            if authorized {
                let object = scope.object(host);
                return Err(self.auth.refused(host, status_error(&object, resp)));
            }
            let challenge = header(&resp, "www-authenticate").unwrap_or_default();
            auth = Some(self.auth.authorize(&self.http, host, scope, &challenge)?);
            authorized = true;
        }
    }
}
