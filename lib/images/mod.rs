//! Image names per namespace, and walking an image's tree.
//!
//! A namespace's images are the entries of an OCI index: the store root's
//! `index.json` for namespace `default` (so other OCI tools see them), and
//! `namespaces/<ns>/index.json` for the others. Each entry is the image's
//! descriptor with `org.opencontainers.image.ref.name` = the full name, and
//! dist's own annotations for its labels and times. Entries that other tools
//! wrote are kept as they are. Every change reads, edits and replaces the
//! file atomically under an exclusive `flock` on `index.lock`, so concurrent
//! pulls never lose an update.
//!
//! The walk goes from a descriptor to everything it reaches (an index's
//! manifests for a platform, a manifest's config and layers), reading nodes
//! through a function, so it serves pulling from a registry and checking or
//! sizing what the store holds alike.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Context, Error, Kind, Result, Untrusted};
use crate::fs::write_atomic;
use crate::graph::{Reach, reach, read_small, size};
use crate::time::{format_rfc3339, parse_rfc3339};

mod filter;
pub mod inspect;
pub mod namespace;
pub mod referrers;

pub use filter::Filter;
pub use namespace::{Namespace, namespaces};

/// The annotation that names an image, as OCI image layouts do.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CREATED: &str = "io.dist.image.created";
const UPDATED: &str = "io.dist.image.updated";
const LABEL: &str = "io.dist.image.label.";
/// Where an image's content is known to be: `domain/repository` each,
/// space-separated (push mounts from them).
const SOURCES: &str = "io.dist.image.sources";
/// The most sources a record keeps, the latest.
const MAX_SOURCES: usize = 8;

/// Whether `k` is one of the annotations a record is made of.
fn ours(k: &str) -> bool {
    k == REF_NAME || k == CREATED || k == UPDATED || k == SOURCES || k.starts_with(LABEL)
}

/// One named image of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The full name: `docker.io/library/redis:7`.
    pub name: String,
    /// What the name points at, annotations copied from where it came.
    pub target: Descriptor,
    /// The user's labels.
    pub labels: BTreeMap<String, String>,
    /// When the name was first recorded.
    pub created: SystemTime,
    /// When it last changed.
    pub updated: SystemTime,
    /// Repositories known to hold its content, `domain/repository`, the
    /// latest last: where it was pulled from, or pushed to.
    pub sources: Vec<String>,
}

impl Image {
    /// A new record for `name` pointing at `target`, created now.
    pub fn new(name: impl Into<String>, target: Descriptor) -> Image {
        let now = SystemTime::now();
        Image {
            name: name.into(),
            target,
            labels: BTreeMap::new(),
            created: now,
            updated: now,
            sources: Vec::new(),
        }
    }

    /// Records that `source` (`domain/repository`) holds the content.
    pub fn add_source(&mut self, source: &str) {
        self.sources.retain(|s| s != source);
        self.sources.push(source.to_string());
        let extra = self.sources.len().saturating_sub(MAX_SOURCES);
        self.sources.drain(..extra);
    }

    /// The index entry this record is stored as.
    fn entry(&self) -> Descriptor {
        let mut d = self.target.clone();
        d.annotations.retain(|k, _| !ours(k));
        d.annotations
            .insert(REF_NAME.to_string(), self.name.clone());
        d.annotations
            .insert(CREATED.to_string(), format_rfc3339(self.created));
        d.annotations
            .insert(UPDATED.to_string(), format_rfc3339(self.updated));
        for (k, v) in &self.labels {
            d.annotations.insert(format!("{LABEL}{k}"), v.clone());
        }
        if !self.sources.is_empty() {
            d.annotations
                .insert(SOURCES.to_string(), self.sources.join(" "));
        }
        d
    }

