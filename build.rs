//! Stamps the programs with `git describe` (`.m` for a modified tree), or the
//! crate version when built outside a git checkout.
use std::process::Command;

fn main() {
    for p in [
        ".git/HEAD",
        ".git/index",
        ".git/refs/tags",
        "lib",
        "bins",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    let described = Command::new("git")
        .args([
            "describe",
            "--tags",
            "--always",
            "--dirty=.m",
            "--match",
            "v[0-9]*",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let version = described.unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap());
    println!("cargo:rustc-env=DIST_VERSION={version}");
}
