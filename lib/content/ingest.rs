//! One in-progress write into the store, from open to commit.
//!
//! A write is keyed by a ref (any string; pulls use the digest) and lives in
//! `ingest/<sha256 of ref>/`: `data`, `ref`, `total`, `startedat`, `updatedat`
//! and `lock`, on which the writer holds an exclusive `flock` for its whole
//! life. A second writer of the same ref waits for that lock (or fails at once
//! with [`Kind::Unavailable`]); an interrupted write keeps `data`, and the next
//! writer resumes at its end. Commit checks size and digest, syncs, renames
//! `data` into `blobs/` and removes the directory. Until then, nothing of the
//! write is visible to readers of the store.
//!
//! Bytes are hashed on the caller's thread while a writer thread writes the
//! previous buffer, so hashing and writing overlap. The writer thread starts
//! writeback as it goes (`sync_file_range`, no cache flush), so the disk
//! works while we hash and the one `fsync` at commit is short.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;
use std::time::SystemTime;

use super::Store;
use crate::digest::{Algorithm, Digest, Digester};
use crate::error::{Context, Error, Kind, Result};
use crate::fs::{inode, mtime, sync_dir, try_lock};
use crate::stream::Chunk;
use crate::time::{format_rfc3339, parse_rfc3339};

/// Size of one copy buffer: the pooled size.
const BUF: usize = crate::stream::CHUNK;
/// Writes of at most this many bytes in all (when the writer knows) are made
/// on the caller's thread, without a writer thread.
const SHORT: u64 = 4 << 20;
/// Buffers in flight between the hashing and the writing thread.
const POOL: usize = 4;
/// The writer thread starts writeback of every this many bytes, so the disk
/// works while we hash and the final sync is short.
const KICK_EVERY: u64 = 8 << 20;
/// Written but unfinished writeback the writer thread lets pile up before it
/// waits for the oldest: bounds dirty memory at the disk's pace.
const IN_FLIGHT: u64 = 64 << 20;

/// What a writer is told before the first byte.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// The digest the content must have; known up front it also lets a write
    /// of content already in the store end at once.
    pub expected: Option<Digest>,
    /// The size the content must have.
    pub total: Option<u64>,
    /// Wait for another writer of the same ref (`true`) or fail at once.
    pub wait: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            expected: None,
            total: None,
            wait: true,
        }
    }
}

/// The state of one in-progress write, as `dist-active` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The ref the write is keyed by.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Bytes written so far.
    pub offset: u64,
    /// The expected size, when the writer declared one.
    pub total: Option<u64>,
    /// When the first writer of this ref started.
    #[serde(rename = "startedAt", serialize_with = "super::ser_time")]
    pub started_at: SystemTime,
    /// When data was last written.
    #[serde(rename = "updatedAt", serialize_with = "super::ser_time")]
    pub updated_at: SystemTime,
    /// The pid of the last writer that took the lock.
    pub pid: Option<u32>,
    /// Whether a process holds the write lock now.
    pub live: bool,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The committed digest.
    pub digest: Digest,
    /// The committed size.
    pub size: u64,
    /// The blob was already in the store; nothing was written.
    pub existed: bool,
    /// Bytes an interrupted write had kept and this one reused.
    pub resumed_from: u64,
}

/// A locked, resumable, verifying writer of one blob.
pub struct Writer {
    store: Store,
    dir: PathBuf,
    reference: String,
    _lock: File,
    /// Held shared for the writer's life: the collector waits for it.
    _store_lock: super::StoreLock,
    data: File,
    expected: Option<Digest>,
    total: Option<u64>,
    digester: Option<Digester>,
    /// Bytes of `data` fed to the digester.
    hashed: u64,
    /// Bytes in `data`, written or queued to the writer thread.
    offset: u64,
    resumed_from: u64,
    pipe: Option<Pipe>,
    done: bool,
}

fn key(reference: &str) -> String {
    Digest::of(reference.as_bytes()).hex().to_string()
}

