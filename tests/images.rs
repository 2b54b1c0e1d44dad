//! dist-images and dist-gc against pulled images: names, labels, tags,
//! filters, checks; removal then collection across namespaces; collection
//! racing pulls; other OCI tools (skopeo) reading the store.

use crate::image::*;
use crate::pull::{events, host_arch, image_size, layered_image};
use crate::registry::{Auth, Registry};
use crate::util::*;
use serde_json::Value;
use std::fs;

fn small_image(tag: u64, shared: &Layer) -> Image {
    let own = layer(&[(&format!("own-{tag}"), &content(5000, tag)[..])]);
    image(Format::Oci, "linux", host_arch(), vec![shared.clone(), own])
}

fn blobs_of(img: &Image) -> Vec<String> {
    let mut out = vec![img.digest.clone(), img.config_digest.clone()];
    out.extend(img.layers.iter().map(|l| l.digest.clone()));
    out
}

#[test]
fn rm_then_gc_keeps_what_another_namespace_names_and_removes_the_rest() {
    let env = Env::new("images-rm-gc");
    let reg = Registry::start(Auth::None);
    let shared = layer(&[("base", b"shared by both")]);
    let (a, b) = (small_image(1, &shared), small_image(2, &shared));
    reg.push_image("gc/a", "1", &a);
    reg.push_image("gc/b", "1", &b);
    let (na, nb) = (
        format!("{}/gc/a:1", reg.host()),
        format!("{}/gc/b:1", reg.host()),
    );
    env.dist("pull").arg(&na).ok();
    env.dist("pull").arg(&nb).ok();
    env.dist("pull").args(["-n", "other", &na]).ok();
    // Leftovers gc must handle: an unnamed blob and an abandoned ingest.
    let stray = env.file("stray", b"nobody names me");
    env.dist("ingest").arg("stray").stdin_file(&stray).ok();
    env.sh("printf partial | dist-ingest --expected-size 100 abandoned || true")
        .ok();
    assert_eq!(env.ingests().len(), 1);

    // Sizes are the sum of what each image is made of.
    let ls = env.dist("images").args(["ls", "--json"]).ok();
    for line in ls.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let img = if v["name"] == na.as_str() { &a } else { &b };
        assert_eq!(v["size"], image_size(img), "{line}");
    }

    // A dry run removes nothing and says what would go.
    let dry = env.dist("gc").arg("--dry-run").ok();
    assert_eq!(
        dry.stdout,
        format!("blob {} 15\n", digest(b"nobody names me"))
    );
    assert!(
        dry.stderr.contains("would remove 1 blob "),
        "{}",
        dry.stderr
    );
    assert!(env.blob(&digest(b"nobody names me")).exists());
    // An ingest younger than --ingest-age stays; with 0s it goes.
    env.dist("gc").ok();
    assert!(!env.blob(&digest(b"nobody names me")).exists());
    assert_eq!(env.ingests().len(), 1);
    env.dist("gc")
        .args(["--ingest-age", "0s"])
        .ok()
        .stdout_has("ingest abandoned");
    assert!(env.ingests().is_empty());

    // rm in default: b's own blobs go, a stays (named in "other" too).
    env.dist("images").args(["rm", &nb, &na]).ok();
    assert_eq!(env.dist("images").args(["ls", "-q"]).ok().stdout, "");
    for d in blobs_of(&a) {
        assert!(env.blob(&d).exists(), "{d} of a, named in other");
    }
    for d in blobs_of(&b).iter().filter(|d| **d != shared.digest) {
        assert!(!env.blob(d).exists(), "{d} of b should be collected");
    }
    // Snapshots: a's stay, b's top one goes (its bottom is a's too).
    let snaps = env.dist("rootfs").args(["ls", "-q"]).ok();
    assert_eq!(snaps.lines().len(), 2, "{}", snaps.stdout);
    env.dist("images")
        .args(["-n", "other", "check", &na])
        .ok()
        .stdout_has("complete");

    // rm --no-gc leaves the content; a later gc takes it.
    env.dist("images")
        .args(["-n", "other", "rm", "--no-gc", &na])
        .ok();
    assert!(env.blob(&a.digest).exists());
    env.dist("gc").ok();
    assert_eq!(env.blobs(), Vec::<String>::new());
    assert_eq!(
        env.dist("rootfs").args(["ls", "-q"]).ok().stdout,
        "",
        "no snapshot is needed any more"
    );
    env.dist("images")
        .args(["rm", "nope:1"])
        .fails(3)
        .stderr_has("no such image");
}

