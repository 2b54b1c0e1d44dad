//! Image references such as `redis`, `ghcr.io/o/app:1` or
//! `localhost:5000/a/b@sha256:<hex>`: the grammar of docker/distribution's
//! reference package and the normalisation of its `ParseNormalizedNamed`, so
//! that `redis` names `docker.io/library/redis` and carries the tag `latest`.
//!
//! This module owns the reference grammar, the docker.io defaults (the domain,
//! the `library/` prefix of official images, the host that serves its API) and
//! the text form of a reference. It does not talk to registries, know about
//! credentials, mirrors or the content store, and leaves the digest grammar to
//! [`crate::digest`].

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The domain of a name that does not start with one.
const DEFAULT_DOMAIN: &str = "docker.io";
/// An older spelling of [`DEFAULT_DOMAIN`], normalised to it.
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The host that serves the registry API of [`DEFAULT_DOMAIN`].
const DEFAULT_API_HOST: &str = "registry-1.docker.io";
/// What a one-component path on [`DEFAULT_DOMAIN`] is prefixed with.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag of a reference that names neither a tag nor a digest.
const DEFAULT_TAG: &str = "latest";
/// The longest name (`domain/path`), in bytes.
const NAME_MAX: usize = 255;
/// The longest tag, in bytes.
const TAG_MAX: usize = 128;

/// A normalised image reference: a domain, a repository path, and optionally
/// a tag and a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `s` as `ParseNormalizedNamed` does, and adds the
    /// tag `latest` when `s` names neither a tag nor a digest. A `docker://`
    /// before it (skopeo's transport prefix) is taken off.
    pub fn parse(s: &str) -> Result<Reference> {
        let bare = s.strip_prefix("docker://").unwrap_or(s);
        let mut r = split(bare).map_err(|why| invalid(s, &why))?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses and normalises a bare repository name such as `redis` or
    /// `docker.io/library/redis`; a tag or a digest in `s` is an error.
    pub fn parse_name(s: &str) -> Result<Reference> {
        let bare = s.strip_prefix("docker://").unwrap_or(s);
        let r = split(bare).map_err(|why| invalid(s, &why))?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(invalid(s, "expected a name without tag or digest"));
        }
        Ok(r)
    }

    /// A copy with `object` as its tag, or as its digest if `object` contains
    /// a ':'; the other of the two is cleared.
    pub fn with_object(&self, object: &str) -> Result<Reference> {
        let mut r = self.clone();
        if object.contains(':') {
            let digest = object
                .parse::<Digest>()
                .map_err(|e| invalid(&format!("{}@{object}", self.name()), e.message()))?;
            r.tag = None;
            r.digest = Some(digest);
        } else {
            check_tag(object).map_err(|why| invalid(&format!("{}:{object}", self.name()), &why))?;
            r.tag = Some(object.to_string());
            r.digest = None;
        }
        Ok(r)
    }

    /// A copy with `digest` as its digest, keeping the tag.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The domain, with its port if any: `docker.io`, `localhost:5000`,
    /// `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the domain: `library/redis`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full name, `domain/path`: `docker.io/library/redis`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask a registry's `/manifests/` for: the digest if there is
    /// one, else the tag, else `latest`.
    pub fn object(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The host (and port) that serves the registry API of the domain:
    /// `registry-1.docker.io` for `docker.io`, else the domain itself.
    pub fn api_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            DEFAULT_API_HOST
        } else {
            &self.domain
        }
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The error for reference `s`, kept on one line whatever `s` holds.
fn invalid(s: &str, why: &str) -> Error {
    let msg = format!("invalid reference '{s}': {why}");
    if !msg.chars().any(char::is_control) {
        return Error::invalid(msg);
    }
    let mut line = String::with_capacity(msg.len() + 8);
    for c in msg.chars() {
        if c.is_control() {
            line.extend(c.escape_debug());
        } else {
            line.push(c);
        }
    }
    Error::invalid(line)
}

