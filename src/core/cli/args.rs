//! The argument parser, in lexopt's shape: `while let Some(arg) = parser.next()?` and a `match` on `Long("port")`, `Short('o')`, `Value(v)`.

use super::os_arg;
use super::Error;
use std::ffi::{OsStr, OsString};
use std::str::FromStr;
use std::time::Duration;

/// One command-line argument, as a binary's `match` sees it.
///
/// `Long` borrows the name from the arguments themselves (not from the
/// parser), so an arm can match `Long("port")` and still call `parser.value()`,
/// and the last arm can hand `arg` and the parser to a shared group of options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg<'a> {
    /// `-x` (also each letter of `-xyz`).
    Short(char),
    /// `--name` (the part before `=` of `--name=value`).
    Long(&'a str),
    /// A positional argument, or anything after `--`.
    Value(OsString),
}

impl Arg<'_> {
    /// The error for an argument the program does not take.
    pub fn unexpected(self) -> Error {
        match self {
            Arg::Value(v) => Error::usage(format!("unexpected argument '{}'", v.to_string_lossy())),
            option => Error::usage(format!("unknown option '{}'", option.spelling())),
        }
    }

    /// The option as the user typed it, for error messages.
    fn spelling(&self) -> String {
        match self {
            Arg::Short(c) => format!("-{c}"),
            Arg::Long(name) => format!("--{name}"),
            Arg::Value(v) => v.to_string_lossy().into_owned(),
        }
    }
}

/// Yields [`Arg`]s one at a time; the value of the option just returned is taken with
/// [`Parser::value`] (or `string`, `parse`, `seconds`).
///
/// `--help`/`-h` and `--version`/`-V` are answered here, so every binary has
/// them without listing them in its own `match`.
pub struct Parser<'a> {
    args: std::slice::Iter<'a, OsString>,
    /// What is left of the last argument: the letters after `-r` in `-ra`, or the value of `--name=value`.
    rest: Rest<'a>,
    /// The option whose value [`Parser::value`] would take, as typed, for error messages.
    last: String,
    /// After `--`, everything is positional.
    only_values: bool,
}

enum Rest<'a> {
    None,
    /// Letters of a cluster still to come (`a` of `-ra`), or a short option's attached value (`-o80`).
    Shorts(&'a OsStr, usize),
    /// The value of `--name=value`, waiting for [`Parser::value`].
    LongValue(OsString),
}

impl<'a> Parser<'a> {
    /// Parses these arguments (without the program name).
    pub fn new(args: &'a [OsString]) -> Parser<'a> {
        Parser {
            args: args.iter(),
            rest: Rest::None,
            last: String::new(),
            only_values: false,
        }
    }

    /// The next argument, or `None` at the end.
    // Not `Iterator`: each step can fail, and `value` must be callable between steps.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Arg<'a>>, Error> {
        match std::mem::replace(&mut self.rest, Rest::None) {
            Rest::LongValue(value) => {
                return Err(Error::usage(format!(
                    "option '{}' does not take a value (got '{}')",
                    self.last,
                    value.to_string_lossy()
                )))
            }
            Rest::Shorts(arg, at) => return self.short(arg, at),
            Rest::None => {}
        }
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        let bytes = arg.as_encoded_bytes();
        if self.only_values || bytes == b"-" || !bytes.starts_with(b"-") {
            return Ok(Some(Arg::Value(arg.clone())));
        }
        if bytes == b"--" {
            self.only_values = true;
            return self.next();
        }
        if bytes.starts_with(b"--") {
            // The name must be UTF-8; the value after `=` may be any bytes (a file name).
            let end = bytes.iter().position(|&b| b == b'=').unwrap_or(bytes.len());
            let Ok(name) = std::str::from_utf8(&bytes[2..end]) else {
                return Err(Arg::Value(arg.clone()).unexpected());
            };
            if end < bytes.len() {
                self.rest = Rest::LongValue(os_arg::after(arg, end + 1));
            }
            return self.option(Arg::Long(name));
        }
        self.short(arg, 1)
    }

