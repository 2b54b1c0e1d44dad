//! Export: images of the store as one tar stream. Everything is planned
//! first (every object each image reaches for the platforms asked, present
//! and of the size its descriptor says), so that a missing object is an
//! error before the first byte goes out, never a broken archive. Then each
//! blob goes out once, as stored, header first, then the index files.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use crate::content::Store;
use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result};
use crate::graph::{self, MAX_DEPTH, Platforms, check_config_size, read_small};
use crate::images::referrers;
use crate::manifest::{self, Index, Manifest};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::tar::TarWriter;

use super::{CONTAINERD_NAME, Format, familiar};

/// The annotation of an OCI layout that names an entry.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The annotation of an `index.json` entry that lists the referrers of
/// the digest it holds (the entry is also named by the subject's fallback
/// tag, `sha256-HEX`, as a registry without the referrers API names it).
pub const REFERRERS_OF: &str = "io.dist.referrers.subject";

/// What the referrers of every image exported are walked with: all of it.
static EVERY_PLATFORM: Platforms = Platforms::All;

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The archive's form.
    pub format: Format,
    /// Which manifests of an index go out.
    pub platforms: Platforms,
}

/// One image to export.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its full name; `None` for an image given by digest.
    pub name: Option<String>,
    /// Its root: a manifest or an index.
    pub root: Descriptor,
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// Blobs written, each once.
    pub blobs: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// One image of `manifest.json`.
#[derive(serde::Serialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
    #[serde(skip)]
    manifest: Digest,
}

/// Everything an export writes, known before it writes.
struct Plan {
    blobs: Vec<Descriptor>,
    /// Blobs made for the archive: the lists of referrers.
    made: Vec<(Digest, Vec<u8>)>,
    index: Vec<Descriptor>,
    docker: Vec<DockerEntry>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

/// `blobs/ALG/HEX`, where a blob lives in an OCI layout.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

/// Writes `sources` from `store` as one archive to `out`.
pub fn export<W: Write>(
    store: &Store,
    sources: &[Source],
    opts: &ExportOptions,
    out: W,
) -> Result<Exported> {
    let plan = plan(store, sources, opts)?;
    write(store, &plan, opts.format, out)
}

fn plan(store: &Store, sources: &[Source], opts: &ExportOptions) -> Result<Plan> {
    let mut walk = Walk {
        store,
        platforms: &opts.platforms,
        seen: HashSet::new(),
        blobs: Vec::new(),
    };
    let mut plan = Plan {
        blobs: Vec::new(),
        made: Vec::new(),
        index: Vec::new(),
        docker: Vec::new(),
        repositories: BTreeMap::new(),
    };
    for s in sources {
        let what = s.name.clone().unwrap_or_else(|| s.root.digest.to_string());
        walk.visit(&s.root, "image", 0)
            .map_err(|e| e.context(crate::error::Untrusted(&what)))?;
        let reference = s.name.as_deref().and_then(|n| n.parse::<Reference>().ok());
        plan.index
            .push(index_entry(s, reference.as_ref(), opts.format));
        if opts.format == Format::Docker {
            walk.docker_entry(&mut plan, s, reference.as_ref())
                .map_err(|e| e.context(crate::error::Untrusted(&what)))?;
        }
    }
    for (subject, entries) in walk.referrers()? {
        let (d, bytes) = referrers_list(&subject, entries);
        if !walk.seen.contains(&d.digest) && !plan.made.iter().any(|(m, _)| *m == d.digest) {
            plan.made.push((d.digest.clone(), bytes));
        }
        plan.index.push(d);
    }
    plan.blobs = walk.blobs;
    Ok(plan)
}

/// The list of what refers to `subject`, as the referrers API gives it (an
/// OCI index), and its `index.json` entry.
fn referrers_list(subject: &Digest, entries: Vec<Descriptor>) -> (Descriptor, Vec<u8>) {
    let bytes = to_json(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": descriptor::OCI_INDEX,
        "manifests": entries,
    }));
    let mut d = Descriptor::new(
        descriptor::OCI_INDEX,
        Digest::of(&bytes),
        bytes.len() as u64,
    );
    d.annotations
        .insert(REF_NAME.to_string(), crate::remote::tag_of(subject));
    d.annotations
        .insert(REFERRERS_OF.to_string(), subject.to_string());
    (d, bytes)
}

/// The entry of `index.json` for `s`: its root, named as docker 25+ names
/// it (the full name for containerd, the tag as the layout's ref name) or,
/// in the OCI form, by its full name as an OCI layout's ref name.
fn index_entry(s: &Source, reference: Option<&Reference>, format: Format) -> Descriptor {
    let mut d = s.root.clone();
    d.annotations
        .retain(|k, _| k != REF_NAME && k != CONTAINERD_NAME);
    if let Some(name) = &s.name {
        d.annotations
            .insert(CONTAINERD_NAME.to_string(), name.clone());
        let ref_name = match (format, reference.and_then(|r| r.tag())) {
            (Format::Docker, Some(tag)) => tag.to_string(),
            _ => name.clone(),
        };
        d.annotations.insert(REF_NAME.to_string(), ref_name);
    }
    d
}

