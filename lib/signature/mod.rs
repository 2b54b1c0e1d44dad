//! Signature checks with public keys, as `cosign verify --key` makes them
//! (sigstore/cosign `pkg/cosign/verify.go`): an image counts as signed when
//! at least one signature found for its digest verifies with one of the
//! keys given and signs that digest. Signatures are looked for where cosign
//! puts them: the manifest its tag `sha256-<hex>.sig` names (simple signing
//! layers), and the image's OCI 1.1 referrers (Sigstore bundles, and
//! cosign's signature manifests pushed as referrers); in a registry
//! ([`Registry`]) or in the store ([`Stored`]), through one [`Source`].
//!
//! No transparency log, no certificates, no timestamps: keyless signatures
//! are out of scope. What each form must hold is in [`cosign`]; keys and
//! algorithms in [`key`].

pub mod cosign;
pub mod key;

use std::path::PathBuf;

use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::graph;
use crate::images::referrers::{self, TAG};
use crate::manifest::{self, Manifest};
use crate::reference::Reference;
use crate::remote::{Remote, tag_of};

pub use cosign::Refused;
pub use key::{Algorithm, Key};

/// The most signatures checked for one image.
const MAX_CHECKED: usize = 64;

/// The keys a check accepts: a signature counts when one of them verifies it.
#[derive(Debug, Clone)]
pub struct Keys(Vec<Key>);

impl Keys {
    /// Reads the key files `paths` (at least one).
    pub fn load(paths: &[PathBuf]) -> Result<Keys> {
        if paths.is_empty() {
            return Err(Error::invalid("no key given"));
        }
        paths
            .iter()
            .map(|p| Key::load(p))
            .collect::<Result<_>>()
            .map(Keys)
    }

    /// The keys themselves.
    pub fn keys(&self) -> &[Key] {
        &self.0
    }

    /// What messages call them: `cosign.pub`, or `any of the 3 keys`.
    pub fn describe(&self) -> String {
        match self.0.as_slice() {
            [one] => one.name().to_string(),
            many => format!("any of the {} keys", many.len()),
        }
    }
}

/// The tag cosign gives the signatures of `image`: `sha256-<hex>.sig`.
pub fn sig_tag(image: &Digest) -> String {
    format!("{}.sig", tag_of(image))
}

/// Where the signatures of an image are looked for.
pub trait Source {
    /// The manifest cosign's tag [`sig_tag`] names for `image`, if there is one.
    fn cosign_tag(&self, image: &Digest) -> Result<Option<(Descriptor, Vec<u8>)>>;
    /// What refers to `image`.
    fn referrers(&self, image: &Digest) -> Result<Vec<Descriptor>>;
    /// The bytes of the manifest or blob `d`, verified, bounded.
    fn read(&self, d: &Descriptor) -> Result<Vec<u8>>;
    /// Where else to look when nothing was found here, for the message.
    fn elsewhere(&self) -> &'static str {
        ""
    }
}

/// The signatures a registry holds for images of one repository.
pub struct Registry<'a> {
    /// The client.
    pub remote: &'a Remote,
    /// The image's repository (its tag or digest does not matter).
    pub repository: &'a Reference,
}

impl Source for Registry<'_> {
    fn cosign_tag(&self, image: &Digest) -> Result<Option<(Descriptor, Vec<u8>)>> {
        let r = self.repository.with_object(&sig_tag(image))?;
        let accept = [descriptor::OCI_MANIFEST, descriptor::DOCKER_MANIFEST];
        match self.remote.manifest(&r, &accept) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.kind() == Kind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn referrers(&self, image: &Digest) -> Result<Vec<Descriptor>> {
        Ok(self
            .remote
            .referrers(self.repository, image, None)?
            .manifests)
    }

    fn read(&self, d: &Descriptor) -> Result<Vec<u8>> {
        self.remote.read_small(self.repository, d)
    }
}

/// The signatures the store holds, as pulls recorded them.
pub struct Stored<'a> {
    /// The store.
    pub store: &'a Store,
}

