//! DOWNLOAD on the server (docs/PROTOCOL.md 7.1): the version check on the open handle before a byte is sent, the FILE frame, the bytes from that same handle, and the DIGEST.

use super::digests::{Digest, Hashing, Lookup};
use super::reply::{refuse, write_response};
use super::{root_reply, FileServer, Outcome, Then, SEND_BUFFER};
use crate::core::escape;
use crate::core::net;
use crate::core::server::deadline::{lost_or_dropped, Paced};
use crate::file_service::file_meta;
use crate::file_service::protocol::{ErrorCode, ErrorReply, Response};
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
        // A digest known before a byte is sent, and this request's part in hashing the
        // version when it is not remembered.
        let mut known: Option<Digest> = None;
        let mut hashing: Option<Hashing<'_>> = None;
        if want_sha256 {
            match self.digests.lookup(&current) {
                Lookup::Remembered(digest) => known = Some(digest),
                // The client receives less than half of the file: hashed first, so
                // that a client that leaves meanwhile is seen before anything is sent.
                Lookup::Unfinished(mut h) if want < offset => {
                    known = hash_up_to(&mut file, size, &mut h, stream)
                        .ok()
                        .and_then(|_| h.finish(size));
                    if known.is_none() {
                        let outcome = Outcome::new(
                            format!(
                                "closed: the client left, or the file could not be read, while its digest was computed{}; the hash goes on from byte {} of {size} next time",
                                hashed_note(Some(&h)),
                                h.position()
                            ),
                            0,
                        );
                        return Ok((outcome, Then::Close));
                    }
                    hashing = Some(h);
                }
                Lookup::Unfinished(h) => hashing = Some(h),
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
        let sent = match (known, hashing.as_mut()) {
            (None, Some(h)) => send_hashed(&mut file, offset, size, stream, h),
            _ => send_file(&mut file, offset, size, stream),
        };
        let _ = stream.stream().set_nodelay(true);
        let resumed = if offset > 0 {
            format!(" (resumed at byte {offset})")
        } else {
            String::new()
        };
        let hashed = hashed_note(hashing.as_ref());
        match sent {
            Err((e, sent)) => {
                let (verb, why) = lost_or_dropped(&e);
                Ok((
                    Outcome::new(format!("{verb}{resumed}: {why}{hashed}"), sent),
                    Then::Close,
                ))
            }
            // The promised count cannot be met: closing is the only way to
            // tell the client, which keeps what it has and can resume.
            Ok(sent) if sent < want => Ok((
                Outcome::new(
                    format!("the file shrank while it was sent{resumed}{hashed}; closed"),
                    sent,
                ),
                Then::Close,
            )),
            // Written to while it was sent: the bytes may mix two versions,
            // and a digest of them would only vouch for the mix. Closing
            // without DIGEST makes a verifying client keep its .part and
            // find the new version (a conflict) on its next try; what this
            // request hashed of the mix is forgotten.
            Ok(sent) if changed_since(&file, &current) => {
                if let Some(h) = hashing {
                    self.digests.forget(h);
                }
                Ok((
                    Outcome::new(
                        format!("the file changed while it was sent{resumed}{hashed}; closed"),
                        sent,
                    ),
                    Then::Close,
                ))
            }
            Ok(sent) => {
                let digest = known.or_else(|| hashing.as_ref().and_then(|h| h.finish(size)));
                let verified = match digest {
                    Some(digest) => {
                        write_response(stream, &Response::Digest(digest))?;
                        if hashing.is_some() {
                            format!(", with sha256{hashed}")
                        } else {
                            ", with sha256 (remembered)".to_string()
                        }
                    }
                    // Asked for, and the file ended before it was all hashed.
                    None if want_sha256 => {
                        return Ok((
                            Outcome::new(
                                format!(
                                    "the file shrank while it was hashed{resumed}{hashed}; closed"
                                ),
                                sent,
                            ),
                            Then::Close,
                        ))
                    }
                    None => String::new(),
                };
                Ok((
                    Outcome::new(format!("ok{resumed}{verified}"), sent),
                    Then::Continue,
                ))
            }
        }
    }
}

