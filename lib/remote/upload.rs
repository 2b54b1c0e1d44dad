//! Putting content into a registry (OCI distribution spec, "Pushing blobs",
//! "Mounting a blob from another repository", "Pushing Manifests"): a HEAD
//! first (a blob the registry has is not sent), a cross-repository mount
//! when another repository of the registry has it, else an upload session
//! (one `PUT` with the body, or `PATCH` chunks closed by a `PUT`) that asks
//! the registry where it stands after a broken connection and goes on from
//! there; manifests last, their exact bytes, the registry's
//! `Docker-Content-Digest` checked against what was sent.
//!
//! A session's `Location` may point anywhere: the registry's `Authorization`
//! goes only to the registry's own host (see [`super::http`]).

use std::fs::File;
use std::time::Duration;

use ::ureq::http::Method;

use super::auth::Scope;
use super::hosts::Endpoint;
use super::http::{Payload, Request, header, join_url, said, status_error};
use super::{Remote, Role};
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Kind, Result, Untrusted};
use crate::reference::Reference;

/// Times an upload starts again (a new session) before it fails.
const ATTEMPTS: u32 = 4;

/// How a blob got into the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The registry had it already: nothing was sent.
    Existed,
    /// Mounted from this repository of the same registry: nothing was sent.
    Mounted(String),
    /// Uploaded: these many bytes were sent.
    Uploaded(u64),
}

/// How to upload.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadOptions {
    /// Send blobs in `PATCH` chunks of this many bytes (else one `PUT`).
    pub chunk: Option<u64>,
}

/// What starting an upload gave.
enum Start {
    Mounted,
    Session(String),
}

impl Remote {
    /// A request to `r`'s repository (`path` below it, or an absolute URL
    /// the registry gave) with the access `scope` grants.
    fn push_send(
        &self,
        r: &Reference,
        scope: &Scope,
        method: Method,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Option<Payload<'_>>,
    ) -> Result<::ureq::http::Response<::ureq::Body>> {
        let req = Request {
            method,
            url,
            headers,
            body,
        };
        self.send(&self.push_host(r)?, scope, &req)
    }

    /// The host pushes to `r`'s registry go to: the first that may take
    /// them (the registry itself, unless `hosts.toml` says otherwise).
    fn push_host(&self, r: &Reference) -> Result<Endpoint> {
        self.route(r, Role::Push, None, None, |_| Ok(()))
            .map(|(_, e)| e)
    }

    /// `scheme://host/v2/REPO/path` on the push host.
    fn repo_url(&self, r: &Reference, path: &str) -> Result<String> {
        Ok(self
            .push_host(r)?
            .url(r.domain(), &format!("{}/{path}", r.path())))
    }

    /// Whether `r`'s repository has the blob `d` (a `HEAD`).
    pub fn has_blob(&self, r: &Reference, d: &Descriptor) -> Result<bool> {
        let url = self.repo_url(r, &format!("blobs/{}", d.digest))?;
        let resp = self.push_send(r, &Scope::push(r.path()), Method::HEAD, url, vec![], None)?;
        match resp.status().as_u16() {
            200 => Ok(header(&resp, "content-length")
                .and_then(|l| l.parse::<u64>().ok())
                .is_none_or(|l| l == d.size)),
            404 => Ok(false),
            _ => Err(status_error(&format!("{}@{}", r.name(), d.digest), resp)),
        }
    }