impl Source for Stored<'_> {
    fn cosign_tag(&self, image: &Digest) -> Result<Option<(Descriptor, Vec<u8>)>> {
        let tag = sig_tag(image);
        let Some(e) = referrers::of(self.store, image)?
            .into_iter()
            .find(|e| e.annotations.get(TAG) == Some(&tag) && self.store.contains(&e.digest))
        else {
            return Ok(None);
        };
        let d = Descriptor::new(e.media_type, e.digest, e.size);
        let body = self.read(&d)?;
        Ok(Some((d, body)))
    }

    fn referrers(&self, image: &Digest) -> Result<Vec<Descriptor>> {
        Ok(referrers::of(self.store, image)?
            .into_iter()
            .filter(|e| !e.annotations.contains_key(TAG))
            .collect())
    }

    fn elsewhere(&self) -> &'static str {
        " in the store; dist-pull --verify-key or --referrers keeps them there, --remote asks the registry"
    }

    fn read(&self, d: &Descriptor) -> Result<Vec<u8>> {
        let bytes = graph::read_small(self.store, d)?;
        match bytes.len() as u64 == d.size {
            true => Ok(bytes),
            false => Err(Error::new(
                Kind::DataCorruption,
                format!(
                    "{}: {} bytes, not the {} its descriptor says",
                    d.digest,
                    bytes.len(),
                    d.size
                ),
            )),
        }
    }
}

/// A signature that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Which: `tag sha256-<hex>.sig, payload sha256:…`, `referrer sha256:…`.
    pub signature: String,
    /// The manifest that carries it (what a pull keeps).
    pub artifact: Descriptor,
    /// Its entry in the store's record of the image's referrers.
    pub entry: Descriptor,
    /// The key it verifies with.
    pub key: String,
}

/// What a check found.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The signatures that verified (at least one).
    pub verified: Vec<Verified>,
    /// Those that did not, each with why.
    pub refused: Vec<String>,
}

/// Whether a referrer of type `artifact_type` may be a signature.
fn is_signature(artifact_type: Option<&str>) -> bool {
    artifact_type.is_some_and(|t| cosign::is_bundle(t) || t == cosign::COSIGN_ARTIFACT)
}

/// Errors that make one signature not count, rather than the check fail:
/// it is missing, malformed, or corrupt.
fn of_one(e: &Error) -> bool {
    matches!(
        e.kind(),
        Kind::NotFound | Kind::InvalidContent | Kind::DataCorruption
    )
}

/// One check under way.
struct Check<'a> {
    source: &'a dyn Source,
    keys: &'a Keys,
    image: &'a Descriptor,
    manifest: &'a [u8],
    out: Checked,
    seen: usize,
}

