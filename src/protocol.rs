//! The framed download / file-shell protocol of docs/PROTOCOL.md: hellos, frames, limits, and telling tutorial clients apart.
//!
//! Decoding never trusts a length field: it is checked against its limit
//! before anything it announces is allocated or read, and a frame must use
//! every one of its bytes. Names travel as raw bytes; whether a name is
//! acceptable is decided by the server's path module, not here.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::time::UNIX_EPOCH;

/// First bytes of every framed connection. The leading NUL is what no
/// tutorial client can send as the start of a file name.
pub const MAGIC: [u8; 4] = [0x00, b'S', b'T', b'P'];
/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// Magic + `u16` version.
pub const CLIENT_HELLO_LEN: usize = 6;
/// Magic + `u16` version + flags byte.
pub const SERVER_HELLO_LEN: usize = 7;
/// The tutorial server's single `recv(1024)`; the Rust server reads the first bytes the same way.
pub const TUTORIAL_READ_LEN: usize = 1024;
/// The `u32` length in front of every frame.
pub const FRAME_HEADER_LEN: usize = 4;
/// Largest value of a frame's length field (type byte + payload).
pub const MAX_FRAME: usize = 65_536;
/// Longest path in a request, in bytes.
pub const MAX_PATH: usize = 4096;
/// Longest entry name in a listing (Linux NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Longest auth token.
pub const MAX_TOKEN: usize = 256;
/// Longest version identity.
pub const MAX_IDENTITY: usize = 64;
/// Longest error message, in bytes of UTF-8.
pub const MAX_MESSAGE: usize = 1024;
/// Most entries in one LISTING frame.
pub const MAX_ENTRIES: usize = 128;
/// Length of a SHA-256 digest.
pub const DIGEST_LEN: usize = 32;

const T_AUTH: u8 = 0x01;
const T_DOWNLOAD: u8 = 0x02;
const T_LIST: u8 = 0x03;
const T_STAT: u8 = 0x04;
const T_MKDIR: u8 = 0x05;
const T_UPLOAD: u8 = 0x06;
const T_RENAME: u8 = 0x07;
const T_REMOVE: u8 = 0x08;
const T_RMDIR: u8 = 0x09;

const T_OK: u8 = 0x80;
const T_ERROR: u8 = 0x81;
const T_FILE: u8 = 0x82;
const T_DIGEST: u8 = 0x83;
const T_LISTING: u8 = 0x84;
const T_STAT_REPLY: u8 = 0x85;
const T_UPLOAD_READY: u8 = 0x86;

const HELLO_TOKEN_REQUIRED: u8 = 0x01;
const HELLO_READ_ONLY: u8 = 0x02;
const DOWNLOAD_WANT_SHA256: u8 = 0x01;
const UPLOAD_RESUME: u8 = 0x01;
const UPLOAD_OVERWRITE: u8 = 0x02;
const UPLOAD_ATTRS: u8 = 0x04;
const RENAME_OVERWRITE: u8 = 0x01;
const ERROR_CLOSING: u8 = 0x01;
const LISTING_LAST: u8 = 0x01;

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

/// What the first bytes of a connection say about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// The unmodified tutorial client: the bytes of the first read are a file name.
    Tutorial,
    /// A client hello asking for `version`; the first [`CLIENT_HELLO_LEN`]
    /// bytes are the hello, anything after them is already the first frame.
    Framed { version: u16 },
    /// Starts like a hello but is shorter than one: read more.
    Incomplete,
    /// Starts with NUL but is not our magic: close without answering.
    NotOurs,
}

/// Decide who is talking from the bytes read so far (docs/PROTOCOL.md 4.3).
pub fn detect(first: &[u8]) -> Detected {
    match first.first() {
        None => Detected::Incomplete,
        Some(&b) if b != 0 => Detected::Tutorial,
        Some(_) => {
            let n = first.len().min(MAGIC.len());
            if first.get(..n) != MAGIC.get(..n) {
                return Detected::NotOurs;
            }
            match first.get(MAGIC.len()..CLIENT_HELLO_LEN) {
                Some(&[hi, lo]) => Detected::Framed {
                    version: u16::from_be_bytes([hi, lo]),
                },
                _ => Detected::Incomplete,
            }
        }
    }
}

/// Whether a server built from this crate speaks `version`.
pub fn version_supported(version: u16) -> bool {
    version == VERSION
}

/// The 6 bytes a framed client sends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello {
    pub version: u16,
}

impl Default for ClientHello {
    fn default() -> Self {
        ClientHello { version: VERSION }
    }
}

impl ClientHello {
    pub fn encode(&self) -> [u8; CLIENT_HELLO_LEN] {
        let [a, b, c, d] = MAGIC;
        let [hi, lo] = self.version.to_be_bytes();
        [a, b, c, d, hi, lo]
    }

    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.encode())
    }
}

/// The server's answer to a client hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The version of this session, or, when refusing, the highest the server speaks.
    pub version: u16,
    /// The next frame from the client must be AUTH.
    pub token_required: bool,
    /// Write requests will be refused with `read-only`.
    pub read_only: bool,
}

impl ServerHello {
    pub fn encode(&self) -> [u8; SERVER_HELLO_LEN] {
        let [a, b, c, d] = MAGIC;
        let [hi, lo] = self.version.to_be_bytes();
        let mut flags = 0;
        if self.token_required {
            flags |= HELLO_TOKEN_REQUIRED;
        }
        if self.read_only {
            flags |= HELLO_READ_ONLY;
        }
        [a, b, c, d, hi, lo, flags]
    }

    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.encode())
    }

    /// Decode a server hello from the start of `buf`; it is always
    /// [`SERVER_HELLO_LEN`] bytes long.
    pub fn parse(buf: &[u8]) -> Result<ServerHello, ProtocolError> {
        let n = buf.len().min(MAGIC.len());
        if buf.get(..n) != MAGIC.get(..n) {
            return Err(ProtocolError::Malformed(
                "the server hello does not start with the magic",
            ));
        }
        let Some(&[_, _, _, _, hi, lo, flags]) = buf.get(..SERVER_HELLO_LEN) else {
            return Err(ProtocolError::Truncated);
        };
        let flags = check_flags(flags, HELLO_TOKEN_REQUIRED | HELLO_READ_ONLY)?;
        Ok(ServerHello {
            version: u16::from_be_bytes([hi, lo]),
            token_required: flags & HELLO_TOKEN_REQUIRED != 0,
            read_only: flags & HELLO_READ_ONLY != 0,
        })
    }

    /// Read a server hello. `Ok(None)` means the server closed without
    /// sending a byte, which is what the tutorial's Python server does to a
    /// framed client (docs/PROTOCOL.md 4.6).
    pub fn read_from<R: Read + ?Sized>(r: &mut R) -> Result<Option<ServerHello>, ProtocolError> {
        let mut buf = [0u8; SERVER_HELLO_LEN];
        match read_full(r, &mut buf)? {
            0 => Ok(None),
            n if n < SERVER_HELLO_LEN => {
                // A short answer that is not even our magic is a wrong
                // server, which says more than "truncated".
                Self::parse(buf.get(..n).unwrap_or(&[])).map(Some)
            }
            _ => Self::parse(&buf).map(Some),
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
    /// For a human; at most [`MAX_MESSAGE`] bytes.
    pub message: String,
}

impl ErrorReply {
    /// An error that leaves the connection usable. A message over the limit
    /// is cut at a character boundary, because a long path in a message
    /// must not turn an error into a failure to report it.
    pub fn new(code: ErrorCode, message: &str) -> ErrorReply {
        let mut end = message.len().min(MAX_MESSAGE);
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

/// What a directory entry or stat result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File = 1,
    Dir = 2,
    Symlink = 3,
    Other = 4,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::File),
            2 => Some(Kind::Dir),
            3 => Some(Kind::Symlink),
            4 => Some(Kind::Other),
            _ => None,
        }
    }

    pub fn from_file_type(t: fs::FileType) -> Kind {
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

/// Largest `mode` value: the permission bits (`0o777`) and the set-id and
/// sticky bits (`0o7000`), nothing of the file type.
pub const MAX_MODE: u16 = 0o7777;

/// Kind, size, modification time and permission bits, as in STAT replies and listing entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Nanoseconds since 1970-01-01 UTC; negative before it.
    pub mtime_ns: i64,
    /// `st_mode & 0o7777`, at most [`MAX_MODE`].
    pub mode: u16,
}

