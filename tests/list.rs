//! dist-list: committed blobs.

use crate::util::*;

#[test]
fn list_shows_digest_size_and_age_sorted_by_digest() {
    let env = Env::new("list");
    env.dist("list").fails(3).stderr_has("no store at");
    let mut digests = Vec::new();
    for (i, n) in [10usize, 2000, 3_500_000].into_iter().enumerate() {
        let data = content(n, 20 + i as u64);
        digests.push(digest(&data));
        env.dist("ingest").arg(format!("r{i}")).stdin(data).ok();
    }
    digests.sort();
    let out = env.dist("list").ok();
    let lines = out.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DIGEST", "SIZE", "AGE"]
    );
    let listed: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, digests);
    for size in ["10 B", "2.0 kB", "3.5 MB"] {
        assert!(out.stdout.contains(size), "{size} not in {out:?}");
    }
    assert_eq!(env.dist("list").arg("-q").ok().lines(), digests);
    let json = env.dist("list").arg("--json").ok();
    let rows: Vec<serde_json::Value> = json
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| r["size"] == 3_500_000));
    assert!(
        rows.iter()
            .all(|r| r["committed"].as_str().unwrap().ends_with('Z'))
    );
}

#[test]
fn stray_files_under_blobs_are_not_listed() {
    let env = Env::new("list-stray");
    env.dist("ingest").arg("r").stdin("x").ok();
    std::fs::write(env.root.join("blobs/sha256/not-a-digest"), b"").unwrap();
    assert_eq!(env.dist("list").arg("-q").ok().lines(), [digest(b"x")]);
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let env = Env::new("list-pipe");
    for i in 0..3000u32 {
        let dir = env.root.join("blobs/sha256");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&digest(&i.to_le_bytes())[7..]), i.to_le_bytes()).unwrap();
    }
    let out = env
        .sh("dist-list | head -1; echo \"status ${PIPESTATUS[0]}\"")
        .ok();
    assert_eq!(
        out.lines(),
        [
            "DIGEST                                                                    SIZE   AGE",
            "status 0"
        ]
    );
    assert!(out.stderr.is_empty(), "{out:?}");
}