    /// Puts the blob `d`, whose bytes are `file`, into `r`'s repository:
    /// skipped when it is there, mounted from one of the repositories
    /// `from` (of the same registry) when the registry lets us, else
    /// uploaded. `sent` is told the bytes sent as they go.
    pub fn put_blob(
        &self,
        r: &Reference,
        d: &Descriptor,
        file: &File,
        from: &[String],
        opts: UploadOptions,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<Put> {
        if self.has_blob(r, d)? {
            return Ok(Put::Existed);
        }
        let object = format!("{}@{}", r.name(), d.digest);
        let mut session = None;
        for repo in from.iter().filter(|f| f.as_str() != r.path()) {
            match self.start(r, Some((&d.digest, repo))) {
                Ok(Start::Mounted) => return Ok(Put::Mounted(repo.clone())),
                Ok(Start::Session(url)) => {
                    session = Some(url);
                    break;
                }
                // Refused or failed: a plain upload will do.
                Err(e) => self
                    .http
                    .debug(|| format!("{object}: no mount from {repo}: {e}")),
            }
        }
        let mut attempt = 0;
        loop {
            let url = match session.take() {
                Some(url) => url,
                None => match self.start(r, None)? {
                    Start::Session(url) => url,
                    Start::Mounted => return Ok(Put::Mounted(String::new())),
                },
            };
            let done = match opts.chunk {
                Some(chunk) => self.chunked(r, d, file, &url, chunk.max(1), sent),
                None => self.monolithic(r, d, file, &url, sent),
            };
            match done {
                Ok(()) => return Ok(Put::Uploaded(d.size)),
                Err(e) if attempt + 1 < ATTEMPTS && retry_upload(&e) => {
                    self.http
                        .debug(|| format!("{object}: upload again from nothing: {e}"));
                    self.abandon(r, &url);
                    std::thread::sleep(Duration::from_millis(250) * 2u32.pow(attempt));
                    attempt += 1;
                }
                Err(e) => {
                    self.abandon(r, &url);
                    return Err(e);
                }
            }
        }
    }

    /// `POST …/blobs/uploads/`, with `?mount=&from=` for a mount.
    fn start(&self, r: &Reference, mount: Option<(&Digest, &str)>) -> Result<Start> {
        let mut url = self.repo_url(r, "blobs/uploads/")?;
        let mut scope = Scope::push(r.path());
        if let Some((digest, from)) = mount {
            url.push_str(&format!(
                "?mount={}&from={}",
                super::auth::url_encode(&digest.to_string()),
                super::auth::url_encode(from)
            ));
            scope = scope.with(from, &["pull"]);
        }
        let headers = vec![("content-length", "0".to_string())];
        let resp = self.push_send(r, &scope, Method::POST, url.clone(), headers, None)?;
        match (resp.status().as_u16(), mount) {
            (201, Some(_)) => Ok(Start::Mounted),
            (202, _) => Ok(Start::Session(location(&url, &resp)?)),
            _ => Err(status_error(
                &format!("{}: starting an upload", r.name()),
                resp,
            )),
        }
    }

    /// One `PUT` with the whole blob.
    fn monolithic(
        &self,
        r: &Reference,
        d: &Descriptor,
        file: &File,
        url: &str,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let body = Payload::File {
            file,
            offset: 0,
            len: d.size,
            sent,
        };
        self.close(r, d, url, Some(body))
    }

    /// `PATCH` chunks from where the session stands, then the closing `PUT`.
    fn chunked(
        &self,
        r: &Reference,
        d: &Descriptor,
        file: &File,
        url: &str,
        chunk: u64,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let scope = Scope::push(r.path());
        let mut url = url.to_string();
        let mut offset = 0;
        let mut broken = 0;
        while offset < d.size {
            let len = chunk.min(d.size - offset);
            let body = Payload::File {
                file,
                offset,
                len,
                sent: &|n| sent(offset + n),
            };
            let headers = vec![
                ("content-type", "application/octet-stream".to_string()),
                ("content-range", format!("{offset}-{}", offset + len - 1)),
            ];
            let answer = self.push_send(r, &scope, Method::PATCH, url.clone(), headers, Some(body));
            match answer {
                Ok(resp) if resp.status().as_u16() == 202 => {
                    url = location(&url, &resp)?;
                    offset = match upload_range(&resp) {
                        Some(end) => end,
                        None => offset + len,
                    };
                    broken = 0;
                }
                // The connection broke, or the registry did not take the
                // chunk: where does the session stand?
                outcome if broken < ATTEMPTS => {
                    let why = match outcome {
                        Ok(resp) => said(resp).1,
                        Err(e) => e.to_string(),
                    };
                    broken += 1;
                    std::thread::sleep(Duration::from_millis(250) * 2u32.pow(broken - 1));
                    let (at, now) = self.status(r, &url)?;
                    self.http.debug(|| {
                        format!(
                            "{}@{}: chunk at {offset} failed ({why}); the session has {at} bytes",
                            r.name(),
                            d.digest
                        )
                    });
                    url = now;
                    offset = at;
                }
                Ok(resp) => return Err(status_error(&format!("{}@{}", r.name(), d.digest), resp)),
                Err(e) => return Err(e),
            }
        }
        self.close(r, d, &url, None)
    }

    /// Where the session `url` stands: the bytes it has, and its newest URL.
    fn status(&self, r: &Reference, url: &str) -> Result<(u64, String)> {
        let scope = Scope::push(r.path());
        let resp = self.push_send(r, &scope, Method::GET, url.to_string(), vec![], None)?;
        if resp.status().as_u16() != 204 {
            return Err(status_error(&format!("{}: upload session", r.name()), resp));
        }
        let at = upload_range(&resp).unwrap_or(0);
        Ok((at, location(url, &resp)?))
    }

    /// The closing `PUT …&digest=D` (with the whole blob as `body`, or
    /// none after chunks); checks the digest the registry answers.
    fn close(
        &self,
        r: &Reference,
        d: &Descriptor,
        url: &str,
        body: Option<Payload<'_>>,
    ) -> Result<()> {
        let url = with_query(url, "digest", &d.digest.to_string());
        let mut headers = vec![("content-type", "application/octet-stream".to_string())];
        if body.is_none() {
            headers.push(("content-length", "0".to_string()));
        }
        let scope = Scope::push(r.path());
        let resp = self.push_send(r, &scope, Method::PUT, url, headers, body)?;
        let object = format!("{}@{}", r.name(), d.digest);
        if resp.status().as_u16() != 201 {
            return Err(status_error(&object, resp));
        }
        check_digest(&object, &resp, &d.digest)
    }

    /// Abandons the session `url` (`DELETE`), as well as it can.
    fn abandon(&self, r: &Reference, url: &str) {
        let scope = Scope::push(r.path());
        let _ = self.push_send(r, &scope, Method::DELETE, url.to_string(), vec![], None);
    }

    /// Puts the manifest or index `d`, whose exact bytes are `body`, as
    /// `reference` (a tag, or its digest) of `r`'s repository.
    pub fn put_manifest(
        &self,
        r: &Reference,
        reference: &str,
        d: &Descriptor,
        body: &[u8],
    ) -> Result<()> {
        self.put_manifest_if(r, reference, d, body, None).map(drop)
    }

    /// [`Remote::put_manifest`], with `If-Match: etag` when given (a
    /// registry that finds the tag changed answers 412: a
    /// [`Kind::FailedPrecondition`] error). Returns the registry's
    /// `OCI-Subject`: a registry with the referrers API says so when it
    /// took the manifest's `subject` into account.
    pub(super) fn put_manifest_if(
        &self,
        r: &Reference,
        reference: &str,
        d: &Descriptor,
        body: &[u8],
        etag: Option<&str>,
    ) -> Result<Option<String>> {
        let url = self.repo_url(r, &format!("manifests/{reference}"))?;
        let mut headers = vec![("content-type", d.media_type.clone())];
        if let Some(etag) = etag {
            headers.push(("if-match", etag.to_string()));
        }
        let scope = Scope::push(r.path());
        let resp = self.push_send(
            r,
            &scope,
            Method::PUT,
            url,
            headers,
            Some(Payload::Bytes(body)),
        )?;
        let object = format!("{}:{reference}", r.name());
        match resp.status().as_u16() {
            201 => {}
            412 => {
                return Err(Error::new(
                    Kind::FailedPrecondition,
                    format!("{object}: changed since it was read (registry said 412)"),
                ));
            }
            _ => return Err(status_error(&object, resp)),
        }
        check_digest(&object, &resp, &d.digest)?;
        Ok(header(&resp, "oci-subject"))
    }
}

/// Whether a failed upload is worth a new session: the registry or the
/// network failed, or the session was lost; not when it refused us or
/// the content.
fn retry_upload(e: &Error) -> bool {
    matches!(
        e.kind(),
        Kind::Unavailable | Kind::NotFound | Kind::DataCorruption
    ) || e.message().contains("(registry said 416")
}

/// The newest `Location` of an answer to `url`, resolved against it.
fn location(url: &str, resp: &::ureq::http::Response<::ureq::Body>) -> Result<String> {
    let loc = header(resp, "location").ok_or_else(|| {
        Error::new(
            Kind::InvalidContent,
            format!("{url}: the registry gave no Location for the upload"),
        )
    })?;
    let next = join_url(url, &loc);
    if !(next.starts_with("https://") || next.starts_with("http://")) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{url}: refused the upload Location {}", Untrusted(&next)),
        ));
    }
    Ok(next)
}

