//! dist-push: an image of the store (or of any OCI image layout) into a
//! registry (OCI distribution spec, "Pushing blobs", "Pushing Manifests").
use dist::cli::progress::Display;
use dist::cli::{self, Cli, Group, Program};
use dist::images::Images;
use dist::platform::Platform;
use dist::reference::Reference;
use dist::remote::UploadOptions;
use dist::transfer::{self, push::Options};
use lexopt::Arg::*;
use std::io::Write;

const HELP: &str = "\
usage: dist-push [-j N] [--platform P] [--chunk-size SIZE] NAME [DEST]

Put the image NAME of the namespace (or NAME@sha256:... of content in the
store) into a registry as DEST (default: NAME itself), and print the digest
of what DEST names. Blobs go first, several at a time: one the registry has
is skipped, one another repository of that registry holds is mounted from
it (where images were pulled from or pushed to), the others are uploaded.
Then the manifests, children first, the exact bytes of the store, DEST's
tag last. An index goes whole: every platform must be in the store
(dist-pull --all-platforms), or --platform P pushes that platform's
manifest alone. --root DIR may name any OCI image layout (skopeo's, umoci's,
buildah's). A status table on a terminal, else one line per event on
standard error, or JSON events on standard output with --json.

-j, --jobs N               blobs sent at once, 1 to 64 (default 4)
    --platform OS/ARCH[/V] push an index's manifest for this platform only
    --all-platforms        push an index whole (the default)
    --chunk-size SIZE      upload in PATCH chunks of SIZE bytes (k, M, G)
                           instead of one PUT per blob
    --json                 one JSON object per event";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-push",
    about: "put an image of the store into a registry",
    help: HELP,
    groups: &[Group::Namespace, Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut jobs, mut platform, mut all, mut json) = (4usize, None::<Platform>, false, false);
    let (mut chunk, mut words) = (None::<u64>, Vec::<String>::new());
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('j') | Long("jobs") => jobs = cli.parse("--jobs")?,
            Long("platform") => platform = Some(cli.parse("--platform")?),
            Long("all-platforms") => all = true,
            Long("chunk-size") => chunk = Some(cli::parse_size(&cli.string()?)?),
            Long("json") => json = true,
            Value(v) => words.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    if jobs == 0 || jobs > 64 {
        return Err(dist::Error::invalid("--jobs: give 1 to 64"));
    }
    if all && platform.is_some() {
        return Err(dist::Error::invalid(
            "--platform and --all-platforms exclude each other",
        ));
    }
    let (name, dest) = match words.as_slice() {
        [name] => (name, name),
        [name, dest] => (name, dest),
        [] => return Err(dist::Error::invalid("missing NAME")),
        [_, _, extra, ..] => {
            return Err(dist::Error::invalid(format!(
                "unexpected argument '{extra}'"
            )));
        }
    };
    let dest: Reference = dest.parse().map_err(|e: dist::Error| {
        dist::Error::invalid(format!("{} (give DEST, a registry reference)", e.message()))
    })?;
    let store = cli.store()?;
    let images = Images::new(&store, cli.namespace()?);
    let root = images.root_of(name)?;
    let opts = Options {
        platform,
        jobs,
        upload: UploadOptions { chunk },
    };
    let remote = cli.remote()?;
    let display = Display::for_push(json);
    let pushed = display
        .run(|| transfer::push(&store, &remote, &root, &dest, &opts, &|e| display.event(e)))?;
    display.finish_push(&pushed);
    // DEST's registry now holds it: later pushes there can mount from it.
    images.add_source(&root.digest, &dest.name())?;
    if !json {
        writeln!(cli.out(), "{}", pushed.target.digest)?;
    }
    Ok(())
}
