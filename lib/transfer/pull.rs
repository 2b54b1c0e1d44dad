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
//!
//! With keys to verify, the signatures of the root are checked before
//! anything is written ([`crate::signature`]); with referrers, what refers
//! to the image is fetched after it, before the name ([`referrers`]).

mod referrers;

use std::collections::HashSet;
use std::io;
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Instant;

use super::Event;
use crate::content::{Store, Writer, WriterOptions};
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::graph::{self, ObjectKind, Platforms};
use crate::images::{Images, Namespace};
use crate::manifest::{MAX_MANIFEST, Manifest};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::remote::Remote;
use crate::rootfs::{self, Step, Target};
use crate::signature::{self, Keys, Verified};

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
    /// Fetch what refers to the image too (signatures, SBOMs), recursively.
    pub referrers: bool,
    /// Name the image only when a signature of it verifies with one of these.
    pub verify: Option<Keys>,
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
    /// The referrers fetched (and the signatures verified, kept).
    pub referrers: Vec<Descriptor>,
    /// The signatures that verified, with `verify`.
    pub verified: Vec<Verified>,
}

/// Which objects are in the store so far, for the unpacker to wait on.
struct Arrivals {
    state: Mutex<(HashSet<Digest>, Option<String>)>,
    changed: Condvar,
}

impl Arrivals {
    fn new() -> Arrivals {
        Arrivals {
            state: Mutex::new((HashSet::new(), None)),
            changed: Condvar::new(),
        }
    }

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
    let name = r.to_string();
    // The root by GET, not HEAD: its bytes are checked against the digest
    // the registry gives for the tag, which a HEAD's digest never is.
    let (target, root) = remote.manifest(r, &[])?;
    // Before anything is written: an image no signature vouches for is
    // neither fetched, nor named, nor unpacked.
    let verified = match &opts.verify {
        None => Vec::new(),
        Some(keys) => {
            let source = signature::Registry {
                remote,
                repository: r,
            };
            let object = format!("{name}@{}", target.digest);
            signature::verify(&source, &object, &target, &root, keys)?.verified
        }
    };
    // Taken (and the store made) only once there is something to write.
    let _hold = store.lock(false, true)?;
    events(&Event::Resolved {
        name: &name,
        target: &target,
    });
    for v in &verified {
        events(&Event::Verified {
            signature: &v.signature,
            key: &v.key,
        });
    }
    let job = Job {
        store,
        remote,
        r,
        opts,
        events,
        root,
        target: target.clone(),
        arrivals: Arrivals::new(),
        downloaded: Mutex::new(0),
    };
    let (fetched, unpacked) = std::thread::scope(|s| {
        let fetching = s.spawn(|| job.fetch());
        let unpacked = match &opts.unpack {
            None => Ok(None),
            Some(t) => job.unpack(&target, t),
        };
        if unpacked.is_err() {
            job.arrivals.ended("unpacking failed");
        }
        let fetched = fetching
            .join()
            .unwrap_or_else(|_| Err(Error::new(Kind::Internal, "a fetching thread panicked")));
        (fetched, unpacked)
    });
    // The fetch's own error explains an unpack that waited in vain.
    let reached = fetched?;
    let chain_id = unpacked?;
    // Named only now: everything is in the store, every image's config read
    // and matched to its manifest, the unpacked layers to their diff IDs.
    for d in reached
        .iter()
        .filter(|d| ObjectKind::of(d) == ObjectKind::Manifest)
    {
        graph::check_image(store, d)?;
    }
    let referrers = job.carry(&reached, &verified)?;
    Images::new(store, opts.namespace.clone()).put_from(&name, target.clone(), Some(&r.name()))?;
    events(&Event::Named {
        name: &name,
        target: &target,
    });
    let downloaded = job
        .downloaded
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    Ok(Pulled {
        name,
        target,
        reached,
        downloaded,
        chain_id,
        referrers,
        verified,
    })
}

