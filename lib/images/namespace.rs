//! Namespaces: their names (validated as containerd's), which exist in a
//! store, and their labels (`namespaces/NS/labels.json`, written atomically
//! under the store's index lock). A namespace exists once created, labeled
//! or naming an image; `default` always does.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::str::FromStr;

use super::Images;
use crate::content::Store;
use crate::error::{Context, Error, Kind, Result};
use crate::fs::write_atomic;

/// A validated namespace name, as containerd's: letters, digits and
/// `._-` between them, at most 76 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// The namespace a program uses: `flag`, else `$DIST_NAMESPACE`, else
    /// `$CONTAINERD_NAMESPACE`, else `default`.
    pub fn select(flag: Option<&str>) -> Result<Namespace> {
        let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let name = flag
            .map(str::to_string)
            .or_else(|| from_env("DIST_NAMESPACE"))
            .or_else(|| from_env("CONTAINERD_NAMESPACE"))
            .unwrap_or_else(|| "default".to_string());
        name.parse()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Namespace {
    type Err = Error;

    fn from_str(s: &str) -> Result<Namespace> {
        let bad = |why: &str| Error::invalid(format!("invalid namespace '{s}': {why}"));
        if s.is_empty() || s.len() > 76 {
            return Err(bad("it must have 1 to 76 characters"));
        }
        let b = s.as_bytes();
        let sep = |c: u8| matches!(c, b'.' | b'_' | b'-');
        if !b.iter().all(|&c| c.is_ascii_alphanumeric() || sep(c)) {
            return Err(bad("only letters, digits, '.', '_' and '-' are allowed"));
        }
        if sep(b[0]) || sep(b[b.len() - 1]) || b.windows(2).any(|w| sep(w[0]) && sep(w[1])) {
            return Err(bad("'.', '_' and '-' must stand between letters or digits"));
        }
        Ok(Namespace(s.to_string()))
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The namespaces of `store`: `default`, and every valid name under
/// `namespaces/` with an index or labels, sorted.
pub fn namespaces(store: &Store) -> Result<Vec<Namespace>> {
    let mut out = vec![Namespace("default".to_string())];
    let dir = store.root().join("namespaces");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(&e).context(dir.display())),
    };
    for e in entries {
        let e = e.context(dir.display())?;
        if let Ok(ns) = e.file_name().to_string_lossy().parse::<Namespace>()
            && ns.as_str() != "default"
            && (e.path().join("index.json").is_file() || e.path().join("labels.json").is_file())
        {
            out.push(ns);
        }
    }
    out.sort();
    Ok(out)
}

/// Where the labels of `ns` are kept.
fn labels_path(store: &Store, ns: &Namespace) -> PathBuf {
    store
        .root()
        .join("namespaces")
        .join(ns.as_str())
        .join("labels.json")
}

/// The labels of namespace `ns` (none for one that has no labels file).
pub fn labels(store: &Store, ns: &Namespace) -> Result<BTreeMap<String, String>> {
    let path = labels_path(store, ns);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                Kind::InvalidContent,
                format!("{}: not a JSON object of labels ({e})", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::io(&e).context(path.display())),
    }
}

/// Whether `ns` exists in `store`.
pub fn exists(store: &Store, ns: &Namespace) -> Result<bool> {
    Ok(namespaces(store)?.contains(ns))
}

/// Creates namespace `ns` with `labels`; one that exists is
/// [`Kind::AlreadyExists`] (exit 5).
pub fn create(store: &Store, ns: &Namespace, labels: &[(String, String)]) -> Result<()> {
    edit(store, ns, true, |have| {
        set(have, labels);
        Ok(())
    })
}

/// Sets (an empty value removes) labels of the existing namespace `ns`.
pub fn label(
    store: &Store,
    ns: &Namespace,
    labels: &[(String, String)],
) -> Result<BTreeMap<String, String>> {
    edit(store, ns, false, |have| {
        set(have, labels);
        Ok(have.clone())
    })
}