struct Walk<'a> {
    store: &'a Store,
    platforms: &'a Platforms,
    seen: HashSet<Digest>,
    blobs: Vec<Descriptor>,
}

impl Walk<'_> {
    /// Adds `d` and what it reaches for the platforms to the blobs, each
    /// once, after checking each is in the store with its size.
    fn visit(&mut self, d: &Descriptor, what: &str, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::new(
                Kind::InvalidContent,
                format!("indexes nested more than {MAX_DEPTH} deep"),
            ));
        }
        let info = self.store.info(&d.digest).map_err(|e| match e.kind() {
            Kind::NotFound => Error::new(
                Kind::NotFound,
                format!("{what} {} is not in the store", d.digest),
            ),
            _ => e,
        })?;
        if info.size != d.size {
            return Err(Error::new(
                Kind::DataCorruption,
                format!(
                    "{what} {}: {} bytes in the store, {} in its descriptor",
                    d.digest, info.size, d.size
                ),
            ));
        }
        if !self.seen.insert(d.digest.clone()) {
            return Ok(());
        }
        self.blobs.push(d.clone());
        if descriptor::is_index(&d.media_type) {
            let index = Index::parse(&read_small(self.store, d)?)
                .map_err(|e| e.context(format!("index {}", d.digest)))?;
            for kid in self.select(d, &index)? {
                let what = match &kid.platform {
                    Some(p) => format!("the {p} manifest of index {}:", d.digest),
                    None => format!("an entry of index {}:", d.digest),
                };
                if !self.store.contains(&kid.digest) {
                    return Err(missing_platform(d, &index, &kid, self.store));
                }
                self.visit(&kid, &what, depth + 1)?;
            }
        } else if descriptor::is_manifest(&d.media_type) {
            let m = Manifest::parse(&read_small(self.store, d)?)
                .map_err(|e| e.context(format!("manifest {}", d.digest)))?;
            check_config_size(&m)?;
            let what = format!("manifest {}:", d.digest);
            self.visit(&m.config, &format!("{what} config"), depth)?;
            for l in &m.layers {
                self.visit(l, &format!("{what} layer"), depth)?;
            }
        }
        Ok(())
    }

    /// What the store records as referring to what was visited (the
    /// manifests and indexes of the images), then to those, [`referrers::
    /// MAX_DEPTH`] deep: each referrer visited whole (all its platforms),
    /// and the lists, by subject. A referrer removed by hand is left out.
    fn referrers(&mut self) -> Result<Vec<(Digest, Vec<Descriptor>)>> {
        let mut todo: std::collections::VecDeque<(Digest, usize)> = self
            .blobs
            .iter()
            .filter(|d| graph::has_children(d))
            .map(|d| (d.digest.clone(), 0))
            .collect();
        let mut lists = Vec::new();
        while let Some((subject, depth)) = todo.pop_front() {
            let entries: Vec<Descriptor> = referrers::of(self.store, &subject)?
                .into_iter()
                .filter(|e| self.store.contains(&e.digest))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let platforms = std::mem::replace(&mut self.platforms, &EVERY_PLATFORM);
            for e in &entries {
                let what = format!("referrer of {subject}:");
                let fresh = !self.seen.contains(&e.digest);
                let d = Descriptor::new(e.media_type.clone(), e.digest.clone(), e.size);
                self.visit(&d, &what, 0)?;
                if fresh && depth + 1 < referrers::MAX_DEPTH {
                    todo.push_back((e.digest.clone(), depth + 1));
                }
            }
            self.platforms = platforms;
            lists.push((subject, entries));
        }
        Ok(lists)
    }

    /// The entries of `index` the platforms take.
    fn select(&self, d: &Descriptor, index: &Index) -> Result<Vec<Descriptor>> {
        match self.platforms {
            Platforms::All => Ok(index.manifests.clone()),
            Platforms::One(p) => match manifest::select(index, p) {
                Some(m) => Ok(vec![m.clone()]),
                None => Err(Error::new(
                    Kind::NotFound,
                    format!(
                        "index {}: no manifest for {p} (the index has {})",
                        d.digest,
                        manifest::platforms_of(index)
                    ),
                )),
            },
        }
    }

    /// The `manifest.json` entry of `s`: the image manifest of its root
    /// (for an index, the one for the platform asked, else this machine's,
    /// else the first there), when it is an image; merged with an earlier
    /// entry of the same manifest.
    fn docker_entry(
        &self,
        plan: &mut Plan,
        s: &Source,
        reference: Option<&Reference>,
    ) -> Result<()> {
        let Some(d) = self.image_manifest(&s.root, 0)? else {
            return Ok(());
        };
        let m = Manifest::parse(&read_small(self.store, &d)?)?;
        if !descriptor::is_config(&m.config.media_type) {
            return Ok(());
        }
        let tag = reference
            .filter(|r| r.tag().is_some() && r.digest().is_none())
            .map(familiar);
        if let (Some(tag), Some(last)) = (&tag, m.layers.last()) {
            let (repo, t) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
            plan.repositories
                .entry(repo.to_string())
                .or_default()
                .insert(t.to_string(), last.digest.hex().to_string());
        }
        if let Some(e) = plan.docker.iter_mut().find(|e| e.manifest == d.digest) {
            e.repo_tags.extend(tag.filter(|t| !e.repo_tags.contains(t)));
            return Ok(());
        }
        plan.docker.push(DockerEntry {
            config: blob_path(&m.config.digest),
            repo_tags: tag.into_iter().collect(),
            layers: m.layers.iter().map(|l| blob_path(&l.digest)).collect(),
            manifest: d.digest,
        });
        Ok(())
    }

    /// The image manifest `manifest.json` lists for `root`.
    fn image_manifest(&self, root: &Descriptor, depth: usize) -> Result<Option<Descriptor>> {
        if descriptor::is_manifest(&root.media_type) {
            return Ok(Some(root.clone()));
        }
        if !descriptor::is_index(&root.media_type) || depth > MAX_DEPTH {
            return Ok(None);
        }
        let index = Index::parse(&read_small(self.store, root)?)?;
        let wanted = match self.platforms {
            Platforms::One(p) => p.clone(),
            Platforms::All => Platform::host(),
        };
        let pick = manifest::select(&index, &wanted)
            .filter(|m| self.seen.contains(&m.digest))
            .or_else(|| {
                index
                    .manifests
                    .iter()
                    .find(|m| self.seen.contains(&m.digest))
            });
        match pick {
            Some(m) => self.image_manifest(&m.clone(), depth + 1),
            None => Ok(None),
        }
    }
}

