//! The frames a server sends (docs/PROTOCOL.md 5.2): one `Response` per frame type, encoded and decoded.

use super::frame::{check_flags, read_frame, split_frame, FrameBuilder, PayloadReader};
use super::{
    Entry, ErrorCode, ErrorReply, Meta, Owner, ProtocolError, DIGEST_LEN, MAX_ENTRIES,
    MAX_ERROR_MESSAGE, MAX_IDENTITY, MAX_NAME, NONCE_LEN,
};
use std::io::{Read, Write};

pub(super) const T_OK: u8 = 0x80;
pub(super) const T_ERROR: u8 = 0x81;
pub(super) const T_FILE: u8 = 0x82;
pub(super) const T_DIGEST: u8 = 0x83;
pub(super) const T_LISTING: u8 = 0x84;
pub(super) const T_STAT_REPLY: u8 = 0x85;
pub(super) const T_UPLOAD_READY: u8 = 0x86;
pub(super) const T_CHALLENGE: u8 = 0x87;

const ERROR_CLOSING: u8 = 0x01;
const LISTING_LAST: u8 = 0x01;
/// Each entry carries its owner and group (the answer to LIST_OWNERS).
const LISTING_OWNERS: u8 = 0x02;

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
    /// Right after the hello of a server that wants a token: the nonce the
    /// client's AUTH must answer.
    Challenge {
        nonce: [u8; NONCE_LEN],
    },
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
            Response::Challenge { .. } => T_CHALLENGE,
        }
    }

    /// The whole frame, length header included; refuses what a peer would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut e = FrameBuilder::new(self.frame_type());
        match self {
            Response::Ok => {}
            Response::Error(err) => {
                e.u16(err.code.as_u16());
                e.flag_byte(&[(err.closing, ERROR_CLOSING)]);
                e.bytes16(
                    "error message",
                    err.message.as_bytes(),
                    0,
                    MAX_ERROR_MESSAGE,
                )?;
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
                let owners = listing_owners(entries)?;
                e.flag_byte(&[(*last, LISTING_LAST), (owners, LISTING_OWNERS)]);
                e.u16(count);
                for entry in entries {
                    e.meta(&entry.meta)?;
                    if let Some(owner) = entry.meta.owner {
                        e.u32(owner.uid);
                        e.u32(owner.gid);
                    }
                    e.bytes8("entry name", &entry.name, 1, MAX_NAME)?;
                }
            }
            Response::Stat(m) => {
                if m.owner.is_some() {
                    return Err(ProtocolError::Malformed("a STAT reply carries no owner"));
                }
                e.meta(m)?
            }
            Response::UploadReady { offset } => e.u64(*offset),
            Response::Challenge { nonce } => e.raw(nonce),
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

/// Whether a LISTING's entries carry owners: all of them or none, so the
/// one flag can say which (and an empty listing never carries it).
fn listing_owners(entries: &[Entry]) -> Result<bool, ProtocolError> {
    let with = entries.iter().filter(|e| e.meta.owner.is_some()).count();
    match with {
        0 => Ok(false),
        n if n == entries.len() => Ok(true),
        _ => Err(ProtocolError::Malformed(
            "a LISTING whose entries carry owners only in part",
        )),
    }
}

/// Parse one response frame from the start of `buf`, like [`parse_request`].
pub fn parse_response(buf: &[u8]) -> Result<(Response, usize), ProtocolError> {
    let (body, used) = split_frame(buf)?;
    Ok((decode_response(body)?, used))
}

fn decode_response(body: &[u8]) -> Result<Response, ProtocolError> {
    let (&ty, payload) = body
        .split_first()
        .ok_or(ProtocolError::Malformed("empty frame: no type byte"))?;
    let mut d = PayloadReader::new(payload);
    let resp = match ty {
        T_OK => Response::Ok,
        T_ERROR => {
            let code = ErrorCode::from_u16(d.u16()?)
                .ok_or(ProtocolError::Malformed("unknown error code"))?;
            let flags = check_flags(d.u8()?, ERROR_CLOSING)?;
            let message = String::from_utf8(d.bytes16("error message", 0, MAX_ERROR_MESSAGE)?)
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
            let flags = check_flags(d.u8()?, LISTING_LAST | LISTING_OWNERS)?;
            let owners = flags & LISTING_OWNERS != 0;
            let count = usize::from(d.u16()?);
            if count > MAX_ENTRIES {
                return Err(ProtocolError::TooLarge {
                    what: "listing entry count",
                    len: count as u64,
                    max: MAX_ENTRIES,
                });
            }
            if owners && count == 0 {
                return Err(ProtocolError::Malformed(
                    "OWNERS on a LISTING without entries",
                ));
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let mut meta = d.meta()?;
                if owners {
                    meta.owner = Some(Owner {
                        uid: d.u32()?,
                        gid: d.u32()?,
                    });
                }
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
        T_CHALLENGE => {
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(d.take(NONCE_LEN)?);
            Response::Challenge { nonce }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    };
    d.finish()?;
    Ok(resp)
}
