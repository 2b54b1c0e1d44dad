//! dist-active: in-progress ingests.

use crate::util::*;

#[test]
fn an_empty_or_missing_store_has_no_active_ingests() {
    let env = Env::new("active-empty");
    env.dist("active").fails(3).stderr_has("no store at");
    // An empty store: one ingest, deleted.
    let d = env.dist("ingest").arg("r").stdin("x").ok().stdout;
    env.dist("delete").arg(d.trim()).ok();
    assert_eq!(env.dist("active").ok().stdout, "REF   SIZE   TOTAL   AGE\n");
    env.dist("active").arg("-q").ok();
    assert_eq!(env.dist("active").args(["--json", "--all"]).ok().stdout, "");
    env.dist("active")
        .arg("--frobnicate")
        .fails(2)
        .stderr_has("unknown option '--frobnicate'");
}

#[test]
fn abandoned_ingests_show_with_all_and_quiet_prints_refs() {
    let env = Env::new("active-all");
    // An ingest cut short stays in the store, to be resumed.
    env.dist("ingest")
        .args(["-s", "100", "cut-short"])
        .stdin(vec![1u8; 40])
        .fails(6);
    let q = env.dist("active").args(["--all", "-q"]).ok();
    assert_eq!(q.stdout, "cut-short\n");
    let table = env.dist("active").arg("--all").ok();
    let row: Vec<&str> = table.lines()[1].split_whitespace().collect();
    assert_eq!(&row[..5], ["cut-short", "40", "B", "100", "B"], "{table:?}");
    let json: serde_json::Value =
        serde_json::from_str(env.dist("active").args(["--all", "--json"]).ok().lines()[0]).unwrap();
    assert_eq!(json["ref"], "cut-short");
    assert_eq!(json["offset"], 40);
    assert_eq!(json["total"], 100);
    assert_eq!(json["live"], false);
    assert!(json["startedAt"].as_str().unwrap().ends_with('Z'));
}
