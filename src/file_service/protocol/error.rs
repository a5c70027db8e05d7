//! What can go wrong, on the wire: the error codes of ERROR frames, an ERROR's payload, and why bytes could not be decoded.

use super::{MAX_ERROR_MESSAGE, VERSION};
use std::fmt;
use std::io;

/// Why bytes could not be decoded (or a value could not be encoded).
#[derive(Debug)]
pub enum ProtocolError {
    /// The input ended inside a hello or frame: for a slice, read more and
    /// try again; for a stream, the peer closed mid-message.
    Truncated,
    /// A length or count is over its limit; nothing it announced was read.
    TooLarge {
        what: &'static str,
        len: u64,
        max: usize,
    },
    /// The bytes break the layout: a field runs past its frame, bytes are
    /// left over, a reserved flag is set, an enum value is unknown, ...
    Malformed(&'static str),
    /// The frame type is not one this direction of version 1 knows.
    UnknownType(u8),
    /// A hello asked for a version this crate does not speak.
    UnsupportedVersion(u16),
    /// Reading or writing the stream failed.
    Io(io::Error),
}

impl ProtocolError {
    /// The error code a server answers this with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::Truncated
            | ProtocolError::Malformed(_)
            | ProtocolError::UnknownType(_) => ErrorCode::BadRequest,
            ProtocolError::TooLarge { .. } => ErrorCode::TooLarge,
            ProtocolError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            ProtocolError::Io(_) => ErrorCode::Internal,
        }
    }

    /// The ERROR frame a server sends before closing: after a framing error
    /// it no longer knows where the next frame starts, so CLOSING is set.
    pub fn reply(&self) -> ErrorReply {
        ErrorReply::new(self.code(), &self.to_string()).closing()
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Truncated => write!(f, "truncated: the input ended inside a message"),
            ProtocolError::TooLarge { what, len, max } => {
                write!(f, "too large: {what} is {len} bytes, the limit is {max}")
            }
            ProtocolError::Malformed(why) => write!(f, "bad request: {why}"),
            ProtocolError::UnknownType(t) => write!(f, "bad request: unknown frame type 0x{t:02x}"),
            // Version 1 sent the token in clear: say why it is gone.
            ProtocolError::UnsupportedVersion(v) if *v < VERSION => write!(
                f,
                "unsupported protocol version {v}: this side speaks version {VERSION}, in \
                 which a token never crosses the network; update the other side"
            ),
            ProtocolError::UnsupportedVersion(v) => write!(
                f,
                "unsupported protocol version {v} (this side speaks version {VERSION})"
            ),
            ProtocolError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtocolError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ProtocolError {
    fn from(e: io::Error) -> Self {
        // A stream that ends early is the same condition as a short slice,
        // and callers want to treat both the same way.
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ProtocolError::Truncated
        } else {
            ProtocolError::Io(e)
        }
    }
}

/// Error codes of ERROR frames (docs/PROTOCOL.md 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    NotFound = 1,
    IsADirectory = 2,
    NotADirectory = 3,
    PermissionDenied = 4,
    OutsideRoot = 5,
    BadRequest = 6,
    Busy = 7,
    ReadOnly = 8,
    AlreadyExists = 9,
    NotEmpty = 10,
    TooLarge = 11,
    Unauthorized = 12,
    /// The file changed since the client's partial copy ("version changed").
    Conflict = 13,
    Internal = 14,
    UnsupportedVersion = 15,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::NotFound,
        ErrorCode::IsADirectory,
        ErrorCode::NotADirectory,
        ErrorCode::PermissionDenied,
        ErrorCode::OutsideRoot,
        ErrorCode::BadRequest,
        ErrorCode::Busy,
        ErrorCode::ReadOnly,
        ErrorCode::AlreadyExists,
        ErrorCode::NotEmpty,
        ErrorCode::TooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Conflict,
        ErrorCode::Internal,
        ErrorCode::UnsupportedVersion,
    ];

    pub fn as_u16(self) -> u16 {
        self as u16
    }

    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_u16() == code)
    }

    /// The short name used in the protocol document and in messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not found",
            ErrorCode::IsADirectory => "is a directory",
            ErrorCode::NotADirectory => "not a directory",
            ErrorCode::PermissionDenied => "permission denied",
            ErrorCode::OutsideRoot => "outside root",
            ErrorCode::BadRequest => "bad request",
            ErrorCode::Busy => "busy",
            ErrorCode::ReadOnly => "read-only",
            ErrorCode::AlreadyExists => "already exists",
            ErrorCode::NotEmpty => "not empty",
            ErrorCode::TooLarge => "too large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::UnsupportedVersion => "unsupported version",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The payload of an ERROR frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    /// The server closes the connection after this frame.
    pub closing: bool,
    /// For a human; at most [`MAX_ERROR_MESSAGE`] bytes.
    pub message: String,
}

impl ErrorReply {
    /// An error that leaves the connection usable. A message over the limit
    /// is cut at a character boundary, because a long path in a message
    /// must not turn an error into a failure to report it.
    pub fn new(code: ErrorCode, message: &str) -> ErrorReply {
        let mut end = message.len().min(MAX_ERROR_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        ErrorReply {
            code,
            closing: false,
            message: message.get(..end).unwrap_or_default().to_owned(),
        }
    }

    /// The same error, announcing that the server closes afterwards.
    pub fn closing(mut self) -> ErrorReply {
        self.closing = true;
        self
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for ErrorReply {}