impl Store {
    /// Opens a writer for `reference`: creates the layout if needed, takes the
    /// ref's lock (waiting unless `opts.wait` is false) and reopens what an
    /// interrupted writer left. If `opts.expected` is already committed, the
    /// error is [`Kind::AlreadyExists`], which callers treat as success.
    pub fn writer(&self, reference: &str, opts: WriterOptions) -> Result<Writer> {
        if reference.is_empty() {
            return Err(Error::invalid("the ref must not be empty"));
        }
        let store_lock = self.lock(false, opts.wait)?;
        let dir = self.ingest_root().join(key(reference));
        let lock = self.lock_ingest(&dir, reference, &opts)?;
        // Committed under another ref while we waited?
        if let Some(expected) = &opts.expected
            && let Err(e) = self.check_exists(expected, opts.total)
        {
            remove_ingest_dir(&dir);
            return Err(e);
        }
        lock.set_len(0)
            .and_then(|()| lock.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0))
            .context(dir.display())?;
        let (data, offset, total) = open_data(&dir, reference, opts.total)?;
        let algorithm = opts
            .expected
            .as_ref()
            .map_or(Algorithm::Sha256, |d| d.algorithm());
        Ok(Writer {
            store: self.clone(),
            dir,
            reference: reference.to_string(),
            _lock: lock,
            _store_lock: store_lock,
            data,
            expected: opts.expected,
            total,
            digester: Some(algorithm.digester()),
            hashed: 0,
            offset,
            resumed_from: offset,
            pipe: None,
            done: false,
        })
    }

    /// Creates the ingest directory `dir` if needed and takes its lock
    /// (waiting unless `opts.wait` is false). A writer that committed and
    /// removed the directory while we waited makes us start over.
    fn lock_ingest(&self, dir: &Path, reference: &str, opts: &WriterOptions) -> Result<File> {
        loop {
            if let Some(expected) = &opts.expected {
                self.check_exists(expected, opts.total)?;
            }
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(&e).context(dir.display())),
            }
            let lock_path = dir.join("lock");
            let lock = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&lock_path)
            {
                Ok(f) => f,
                // The directory went away between mkdir and open: a writer committed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&e).context(lock_path.display())),
            };
            if opts.wait {
                lock.lock().context(lock_path.display())?;
            } else if !try_lock(lock.try_lock()).context(lock_path.display())? {
                return Err(locked(reference, &lock));
            }
            // Only a lock that is still the one at the path counts.
            match (lock.metadata(), fs::metadata(&lock_path)) {
                (Ok(held), Ok(now)) if inode(&held) == inode(&now) => return Ok(lock),
                _ => continue,
            }
        }
    }

    fn check_exists(&self, digest: &Digest, total: Option<u64>) -> Result<()> {
        match fs::metadata(self.blob_path(digest)) {
            Ok(m) if total.is_some_and(|t| t != m.len()) => Err(Error::new(
                Kind::FailedPrecondition,
                format!(
                    "{digest}: already in the store with size {}, not the expected {}",
                    m.len(),
                    total.unwrap_or(0)
                ),
            )),
            Ok(_) => Err(Error::new(
                Kind::AlreadyExists,
                format!("{digest}: already exists"),
            )),
            Err(_) => Ok(()),
        }
    }

    /// The in-progress writes. With `all` false, only those whose writer is
    /// alive or whose data changed within `recent`.
    pub fn statuses(&self, all: bool, recent: std::time::Duration) -> Result<Vec<Status>> {
        let root = self.ingest_root();
        super::check_root(self.root())?;
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&e).context(root.display())),
        };
        let holders = flock_holders();
        let now = SystemTime::now();
        let mut out = Vec::new();
        for entry in entries {
            let dir = entry.context(root.display())?.path();
            // Directories vanish when their write commits: skip what is gone.
            let Some(status) = read_status(&dir, holders.as_ref()) else {
                continue;
            };
            let fresh = now
                .duration_since(status.updated_at)
                .map_or(true, |age| age <= recent);
            if all || status.live || fresh {
                out.push(status);
            }
        }
        out.sort_by(|a, b| {
            a.started_at
                .cmp(&b.started_at)
                .then_with(|| a.reference.cmp(&b.reference))
        });
        Ok(out)
    }
}

