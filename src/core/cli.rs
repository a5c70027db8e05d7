//! Command-line conventions shared by every binary: the argument parser, `--help`/`--version`, exit codes and the one-line error.
//!
//! A binary's `main` is `PROGRAM.exit(cli::parse(Config::parse).and_then(run))`.
//! Its `Config::parse` is a loop in lexopt's shape (`args`): `while let
//! Some(arg) = parser.next()?` and a `match` with one arm per option,
//! `Long("port") => ...`. A group of options several programs share is one
//! call in the last arm, `arg => config.server.parse(arg, parser)?`, written
//! once beside the code that uses it (`server::Options`: `--bind`, `--port`,
//! `--max-clients`, `--max-per-address`, `--idle-timeout`; `net::Target`:
//! `--host`, `--port`); it refuses what is not its own. Every option is listed
//! in the program's `--help` text, at the end of the same file.

mod args;
mod os_arg;

pub use args::{Arg, Parser};

use crate::core::print;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// Exit code for a usage error (bad or missing argument), as in BSD's `EX_USAGE` tradition of 2.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// A runtime failure that has an exit status of its own, so that a script can tell them
/// apart; any other runtime failure exits [`EXIT_FAILURE`]. The numbers are curl's for the
/// same failure (`man curl`, EXIT CODES), so a script written for curl reads them alike;
/// curl has no checksum failure, and 32 (which it does not use) is aria2's for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The host name has no address (curl 6).
    Resolve,
    /// Nobody accepted the connection (curl 7).
    Connect,
    /// The peer does not speak the protocol, or broke it: an SSH server, say (curl 8, weird server reply).
    NotOurs,
    /// The server refused: outside the served root, permission denied, read-only (curl 9, access denied).
    Refused,
    /// A local file could not be written, or read for an upload (curl 23, write error).
    LocalFile,
    /// The server, or the connect, stayed silent past the timeout (curl 28).
    Timeout,
    /// Every byte arrived but the SHA-256 digests differ (aria2's 32).
    Mismatch,
    /// The server wants a token and did not get the right one (curl 67, login denied).
    Unauthorized,
    /// No such file or directory on the server (curl 78, remote file not found).
    NotFound,
}

impl Failure {
    /// Every kind, for tests that check the help lists each code.
    pub const ALL: [Failure; 9] = [
        Failure::Resolve,
        Failure::Connect,
        Failure::NotOurs,
        Failure::Refused,
        Failure::LocalFile,
        Failure::Timeout,
        Failure::Mismatch,
        Failure::Unauthorized,
        Failure::NotFound,
    ];

    /// The exit status: the one place a kind of failure becomes a number.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Resolve => 6,
            Failure::Connect => 7,
            Failure::NotOurs => 8,
            Failure::Refused => 9,
            Failure::LocalFile => 23,
            Failure::Timeout => 28,
            Failure::Mismatch => 32,
            Failure::Unauthorized => 67,
            Failure::NotFound => 78,
        }
    }
}

/// What a binary says about itself, for `--help`, `--version` and its error lines.
pub struct Program {
    /// The binary's name, used in `<program>: error: ...` and `--version`.
    pub name: &'static str,
    /// The whole `--help` text; its first line starting with `Usage:` is repeated under usage errors.
    pub help: &'static str,
}

/// Why a program stops early; [`Program::exit`] turns each into its output and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `--help` or `-h`: print the help to stdout, exit 0.
    Help,
    /// `--version` or `-V`: print `<program> <version>`, exit 0.
    Version,
    /// A bad or missing argument: message to stderr with the usage line, exit 2.
    Usage(String),
    /// Something went wrong at run time: one line to stderr, exit 1.
    Runtime(String),
    /// A runtime failure of a kind with its own exit status ([`Failure::exit_code`]): one line to stderr.
    Failed(Failure, String),
    /// Stdout was closed by its reader (`prog | head`): not an error, exit 0 quietly.
    BrokenPipe,
}

impl Error {
    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// A runtime error with this message.
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::Runtime(message.into())
    }

    /// A runtime error of this kind (exit [`Failure::exit_code`]), or of none (exit 1).
    pub fn of(kind: Option<Failure>, message: impl Into<String>) -> Error {
        match kind {
            Some(kind) => Error::Failed(kind, message.into()),
            None => Error::Runtime(message.into()),
        }
    }

    /// This runtime error, now of this kind; any other error as it was.
    pub fn kind(self, kind: Failure) -> Error {
        match self {
            Error::Runtime(m) | Error::Failed(_, m) => Error::Failed(kind, m),
            other => other,
        }
    }

    /// The kind of a runtime failure, when it has one.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            Error::Failed(kind, _) => Some(*kind),
            _ => None,
        }
    }

    /// A runtime error from an I/O error, with what was being done: `context: reason`.
    pub fn io(context: impl fmt::Display, err: &io::Error) -> Error {
        Error::Runtime(format!("{context}: {}", describe_io(err)))
    }

    /// An error writing to stdout: a closed pipe ends the program quietly, anything else is a runtime error.
    pub fn stdout(err: io::Error) -> Error {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Error::BrokenPipe
        } else {
            Error::io("writing to stdout", &err)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Help => f.write_str("help requested"),
            Error::Version => f.write_str("version requested"),
            Error::Usage(m) | Error::Runtime(m) | Error::Failed(_, m) => f.write_str(m),
            Error::BrokenPipe => f.write_str("stdout closed"),
        }
    }
}

