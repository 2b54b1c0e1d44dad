//! dist: every dist-NAME program in one binary (busybox and uutils'
//! `coreutils` dispatch the same way). `dist pull REF` runs dist-pull; so
//! does a link to `dist` named `dist-pull`. Each program's code is its own
//! file, included here as a module: one copy, two builds.
use dist::cli::{self, Program};

#[path = "dist-active.rs"]
mod active;
#[path = "dist-apply.rs"]
mod apply;
#[path = "dist-delete.rs"]
mod delete;
#[path = "dist-export.rs"]
mod export;
#[path = "dist-fetch.rs"]
mod fetch;
#[path = "dist-gc.rs"]
mod gc;
#[path = "dist-images.rs"]
mod images;
#[path = "dist-import.rs"]
mod import;
#[path = "dist-ingest.rs"]
mod ingest;
#[path = "dist-inspect.rs"]
mod inspect;
#[path = "dist-list.rs"]
mod list;
#[path = "dist-login.rs"]
mod login;
#[path = "dist-logout.rs"]
mod logout;
#[path = "dist-namespaces.rs"]
mod namespaces;
#[path = "dist-path.rs"]
mod path;
#[path = "dist-pull.rs"]
mod pull;
#[path = "dist-push.rs"]
mod push;
#[path = "dist-referrers.rs"]
mod referrers;
#[path = "dist-resolve.rs"]
mod resolve;
#[path = "dist-rootfs.rs"]
mod rootfs;
#[path = "dist-verify.rs"]
mod verify;

/// Every program, in the order `dist --help` lists them.
const PROGRAMS: &[&Program] = &[
    &resolve::PROGRAM,
    &fetch::PROGRAM,
    &inspect::PROGRAM,
    &pull::PROGRAM,
    &push::PROGRAM,
    &referrers::PROGRAM,
    &verify::PROGRAM,
    &ingest::PROGRAM,
    &apply::PROGRAM,
    &images::PROGRAM,
    &export::PROGRAM,
    &import::PROGRAM,
    &namespaces::PROGRAM,
    &rootfs::PROGRAM,
    &list::PROGRAM,
    &active::PROGRAM,
    &path::PROGRAM,
    &delete::PROGRAM,
    &gc::PROGRAM,
    &login::PROGRAM,
    &logout::PROGRAM,
];

fn main() -> std::process::ExitCode {
    cli::multicall(PROGRAMS)
}
