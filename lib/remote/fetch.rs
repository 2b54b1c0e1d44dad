//! Fetching from a registry: resolving a name to a descriptor, manifests
//! (verified, bounded in size) and blobs (streamed, verified as they
//! stream, resumed with `Range` when the connection breaks).
//!
//! Everything a registry sends is untrusted until its digest matches. This
//! module knows nothing of the store: callers decide where bytes go.

use std::io::{self, Read};
use std::time::Duration;

use ::ureq::http::Method;

use super::auth::Scope;
use super::hosts::Endpoint;
use super::http::{Request, header, status_error};
use super::{Remote, Role};
use crate::descriptor::{self, Descriptor};
use crate::digest::{Digest, Digester};
use crate::error::{Error, Kind, Result, Untrusted};
use crate::manifest::{self, Index, MAX_MANIFEST, sniff};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::stream::{Chunk, ReadAhead};

/// Blobs up to this size are received on the reading thread itself.
const SHORT_BLOB: u64 = 4 << 20;
/// Interruptions of one blob download in a row (no byte between them)
/// that are resumed before giving up.
const RESUMES: u32 = 8;
/// Resumptions of one blob download in all.
const MAX_RESUMED: u32 = 128;

/// What `fetch` found for a digest: a manifest (read whole) or a blob (a stream).
#[allow(clippy::large_enum_variant)] // one per fetch, never in a collection
pub enum Object<'a> {
    /// A manifest or index, verified.
    Manifest(Descriptor, Vec<u8>),
    /// A blob, verified as it is read.
    Blob(Blob<'a>),
}

