//! `--filter` conditions on images, in dist's words and containerd's.

use std::str::FromStr;

use super::{Image, full_name};
use crate::error::{Error, Result};

/// A condition on images, as `--filter` takes it, in dist's words or
/// containerd's (`ctr images ls` filters): `name==NAME`, `name~=REGEX`,
/// `label.KEY==VALUE`, `label.KEY!=VALUE`, `label.KEY~=REGEX` or `label.KEY`
/// (has the label). `labels.` works as `label.`, keys and values may be
/// quoted (`labels."tier"=="gold"`), and `,` joins conditions that must all
/// hold ([`Filter::parse_all`]).
#[derive(Debug, Clone)]
pub enum Filter {
    /// The name is this.
    Name(String),
    /// The name is not this.
    NotName(String),
    /// The name matches this.
    NameMatches(regex_lite::Regex),
    /// The label is (or with `false`, is not) this value.
    Label(String, String, bool),
    /// The label's value matches this.
    LabelMatches(String, regex_lite::Regex),
    /// The label is set.
    HasLabel(String),
}

impl Filter {
    /// The conditions of `s`, joined by `,` (outside quotes).
    pub fn parse_all(s: &str) -> Result<Vec<Filter>> {
        let mut out = Vec::new();
        let (mut start, mut quoted) = (0, false);
        for (i, c) in s.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    out.push(s[start..i].parse()?);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(s[start..].parse()?);
        Ok(out)
    }

    /// Whether `image` passes.
    pub fn matches(&self, image: &Image) -> bool {
        match self {
            Filter::Name(n) => image.name == *n || image.name == full_name(n),
            Filter::NotName(n) => image.name != *n && image.name != full_name(n),
            Filter::NameMatches(re) => re.is_match(&image.name),
            Filter::Label(k, v, equal) => (image.labels.get(k) == Some(v)) == *equal,
            Filter::LabelMatches(k, re) => image.labels.get(k).is_some_and(|v| re.is_match(v)),
            Filter::HasLabel(k) => image.labels.contains_key(k),
        }
    }
}

/// `text` without the double quotes around it, if it has them.
fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Filter> {
        let bad = |why: &str| Error::invalid(format!("filter '{s}': {why}"));
        let usage =
            "use name==, name!=, name~=, label.KEY==, label.KEY!=, label.KEY~= or label.KEY";
        let s = s.trim();
        // The operator is the first one outside quotes.
        let mut quoted = false;
        let mut split = None;
        for (i, c) in s.char_indices() {
            if c == '"' {
                quoted = !quoted;
            } else if !quoted && ["==", "!=", "~="].iter().any(|op| s[i..].starts_with(op)) {
                split = Some((&s[..i], &s[i..i + 2], unquote(&s[i + 2..])));
                break;
            }
        }
        let (key, op, value) = split.unwrap_or((s, "", ""));
        let label = key
            .strip_prefix("label.")
            .or_else(|| key.strip_prefix("labels."))
            .map(unquote)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        let regex = |v: &str| regex_lite::Regex::new(v).map_err(|e| bad(&e.to_string()));
        match (key, label, op) {
            ("name", _, "==") => Ok(Filter::Name(value.to_string())),
            ("name", _, "!=") => Ok(Filter::NotName(value.to_string())),
            ("name", _, "~=") => Ok(Filter::NameMatches(regex(value)?)),
            (_, Some(k), "==") => Ok(Filter::Label(k, value.to_string(), true)),
            (_, Some(k), "!=") => Ok(Filter::Label(k, value.to_string(), false)),
            (_, Some(k), "~=") => Ok(Filter::LabelMatches(k, regex(value)?)),
            (_, Some(k), "") => Ok(Filter::HasLabel(k)),
            _ => Err(bad(usage)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{self, Descriptor};
    use crate::digest::Digest;
    use crate::error::Kind;

    fn desc(media_type: &str, body: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::of(body), body.len() as u64)
    }

    #[test]
    fn filters_parse_and_match() {
        let mut img = Image::new(
            "docker.io/library/redis:7",
            desc(descriptor::OCI_MANIFEST, b"m"),
        );
        img.labels.insert("tier".into(), "prod".into());
        let ok = |f: &str| f.parse::<Filter>().unwrap().matches(&img);
        assert!(ok("name==redis:7"), "normalized like other names");
        assert!(ok("name~=^docker.io/library/re"));
        assert!(!ok("name~=alpine"));
        assert!(ok("label.tier==prod") && ok("labels.tier==prod"));
        assert!(!ok("label.tier!=prod") && ok("label.tier!=dev"));
        assert!(ok("label.tier") && !ok("label.owner"));
        assert!(!ok("label.tier==prod=x"), "the value is all after ==");
        // containerd's forms, as ctr users type them.
        assert!(ok(r#"labels."tier"==prod"#) && ok(r#"labels.tier=="prod""#));
        assert!(ok("labels.tier~=^pr") && !ok("labels.tier~=^dev"));
        assert!(ok("name!=alpine") && !ok("name!=redis:7"));
        let all = |f: &str| {
            Filter::parse_all(f)
                .unwrap()
                .iter()
                .all(|f| f.matches(&img))
        };
        assert!(all(r#"name~=^docker.io/,labels."tier"==prod"#));
        assert!(!all("name~=^docker.io/,labels.tier==dev"));
        assert_eq!(Filter::parse_all(r#"labels."a,b"==x"#).unwrap().len(), 1);
        for bad in [
            "name~=(",
            "size>3",
            "label.==x",
            "tier",
            "digest~=ab",
            "name",
        ] {
            let e = bad.parse::<Filter>().unwrap_err();
            assert_eq!(e.kind(), Kind::InvalidArgument, "{bad}");
        }
    }
}
