//! Command-line conventions shared by every binary: the argument parser, `--help`/`--version`, exit codes and the one-line error.
//!
//! The parser is hand-written in the shape of lexopt: each binary drives a
//! `while let Some(arg) = parser.next()?` loop in its `Config::parse` and
//! `match`es on [`Arg`]. A program's own options are the arms of that
//! `match`; each group of options several programs share is a `parse_arg`
//! call in its last arm, written once beside the code that uses the group
//! (`server::Options`: `--bind`, `--port`, `--max-clients`, `--idle-timeout`;
//! `net::Target`: `--host`, `--port`; `token::TokenFile`: `--token-file`).
//! Every option, of either kind, is listed in the program's `--help` text at
//! the top of the same file.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;

/// Exit code for a usage error (bad or missing argument), as in BSD's `EX_USAGE` tradition of 2.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// What a binary tells [`main`] about itself.
pub struct Program {
    /// The binary's name, used in `<program>: error: ...` and `--version`.
    pub name: &'static str,
    /// The whole `--help` text; its first line starting with `Usage:` is repeated under usage errors.
    pub help: &'static str,
}

/// One command-line argument, as the binary's `match` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `-x` (also each letter of `-xyz`).
    Short(char),
    /// `--name` (the part before `=` of `--name=value`).
    Long(String),
    /// A positional argument, or anything after `--`.
    Value(OsString),
}

impl Arg {
    /// The option as the user typed it, for error messages.
    fn spelling(&self) -> String {
        match self {
            Arg::Short(c) => format!("-{c}"),
            Arg::Long(name) => format!("--{name}"),
            Arg::Value(v) => v.to_string_lossy().into_owned(),
        }
    }
}

/// Why a program stops early; [`main`] turns each into its output and exit code.
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
            Error::Usage(m) | Error::Runtime(m) => f.write_str(m),
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

/// Runs a binary's body and turns its outcome into output and an exit code.
///
/// This is the only place that prints `<program>: error: ...`, so every
/// binary reports failures the same way, once, and never with a backtrace.
pub fn main(program: &Program, run: impl FnOnce(&mut Parser) -> Result<(), Error>) -> ExitCode {
    let mut parser = Parser::from_env();
    match run(&mut parser) {
        Ok(()) | Err(Error::BrokenPipe) => ExitCode::SUCCESS,
        Err(Error::Help) => print_or_quit(program.help),
        Err(Error::Version) => {
            print_or_quit(&format!("{} {}\n", program.name, env!("CARGO_PKG_VERSION")))
        }
        Err(Error::Usage(message)) => {
            let mut text = format!("{}: error: {message}\n", program.name);
            if let Some(usage) = program.help.lines().find(|l| l.starts_with("Usage:")) {
                text.push_str(usage);
                text.push('\n');
            }
            text.push_str(&format!(
                "Try '{} --help' for more information.\n",
                program.name
            ));
            // Nothing useful can be done if stderr itself is gone.
            let _ = io::stderr().write_all(text.as_bytes());
            ExitCode::from(EXIT_USAGE)
        }
        Err(Error::Runtime(message)) => {
            let _ = writeln!(io::stderr(), "{}: error: {message}", program.name);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn print_or_quit(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    // `prog --help | head -1` closes the pipe early; that is still a success.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

/// The argument parser: yields [`Arg`]s one at a time; option values are taken with [`Parser::value`].
///
/// `--help`/`-h` and `--version`/`-V` are answered here, so every binary has
/// them without listing them in its own `match`.
pub struct Parser {
    args: std::vec::IntoIter<OsString>,
    /// Letters still to come from a cluster like `-ra`.
    shorts: Vec<char>,
    /// The `value` of `--name=value`, waiting for [`Parser::value`].
    long_value: Option<OsString>,
    /// The option whose value [`Parser::value`] would take, for its error message.
    last: Option<Arg>,
    /// After `--`, everything is positional.
    only_values: bool,
}

impl Parser {
    /// Parses the process's own arguments (without the program name).
    pub fn from_env() -> Parser {
        Parser::new(std::env::args_os().skip(1))
    }

    /// Parses the given arguments (without the program name).
    pub fn new<I, S>(args: I) -> Parser
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        Parser {
            args: args.into_iter(),
            shorts: Vec::new(),
            long_value: None,
            last: None,
            only_values: false,
        }
    }

    /// The next argument, or `None` at the end.
    // Not `Iterator`: each step can fail, and `value` must be callable between steps.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Arg>, Error> {
        if let Some(value) = self.long_value.take() {
            let option = self.last.as_ref().map(Arg::spelling).unwrap_or_default();
            return Err(Error::usage(format!(
                "option '{option}' does not take a value (got '{}')",
                value.to_string_lossy()
            )));
        }
        if !self.shorts.is_empty() {
            let c = self.shorts.remove(0);
            return self.option(Arg::Short(c));
        }
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        if self.only_values {
            return Ok(Some(Arg::Value(arg)));
        }
        let text = match arg.to_str() {
            Some(text) => text,
            // Not valid Unicode: it cannot be one of our options, so it is a value (a file name).
            None => return Ok(Some(Arg::Value(arg))),
        };
        if text == "--" {
            self.only_values = true;
            return self.next();
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(OsString::from(value))),
                None => (long, None),
            };
            self.long_value = value;
            return self.option(Arg::Long(name.to_string()));
        }
        if text.len() > 1 && text.starts_with('-') {
            let mut letters = text[1..].chars();
            let first = letters.next().expect("text has a character after '-'");
            self.shorts = letters.collect();
            return self.option(Arg::Short(first));
        }
        Ok(Some(Arg::Value(arg)))
    }

    fn option(&mut self, arg: Arg) -> Result<Option<Arg>, Error> {
        match &arg {
            Arg::Long(name) if name == "help" => return Err(Error::Help),
            Arg::Long(name) if name == "version" => return Err(Error::Version),
            Arg::Short('h') => return Err(Error::Help),
            Arg::Short('V') => return Err(Error::Version),
            _ => {}
        }
        self.last = Some(arg.clone());
        Ok(Some(arg))
    }

    /// The value of the option just returned: `--port 80`, `--port=80`, `-p80` or `-p 80`.
    pub fn value(&mut self) -> Result<OsString, Error> {
        let option = self.last.as_ref().map(Arg::spelling).unwrap_or_default();
        if let Some(value) = self.long_value.take() {
            return Ok(value);
        }
        if !self.shorts.is_empty() {
            let rest: String = self.shorts.drain(..).collect();
            return Ok(OsString::from(rest));
        }
        match self.args.next() {
            Some(value) => Ok(value),
            None => Err(Error::usage(format!("option '{option}' needs a value"))),
        }
    }

    /// The value of the option just returned, parsed; `expected` describes a valid value for the error message.
    pub fn parse<T: FromStr>(&mut self, expected: &str) -> Result<T, Error> {
        let option = self.last.as_ref().map(Arg::spelling).unwrap_or_default();
        let raw = self.value()?;
        parse_value(&option, &raw, expected)
    }

    /// The value of the option just returned, as UTF-8 text.
    pub fn string(&mut self) -> Result<String, Error> {
        let option = self.last.as_ref().map(Arg::spelling).unwrap_or_default();
        let raw = self.value()?;
        raw.into_string().map_err(|raw| {
            Error::usage(format!(
                "invalid value '{}' for '{option}': not valid UTF-8",
                raw.to_string_lossy()
            ))
        })
    }
}

