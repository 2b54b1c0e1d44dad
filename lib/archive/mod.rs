//! Image archives: images of the store as one tar stream ([`export`]) and
//! tar streams or directories of images into the store ([`import`]), in the
//! forms docker, containerd, skopeo and podman write and read:
//!
//! - the OCI image layout (`oci-layout`, `index.json`, `blobs/ALG/HEX`), as
//!   a tar (`oci-archive:`) or a directory (`oci:`);
//! - docker 25+'s `docker save`: that layout plus `manifest.json` (`Config`,
//!   `RepoTags`, `Layers` as paths into `blobs/`) and `repositories`;
//! - the older `docker save` (and skopeo's `docker-archive:`): `manifest.json`
//!   pointing at `<id>.json` configs and `<id>/layer.tar` layers (or at
//!   `<hex>.tar`, with symlinks to them), and `repositories`.
//!
//! Blobs stream through in both directions: export copies each stored blob
//! once, header first (its size is known); import puts each entry through the
//! store's verified ingest as it comes, buffers only the small metadata files
//! (bounded), and assembles and names the images at the end, once all they
//! reach is in the store and checked. This module knows nothing of programs.

pub mod export;
pub mod import;

use crate::error::{Error, Kind, Result, Untrusted};
use crate::reference::Reference;

pub use export::{ExportOptions, export};
pub use import::{ImportOptions, Imported, import, import_dir};

/// The annotation containerd and docker 25+ put the full image name in.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The largest metadata file (`manifest.json`, `index.json`,
/// `repositories`, `oci-layout`) read into memory, as for manifests.
pub const MAX_METADATA: u64 = crate::manifest::MAX_MANIFEST;

/// The form of an archive that export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// docker 25+'s: the OCI layout plus `manifest.json` and `repositories`.
    Docker,
    /// The OCI image layout alone.
    Oci,
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Format> {
        match s {
            "docker" | "docker-archive" => Ok(Format::Docker),
            "oci" | "oci-archive" => Ok(Format::Oci),
            _ => Err(Error::invalid(format!(
                "unknown format '{s}': docker or oci"
            ))),
        }
    }
}

/// The name docker prints and writes in `RepoTags`: `alpine:3.20` for
/// `docker.io/library/alpine:3.20`, `docker.io/` and `library/` dropped.
pub fn familiar(r: &Reference) -> String {
    let full = r.to_string();
    let short = full.strip_prefix("docker.io/").unwrap_or(&full);
    match short.strip_prefix("library/") {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => short.to_string(),
    }
}

/// A path of an archive, cleaned: `./a//b/` is `a/b`. A path that is
/// absolute or goes up (`..`) is refused: an archive names its own entries.
pub fn clean_path(name: &[u8]) -> Result<String> {
    let text = std::str::from_utf8(name).map_err(|_| {
        Error::new(
            Kind::InvalidContent,
            format!(
                "{}: an entry whose name is not UTF-8",
                Untrusted(&String::from_utf8_lossy(name))
            ),
        )
    })?;
    let refused = |why: &str| {
        Error::new(
            Kind::InvalidContent,
            format!("{}: {why}; refused", Untrusted(text)),
        )
    };
    if text.starts_with('/') {
        return Err(refused("an absolute name in the archive"));
    }
    let mut parts = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(refused("a name that leaves the archive (..)")),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(String::new());
    }
    Ok(parts.join("/"))
}

/// Where the link at `link` (a cleaned path) that points to `target` leads,
/// cleaned; `None` when it leaves the archive.
pub fn resolve_link(link: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = match target.starts_with('/') {
        true => Vec::new(),
        false => link.split('/').collect(),
    };
    if !target.starts_with('/') {
        parts.pop();
    }
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_docker_writes_them() {
        let f = |s: &str| familiar(&s.parse().unwrap());
        assert_eq!(f("alpine"), "alpine:latest");
        assert_eq!(f("docker.io/library/alpine:3.20"), "alpine:3.20");
        assert_eq!(f("docker.io/team/app:1"), "team/app:1");
        assert_eq!(
            f("localhost:5000/library/x:1"),
            "localhost:5000/library/x:1"
        );
    }

    #[test]
    fn paths_stay_inside_the_archive() {
        assert_eq!(
            clean_path(b"./blobs//sha256/ab/").unwrap(),
            "blobs/sha256/ab"
        );
        assert_eq!(clean_path(b"./").unwrap(), "");
        for bad in [&b"/etc/passwd"[..], b"a/../../b", b"../x", b"\xff"] {
            assert_eq!(clean_path(bad).unwrap_err().kind(), Kind::InvalidContent);
        }
        assert_eq!(
            resolve_link("abc/layer.tar", "../def.tar").as_deref(),
            Some("def.tar")
        );
        assert_eq!(resolve_link("a/l", "b").as_deref(), Some("a/b"));
        assert_eq!(resolve_link("l", "../../x"), None);
    }
}
