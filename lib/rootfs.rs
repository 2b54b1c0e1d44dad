//! Root filesystems built from layers.
//!
//! Chain IDs name the result of applying a stack of layers (OCI image spec,
//! config.md "Layer ChainID"):
//!
//! ```text
//! ChainID(L0)          = DiffID(L0)
//! ChainID(L0|...|Ln)   = SHA256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))
//! ```
//!
//! Snapshots live under `<root>/snapshots/`:
//!
//! ```text
//! <chainid-hex>/fs        one layer's changes in overlayfs form (whiteouts are
//!                         0:0 character devices, opaque directories carry
//!                         trusted.overlay.opaque=y)
//! <chainid-hex>/parent    the chain ID below it, absent for the bottom layer
//! <chainid-hex>/diffid    the layer's diff ID
//! active/<key>/fs, work   a writable snapshot: overlay upper and work dirs
//! active/<key>/parent     the chain ID it was prepared on
//! active/<key>/mnt        where the printed mount command mounts it by default
//! tmp/                    unpacks under way, renamed into place when whole
//! ```
//!
//! A committed snapshot appears only by rename, after its diff ID was checked
//! against the image config; writers hold the store lock shared, so the
//! collector never sees one half made.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::content::Store;
use crate::descriptor::Descriptor;
use crate::digest::{Algorithm, Digest};
use crate::error::{Context, Error, Kind, Result};
use crate::fs::temp_beside;
use crate::layer::{self, ApplyOptions};
use crate::manifest::{Config, Manifest};
use crate::platform::Platform;

/// The chain ID of every prefix of `diff_ids`, bottom layer first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The chain ID of the whole stack, `None` for no layers.
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    chain_ids(diff_ids).pop()
}

/// Where an image's layers go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Snapshots of the store, one per layer, keyed by chain ID.
    Snapshots,
    /// One directory, every layer applied in turn (whiteouts remove).
    Dir(PathBuf),
}

impl Target {
    /// The directory `dir` as a target: it must be missing or empty, since
    /// the files of whatever it held would stay among the image's (an
    /// initramfs with stale files); `force` unpacks over them.
    pub fn dir(dir: PathBuf, force: bool) -> Result<Target> {
        if !force {
            match fs::read_dir(&dir).map(|mut e| e.next().is_some()) {
                Ok(true) => {
                    return Err(Error::new(
                        Kind::FailedPrecondition,
                        format!(
                            "{}: not empty; the image would be unpacked among its files (--force to do so)",
                            dir.display()
                        ),
                    ));
                }
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&e).context(dir.display())),
            }
        }
        Ok(Target::Dir(dir))
    }
}

/// What an unpack tells as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// This layer is being applied.
    Applying(&'a Descriptor),
    /// This layer is done (or was there already).
    Applied(&'a Unpacked),
}

/// What happened to one layer of an unpack.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The layer's descriptor.
    pub layer: Descriptor,
    /// Its diff ID, as the config says and the bytes agree.
    pub diff_id: Digest,
    /// The chain ID up to and including it.
    pub chain_id: Digest,
    /// The snapshot was there already: nothing was applied.
    pub existed: bool,
}

