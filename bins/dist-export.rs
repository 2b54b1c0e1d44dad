//! dist-export: images of the store as one tar archive, docker-save or OCI
//! (OCI image-spec, image-layout.md; moby's image/tarexport).
use dist::archive::{self, Format, export::Source};
use dist::cli::{self, Cli, Group, Program};
use dist::fs::AtomicFile;
use dist::graph::Platforms;
use dist::images::Images;
use dist::platform::Platform;
use lexopt::Arg::*;
use std::io::IsTerminal;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-export [-n NS] [--format docker|oci] [--platform P | --all-platforms] [-o FILE] NAME...

Write the images NAME... (names of the namespace, or digests of manifests
and indexes in the store) as one tar archive to standard output, or to FILE
(whole, or not at all). Every blob goes out once, as stored, even when
several images share it; then the index files. The docker format is what
docker 25+ saves: an OCI image layout (oci-layout, index.json whose entries
carry the names, blobs/sha256/...) with manifest.json and repositories, which
docker load, ctr import, skopeo (docker-archive: and oci-archive:) and
dist-import read; oci is the OCI image layout alone. From an index, only
this machine's manifest goes out unless --platform or --all-platforms says
otherwise; an object that is not in the store is an error before anything
is written.

    --format F               docker (default) or oci
    --platform OS/ARCH[/V]   the manifest of an index to export (default: this machine's)
    --all-platforms          every manifest of an index
-o, --output FILE            write to FILE instead (- is standard output)";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-export",
    about: "write images of the store as a docker-save or OCI archive",
    help: HELP,
    groups: &[Group::Namespace],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut format, mut platform, mut all) = (Format::Docker, None::<Platform>, false);
    let (mut output, mut names) = (None::<PathBuf>, Vec::<String>::new());
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("format") => format = cli.parse("--format")?,
            Long("platform") => platform = Some(cli.parse("--platform")?),
            Long("all-platforms") => all = true,
            Short('o') | Long("output") => output = Some(cli.value()?.into()),
            Value(v) => names.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    if names.is_empty() {
        return Err(dist::Error::invalid("missing NAME"));
    }
    if all && platform.is_some() {
        return Err(dist::Error::invalid(
            "--platform and --all-platforms exclude each other",
        ));
    }
    let output = output.filter(|p| p.as_os_str() != "-");
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(dist::Error::invalid(
            "an archive is not written to a terminal (-o FILE or a pipe)",
        ));
    }
    let store = cli.store()?;
    let images = Images::new(&store, cli.namespace()?);
    let mut sources = Vec::new();
    for n in &names {
        let source = match n.parse::<dist::digest::Digest>() {
            Ok(_) => Source {
                name: None,
                root: images.root_of(n)?,
            },
            Err(_) => {
                let img = images.get(n)?;
                Source {
                    name: Some(img.name),
                    root: img.target,
                }
            }
        };
        sources.push(source);
    }
    let opts = archive::ExportOptions {
        format,
        platforms: match (all, platform) {
            (true, _) => Platforms::All,
            (false, p) => Platforms::One(p.unwrap_or_else(Platform::host)),
        },
    };
    let done = match output {
        Some(path) => {
            let mut file = AtomicFile::create(path)?;
            let done = archive::export(&store, &sources, &opts, file.file_mut()?)?;
            file.commit()?;
            done
        }
        None => match archive::export(&store, &sources, &opts, cli::stdout_file()?) {
            // The reader has what it wanted (`dist-export x | head -c 512`).
            Err(e) if e.message().ends_with("broken pipe") => return Ok(()),
            done => done?,
        },
    };
    cli.debug(format!("{} blobs, {} bytes", done.blobs, done.bytes));
    Ok(())
}
