//! A push: an image of the store (or of any OCI image layout, since the
//! store is one) into a registry.
//!
//! Everything the image reaches must be in the store. Blobs go first, on
//! several threads: each one the registry has is skipped, one another
//! repository of the same registry is known to hold is mounted from it,
//! the others are uploaded. Then the manifests, children before parents,
//! each by digest, the root last by the destination's tag: a tag never
//! points at something the registry does not have whole. The registry's
//! `Docker-Content-Digest` of every manifest is checked against what was
//! sent. Then what the store records as referring to what was pushed
//! (signatures, SBOMs), after its subject ([`referrers`]).

mod referrers;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::Event;
use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::graph::{self, ObjectKind, Platforms};
use crate::images;
use crate::manifest::{self, Index};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::remote::{Put, Remote, UploadOptions};

/// How to push.
#[derive(Debug, Clone)]
pub struct Options {
    /// Push only the manifest an index has for this platform (the tag then
    /// names that manifest); `None`: the image whole, every platform.
    pub platform: Option<Platform>,
    /// Blobs sent at once.
    pub jobs: usize,
    /// How blobs are uploaded.
    pub upload: UploadOptions,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The destination, as named.
    pub name: String,
    /// The root pushed (the index, or the manifest for the platform).
    pub target: Descriptor,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Blobs the registry had already.
    pub existed: usize,
    /// Referrers pushed after the image.
    pub referrers: usize,
}

impl Pushed {
    /// Counts how a blob got into the registry.
    fn count(&mut self, put: &Put) {
        match put {
            Put::Existed => self.existed += 1,
            Put::Mounted(_) => self.mounted += 1,
            Put::Uploaded(n) => self.uploaded += n,
        }
    }
}

/// Pushes the image `root` of `store` to `dest` as `opts` say, telling
/// `events` as it goes.
pub fn push(
    store: &Store,
    remote: &Remote,
    root: &Descriptor,
    dest: &Reference,
    opts: &Options,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<Pushed> {
    // The collector keeps what we read until the push is done.
    let _hold = store.lock(false, true)?;
    let root = match &opts.platform {
        Some(p) => for_platform(store, root, p)?,
        None => root.clone(),
    };
    let name = dest.to_string();
    events(&Event::Resolved {
        name: &name,
        target: &root,
    });
    let nodes = everything(store, &root, dest)?;
    let from = mount_sources(store, dest)?;
    let (mut blobs, manifests): (Vec<&Descriptor>, Vec<&Descriptor>) =
        nodes.iter().partition(|d| !graph::has_children(d));
    // The largest first: a big one started last would be sent alone at the end.
    blobs.sort_by_key(|d| std::cmp::Reverse(d.size));
    let tally = Mutex::new(Pushed {
        name: name.clone(),
        target: root.clone(),
        uploaded: 0,
        mounted: 0,
        existed: 0,
        referrers: 0,
    });
    each(&blobs, opts.jobs, |d| {
        let repos = from.get(&d.digest).map(Vec::as_slice).unwrap_or(&[]);
        let put = put_blob(store, remote, dest, d, repos, opts.upload, events)?;
        tally.lock().unwrap_or_else(|e| e.into_inner()).count(&put);
        Ok(())
    })?;
    // Children before parents: the walk lists parents first.
    for d in manifests.iter().rev() {
        let kind = ObjectKind::of(d);
        events(&Event::Uploading {
            kind,
            desc: d,
            offset: 0,
        });
        let body = graph::read_small(store, d)?;
        let reference = match d.digest == root.digest {
            true => dest.object(),
            false => d.digest.to_string(),
        };
        remote.put_manifest(dest, &reference, d, &body)?;
        events(&Event::Pushed {
            kind,
            desc: d,
            how: &Put::Uploaded(d.size),
        });
    }
    events(&Event::Named {
        name: &name,
        target: &root,
    });
    // After their subjects: the registry has every image they refer to.
    let carried = referrers::push(store, remote, dest, &manifests, opts, events, &tally)?;
    tally.lock().unwrap_or_else(|e| e.into_inner()).referrers = carried;
    Ok(tally.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// The manifest `root` (an index, maybe nested) has for `p`.
fn for_platform(store: &Store, root: &Descriptor, p: &Platform) -> Result<Descriptor> {
    let mut d = root.clone();
    for _ in 0..=manifest::MAX_DEPTH {
        if !descriptor::is_index(&d.media_type) {
            return Ok(d);
        }
        let index = Index::parse(&graph::read_small(store, &d)?)?;
        d = manifest::select(&index, p).cloned().ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                format!(
                    "{}: no manifest for {p} (the index has {})",
                    root.digest,
                    manifest::platforms_of(&index)
                ),
            )
        })?;
    }
    Err(Error::new(
        Kind::InvalidContent,
        format!("{}: indexes nested too deep", root.digest),
    ))
}

