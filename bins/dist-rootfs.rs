//! dist-rootfs: snapshots of unpacked layers and their mount commands
//! (seeds 38a6f90f2b, 3a20dd41d5, b1bc82726f; DESIGN.md, "Programs").
use dist::cli::table::{Format, human_age, print_list};
use dist::cli::{self, Cli, Group, Program};
use dist::digest::Digest;
use dist::images::Images;
use dist::platform::Platform;
use dist::rootfs::{self, Snapshots, Step, Target};
use lexopt::Arg::*;
use std::io::Write;
use std::path::PathBuf;

const HELP: &str = "\
usage: dist-rootfs [-n NS] unpack [--platform P] [--rootfs DIR [--force]] NAME|DIGEST
       dist-rootfs prepare [--view] CHAINID KEY [TARGET]
       dist-rootfs mount KEY [TARGET]
       dist-rootfs ls [-q] [--json]
       dist-rootfs rm KEY...

Snapshots hold an image's layers unpacked, one per layer, keyed by chain ID,
each in overlayfs form (whiteouts are 0:0 character devices, opaque
directories carry trusted.overlay.opaque), which takes root when a layer
deletes anything (CAP_SYS_ADMIN; and CAP_MKNOD before Linux 5.8).

unpack makes the snapshots of an image in the store (by name or by the
digest of its manifest or index) and prints its chain ID; with --rootfs it
applies every layer to DIR instead. prepare makes a writable snapshot KEY on
top of CHAINID and prints the mount command for it (--view: read-only: a
bind mount of a single layer, an overlay of several); TARGET defaults to the
snapshot's own mnt directory. mount prints that command again. ls lists
KEY KIND PARENT AGE. rm removes snapshots no other one sits on.

    --platform OS/ARCH[/V]   unpack: the platform of an index (default: this machine's)
    --rootfs DIR         unpack: flatten into DIR (missing or empty), no snapshots
    --force              unpack --rootfs: into DIR even if it is not empty
    --view               prepare: read-only
-q, --quiet              ls: print only the keys
    --json               ls: one JSON object per snapshot";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-rootfs",
    about: "unpack images into snapshots; print mount commands",
    help: HELP,
    groups: &[Group::Namespace],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut platform, mut rootfs) = (None::<Platform>, None::<PathBuf>);
    let (mut view, mut format, mut words) = (false, Format::Table, Vec::<String>::new());
    let mut force = false;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("platform") => platform = Some(cli.parse("--platform")?),
            Long("rootfs") => rootfs = Some(cli.value()?.into()),
            Long("view") => view = true,
            Long("force") => force = true,
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Value(v) => words.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let store = cli.store()?;
    let snapshots = Snapshots::new(&store);
    let (command, args) = words
        .split_first()
        .ok_or_else(|| dist::Error::invalid("missing command: unpack, prepare, mount, ls or rm"))?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = |what: &str| dist::Error::invalid(format!("{command}: give {what}"));
    match (command.as_str(), args.as_slice()) {
        ("unpack", [what]) => {
            let root = Images::new(&store, cli.namespace()?).root_of(what)?;
            let platform = platform.unwrap_or_else(Platform::host);
            let target = match rootfs {
                Some(dir) => Target::dir(dir, force)?,
                None => Target::Snapshots,
            };
            let chain = rootfs::unpack_image(&store, &root, &platform, &target, &|step| {
                if let Step::Applied(u) = step {
                    cli.debug(format!("layer {}: chain {}", u.layer.digest, u.chain_id))
                }
            })?;
            let chain = chain.map(|c| c.to_string()).unwrap_or_default();
            writeln!(cli.out(), "{chain}")?;
        }
        ("unpack", _) => return Err(usage("one NAME or DIGEST")),
        ("prepare", [chain, key, target @ ..]) if target.len() <= 1 => {
            let chain: Digest = chain.parse()?;
            let target = target.first().map(PathBuf::from);
            let mount = snapshots.prepare(&chain, key, target.as_deref(), view)?;
            writeln!(cli.out(), "{mount}")?;
        }
        ("prepare", _) => return Err(usage("CHAINID KEY [TARGET]")),
        ("mount" | "mounts", [key, target @ ..]) if target.len() <= 1 => {
            let target = target.first().map(PathBuf::from);
            let mount = snapshots.mount(key, target.as_deref())?;
            writeln!(cli.out(), "{mount}")?;
        }
        ("mount" | "mounts", _) => return Err(usage("KEY [TARGET]")),
        ("ls" | "list", []) => {
            let all = snapshots.list()?;
            print_list(
                &mut cli.out(),
                format,
                &["KEY", "KIND", "PARENT", "AGE"],
                &all,
                |s| {
                    vec![
                        s.key.clone(),
                        s.kind.to_string(),
                        s.parent
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "-".into()),
                        human_age(s.created),
                    ]
                },
            )?;
        }
        ("ls" | "list", _) => return Err(usage("no argument")),
        ("rm" | "remove", keys) if !keys.is_empty() => {
            for key in keys {
                if let Err(e) = snapshots.remove(key) {
                    cli.report(&e);
                }
            }
        }
        ("rm" | "remove", _) => return Err(usage("KEY...")),
        (other, _) => {
            return Err(dist::Error::invalid(format!(
                "unknown command '{other}': use unpack, prepare, mount, ls or rm"
            )));
        }
    }
    Ok(())
}
