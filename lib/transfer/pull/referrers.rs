//! What a pull carries along beside the image: what refers to it
//! (signatures, SBOMs, attestations), as the registry lists OCI 1.1
//! referrers and as cosign's tags (`sha256-<hex>.sig`, `.att`, `.sbom`) name
//! them, then what refers to those, [`MAX_DEPTH`] deep and
//! [`MAX_PER_IMAGE`] in all; or, verifying only, the signatures that
//! verified. Each is fetched like any object of the image, checked to
//! refer to the subject it was listed for, and recorded by subject in the
//! store, so that the collector keeps it as long as its subject and a push
//! carries it on.

use std::collections::{HashSet, VecDeque};

use super::Job;
use crate::descriptor::{self, Descriptor};
use crate::error::{Error, Kind, Result};
use crate::graph;
use crate::images::referrers::{self, MAX_DEPTH, MAX_PER_IMAGE, TAG};
use crate::manifest;
use crate::remote::tag_of;
use crate::signature::Verified;

/// The tags cosign gives what it attaches to an image: signatures,
/// attestations, SBOMs.
const COSIGN_TAGS: [&str; 3] = ["sig", "att", "sbom"];

impl Job<'_> {
    /// Fetches and records what the pull carries along: with
    /// `opts.referrers`, what refers to the manifests and indexes of
    /// `reached`; and the signatures in `verified`. Returns what it fetched.
    pub(super) fn carry(
        &self,
        reached: &[Descriptor],
        verified: &[Verified],
    ) -> Result<Vec<Descriptor>> {
        let mut fetched = match self.opts.referrers {
            true => self.referrers(reached)?,
            false => Vec::new(),
        };
        let mut kept = Vec::new();
        for v in verified {
            if !fetched.iter().any(|f| f.digest == v.artifact.digest) {
                self.fetch_all(&v.artifact)?;
                fetched.push(v.artifact.clone());
            }
            kept.push(v.entry.clone());
        }
        referrers::add(self.store, &self.target.digest, &kept)?;
        Ok(fetched)
    }

    /// Fetches and records what refers to the nodes of `reached`, and to
    /// those, breadth first.
    fn referrers(&self, reached: &[Descriptor]) -> Result<Vec<Descriptor>> {
        let mut todo: VecDeque<(Descriptor, usize)> = reached
            .iter()
            .filter(|d| graph::has_children(d))
            .map(|d| (d.clone(), 0))
            .collect();
        let mut seen: HashSet<_> = todo.iter().map(|(d, _)| d.digest.clone()).collect();
        let mut fetched = Vec::new();
        while let Some((subject, depth)) = todo.pop_front() {
            let mut found: Vec<(Descriptor, Option<String>)> = self
                .remote
                .referrers(self.r, &subject.digest, None)?
                .manifests
                .into_iter()
                .map(|e| (e, None))
                .collect();
            if depth == 0 {
                found.extend(self.cosign_tags(&subject)?);
            }
            let mut entries = Vec::new();
            for (e, tag) in found {
                if !seen.insert(e.digest.clone()) {
                    continue;
                }
                if fetched.len() >= MAX_PER_IMAGE {
                    return Err(Error::new(
                        Kind::InvalidContent,
                        format!(
                            "{}: more than {MAX_PER_IMAGE} referrers; refused",
                            self.target.digest
                        ),
                    ));
                }
                let d = Descriptor::new(e.media_type, e.digest, e.size);
                self.fetch_all(&d)?;
                let mut r = manifest::referrer(&d, &graph::read_small(self.store, &d)?)?;
                match tag {
                    Some(tag) => {
                        r.entry.annotations.insert(TAG.to_string(), tag);
                    }
                    None if r.subject.as_ref().map(|s| &s.digest) != Some(&subject.digest) => {
                        return Err(Error::new(
                            Kind::InvalidContent,
                            format!(
                                "{}: listed as a referrer of {}, but it refers to {}; not trusted",
                                d.digest,
                                subject.digest,
                                r.subject.map_or("nothing".into(), |s| s.digest.to_string())
                            ),
                        ));
                    }
                    None => {}
                }
                entries.push(r.entry);
                if depth + 1 < MAX_DEPTH {
                    todo.push_back((d.clone(), depth + 1));
                }
                fetched.push(d);
            }
            referrers::add(self.store, &subject.digest, &entries)?;
        }
        Ok(fetched)
    }

    /// What cosign's tags name for `subject`: (descriptor, tag) each.
    fn cosign_tags(&self, subject: &Descriptor) -> Result<Vec<(Descriptor, Option<String>)>> {
        let mut out = Vec::new();
        for suffix in COSIGN_TAGS {
            let tag = format!("{}.{suffix}", tag_of(&subject.digest));
            let r = self.r.with_object(&tag)?;
            let accept = [descriptor::OCI_MANIFEST, descriptor::DOCKER_MANIFEST];
            match self.remote.resolve(&r, &accept) {
                Ok(d) => out.push((d, Some(tag))),
                Err(e) if e.kind() == Kind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