impl Remote {
    /// Sends `method` for `path` (below the repository) of `r`'s repository
    /// to the host `e`, with pull access.
    fn pull_request(
        &self,
        e: &Endpoint,
        r: &Reference,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<::ureq::http::Response<::ureq::Body>> {
        let mut req = Request::new(method, e.url(r.domain(), &format!("{}/{path}", r.path())));
        req.headers = headers;
        self.send(e, &Scope::pull(r.path()), &req)
    }

    /// Who may be asked about `r`: hosts that resolve tags for a tag, hosts
    /// that pull for a digest.
    fn role(r: &Reference) -> Role {
        match r.digest() {
            Some(_) => Role::Pull,
            None => Role::Resolve,
        }
    }

    /// Resolves `r` to the descriptor of its manifest or index, with a HEAD
    /// request (a GET when the registry gives no digest or type).
    pub fn resolve(&self, r: &Reference, accept: &[&str]) -> Result<Descriptor> {
        let (found, _) = self.route(r, Self::role(r), r.digest(), None, |e| {
            let resp = self.pull_request(
                e,
                r,
                Method::HEAD,
                &format!("manifests/{}", r.object()),
                vec![("accept", accept_header(accept))],
            )?;
            if !resp.status().is_success() {
                return Err(status_error(&r.to_string(), resp));
            }
            head_descriptor(r, &resp)
        })?;
        match found {
            Some(d) => Ok(d),
            None => self.manifest(r, accept).map(|(d, _)| d),
        }
    }

    /// Fetches the manifest or index `r` names (by tag or digest), verified
    /// against `r`'s digest or the registry's `Docker-Content-Digest`, at
    /// most [`MAX_MANIFEST`], and checked ([`manifest::check`]).
    pub fn manifest(&self, r: &Reference, accept: &[&str]) -> Result<(Descriptor, Vec<u8>)> {
        self.get_manifest(r, accept, None)
    }

    /// Fetches the manifest or index `d` points at in `r`'s repository:
    /// verified against `d`'s digest and size, and checked to be what `d`
    /// says it is.
    pub fn manifest_of(&self, r: &Reference, d: &Descriptor) -> Result<Vec<u8>> {
        let r = r.with_digest(d.digest.clone());
        let (got, body) = self.get_manifest(&r, &[&d.media_type], Some(&d.media_type))?;
        if got.size != d.size {
            return Err(Error::new(
                Kind::DataCorruption,
                format!(
                    "{r}: {} bytes, not the {} its descriptor says; not trusted",
                    got.size, d.size
                ),
            ));
        }
        Ok(body)
    }

    /// The bytes `d` points at in `r`'s repository, verified: a manifest
    /// or index (checked as [`Remote::manifest_of`] does), or a blob of at
    /// most [`MAX_MANIFEST`] bytes (a config).
    pub fn read_small(&self, r: &Reference, d: &Descriptor) -> Result<Vec<u8>> {
        if descriptor::is_manifest(&d.media_type) || descriptor::is_index(&d.media_type) {
            return self.manifest_of(r, d);
        }
        if d.size > MAX_MANIFEST {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{}: {} bytes, more than {MAX_MANIFEST} to read whole",
                    d.digest, d.size
                ),
            ));
        }
        let mut blob = self.blob(r, &d.digest, Some(d.size), 0)?;
        let mut out = Vec::with_capacity(d.size as usize);
        while let Some(chunk) = blob.next_chunk().map_err(Error::from)? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// GETs a manifest; `pointer` is the media type of the descriptor that
    /// pointed to it, when one did.
    fn get_manifest(
        &self,
        r: &Reference,
        accept: &[&str],
        pointer: Option<&str>,
    ) -> Result<(Descriptor, Vec<u8>)> {
        let (found, e) = self.route(r, Self::role(r), r.digest(), None, |e| {
            self.get_manifest_from(e, r, accept, pointer)
        })?;
        self.served(&found.0.digest, &e.host);
        Ok(found)
    }

    /// [`Remote::get_manifest`] from the host `e`.
    fn get_manifest_from(
        &self,
        e: &Endpoint,
        r: &Reference,
        accept: &[&str],
        pointer: Option<&str>,
    ) -> Result<(Descriptor, Vec<u8>)> {
        let mut resp = self.pull_request(
            e,
            r,
            Method::GET,
            &format!("manifests/{}", r.object()),
            vec![("accept", accept_header(accept))],
        )?;
        if !resp.status().is_success() {
            return Err(status_error(&r.to_string(), resp));
        }
        let declared =
            header(&resp, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
        let content_type = content_type(&resp);
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut body)
            .map_err(|e| Error::new(Kind::Unavailable, format!("{r}: {}", Error::from(e))))?;
        if body.len() as u64 > MAX_MANIFEST {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("{r}: manifest larger than {MAX_MANIFEST} bytes; refused"),
            ));
        }
        // What it is comes before its digest: a signed schema 1 manifest's
        // digest is not that of its bytes.
        let media_type = agree(r, content_type.as_deref(), pointer, &body)?;
        if descriptor::is_schema1(&media_type) {
            return Err(manifest::unsupported_schema1(&media_type).context(r));
        }
        let expected = r.digest().cloned().or(declared);
        let digest = match &expected {
            Some(e) => {
                let mut d = e.algorithm().digester();
                d.update(&body);
                d.finish()
            }
            None => Digest::of(&body),
        };
        if let Some(e) = &expected
            && *e != digest
        {
            return Err(Error::new(
                Kind::DataCorruption,
                format!("{r}: the manifest has digest {digest}, not {e}; not trusted"),
            ));
        }
        manifest::check(&media_type, &body).map_err(|e| e.context(r))?;
        Ok((Descriptor::new(media_type, digest, body.len() as u64), body))
    }

    /// Opens blob `digest` of `r`'s repository at byte `offset`. From offset 0
    /// the stream is verified against `digest` (and `size` when known) as it
    /// is read; from later offsets the caller hashes what came before.
    pub fn blob<'a>(
        &'a self,
        r: &Reference,
        digest: &Digest,
        size: Option<u64>,
        offset: u64,
    ) -> Result<Blob<'a>> {
        let mut blob = Blob {
            remote: self,
            reference: r.with_digest(digest.clone()),
            digest: digest.clone(),
            size,
            pos: offset,
            host: None,
            body: None,
            hasher: (offset == 0).then(|| digest.algorithm().digester()),
            interruptions: 0,
            resumed: 0,
            done: false,
        };
        blob.open()?;
        Ok(blob)
    }

    /// Fetches the object `r`'s digest names: a manifest when the media type
    /// hints say so, else the blob, else (a registry that keeps manifests
    /// apart) the manifest. Distribution answers a layer digest on the
    /// manifests endpoint with a 500, so blobs are asked first.
    pub fn fetch<'a>(&'a self, r: &Reference, hints: &[String]) -> Result<Object<'a>> {
        let digest = r
            .digest()
            .ok_or_else(|| Error::invalid(format!("{r}: fetching a blob needs a digest")))?
            .clone();
        let manifest_hint = hints.iter().any(|h| is_manifest_type(h));
        if !manifest_hint {
            match self.blob(r, &digest, None, 0) {
                Ok(blob) => return Ok(Object::Blob(blob)),
                Err(e) if e.kind() == Kind::NotFound && hints.is_empty() => {}
                Err(e) => return Err(e),
            }
        }
        let accept: Vec<&str> = hints.iter().map(String::as_str).collect();
        let (d, body) = self.manifest(r, &accept)?;
        Ok(Object::Manifest(d, body))
    }
}

