//! Image manifests, indexes (and Docker manifest lists) and image configs:
//! parsing them strictly enough to walk an image, the children of each node,
//! and the entry of an index for a platform.
//!
//! This module reads bytes it is given; fetching and storing them is for
//! `remote`, `content` and `images`.

use std::fmt;

use crate::descriptor::{self, Descriptor};
use crate::digest::Digest;
use crate::error::{Error, Kind, Result, Untrusted};
use crate::platform::Platform;

/// An image manifest: a config and layers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's own media type, when it says.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// What an artifact is (OCI 1.1), when it says.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
    /// The manifest this one refers to (a signature's image), OCI 1.1.
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata (a referrer's are copied into referrers lists).
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An index or manifest list: manifests for several platforms.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's own media type, when it says.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to, OCI 1.1.
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// What an artifact is (OCI 1.1), when it says.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
    /// Arbitrary metadata.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// What an image config says of the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The diff ID of each layer, bottom first.
    pub diff_ids: Vec<Digest>,
}

/// The parts of an image config dist uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Config {
    /// CPU architecture.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// The layers' diff IDs.
    pub rootfs: RootFs,
    /// When the image was made (RFC 3339), as its builder says.
    #[serde(default, deserialize_with = "lenient_text")]
    pub created: Option<String>,
    /// How to run it (`None` too when malformed: only shown, never used).
    #[serde(default, deserialize_with = "lenient")]
    pub config: Option<RunConfig>,
}

/// A string, or `None` for anything else.
fn lenient_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(v.as_str().map(str::to_string))
}

