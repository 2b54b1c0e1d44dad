//! Files on disk: written whole or not at all (a temporary file beside the
//! target, synced, renamed over it, the directory synced), temporary names,
//! the identity and age of a file, `flock` outcomes, and in [`root`] a
//! directory below which paths are opened without ever leaving it.
//!
//! This module knows nothing of blobs, images or layers.

pub mod root;

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Context, Error, Kind, Result};

/// When a file was last modified (the epoch when unknown).
pub fn mtime(m: &fs::Metadata) -> SystemTime {
    m.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// A temporary name beside `path`, unique to this process and call.
pub fn temp_beside(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{seq}", std::process::id()))
}

fn write_temp(path: &Path, data: &[u8], mode: u32) -> Result<PathBuf> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&e).context(path.display()));
    }
    Ok(tmp)
}

/// Replaces `path` with `data` atomically: a temporary file beside it is
/// written, synced and renamed over it, then the directory is synced.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// [`write_atomic`] with the file's permission bits (0600 for secrets).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = write_temp(path, data, mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&e).context(path.display()));
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Creates `path` with `data` unless it exists; never replaces a file that
/// another process created first.
pub fn create_if_missing(path: &Path, data: &[u8]) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let tmp = write_temp(path, data, 0o644)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(&e).context(path.display())),
    }
}

/// Makes the entries of `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .context(dir.display())
}

/// The device and inode of a file: its identity.
pub fn inode(m: &fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// The outcome of a `try_lock`: `true` taken, `false` held by another.
pub fn try_lock(r: std::result::Result<(), fs::TryLockError>) -> io::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A file written whole or not at all (`-o FILE`): bytes go to a temporary
/// file beside it, which [`AtomicFile::commit`] syncs and renames over it.
/// Dropped without commit, the temporary file is removed. A path that is
/// not a regular file (`/dev/null`, a FIFO, a symlink) is written in place:
/// renaming over it would replace the device or the link.
pub struct AtomicFile {
    path: PathBuf,
    /// The temporary file, when writing by rename.
    tmp: Option<PathBuf>,
    file: Option<std::fs::File>,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: impl Into<PathBuf>) -> Result<AtomicFile> {
        let path = path.into();
        let err = |e: io::Error| Error::io(&e).context(path.display());
        let in_place = std::fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_file());
        if in_place {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&path)
                .map_err(err)?;
            return Ok(AtomicFile {
                path,
                tmp: None,
                file: Some(file),
            });
        }
        let tmp = temp_beside(&path);
        let file = std::fs::File::create(&tmp).map_err(err)?;
        Ok(AtomicFile {
            path,
            tmp: Some(tmp),
            file: Some(file),
        })
    }

    /// The file being written, for copies the kernel makes (`io::copy`
    /// from a `File` to a `File` needs no buffer of ours).
    pub fn file_mut(&mut self) -> Result<&mut std::fs::File> {
        self.file
            .as_mut()
            .ok_or_else(|| Error::new(Kind::Internal, "file already committed"))
    }

    /// Makes the file durable and puts it in place.
    pub fn commit(mut self) -> Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Error::new(Kind::Internal, "committed twice"))?;
        let Some(tmp) = &self.tmp else { return Ok(()) };
        file.sync_all()
            .and_then(|()| std::fs::rename(tmp, &self.path))
            .map_err(|e| Error::io(&e).context(self.path.display()))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))?
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let (Some(_), Some(tmp)) = (&self.file, &self.tmp) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
