//! dist-login: credentials for a registry, checked, then saved where docker
//! and skopeo keep them (docker's config.json, "auths").
use dist::cli::{self, Cli, Group, Program};
use dist::remote::Credentials;
use dist::remote::credentials::{Found, login_host, save};
use lexopt::Arg::*;
use std::io::Read;

const HELP: &str = "\
usage: dist-login [-u USER] [--password-stdin] REGISTRY

Check USER's password (or token) against REGISTRY (docker.io, quay.io,
localhost:5000), then save them where docker login and skopeo login do:
--authfile FILE, else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json,
else ~/.docker/config.json, written whole with mode 0600. Other entries of
the file are kept. Without -u or --password-stdin they are asked for on the
terminal. Refused credentials are not saved (exit 7).

-u, --username USER      the user name
    --password-stdin     read the password or token from standard input";

/// The program, for its own binary and for `dist`.
pub const PROGRAM: Program = Program {
    name: "dist-login",
    about: "check credentials for a registry and save them as docker login does",
    help: HELP,
    groups: &[Group::Registry],
    run,
};

#[allow(dead_code)] // `dist` has a main of its own
fn main() -> std::process::ExitCode {
    cli::main(&PROGRAM)
}

fn run(cli: &mut Cli) -> dist::Result<()> {
    let (mut user, mut stdin, mut registry) = (None::<String>, false, None::<String>);
    while let Some(arg) = cli.next_arg()? {
        match arg.get() {
            Short('u') | Long("username") => user = Some(cli.string()?),
            Long("password-stdin") => stdin = true,
            Value(v) if registry.is_none() => registry = Some(cli::parse_value(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let host = login_host(registry.as_deref())?;
    let user = match user {
        Some(u) => u,
        None => cli::ask("Username: ", false)?,
    };
    let password = if stdin {
        let mut text = String::new();
        cli::stdin_file()?
            .read_to_string(&mut text)
            .map_err(|e| dist::Error::io(&e).context("stdin"))?;
        text.trim_end_matches(['\n', '\r']).to_string()
    } else {
        cli::ask("Password: ", true)?
    };
    if user.is_empty() {
        return Err(dist::Error::invalid("the user name is empty"));
    }
    let credentials = Credentials::Basic { user, password };
    let found = Found {
        credentials: credentials.clone(),
        source: "dist-login".to_string(),
    };
    let asked = cli.remote_with(Some(found))?.check_login(&host)?;
    if !asked {
        cli.warn(format_args!("{host} asks for no credentials; saved anyway"));
    }
    let file = cli.login_file();
    save(&file, &host, Some(&credentials))?;
    cli.note(format_args!(
        "{} for {host} saved in {}",
        credentials.describe(),
        file.display()
    ));
    Ok(())
}
