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

use crate::content::Store;
use crate::error::{Error, Kind, Result};

pub use crate::VERSION;

const COMMON_HELP: &str = "\
Common options:
    --root DIR      the content store (default: $DIST_ROOT, else ./.content)
    --debug         print diagnostics on stderr
    --timeout DUR   give up after DUR (30s, 5m, 1h30m) with exit code 6
-h, --help          print this help and exit
-v, --version       print the version and exit";

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
    name: &'static str,
    help: &'static str,
    parser: lexopt::Parser,
    root: Option<PathBuf>,
    debug: bool,
    status: u8,
    out: BufWriter<Stdout>,
}

impl Cli {
    fn new(name: &'static str, help: &'static str) -> Cli {
        Cli {
            name,
            help,
            parser: lexopt::Parser::from_env(),
            root: None,
            debug: false,
            status: 0,
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
        }
    }

    /// The next argument that is not a common flag; common flags are applied
    /// as they come.
    pub fn next_arg(&mut self) -> Result<Option<Arg>> {
        loop {
            let arg = match self.parser.next()? {
                None => return Ok(None),
                Some(lexopt::Arg::Short(c)) => Arg::Short(c),
                Some(lexopt::Arg::Long(s)) => Arg::Long(s.to_string()),
                Some(lexopt::Arg::Value(v)) => Arg::Value(v),
            };
            match arg.get() {
                lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => {
                    let text = format!("{}\n\n{COMMON_HELP}\n", self.help.trim_end());
                    let _ = self.out().write_all(text.as_bytes());
                    self.exit(0);
                }
                lexopt::Arg::Short('v') | lexopt::Arg::Long("version") => {
                    let text = format!("{} dist {VERSION}\n", self.name);
                    let _ = self.out().write_all(text.as_bytes());
                    self.exit(0);
                }
                lexopt::Arg::Long("root") => self.root = Some(self.value()?.into()),
                lexopt::Arg::Long("debug") => self.debug = true,
                lexopt::Arg::Long("timeout") => {
                    let text = self.string()?;
                    let limit =
                        crate::time::parse_duration(&text).map_err(|e| e.context("--timeout"))?;
                    watchdog(self.name, text, limit);
                }
                _ => return Ok(Some(arg)),
            }
        }
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

    /// The store the common flags select: `--root`, else `$DIST_ROOT`, else `./.content`.
    pub fn store(&self) -> Store {
        let root = self
            .root
            .clone()
            .or_else(|| {
                std::env::var_os("DIST_ROOT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(".content"));
        Store::open(root)
    }

    /// Whether `--debug` was given.
    pub fn debugging(&self) -> bool {
        self.debug
    }

    /// Prints a diagnostic on stderr when `--debug` was given.
    pub fn debug(&self, msg: impl Display) {
        if self.debug {
            eprintln!("{}: {msg}", self.name);
        }
    }

    /// Prints a warning on stderr.
    pub fn warn(&self, msg: impl Display) {
        eprintln!("{}: warning: {msg}", self.name);
    }

    /// Reports the failure of one item of many: prints it and sets the final
    /// exit code, so the loop can go on with the next item.
    pub fn report(&mut self, err: &Error) {
        self.show(err);
        if self.status == 0 {
            self.status = err.kind().exit_code();
        }
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
        eprintln!("{}: {err}", self.name);
        if err.kind() == Kind::InvalidArgument {
            eprintln!("Try '{} --help' for more information.", self.name);
        }
    }

    fn exit(&mut self, code: u8) -> ! {
        let _ = self.out().flush();
        std::process::exit(code.into())
    }
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
fn watchdog(name: &'static str, text: String, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("{name}: timed out after {text}");
        std::process::exit(Kind::Unavailable.exit_code().into());
    });
}

/// Runs a program: `fn main() -> ExitCode { cli::run("dist-x", HELP, run) }`.
/// Prints the error once as `dist-x: object: cause` and returns the exit code
/// of its kind (or of the first item that failed).
pub fn run(name: &'static str, help: &'static str, main: fn(&mut Cli) -> Result<()>) -> ExitCode {
    fixed_mmap_threshold();
    let mut cli = Cli::new(name, help);
    let result = main(&mut cli);
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
