//! dist-fetch: one object from a registry to stdout, verified (OCI
//! distribution spec, "Pulling manifests" and "Pulling blobs").
use dist::cli::{self, Cli, Group, Program};
use dist::fs::AtomicFile;
use dist::reference::Reference;
use lexopt::Arg::*;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-fetch [-o FILE] [--media-type TYPE]... REF
       dist-fetch [-o FILE] LOCATOR OBJECT [mediatype:TYPE]...

Write the object REF names to standard output, verified against its digest:
for a tag its manifest or index, for a digest that manifest or blob. The
second form names the repository and the tag or digest apart, as
docker.io/library/redis latest. A blob is verified while it streams: if its
digest is wrong the exit status is 8 and what was written is not to be
trusted (with -o, FILE is then left untouched).

-o, --output FILE        write to FILE (whole, or not at all) instead
-m, --media-type TYPE    the media type expected (a hint; may repeat)";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-fetch",
    about: "write one object of a registry to stdout, verified",
    help: HELP,
    groups: &[Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut hints, mut output) = (Vec::new(), None::<PathBuf>);
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('o') | Long("output") => output = Some(cli.value()?.into()),
            Short('m') | Long("media-type") => hints.push(cli.string()?),
            Value(v) => match cli::parse_value::<String>(v)? {
                w if w.starts_with("mediatype:") => hints.push(w["mediatype:".len()..].to_string()),
                w => words.push(w),
            },
            _ => return Err(arg.unexpected()),
        }
    }
    let reference = match words.as_slice() {
        [r] => r.parse::<Reference>()?,
        [locator, object] => Reference::parse_name(locator)?.with_object(object)?,
        [] => return Err(dist::Error::invalid("missing REF")),
        [_, _, extra, ..] => {
            return Err(dist::Error::invalid(format!(
                "unexpected argument '{extra}'"
            )));
        }
    };
    let remote = cli.remote()?;
    match output {
        Some(path) => {
            let mut file = AtomicFile::create(path)?;
            remote.fetch_to(&reference, &hints, &mut file)?;
            file.commit()
        }
        None => remote
            .fetch_to(&reference, &hints, &mut cli.out())
            .map(drop),
    }
}
