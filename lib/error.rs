//! The one error type of the library: a [`Kind`] that tells the caller what to
//! do, and a one-line message that names the object and the cause.
//!
//! Kinds follow containerd's errdefs; every program maps them to the exit codes
//! documented in `dist.7` through [`Kind::exit_code`]. This module knows nothing
//! of programs or printing.

use std::fmt;
use std::io;

/// What went wrong, as a class a script can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bug or a failure no other kind describes.
    Internal,
    /// A malformed argument or option: fix the command.
    InvalidArgument,
    /// The image, manifest, blob, ref or snapshot does not exist.
    NotFound,
    /// A manifest, layer or config that breaks the spec.
    InvalidContent,
    /// The object exists already (callers that only wanted it present treat this as success).
    AlreadyExists,
    /// The state does not allow the operation: a conflict, an object in use.
    FailedPrecondition,
    /// Locked by another writer, network down, registry overloaded, timed out: retry later.
    Unavailable,
    /// The registry wants (other) credentials.
    Unauthenticated,
    /// The file system or the registry refuses access.
    PermissionDenied,
    /// A digest or size that does not match: the source is not to be trusted.
    DataCorruption,
    /// No signature verifies with the keys given: do not run it.
    Untrusted,
}

impl Kind {
    /// Every kind, in the order of `dist.7`'s table.
    pub const ALL: [Kind; 11] = [
        Kind::Internal,
        Kind::InvalidArgument,
        Kind::NotFound,
        Kind::InvalidContent,
        Kind::AlreadyExists,
        Kind::FailedPrecondition,
        Kind::Unavailable,
        Kind::Unauthenticated,
        Kind::PermissionDenied,
        Kind::DataCorruption,
        Kind::Untrusted,
    ];

    /// The process exit code documented for this kind in `dist.7`.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Internal => 1,
            Kind::InvalidArgument => 2,
            Kind::NotFound => 3,
            Kind::InvalidContent => 4,
            Kind::AlreadyExists | Kind::FailedPrecondition => 5,
            Kind::Unavailable => 6,
            Kind::Unauthenticated | Kind::PermissionDenied => 7,
            Kind::DataCorruption => 8,
            Kind::Untrusted => 9,
        }
    }

    /// A short lowercase name, as used in messages and `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Internal => "internal",
            Kind::InvalidArgument => "invalid argument",
            Kind::NotFound => "not found",
            Kind::InvalidContent => "invalid content",
            Kind::AlreadyExists => "already exists",
            Kind::FailedPrecondition => "failed precondition",
            Kind::Unavailable => "unavailable",
            Kind::Unauthenticated => "unauthenticated",
            Kind::PermissionDenied => "permission denied",
            Kind::DataCorruption => "data corruption",
            Kind::Untrusted => "untrusted",
        }
    }
}