impl Store {
    /// Removes the write of `reference` if no writer holds it; returns
    /// whether it was removed.
    pub fn remove_ingest(&self, reference: &str) -> Result<bool> {
        let dir = self.ingest_root().join(key(reference));
        let lock_path = dir.join("lock");
        let lock = match OpenOptions::new().read(true).write(true).open(&lock_path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&e).context(lock_path.display())),
        };
        let free = match &lock {
            Some(lock) => try_lock(lock.try_lock()).context(lock_path.display())?,
            None => dir.exists(),
        };
        if !free {
            return Ok(false);
        }
        remove_ingest_dir(&dir);
        // Gone now, or this says why not.
        match fs::remove_dir(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io(&e).context(dir.display()))
            }
            _ => Ok(true),
        }
    }
}

fn locked(reference: &str, lock: &File) -> Error {
    let mut pid = String::new();
    let _ = (&*lock).read_to_string(&mut pid);
    let since = lock
        .metadata()
        .map(|m| mtime(&m))
        .unwrap_or(SystemTime::now());
    let since = format_rfc3339(since);
    let pid = pid.trim();
    let by = if pid.is_empty() {
        String::new()
    } else {
        format!(" by pid {pid}")
    };
    Error::new(
        Kind::Unavailable,
        format!("ref {reference}: locked{by} since {}Z", &since[..19]),
    )
}

fn read_status(dir: &Path, holders: Option<&HashSet<(u32, u32, u64)>>) -> Option<Status> {
    let reference = fs::read_to_string(dir.join("ref")).ok()?;
    let data = fs::metadata(dir.join("data")).ok()?;
    let lock = fs::metadata(dir.join("lock")).ok();
    let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
    let pid = read("lock").and_then(|s| s.trim().parse::<u32>().ok());
    let live = match (holders, &lock) {
        (Some(h), Some(m)) => {
            let (dev, ino) = inode(m);
            h.contains(&(rustix::fs::major(dev), rustix::fs::minor(dev), ino))
        }
        // Without /proc/locks: is the last writer's process still there?
        _ => pid.is_some_and(|p| {
            rustix::process::Pid::from_raw(p as i32)
                .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
        }),
    };
    let updated_at = mtime(&data);
    Some(Status {
        reference,
        offset: data.len(),
        total: read("total").and_then(|s| s.trim().parse().ok()),
        started_at: read("startedat")
            .and_then(|s| parse_rfc3339(s.trim()).ok())
            .unwrap_or(updated_at),
        updated_at,
        pid,
        live,
    })
}

/// The (major, minor, inode) of every file on which some process holds a
/// `flock`, from `/proc/locks`: this tells a live writer without touching its
/// lock. `None` where the file cannot be read.
fn flock_holders() -> Option<HashSet<(u32, u32, u64)>> {
    let text = fs::read_to_string("/proc/locks").ok()?;
    let mut out = HashSet::new();
    for line in text.lines() {
        // "1: FLOCK  ADVISORY  WRITE 4411 fd:01:1234567 0 EOF"; waiters carry "->".
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[1] != "FLOCK" {
            continue;
        }
        let mut dev = fields[5].split(':');
        let (Some(maj), Some(min), Some(ino)) = (dev.next(), dev.next(), dev.next()) else {
            continue;
        };
        if let (Ok(maj), Ok(min), Ok(ino)) = (
            u32::from_str_radix(maj, 16),
            u32::from_str_radix(min, 16),
            ino.parse(),
        ) {
            out.insert((maj, min, ino));
        }
    }
    Some(out)
}

