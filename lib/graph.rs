//! An image as a graph of descriptors: the children of a node (an index's
//! entries for the wanted platforms, a manifest's config and layers), walks
//! from a root (sequential, or dispatched on threads with each digest once),
//! what a root reaches in the store and what of it is missing, and the
//! image manifest an index has for a platform.
//!
//! Pull, push, export, gc and rootfs all walk images through this module;
//! it reads nodes through the store or a function it is given, and knows
//! nothing of registries or names.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::Read;
use std::sync::{Condvar, Mutex};

use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result, Untrusted};
use crate::manifest::{self, Config, Index, MAX_MANIFEST, Manifest};
use crate::platform::Platform;

pub use crate::manifest::MAX_DEPTH;

fn too_deep(root: &Descriptor) -> Error {
    Error::new(
        Kind::InvalidContent,
        format!(
            "{}: indexes nested more than {MAX_DEPTH} deep; refused",
            root.digest
        ),
    )
}

/// What an object of an image is, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// An index or manifest list.
    Index,
    /// An image manifest.
    Manifest,
    /// An image config.
    Config,
    /// A layer, or any other blob.
    Layer,
}

impl ObjectKind {
    /// The kind of the object `d` points at.
    pub fn of(d: &Descriptor) -> ObjectKind {
        let mt = d.media_type.as_str();
        if descriptor::is_index(mt) {
            ObjectKind::Index
        } else if descriptor::is_manifest(mt) {
            ObjectKind::Manifest
        } else if mt == descriptor::DOCKER_CONFIG
            || mt.contains(".config.")
            || mt.ends_with("+json")
        {
            ObjectKind::Config
        } else {
            ObjectKind::Layer
        }
    }

    /// `index`, `manifest`, `config` or `layer`, as events and tables say it.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Index => "index",
            ObjectKind::Manifest => "manifest",
            ObjectKind::Config => "config",
            ObjectKind::Layer => "layer",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which manifests of an index a walk follows.
#[derive(Debug, Clone)]
pub enum Platforms {
    /// The one entry for this platform.
    One(Platform),
    /// Every entry.
    All,
}

/// Everything `root` reaches, `root` first, each object once: indexes
/// (with the entries `platforms` selects), manifests, configs and layers.
/// `read` gives the bytes of an index or manifest. An index with nothing for
/// the platform is an error that names what it has.
pub fn walk(
    root: &Descriptor,
    platforms: &Platforms,
    mut read: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Vec<Descriptor>> {
    let mut out: Vec<Descriptor> = Vec::new();
    let mut todo = vec![(root.clone(), 0)];
    while let Some((d, depth)) = todo.pop() {
        if out.iter().any(|o| o.digest == d.digest) {
            continue;
        }
        if depth > MAX_DEPTH {
            return Err(too_deep(root));
        }
        let kids = if has_children(&d) {
            children(&d, &read(&d)?, platforms)?
        } else {
            Vec::new()
        };
        let below = depth + usize::from(descriptor::is_index(&d.media_type));
        out.push(d);
        // Depth first, in the order the parent lists them.
        todo.extend(kids.into_iter().rev().map(|k| (k, below)));
    }
    Ok(out)
}

/// Refuses an image config that cannot be one before it is fetched: one of
/// size 0, or larger than [`MAX_MANIFEST`] (configs are read whole).
pub fn check_config_size(m: &Manifest) -> Result<()> {
    let c = &m.config;
    if descriptor::is_config(&c.media_type) && (c.size == 0 || c.size > MAX_MANIFEST) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "config {}: {} bytes; an image config has 1 to {MAX_MANIFEST}",
                c.digest, c.size
            ),
        ));
    }
    Ok(())
}

/// Checks the manifest `d` of the store: for an image (its config of an
/// image config type), that the config parses and has a diff ID per layer.
/// Artifacts (other config types) are only parsed.
pub fn check_image(store: &Store, d: &Descriptor) -> Result<Manifest> {
    let m = Manifest::parse(&read_small(store, d)?).map_err(|e| e.context(&d.digest))?;
    if !descriptor::is_config(&m.config.media_type) {
        return Ok(m);
    }
    check_config_size(&m)?;
    let config = Config::parse(&read_small(store, &m.config)?)
        .map_err(|e| e.context(format!("config {}", m.config.digest)))?;
    check_diff_ids(&m, &config)?;
    Ok(m)
}

