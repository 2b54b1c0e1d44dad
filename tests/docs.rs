//! Docs that cannot drift: programs ⇔ Cargo.toml ⇔ man pages ⇔ README, every
//! option of --help in the man page and back, and pages that lint clean.

use crate::common::{programs, separate_programs};
use crate::util::*;
use std::collections::BTreeSet;
use std::fs;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    fs::read_to_string(format!("{DIR}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `-x` and `--long` tokens of `text`.
fn options(text: &str) -> BTreeSet<String> {
    let text = text
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "")
        .replace("\\fI", "");
    let mut out = BTreeSet::new();
    for word in text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '(' | ')' | '|' | '='))
    {
        let w = word.trim_end_matches(['.', ':', ';']);
        let long = w
            .strip_prefix("--")
            .is_some_and(|r| r.len() > 1 && r.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        let short =
            w.len() == 2 && w.starts_with('-') && w.chars().nth(1).unwrap().is_ascii_alphabetic();
        if long || short {
            out.insert(w.to_string());
        }
    }
    out
}

#[test]
fn programs_cargo_man_pages_and_readme_agree() {
    let cargo = read("Cargo.toml");
    let readme = read("README.md");
    let mut pages: Vec<String> = fs::read_dir(format!("{DIR}/man"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_suffix(".1")
                .map(String::from)
        })
        .collect();
    pages.sort();
    assert_eq!(pages, programs(), "man/*.1 and bins/*.rs differ");
    for prog in programs() {
        assert!(
            cargo.contains(&format!("name = \"{prog}\"\npath = \"bins/{prog}.rs\"")),
            "Cargo.toml lacks [[bin]] {prog}"
        );
        assert!(
            readme.contains(&format!("man/{prog}.1")),
            "README.md does not link man/{prog}.1"
        );
    }
    assert_eq!(cargo.matches("[[bin]]").count(), programs().len());
}

#[test]
fn every_option_in_help_is_in_the_man_page_and_back() {
    let env = Env::new("docs-options");
    for prog in separate_programs() {
        let help = env
            .dist(prog.trim_start_matches("dist-"))
            .arg("--help")
            .ok()
            .stdout;
        let page = read(&format!("man/{prog}.1"));
        let opts_section = page
            .split(".SH OPTIONS")
            .nth(1)
            .and_then(|s| s.split("\n.SH ").next())
            .unwrap_or("");
        let (in_help, in_page) = (options(&help), options(opts_section));
        let missing: Vec<_> = in_help.difference(&in_page).collect();
        assert!(missing.is_empty(), "man/{prog}.1 lacks {missing:?}");
        let extra: Vec<_> = in_page.difference(&in_help).collect();
        assert!(
            extra.is_empty(),
            "man/{prog}.1 documents {extra:?}, which --help does not list"
        );
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                page.contains(&format!(".SH {section}"))
                    || page.contains(&format!(".SH \"{section}\"")),
                "man/{prog}.1 lacks {section}"
            );
        }
    }
}

#[test]
fn man_pages_lint_clean() {
    let pages: Vec<_> = fs::read_dir(format!("{DIR}/man")).unwrap().collect();
    assert!(
        pages.len() > programs().len(),
        "expected a page per program and dist.7"
    );
    for entry in pages {
        let path = entry.unwrap().path();
        let out = std::process::Command::new("mandoc")
            .args(["-Tlint", "-Wwarning"])
            .arg(&path)
            .output()
            .expect("mandoc is missing: apt-get install mandoc (scripts/test installs it)");
        let report = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "{}:\n{report}",
            path.display()
        );
        // groff is what man(1) runs: it must not warn either (it does on
        // characters outside ASCII that mandoc lets through).
        let out = std::process::Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(&path)
            .output()
            .expect("groff is missing: apt-get install groff-base (scripts/test installs it)");
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "groff -man -ww -z {}:\n{report}",
            path.display()
        );
        let text = fs::read(&path).unwrap();
        assert!(text.is_ascii(), "{}: not ASCII", path.display());
    }
}
