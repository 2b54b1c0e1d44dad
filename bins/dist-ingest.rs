//! dist-ingest: standard input into the content store, verified, locked and
//! resumable (DESIGN.md, "The store").
use dist::cli::{self, Cli, Program};
use dist::content::WriterOptions;
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-ingest [--expected-digest DIGEST] [--expected-size N] [--no-wait] REF

Write standard input into the content store as one blob, keyed by REF (any
name; the digest is a good one). The blob appears only once its size and
digest are checked. Content already in the store is a success that writes
nothing. An interrupted ingest keeps its data and the next ingest of REF
resumes from it. Prints the digest it committed.

-d, --expected-digest DIGEST  the digest the content must have
-s, --expected-size N         the size in bytes the content must have
    --no-wait                 fail at once (exit 6) if REF is being written
    --json                    print the result as one JSON object";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-ingest",
    about: "write stdin into the store: verified, locked, resumable",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut opts, mut json) = (WriterOptions::default(), false);
    let mut reference = None;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('d') | Long("expected-digest") => {
                opts.expected = Some(cli.parse("--expected-digest")?)
            }
            Short('s') | Long("expected-size") => opts.total = Some(cli.parse("--expected-size")?),
            Long("no-wait") => opts.wait = false,
            Long("json") => json = true,
            Value(v) if reference.is_none() => reference = Some(cli::parse_value::<String>(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let reference = reference.ok_or_else(|| dist::Error::invalid("missing REF"))?;
    let mut stdin = cli::stdin_file()?;
    let done = cli.store_to_write()?.ingest(&reference, opts, &mut stdin)?;
    if done.existed {
        cli.debug(format_args!("{}: already in the store", done.digest));
    } else if done.resumed_from > 0 {
        cli.debug(format_args!(
            "{}: resumed at byte {} of {}",
            done.digest, done.resumed_from, done.size
        ));
    }
    let value = serde_json::json!({
        "digest": done.digest, "size": done.size,
        "existed": done.existed, "resumedFrom": done.resumed_from,
    });
    cli.emit(json, &done.digest, value)?;
    Ok(())
}
