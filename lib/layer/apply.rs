//! Applying one uncompressed layer (a tar stream) to a directory, entry by
//! entry, as the OCI image spec's "Applying Changesets" says: regular files,
//! directories, symlinks, hardlinks, FIFOs and devices with their modes,
//! owners, times and extended attributes; `.wh.NAME` whiteouts remove NAME
//! from lower layers and `.wh..wh..opq` empties a directory of lower content.
//!
//! Nothing outside the target is ever touched: see `root` for how names and
//! symlinks are resolved. Entries are replaced, never written through: an
//! existing entry of another kind is removed first (directories recursively,
//! without following symlinks) and files are created with `O_EXCL|O_NOFOLLOW`.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Dev, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use crate::error::{Error, Kind, Result};
use crate::fs::root::{Inside, Root};
use crate::tar::{EntryKind, Header, TarReader};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Give entries the owner the layer says (only root can).
    pub same_owner: bool,
    /// Write the layer as an overlayfs upper directory instead of applying
    /// it: whiteouts become 0:0 character devices and opaque markers the
    /// `trusted.overlay.opaque` attribute, for a directory that starts empty.
    pub overlay: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            same_owner: rustix::process::geteuid().is_root(),
            overlay: false,
        }
    }
}

/// What applying a layer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied, whiteouts included.
    pub entries: u64,
    /// Device nodes not created because the process may not.
    pub skipped_devices: u64,
    /// Extended attributes the file system refused.
    pub skipped_xattrs: u64,
    /// `user.*` extended attributes of symlinks, which Linux refuses.
    pub skipped_symlink_xattrs: u64,
}

/// The byte prefix of whiteout names.
const WHITEOUT: &[u8] = b".wh.";
/// The name that marks a directory opaque.
const OPAQUE: &[u8] = b".wh..wh..opq";

struct Applier<'a> {
    root: &'a Root,
    opts: &'a ApplyOptions,
    /// (dev, ino) of every entry this layer made: whiteouts and opaque
    /// markers remove only what lower layers had.
    created: HashSet<(u64, u64)>,
    /// Paths of the directories this layer puts entries in, and their
    /// ancestors: an opaque directory keeps them, emptied of lower content.
    touched: HashSet<Inside>,
    /// Directories whose times are set once everything in them is written.
    dir_times: Vec<(Inside, Timestamps)>,
    /// The directory the last entry went into.
    last_dir: Option<(Inside, OwnedFd)>,
    done: Applied,
    buf: Vec<u8>,
}

/// Applies the tar stream `layer` to the directory `root`.
pub(crate) fn apply(root: &Root, layer: impl Read, opts: &ApplyOptions) -> Result<Applied> {
    let mut a = Applier {
        root,
        opts,
        created: HashSet::new(),
        touched: HashSet::new(),
        dir_times: Vec::new(),
        last_dir: None,
        done: Applied::default(),
        buf: vec![0; 256 << 10],
    };
    let mut reader = TarReader::new(layer);
    while let Some(h) = reader.next_header()? {
        a.entry(&h, &mut reader.data()).map_err(|e| {
            // A name the file system refuses (too long, a NUL) is the
            // layer's fault, not the command's.
            let e = match e.kind() {
                Kind::InvalidArgument => Error::new(Kind::InvalidContent, e.message().to_string()),
                _ => e,
            };
            e.context(format!(
                "/{}",
                String::from_utf8_lossy(&h.name).trim_start_matches('/')
            ))
        })?;
        a.done.entries += 1;
    }
    a.finish()?;
    Ok(a.done)
}

/// A tar stream that cannot be read: truncated, a bad checksum, not a tar.
pub(crate) fn malformed_stream(e: &io::Error) -> Error {
    malformed(e)
}

fn malformed(e: &io::Error) -> Error {
    let why = Error::io(e);
    let why = why.message();
    let why = if why.is_empty() {
        "unexpected end of stream"
    } else {
        why
    };
    Error::new(Kind::InvalidContent, format!("malformed layer: {why}"))
}

fn io_err(e: impl Into<io::Error>) -> Error {
    Error::io(&e.into())
}

/// The metadata of an entry, PAX records applied.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: Timespec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    fn of(h: &Header) -> Meta {
        Meta {
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            mtime: Timespec {
                tv_sec: h.mtime.0,
                tv_nsec: h.mtime.1 as _,
            },
            xattrs: h.xattrs.clone(),
        }
    }

    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }
}

