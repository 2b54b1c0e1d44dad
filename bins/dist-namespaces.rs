//! dist-namespaces: the namespaces of the store and their labels (seed 004,
//! "Namespaces in Action"; containerd's `ctr namespaces`).
use dist::cli::table::{Format, print_list};
use dist::cli::{self, Cli, Program};
use dist::images::{self, Namespace, namespace};
use lexopt::Arg::*;
use std::io::Write;

const HELP: &str = "\
usage: dist-namespaces create NS [KEY=VALUE]...
       dist-namespaces ls [-q] [--json]
       dist-namespaces label NS KEY=VALUE...
       dist-namespaces rm NS...

Namespaces keep image names apart while the content is shared (see the
namespace option of dist-images). create makes NS with labels. ls lists
NAME LABELS of every namespace that was created, labeled or names images,
default included. label sets labels (KEY= removes one). rm removes
namespaces that name no image (exit status 5 for one that still does).

-q, --quiet          ls: print only the names
    --json           ls: one JSON object per namespace";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-namespaces",
    about: "create, list, label and remove namespaces",
    help: HELP,
    groups: &[],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

#[derive(serde::Serialize)]
struct Row {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut format, mut words) = (Format::Table, Vec::<String>::new());
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Value(v) => words.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let (command, args) = words
        .split_first()
        .ok_or_else(|| dist::Error::invalid("missing command: create, ls, label or rm"))?;
    let labels = |kvs: &[String]| -> dist::Result<Vec<(String, String)>> {
        kvs.iter().map(|kv| images::parse_label(kv)).collect()
    };
    match (command.as_str(), args) {
        ("create", [ns, kvs @ ..]) => {
            let store = cli.store_to_write()?;
            namespace::create(&store, &ns.parse()?, &labels(kvs)?)?;
        }
        ("ls" | "list", []) => {
            let store = cli.store()?;
            let rows = namespace::namespaces(&store)?
                .into_iter()
                .map(|ns| {
                    let labels = namespace::labels(&store, &ns)?;
                    Ok(Row {
                        name: ns.to_string(),
                        labels,
                    })
                })
                .collect::<dist::Result<Vec<Row>>>()?;
            print_list(&mut cli.out(), format, &["NAME", "LABELS"], &rows, |r| {
                let text: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                vec![r.name.clone(), text.join(",")]
            })?;
        }
        ("label", [ns, kvs @ ..]) if !kvs.is_empty() => {
            let store = cli.store_to_write()?;
            namespace::label(&store, &ns.parse()?, &labels(kvs)?)?;
        }
        ("rm" | "remove", [_, ..]) => {
            let store = cli.store()?;
            for ns in args {
                match ns
                    .parse::<Namespace>()
                    .and_then(|n| namespace::remove(&store, &n))
                {
                    Ok(()) => writeln!(cli.out(), "{ns}")?,
                    Err(e) => cli.report(&e),
                }
            }
        }
        (other, _) => {
            return Err(dist::Error::invalid(match other {
                "create" => "create: give NS [KEY=VALUE]...".to_string(),
                "ls" | "list" => "ls: takes no argument".to_string(),
                "label" => "label: give NS KEY=VALUE...".to_string(),
                "rm" | "remove" => "rm: missing NS".to_string(),
                _ => format!("unknown command '{other}': use create, ls, label or rm"),
            }));
        }
    }
    Ok(())
}
