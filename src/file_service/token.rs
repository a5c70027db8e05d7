//! The shared secret of docs/PROTOCOL.md's AUTH frame: read from a file or an environment variable, proven by HMAC over the server's nonce, never sent, never printed.
//!
//! Both sides load it the same way, so one token file (or one exported
//! variable) serves `download_server`, `download_client` and `file_shell`.
//! On the wire the server sends a fresh nonce and the client answers
//! HMAC-SHA256(token, nonce): someone who reads the traffic learns neither the
//! token nor an answer that works on another connection.

use crate::core::cli::Error;
use crate::file_service::os_name;
use crate::file_service::protocol::{MAX_TOKEN, NONCE_LEN, PROOF_LEN};
use crate::file_service::sha256::{hmac, Sha256};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// A token of 1 ..= [`MAX_TOKEN`] bytes, not only spaces, without control
/// bytes. Its `Debug` does not show it, so a configuration printed for
/// debugging does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

impl Token {
    /// A token from raw bytes. Refused: empty, longer than [`MAX_TOKEN`],
    /// only spaces (a file saved by mistake), or holding a control byte (a NUL,
    /// a tab, an escape: never typed into a token on purpose, and a token that
    /// cannot be shown cannot be checked by eye).
    pub fn new(bytes: Vec<u8>) -> Result<Token, String> {
        if bytes.is_empty() {
            return Err("the token is empty".into());
        }
        if bytes.len() > MAX_TOKEN {
            return Err(format!(
                "the token is {} bytes; at most {MAX_TOKEN} are allowed",
                bytes.len()
            ));
        }
        if let Some(at) = bytes.iter().position(|&b| b < 0x20 || b == 0x7f) {
            return Err(format!(
                "the token holds the control byte 0x{:02x} (at byte {}): a token is one line \
                 of printable text",
                bytes[at],
                at + 1
            ));
        }
        if bytes.iter().all(|&b| b == b' ') {
            return Err("the token is only spaces".into());
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

    /// What an AUTH frame carries in answer to the server's `nonce`:
    /// HMAC-SHA256 with the token as the key (docs/PROTOCOL.md 5.1).
    pub fn proof(&self, nonce: &[u8; NONCE_LEN]) -> [u8; PROOF_LEN] {
        hmac(&self.0, nonce)
    }

    /// Whether `given` is the proof of this token for `nonce`. Takes the same
    /// time wherever the first difference is, so response times reveal nothing.
    pub fn verifies(&self, nonce: &[u8; NONCE_LEN], given: &[u8; PROOF_LEN]) -> bool {
        let ours = self.proof(nonce);
        let diff = ours.iter().zip(given).fold(0u8, |d, (a, b)| d | (a ^ b));
        // Keep the optimiser from turning the fold into an early exit.
        std::hint::black_box(diff) == 0
    }
}

/// A nonce for one connection's challenge: never the same twice in a process,
/// and not to be guessed from outside it. std has no random bytes to give, but
/// every `RandomState` is keyed from the operating system's random source; a
/// secret drawn from it once, a counter and the clock, hashed, are enough.
pub fn nonce() -> [u8; NONCE_LEN] {
    static SECRET: OnceLock<[u64; 4]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let secret = SECRET.get_or_init(|| {
        let keyed = RandomState::new();
        [0u64, 1, 2, 3].map(|i| {
            let mut h = keyed.build_hasher();
            h.write_u64(i);
            h.finish()
        })
    });
    let mut h = Sha256::new();
    for word in secret {
        h.update(&word.to_be_bytes());
    }
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&now.to_be_bytes());
    h.update(&std::process::id().to_be_bytes());
    h.finalize()
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
    fn only_the_same_token_proves_itself_and_only_for_its_nonce() {
        let t = Token::new(b"s3cret".to_vec()).unwrap();
        let (n1, n2) = (nonce(), nonce());
        assert_ne!(n1, n2, "a fresh nonce each time");
        let proof = t.proof(&n1);
        assert!(t.verifies(&n1, &proof));
        assert!(!t.verifies(&n2, &proof), "an answer to another nonce");
        for wrong in [&b"s3cre"[..], b"s3cret!", b"S3cret", b"s3cres"] {
            let other = Token::new(wrong.to_vec()).unwrap();
            assert!(!t.verifies(&n1, &other.proof(&n1)), "{wrong:?}");
        }
        let mut flipped = proof;
        flipped[31] ^= 1;
        assert!(!t.verifies(&n1, &flipped));
        // The proof is RFC 2104's HMAC, keyed with the token.
        assert_eq!(proof, hmac(b"s3cret", &n1));
    }

    #[test]
    fn limits_and_debug() {
        assert!(Token::new(vec![]).is_err());
        assert!(Token::new(vec![b'x'; MAX_TOKEN]).is_ok());
        assert!(Token::new(vec![b'x'; MAX_TOKEN + 1]).is_err());
        for bad in [
            &b"  "[..],
            b" ",
            b"ab\0cd",
            b"\0",
            b"a\tb",
            b"a\x1bb",
            b"a\x7fb",
            b" \t ",
        ] {
            assert!(Token::new(bad.to_vec()).is_err(), "{bad:?}");
        }
        for good in [
            &b" a "[..],
            b"correct horse",
            "\u{4e2d}\u{6587}".as_bytes(),
            b"\xff",
        ] {
            assert!(Token::new(good.to_vec()).is_ok(), "{good:?}");
        }
        let nul = Token::new(b"ab\0cd".to_vec()).unwrap_err();
        assert!(nul.contains("control byte 0x00 (at byte 3)"), "{nul}");
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
            (b"  \n", None),
            (b"ab\0cd\n", None),
            (b"ab\x07\n", None),
        ] {
            fs::write(&path, content).unwrap();
            let got = Token::from_file(&path).ok();
            let expected = expected.map(|e| Token::new(e.to_vec()).unwrap());
            assert_eq!(got, expected, "{content:?}");
        }
        let missing = Token::from_file(&dir.join("missing")).unwrap_err();
        assert!(missing.contains("cannot read the token file"), "{missing}");
    }
}
