//! A frame on the wire: the `u32` length in front of it, checked before anything is read, and its fields written and read one at a time.

use super::{Kind, Meta, ProtocolError, FRAME_HEADER_LEN, MAX_FRAME, MAX_MODE, MAX_PATH};
use crate::core::net;
use std::io::{self, Read};

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
pub(super) fn split_frame(buf: &[u8]) -> Result<(&[u8], usize), ProtocolError> {
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
pub(super) fn read_frame<R: Read + ?Sized>(r: &mut R) -> Result<Option<Vec<u8>>, ProtocolError> {
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
pub(super) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match net::recv(r, rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// `byte`, unless it sets a flag bit that `allowed` does not define (reserved bits must be 0).
pub(super) fn check_flags(byte: u8, allowed: u8) -> Result<u8, ProtocolError> {
    if byte & !allowed != 0 {
        Err(ProtocolError::Malformed("reserved flag bits set"))
    } else {
        Ok(byte)
    }
}

/// Builds one frame; the length is patched in by `finish`.
pub(super) struct FrameBuilder {
    buf: Vec<u8>,
}

impl FrameBuilder {
    pub(super) fn new(ty: u8) -> FrameBuilder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        buf.push(ty);
        FrameBuilder { buf }
    }

    pub(super) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(super) fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    pub(super) fn u32(&mut self, v: u32) {
        self.raw(&v.to_be_bytes());
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.raw(&v.to_be_bytes());
    }

    pub(super) fn flag_byte(&mut self, bits: &[(bool, u8)]) {
        let byte = bits
            .iter()
            .filter(|(on, _)| *on)
            .fold(0u8, |acc, (_, bit)| acc | bit);
        self.buf.push(byte);
    }

    pub(super) fn meta(&mut self, m: &Meta) -> Result<(), ProtocolError> {
        self.buf.push(m.kind as u8);
        self.u64(m.size);
        self.raw(&m.mtime_ns.to_be_bytes());
        self.mode(m.mode)
    }

    pub(super) fn mode(&mut self, mode: u16) -> Result<(), ProtocolError> {
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

    pub(super) fn bytes8(
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

    pub(super) fn bytes16(
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

    pub(super) fn path(&mut self, p: &[u8]) -> Result<(), ProtocolError> {
        self.bytes16("path", p, 0, MAX_PATH)
    }

    pub(super) fn finish(mut self) -> Result<Vec<u8>, ProtocolError> {
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
pub(super) struct PayloadReader<'a> {
    rest: &'a [u8],
}

impl<'a> PayloadReader<'a> {
    pub(super) fn new(payload: &'a [u8]) -> PayloadReader<'a> {
        PayloadReader { rest: payload }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
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

    pub(super) fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(super) fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn i64(&mut self) -> Result<i64, ProtocolError> {
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

    pub(super) fn bytes8(
        &mut self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.u8()?);
        self.limited(what, len, min, max)
    }

    pub(super) fn bytes16(
        &mut self,
        what: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.u16()?);
        self.limited(what, len, min, max)
    }

    pub(super) fn path(&mut self) -> Result<Vec<u8>, ProtocolError> {
        self.bytes16("path", 0, MAX_PATH)
    }

    pub(super) fn meta(&mut self) -> Result<Meta, ProtocolError> {
        let kind =
            Kind::from_u8(self.u8()?).ok_or(ProtocolError::Malformed("unknown entry kind"))?;
        Ok(Meta {
            kind,
            size: self.u64()?,
            mtime_ns: self.i64()?,
            mode: self.mode()?,
            owner: None,
        })
    }

    pub(super) fn mode(&mut self) -> Result<u16, ProtocolError> {
        let mode = self.u16()?;
        if mode > MAX_MODE {
            return Err(ProtocolError::Malformed("mode has bits above 0o7777"));
        }
        Ok(mode)
    }

    pub(super) fn finish(self) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::Malformed(
                "bytes left over after the last field",
            ))
        }
    }
}
