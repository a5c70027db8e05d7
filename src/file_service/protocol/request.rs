//! The frames a client sends (docs/PROTOCOL.md 5.1): one `Request` per frame type, encoded and decoded.

use super::frame::{check_flags, read_frame, split_frame, FrameBuilder, PayloadReader};
use super::{Attrs, ProtocolError, MAX_IDENTITY, PROOF_LEN};
use std::io::{Read, Write};

pub(super) const T_AUTH: u8 = 0x01;
pub(super) const T_DOWNLOAD: u8 = 0x02;
pub(super) const T_LIST: u8 = 0x03;
pub(super) const T_STAT: u8 = 0x04;
pub(super) const T_MKDIR: u8 = 0x05;
pub(super) const T_UPLOAD: u8 = 0x06;
pub(super) const T_RENAME: u8 = 0x07;
pub(super) const T_REMOVE: u8 = 0x08;
pub(super) const T_RMDIR: u8 = 0x09;
/// Added after the first release of version 1 (docs/PROTOCOL.md 5.1): an older server
/// answers it as an unknown type.
pub(super) const T_CHMOD: u8 = 0x0a;
/// LIST whose answer carries owners (docs/PROTOCOL.md 5.1), added as CHMOD was.
pub(super) const T_LIST_OWNERS: u8 = 0x0b;

const DOWNLOAD_WANT_SHA256: u8 = 0x01;
const UPLOAD_RESUME: u8 = 0x01;
const UPLOAD_OVERWRITE: u8 = 0x02;
/// `put -p`: a modification time and a mode follow the path.
pub(super) const UPLOAD_ATTRS: u8 = 0x04;
/// Plain `put`: only a mode follows the path (never together with ATTRS).
pub(super) const UPLOAD_MODE: u8 = 0x08;
const RENAME_OVERWRITE: u8 = 0x01;

/// A client-to-server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The answer to the server's CHALLENGE: HMAC-SHA256(token, nonce).
    Auth {
        proof: [u8; PROOF_LEN],
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
        /// LIST_OWNERS rather than LIST: entries with their owner and group
        /// where the server's system has them (`ls -l`).
        owners: bool,
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
        /// Permissions (and with `put -p` the time) to give the file; `None`
        /// keeps the server's defaults.
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
    /// `chmod`: give a file or directory these permission bits (`0o777` at most).
    Chmod {
        path: Vec<u8>,
        mode: u16,
    },
}

impl Request {
    /// The frame type byte.
    pub fn frame_type(&self) -> u8 {
        match self {
            Request::Auth { .. } => T_AUTH,
            Request::Download { .. } => T_DOWNLOAD,
            Request::List { owners: false, .. } => T_LIST,
            Request::List { owners: true, .. } => T_LIST_OWNERS,
            Request::Stat { .. } => T_STAT,
            Request::Mkdir { .. } => T_MKDIR,
            Request::Upload { .. } => T_UPLOAD,
            Request::Rename { .. } => T_RENAME,
            Request::RemoveFile { .. } => T_REMOVE,
            Request::RemoveDir { .. } => T_RMDIR,
            Request::Chmod { .. } => T_CHMOD,
        }
    }

    /// The frame's name as docs/PROTOCOL.md writes it (`DOWNLOAD`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Auth { .. } => "AUTH",
            Request::Download { .. } => "DOWNLOAD",
            Request::List { owners: false, .. } => "LIST",
            Request::List { owners: true, .. } => "LIST_OWNERS",
            Request::Stat { .. } => "STAT",
            Request::Mkdir { .. } => "MKDIR",
            Request::Upload { .. } => "UPLOAD",
            Request::Rename { .. } => "RENAME",
            Request::RemoveFile { .. } => "REMOVE",
            Request::RemoveDir { .. } => "RMDIR",
            Request::Chmod { .. } => "CHMOD",
        }
    }

    /// The whole frame, length header included. Refuses values the peer
    /// would refuse, so nothing this side sends can be a framing error.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut e = FrameBuilder::new(self.frame_type());
        match self {
            Request::Auth { proof } => e.raw(proof),
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
            Request::List { path, .. }
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
                let mtime = attrs.and_then(|a| a.mtime_ns);
                e.flag_byte(&[
                    (*resume, UPLOAD_RESUME),
                    (*overwrite, UPLOAD_OVERWRITE),
                    (mtime.is_some(), UPLOAD_ATTRS),
                    (attrs.is_some() && mtime.is_none(), UPLOAD_MODE),
                ]);
                e.u64(*size);
                e.bytes8("identity", identity, 0, MAX_IDENTITY)?;
                e.path(path)?;
                if let Some(t) = mtime {
                    e.raw(&t.to_be_bytes());
                }
                if let Some(a) = attrs {
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
            Request::Chmod { path, mode } => {
                e.mode(*mode)?;
                e.path(path)?;
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

/// Parse one request frame from the start of `buf`; returns it and the
/// number of bytes it used (bytes after it are left alone). `Truncated`
/// means `buf` holds only the beginning of a frame.
pub fn parse_request(buf: &[u8]) -> Result<(Request, usize), ProtocolError> {
    let (body, used) = split_frame(buf)?;
    Ok((decode_request(body)?, used))
}

fn decode_request(body: &[u8]) -> Result<Request, ProtocolError> {
    let (&ty, payload) = body
        .split_first()
        .ok_or(ProtocolError::Malformed("empty frame: no type byte"))?;
    let mut d = PayloadReader::new(payload);
    let req = match ty {
        T_AUTH => {
            let mut proof = [0u8; PROOF_LEN];
            proof.copy_from_slice(d.take(PROOF_LEN)?);
            Request::Auth { proof }
        }
        T_DOWNLOAD => {
            let flags = check_flags(d.u8()?, DOWNLOAD_WANT_SHA256)?;
            Request::Download {
                offset: d.u64()?,
                identity: d.bytes8("identity", 0, MAX_IDENTITY)?,
                path: d.path()?,
                want_sha256: flags & DOWNLOAD_WANT_SHA256 != 0,
            }
        }
        T_LIST | T_LIST_OWNERS => Request::List {
            path: d.path()?,
            owners: ty == T_LIST_OWNERS,
        },
        T_STAT => Request::Stat { path: d.path()? },
        T_MKDIR => Request::Mkdir { path: d.path()? },
        T_REMOVE => Request::RemoveFile { path: d.path()? },
        T_RMDIR => Request::RemoveDir { path: d.path()? },
        T_UPLOAD => {
            let flags = check_flags(
                d.u8()?,
                UPLOAD_RESUME | UPLOAD_OVERWRITE | UPLOAD_ATTRS | UPLOAD_MODE,
            )?;
            let size = d.u64()?;
            let identity = d.bytes8("identity", 0, MAX_IDENTITY)?;
            let path = d.path()?;
            let attrs = match (flags & UPLOAD_ATTRS != 0, flags & UPLOAD_MODE != 0) {
                (true, true) => {
                    return Err(ProtocolError::Malformed(
                        "UPLOAD flags ATTRS and MODE together",
                    ))
                }
                (true, false) => Some(Attrs {
                    mtime_ns: Some(d.i64()?),
                    mode: d.mode()?,
                }),
                (false, true) => Some(Attrs {
                    mtime_ns: None,
                    mode: d.mode()?,
                }),
                (false, false) => None,
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
        T_CHMOD => Request::Chmod {
            mode: d.mode()?,
            path: d.path()?,
        },
        other => return Err(ProtocolError::UnknownType(other)),
    };
    d.finish()?;
    Ok(req)
}