#[test]
fn labels_tags_filters_and_checks() {
    let env = Env::new("images-labels");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Docker);
    reg.push_image("lbl/app", "1", &img);
    let name = format!("{}/lbl/app:1", reg.host());
    env.dist("pull").args(["--no-unpack", &name]).ok();
    let copy = format!("{}/lbl/app:stable", reg.host());
    env.dist("images")
        .args(["tag", &name, &copy])
        .ok()
        .stdout_has(&copy);
    env.dist("images")
        .args(["tag", &name, &copy])
        .fails(5)
        .stderr_has("--force");
    env.dist("images")
        .args(["tag", "--force", &name, &copy])
        .ok();
    env.dist("images")
        .args(["label", &copy, "tier=prod", "owner=me"])
        .ok();
    env.dist("images").args(["label", &copy, "owner="]).ok();
    env.dist("images")
        .args(["label", &copy, "novalue"])
        .fails(2);

    let q = |filters: &[&str]| {
        let mut args = vec!["ls", "-q"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        env.dist("images").args(args).ok().stdout
    };
    assert_eq!(q(&["label.tier==prod"]), format!("{copy}\n"));
    assert_eq!(q(&["label.tier!=prod"]), format!("{name}\n"));
    assert_eq!(q(&["labels.owner"]), "");
    assert_eq!(q(&["name~=:1$"]), format!("{name}\n"));
    assert_eq!(q(&["name~=lbl/", "label.tier"]), format!("{copy}\n"));
    assert_eq!(q(&[&format!("name=={name}")]), format!("{name}\n"));
    // containerd's syntax, as ctr users type it: quoted keys and values,
    // conditions joined by commas.
    assert_eq!(q(&[r#"labels."tier"==prod"#]), format!("{copy}\n"));
    assert_eq!(q(&[r#"labels.tier=="prod""#]), format!("{copy}\n"));
    assert_eq!(q(&["name~=lbl/,labels.tier==prod"]), format!("{copy}\n"));
    assert_eq!(q(&["name~=^nothing,labels.tier==prod"]), "");
    assert_eq!(q(&[&format!("name!={copy}")]), format!("{name}\n"));
    env.dist("images")
        .args(["ls", "--filter", "name~=("])
        .fails(2);
    env.dist("images")
        .args(["ls", "--filter", "size>3"])
        .fails(2);
    let v: Value = serde_json::from_str(
        env.dist("images")
            .args(["ls", "--json", "--filter", "label.tier==prod"])
            .ok()
            .lines()[0],
    )
    .unwrap();
    assert_eq!(v["labels"]["tier"], "prod");
    assert_eq!(v["mediaType"], DOCKER_MANIFEST);

    // check: complete, then a layer removed behind its back.
    env.dist("images")
        .args(["check", &name])
        .ok()
        .stdout_has("complete");
    env.dist("delete").arg(&img.layers[1].digest).ok();
    let out = env.dist("images").args(["check", &name, &copy]).fails(3);
    assert!(out.stdout.contains("incomplete (4/5)"), "{}", out.stdout);
    assert!(out.stderr.contains(&img.layers[1].digest), "{}", out.stderr);
    // A short name is the full one: docker.io/library/...
    env.dist("images")
        .args(["check", "busybox"])
        .fails(3)
        .stderr_has("docker.io/library/busybox:latest");
}

#[test]
fn gc_racing_five_pulls_never_breaks_one() {
    let env = Env::new("images-gc-race");
    let reg = Registry::start(Auth::None);
    let shared = layer_of_size(3 << 20, 77);
    let images: Vec<Image> = (0..5)
        .map(|i| {
            let own = layer_of_size(2 << 20, 100 + i);
            image(Format::Oci, "linux", host_arch(), vec![shared.clone(), own])
        })
        .collect();
    for (i, img) in images.iter().enumerate() {
        reg.push_image("race/img", &i.to_string(), img);
    }
    // A store for the collector to work on from the start.
    env.dist("ingest").arg("seed").stdin("x").ok();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let gc = s.spawn(|| {
            let mut runs = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                runs.push(env.dist("gc").args(["--ingest-age", "0s"]).run());
            }
            runs
        });
        let pulls: Vec<_> = (0..5)
            .map(|i| {
                let env = &env;
                let name = format!("{}/race/img:{i}", reg.host());
                s.spawn(move || env.dist("pull").args(["-j", "2", &name]).run())
            })
            .collect();
        let pulls: Vec<Output> = pulls.into_iter().map(|p| p.join().unwrap()).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let runs = gc.join().unwrap();
        for out in pulls.into_iter().chain(runs) {
            out.code(0);
        }
    });
    // Everything every pull named is whole, and one more gc keeps it all.
    env.dist("gc").ok();
    for i in 0..5 {
        env.dist("images")
            .args(["check", &format!("{}/race/img:{i}", reg.host())])
            .ok()
            .stdout_has("complete");
    }
    assert_eq!(env.dist("rootfs").args(["ls", "-q"]).ok().lines().len(), 6);
}

#[test]
fn skopeo_reads_what_dist_pull_wrote() {
    let env = Env::new("images-skopeo");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Oci);
    reg.push_image("interop/app", "3.1", &img);
    let name = format!("{}/interop/app:3.1", reg.host());
    let out = env.dist("pull").args(["--json", "--no-unpack", &name]).ok();
    assert_eq!(events(&out).last().unwrap()["event"], "done");
    // The store is an OCI image layout whose ref names are the full names.
    let root = env.root.display();
    let inspect = env
        .sh(&format!("skopeo inspect --raw oci:{root}:{name}"))
        .ok();
    assert_eq!(inspect.stdout.as_bytes(), img.manifest);
    let info = env.sh(&format!("skopeo inspect oci:{root}:{name}")).ok();
    let v: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(v["Digest"], img.digest.as_str());
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3);
    let dest = env.dir.join("copy");
    env.sh(&format!(
        "skopeo copy oci:{root}:{name} dir:{}",
        dest.display()
    ))
    .ok();
    for l in &img.layers {
        let hex = l.digest.trim_start_matches("sha256:");
        assert_eq!(fs::read(dest.join(hex)).unwrap(), l.blob);
    }
}