    /// The record an index entry holds, if it names an image.
    fn from_entry(d: &Descriptor) -> Option<Image> {
        let name = d.annotations.get(REF_NAME)?.clone();
        let time = |k: &str| {
            d.annotations
                .get(k)
                .and_then(|t| parse_rfc3339(t).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        let labels = d
            .annotations
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(LABEL)?.to_string(), v.clone())))
            .collect();
        let sources = d
            .annotations
            .get(SOURCES)
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let mut target = d.clone();
        target.annotations.retain(|k, _| !ours(k));
        Some(Image {
            name,
            target,
            labels,
            created: time(CREATED),
            updated: time(UPDATED),
            sources,
        })
    }
}

/// The images of one namespace of a store.
pub struct Images {
    store: Store,
    namespace: Namespace,
}

/// The raw index file: entries are kept whole, whoever wrote them.
#[derive(serde::Serialize, serde::Deserialize)]
struct IndexFile {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

impl Images {
    /// The images of `namespace` in `store`.
    pub fn new(store: &Store, namespace: Namespace) -> Images {
        Images {
            store: store.clone(),
            namespace,
        }
    }

    fn path(&self) -> PathBuf {
        match self.namespace.as_str() {
            "default" => self.store.root().join("index.json"),
            ns => self
                .store
                .root()
                .join("namespaces")
                .join(ns)
                .join("index.json"),
        }
    }

    fn read(&self) -> Result<IndexFile> {
        let path = self.path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(
                    Kind::InvalidContent,
                    format!("{}: not an OCI index ({e})", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexFile {
                schema_version: 2,
                media_type: Some(descriptor::OCI_INDEX.to_string()),
                manifests: Vec::new(),
                annotations: BTreeMap::new(),
            }),
            Err(e) => Err(Error::io(&e).context(path.display())),
        }
    }

    /// Every entry of the namespace's index, named or not (other tools may
    /// write entries without a name): what the collector keeps.
    pub fn roots(&self) -> Result<Vec<Descriptor>> {
        Ok(self.read()?.manifests)
    }

    /// What `img` is made of in the store, as `ls` and `check` show it.
    pub fn summary(&self, img: Image) -> Result<Summary> {
        let reach = reach(&self.store, &img.target)?;
        Ok(Summary {
            platforms: platforms(&self.store, &img.target),
            named: img.name != img.target.digest.to_string(),
            name: img.name,
            media_type: img.target.media_type,
            digest: img.target.digest.to_string(),
            size: size(&reach.reached),
            labels: img.labels,
            created: format_rfc3339(img.created),
            updated: format_rfc3339(img.updated),
            complete: reach.missing.is_empty(),
            reach,
        })
    }

    /// The summaries of the images every filter passes, sorted by name,
    /// then the entries other tools wrote without a name, by digest (not
    /// those that refer to another: a signature is no image).
    pub fn summaries(&self, filters: &[Filter]) -> Result<Vec<Summary>> {
        let unnamed = self
            .roots()?
            .into_iter()
            .filter(|d| !d.annotations.contains_key(REF_NAME))
            .filter(|d| !self.refers(d))
            .map(|d| {
                let mut img = Image::new(d.digest.to_string(), d);
                (img.created, img.updated) = (SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH);
                img
            });
        self.list()?
            .into_iter()
            .chain(unnamed)
            .filter(|i| filters.iter().all(|f| f.matches(i)))
            .map(|i| self.summary(i))
            .collect()
    }

    /// Whether the manifest or index `d` of the store has a `subject`.
    fn refers(&self, d: &Descriptor) -> bool {
        read_small(&self.store, d)
            .and_then(|b| crate::manifest::referrer(d, &b))
            .is_ok_and(|r| r.subject.is_some())
    }

    /// The root of an image named by `what`: a name of the namespace, or
    /// the digest of a manifest or index (named here, or in the store).
    pub fn root_of(&self, what: &str) -> Result<Descriptor> {
        let Ok(digest) = what.parse::<Digest>() else {
            return Ok(self.get(what)?.target);
        };
        if let Some(img) = self.list()?.into_iter().find(|i| i.target.digest == digest) {
            return Ok(img.target);
        }
        let info = self.store.info(&digest)?;
        let bytes = read_small(&self.store, &Descriptor::new("", digest.clone(), info.size))?;
        let media_type = crate::manifest::sniff(&bytes).ok_or_else(|| {
            Error::new(
                Kind::InvalidContent,
                format!("{digest}: not a manifest or index"),
            )
        })?;
        Ok(Descriptor::new(media_type, digest, info.size))
    }

