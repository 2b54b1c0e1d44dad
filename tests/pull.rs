//! dist-pull against a real registry: multi-layer images and indexes, names
//! per namespace, resume after kill -9, snapshots in overlay form and their
//! mounts, --rootfs, the three forms of output, gc racing pulls.

use crate::apply::{dir, file, listing, tar, tree, wh, xattr};
use crate::image::*;
use crate::registry::{Auth, Registry};
use crate::util::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Three layers: files, then whiteouts and an opaque directory over them,
/// then more files; what every tool must agree on.
pub fn layered_image(format: Format) -> Image {
    let l1 = layer_of_tar(tar(&[
        dir("etc/"),
        file("etc/os-release", b"ID=test\n"),
        file("etc/gone", b"gone"),
        dir("var/"),
        dir("var/cache/"),
        file("var/cache/old", b"old"),
        dir("usr/"),
        dir("usr/bin/"),
        file("usr/bin/tool", b"v1"),
    ]));
    let l2 = layer_of_tar(tar(&[
        dir("etc/"),
        wh("etc/.wh.gone"),
        dir("var/cache/"),
        wh("var/cache/.wh..wh..opq"),
        file("var/cache/new", b"new"),
        // Parents named, as real layers do: else their times are the
        // moment of applying, which differs between two applies.
        dir("usr/"),
        dir("usr/bin/"),
        file("usr/bin/tool", b"v2"),
    ]));
    let l3 = layer_of_tar(tar(&[dir("srv/"), file("srv/data", &content(70_000, 3))]));
    image(format, "linux", host_arch(), vec![l1, l2, l3])
}

/// The architecture of this machine as OCI names it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The JSON events of a `--json` pull.
pub fn events(out: &Output) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| out.fail(&format!("not JSON: {l}: {e}")))
        })
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The sum of the sizes of everything an image is made of.
pub fn image_size(img: &Image) -> u64 {
    img.manifest.len() as u64
        + img.config.len() as u64
        + img.layers.iter().map(|l| l.size).sum::<u64>()
}

fn chain_ids(img: &Image) -> Vec<String> {
    let diff_ids: Vec<dist::digest::Digest> = img
        .layers
        .iter()
        .map(|l| l.diff_id.parse().unwrap())
        .collect();
    dist::rootfs::chain_ids(&diff_ids)
        .iter()
        .map(|d| d.to_string())
        .collect()
}

fn snapshot_fs(env: &Env, chain: &str) -> std::path::PathBuf {
    env.root
        .join("snapshots")
        .join(chain.trim_start_matches("sha256:"))
        .join("fs")
}

