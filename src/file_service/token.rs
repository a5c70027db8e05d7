//! The shared secret of docs/PROTOCOL.md's AUTH frame: read from a file or an environment variable, compared in constant time, never printed.
//!
//! Both sides load it the same way, so one token file (or one exported
//! variable) serves `download_server`, `download_client` and `file_shell`.

use crate::core::cli::Error;
use crate::file_service::os_name;
use crate::file_service::protocol::MAX_TOKEN;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The environment variable both sides read when no `--token-file` is given.
pub const TOKEN_ENV: &str = "DOWNLOAD_SERVER_TOKEN";

/// The `--token-file FILE` option that `download_server`, `download_client` and `file_shell` share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFile(Option<PathBuf>);

impl TokenFile {
    /// `--token-file FILE`.
    pub fn at(path: impl Into<PathBuf>) -> TokenFile {
        TokenFile(Some(path.into()))
    }

    /// The token from the file, else from [`TOKEN_ENV`], else none (see [`Token::load`]).
    pub fn load(&self) -> Result<Option<Token>, Error> {
        Token::load(self.0.as_deref()).map_err(Error::runtime)
    }
}

/// A token of 1 ..= [`MAX_TOKEN`] bytes. Its `Debug` does not show it, so a
/// configuration printed for debugging does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

impl Token {
    /// A token from raw bytes; empty or longer than [`MAX_TOKEN`] is refused.
    pub fn new(bytes: Vec<u8>) -> Result<Token, String> {
        if bytes.is_empty() {
            return Err("the token is empty".into());
        }
        if bytes.len() > MAX_TOKEN {
            return Err(format!(
                "the token is {} bytes; the protocol allows at most {MAX_TOKEN}",
                bytes.len()
            ));
        }
        Ok(Token(bytes))
    }

    /// The first line of `path`, without its line ending (so `echo secret > file` works).
    pub fn from_file(path: &Path) -> Result<Token, String> {
        let text = fs::read(path).map_err(|e| {
            format!(
                "cannot read the token file {}: {}",
                path.display(),
                crate::core::cli::describe_io(&e)
            )
        })?;
        let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Token::new(line.to_vec()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `--token-file` if given, else [`TOKEN_ENV`] if set and not empty, else none.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, String> {
        if let Some(path) = file {
            return Token::from_file(path).map(Some);
        }
        match std::env::var_os(TOKEN_ENV) {
            Some(value) if !value.is_empty() => {
                // The token travels as bytes: on Windows it must be Unicode to have any.
                let bytes = os_name::to_bytes(&value)
                    .ok_or_else(|| format!("{TOKEN_ENV}: the value {}", os_name::NOT_CARRIED))?;
                Token::new(bytes.to_vec())
                    .map(Some)
                    .map_err(|e| format!("{TOKEN_ENV}: {e}"))
            }
            _ => Ok(None),
        }
    }

    /// The bytes to send in an AUTH frame.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `given` is this token. Takes the same time wherever the first
    /// difference is, so response times do not reveal a prefix; only the
    /// length of the longer of the two shows.
    pub fn matches(&self, given: &[u8]) -> bool {
        let ours = &self.0;
        let mut diff = u8::from(ours.len() != given.len());
        for i in 0..ours.len().max(given.len()) {
            let a = ours.get(i).copied().unwrap_or(0);
            let b = given.get(i).copied().unwrap_or(0);
            diff |= a ^ b;
        }
        // Keep the optimiser from turning the loop into an early exit.
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} bytes, hidden>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_bytes() {
        let t = Token::new(b"s3cret".to_vec()).unwrap();
        assert!(t.matches(b"s3cret"));
        for wrong in [&b""[..], b"s3cre", b"s3cret!", b"S3cret", b"s3cres", b"\0"] {
            assert!(!t.matches(wrong), "{wrong:?}");
        }
        // A prefix padded with NULs is not the token either.
        assert!(!t.matches(b"s3cret\0"));
        assert!(!Token::new(b"ab\0".to_vec()).unwrap().matches(b"ab"));
    }

    #[test]
    fn limits_and_debug() {
        assert!(Token::new(vec![]).is_err());
        assert!(Token::new(vec![b'x'; MAX_TOKEN]).is_ok());
        assert!(Token::new(vec![b'x'; MAX_TOKEN + 1]).is_err());
        let shown = format!("{:?}", Token::new(b"hunter2".to_vec()).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_file_gives_its_first_line() {
        let dir = crate::test_support::TempDir::new("token");
        let path = dir.join("t");
        for (content, expected) in [
            (&b"abc\n"[..], Some(&b"abc"[..])),
            (b"abc\r\nignored\n", Some(b"abc")),
            (b"abc", Some(b"abc")),
            (b"\n", None),
            (b"", None),
        ] {
            fs::write(&path, content).unwrap();
            let got = Token::from_file(&path);
            assert_eq!(
                got.as_ref().ok().map(Token::as_bytes),
                expected,
                "{content:?}"
            );
        }
        let missing = Token::from_file(&dir.join("missing")).unwrap_err();
        assert!(missing.contains("cannot read the token file"), "{missing}");
    }
}