impl Meta {
    /// From `std` metadata (use `symlink_metadata` to report links as links).
    pub fn from_metadata(m: &fs::Metadata) -> Meta {
        Meta {
            kind: Kind::from_file_type(m.file_type()),
            size: m.len(),
            mtime_ns: m.modified().map(system_time_ns).unwrap_or(0),
            mode: mode_bits(m),
        }
    }
}

/// The permission, set-id and sticky bits of a file, as the `mode` fields carry them.
pub fn mode_bits(m: &fs::Metadata) -> u16 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        u16::try_from(m.permissions().mode() & u32::from(MAX_MODE)).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        if m.permissions().readonly() {
            0o444
        } else {
            0o644
        }
    }
}

/// What `put -p` asks the server to give the uploaded file: its modification
/// time and permission bits (docs/PROTOCOL.md 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    /// Nanoseconds since 1970-01-01 UTC.
    pub mtime_ns: i64,
    /// At most [`MAX_MODE`]; the server applies only the permission bits, `0o777`.
    pub mode: u16,
}

/// `mtime_ns` as a `SystemTime`, for setting a file's modification time.
pub fn ns_system_time(ns: i64) -> std::time::SystemTime {
    let magnitude = std::time::Duration::from_nanos(ns.unsigned_abs());
    let t = if ns >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    // Only a platform whose clock cannot reach 1678 or 2262 gets here.
    t.unwrap_or(UNIX_EPOCH)
}

/// A time as nanoseconds since 1970-01-01 UTC, the `mtime` field of STAT
/// replies and listing entries (negative before 1970).
pub fn system_time_ns(t: std::time::SystemTime) -> i64 {
    // Saturate: a timestamp beyond the year 2262 is not worth an error.
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// The server's version identity of an open file (docs/PROTOCOL.md 7.1):
/// size, mtime in nanoseconds, inode and device, 8 bytes each. Take the
/// metadata from the handle that will be streamed (`File::metadata`), so
/// the identity describes what is actually sent.
pub fn file_identity(m: &fs::Metadata) -> Vec<u8> {
    let mtime = m.modified().map(system_time_ns).unwrap_or(0);
    #[cfg(unix)]
    let (ino, dev) = {
        use std::os::unix::fs::MetadataExt;
        (m.ino(), m.dev())
    };
    #[cfg(not(unix))]
    let (ino, dev) = (0u64, 0u64);
    let mut id = Vec::with_capacity(32);
    id.extend_from_slice(&m.len().to_be_bytes());
    id.extend_from_slice(&mtime.to_be_bytes());
    id.extend_from_slice(&ino.to_be_bytes());
    id.extend_from_slice(&dev.to_be_bytes());
    id
}

/// One directory entry of a LISTING frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// One path component, 1..=[`MAX_NAME`] bytes.
    pub name: Vec<u8>,
    pub meta: Meta,
}

/// A client-to-server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Auth {
        token: Vec<u8>,
    },
    Download {
        path: Vec<u8>,
        /// Bytes the client already holds.
        offset: u64,
        /// Identity those bytes came from; empty for a fresh download.
        identity: Vec<u8>,
        want_sha256: bool,
    },
    List {
        path: Vec<u8>,
    },
    Stat {
        path: Vec<u8>,
    },
    Mkdir {
        path: Vec<u8>,
    },
    Upload {
        path: Vec<u8>,
        size: u64,
        /// The client's identity of its source file.
        identity: Vec<u8>,
        resume: bool,
        overwrite: bool,
        /// Time and permissions to give the file (`put -p`); `None` keeps the server's defaults.
        attrs: Option<Attrs>,
    },
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
        overwrite: bool,
    },
    RemoveFile {
        path: Vec<u8>,
    },
    RemoveDir {
        path: Vec<u8>,
    },
}

/// A server-to-client frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Ok,
    Error(ErrorReply),
    /// Answer to DOWNLOAD; `size - offset` raw bytes follow it.
    File {
        size: u64,
        offset: u64,
        identity: Vec<u8>,
    },
    /// SHA-256 of the whole file, after the raw bytes.
    Digest([u8; DIGEST_LEN]),
    Listing {
        entries: Vec<Entry>,
        last: bool,
    },
    Stat(Meta),
    /// Answer to UPLOAD: bytes of it the server already holds.
    UploadReady {
        offset: u64,
    },
}

impl Request {
    /// The frame type byte.
    pub fn frame_type(&self) -> u8 {
        match self {
            Request::Auth { .. } => T_AUTH,
            Request::Download { .. } => T_DOWNLOAD,
            Request::List { .. } => T_LIST,
            Request::Stat { .. } => T_STAT,
            Request::Mkdir { .. } => T_MKDIR,
            Request::Upload { .. } => T_UPLOAD,
            Request::Rename { .. } => T_RENAME,
            Request::RemoveFile { .. } => T_REMOVE,
            Request::RemoveDir { .. } => T_RMDIR,
        }
    }