/// Refuses a config whose diff IDs are not one per layer of `m`.
pub fn check_diff_ids(m: &Manifest, config: &Config) -> Result<()> {
    let (layers, diff_ids) = (m.layers.len(), config.rootfs.diff_ids.len());
    if layers != diff_ids {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{}: the manifest has {layers} layers, its config {diff_ids} diff IDs",
                m.config.digest
            ),
        ));
    }
    Ok(())
}

/// Whether `d` is a node with children (an index or a manifest).
pub fn has_children(d: &Descriptor) -> bool {
    descriptor::is_index(&d.media_type) || descriptor::is_manifest(&d.media_type)
}

/// What a walk goes on to from `d`, whose bytes are `bytes`: the entries of
/// an index that `platforms` selects, a manifest's config and layers.
pub fn children(d: &Descriptor, bytes: &[u8], platforms: &Platforms) -> Result<Vec<Descriptor>> {
    if !descriptor::is_index(&d.media_type) {
        return manifest::children(d, bytes);
    }
    let index = Index::parse(bytes)?;
    let p = match platforms {
        Platforms::All => return Ok(index.manifests),
        Platforms::One(p) => p,
    };
    match manifest::select(&index, p) {
        Some(m) => Ok(vec![m.clone()]),
        None => Err(no_platform(d, &index, p)),
    }
}

/// The error for an index with nothing for `p`.
fn no_platform(d: &Descriptor, index: &Index, p: &Platform) -> Error {
    Error::new(
        Kind::NotFound,
        format!(
            "{}: no manifest for {p} (the index has {})",
            d.digest,
            manifest::platforms_of(index)
        ),
    )
}

/// Runs `handler` on `root` and on every descriptor a handler call returns,
/// each digest once, on `jobs` threads; descriptors are taken in the order
/// they were found. Returns everything handled, in that order. The first
/// error stops the walk: calls under way finish, no new one starts.
pub fn dispatch<H>(root: &Descriptor, jobs: usize, handler: H) -> Result<Vec<Descriptor>>
where
    H: Fn(&Descriptor) -> Result<Vec<Descriptor>> + Sync,
{
    struct State {
        /// Descriptors to handle, with how many indexes are above them.
        queue: VecDeque<(Descriptor, usize)>,
        seen: HashSet<Digest>,
        busy: usize,
        done: Vec<Descriptor>,
        error: Option<Error>,
    }
    let state = Mutex::new(State {
        queue: VecDeque::from([(root.clone(), 0)]),
        seen: HashSet::from([root.digest.clone()]),
        busy: 0,
        done: Vec::new(),
        error: None,
    });
    let wake = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let work = || {
        let mut st = lock();
        loop {
            if st.error.is_some() || (st.queue.is_empty() && st.busy == 0) {
                wake.notify_all();
                return;
            }
            let Some((d, depth)) = st.queue.pop_front() else {
                st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            st.busy += 1;
            drop(st);
            let result = match depth > MAX_DEPTH {
                true => Err(too_deep(root)),
                false => handler(&d),
            };
            st = lock();
            st.busy -= 1;
            match result {
                Ok(kids) => {
                    let below = depth + usize::from(descriptor::is_index(&d.media_type));
                    for k in kids {
                        if st.seen.insert(k.digest.clone()) {
                            st.queue.push_back((k, below));
                        }
                    }
                    st.done.push(d);
                }
                Err(e) => {
                    st.error.get_or_insert(e);
                }
            }
            wake.notify_all();
        }
    };
    std::thread::scope(|s| {
        for _ in 1..jobs.max(1) {
            s.spawn(work);
        }
        work();
    });
    let st = state.into_inner().unwrap_or_else(|e| e.into_inner());
    match st.error {
        Some(e) => Err(e),
        None => Ok(st.done),
    }
}

/// What an image's root reaches in a store.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Every object reached, present or not, each once, root first.
    pub reached: Vec<Descriptor>,
    /// Those of them that are not in the store.
    pub missing: Vec<Descriptor>,
}

