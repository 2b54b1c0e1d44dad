//! dist-import: image archives (docker save, skopeo, podman, OCI) into the
//! store, verified, named (OCI image-spec, image-layout.md; moby's
//! image/tarexport; containerd's core/images/archive).
use dist::archive::{self, ImportOptions};
use dist::cli::{self, Cli, Group, Program};
use lexopt::Arg::*;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-import [-n NS] [--name NAME] [--json] [FILE|DIR]

Read an image archive from FILE, or standard input (-, the default), and
put its images into the store: docker save archives (docker 25+ and the
older layout of <id>/layer.tar), skopeo's and podman's docker-archive and
oci-archive, any of them gzip'd or zstd'd as a whole, or an OCI image
layout directory DIR. The archive is read once, in whatever order its
entries come; each blob goes through the store's verified ingest as it
streams (checked against its digest, or hashed), and only the small
metadata files are held in memory. Then the images are put together,
checked, and named as the archive names them (RepoTags, or the index's
annotations; an image the archive does not name is recorded by its
digest), all at once. Prints NAME DIGEST for each name recorded.

    --name NAME   name the archive's one image NAME instead
    --json        one JSON object per name: name, digest, mediaType, size";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-import",
    about: "read a docker-save or OCI archive into the store and name its images",
    help: HELP,
    groups: &[Group::Namespace],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut name, mut json, mut input) = (None::<String>, false, None::<PathBuf>);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("name") => name = Some(cli.string()?),
            Long("json") => json = true,
            Value(v) if input.is_none() => input = Some(v.into()),
            _ => return Err(arg.unexpected()),
        }
    }
    if let Some(n) = &name {
        n.parse::<dist::reference::Reference>()?;
    }
    let opts = ImportOptions {
        namespace: cli.namespace()?,
        name,
    };
    let store = cli.store_to_write()?;
    let imported = match input.filter(|p| p.as_os_str() != "-") {
        Some(dir) if dir.is_dir() => archive::import_dir(&store, &dir, &opts)?,
        Some(path) => {
            let file = std::fs::File::open(&path)
                .map_err(|e| dist::Error::io(&e).context(path.display()))?;
            archive::import(&store, file, &opts)?
        }
        None => archive::import(&store, cli::stdin_file()?, &opts)?,
    };
    for i in imported {
        let line = format!("{} {}", i.name, i.target.digest);
        let value = serde_json::json!({
            "name": i.name,
            "digest": i.target.digest,
            "mediaType": i.target.media_type,
            "size": i.target.size,
        });
        cli.emit(json, line, value)?;
    }
    Ok(())
}
