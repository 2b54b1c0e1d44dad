//! Import: an archive (a tar stream, gzip'd or zstd'd as a whole or not) or
//! a directory into the store, in one pass whatever the order of entries.
//!
//! Each file goes into the store as it streams by, through the same locked,
//! verified ingest as everything else: checked against its digest where its
//! name gives one (`blobs/ALG/HEX`), else hashed (the old layout's
//! `<id>/layer.tar`, whose diff ID is also computed when it is compressed).
//! Only the metadata files (`manifest.json`, `index.json`, `repositories`,
//! `oci-layout`) are kept in memory, each bounded. At the end the images are
//! put together (a Docker schema 2 manifest for each image of the old
//! layout, its layers' diff IDs checked against its config), every object
//! they reach is checked, and only then are all their names recorded, at
//! once. What fails leaves nothing named; blobs already verified stay for
//! `dist-gc` to remove.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::SystemTime;

use crate::content::{Store, Writer, WriterOptions};
use crate::descriptor::{self, Descriptor};
use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Context, Error, Kind, Result, Untrusted};
use crate::graph::{self, read_small};
use crate::images::{Image, Images, Namespace, REF_NAME, referrers};
use crate::layer::{self, Compression};
use crate::manifest::{self, Config, Index, Manifest};
use crate::reference::Reference;
use crate::stream::{Chunk, ReadAhead};
use crate::tar::{EntryKind, TarReader};

use super::export::REFERRERS_OF;
use super::{CONTAINERD_NAME, MAX_METADATA, clean_path, resolve_link};

/// The metadata files of an archive, kept in memory.
const METADATA: [&str; 4] = ["manifest.json", "index.json", "repositories", "oci-layout"];
/// Files outside `blobs/` (and links) an archive may hold: an image archive
/// has a few per layer, so this bounds memory, not real archives.
const MAX_FILES: usize = 1 << 16;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The namespace the names go in.
    pub namespace: Namespace,
    /// The name to give the archive's one image, instead of its own.
    pub name: Option<String>,
}

/// One name an import recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The full name (the digest for an image the archive does not name).
    pub name: String,
    /// What it points at.
    pub target: Descriptor,
}

/// A file of the archive outside `blobs/`, once in the store.
#[derive(Debug, Clone)]
struct Stored {
    digest: Digest,
    size: u64,
    compression: Compression,
    /// The digest of its uncompressed bytes, when it was compressed and
    /// inflated cleanly (else the digest itself, for a plain file).
    diff_id: Option<Digest>,
}

/// What the entries of an archive left, for the images to be put together.
struct Collector<'a> {
    store: &'a Store,
    meta: HashMap<String, Vec<u8>>,
    files: HashMap<String, Stored>,
    links: HashMap<String, String>,
}

/// An image of the archive before it is named.
struct Candidate {
    target: Descriptor,
    names: Vec<String>,
    /// Which file of the archive it comes from, for messages.
    source: &'static str,
}

/// The `manifest.json` of `docker save`: one object per image.
#[derive(serde::Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Imports the archive `input` (a tar stream, compressed or not) into `store`.
pub fn import<R: Read + Send + 'static>(
    store: &Store,
    input: R,
    opts: &ImportOptions,
) -> Result<Vec<Imported>> {
    let (_, stream) = layer::decompress(input).map_err(|e| match e.kind() {
        Kind::InvalidContent if e.message().contains("empty") => Error::new(
            Kind::InvalidContent,
            "the input is empty: not an image archive",
        ),
        _ => archive_error(e),
    })?;
    // Held until the names are recorded: the collector removes nothing
    // this import wrote before then.
    let _hold = store.lock(false, true)?;
    let mut tar = TarReader::new(ReadAhead::spawn(stream));
    let mut c = Collector::new(store);
    while let Some(h) = tar.next_header().map_err(archive_error)? {
        let path = clean_path(&h.name)?;
        match h.kind {
            EntryKind::File => c.file(&path, h.size, &mut tar.data())?,
            EntryKind::Directory => {}
            EntryKind::Symlink => {
                let target = String::from_utf8_lossy(&h.link).into_owned();
                let to = resolve_link(&path, &target).ok_or_else(|| {
                    Error::new(
                        Kind::InvalidContent,
                        format!(
                            "{}: a link to {} leaves the archive; refused",
                            Untrusted(&path),
                            Untrusted(&target)
                        ),
                    )
                })?;
                c.link(&path, to)?;
            }
            EntryKind::HardLink => {
                let to = clean_path(&h.link)?;
                c.link(&path, to)?;
            }
            other => {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!(
                        "{}: a {other:?} entry, which image archives do not hold",
                        Untrusted(&path)
                    ),
                ));
            }
        }
    }
    c.finish(opts)
}