/// A run config, or `None` for one that is malformed.
fn lenient<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<RunConfig>, D::Error> {
    let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// How an image says to run it: the `config` of its config.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
pub struct RunConfig {
    /// The environment.
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The program.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// Its default arguments.
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The directory it runs in.
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// The user it runs as.
    #[serde(rename = "User", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Its labels.
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// The largest manifest or index dist accepts.
pub const MAX_MANIFEST: u64 = 4 << 20;

/// The most indexes a walk goes through, one in another, before the manifest.
pub const MAX_DEPTH: usize = 8;

fn invalid(what: &str, e: impl fmt::Display) -> Error {
    Error::new(Kind::InvalidContent, format!("invalid {what}: {e}"))
}

/// Which of the keys that tell manifests from indexes a body has.
#[derive(serde::Deserialize)]
struct Shape {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
    manifests: Option<serde::de::IgnoredAny>,
}

impl Shape {
    fn of(bytes: &[u8], what: &str) -> Result<Shape> {
        serde_json::from_slice(bytes).map_err(|e| invalid(what, e))
    }

    /// Refuses a body whose own `mediaType` is not a `what` (`allowed`).
    fn declared(&self, what: &str, allowed: fn(&str) -> bool) -> Result<()> {
        match &self.media_type {
            Some(mt) if !allowed(mt) => {
                Err(invalid(what, format!("its mediaType is {}", Untrusted(mt))))
            }
            _ => Ok(()),
        }
    }
}

/// Checks one descriptor of a manifest or index: well-formed media and
/// artifact types, and embedded `data` that is what the digest and size say.
fn check_descriptor(d: &Descriptor, what: &str) -> Result<()> {
    if !descriptor::is_well_formed(&d.media_type) {
        return Err(invalid(
            what,
            format!(
                "{} has the malformed media type \"{}\"",
                d.digest,
                Untrusted(&d.media_type)
            ),
        ));
    }
    if let Some(t) = &d.artifact_type
        && !descriptor::is_well_formed(t)
    {
        return Err(invalid(
            what,
            format!(
                "{} has the malformed artifact type \"{}\"",
                d.digest,
                Untrusted(t)
            ),
        ));
    }
    if let Some(data) = &d.data {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid(what, format!("{}: its data is not base64", d.digest)))?;
        let mut h = d.digest.algorithm().digester();
        h.update(&bytes);
        let got = h.finish();
        if bytes.len() as u64 != d.size || got != d.digest {
            return Err(Error::new(
                Kind::DataCorruption,
                format!(
                    "{}: the data embedded in its descriptor has digest {got} ({} bytes, not {}); not trusted",
                    d.digest,
                    bytes.len(),
                    d.size
                ),
            ));
        }
    }
    Ok(())
}

fn schema_2(version: Option<u64>, what: &str) -> Result<()> {
    match version {
        Some(2) => Ok(()),
        Some(v) => Err(invalid(what, format!("schemaVersion {v}, not 2"))),
        None => Err(invalid(what, "no schemaVersion")),
    }
}

impl Manifest {
    /// Parses an image manifest, strictly: schema version 2, no
    /// `manifests`, a config that is no layer, manifest or index, and
    /// well-formed descriptors whose embedded data matches them.
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        let shape = Shape::of(bytes, "manifest")?;
        schema_2(shape.schema_version, "manifest")?;
        shape.declared("manifest", descriptor::is_manifest)?;
        match (shape.manifests.is_some(), shape.config.is_some()) {
            (true, true) => {
                return Err(invalid(
                    "manifest",
                    "it has both manifests and a config: an index or a manifest?",
                ));
            }
            (true, false) => {
                return Err(invalid(
                    "manifest",
                    "it has manifests, as an index has, and no config",
                ));
            }
            (false, false) => return Err(invalid("manifest", "it has no config")),
            (false, true) => {}
        }
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| invalid("manifest", e))?;
        let ct = &m.config.media_type;
        if descriptor::is_layer(ct)
            || descriptor::is_manifest(ct)
            || descriptor::is_index(ct)
            || descriptor::is_schema1(ct)
        {
            return Err(invalid(
                "manifest",
                format!(
                    "its config {} has the type of a layer or manifest ({})",
                    m.config.digest,
                    Untrusted(ct)
                ),
            ));
        }
        for d in std::iter::once(&m.config)
            .chain(&m.layers)
            .chain(&m.subject)
        {
            check_descriptor(d, "manifest")?;
        }
        Ok(m)
    }

    /// Whether this is an image dist can unpack: an image config type and
    /// layers of the known layer types. Else it is an artifact (a
    /// signature, an SBOM), kept but not unpacked; the error says why.
    pub fn check_image(&self) -> Result<()> {
        if !descriptor::is_config(&self.config.media_type) {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "{}: an artifact (config type {}), not an image to unpack (--no-unpack keeps it)",
                    self.config.digest,
                    Untrusted(&self.config.media_type)
                ),
            ));
        }
        if let Some(l) = self
            .layers
            .iter()
            .find(|l| !descriptor::is_layer(&l.media_type))
        {
            return Err(Error::new(
                Kind::InvalidContent,
                format!(
                    "layer {}: {} is no layer type dist unpacks (--no-unpack keeps it)",
                    l.digest,
                    Untrusted(&l.media_type)
                ),
            ));
        }
        Ok(())
    }
}

impl Index {
    /// Parses an index or manifest list, strictly: schema version 2, no
    /// `config` or `layers`, well-formed entries whose embedded data
    /// matches them.
    pub fn parse(bytes: &[u8]) -> Result<Index> {
        let shape = Shape::of(bytes, "index")?;
        schema_2(shape.schema_version, "index")?;
        shape.declared("index", descriptor::is_index)?;
        match (
            shape.manifests.is_some(),
            shape.config.is_some() || shape.layers.is_some(),
        ) {
            (true, true) => {
                return Err(invalid(
                    "index",
                    "it has both manifests and a config or layers: an index or a manifest?",
                ));
            }
            (false, true) => {
                return Err(invalid(
                    "index",
                    "it has a config and layers, as a manifest has, and no manifests",
                ));
            }
            (false, false) => return Err(invalid("index", "it has no manifests")),
            (true, false) => {}
        }
        let i: Index = serde_json::from_slice(bytes).map_err(|e| invalid("index", e))?;
        for d in i.manifests.iter().chain(&i.subject) {
            check_descriptor(d, "index")?;
        }
        Ok(i)
    }
}

