//! dist-active: the writes in progress in the content store (DESIGN.md, "The store").
use dist::cli::table::{Format, human_age, human_size, print_list};
use dist::cli::{self, Cli, Program};
use lexopt::Arg::*;
use std::time::Duration;

const HELP: &str = "\
usage: dist-active [-q] [--json] [--all]

List the ingests in progress: REF SIZE TOTAL AGE, oldest first. An ingest
is shown while a process writes it or for 5 minutes after its last write;
an interrupted one stays in the store, to be resumed, and --all shows it.

-a, --all           also list abandoned ingests
-q, --quiet         print only the refs
    --json          print one JSON object per ingest: ref, offset, total,
                    startedAt, updatedAt, pid, live";

/// How long after its last write an ingest without a live writer is still shown.
const RECENT: Duration = Duration::from_secs(300);

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-active",
    about: "list the writes in progress in the store",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut format, mut all) = (Format::Table, false);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Short('a') | Long("all") => all = true,
            _ => return Err(arg.unexpected()),
        }
    }
    let active = cli.store()?.statuses(all, RECENT)?;
    print_list(
        &mut cli.out(),
        format,
        &["REF", "SIZE", "TOTAL", "AGE"],
        &active,
        |s| {
            let total = s.total.map_or_else(|| "-".to_string(), human_size);
            vec![
                s.reference.clone(),
                human_size(s.offset),
                total,
                human_age(s.started_at),
            ]
        },
    )?;
    Ok(())
}