impl Remote {
    /// The object `r` names: for a tag its manifest or index, for a digest
    /// that manifest or blob, verified. With `platform`, an index gives way
    /// to its manifest for that platform (nested indexes followed).
    pub fn object(
        &self,
        r: &Reference,
        hints: &[String],
        platform: Option<&Platform>,
    ) -> Result<Object<'_>> {
        let accept: Vec<&str> = hints.iter().map(String::as_str).collect();
        let mut object = match r.digest() {
            None => {
                let (d, body) = self.manifest(r, &accept)?;
                Object::Manifest(d, body)
            }
            Some(_) => self.fetch(r, hints)?,
        };
        let Some(platform) = platform else {
            return Ok(object);
        };
        for _ in 0..manifest::MAX_DEPTH {
            let (d, body) = match &object {
                Object::Manifest(d, body) if descriptor::is_index(&d.media_type) => (d, body),
                _ => return Ok(object),
            };
            let index = Index::parse(body).map_err(|e| e.context(r))?;
            let entry = manifest::select(&index, platform).cloned().ok_or_else(|| {
                Error::new(
                    Kind::NotFound,
                    format!(
                        "{r}: no manifest for {platform} in index {} (it has {}; --platform another, or --index for the index itself)",
                        d.digest,
                        manifest::platforms_of(&index)
                    ),
                )
            })?;
            let body = self.manifest_of(r, &entry)?;
            let d = Descriptor::new(entry.media_type, entry.digest, entry.size);
            object = Object::Manifest(d, body);
        }
        Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{r}: indexes nested more than {} deep; refused",
                manifest::MAX_DEPTH
            ),
        ))
    }
}

impl Object<'_> {
    /// Whether this is a blob (bytes that are no manifest or index).
    pub fn is_blob(&self) -> bool {
        matches!(self, Object::Blob(_))
    }

    /// Writes the object to `out`; returns its descriptor. A blob is
    /// streamed: when its digest turns out wrong, the error comes after the
    /// bytes, and what was written must not be trusted.
    pub fn write_to(self, out: &mut dyn io::Write) -> Result<Descriptor> {
        let write_err = |e: io::Error| Error::io(&e).context("output");
        match self {
            Object::Manifest(d, body) => {
                out.write_all(&body).map_err(write_err)?;
                Ok(d)
            }
            Object::Blob(mut blob) => {
                while let Some(chunk) = blob.next_chunk().map_err(Error::from)? {
                    out.write_all(&chunk).map_err(write_err)?;
                }
                Ok(Descriptor::new(
                    "application/octet-stream",
                    blob.digest.clone(),
                    blob.pos,
                ))
            }
        }
    }
}

/// The descriptor a `HEAD` of `r`'s manifest gives, if it says type, digest
/// and size.
fn head_descriptor(
    r: &Reference,
    resp: &::ureq::http::Response<::ureq::Body>,
) -> Result<Option<Descriptor>> {
    let media_type = content_type(resp);
    let size = header(resp, "content-length").and_then(|v| v.parse::<u64>().ok());
    let digest = match r.digest() {
        Some(d) => Some(d.clone()),
        None => header(resp, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok()),
    };
    let (Some(mt), Some(digest), Some(size)) = (media_type, digest, size) else {
        return Ok(None);
    };
    if descriptor::is_schema1(&mt) {
        return Err(manifest::unsupported_schema1(&mt).context(r));
    }
    if !(descriptor::is_manifest(&mt) || descriptor::is_index(&mt)) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{r}: the registry says it is {}, not a manifest or index",
                Untrusted(&mt)
            ),
        ));
    }
    Ok(Some(Descriptor::new(mt, digest, size)))
}

fn is_manifest_type(t: &str) -> bool {
    descriptor::is_manifest(t) || descriptor::is_index(t) || descriptor::is_schema1(t)
}

fn accept_header(accept: &[&str]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for a in accept.iter().chain(descriptor::MANIFEST_TYPES.iter()) {
        if !seen.contains(a) {
            seen.push(a);
        }
    }
    seen.join(", ")
}

