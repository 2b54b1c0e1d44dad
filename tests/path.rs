//! dist-path: where blobs live.

use crate::util::*;

#[test]
fn path_prints_digest_and_path_and_reports_missing_ones() {
    let env = Env::new("path");
    let (a, b) = (digest(b"a"), digest(b"b"));
    env.dist("ingest").arg("a").stdin("a").ok();
    env.dist("ingest").arg("b").stdin("b").ok();
    let pa = env.blob(&a);
    let out = env.dist("path").args([&a, &b]).ok();
    assert_eq!(
        out.lines(),
        [
            format!("{a} {}", pa.display()),
            format!("{b} {}", env.blob(&b).display())
        ]
    );
    assert_eq!(
        env.dist("path").args(["-n", &a]).ok().stdout,
        format!("{}\n", pa.display())
    );

    // A missing digest is reported; the others are still printed; exit "not found".
    let missing = digest(b"missing");
    let out = env
        .dist("path")
        .args(["-n", &missing, &a])
        .fails(3)
        .stderr_has(&format!("{missing}: not found"));
    assert_eq!(out.stdout, format!("{}\n", pa.display()));
    // A malformed one is a usage error before anything is printed.
    let out = env.dist("path").args([&a, "sha256:xyz"]).fails(2);
    assert_eq!(out.stdout, "");
    env.dist("path").fails(2).stderr_has("missing DIGEST");
}

#[test]
fn the_seed_pipeline_applies_path_output_as_a_file() {
    let env = Env::new("path-pipeline");
    env.dist("ingest").arg("x").stdin("hello\n").ok();
    // A relative --root still yields absolute paths, usable from anywhere.
    let out = env
        .sh("cd / && cat \"$(dist-path --root \"$DIST_ROOT\" -n $(dist-list -q))\"")
        .ok();
    assert_eq!(out.stdout, "hello\n");
    let rel = env
        .sh("dist-path --root store -n $(dist-list --root store -q)")
        .ok();
    assert!(rel.stdout.starts_with('/'), "{rel:?}");
}
