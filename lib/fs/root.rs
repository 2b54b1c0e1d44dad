//! The target directory of an apply, and paths inside it that can never leave
//! it: names are cleaned (`..` stops at the root, a leading `/` means the
//! root), and directories are opened component by component with symlinks
//! resolved as if the target were `/` (`openat2` with `RESOLVE_IN_ROOT`, or
//! the same walk done here where the kernel lacks it).
//!
//! Everything that changes the tree is then done with `*at` calls on a
//! directory opened this way and a final name that is never followed.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Symlinks followed in one lookup before it is `ELOOP`, as the kernel does.
const MAX_LINKS: usize = 40;

/// A cleaned path inside the root: its components, none empty, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Inside(Vec<Vec<u8>>);

impl Inside {
    /// Cleans `name` as if it were absolute: `a/../../b` → `b`, `/etc` → `etc`.
    pub fn clean(name: &[u8]) -> Inside {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for c in name.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                c => parts.push(c.to_vec()),
            }
        }
        Inside(parts)
    }

    /// The parent and the last component; `None` for the root.
    pub fn split_last(&self) -> Option<(Inside, &[u8])> {
        let (last, rest) = self.0.split_last()?;
        Some((Inside(rest.to_vec()), last))
    }

    /// How many components deep the path is.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The path with one more component.
    pub fn join(&self, name: &[u8]) -> Inside {
        let mut parts = self.0.clone();
        parts.push(name.to_vec());
        Inside(parts)
    }

    /// `a/b/c`, or `.` for the root.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return b".".to_vec();
        }
        self.0.join(&b'/')
    }
}

impl std::fmt::Display for Inside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}", String::from_utf8_lossy(&self.0.join(&b'/')))
    }
}

/// The target directory, opened once.
pub struct Root {
    fd: OwnedFd,
    openat2: Cell<bool>,
}

impl Root {
    /// Opens (creating it and its parents if missing) the target directory.
    pub fn open(dir: &Path) -> io::Result<Root> {
        std::fs::create_dir_all(dir)?;
        let fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            openat2: Cell::new(true),
        })
    }

    /// The opened root directory.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens directory `path` inside the root, following symlinks only within it.
    pub fn open_dir(&self, path: &Inside) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if self.openat2.get() {
            let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
            for _ in 0..8 {
                match rustix::fs::openat2(
                    &self.fd,
                    path.to_bytes().as_slice(),
                    flags,
                    Mode::empty(),
                    resolve,
                ) {
                    // A rename elsewhere in the tree raced the lookup: try again.
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS) | Err(Errno::PERM) => {
                        self.openat2.set(false);
                        break;
                    }
                    other => return other.map_err(Into::into),
                }
            }
            if self.openat2.get() {
                return Err(Errno::AGAIN.into());
            }
        }
        self.walk(path)
    }

    /// `RESOLVE_IN_ROOT` by hand: one component at a time, never following a
    /// symlink with the kernel, `..` stopping at the root.
    fn walk(&self, path: &Inside) -> io::Result<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut todo: VecDeque<Vec<u8>> = path.0.iter().cloned().collect();
        let mut links = 0;
        let mut cur = self.fd.try_clone()?;
        while let Some(c) = todo.pop_front() {
            match c.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if let Some(up) = stack.pop() {
                        cur = up;
                    }
                    continue;
                }
                _ => {}
            }
            let st = rustix::fs::statat(&cur, c.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP.into());
                    }
                    let target =
                        rustix::fs::readlinkat(&cur, c.as_slice(), Vec::new())?.into_bytes();
                    if target.starts_with(b"/") {
                        stack.clear();
                        cur = self.fd.try_clone()?;
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        todo.push_front(part.to_vec());
                    }
                }
                FileType::Directory => {
                    let next = rustix::fs::openat(&cur, c.as_slice(), flags, Mode::empty())?;
                    stack.push(std::mem::replace(&mut cur, next));
                }
                _ => return Err(Errno::NOTDIR.into()),
            }
        }
        Ok(cur)
    }

    /// Uses the walk done here even where the kernel has `openat2`.
    #[cfg(test)]
    pub fn without_openat2(self) -> Root {
        self.openat2.set(false);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_into_the_root() {
        let c = |s: &str| String::from_utf8(Inside::clean(s.as_bytes()).to_bytes()).unwrap();
        assert_eq!(c("a/b/c"), "a/b/c");
        assert_eq!(c("./a//b/"), "a/b");
        assert_eq!(c("../../etc/passwd"), "etc/passwd");
        assert_eq!(c("/abs/x"), "abs/x");
        assert_eq!(c("a/../../../x"), "x");
        assert_eq!(c(".."), ".");
        assert_eq!(c(""), ".");
        assert!(Inside::clean(b"./").split_last().is_none());
    }

    fn tree() -> (std::path::PathBuf, std::path::PathBuf) {
        let base = std::env::temp_dir().join(format!(
            "dist-root-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), root.join("out")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        (base, root)
    }

    #[test]
    fn symlinks_resolve_inside_the_root_with_and_without_openat2() {
        let (base, root) = tree();
        for r in [
            Root::open(&root).unwrap(),
            Root::open(&root).unwrap().without_openat2(),
        ] {
            let ino = |fd: OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
            let real_sub = ino(r.open_dir(&Inside::clean(b"real/sub")).unwrap());
            assert_eq!(
                ino(r.open_dir(&Inside::clean(b"abs/sub")).unwrap()),
                real_sub
            );
            assert_eq!(
                ino(r.open_dir(&Inside::clean(b"up/real/sub")).unwrap()),
                real_sub
            );
            // A symlink to an absolute path outside resolves to that path inside the root.
            assert_eq!(
                r.open_dir(&Inside::clean(b"out")).unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            assert!(r.open_dir(&Inside::clean(b"loop")).is_err());
            let root_ino = rustix::fs::stat(&root).unwrap().st_ino;
            assert_eq!(ino(r.open_dir(&Inside::clean(b"up")).unwrap()), root_ino);
        }
        std::fs::remove_dir_all(base).unwrap();
    }
}