    /// The whole frame, length header included. Refuses values the peer
    /// would refuse, so nothing this side sends can be a framing error.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut e = Encoder::new(self.frame_type());
        match self {
            Request::Auth { token } => e.bytes16("token", token, 1, MAX_TOKEN)?,
            Request::Download {
                path,
                offset,
                identity,
                want_sha256,
            } => {
                e.flag_byte(&[(*want_sha256, DOWNLOAD_WANT_SHA256)]);
                e.u64(*offset);
                e.bytes8("identity", identity, 0, MAX_IDENTITY)?;
                e.path(path)?;
            }
            Request::List { path }
            | Request::Stat { path }
            | Request::Mkdir { path }
            | Request::RemoveFile { path }
            | Request::RemoveDir { path } => e.path(path)?,
            Request::Upload {
                path,
                size,
                identity,
                resume,
                overwrite,
                attrs,
            } => {
                e.flag_byte(&[
                    (*resume, UPLOAD_RESUME),
                    (*overwrite, UPLOAD_OVERWRITE),
                    (attrs.is_some(), UPLOAD_ATTRS),
                ]);
                e.u64(*size);
                e.bytes8("identity", identity, 0, MAX_IDENTITY)?;
                e.path(path)?;
                if let Some(a) = attrs {
                    e.raw(&a.mtime_ns.to_be_bytes());
                    e.mode(a.mode)?;
                }
            }
            Request::Rename {
                from,
                to,
                overwrite,
            } => {
                e.flag_byte(&[(*overwrite, RENAME_OVERWRITE)]);
                e.path(from)?;
                e.path(to)?;
            }
        }
        e.finish()
    }

    /// Encode and write in one `write_all`, so a frame is never half-sent
    /// because of an encoding error.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<(), ProtocolError> {
        w.write_all(&self.encode()?)?;
        Ok(())
    }

    /// Read one request frame. `Ok(None)` is a clean end: the stream ended
    /// exactly between frames.
    pub fn read_from<R: Read + ?Sized>(r: &mut R) -> Result<Option<Request>, ProtocolError> {
        match read_frame(r)? {
            None => Ok(None),
            Some(body) => decode_request(&body).map(Some),
        }
    }
}

impl Response {
    pub fn frame_type(&self) -> u8 {
        match self {
            Response::Ok => T_OK,
            Response::Error(_) => T_ERROR,
            Response::File { .. } => T_FILE,
            Response::Digest(_) => T_DIGEST,
            Response::Listing { .. } => T_LISTING,
            Response::Stat(_) => T_STAT_REPLY,
            Response::UploadReady { .. } => T_UPLOAD_READY,
        }
    }

    /// The whole frame, length header included; refuses what a peer would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut e = Encoder::new(self.frame_type());
        match self {
            Response::Ok => {}
            Response::Error(err) => {
                e.u16(err.code.as_u16());
                e.flag_byte(&[(err.closing, ERROR_CLOSING)]);
                e.bytes16("error message", err.message.as_bytes(), 0, MAX_MESSAGE)?;
            }
            Response::File {
                size,
                offset,
                identity,
            } => {
                if offset > size {
                    return Err(ProtocolError::Malformed("FILE offset beyond the file size"));
                }
                e.u64(*size);
                e.u64(*offset);
                e.bytes8("identity", identity, 1, MAX_IDENTITY)?;
            }
            Response::Digest(d) => e.raw(d),
            Response::Listing { entries, last } => {
                let count = u16::try_from(entries.len())
                    .ok()
                    .filter(|&c| usize::from(c) <= MAX_ENTRIES)
                    .ok_or(ProtocolError::TooLarge {
                        what: "listing entry count",
                        len: entries.len() as u64,
                        max: MAX_ENTRIES,
                    })?;
                e.flag_byte(&[(*last, LISTING_LAST)]);
                e.u16(count);
                for entry in entries {
                    e.meta(&entry.meta)?;
                    e.bytes8("entry name", &entry.name, 1, MAX_NAME)?;
                }
            }
            Response::Stat(m) => e.meta(m)?,
            Response::UploadReady { offset } => e.u64(*offset),
        }
        e.finish()
    }

    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<(), ProtocolError> {
        w.write_all(&self.encode()?)?;
        Ok(())
    }

    /// Read one response frame. `Ok(None)`: the server closed between frames.
    pub fn read_from<R: Read + ?Sized>(r: &mut R) -> Result<Option<Response>, ProtocolError> {
        match read_frame(r)? {
            None => Ok(None),
            Some(body) => decode_response(&body).map(Some),
        }
    }
}

/// Parse one request frame from the start of `buf`; returns it and the
/// number of bytes it used (bytes after it are left alone). `Truncated`
/// means `buf` holds only the beginning of a frame.
pub fn parse_request(buf: &[u8]) -> Result<(Request, usize), ProtocolError> {
    let (body, used) = split_frame(buf)?;
    Ok((decode_request(body)?, used))
}

/// Parse one response frame from the start of `buf`, like [`parse_request`].
pub fn parse_response(buf: &[u8]) -> Result<(Response, usize), ProtocolError> {
    let (body, used) = split_frame(buf)?;
    Ok((decode_response(body)?, used))
}

/// Check a frame length field against the limits.
fn frame_len(header: [u8; FRAME_HEADER_LEN]) -> Result<usize, ProtocolError> {
    let len = u32::from_be_bytes(header);
    match usize::try_from(len) {
        Ok(0) => Err(ProtocolError::Malformed("empty frame: no type byte")),
        Ok(n) if n <= MAX_FRAME => Ok(n),
        _ => Err(ProtocolError::TooLarge {
            what: "frame",
            len: u64::from(len),
            max: MAX_FRAME,
        }),
    }
}

/// The body (type byte + payload) of the frame at the start of `buf`.
fn split_frame(buf: &[u8]) -> Result<(&[u8], usize), ProtocolError> {
    let Some(&[a, b, c, d]) = buf.get(..FRAME_HEADER_LEN) else {
        return Err(ProtocolError::Truncated);
    };
    let len = frame_len([a, b, c, d])?;
    let used = FRAME_HEADER_LEN + len;
    let body = buf
        .get(FRAME_HEADER_LEN..used)
        .ok_or(ProtocolError::Truncated)?;
    Ok((body, used))
}

/// Read one frame body; `None` when the stream ends before its first byte.
fn read_frame<R: Read + ?Sized>(r: &mut R) -> Result<Option<Vec<u8>>, ProtocolError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    match read_full(r, &mut header)? {
        0 => return Ok(None),
        FRAME_HEADER_LEN => {}
        _ => return Err(ProtocolError::Truncated),
    }
    // Checked before allocating: the length is the peer's claim, not a fact.
    let len = frame_len(header)?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Fill `buf` unless the stream ends first; returns how much was read.
fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn check_flags(byte: u8, allowed: u8) -> Result<u8, ProtocolError> {
    if byte & !allowed != 0 {
        Err(ProtocolError::Malformed("reserved flag bits set"))
    } else {
        Ok(byte)
    }
}

