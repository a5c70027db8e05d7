//! The file server behind `download_server`: what it serves and how, the tutorial client's name and its log line; the framed protocol's session in `framed`.
//!
//! A tutorial client's request is read, confined and answered in
//! `src/bin/download_server.rs` itself, in the Python's order, with this
//! module's [`FileServer::tutorial_name`] and [`FileServer::log_request`].
//! Our framed protocol (docs/PROTOCOL.md) is the next chapter: one call,
//! [`FileServer::serve_framed`], once the first bytes show a framed client.
//! Its parts live in submodules named for their job: `framed` (hellos,
//! the request loop, what is refused before it is looked at), `auth` (the
//! token's challenge, and wrong tokens slowed),
//! `download` (DOWNLOAD: the version check and the bytes), `digests` (the
//! SHA-256 of each file version, computed once), `entries` (LIST, STAT,
//! MKDIR, RENAME, REMOVE, RMDIR), `uploads` (UPLOAD) and `partials` (the
//! partial uploads: one per target, their bounds, their expiry).
//!
//! Every read and write of a client's socket goes through a
//! [`Paced`](crate::core::server::deadline::Paced): its deadlines
//! (`--hello-timeout`, `--request-timeout`, `--body-timeout`, `--min-rate`)
//! are what keep a slow or silent client from holding its place for ever.
//!
//! Every name a client sends goes through [`Root`]; nothing here opens a
//! path any other way.

use crate::core::encoding::Encoding;
use crate::core::escape;
use crate::core::server::deadline::{Deadlines, Paced};
use crate::core::trace::Stream;
use crate::file_service::protocol::{ErrorCode, ErrorReply};
use crate::file_service::root::{is_partial_name, Root, RootError, RootErrorKind};
use crate::file_service::token::Token;
use crate::println;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod auth;
mod digests;
mod download;
mod entries;
mod framed;
mod partials;
mod reply;
mod uploads;

pub use partials::PartialLimits;

/// Connections past `--max-clients` that are read far enough to be told
/// `busy` in their own protocol (see [`FileServer::turn_away`]); past this
/// many more at once, the accept loop closes them without a word
/// (docs/PROTOCOL.md 4.4).
pub const BUSY_GRACE: usize = 64;

/// Buffer for a file's bytes on their way to the socket, for both kinds of
/// client: large enough that system calls are not the cost, small enough
/// that the bytes are still in the CPU's cache when they are copied on into
/// the socket (serving 1 GiB cost about 0.3 s of system time with 32-64 KiB,
/// 0.45-0.6 s with 128 KiB), and cheap for a thousand clients. Without it,
/// `io::copy` from a file to a socket moves 8 KiB at a time
/// (docs/PROTOCOL.md 7.1 says why std no longer uses `sendfile` there).
pub const SEND_BUFFER: usize = 64 * 1024;

/// What the server was started with, beyond the root.
#[derive(Debug, Clone)]
pub struct Config {
    /// How a tutorial client's file name is decoded (the Python sends gbk).
    pub encoding: Encoding,
    /// Silence allowed before a request; `None` = forever.
    pub idle_timeout: Option<Duration>,
    /// How long a hello, a request and a body may take (`--hello-timeout`, ...).
    pub deadlines: Deadlines,
    /// Accept MKDIR, UPLOAD, RENAME, REMOVE and RMDIR; otherwise they are
    /// answered `read-only`, and the hello says so.
    pub writable: bool,
    /// Largest upload accepted, in bytes; `None` = no limit.
    pub max_upload: Option<u64>,
    /// What all partial uploads together may hold, and for how long.
    pub partials: PartialLimits,
    /// Every framed connection must present this token before anything else,
    /// and tutorial clients are refused.
    pub token: Option<Token>,
}

/// Serves one directory to any number of connections, shared in an `Arc`.
pub struct FileServer {
    root: Root,
    config: Config,
    partials: partials::Partials,
    digests: digests::Digests,
    failures: auth::Failures,
}

/// How one framed request ended, for its log line.
struct Outcome {
    result: String,
    bytes: u64,
}

impl Outcome {
    /// `result` as the log line says it (`ok`, `connection lost ...`), with the bytes moved.
    fn new(result: impl Into<String>, bytes: u64) -> Outcome {
        Outcome {
            result: result.into(),
            bytes,
        }
    }

    /// A request answered with an ERROR: no bytes moved.
    fn error(reply: &ErrorReply) -> Outcome {
        Outcome::new(format!("error: {}", reply.message), 0)
    }
}

/// Whether a framed connection can take another request after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Continue,
    Close,
}

impl FileServer {
    /// The server for `root`. A writable one also starts a thread that looks for the partial
    /// uploads an earlier run left under the root and removes those past `--max-partial-age`.
    pub fn start(root: Root, config: Config) -> Arc<FileServer> {
        let server = Arc::new(FileServer {
            partials: partials::Partials::new(config.partials),
            digests: digests::Digests::default(),
            failures: auth::Failures::default(),
            root,
            config,
        });
        if server.config.writable {
            partials::keep(&server);
        }
        server
    }

