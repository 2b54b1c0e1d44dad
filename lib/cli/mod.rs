//! What every program shares: the runner that turns a library error into one
//! line on stderr and the exit code of its kind, the common flags (`--root`,
//! `--debug`, `--timeout`, `--help`, `--version`), stdout handling (a closed
//! pipe is success), and the table and JSON-lines writers in [`table`].
//!
//! Programs parse their own flags with lexopt through [`Cli::next_arg`], which
//! consumes the common flags on their behalf.

pub mod progress;
pub mod table;

use std::ffi::OsString;
use std::fmt::Display;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use crate::content::Store;
use crate::error::{Context, Error, Kind, Result};
use crate::images::Namespace;
use crate::remote::credentials::Found;
use crate::remote::{self, Remote};

pub use crate::VERSION;

const COMMON_HELP: &str =
    "    --root DIR             the content store (default: $DIST_ROOT, else ./.content)
    --debug                print diagnostics on stderr
    --timeout DUR          give up after DUR (30s, 5m, 1h30m) with exit code 6
-h, --help                 print this help and exit
-v, --version              print the version and exit";

const NAMESPACE_HELP: &str = "\
-n, --namespace NS         the namespace (default: $DIST_NAMESPACE, else
                           $CONTAINERD_NAMESPACE, else default)";

const REGISTRY_HELP: &str =
    "    --plain-http           talk HTTP, not HTTPS (always so for localhost and 127.0.0.0/8)
    --insecure             do not verify registries' TLS certificates
    --creds USER[:PASS]    credentials for every registry (instead of the files)
    --authfile FILE        read credentials from FILE only (docker's config.json form)
    --idle-timeout DUR     give up on a registry that connects or answers nothing for
                           DUR (default 30s)
    --hosts-dir DIR        registries' mirrors and TLS files, containerd's hosts.toml
                           way (default: $DIST_HOSTS_DIR, else /etc/containerd/certs.d
                           then /etc/docker/certs.d)";

/// The flags a program takes beside its own and the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `-n`, `--namespace`.
    Namespace,
    /// `--plain-http`, `--insecure`, `--creds`, `--authfile`, `--idle-timeout`,
    /// `--hosts-dir`.
    Registry,
}

/// A program: its name, what it does in one line (for `dist --help`), its
/// help text, the flag groups it takes, and its body.
pub struct Program {
    /// `dist-pull`.
    pub name: &'static str,
    /// One line for `dist --help`.
    pub about: &'static str,
    /// The help text, toybox style: usage lines, a paragraph, its options.
    pub help: &'static str,
    /// The shared flag groups it takes.
    pub groups: &'static [Group],
    /// The body, given the parsed command line.
    pub run: fn(&mut Cli) -> Result<()>,
}

/// One argument of the command line, owned, so that programs can ask for an
/// option's value while they look at the option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `-x`
    Short(char),
    /// `--name`
    Long(String),
    /// A positional argument.
    Value(OsString),
}

impl Arg {
    /// The argument in lexopt's form, for matching: `match arg.get() { Short('n') => … }`.
    pub fn get(&self) -> lexopt::Arg<'_> {
        match self {
            Arg::Short(c) => lexopt::Arg::Short(*c),
            Arg::Long(s) => lexopt::Arg::Long(s),
            Arg::Value(v) => lexopt::Arg::Value(v.clone()),
        }
    }

    /// The usage error for an argument the program does not take.
    pub fn unexpected(&self) -> Error {
        match self {
            Arg::Short(c) => Error::invalid(format!("unknown option '-{c}'")),
            Arg::Long(s) => Error::invalid(format!("unknown option '--{s}'")),
            Arg::Value(v) => {
                Error::invalid(format!("unexpected argument '{}'", v.to_string_lossy()))
            }
        }
    }
}

impl From<lexopt::Error> for Error {
    fn from(e: lexopt::Error) -> Error {
        Error::invalid(e.to_string())
    }
}

/// The state of one program run: its arguments, common settings and stdout.
pub struct Cli {
    /// The name the user typed: `dist-pull`, or `dist pull`.
    name: String,
    program: &'static Program,
    parser: lexopt::Parser,
    root: Option<PathBuf>,
    debug: bool,
    namespace: Option<String>,
    remote: remote::Options,
    /// A store that did not exist when a program asked to write to it.
    creating: Option<Store>,
    status: u8,
    out: BufWriter<Stdout>,
}

impl Cli {
    fn new(program: &'static Program, name: String, args: Vec<OsString>) -> Cli {
        Cli {
            name,
            program,
            parser: lexopt::Parser::from_args(args),
            root: None,
            debug: false,
            namespace: None,
            remote: remote::Options::default(),
            creating: None,
            status: 0,
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
        }
    }