/// The type of a response, without parameters; `None` for types that say
/// nothing of a manifest (`application/json`, `text/plain`, octet-stream).
fn content_type(resp: &::ureq::http::Response<::ureq::Body>) -> Option<String> {
    let v = header(resp, "content-type")?;
    let v = v.split(';').next().unwrap_or("").trim().to_string();
    match v.as_str() {
        "" | "application/json" | "text/plain" | "application/octet-stream" => None,
        _ => Some(v),
    }
}

/// The media type of a manifest: what the response's `Content-Type`, the
/// body's own `mediaType` and the descriptor that pointed to it say, which
/// must agree; when none says, what its fields make it.
fn agree(
    r: &Reference,
    content_type: Option<&str>,
    pointer: Option<&str>,
    body: &[u8],
) -> Result<String> {
    let field = manifest::declared(body);
    let said: Vec<(&str, &str)> = [
        ("the registry's Content-Type", content_type),
        ("the manifest's mediaType", field.as_deref()),
        ("the descriptor that points to it", pointer),
    ]
    .into_iter()
    .filter_map(|(who, t)| Some((who, t?)))
    .collect();
    if let Some((who, t)) = said.iter().find(|(_, t)| *t != said[0].1) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{r}: {} says {} but {who} says {}; not trusted",
                said[0].0,
                Untrusted(said[0].1),
                Untrusted(t)
            ),
        ));
    }
    if let Some((_, t)) = said.first() {
        return Ok(t.to_string());
    }
    sniff(body).ok_or_else(|| {
        Error::new(
            Kind::InvalidContent,
            format!("{r}: the registry did not say what the manifest is, nor do its fields"),
        )
    })
}

/// A blob being downloaded, chunk by chunk ([`Blob::next_chunk`]): checked
/// against its size and digest, and resumed with `Range` when the
/// connection breaks.
pub struct Blob<'a> {
    remote: &'a Remote,
    reference: Reference,
    digest: Digest,
    size: Option<u64>,
    pos: u64,
    /// The host that sends it (a resumption asks it first).
    host: Option<String>,
    body: Option<ReadAhead>,
    hasher: Option<Digester>,
    interruptions: u32,
    /// Resumptions in all, progress or not.
    resumed: u32,
    done: bool,
}

