//! dist-verify: checks an image's signatures with public keys, as
//! `cosign verify --key` does (sigstore/cosign, pkg/cosign/verify.go).
use dist::cli::table::{Format, print_list};
use dist::cli::{self, Cli, Group, Program};
use dist::graph;
use dist::images::Images;
use dist::reference::Reference;
use dist::signature::{self, Keys, Registry, Stored};
use lexopt::Arg::*;
use serde_json::json;

const HELP: &str = "\
usage: dist-verify --key FILE [--key FILE]... [--remote] [-q] [--json] REF|NAME

Check that a signature of the image verifies with one of the public keys
(PEM PUBLIC KEY files: ECDSA P-256 or P-384, Ed25519, RSA), as cosign
verify --key does: the simple signing payloads of cosign's tag
sha256-HEX.sig, and the Sigstore bundles among the image's referrers. A
signature counts when it verifies over the exact bytes stored and signs
this image's digest. Prints SIGNATURE KEY for each that verifies; exits 9
when none does, saying why for each signature found. NAME is an image of
the namespace (its signatures as dist-pull kept them); anything else, or
any REF with --remote, is asked of its registry. No transparency log and
no certificates are checked.

    --key FILE   a public key (repeatable: any of them will do)
    --remote     ask the registry even when the store has the name
-q, --quiet      print only the signatures
    --json       one JSON object per signature that verifies";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-verify",
    about: "check an image's signatures with public keys",
    help: HELP,
    groups: &[Group::Namespace, Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut keys, mut remote, mut format, mut what) = (Vec::new(), false, Format::Table, None);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("key") => keys.push(std::path::PathBuf::from(cli.value()?)),
            Long("remote") => remote = true,
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Value(v) if what.is_none() => what = Some(cli::parse_value::<String>(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let what = what.ok_or_else(|| dist::Error::invalid("missing REF or NAME"))?;
    if keys.is_empty() {
        return Err(dist::Error::invalid("missing --key FILE"));
    }
    let keys = Keys::load(&keys)?;
    // The store's, when it has the name (or digest) and --remote is not given.
    let local = (!remote)
        .then(|| cli.store().ok())
        .flatten()
        .and_then(|store| {
            let root = Images::new(&store, cli.namespace().ok()?)
                .root_of(&what)
                .ok()?;
            Some((store, root))
        });
    let (name, checked) = match local {
        Some((store, root)) => {
            let object = format!("{what}@{}", root.digest);
            let body = graph::read_small(&store, &root)?;
            let source = Stored { store: &store };
            (
                what,
                signature::verify(&source, &object, &root, &body, &keys)?,
            )
        }
        None => {
            let r: Reference = what.parse()?;
            let remote = cli.remote()?;
            let (root, body) = remote.manifest(&r, &[])?;
            let object = format!("{r}@{}", root.digest);
            let source = Registry {
                remote: &remote,
                repository: &r,
            };
            (
                r.to_string(),
                signature::verify(&source, &object, &root, &body, &keys)?,
            )
        }
    };
    for why in &checked.refused {
        cli.debug(format!("not counted: {why}"));
    }
    let rows: Vec<serde_json::Value> = checked
        .verified
        .iter()
        .map(|v| {
            json!({"image": name, "signature": v.signature,
                "artifact": v.artifact.digest.to_string(), "key": v.key})
        })
        .collect();
    let cell = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    print_list(&mut cli.out(), format, &["SIGNATURE", "KEY"], &rows, |v| {
        vec![cell(v, "signature"), cell(v, "key")]
    })?;
    Ok(())
}
