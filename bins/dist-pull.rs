//! dist-pull: an image from a registry into the store, named and unpacked
//! (seeds e53539c58f, 55a1b4eff8; DESIGN.md, "Programs").
use dist::cli::progress::Display;
use dist::cli::{self, Cli, Group, Program};
use dist::graph::Platforms;
use dist::platform::Platform;
use dist::reference::Reference;
use dist::rootfs::Target;
use dist::signature::Keys;
use dist::transfer::{self, Options};
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-pull [-j N] [--platform P | --all-platforms] [--no-unpack | --rootfs DIR [--force]]
                 [--referrers] [--verify-key FILE]... REF

Fetch the image REF names into the store: its index or manifest, config
and layers, several at a time, each verified and resumable (a pull that was
killed goes on where it stopped; objects already in the store are not
fetched again). Then record the name in the namespace and unpack the layers
into snapshots (see dist-rootfs(1)), each checked against the diff IDs of
the image config. When standard error is a terminal a status table there
shows each object; standard output, unless it is that terminal too, gets
one line per event, or one JSON object per event with --json.

With --verify-key, the image is fetched only when a signature of it
verifies with one of the keys (see dist-verify(1)); else nothing is named
or unpacked, the error says why for each signature found, and the exit
status is 9. The signatures that verify are kept with it. With
--referrers, what refers to the image (signatures, SBOMs, attestations)
comes along, and what refers to those; dist-push(1) carries them on.

-j, --jobs N                 objects fetched at once, 1 to 64 (default 4)
    --platform OS/ARCH[/V]   the platform to pull from an index (default: this machine's)
    --all-platforms          fetch every platform of an index (unpack this machine's)
    --no-unpack              fetch and name only
    --rootfs DIR             flatten the image into DIR (missing or empty) instead of snapshots
    --force                  --rootfs: unpack into DIR even if it is not empty
    --referrers              fetch what refers to the image too, recursively
    --verify-key FILE        name the image only if a signature verifies with
                             this public key (repeatable: any will do)
    --json                   one JSON object per event";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-pull",
    about: "pull an image into the store, name it and unpack it",
    help: HELP,
    groups: &[Group::Namespace, Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut jobs, mut platforms, mut all) = (4usize, None::<Platform>, false);
    let (mut no_unpack, mut rootfs, mut json) = (false, None::<std::path::PathBuf>, false);
    let (mut force, mut referrers, mut keys) = (false, false, Vec::new());
    let mut reference = None::<Reference>;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('j') | Long("jobs") => jobs = cli.parse("--jobs")?,
            Long("platform") => platforms = Some(cli.parse("--platform")?),
            Long("all-platforms") => all = true,
            Long("no-unpack") => no_unpack = true,
            Long("rootfs") => rootfs = Some(cli.value()?.into()),
            Long("force") => force = true,
            Long("referrers") => referrers = true,
            Long("verify-key") => keys.push(std::path::PathBuf::from(cli.value()?)),
            Long("json") => json = true,
            Value(v) if reference.is_none() => reference = Some(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let reference = reference.ok_or_else(|| dist::Error::invalid("missing REF"))?;
    if jobs == 0 || jobs > 64 {
        return Err(dist::Error::invalid("--jobs: give 1 to 64"));
    }
    if all && platforms.is_some() {
        return Err(dist::Error::invalid(
            "--platform and --all-platforms exclude each other",
        ));
    }
    if no_unpack && rootfs.is_some() {
        return Err(dist::Error::invalid(
            "--no-unpack and --rootfs exclude each other",
        ));
    }
    let opts = Options {
        platforms: match (all, platforms) {
            (true, _) => Platforms::All,
            (false, p) => Platforms::One(p.unwrap_or_else(Platform::host)),
        },
        jobs,
        unpack: match (no_unpack, rootfs) {
            (true, _) => None,
            (false, Some(dir)) => Some(Target::dir(dir, force)?),
            (false, None) => Some(Target::Snapshots),
        },
        namespace: cli.namespace()?,
        referrers,
        verify: match keys.is_empty() {
            true => None,
            false => Some(Keys::load(&keys)?),
        },
    };
    let store = cli.store_to_write()?;
    let remote = cli.remote()?;
    let display = Display::new(json);
    let pulled = display
        .run(|| transfer::pull(&store, &remote, &reference, &opts, &|e| display.event(e)))?;
    display.finish(&pulled);
    Ok(())
}
