//! The first bytes of a connection: telling the tutorial's client (a bare file name) from a framed one, and the two hellos.

use super::frame::{check_flags, read_full};
use super::{ProtocolError, CLIENT_HELLO_LEN, MAGIC, SERVER_HELLO_LEN, VERSION};
use std::io::{self, Read, Write};

/// Why a server hello starting `SSH-` is refused: it is an SSH server's greeting (RFC 4253
/// 4.2), and people point a file client at port 22 by habit; the client names it so.
pub const SSH_SERVER: &str = "the server's first bytes are an SSH server's greeting";

const HELLO_TOKEN_REQUIRED: u8 = 0x01;
const HELLO_READ_ONLY: u8 = 0x02;

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
        if buf.starts_with(b"SSH-") {
            return Err(ProtocolError::Malformed(SSH_SERVER));
        }
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
