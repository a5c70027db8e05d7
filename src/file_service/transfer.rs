//! The client side of the file protocol: what a transfer reports, where a downloaded file goes; the connection, the download, the tutorial's raw download and the upload are submodules.
//!
//! - `connection`: [`Connection`], a framed connection after the hellos
//!   (and the token), and its one-frame requests (`remote`: LIST, MKDIR,
//!   RENAME, REMOVE, RMDIR, AUTH).
//! - `download`: [`Connection::download`], through `<out>.part`, resuming
//!   only the same version, verified end to end with SHA-256, renamed into
//!   place only when whole; received and written by one thread, as `nc` does.
//!   [`Connection::download_to`] sends the bytes to a stream instead. Both
//!   are three public steps, which download_client calls one by one:
//!   [`Connection::ask`], [`Connection::receive`], [`Connection::finish`].
//! - `partial`: the `.part` and its `.part.info` record (server, name,
//!   version), so a client continues or removes only a partial that it made.
//! - `finished`: what download_client remembers of a finished download, so a
//!   rerun knows the file is already complete.
//! - `raw`: [`RawOutput`], where the tutorial's own protocol (for the Python
//!   `download_server.py`) puts what download_client's `--raw` receives.
//! - `upload`: [`Connection::upload`], with the same guarantees the other way.
//!
//! Every wait for the server is bounded by the connection's timeout, and every
//! reply by its own limit (a listing: [`MAX_LIST_ENTRIES`], [`MAX_LIST_NAME_BYTES`]).
//! `download_client` uses all but `upload`; `file_shell` all of them.

use crate::core::cli::{Error, Failure};
use crate::file_service::os_name;
use crate::file_service::protocol::{ErrorCode, ErrorReply, Meta, ProtocolError, Response};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod connection;
mod download;
mod finished;
mod interrupt;
mod partial;
mod raw;
mod remote;
mod upload;

pub use connection::Connection;
pub use download::{
    sha256sum_line, Asked, DownloadOptions, Downloaded, Incoming, Received, DOWNLOAD_BUFFER,
    DRAIN_LIMIT,
};
pub use interrupt::Interrupt;
pub use partial::{info_path, part_path};
pub use raw::RawOutput;
pub use remote::{MAX_LIST_ENTRIES, MAX_LIST_NAME_BYTES};
pub use upload::{UploadOptions, Uploaded};

/// Why a transfer failed.
#[derive(Debug)]
pub enum TransferError {
    /// The server answered with an ERROR; the connection stays usable unless
    /// the reply said it closes.
    Refused(ErrorReply),
    /// The connection cannot be used for another request: it failed, the
    /// server broke the protocol or fell silent past the timeout, or this side
    /// closed it (a local failure with much of a file still on its way).
    Broken(String),
    /// A local file could not be read or written; the connection is in step.
    Local(String),
    /// The stream a download was written to (a pipe: `-o -`) was closed by
    /// its reader. Nothing is wrong, there is just nothing more to do; the
    /// connection was closed.
    OutputClosed,
    /// Every byte arrived but the SHA-256 digests differ; nothing was kept.
    Mismatch(String),
    /// The server (or the connect) stayed silent past the timeout; what arrived is kept for a
    /// resume, and the connection cannot be used again.
    TimedOut(String),
    /// The peer does not speak this protocol (an SSH server) or broke it; not used again.
    Protocol(String),
    /// No connection could be made: the host has no address, or nobody accepted.
    Connect(Error),
    /// Stopped by [`Interrupt::request`] (file_shell's Ctrl-C); what arrived is kept for a resume,
    /// but the rest of a file may still be on its way, so the connection cannot be used again.
    Interrupted(String),
}

impl TransferError {
    /// Whether the same connection can carry the next request.
    pub fn connection_usable(&self) -> bool {
        match self {
            TransferError::Refused(reply) => !reply.closing,
            TransferError::Local(_) | TransferError::Mismatch(_) => true,
            TransferError::Broken(_)
            | TransferError::TimedOut(_)
            | TransferError::Protocol(_)
            | TransferError::Connect(_)
            | TransferError::Interrupted(_)
            | TransferError::OutputClosed => false,
        }
    }

