//! dist-images: the image names of a namespace (seeds e53539c58f,
//! 1f21fb7f8b, cc983be17a, 004; DESIGN.md, "Programs").
use dist::cli::table::{Format, human_size, print_list};
use dist::cli::{self, Cli, Group, Program};
use dist::gc;
use dist::images::{self, Filter, Images};
use lexopt::Arg::*;
use std::io::Write;

const HELP: &str = "\
usage: dist-images [-n NS] ls [-q] [--json] [--filter F]...
       dist-images [-n NS] rm [--no-gc] NAME...
       dist-images [-n NS] label NAME KEY=VALUE...
       dist-images [-n NS] tag [--force] NAME NEWNAME
       dist-images [-n NS] check NAME...

The image names of a namespace. ls lists REF TYPE DIGEST SIZE PLATFORMS
LABELS, SIZE being the whole image's (everything its root reaches in the
store), and entries other tools wrote without a name by their digest. rm
removes names, then the content only they reached, unless --no-gc. label
sets labels (KEY= removes one). tag gives an image a second name. check
tells whether everything an image reaches is in the store (exit status 3 if
not). A NAME is a name as stored (other tools store rootfs or v1), else as
pulls record it: redis:7 is docker.io/library/redis:7.

-q, --quiet          ls, check: print only the names
    --json           ls, check: one JSON object per image
    --filter F       ls: name==NAME, name!=NAME, name~=REGEX, label.KEY==VALUE,
                     label.KEY!=VALUE, label.KEY~=REGEX, label.KEY (or containerd's
                     labels.\"KEY\"==VALUE); F,F or several --filter must all hold
    --no-gc          rm: leave what they reached in the store
    --force          tag: replace NEWNAME if it names another image";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-images",
    about: "list, remove, label, tag and check the image names of a namespace",
    help: HELP,
    groups: &[Group::Namespace],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut format, mut filters, mut no_gc, mut force) = (Format::Table, Vec::new(), false, false);
    let mut words = Vec::<String>::new();
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Long("filter") => {
                let text = cli.string()?;
                filters.extend(Filter::parse_all(&text)?);
            }
            Long("no-gc") => no_gc = true,
            Long("force") => force = true,
            Value(v) => words.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let store = cli.store()?;
    let images = Images::new(&store, cli.namespace()?);
    let (command, args) = words
        .split_first()
        .ok_or_else(|| dist::Error::invalid("missing command: ls, rm, label, tag or check"))?;
    let usage = |what: &str| Err(dist::Error::invalid(format!("{command}: {what}")));
    match (command.as_str(), args) {
        ("ls" | "list", []) => {
            let rows = images.summaries(&filters)?;
            let header = ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"];
            print_list(&mut cli.out(), format, &header, &rows, |r| {
                let platforms = r.platforms.join(",");
                let size = human_size(r.size);
                let (d, t) = (r.digest.clone(), r.media_type.clone());
                vec![r.name.clone(), t, d, size, platforms, r.labels_text()]
            })?;
        }
        ("rm" | "remove" | "delete", [_, ..]) => {
            let mut roots = Vec::new();
            for name in args {
                match images.remove(name) {
                    Ok(img) => {
                        writeln!(cli.out(), "{}", img.name)?;
                        roots.push(img.target);
                    }
                    Err(e) => cli.report(&e),
                }
            }
            if !no_gc {
                let done = gc::release(&store, &roots, &gc::Options::default())?;
                cli.debug(format!(
                    "removed {} blobs they alone used",
                    done.blobs.len()
                ));
            }
        }
        ("label", [name, kvs @ ..]) if !kvs.is_empty() => {
            let labels = kvs.iter().map(|kv| images::parse_label(kv));
            images.label(name, &labels.collect::<dist::Result<Vec<_>>>()?)?;
        }
        ("tag", [name, new]) => {
            let new = images.tag(name, new, force)?;
            writeln!(cli.out(), "{}", new.name)?;
        }
        ("check", [_, ..]) => {
            let mut rows = Vec::new();
            for name in args {
                match images.get(name).and_then(|i| images.summary(i)) {
                    Ok(sum) => {
                        if let Some(e) = sum.missing() {
                            cli.report(&e);
                        }
                        rows.push(sum);
                    }
                    Err(e) => cli.report(&e),
                }
            }
            let header = ["REF", "TYPE", "DIGEST", "STATUS", "SIZE"];
            if rows.is_empty() {
                return Ok(());
            }
            print_list(&mut cli.out(), format, &header, &rows, |r| {
                let (d, t) = (r.digest.clone(), r.media_type.clone());
                vec![r.name.clone(), t, d, r.status(), human_size(r.size)]
            })?;
        }
        ("ls" | "list", _) => return usage("takes no argument"),
        ("rm" | "remove" | "delete" | "check", _) => return usage("missing NAME"),
        ("label", _) => return usage("give NAME KEY=VALUE..."),
        ("tag", _) => return usage("give NAME NEWNAME"),
        (other, _) => {
            return Err(dist::Error::invalid(format!(
                "unknown command '{other}': use ls, rm, label, tag or check"
            )));
        }
    }
    Ok(())
}