    fn takes(&self, group: Group) -> bool {
        self.program.groups.contains(&group)
    }

    /// The help text as printed: the program's, its groups' and the common
    /// options, usage lines naming the program as it was called.
    fn help(&self) -> String {
        let mut text = String::new();
        for line in self.program.help.trim_end().lines() {
            let line = match line.strip_prefix("usage: ") {
                Some(rest) => format!("usage: {}", rest.replacen(self.program.name, &self.name, 1)),
                None if line.trim_start().starts_with(self.program.name) => {
                    line.replacen(self.program.name, &self.name, 1)
                }
                None => line.to_string(),
            };
            text.push_str(&line);
            text.push('\n');
        }
        if self.takes(Group::Registry) {
            text.push_str("\nRegistry options:\n");
            text.push_str(REGISTRY_HELP);
            text.push('\n');
        }
        text.push_str("\nCommon options:\n");
        if self.takes(Group::Namespace) {
            text.push_str(NAMESPACE_HELP);
            text.push('\n');
        }
        text.push_str(COMMON_HELP);
        text.push('\n');
        text
    }

    /// The next argument that is not a shared flag; shared flags are
    /// applied as they come.
    pub fn next_arg(&mut self) -> Result<Option<Arg>> {
        loop {
            let arg = match self.parser.next()? {
                None => return Ok(None),
                Some(lexopt::Arg::Short(c)) => Arg::Short(c),
                Some(lexopt::Arg::Long(s)) => Arg::Long(s.to_string()),
                Some(lexopt::Arg::Value(v)) => Arg::Value(v),
            };
            if !self.shared(&arg)? {
                return Ok(Some(arg));
            }
        }
    }