/// Imports the OCI image layout (or extracted docker-save archive) `dir`.
pub fn import_dir(store: &Store, dir: &Path, opts: &ImportOptions) -> Result<Vec<Imported>> {
    let _hold = store.lock(false, true)?;
    let mut c = Collector::new(store);
    let open = |rel: &str| -> Result<Option<(File, u64)>> {
        let path = dir.join(rel);
        match File::open(&path) {
            Ok(f) => {
                let m = f.metadata().context(path.display())?;
                Ok(m.is_file().then_some((f, m.len())))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&e).context(path.display())),
        }
    };
    for name in METADATA {
        if let Some((mut f, size)) = open(name)? {
            c.file(name, size, &mut f)?;
        }
    }
    let blobs = dir.join("blobs");
    let mut names = Vec::new();
    if let Ok(algs) = std::fs::read_dir(&blobs) {
        for alg in algs {
            let alg = alg.context(blobs.display())?.file_name();
            let Ok(entries) = std::fs::read_dir(blobs.join(&alg)) else {
                continue;
            };
            for e in entries {
                let e = e.context(blobs.display())?;
                names.push(format!(
                    "blobs/{}/{}",
                    alg.to_string_lossy(),
                    e.file_name().to_string_lossy()
                ));
            }
        }
    }
    // What manifest.json names outside blobs/ (the old layout, extracted).
    if let Some(m) = c.meta.get("manifest.json") {
        for e in parse_docker(m)? {
            for p in std::iter::once(e.config).chain(e.layers) {
                let p = clean_path(p.as_bytes())?;
                if !p.starts_with("blobs/") && !names.contains(&p) {
                    names.push(p);
                }
            }
        }
    }
    names.sort();
    for name in names {
        if let Some((mut f, size)) = open(&name)? {
            c.file(&name, size, &mut f)?;
        }
    }
    c.finish(opts)
}

/// Errors of the tar reader and the decompressor, said of the archive.
fn archive_error(e: Error) -> Error {
    match e.message().strip_prefix("malformed layer: ") {
        Some(rest) => Error::new(e.kind(), format!("malformed archive: {rest}")),
        None => e,
    }
}

