//! The framed download / file-shell protocol of docs/PROTOCOL.md, as bytes: its limits, hellos, frames and error codes.
//!
//! Only the wire format lives here, one submodule per part of it: `hello`
//! (telling a tutorial client from a framed one, and the hellos), `frame`
//! (the length in front of every frame, and reading and writing its fields),
//! `request` and `response` (the frames each side sends), `error` (error
//! codes, ERROR replies, and why bytes could not be decoded), `shown` (each
//! frame as `--trace` prints it). What this
//! system's files look like in those frames (kind, time, mode bits, version
//! identity) is `file_meta`'s job.
//!
//! Decoding never trusts a length field: it is checked against its limit
//! before anything it announces is allocated or read, and a frame must use
//! every one of its bytes. Names travel as raw bytes; whether a name is
//! acceptable is decided by the server's path module, not here.

mod error;
mod frame;
mod hello;
mod request;
mod response;
pub(crate) mod shown;

pub use error::{ErrorCode, ErrorReply, ProtocolError};
pub use hello::{detect, version_supported, ClientHello, Detected, ServerHello, SSH_SERVER};
pub use request::{parse_request, Request};
pub use response::{parse_response, Response};

/// First bytes of every framed connection. The leading NUL is what no
/// tutorial client can send as the start of a file name.
pub const MAGIC: [u8; 4] = [0x00, b'S', b'T', b'P'];
/// The protocol version this crate speaks. Version 2 answers the server's
/// CHALLENGE with an HMAC of the token; version 1 sent the token itself.
pub const VERSION: u16 = 2;
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
/// Longest token (it never crosses the wire: only its HMAC does).
pub const MAX_TOKEN: usize = 256;
/// Length of the CHALLENGE frame's nonce.
pub const NONCE_LEN: usize = 32;
/// Length of the AUTH frame's proof: an HMAC-SHA256.
pub const PROOF_LEN: usize = 32;
/// Longest version identity.
pub const MAX_IDENTITY: usize = 64;
/// Longest message in an ERROR frame, in bytes of UTF-8.
pub const MAX_ERROR_MESSAGE: usize = 1024;
/// Most entries in one LISTING frame.
pub const MAX_ENTRIES: usize = 128;
/// Length of a SHA-256 digest.
pub const DIGEST_LEN: usize = 32;

/// What a directory entry or stat result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File = 1,
    Dir = 2,
    Symlink = 3,
    Other = 4,
}

impl Kind {
    /// The kind a `kind` byte names; `None` for a value version 1 does not define.
    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::File),
            2 => Some(Kind::Dir),
            3 => Some(Kind::Symlink),
            4 => Some(Kind::Other),
            _ => None,
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
    /// The owner's and group's numbers, where the system has them and the
    /// frame carries them (a LISTING answering LIST_OWNERS on a unix server;
    /// never a STAT reply). `None` elsewhere: Windows, or an older server.
    pub owner: Option<Owner>,
}

/// Who owns a file, as numbers (what `ls -n` shows): `st_uid` and `st_gid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// What `put` asks the server to give the uploaded file (docs/PROTOCOL.md 5.1,
/// 7.4): its permission bits, and with `put -p` its modification time too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    /// Nanoseconds since 1970-01-01 UTC (`put -p`, flag ATTRS); `None` leaves
    /// the time of writing (plain `put`, flag MODE).
    pub mtime_ns: Option<i64>,
    /// At most [`MAX_MODE`]. With a time it is applied as it is, without one
    /// masked by the server's umask, as sftp does; what a system keeps of it
    /// is `file_meta::apply`'s to say.
    pub mode: u16,
}

/// One directory entry of a LISTING frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// One path component, 1..=[`MAX_NAME`] bytes.
    pub name: Vec<u8>,
    pub meta: Meta,
}

#[cfg(test)]
mod tests;