/// Removes an ingest directory whose lock the caller holds. Every other file
/// goes first, the lock last, so that a writer that comes meanwhile blocks on
/// the lock we hold and never sees a half-removed directory; a writer that
/// starts after the lock is gone makes a fresh one, and our `rmdir` then
/// leaves its files alone.
/// Opens (or creates) the `data` of the ingest `dir` and writes its
/// `ref`, times and `total`: returns the data file, the bytes it holds
/// (dropped when more than `total`), and the total it must reach.
fn open_data(dir: &Path, reference: &str, total: Option<u64>) -> Result<(File, u64, Option<u64>)> {
    let now = format_rfc3339(SystemTime::now());
    let at = |name: &str| dir.join(name);
    if !at("ref").exists() {
        fs::write(at("ref"), reference).context(at("ref").display())?;
    }
    if !at("startedat").exists() {
        fs::write(at("startedat"), &now).context(at("startedat").display())?;
    }
    fs::write(at("updatedat"), &now).context(at("updatedat").display())?;
    let data = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(at("data"))
        .context(at("data").display())?;
    let mut offset = data.metadata().context(at("data").display())?.len();
    let old_total = fs::read_to_string(at("total"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if let Some(total) = total {
        if offset > total {
            data.set_len(0).context(at("data").display())?;
            offset = 0;
        }
        if old_total != Some(total) {
            fs::write(at("total"), total.to_string()).context(at("total").display())?;
        }
    }
    Ok((data, offset, total.or(old_total)))
}

fn remove_ingest_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name() != "lock" {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let _ = fs::remove_file(dir.join("lock"));
    let _ = fs::remove_dir(dir);
}

impl Writer {
    /// The ref this writer holds.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// Bytes already in the write: what an interrupted writer left, plus what
    /// was written since.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The expected size, declared now or by an earlier writer of the ref.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Writes `data`, hashing it on this thread.
    pub fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        self.catch_up()?;
        while !data.is_empty() {
            let mut chunk = Chunk::new();
            let n = data.len().min(chunk.space().len());
            chunk.space()[..n].copy_from_slice(&data[..n]);
            chunk.filled(n);
            self.submit(chunk)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes `chunk` without copying it, hashing it on this thread.
    pub fn write_chunk(&mut self, chunk: Chunk) -> Result<()> {
        self.catch_up()?;
        self.submit(chunk)
    }

    /// Copies `input` to its end into the write; returns the bytes copied.
    /// Read errors keep what was written, so the next writer resumes there.
    pub fn copy_from(&mut self, input: &mut impl Read) -> Result<u64> {
        self.catch_up()?;
        let start = self.offset;
        loop {
            let mut chunk = Chunk::new();
            let (n, end) = fill(input, chunk.space());
            chunk.filled(n);
            let eof = matches!(end, Ok(true));
            if n > 0 {
                self.submit(chunk)?;
            }
            match end {
                Err(e) => return Err(Error::io(&e).context("input")),
                Ok(_) if eof => return Ok(self.offset - start),
                Ok(_) => {}
            }
        }
    }

    /// Resumes from `input`, which carries the whole content again: reads the
    /// bytes the write already holds from `input` and from `data`, hashing the
    /// data, and keeps the longest prefix the two share. Bytes of `input` past
    /// a difference replace the rest of the old data. Returns the bytes kept.
    pub fn resume_from_stream(&mut self, input: &mut impl Read) -> Result<u64> {
        let mut old = vec![0u8; BUF];
        let mut new = vec![0u8; BUF];
        while self.hashed < self.offset {
            let want = (self.offset - self.hashed).min(BUF as u64) as usize;
            self.data
                .read_exact_at(&mut old[..want], self.hashed)
                .context(self.dir.join("data").display())?;
            let (got, end) = fill(input, &mut new[..want]);
            end.map_err(|e| Error::io(&e).context("input"))?;
            let same = old[..got]
                .iter()
                .zip(&new[..got])
                .take_while(|(a, b)| a == b)
                .count();
            self.hash(&old[..same]);
            self.hashed += same as u64;
            if same == got && got < want && self.total.is_some() {
                // The input ended early but agreed with what is kept: keep
                // it all; commit then reports the write short, to be resumed.
                self.catch_up()?;
                break;
            }
            if same < want {
                self.data
                    .set_len(self.hashed)
                    .context(self.dir.join("data").display())?;
                self.offset = self.hashed;
                self.resumed_from = self.hashed;
                self.write_all(&new[same..got])?;
                break;
            }
        }
        Ok(self.resumed_from)
    }

    /// Checks size and digest, makes the blob durable and moves it into
    /// `blobs/`. A wrong digest or size discards the write; a short one keeps
    /// it, to be resumed.
    pub fn commit(mut self) -> Result<Ingested> {
        self.catch_up()?;
        self.drain()?;
        let size = self.offset;
        if let Some(total) = self.total
            && size < total
        {
            return Err(Error::new(
                Kind::Unavailable,
                format!(
                    "ref {}: input ended after {size} of {total} bytes; kept for the next ingest to resume",
                    self.reference
                ),
            ));
        }
        let digest = self
            .digester
            .take()
            .map(|d| d.finish())
            .ok_or_else(|| Error::new(Kind::Internal, "digest taken twice"))?;
        if let Some(expected) = self.expected.clone()
            && expected != digest
        {
            self.discard();
            return Err(Error::new(
                Kind::DataCorruption,
                format!("{expected}: content has digest {digest} ({size} bytes); discarded"),
            ));
        }
        let data_path = self.dir.join("data");
        self.data.sync_all().context(data_path.display())?;
        let target = self.store.blob_path(&digest);
        let parent = target.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).context(parent.display())?;
        let existed = target.exists();
        if !existed {
            fs::rename(&data_path, &target).context(target.display())?;
            // Read-only once in place: made so before the rename, a kill in
            // between would leave `data` that no later writer could open.
            self.data
                .set_permissions(fs::Permissions::from_mode(0o444))
                .context(target.display())?;
            sync_dir(parent)?;
        }
        remove_ingest_dir(&self.dir);
        self.done = true;
        Ok(Ingested {
            digest,
            size,
            existed,
            resumed_from: self.resumed_from,
        })
    }

    /// Abandons the write and removes what it held.
    pub fn discard(&mut self) {
        if let Some(pipe) = self.pipe.take() {
            let _ = pipe.finish();
        }
        remove_ingest_dir(&self.dir);
        self.done = true;
    }

    fn hash(&mut self, data: &[u8]) {
        if let Some(d) = self.digester.as_mut() {
            d.update(data);
        }
    }

    /// Hashes what an interrupted writer left in `data`, once, before any new byte.
    fn catch_up(&mut self) -> Result<()> {
        if self.hashed == self.offset {
            return Ok(());
        }
        let mut buf = vec![0u8; BUF];
        while self.hashed < self.offset {
            let n = (self.offset - self.hashed).min(BUF as u64) as usize;
            self.data
                .read_exact_at(&mut buf[..n], self.hashed)
                .context(self.dir.join("data").display())?;
            self.hash(&buf[..n]);
            self.hashed += n as u64;
        }
        Ok(())
    }

    /// Hashes `chunk` and queues it for the writer thread, started on the
    /// first chunk.
    fn submit(&mut self, chunk: Chunk) -> Result<()> {
        let end = self.offset + chunk.len() as u64;
        if let Some(total) = self.total
            && end > total
        {
            self.discard();
            return Err(Error::new(
                Kind::DataCorruption,
                format!(
                    "ref {}: more than the expected {total} bytes; discarded",
                    self.reference
                ),
            ));
        }
        self.hash(&chunk);
        if self.total.is_some_and(|t| t <= SHORT) {
            // Written on this thread: for a few chunks, a writer thread
            // costs more than the overlap gains.
            self.data
                .write_all_at(&chunk, self.offset)
                .context(self.dir.join("data").display())
                .map_err(|e| self.full(e))?;
            self.offset = end;
            self.hashed = end;
            return Ok(());
        }
        if self.pipe.is_none() {
            let file = self
                .data
                .try_clone()
                .context(self.dir.join("data").display())?;
            self.pipe = Some(Pipe::spawn(file, self.offset));
        }
        self.offset = end;
        self.hashed = end;
        let sent = self.pipe.as_mut().is_some_and(|p| p.send(chunk));
        if sent {
            Ok(())
        } else {
            let e = self
                .drain()
                .err()
                .unwrap_or_else(|| Error::new(Kind::Internal, "writer thread ended"));
            Err(self.full(e))
        }
    }

    /// Waits for the writer thread to write everything queued.
    fn drain(&mut self) -> Result<()> {
        match self.pipe.take() {
            Some(pipe) => pipe
                .finish()
                .context(self.dir.join("data").display())
                .map_err(|e| self.full(e)),
            None => Ok(()),
        }
    }

    /// A full disk's error says what was kept for a resume, and how to
    /// free it.
    fn full(&self, e: Error) -> Error {
        let text = e.message();
        if !(text.contains("no space left on device") || text.contains("quota exceeded")) {
            return e;
        }
        let kept = self.data.metadata().map(|m| m.len()).unwrap_or(0);
        Error::new(
            e.kind(),
            format!(
                "{text}; {kept} bytes of ref {} kept for the next writer to resume (dist-gc --ingest-age 0 frees them)",
                self.reference
            ),
        )
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.done {
            // Keep what was written for the next writer of this ref; an
            // ingest with nothing in it has nothing to resume.
            let _ = self.drain();
            if self.offset == 0 {
                remove_ingest_dir(&self.dir);
                return;
            }
            let _ = fs::write(
                self.dir.join("updatedat"),
                format_rfc3339(SystemTime::now()),
            );
        }
    }
}

/// Starts writeback of `[from, to)` of `file` without a cache flush; with
/// `wait`, also waits until it is written. Only a hint: errors show again at
/// the `fsync` of commit, which is what makes the data durable.
fn writeback(file: &File, from: u64, to: u64, wait: bool) {
    use std::os::fd::AsRawFd;
    let flags = if wait {
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER
    } else {
        libc::SYNC_FILE_RANGE_WRITE
    };
    // SAFETY: sync_file_range reads no memory of ours; a bad range is an error, not UB.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            from as libc::off64_t,
            (to - from) as libc::off64_t,
            flags,
        );
    }
}

