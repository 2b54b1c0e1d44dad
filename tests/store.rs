//! Where the store is: programs that only read say "no store at DIR" and
//! never make one; programs that commit make it on the first write; a
//! --root or $DIST_ROOT that is likely a mistake is named as one.

use crate::image::{Format, image, layer};
use crate::registry::{Auth, Registry};
use crate::util::*;

#[test]
fn programs_that_only_read_say_there_is_no_store_and_make_none() {
    let env = Env::new("store-missing");
    let absent = format!("sha256:{}", "0".repeat(64));
    let readers: Vec<(&str, Vec<&str>)> = vec![
        ("list", vec![]),
        ("active", vec![]),
        ("path", vec![&absent]),
        ("delete", vec![&absent]),
        ("images", vec!["ls"]),
        ("images", vec!["check", "redis:7"]),
        ("rootfs", vec!["ls"]),
        ("gc", vec![]),
        ("gc", vec!["--dry-run"]),
    ];
    for (prog, args) in &readers {
        env.dist(prog)
            .args(args)
            .fails(3)
            .stderr_has(&format!("no store at {}", env.root.display()))
            .stderr_has("(from $DIST_ROOT)");
        assert!(!env.root.exists(), "dist-{prog} made a store");
    }
    // Run where no store is, with no --root and no $DIST_ROOT.
    env.dist("gc")
        .env("DIST_ROOT", "")
        .fails(3)
        .stderr_has("no store at")
        .stderr_has(".content; --root DIR or $DIST_ROOT");
    assert!(
        !env.dir.join(".content").exists(),
        "dist-gc made ./.content"
    );
    // A likely typo of DIST_ROOT is named.
    env.dist("list")
        .env("DIST_ROOT", "")
        .env("DIST_ROT", &env.root)
        .fails(3)
        .stderr_has("$DIST_ROT is set: a typo of DIST_ROOT?");
    // A failed pull makes no store either.
    env.dist("pull")
        .args(["--idle-timeout", "2s", "127.0.0.1:1/nothing/here:v1"])
        .fails(6);
    assert!(!env.root.exists(), "a failed pull made a store");
}

#[test]
fn a_root_that_holds_the_store_in_dot_content_is_named_as_a_mistake() {
    let env = Env::new("store-parent");
    let inner = env.dir.join("project/.content");
    env.dist("ingest")
        .args(["--root", inner.to_str().unwrap(), "r"])
        .stdin("data")
        .ok();
    let parent = env.dir.join("project");
    env.dist("list")
        .args(["--root", parent.to_str().unwrap()])
        .fails(3)
        .stderr_has(&format!(
            "no store at {}; {} is one: --root {}",
            parent.display(),
            inner.display(),
            inner.display()
        ));
    let reg = Registry::start(Auth::None);
    let img = image(Format::Oci, "linux", "amd64", vec![layer(&[("a", b"a")])]);
    reg.push_image("p/app", "v1", &img);
    env.dist("pull")
        .args(["--no-unpack", "--root", parent.to_str().unwrap()])
        .arg(format!("{}/p/app:v1", reg.host()))
        .fails(5)
        .stderr_has("is no store but holds one: --root");
    assert!(!parent.join("blobs").exists() && !parent.join("index.json").exists());
}

#[test]
fn the_first_write_makes_the_store_and_debug_says_where() {
    let env = Env::new("store-create");
    let out = env.dist("ingest").args(["--debug", "r"]).stdin("data").ok();
    out.stderr_has(&format!("created a store at {}", env.root.display()));
    assert!(env.root.join("oci-layout").is_file());
    let again = env
        .dist("ingest")
        .args(["--debug", "r2"])
        .stdin("more")
        .ok();
    assert!(!again.stderr.contains("created a store"), "{again:?}");
    assert_eq!(env.dist("list").arg("-q").ok().lines().len(), 2);
}