/// What `root` reaches in `store`: from an index, only the entries that are
/// there (a pull takes one platform of many); from a manifest, its config
/// and every layer, there or missing.
pub fn reach(store: &Store, root: &Descriptor) -> Result<Reach> {
    let mut out = Reach::default();
    let mut seen = HashSet::new();
    let mut todo = vec![(root.clone(), true)];
    while let Some((d, needed)) = todo.pop() {
        if !seen.insert(d.digest.clone()) {
            continue;
        }
        if !store.contains(&d.digest) {
            if needed {
                out.missing.push(d.clone());
                out.reached.push(d);
            }
            continue;
        }
        let kids = if has_children(&d) {
            let bytes = read_small(store, &d)?;
            children(&d, &bytes, &Platforms::All)?
        } else {
            Vec::new()
        };
        let is_index = descriptor::is_index(&d.media_type);
        // From an index, what is there; if nothing is, all of it is missing.
        let needed = !is_index || !kids.iter().any(|k| store.contains(&k.digest));
        out.reached.push(d);
        todo.extend(kids.into_iter().rev().map(|k| (k, needed)));
    }
    Ok(out)
}

/// The size of an image: the sum of the sizes of everything a walk reaches.
pub fn size(reached: &[Descriptor]) -> u64 {
    reached.iter().map(|d| d.size).sum()
}

/// The bytes of a manifest or index in the store, at most [`MAX_MANIFEST`].
pub fn read_small(store: &Store, d: &Descriptor) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    store
        .reader(&d.digest)?
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&e).context(d.digest.to_string()))?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{}: larger than {MAX_MANIFEST} bytes", d.digest),
        ));
    }
    Ok(bytes)
}