impl Check<'_> {
    fn outcome(
        &mut self,
        what: String,
        artifact: &Descriptor,
        entry: &Descriptor,
        got: std::result::Result<&Key, Refused>,
    ) {
        self.seen += 1;
        match got {
            Ok(key) => self.out.verified.push(Verified {
                signature: what,
                artifact: artifact.clone(),
                entry: entry.clone(),
                key: key.name().to_string(),
            }),
            Err(why) => {
                let why = match why {
                    Refused::WrongKey => format!("does not verify with {}", self.keys.describe()),
                    Refused::OtherImage(d) => format!("signs {d}, not {}", self.image.digest),
                    Refused::Malformed(m) => format!("malformed: {m}"),
                };
                self.out.refused.push(format!("{what}: {why}"));
            }
        }
    }

    fn refuse(&mut self, what: String, why: impl std::fmt::Display) {
        self.seen += 1;
        self.out.refused.push(format!("{what}: {why}"));
    }

    fn full(&self) -> bool {
        self.seen >= MAX_CHECKED
    }

    /// The simple signing layers of the manifest `m` (`artifact`).
    fn simple(
        &mut self,
        what: &str,
        artifact: &Descriptor,
        entry: &Descriptor,
        m: &Manifest,
    ) -> Result<()> {
        let layers: Vec<&Descriptor> = m
            .layers
            .iter()
            .filter(|l| l.media_type == cosign::SIMPLE_SIGNING)
            .collect();
        if layers.is_empty() {
            self.refuse(what.to_string(), "malformed: no simple signing layer");
        }
        for l in layers {
            if self.full() {
                break;
            }
            let what = format!("{what}, payload {}", l.digest);
            let payload = match self.source.read(l) {
                Ok(p) => p,
                Err(e) if of_one(&e) => {
                    self.refuse(what, e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let note = l
                .annotations
                .get(cosign::SIGNATURE_ANNOTATION)
                .map(String::as_str);
            let got = cosign::simple(self.keys.keys(), &self.image.digest, &payload, note);
            self.outcome(what, artifact, entry, got);
        }
        Ok(())
    }

    /// The Sigstore bundles of the manifest `m` (`artifact`).
    fn bundles(
        &mut self,
        what: &str,
        artifact: &Descriptor,
        entry: &Descriptor,
        m: &Manifest,
    ) -> Result<()> {
        let layers: Vec<&Descriptor> = m
            .layers
            .iter()
            .filter(|l| cosign::is_bundle(&l.media_type))
            .collect();
        if layers.is_empty() {
            self.refuse(what.to_string(), "malformed: no bundle layer");
        }
        for l in layers {
            if self.full() {
                break;
            }
            let bundle = match self.source.read(l) {
                Ok(b) => b,
                Err(e) if of_one(&e) => {
                    self.refuse(what.to_string(), e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let got = cosign::bundle(self.keys.keys(), &self.image.digest, self.manifest, &bundle);
            self.outcome(what.to_string(), artifact, entry, got);
        }
        Ok(())
    }

    /// The referrer `d` of the image, if it is a signature.
    fn referrer(&mut self, d: &Descriptor) -> Result<()> {
        let what = format!("referrer {}", d.digest);
        let body = match self.source.read(d) {
            Ok(b) => b,
            Err(e) if of_one(&e) => {
                self.refuse(what, e);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let parsed = manifest::referrer(d, &body).and_then(|r| Ok((r, Manifest::parse(&body)?)));
        let (r, m) = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.refuse(what, format!("malformed: {e}"));
                return Ok(());
            }
        };
        match &r.subject {
            Some(s) if s.digest == self.image.digest => {}
            other => {
                let to = other
                    .as_ref()
                    .map_or("nothing".to_string(), |s| s.digest.to_string());
                self.refuse(what, format!("refers to {to}, not {}", self.image.digest));
                return Ok(());
            }
        }
        match r
            .entry
            .artifact_type
            .as_deref()
            .is_some_and(cosign::is_bundle)
        {
            true => self.bundles(&what, d, &r.entry, &m),
            false => self.simple(&what, d, &r.entry, &m),
        }
    }
}

/// Checks the signatures `source` has for `image` (whose manifest or index
/// is exactly `manifest`) with `keys`. `object` names the image in
/// messages. None that verifies is a [`Kind::Untrusted`] error that says
/// why for each signature found, or that none was.
pub fn verify(
    source: &dyn Source,
    object: &str,
    image: &Descriptor,
    manifest: &[u8],
    keys: &Keys,
) -> Result<Checked> {
    let mut check = Check {
        source,
        keys,
        image,
        manifest,
        out: Checked::default(),
        seen: 0,
    };
    let tag = sig_tag(&image.digest);
    let tagged = source.cosign_tag(&image.digest)?;
    if let Some((d, body)) = &tagged {
        let what = format!("tag {tag}");
        match manifest::referrer(d, body).and_then(|r| Ok((r, Manifest::parse(body)?))) {
            Ok((r, m)) => {
                let mut entry = r.entry;
                entry.annotations.insert(TAG.to_string(), tag.clone());
                check.simple(&what, d, &entry, &m)?;
            }
            Err(e) => check.refuse(what, format!("malformed: {e}")),
        }
    }
    let listed = source.referrers(&image.digest)?;
    let signatures: Vec<&Descriptor> = listed
        .iter()
        .filter(|d| is_signature(d.artifact_type.as_deref()))
        .collect();
    for d in &signatures {
        if check.full() {
            break;
        }
        check.referrer(d)?;
    }
    let Check { out, seen, .. } = check;
    if !out.verified.is_empty() {
        return Ok(out);
    }
    if seen == 0 {
        let tag_said = match tagged {
            None => format!("no tag {tag}"),
            Some(_) => format!("tag {tag} has none"),
        };
        return Err(Error::new(
            Kind::Untrusted,
            format!(
                "{object}: untrusted: no signature found ({tag_said}, and none of its {} referrers is a Sigstore bundle or cosign signature){}",
                listed.len(),
                source.elsewhere()
            ),
        ));
    }
    let unchecked = match seen >= MAX_CHECKED {
        true => format!("; the first {MAX_CHECKED} checked"),
        false => String::new(),
    };
    Err(Error::new(
        Kind::Untrusted,
        format!(
            "{object}: untrusted: no signature verifies with {} ({} found: {}{unchecked})",
            keys.describe(),
            out.refused.len(),
            out.refused.join("; "),
        ),
    ))
}
