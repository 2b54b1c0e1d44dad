//! dist-inspect: what an image is, in the store or in a registry, as skopeo
//! inspect shows it (OCI image spec, config.md).
use dist::cli::{self, Cli, Group, Program};
use dist::graph;
use dist::images::Images;
use dist::images::inspect::inspect;
use dist::platform::Platform;
use dist::reference::Reference;
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-inspect [--platform P] [--remote] [--json] REF|NAME

Show what an image is: its name, digest and media type, the platforms of
an index, and for the manifest of one platform (this machine's unless
--platform) when it was made, its platform, environment, entrypoint,
command, labels and layers with their sizes. NAME is an image of the
namespace (or the digest of one in the store); anything else, or any REF
with --remote, is asked of its registry. --json prints one object.

    --platform OS/ARCH[/V]   the platform whose manifest an index gives
    --remote                 ask the registry even when the store has the name
    --json                   one JSON object";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-inspect",
    about: "show what an image is, in the store or in a registry",
    help: HELP,
    groups: &[Group::Namespace, Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut platform, mut remote, mut json, mut what) = (None, false, false, None::<String>);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("platform") => platform = Some(cli.parse::<Platform>("--platform")?),
            Long("remote") => remote = true,
            Long("json") => json = true,
            Value(v) if what.is_none() => what = Some(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let what = what.ok_or_else(|| dist::Error::invalid("missing REF or NAME"))?;
    let platform = platform.unwrap_or_else(Platform::host);
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
    let shown = match local {
        Some((store, root)) => inspect(&what, &root, &platform, &|d| graph::read_small(&store, d))?,
        None => {
            let r: Reference = what.parse()?;
            let remote = cli.remote()?;
            let (root, body) = remote.manifest(&r, &[])?;
            inspect(
                &r.to_string(),
                &root,
                &platform,
                &|d| match d.digest == root.digest {
                    true => Ok(body.clone()),
                    false => remote.read_small(&r, d),
                },
            )?
        }
    };
    let value = serde_json::to_value(&shown)
        .map_err(|e| dist::Error::new(dist::Kind::Internal, e.to_string()))?;
    cli.emit(json, shown.text().trim_end(), value)
}
