//! Referrers (OCI distribution spec 1.1: "Listing Referrers", "Pushing
//! Manifests with Subject", "Referrers Tag Schema"): what refers to a
//! manifest through its `subject`, listed by `GET /v2/<name>/referrers/<digest>`
//! along its `Link` pages, or, where the registry answers that with 404, by
//! the index the tag `<alg>-<hex>` names; and keeping that tag's index up to
//! date after a push to such a registry: read it, add what it lacks, write
//! it back with `If-Match` where the registry gave an `ETag`, and again
//! from the read when another client changed it in between.
//!
//! A list is only a list: callers fetch and check what it points at.

use std::io::Read;
use std::time::Duration;

use ::ureq::http::Method;

use super::Remote;
use super::auth::{Scope, url_encode};
use super::http::{Request, header, host_of, join_url, status_error};
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result, Untrusted};
use crate::manifest::{self, Index, MAX_MANIFEST};
use crate::reference::Reference;

/// The most pages of a referrers list that are followed.
const MAX_PAGES: usize = 64;
/// The most entries a referrers list may have.
pub const MAX_REFERRERS: usize = 4096;
/// Times the fallback tag is read and written when others change it meanwhile.
const ATTEMPTS: u32 = 8;

/// Where a list of referrers came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// The registry's referrers API.
    Api,
    /// The index of the fallback tag (the registry has no referrers API).
    Tag(String),
    /// No referrers API and no fallback tag: nothing refers to it.
    Nothing,
}

/// What refers to a manifest in one repository.
#[derive(Debug, Clone)]
pub struct Referrers {
    /// The referrers' entries: descriptors with `artifactType` and annotations.
    pub manifests: Vec<Descriptor>,
    /// Where the list came from.
    pub listed: Listed,
    /// Why the fallback tag was not taken as a list, when it was not (it
    /// names the image itself, or no index of referrers): the spec then
    /// counts no referrers.
    pub ignored: Option<String>,
}

/// The fallback tag of `subject`: `<alg>-<hex>`, each part cut as the
/// referrers tag schema cuts it (32 and 64 characters).
pub fn tag_of(subject: &Digest) -> String {
    let alg: String = subject.algorithm().name().chars().take(32).collect();
    let hex: String = subject.hex().chars().take(64).collect();
    format!("{alg}-{hex}")
}

/// What the fallback tag holds.
enum Tagged {
    Missing,
    /// Its entries, and the `ETag` to write it back with.
    List(Vec<Descriptor>, Option<String>),
    /// Something that is no list of referrers, and why.
    Other(String),
}

impl Remote {
    /// GETs `path` (below `r`'s repository, or an absolute URL) with pull
    /// access, asking for an OCI index.
    fn get_index(
        &self,
        r: &Reference,
        url: String,
    ) -> Result<::ureq::http::Response<::ureq::Body>> {
        let mut req = Request::new(Method::GET, url);
        let accept = [descriptor::OCI_INDEX]
            .iter()
            .chain(descriptor::MANIFEST_TYPES[1..].iter())
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        req.headers = vec![("accept", accept)];
        let registry = self.upstream(r.domain(), r.api_host())?;
        self.send(&registry, &Scope::pull(r.path()), &req)
    }