/// Unpacks the layers of `manifest` (whose config is `config`) from `store`
/// into `target`, bottom first, checking each diff ID against the config.
/// `ready` is called before a layer is read: it waits for the layer to be in
/// the store (a pull fetching it meanwhile) or fails. `each` hears of every
/// layer done. Returns the chain ID of the whole stack (`None`: no layers).
pub fn unpack(
    store: &Store,
    manifest: &Manifest,
    config: &Config,
    target: &Target,
    ready: &dyn Fn(&Descriptor) -> Result<()>,
    each: &dyn Fn(Step),
) -> Result<Option<Digest>> {
    manifest.check_image()?;
    crate::graph::check_diff_ids(manifest, config)?;
    let diff_ids = &config.rootfs.diff_ids;
    let chains = chain_ids(diff_ids);
    let snapshots = Snapshots::new(store);
    if matches!(target, Target::Snapshots) {
        // What a killed unpack left: this one takes over.
        snapshots.leftovers(false)?;
    }
    let mut staged = Vec::new();
    let mut parent: Option<&Digest> = None;
    for ((layer, diff_id), chain) in manifest.layers.iter().zip(diff_ids).zip(&chains) {
        let existed = matches!(target, Target::Snapshots) && snapshots.exists(chain);
        if !existed {
            ready(layer)?;
            each(Step::Applying(layer));
            let reader = store.reader(&layer.digest)?;
            let got = match target {
                Target::Snapshots => {
                    snapshots
                        .stage(chain, parent, diff_id, reader)
                        .map(|(snapshot, got)| {
                            // Dropped, it removes itself: the check below may fail.
                            staged.push(snapshot);
                            got
                        })
                }
                Target::Dir(dir) => layer::apply_layer(dir, reader, &ApplyOptions::default())
                    .map(|applied| applied.diff_id),
            }
            .map_err(|e| e.context(format!("layer {}", layer.digest)))?;
            check_diff_id(layer, &got, diff_id)?;
        }
        each(Step::Applied(&Unpacked {
            layer: layer.clone(),
            diff_id: diff_id.clone(),
            chain_id: chain.clone(),
            existed,
        }));
        parent = Some(chain);
    }
    snapshots.commit(staged)?;
    Ok(chains.last().cloned())
}

/// Unpacks the image `root` (a manifest, or an index and the manifest it
/// has for `platform`) from the store into `target`; every object must be
/// there. Returns the chain ID of the whole stack.
pub fn unpack_image(
    store: &Store,
    root: &Descriptor,
    platform: &Platform,
    target: &Target,
    each: &dyn Fn(Step),
) -> Result<Option<Digest>> {
    let _hold = store.lock(false, true)?;
    let ready = |d: &Descriptor| {
        if store.contains(&d.digest) {
            Ok(())
        } else {
            Err(Error::new(
                Kind::NotFound,
                format!("{}: not in the store; pull the image again", d.digest),
            ))
        }
    };
    let (m, config) = crate::graph::image_manifest(store, root, platform, &ready)?;
    unpack(store, &m, &config, target, &ready, each)
}

fn check_diff_id(layer: &Descriptor, got: &Digest, want: &Digest) -> Result<()> {
    if got == want {
        return Ok(());
    }
    Err(Error::new(
        Kind::DataCorruption,
        format!(
            "layer {}: its diff ID is {got}, the image config says {want}",
            layer.digest
        ),
    ))
}

/// One snapshot, as `dist-rootfs ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    /// A chain ID for a committed snapshot, the user's key for an active one.
    pub key: String,
    /// Committed (a layer, read-only) or active (writable).
    pub kind: SnapshotKind,
    /// The chain ID it sits on.
    pub parent: Option<Digest>,
    /// When it was made.
    #[serde(serialize_with = "crate::content::ser_time")]
    pub created: SystemTime,
}

/// What a snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// One layer applied, keyed by chain ID; never changes.
    Committed,
    /// A writable snapshot on top of committed ones, keyed by the user's key.
    Active,
}

impl fmt::Display for SnapshotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnapshotKind::Committed => "committed",
            SnapshotKind::Active => "active",
        })
    }
}

/// The file system type of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of one directory.
    Bind,
    /// An overlay of several.
    Overlay,
}

impl fmt::Display for MountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MountKind::Bind => "bind",
            MountKind::Overlay => "overlay",
        })
    }
}

/// How to mount a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `overlay` or `bind`.
    pub kind: MountKind,
    /// The source: `overlay`, or the directory bound.
    pub source: PathBuf,
    /// The `-o` options.
    pub options: Vec<String>,
    /// Where it goes.
    pub target: PathBuf,
}

impl fmt::Display for Mount {
    /// As a shell command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args = [
            "-t".to_string(),
            self.kind.to_string(),
            quote(&self.source.to_string_lossy()),
            "-o".to_string(),
            quote(&self.options.join(",")),
            quote(&self.target.to_string_lossy()),
        ];
        write!(f, "mount {}", args.join(" "))
    }
}

/// `s` quoted for a POSIX shell when it needs to be.
fn quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-=,:+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The snapshots of a store.
pub struct Snapshots {
    store: Store,
    dir: PathBuf,
}