impl Config {
    /// Parses an image config.
    pub fn parse(bytes: &[u8]) -> Result<Config> {
        let c: Config = serde_json::from_slice(bytes).map_err(|e| invalid("image config", e))?;
        if c.rootfs.kind != "layers" {
            return Err(invalid(
                "image config",
                format!("rootfs type '{}', not 'layers'", Untrusted(&c.rootfs.kind)),
            ));
        }
        Ok(c)
    }
}

/// Checks that `bytes` is a manifest or index of type `media_type`: the
/// type is one dist reads (Docker schema 1 is refused with a reason), the
/// body's own `mediaType`, when it has one, is the same, and its fields are
/// those of that type ([`Manifest::parse`], [`Index::parse`]).
pub fn check(media_type: &str, bytes: &[u8]) -> Result<()> {
    if descriptor::is_schema1(media_type) {
        return Err(unsupported_schema1(media_type));
    }
    let what = if descriptor::is_index(media_type) {
        Index::parse(bytes).map(drop)?;
        "index"
    } else if descriptor::is_manifest(media_type) {
        Manifest::parse(bytes).map(drop)?;
        "manifest"
    } else {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{} is not a manifest or index type", Untrusted(media_type)),
        ));
    };
    match Shape::of(bytes, what)?.media_type {
        Some(declared) if declared != media_type => Err(invalid(
            what,
            format!("it says it is {}, not {media_type}", Untrusted(&declared)),
        )),
        _ => Ok(()),
    }
}

/// The error for a Docker schema 1 manifest.
pub fn unsupported_schema1(media_type: &str) -> Error {
    Error::new(
        Kind::InvalidContent,
        format!(
            "unsupported: schema1 manifest ({}); the image must be pushed again in schema 2 or OCI form",
            Untrusted(media_type)
        ),
    )
}

/// The children of the object `desc` whose bytes are `bytes`: an index's
/// manifests, a manifest's config and layers; nothing for anything else.
pub fn children(desc: &Descriptor, bytes: &[u8]) -> Result<Vec<Descriptor>> {
    if descriptor::is_index(&desc.media_type) {
        Ok(Index::parse(bytes)?.manifests)
    } else if descriptor::is_manifest(&desc.media_type) {
        let m = Manifest::parse(bytes)?;
        let mut out = Vec::with_capacity(m.layers.len() + 1);
        out.push(m.config);
        out.extend(m.layers);
        Ok(out)
    } else {
        Ok(Vec::new())
    }
}

/// A manifest or index as a referrers list shows it (OCI distribution
/// spec, "Listing Referrers"), and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// Its `subject`, if it has one (cosign's tag-scheme signatures do not).
    pub subject: Option<Descriptor>,
    /// Its entry in a referrers list: its descriptor with its
    /// `artifactType` (a manifest's config type when it gives none) and
    /// its annotations.
    pub entry: Descriptor,
}

/// What the manifest or index `d`, whose bytes are `bytes`, is as a
/// referrer. Its artifact type must be well-formed.
pub fn referrer(d: &Descriptor, bytes: &[u8]) -> Result<Referrer> {
    let (subject, artifact_type, annotations) = if descriptor::is_index(&d.media_type) {
        let i = Index::parse(bytes)?;
        (i.subject, i.artifact_type, i.annotations)
    } else if descriptor::is_manifest(&d.media_type) {
        let m = Manifest::parse(bytes)?;
        let t = m.artifact_type.unwrap_or(m.config.media_type);
        (m.subject, Some(t), m.annotations)
    } else {
        return Err(Error::new(
            Kind::InvalidContent,
            format!(
                "{}: {} is no manifest or index, so refers to nothing",
                d.digest,
                Untrusted(&d.media_type)
            ),
        ));
    };
    if let Some(t) = artifact_type
        .as_ref()
        .filter(|t| !descriptor::is_well_formed(t))
    {
        return Err(invalid(
            "manifest",
            format!("{}: malformed artifact type \"{}\"", d.digest, Untrusted(t)),
        ));
    }
    let mut entry = Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size);
    entry.artifact_type = artifact_type;
    entry.annotations = annotations;
    Ok(Referrer { subject, entry })
}