    /// Applies `arg` if it is a common flag or one of the program's groups.
    fn shared(&mut self, arg: &Arg) -> Result<bool> {
        use lexopt::Arg::{Long, Short};
        let namespace = self.takes(Group::Namespace);
        let registry = self.takes(Group::Registry);
        match arg.get() {
            Short('h') | Long("help") => {
                let text = self.help();
                let _ = self.out().write_all(text.as_bytes());
                self.exit(0);
            }
            Short('v') | Long("version") => {
                let text = format!("{} dist {VERSION}\n", self.name);
                let _ = self.out().write_all(text.as_bytes());
                self.exit(0);
            }
            Long("root") => self.root = Some(self.value()?.into()),
            Long("debug") => self.debug = true,
            Long("timeout") => {
                let text = self.string()?;
                let limit = crate::time::parse_duration(&text).context("--timeout")?;
                watchdog(self.name.clone(), text, limit);
            }
            Short('n') | Long("namespace") if namespace => self.namespace = Some(self.string()?),
            Long("plain-http") if registry => self.remote.plain_http = true,
            Long("insecure") if registry => self.remote.insecure = true,
            Long("creds") if registry => {
                self.remote.sources.creds = Some(Found {
                    credentials: self.parse("--creds")?,
                    source: "--creds".to_string(),
                });
            }
            Long("authfile") if registry => {
                self.remote.sources.authfile = Some(self.value()?.into());
            }
            Long("hosts-dir") if registry => {
                let dir = std::path::PathBuf::from(self.value()?);
                self.remote.hosts_dirs = crate::remote::hosts::search_dirs(Some(&dir));
            }
            Long("idle-timeout") if registry => {
                let limit =
                    crate::time::parse_duration(&self.string()?).context("--idle-timeout")?;
                self.remote.connect_timeout = limit;
                self.remote.read_timeout = limit;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The value of the option just returned by [`Cli::next_arg`].
    pub fn value(&mut self) -> Result<OsString> {
        Ok(self.parser.value()?)
    }

    /// The value of the option just returned, as UTF-8.
    pub fn string(&mut self) -> Result<String> {
        let v = self.value()?;
        v.into_string()
            .map_err(|v| Error::invalid(format!("'{}' is not valid UTF-8", v.to_string_lossy())))
    }

    /// The value of the option `flag` just returned, parsed as `T`.
    pub fn parse<T: FromStr>(&mut self, flag: &str) -> Result<T>
    where
        T::Err: Display,
    {
        let text = self.string()?;
        parse_as(&text).map_err(|e| e.context(flag))
    }

    /// The store's root as the common flags select it: `--root`, else
    /// `$DIST_ROOT`, else `./.content`; and where that came from.
    fn root(&self) -> (PathBuf, &'static str) {
        if let Some(r) = &self.root {
            return (r.clone(), "--root");
        }
        match std::env::var_os("DIST_ROOT").filter(|v| !v.is_empty()) {
            Some(r) => (PathBuf::from(r), "$DIST_ROOT"),
            None => (PathBuf::from(".content"), "the default"),
        }
    }

    /// The store, which must exist: programs that only read it or remove
    /// from it never create one. Else "no store at DIR" (exit 3), with a
    /// hint when DIR holds one in `.content` or a `$DIST_ROOT` typo is likely.
    pub fn store(&self) -> Result<Store> {
        let (root, from) = self.root();
        let store = Store::open(root);
        if store.probe()? {
            return Ok(store);
        }
        let hint = match (nested_store(&store), from) {
            (Some(inner), _) => format!("; {} is one: --root {}", inner.display(), inner.display()),
            (None, "the default") => match root_typo() {
                Some(var) => format!("; ${var} is set: a typo of DIST_ROOT?"),
                None => {
                    "; --root DIR or $DIST_ROOT names another, or dist-pull makes one".to_string()
                }
            },
            (None, from) => format!(" (from {from})"),
        };
        Err(Error::new(
            Kind::NotFound,
            format!("no store at {}{hint}", store.root().display()),
        ))
    }

    /// The store to commit content to: created by the first write (and
    /// said under `--debug`). A directory that is no store but holds one in
    /// `.content` is refused: its parent was named by mistake.
    pub fn store_to_write(&mut self) -> Result<Store> {
        let (root, _) = self.root();
        let store = Store::open(root);
        if store.probe()? {
            return Ok(store);
        }
        if let Some(inner) = nested_store(&store) {
            return Err(Error::new(
                Kind::FailedPrecondition,
                format!(
                    "{} is no store but holds one: --root {}",
                    store.root().display(),
                    inner.display()
                ),
            ));
        }
        self.creating = Some(store.clone());
        Ok(store)
    }

    /// The namespace: `-n`, else `$DIST_NAMESPACE`, else
    /// `$CONTAINERD_NAMESPACE`, else `default`.
    pub fn namespace(&self) -> Result<Namespace> {
        Namespace::select(self.namespace.as_deref())
    }

    /// A registry client as the registry flags say, logging to stderr
    /// under `--debug`.
    pub fn remote(&self) -> Result<Remote> {
        self.remote_with(None)
    }

    /// A registry client that uses `creds` (what dist-login checks) for
    /// every host, instead of what the flags and files give.
    pub fn remote_with(&self, creds: Option<Found>) -> Result<Remote> {
        let mut opts = self.remote.clone();
        if creds.is_some() {
            opts.sources.creds = creds;
        }
        if self.debug {
            let name = self.name.clone();
            opts.log = Some(Arc::new(move |line: &str| say(&format!("{name}: {line}"))));
        }
        Remote::new(&opts)
    }

    /// The credentials file `--authfile` names, or the one docker and
    /// skopeo log in to.
    pub fn login_file(&self) -> PathBuf {
        remote::credentials::login_file(self.remote.sources.authfile.as_deref())
    }

    /// Whether `--debug` was given.
    pub fn debugging(&self) -> bool {
        self.debug
    }

    /// Prints a diagnostic on stderr when `--debug` was given.
    pub fn debug(&self, msg: impl Display) {
        if self.debug {
            say(&format!("{}: {msg}", self.name));
        }
    }

    /// Prints a note (a summary, not data) on stderr.
    pub fn note(&self, msg: impl Display) {
        say(&format!("{}: {msg}", self.name));
    }

    /// Prints a warning on stderr.
    pub fn warn(&self, msg: impl Display) {
        say(&format!("{}: warning: {msg}", self.name));
    }

    /// Reports the failure of one item of many: prints it and sets the final
    /// exit code, so the loop can go on with the next item.
    pub fn report(&mut self, err: &Error) {
        self.show(err);
        if self.status == 0 {
            self.status = err.kind().exit_code();
        }
    }

    /// Prints one result on stdout: `value` as one JSON line with `--json`
    /// (`json`), else `line`.
    pub fn emit(&mut self, json: bool, line: impl Display, value: serde_json::Value) -> Result<()> {
        match json {
            true => writeln!(self.out(), "{value}")?,
            false => writeln!(self.out(), "{line}")?,
        }
        Ok(())
    }

    /// Standard output, buffered; a reader that goes away ends the program with success.
    pub fn out(&mut self) -> Out<'_> {
        Out(&mut self.out)
    }

    /// Whether stdout is a terminal.
    pub fn stdout_is_terminal(&self) -> bool {
        io::stdout().is_terminal()
    }

    fn show(&self, err: &Error) {
        say(&format!("{}: {err}", self.name));
        if err.kind() == Kind::InvalidArgument {
            say(&format!("Try '{} --help' for more information.", self.name));
        }
    }

    fn exit(&mut self, code: u8) -> ! {
        let _ = self.out().flush();
        std::process::exit(code.into())
    }
}

/// Writes `line` and a newline to stderr. A stderr that cannot be written
/// (a full disk, a closed pipe) loses the line, never the exit code.
pub fn say(line: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(format!("{line}\n").as_bytes());
}

/// `DIR/.content`, when `store`'s root is no store but that is one.
fn nested_store(store: &Store) -> Option<PathBuf> {
    let inner = Store::open(store.root().join(".content"));
    inner.exists().then(|| inner.root().to_path_buf())
}

/// A variable of the environment whose name looks like a typo of
/// `DIST_ROOT` (`DIST_ROT`, `DISTROOT`, `DIST_ROOTS`).
fn root_typo() -> Option<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .find(|k| k != "DIST_ROOT" && distance(&k.to_ascii_uppercase(), "DIST_ROOT") <= 2)
}

/// The Levenshtein distance of two short ASCII names.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Keeps glibc from raising its mmap threshold as buffers are freed: by
/// default each freed 1 MiB buffer raises it, later buffers then come from
/// per-thread arenas that keep their pages, and a pull of 40 layers on 4
/// jobs grew to 45 MiB of RSS instead of 19.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Standard output as programs write to it. A broken pipe means the reader
/// has what it wanted (`dist-list -q | head -1`): the program ends with success.
pub struct Out<'a>(&'a mut BufWriter<Stdout>);

