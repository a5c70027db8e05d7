//! DOWNLOAD on the server (docs/PROTOCOL.md 7.1): the version check on the open handle before a byte is sent, the FILE frame, the bytes from that same handle, and the DIGEST.

use super::digests::{Digest, Origin};
use super::reply::{refuse, write_response};
use super::{root_reply, FileServer, Outcome, Then, SEND_BUFFER};
use crate::core::escape;
use crate::core::net;
use crate::core::server::deadline::{lost_or_dropped, Paced};
use crate::file_service::file_meta;
use crate::file_service::protocol::{ErrorCode, ErrorReply, Response};
use crate::file_service::sha256::Sha256;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

/// While hashing a file the client will not receive, how often (in buffers of
/// [`SEND_BUFFER`], so every 1 MiB) the server looks whether the client is still there.
const LIVENESS_EVERY: u32 = 16;

impl FileServer {
    /// DOWNLOAD (docs/PROTOCOL.md 7.1): decide from the open handle's
    /// identity before a byte is sent, then stream from that same handle.
    ///
    /// With WANT_SHA256 the digest of that version is remembered (`digests`).
    /// Not remembered yet, it is hashed while the bytes are sent; but when the
    /// client would receive less than half of the file, it is hashed first,
    /// once for all the clients asking at the same time, and only while the
    /// client is still there: hashing never costs more than twice what is sent,
    /// or one pass per version.
    pub(super) fn download(
        &self,
        stream: &Paced<'_>,
        path: &[u8],
        offset: u64,
        identity: &[u8],
        want_sha256: bool,
    ) -> io::Result<(Outcome, Then)> {
        let (mut file, meta) = match self.root.open_file(path) {
            Ok(opened) => opened,
            Err(e) => return refuse(stream, root_reply(&e)),
        };
        let size = meta.len();
        let current = file_meta::identity(&meta);
        let shown = escape::name(path);
        if offset > 0 && identity.is_empty() {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::BadRequest,
                    &format!(
                        "bad request: resuming {shown} needs the identity of the partial copy"
                    ),
                ),
            );
        }
        if offset > 0 && identity != current.as_slice() {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::Conflict,
                    &format!("conflict: {shown} changed since the partial download; start over"),
                ),
            );
        }
        if offset > size {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::BadRequest,
                    &format!(
                        "bad request: offset {offset} is past the end of {shown} ({size} bytes)"
                    ),
                ),
            );
        }
        let want = size - offset;
        let mut known: Option<(Digest, Origin)> = None;
        if want_sha256 {
            known = self.digests.get(&current).map(|d| (d, Origin::Remembered));
            if known.is_none() && want < offset {
                known = self
                    .digests
                    .get_or_compute(&current, || hash_file(&mut file, size, stream));
                if known.is_none() {
                    let outcome = Outcome::new(
                        "closed: the client left, or the file could not be read, while its digest was computed",
                        0,
                    );
                    return Ok((outcome, Then::Close));
                }
            }
        }
        write_response(
            stream,
            &Response::File {
                size,
                offset,
                identity: current.clone(),
            },
        )?;
        // Full segments for the bulk (measured: about 15% less system time
        // than with NODELAY); back on afterwards, which also pushes out the
        // tail at once, so a DIGEST or the next reply never waits for an ACK.
        let _ = stream.stream().set_nodelay(false);
        let sent = match known {
            None if want_sha256 => send_hashed(&mut file, offset, size, stream)
                .map(|(sent, d)| (sent, d.map(|d| (d, Origin::Hashed)))),
            _ => send_file(&mut file, offset, size, stream).map(|sent| (sent, known)),
        };
        let _ = stream.stream().set_nodelay(true);
        let resumed = if offset > 0 {
            format!(" (resumed at byte {offset})")
        } else {
            String::new()
        };
        match sent {
            Err((e, sent)) => {
                let (verb, why) = lost_or_dropped(&e);
                Ok((
                    Outcome::new(format!("{verb}{resumed}: {why}"), sent),
                    Then::Close,
                ))
            }
            // The promised count cannot be met: closing is the only way to
            // tell the client, which keeps what it has and can resume.
            Ok((sent, _)) if sent < want => Ok((
                Outcome::new(
                    format!("the file shrank while it was sent{resumed}; closed"),
                    sent,
                ),
                Then::Close,
            )),
            // Written to while it was sent: the bytes may mix two versions,
            // and a digest of them would only vouch for the mix. Closing
            // without DIGEST makes a verifying client keep its .part and
            // find the new version (a conflict) on its next try.
            Ok((sent, _)) if changed_since(&file, &current) => Ok((
                Outcome::new(
                    format!("the file changed while it was sent{resumed}; closed"),
                    sent,
                ),
                Then::Close,
            )),
            Ok((sent, digest)) => {
                let verified = match digest {
                    Some((digest, origin)) => {
                        if origin == Origin::Hashed {
                            self.digests.put(&current, digest);
                        }
                        write_response(stream, &Response::Digest(digest))?;
                        match origin {
                            Origin::Hashed => ", with sha256",
                            Origin::Remembered => ", with sha256 (remembered)",
                        }
                    }
                    None => "",
                };
                Ok((
                    Outcome::new(format!("ok{resumed}{verified}"), sent),
                    Then::Continue,
                ))
            }
        }
    }
}