    /// The kind of failure, for the exit status (see [`Failure`]); `None` for the rest.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            TransferError::Refused(reply) => match reply.code {
                ErrorCode::NotFound | ErrorCode::NotADirectory => Some(Failure::NotFound),
                ErrorCode::OutsideRoot | ErrorCode::PermissionDenied | ErrorCode::ReadOnly => {
                    Some(Failure::Refused)
                }
                ErrorCode::Unauthorized => Some(Failure::Unauthorized),
                _ => None,
            },
            TransferError::Local(_) => Some(Failure::LocalFile),
            TransferError::Mismatch(_) => Some(Failure::Mismatch),
            TransferError::TimedOut(_) => Some(Failure::Timeout),
            TransferError::Protocol(_) => Some(Failure::NotOurs),
            TransferError::Connect(e) => e.failure(),
            TransferError::Broken(_)
            | TransferError::OutputClosed
            | TransferError::Interrupted(_) => None,
        }
    }

    /// This failure as a program's error, `message` saying it, of [`TransferError::failure`]'s kind.
    pub fn to_error(&self, message: impl Into<String>) -> Error {
        match self {
            TransferError::OutputClosed => Error::BrokenPipe,
            _ => Error::of(self.failure(), message),
        }
    }

    fn local(what: impl fmt::Display, err: &io::Error) -> TransferError {
        TransferError::Local(format!("{what}: {}", crate::core::cli::describe_io(err)))
    }

    fn broken(what: impl fmt::Display, err: &io::Error) -> TransferError {
        TransferError::Broken(format!("{what}: {}", crate::core::cli::describe_io(err)))
    }

    fn protocol(err: ProtocolError) -> TransferError {
        match err {
            ProtocolError::Io(e) => TransferError::broken("connection to the server failed", &e),
            ProtocolError::Truncated => {
                TransferError::Broken("the server closed the connection mid-answer".into())
            }
            other => TransferError::Protocol(format!("the server broke the protocol: {other}")),
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The server's message already says what it is (`not found: "a.txt"`);
            // it comes from the network, so it is shown with control characters escaped.
            TransferError::Refused(reply) if !reply.message.is_empty() => {
                f.write_str(&crate::core::escape::text(&reply.message))
            }
            TransferError::Refused(reply) => write!(f, "{}", reply.code),
            TransferError::OutputClosed => f.write_str("the output was closed"),
            TransferError::Connect(e) => write!(f, "{e}"),
            TransferError::Broken(m)
            | TransferError::TimedOut(m)
            | TransferError::Protocol(m)
            | TransferError::Local(m)
            | TransferError::Mismatch(m)
            | TransferError::Interrupted(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TransferError {}

/// A local path for a message: whatever its bytes, it cannot act on the terminal.
fn shown(path: &Path) -> String {
    crate::core::escape::text(&path.to_string_lossy())
}

/// A frame the server should not have sent at this point.
fn unexpected(response: &Response) -> TransferError {
    TransferError::Protocol(format!(
        "the server broke the protocol: unexpected answer (frame type 0x{:02x})",
        response.frame_type()
    ))
}

/// Where a download's bytes go.
pub enum Destination<'a> {
    /// This file, through `<file>.part`.
    File(&'a Path),
    /// This stream, as the bytes arrive (download_client's `-o -`): no partial file, no resume.
    Stream(&'a mut dyn Write),
}

impl<'a> Destination<'a> {
    /// `out` if there is one, else `stream`.
    pub fn file_or(out: Option<&'a Path>, stream: &'a mut dyn Write) -> Destination<'a> {
        match out {
            Some(out) => Destination::File(out),
            None => Destination::Stream(stream),
        }
    }
}

/// How a transfer began, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// No partial file: from byte 0.
    Fresh,
    /// Went on from the partial file's length.
    Resumed { from: u64 },
    /// A partial file was there but could not be used; why.
    Restarted { reason: String },
    /// Nothing to fetch: the file already there is this version
    /// ([`DownloadOptions::skip_same_version`]).
    AlreadyComplete,
}

/// What the caller hears while a transfer runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A partial file cannot be used: the download starts over, for this reason.
    StartingOver(&'a str),
    /// Bytes `offset..size` are about to cross the network.
    Begin { size: u64, offset: u64 },
    /// This many bytes of the file are there (resumed part included).
    Progress(u64),
}

/// The last component of a remote name, if it names a file: `docs/a.txt` ->
/// `a.txt`. Both `/` and `\` count as separators, so a name can never place
/// the local copy anywhere but where the caller decides.
pub fn remote_file_name(remote: &[u8]) -> Option<&[u8]> {
    let last = remote.rsplit(|&b| b == b'/' || b == b'\\').next()?;
    match last {
        b"" | b"." | b".." => None,
        name => Some(name),
    }
}

/// A name as file_shell shows it, root-absolute (`/docs/a.txt`), as the protocol carries it:
/// relative to the served root (`docs/a.txt`). The server refuses an absolute name, and for
/// a client the root is `/`, so the leading slashes only say where counting starts.
pub fn root_relative(name: &[u8]) -> &[u8] {
    let start = name.iter().position(|&b| b != b'/').unwrap_or(name.len());
    &name[start..]
}

/// The Python's `"copy-" + name`, in the current directory: `copy-a.txt`.
pub fn default_output(remote: &[u8]) -> Result<PathBuf, String> {
    let name = local_path(local_file_name(remote)?)?;
    let mut out = OsString::from("copy-");
    out.push(name.as_os_str());
    plain_here(remote, PathBuf::from(out))
}

/// `dir/<name>` for `-o DIR`.
pub fn output_in_dir(dir: &Path, remote: &[u8]) -> Result<PathBuf, String> {
    let name = plain_here(remote, local_path(local_file_name(remote)?)?)?;
    Ok(dir.join(name))
}

fn local_file_name(remote: &[u8]) -> Result<&[u8], String> {
    remote_file_name(remote).ok_or_else(|| {
        format!(
            "{}: no file name to save it under (it ends in `/`, `.` or `..`); use -o PATH",
            crate::core::escape::name(remote)
        )
    })
}

/// A name that came as bytes, as this system's path; on Windows a name that
/// is not UTF-8 cannot be one.
fn local_path(name: &[u8]) -> Result<PathBuf, String> {
    os_name::path_from_bytes(name)
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "{}: the name {}; use -o PATH",
                crate::core::escape::name(name),
                os_name::NOT_CARRIED
            )
        })
}