/// Everything `root` reaches, parents first, all of it in the store; else
/// an error that names what is missing and how to get it.
fn everything(store: &Store, root: &Descriptor, dest: &Reference) -> Result<Vec<Descriptor>> {
    // The platforms of an index that a pull of one platform left out.
    let mut absent: Vec<String> = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(d) = todo.pop() {
        if !descriptor::is_index(&d.media_type) || !store.contains(&d.digest) {
            continue;
        }
        for e in Index::parse(&graph::read_small(store, &d)?)?.manifests {
            if store.contains(&e.digest) {
                todo.push(e);
            } else {
                absent.push(
                    e.platform
                        .as_ref()
                        .map_or(e.digest.to_string(), Platform::to_string),
                );
            }
        }
    }
    if !absent.is_empty() {
        let shown = absent.len().min(10);
        let more = match absent.len() - shown {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(Error::new(
            Kind::NotFound,
            format!(
                "{dest}: the store lacks the manifests for {}{more}; pull them (dist-pull --all-platforms), or push one platform's manifest (dist-push --platform P)",
                absent[..shown].join(", ")
            ),
        ));
    }
    let reach = graph::reach(store, root)?;
    if let Some(first) = reach.missing.first() {
        return Err(Error::new(
            Kind::NotFound,
            format!(
                "{dest}: {} object(s) the image reaches are not in the store, first {} {}; pull it again",
                reach.missing.len(),
                ObjectKind::of(first),
                first.digest
            ),
        ));
    }
    graph::walk(root, &Platforms::All, |d| graph::read_small(store, d))
}

/// For each blob, the repositories of `dest`'s registry known to hold it
/// (where images of the store were pulled from or pushed to).
fn mount_sources(store: &Store, dest: &Reference) -> Result<HashMap<Digest, Vec<String>>> {
    let mut out: HashMap<Digest, Vec<String>> = HashMap::new();
    for (repo, root) in images::sources_on(store, dest.domain())? {
        if repo == dest.path() {
            continue;
        }
        for d in graph::reach(store, &root)?.reached {
            let repos = out.entry(d.digest).or_default();
            if !repos.contains(&repo) {
                repos.push(repo.clone());
            }
        }
    }
    Ok(out)
}

/// Puts one blob, telling `events`.
fn put_blob(
    store: &Store,
    remote: &Remote,
    dest: &Reference,
    d: &Descriptor,
    from: &[String],
    opts: UploadOptions,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<Put> {
    let kind = ObjectKind::of(d);
    let file = store.reader(&d.digest)?;
    events(&Event::Uploading {
        kind,
        desc: d,
        offset: 0,
    });
    let last = Mutex::new(Instant::now());
    let sent = |n: u64| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed().as_millis() >= 50 {
            *last = Instant::now();
            events(&Event::Progress { desc: d, offset: n });
        }
    };
    let put = remote.put_blob(dest, d, &file, from, opts, &sent)?;
    events(&Event::Pushed {
        kind,
        desc: d,
        how: &put,
    });
    Ok(put)
}

/// Runs `f` on every item, `jobs` at once; the first error stops new work.
fn each<T: Sync>(items: &[T], jobs: usize, f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let stop = failed.lock().map(|f| f.is_some()).unwrap_or(true);
                    let Some(item) = items.get(i).filter(|_| !stop) else {
                        return;
                    };
                    if let Err(e) = f(item) {
                        failed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