/// Splits and validates `s` without defaulting the tag; `Err` is the reason.
fn split(s: &str) -> std::result::Result<Reference, String> {
    if s.is_empty() {
        return Err("the reference is empty".into());
    }
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(
            "64 hex digits are an image ID, not a reference (name the repository, \
             and add @sha256:<hex> for a digest)"
                .into(),
        );
    }

    // The first component is a domain only if it could not be a path component.
    let (domain, rest) = match s.split_once('/') {
        Some((first, rest)) if looks_like_domain(first) => {
            check_domain(first)?;
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, s),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };

    // Neither a path nor a tag may hold '@', and a path may not hold ':'.
    let (name_and_tag, digest) = match rest.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (rest, None),
    };
    let (path, tag) = match name_and_tag.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (name_and_tag, None),
    };

    if path.is_empty() {
        return Err(match (tag, digest) {
            (Some(_), _) => "missing repository name before ':'".into(),
            (None, Some(_)) => "missing repository name before '@'".into(),
            (None, None) => format!("missing repository name after '{domain}/'"),
        });
    }
    check_path(path)?;
    if let Some(tag) = tag {
        check_tag(tag)?;
    }

    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_string()
    };
    let name_len = domain.len() + 1 + path.len();
    if name_len > NAME_MAX {
        return Err(format!(
            "the name is {name_len} characters long, at most {NAME_MAX} are allowed"
        ));
    }

    let digest = match digest {
        None => None,
        Some("") => return Err("the digest after '@' is empty".into()),
        Some(d) => Some(d.parse::<Digest>().map_err(|e| e.message().to_string())?),
    };

    Ok(Reference {
        domain: domain.to_string(),
        path,
        tag: tag.map(str::to_string),
        digest,
    })
}

