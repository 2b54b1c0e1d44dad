//! OCI and Docker media types, and the descriptor that points at one object:
//! its media type, digest and size, with the annotations and platform that
//! travel with it.
//!
//! This module owns the names of things and the descriptor's JSON form; the
//! structure of manifests and indexes (and their children) is `manifest`'s.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::platform::Platform;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker schema 1 manifest, unsigned.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 manifest, signed.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// OCI layer, plain tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker layer, gzip.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The empty descriptor's type (OCI 1.1 artifacts' config).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Every layer type dist unpacks: OCI's (plain, gzip, zstd, and their
/// non-distributable forms) and Docker's (gzip, plain, foreign). The
/// compression is told from the bytes, not from the type.
const LAYER_TYPES: [&str; 11] = [
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    DOCKER_LAYER,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
];

/// The manifest types dist asks registries for, most preferred first.
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

/// Whether `media_type` names an image manifest (OCI or Docker schema 2).
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// Whether `media_type` names an index or a manifest list.
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Whether `media_type` names a layer dist can unpack.
pub fn is_layer(media_type: &str) -> bool {
    LAYER_TYPES.contains(&media_type)
}

/// Whether `media_type` names an image config (OCI or Docker).
pub fn is_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

/// Whether `media_type` is a well-formed media type (RFC 6838's
/// restricted names: `type/subtype`, letters, digits and `!#$&-^_.+`,
/// 127 at most each), with no parameters, spaces or control characters.
pub fn is_well_formed(media_type: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(media_type.split_once('/'), Some((t, sub)) if name(t) && name(sub))
}

/// Whether `media_type` names a Docker schema 1 manifest, which dist does not read.
pub fn is_schema1(media_type: &str) -> bool {
    matches!(media_type, DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED)
}

/// A pointer to one object: what it is, its digest and its size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Descriptor {
    /// The object's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The object's digest.
    pub digest: Digest,
    /// The object's size in bytes.
    pub size: u64,
    /// Other places the object can be fetched from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Arbitrary metadata, kept wherever the descriptor is copied.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform, for entries of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The type of an artifact, for entries that carry one.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The object's bytes themselves, base64, when the descriptor embeds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor with no annotations, platform or URLs.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
            data: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_json_keeps_annotations_and_platform() {
        let text = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"annotations":{"a":"b"},"platform":{"architecture":"arm","os":"linux","variant":"v7"}}"#;
        let d: Descriptor = serde_json::from_str(text).unwrap();
        assert_eq!(d.platform.as_ref().unwrap().variant.as_deref(), Some("v7"));
        assert_eq!(serde_json::to_string(&d).unwrap(), text);
        let bad = text.replace("sha256:e3b0", "sha256:XXXX");
        assert!(serde_json::from_str::<Descriptor>(&bad).is_err());
    }

    #[test]
    fn media_type_classes() {
        assert!(
            is_manifest(OCI_MANIFEST) && is_manifest(DOCKER_MANIFEST) && !is_manifest(OCI_INDEX)
        );
        assert!(is_index(OCI_INDEX) && is_index(DOCKER_MANIFEST_LIST));
        assert!(is_schema1(DOCKER_SCHEMA1_SIGNED) && !is_schema1(OCI_MANIFEST));
        assert!(is_layer(OCI_LAYER_ZSTD) && is_layer(DOCKER_LAYER) && !is_layer(OCI_CONFIG));
        assert!(is_config(DOCKER_CONFIG) && !is_config(OCI_LAYER));
    }

    #[test]
    fn media_types_are_well_formed_or_refused() {
        for ok in [
            OCI_MANIFEST,
            DOCKER_LAYER,
            "application/vnd.dev.cosign.simplesigning.v1+json",
            "text/plain",
        ] {
            assert!(is_well_formed(ok), "{ok}");
        }
        for bad in [
            "",
            "application",
            "application/",
            "/json",
            "application/json; charset=utf-8",
            "application/x\u{1b}[2J",
            "application/a/b",
            "application/ json",
            "applicatión/json",
            &format!("application/{}", "x".repeat(128)),
        ] {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }
}
