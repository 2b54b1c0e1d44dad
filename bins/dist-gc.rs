//! dist-gc: removes what no image of any namespace reaches (seed 004;
//! DESIGN.md, "Programs").
use dist::cli::table::human_size;
use dist::cli::{self, Cli, Program};
use dist::gc::{self, Options};
use lexopt::Arg::*;
use serde_json::json;
use std::io::Write;

const HELP: &str = "\
usage: dist-gc [--dry-run] [--ingest-age DURATION] [--no-wait]

Remove from the store every blob that no image of any namespace reaches
(every platform of an index counts, and entries other tools wrote in
index.json), every snapshot that no such image and no writable snapshot
needs, and ingests that no writer holds and that were last written longer
ago than --ingest-age. Prints one line per object removed: blob DIGEST SIZE,
snapshot CHAINID, or ingest REF; then a summary on standard error.

It waits for writers (ingests, pulls not yet named, unpacks) to finish, and
they wait for it: nothing is removed while it is being written.

    --dry-run               print what would be removed; remove nothing
    --ingest-age DURATION   abandoned ingests older than this go (default 24h)
    --no-wait               fail (exit 6) rather than wait for writers
    --json                  one JSON object per thing removed";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-gc",
    about: "remove what no image of any namespace reaches",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut opts, mut json) = (Options::default(), false);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("dry-run") => opts.dry_run = true,
            Long("ingest-age") => {
                let text = cli.string()?;
                opts.ingest_age =
                    dist::time::parse_duration(&text).map_err(|e| e.context("--ingest-age"))?;
            }
            Long("no-wait") => opts.wait = false,
            Long("json") => json = true,
            _ => return Err(arg.unexpected()),
        }
    }
    let store = cli.store()?;
    let done = gc::collect(&store, &opts)?;
    for b in &done.blobs {
        let v = json!({"kind": "blob", "digest": b.digest, "size": b.size});
        cli.emit(json, format_args!("blob {} {}", b.digest, b.size), v)?;
    }
    for s in &done.snapshots {
        cli.emit(
            json,
            format_args!("snapshot {s}"),
            json!({"kind": "snapshot", "chainID": s}),
        )?;
    }
    for i in &done.ingests {
        let v = json!({"kind": "ingest", "ref": i.reference, "offset": i.offset});
        cli.emit(json, format_args!("ingest {}", i.reference), v)?;
    }
    for p in &done.interrupted {
        let v = json!({"kind": "unpack", "path": p});
        cli.emit(json, format_args!("unpack {}", p.display()), v)?;
    }
    cli.out().flush()?;
    let bytes: u64 = done.blobs.iter().map(|b| b.size).sum();
    let n =
        |count: usize, what: &str| format!("{count} {what}{}", if count == 1 { "" } else { "s" });
    let verb = if opts.dry_run {
        "would remove"
    } else {
        "removed"
    };
    cli.note(format_args!(
        "{verb} {} ({}), {}, {}, {}",
        n(done.blobs.len(), "blob"),
        human_size(bytes),
        n(done.snapshots.len(), "snapshot"),
        n(done.ingests.len(), "ingest"),
        n(done.interrupted.len(), "interrupted unpack")
    ));
    Ok(())
}
