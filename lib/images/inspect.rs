//! What `dist-inspect` shows of an image, as `skopeo inspect` does: its
//! name and digest, the platforms of an index, and for the manifest of one
//! platform its config (created, platform, environment, entrypoint,
//! command, labels) and layers. Nodes are read through a function, so the
//! same code inspects an image in the store and one in a registry.

use std::collections::BTreeMap;

use crate::descriptor::{self, Descriptor};
use crate::error::{Error, Kind, Result};
use crate::manifest::{self, Config, Index, MAX_DEPTH, Manifest};
use crate::platform::Platform;

/// An image as `dist-inspect` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The name it was asked by.
    pub name: String,
    /// The digest of its root (an index or a manifest).
    pub digest: String,
    /// The root's media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// An index's entries: platform and digest each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Entry>,
    /// The digest of the manifest shown (the root's own, or an index's for
    /// the platform).
    pub manifest: String,
    /// When it was made, as its config says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `os/arch[/variant]`, from the config.
    pub platform: String,
    /// How to run it.
    #[serde(flatten)]
    pub run: manifest::RunConfig,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// The bytes of the manifest, config and layers.
    pub size: u64,
}

/// One entry of an index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// Its platform, `os/arch[/variant]`, or `unknown`.
    pub platform: String,
    /// Its digest.
    pub digest: String,
}

/// One layer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Layer {
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Inspects the image `root` (named `name`), reading its nodes with
/// `read`; from an index, its manifest for `platform`.
pub fn inspect(
    name: &str,
    root: &Descriptor,
    platform: &Platform,
    read: &dyn Fn(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Inspection> {
    let mut d = root.clone();
    let mut entries = Vec::new();
    for _ in 0..MAX_DEPTH {
        if !descriptor::is_index(&d.media_type) {
            break;
        }
        let index = Index::parse(&read(&d)?)?;
        if entries.is_empty() {
            entries = index
                .manifests
                .iter()
                .map(|m| Entry {
                    platform: m
                        .platform
                        .as_ref()
                        .map_or("unknown".to_string(), Platform::to_string),
                    digest: m.digest.to_string(),
                })
                .collect();
        }
        d = manifest::select(&index, platform).cloned().ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                format!(
                    "{name}: no manifest for {platform} (the index has {}; --platform another)",
                    manifest::platforms_of(&index)
                ),
            )
        })?;
    }
    if !descriptor::is_manifest(&d.media_type) {
        return Err(Error::new(
            Kind::InvalidContent,
            format!("{name}: {} is no image manifest", d.digest),
        ));
    }
    let m = Manifest::parse(&read(&d)?)?;
    let config = match descriptor::is_config(&m.config.media_type) {
        true => Some(Config::parse(&read(&m.config)?)?),
        false => None,
    };
    let layers: Vec<Layer> = m
        .layers
        .iter()
        .map(|l| Layer {
            media_type: l.media_type.clone(),
            digest: l.digest.to_string(),
            size: l.size,
        })
        .collect();
    let size = d.size + m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>();
    Ok(Inspection {
        name: name.to_string(),
        digest: root.digest.to_string(),
        media_type: root.media_type.clone(),
        manifests: entries,
        manifest: d.digest.to_string(),
        created: config.as_ref().and_then(|c| c.created.clone()),
        platform: config.as_ref().map_or_else(
            || format!("(an artifact: {})", m.config.media_type),
            |c| Platform::new(&c.os, &c.architecture, c.variant.as_deref()).to_string(),
        ),
        run: config.and_then(|c| c.config).unwrap_or_default(),
        layers,
        size,
    })
}

impl Inspection {
    /// The text `dist-inspect` prints: one `Key: value` line each, text from
    /// outside escaped.
    pub fn text(&self) -> String {
        use crate::error::Untrusted as U;
        let mut out = Vec::new();
        let mut line = |k: &str, v: String| out.push(format!("{k:<12}{v}"));
        line("Name:", U(&self.name).to_string());
        line("Digest:", self.digest.clone());
        line("MediaType:", U(&self.media_type).to_string());
        for e in &self.manifests {
            line("Platform:", format!("{} {}", U(&e.platform), e.digest));
        }
        if !self.manifests.is_empty() {
            line("Manifest:", self.manifest.clone());
        }
        if let Some(c) = &self.created {
            line("Created:", U(c).to_string());
        }
        line("Os/Arch:", U(&self.platform).to_string());
        let list = |v: &Option<Vec<String>>| {
            v.as_ref().map(|v| {
                v.iter()
                    .map(|s| U(s).to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        };
        for env in self.run.env.iter().flatten() {
            line("Env:", U(env).to_string());
        }
        if let Some(e) = list(&self.run.entrypoint) {
            line("Entrypoint:", e);
        }
        if let Some(c) = list(&self.run.cmd) {
            line("Cmd:", c);
        }
        if let Some(w) = &self.run.working_dir {
            line("WorkingDir:", U(w).to_string());
        }
        if let Some(u) = self.run.user.as_ref().filter(|u| !u.is_empty()) {
            line("User:", U(u).to_string());
        }
        let labels: &BTreeMap<String, String> = match &self.run.labels {
            Some(l) => l,
            None => &BTreeMap::new(),
        };
        for (k, v) in labels {
            line("Label:", format!("{}={}", U(k), U(v)));
        }
        line(
            "Size:",
            format!("{} bytes in {} layers", self.size, self.layers.len()),
        );
        for l in &self.layers {
            line(
                "Layer:",
                format!("{} {} {}", l.digest, l.size, U(&l.media_type)),
            );
        }
        out.join("\n") + "\n"
    }
}