/// Docker's rule: a first component with '.' or ':', an uppercase letter, or
/// `localhost` names a domain.
fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]`, where host is a DNS name, an IPv4 address or `[IPv6]`.
fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let bad = |why: String| format!("invalid domain '{domain}': {why}");
    let port = if let Some(inner) = domain.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Err(bad("missing ']' after the IPv6 address".into()));
        };
        let addr = &inner[..end];
        if addr.is_empty() {
            return Err(bad("the IPv6 address between '[' and ']' is empty".into()));
        }
        if let Some(c) = addr.chars().find(|&c| !(c.is_ascii_hexdigit() || c == ':')) {
            return Err(bad(format!(
                "invalid character {c:?} in the IPv6 address (hex digits and ':' only)"
            )));
        }
        match &inner[end + 1..] {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(bad("expected ':PORT' or nothing after ']'".into())),
            },
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        check_host(host).map_err(bad)?;
        port
    };
    match port {
        Some("") => Err(bad("the port after ':' is empty".into())),
        Some(port) if !port.bytes().all(|b| b.is_ascii_digit()) => {
            Err(bad(format!("the port '{port}' must be digits")))
        }
        _ => Ok(()),
    }
}

/// A DNS name or IPv4 address: dot-separated components of letters, digits
/// and inner dashes.
fn check_host(host: &str) -> std::result::Result<(), String> {
    if host.is_empty() {
        return Err("the host name is empty".into());
    }
    if let Some(c) = host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(format!(
            "invalid character {c:?} in the host name (letters, digits, '-' and '.')"
        ));
    }
    for component in host.split('.') {
        if component.is_empty() {
            return Err(
                "empty component in the host name (a leading, trailing or double '.')".into(),
            );
        }
        if component.starts_with('-') || component.ends_with('-') {
            return Err(format!(
                "host name component '{component}' must not start or end with '-'"
            ));
        }
    }
    Ok(())
}

/// `component ("/" component)*`, all lowercase.
fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository name '{path}' must be lowercase"));
    }
    let count = path.split('/').count();
    for (i, component) in path.split('/').enumerate() {
        if component.is_empty() {
            let where_ = if i == 0 {
                "a leading '/'"
            } else if i + 1 == count {
                "a trailing '/'"
            } else {
                "'//'"
            };
            return Err(format!("empty path component ({where_})"));
        }
        check_component(component)?;
    }
    Ok(())
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` where a separator is `.`, `_`, `__` or
/// one or more `-`.
fn check_component(component: &str) -> std::result::Result<(), String> {
    if let Some(c) = component
        .chars()
        .find(|&c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        return Err(format!(
            "invalid character {c:?} in path component '{component}' (lowercase letters, \
             digits, and '.', '_', '__' or '-' between them)"
        ));
    }
    let bytes = component.as_bytes();
    if !bytes[0].is_ascii_alphanumeric() {
        return Err(format!(
            "path component '{component}' must start with a lowercase letter or digit"
        ));
    }
    if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(format!(
            "path component '{component}' must end with a lowercase letter or digit"
        ));
    }
    for sep in component
        .split(|c: char| c.is_ascii_alphanumeric())
        .filter(|sep| !sep.is_empty())
    {
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return Err(format!(
                "invalid separator '{sep}' in path component '{component}' \
                 (one of '.', '_', '__' or a run of '-')"
            ));
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> std::result::Result<(), String> {
    const ALLOWED: &str = "letters, digits, '_', '.' and '-', not starting with '.' or '-'";
    let Some(first) = tag.chars().next() else {
        return Err("the tag after ':' is empty".into());
    };
    if let Some(c) = tag
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "invalid character {c:?} in tag (a tag is {ALLOWED})"
        ));
    }
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(format!(
            "tag '{tag}' must start with a letter, digit or '_' (a tag is {ALLOWED})"
        ));
    }
    if tag.len() > TAG_MAX {
        return Err(format!(
            "the tag is {} characters long, at most {TAG_MAX} are allowed",
            tag.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn sha() -> String {
        format!("sha256:{HEX}")
    }

    /// Parses `input` and checks the parts and the text form.
    fn check(input: &str, domain: &str, path: &str, tag: Option<&str>, digest: bool, text: &str) {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.domain(), domain, "{input}");
        assert_eq!(r.path(), path, "{input}");
        assert_eq!(r.name(), format!("{domain}/{path}"), "{input}");
        assert_eq!(r.tag(), tag, "{input}");
        assert_eq!(r.digest().is_some(), digest, "{input}");
        assert_eq!(r.to_string(), text, "{input}");
        let again: Reference = r.to_string().parse().unwrap();
        assert_eq!(again, r, "{input}");
        assert_eq!(again.to_string(), text, "{input}");
    }

    #[test]
    fn docker_hub_names_are_normalised() {
        for input in [
            "redis",
            "docker.io/redis",
            "index.docker.io/redis",
            "library/redis",
            "docker.io/library/redis",
            "index.docker.io/library/redis",
            "redis:latest",
            "docker://redis",
            "docker://docker.io/library/redis:latest",
        ] {
            check(
                input,
                "docker.io",
                "library/redis",
                Some("latest"),
                false,
                "docker.io/library/redis:latest",
            );
        }
        let r = Reference::parse("redis").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.object(), "latest");
        check(
            "library/redis:7",
            "docker.io",
            "library/redis",
            Some("7"),
            false,
            "docker.io/library/redis:7",
        );
        check(
            "myuser/app",
            "docker.io",
            "myuser/app",
            Some("latest"),
            false,
            "docker.io/myuser/app:latest",
        );
        check(
            "index.docker.io/myuser/app:v1",
            "docker.io",
            "myuser/app",
            Some("v1"),
            false,
            "docker.io/myuser/app:v1",
        );
    }

    #[test]
    fn other_domains_are_kept() {
        check(
            "localhost/x",
            "localhost",
            "x",
            Some("latest"),
            false,
            "localhost/x:latest",
        );
        check(
            "localhost:5000/a/b:tag",
            "localhost:5000",
            "a/b",
            Some("tag"),
            false,
            "localhost:5000/a/b:tag",
        );
        check(
            "[::1]:5000/x:1",
            "[::1]:5000",
            "x",
            Some("1"),
            false,
            "[::1]:5000/x:1",
        );
        check(
            "[fe80::1]/x",
            "[fe80::1]",
            "x",
            Some("latest"),
            false,
            "[fe80::1]/x:latest",
        );
        check(
            "ghcr.io/o/a__b.c-d---e",
            "ghcr.io",
            "o/a__b.c-d---e",
            Some("latest"),
            false,
            "ghcr.io/o/a__b.c-d---e:latest",
        );
        check(
            "Foo/bar",
            "Foo",
            "bar",
            Some("latest"),
            false,
            "Foo/bar:latest",
        );
        check(
            "my-registry.example.com:443/team/x",
            "my-registry.example.com:443",
            "team/x",
            Some("latest"),
            false,
            "my-registry.example.com:443/team/x:latest",
        );
        let r = Reference::parse("quay.io/a/b").unwrap();
        assert_eq!(r.api_host(), "quay.io");
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.api_host(), "localhost:5000");
    }

    #[test]
    fn a_single_component_is_never_a_domain() {
        // Like docker: no '/' means everything is the repository.
        check(
            "localhost:5000",
            "docker.io",
            "library/localhost",
            Some("5000"),
            false,
            "docker.io/library/localhost:5000",
        );
        check(
            "localhost",
            "docker.io",
            "library/localhost",
            Some("latest"),
            false,
            "docker.io/library/localhost:latest",
        );
    }

    #[test]
    fn digests_and_tags() {
        let sha = sha();
        let input = format!("127.0.0.1:5000/a/b@{sha}");
        let r = Reference::parse(&input).unwrap();
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.path(), "a/b");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), sha);
        assert_eq!(r.object(), sha);
        assert_eq!(r.to_string(), input);
        assert!(!r.to_string().contains(":latest"));

        let input = format!("quay.io/a/b:t@{sha}");
        check(&input, "quay.io", "a/b", Some("t"), true, &input);
        assert_eq!(Reference::parse(&input).unwrap().object(), sha);

        let r = Reference::parse(&format!("redis@{sha}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/redis@{sha}"));

        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let r = Reference::parse(&format!("a/b@{sha512}")).unwrap();
        assert_eq!(r.object(), sha512);

        // Tags may hold uppercase, '_' first, dots and dashes, up to 128.
        check(
            "a:_V1.0-rc",
            "docker.io",
            "library/a",
            Some("_V1.0-rc"),
            false,
            "docker.io/library/a:_V1.0-rc",
        );
        let long_tag = "t".repeat(128);
        assert_eq!(
            Reference::parse(&format!("a:{long_tag}")).unwrap().tag(),
            Some(long_tag.as_str())
        );
    }

    #[test]
    fn names_up_to_255_characters() {
        // "docker.io/library/" is 18 characters.
        let path = "a".repeat(237);
        let r = Reference::parse(&path).unwrap();
        assert_eq!(r.name().len(), 255);
        let err = Reference::parse(&format!("{path}a")).unwrap_err();
        assert!(err.to_string().contains("256 characters long"), "{err}");
    }

    #[test]
    fn rejects_bad_references_with_a_reason() {
        let sha = sha();
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "empty"),
            (":tag".into(), "missing repository name before ':'"),
            (format!("@{sha}"), "missing repository name before '@'"),
            (
                "localhost/".into(),
                "missing repository name after 'localhost/'",
            ),
            ("localhost/:x".into(), "missing repository name before ':'"),
            ("a:".into(), "tag after ':' is empty"),
            ("a@".into(), "digest after '@' is empty"),
            ("UPPER".into(), "must be lowercase"),
            ("docker.io/Library/redis".into(), "must be lowercase"),
            ("quay.io/a/B".into(), "must be lowercase"),
            ("a/".into(), "empty path component (a trailing '/')"),
            ("/a".into(), "empty path component (a leading '/')"),
            ("a//b".into(), "empty path component ('//')"),
            ("a/.b".into(), "must start with a lowercase letter or digit"),
            ("a/b_".into(), "must end with a lowercase letter or digit"),
            ("a-/b".into(), "must end with a lowercase letter or digit"),
            ("a._b".into(), "invalid separator '._'"),
            ("a___b".into(), "invalid separator '___'"),
            ("a..b".into(), "invalid separator '..'"),
            ("a-_b".into(), "invalid separator '-_'"),
            ("a b".into(), "invalid character ' ' in path component"),
            ("a/é".into(), "invalid character 'é' in path component"),
            ("a:tag with space".into(), "invalid character ' ' in tag"),
            (
                "a:tag!".into(),
                "invalid character '!' in tag (a tag is letters, digits",
            ),
            (
                format!("a:{}", "t".repeat(129)),
                "tag is 129 characters long, at most 128",
            ),
            ("a:-tag".into(), "must start with a letter, digit or '_'"),
            ("a:.tag".into(), "must start with a letter, digit or '_'"),
            ("a".repeat(300), "318 characters long, at most 255"),
            (
                format!("quay.io/{}", "a".repeat(300)),
                "308 characters long, at most 255",
            ),
            (
                "a@sha256:abc".into(),
                "invalid digest 'sha256:abc': 3 hex digits",
            ),
            (
                "a@md5:d41d8cd98f00b204e9800998ecf8427e".into(),
                "unsupported algorithm 'md5'",
            ),
            (format!("a@{HEX}"), "expected ALGORITHM:HEX"),
            (
                format!("a@{}", sha.to_uppercase()),
                "unsupported algorithm 'SHA256'",
            ),
            (
                format!("a@sha256:{}", HEX.to_uppercase()),
                "an uppercase character",
            ),
            (format!("a@{sha}@{sha}"), "non-hex character '@'"),
            ("host:port/x".into(), "the port 'port' must be digits"),
            ("localhost:/x".into(), "the port after ':' is empty"),
            (
                "localhost:50:00/x".into(),
                "the port '50:00' must be digits",
            ),
            (":5000/x".into(), "the host name is empty"),
            (
                "-host.com/x".into(),
                "'-host' must not start or end with '-'",
            ),
            (
                "host-.com/x".into(),
                "'host-' must not start or end with '-'",
            ),
            ("a..com/x".into(), "empty component in the host name"),
            (".com/x".into(), "empty component in the host name"),
            ("a_b.com/x".into(), "invalid character '_' in the host name"),
            ("Foo_Bar/x".into(), "invalid character '_' in the host name"),
            ("[::1/x".into(), "missing ']'"),
            (
                "[]:5000/x".into(),
                "IPv6 address between '[' and ']' is empty",
            ),
            (
                "[::g]/x".into(),
                "invalid character 'g' in the IPv6 address",
            ),
            ("[::1]x/y".into(), "expected ':PORT' or nothing after ']'"),
            ("a:b:c".into(), "invalid character ':' in tag"),
            ("a:b/c".into(), "the port 'b' must be digits"),
            ("a@b/c".into(), "invalid digest"),
            (HEX.into(), "64 hex digits are an image ID"),
            ("a\nb".into(), "invalid character '\\n'"),
            ("@".into(), "missing repository name before '@'"),
            (":".into(), "missing repository name before ':'"),
            ("/".into(), "empty path component"),
        ];
        for (input, why) in &cases {
            let err = Reference::parse(input).unwrap_err();
            assert_eq!(err.kind(), Kind::InvalidArgument, "{input:?}");
            let msg = err.to_string();
            assert!(msg.starts_with("invalid reference '"), "{input:?}: {msg}");
            assert!(msg.contains(why), "{input:?}: {msg}");
            assert!(!msg.contains('\n'), "{input:?}: {msg}");
            assert!(Reference::parse_name(input).is_err(), "{input:?}");
        }
        // The reference is quoted in full, and the digest's message kept.
        let err = Reference::parse("a@sha256:abc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid reference 'a@sha256:abc': invalid digest 'sha256:abc': \
             3 hex digits, sha256 needs 64"
        );
    }

    #[test]
    fn parse_name_wants_a_bare_name() {
        let r = Reference::parse_name("docker.io/library/redis").unwrap();
        assert_eq!(r.name(), "docker.io/library/redis");
        assert_eq!((r.tag(), r.digest()), (None, None));
        assert_eq!(r.to_string(), "docker.io/library/redis");
        assert_eq!(r.object(), "latest");
        assert_eq!(Reference::parse_name("redis").unwrap(), r);
        assert_eq!(
            Reference::parse_name("localhost:5000/x").unwrap().name(),
            "localhost:5000/x"
        );
        for input in [
            "redis:7".to_string(),
            format!("redis@{}", sha()),
            "redis:latest".into(),
        ] {
            let err = Reference::parse_name(&input).unwrap_err();
            assert_eq!(err.kind(), Kind::InvalidArgument);
            assert!(
                err.to_string()
                    .contains("expected a name without tag or digest"),
                "{err}"
            );
        }
    }

    #[test]
    fn with_object_sets_a_tag_or_a_digest() {
        let sha = sha();
        let name = Reference::parse_name("redis").unwrap();
        let tagged = name.with_object("latest").unwrap();
        assert_eq!(tagged, Reference::parse("redis").unwrap());
        let digested = tagged.with_object(&sha).unwrap();
        assert_eq!(digested.tag(), None);
        assert_eq!(digested.object(), sha);
        assert_eq!(
            digested.to_string(),
            format!("docker.io/library/redis@{sha}")
        );
        let retagged = digested.with_object("7").unwrap();
        assert_eq!(retagged.to_string(), "docker.io/library/redis:7");
        assert_eq!(retagged.digest(), None);

        let both = retagged.with_digest(sha.parse().unwrap());
        assert_eq!(both.tag(), Some("7"));
        assert_eq!(both.to_string(), format!("docker.io/library/redis:7@{sha}"));
        assert_eq!(both.object(), sha);

        for (object, why) in [
            ("bad tag!", "invalid character ' ' in tag"),
            ("", "tag after ':' is empty"),
            ("-x", "must start with a letter"),
            ("sha256:abc", "3 hex digits"),
            ("md5:abc", "unsupported algorithm"),
            ("a:b", "unsupported algorithm 'a'"),
        ] {
            let err = name.with_object(object).unwrap_err();
            assert_eq!(err.kind(), Kind::InvalidArgument, "{object:?}");
            assert!(err.to_string().contains(why), "{object:?}: {err}");
            assert!(
                err.to_string()
                    .starts_with("invalid reference 'docker.io/library/redis"),
                "{err}"
            );
        }
    }

    #[test]
    fn from_str_is_parse() {
        let r: Reference = "quay.io/a/b:1".parse().unwrap();
        assert_eq!(r, Reference::parse("quay.io/a/b:1").unwrap());
        assert!("a//b".parse::<Reference>().is_err());
    }

    #[test]
    fn never_panics_and_round_trips() {
        // Every string of up to four characters over an alphabet of the
        // grammar's delimiters and a few troublemakers.
        let alphabet = ['a', 'B', '1', '.', ':', '/', '@', '-', '_', '[', ']', 'é'];
        let mut inputs = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for s in &frontier {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            inputs.extend(next.iter().cloned());
            frontier = next;
        }
        let sha = sha();
        inputs.push("x".repeat(1 << 20));
        inputs.push(format!("{}/x", "a.".repeat(1 << 16)));
        inputs.push(format!("x:{}", "t".repeat(1 << 16)));
        inputs.push(format!("x@{}", "s".repeat(1 << 16)));
        let mut parsed = 0;
        for input in &inputs {
            let with_digest = format!("{input}@{sha}");
            for s in [input.as_str(), with_digest.as_str()] {
                let Ok(r) = Reference::parse(s) else {
                    continue;
                };
                parsed += 1;
                let text = r.to_string();
                let again = Reference::parse(&text).unwrap_or_else(|e| panic!("{s:?}: {e}"));
                assert_eq!(again, r, "{s:?}");
                assert_eq!(again.to_string(), text, "{s:?}");
                assert!(r.name().len() <= NAME_MAX);
                let name = Reference::parse_name(&r.name()).unwrap();
                assert_eq!(name.name(), r.name());
            }
        }
        assert!(parsed > 300, "{parsed}");
    }
}
