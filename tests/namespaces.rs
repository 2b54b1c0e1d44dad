//! dist-namespaces, as the 2017 tool's walkthrough shows them (seed 004,
//! "Namespaces in Action").

use crate::image::Format;
use crate::pull::layered_image;
use crate::registry::{Auth, Registry};
use crate::util::*;
use serde_json::Value;

#[test]
fn the_walkthrough_of_seed_004() {
    let env = Env::new("namespaces-walkthrough");
    let reg = Registry::start(Auth::None);
    let img = layered_image(Format::Docker);
    reg.push_image("library/redis", "latest", &img);
    let name = format!("{}/library/redis:latest", reg.host());

    env.dist("namespaces")
        .args(["create", "foo", "mylabel=bar"])
        .ok();
    let ls = env.dist("namespaces").arg("ls").ok();
    assert_eq!(
        ls.lines(),
        ["NAME      LABELS", "default", "foo       mylabel=bar"]
    );
    env.dist("namespaces")
        .args(["create", "foo"])
        .fails(5)
        .stderr_has("namespace foo: already exists");

    env.dist("pull").args(["--no-unpack", &name]).ok();
    let in_foo = |args: &[&str]| {
        env.dist("images")
            .env("CONTAINERD_NAMESPACE", "foo")
            .args(args)
    };
    assert_eq!(in_foo(&["ls", "-q"]).ok().stdout, "");
    let again = env
        .dist("pull")
        .env("CONTAINERD_NAMESPACE", "foo")
        .args(["--json", "--no-unpack", &name])
        .ok();
    assert!(
        !again.stdout.contains("\"existed\":false"),
        "the second namespace fetched nothing: {}",
        again.stdout
    );
    assert_eq!(in_foo(&["ls", "-q"]).ok().stdout, format!("{name}\n"));
    env.dist("namespaces")
        .args(["rm", "foo"])
        .fails(5)
        .stderr_has("namespace foo must be empty");
    in_foo(&["rm", &name]).ok();
    assert_eq!(
        env.dist("images").args(["ls", "-q"]).ok().stdout,
        format!("{name}\n")
    );

    env.dist("namespaces")
        .args(["label", "foo", "mylabel=", "team=ci"])
        .ok();
    let json = env.dist("namespaces").args(["ls", "--json"]).ok();
    let rows: Vec<Value> = json
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[1]["name"], "foo");
    assert_eq!(rows[1]["labels"], serde_json::json!({"team": "ci"}));
    assert_eq!(
        env.dist("namespaces").args(["rm", "foo"]).ok().stdout,
        "foo\n"
    );
    assert_eq!(
        env.dist("namespaces").args(["ls", "-q"]).ok().stdout,
        "default\n"
    );
    env.dist("namespaces")
        .args(["rm", "default"])
        .fails(5)
        .stderr_has("namespace default must be empty");
    env.dist("namespaces")
        .args(["label", "nope", "a=b"])
        .fails(3);
    env.dist("namespaces").args(["create", "-bad-"]).fails(2);
}