    /// Every image of the namespace, sorted by name.
    pub fn list(&self) -> Result<Vec<Image>> {
        let mut out: Vec<Image> = self
            .read()?
            .manifests
            .iter()
            .filter_map(Image::from_entry)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The image `what` names: its exact stored name (other tools store
    /// `rootfs` or `v1`), else its normalized one (`redis:7` is
    /// `docker.io/library/redis:7`).
    pub fn get(&self, what: &str) -> Result<Image> {
        let images = self.list()?;
        let at = self.position(&images, what)?;
        Ok(images[at].clone())
    }

    /// Where in `images` the image `what` names is, as [`Images::get`] finds it.
    fn position(&self, images: &[Image], what: &str) -> Result<usize> {
        images
            .iter()
            .position(|i| i.name == what)
            .or_else(|| {
                let full = full_name(what);
                images.iter().position(|i| i.name == full)
            })
            .ok_or_else(|| no_such(what, &self.namespace))
    }

    /// Changes the namespace's images with `edit`, under the store's index
    /// lock, and replaces the index file atomically.
    pub fn update<T>(&self, edit: impl FnOnce(&mut Vec<Image>) -> Result<T>) -> Result<T> {
        self.store.init()?;
        let path = self.path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).context(dir.display())?;
        }
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let mut images: Vec<Image> = file
            .manifests
            .iter()
            .filter_map(Image::from_entry)
            .collect();
        let result = edit(&mut images)?;
        // Entries that are not dist's records (no ref name) stay as they were.
        file.manifests
            .retain(|d| !d.annotations.contains_key(REF_NAME));
        file.manifests.extend(images.iter().map(Image::entry));
        file.media_type
            .get_or_insert_with(|| descriptor::OCI_INDEX.to_string());
        let bytes =
            serde_json::to_vec(&file).map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
        write_atomic(&path, &bytes)?;
        Ok(result)
    }

    /// Records `name` → `target`: a new image, or a new target for an
    /// existing name (labels and creation time kept).
    pub fn put(&self, name: &str, target: Descriptor) -> Result<Image> {
        self.put_from(name, target, None)
    }

    /// [`Images::put`], recording `source` (`domain/repository`) as holding
    /// the content. A new target forgets the old target's sources.
    pub fn put_from(&self, name: &str, target: Descriptor, source: Option<&str>) -> Result<Image> {
        self.update(|images| {
            let now = SystemTime::now();
            let i = match images.iter().position(|i| i.name == name) {
                Some(at) => {
                    let i = &mut images[at];
                    if i.target.digest != target.digest {
                        i.sources.clear();
                    }
                    i.target = target;
                    i.updated = now;
                    i
                }
                None => {
                    images.push(Image::new(name, target));
                    images.last_mut().expect("just pushed")
                }
            };
            if let Some(s) = source {
                i.add_source(s);
            }
            Ok(i.clone())
        })
    }

    /// Records that `source` (`domain/repository`) holds the content of
    /// every image of the namespace whose root is `root` (after a push).
    pub fn add_source(&self, root: &Digest, source: &str) -> Result<()> {
        self.update(|images| {
            for i in images.iter_mut().filter(|i| i.target.digest == *root) {
                i.add_source(source);
            }
            Ok(())
        })
    }

    /// Records `new` pointing at what `name` points at, with its labels.
    /// An existing `new` is replaced only with `force`.
    pub fn tag(&self, name: &str, new: &str, force: bool) -> Result<Image> {
        let new = new.parse::<crate::reference::Reference>()?.to_string();
        let new = new.as_str();
        let ns = &self.namespace;
        self.update(|images| {
            let mut copy = images[self.position(images, name)?].clone();
            let now = SystemTime::now();
            if let Some(at) = images.iter().position(|i| i.name == new) {
                if !force {
                    return Err(Error::new(
                        Kind::FailedPrecondition,
                        format!(
                            "{new}: already names an image in namespace {ns} (--force replaces it)"
                        ),
                    ));
                }
                images.remove(at);
            }
            copy.name = new.to_string();
            copy.created = now;
            copy.updated = now;
            images.push(copy.clone());
            Ok(copy)
        })
    }

