//! A pull: an image from a registry into the store, named, and unpacked.
//!
//! The root is resolved, then a walk fetches every object the platforms
//! need on several threads, each through a locked, resumable, verified
//! ingest keyed by its digest (so a killed pull resumes with `Range`, and two
//! pulls of shared layers wait for each other instead of fetching twice).
//! Objects already in the store are not fetched again. Meanwhile the layers
//! are unpacked bottom first as soon as each is committed, so downloading,
//! hashing, inflating and extracting overlap. The name is recorded once
//! everything it reaches is in the store.
//!
//! The whole pull holds the store lock shared: the collector cannot remove
//! what it wrote before the name that keeps it is recorded.

use std::collections::HashSet;
use std::io;
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Instant;

use crate::content::{Store, Writer, WriterOptions};
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::images::{self, Images, Namespace, Platforms};
use crate::manifest::PlatformSpec;
use crate::reference::Reference;
use crate::remote::{MAX_MANIFEST, Remote};
use crate::rootfs::{self, Target, Unpacked};

/// How to pull.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which manifests of an index to fetch.
    pub platforms: Platforms,
    /// Objects fetched at once.
    pub jobs: usize,
    /// Where to unpack, if anywhere.
    pub unpack: Option<Target>,
    /// The namespace the name goes in.
    pub namespace: Namespace,
}

/// What a pull reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// The name resolved to this root.
    Resolved {
        /// The full name.
        name: &'a str,
        /// Its root descriptor.
        target: &'a Descriptor,
    },
    /// An object is being fetched, from `offset` (what an earlier pull kept).
    Fetching {
        /// `index`, `manifest`, `config` or `layer`.
        kind: &'static str,
        /// The object.
        desc: &'a Descriptor,
        /// Where the download starts.
        offset: u64,
    },
    /// Bytes of an object are in.
    Progress {
        /// The object.
        desc: &'a Descriptor,
        /// Bytes of it in the store's ingest so far.
        offset: u64,
    },
    /// An object is in the store.
    Fetched {
        /// `index`, `manifest`, `config` or `layer`.
        kind: &'static str,
        /// The object.
        desc: &'a Descriptor,
        /// It was there already: nothing was downloaded.
        existed: bool,
        /// Bytes an interrupted pull had kept.
        resumed_from: u64,
    },
    /// A layer is unpacked.
    Unpacked(&'a Unpacked),
    /// The name is recorded.
    Named {
        /// The full name.
        name: &'a str,
        /// What it points at.
        target: &'a Descriptor,
    },
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The full name recorded.
    pub name: String,
    /// What it points at.
    pub target: Descriptor,
    /// Every object the pull reached.
    pub reached: Vec<Descriptor>,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// The chain ID of the unpacked image, when unpacked.
    pub chain_id: Option<Digest>,
}

/// What kind of object `d` is, by its media type.
pub fn kind_of(d: &Descriptor) -> &'static str {
    let mt = d.media_type.as_str();
    if descriptor::is_index(mt) {
        "index"
    } else if descriptor::is_manifest(mt) {
        "manifest"
    } else if mt == descriptor::DOCKER_CONFIG || mt.contains(".config.") || mt.ends_with("+json") {
        "config"
    } else {
        "layer"
    }
}

/// Which objects are in the store so far, for the unpacker to wait on.
struct Arrivals {
    state: Mutex<(HashSet<Digest>, Option<String>)>,
    changed: Condvar,
}

impl Arrivals {
    fn arrived(&self, d: &Digest) {
        self.lock().0.insert(d.clone());
        self.changed.notify_all();
    }

