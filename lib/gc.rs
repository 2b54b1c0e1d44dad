//! Garbage collection: mark what any image of any namespace reaches, sweep
//! the rest.
//!
//! Roots are every entry of every namespace's index (entries other tools
//! wrote too). The mark follows indexes (all platforms), manifests, configs
//! and layers that are in the store, and what the store records as
//! referring to what it marks (signatures, SBOMs: kept as long as their
//! subject); the configs it reaches name the chain IDs whose snapshots
//! stay, with the parents of writable snapshots. Then unmarked blobs and
//! snapshots go, with the records of referrers of what went, and ingests no
//! writer holds that were last written longer ago than the age given.
//!
//! It runs under the store lock held exclusively: writers (ingests, pulls
//! until their name is recorded, unpacks) hold it shared, so nothing is
//! removed while it is being written or before the name that keeps it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::content::{Info, Status, Store};
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::Result;
use crate::graph::{self, Platforms};
use crate::images::{self, Images, referrers};
use crate::manifest::{Config, Manifest};
use crate::rootfs::{self, Snapshots};

/// How to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Report what would go; remove nothing.
    pub dry_run: bool,
    /// Abandoned ingests last written longer ago than this are removed.
    pub ingest_age: Duration,
    /// Wait for writers to finish (`false`: fail if any is at work).
    pub wait: bool,
}

impl Default for Options {
    /// Remove, ingests older than a day, waiting for writers.
    fn default() -> Options {
        Options {
            dry_run: false,
            ingest_age: Duration::from_secs(24 * 3600),
            wait: true,
        }
    }
}

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Blobs no image reaches.
    pub blobs: Vec<Info>,
    /// Snapshots no image needs, by chain ID.
    pub snapshots: Vec<Digest>,
    /// Abandoned ingests.
    pub ingests: Vec<Status>,
    /// What unpacks that did not finish left under `snapshots/tmp/`.
    pub interrupted: Vec<std::path::PathBuf>,
}

/// Subject → what the store records as referring to it.
type Referrers = HashMap<Digest, Vec<Descriptor>>;

/// What the images of every namespace reach: blobs, and chain IDs.
fn mark(store: &Store, refs: &Referrers) -> Result<(HashSet<Digest>, HashSet<Digest>)> {
    let mut roots = Vec::new();
    for ns in images::namespaces(store)? {
        roots.extend(Images::new(store, ns).roots()?);
    }
    Ok(reached(store, roots, refs))
}

/// What `roots` reach in the store: blobs (present or not, with what
/// refers to them), and the chain IDs of the images' layers.
fn reached(
    store: &Store,
    mut todo: Vec<Descriptor>,
    refs: &Referrers,
) -> (HashSet<Digest>, HashSet<Digest>) {
    let mut blobs = HashSet::new();
    let mut chains = HashSet::new();
    while let Some(d) = todo.pop() {
        if !blobs.insert(d.digest.clone()) || !store.contains(&d.digest) {
            continue;
        }
        if let Some(r) = refs.get(&d.digest) {
            todo.extend(r.iter().cloned());
        }
        if !graph::has_children(&d) {
            continue;
        }
        // A node that cannot be read or parsed keeps itself, not its children.
        let Ok(bytes) = graph::read_small(store, &d) else {
            continue;
        };
        if !descriptor::is_manifest(&d.media_type) {
            if let Ok(kids) = graph::children(&d, &bytes, &Platforms::All) {
                todo.extend(kids);
            }
            continue;
        }
        let Ok(m) = Manifest::parse(&bytes) else {
            continue;
        };
        if let Ok(c) = graph::read_small(store, &m.config).and_then(|b| Config::parse(&b)) {
            chains.extend(rootfs::chain_ids(&c.rootfs.diff_ids));
        }
        todo.push(m.config);
        todo.extend(m.layers);
    }
    (blobs, chains)
}

/// Removes what `roots` (images whose names were just removed) reached and
/// no image of any namespace reaches now: their blobs and snapshots, and
/// nothing else (not a blob another program stored and did not name yet).
pub fn release(store: &Store, roots: &[Descriptor], opts: &Options) -> Result<Collected> {
    let _hold = store.lock(true, opts.wait)?;
    let refs = referrers::all(store)?;
    let (keep, chains) = mark(store, &refs)?;
    let (theirs, their_chains) = reached(store, roots.to_vec(), &refs);
    let mut out = Collected::default();
    for digest in theirs.difference(&keep) {
        let Ok(info) = store.info(digest) else {
            continue;
        };
        if !opts.dry_run {
            store.delete(digest)?;
        }
        out.blobs.push(info);
    }
    out.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    let gone = refs
        .keys()
        .filter(|s| theirs.contains(*s) && !keep.contains(*s));
    forget(store, gone, opts)?;
    let only: HashSet<Digest> = their_chains.difference(&chains).cloned().collect();
    out.snapshots = Snapshots::new(store).sweep(&chains, Some(&only), opts.dry_run)?;
    Ok(out)
}

/// Collects the garbage of `store`.
pub fn collect(store: &Store, opts: &Options) -> Result<Collected> {
    let _hold = store.lock(true, opts.wait)?;
    let refs = referrers::all(store)?;
    let (keep, chains) = mark(store, &refs)?;
    forget(store, refs.keys().filter(|s| !keep.contains(*s)), opts)?;
    let mut out = Collected::default();
    for info in store.list()? {
        if keep.contains(&info.digest) {
            continue;
        }
        if !opts.dry_run {
            store.delete(&info.digest)?;
        }
        out.blobs.push(info);
    }
    let snapshots = Snapshots::new(store);
    out.snapshots = snapshots.sweep(&chains, None, opts.dry_run)?;
    out.interrupted = snapshots.leftovers(opts.dry_run)?;
    let now = SystemTime::now();
    for status in store.statuses(true, Duration::ZERO)? {
        let old = now
            .duration_since(status.updated_at)
            .is_ok_and(|age| age > opts.ingest_age);
        // Kept for a resume when recent; with nothing in it, nothing to resume.
        if status.live || !(old || status.offset == 0) {
            continue;
        }
        if opts.dry_run || store.remove_ingest(&status.reference)? {
            out.ingests.push(status);
        }
    }
    Ok(out)
}

/// Forgets what refers to `subjects`, which go (or, dry, would go).
fn forget<'a>(
    store: &Store,
    subjects: impl Iterator<Item = &'a Digest>,
    opts: &Options,
) -> Result<()> {
    if opts.dry_run {
        return Ok(());
    }
    subjects
        .into_iter()
        .try_for_each(|s| referrers::forget(store, s))
}
