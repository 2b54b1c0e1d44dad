//! dist-apply: a layer on stdin applied to a directory, safely (OCI image
//! spec, "Applying Changesets").
use dist::cli::{self, Cli, Program};
use dist::digest::Digest;
use dist::layer::{ApplyOptions, apply_layer};
use lexopt::Arg::*;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-apply [--expected-diff-id DIGEST] [--no-same-owner] DIR

Apply the layer on standard input (a tar stream, plain, gzip or zstd) to
DIR, created if missing, and print its diff ID: the digest of the
uncompressed stream. Whiteouts remove what lower layers put in DIR. Nothing
outside DIR is ever created, changed or removed: names and symlinks resolve
as if DIR were the root.

    --expected-diff-id DIGEST  fail with exit status 8 unless the diff ID is DIGEST
    --no-same-owner            do not give entries the owners the layer says
                               (the default unless running as root)
    --json                     print the result as one JSON object";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-apply",
    about: "apply a layer on stdin to a directory, safely; print its diff ID",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut expected, mut opts, mut dir) =
        (None::<Digest>, ApplyOptions::default(), None::<PathBuf>);
    let mut json = false;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("expected-diff-id") => expected = Some(cli.parse("--expected-diff-id")?),
            Long("no-same-owner") => opts.same_owner = false,
            Long("json") => json = true,
            Value(v) if dir.is_none() => dir = Some(v.into()),
            _ => return Err(arg.unexpected()),
        }
    }
    let dir = dir.ok_or_else(|| dist::Error::invalid("missing DIR"))?;
    let layer = apply_layer(&dir, cli::stdin_file()?, &opts)?;
    let a = &layer.applied;
    if a.skipped_devices > 0 {
        cli.warn(format_args!(
            "skipped {} device nodes (not permitted to create them)",
            a.skipped_devices
        ));
    }
    if a.skipped_xattrs > 0 {
        cli.warn(format_args!(
            "skipped {} extended attributes the file system refused",
            a.skipped_xattrs
        ));
    }
    if a.skipped_symlink_xattrs > 0 {
        cli.warn(format_args!(
            "skipped {} user.* extended attributes on symlinks (Linux refuses them)",
            a.skipped_symlink_xattrs
        ));
    }
    cli.debug(format_args!(
        "{} entries, {} bytes, {:?}",
        a.entries, layer.size, layer.compression
    ));
    if let Some(expected) = expected
        && expected != layer.diff_id
    {
        return Err(dist::Error::new(
            dist::Kind::DataCorruption,
            format!(
                "{}: the layer's diff ID is {}, not {expected}; it was applied",
                dir.display(),
                layer.diff_id
            ),
        ));
    }
    let value = serde_json::json!({
        "diffID": layer.diff_id, "size": layer.size,
        "compression": format!("{:?}", layer.compression).to_lowercase(),
        "entries": a.entries,
    });
    cli.emit(json, &layer.diff_id, value)?;
    Ok(())
}
