//! dist-images: the image names of a namespace (seeds e53539c58f,
//! 1f21fb7f8b, cc983be17a, 004; DESIGN.md, "Programs").
use dist::cli::table::{Format, Table, human_size, print_list};
use dist::cli::{self, Cli};
use dist::gc;
use dist::images::{self, Filter, Image, Images, Namespace};
use lexopt::Arg::*;
use std::time::Duration;

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

-n, --namespace NS   the namespace (default $DIST_NAMESPACE, $CONTAINERD_NAMESPACE, else default)
-q, --quiet          ls: print only the names
    --json           ls: one JSON object per image
    --filter F       ls: name==NAME, name~=REGEX, label.KEY==VALUE, label.KEY!=VALUE,
                     label.KEY; several must all hold
    --no-gc          rm: leave unreachable content in the store
    --force          tag: replace NEWNAME if it names another image";

fn main() -> std::process::ExitCode {
    cli::run("dist-images", HELP, run)
}

#[derive(serde::Serialize)]
struct Row {
    name: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    labels: std::collections::BTreeMap<String, String>,
    created: String,
    updated: String,
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut format, mut filters, mut no_gc, mut force) = (Format::Table, Vec::new(), false, false);
    let (mut namespace, mut words) = (None::<String>, Vec::<String>::new());
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('n') | Long("namespace") => namespace = Some(cli.string()?),
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Long("filter") => filters.push(cli.parse::<Filter>("--filter")?),
            Long("no-gc") => no_gc = true,
            Long("force") => force = true,
            Value(v) => words.push(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let store = cli.store();
    let images = Images::new(&store, Namespace::select(namespace.as_deref())?);
    let (command, args) = words
        .split_first()
        .ok_or_else(|| dist::Error::invalid("missing command: ls, rm, label, tag or check"))?;
    let names: Vec<String> = args.iter().map(|a| images::full_name(a)).collect();
    let need = |n: usize, what: &str| {
        if names.len() < n {
            Err(dist::Error::invalid(format!("{command}: missing {what}")))
        } else {
            Ok(())
        }
    };
    match command.as_str() {
        "ls" | "list" => {
            if let Some(extra) = args.first() {
                return Err(dist::Error::invalid(format!(
                    "ls: unexpected argument '{extra}'"
                )));
            }
            let mut rows = Vec::new();
            for img in images
                .list()?
                .into_iter()
                .filter(|i| filters.iter().all(|f| f.matches(i)))
            {
                let size = images::size(&images::reach(&store, &img.target)?.reached);
                rows.push(row(img, size));
            }
            print_list(
                &mut cli.out(),
                format,
                &["REF", "TYPE", "DIGEST", "SIZE"],
                &rows,
                |r| {
                    vec![
                        r.name.clone(),
                        r.media_type.clone(),
                        r.digest.clone(),
                        human_size(r.size),
                    ]
                },
            )?;
        }
        "rm" | "remove" | "delete" => {
            need(1, "NAME")?;
            for name in &names {
                match images.remove(name) {
                    Ok(_) => writeln_out(cli, name)?,
                    Err(e) => cli.report(&e),
                }
            }
            if !no_gc {
                let opts = gc::Options {
                    dry_run: false,
                    ingest_age: Duration::from_secs(24 * 3600),
                    wait: true,
                };
                let done = gc::collect(&store, &opts)?;
                let bytes: u64 = done.blobs.iter().map(|b| b.size).sum();
                cli.debug(format!(
                    "collected {} blobs ({}), {} snapshots",
                    done.blobs.len(),
                    human_size(bytes),
                    done.snapshots.len()
                ));
            }
        }
        "label" => {
            need(2, "KEY=VALUE")?;
            let mut labels = Vec::new();
            for kv in &args[1..] {
                let (k, v) = kv
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        dist::Error::invalid(format!("label: '{kv}' is not KEY=VALUE"))
                    })?;
                labels.push((k.to_string(), v.to_string()));
            }
            images.label(&names[0], &labels)?;
        }
        "tag" => {
            need(2, "NEWNAME")?;
            if names.len() > 2 {
                return Err(dist::Error::invalid(format!(
                    "tag: unexpected argument '{}'",
                    args[2]
                )));
            }
            args[1].parse::<dist::reference::Reference>()?;
            images.tag(&names[0], &names[1], force)?;
            writeln_out(cli, &names[1])?;
        }
        "check" => {
            need(1, "NAME")?;
            let mut table = Table::new(&["REF", "TYPE", "DIGEST", "STATUS", "SIZE"]);
            for name in &names {
                let img = match images.get(name) {
                    Ok(i) => i,
                    Err(e) => {
                        cli.report(&e);
                        continue;
                    }
                };
                let reach = images::reach(&store, &img.target)?;
                let have = reach.reached.len() - reach.missing.len();
                let status = if reach.missing.is_empty() {
                    "complete".to_string()
                } else {
                    format!("incomplete ({have}/{})", reach.reached.len())
                };
                table.row(vec![
                    name.clone(),
                    img.target.media_type.clone(),
                    img.target.digest.to_string(),
                    status,
                    human_size(images::size(&reach.reached)),
                ]);
                if let Some(m) = reach.missing.first() {
                    cli.report(&dist::Error::new(
                        dist::Kind::NotFound,
                        format!(
                            "{name}: {} objects missing, first {}",
                            reach.missing.len(),
                            m.digest
                        ),
                    ));
                }
            }
            table
                .print(&mut cli.out())
                .map_err(|e| dist::Error::io(&e))?;
        }
        other => {
            return Err(dist::Error::invalid(format!(
                "unknown command '{other}': use ls, rm, label, tag or check"
            )));
        }
    }
    Ok(())
}

fn row(img: Image, size: u64) -> Row {
    Row {
        name: img.name,
        media_type: img.target.media_type,
        digest: img.target.digest.to_string(),
        size,
        labels: img.labels,
        created: dist::time::format_rfc3339(img.created),
        updated: dist::time::format_rfc3339(img.updated),
    }
}

fn writeln_out(cli: &mut Cli, line: &str) -> dist::Result<()> {
    use std::io::Write;
    writeln!(cli.out(), "{line}").map_err(|e| dist::Error::io(&e))
}