/// A layer unpacked into `tmp/`, to be renamed into place.
pub struct Staged {
    tmp: Claim,
    chain: Digest,
}

/// A name under `tmp/` that this process works in (an unpack, a removal),
/// held by an `flock` on `NAME.lock` beside it: whoever finds the lock free
/// knows the work was abandoned and may remove what is left.
struct Claim {
    path: PathBuf,
    lock: PathBuf,
    _held: fs::File,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Gone already once renamed into place: remove_tree takes that as done.
        let _ = remove_tree(&self.path);
        let _ = fs::remove_file(&self.lock);
    }
}

impl Snapshots {
    /// The snapshots of `store`.
    pub fn new(store: &Store) -> Snapshots {
        Snapshots {
            store: store.clone(),
            dir: store.root().join("snapshots"),
        }
    }

    /// The directory of the committed snapshot `chain`.
    fn path(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex())
    }

    /// Whether the committed snapshot `chain` exists.
    fn exists(&self, chain: &Digest) -> bool {
        self.path(chain).join("fs").is_dir()
    }

    fn active(&self, key: &str) -> PathBuf {
        self.dir.join("active").join(key)
    }

    /// Unpacks `layer` (compressed or not) into a new directory under
    /// `tmp/`, in overlay form, recorded as having `diff_id`; returns it
    /// with the diff ID the layer has, for the caller to check.
    fn stage(
        &self,
        chain: &Digest,
        parent: Option<&Digest>,
        diff_id: &Digest,
        layer: impl Read + Send + 'static,
    ) -> Result<(Staged, Digest)> {
        let claim = self.claim(&chain.hex()[..12])?;
        let tmp = claim.path.clone();
        fs::create_dir(&tmp).context(tmp.display())?;
        let staged = Staged {
            tmp: claim,
            chain: chain.clone(),
        };
        let opts = ApplyOptions {
            overlay: true,
            ..ApplyOptions::default()
        };
        let got = layer::apply_layer(&tmp.join("fs"), layer, &opts)?;
        if let Some(p) = parent {
            fs::write(tmp.join("parent"), format!("{p}\n")).context(tmp.display())?;
        }
        fs::write(tmp.join("diffid"), format!("{diff_id}\n")).context(tmp.display())?;
        Ok((staged, got.diff_id))
    }

    /// Makes staged snapshots durable (one `syncfs`) and renames them into
    /// place, bottom first. One another process committed meanwhile is dropped.
    fn commit(&self, staged: Vec<Staged>) -> Result<()> {
        if staged.is_empty() {
            return Ok(());
        }
        let dir = fs::File::open(&self.dir).context(self.dir.display())?;
        rustix::fs::syncfs(&dir).context(self.dir.display())?;
        for s in staged {
            let to = self.path(&s.chain);
            match fs::rename(&s.tmp.path, &to) {
                Ok(()) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {}
                Err(e) => return Err(Error::io(&e).context(to.display())),
            }
        }
        crate::fs::sync_dir(&self.dir)
    }

    /// The chain IDs from `chain` down to the bottom layer, top first.
    fn lowers(&self, chain: &Digest) -> Result<Vec<Digest>> {
        let mut out = vec![chain.clone()];
        let mut at = chain.clone();
        while let Some(p) = self.parent_of(&self.path(&at))? {
            if out.contains(&p) || out.len() > 1000 {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!("snapshot {chain}: its parents loop"),
                ));
            }
            out.push(p.clone());
            at = p;
        }
        Ok(out)
    }

    fn parent_of(&self, dir: &Path) -> Result<Option<Digest>> {
        if !dir.join("fs").is_dir() {
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "snapshot {}: not found",
                    dir.file_name().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
        match fs::read_to_string(dir.join("parent")) {
            Ok(s) => {
                Ok(Some(s.trim().parse().map_err(|e: Error| {
                    e.context(dir.join("parent").display())
                })?))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&e).context(dir.join("parent").display())),
        }
    }

    /// Every committed and active snapshot, committed first, each sorted.
    pub fn list(&self) -> Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        for (sub, kind) in [
            (self.dir.clone(), SnapshotKind::Committed),
            (self.dir.join("active"), SnapshotKind::Active),
        ] {
            let entries = match fs::read_dir(&sub) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&e).context(sub.display())),
            };
            let mut found = Vec::new();
            for e in entries {
                let e = e.context(sub.display())?;
                let name = e.file_name().to_string_lossy().into_owned();
                let key = if kind == SnapshotKind::Committed {
                    match Digest::from_parts(Algorithm::Sha256, &name) {
                        Ok(d) => d.to_string(),
                        Err(_) => continue,
                    }
                } else {
                    name
                };
                let Ok(parent) = self.parent_of(&e.path()) else {
                    continue;
                };
                let created = e
                    .metadata()
                    .map(|m| crate::fs::mtime(&m))
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                found.push(Snapshot {
                    key,
                    kind,
                    parent,
                    created,
                });
            }
            found.sort_by(|a, b| a.key.cmp(&b.key));
            out.extend(found);
        }
        Ok(out)
    }

    /// A writable snapshot `key` on top of `chain` (its mount point is
    /// `target`, by default the snapshot's `mnt`); or, with `view`, a
    /// read-only one: a bind mount of a single layer, an overlay of several.
    pub fn prepare(
        &self,
        chain: &Digest,
        key: &str,
        target: Option<&Path>,
        view: bool,
    ) -> Result<Mount> {
        check_key(key)?;
        let _hold = self.store.lock(false, true)?;
        self.lowers(chain)?;
        let dir = self.active(key);
        if dir.exists() {
            return Err(Error::new(
                Kind::FailedPrecondition,
                format!("snapshot {key}: already exists"),
            ));
        }
        let active = self.dir.join("active");
        fs::create_dir_all(&active).context(active.display())?;
        let tmp = temp_beside(&active.join(key));
        for sub in ["fs", "work", "mnt"] {
            fs::create_dir_all(tmp.join(sub)).context(tmp.display())?;
        }
        fs::write(tmp.join("parent"), format!("{chain}\n")).context(tmp.display())?;
        if view {
            fs::write(tmp.join("view"), "").context(tmp.display())?;
        }
        match fs::rename(&tmp, &dir) {
            Ok(()) => {}
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(
                    if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) {
                        Error::new(
                            Kind::FailedPrecondition,
                            format!("snapshot {key}: already exists"),
                        )
                    } else {
                        Error::io(&e).context(dir.display())
                    },
                );
            }
        }
        self.mount(key, target)
    }

    /// How to mount the active snapshot `key` at `target` (default: its `mnt`).
    pub fn mount(&self, key: &str, target: Option<&Path>) -> Result<Mount> {
        check_key(key)?;
        let dir = self.active(key);
        let Some(chain) = self.parent_of(&dir)? else {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("snapshot {key}: it has no parent"),
            ));
        };
        let lowers: Vec<PathBuf> = self
            .lowers(&chain)?
            .iter()
            .map(|c| self.path(c).join("fs"))
            .collect();
        let target = target
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join("mnt"));
        let lowerdir = lowers
            .iter()
            .map(|p| escape(p))
            .collect::<Vec<_>>()
            .join(":");
        let view = dir.join("view").exists();
        Ok(match (view, lowers.as_slice()) {
            (true, [only]) => Mount {
                kind: MountKind::Bind,
                source: only.clone(),
                options: vec!["bind".into(), "ro".into()],
                target,
            },
            (true, _) => Mount {
                kind: MountKind::Overlay,
                source: "overlay".into(),
                options: vec!["ro".into(), format!("lowerdir={lowerdir}")],
                target,
            },
            (false, _) => Mount {
                kind: MountKind::Overlay,
                source: "overlay".into(),
                options: vec![
                    format!("lowerdir={lowerdir}"),
                    format!("upperdir={}", escape(&dir.join("fs"))),
                    format!("workdir={}", escape(&dir.join("work"))),
                ],
                target,
            },
        })
    }

    /// Removes a snapshot: an active one by key, a committed one by chain
    /// ID. Refused while another snapshot sits on it or it is mounted.
    pub fn remove(&self, key: &str) -> Result<()> {
        let _hold = self.store.lock(false, true)?;
        let dir = match key.parse::<Digest>() {
            Ok(chain) => self.path(&chain),
            Err(_) => {
                check_key(key)?;
                self.active(key)
            }
        };
        self.parent_of(&dir)?;
        let users: Vec<String> = self
            .list()?
            .into_iter()
            .filter(|s| s.parent.as_ref().is_some_and(|p| p.to_string() == key))
            .map(|s| s.key)
            .collect();
        if !users.is_empty() {
            return Err(Error::new(
                Kind::FailedPrecondition,
                format!("snapshot {key}: in use by {}", users.join(", ")),
            ));
        }
        if let Some(at) = mounted_under(&dir)? {
            return Err(Error::new(
                Kind::FailedPrecondition,
                format!(
                    "snapshot {key}: mounted at {}; unmount it first",
                    at.display()
                ),
            ));
        }
        self.discard(&dir)
    }

    /// Moves `dir` out of sight, then removes it.
    fn discard(&self, dir: &Path) -> Result<()> {
        let gone = self.claim("rm")?;
        fs::rename(dir, &gone.path).context(dir.display())?;
        remove_tree(&gone.path)
    }

    /// A new name under `tmp/` for work of this process, locked.
    fn claim(&self, name: &str) -> Result<Claim> {
        let tmp = self.dir.join("tmp");
        fs::create_dir_all(&tmp).context(tmp.display())?;
        loop {
            let path = temp_beside(&tmp.join(name));
            let mut lock = path.clone().into_os_string();
            lock.push(".lock");
            let lock = PathBuf::from(lock);
            let file = fs::File::create_new(&lock).context(lock.display())?;
            file.lock().context(lock.display())?;
            // A sweeper may have taken the file for a dead one's in between.
            match (file.metadata(), fs::metadata(&lock)) {
                (Ok(held), Ok(now)) if crate::fs::inode(&held) == crate::fs::inode(&now) => {
                    return Ok(Claim {
                        path,
                        lock,
                        _held: file,
                    });
                }
                _ => continue,
            }
        }
    }

    /// What unpacks and removals that did not finish left under `tmp/`
    /// (their lock is free, or they have none); removed unless `dry_run`.
    pub fn leftovers(&self, dry_run: bool) -> Result<Vec<PathBuf>> {
        let tmp = self.dir.join("tmp");
        let entries = match fs::read_dir(&tmp) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&e).context(tmp.display())),
        };
        let mut out = Vec::new();
        for e in entries {
            let path = e.context(tmp.display())?.path();
            if path.extension().is_some_and(|x| x == "lock") {
                continue;
            }
            let mut lock = path.clone().into_os_string();
            lock.push(".lock");
            let lock = PathBuf::from(lock);
            let held = match fs::OpenOptions::new().write(true).open(&lock) {
                Ok(f) => match f.try_lock() {
                    Ok(()) => Some(f),
                    Err(fs::TryLockError::WouldBlock) => continue,
                    Err(fs::TryLockError::Error(e)) => {
                        return Err(Error::io(&e).context(lock.display()));
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(&e).context(lock.display())),
            };
            if !dry_run {
                remove_tree(&path)?;
                if held.is_some() {
                    let _ = fs::remove_file(&lock);
                }
            }
            out.push(path);
        }
        Ok(out)
    }

    /// Removes committed snapshots not in `keep` (of those in `only`, when
    /// given); call with the store lock held exclusively. Returns the chain
    /// IDs removed, or that would be.
    pub fn sweep(
        &self,
        keep: &std::collections::HashSet<Digest>,
        only: Option<&std::collections::HashSet<Digest>>,
        dry_run: bool,
    ) -> Result<Vec<Digest>> {
        let mut keep = keep.clone();
        let all = self.list()?;
        for s in &all {
            if s.kind == SnapshotKind::Active
                && let Some(p) = &s.parent
            {
                keep.extend(self.lowers(p).unwrap_or_default());
            }
        }
        let mut removed = Vec::new();
        for s in all.iter().filter(|s| s.kind == SnapshotKind::Committed) {
            let chain: Digest = s.key.parse()?;
            if !keep.contains(&chain) && only.is_none_or(|o| o.contains(&chain)) {
                if !dry_run {
                    self.discard(&self.path(&chain))?;
                }
                removed.push(chain);
            }
        }
        Ok(removed)
    }
}