    fn ended(&self, why: &str) {
        self.lock().1.get_or_insert_with(|| why.to_string());
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<Digest>, Option<String>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `d` is in the store; fails if the fetching ended without it.
    fn wait(&self, d: &Descriptor) -> Result<()> {
        let mut st = self.lock();
        loop {
            if st.0.contains(&d.digest) {
                return Ok(());
            }
            if let Some(why) = &st.1 {
                return Err(Error::new(
                    Kind::Unavailable,
                    format!("{}: not fetched ({why})", d.digest),
                ));
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Pulls `r` into `store` as `opts` say, telling `events` as it goes.
pub fn pull(
    store: &Store,
    remote: &Remote,
    r: &Reference,
    opts: &Options,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<Pulled> {
    let _hold = store.lock(false, true)?;
    let name = r.to_string();
    let target = remote.resolve(r, &[])?;
    events(&Event::Resolved {
        name: &name,
        target: &target,
    });
    let arrivals = Arrivals {
        state: Mutex::new((HashSet::new(), None)),
        changed: Condvar::new(),
    };
    let downloaded = Mutex::new(0u64);
    let (fetched, unpacked) = std::thread::scope(|s| {
        let fetching = s.spawn(|| {
            // Blobs are committed (synced, renamed) on threads of their own,
            // so a job goes on to its next download while the disk syncs.
            let (commits, queue) = mpsc::channel::<(Downloaded, Descriptor)>();
            let queue = Mutex::new(queue);
            let failed: Mutex<Option<Error>> = Mutex::new(None);
            let add = |n: u64| *downloaded.lock().unwrap_or_else(|e| e.into_inner()) += n;
            let got = std::thread::scope(|cs| {
                for _ in 0..2 {
                    cs.spawn(|| {
                        loop {
                            let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            let Ok((w, d)) = job else { break };
                            match commit(store, remote, r, &d, events, w) {
                                Ok(n) => {
                                    add(n);
                                    arrivals.arrived(&d.digest);
                                }
                                Err(e) => {
                                    arrivals.ended(&e.to_string());
                                    failed
                                        .lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .get_or_insert(e);
                                }
                            }
                        }
                    });
                }
                let got = images::dispatch(&target, opts.jobs, |d| {
                    let manifest = images::has_children(d);
                    match download(store, remote, r, d, events)? {
                        // Blobs: committed on the committers' threads.
                        Some(w) if !manifest => {
                            let _ = commits.send((w, d.clone()));
                            return Ok(Vec::new());
                        }
                        // Manifests and indexes: now, their children are next.
                        Some(w) => add(commit(store, remote, r, d, events, w)?),
                        None => {}
                    }
                    arrivals.arrived(&d.digest);
                    if !manifest {
                        return Ok(Vec::new());
                    }
                    let bytes = images::read_small(store, d)?;
                    images::children(d, &bytes, &opts.platforms)
                });
                drop(commits);
                got
            });
            let got = got.and_then(|reached| {
                match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
                    Some(e) => Err(e),
                    None => Ok(reached),
                }
            });
            let got = got.and_then(|reached| {
                Images::new(store, opts.namespace.clone()).put(&name, target.clone())?;
                events(&Event::Named {
                    name: &name,
                    target: &target,
                });
                Ok(reached)
            });
            match &got {
                Ok(_) => arrivals.ended("the pull reached no such object"),
                Err(e) => arrivals.ended(&e.to_string()),
            }
            got
        });
        let unpacked = match &opts.unpack {
            None => Ok(None),
            Some(t) => unpack(store, &target, &opts.platforms, t, &arrivals, events),
        };
        if unpacked.is_err() {
            arrivals.ended("unpacking failed");
        }
        let fetched = fetching
            .join()
            .unwrap_or_else(|_| Err(Error::new(Kind::Internal, "a fetching thread panicked")));
        (fetched, unpacked)
    });
    // The fetch's own error explains an unpack that waited in vain.
    let reached = fetched?;
    let chain_id = unpacked?;
    let downloaded = downloaded.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Pulled {
        name,
        target,
        reached,
        downloaded,
        chain_id,
    })
}

fn unpack(
    store: &Store,
    root: &Descriptor,
    platforms: &Platforms,
    target: &Target,
    arrivals: &Arrivals,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<Option<Digest>> {
    let platform = match platforms {
        Platforms::One(p) => p.clone(),
        Platforms::All => PlatformSpec::host(),
    };
    let ready = |d: &Descriptor| arrivals.wait(d);
    let (m, config) = images::image_manifest(store, root, &platform, &ready)?;
    rootfs::unpack(store, &m, &config, target, &ready, &|u| {
        events(&Event::Unpacked(u))
    })
}

/// An object downloaded into the store's ingest, not yet committed.
struct Downloaded {
    writer: Box<Writer>,
    /// Where the download started: bytes an interrupted pull had kept.
    resumed: u64,
}

/// Downloads `d` into an ingest, unless it is in the store (then `None`,
/// told as `existed`).
fn download(
    store: &Store,
    remote: &Remote,
    r: &Reference,
    d: &Descriptor,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<Option<Downloaded>> {
    let kind = kind_of(d);
    if images::has_children(d) && d.size > MAX_MANIFEST {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{}: a {kind} of {} bytes is larger than {MAX_MANIFEST}",
                d.digest, d.size
            ),
        ));
    }
    let opts = WriterOptions {
        expected: Some(d.digest.clone()),
        total: Some(d.size),
        wait: true,
    };
    let w = if store.contains(&d.digest) {
        None
    } else {
        match store.writer(&d.digest.to_string(), opts) {
            Ok(w) => Some(w),
            Err(e) if e.kind() == Kind::AlreadyExists => None,
            Err(e) => return Err(e),
        }
    };
    let Some(mut w) = w else {
        events(&Event::Fetched {
            kind,
            desc: d,
            existed: true,
            resumed_from: 0,
        });
        return Ok(None);
    };
    let offset = w.offset();
    events(&Event::Fetching {
        kind,
        desc: d,
        offset,
    });
    if images::has_children(d) {
        let (_, body) = remote.manifest(&r.with_digest(d.digest.clone()), &[&d.media_type])?;
        let mut input = io::Cursor::new(body);
        w.resume_from_stream(&mut input)?;
        w.copy_from(&mut input)?;
    } else if offset < d.size {
        // The writer verifies the digest at commit.
        let mut blob = remote
            .blob(r, &d.digest, Some(d.size), offset)?
            .digest_checked_by_caller();
        let mut last = Instant::now();
        while let Some(chunk) = blob.next_chunk().map_err(|e| Error::io(&e))? {
            w.write_chunk(chunk)?;
            if last.elapsed().as_millis() >= 50 {
                last = Instant::now();
                events(&Event::Progress {
                    desc: d,
                    offset: w.offset(),
                });
            }
        }
    }
    Ok(Some(Downloaded {
        writer: Box::new(w),
        resumed: offset,
    }))
}

/// Commits what was downloaded of `d`; returns the bytes downloaded. A write
/// resumed from what a killed pull kept may be bad: then `d` is downloaded
/// once more, from nothing.
fn commit(
    store: &Store,
    remote: &Remote,
    r: &Reference,
    d: &Descriptor,
    events: &(dyn Fn(&Event) + Sync),
    got: Downloaded,
) -> Result<u64> {
    match finish(*got.writer, d, events) {
        Err(e) if e.kind() == Kind::DataCorruption && got.resumed > 0 => {
            match download(store, remote, r, d, events)? {
                Some(again) => finish(*again.writer, d, events),
                None => Ok(0),
            }
        }
        done => done,
    }
}

/// Commits what `w` downloaded of `d`; returns the bytes downloaded.
fn finish(w: Writer, d: &Descriptor, events: &(dyn Fn(&Event) + Sync)) -> Result<u64> {
    let done = w.commit()?;
    events(&Event::Fetched {
        kind: kind_of(d),
        desc: d,
        existed: done.existed,
        resumed_from: done.resumed_from,
    });
    Ok(d.size - done.resumed_from.min(d.size))
}