impl Blob<'_> {
    /// Leaves the digest to the caller, who hashes every byte anyway (a store
    /// writer verifies at commit): one SHA-256 pass instead of two. The size
    /// is still enforced.
    pub fn digest_checked_by_caller(mut self) -> Self {
        self.hasher = None;
        self
    }

    /// The blob's size, when the caller or the registry said it.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes of the blob delivered so far, counting the starting offset.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next bytes of the blob, as received; `None` at its end, once
    /// size and digest are checked.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let Some(body) = self.body.as_mut() else {
                self.open().map_err(io::Error::other)?;
                continue;
            };
            match body.next_chunk() {
                Ok(None) if self.size.is_some_and(|s| self.pos < s) => {
                    self.interrupted(io::Error::from(io::ErrorKind::UnexpectedEof))?;
                }
                Ok(None) => {
                    self.finish()?;
                    return Ok(None);
                }
                Ok(Some(chunk)) => {
                    let n = chunk.len() as u64;
                    if let Some(size) = self.size
                        && self.pos + n > size
                    {
                        self.done = true;
                        return Err(corrupt(format!(
                            "{}: more than the expected {size} bytes; not trusted",
                            self.reference
                        )));
                    }
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(&chunk);
                    }
                    self.pos += n;
                    self.interruptions = 0;
                    return Ok(Some(chunk));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.interrupted(e)?,
            }
        }
    }

    fn open(&mut self) -> Result<()> {
        let (body, e) = self.remote.route(
            &self.reference,
            Role::Pull,
            Some(&self.digest),
            self.host.as_deref(),
            |e| self.open_on(e),
        )?;
        self.remote.served(&self.digest, &e.host);
        self.host = Some(e.host);
        match body {
            // Asked for the bytes after the last: there are none.
            None => {
                self.body = None;
                self.done = true;
            }
            Some((body, length)) => {
                if self.size.is_none() {
                    self.size = length;
                }
                // A thread to receive ahead pays off only over a few chunks.
                let short = self.size.is_some_and(|s| s - self.pos.min(s) <= SHORT_BLOB);
                self.body = Some(if short {
                    ReadAhead::inline(body)
                } else {
                    ReadAhead::spawn(body)
                });
            }
        }
        Ok(())
    }

    /// Asks the host `e` for the blob from where it stands: its body (from
    /// there) and whole length when said, or `None` when nothing is left.
    #[allow(clippy::type_complexity)]
    fn open_on(&self, e: &Endpoint) -> Result<Option<(::ureq::BodyReader<'static>, Option<u64>)>> {
        let r = &self.reference;
        let mut headers = Vec::new();
        if self.pos > 0 {
            headers.push(("range", format!("bytes={}-", self.pos)));
        }
        let resp = self.remote.pull_request(
            e,
            r,
            Method::GET,
            &format!("blobs/{}", self.digest),
            headers,
        )?;
        let status = resp.status().as_u16();
        if status == 416 && self.size == Some(self.pos) {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(status_error(&r.to_string(), resp));
        }
        let length = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        if status == 206 {
            self.check_range(header(&resp, "content-range").as_deref())?;
        }
        let mut body = resp.into_body().into_reader();
        if self.pos > 0 && status != 206 {
            // The server ignored Range: skip what we have.
            io::copy(&mut (&mut body).take(self.pos), &mut io::sink())
                .map_err(|e| Error::io(&e).context(r))?;
        }
        Ok(Some((body, (status == 200).then_some(length).flatten())))
    }

    /// Refuses a `206` whose `Content-Range` does not start where we asked,
    /// or gives the blob another size than the one we know.
    fn check_range(&self, range: Option<&str>) -> Result<()> {
        let parsed = range.and_then(|v| {
            let (span, total) = v.strip_prefix("bytes ")?.split_once('/')?;
            let start = span.split_once('-')?.0.trim().parse::<u64>().ok()?;
            let total = match total.trim() {
                "*" => None,
                t => Some(t.parse::<u64>().ok()?),
            };
            Some((start, total))
        });
        let wrong = match parsed {
            None => Some(format!(
                "a partial answer without a valid Content-Range ({})",
                Untrusted(range.unwrap_or("none"))
            )),
            Some((start, _)) if start != self.pos => Some(format!(
                "bytes from {start} when asked for bytes from {}",
                self.pos
            )),
            Some((_, Some(total))) if self.size.is_some_and(|s| s != total) => Some(format!(
                "a blob of {total} bytes, not the expected {}",
                self.size.unwrap_or(0)
            )),
            _ => None,
        };
        match wrong {
            Some(why) => Err(Error::new(
                Kind::DataCorruption,
                format!("{}: the registry sent {why}; not trusted", self.reference),
            )),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        let r = &self.reference;
        if let Some(size) = self.size
            && self.pos != size
        {
            return Err(corrupt(format!(
                "{r}: {} bytes, not the expected {size}; not trusted",
                self.pos
            )));
        }
        if let Some(h) = self.hasher.take() {
            let got = h.finish();
            if got != self.digest {
                return Err(corrupt(format!(
                    "{r}: content has digest {got}; not trusted"
                )));
            }
        }
        Ok(())
    }

    fn interrupted(&mut self, why: io::Error) -> io::Result<()> {
        self.body = None;
        self.interruptions += 1;
        self.resumed += 1;
        // A mirror that breaks off is not asked for the rest: the next host
        // is (a mirror sending a byte per connection would stall us).
        if let Some(host) = &self.host
            && self.remote.skip(&self.digest, host)
        {
            self.host = None;
            self.interruptions = 0;
        }
        if self.interruptions > RESUMES || self.resumed > MAX_RESUMED {
            return Err(io::Error::other(Error::new(
                Kind::Unavailable,
                format!(
                    "{}: interrupted at byte {} ({} times in all), last: {why}",
                    self.reference, self.pos, self.resumed
                ),
            )));
        }
        let backoff = self.interruptions.clamp(1, 5) - 1;
        std::thread::sleep(Duration::from_millis(250) * 2u32.pow(backoff));
        self.open().map_err(io::Error::other)
    }
}

fn corrupt(msg: String) -> io::Error {
    io::Error::other(Error::new(Kind::DataCorruption, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_hints_first_without_repeats() {
        assert_eq!(
            accept_header(&[descriptor::DOCKER_MANIFEST]),
            format!(
                "{}, {}, {}, {}",
                descriptor::DOCKER_MANIFEST,
                descriptor::OCI_INDEX,
                descriptor::DOCKER_MANIFEST_LIST,
                descriptor::OCI_MANIFEST
            )
        );
    }
}
