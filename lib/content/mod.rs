//! The content store (format 1): committed blobs under `blobs/<alg>/<hex>`,
//! in-progress writes under `ingest/`, and the OCI image layout files that let
//! other tools read the same directory.
//!
//! This module owns reading, listing and deleting committed blobs; the
//! lifecycle of one write (lock, resume, verify, commit) is in [`ingest`].
//! It knows nothing of registries, images or names.

pub mod ingest;

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::{Algorithm, Digest};
use crate::error::{Context, Error, Kind, Result};
use crate::fs::{create_if_missing, mtime, try_lock};

pub use ingest::{Ingested, Status, Writer, WriterOptions};

const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
const EMPTY_INDEX: &str = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}";

/// A content store rooted at a directory. Opening one does no I/O; the layout
/// is created by the first write.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A hold on the whole store, taken shared by everything that writes
/// (ingests, pulls until their name is recorded, unpacks) and exclusive by
/// the garbage collector, so that it never sees a write half done.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// What the store knows of one committed blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Info {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was committed (the file's modification time).
    #[serde(serialize_with = "ser_time")]
    pub committed: SystemTime,
}

pub(crate) fn ser_time<S: serde::Serializer>(
    t: &SystemTime,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::format_rfc3339(*t))
}

impl Store {
    /// The store at `root`. The path is made absolute so that printed paths
    /// stay valid from any directory.
    pub fn open(root: impl Into<PathBuf>) -> Store {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Store { root }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a store is at the root: its `oci-layout` file or its
    /// `blobs` directory (a layout another tool wrote counts).
    pub fn exists(&self) -> bool {
        self.probe().unwrap_or(false)
    }

    /// Whether a store is at the root, or why that cannot be told: a root
    /// that is no directory, or that may not be read.
    pub fn probe(&self) -> Result<bool> {
        match fs::metadata(&self.root) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::new(Kind::FailedPrecondition, "not a directory")
                    .context(self.root.display()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(&e).context(self.root.display())),
        }
        for (name, dir) in [("oci-layout", false), ("blobs", true)] {
            let path = self.root.join(name);
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() == dir => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&e).context(path.display())),
            }
        }
        Ok(false)
    }

    /// Where the blob `digest` lives, whether or not it exists.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    pub(crate) fn ingest_root(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// Creates the layout if it is missing: the root, `blobs/sha256`,
    /// `ingest`, `oci-layout` and an empty `index.json`. Safe to race.
    pub fn init(&self) -> Result<()> {
        let root = &self.root;
        match fs::metadata(root) {
            Ok(m) if !m.is_dir() => {
                return Err(
                    Error::new(Kind::FailedPrecondition, "not a directory").context(root.display())
                );
            }
            _ => {}
        }
        for dir in [root.join("blobs").join("sha256"), self.ingest_root()] {
            fs::create_dir_all(&dir).context(dir.display())?;
        }
        create_if_missing(&root.join("oci-layout"), OCI_LAYOUT.as_bytes())?;
        create_if_missing(&root.join("index.json"), EMPTY_INDEX.as_bytes())?;
        Ok(())
    }

    /// Takes the store-wide lock: shared for writers, exclusive for the
    /// collector; waits for it unless `wait` is false (then a held lock is
    /// [`Kind::Unavailable`]). Creates the layout if it is missing.
    pub fn lock(&self, exclusive: bool, wait: bool) -> Result<StoreLock> {
        self.init()?;
        let path = self.root.join("gc.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&path)
            .context(path.display())?;
        let got = match (exclusive, wait) {
            (true, true) => file.lock().map(|()| true),
            (false, true) => file.lock_shared().map(|()| true),
            (true, false) => try_lock(file.try_lock()),
            (false, false) => try_lock(file.try_lock_shared()),
        }
        .context(path.display())?;
        if !got {
            return Err(Error::new(
                Kind::Unavailable,
                format!(
                    "{}: the store is locked by {}",
                    path.display(),
                    if exclusive {
                        "a writer"
                    } else {
                        "the garbage collector"
                    }
                ),
            ));
        }
        Ok(StoreLock { _file: file })
    }

    /// Information about the committed blob `digest`.
    pub fn info(&self, digest: &Digest) -> Result<Info> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Info {
                digest: digest.clone(),
                size: m.len(),
                committed: mtime(&m),
            }),
            Ok(_) => {
                Err(Error::new(Kind::FailedPrecondition, "not a regular file")
                    .context(path.display()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found(digest)),
            Err(e) => Err(Error::io(&e).context(path.display())),
        }
    }

    /// Whether the blob `digest` is committed.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The path of the committed blob `digest`, or a "not found" error.
    pub fn path(&self, digest: &Digest) -> Result<PathBuf> {
        self.info(digest).map(|_| self.blob_path(digest))
    }

    /// Opens the committed blob `digest` for reading.
    pub fn reader(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => not_found(digest),
            _ => Error::io(&e).context(path.display()),
        })
    }

    /// Every committed blob, sorted by digest. A store that does not exist
    /// yet is empty; files under `blobs/` that are not digests are ignored.
    pub fn list(&self) -> Result<Vec<Info>> {
        let blobs = self.root.join("blobs");
        check_root(&self.root)?;
        let mut out = Vec::new();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = blobs.join(algorithm.name());
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&e).context(dir.display())),
            };
            for entry in entries {
                let entry = entry.context(dir.display())?;
                let Some(digest) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| Digest::from_parts(algorithm, n).ok())
                else {
                    continue;
                };
                // A blob deleted while we list is simply not listed.
                match entry.metadata() {
                    Ok(m) if m.is_file() => out.push(Info {
                        digest,
                        size: m.len(),
                        committed: mtime(&m),
                    }),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&e).context(entry.path().display())),
                }
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    /// Removes the committed blob `digest`.
    pub fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found(digest)),
            Err(e) => Err(Error::io(&e).context(digest)),
        }
    }
}

fn not_found(digest: &Digest) -> Error {
    Error::new(Kind::NotFound, format!("{digest}: not found"))
}

/// A root that exists but is no directory, or cannot be read, is an error;
/// one that does not exist yet is an empty store.
fn check_root(root: &Path) -> Result<()> {
    match fs::metadata(root) {
        Ok(m) if m.is_dir() => fs::read_dir(root).map(drop).context(root.display()),
        Ok(_) => {
            Err(Error::new(Kind::FailedPrecondition, "not a directory").context(root.display()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&e).context(root.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dist-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn missing_store_is_empty_and_file_root_is_refused() {
        let dir = scratch("missing");
        assert!(Store::open(dir.join("nope")).list().unwrap().is_empty());
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("file"), b"x").unwrap();
        let err = Store::open(dir.join("file")).list().unwrap_err();
        assert_eq!(err.kind(), Kind::FailedPrecondition);
        assert_eq!(
            Store::open(dir.join("file")).init().unwrap_err().kind(),
            Kind::FailedPrecondition
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn init_writes_an_oci_layout_once() {
        let dir = scratch("init");
        let store = Store::open(&dir);
        store.init().unwrap();
        fs::write(
            dir.join("index.json"),
            b"{\"schemaVersion\":2,\"manifests\":[1]}",
        )
        .unwrap();
        store.init().unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("oci-layout")).unwrap(),
            OCI_LAYOUT
        );
        assert!(
            fs::read_to_string(dir.join("index.json"))
                .unwrap()
                .contains("[1]")
        );
        let strays: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(strays.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
