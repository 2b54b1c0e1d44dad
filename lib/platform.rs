//! The one platform type: `os/arch[/variant]` as `--platform` takes it and
//! as index entries and configs carry it (with Windows' `os.version` and
//! `os.features`), this machine's platform, and matching an entry against a
//! wanted platform.
//!
//! Choosing among the entries of an index is `manifest`'s.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The platform an image is built for, or the one a user wants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// CPU architecture: `amd64`, `arm64`, …
    pub architecture: String,
    /// Operating system: `linux`, `windows`, …
    pub os: String,
    /// CPU variant: `v7`, `v8`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating system version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features (Windows).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

impl Platform {
    /// `os/architecture[/variant]`, nothing else set.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.map(str::to_string),
            os_version: None,
            os_features: Vec::new(),
        }
    }

    /// The platform this program runs on.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        let variant = match architecture {
            "arm64" => Some("v8"),
            "arm" => Some("v7"),
            _ => None,
        };
        Platform::new(std::env::consts::OS, architecture, variant)
    }

    /// Whether an entry's platform `p` is this wanted one. A missing variant
    /// on either side matches (arm64 entries saying `v8` match a request
    /// without a variant: the normal form of arm64).
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os != self.os || normalize_arch(&p.architecture) != normalize_arch(&self.architecture)
        {
            return false;
        }
        match (&self.variant, &p.variant) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        }
    }
}

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" => "386",
        other => other,
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid platform '{s}': {why} (expected os/arch[/variant], e.g. linux/arm64)"
            ))
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| {
            p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        }) {
            return Err(bad("empty or bad part"));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(bad("wrong number of parts")),
        };
        Ok(Platform::new(
            &os.to_ascii_lowercase(),
            normalize_arch(&arch.to_ascii_lowercase()),
            variant,
        ))
    }
}

impl fmt::Display for Platform {
    /// `os/arch[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn platform_strings() {
        assert_eq!(
            "linux/arm64/v8".parse::<Platform>().unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            "Linux/AMD64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            assert_eq!(
                bad.parse::<Platform>().unwrap_err().kind(),
                Kind::InvalidArgument,
                "{bad}"
            );
        }
        let host = Platform::host();
        assert_eq!(host.os, std::env::consts::OS);
    }

    #[test]
    fn json_keeps_windows_fields() {
        let text = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763","os.features":["win32k"]}"#;
        let p: Platform = serde_json::from_str(text).unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.17763"));
        assert_eq!(serde_json::to_string(&p).unwrap(), text);
        assert!("windows/amd64".parse::<Platform>().unwrap().matches(&p));
    }
}