/// The error for an entry of an index that is not in the store: which
/// platform it is, and which `--platform` would export what is there.
fn missing_platform(d: &Descriptor, index: &Index, kid: &Descriptor, store: &Store) -> Error {
    let there: Vec<String> = index
        .manifests
        .iter()
        .filter(|m| store.contains(&m.digest))
        .filter_map(|m| m.platform.as_ref().map(|p| p.to_string()))
        .collect();
    let platform = kid
        .platform
        .as_ref()
        .map_or_else(|| "an entry".to_string(), |p| p.to_string());
    let hint = match there.first() {
        Some(p) => format!(" (--platform {p} exports what is there)"),
        None => String::new(),
    };
    Error::new(
        Kind::NotFound,
        format!(
            "index {}: {} (manifest {}) is not in the store{hint}",
            d.digest,
            crate::error::Untrusted(&platform),
            kid.digest
        ),
    )
}

fn write<W: Write>(store: &Store, plan: &Plan, format: Format, out: W) -> Result<Exported> {
    let io = |e: std::io::Error| Error::io(&e).context("output");
    let mut tar = TarWriter::new(out);
    let mut done = Exported::default();
    tar.directory("blobs").map_err(io)?;
    let mut dirs: Vec<&str> = Vec::new();
    for b in &plan.blobs {
        let alg = b.digest.algorithm().name();
        if !dirs.contains(&alg) {
            dirs.push(alg);
            tar.directory(&format!("blobs/{alg}")).map_err(io)?;
        }
        let mut file = store.reader(&b.digest)?;
        tar.file_from(&blob_path(&b.digest), b.size, &mut file)
            .map_err(|e| match e.kind() {
                // Shorter than when it was planned: someone changed the store.
                std::io::ErrorKind::UnexpectedEof => {
                    Error::new(Kind::DataCorruption, e.to_string())
                }
                _ => io(e),
            })?;
        done.blobs += 1;
        done.bytes += b.size;
    }
    for (digest, bytes) in &plan.made {
        let alg = digest.algorithm().name();
        if !dirs.contains(&alg) {
            dirs.push(alg);
            tar.directory(&format!("blobs/{alg}")).map_err(io)?;
        }
        tar.file(&blob_path(digest), bytes).map_err(io)?;
    }
    tar.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": descriptor::OCI_INDEX,
        "manifests": plan.index,
    });
    tar.file("index.json", &to_json(&index)).map_err(io)?;
    if format == Format::Docker {
        tar.file("manifest.json", &to_json(&plan.docker))
            .map_err(io)?;
        tar.file("repositories", &to_json(&plan.repositories))
            .map_err(io)?;
    }
    tar.finish().map_err(io)?;
    Ok(done)
}

/// The JSON of an index file: plain structs and maps of strings, which
/// cannot fail to serialize.
fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