/// Removes namespace `ns`, which must name no image: [`Kind::FailedPrecondition`]
/// otherwise ("namespace NS must be empty"). `default` is never gone: its
/// labels are.
pub fn remove(store: &Store, ns: &Namespace) -> Result<()> {
    let _lock = super::lock_index(store)?;
    if !namespaces(store)?.contains(ns) {
        return Err(no_namespace(ns));
    }
    if !Images::new(store, ns.clone()).roots()?.is_empty() {
        return Err(Error::new(
            Kind::FailedPrecondition,
            format!("namespace {ns} must be empty"),
        ));
    }
    let dir = store.root().join("namespaces").join(ns.as_str());
    for name in ["labels.json", "index.json"] {
        match fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&e).context(dir.join(name).display())),
        }
    }
    match fs::remove_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(&e).context(dir.display()))
        }
        _ => Ok(()),
    }
}

fn set(have: &mut BTreeMap<String, String>, labels: &[(String, String)]) {
    for (k, v) in labels {
        if v.is_empty() {
            have.remove(k);
        } else {
            have.insert(k.clone(), v.clone());
        }
    }
}

fn no_namespace(ns: &Namespace) -> Error {
    Error::new(Kind::NotFound, format!("namespace {ns}: no such namespace"))
}

/// Changes the labels of `ns` under the store's index lock: of a new
/// namespace with `create` (refused if it exists), else of an existing one.
fn edit<T>(
    store: &Store,
    ns: &Namespace,
    create: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T>,
) -> Result<T> {
    store.init()?;
    let _lock = super::lock_index(store)?;
    match (exists(store, ns)?, create) {
        (true, true) => {
            return Err(Error::new(
                Kind::AlreadyExists,
                format!("namespace {ns}: already exists"),
            ));
        }
        (false, false) => return Err(no_namespace(ns)),
        _ => {}
    }
    let mut have = labels(store, ns)?;
    let result = change(&mut have)?;
    let path = labels_path(store, ns);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).context(dir.display())?;
    }
    let bytes = serde_json::to_vec(&have).map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
    write_atomic(&path, &bytes)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_validated() {
        for ok in ["default", "k8s.io", "a", "team-1_x.y"] {
            assert_eq!(ok.parse::<Namespace>().unwrap().as_str(), ok);
        }
        for bad in ["", "-a", "a-", "a..b", "a/b", "a b", &"x".repeat(77)] {
            assert_eq!(
                bad.parse::<Namespace>().unwrap_err().kind(),
                Kind::InvalidArgument,
                "{bad}"
            );
        }
        assert_eq!(Namespace::select(Some("ns1")).unwrap().as_str(), "ns1");
    }

    #[test]
    fn namespaces_are_created_labeled_and_removed_when_empty() {
        let store =
            Store::open(std::env::temp_dir().join(format!("dist-ns-{}", std::process::id())));
        let _ = fs::remove_dir_all(store.root());
        let foo: Namespace = "foo".parse().unwrap();
        create(&store, &foo, &[("mylabel".into(), "bar".into())]).unwrap();
        assert_eq!(
            create(&store, &foo, &[]).unwrap_err().kind(),
            Kind::AlreadyExists
        );
        assert_eq!(
            namespaces(&store)
                .unwrap()
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>(),
            ["default", "foo"]
        );
        let l = label(
            &store,
            &foo,
            &[("mylabel".into(), "".into()), ("a".into(), "b".into())],
        )
        .unwrap();
        assert_eq!(
            l.into_iter().collect::<Vec<_>>(),
            [("a".to_string(), "b".to_string())]
        );
        let bar: Namespace = "bar".parse().unwrap();
        assert_eq!(label(&store, &bar, &[]).unwrap_err().kind(), Kind::NotFound);
        Images::new(&store, foo.clone())
            .put(
                "x:1",
                crate::descriptor::Descriptor::new(
                    crate::descriptor::OCI_MANIFEST,
                    crate::digest::Digest::of(b"m"),
                    1,
                ),
            )
            .unwrap();
        let e = remove(&store, &foo).unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (
                Kind::FailedPrecondition,
                "namespace foo must be empty".to_string()
            )
        );
        Images::new(&store, foo.clone()).remove("x:1").unwrap();
        remove(&store, &foo).unwrap();
        assert_eq!(namespaces(&store).unwrap().len(), 1);
        let _ = fs::remove_dir_all(store.root());
    }
}