    /// Sets the labels of `name` (an empty value removes one).
    pub fn label(&self, name: &str, labels: &[(String, String)]) -> Result<Image> {
        self.update(|images| {
            let at = self.position(images, name)?;
            let img = &mut images[at];
            for (k, v) in labels {
                if v.is_empty() {
                    img.labels.remove(k);
                } else {
                    img.labels.insert(k.clone(), v.clone());
                }
            }
            img.updated = SystemTime::now();
            Ok(img.clone())
        })
    }

    /// Removes the name `name`; the content stays until garbage collection.
    pub fn remove(&self, name: &str) -> Result<Image> {
        self.update(|images| {
            let at = self.position(images, name)?;
            Ok(images.remove(at))
        })
    }

    fn lock(&self) -> Result<File> {
        lock_index(&self.store)
    }
}

/// Takes the store's index lock, under which every index and labels file
/// of every namespace is changed.
fn lock_index(store: &Store) -> Result<File> {
    let path = store.root().join("index.lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .context(path.display())?;
    f.lock().context(path.display())?;
    Ok(f)
}

/// The images of every namespace whose content a repository of `domain`
/// is known to hold: (repository, root) each, for a push to mount from.
pub fn sources_on(store: &Store, domain: &str) -> Result<Vec<(String, Descriptor)>> {
    let mut out: Vec<(String, Descriptor)> = Vec::new();
    for ns in namespaces(store)? {
        for img in Images::new(store, ns).list()? {
            for s in &img.sources {
                if let Some(repo) = s.strip_prefix(domain).and_then(|r| r.strip_prefix('/'))
                    && !out
                        .iter()
                        .any(|(r, d)| r == repo && d.digest == img.target.digest)
                {
                    out.push((repo.to_string(), img.target.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The full name of an image as pulls record it (`redis:7` is
/// `docker.io/library/redis:7`); what is not a reference stays as it is.
pub fn full_name(name: &str) -> String {
    name.parse::<crate::reference::Reference>()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// An image as `dist-images ls` and `check` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The full name; the digest for an entry another tool wrote unnamed.
    pub name: String,
    /// Whether the entry has a name.
    #[serde(skip)]
    pub named: bool,
    /// The platforms it is for: an index's entries, a manifest's config.
    pub platforms: Vec<String>,
    /// The root's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The root's digest.
    pub digest: String,
    /// Everything the image is made of, in bytes.
    pub size: u64,
    /// The user's labels.
    pub labels: BTreeMap<String, String>,
    /// When the name was recorded.
    pub created: String,
    /// When it last changed.
    pub updated: String,
    /// Whether everything the root reaches is in the store.
    pub complete: bool,
    /// What the root reaches.
    #[serde(skip)]
    pub reach: Reach,
}

impl Summary {
    /// The error that says what the image lacks, if anything.
    pub fn missing(&self) -> Option<Error> {
        let first = self.reach.missing.first()?;
        Some(Error::new(
            Kind::NotFound,
            format!(
                "{}: {} objects missing, first {}",
                self.name,
                self.reach.missing.len(),
                first.digest
            ),
        ))
    }

    /// The labels as `ctr images ls` shows them: `k=v,k2=v2`, or `-`.
    pub fn labels_text(&self) -> String {
        match self.labels.is_empty() {
            true => "-".to_string(),
            false => self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// `complete`, or `incomplete (HAVE/ALL)`.
    pub fn status(&self) -> String {
        let all = self.reach.reached.len();
        match self.reach.missing.len() {
            0 => "complete".to_string(),
            n => format!("incomplete ({}/{all})", all - n),
        }
    }
}

/// `KEY=VALUE` as a label; an empty value is allowed (it removes the label).
pub fn parse_label(kv: &str) -> Result<(String, String)> {
    kv.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| Error::invalid(format!("label: '{kv}' is not KEY=VALUE")))
}

/// The platforms of the image `root`, as far as the store tells them: an
/// index's entries', a manifest's config's. Empty when it cannot be read.
fn platforms(store: &Store, root: &Descriptor) -> Vec<String> {
    let read = || -> Result<Vec<String>> {
        let bytes = read_small(store, root)?;
        if descriptor::is_index(&root.media_type) {
            let index = crate::manifest::Index::parse(&bytes)?;
            let mut out: Vec<String> = Vec::new();
            for p in index.manifests.iter().filter_map(|m| m.platform.as_ref()) {
                let p = p.to_string();
                if !out.contains(&p) && p != "unknown/unknown" {
                    out.push(p);
                }
            }
            return Ok(out);
        }
        let m = crate::manifest::Manifest::parse(&bytes)?;
        let c = crate::manifest::Config::parse(&read_small(store, &m.config)?)?;
        Ok(vec![
            crate::platform::Platform::new(&c.os, &c.architecture, c.variant.as_deref())
                .to_string(),
        ])
    };
    read().unwrap_or_default()
}

/// The error for a name namespace `ns` does not have (nor its
/// normalized form, when that differs).
fn no_such(name: &str, ns: &Namespace) -> Error {
    let full = full_name(name);
    let also = match full != name {
        true => format!(" (nor {full})"),
        false => String::new(),
    };
    Error::new(
        Kind::NotFound,
        format!("{}: no such image in namespace {ns}{also}", Untrusted(name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn scratch(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("dist-images-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Store::open(dir)
    }

    fn desc(media_type: &str, body: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::of(body), body.len() as u64)
    }

    #[test]
    fn records_live_per_namespace_and_keep_foreign_entries() {
        let store = scratch("records");
        let target = desc(descriptor::OCI_MANIFEST, b"manifest");
        let default = Images::new(&store, "default".parse().unwrap());
        let other = Images::new(&store, "team".parse().unwrap());
        default
            .put("docker.io/library/redis:7", target.clone())
            .unwrap();
        other
            .put("docker.io/library/redis:7", target.clone())
            .unwrap();
        other.put("example.com/app:v1", target.clone()).unwrap();
        assert_eq!(default.list().unwrap().len(), 1);
        assert_eq!(
            other
                .list()
                .unwrap()
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
            ["docker.io/library/redis:7", "example.com/app:v1"]
        );
        assert!(store.root().join("namespaces/team/index.json").exists());

        // An entry another tool wrote (no ref name) survives our updates.
        let path = store.root().join("index.json");
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        v["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::to_value(desc(descriptor::OCI_MANIFEST, b"foreign")).unwrap());
        fs::write(&path, v.to_string()).unwrap();
        default
            .update(|images| {
                images[0].labels.insert("env".into(), "prod".into());
                Ok(())
            })
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
        let img = default.get("docker.io/library/redis:7").unwrap();
        assert_eq!(img.labels["env"], "prod");
        assert_eq!(img.target, target);
        assert!(img.updated >= img.created);

        assert_eq!(default.remove("nope").unwrap_err().kind(), Kind::NotFound);
        default.remove("docker.io/library/redis:7").unwrap();
        assert!(default.list().unwrap().is_empty());
        assert_eq!(other.list().unwrap().len(), 2);
        fs::remove_dir_all(store.root()).unwrap();
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let store = scratch("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let images = Images::new(&store, "default".parse().unwrap());
                    for i in 0..10 {
                        images
                            .put(
                                &format!("img-{t}-{i}"),
                                desc(descriptor::OCI_MANIFEST, format!("{t}{i}").as_bytes()),
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            Images::new(&store, "default".parse().unwrap())
                .list()
                .unwrap()
                .len(),
            80
        );
        fs::remove_dir_all(store.root()).unwrap();
    }
}