fn decode_request(body: &[u8]) -> Result<Request, ProtocolError> {
    let (&ty, payload) = body
        .split_first()
        .ok_or(ProtocolError::Malformed("empty frame: no type byte"))?;
    let mut d = Decoder { rest: payload };
    let req = match ty {
        T_AUTH => Request::Auth {
            token: d.bytes16("token", 1, MAX_TOKEN)?,
        },
        T_DOWNLOAD => {
            let flags = check_flags(d.u8()?, DOWNLOAD_WANT_SHA256)?;
            Request::Download {
                offset: d.u64()?,
                identity: d.bytes8("identity", 0, MAX_IDENTITY)?,
                path: d.path()?,
                want_sha256: flags & DOWNLOAD_WANT_SHA256 != 0,
            }
        }
        T_LIST => Request::List { path: d.path()? },
        T_STAT => Request::Stat { path: d.path()? },
        T_MKDIR => Request::Mkdir { path: d.path()? },
        T_REMOVE => Request::RemoveFile { path: d.path()? },
        T_RMDIR => Request::RemoveDir { path: d.path()? },
        T_UPLOAD => {
            let flags = check_flags(d.u8()?, UPLOAD_RESUME | UPLOAD_OVERWRITE | UPLOAD_ATTRS)?;
            let size = d.u64()?;
            let identity = d.bytes8("identity", 0, MAX_IDENTITY)?;
            let path = d.path()?;
            let attrs = if flags & UPLOAD_ATTRS != 0 {
                Some(Attrs {
                    mtime_ns: d.i64()?,
                    mode: d.mode()?,
                })
            } else {
                None
            };
            Request::Upload {
                size,
                identity,
                path,
                resume: flags & UPLOAD_RESUME != 0,
                overwrite: flags & UPLOAD_OVERWRITE != 0,
                attrs,
            }
        }
        T_RENAME => {
            let flags = check_flags(d.u8()?, RENAME_OVERWRITE)?;
            Request::Rename {
                from: d.path()?,
                to: d.path()?,
                overwrite: flags & RENAME_OVERWRITE != 0,
            }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    };
    d.finish()?;
    Ok(req)
}

fn decode_response(body: &[u8]) -> Result<Response, ProtocolError> {
    let (&ty, payload) = body
        .split_first()
        .ok_or(ProtocolError::Malformed("empty frame: no type byte"))?;
    let mut d = Decoder { rest: payload };
    let resp = match ty {
        T_OK => Response::Ok,
        T_ERROR => {
            let code = ErrorCode::from_u16(d.u16()?)
                .ok_or(ProtocolError::Malformed("unknown error code"))?;
            let flags = check_flags(d.u8()?, ERROR_CLOSING)?;
            let message = String::from_utf8(d.bytes16("error message", 0, MAX_MESSAGE)?)
                .map_err(|_| ProtocolError::Malformed("error message is not UTF-8"))?;
            Response::Error(ErrorReply {
                code,
                closing: flags & ERROR_CLOSING != 0,
                message,
            })
        }
        T_FILE => {
            let size = d.u64()?;
            let offset = d.u64()?;
            // Refused here so no client ever computes `size - offset` on nonsense.
            if offset > size {
                return Err(ProtocolError::Malformed("FILE offset beyond the file size"));
            }
            Response::File {
                size,
                offset,
                identity: d.bytes8("identity", 1, MAX_IDENTITY)?,
            }
        }
        T_DIGEST => {
            let mut digest = [0u8; DIGEST_LEN];
            digest.copy_from_slice(d.take(DIGEST_LEN)?);
            Response::Digest(digest)
        }
        T_LISTING => {
            let flags = check_flags(d.u8()?, LISTING_LAST)?;
            let count = usize::from(d.u16()?);
            if count > MAX_ENTRIES {
                return Err(ProtocolError::TooLarge {
                    what: "listing entry count",
                    len: count as u64,
                    max: MAX_ENTRIES,
                });
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let meta = d.meta()?;
                let name = d.bytes8("entry name", 1, MAX_NAME)?;
                entries.push(Entry { name, meta });
            }
            Response::Listing {
                entries,
                last: flags & LISTING_LAST != 0,
            }
        }
        T_STAT_REPLY => Response::Stat(d.meta()?),
        T_UPLOAD_READY => Response::UploadReady { offset: d.u64()? },
        other => return Err(ProtocolError::UnknownType(other)),
    };
    d.finish()?;
    Ok(resp)
}

/// Builds one frame; the length is patched in by `finish`.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn new(ty: u8) -> Encoder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        buf.push(ty);
        Encoder { buf }
    }

    fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.raw(&v.to_be_bytes());
    }

    fn flag_byte(&mut self, bits: &[(bool, u8)]) {
        let byte = bits
            .iter()
            .filter(|(on, _)| *on)
            .fold(0u8, |acc, (_, bit)| acc | bit);
        self.buf.push(byte);
    }

    fn meta(&mut self, m: &Meta) -> Result<(), ProtocolError> {
        self.buf.push(m.kind as u8);
        self.u64(m.size);
        self.raw(&m.mtime_ns.to_be_bytes());
        self.mode(m.mode)
    }

    fn mode(&mut self, mode: u16) -> Result<(), ProtocolError> {
        if mode > MAX_MODE {
            return Err(ProtocolError::Malformed("mode has bits above 0o7777"));
        }
        self.u16(mode);
        Ok(())
    }

    fn check_len(
        what: &'static str,
        len: usize,
        min: usize,
        max: usize,
    ) -> Result<(), ProtocolError> {
        if len > max {
            Err(ProtocolError::TooLarge {
                what,
                len: len as u64,
                max,
            })
        } else if len < min {
            Err(ProtocolError::Malformed(
                "a length field is below its minimum",
            ))
        } else {
            Ok(())
        }
    }

    fn bytes8(
        &mut self,
        what: &'static str,
        b: &[u8],
        min: usize,
        max: usize,
    ) -> Result<(), ProtocolError> {
        Self::check_len(what, b.len(), min, max.min(usize::from(u8::MAX)))?;
        let len = u8::try_from(b.len()).expect("checked against a limit of at most u8::MAX");
        self.buf.push(len);
        self.raw(b);
        Ok(())
    }

    fn bytes16(
        &mut self,
        what: &'static str,
        b: &[u8],
        min: usize,
        max: usize,
    ) -> Result<(), ProtocolError> {
        Self::check_len(what, b.len(), min, max.min(usize::from(u16::MAX)))?;
        let len = u16::try_from(b.len()).expect("checked against a limit of at most u16::MAX");
        self.u16(len);
        self.raw(b);
        Ok(())
    }

    fn path(&mut self, p: &[u8]) -> Result<(), ProtocolError> {
        self.bytes16("path", p, 0, MAX_PATH)
    }

    fn finish(mut self) -> Result<Vec<u8>, ProtocolError> {
        let len = self.buf.len() - FRAME_HEADER_LEN;
        // Unreachable with version-1 limits (the largest frame is ~35 KB),
        // but a frame the peer would refuse must never be sent.
        if len > MAX_FRAME {
            return Err(ProtocolError::TooLarge {
                what: "frame",
                len: len as u64,
                max: MAX_FRAME,
            });
        }
        let header = u32::try_from(len)
            .expect("MAX_FRAME fits in u32")
            .to_be_bytes();
        self.buf
            .get_mut(..FRAME_HEADER_LEN)
            .expect("the header was reserved in new()")
            .copy_from_slice(&header);
        Ok(self.buf)
    }
}