impl Out<'_> {
    fn check<T>(r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            std::process::exit(0);
        }
        r
    }
}

impl Write for Out<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Out::check(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Out::check(self.0.flush())
    }
}

/// Asks on the terminal (`/dev/tty`) and reads one line, without echoing
/// it when `secret`. An error when there is no terminal.
pub fn ask(prompt: &str, secret: bool) -> Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead, BufReader};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            Error::invalid(format!(
                "no terminal to ask on ({}): give what is asked for with options",
                Error::io(&e)
            ))
        })?;
    let saved = tcgetattr(&tty).map_err(|e| Error::from(e).context("/dev/tty"))?;
    if secret {
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&tty, OptionalActions::Now, &quiet).map_err(Error::from)?;
    }
    let mut line = String::new();
    let read = (&tty)
        .write_all(prompt.as_bytes())
        .and_then(|()| BufReader::new(&tty).read_line(&mut line));
    if secret {
        let _ = tcsetattr(&tty, OptionalActions::Now, &saved);
        let _ = (&tty).write_all(b"\n");
    }
    read.map_err(|e| Error::io(&e).context("/dev/tty"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Standard input as a file, so that a regular file can be seeked and a
/// pipe read in large chunks.
pub fn stdin_file() -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io(&e).context("stdin"))?;
    Ok(fd.into())
}

/// Standard output as a file, for data the kernel copies from files
/// (nothing must have been written through [`Cli::out`] before).
pub fn stdout_file() -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io(&e).context("stdout"))?;
    Ok(fd.into())
}

/// Parses `text` as `T`, as a usage error naming the value.
pub fn parse_as<T: FromStr>(text: &str) -> Result<T>
where
    T::Err: Display,
{
    text.parse::<T>().map_err(|e| {
        let msg = e.to_string();
        if msg.contains(text) {
            Error::invalid(msg)
        } else {
            Error::invalid(format!("invalid value '{text}': {msg}"))
        }
    })
}

/// A size in bytes: `1048576`, `512k`, `16M`, `1G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| Error::invalid(format!("invalid size '{text}': a number and k, M or G")))?;
    let scale: u64 = match unit.to_ascii_lowercase().trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => {
            return Err(Error::invalid(format!(
                "invalid size '{text}': a number and k, M or G"
            )));
        }
    };
    match n.checked_mul(scale) {
        Some(0) | None => Err(Error::invalid(format!("invalid size '{text}'"))),
        Some(v) => Ok(v),
    }
}

/// Parses a positional argument as `T`.
pub fn parse_value<T: FromStr>(value: OsString) -> Result<T>
where
    T::Err: Display,
{
    match value.into_string() {
        Ok(s) => parse_as(&s),
        Err(v) => Err(Error::invalid(format!(
            "'{}' is not valid UTF-8",
            v.to_string_lossy()
        ))),
    }
}