/// The end (exclusive) of an upload session's `Range: 0-N`.
fn upload_range(resp: &::ureq::http::Response<::ureq::Body>) -> Option<u64> {
    let range = header(resp, "range")?;
    let end = range.trim().trim_start_matches("bytes=").split_once('-')?.1;
    end.trim().parse::<u64>().ok().map(|n| n + 1)
}

/// `url` with `key=value` added to its query, keeping what is there.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, ""), |(b, f)| (b, f));
    let sep = match base.contains('?') {
        true if base.ends_with('?') || base.ends_with('&') => "",
        true => "&",
        false => "?",
    };
    let mut out = format!("{base}{sep}{key}={}", super::auth::url_encode(value));
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Refuses an answer whose `Docker-Content-Digest` is not `want`.
fn check_digest(
    object: &str,
    resp: &::ureq::http::Response<::ureq::Body>,
    want: &Digest,
) -> Result<()> {
    match header(resp, "docker-content-digest") {
        Some(got) if got.trim() != want.to_string() => Err(Error::new(
            Kind::DataCorruption,
            format!(
                "{object}: the registry says it stored {}, not the {want} sent; not trusted",
                Untrusted(got.trim())
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_goes_into_the_query_the_session_url_has() {
        let d = "sha256:ab";
        assert_eq!(
            with_query("https://r/v2/a/blobs/uploads/u?_state=x%3D", "digest", d),
            "https://r/v2/a/blobs/uploads/u?_state=x%3D&digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://r/up/u", "digest", d),
            "http://r/up/u?digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://r/u?", "digest", d),
            "http://r/u?digest=sha256%3Aab"
        );
    }

    #[test]
    fn relative_locations_resolve_against_the_request() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/uploads/";
        assert_eq!(
            join_url(base, "/v2/a/blobs/uploads/u1?_state=s"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=s"
        );
        assert_eq!(
            join_url(base, "u2"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u2"
        );
    }
}