/// Parses one option value, with an error naming the option and what was expected.
pub fn parse_value<T: FromStr>(option: &str, raw: &OsString, expected: &str) -> Result<T, Error> {
    raw.to_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            Error::usage(format!(
                "invalid value '{}' for '{option}': expected {expected}",
                raw.to_string_lossy()
            ))
        })
}

/// The error for an argument the program does not accept.
pub fn unexpected(arg: Arg) -> Error {
    match arg {
        Arg::Value(v) => Error::usage(format!("unexpected argument '{}'", v.to_string_lossy())),
        option => Error::usage(format!("unknown option '{}'", option.spelling())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(args: &[&str]) -> Result<Vec<Arg>, Error> {
        let mut p = Parser::new(args.iter().copied());
        let mut out = Vec::new();
        while let Some(arg) = p.next()? {
            out.push(arg);
        }
        Ok(out)
    }

    #[test]
    fn longs_shorts_and_values() {
        assert_eq!(
            all(&["--quiet", "-ra", "file", "-"]).unwrap(),
            vec![
                Arg::Long("quiet".into()),
                Arg::Short('r'),
                Arg::Short('a'),
                Arg::Value("file".into()),
                Arg::Value("-".into()),
            ]
        );
    }

    #[test]
    fn double_dash_ends_options() {
        assert_eq!(
            all(&["--", "--port", "-x"]).unwrap(),
            vec![Arg::Value("--port".into()), Arg::Value("-x".into())]
        );
    }

    #[test]
    fn values_in_every_spelling() {
        for args in [
            &["--port", "80"][..],
            &["--port=80"][..],
            &["-p", "80"][..],
            &["-p80"][..],
        ] {
            let mut p = Parser::new(args.iter().copied());
            p.next().unwrap().unwrap();
            assert_eq!(p.parse::<u16>("a port").unwrap(), 80, "{args:?}");
            assert_eq!(p.next().unwrap(), None, "{args:?}");
        }
    }

    #[test]
    fn missing_value_is_a_usage_error() {
        let mut p = Parser::new(["--port"]);
        p.next().unwrap();
        assert_eq!(
            p.value(),
            Err(Error::usage("option '--port' needs a value"))
        );
    }

    #[test]
    fn bad_value_names_option_and_expectation() {
        let mut p = Parser::new(["--port", "http"]);
        p.next().unwrap();
        assert_eq!(
            p.parse::<u16>("a number from 0 to 65535"),
            Err(Error::usage(
                "invalid value 'http' for '--port': expected a number from 0 to 65535"
            ))
        );
    }

    #[test]
    fn value_given_to_a_flag_is_refused() {
        let mut p = Parser::new(["--quiet=yes"]);
        assert_eq!(p.next().unwrap(), Some(Arg::Long("quiet".into())));
        assert!(
            matches!(p.next(), Err(Error::Usage(m)) if m.contains("'--quiet' does not take a value"))
        );
    }

    #[test]
    fn help_and_version_are_answered_by_the_parser() {
        assert_eq!(all(&["--port", "1", "--help"]).err(), Some(Error::Help));
        assert_eq!(all(&["-h"]).err(), Some(Error::Help));
        assert_eq!(all(&["--version"]).err(), Some(Error::Version));
        assert_eq!(all(&["-V"]).err(), Some(Error::Version));
    }

    #[test]
    fn unexpected_names_the_argument() {
        assert_eq!(
            unexpected(Arg::Long("bogus".into())),
            Error::usage("unknown option '--bogus'")
        );
        assert_eq!(
            unexpected(Arg::Short('z')),
            Error::usage("unknown option '-z'")
        );
        assert_eq!(
            unexpected(Arg::Value("x".into())),
            Error::usage("unexpected argument 'x'")
        );
    }

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
    fn closed_stdout_is_not_an_error() {
        assert_eq!(
            Error::stdout(io::Error::from(io::ErrorKind::BrokenPipe)),
            Error::BrokenPipe
        );
    }
}