/// A mount that uses `dir`, from /proc/self/mountinfo: one at or under it,
/// an overlay with a layer in it, or a bind mount of something in it.
fn mounted_under(dir: &Path) -> Result<Option<PathBuf>> {
    let info = match fs::read_to_string("/proc/self/mountinfo") {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let dir = fs::canonicalize(dir).context(dir.display())?;
    for line in info.lines() {
        let fields: Vec<String> = line.split(' ').map(unescape_mountinfo).collect();
        let Some(point) = fields.get(4) else {
            continue;
        };
        let point = PathBuf::from(point);
        let uses = |f: &String| {
            f.split([',', ':', '='])
                .any(|p| Path::new(&p.replace("\\", "")).starts_with(&dir))
        };
        if point.starts_with(&dir)
            || fields
                .get(3)
                .is_some_and(|r| Path::new(r).starts_with(&dir))
            || fields.iter().skip(5).any(uses)
        {
            return Ok(Some(point));
        }
    }
    Ok(None)
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path for an overlay option: `\`, `,` and `:` escaped.
fn escape(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Keys of active snapshots: letters, digits and `._-`, not starting with
/// `.`, at most 128 bytes.
fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "snapshot key '{key}': use letters, digits and ._- (not first), at most 128"
        )))
    }
}

/// Removes a tree, giving directories the owner's write permission where a
/// layer left them without (read-only directories are common in images).
fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => {
            return Err(Error::io(&e).context(path.display()));
        }
        Err(_) => {}
    }
    fn open_up(p: &Path) {
        if let Ok(m) = fs::symlink_metadata(p)
            && m.is_dir()
        {
            let _ = fs::set_permissions(
                p,
                fs::Permissions::from_mode(m.permissions().mode() | 0o700),
            );
            if let Ok(entries) = fs::read_dir(p) {
                for e in entries.flatten() {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(path);
    fs::remove_dir_all(path).context(path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        s.parse().unwrap()
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        // The canonical empty layer (1024 zero bytes) is a published diff ID.
        let empty = d("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
        assert_eq!(Digest::of(&[0u8; 1024]), empty);
        assert_eq!(chain_ids(std::slice::from_ref(&empty)), vec![empty.clone()]);
        assert_eq!(chain_id(&[]), None);

        // Computed apart, with the shell:
        //   A=sha256:$(printf a | sha256sum | cut -d' ' -f1)   (B, C likewise)
        //   AB=sha256:$(printf "$A $B" | sha256sum | cut -d' ' -f1)
        //   ABC=sha256:$(printf "$AB $C" | sha256sum | cut -d' ' -f1)
        let (a, b, c) = (Digest::of(b"a"), Digest::of(b"b"), Digest::of(b"c"));
        let ab = d("sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
        let abc = d("sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
        assert_eq!(
            chain_ids(&[a.clone(), b.clone(), c.clone()]),
            vec![a.clone(), ab, abc]
        );
        // ChainID(C) differs from ChainID(A|B|C): order matters.
        assert_ne!(chain_id(std::slice::from_ref(&c)), chain_id(&[a, b, c]));
    }

    #[test]
    fn mount_commands_quote_and_escape_paths() {
        let m = Mount {
            kind: MountKind::Overlay,
            source: "overlay".into(),
            options: vec![
                format!(
                    "lowerdir={}:{}",
                    escape(Path::new("/a,b/x")),
                    escape(Path::new("/c:d"))
                ),
                "upperdir=/u".into(),
            ],
            target: "/mnt/my root".into(),
        };
        assert_eq!(
            m.to_string(),
            r"mount -t overlay overlay -o 'lowerdir=/a\,b/x:/c\:d,upperdir=/u' '/mnt/my root'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(unescape_mountinfo(r"/mnt/my\040root"), "/mnt/my root");
    }

    #[test]
    fn snapshot_keys_are_plain_names() {
        for ok in ["work1", "a.b-c_d", "X"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"k".repeat(129)] {
            assert_eq!(
                check_key(bad).unwrap_err().kind(),
                Kind::InvalidArgument,
                "{bad}"
            );
        }
    }
}
