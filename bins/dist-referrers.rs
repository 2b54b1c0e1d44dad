//! dist-referrers: what refers to an image in a registry (OCI distribution
//! spec 1.1, "Listing Referrers" and "Referrers Tag Schema").
use dist::cli::table::{Format, human_size, print_list};
use dist::cli::{self, Cli, Group, Program};
use dist::reference::Reference;
use dist::remote::Listed;
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-referrers [--artifact-type T] [-q] [--json] REF

List what refers to the image REF names in its registry (its signatures,
SBOMs, attestations: manifests whose subject is REF's digest) as a table
of DIGEST, ARTIFACT TYPE and SIZE. The list is the registry's referrers
API, every page of it; a registry without that API (it answers 404) is
read through the tag sha256-HEX, whose index pushes keep up to date, once
it is checked to be such a list and not the image itself.

    --artifact-type T   only referrers of artifact type T
-q, --quiet             print only the digests
    --json              one JSON object per referrer: its descriptor";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-referrers",
    about: "list what refers to an image in a registry",
    help: HELP,
    groups: &[Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut artifact_type, mut format, mut r) = (None::<String>, Format::Table, None::<Reference>);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Long("artifact-type") => artifact_type = Some(cli.string()?),
            Short('q') | Long("quiet") => format = Format::Quiet,
            Long("json") => format = Format::Json,
            Value(v) if r.is_none() => r = Some(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let r = r.ok_or_else(|| dist::Error::invalid("missing REF"))?;
    if let Some(t) = artifact_type
        .as_deref()
        .filter(|t| !dist::descriptor::is_well_formed(t))
    {
        return Err(dist::Error::invalid(format!(
            "--artifact-type: '{t}' is no media type (type/subtype)"
        )));
    }
    let remote = cli.remote()?;
    let subject = remote.resolve(&r, &[])?;
    let found = remote.referrers(&r, &subject.digest, artifact_type.as_deref())?;
    match &found.listed {
        Listed::Api => cli.debug("listed by the registry's referrers API"),
        Listed::Tag(tag) => cli.debug(format!("no referrers API; listed by the tag {tag}")),
        Listed::Nothing => cli.debug("no referrers API and no fallback tag"),
    }
    if let Some(why) = &found.ignored {
        cli.warn(format!("{why}; taken as no referrers"));
    }
    print_list(
        &mut cli.out(),
        format,
        &["DIGEST", "ARTIFACT TYPE", "SIZE"],
        &found.manifests,
        |d| {
            vec![
                d.digest.to_string(),
                d.artifact_type.clone().unwrap_or_else(|| "-".into()),
                human_size(d.size),
            ]
        },
    )?;
    Ok(())
}
