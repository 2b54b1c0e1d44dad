//! dist-resolve: the descriptor a name resolves to (OCI distribution spec,
//! "Pulling manifests").
use dist::cli::{self, Cli, Group, Program, parse_value};
use dist::reference::Reference;
use lexopt::Arg::Value;
use std::io::Write;

const HELP: &str = "\
usage: dist-resolve REF

Ask the registry what REF names and print its descriptor as one JSON object:
name, mediaType, digest, size. REF is a name as docker takes it: redis,
docker.io/library/redis:7, host:5000/a/b@sha256:...";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-resolve",
    about: "print the descriptor a name resolves to",
    help: HELP,
    groups: &[Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let mut reference = None::<Reference>;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Value(v) if reference.is_none() => reference = Some(parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let reference = reference.ok_or_else(|| dist::Error::invalid("missing REF"))?;
    let descriptor = cli.remote()?.resolve(&reference, &[])?;
    let resolved = Resolved {
        name: reference.to_string(),
        descriptor,
    };
    let line = serde_json::to_string(&resolved)
        .map_err(|e| dist::Error::new(dist::Kind::Internal, e.to_string()))?;
    writeln!(cli.out(), "{line}")?;
    Ok(())
}

/// The descriptor with the name it was resolved from, name first.
#[derive(serde::Serialize)]
struct Resolved {
    name: String,
    #[serde(flatten)]
    descriptor: dist::descriptor::Descriptor,
}
