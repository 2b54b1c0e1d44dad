//! dist-fetch: one object from a registry to stdout, verified (OCI
//! distribution spec, "Pulling manifests" and "Pulling blobs").
use dist::cli::{self, Cli, Group, Program};
use dist::fs::AtomicFile;
use dist::platform::Platform;
use dist::reference::Reference;
use lexopt::Arg::*;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-fetch [-o FILE] [--platform P | --index] [--media-type TYPE]... REF
       dist-fetch [-o FILE] LOCATOR OBJECT [mediatype:TYPE]...

Write the object REF names to standard output, verified against its digest:
for a tag its manifest, for a digest that manifest or blob. When REF names
an index (a multi-platform image), its manifest for this machine's platform
is written (--platform for another, --index for the index itself). The
second form names the repository and the tag or digest apart, as
docker.io/library/redis latest. A blob is verified while it streams: if its
digest is wrong the exit status is 8 and what was written is not to be
trusted (with -o, FILE is then left untouched). A blob is not written to a
terminal unless -o - says so.

-o, --output FILE        write to FILE (whole, or not at all) instead; - is stdout
    --platform OS/ARCH[/V]   the platform whose manifest an index gives (default: this machine's)
    --index              write an index as it is
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
    let (mut platform, mut index) = (None::<Platform>, false);
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('o') | Long("output") => output = Some(cli.value()?.into()),
            Short('m') | Long("media-type") => hints.push(cli.string()?),
            Long("platform") => platform = Some(cli.parse("--platform")?),
            Long("index") => index = true,
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
    if index && platform.is_some() {
        return Err(dist::Error::invalid(
            "--platform and --index exclude each other",
        ));
    }
    let platform = (!index).then(|| platform.unwrap_or_else(Platform::host));
    let remote = cli.remote()?;
    let object = remote.object(&reference, &hints, platform.as_ref())?;
    match output {
        Some(path) if path.as_os_str() != "-" => {
            let mut file = AtomicFile::create(path)?;
            object.write_to(&mut file)?;
            file.commit()
        }
        None if object.is_blob() && cli.stdout_is_terminal() => Err(dist::Error::invalid(format!(
            "{reference}: a blob, not written to a terminal (-o FILE, -o - or a pipe)"
        ))),
        _ => object.write_to(&mut cli.out()).map(drop),
    }
}