/// `sha256:HEX` of a path `blobs/sha256/HEX`; `None` for other paths.
fn blob_digest(path: &str) -> Result<Option<Digest>> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts[..] {
        ["blobs", alg, hex] => match Algorithm::from_name(alg) {
            Some(a) => Digest::from_parts(a, hex).map(Some).map_err(|e| {
                Error::new(
                    Kind::InvalidContent,
                    format!("{}: not a blob's name ({})", Untrusted(path), e.message()),
                )
            }),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

impl<'a> Collector<'a> {
    fn new(store: &'a Store) -> Collector<'a> {
        Collector {
            store,
            meta: HashMap::new(),
            files: HashMap::new(),
            links: HashMap::new(),
        }
    }

    /// Takes in one file of the archive: metadata into memory, anything
    /// else into the store.
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let shown = Untrusted(path).to_string();
        if METADATA.contains(&path) {
            if size > MAX_METADATA {
                return Err(Error::new(
                    Kind::InvalidContent,
                    format!(
                        "{shown}: {size} bytes; an archive's {shown} is at most {MAX_METADATA}"
                    ),
                ));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            data.take(size)
                .read_to_end(&mut bytes)
                .map_err(|e| read_error(e).context(&shown))?;
            if (bytes.len() as u64) < size {
                return Err(truncated().context(&shown));
            }
            self.meta.insert(path.to_string(), bytes);
            return Ok(());
        }
        // The old layout's `<id>/json` and `<id>/VERSION`: nothing reads them.
        if let Some((dir, name)) = path.split_once('/')
            && !dir.is_empty()
            && !name.contains('/')
            && (name == "json" || name == "VERSION")
        {
            return Ok(());
        }
        let expected = blob_digest(path)?;
        if expected.is_none() && self.files.len() >= MAX_FILES {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{shown}: more than {MAX_FILES} files outside blobs/: not an image archive"
                ),
            ));
        }
        let stored =
            ingest(self.store, size, expected.clone(), data).map_err(|e| e.context(&shown))?;
        if expected.is_none() {
            self.files.insert(path.to_string(), stored);
        }
        Ok(())
    }

    fn link(&mut self, path: &str, to: String) -> Result<()> {
        if self.links.len() >= MAX_FILES {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{}: more than {MAX_FILES} links: not an image archive",
                    Untrusted(path)
                ),
            ));
        }
        self.links.insert(path.to_string(), to);
        Ok(())
    }

    /// The stored file at `path` (through links), as `source` names it.
    fn resolve(&self, path: &str, source: &str) -> Result<Stored> {
        let missing = || {
            Error::new(
                Kind::InvalidContent,
                format!("{source}: {} is not in the archive", Untrusted(path)),
            )
        };
        let mut p = clean_path(path.as_bytes()).map_err(|e| e.context(source))?;
        for _ in 0..40 {
            if let Some(d) = blob_digest(&p).map_err(|e| e.context(source))? {
                let info = self.store.info(&d).map_err(|_| missing())?;
                let mut head = Vec::with_capacity(6);
                self.store.reader(&d)?.take(6).read_to_end(&mut head)?;
                return Ok(Stored {
                    digest: d,
                    size: info.size,
                    compression: layer::detect(&head).unwrap_or(Compression::None),
                    diff_id: None,
                });
            }
            if let Some(s) = self.files.get(&p) {
                return Ok(s.clone());
            }
            match self.links.get(&p) {
                Some(to) => p = to.clone(),
                None => return Err(missing()),
            }
        }
        Err(Error::new(
            Kind::InvalidContent,
            format!("{source}: {}: links that loop; refused", Untrusted(path)),
        ))
    }

    /// Puts the images together, checks them, and records their names.
    fn finish(self, opts: &ImportOptions) -> Result<Vec<Imported>> {
        let mut candidates = Vec::new();
        // Lists of referrers (dist-export's), by subject.
        let mut lists = Vec::new();
        if let Some(bytes) = self.meta.get("index.json") {
            let index = Index::parse(bytes).map_err(|e| e.context("index.json"))?;
            for d in index.manifests {
                match list_subject(&d)? {
                    Some(subject) => lists.push((subject, d)),
                    None => candidates.push(self.index_image(d)?),
                }
            }
        }
        if let Some(bytes) = self.meta.get("manifest.json") {
            for e in parse_docker(bytes)? {
                self.docker_image(e, &mut candidates)?;
            }
        }
        // An unnamed manifest with a subject is a referrer, not an image
        // (OCI layouts of other tools list them so).
        let (referrers, mut candidates): (Vec<Candidate>, Vec<Candidate>) =
            candidates.into_iter().partition(|c| {
                c.names.is_empty()
                    && c.source == "index.json"
                    && subject_of(self.store, &c.target).is_some()
            });
        if candidates.is_empty() {
            let why = match (
                self.meta.contains_key("index.json"),
                self.meta.contains_key("manifest.json"),
            ) {
                (false, false) if self.meta.contains_key("repositories") => {
                    "no manifest.json: an archive of docker before 1.10, which dist does not read"
                }
                (false, false) => {
                    "no index.json or manifest.json: not an image archive (or a truncated one)"
                }
                _ => "the archive holds no image",
            };
            return Err(Error::new(Kind::InvalidContent, why));
        }
        if let Some(name) = &opts.name {
            if candidates.len() != 1 {
                return Err(Error::invalid(format!(
                    "--name: the archive holds {} images; --name names one",
                    candidates.len()
                )));
            }
            candidates[0].names = vec![name.parse::<Reference>()?.to_string()];
        }
        for c in &candidates {
            check(self.store, c)?;
        }
        for (subject, list) in &lists {
            record_list(self.store, subject, list)?;
        }
        for c in &referrers {
            check(self.store, c)?;
            if let Some(r) = subject_of(self.store, &c.target) {
                referrers::add(self.store, &r.0, &[r.1])?;
            }
        }
        name_all(self.store, &opts.namespace, &candidates)
    }

    /// The image an entry of `index.json` is, named by its annotations.
    fn index_image(&self, mut d: Descriptor) -> Result<Candidate> {
        if !descriptor::is_index(&d.media_type) && !descriptor::is_manifest(&d.media_type) {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "index.json: {} is a {}, not a manifest or index",
                    d.digest,
                    Untrusted(&d.media_type)
                ),
            ));
        }
        let mut names = Vec::new();
        if let Some(n) = d.annotations.get(CONTAINERD_NAME) {
            names.push(reference_name(n, "index.json")?);
        } else if let Some(n) = d.annotations.get(REF_NAME) {
            names.push(layout_name(n)?);
        }
        d.annotations
            .retain(|k, _| k != CONTAINERD_NAME && k != REF_NAME);
        Ok(Candidate {
            target: d,
            names,
            source: "index.json",
        })
    }

    /// An entry of `manifest.json`: names for an image of `index.json`
    /// with its config (docker 25+), else an image of its own, put together
    /// from its config and layers (the old layout).
    fn docker_image(&self, e: DockerEntry, candidates: &mut Vec<Candidate>) -> Result<()> {
        const SRC: &str = "manifest.json";
        let config = self.resolve(&e.config, SRC)?;
        let mut names = Vec::new();
        for t in e.repo_tags.unwrap_or_default() {
            names.push(reference_name(&t, SRC)?);
        }
        for c in candidates.iter_mut().filter(|c| c.source == "index.json") {
            if configs_of(self.store, &c.target).contains(&config.digest) {
                for n in &names {
                    if !c.names.contains(n) {
                        c.names.push(n.clone());
                    }
                }
                return Ok(());
            }
        }
        let config_desc = Descriptor::new(
            descriptor::DOCKER_CONFIG,
            config.digest.clone(),
            config.size,
        );
        let parsed = Config::parse(&read_small(self.store, &config_desc)?)
            .map_err(|err| err.context(format!("{SRC}: config {}", Untrusted(&e.config))))?;
        let diff_ids = &parsed.rootfs.diff_ids;
        if e.layers.len() != diff_ids.len() {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{SRC}: {} layers for config {}, which has {} diff IDs",
                    e.layers.len(),
                    Untrusted(&e.config),
                    diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (path, want) in e.layers.iter().zip(diff_ids) {
            let l = self.resolve(path, SRC)?;
            if let Some(got) = &l.diff_id
                && got != want
            {
                return Err(Error::new(
                    Kind::DataCorruption,
                    format!(
                        "{SRC}: layer {} has diff ID {got}; its config says {want}",
                        Untrusted(path)
                    ),
                ));
            }
            let media_type = match l.compression {
                Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
                Compression::Gzip => descriptor::DOCKER_LAYER,
                Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
            };
            layers.push(Descriptor::new(media_type, l.digest, l.size));
        }
        let body = docker_manifest(&config_desc, &layers);
        let target = put_small(self.store, descriptor::DOCKER_MANIFEST, &body)?;
        candidates.push(Candidate {
            target,
            names,
            source: SRC,
        });
        Ok(())
    }
}