    /// The letter at byte `at` of a `-xyz` cluster; what follows it waits in `rest`.
    fn short(&mut self, arg: &'a OsStr, at: usize) -> Result<Option<Arg<'a>>, Error> {
        let bytes = arg.as_encoded_bytes();
        let letter = utf8_prefix(&bytes[at..]).chars().next();
        let Some(letter) = letter else {
            return Err(Arg::Value(arg.to_owned()).unexpected());
        };
        let next = at + letter.len_utf8();
        if next < bytes.len() {
            self.rest = Rest::Shorts(arg, next);
        }
        self.option(Arg::Short(letter))
    }

    fn option(&mut self, arg: Arg<'a>) -> Result<Option<Arg<'a>>, Error> {
        match arg {
            Arg::Long("help") | Arg::Short('h') => return Err(Error::Help),
            Arg::Long("version") | Arg::Short('V') => return Err(Error::Version),
            _ => {}
        }
        self.last = arg.spelling();
        Ok(Some(arg))
    }

    /// The value of the option just returned: `--port 80`, `--port=80`, `-p80` or `-p 80`,
    /// any bytes (a file name that is not UTF-8 is taken as it is, in every spelling).
    pub fn value(&mut self) -> Result<OsString, Error> {
        match std::mem::replace(&mut self.rest, Rest::None) {
            Rest::LongValue(value) => return Ok(value),
            Rest::Shorts(arg, at) => return Ok(os_arg::after(arg, at)),
            Rest::None => {}
        }
        match self.args.next() {
            Some(value) => Ok(value.clone()),
            None => Err(Error::usage(format!(
                "option '{}' needs a value",
                self.last
            ))),
        }
    }

    /// The value of the option just returned, as UTF-8 text.
    pub fn string(&mut self) -> Result<String, Error> {
        let raw = self.value()?;
        raw.into_string().map_err(|raw| {
            Error::usage(format!(
                "invalid value '{}' for '{}': not valid UTF-8",
                raw.to_string_lossy(),
                self.last
            ))
        })
    }

    /// The value of the option just returned, parsed; `expected` describes a valid value for the error message.
    pub fn parse<T: FromStr>(&mut self, expected: &str) -> Result<T, Error> {
        let raw = self.value()?;
        raw.to_str()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| {
                Error::usage(format!(
                    "invalid value '{}' for '{}': expected {expected}",
                    raw.to_string_lossy(),
                    self.last
                ))
            })
    }

    /// The value of the option just returned, a whole number of seconds where 0 means never.
    pub fn seconds(&mut self) -> Result<Option<Duration>, Error> {
        let secs: u64 = self.parse("a number of seconds (0 = never)")?;
        Ok((secs > 0).then(|| Duration::from_secs(secs)))
    }
}

/// The longest prefix of `bytes` that is UTF-8.
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn all(args: &[&str]) -> Result<Vec<String>, Error> {
        let args = os(args);
        let mut p = Parser::new(&args);
        let mut out = Vec::new();
        while let Some(arg) = p.next()? {
            out.push(format!("{arg:?}"));
        }
        Ok(out)
    }

    #[test]
    fn longs_shorts_and_values() {
        assert_eq!(
            all(&["--quiet", "-ra", "file", "-"]).unwrap(),
            [
                "Long(\"quiet\")",
                "Short('r')",
                "Short('a')",
                "Value(\"file\")",
                "Value(\"-\")"
            ]
        );
    }

    #[test]
    fn double_dash_ends_options() {
        assert_eq!(
            all(&["--", "--port", "-x"]).unwrap(),
            ["Value(\"--port\")", "Value(\"-x\")"]
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
            let args = os(args);
            let mut p = Parser::new(&args);
            p.next().unwrap().unwrap();
            assert_eq!(p.parse::<u16>("a port").unwrap(), 80, "{args:?}");
            assert_eq!(p.next().unwrap(), None, "{args:?}");
        }
    }

    /// A value that is not UTF-8 (a file name) is the same value in every spelling.
    #[cfg(any(unix, windows))]
    #[test]
    fn values_that_are_not_utf8_in_every_spelling() {
        let name = os_arg::not_utf8_example();
        let joined = |prefix: &str| {
            let mut arg = OsString::from(prefix);
            arg.push(&name);
            arg
        };
        for args in [
            vec![OsString::from("--root"), name.clone()],
            vec![joined("--root=")],
            vec![OsString::from("-r"), name.clone()],
            vec![joined("-r")],
        ] {
            let mut p = Parser::new(&args);
            assert!(p.next().unwrap().is_some(), "{args:?}");
            assert_eq!(p.value().unwrap(), name, "{args:?}");
            assert_eq!(p.next().unwrap(), None, "{args:?}");
        }
        // As text it is refused, naming the option.
        let args = vec![joined("--host=")];
        let mut p = Parser::new(&args);
        p.next().unwrap();
        assert!(
            matches!(p.string(), Err(Error::Usage(m)) if m.contains("'--host': not valid UTF-8"))
        );
    }

    #[test]
    fn missing_value_is_a_usage_error() {
        let args = os(&["--port"]);
        let mut p = Parser::new(&args);
        p.next().unwrap();
        assert_eq!(
            p.value(),
            Err(Error::usage("option '--port' needs a value"))
        );
    }

    #[test]
    fn bad_value_names_option_and_expectation() {
        let args = os(&["--port", "http"]);
        let mut p = Parser::new(&args);
        p.next().unwrap();
        assert_eq!(
            p.parse::<u16>("a number from 0 to 65535"),
            Err(Error::usage(
                "invalid value 'http' for '--port': expected a number from 0 to 65535"
            ))
        );
    }

    #[test]
    fn seconds_zero_means_never() {
        let args = os(&["--idle-timeout=0", "--timeout", "5"]);
        let mut p = Parser::new(&args);
        p.next().unwrap();
        assert_eq!(p.seconds().unwrap(), None);
        p.next().unwrap();
        assert_eq!(p.seconds().unwrap(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn value_given_to_a_flag_is_refused() {
        let args = os(&["--quiet=yes"]);
        let mut p = Parser::new(&args);
        assert_eq!(p.next().unwrap(), Some(Arg::Long("quiet")));
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
            Arg::Long("bogus").unexpected(),
            Error::usage("unknown option '--bogus'")
        );
        assert_eq!(
            Arg::Short('z').unexpected(),
            Error::usage("unknown option '-z'")
        );
        assert_eq!(
            Arg::Value("x".into()).unexpected(),
            Error::usage("unexpected argument 'x'")
        );
    }
}
