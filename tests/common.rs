//! What every program shares: --help, --version, usage errors, exit codes.

use crate::util::*;

/// Every program file: the separate programs and `dist`.
pub fn programs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bins"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// The separate programs, `dist-NAME`.
pub fn separate_programs() -> Vec<String> {
    programs()
        .into_iter()
        .filter(|p| p.starts_with("dist-"))
        .collect()
}

#[test]
fn every_program_has_help_and_version() {
    let env = Env::new("common-help");
    for prog in separate_programs() {
        let name = prog.trim_start_matches("dist-");
        let help = env.dist(name).arg("--help").ok();
        assert!(
            help.stdout.starts_with(&format!("usage: {prog}")),
            "{help:?}"
        );
        let help = help.stdout_has("--root DIR").stdout_has("--timeout");
        assert_eq!(env.dist(name).arg("-h").ok().stdout, help.stdout);
        let version = env.dist(name).arg("--version").ok();
        let words: Vec<&str> = version.stdout.split_whitespace().collect();
        assert!(
            words.len() == 3 && words[0] == prog && words[1] == "dist" && !words[2].is_empty(),
            "{version:?}"
        );
        assert_eq!(env.dist(name).arg("-v").ok().stdout, version.stdout);
        env.dist(name)
            .arg("--no-such-flag")
            .fails(2)
            .stderr_has(&format!("{prog}: unknown option '--no-such-flag'"));
        env.dist(name)
            .args(["--root"])
            .fails(2)
            .stderr_has("missing argument");
    }
}

#[test]
fn the_root_comes_from_the_flag_then_the_environment_then_the_directory() {
    let env = Env::new("common-root");
    env.dist("ingest").arg("r").stdin("in-env").ok();
    env.dist("ingest")
        .args(["--root", "other", "r"])
        .stdin("in-flag")
        .ok();
    assert!(
        env.dir
            .join("other/blobs/sha256")
            .join(&digest(b"in-flag")[7..])
            .exists()
    );
    env.dist("ingest")
        .arg("r")
        .env("DIST_ROOT", "")
        .stdin("in-cwd")
        .ok();
    assert!(
        env.dir
            .join(".content/blobs/sha256")
            .join(&digest(b"in-cwd")[7..])
            .exists()
    );
    assert_eq!(env.blobs(), vec![digest(b"in-env")]);
}

/// The exit code table of dist.7 is the one the library uses.
#[test]
fn exit_codes_are_documented_in_dist_7() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/dist.7")).unwrap();
    for kind in dist::Kind::ALL {
        let row = format!("\n{}@{}@", kind.exit_code(), kind.name());
        assert!(page.contains(&row), "dist.7 lacks the row {row:?}");
    }
}