/// The subject an `index.json` entry lists the referrers of, when it is
/// such a list (dist-export's, named by the subject's fallback tag).
fn list_subject(d: &Descriptor) -> Result<Option<Digest>> {
    let Some(subject) = d.annotations.get(REFERRERS_OF) else {
        return Ok(None);
    };
    if !descriptor::is_index(&d.media_type) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "index.json: the referrers of {} are no index",
                Untrusted(subject)
            ),
        ));
    }
    subject
        .parse::<Digest>()
        .map(Some)
        .map_err(|e| e.context("index.json"))
}

/// The subject of the manifest or index `d`, and its entry in a list of
/// referrers, if it refers to one.
fn subject_of(store: &Store, d: &Descriptor) -> Option<(Digest, Descriptor)> {
    let bytes = read_small(store, d).ok()?;
    let r = manifest::referrer(d, &bytes).ok()?;
    Some((r.subject?.digest, r.entry))
}

/// Records what the list `list` (in the store) says refers to `subject`:
/// each entry whole in the store, checked, and referring to `subject` (a
/// cosign tag-scheme signature: tagged after it).
fn record_list(store: &Store, subject: &Digest, list: &Descriptor) -> Result<()> {
    let object = format!("index.json: the referrers of {subject}");
    if !store.contains(&list.digest) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{object}: their list {} is not in the archive", list.digest),
        ));
    }
    let index = Index::parse(&read_small(store, list)?).map_err(|e| e.context(&object))?;
    let mut entries = Vec::new();
    for e in index.manifests {
        let d = Descriptor::new(e.media_type.clone(), e.digest.clone(), e.size);
        let c = Candidate {
            target: d.clone(),
            names: Vec::new(),
            source: "index.json",
        };
        check(store, &c).map_err(|err| err.context(format!("{object}: {}", e.digest)))?;
        let refers = match e.annotations.get(referrers::TAG) {
            Some(tag) => tag.starts_with(&format!("{}.", crate::remote::tag_of(subject))),
            None => subject_of(store, &d).is_some_and(|(s, _)| s == *subject),
        };
        if !refers {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("{object}: {} does not refer to it", e.digest),
            ));
        }
        entries.push(e);
    }
    referrers::add(store, subject, &entries)
}