/// `name` unless this system reads it as another file (on Windows: `CON`,
/// `a.txt:stream`, `name.`; see `root::problem_here`).
fn plain_here(remote: &[u8], name: PathBuf) -> Result<PathBuf, String> {
    match name
        .to_str()
        .and_then(crate::file_service::root::problem_here)
    {
        None => Ok(name),
        Some(why) => Err(format!(
            "{}: not a plain file name on this system ({why}); use -o PATH",
            crate::core::escape::name(remote)
        )),
    }
}

/// `get -p`: give a downloaded file the remote modification time and what
/// this system keeps of its mode (see [`crate::file_service::file_meta::apply`]).
pub fn apply_meta(path: &Path, meta: &Meta) -> io::Result<()> {
    crate::file_service::file_meta::apply_to_path(path, meta.mtime_ns, meta.mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_stay_where_the_caller_puts_them() {
        assert_eq!(default_output(b"a.txt"), Ok(PathBuf::from("copy-a.txt")));
        assert_eq!(
            default_output(b"docs/a.txt"),
            Ok(PathBuf::from("copy-a.txt"))
        );
        assert_eq!(
            default_output(b"../../etc/passwd"),
            Ok(PathBuf::from("copy-passwd"))
        );
        assert_eq!(
            default_output(b"..\\x\\evil"),
            Ok(PathBuf::from("copy-evil"))
        );
        for none in [&b""[..], b"dir/", b"..", b"a/.", b"/"] {
            let err = default_output(none).unwrap_err();
            assert!(err.contains("no file name to save it under"), "{err}");
        }
        assert_eq!(
            output_in_dir(Path::new("out"), b"x/y.bin"),
            Ok(Path::new("out").join("y.bin"))
        );
        assert_eq!(
            output_in_dir(Path::new("out"), "目录/文件.txt".as_bytes()),
            Ok(Path::new("out").join("文件.txt"))
        );
    }

    #[test]
    fn root_absolute_names_count_from_the_root() {
        assert_eq!(root_relative(b"/home/a.txt"), b"home/a.txt");
        assert_eq!(root_relative(b"//a"), b"a");
        assert_eq!(root_relative(b"a/b"), b"a/b");
        assert_eq!(root_relative(b"/"), b"");
    }

    #[test]
    fn a_name_this_system_cannot_hold_is_refused_by_name() {
        let got = default_output(b"caf\xe9.txt");
        if cfg!(unix) {
            // A unix name is any bytes.
            let path = got.unwrap();
            assert_eq!(
                os_name::to_bytes(path.as_os_str()),
                Some(&b"copy-caf\xe9.txt"[..])
            );
        } else {
            let e = got.unwrap_err();
            assert!(e.starts_with("\"caf\\xe9.txt\": the name "), "{e}");
        }
    }

    #[test]
    fn a_name_windows_reads_as_another_file_is_refused_there() {
        // copy-nul.txt is a plain name everywhere; nul.txt is the NUL device on Windows.
        assert_eq!(
            default_output(b"nul.txt"),
            Ok(PathBuf::from("copy-nul.txt"))
        );
        for windows_only in [&b"nul.txt"[..], b"CON", b"a.txt:hidden", b"secret."] {
            let got = output_in_dir(Path::new("out"), windows_only);
            if cfg!(windows) {
                let e = got.unwrap_err();
                assert!(e.contains("not a plain file name on this system"), "{e}");
            } else {
                assert!(got.is_ok(), "{windows_only:?}: {got:?}");
            }
        }
    }
}
