//! dist-path: where each blob lives in the content store (DESIGN.md, "The store").
use dist::cli::{self, Cli, Program, parse_value};
use dist::digest::Digest;
use lexopt::Arg::*;
use std::io::Write;

const HELP: &str = "\
usage: dist-path [-n] DIGEST...

Print the path of each blob in the content store, as DIGEST PATH.
A digest not in the store is reported on stderr; the others are still printed.

-n, --name-only     print only the path
    --json          one JSON object per blob: digest, path";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-path",
    about: "print where blobs live in the store",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut name_only, mut json) = (false, false);
    let mut digests: Vec<Digest> = Vec::new();
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('n') | Long("name-only") => name_only = true,
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
        match store.path(digest) {
            Ok(path) if json => {
                let value = serde_json::json!({"digest": digest, "path": path});
                cli.emit(true, "", value)?
            }
            Ok(path) if name_only => writeln!(cli.out(), "{}", path.display())?,
            Ok(path) => writeln!(cli.out(), "{digest} {}", path.display())?,
            Err(e) => cli.report(&e),
        }
    }
    Ok(())
}