/// Whether the open file's identity is no longer `identity`.
fn changed_since(file: &File, identity: &[u8]) -> bool {
    file.metadata()
        .map_or(true, |m| file_meta::identity(&m) != identity)
}

/// Bytes `offset..size` of `file` to the socket with `io::copy`, in constant
/// memory. Returns how many were sent; on an error, the error and about how
/// many were sent.
///
/// Through a `BufReader` of [`SEND_BUFFER`] over `Take<&mut File>`, both of
/// which std's `io::copy` can see through: one `read` and one `send` per
/// 64 KiB (docs/PROTOCOL.md 7.1 says why not `sendfile`).
fn send_file(
    file: &mut File,
    offset: u64,
    size: u64,
    stream: &Paced<'_>,
) -> Result<u64, (io::Error, u64)> {
    file.seek(SeekFrom::Start(offset)).map_err(|e| (e, 0))?;
    let mut socket = stream;
    let mut reader = BufReader::with_capacity(SEND_BUFFER, (&mut *file).take(size - offset));
    match io::copy(&mut reader, &mut socket) {
        Ok(n) => Ok(n),
        Err(e) => {
            let buffered = reader.buffer().len() as u64;
            drop(reader);
            let read = file
                .stream_position()
                .map_or(0, |pos| pos.saturating_sub(offset));
            Err((e, read.saturating_sub(buffered)))
        }
    }
}

/// Like [`send_file`], but every byte of the file (from 0, the part the
/// client already has included) goes through SHA-256, so the bytes hashed
/// are the bytes sent. Returns the count sent and, if the whole file was
/// read, its digest. While it hashes the part the client has, sending
/// nothing, it looks every MiB whether the client is still there, and stops
/// when it is not (an error): nobody would get the digest.
#[allow(clippy::type_complexity)]
fn send_hashed(
    file: &mut File,
    offset: u64,
    size: u64,
    stream: &Paced<'_>,
) -> Result<(u64, Option<Digest>), (io::Error, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; SEND_BUFFER];
    let mut socket = stream;
    file.seek(SeekFrom::Start(0)).map_err(|e| (e, 0))?;
    let mut pos = 0u64;
    let mut sent = 0u64;
    let mut chunks = 0u32;
    while pos < size {
        let want = usize::try_from(size - pos).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = match net::recv(file, chunk) {
            Ok(0) => return Ok((sent, None)),
            Ok(n) => n,
            Err(e) => return Err((e, sent)),
        };
        let data = chunk.get(..n).unwrap_or_default();
        hasher.update(data);
        // The part before `offset` is only hashed: the client has it.
        let skip = usize::try_from(offset.saturating_sub(pos)).map_or(n, |s| s.min(n));
        let to_send = data.get(skip..).unwrap_or_default();
        socket.write_all(to_send).map_err(|e| (e, sent))?;
        sent += to_send.len() as u64;
        pos += n as u64;
        chunks += 1;
        if to_send.is_empty() && chunks % LIVENESS_EVERY == 0 && stream.client_gone() {
            let gone = io::Error::new(io::ErrorKind::ConnectionAborted, "the client has gone");
            return Err((gone, sent));
        }
    }
    Ok((sent, Some(hasher.finalize())))
}

/// The digest of bytes `0..size` of `file`, hashed before anything is sent; `None` when the
/// client has gone meanwhile, or the file cannot be read whole.
fn hash_file(file: &mut File, size: u64, client: &Paced<'_>) -> Option<Digest> {
    match send_hashed(file, size, size, client) {
        Ok((_, digest)) => digest,
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_sending_skips_what_the_client_has_but_hashes_it() {
        use std::net::{TcpListener, TcpStream};
        let dir = crate::test_support::TempDir::new("fileserver");
        let path = dir.join("f");
        let data: Vec<u8> = (0..(SEND_BUFFER * 2 + 77))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for offset in [0u64, 5, SEND_BUFFER as u64 + 3, data.len() as u64] {
            let mut file = std::fs::File::open(&path).unwrap();
            let reader = std::thread::spawn({
                let mut client = client.try_clone().unwrap();
                let want = data.len() - offset as usize;
                move || {
                    let mut got = vec![0u8; want];
                    client.read_exact(&mut got).unwrap();
                    got
                }
            });
            let server = crate::core::trace::Stream::from(server.try_clone().unwrap());
            let paced = Paced::new(&server, None, Default::default());
            paced.body();
            let (sent, digest) = send_hashed(&mut file, offset, data.len() as u64, &paced).unwrap();
            assert_eq!(sent, data.len() as u64 - offset);
            assert_eq!(digest, Some(Sha256::digest(&data)));
            assert_eq!(reader.join().unwrap(), &data[offset as usize..]);
        }
    }
}
