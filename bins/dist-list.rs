//! dist-list: the committed blobs of the content store (DESIGN.md, "The store").
use dist::cli::table::{Format, human_age, human_size, print_list};
use dist::cli::{self, Cli, Program};
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-list [-q] [--json]

List the blobs committed to the content store: DIGEST SIZE AGE, by digest.

-q, --quiet         print only the digests
    --json          print one JSON object per blob: digest, size, committed";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-list",
    about: "list the blobs in the store",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let mut format = Format::Table;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            _ => return Err(arg.unexpected()),
        }
    }
    let blobs = cli.store()?.list()?;
    print_list(
        &mut cli.out(),
        format,
        &["DIGEST", "SIZE", "AGE"],
        &blobs,
        |b| {
            vec![
                b.digest.to_string(),
                human_size(b.size),
                human_age(b.committed),
            ]
        },
    )?;
    Ok(())
}
