//! dist-fetch: one object from a registry to stdout, verified (OCI
//! distribution spec, "Pulling manifests" and "Pulling blobs").
use dist::cli::{self, Cli};
use dist::fs::AtomicFile;
use dist::reference::Reference;
use dist::remote::{Options, Remote};
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
-m, --media-type TYPE    the media type expected (a hint; may repeat)
    --plain-http         talk HTTP, not HTTPS (always so for localhost and 127.0.0.0/8)
    --insecure           do not verify the registry's TLS certificate";

fn main() -> std::process::ExitCode {
    cli::run("dist-fetch", HELP, run)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut opts, mut hints, mut output) = (Options::default(), Vec::new(), None::<PathBuf>);
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('o') | Long("output") => output = Some(cli.value()?.into()),
            Short('m') | Long("media-type") => hints.push(cli.string()?),
            Long("plain-http") => opts.plain_http = true,
            Long("insecure") => opts.insecure = true,
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
    let remote = Remote::new(&opts)?;
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
