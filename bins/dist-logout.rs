//! dist-logout: removes a registry's credentials from the file dist-login,
//! docker login and skopeo login write.
use dist::cli::{self, Cli, Group, Program};
use dist::remote::credentials::{login_host, save};
use lexopt::Arg::*;

const HELP: &str = "\
usage: dist-logout REGISTRY

Remove the credentials for REGISTRY from the file dist-login writes
(--authfile FILE, else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json,
else ~/.docker/config.json); the other entries stay. Exit status 3 when the
file has none for REGISTRY.";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-logout",
    about: "remove a registry's saved credentials",
    help: HELP,
    groups: &[Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let mut registry = None::<String>;
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Value(v) if registry.is_none() => registry = Some(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let host = login_host(registry.as_deref())?;
    let file = cli.login_file();
    if !save(&file, &host, None)? {
        return Err(dist::Error::new(
            dist::Kind::NotFound,
            format!("{}: no credentials for {host}", file.display()),
        ));
    }
    cli.note(format_args!(
        "credentials for {host} removed from {}",
        file.display()
    ));
    Ok(())
}