/// The image manifest of `root` for `platform`: `root` itself, or what an
/// index (nested or not) has for it. `ready` waits for an object to be in
/// the store.
pub fn image_manifest(
    store: &Store,
    root: &Descriptor,
    platform: &Platform,
    ready: &dyn Fn(&Descriptor) -> Result<()>,
) -> Result<(Manifest, Config)> {
    let mut d = root.clone();
    // MAX_DEPTH indexes, then the manifest.
    for _ in 0..=MAX_DEPTH {
        ready(&d)?;
        if descriptor::is_index(&d.media_type) {
            let index = Index::parse(&read_small(store, &d)?).map_err(|e| e.context(&d.digest))?;
            d = match manifest::select(&index, platform) {
                Some(m) => m.clone(),
                None => return Err(no_platform(&d, &index, platform)),
            };
            continue;
        }
        if !descriptor::is_manifest(&d.media_type) {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("{}: {} is not an image", d.digest, Untrusted(&d.media_type)),
            ));
        }
        let m = Manifest::parse(&read_small(store, &d)?).map_err(|e| e.context(&d.digest))?;
        ready(&m.config)?;
        let config = Config::parse(&read_small(store, &m.config)?)
            .map_err(|e| e.context(format!("config {}", m.config.digest)))?;
        return Ok((m, config));
    }
    Err(too_deep(root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    fn scratch(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("dist-graph-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Store::open(dir)
    }

    fn desc(media_type: &str, body: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::of(body), body.len() as u64)
    }

    #[test]
    fn walks_follow_the_platform_and_sum_sizes() {
        let layer = desc(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            b"layer-bytes",
        );
        let config = desc(descriptor::OCI_CONFIG, b"config");
        let m_body = serde_json::json!({"schemaVersion": 2, "config": config, "layers": [layer]})
            .to_string();
        let m = desc(descriptor::OCI_MANIFEST, m_body.as_bytes());
        let mut amd = m.clone();
        amd.platform = Some(Platform::new("linux", "amd64", None));
        let other_body =
            serde_json::json!({"schemaVersion": 2, "config": config, "layers": []}).to_string();
        let mut arm = desc(descriptor::OCI_MANIFEST, other_body.as_bytes());
        arm.platform = Some(Platform::new("linux", "arm64", None));
        let i_body = serde_json::json!({"schemaVersion": 2, "manifests": [amd, arm]}).to_string();
        let index = desc(descriptor::OCI_INDEX, i_body.as_bytes());
        let bodies: HashMap<Digest, String> = [
            (m.digest.clone(), m_body),
            (arm.digest.clone(), other_body),
            (index.digest.clone(), i_body),
        ]
        .into_iter()
        .collect();
        let read = |d: &Descriptor| Ok(bodies[&d.digest].clone().into_bytes());

        let one = walk(
            &index,
            &Platforms::One("linux/amd64".parse().unwrap()),
            read,
        )
        .unwrap();
        assert_eq!(
            one.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(),
            [
                index.digest.clone(),
                m.digest.clone(),
                config.digest.clone(),
                layer.digest.clone()
            ]
        );
        assert_eq!(size(&one), index.size + m.size + config.size + layer.size);
        // The config both manifests share is listed once.
        let all = walk(&index, &Platforms::All, read).unwrap();
        assert_eq!(all.len(), 5);
        let e = walk(
            &index,
            &Platforms::One("linux/s390x".parse().unwrap()),
            read,
        )
        .unwrap_err();
        assert_eq!(e.kind(), Kind::NotFound);
        assert!(
            e.to_string()
                .contains("the index has linux/amd64, linux/arm64"),
            "{e}"
        );
    }

    #[test]
    fn dispatch_handles_each_digest_once_on_many_threads_and_stops_at_an_error() {
        // A tree where two parents share a child, handled on 4 threads.
        let leaf = desc("application/octet-stream", b"leaf");
        let kids = |d: &Descriptor| -> Vec<Descriptor> {
            match d.size {
                1 => vec![desc("x", b"aa"), desc("x", b"bbb")],
                2 | 3 => vec![leaf.clone()],
                _ => vec![],
            }
        };
        let calls = std::sync::Mutex::new(Vec::new());
        let root = desc("x", b"r");
        let got = dispatch(&root, 4, |d| {
            calls.lock().unwrap().push(d.digest.clone());
            Ok(kids(d))
        })
        .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].digest, root.digest);
        let calls = calls.into_inner().unwrap();
        assert_eq!(calls.len(), 4, "the shared leaf is handled once");
        let e = dispatch(&root, 3, |d| {
            if d.size == 3 {
                Err(Error::new(Kind::Unavailable, "boom"))
            } else {
                Ok(kids(d))
            }
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "boom");
    }

    #[test]
    fn reach_counts_what_a_manifest_needs_and_what_an_index_has() {
        let store = scratch("reach");
        let put = |d: &Descriptor, body: &[u8]| {
            let mut w = store
                .writer(&d.digest.to_string(), Default::default())
                .unwrap();
            w.write_all(body).unwrap();
            w.commit().unwrap();
        };
        let layer = desc("application/vnd.oci.image.layer.v1.tar", b"layer");
        let config = desc(descriptor::OCI_CONFIG, b"{}");
        let m_body = serde_json::json!({"schemaVersion": 2, "config": config, "layers": [layer]})
            .to_string();
        let m = desc(descriptor::OCI_MANIFEST, m_body.as_bytes());
        let other = desc(descriptor::OCI_MANIFEST, b"not here");
        let i_body = serde_json::json!({"schemaVersion": 2, "manifests": [m, other]}).to_string();
        let index = desc(descriptor::OCI_INDEX, i_body.as_bytes());
        put(&index, i_body.as_bytes());
        put(&m, m_body.as_bytes());
        put(&config, b"{}");
        let r = reach(&store, &index).unwrap();
        // The other platform is not missing; the layer is.
        assert_eq!(r.reached.len(), 4);
        assert_eq!(
            r.missing.iter().map(|d| &d.digest).collect::<Vec<_>>(),
            [&layer.digest]
        );
        assert_eq!(
            size(&r.reached),
            index.size + m.size + config.size + layer.size
        );
        put(&layer, b"layer");
        assert!(reach(&store, &index).unwrap().missing.is_empty());
        // An index none of whose manifests is here is missing them all.
        store.delete(&m.digest).unwrap();
        assert_eq!(reach(&store, &index).unwrap().missing.len(), 2);
        let _ = fs::remove_dir_all(store.root());
    }
}