fn parse_docker(bytes: &[u8]) -> Result<Vec<DockerEntry>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            Kind::InvalidContent,
            format!("manifest.json: not the manifest of docker save ({e})"),
        )
    })
}

/// A Docker schema 2 manifest, its fields in the order docker and
/// containerd write them.
fn docker_manifest(config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        #[serde(rename = "mediaType")]
        media_type: &'a str,
        config: &'a Descriptor,
        layers: &'a [Descriptor],
    }
    serde_json::to_vec(&Body {
        schema_version: 2,
        media_type: descriptor::DOCKER_MANIFEST,
        config,
        layers,
    })
    .unwrap_or_default()
}

/// Puts `body` into the store; its descriptor of type `media_type`.
fn put_small(store: &Store, media_type: &str, body: &[u8]) -> Result<Descriptor> {
    let d = Descriptor::new(media_type, Digest::of(body), body.len() as u64);
    let opts = WriterOptions {
        expected: Some(d.digest.clone()),
        total: Some(d.size),
        wait: true,
    };
    match store.writer(&d.digest.to_string(), opts) {
        Ok(mut w) => {
            w.resume_from_stream(&mut &body[..])?;
            w.copy_from(&mut &body[..])?;
            w.commit()?;
        }
        Err(e) if e.kind() == Kind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    Ok(d)
}

/// The configs of the images `root` reaches in the store.
fn configs_of(store: &Store, root: &Descriptor) -> Vec<Digest> {
    let Ok(reach) = graph::reach(store, root) else {
        return Vec::new();
    };
    reach
        .reached
        .iter()
        .filter(|d| descriptor::is_manifest(&d.media_type) && store.contains(&d.digest))
        .filter_map(|d| Manifest::parse(&read_small(store, d).ok()?).ok())
        .map(|m| m.config.digest)
        .collect()
}

/// A name from `RepoTags` or containerd's annotation: an image reference,
/// recorded in full.
fn reference_name(text: &str, source: &str) -> Result<String> {
    text.parse::<Reference>()
        .map(|r| r.to_string())
        .map_err(|_| {
            Error::new(
                Kind::InvalidContent,
                format!("{source}: '{}' is not an image name", Untrusted(text)),
            )
        })
}

/// An OCI layout's ref name: a reference, recorded in full, when it has a
/// registry, path or tag in it; else a bare name (`v1`, `rootfs`), kept as
/// other OCI tools keep it.
fn layout_name(text: &str) -> Result<String> {
    if text.contains(['/', ':', '@']) {
        return reference_name(text, "index.json");
    }
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    match ok {
        true => Ok(text.to_string()),
        false => Err(Error::new(
            Kind::InvalidContent,
            format!("index.json: '{}' is not an image name", Untrusted(text)),
        )),
    }
}

/// Checks that everything `c` reaches is in the store, and that its
/// manifests, indexes and configs are what they must be.
fn check(store: &Store, c: &Candidate) -> Result<()> {
    let reach = graph::reach(store, &c.target).map_err(|e| e.context(c.source))?;
    if let Some(first) = reach.missing.first() {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{}: {} {} of image {} is not in the archive",
                c.source,
                graph::ObjectKind::of(first),
                first.digest,
                c.target.digest
            ),
        ));
    }
    for d in &reach.reached {
        if descriptor::is_index(&d.media_type) || descriptor::is_manifest(&d.media_type) {
            manifest::check(&d.media_type, &read_small(store, d)?)
                .map_err(|e| e.context(format!("{}: {}", c.source, d.digest)))?;
        }
        if descriptor::is_manifest(&d.media_type) {
            graph::check_image(store, d).map_err(|e| e.context(c.source))?;
        }
    }
    Ok(())
}