/// Ends the process with "unavailable" once `limit` has passed. Every write of
/// the store is atomic, so stopping anywhere loses nothing.
fn watchdog(name: String, text: String, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        say(&format!("{name}: timed out after {text}"));
        std::process::exit(Kind::Unavailable.exit_code().into());
    });
}

/// Runs a program as its own binary: `fn main() -> ExitCode { cli::main(&PROGRAM) }`.
pub fn main(program: &'static Program) -> ExitCode {
    run(
        program,
        program.name.to_string(),
        std::env::args_os().skip(1).collect(),
    )
}

/// Runs `program` as `name` (what the user typed) with `args`: prints the
/// error once as `name: object: cause` and returns the exit code of its kind
/// (or of the first item that failed).
pub fn run(program: &'static Program, name: String, args: Vec<OsString>) -> ExitCode {
    fixed_mmap_threshold();
    let mut cli = Cli::new(program, name, args);
    let result = (program.run)(&mut cli);
    if let Some(store) = cli.creating.take()
        && store.exists()
    {
        cli.debug(format_args!(
            "created a store at {}",
            store.root().display()
        ));
    }
    let flushed = cli
        .out()
        .flush()
        .map_err(|e| Error::io(&e).context("stdout"));
    let code = match result.and(flushed) {
        Ok(()) => cli.status,
        Err(e) => {
            cli.show(&e);
            e.kind().exit_code()
        }
    };
    ExitCode::from(code)
}

/// The multi-call program: runs the program named by the link it was
/// called through (`dist-pull` → dist-pull), or by its first argument
/// (`dist pull REF`); `dist --help` lists them, `dist help CMD` is
/// `dist CMD --help`.
pub fn multicall(programs: &'static [&'static Program]) -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let called = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(p) = programs.iter().find(|p| p.name == called) {
        return run(p, called, args.collect());
    }
    let mut args: Vec<OsString> = args.collect();
    let first = (!args.is_empty()).then(|| args.remove(0));
    let first = first.as_ref().map(|a| a.to_string_lossy().into_owned());
    let find = |cmd: &str| {
        programs
            .iter()
            .find(|p| p.name.strip_prefix("dist-") == Some(cmd))
    };
    match first.as_deref() {
        None => {
            say(multicall_help(programs).trim_end());
            ExitCode::from(Kind::InvalidArgument.exit_code())
        }
        Some("-h" | "--help") => {
            let _ = io::stdout()
                .lock()
                .write_all(multicall_help(programs).as_bytes());
            ExitCode::SUCCESS
        }
        Some("-v" | "--version") => {
            let _ = writeln!(io::stdout().lock(), "dist {VERSION}");
            ExitCode::SUCCESS
        }
        Some("help") => match args.first().map(|a| a.to_string_lossy().into_owned()) {
            Some(cmd) => match find(&cmd) {
                Some(p) => run(p, format!("dist {cmd}"), vec!["--help".into()]),
                None => unknown(&cmd),
            },
            None => {
                let _ = io::stdout()
                    .lock()
                    .write_all(multicall_help(programs).as_bytes());
                ExitCode::SUCCESS
            }
        },
        Some(cmd) => match find(cmd) {
            Some(p) => run(p, format!("dist {cmd}"), args),
            None => unknown(cmd),
        },
    }
}

/// What `dist --help` prints: usage and one line per command.
fn multicall_help(programs: &[&Program]) -> String {
    let mut text = String::from(
        "usage: dist COMMAND [ARG]...\n       dist help COMMAND\n\n\
         Move OCI and Docker images between registries, a content store on disk\n\
         and directories. Each command is also a program of its own, dist-COMMAND,\n\
         and a link to dist named dist-COMMAND runs that command.\n\nCommands:\n",
    );
    for p in programs {
        let cmd = p.name.trim_start_matches("dist-");
        text.push_str(&format!("    {cmd:<10} {}\n", p.about));
    }
    text.push_str("\nRun 'dist COMMAND --help' for a command's options.\n");
    text
}

fn unknown(cmd: &str) -> ExitCode {
    say(&format!(
        "dist: unknown command '{}'",
        crate::error::Untrusted(cmd)
    ));
    say("Try 'dist --help' for the list of commands.");
    ExitCode::from(Kind::InvalidArgument.exit_code())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_in_bytes_and_units() {
        assert_eq!(super::parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(super::parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(super::parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(super::parse_size("1GiB").unwrap(), 1 << 30);
        for bad in ["", "0", "x", "1T", "-1"] {
            assert!(super::parse_size(bad).is_err(), "{bad}");
        }
    }
}