/// Reads into `buf` until it is full or the input ends. Returns the bytes
/// read and whether the input ended (or the error that stopped it).
fn fill(input: &mut impl Read, buf: &mut [u8]) -> (usize, io::Result<bool>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => return (n, Ok(true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Err(e)),
        }
    }
    (n, Ok(false))
}

/// The writer thread and the chunks queued for it.
struct Pipe {
    full: Option<SyncSender<Chunk>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Pipe {
    fn spawn(file: File, start: u64) -> Pipe {
        // One chunk being filled, one being written, the rest queued.
        let (full_tx, full_rx) = mpsc::sync_channel::<Chunk>(POOL - 2);
        let thread = std::thread::spawn(move || {
            let (mut pos, mut kicked, mut waited) = (start, start, start);
            for chunk in full_rx {
                file.write_all_at(&chunk, pos)?;
                pos += chunk.len() as u64;
                drop(chunk);
                if pos - kicked >= KICK_EVERY {
                    writeback(&file, kicked, pos, false);
                    kicked = pos;
                    if kicked - waited > IN_FLIGHT {
                        writeback(&file, waited, kicked - IN_FLIGHT / 2, true);
                        waited = kicked - IN_FLIGHT / 2;
                    }
                }
            }
            Ok(())
        });
        Pipe {
            full: Some(full_tx),
            thread: Some(thread),
        }
    }

    /// Queues `chunk`; false if the writer thread has stopped.
    fn send(&mut self, chunk: Chunk) -> bool {
        self.full.as_ref().is_some_and(|tx| tx.send(chunk).is_ok())
    }

    fn finish(mut self) -> io::Result<()> {
        drop(self.full.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("writer thread panicked")),
            None => Ok(()),
        }
    }
}