/// An error of the library: a kind and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    msg: String,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` whose message is `msg` (one line, no trailing period).
    pub fn new(kind: Kind, msg: impl Into<String>) -> Error {
        Error {
            kind,
            msg: msg.into(),
        }
    }

    /// A usage error: a malformed argument.
    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::new(Kind::InvalidArgument, msg)
    }

    /// An I/O error, classified by its OS error.
    pub fn io(err: &io::Error) -> Error {
        if let Some(inner) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Error>())
        {
            return inner.clone();
        }
        Error::new(io_kind(err), describe_io(err))
    }

    /// The kind of the error.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefixes the message with the object it concerns: `object: message`.
    pub fn context(mut self, object: impl fmt::Display) -> Error {
        self.msg = format!("{object}: {}", self.msg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    /// An I/O error; one that carries an `Error` (from a reader that verifies
    /// what it yields) gives that error back.
    fn from(err: io::Error) -> Error {
        Error::io(&err)
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(err: rustix::io::Errno) -> Error {
        Error::io(&err.into())
    }
}

/// Adds the object an error concerns, keeping the cause.
pub trait Context<T> {
    /// `object: cause`.
    fn context(self, object: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, object: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(object))
    }
}

fn io_kind(err: &io::Error) -> Kind {
    use rustix::io::Errno;
    if let Some(code) = err.raw_os_error() {
        match Errno::from_raw_os_error(code) {
            Errno::NOSPC | Errno::DQUOT | Errno::AGAIN | Errno::TIMEDOUT => {
                return Kind::Unavailable;
            }
            Errno::ROFS | Errno::PERM | Errno::ACCESS => return Kind::PermissionDenied,
            Errno::NOTDIR | Errno::ISDIR | Errno::NOTEMPTY | Errno::BUSY => {
                return Kind::FailedPrecondition;
            }
            Errno::NAMETOOLONG => return Kind::InvalidArgument,
            _ => {}
        }
    }
    match err.kind() {
        io::ErrorKind::NotFound => Kind::NotFound,
        io::ErrorKind::PermissionDenied => Kind::PermissionDenied,
        io::ErrorKind::AlreadyExists => Kind::AlreadyExists,
        io::ErrorKind::WouldBlock
        | io::ErrorKind::TimedOut
        | io::ErrorKind::Interrupted
        | io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Kind::Unavailable,
        io::ErrorKind::InvalidData => Kind::InvalidContent,
        io::ErrorKind::InvalidInput => Kind::InvalidArgument,
        _ => Kind::Internal,
    }
}

/// "No such file or directory (os error 2)" → "no such file or directory".
fn describe_io(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if chars.clone().next().is_some_and(|c| c.is_lowercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// Text from outside the process (a registry's error message, a platform
/// string, an annotation, a file name in an archive), made safe to print:
/// control characters (escape sequences, newlines that would forge a second
/// line) and bidirectional overrides are escaped as `\x1b`, `\n`, `\u{202e}`,
/// and it is cut after [`Untrusted::MAX`] characters.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl Untrusted<'_> {
    /// The most characters of one outside text a message quotes.
    pub const MAX: usize = 256;
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shown, (i, c)) in self.0.char_indices().enumerate() {
            if shown == Untrusted::MAX {
                return write!(f, "…({} more bytes)", self.0.len() - i);
            }
            escape_char(f, c)?;
        }
        Ok(())
    }
}

/// `text` with control characters and bidirectional overrides escaped, as
/// [`Untrusted`] does, but whole: for table cells and names.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    struct Whole<'a>(&'a str);
    impl fmt::Display for Whole<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.chars().try_for_each(|c| escape_char(f, c))
        }
    }
    if text.chars().any(needs_escape) {
        std::borrow::Cow::Owned(Whole(text).to_string())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn needs_escape(c: char) -> bool {
    (c as u32) < 0x20
        || (0x7f..0xa0).contains(&(c as u32))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
            write!(f, "\\x{:02x}", c as u32)
        }
        c if needs_escape(c) => write!(f, "\\u{{{:x}}}", c as u32),
        c => fmt::Write::write_char(f, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_one_lowercase_line() {
        let e = Error::io(&io::Error::from_raw_os_error(2)).context("/x/y");
        assert_eq!(e.to_string(), "/x/y: no such file or directory");
        assert_eq!(e.kind(), Kind::NotFound);
        let e = Error::io(&io::Error::from_raw_os_error(28));
        assert_eq!(e.kind(), Kind::Unavailable);
        assert_eq!(e.to_string(), "no space left on device");
    }

    #[test]
    fn outside_text_is_escaped_and_bounded() {
        let evil = "linux\x1b]0;title\x07\x1b[2J\nFORGED: ok\u{202e}";
        let shown = Untrusted(evil).to_string();
        assert_eq!(
            shown,
            "linux\\x1b]0;title\\x07\\x1b[2J\\nFORGED: ok\\u{202e}"
        );
        assert!(!shown.chars().any(char::is_control));
        let long = "é".repeat(1000);
        let shown = Untrusted(&long).to_string();
        assert!(shown.starts_with(&"é".repeat(Untrusted::MAX)), "{shown}");
        assert!(shown.ends_with("…(1488 more bytes)"), "{shown}");
        assert_eq!(Untrusted("plain text").to_string(), "plain text");
        assert!(matches!(escape("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape(&format!("{long}\n")).len(), long.len() + 2);
    }

    #[test]
    fn kinds_map_to_distinct_documented_codes() {
        let codes: Vec<u8> = Kind::ALL.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 5, 6, 7, 7, 8, 9]);
    }
}