#[test]
fn a_multi_layer_image_is_fetched_named_and_unpacked_into_snapshots() {
    let env = Env::new("pull-basic");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("app/web", "1.0", &img);
    let name = format!("{}/app/web:1.0", reg.host());

    let out = env.dist("pull").arg(&name).ok();
    // Plain output, one line per event, every object named.
    out.has_lines(&[
        &format!("{name}: resolved {}", img.digest),
        &format!("manifest-{}: done", img.digest),
        &format!("config-{}: done", img.config_digest),
        &format!("{name}: named {}", img.digest),
    ]);
    let chains = chain_ids(&img);
    for (l, chain) in img.layers.iter().zip(&chains) {
        out.has_lines(&[
            &format!("layer-{}: done", l.digest),
            &format!("layer-{}: unpacked {chain}", l.digest),
        ]);
        assert_eq!(fs::read(env.blob(&l.digest)).unwrap(), l.blob);
    }
    assert!(
        out.stdout.lines().last().unwrap().starts_with("elapsed: "),
        "{}",
        out.stdout
    );
    assert!(env.ingests().is_empty());

    // The name, with the whole image's size.
    let ls = env.dist("images").arg("ls").ok();
    assert_eq!(
        ls.lines()[0].split_whitespace().collect::<Vec<_>>(),
        ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"]
    );
    let row: Vec<&str> = ls.lines()[1].split_whitespace().collect();
    assert_eq!(
        &row[..3],
        [name.as_str(), OCI_MANIFEST, img.digest.as_str()]
    );
    let platform = format!("linux/{}", host_arch());
    assert_eq!(&row[row.len() - 2..], [platform.as_str(), "-"]);
    let json = env.dist("images").args(["ls", "--json"]).ok();
    let v: Value = serde_json::from_str(json.lines()[0]).unwrap();
    assert_eq!(v["size"], image_size(&img));
    assert_eq!(v["name"], name.as_str());
    assert_eq!(
        env.dist("images").args(["ls", "-q"]).ok().stdout,
        format!("{name}\n")
    );
    env.dist("images")
        .args(["check", &name])
        .ok()
        .stdout_has("complete");

    // One snapshot per layer, in overlay form.
    let ls = env.dist("rootfs").args(["ls", "-q"]).ok();
    let mut want = chains.clone();
    want.sort();
    assert_eq!(ls.lines(), want);
    let (bottom, middle) = (snapshot_fs(&env, &chains[0]), snapshot_fs(&env, &chains[1]));
    assert_eq!(fs::read(bottom.join("etc/gone")).unwrap(), b"gone");
    let whiteout = fs::symlink_metadata(middle.join("etc/gone")).unwrap();
    assert!(
        whiteout.file_type().is_char_device() && whiteout.rdev() == 0,
        "whiteout as 0:0 device"
    );
    assert_eq!(
        xattr(&middle.join("var/cache"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(
        !middle.join("etc/os-release").exists(),
        "a snapshot holds only its layer"
    );

    // A second pull fetches and unpacks nothing.
    let again = env.dist("pull").arg(&name).ok();
    assert!(!again.stdout.contains(": done"), "{}", again.stdout);
    assert!(!again.stdout.contains(": unpacked sha"), "{}", again.stdout);
}

/// The tree `layers` make when each is applied with dist-apply in turn.
fn applied(env: &Env, img: &Image, dir: &str) -> std::path::PathBuf {
    let root = env.dir.join(dir);
    for l in &img.layers {
        let f = env.file("layer.tgz", &l.blob);
        env.dist("apply")
            .arg(&root)
            .stdin_file(&f)
            .ok()
            .stdout_has(&l.diff_id);
    }
    root
}

#[test]
fn rootfs_flattens_the_image_as_dist_apply_does_layer_by_layer() {
    let env = Env::new("pull-rootfs");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Docker);
    reg.push_image("app/flat", "v1", &img);
    let name = format!("{}/app/flat:v1", reg.host());
    let dir = env.dir.join("initramfs");
    env.dist("pull")
        .args(["--rootfs", dir.to_str().unwrap(), &name])
        .ok();
    let by_apply = applied(&env, &img, "by-apply");
    assert_eq!(tree(&dir), tree(&by_apply));
    assert_eq!(listing(&dir), listing(&by_apply),);
    assert!(!dir.join("etc/gone").exists() && dir.join("var/cache/new").exists());
    assert!(
        !env.root.join("snapshots").exists()
            || fs::read_dir(env.root.join("snapshots")).unwrap().all(|e| {
                let n = e.unwrap().file_name();
                n == "tmp"
            }),
        "--rootfs makes no snapshots"
    );
    // The name is recorded all the same.
    env.dist("images").args(["ls", "-q"]).ok().stdout_has(&name);
}

#[test]
fn prepared_snapshots_mount_as_the_flattened_tree() {
    if !is_root() {
        // Mounting needs root; the unprivileged error is tested below.
        return;
    }
    let env = Env::new("pull-mount");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("app/mnt", "v1", &img);
    let name = format!("{}/app/mnt:v1", reg.host());
    env.dist("pull").arg(&name).ok();
    let top = chain_ids(&img).pop().unwrap();
    let unpack = env.dist("rootfs").args(["unpack", &name]).ok();
    assert_eq!(unpack.stdout.trim(), top);

    let mnt = env.dir.join("mnt");
    fs::create_dir(&mnt).unwrap();
    let cmd = env
        .dist("rootfs")
        .args(["prepare", &top, "work1", mnt.to_str().unwrap()])
        .ok();
    assert!(
        cmd.stdout
            .starts_with("mount -t overlay overlay -o lowerdir="),
        "{}",
        cmd.stdout
    );
    env.sh(cmd.stdout.trim()).ok();
    let by_apply = applied(&env, &img, "by-apply");
    let merged = listing(&mnt);
    // Mounted elsewhere, as an upper dir: not removed.
    env.dist("rootfs")
        .args(["rm", "work1"])
        .fails(5)
        .stderr_has("unmount it first");
    env.sh(&format!("umount {}", mnt.display())).ok();
    assert_eq!(merged, listing(&by_apply));
    // Writes went to the writable snapshot, not to a layer.
    let ls = env.dist("rootfs").arg("ls").ok();
    assert!(
        ls.lines()
            .iter()
            .any(|l| l.starts_with("work1") && l.contains("active") && l.contains(&top)),
        "{}",
        ls.stdout
    );

    // A read-only view of the bottom layer alone is a bind mount.
    let bottom = chain_ids(&img)[0].clone();
    let view = env
        .dist("rootfs")
        .args(["prepare", "--view", &bottom, "view1"])
        .ok();
    assert!(view.stdout.starts_with("mount -t bind "), "{}", view.stdout);
    assert!(view.stdout.contains("-o bind,ro "), "{}", view.stdout);
    env.sh(view.stdout.trim()).ok();
    let at = env.root.join("snapshots/active/view1/mnt");
    assert_eq!(fs::read(at.join("etc/gone")).unwrap(), b"gone");
    // Mounted: not removed.
    env.dist("rootfs")
        .args(["rm", "view1"])
        .fails(5)
        .stderr_has("unmount it first");
    env.sh(&format!("umount {}", at.display())).ok();
    // The bottom layer carries others: not removed while they sit on it.
    env.dist("rootfs")
        .args(["rm", &bottom])
        .fails(5)
        .stderr_has("in use by");
    env.dist("rootfs").args(["rm", "view1", "work1"]).ok();
    env.dist("rootfs").args(["mount", "work1"]).fails(3);
}

#[test]
fn without_privileges_snapshots_fail_clearly_and_rootfs_still_works() {
    if !is_root() {
        return; // setpriv needs root to become nobody
    }
    let env = Env::new("pull-unprivileged");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("app/user", "v1", &img);
    let name = format!("{}/app/user:v1", reg.host());
    fs::create_dir_all(&env.root).unwrap();
    let flat = env.dir.join("flat");
    fs::create_dir_all(&flat).unwrap();
    env.sh(&format!(
        "chown -R nobody: {} {}; chmod 755 {}",
        env.root.display(),
        flat.display(),
        env.dir.display()
    ))
    .ok();
    let as_nobody = |args: &str| {
        env.sh(&format!(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all dist-pull {args}"
        ))
    };
    as_nobody(&name)
        .fails(7)
        .stderr_has("snapshots need CAP_")
        .stderr_has("--rootfs");
    as_nobody(&format!("--rootfs {} {name}", flat.display())).ok();
    assert_eq!(fs::read(flat.join("usr/bin/tool")).unwrap(), b"v2");
    assert!(!flat.join("etc/gone").exists());
}

#[test]
fn an_index_gives_this_machines_platform_unless_told_another() {
    let env = Env::new("pull-index");
    let reg = Registry::start(Auth::None);
    let other = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let mine = image(
        Format::Oci,
        "linux",
        host_arch(),
        vec![layer(&[("which", b"mine")])],
    );
    let theirs = image(
        Format::Oci,
        "linux",
        other,
        vec![layer(&[("which", b"theirs")])],
    );
    let idx = index(Format::Oci, vec![theirs.clone(), mine.clone()]);
    reg.push_index("multi/arch", "latest", &idx);
    let name = format!("{}/multi/arch:latest", reg.host());

    let out = env.dist("pull").args(["--json", &name]).ok();
    let ev = events(&out);
    let fetched: Vec<&str> = of(&ev, "fetched")
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert!(
        fetched.contains(&mine.digest.as_str()) && !fetched.contains(&theirs.digest.as_str()),
        "{}",
        out.stdout
    );
    assert_eq!(of(&ev, "resolved")[0]["digest"], idx.digest.as_str());
    assert_eq!(
        of(&ev, "done")[0]["chainID"],
        mine.layers[0].diff_id.as_str()
    );

    let flat = env.dir.join("other");
    let out = env
        .dist("pull")
        .args([
            "--json",
            "--platform",
            &format!("linux/{other}"),
            "--rootfs",
            flat.to_str().unwrap(),
            &name,
        ])
        .ok();
    let ev = events(&out);
    let fresh: Vec<&str> = of(&ev, "fetched")
        .iter()
        .filter(|e| e["existed"] == false)
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert!(
        fresh.contains(&theirs.digest.as_str()) && !fresh.contains(&mine.digest.as_str()),
        "{}",
        out.stdout
    );
    assert_eq!(fs::read(flat.join("which")).unwrap(), b"theirs");

    // The record is the index; its size, what the store holds of it.
    let v: Value =
        serde_json::from_str(env.dist("images").args(["ls", "--json"]).ok().lines()[0]).unwrap();
    assert_eq!(v["digest"], idx.digest.as_str());
    assert_eq!(
        v["size"],
        idx.body.len() as u64 + image_size(&mine) + image_size(&theirs)
    );
    env.dist("pull")
        .args(["--platform", "plan9/mips", &name])
        .fails(3)
        .stderr_has("no manifest for plan9/mips");
}

#[test]
fn one_image_in_two_namespaces_is_fetched_once() {
    let env = Env::new("pull-namespaces");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("shared/img", "1", &img);
    let name = format!("{}/shared/img:1", reg.host());
    env.dist("pull")
        .args(["--no-unpack", "-n", "team-a", &name])
        .ok();
    let gets = |log: &str| {
        log.lines()
            .filter(|l| l.contains("\"GET /v2/shared/img/blobs/"))
            .count()
    };
    let before = gets(&reg.log());
    let out = env
        .dist("pull")
        .args(["--json", &name])
        .env("DIST_NAMESPACE", "team-b")
        .ok();
    let ev = events(&out);
    assert!(of(&ev, "fetching").is_empty(), "{}", out.stdout);
    assert_eq!(of(&ev, "fetched").len(), 5);
    assert!(of(&ev, "fetched").iter().all(|e| e["existed"] == true));
    assert_eq!(gets(&reg.log()), before, "no blob was downloaded again");
    for ns in ["team-a", "team-b"] {
        env.dist("images")
            .args(["-n", ns, "ls", "-q"])
            .ok()
            .stdout_has(&name);
    }
    assert_eq!(env.dist("images").args(["ls", "-q"]).ok().stdout, "");
    env.dist("images").args(["-n", "Bad/NS", "ls"]).fails(2);
}

#[test]
fn a_pull_killed_mid_download_resumes_and_fetches_only_what_was_missing() {
    let env = Env::new("pull-resume");
    let reg = Registry::start(Auth::None);
    let layers: Vec<Layer> = (0..4).map(|i| layer_of_size(24 << 20, 40 + i)).collect();
    let img = image(Format::Oci, "linux", host_arch(), layers);
    reg.push_image("big/img", "1", &img);
    let name = format!("{}/big/img:1", reg.host());
    let mut child = env
        .dist("pull")
        .args(["-j", "1", "--no-unpack", &name])
        .spawn_piped();
    let pid = child.id() as i32;
    let ingest_data = || -> u64 {
        fs::read_dir(env.root.join("ingest"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| fs::metadata(e.path().join("data")).ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    // A committed blob's ingest (no `data` left in it) that the commit has
    // not removed yet: killed then, it stays until dist-gc's ingest age.
    let committing = || {
        fs::read_dir(env.root.join("ingest"))
            .map(|rd| rd.flatten().any(|e| !e.path().join("data").exists()))
            .unwrap_or(false)
    };
    // Stop it once one layer is in and the next is partly written.
    let start = std::time::Instant::now();
    loop {
        if env.blob(&img.layers[0].digest).exists() && ingest_data() > 0 && !committing() {
            break;
        }
        assert!(start.elapsed().as_secs() < 60, "the pull never got going");
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    child.wait().unwrap();
    let kept = ingest_data();
    assert!(kept > 0);
    let done_before: Vec<&Layer> = img
        .layers
        .iter()
        .filter(|l| env.blob(&l.digest).exists())
        .collect();
    assert!(
        !done_before.is_empty() && done_before.len() < 4,
        "the kill came too late to test anything"
    );

    let out = env.dist("pull").args(["--json", &name]).ok();
    let ev = events(&out);
    for l in &img.layers {
        let fetched = of(&ev, "fetched")
            .into_iter()
            .find(|e| e["digest"] == l.digest.as_str())
            .unwrap()
            .clone();
        let had = done_before.iter().any(|d| d.digest == l.digest);
        assert_eq!(fetched["existed"], had, "{}: {}", l.digest, out.stdout);
        assert_eq!(fs::read(env.blob(&l.digest)).unwrap(), l.blob);
    }
    let resumed: u64 = of(&ev, "fetched")
        .iter()
        .map(|e| e["resumedFrom"].as_u64().unwrap())
        .sum();
    assert!(
        resumed > 0 && resumed <= kept,
        "resumed {resumed} of {kept} kept: {}",
        out.stdout
    );
    let downloaded = of(&ev, "done")[0]["downloaded"].as_u64().unwrap();
    let missing: u64 = img
        .layers
        .iter()
        .filter(|l| !done_before.iter().any(|d| d.digest == l.digest))
        .map(|l| l.size)
        .sum();
    assert_eq!(downloaded, missing - resumed);
    // The registry saw a ranged request.
    assert!(
        reg.log().contains("\" 206 "),
        "no 206 in the registry's log"
    );
    assert!(env.ingests().is_empty());
}

#[test]
fn status_display_on_a_terminal() {
    let env = Env::new("pull-tty");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("tty/img", "1", &img);
    let name = format!("{}/tty/img:1", reg.host());
    // `script` gives the program a terminal and records what it drew.
    let out = env
        .sh(&format!(
            "COLUMNS=200 script -qec 'stty cols 200; dist-pull --no-unpack {name}' /dev/null"
        ))
        .ok();
    let screen = out.stdout.replace('\r', "");
    assert!(screen.contains("\x1b[2K"), "redrawn in place: {screen:?}");
    assert!(
        screen.contains(&format!("manifest-{}: done", img.digest)),
        "{screen}"
    );
    assert!(
        screen.contains("|++++++++++++++++++++++++++++++|"),
        "{screen}"
    );
    let lines: Vec<&str> = screen.lines().collect();
    let (totals, last) = (lines[lines.len() - 2], lines[lines.len() - 1]);
    assert!(
        totals.contains("elapsed: ") && totals.contains("total: ") && totals.contains("/s)"),
        "{totals:?}"
    );
    assert_eq!(
        last,
        format!("{name} {}", img.digest),
        "the name and digest last"
    );
    assert!(
        !screen.contains(&format!("manifest-{}: done\n", img.digest)),
        "no event lines on the terminal: {screen}"
    );
    // Not on a terminal: no escapes.
    let plain = env.dist("pull").args(["--no-unpack", &name]).ok();
    assert!(!plain.stdout.contains('\x1b'));
    // Stdout to a file, stderr on the terminal: lines there, the table here.
    let out = env
        .sh(&format!(
            "script -qec 'dist-pull --no-unpack {name} > lines.txt' /dev/null"
        ))
        .ok();
    assert!(out.stdout.contains("elapsed: "), "{}", out.stdout);
    let lines = fs::read_to_string(env.dir.join("lines.txt")).unwrap();
    assert!(
        lines.contains(&format!("manifest-{}: exists\n", img.digest)),
        "{lines}"
    );
    assert!(!lines.contains('\x1b'));

    // Unpacking is a state of its own, and the chain ID ends the display.
    let out = env
        .sh(&format!(
            "script -qec 'stty cols 200; dist-pull --rootfs flat {name} > unpack.txt' /dev/null"
        ))
        .ok();
    assert!(out.stdout.contains(" chain sha256:"), "{}", out.stdout);
    let lines = fs::read_to_string(env.dir.join("unpack.txt")).unwrap();
    assert!(
        lines.contains(&format!("layer-{}: unpacking\n", img.layers[0].digest)),
        "{lines}"
    );
    // A short terminal: rows that are done fold into a count.
    let out = env
        .sh(&format!(
            "script -qec 'stty rows 5 cols 200; dist-pull --no-unpack {name}' /dev/null"
        ))
        .ok();
    assert!(out.stdout.contains(" more done"), "{}", out.stdout);
    // --json on a terminal: JSON only; TERM=dumb: lines, no redrawing.
    for cmd in [
        format!("dist-pull --json --no-unpack {name}"),
        format!("TERM=dumb dist-pull --no-unpack {name}"),
    ] {
        let out = env.sh(&format!("script -qec '{cmd}' /dev/null")).ok();
        assert!(!out.stdout.contains('\x1b'), "{cmd}: {}", out.stdout);
    }
}

#[test]
fn pull_errors_name_the_object_and_exit_by_kind() {
    let env = Env::new("pull-errors");
    let reg = Registry::start(Auth::None);
    env.dist("pull")
        .arg(format!("{}/no/such:tag", reg.host()))
        .fails(3)
        .stderr_has("no/such:tag");
    env.dist("pull").arg("a//b").fails(2);
    env.dist("pull")
        .args(["--no-unpack", "--rootfs", "x", "a/b"])
        .fails(2);
    env.dist("pull").args(["-j", "0", "a/b"]).fails(2);
    // A layer whose bytes do not match its config's diff ID.
    let mut img = layered_image(Format::Oci);
    let good = img.layers[2].diff_id.clone();
    img.layers[2].diff_id = digest(b"something else");
    let img = image(Format::Oci, "linux", host_arch(), img.layers.clone());
    reg.push_image("bad/diff", "1", &img);
    let out = env
        .dist("pull")
        .arg(format!("{}/bad/diff:1", reg.host()))
        .fails(8);
    assert!(
        out.stderr.contains(&good) && out.stderr.contains("diff ID"),
        "{}",
        out.stderr
    );
    assert!(
        !Path::new(&env.root.join("snapshots/tmp")).exists()
            || fs::read_dir(env.root.join("snapshots/tmp"))
                .unwrap()
                .count()
                == 0
    );
    // A layer the registry serves with one byte changed: never stored, the
    // image never named (the store's writer is what checks the digest).
    let env = Env::new("pull-corrupt");
    let img = layered_image(Format::Oci);
    reg.push_image("bad/bytes", "1", &img);
    let l = &img.layers[1];
    let data = reg.blob_data_path(&l.digest);
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(&data, &bytes).unwrap();
    env.dist("pull")
        .args(["--no-unpack", &format!("{}/bad/bytes:1", reg.host())])
        .fails(8)
        .stderr_has(&l.digest);
    assert!(!env.blob(&l.digest).exists());
    let names = env.dist("images").args(["ls", "-q"]).ok();
    assert!(!names.stdout.contains("bad/bytes"), "{}", names.stdout);
}
