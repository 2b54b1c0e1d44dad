//! dist-delete: remove blobs from the content store (DESIGN.md, "The store").
use dist::cli::{self, Cli, Program, parse_value};
use dist::digest::Digest;
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-delete [--json] DIGEST...

Remove each blob from the content store and print its digest.
A digest not in the store is reported on stderr; the others are still removed.
Images that still name a removed blob become incomplete: prefer dist-gc.

    --json          one JSON object per blob removed: digest";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-delete",
    about: "remove blobs from the store",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut digests, mut json) = (Vec::<Digest>::new(), false);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("json") => json = true,
            Value(v) => digests.push(parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    if digests.is_empty() {
        return Err(dist::Error::invalid("missing DIGEST"));
    }
    let store = cli.store()?;
    for digest in &digests {
        match store.delete(digest) {
            Ok(()) => cli.emit(json, digest, serde_json::json!({"digest": digest}))?,
            Err(e) => cli.report(&e),
        }
    }
    Ok(())
}