/// One pull under way: what its threads share.
struct Job<'a> {
    store: &'a Store,
    remote: &'a Remote,
    r: &'a Reference,
    opts: &'a Options,
    events: &'a (dyn Fn(&Event) + Sync),
    /// The root's bytes, fetched (and checked) when it was resolved.
    root: Vec<u8>,
    target: Descriptor,
    arrivals: Arrivals,
    downloaded: Mutex<u64>,
}

impl Job<'_> {
    /// Fetches everything the root reaches; then tells the unpacker that
    /// no more will come.
    fn fetch(&self) -> Result<Vec<Descriptor>> {
        let got = self.fetch_all(&self.target);
        match &got {
            Ok(_) => self.arrivals.ended("the pull reached no such object"),
            Err(e) => self.arrivals.ended(&e.to_string()),
        }
        got
    }

    /// Fetches every object `target` reaches into the store, `opts.jobs` at
    /// once. Blobs are committed (synced, renamed) on threads of their own,
    /// so a job goes on to its next download while the disk syncs.
    fn fetch_all(&self, target: &Descriptor) -> Result<Vec<Descriptor>> {
        let (commits, queue) = mpsc::channel::<(Downloaded, Descriptor)>();
        let queue = Mutex::new(queue);
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let reached = std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((w, d)) = next else { break };
                        match self.commit(&d, w) {
                            Ok(n) => {
                                self.add(n);
                                self.arrivals.arrived(&d.digest);
                            }
                            Err(e) => {
                                self.arrivals.ended(&e.to_string());
                                failed
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .get_or_insert(e);
                            }
                        }
                    }
                });
            }
            let reached = graph::dispatch(target, self.opts.jobs, |d| self.visit(d, &commits));
            drop(commits);
            reached
        })?;
        match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(reached),
        }
    }

    /// Fetches one object of the walk; returns its children. A blob's
    /// commit is left to the committers (`commits`); a manifest or index is
    /// committed here, since its children are read from the store next.
    fn visit(
        &self,
        d: &Descriptor,
        commits: &mpsc::Sender<(Downloaded, Descriptor)>,
    ) -> Result<Vec<Descriptor>> {
        let node = graph::has_children(d);
        match self.download(d)? {
            Some(w) if !node => {
                let _ = commits.send((w, d.clone()));
                return Ok(Vec::new());
            }
            Some(w) => self.add(self.commit(d, w)?),
            None => {}
        }
        self.arrivals.arrived(&d.digest);
        if !node {
            return Ok(Vec::new());
        }
        let bytes = graph::read_small(self.store, d)?;
        let kids = graph::children(d, &bytes, &self.opts.platforms)?;
        if ObjectKind::of(d) == ObjectKind::Manifest {
            graph::check_config_size(&Manifest::parse(&bytes)?)?;
        }
        Ok(kids)
    }

    fn add(&self, n: u64) {
        *self.downloaded.lock().unwrap_or_else(|e| e.into_inner()) += n;
    }

    /// Unpacks the image of `root` for this machine's platform (or the one
    /// asked) into `target`, each layer as soon as it is in the store.
    fn unpack(&self, root: &Descriptor, target: &Target) -> Result<Option<Digest>> {
        let platform = match &self.opts.platforms {
            Platforms::One(p) => p.clone(),
            Platforms::All => Platform::host(),
        };
        let ready = |d: &Descriptor| self.arrivals.wait(d);
        let (m, config) = graph::image_manifest(self.store, root, &platform, &ready)?;
        rootfs::unpack(self.store, &m, &config, target, &ready, &|step| {
            (self.events)(&match step {
                Step::Applying(layer) => Event::Unpacking(layer),
                Step::Applied(u) => Event::Unpacked(u),
            })
        })
    }

    /// Downloads `d` into an ingest, unless it is in the store (then `None`,
    /// told as `existed`).
    fn download(&self, d: &Descriptor) -> Result<Option<Downloaded>> {
        let kind = ObjectKind::of(d);
        if graph::has_children(d) && d.size > MAX_MANIFEST {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{}: a {kind} of {} bytes is larger than {MAX_MANIFEST}",
                    d.digest, d.size
                ),
            ));
        }
        let Some(mut w) = self.open(d)? else {
            (self.events)(&Event::Fetched {
                kind,
                desc: d,
                existed: true,
                resumed_from: 0,
                host: None,
            });
            return Ok(None);
        };
        let offset = w.offset();
        (self.events)(&Event::Fetching {
            kind,
            desc: d,
            offset,
        });
        // Bad bytes after some were written (a registry that answers a
        // Range request wrongly, a mirror that lies): once more from
        // nothing, which asks for no range, and not from that mirror.
        let mut restarted = false;
        loop {
            match self.receive(d, &mut w) {
                Err(e)
                    if e.kind() == Kind::DataCorruption
                        && (self.remote.distrust(&d.digest) || (w.offset() > 0 && !restarted)) =>
                {
                    restarted = true;
                    w.discard();
                    drop(w);
                    match self.open(d)? {
                        Some(again) => w = again,
                        // Another pull committed it meanwhile.
                        None => return Ok(None),
                    }
                }
                done => break done?,
            }
        }
        Ok(Some(Downloaded {
            writer: Box::new(w),
            resumed: offset,
        }))
    }

    /// The store's writer for `d`, or `None` when `d` is in the store.
    fn open(&self, d: &Descriptor) -> Result<Option<Writer>> {
        if self.store.contains(&d.digest) {
            return Ok(None);
        }
        let opts = WriterOptions {
            expected: Some(d.digest.clone()),
            total: Some(d.size),
            wait: true,
        };
        match self.store.writer(&d.digest.to_string(), opts) {
            Ok(w) => Ok(Some(w)),
            Err(e) if e.kind() == Kind::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the bytes of `d` the registry sends into `w`, from where `w`
    /// stands. The writer verifies the digest at commit.
    fn receive(&self, d: &Descriptor, w: &mut Writer) -> Result<()> {
        if graph::has_children(d) {
            // Checked before it is committed: digest, size, type, fields.
            let body = match d.digest == self.target.digest {
                true => self.root.clone(),
                false => self.remote.manifest_of(self.r, d)?,
            };
            let mut input = io::Cursor::new(body);
            w.resume_from_stream(&mut input)?;
            w.copy_from(&mut input)?;
            return Ok(());
        }
        if w.offset() >= d.size {
            return Ok(());
        }
        let mut blob = self
            .remote
            .blob(self.r, &d.digest, Some(d.size), w.offset())?
            .digest_checked_by_caller();
        let mut last = Instant::now();
        while let Some(chunk) = blob.next_chunk().map_err(|e| Error::io(&e))? {
            w.write_chunk(chunk)?;
            if last.elapsed().as_millis() >= 50 {
                last = Instant::now();
                (self.events)(&Event::Progress {
                    desc: d,
                    offset: w.offset(),
                });
            }
        }
        Ok(())
    }

    /// Commits what was downloaded of `d`; returns the bytes downloaded.
    /// Bad bytes are downloaded once more, from nothing: a write resumed
    /// from what a killed pull kept may be bad, and a mirror may lie (then
    /// it is not asked again).
    fn commit(&self, d: &Descriptor, got: Downloaded) -> Result<u64> {
        let host = self.remote.served_by(&d.digest);
        match finish(*got.writer, d, host.as_deref(), self.events) {
            Err(e)
                if e.kind() == Kind::DataCorruption
                    && (self.remote.distrust(&d.digest) || got.resumed > 0) =>
            {
                match self.download(d)? {
                    Some(again) => self.commit(d, again),
                    None => Ok(0),
                }
            }
            done => done,
        }
    }
}

/// An object downloaded into the store's ingest, not yet committed.
struct Downloaded {
    writer: Box<Writer>,
    /// Where the download started: bytes an interrupted pull had kept.
    resumed: u64,
}

/// Commits what `w` downloaded of `d`; returns the bytes downloaded.
fn finish(
    w: Writer,
    d: &Descriptor,
    host: Option<&str>,
    events: &(dyn Fn(&Event) + Sync),
) -> Result<u64> {
    let done = w.commit()?;
    events(&Event::Fetched {
        kind: ObjectKind::of(d),
        desc: d,
        existed: done.existed,
        resumed_from: done.resumed_from,
        host,
    });
    Ok(d.size - done.resumed_from.min(d.size))
}