/// The `mediaType` a manifest or index body gives itself, if any.
pub fn declared(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Shape>(body).ok()?.media_type
}

/// The media type a manifest or index says it has, or seems to have from
/// its fields: for registries that do not send one, and blobs of a store.
/// `None` when it is not JSON, or has the fields of both.
pub fn sniff(body: &[u8]) -> Option<String> {
    let shape: Shape = serde_json::from_slice(body).ok()?;
    if let Some(mt) = shape.media_type {
        return Some(mt);
    }
    let (index, manifest) = (
        shape.manifests.is_some(),
        shape.config.is_some() || shape.layers.is_some(),
    );
    match shape.schema_version {
        Some(1) => Some(descriptor::DOCKER_SCHEMA1.to_string()),
        Some(2) if index && !manifest => Some(descriptor::OCI_INDEX.to_string()),
        Some(2) if manifest && !index => Some(descriptor::OCI_MANIFEST.to_string()),
        _ => None,
    }
}

/// The entry of `index` for `platform`: the first that matches, preferring
/// an exact variant. `None` when the index has nothing for it.
pub fn select<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| !descriptor::is_index(&d.media_type))
        .filter(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .collect();
    candidates
        .iter()
        .find(|d| d.platform.as_ref().and_then(|p| p.variant.as_ref()) == platform.variant.as_ref())
        .or(candidates.first())
        .copied()
        .or_else(|| {
            // None here: a nested index may have it (one with no platform,
            // or this one), the first such.
            index.manifests.iter().find(|d| {
                descriptor::is_index(&d.media_type)
                    && d.platform.as_ref().is_none_or(|p| platform.matches(p))
            })
        })
}

