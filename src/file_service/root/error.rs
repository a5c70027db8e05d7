//! The one error type every `Root` operation returns, with a kind a server can map to a reply.

use std::error::Error;
use std::fmt;
use std::io;

use crate::core::errno;
use crate::core::escape;

/// What went wrong, coarse enough for a protocol reply and a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootErrorKind {
    /// The name itself is unacceptable (bad bytes, too long, reserved), before any file is looked at.
    BadRequest,
    /// The name, or a symbolic link on its way, leads outside the served root (or we refuse to find out).
    Outside,
    /// Nothing by that name, or a directory on the way is missing.
    NotFound,
    /// A file was wanted and the name is a directory.
    IsDirectory,
    /// A directory was wanted (or a component on the way must be one) and it is not.
    NotDirectory,
    /// The operating system refused, or we refuse: special files, writes through symbolic links.
    PermissionDenied,
    /// The name to create is already taken.
    AlreadyExists,
    /// The directory to remove still has entries.
    NotEmpty,
    /// Anything else the operating system reported.
    Other,
}

impl RootErrorKind {
    fn describe(self) -> &'static str {
        match self {
            RootErrorKind::BadRequest => "bad name",
            RootErrorKind::Outside => "outside the served root",
            RootErrorKind::NotFound => "not found",
            RootErrorKind::IsDirectory => "is a directory",
            RootErrorKind::NotDirectory => "not a directory",
            RootErrorKind::PermissionDenied => "permission denied",
            RootErrorKind::AlreadyExists => "already exists",
            RootErrorKind::NotEmpty => "directory not empty",
            RootErrorKind::Other => "file system error",
        }
    }
}

/// A refused or failed operation: a kind, and a message that names the client's path safely.
///
/// The message never contains raw client bytes: the name goes through [`escape::name`],
/// so it can be logged or sent back without smuggling control characters.
#[derive(Debug)]
pub struct RootError {
    kind: RootErrorKind,
    message: String,
    source: Option<io::Error>,
}

impl RootError {
    /// An error about the client's name `raw`, with an optional detail in parentheses.
    pub(crate) fn new(kind: RootErrorKind, raw: &[u8], detail: &str) -> RootError {
        let mut message = format!("{}: {}", kind.describe(), escape::name(raw));
        if !detail.is_empty() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        RootError {
            kind,
            message,
            source: None,
        }
    }

    /// An operating-system failure while handling `raw`, classified by errno.
    pub(crate) fn io(raw: &[u8], err: io::Error) -> RootError {
        let kind = classify(&err);
        // The kind already says what a classified errno would; only an
        // unclassified one needs the system's words (without "(os error N)").
        let detail = match kind {
            RootErrorKind::Other | RootErrorKind::BadRequest => crate::core::cli::describe_io(&err),
            _ => String::new(),
        };
        let mut e = RootError::new(kind, raw, &detail);
        e.source = Some(err);
        e
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> RootErrorKind {
        self.kind
    }

    /// The readable message, the same text `Display` prints.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for RootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for RootError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Map an OS error to a kind; the error number (errno, or a Windows error code: one table
/// per platform in `crate::core::errno`) is consulted for what `io::ErrorKind` cannot name at our MSRV.
fn classify(err: &io::Error) -> RootErrorKind {
    match err.kind() {
        io::ErrorKind::NotFound => return RootErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => return RootErrorKind::PermissionDenied,
        io::ErrorKind::AlreadyExists => return RootErrorKind::AlreadyExists,
        _ => {}
    }
    match err.raw_os_error() {
        Some(n) if n == errno::ENOTDIR => RootErrorKind::NotDirectory,
        Some(n) if n == errno::EISDIR => RootErrorKind::IsDirectory,
        Some(n) if n == errno::ENOTEMPTY => RootErrorKind::NotEmpty,
        // With O_NOFOLLOW, ELOOP means the final component became a symbolic link
        // after we looked at it: we refuse, as for any link we will not follow.
        Some(n) if n == errno::ELOOP => RootErrorKind::Outside,
        Some(n) if n == errno::ENAMETOOLONG || n == errno::EBADNAME => RootErrorKind::BadRequest,
        _ => RootErrorKind::Other,
    }
}
