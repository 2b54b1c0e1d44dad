//! The multi-call `dist`: `dist CMD` and a link named `dist-CMD` answer as
//! the separate program does, naming the command as it was typed.

use crate::common::separate_programs;
use crate::util::*;
use std::path::PathBuf;

/// A directory of links `dist-NAME -> dist`, one per program.
fn links(env: &Env) -> PathBuf {
    let dir = env.dir.join("links");
    std::fs::create_dir_all(&dir).unwrap();
    for prog in separate_programs() {
        std::os::unix::fs::symlink(bin_dir().join("dist"), dir.join(&prog)).unwrap();
    }
    dir
}

#[test]
fn dist_lists_every_command_and_dispatches_help() {
    let env = Env::new("multicall-help");
    let help = env.bin("dist").args(["--help"]).ok();
    for prog in separate_programs() {
        let cmd = prog.trim_start_matches("dist-");
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "dist --help lacks {cmd}:\n{}",
            help.stdout
        );
        let own = env.dist(cmd).arg("--help").ok().stdout;
        let via = env.bin("dist").args([cmd, "--help"]).ok().stdout;
        assert_eq!(via, own.replace(&prog, &format!("dist {cmd}")), "{cmd}");
        let help_cmd = env.bin("dist").args(["help", cmd]).ok().stdout;
        assert_eq!(help_cmd, via, "dist help {cmd}");
    }
    let version = env.bin("dist").args(["--version"]).ok();
    assert!(version.stdout.starts_with("dist "), "{version:?}");
    env.bin("dist")
        .args(["frobnicate"])
        .fails(2)
        .stderr_has("dist: unknown command 'frobnicate'");
    env.bin("dist").fails(2).stderr_has("usage: dist COMMAND");
}

#[test]
fn links_and_subcommands_answer_like_the_separate_programs() {
    let env = Env::new("multicall-links");
    let links = links(&env);
    let via_link = |name: &str, args: &[&str]| {
        env.sh(&format!(
            "exec {} {}",
            links.join(name).display(),
            args.join(" ")
        ))
    };
    // Every program's --version and usage errors, by link and by subcommand.
    for prog in separate_programs() {
        let cmd = prog.trim_start_matches("dist-");
        let own = env.dist(cmd).arg("--version").ok().stdout;
        assert_eq!(via_link(&prog, &["--version"]).ok().stdout, own);
        let typed = format!("dist {cmd}");
        let e = env.bin("dist").args([cmd, "--no-such-flag"]).fails(2);
        assert!(
            e.stderr
                .contains(&format!("{typed}: unknown option '--no-such-flag'"))
                && e.stderr.contains(&format!("Try '{typed} --help'")),
            "{e:?}"
        );
        via_link(&prog, &["--no-such-flag"])
            .fails(2)
            .stderr_has(&format!("{prog}: unknown option '--no-such-flag'"));
    }
    // Real work: the same store through the three forms.
    let data = content(100_000, 3);
    let d = digest(&data);
    let ingested = env
        .bin("dist")
        .args(["ingest", "r1"])
        .stdin(data.clone())
        .ok();
    assert_eq!(ingested.stdout.trim(), d);
    let listed = env.dist("list").arg("-q").ok().stdout;
    assert_eq!(via_link("dist-list", &["-q"]).ok().stdout, listed);
    assert_eq!(env.bin("dist").args(["list", "-q"]).ok().stdout, listed);
    let path = env.bin("dist").args(["path", "-n", &d]).ok().stdout;
    assert_eq!(std::fs::read(path.trim()).unwrap(), data);
    let absent = format!("sha256:{}", "0".repeat(64));
    via_link("dist-path", &[&absent])
        .fails(3)
        .stderr_has("dist-path: sha256:000");
    env.bin("dist").args(["delete", &d]).ok();
    assert!(env.blobs().is_empty());
}
