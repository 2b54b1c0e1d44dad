//! dist-images: the image names of a namespace (seeds e53539c58f,
//! 1f21fb7f8b, cc983be17a, 004; DESIGN.md, "Programs").
use dist::cli::table::{Format, Table, human_size, print_list};
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

The image names of a namespace. ls lists REF TYPE DIGEST SIZE, SIZE being
the whole image's (everything its root reaches in the store). rm removes
names, then collects garbage (dist-gc) unless --no-gc. label sets labels
(KEY= removes one). tag gives an image a second name. check tells whether
everything an image reaches is in the store (exit status 3 if not). Names
are normalized as pulls record them: redis:7 is docker.io/library/redis:7.

-q, --quiet          ls: print only the names
    --json           ls: one JSON object per image
    --filter F       ls: name==NAME, name!=NAME, name~=REGEX, label.KEY==VALUE,
                     label.KEY!=VALUE, label.KEY~=REGEX, label.KEY (or containerd's
                     labels.\"KEY\"==VALUE); F,F or several --filter must all hold
    --no-gc          rm: leave unreachable content in the store
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
    let names: Vec<String> = args.iter().map(|a| images::full_name(a)).collect();
    let usage = dist::Error::invalid;
    let need = |n: usize, what: &str| match names.len() < n {
        true => Err(usage(format!("{command}: missing {what}"))),
        false => Ok(()),
    };
    match command.as_str() {
        "ls" | "list" => {
            if let Some(extra) = args.first() {
                return Err(usage(format!("ls: unexpected argument '{extra}'")));
            }
            let rows = images.summaries(&filters)?;
            let header = ["REF", "TYPE", "DIGEST", "SIZE"];
            print_list(&mut cli.out(), format, &header, &rows, |r| {
                vec![
                    r.name.clone(),
                    r.media_type.clone(),
                    r.digest.clone(),
                    human_size(r.size),
                ]
            })?;
        }
        "rm" | "remove" | "delete" => {
            need(1, "NAME")?;
            for name in &names {
                match images.remove(name) {
                    Ok(_) => writeln!(cli.out(), "{name}")?,
                    Err(e) => cli.report(&e),
                }
            }
            if !no_gc {
                let done = gc::collect(&store, &gc::Options::default())?;
                cli.debug(format!("collected {} blobs", done.blobs.len()));
            }
        }
        "label" => {
            need(2, "KEY=VALUE")?;
            let labels = args[1..].iter().map(|kv| images::parse_label(kv));
            images.label(&names[0], &labels.collect::<dist::Result<Vec<_>>>()?)?;
        }
        "tag" => {
            need(2, "NEWNAME")?;
            if let Some(extra) = args.get(2) {
                return Err(usage(format!("tag: unexpected argument '{extra}'")));
            }
            let new = images.tag(&names[0], &args[1], force)?;
            writeln!(cli.out(), "{}", new.name)?;
        }
        "check" => {
            need(1, "NAME")?;
            let mut table = Table::new(&["REF", "TYPE", "DIGEST", "STATUS", "SIZE"]);
            for name in &names {
                let sum = match images.get(name).and_then(|i| images.summary(i)) {
                    Ok(s) => s,
                    Err(e) => {
                        cli.report(&e);
                        continue;
                    }
                };
                let status = sum.status();
                if let Some(m) = sum.reach.missing.first() {
                    let n = sum.reach.missing.len();
                    let why = format!("{name}: {n} objects missing, first {}", m.digest);
                    cli.report(&dist::Error::new(dist::Kind::NotFound, why));
                }
                let size = human_size(sum.size);
                table.row(vec![sum.name, sum.media_type, sum.digest, status, size]);
            }
            table.print(&mut cli.out())?;
        }
        other => {
            return Err(dist::Error::invalid(format!(
                "unknown command '{other}': use ls, rm, label, tag or check"
            )));
        }
    }
    Ok(())
}