/// The platforms `index` has, as an error lists them: each once, escaped,
/// the first ten and a count of the rest.
pub fn platforms_of(index: &Index) -> String {
    let mut have: Vec<String> = Vec::new();
    for p in index.manifests.iter().filter_map(|m| m.platform.as_ref()) {
        let p = Untrusted(&p.to_string()).to_string();
        if !have.contains(&p) {
            have.push(p);
        }
    }
    match have.len() {
        0 => "none".to_string(),
        n if n > 10 => format!("{} and {} more", have[..10].join(", "), n - 10),
        _ => have.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn index() -> Index {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
                {{"mediaType":"{m}","digest":"{D}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":2,"platform":{{"architecture":"arm","os":"linux","variant":"v6"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":3,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":4,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
                {{"mediaType":"{m}","digest":"{D}","size":5,"platform":{{"architecture":"amd64","os":"windows","os.version":"10.0"}}}}]}}"#,
            descriptor::OCI_INDEX,
            m = descriptor::OCI_MANIFEST
        );
        Index::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn platforms_are_selected() {
        let i = index();
        let pick = |p: &str| select(&i, &p.parse().unwrap()).map(|d| d.size);
        assert_eq!(pick("linux/amd64"), Some(1));
        assert_eq!(pick("linux/x86_64"), Some(1));
        assert_eq!(pick("linux/arm/v7"), Some(3));
        assert_eq!(pick("linux/arm/v6"), Some(2));
        assert_eq!(pick("linux/arm64"), Some(4));
        assert_eq!(pick("linux/aarch64/v8"), Some(4));
        assert_eq!(pick("windows/amd64"), Some(5));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("linux/arm/v5"), None);
    }

    #[test]
    fn children_of_manifests_and_indexes() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{D}","size":10}},"layers":[{{"mediaType":"{}","digest":"{D}","size":20,"annotations":{{"k":"v"}}}}]}}"#,
            descriptor::OCI_CONFIG,
            descriptor::OCI_LAYER_GZIP
        );
        let desc = Descriptor::new(
            descriptor::OCI_MANIFEST,
            D.parse().unwrap(),
            manifest.len() as u64,
        );
        let kids = children(&desc, manifest.as_bytes()).unwrap();
        assert_eq!(kids.iter().map(|d| d.size).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(kids[1].annotations["k"], "v");
        let idx = Descriptor::new(descriptor::DOCKER_MANIFEST_LIST, D.parse().unwrap(), 0);
        let body = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(children(&idx, body).unwrap().is_empty());
        let layer = Descriptor::new(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            D.parse().unwrap(),
            0,
        );
        assert!(children(&layer, b"\x1f\x8b").unwrap().is_empty());
        assert_eq!(
            children(&desc, b"{\"schemaVersion\":1}")
                .unwrap_err()
                .kind(),
            Kind::InvalidContent
        );
        assert_eq!(
            children(&desc, b"not json").unwrap_err().kind(),
            Kind::InvalidContent
        );
    }

    /// A manifest with `config` and `layers` set to these, as JSON text.
    fn manifest_with(config: &str, layers: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{config},"layers":{layers}}}"#,
            descriptor::OCI_MANIFEST
        )
    }

    fn desc_json(media_type: &str, extra: &str) -> String {
        format!(r#"{{"mediaType":"{media_type}","digest":"{D}","size":0{extra}}}"#)
    }

    #[test]
    fn manifests_that_break_the_spec_are_refused() {
        let config = desc_json(descriptor::OCI_CONFIG, "");
        let layer = desc_json(descriptor::OCI_LAYER_GZIP, "");
        let good = manifest_with(&config, &format!("[{layer}]"));
        assert!(check(descriptor::OCI_MANIFEST, good.as_bytes()).is_ok());
        let refused = |media_type: &str, body: &str, why: &str| {
            let e = check(media_type, body.as_bytes()).unwrap_err();
            assert!(
                e.to_string().contains(why),
                "{body}: {e} (expected {why:?})"
            );
            e.kind()
        };
        // The body is an index while the type says manifest, and the reverse.
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            desc_json(descriptor::OCI_MANIFEST, "")
        );
        refused(descriptor::OCI_MANIFEST, &index, "as an index has");
        refused(descriptor::OCI_INDEX, &good, "its mediaType is");
        refused(descriptor::DOCKER_MANIFEST, &good, "it says it is");
        // No mediaType and both manifests and layers.
        let both = format!(r#"{{"schemaVersion":2,"config":{config},"layers":[],"manifests":[]}}"#);
        refused(descriptor::OCI_MANIFEST, &both, "both");
        refused(descriptor::OCI_INDEX, &both, "both");
        assert_eq!(sniff(both.as_bytes()), None);
        // A config with a layer's type; a malformed media type.
        let bad_config = manifest_with(&layer, "[]");
        refused(descriptor::OCI_MANIFEST, &bad_config, "the type of a layer");
        let control = manifest_with(
            &config,
            &format!("[{}]", desc_json("application/x\\u001b[2Jy", "")),
        );
        let e = check(descriptor::OCI_MANIFEST, control.as_bytes()).unwrap_err();
        assert!(!e.to_string().contains('\x1b'), "{e}");
        assert!(e.to_string().contains("malformed media type"), "{e}");
        // Embedded data that is not what the digest says.
        let lying = manifest_with(
            &desc_json(descriptor::OCI_CONFIG, r#","data":"e30=""#),
            "[]",
        );
        assert_eq!(
            refused(descriptor::OCI_MANIFEST, &lying, "data embedded"),
            Kind::DataCorruption
        );
        let empty = manifest_with(&desc_json(descriptor::OCI_CONFIG, r#","data":"""#), "[]");
        assert!(
            check(descriptor::OCI_MANIFEST, empty.as_bytes()).is_ok(),
            "the empty data of the empty digest"
        );
        // Schema 1, and types that are no manifest.
        refused(
            descriptor::DOCKER_SCHEMA1_SIGNED,
            "{}",
            "unsupported: schema1",
        );
        refused(
            "application/octet-stream",
            &good,
            "not a manifest or index type",
        );
    }

    #[test]
    fn artifacts_parse_but_are_no_image_to_unpack() {
        let config = desc_json(descriptor::OCI_CONFIG, "");
        let sbom = manifest_with(
            &desc_json(descriptor::OCI_EMPTY, ""),
            &format!("[{}]", desc_json("application/spdx+json", "")),
        );
        let m = Manifest::parse(sbom.as_bytes()).unwrap();
        assert!(
            m.check_image()
                .unwrap_err()
                .to_string()
                .contains("an artifact")
        );
        let odd_layer = manifest_with(
            &config,
            &format!("[{}]", desc_json("application/x-foo", "")),
        );
        let m = Manifest::parse(odd_layer.as_bytes()).unwrap();
        let e = m.check_image().unwrap_err();
        assert!(e.to_string().contains("no layer type dist unpacks"), "{e}");
    }

    #[test]
    fn nested_indexes_are_followed_and_platform_lists_bounded() {
        let entry = |mt: &str, platform: &str| {
            format!(r#"{{"mediaType":"{mt}","digest":"{D}","size":1{platform}}}"#)
        };
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{},{}]}}"#,
            entry(
                descriptor::OCI_MANIFEST,
                r#","platform":{"architecture":"arm64","os":"linux"}"#
            ),
            entry(descriptor::OCI_INDEX, "")
        );
        let i = Index::parse(body.as_bytes()).unwrap();
        let pick = |p: &str| select(&i, &p.parse().unwrap()).map(|d| d.media_type.clone());
        assert_eq!(
            pick("linux/arm64").as_deref(),
            Some(descriptor::OCI_MANIFEST)
        );
        assert_eq!(pick("linux/amd64").as_deref(), Some(descriptor::OCI_INDEX));
        let many: Vec<String> = (0..18_000)
            .map(|n| {
                entry(
                    descriptor::OCI_MANIFEST,
                    &format!(r#","platform":{{"architecture":"a{n}\u001b[2J","os":"linux"}}"#),
                )
            })
            .collect();
        let big = format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, many.join(","));
        let listed = platforms_of(&Index::parse(big.as_bytes()).unwrap());
        assert!(listed.len() < 400, "{listed}");
        assert!(listed.ends_with("and 17990 more"), "{listed}");
        assert!(!listed.contains('\x1b'), "{listed}");
    }

    #[test]
    fn manifests_without_a_content_type_are_sniffed() {
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#)
                .unwrap(),
            descriptor::OCI_INDEX
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"manifests":[]}"#).unwrap(),
            descriptor::OCI_INDEX
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":2,"config":{},"layers":[]}"#).unwrap(),
            descriptor::OCI_MANIFEST
        );
        assert_eq!(
            sniff(br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap(),
            descriptor::DOCKER_SCHEMA1
        );
        assert_eq!(sniff(b"not json"), None);
    }

    #[test]
    fn configs_carry_diff_ids() {
        let c = Config::parse(format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{D}"]}}}}"#).as_bytes()).unwrap();
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert!(Config::parse(br#"{"rootfs":{"type":"other","diff_ids":[]}}"#).is_err());
        assert!(
            Config::parse(br#"{"rootfs":{"type":"layers","diff_ids":["sha256:bad"]}}"#).is_err()
        );
    }
}