    /// `client`'s socket for sending a body to it: the client must take the bytes at
    /// `--min-rate` at least, or it is dropped after `--body-timeout` (so a client that
    /// stops reading does not hold its place for ever).
    pub fn paced<'s>(&self, client: &'s Stream) -> Paced<'s> {
        let paced = Paced::new(client, self.config.idle_timeout, self.config.deadlines);
        paced.body();
        paced
    }

    /// The served root: every name is opened through it.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The name a tutorial client's first read asked for, as UTF-8 for
    /// [`Root`], or why it is not served (for the log line; the client gets
    /// no answer, which is all the tutorial's protocol can say).
    ///
    /// Refused: every tutorial client when a token is required (it cannot
    /// present one); a name that is not valid in `--encoding`; a name of the
    /// form `.NAME.part`, which belongs to an upload in progress.
    pub fn tutorial_name(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        if self.config.token.is_some() {
            return Err("refused: a token is required (closed without an answer)".into());
        }
        let name = decode_tutorial_name(request, self.config.encoding)
            .map_err(|why| format!("refused: {why}"))?;
        if is_reserved(&name) {
            return Err("refused: a partial upload (closed without an answer)".into());
        }
        Ok(name)
    }

    /// One line per request on stdout:
    /// `127.0.0.1:40312 download "notes.txt" -> ok, 6001 bytes, 0.4 ms`.
    pub fn log_request(
        &self,
        addr: SocketAddr,
        op: &str,
        name: &[u8],
        result: &str,
        bytes: u64,
        started: Instant,
    ) {
        let mut line = format!("{addr} {op}");
        if !name.is_empty() || op != "auth" {
            let _ = write!(line, " {}", escape::name(name));
        }
        let secs = started.elapsed().as_secs_f64();
        let time = if secs < 1.0 {
            format!("{:.1} ms", secs * 1000.0)
        } else {
            format!("{secs:.2} s")
        };
        let _ = write!(line, " -> {result}, {bytes} bytes, {time}");
        println!("{}", line);
    }

    fn log_outcome(
        &self,
        addr: SocketAddr,
        op: &str,
        name: &[u8],
        outcome: &Outcome,
        started: Instant,
    ) {
        self.log_request(addr, op, name, &outcome.result, outcome.bytes, started);
    }
}

/// A tutorial client's file name as UTF-8 bytes for `Root`. With `gbk`, a
/// name that is not valid gbk is refused rather than guessed at.
pub fn decode_tutorial_name(raw: &[u8], encoding: Encoding) -> Result<Vec<u8>, &'static str> {
    match encoding {
        // Root checks UTF-8 itself and says so in its refusal.
        Encoding::Utf8 => Ok(raw.to_vec()),
        Encoding::Gbk => {
            let text = encoding.decode_lossy(raw);
            // No gbk sequence decodes to U+FFFD, so one in the text marks bytes
            // that were not gbk.
            if text.contains(char::REPLACEMENT_CHARACTER) {
                Err("the name is not valid gbk")
            } else {
                Ok(text.into_bytes())
            }
        }
    }
}

/// Whether any component of a client's name has the form of a partial upload.
fn is_reserved(name: &[u8]) -> bool {
    name.split(|&b| b == b'/').any(is_partial_name)
}

/// The protocol's error code for a refusal of the path module.
pub fn root_error_code(kind: RootErrorKind) -> ErrorCode {
    match kind {
        RootErrorKind::BadRequest => ErrorCode::BadRequest,
        RootErrorKind::Outside => ErrorCode::OutsideRoot,
        RootErrorKind::NotFound => ErrorCode::NotFound,
        RootErrorKind::IsDirectory => ErrorCode::IsADirectory,
        RootErrorKind::NotDirectory => ErrorCode::NotADirectory,
        RootErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        RootErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
        RootErrorKind::NotEmpty => ErrorCode::NotEmpty,
        RootErrorKind::Other => ErrorCode::Internal,
    }
}

/// The ERROR reply for a refusal of the path module: its message already
/// names the path safely (`not found: "notes.txt"`).
fn root_reply(e: &RootError) -> ErrorReply {
    ErrorReply::new(root_error_code(e.kind()), e.message())
}

impl std::fmt::Debug for FileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileServer")
            .field("root", &self.root.path())
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_names_are_decoded_and_bad_ones_refused() {
        // "文件.txt" as the Python client sends it on Windows.
        let gbk = [0xce, 0xc4, 0xbc, 0xfe, b'.', b't', b'x', b't'];
        assert_eq!(
            decode_tutorial_name(&gbk, Encoding::Gbk).unwrap(),
            "文件.txt".as_bytes()
        );
        assert!(decode_tutorial_name(&[0xff, 0xff], Encoding::Gbk).is_err());
        assert!(decode_tutorial_name(&[0xce], Encoding::Gbk).is_err());
        // UTF-8 names pass through untouched; Root judges them.
        assert_eq!(
            decode_tutorial_name(&[0xff, b'a'], Encoding::Utf8).unwrap(),
            vec![0xff, b'a']
        );
    }

    #[test]
    fn every_root_refusal_has_a_code() {
        use RootErrorKind::*;
        let pairs = [
            (BadRequest, ErrorCode::BadRequest),
            (Outside, ErrorCode::OutsideRoot),
            (NotFound, ErrorCode::NotFound),
            (IsDirectory, ErrorCode::IsADirectory),
            (NotDirectory, ErrorCode::NotADirectory),
            (PermissionDenied, ErrorCode::PermissionDenied),
            (AlreadyExists, ErrorCode::AlreadyExists),
            (NotEmpty, ErrorCode::NotEmpty),
            (Other, ErrorCode::Internal),
        ];
        for (kind, code) in pairs {
            assert_eq!(root_error_code(kind), code);
        }
    }

    #[test]
    fn partial_upload_names_are_reserved_in_any_component() {
        assert!(is_reserved(b".a.txt.part"));
        assert!(is_reserved(b"dir/.a.part/x"));
        assert!(!is_reserved(b"a.txt.part"));
        assert!(!is_reserved(b"dir/a.txt"));
    }
}