/// What a request hashed, for its log line: ` (hashed N bytes)`, or nothing when it
/// took no part in a hash.
fn hashed_note(hashing: Option<&Hashing<'_>>) -> String {
    hashing.map_or(String::new(), |h| format!(" (hashed {} bytes)", h.hashed()))
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

/// Like [`send_file`], but the version's hash (`hashing`) goes on through the bytes sent:
/// first through those before `offset` it has not reached yet (the client has them, so they
/// are only hashed), then through each piece sent that continues it. Bytes it has already
/// passed, hashed by an earlier request or one at the same time, are only sent. Returns the
/// count sent; the hash stands at `size` unless the file ended early or the client left.
fn send_hashed(
    file: &mut File,
    offset: u64,
    size: u64,
    stream: &Paced<'_>,
    hashing: &mut Hashing<'_>,
) -> Result<u64, (io::Error, u64)> {
    if hash_up_to(file, offset, hashing, stream).map_err(|e| (e, 0))? < offset {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(offset)).map_err(|e| (e, 0))?;
    let mut buf = vec![0u8; SEND_BUFFER];
    let mut socket = stream;
    let mut pos = offset;
    let mut sent = 0u64;
    while pos < size {
        let want = usize::try_from(size - pos).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = match net::recv(file, chunk) {
            Ok(0) => return Ok(sent),
            Ok(n) => n,
            Err(e) => return Err((e, sent)),
        };
        let data = chunk.get(..n).unwrap_or_default();
        hashing.offer(pos, data);
        socket.write_all(data).map_err(|e| (e, sent))?;
        sent += n as u64;
        pos += n as u64;
    }
    // Where a request that began ahead of this one left off while this one sent.
    hash_up_to(file, size, hashing, stream).map_err(|e| (e, sent))?;
    Ok(sent)
}

/// Takes the version's hash on up to byte `end` of `file`, sending nothing: a piece at a
/// time, each read and hashed by one request of all those at it. It looks every MiB whether
/// the client is still there, and stops when it is not (an error): nobody would get the
/// digest, and the next request goes on from there. Returns where the hash stands, short of
/// `end` if the file ended before it.
fn hash_up_to(
    file: &mut File,
    end: u64,
    hashing: &mut Hashing<'_>,
    client: &Paced<'_>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; SEND_BUFFER];
    let mut pieces = 0u32;
    loop {
        let (at, n) = hashing.advance(&mut buf, |pos, buf| {
            let want = usize::try_from(end.saturating_sub(pos))
                .map_or(buf.len(), |left| left.min(buf.len()));
            if want == 0 {
                return Ok(0);
            }
            file.seek(SeekFrom::Start(pos))?;
            net::recv(file, buf.get_mut(..want).unwrap_or_default())
        })?;
        if at >= end || n == 0 {
            return Ok(at);
        }
        pieces += 1;
        if pieces % LIVENESS_EVERY == 0 && client.client_gone() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the client has gone",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::digests::Digests;
    use super::*;
    use crate::file_service::sha256::Sha256;

    #[test]
    fn hashed_sending_skips_what_the_client_has_and_what_is_hashed_already() {
        use std::net::{TcpListener, TcpStream};
        let dir = crate::test_support::TempDir::new("fileserver");
        let path = dir.join("f");
        let data: Vec<u8> = (0..(SEND_BUFFER * 2 + 77))
            .map(|i| (i % 251) as u8)
            .collect();
        let size = data.len() as u64;
        std::fs::write(&path, &data).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let server = crate::core::trace::Stream::from(server);
        let paced = Paced::new(&server, None, Default::default());
        paced.body();
        let cuts = [0u64, 5, SEND_BUFFER as u64 + 3, size];
        for offset in cuts {
            // Where an earlier request left the hash: from nothing to all but the end.
            for before in [0, 3, SEND_BUFFER as u64 + 10, size - 1] {
                let digests = Digests::default();
                let Lookup::Unfinished(mut earlier) = digests.lookup(b"f") else {
                    panic!("remembered")
                };
                earlier.offer(0, &data[..before as usize]);
                let Lookup::Unfinished(mut hashing) = digests.lookup(b"f") else {
                    panic!("remembered")
                };
                let mut file = std::fs::File::open(&path).unwrap();
                let reader = std::thread::spawn({
                    let mut client = client.try_clone().unwrap();
                    let want = (size - offset) as usize;
                    move || {
                        let mut got = vec![0u8; want];
                        client.read_exact(&mut got).unwrap();
                        got
                    }
                });
                let sent = send_hashed(&mut file, offset, size, &paced, &mut hashing).unwrap();
                assert_eq!(sent, size - offset);
                assert_eq!(reader.join().unwrap(), &data[offset as usize..]);
                assert_eq!(hashing.hashed(), size - before, "{offset} {before}");
                assert_eq!(hashing.finish(size), Some(Sha256::digest(&data)));
            }
        }
    }
}