    /// What refers to `subject` in `r`'s repository, of `artifact_type`
    /// only when given: from the referrers API (every page), or where the
    /// registry answers it with 404, from the fallback tag.
    pub fn referrers(
        &self,
        r: &Reference,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let object = format!("{}@{subject}", r.name());
        let mut url = self.registry_url(r, &format!("referrers/{subject}"))?;
        if let Some(t) = artifact_type {
            url.push_str(&format!("?artifactType={}", url_encode(t)));
        }
        let mut manifests = Vec::new();
        for page in 0..MAX_PAGES {
            let mut resp = self.get_index(r, url.clone())?;
            match resp.status().as_u16() {
                404 if page == 0 => return self.referrers_by_tag(r, subject, artifact_type),
                200 => {}
                _ => return Err(status_error(&format!("{object}: referrers"), resp)),
            }
            let next = header(&resp, "link").and_then(|l| next_link(&l));
            let body = read_bounded(&mut resp, &object)?;
            let index =
                Index::parse(&body).map_err(|e| e.context(format!("{object}: referrers")))?;
            check_entries(&index.manifests).map_err(|why| {
                Error::new(Kind::InvalidContent, format!("{object}: referrers: {why}"))
            })?;
            manifests.extend(index.manifests);
            if manifests.len() > MAX_REFERRERS {
                return Err(too_many(&object));
            }
            let Some(next) = next else {
                return Ok(Referrers {
                    manifests: of_type(manifests, artifact_type),
                    listed: Listed::Api,
                    ignored: None,
                });
            };
            let next = join_url(&url, &next);
            if host_of(&next) != host_of(&url)
                || !(next.starts_with("http://") || next.starts_with("https://"))
            {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!(
                        "{object}: referrers: the next page is on another host ({}); refused",
                        Untrusted(&next)
                    ),
                ));
            }
            url = next;
        }
        Err(Error::new(
            Kind::InvalidContent,
            format!("{object}: referrers: more than {MAX_PAGES} pages; refused"),
        ))
    }

    fn referrers_by_tag(
        &self,
        r: &Reference,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Referrers> {
        let tag = tag_of(subject);
        self.http.debug(|| {
            format!(
                "{}@{subject}: no referrers API (404); reading the tag {tag}",
                r.name()
            )
        });
        Ok(match self.read_tag(r, subject)? {
            Tagged::Missing => Referrers {
                manifests: Vec::new(),
                listed: Listed::Nothing,
                ignored: None,
            },
            Tagged::List(manifests, _) => Referrers {
                manifests: of_type(manifests, artifact_type),
                listed: Listed::Tag(tag),
                ignored: None,
            },
            Tagged::Other(why) => {
                self.http.debug(|| format!("{why}; no referrers listed"));
                Referrers {
                    manifests: Vec::new(),
                    listed: Listed::Nothing,
                    ignored: Some(why),
                }
            }
        })
    }

    /// Reads the fallback tag of `subject`: its index, checked to be a list
    /// of referrers and not the image itself (or another image's index).
    fn read_tag(&self, r: &Reference, subject: &Digest) -> Result<Tagged> {
        let tag = tag_of(subject);
        let object = format!("{}:{tag}", r.name());
        let url = self.registry_url(r, &format!("manifests/{tag}"))?;
        let mut resp = self.get_index(r, url)?;
        match resp.status().as_u16() {
            404 => return Ok(Tagged::Missing),
            200 => {}
            _ => return Err(status_error(&object, resp)),
        }
        let etag = header(&resp, "etag");
        let declared = header(&resp, "docker-content-digest");
        let content_type = header(&resp, "content-type")
            .map(|t| t.split(';').next().unwrap_or("").trim().to_string());
        let body = read_bounded(&mut resp, &object)?;
        let digest = match declared.as_deref().map(str::parse::<Digest>) {
            Some(Ok(d)) => {
                let mut h = d.algorithm().digester();
                h.update(&body);
                let got = h.finish();
                if got != d {
                    return Err(Error::new(
                        Kind::DataCorruption,
                        format!("{object}: the index has digest {got}, not {d}; not trusted"),
                    ));
                }
                d
            }
            _ => Digest::of(&body),
        };
        if digest == *subject {
            return Ok(Tagged::Other(format!(
                "{object} names the image itself, not a list of its referrers"
            )));
        }
        let media_type = content_type
            .filter(|t| !matches!(t.as_str(), "" | "application/json" | "text/plain"))
            .or_else(|| manifest::sniff(&body))
            .unwrap_or_default();
        if media_type != descriptor::OCI_INDEX {
            return Ok(Tagged::Other(format!(
                "{object} names a {}, not an index of referrers",
                Untrusted(&media_type)
            )));
        }
        let index = match Index::parse(&body) {
            Ok(i) => i,
            Err(e) => return Ok(Tagged::Other(format!("{object}: {e}"))),
        };
        if let Err(why) = check_entries(&index.manifests) {
            return Ok(Tagged::Other(format!(
                "{object} names no list of referrers: {why}"
            )));
        }
        Ok(Tagged::List(index.manifests, etag))
    }

    /// Puts the referrer `d` (a manifest or index with a `subject`), whose
    /// exact bytes are `body`, by digest into `r`'s repository. Returns
    /// whether the registry took its subject into account (`OCI-Subject`);
    /// if not, [`Remote::add_to_referrers_tag`] must list it.
    pub fn put_referrer(&self, r: &Reference, d: &Descriptor, body: &[u8]) -> Result<bool> {
        let subject = self.put_manifest_if(r, &d.digest.to_string(), d, body, None)?;
        Ok(subject.is_some())
    }

    /// Adds `entries` to the list the fallback tag of `subject` names in
    /// `r`'s repository (a new list when there is none). The tag is read,
    /// what it lacks added, and written back with `If-Match` when the
    /// registry gave an `ETag`; a registry that answers 412 (another client
    /// changed it) gets it read and written again. A tag that names
    /// something else than a list of referrers is left alone: an error.
    pub fn add_to_referrers_tag(
        &self,
        r: &Reference,
        subject: &Digest,
        entries: &[Descriptor],
    ) -> Result<()> {
        let tag = tag_of(subject);
        let mut attempt = 0;
        loop {
            let (mut manifests, etag, exists) = match self.read_tag(r, subject)? {
                Tagged::Missing => (Vec::new(), None, false),
                Tagged::List(m, etag) => (m, etag, true),
                Tagged::Other(why) => {
                    return Err(Error::new(
                        Kind::FailedPrecondition,
                        format!("{why}; not replaced"),
                    ));
                }
            };
            let had = manifests.len();
            for e in entries {
                if !manifests.iter().any(|m| m.digest == e.digest) {
                    manifests.push(e.clone());
                }
            }
            if exists && manifests.len() == had {
                return Ok(());
            }
            if manifests.len() > MAX_REFERRERS {
                return Err(too_many(&format!("{}:{tag}", r.name())));
            }
            let body = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": descriptor::OCI_INDEX,
                "manifests": manifests,
            }))
            .map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
            let d = Descriptor::new(descriptor::OCI_INDEX, Digest::of(&body), body.len() as u64);
            match self.put_manifest_if(r, &tag, &d, &body, etag.as_deref()) {
                Err(e) if e.kind() == Kind::FailedPrecondition && attempt + 1 < ATTEMPTS => {
                    self.http.debug(|| format!("{e}; reading it again"));
                    std::thread::sleep(Duration::from_millis(50) * 2u32.pow(attempt));
                    attempt += 1;
                }
                done => return done.map(drop),
            }
        }
    }
}