impl Applier<'_> {
    fn entry(&mut self, h: &Header, data: &mut impl Read) -> Result<()> {
        let path = Inside::clean(&h.name);
        let meta = Meta::of(h);
        let Some((parent, name)) = path.split_last() else {
            // The root itself: only a directory entry makes sense there.
            if h.kind == EntryKind::Directory {
                let fd = reopen(self.root.fd())?;
                self.metadata(fd.as_fd(), &meta, false)?;
                self.dir_times.push((Inside::default(), meta.times()));
                return Ok(());
            }
            return Err(Error::new(
                Kind::InvalidContent,
                "an entry that is not a directory names the root",
            ));
        };
        let name = name.to_vec();
        if let Some(target) = name.strip_prefix(WHITEOUT) {
            return self.whiteout(&parent, target);
        }
        let dir = self.dir(&parent)?;
        let dir = dir.as_fd();
        let dev = rustix::fs::makedev(h.dev_major, h.dev_minor);
        match h.kind {
            EntryKind::Directory => self.directory(dir, &parent, &name, &meta),
            EntryKind::File => self.file(dir, &name, &meta, data),
            EntryKind::Symlink => self.symlink(dir, &name, &h.link, &meta),
            EntryKind::HardLink => self.hardlink(dir, &name, &Inside::clean(&h.link)),
            EntryKind::Char => self.node(dir, &name, FileType::CharacterDevice, dev, &meta),
            EntryKind::Block => self.node(dir, &name, FileType::BlockDevice, dev, &meta),
            EntryKind::Fifo => self.node(dir, &name, FileType::Fifo, dev, &meta),
        }
    }

    /// The directory `path` inside the root, created (with its parents) if
    /// the layer did not say so. The last one is kept open for the next entry.
    fn dir(&mut self, path: &Inside) -> Result<OwnedFd> {
        if let Some((p, fd)) = &self.last_dir
            && p == path
        {
            return fd.try_clone().map_err(io_err);
        }
        let fd = self.make_dir(path, 0)?;
        self.touch(path);
        self.last_dir = Some((path.clone(), fd.try_clone().map_err(io_err)?));
        Ok(fd)
    }

    /// Opens `path`, making what is missing: a missing directory is created;
    /// a symlink to a missing place makes that place, inside the root, as
    /// containerd does.
    fn make_dir(&mut self, path: &Inside, links: usize) -> Result<OwnedFd> {
        let e = match self.root.open_dir(path) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) && links < 40 => e,
            Err(e) => return Err(self.not_a_dir(e, path)),
        };
        let (parent, name) = path.split_last().ok_or_else(|| io_err(e))?;
        let up = self.make_dir(&parent, links)?;
        match rustix::fs::mkdirat(&up, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => self.remember_at(up.as_fd(), name)?,
            Err(Errno::EXIST) => {
                if let Ok(target) = rustix::fs::readlinkat(&up, name, Vec::new()) {
                    let target = target.into_bytes();
                    let there = if target.starts_with(b"/") {
                        Inside::clean(&target)
                    } else {
                        Inside::clean(&[parent.to_bytes(), b"/".to_vec(), target].concat())
                    };
                    self.make_dir(&there, links + 1)?;
                }
            }
            Err(e) => return Err(io_err(e).context(path)),
        }
        self.root
            .open_dir(path)
            .map_err(|e| self.not_a_dir(e, path))
    }

    fn not_a_dir(&self, e: io::Error, path: &Inside) -> Error {
        if e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error())
            || e.raw_os_error() == Some(Errno::LOOP.raw_os_error())
        {
            Error::new(
                Kind::InvalidContent,
                format!("{path} is not a directory, but the layer puts entries in it"),
            )
        } else {
            Error::io(&e).context(path)
        }
    }

    /// What is at `name` in `dir`, without following a symlink.
    fn existing(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Option<rustix::fs::Stat>> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Makes room for a new entry `name`: removes what is there (unless it is
    /// a directory and `keep_dir`). Returns whether a directory was kept.
    fn clear(&mut self, dir: BorrowedFd<'_>, name: &[u8], keep_dir: bool) -> Result<bool> {
        let Some(st) = Self::existing(dir, name)? else {
            return Ok(false);
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if is_dir && keep_dir {
            return Ok(true);
        }
        self.remove(dir, name, st.st_mode)?;
        Ok(false)
    }

    /// Removes `name` (of `mode`) from `dir`, a directory with everything
    /// in it, never following a symlink.
    fn remove(&mut self, dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> Result<()> {
        let kind = FileType::from_raw_mode(mode);
        if matches!(kind, FileType::Directory | FileType::Symlink) {
            // The cached directory's path may go through this name.
            self.last_dir = None;
        }
        if kind == FileType::Directory {
            let sub = open_subdir(dir, name)?;
            self.empty_dir(sub.as_fd(), None)?;
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io_err)
        } else {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io_err)
        }
    }

    /// Removes the entries of the open directory `dir`: all of them, or, for
    /// an opaque directory at `opaque`, those of lower layers: entries this
    /// layer made stay, and lower directories it put entries in stay but are
    /// emptied the same way.
    fn empty_dir(&mut self, dir: BorrowedFd<'_>, opaque: Option<&Inside>) -> Result<()> {
        let mut names = Vec::new();
        for e in rustix::fs::Dir::read_from(dir).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(n.to_vec());
            }
        }
        for n in names {
            let Some(st) = Self::existing(dir, &n)? else {
                continue;
            };
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if let Some(path) = opaque {
                if self.created.contains(&(st.st_dev, st.st_ino)) {
                    continue;
                }
                let child = path.join(&n);
                if is_dir && self.touched.contains(&child) {
                    let sub = open_subdir(dir, n.as_slice())?;
                    self.empty_dir(sub.as_fd(), Some(&child))?;
                    continue;
                }
            }
            self.remove(dir, &n, st.st_mode)?;
        }
        Ok(())
    }

    /// Notes that this layer puts entries in `path` (and so in its ancestors).
    fn touch(&mut self, path: &Inside) {
        let mut p = path.clone();
        while self.touched.insert(p.clone()) {
            match p.split_last() {
                Some((parent, _)) => p = parent,
                None => break,
            }
        }
    }

    fn whiteout(&mut self, parent: &Inside, target: &[u8]) -> Result<()> {
        if target.is_empty() || target == b"." || target == b".." || target.contains(&b'/') {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "whiteout of '{}' names no entry",
                    String::from_utf8_lossy(target)
                ),
            ));
        }
        if self.opts.overlay {
            return self.overlay_whiteout(parent, target);
        }
        if target == &OPAQUE[WHITEOUT.len()..] {
            let dir = match self.root.open_dir(parent) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => return Ok(()),
                Err(e) => return Err(self.not_a_dir(e, parent)),
            };
            let dir = reopen(&dir)?;
            return self.empty_dir(dir.as_fd(), Some(parent));
        }
        let dir = match self.root.open_dir(parent) {
            Ok(fd) => fd,
            // Nothing below: nothing to remove.
            Err(e) if matches!(Errno::from_io_error(&e), Some(Errno::NOENT | Errno::NOTDIR)) => {
                return Ok(());
            }
            Err(e) => return Err(Error::io(&e).context(parent)),
        };
        let Some(st) = Self::existing(dir.as_fd(), target)? else {
            return Ok(());
        };
        if self.created.contains(&(st.st_dev, st.st_ino)) {
            return Ok(());
        }
        self.remove(dir.as_fd(), target, st.st_mode)
    }

    /// A whiteout in overlayfs form: a 0:0 character device named as what
    /// it hides, or, for the opaque marker, an attribute on its directory.
    fn overlay_whiteout(&mut self, parent: &Inside, target: &[u8]) -> Result<()> {
        let dir = self.dir(parent)?;
        if target == &OPAQUE[WHITEOUT.len()..] {
            let fd = reopen(&dir)?;
            return match rustix::fs::fsetxattr(
                &fd,
                "trusted.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            ) {
                Ok(()) => Ok(()),
                Err(Errno::PERM | Errno::ACCESS) => Err(missing_privilege(
                    "CAP_SYS_ADMIN",
                    "to mark an opaque directory (trusted.overlay.opaque)",
                )),
                Err(e) => Err(io_err(e)),
            };
        }
        self.clear(dir.as_fd(), target, false)?;
        match rustix::fs::mknodat(
            &dir,
            target,
            FileType::CharacterDevice,
            Mode::empty(),
            rustix::fs::makedev(0, 0),
        ) {
            Ok(()) => self.remember_at(dir.as_fd(), target),
            Err(Errno::PERM | Errno::ACCESS) => Err(missing_privilege(
                "CAP_MKNOD",
                "to make an overlay whiteout (a 0:0 character device)",
            )),
            Err(e) => Err(io_err(e)),
        }
    }

    fn directory(
        &mut self,
        dir: BorrowedFd<'_>,
        parent: &Inside,
        name: &[u8],
        meta: &Meta,
    ) -> Result<()> {
        let kept = self.clear(dir, name, true)?;
        if !kept {
            rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(io_err)?;
        }
        let fd = open_subdir(dir, name)?;
        self.metadata(fd.as_fd(), meta, false)?;
        let path = parent.join(name);
        if kept {
            // A lower directory the layer names again: an opaque parent
            // keeps it, emptied of lower content.
            self.touch(&path);
        } else {
            self.remember(fd.as_fd())?;
        }
        self.dir_times.push((path, meta.times()));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        data: &mut R,
    ) -> Result<()> {
        self.clear(dir, name, false)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd =
            rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600)).map_err(io_err)?;
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(malformed(&e)),
            };
            let mut chunk = &self.buf[..n];
            while !chunk.is_empty() {
                let w = rustix::io::write(&fd, chunk).map_err(io_err)?;
                chunk = &chunk[w..];
            }
        }
        self.metadata(fd.as_fd(), meta, true)?;
        self.remember(fd.as_fd())
    }

    fn symlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        target: &[u8],
        meta: &Meta,
    ) -> Result<()> {
        self.clear(dir, name, false)?;
        rustix::fs::symlinkat(target, dir, name).map_err(io_err)?;
        // A symlink now stands where a cached path may go.
        self.last_dir = None;
        self.chown_at(dir, name, meta)?;
        self.symlink_xattrs(dir, name, meta)?;
        rustix::fs::utimensat(dir, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err)?;
        self.remember_at(dir, name)
    }

    /// The xattrs of the symlink `name` in `dir`. Linux refuses `user.*`
    /// on symlinks: those are counted, for one warning. The others are set
    /// through `/proc/self/fd` (no `*at` call sets an xattr without
    /// following a link; `dir` is already resolved inside the root and
    /// `name` is one component).
    fn symlink_xattrs(&mut self, dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> Result<()> {
        use std::os::fd::AsRawFd;
        for (key, value) in &meta.xattrs {
            if key.starts_with(b"user.") {
                self.done.skipped_symlink_xattrs += 1;
                continue;
            }
            let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
            path.extend_from_slice(name);
            match rustix::fs::lsetxattr(
                OsStr::from_bytes(&path),
                OsStr::from_bytes(key),
                value,
                rustix::fs::XattrFlags::empty(),
            ) {
                Ok(()) => {}
                Err(e) if refused_xattr(e) => self.done.skipped_xattrs += 1,
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(())
    }

    fn hardlink(&mut self, dir: BorrowedFd<'_>, name: &[u8], target: &Inside) -> Result<()> {
        let Some((tparent, tname)) = target.split_last() else {
            return Err(Error::new(Kind::InvalidContent, "hardlink to the root"));
        };
        let missing = || {
            Error::new(
                Kind::InvalidContent,
                format!("hardlink to {target}, which is not in the target"),
            )
        };
        let tdir = match self.root.open_dir(&tparent) {
            Ok(fd) => fd,
            Err(e) if matches!(Errno::from_io_error(&e), Some(Errno::NOENT | Errno::NOTDIR)) => {
                return Err(missing());
            }
            Err(e) => return Err(Error::io(&e).context(&tparent)),
        };
        let Some(st) = Self::existing(tdir.as_fd(), tname)? else {
            return Err(missing());
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("hardlink to directory {target}"),
            ));
        }
        if let Some(existing) = Self::existing(dir, name)? {
            if (existing.st_dev, existing.st_ino) == (st.st_dev, st.st_ino) {
                return Ok(());
            }
            self.remove(dir, name, existing.st_mode)?;
        }
        // Without AT_SYMLINK_FOLLOW: a symlink is linked as itself, never followed.
        rustix::fs::linkat(&tdir, tname, dir, name, AtFlags::empty()).map_err(io_err)
    }

    fn node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        file_type: FileType,
        dev: Dev,
        meta: &Meta,
    ) -> Result<()> {
        self.clear(dir, name, false)?;
        match rustix::fs::mknodat(dir, name, file_type, Mode::from_raw_mode(0o600), dev) {
            Ok(()) => {}
            Err(Errno::PERM | Errno::ACCESS) if file_type != FileType::Fifo => {
                self.done.skipped_devices += 1;
                return Ok(());
            }
            Err(e) => return Err(io_err(e)),
        }
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        self.chown_at(dir, name, meta)?;
        // chmod of a node through /proc would be needed for O_PATH fds: use the name, which is ours.
        rustix::fs::chmodat(dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())
            .map_err(io_err)?;
        rustix::fs::utimensat(dir, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_err)?;
        self.remember(fd.as_fd())
    }

    /// Owner, mode (after the owner: chown clears setuid), xattrs and, for
    /// files, times of an entry open as `fd`.
    fn metadata(&mut self, fd: BorrowedFd<'_>, meta: &Meta, times: bool) -> Result<()> {
        if self.opts.same_owner {
            rustix::fs::fchown(fd, Some(uid(meta.uid)), Some(gid(meta.gid))).map_err(io_err)?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(io_err)?;
        for (key, value) in &meta.xattrs {
            match rustix::fs::fsetxattr(
                fd,
                OsStr::from_bytes(key),
                value,
                rustix::fs::XattrFlags::empty(),
            ) {
                Ok(()) => {}
                Err(e) if refused_xattr(e) => self.done.skipped_xattrs += 1,
                Err(e) => return Err(io_err(e)),
            }
        }
        if times {
            rustix::fs::futimens(fd, &meta.times()).map_err(io_err)?;
        }
        Ok(())
    }

    /// Gives the entry `name` in `dir` the layer's owner (as root), without
    /// following it.
    fn chown_at(&self, dir: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> Result<()> {
        if !self.opts.same_owner {
            return Ok(());
        }
        let (u, g) = (Some(uid(meta.uid)), Some(gid(meta.gid)));
        rustix::fs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW).map_err(io_err)
    }

    fn remember(&mut self, fd: BorrowedFd<'_>) -> Result<()> {
        let st = rustix::fs::fstat(fd).map_err(io_err)?;
        self.created.insert((st.st_dev, st.st_ino));
        Ok(())
    }

    fn remember_at(&mut self, dir: BorrowedFd<'_>, name: &[u8]) -> Result<()> {
        if let Some(st) = Self::existing(dir, name)? {
            self.created.insert((st.st_dev, st.st_ino));
        }
        Ok(())
    }

    /// Sets the times of directories, deepest first, now that nothing more
    /// is written in them.
    fn finish(&mut self) -> Result<()> {
        let mut dirs = std::mem::take(&mut self.dir_times);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.depth()));
        for (path, times) in dirs {
            // A later entry may have replaced or whited out the directory.
            let Ok(fd) = self.root.open_dir(&path) else {
                continue;
            };
            let Ok(fd) = reopen(&fd) else {
                continue;
            };
            rustix::fs::futimens(&fd, &times).map_err(|e| io_err(e).context(&path))?;
        }
        Ok(())
    }
}

/// A directory open as `dir` (an `O_PATH` descriptor, say) opened again
/// for reading.
fn reopen(dir: impl AsFd) -> Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
}

/// The directory `name` in `dir`, opened for reading; a symlink there is
/// not followed but refused.
fn open_subdir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
}

/// The error for what only a privileged process may write.
/// Whether setting an xattr failed because the file system or the
/// process's privileges refuse it (skipped with a warning), not an I/O error.
fn refused_xattr(e: Errno) -> bool {
    matches!(
        e,
        Errno::NOTSUP | Errno::PERM | Errno::ACCESS | Errno::INVAL | Errno::NOSPC | Errno::RANGE
    )
}

fn missing_privilege(cap: &str, what: &str) -> Error {
    Error::new(
        Kind::PermissionDenied,
        format!("snapshots need {cap} {what}; run as root, or flatten the image with --rootfs DIR"),
    )
}

fn uid(id: u64) -> Uid {
    Uid::from_raw(id as u32)
}

fn gid(id: u64) -> Gid {
    Gid::from_raw(id as u32)
}
