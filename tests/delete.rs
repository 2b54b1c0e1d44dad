//! dist-delete: removing blobs.

use crate::util::*;

#[test]
fn delete_removes_what_exists_and_reports_the_rest() {
    let env = Env::new("delete");
    let (a, b) = (digest(b"a"), digest(b"b"));
    env.dist("ingest").arg("a").stdin("a").ok();
    env.dist("ingest").arg("b").stdin("b").ok();
    let missing = digest(b"nope");
    let out = env
        .dist("delete")
        .args([&a, &missing, &b])
        .fails(3)
        .stderr_has(&format!("{missing}: not found"));
    assert_eq!(out.lines(), [a.as_str(), b.as_str()]);
    assert!(env.blobs().is_empty());
    env.dist("delete").arg("sha256:short").fails(2);
}

#[test]
fn list_quiet_into_xargs_delete_empties_the_store() {
    let env = Env::new("delete-xargs");
    for i in 0..25u8 {
        env.dist("ingest")
            .arg(format!("r{i}"))
            .stdin(vec![i; 100 + i as usize])
            .ok();
    }
    assert_eq!(env.blobs().len(), 25);
    let out = env.sh("dist-list -q | xargs dist-delete").ok();
    assert_eq!(out.lines().len(), 25);
    assert!(env.blobs().is_empty());
    assert_eq!(env.dist("list").arg("-q").ok().stdout, "");
}
