//! dist-resolve: the descriptor a name resolves to (OCI distribution spec,
//! "Pulling manifests").
use dist::cli::{self, Cli, parse_value};
use dist::reference::Reference;
use dist::remote::{Options, Remote};
use lexopt::Arg::*;
use std::io::Write;

const HELP: &str = "\
usage: dist-resolve [--plain-http] [--insecure] REF

Ask the registry what REF names and print its descriptor as one JSON object:
name, mediaType, digest, size. REF is a name as docker takes it: redis,
docker.io/library/redis:7, host:5000/a/b@sha256:...

    --plain-http    talk HTTP, not HTTPS (always so for localhost and 127.0.0.0/8)
    --insecure      do not verify the registry's TLS certificate";

fn main() -> std::process::ExitCode {
    cli::run("dist-resolve", HELP, run)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut opts, mut reference) = (Options::default(), None::<Reference>);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("plain-http") => opts.plain_http = true,
            Long("insecure") => opts.insecure = true,
            Value(v) if reference.is_none() => reference = Some(parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let reference = reference.ok_or_else(|| dist::Error::invalid("missing REF"))?;
    let descriptor = Remote::new(&opts)?.resolve(&reference, &[])?;
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
