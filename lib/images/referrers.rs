//! What refers to content of the store (OCI 1.1 referrers: signatures,
//! SBOMs, attestations), by subject. `referrers/<alg>/<hex>` holds, for each
//! digest the store has referrers of, an OCI index that lists them as a
//! registry's referrers API does (each with its artifact type and
//! annotations). Cosign's tag-scheme signatures (`sha256-<hex>.sig`),
//! which have no `subject`, are listed too, with the tag they go by in the
//! annotation [`TAG`].
//!
//! Records change under the store's index lock and are replaced
//! atomically, so pulls at once lose none of each other's entries. They
//! are not names: `dist-images` does not show referrers, and the collector
//! keeps a referrer only while it keeps its subject.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::{Algorithm, Digest};
use crate::error::{Context, Error, Kind, Result};
use crate::fs::write_atomic;

/// How deep referrers of referrers are followed (a signature of an SBOM
/// of an image is 2 deep).
pub const MAX_DEPTH: usize = 4;
/// The most referrers one image may have, at every depth.
pub const MAX_PER_IMAGE: usize = 256;

/// The annotation of a record's entry that is no OCI referrer but a
/// signature found by cosign's tag scheme: the tag it goes by.
pub const TAG: &str = "io.dist.referrer.tag";

/// The directory of the records.
fn dir(store: &Store) -> PathBuf {
    store.root().join("referrers")
}

fn path(store: &Store, subject: &Digest) -> PathBuf {
    dir(store)
        .join(subject.algorithm().name())
        .join(subject.hex())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    manifests: Vec<Descriptor>,
}

fn read(store: &Store, subject: &Digest) -> Result<Vec<Descriptor>> {
    let path = path(store, subject);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Record>(&bytes)
            .map(|r| r.manifests)
            .map_err(|e| {
                Error::new(
                    Kind::InvalidContent,
                    format!("{}: not a list of referrers ({e})", path.display()),
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&e).context(path.display())),
    }
}

/// What the store holds that refers to `subject`, as recorded.
pub fn of(store: &Store, subject: &Digest) -> Result<Vec<Descriptor>> {
    read(store, subject)
}

/// Records `entries` (referrers' descriptors, as a referrers list gives
/// them) as referring to `subject`, beside what was recorded; an entry
/// already there is replaced.
pub fn add(store: &Store, subject: &Digest, entries: &[Descriptor]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    store.init()?;
    let path = path(store, subject);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).context(parent.display())?;
    }
    let _lock = super::lock_index(store)?;
    let mut manifests = read(store, subject)?;
    for e in entries {
        manifests.retain(|m| m.digest != e.digest);
        manifests.push(e.clone());
    }
    let record = Record {
        schema_version: 2,
        media_type: descriptor::OCI_INDEX.to_string(),
        manifests,
    };
    let bytes =
        serde_json::to_vec(&record).map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
    write_atomic(&path, &bytes)
}

/// Every record: subject → its referrers.
pub fn all(store: &Store) -> Result<HashMap<Digest, Vec<Descriptor>>> {
    let mut out = HashMap::new();
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let dir = dir(store).join(algorithm.name());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&e).context(dir.display())),
        };
        for entry in entries {
            let entry = entry.context(dir.display())?;
            // Temporary files of a write, and strays, are no records.
            let Some(subject) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_parts(algorithm, n).ok())
            else {
                continue;
            };
            let referrers = read(store, &subject)?;
            out.insert(subject, referrers);
        }
    }
    Ok(out)
}

/// Forgets what refers to `subject` (the collector removed it).
pub fn forget(store: &Store, subject: &Digest) -> Result<()> {
    let path = path(store, subject);
    let _lock = super::lock_index(store)?;
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&e).context(path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_every_entry_once_and_are_forgotten() {
        let dir = std::env::temp_dir().join(format!("dist-referrers-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::open(&dir);
        let subject = Digest::of(b"image");
        assert!(of(&store, &subject).unwrap().is_empty());
        let sig = Descriptor::new(descriptor::OCI_MANIFEST, Digest::of(b"sig"), 3);
        let mut sbom = Descriptor::new(descriptor::OCI_MANIFEST, Digest::of(b"sbom"), 4);
        sbom.artifact_type = Some("application/spdx+json".into());
        add(&store, &subject, std::slice::from_ref(&sig)).unwrap();
        add(&store, &subject, &[sbom.clone(), sig.clone()]).unwrap();
        assert_eq!(of(&store, &subject).unwrap(), [sbom, sig]);
        assert_eq!(all(&store).unwrap().len(), 1);
        fs::write(dir.join("referrers/sha256/not-a-digest.tmp"), b"x").unwrap();
        assert_eq!(all(&store).unwrap().len(), 1);
        forget(&store, &subject).unwrap();
        assert!(all(&store).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