/// The body of a response, at most [`MAX_MANIFEST`] bytes.
fn read_bounded(resp: &mut ::ureq::http::Response<::ureq::Body>, object: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::new(Kind::Unavailable, format!("{object}: {}", Error::from(e))))?;
    if body.len() as u64 > MAX_MANIFEST {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{object}: an index larger than {MAX_MANIFEST} bytes; refused"),
        ));
    }
    Ok(body)
}

/// Why `manifests` is no list of referrers, if it is not: an entry that is
/// no manifest or index, or one for a platform without an artifact type
/// (the entry of an image's index).
fn check_entries(manifests: &[Descriptor]) -> std::result::Result<(), String> {
    for m in manifests {
        if !(descriptor::is_manifest(&m.media_type) || descriptor::is_index(&m.media_type)) {
            return Err(format!(
                "its entry {} is a {}, no manifest or index",
                m.digest,
                Untrusted(&m.media_type)
            ));
        }
        if let (Some(p), None) = (&m.platform, &m.artifact_type) {
            return Err(format!(
                "its entry {} is the {} manifest of an image",
                m.digest,
                Untrusted(&p.to_string())
            ));
        }
    }
    Ok(())
}

fn of_type(manifests: Vec<Descriptor>, artifact_type: Option<&str>) -> Vec<Descriptor> {
    match artifact_type {
        None => manifests,
        Some(t) => manifests
            .into_iter()
            .filter(|m| m.artifact_type.as_deref() == Some(t))
            .collect(),
    }
}

fn too_many(object: &str) -> Error {
    Error::new(
        Kind::InvalidContent,
        format!("{object}: more than {MAX_REFERRERS} referrers; refused"),
    )
}

/// The target of the `rel="next"` link of a `Link` header (RFC 8288).
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once('>')?;
        let target = target.trim().strip_prefix('<')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=next" || p == "rel=\"next\""
        });
        next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tags_are_cut_as_the_schema_says() {
        let d: Digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .parse()
            .unwrap();
        assert_eq!(
            tag_of(&d),
            "sha256-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        let long = Digest::from_parts(crate::digest::Algorithm::Sha512, &"a".repeat(128)).unwrap();
        assert_eq!(tag_of(&long), format!("sha512-{}", "a".repeat(64)));
    }

    #[test]
    fn link_headers_give_the_next_page() {
        assert_eq!(
            next_link(r#"</v2/a/referrers/sha256:1?n=10&last=x>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:1?n=10&last=x")
        );
        assert_eq!(
            next_link(r#"<https://r/prev>; rel="prev", <https://r/next>;rel=next"#).as_deref(),
            Some("https://r/next")
        );
        assert_eq!(next_link(r#"<https://r/x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn an_image_index_is_no_list_of_referrers() {
        let d: Digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .parse()
            .unwrap();
        let mut m = Descriptor::new(descriptor::OCI_MANIFEST, d.clone(), 1);
        assert!(check_entries(std::slice::from_ref(&m)).is_ok());
        m.platform = Some("linux/amd64".parse().unwrap());
        let why = check_entries(std::slice::from_ref(&m)).unwrap_err();
        assert!(why.contains("linux/amd64 manifest of an image"), "{why}");
        m.artifact_type = Some("application/spdx+json".into());
        assert!(check_entries(std::slice::from_ref(&m)).is_ok());
        let blob = Descriptor::new("application/octet-stream", d, 1);
        assert!(check_entries(&[blob]).unwrap_err().contains("no manifest"));
    }
}