/// Reads fields from one frame's payload. Running out of bytes here is
/// malformed, not truncated: the frame's own length said it was complete.
struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if n > self.rest.len() {
            return Err(ProtocolError::Malformed(
                "a field runs past the end of its frame",
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn limited(
        &mut self,
        what: &'static str,
        len: usize,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        if len > max {
            return Err(ProtocolError::TooLarge {
                what,
                len: len as u64,
                max,
            });
        }
        if len < min {
            return Err(ProtocolError::Malformed(
                "a length field is below its minimum",
            ));
        }
        Ok(self.take(len)?.to_vec())
    }

    fn bytes8(
        &mut self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.u8()?);
        self.limited(what, len, min, max)
    }

    fn bytes16(
        &mut self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.u16()?);
        self.limited(what, len, min, max)
    }

    fn path(&mut self) -> Result<Vec<u8>, ProtocolError> {
        self.bytes16("path", 0, MAX_PATH)
    }

    fn meta(&mut self) -> Result<Meta, ProtocolError> {
        let kind =
            Kind::from_u8(self.u8()?).ok_or(ProtocolError::Malformed("unknown entry kind"))?;
        Ok(Meta {
            kind,
            size: self.u64()?,
            mtime_ns: self.i64()?,
            mode: self.mode()?,
        })
    }

    fn mode(&mut self) -> Result<u16, ProtocolError> {
        let mode = self.u16()?;
        if mode > MAX_MODE {
            return Err(ProtocolError::Malformed("mode has bits above 0o7777"));
        }
        Ok(mode)
    }

    fn finish(self) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::Malformed(
                "bytes left over after the last field",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity32() -> Vec<u8> {
        let mut id = Vec::new();
        id.extend_from_slice(&6u64.to_be_bytes());
        id.extend_from_slice(&1_700_000_000_123_456_789i64.to_be_bytes());
        id.extend_from_slice(&0x2a51u64.to_be_bytes());
        id.extend_from_slice(&0x803u64.to_be_bytes());
        id
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("test hex is valid"))
            .collect()
    }

    /// A raw frame with any type and payload, for hand-made bad input.
    fn frame(ty: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        f.push(ty);
        f.extend_from_slice(payload);
        f
    }

    fn sample_requests() -> Vec<Request> {
        let p = b"dir/file.txt".to_vec();
        vec![
            Request::Auth {
                token: b"s3cret".to_vec(),
            },
            Request::Download {
                path: p.clone(),
                offset: 0,
                identity: vec![],
                want_sha256: false,
            },
            Request::Download {
                path: "文件.txt".as_bytes().to_vec(),
                offset: u64::MAX,
                identity: identity32(),
                want_sha256: true,
            },
            Request::List { path: vec![] },
            Request::Stat { path: p.clone() },
            Request::Mkdir { path: p.clone() },
            Request::Upload {
                path: p.clone(),
                size: 1 << 40,
                identity: vec![7; MAX_IDENTITY],
                resume: true,
                overwrite: false,
                attrs: None,
            },
            Request::Upload {
                path: vec![0xce, 0xc4, 0xbc, 0xfe],
                size: 0,
                identity: vec![],
                resume: false,
                overwrite: true,
                attrs: Some(Attrs {
                    mtime_ns: -5,
                    mode: 0o4755,
                }),
            },
            Request::Rename {
                from: p.clone(),
                to: b"other".to_vec(),
                overwrite: true,
            },
            Request::Rename {
                from: vec![],
                to: vec![],
                overwrite: false,
            },
            Request::RemoveFile { path: p.clone() },
            Request::RemoveDir { path: p },
        ]
    }

    fn sample_responses() -> Vec<Response> {
        let meta = Meta {
            kind: Kind::File,
            size: 6,
            mtime_ns: -1,
            mode: 0o644,
        };
        vec![
            Response::Ok,
            Response::Error(ErrorReply::new(ErrorCode::NotFound, "not found: x")),
            Response::Error(ErrorReply::new(ErrorCode::Unauthorized, "").closing()),
            Response::File {
                size: 6,
                offset: 3,
                identity: identity32(),
            },
            Response::File {
                size: 0,
                offset: 0,
                identity: vec![1],
            },
            Response::Digest([0xab; DIGEST_LEN]),
            Response::Listing {
                entries: vec![],
                last: true,
            },
            Response::Listing {
                entries: vec![
                    Entry {
                        name: b"a".to_vec(),
                        meta,
                    },
                    Entry {
                        name: "目录".as_bytes().to_vec(),
                        meta: Meta {
                            kind: Kind::Dir,
                            size: 4096,
                            mtime_ns: i64::MAX,
                            mode: MAX_MODE,
                        },
                    },
                    Entry {
                        name: b"link".to_vec(),
                        meta: Meta {
                            kind: Kind::Symlink,
                            size: 0,
                            mtime_ns: i64::MIN,
                            mode: 0o777,
                        },
                    },
                    Entry {
                        name: b"fifo".to_vec(),
                        meta: Meta {
                            kind: Kind::Other,
                            size: 0,
                            mtime_ns: 0,
                            mode: 0,
                        },
                    },
                ],
                last: false,
            },
            Response::Stat(meta),
            Response::UploadReady { offset: 12345 },
        ]
    }

    #[test]
    fn every_request_round_trips() {
        let mut types = std::collections::BTreeSet::new();
        for req in sample_requests() {
            let bytes = req.encode().expect("samples are within limits");
            assert_eq!(
                u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
                bytes.len() - 4
            );
            assert_eq!(parse_request(&bytes).unwrap(), (req.clone(), bytes.len()));
            let mut r = &bytes[..];
            assert_eq!(Request::read_from(&mut r).unwrap(), Some(req.clone()));
            assert!(Request::read_from(&mut r).unwrap().is_none());
            types.insert(req.frame_type());
        }
        assert_eq!(types.len(), 9, "every request type is sampled");
    }

    #[test]
    fn every_response_round_trips() {
        let mut types = std::collections::BTreeSet::new();
        for resp in sample_responses() {
            let bytes = resp.encode().expect("samples are within limits");
            assert_eq!(parse_response(&bytes).unwrap(), (resp.clone(), bytes.len()));
            let mut r = &bytes[..];
            assert_eq!(Response::read_from(&mut r).unwrap(), Some(resp.clone()));
            assert!(Response::read_from(&mut r).unwrap().is_none());
            types.insert(resp.frame_type());
        }
        assert_eq!(types.len(), 7, "every response type is sampled");
    }

    #[test]
    fn every_error_code_round_trips() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u16(code.as_u16()), Some(code));
            let resp = Response::Error(ErrorReply::new(code, code.name()));
            let bytes = resp.encode().unwrap();
            assert_eq!(parse_response(&bytes).unwrap().0, resp);
        }
        assert_eq!(ErrorCode::from_u16(0), None);
        assert_eq!(ErrorCode::from_u16(16), None);
    }

    #[test]
    fn worked_example_in_the_document_is_exact() {
        let hello = ClientHello::default().encode();
        assert_eq!(hello.to_vec(), hex("00 53 54 50 00 01"));
        let server = ServerHello {
            version: 1,
            token_required: false,
            read_only: false,
        };
        assert_eq!(server.encode().to_vec(), hex("00 53 54 50 00 01 00"));

        let download = Request::Download {
            path: b"hello.txt".to_vec(),
            offset: 0,
            identity: vec![],
            want_sha256: true,
        };
        assert_eq!(
            download.encode().unwrap(),
            hex("00 00 00 16 02 01 00 00 00 00 00 00 00 00 00 00 09 68 65 6c 6c 6f 2e 74 78 74")
        );
        let id_hex = "00 00 00 00 00 00 00 06 17 97 9c fe 3d 85 cd 15 \
                      00 00 00 00 00 00 2a 51 00 00 00 00 00 00 08 03";
        let file = Response::File {
            size: 6,
            offset: 0,
            identity: identity32(),
        };
        assert_eq!(
            file.encode().unwrap(),
            hex(&format!(
                "00 00 00 32 82 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00 00 20 {id_hex}"
            ))
        );
        let digest = hex("58 91 b5 b5 22 d5 df 08 6d 0f f0 b1 10 fb d9 d2 \
             1b b4 fc 71 63 af 34 d0 82 86 a2 e8 46 f6 be 03");
        let trailer = Response::Digest(digest.clone().try_into().unwrap());
        let mut expected = hex("00 00 00 21 83");
        expected.extend_from_slice(&digest);
        assert_eq!(trailer.encode().unwrap(), expected);

        let resume = Request::Download {
            path: b"hello.txt".to_vec(),
            offset: 3,
            identity: identity32(),
            want_sha256: true,
        };
        assert_eq!(
            resume.encode().unwrap(),
            hex(&format!(
                "00 00 00 36 02 01 00 00 00 00 00 00 00 03 20 {id_hex} 00 09 68 65 6c 6c 6f 2e 74 78 74"
            ))
        );
        let resumed = Response::File {
            size: 6,
            offset: 3,
            identity: identity32(),
        };
        assert_eq!(
            resumed.encode().unwrap(),
            hex(&format!(
                "00 00 00 32 82 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00 03 20 {id_hex}"
            ))
        );

        let missing = Request::Download {
            path: b"nope.txt".to_vec(),
            offset: 0,
            identity: vec![],
            want_sha256: false,
        };
        assert_eq!(
            missing.encode().unwrap(),
            hex("00 00 00 15 02 00 00 00 00 00 00 00 00 00 00 00 08 6e 6f 70 65 2e 74 78 74")
        );
        let not_found =
            Response::Error(ErrorReply::new(ErrorCode::NotFound, "not found: nope.txt"));
        assert_eq!(
            not_found.encode().unwrap(),
            hex("00 00 00 19 81 00 01 00 00 13 6e 6f 74 20 66 6f 75 6e 64 3a 20 6e 6f 70 65 2e 74 78 74")
        );
    }

    #[test]
    fn truncation_at_every_cut_point_is_reported() {
        let frames: Vec<(Vec<u8>, bool)> = sample_requests()
            .iter()
            .map(|r| (r.encode().unwrap(), true))
            .chain(
                sample_responses()
                    .iter()
                    .map(|r| (r.encode().unwrap(), false)),
            )
            .collect();
        for (bytes, is_request) in frames {
            for cut in 0..bytes.len() {
                let part = &bytes[..cut];
                let parsed = if is_request {
                    parse_request(part).map(|_| ())
                } else {
                    parse_response(part).map(|_| ())
                };
                assert!(
                    matches!(parsed, Err(ProtocolError::Truncated)),
                    "cut {cut} of {bytes:02x?}: {parsed:?}"
                );
                let mut r = part;
                let read = if is_request {
                    Request::read_from(&mut r).map(|o| o.is_some())
                } else {
                    Response::read_from(&mut r).map(|o| o.is_some())
                };
                if cut == 0 {
                    assert!(matches!(read, Ok(false)), "empty input is a clean end");
                } else {
                    assert!(
                        matches!(read, Err(ProtocolError::Truncated)),
                        "read_from cut {cut}: {read:?}"
                    );
                }
            }
        }
    }

    fn path_payload(len_field: u16, actual: usize) -> Vec<u8> {
        let mut p = len_field.to_be_bytes().to_vec();
        p.extend(std::iter::repeat(b'a').take(actual));
        p
    }

    fn is_too_large<T: fmt::Debug>(r: Result<T, ProtocolError>) -> bool {
        matches!(r, Err(ProtocolError::TooLarge { .. }))
    }

    fn is_malformed<T: fmt::Debug>(r: Result<T, ProtocolError>) -> bool {
        matches!(r, Err(ProtocolError::Malformed(_)))
    }

    #[test]
    fn frame_length_limits_are_enforced() {
        assert!(is_malformed(parse_request(&[0, 0, 0, 0])));
        // Refused from the header alone, before the announced bytes exist.
        assert!(is_too_large(parse_request(&[0, 1, 0, 1])));
        assert!(is_too_large(parse_request(&[0xff, 0xff, 0xff, 0xff])));
        assert!(is_too_large(parse_response(&[0, 1, 0, 1])));
        // Exactly MAX_FRAME passes the length check (and then fails on content).
        let mut big = frame(T_LIST, &path_payload(0, 0));
        big.resize(FRAME_HEADER_LEN + MAX_FRAME, 0);
        big[..4].copy_from_slice(&(MAX_FRAME as u32).to_be_bytes());
        assert!(is_malformed(parse_request(&big)));
    }

    #[test]
    fn a_hostile_length_reads_and_allocates_nothing_more() {
        struct Counting<'a> {
            data: &'a [u8],
            taken: usize,
        }
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.data.read(buf)?;
                self.taken += n;
                Ok(n)
            }
        }
        let mut input = vec![0xff, 0xff, 0xff, 0xff, T_LIST];
        input.extend(std::iter::repeat(0).take(100));
        let mut r = Counting {
            data: &input,
            taken: 0,
        };
        assert!(is_too_large(Request::read_from(&mut r)));
        assert_eq!(r.taken, FRAME_HEADER_LEN);
    }

    #[test]
    fn path_limit() {
        let at = frame(T_STAT, &path_payload(MAX_PATH as u16, MAX_PATH));
        assert!(parse_request(&at).is_ok());
        let over = frame(T_STAT, &path_payload(MAX_PATH as u16 + 1, MAX_PATH + 1));
        assert!(is_too_large(parse_request(&over)));
        let req = Request::Stat {
            path: vec![b'a'; MAX_PATH + 1],
        };
        assert!(is_too_large(req.encode()));
        let req = Request::Rename {
            from: vec![b'a'; MAX_PATH],
            to: vec![b'a'; MAX_PATH + 1],
            overwrite: false,
        };
        assert!(is_too_large(req.encode()));
    }

    #[test]
    fn token_limits() {
        assert!(is_malformed(Request::Auth { token: vec![] }.encode()));
        assert!(is_too_large(
            Request::Auth {
                token: vec![1; MAX_TOKEN + 1]
            }
            .encode()
        ));
        assert!(Request::Auth {
            token: vec![1; MAX_TOKEN]
        }
        .encode()
        .is_ok());
        assert!(is_malformed(parse_request(&frame(T_AUTH, &[0, 0]))));
        let mut over = ((MAX_TOKEN + 1) as u16).to_be_bytes().to_vec();
        over.extend(vec![1; MAX_TOKEN + 1]);
        assert!(is_too_large(parse_request(&frame(T_AUTH, &over))));
    }

    #[test]
    fn identity_limits() {
        let too_long = Request::Download {
            path: vec![],
            offset: 1,
            identity: vec![0; MAX_IDENTITY + 1],
            want_sha256: false,
        };
        assert!(is_too_large(too_long.encode()));
        let mut payload = vec![0];
        payload.extend_from_slice(&1u64.to_be_bytes());
        payload.push((MAX_IDENTITY + 1) as u8);
        payload.extend(vec![0; MAX_IDENTITY + 1]);
        payload.extend_from_slice(&[0, 0]);
        assert!(is_too_large(parse_request(&frame(T_DOWNLOAD, &payload))));
        payload[0] = 0;
        payload[1 + 8] = 0xff;
        assert!(is_too_large(parse_request(&frame(T_UPLOAD, &payload))));

        // A FILE frame must carry an identity, and a bounded one.
        for bad in [vec![], vec![0; MAX_IDENTITY + 1]] {
            let resp = Response::File {
                size: 1,
                offset: 0,
                identity: bad,
            };
            assert!(resp.encode().is_err());
        }
        let mut file = 1u64.to_be_bytes().to_vec();
        file.extend_from_slice(&0u64.to_be_bytes());
        file.push(0);
        assert!(is_malformed(parse_response(&frame(T_FILE, &file))));
    }

    #[test]
    fn message_limit() {
        let long = "中".repeat(MAX_MESSAGE);
        let reply = ErrorReply::new(ErrorCode::Internal, &long);
        assert!(reply.message.len() <= MAX_MESSAGE);
        assert!(reply.message.len() > MAX_MESSAGE - 3);
        assert!(reply.message.chars().all(|c| c == '中'));
        assert!(Response::Error(reply).encode().is_ok());

        let forced = ErrorReply {
            code: ErrorCode::Internal,
            closing: false,
            message: "x".repeat(MAX_MESSAGE + 1),
        };
        assert!(is_too_large(Response::Error(forced).encode()));
        let mut payload = vec![0, 14, 0];
        payload.extend_from_slice(&((MAX_MESSAGE + 1) as u16).to_be_bytes());
        payload.extend(vec![b'x'; MAX_MESSAGE + 1]);
        assert!(is_too_large(parse_response(&frame(T_ERROR, &payload))));
    }

    #[test]
    fn listing_limits() {
        let entry = |name: Vec<u8>| Entry {
            name,
            meta: Meta {
                kind: Kind::File,
                size: 1,
                mtime_ns: 1,
                mode: 0o600,
            },
        };
        let full = Response::Listing {
            entries: (0..MAX_ENTRIES)
                .map(|_| entry(vec![b'n'; MAX_NAME]))
                .collect(),
            last: true,
        };
        let bytes = full.encode().expect("a full listing fits in a frame");
        assert_eq!(parse_response(&bytes).unwrap().0, full);

        let too_many = Response::Listing {
            entries: (0..=MAX_ENTRIES).map(|_| entry(b"n".to_vec())).collect(),
            last: true,
        };
        assert!(is_too_large(too_many.encode()));
        assert!(is_too_large(parse_response(&frame(
            T_LISTING,
            &[1, 0, (MAX_ENTRIES + 1) as u8]
        ))));
        assert!(is_too_large(
            Response::Listing {
                entries: vec![entry(vec![b'n'; MAX_NAME + 1])],
                last: true
            }
            .encode()
        ));
        assert!(is_malformed(
            Response::Listing {
                entries: vec![entry(vec![])],
                last: true
            }
            .encode()
        ));
        let mut empty_name = vec![1, 0, 1, 1];
        empty_name.extend_from_slice(&[0; 16]);
        empty_name.push(0);
        assert!(is_malformed(parse_response(&frame(T_LISTING, &empty_name))));
        // A count that promises more entries than the frame holds.
        assert!(is_malformed(parse_response(&frame(T_LISTING, &[1, 0, 2]))));
    }

    #[test]
    fn modes_and_upload_attributes() {
        // STAT: kind, size, mtime, then the mode as a u16.
        let stat = Response::Stat(Meta {
            kind: Kind::File,
            size: 1,
            mtime_ns: 2,
            mode: 0o640,
        });
        assert_eq!(
            stat.encode().unwrap(),
            hex("00 00 00 14 85 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02 01 a0")
        );
        let mut over = hex("01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02");
        over.extend_from_slice(&(MAX_MODE + 1).to_be_bytes());
        assert!(is_malformed(parse_response(&frame(T_STAT_REPLY, &over))));
        let bad = Response::Stat(Meta {
            kind: Kind::File,
            size: 1,
            mtime_ns: 2,
            mode: 0o10000,
        });
        assert!(is_malformed(bad.encode()));

        // UPLOAD: the ATTRS flag brings mtime and mode after the path, and
        // only with the flag.
        let with = Request::Upload {
            path: b"f".to_vec(),
            size: 3,
            identity: vec![],
            resume: false,
            overwrite: false,
            attrs: Some(Attrs {
                mtime_ns: 1,
                mode: 0o600,
            }),
        };
        let bytes = with.encode().unwrap();
        assert_eq!(
            bytes,
            hex("00 00 00 18 06 04 00 00 00 00 00 00 00 03 00 00 01 66 \
                 00 00 00 00 00 00 00 01 01 80")
        );
        let mut without_flag = bytes.clone();
        without_flag[5] = 0;
        assert!(is_malformed(parse_request(&without_flag)));
        let mut cut = bytes[..bytes.len() - 10].to_vec();
        cut[5] = UPLOAD_ATTRS;
        let len = (cut.len() - 4) as u32;
        cut[..4].copy_from_slice(&len.to_be_bytes());
        assert!(is_malformed(parse_request(&cut)));
        let mut high = bytes.clone();
        let n = high.len();
        high[n - 2] = 0x10;
        assert!(is_malformed(parse_request(&high)));

        assert_eq!(
            system_time_ns(ns_system_time(-1_500_000_000)),
            -1_500_000_000
        );
        assert_eq!(system_time_ns(ns_system_time(i64::MAX)), i64::MAX);
    }

    #[test]
    fn layout_violations_are_malformed() {
        let good = Request::Download {
            path: b"f".to_vec(),
            offset: 0,
            identity: vec![],
            want_sha256: false,
        }
        .encode()
        .unwrap();
        // Reserved flag bits.
        for bit in 1..8 {
            let mut b = good.clone();
            b[5] = 1 << bit;
            assert!(is_malformed(parse_request(&b)), "bit {bit}");
        }
        // Leftover bytes inside the frame.
        let mut extra = good.clone();
        extra.push(0);
        let len = (extra.len() - 4) as u32;
        extra[..4].copy_from_slice(&len.to_be_bytes());
        assert!(is_malformed(parse_request(&extra)));
        // A field running past the end of its frame.
        let mut short = good.clone();
        short.pop();
        let len = (short.len() - 4) as u32;
        short[..4].copy_from_slice(&len.to_be_bytes());
        assert!(is_malformed(parse_request(&short)));
        // Bad enum values.
        assert!(is_malformed(parse_response(&frame(
            T_ERROR,
            &[0, 0, 0, 0, 0]
        ))));
        assert!(is_malformed(parse_response(&frame(
            T_ERROR,
            &[0, 16, 0, 0, 0]
        ))));
        assert!(is_malformed(parse_response(&frame(
            T_ERROR,
            &[0, 1, 2, 0, 0]
        ))));
        assert!(is_malformed(parse_response(&frame(
            T_ERROR,
            &[0, 1, 0, 0, 2, 0xff, 0xfe]
        ))));
        for kind in [0u8, 5, 0xff] {
            let mut stat = vec![kind];
            stat.extend_from_slice(&[0; 16]);
            assert!(is_malformed(parse_response(&frame(T_STAT_REPLY, &stat))));
        }
        let mut file = 1u64.to_be_bytes().to_vec();
        file.extend_from_slice(&2u64.to_be_bytes());
        file.extend_from_slice(&[1, 9]);
        assert!(is_malformed(parse_response(&frame(T_FILE, &file))));
        assert!(Response::File {
            size: 1,
            offset: 2,
            identity: vec![9]
        }
        .encode()
        .is_err());
    }

    #[test]
    fn types_are_checked_per_direction() {
        for ty in [0x00, 0x0a, 0x7f, T_OK, T_ERROR, 0xff] {
            assert!(matches!(
                parse_request(&frame(ty, &[])),
                Err(ProtocolError::UnknownType(t)) if t == ty
            ));
        }
        for ty in [0x00, T_AUTH, T_RMDIR, 0x87, 0xff] {
            assert!(matches!(
                parse_response(&frame(ty, &[])),
                Err(ProtocolError::UnknownType(t)) if t == ty
            ));
        }
    }

    #[test]
    fn pipelined_frames_are_parsed_one_at_a_time() {
        let reqs = sample_requests();
        let mut stream = Vec::new();
        for r in &reqs {
            r.write_to(&mut stream).unwrap();
        }
        let mut rest = &stream[..];
        for r in &reqs {
            let (parsed, used) = parse_request(rest).unwrap();
            assert_eq!(&parsed, r);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());

        // A reader that hands out one byte at a time and is interrupted in
        // between still yields whole frames.
        struct Trickle<'a> {
            data: &'a [u8],
            interrupt: bool,
        }
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.interrupt = !self.interrupt;
                if self.interrupt {
                    return Err(io::Error::from(io::ErrorKind::Interrupted));
                }
                let n = buf.len().min(1);
                self.data.read(&mut buf[..n])
            }
        }
        let mut t = Trickle {
            data: &stream,
            interrupt: false,
        };
        for r in &reqs {
            assert_eq!(Request::read_from(&mut t).unwrap().as_ref(), Some(r));
        }
        assert!(Request::read_from(&mut t).unwrap().is_none());
    }

    #[test]
    fn detect_tells_clients_apart() {
        assert_eq!(detect(b""), Detected::Incomplete);
        assert_eq!(detect(b"hello.txt"), Detected::Tutorial);
        // The tutorial client on Windows sends GBK: "文件.txt".
        assert_eq!(
            detect(&[0xce, 0xc4, 0xbc, 0xfe, b'.', b't', b'x', b't']),
            Detected::Tutorial
        );
        assert_eq!(detect("文件.txt".as_bytes()), Detected::Tutorial);
        assert_eq!(detect(b"\x01"), Detected::Tutorial);
        let hello = ClientHello::default().encode();
        for cut in 1..CLIENT_HELLO_LEN {
            assert_eq!(detect(&hello[..cut]), Detected::Incomplete, "cut {cut}");
        }
        assert_eq!(detect(&hello), Detected::Framed { version: VERSION });
        let mut with_frame = hello.to_vec();
        with_frame.extend(Request::List { path: vec![] }.encode().unwrap());
        assert_eq!(detect(&with_frame), Detected::Framed { version: 1 });
        assert_eq!(
            detect(&ClientHello { version: 0x0203 }.encode()),
            Detected::Framed { version: 0x0203 }
        );
        assert_eq!(detect(b"\0X"), Detected::NotOurs);
        assert_eq!(detect(b"\0STQ\0\x01"), Detected::NotOurs);
        assert_eq!(detect(b"\0\0\0\0\0\0"), Detected::NotOurs);
        assert!(version_supported(VERSION));
        assert!(!version_supported(0));
        assert!(!version_supported(VERSION + 1));
    }

    #[test]
    fn server_hello_round_trips_and_is_checked() {
        for (token_required, read_only) in
            [(false, false), (true, false), (false, true), (true, true)]
        {
            let h = ServerHello {
                version: 7,
                token_required,
                read_only,
            };
            let bytes = h.encode();
            assert_eq!(ServerHello::parse(&bytes).unwrap(), h);
            assert_eq!(ServerHello::read_from(&mut &bytes[..]).unwrap(), Some(h));
        }
        let mut reserved = ServerHello {
            version: 1,
            token_required: false,
            read_only: false,
        }
        .encode();
        reserved[6] = 0x04;
        assert!(is_malformed(ServerHello::parse(&reserved)));
        assert!(matches!(ServerHello::read_from(&mut &b""[..]), Ok(None)));
        assert!(matches!(
            ServerHello::read_from(&mut &b"\0STP\0"[..]),
            Err(ProtocolError::Truncated)
        ));
        // Raw file bytes from a tutorial-style server are not a hello.
        assert!(is_malformed(ServerHello::read_from(&mut &b"hello\n"[..])));
        assert!(is_malformed(ServerHello::read_from(&mut &b"h"[..])));
    }

    #[test]
    fn protocol_errors_map_to_closing_replies() {
        let cases = [
            (ProtocolError::Truncated, ErrorCode::BadRequest),
            (ProtocolError::Malformed("x"), ErrorCode::BadRequest),
            (ProtocolError::UnknownType(9), ErrorCode::BadRequest),
            (
                ProtocolError::TooLarge {
                    what: "frame",
                    len: 1 << 20,
                    max: MAX_FRAME,
                },
                ErrorCode::TooLarge,
            ),
            (
                ProtocolError::UnsupportedVersion(2),
                ErrorCode::UnsupportedVersion,
            ),
            (
                ProtocolError::Io(io::Error::other("boom")),
                ErrorCode::Internal,
            ),
        ];
        for (err, code) in cases {
            let reply = err.reply();
            assert_eq!(reply.code, code);
            assert!(reply.closing);
            assert!(!reply.message.is_empty());
            assert!(Response::Error(reply).encode().is_ok());
        }
        let eof: ProtocolError = io::Error::from(io::ErrorKind::UnexpectedEof).into();
        assert!(matches!(eof, ProtocolError::Truncated));
    }

    #[test]
    fn identity_and_meta_follow_the_file() {
        let dir = crate::test_support::TempDir::new("protocol");
        let path = dir.join("f");
        fs::write(&path, b"one").unwrap();
        let m1 = fs::metadata(&path).unwrap();
        let id1 = file_identity(&m1);
        assert_eq!(id1.len(), 32);
        assert!(id1.len() <= MAX_IDENTITY);
        assert_eq!(&id1[..8], &3u64.to_be_bytes());
        assert_eq!(file_identity(&fs::metadata(&path).unwrap()), id1);
        fs::write(&path, b"three").unwrap();
        assert_ne!(file_identity(&fs::metadata(&path).unwrap()), id1);

        let meta = Meta::from_metadata(&fs::metadata(&path).unwrap());
        assert_eq!((meta.kind, meta.size), (Kind::File, 5));
        assert!(meta.mtime_ns > 0);
        assert_eq!(
            Meta::from_metadata(&fs::metadata(dir.path()).unwrap()).kind,
            Kind::Dir
        );
    }
}