impl Store {
    /// Ingests all of `input` under `reference`: opens the writer, skips what an
    /// interrupted write already holds (by seeking a regular file whose digest is
    /// known, otherwise by reading and comparing), copies, verifies and commits.
    /// Content already in the store is a success that writes nothing.
    pub fn ingest(
        &self,
        reference: &str,
        opts: WriterOptions,
        input: &mut File,
    ) -> Result<Ingested> {
        let store = self;
        let expected = opts.expected.clone();
        let mut w = match store.writer(reference, opts) {
            Ok(w) => w,
            Err(e) if e.kind() == Kind::AlreadyExists => {
                let digest = expected.ok_or(e)?;
                let size = store.info(&digest)?.size;
                return Ok(Ingested {
                    digest,
                    size,
                    existed: true,
                    resumed_from: 0,
                });
            }
            Err(e) => return Err(e),
        };
        let kind = input.metadata().map(|m| m.file_type()).ok();
        if kind.is_some_and(|k| std::os::unix::fs::FileTypeExt::is_fifo(&k)) {
            // Fewer, larger reads from a pipe; the kernel may refuse, which is fine.
            let _ = rustix::pipe::fcntl_setpipe_size(&*input, BUF);
        }
        if w.offset() > 0 {
            if kind.is_some_and(|k| k.is_file()) && w.expected.is_some() {
                input
                    .seek(SeekFrom::Current(w.offset() as i64))
                    .context("input")?;
            } else {
                w.resume_from_stream(input)?;
            }
        }
        w.copy_from(input)?;
        w.commit()
    }
}
