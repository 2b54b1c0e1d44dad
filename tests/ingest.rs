//! dist-ingest: verified, locked, resumable writes into the store.

use crate::util::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;

#[test]
fn ingest_commits_a_read_only_blob_and_prints_its_digest() {
    let env = Env::new("ingest-basic");
    let data = content(300_000, 1);
    let d = digest(&data);
    let out = env.dist("ingest").arg("layer-1").stdin(data.clone()).ok();
    assert_eq!(out.stdout, format!("{d}\n"));
    let blob = env.blob(&d);
    assert_eq!(fs::read(&blob).unwrap(), data);
    assert_eq!(
        fs::metadata(&blob).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert!(
        env.ingests().is_empty(),
        "left in ingest/: {:?}",
        env.ingests()
    );
    // The store is an OCI image layout.
    assert_eq!(
        fs::read_to_string(env.root.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(env.root.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
}

#[test]
fn expected_digest_and_size_are_checked() {
    let env = Env::new("ingest-verify");
    let data = content(70_000, 2);
    let (d, n) = (digest(&data), data.len().to_string());
    env.dist("ingest")
        .args(["--expected-digest", &d, "--expected-size", &n, &d])
        .stdin(data.clone())
        .ok()
        .stdout_has(&d);

    // A wrong digest: corruption, nothing committed, nothing left.
    let other = digest(b"something else");
    env.dist("ingest")
        .args(["--expected-digest", &other, "ref-2"])
        .stdin(data.clone())
        .fails(8)
        .stderr_has(&format!("{other}: content has digest {d}"));
    assert!(!env.blob(&other).exists());
    assert!(env.ingests().is_empty());

    // More bytes than declared: corruption, discarded.
    env.dist("ingest")
        .args(["-s", "1000", "ref-3"])
        .stdin(data.clone())
        .fails(8)
        .stderr_has("more than the expected 1000 bytes");
    assert!(env.ingests().is_empty());

    // Fewer bytes than declared: the input was cut; the data is kept to be resumed.
    let (d4, n4) = (digest(&content(50_000, 4)), "50000");
    env.dist("ingest")
        .args(["-d", &d4, "-s", n4, "ref-4"])
        .stdin(content(20_000, 4))
        .fails(6)
        .stderr_has("input ended after 20000 of 50000 bytes");
    assert_eq!(env.ingests().len(), 1);
    env.dist("ingest")
        .args(["-d", &d4, "-s", n4, "ref-4"])
        .stdin(content(50_000, 4))
        .ok()
        .stdout_has(&d4);
    assert!(env.ingests().is_empty());
    assert_eq!(env.blobs().len(), 2);
}

#[test]
fn content_already_present_is_a_success_that_reads_nothing() {
    let env = Env::new("ingest-exists");
    let data = content(10_000, 3);
    let d = digest(&data);
    env.dist("ingest").arg("a").stdin(data.clone()).ok();
    // With the digest known up front, stdin is not even read.
    env.dist("ingest")
        .args(["--debug", "--expected-digest", &d, "b"])
        .ok()
        .stdout_has(&d)
        .stderr_has("already in the store");
    // Without it, the content is read, verified and found present.
    env.dist("ingest").arg("c").stdin(data).ok().stdout_has(&d);
    // A size that contradicts the committed blob is a conflict.
    env.dist("ingest")
        .args(["--expected-digest", &d, "--expected-size", "5", "d"])
        .fails(5)
        .stderr_has("already in the store with size 10000");
    assert_eq!(env.blobs(), vec![d]);
}

#[test]
fn sha512_digests_are_verified_and_stored_under_their_algorithm() {
    let env = Env::new("ingest-sha512");
    let data = b"abc".to_vec();
    let d = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    env.dist("ingest")
        .args(["--expected-digest", d, "x"])
        .stdin(data)
        .ok()
        .stdout_has(d);
    assert!(env.blob(d).exists());
    env.dist("list").arg("-q").ok().stdout_has(d);
}

#[test]
fn ten_concurrent_ingests_of_one_layer_make_one_blob_and_all_succeed() {
    let env = Env::new("ingest-xargs");
    let data = content(24 << 20, 5);
    let d = digest(&data);
    let file = env.file("layer", &data);
    let n = data.len();
    // The seeds' parallel download: ten writers keyed by the same ref. xargs
    // exits 123 if any of them fails.
    env.sh(&format!(
        "seq 10 | xargs -P10 -I{{}} sh -c 'dist-ingest --expected-digest {d} --expected-size {n} {d} < {} > out.{{}}'",
        file.display()
    ))
    .ok();
    // The same content under ten different refs, without a digest up front.
    env.sh(&format!(
        "seq 10 | xargs -P10 -I{{}} sh -c 'dist-ingest ref-{{}} < {} >> out.all'",
        file.display()
    ))
    .ok();
    assert_eq!(env.blobs(), vec![d.clone()]);
    assert_eq!(fs::read(env.blob(&d)).unwrap(), data);
    assert!(
        env.ingests().is_empty(),
        "left in ingest/: {:?}",
        env.ingests()
    );
    for i in 1..=10 {
        assert_eq!(
            fs::read_to_string(env.dir.join(format!("out.{i}"))).unwrap(),
            format!("{d}\n")
        );
    }
    assert_eq!(
        fs::read_to_string(env.dir.join("out.all")).unwrap(),
        format!("{d}\n").repeat(10)
    );
}

/// Starts an ingest of `reference` fed through a pipe, writes `part` into it and
/// waits until the store holds at least `at_least` bytes of it.
fn start_partial(env: &Env, args: &[&str], part: &[u8], at_least: u64) -> std::process::Child {
    let mut child = env.dist("ingest").args(args).spawn_piped();
    child.stdin.as_mut().unwrap().write_all(part).unwrap();
    wait_until("the ingest to write its data", || {
        fs::read_dir(env.root.join("ingest"))
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| fs::metadata(e.unwrap().path().join("data")).ok())
            .is_some_and(|m| m.len() >= at_least)
    });
    child
}

#[test]
fn killed_ingest_is_shown_active_then_resumed_by_the_next() {
    let env = Env::new("ingest-resume");
    let data = content(12 << 20, 6);
    let d = digest(&data);
    let file = env.file("layer", &data);
    let mut child = start_partial(
        &env,
        &["--expected-digest", &d, &d],
        &data[..5 << 20],
        4 << 20,
    );

    // dist-active shows the live write with its size.
    let active = env.dist("active").ok();
    assert_eq!(
        active.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["REF", "SIZE", "TOTAL", "AGE"]
    );
    assert!(
        active.lines().len() == 2 && active.lines()[1].starts_with(&d),
        "{active:?}"
    );
    let json: serde_json::Value =
        serde_json::from_str(env.dist("active").arg("--json").ok().lines()[0]).unwrap();
    assert_eq!(json["live"], true);
    assert_eq!(json["pid"], child.id());
    assert!(json["offset"].as_u64().unwrap() >= 4 << 20);

    child.kill().unwrap();
    child.wait().unwrap();
    // Interrupted, not gone: the data stays, no longer live.
    let json: serde_json::Value =
        serde_json::from_str(env.dist("active").arg("--json").ok().lines()[0]).unwrap();
    assert_eq!(json["live"], false);
    let kept = json["offset"].as_u64().unwrap();
    assert!(kept >= 4 << 20);
    assert!(env.blobs().is_empty());

    // The next writer of the ref seeks past what is there and commits the right blob.
    env.dist("ingest")
        .args(["--debug", "--expected-digest", &d, &d])
        .stdin_file(&file)
        .ok()
        .stdout_has(&d)
        .stderr_has(&format!("resumed at byte {kept} of {}", data.len()));
    assert_eq!(fs::read(env.blob(&d)).unwrap(), data);
    assert!(env.ingests().is_empty());
    assert!(env.dist("active").arg("--all").ok().lines().len() == 1);
}

#[test]
fn a_piped_resume_keeps_only_the_prefix_both_inputs_share() {
    let env = Env::new("ingest-resume-pipe");
    let old = content(6 << 20, 7);
    let mut child = start_partial(&env, &["same-ref"], &old[..3 << 20], 3 << 20);
    child.kill().unwrap();
    child.wait().unwrap();

    // Same content through a pipe, no digest given: the data is compared as it is skipped.
    let out = env
        .dist("ingest")
        .args(["--debug", "same-ref"])
        .stdin(old.clone())
        .ok();
    assert_eq!(out.stdout, format!("{}\n", digest(&old)));
    out.stderr_has(&format!("resumed at byte {}", 3 << 20));

    // Other content under a ref whose old data differs after 1 MiB: only that MiB is kept.
    let mut child = start_partial(&env, &["other-ref"], &old[..3 << 20], 3 << 20);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut new = old.clone();
    new[(1 << 20) + 5] ^= 0xff;
    let out = env
        .dist("ingest")
        .args(["--debug", "other-ref"])
        .stdin(new.clone())
        .ok();
    assert_eq!(out.stdout, format!("{}\n", digest(&new)));
    out.stderr_has(&format!("resumed at byte {}", (1 << 20) + 5));
    assert_eq!(fs::read(env.blob(&digest(&new))).unwrap(), new);
    assert!(env.ingests().is_empty());
}

#[test]
fn a_second_writer_waits_for_the_lock_or_fails_with_no_wait() {
    let env = Env::new("ingest-lock");
    let data = content(3 << 20, 8);
    let d = digest(&data);
    let mut first = start_partial(
        &env,
        &["--expected-digest", &d, "shared"],
        &data[..1 << 20],
        1 << 20,
    );

    env.dist("ingest")
        .args(["--no-wait", "shared"])
        .stdin(data.clone())
        .fails(6)
        .stderr_has(&format!("ref shared: locked by pid {} since", first.id()));
    // A waiting writer with a deadline gives up with "unavailable".
    env.dist("ingest")
        .args(["--timeout", "300ms", "shared"])
        .stdin(data.clone())
        .fails(6)
        .stderr_has("timed out after 300ms");

    // A waiting writer finishes once the first one has committed.
    let waiter = env
        .dist("ingest")
        .args(["--expected-digest", &d, "shared"])
        .stdin(data.clone());
    let waiter = std::thread::spawn(move || waiter.run());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut pipe = first.stdin.take().unwrap();
    pipe.write_all(&data[1 << 20..]).unwrap();
    drop(pipe);
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    waiter.join().unwrap().code(0).stdout_has(&d);
    assert_eq!(env.blobs(), vec![d]);
    assert!(env.ingests().is_empty());
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    let env = Env::new("ingest-usage");
    let cases: &[(&[&str], &str)] = &[
        (&[], "missing REF"),
        (&["a", "b"], "unexpected argument 'b'"),
        (
            &["--expected-digest", "sha256:abc", "r"],
            "--expected-digest: invalid digest 'sha256:abc'",
        ),
        (&["--expected-digest"], "missing argument"),
        (
            &["--expected-size", "12k", "r"],
            "--expected-size: invalid value '12k'",
        ),
        (
            &["--expected-size", "-1", "r"],
            "--expected-size: invalid value '-1'",
        ),
        (&["--bogus", "r"], "unknown option '--bogus'"),
        (
            &["--timeout", "soon", "r"],
            "--timeout: invalid duration 'soon'",
        ),
        (&["", "--no-wait"], "the ref must not be empty"),
    ];
    for (args, why) in cases {
        env.dist("ingest")
            .args(*args)
            .fails(2)
            .stderr_has(why)
            .stderr_has("Try 'dist-ingest --help'");
    }
    assert!(!env.root.exists(), "a usage error created the store");
}

#[test]
fn a_root_that_is_a_file_or_unreadable_is_reported_not_panicked() {
    let env = Env::new("ingest-badroot");
    let file = env.file("plain-file", b"x");
    for prog in ["ingest", "list", "active"] {
        let cmd = env.dist(prog).args(["--root", file.to_str().unwrap()]);
        let cmd = if prog == "ingest" {
            cmd.arg("r").stdin("data")
        } else {
            cmd
        };
        cmd.fails(5).stderr_has("plain-file: not a directory");
    }
    let locked = env.dir.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything: drop to nobody to see the permission error.
    let prefix: &[&str] = if is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let run = |prog: &str, args: &str| {
        let as_user = prefix.join(" ");
        env.sh(&format!(
            "echo data | {as_user} dist-{prog} --root {}/store {args}",
            locked.display()
        ))
        .run()
    };
    run("ingest", "r").code(7).stderr_has("permission denied");
    run("list", "").code(7).stderr_has("permission denied");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_nothing_in_blobs() {
    let env = Env::new("ingest-enospc");
    let mnt = env.dir.join("small");
    fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted || !is_root(), "root could not mount a small tmpfs");
    if !mounted {
        eprintln!("NOTE: a_full_disk test needs root to mount a 1 MiB tmpfs; checked nothing");
        return;
    }
    let root = mnt.join("store");
    let out = env
        .dist("ingest")
        .args(["--root", root.to_str().unwrap(), "big"])
        .stdin(content(3 << 20, 9))
        .run();
    let committed = fs::read_dir(root.join("blobs/sha256"))
        .map(|rd| rd.count())
        .unwrap_or(0);
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    out.code(6)
        .stderr_has("no space left on device")
        .stderr_has("kept for the next writer to resume (dist-gc --ingest-age 0 frees them)");
    assert_eq!(committed, 0);
}

#[test]
fn a_shorter_stream_resuming_a_sized_write_keeps_what_was_there() {
    let env = Env::new("ingest-short-resume");
    let data = content(4 << 20, 11);
    let (d, n) = (digest(&data), data.len().to_string());
    env.dist("ingest")
        .args(["-d", &d, "-s", &n, "r"])
        .stdin(data[..3 << 20].to_vec())
        .fails(6);
    // A second, shorter attempt through a pipe agrees with what is kept: nothing is lost.
    env.dist("ingest")
        .args(["-d", &d, "-s", &n, "r"])
        .stdin(data[..1 << 20].to_vec())
        .fails(6);
    let json: serde_json::Value =
        serde_json::from_str(env.dist("active").args(["--all", "--json"]).ok().lines()[0]).unwrap();
    assert_eq!(json["offset"], 3 << 20);
    env.dist("ingest")
        .args(["-d", &d, "-s", &n, "r"])
        .stdin(data.clone())
        .ok()
        .stdout_has(&d);
}