/// Records every name of `candidates` at once; an image the archive does
/// not name is recorded by its digest. Two images of one name are refused
/// before anything is recorded.
fn name_all(store: &Store, ns: &Namespace, candidates: &[Candidate]) -> Result<Vec<Imported>> {
    let mut out: Vec<Imported> = Vec::new();
    for c in candidates {
        let names = match c.names.is_empty() {
            true => vec![c.target.digest.to_string()],
            false => c.names.clone(),
        };
        for name in names {
            match out.iter().find(|i| i.name == name) {
                Some(i) if i.target.digest != c.target.digest => {
                    return Err(Error::new(
                        Kind::InvalidContent,
                        format!(
                            "{}: names two images of the archive ({} and {}); nothing named",
                            Untrusted(&name),
                            i.target.digest,
                            c.target.digest
                        ),
                    ));
                }
                Some(_) => {}
                None => out.push(Imported {
                    name,
                    target: c.target.clone(),
                }),
            }
        }
    }
    Images::new(store, ns.clone()).update(|images| {
        let now = SystemTime::now();
        for i in &out {
            match images.iter_mut().find(|img| img.name == i.name) {
                Some(img) => {
                    img.target = i.target.clone();
                    img.updated = now;
                }
                None => images.push(Image::new(i.name.clone(), i.target.clone())),
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// The error for an entry the archive ends in (the caller names the entry).
fn truncated() -> Error {
    Error::new(
        Kind::InvalidContent,
        "the archive ends in the middle of this entry (truncated)",
    )
}

/// An error reading an entry's data (the caller names the entry).
fn read_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => truncated(),
        _ => archive_error(Error::io(&e)),
    }
}

/// A unique ref for a file whose digest its name does not give.
fn unique_ref() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "import-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Streams the `size` bytes of `data` into the store: keyed and checked by
/// `expected` when the name gives it (resuming what an interrupted import
/// of it kept), else under a ref of its own and hashed; a compressed file
/// of the latter kind is also inflated on a thread for its diff ID.
fn ingest(
    store: &Store,
    size: u64,
    expected: Option<Digest>,
    data: &mut dyn Read,
) -> Result<Stored> {
    let reference = match &expected {
        Some(d) => d.to_string(),
        None => unique_ref(),
    };
    let opts = WriterOptions {
        expected: expected.clone(),
        total: Some(size),
        wait: true,
    };
    let mut w = match store.writer(&reference, opts) {
        Ok(w) => w,
        Err(e) if e.kind() == Kind::AlreadyExists => {
            let d = expected.ok_or(e)?;
            return Ok(Stored {
                digest: d,
                size,
                compression: Compression::None,
                diff_id: None,
            });
        }
        Err(e) => return Err(e),
    };
    let streamed = stream(&mut w, size, expected.is_none(), data);
    let (compression, diff_id) = match streamed {
        Ok(got) => got,
        Err(e) => {
            if expected.is_none() {
                // Under a ref of its own, nothing can resume it.
                w.discard();
            }
            return Err(e);
        }
    };
    let done = w.commit()?;
    Ok(Stored {
        diff_id: diff_id.or_else(|| Some(done.digest.clone())),
        digest: done.digest,
        size: done.size,
        compression,
    })
}

/// Writes the `size` bytes of `data` into `w`; with `sniff`, tells their
/// compression from the first bytes and computes the diff ID of a
/// compressed stream.
fn stream(
    w: &mut Writer,
    size: u64,
    sniff: bool,
    data: &mut dyn Read,
) -> Result<(Compression, Option<Digest>)> {
    if w.offset() > 0 {
        w.resume_from_stream(&mut &mut *data)?;
    }
    let mut chunk = Chunk::new();
    let n = fill(data, chunk.space()).map_err(read_error)?;
    chunk.filled(n);
    let compression = match sniff {
        true => layer::detect(&chunk).unwrap_or(Compression::None),
        false => Compression::None,
    };
    let mut inflate = (compression != Compression::None).then(DiffId::spawn);
    while !chunk.is_empty() {
        if let Some(i) = &mut inflate {
            i.send(&chunk);
        }
        w.write_chunk(chunk)?;
        chunk = Chunk::new();
        let n = fill(data, chunk.space()).map_err(read_error)?;
        chunk.filled(n);
    }
    if w.offset() < size {
        return Err(truncated());
    }
    let diff_id = match inflate {
        Some(i) => Some(i.finish()?),
        None => None,
    };
    Ok((compression, diff_id))
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
fn fill(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The diff ID of a compressed stream, inflated and hashed on a thread of
/// its own as its bytes are sent.
struct DiffId {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<Result<Digest>>>,
}

/// The bytes sent to a [`DiffId`] thread, as a reader.
struct Channel {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    at: usize,
}

impl Read for Channel {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.buf.len() {
            match self.rx.recv() {
                Ok(b) => (self.buf, self.at) = (b, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl DiffId {
    fn spawn() -> DiffId {
        let (tx, rx) = mpsc::sync_channel(4);
        let thread = std::thread::spawn(move || {
            let input = Channel {
                rx,
                buf: Vec::new(),
                at: 0,
            };
            let (_, plain) = layer::decompress(input)?;
            let mut h = HashingReader::new(plain, Algorithm::Sha256);
            io::copy(&mut h, &mut io::sink()).map_err(|e| {
                Error::new(
                    Kind::InvalidContent,
                    format!("malformed layer: {}", Error::io(&e)),
                )
            })?;
            Ok(h.finish().0)
        });
        DiffId {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(tx) = &self.tx
            && tx.send(bytes.to_vec()).is_err()
        {
            // The thread stopped on an error: finish tells it.
            self.tx = None;
        }
    }

    fn finish(mut self) -> Result<Digest> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(Error::new(Kind::Internal, "the inflating thread panicked")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_give_digests_and_other_names_none() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            blob_digest(&format!("blobs/sha256/{hex}")).unwrap(),
            Some(Digest::of(b""))
        );
        assert_eq!(blob_digest(&format!("{hex}.tar")).unwrap(), None);
        assert_eq!(blob_digest("blobs/blake3/abc").unwrap(), None);
        let e = blob_digest("blobs/sha256/XYZ").unwrap_err();
        assert_eq!(e.kind(), Kind::InvalidContent);
        assert!(e.to_string().contains("not a blob's name"), "{e}");
    }

    #[test]
    fn names_from_archives_are_references_or_bare_layout_names() {
        assert_eq!(
            reference_name("alpine:3.20", "manifest.json").unwrap(),
            "docker.io/library/alpine:3.20"
        );
        assert!(reference_name("Not A Name", "manifest.json").is_err());
        assert_eq!(layout_name("v1").unwrap(), "v1");
        assert_eq!(
            layout_name("example.com/app:1").unwrap(),
            "example.com/app:1"
        );
        assert!(layout_name("a\u{1b}[2J").is_err());
        assert!(layout_name("").is_err());
    }

    #[test]
    fn a_manifest_of_the_old_layout_is_written_as_containerd_writes_it() {
        let c = Descriptor::new(descriptor::DOCKER_CONFIG, Digest::of(b"c"), 1);
        let l = Descriptor::new(
            "application/vnd.docker.image.rootfs.diff.tar",
            Digest::of(b"l"),
            1,
        );
        let body = String::from_utf8(docker_manifest(&c, &[l])).unwrap();
        assert!(
            body.starts_with(&format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":1}}"#,
                descriptor::DOCKER_MANIFEST,
                descriptor::DOCKER_CONFIG,
                Digest::of(b"c")
            )),
            "{body}"
        );
        manifest::check(descriptor::DOCKER_MANIFEST, body.as_bytes()).unwrap();
    }
}