impl std::error::Error for Error {}

/// An I/O error in plain words, without Rust's `(os error N)` suffix where a plain phrase says it better.
pub fn describe_io(err: &io::Error) -> String {
    use io::ErrorKind::*;
    let plain = match err.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        NotConnected => "not connected",
        AddrInUse => "address already in use",
        AddrNotAvailable => "address not available on this machine",
        BrokenPipe => "the other side closed the connection",
        TimedOut | WouldBlock => "timed out",
        NotFound => "no such file or directory",
        PermissionDenied => "permission denied",
        AlreadyExists => "already exists",
        UnexpectedEof => "unexpected end of data",
        _ => return strip_os_error(&err.to_string()),
    };
    plain.to_string()
}

/// The system's own words without Rust's `(os error N)`, starting lowercase like the rest of our messages.
fn strip_os_error(text: &str) -> String {
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        // "Too many open files" reads as a sentence start; ours are clauses after "...: ".
        Some(first)
            if first.is_uppercase() && chars.clone().next().is_some_and(char::is_lowercase) =>
        {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// Parses the process's own arguments (without the program name) with a binary's `Config::parse`.
pub fn parse<T>(config: impl FnOnce(&mut Parser) -> Result<T, Error>) -> Result<T, Error> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    config(&mut Parser::new(&args))
}

impl Program {
    /// Turns how a binary's `run` ended into its output and exit code, after every line it
    /// printed has been written.
    ///
    /// This is the only place that prints `<program>: error: ...`, so every
    /// binary reports failures the same way, once, and never with a backtrace.
    pub fn exit(&self, result: Result<(), Error>) -> ExitCode {
        print::flush();
        match result {
            Ok(()) | Err(Error::BrokenPipe) => ExitCode::SUCCESS,
            Err(Error::Help) => print_or_quit(self.help),
            Err(Error::Version) => {
                print_or_quit(&format!("{} {}\n", self.name, env!("CARGO_PKG_VERSION")))
            }
            Err(Error::Usage(message)) => {
                let mut text = format!("{}: error: {message}\n", self.name);
                if let Some(usage) = self.help.lines().find(|l| l.starts_with("Usage:")) {
                    text.push_str(usage);
                    text.push('\n');
                }
                text.push_str(&format!(
                    "Try '{} --help' for more information.\n",
                    self.name
                ));
                // Nothing useful can be done if stderr itself is gone.
                let _ = io::stderr().write_all(text.as_bytes());
                ExitCode::from(EXIT_USAGE)
            }
            Err(Error::Runtime(message)) => {
                let _ = writeln!(io::stderr(), "{}: error: {message}", self.name);
                ExitCode::from(EXIT_FAILURE)
            }
            Err(Error::Failed(kind, message)) => {
                let _ = writeln!(io::stderr(), "{}: error: {message}", self.name);
                ExitCode::from(kind.exit_code())
            }
        }
    }
}

fn print_or_quit(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    // `prog --help | head -1` closes the pipe early; that is still a success.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_in_plain_words() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Error::io("connecting to 127.0.0.1:1", &refused),
            Error::runtime("connecting to 127.0.0.1:1: connection refused")
        );
        assert_eq!(
            strip_os_error("Too many open files (os error 24)"),
            "too many open files"
        );
        // An abbreviation keeps its capitals.
        assert_eq!(strip_os_error("EOF while parsing"), "EOF while parsing");
    }

    #[test]
    fn each_kind_of_failure_has_its_own_code_apart_from_usage_and_generic() {
        let mut codes: Vec<u8> = Failure::ALL.iter().map(|k| k.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Failure::ALL.len());
        assert!(!codes.contains(&EXIT_USAGE) && !codes.contains(&EXIT_FAILURE));
        assert_eq!(Error::of(None, "x"), Error::runtime("x"));
        assert_eq!(
            Error::runtime("x").kind(Failure::Timeout).failure(),
            Some(Failure::Timeout)
        );
    }

    #[test]
    fn closed_stdout_is_not_an_error() {
        assert_eq!(
            Error::stdout(io::Error::from(io::ErrorKind::BrokenPipe)),
            Error::BrokenPipe
        );
    }
}
