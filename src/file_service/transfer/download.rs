//! A download (docs/PROTOCOL.md 7.1) on the client: `<out>.part`, resuming only the same version, end-to-end SHA-256, and a rename that makes the file appear only when whole; or the bytes to a stream (`-o -`).
//!
//! A download writes to `<out>.part` and records, in `<out>.part.info`, which
//! server, name and server-side version (the identity of docs/PROTOCOL.md
//! 7.1) those bytes came from (`partial`). An interrupted run leaves both; the
//! next run asks the server to go on from the `.part`'s length if the version
//! is still the same, and starts over otherwise. Only when every byte has
//! arrived (and, with verification, the SHA-256 of the whole file matches the
//! server's) is `.part` renamed to `<out>`.
//!
//! A local failure after the server has begun to send (a missing folder, a
//! full disk) leaves the rest of the file on its way: up to [`DRAIN_LIMIT`]
//! is read and dropped so the connection stays in step for the next request;
//! past it the connection is closed instead, which is quicker than receiving
//! a file nobody can keep. Either way the error names the local cause.
//!
//! The output is not `fsync`ed before the rename (like `curl`, `wget` and
//! `rsync` by default): a crash of the process or a dropped connection never
//! leaves a short file under the final name, but a power failure right after
//! the rename may, depending on the file system.

use super::connection::is_timeout;
use super::finished;
use super::partial::{self, hash_prefix, open_part, part_path, PartInfo, Plan};
use super::{shown, unexpected, Connection, Destination, Event, Start, TransferError};
use crate::core::cli::describe_io;
use crate::core::escape;
use crate::core::net;
use crate::file_service::file_meta;
use crate::file_service::protocol::{ErrorCode, Request, Response};
use crate::file_service::sha256::{self, Sha256};
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::Shutdown;
use std::path::Path;

/// How much is read from the socket, and written to the `.part`, at a time.
/// Measured on a 2-core Linux machine, 1 GiB over loopback to ext4, `sync`
/// before each run, median of 9 alternating runs: 64 KiB 0.93 s, 128 KiB
/// 0.85 s, 256 KiB 0.69-0.99 s, 512 KiB 0.70-0.98 s, 1 MiB 0.51-0.80 s, 2 MiB
/// 0.52 s (`nc` 1.26-1.33 s in the same runs); 1 MiB also took the least CPU
/// (0.49 s against 0.67 s with 256 KiB). On the heap, once per download.
pub const DOWNLOAD_BUFFER: usize = 1024 * 1024;

/// After a local failure, at most this much of the file still on its way is
/// read and dropped to keep the connection; more, and it is closed instead.
/// 1 MiB is a blink on any network this protocol is used on, and about what
/// a reconnection costs on a slow one.
pub const DRAIN_LIMIT: u64 = 1024 * 1024;

/// The permission bits a new file is created with when nothing else is asked
/// for, before the umask: what `File::create` asks for.
const NEW_FILE_MODE: u16 = 0o666;

/// How to download.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Continue a partial download of ours (same server, name and version),
    /// as download_client and `reget` do. Without it a partial of ours is
    /// replaced and the file fetched whole (`get`, as in sftp).
    pub resume: bool,
    /// Compare a SHA-256 of the whole file with the server's.
    pub verify: bool,
    /// Give the file these permission bits, masked by the umask, as sftp's
    /// `get` does (file_shell knows them from the listing). `None`: what any
    /// new file gets here.
    pub mode: Option<u16>,
    /// download_client's habit, after wget `-c`: a file at `out` left by a
    /// download of this version is already complete ([`Start::AlreadyComplete`]),
    /// and nothing is fetched. Finished downloads are remembered for it
    /// outside the file's folder (see `finished`).
    pub skip_same_version: bool,
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Size of the whole file.
    pub size: u64,
    /// Bytes that crossed the network this time.
    pub received: u64,
    pub start: Start,
    /// The SHA-256 both sides agreed on, when verification was asked for.
    pub digest: Option<[u8; 32]>,
}

/// A line like `sha256sum` prints: `<hex>  <file>`.
pub fn sha256sum_line(digest: &[u8; 32], file: &Path) -> String {
    format!("{}  {}", sha256::hex(digest), shown(file))
}

/// What [`Connection::ask`] found.
// One per download, and moved once: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Asked<'a> {
    /// Nothing to fetch: the file already there is this version
    /// ([`DownloadOptions::skip_same_version`]).
    Complete(Downloaded),
    /// The server is sending the file: [`Connection::receive`] it.
    Coming(Incoming<'a>),
}

/// A file the server has begun to send, and where it goes.
pub struct Incoming<'a> {
    remote: &'a [u8],
    to: Sink<'a>,
    options: DownloadOptions,
    start: Start,
    /// Bytes `offset..size` are on their way.
    offset: u64,
    size: u64,
    /// Has seen bytes `..offset` already, when verification was asked for.
    hasher: Option<Sha256>,
}

/// Every byte of a file has arrived: [`Connection::finish`] it.
pub struct Received<'a> {
    incoming: Incoming<'a>,
    /// Bytes that crossed the network.
    received: u64,
}

enum Sink<'a> {
    Part {
        out: &'a Path,
        file: File,
        /// What `<out>.part.info` says, remembered once the file is in place.
        record: PartInfo,
    },
    Stream(&'a mut dyn Write),
}

impl Connection {
    /// Download `remote` to `out` through `<out>.part`, continuing or
    /// replacing only a partial file of ours (see `partial`), as `options` say:
    /// [`Connection::ask`], [`Connection::receive`], [`Connection::finish`].
    pub fn download(
        &mut self,
        remote: &[u8],
        out: &Path,
        options: DownloadOptions,
        events: &mut dyn FnMut(Event),
    ) -> Result<Downloaded, TransferError> {
        let kept = format!(
            "what arrived is kept in {} for a resume",
            shown(&part_path(out))
        );
        self.interruptible(&kept, |conn| {
            conn.all_steps(remote, Destination::File(out), options, events)
        })
    }

    /// Download `remote` into `sink` as it arrives (download_client's `-o -`):
    /// no partial file, no resume. A closed pipe ends it with
    /// [`TransferError::OutputClosed`].
    pub fn download_to(
        &mut self,
        remote: &[u8],
        sink: &mut dyn Write,
        verify: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<Downloaded, TransferError> {
        let options = DownloadOptions {
            verify,
            ..DownloadOptions::default()
        };
        self.interruptible("what arrived was written out", |conn| {
            conn.all_steps(remote, Destination::Stream(sink), options, events)
        })
    }

    fn all_steps<'a>(
        &mut self,
        remote: &'a [u8],
        into: Destination<'a>,
        options: DownloadOptions,
        events: &mut dyn FnMut(Event),
    ) -> Result<Downloaded, TransferError> {
        match self.ask(remote, into, options, events)? {
            Asked::Complete(done) => Ok(done),
            Asked::Coming(incoming) => {
                let received = self.receive(incoming, events)?;
                self.finish(received)
            }
        }
    }

    /// The first step of a download: what an earlier run left decides where
    /// to start (see `partial`; a partial that is not ours is refused before a
    /// byte is asked for), DOWNLOAD is sent and the FILE answer read, and the
    /// `.part` and its record are made ready; [`Event::Begin`] then says what
    /// is coming. An ERROR is `Refused`. Into a stream, `options` other than
    /// `verify` do not apply.
    ///
    /// Unlike [`Connection::download`], the steps on their own do not watch
    /// the connection's [`super::Interrupt`] while a read waits (the transfer
    /// loop still looks at it between buffers).
    pub fn ask<'a>(
        &mut self,
        remote: &'a [u8],
        into: Destination<'a>,
        options: DownloadOptions,
        events: &mut dyn FnMut(Event),
    ) -> Result<Asked<'a>, TransferError> {
        let out = match into {
            Destination::File(out) => out,
            Destination::Stream(sink) => {
                let (size, _) = self.ask_for_file(remote, 0, Vec::new(), options.verify)?;
                events(Event::Begin { size, offset: 0 });
                return Ok(Asked::Coming(Incoming {
                    remote,
                    to: Sink::Stream(sink),
                    options,
                    start: Start::Fresh,
                    offset: 0,
                    size,
                    hasher: options.verify.then(Sha256::new),
                }));
            }
        };
        let part = part_path(out);
        let server = partial::server_id(self.peer());
        let plan = partial::plan(out, remote, &server, options.resume)?;
        if options.skip_same_version && plan == Plan::Fresh {
            if let Some(done) =
                self.already_complete(out, remote, &server, options.verify, events)?
            {
                return Ok(Asked::Complete(done));
            }
        }
        let (mut start, offset, identity) = starting_point(plan, events);
        let kept = identity.clone();
        let (mut size, mut identity) =
            match self.ask_for_file(remote, offset, identity, options.verify) {
                Err(TransferError::Refused(reply))
                    if offset > 0 && reply.code == ErrorCode::Conflict && !reply.closing =>
                {
                    let reason = format!(
                        "{} changed on the server since the partial download",
                        escape::name(remote)
                    );
                    events(Event::StartingOver(&reason));
                    start = Start::Restarted { reason };
                    self.ask_for_file(remote, 0, Vec::new(), options.verify)?
                }
                other => other?,
            };
        if matches!(start, Start::Resumed { .. }) && identity != kept {
            // The rest of another version: the server should have said `conflict`. Its bytes
            // cannot follow the ones kept, so they are dropped, and the file is asked whole.
            let reason = format!(
                "{} on the server is not the version the partial download holds",
                escape::name(remote)
            );
            let left = size - offset;
            if left > DRAIN_LIMIT || self.discard(left, options.verify).is_err() {
                let _ = self.stream.shutdown(Shutdown::Both);
                partial::remove(out);
                return Err(TransferError::Broken(format!(
                    "{reason}: the partial was removed, and the connection closed with \
                     {left} bytes of the other version still on their way; run it again \
                     to start over"
                )));
            }
            events(Event::StartingOver(&reason));
            start = Start::Restarted { reason };
            (size, identity) = self.ask_for_file(remote, 0, Vec::new(), options.verify)?;
        }
        let offset = match start {
            Start::Resumed { from } => from,
            _ => 0,
        };
        // From here the server is sending: a local failure must not leave the
        // rest of the file in the connection.
        let record = PartInfo {
            server,
            name: remote.to_vec(),
            size,
            identity,
        };
        let prepared = record.write(&partial::info_path(out)).and_then(|()| {
            let file = open_part(&part, offset)?;
            let hasher = match options.verify {
                true => Some(hash_prefix(&part, offset)?),
                false => None,
            };
            Ok((file, hasher))
        });
        let (file, hasher) = match prepared {
            Ok(ready) => ready,
            Err(e) => return Err(self.abandon(e.to_string(), size - offset, options.verify)),
        };
        events(Event::Begin { size, offset });
        Ok(Asked::Coming(Incoming {
            remote,
            to: Sink::Part { out, file, record },
            options,
            start,
            offset,
            size,
            hasher,
        }))
    }

    /// The second step: every byte of the file from the socket into the
    /// `.part` (or the stream), [`Event::Progress`] after each buffer. A cut
    /// transfer keeps the `.part` for a resume, and the connection cannot
    /// carry another request.
    pub fn receive<'a>(
        &mut self,
        mut incoming: Incoming<'a>,
        events: &mut dyn FnMut(Event),
    ) -> Result<Received<'a>, TransferError> {
        let Incoming {
            to,
            offset,
            size,
            hasher,
            ..
        } = &mut incoming;
        let (sink, label, kept): (&mut dyn Write, String, String) = match to {
            Sink::Part { out, file, .. } => {
                let part = part_path(out);
                let kept = format!("; {} is kept: run again to resume", shown(&part));
                (file, shown(&part), kept)
            }
            Sink::Stream(sink) => (&mut **sink, "the output".into(), String::new()),
        };
        let received =
            self.receive_bytes(sink, &label, &kept, *offset, *size, hasher.as_mut(), events)?;
        Ok(Received { incoming, received })
    }

    /// The last step: with verification the digests compared (on a mismatch
    /// nothing is kept), then the `.part` renamed into place and its record
    /// removed (or the stream flushed). From here on a local failure leaves
    /// the connection in step.
    pub fn finish(&mut self, received: Received) -> Result<Downloaded, TransferError> {
        let Received { incoming, received } = received;
        let Incoming {
            remote,
            to,
            options,
            start,
            size,
            hasher,
            ..
        } = incoming;
        match to {
            Sink::Part { out, file, record } => {
                let digest = match hasher {
                    None => None,
                    Some(h) => match self.check_digest(h.finalize(), remote, "it was not kept") {
                        Ok(d) => Some(d),
                        Err(e) => {
                            drop(file);
                            if let TransferError::Mismatch(_) = e {
                                partial::remove(out);
                            }
                            return Err(e);
                        }
                    },
                };
                put_in_place(file, out, size, options.mode.unwrap_or(NEW_FILE_MODE))?;
                if options.skip_same_version {
                    finished::remember_download(out, record);
                }
                Ok(Downloaded {
                    size,
                    received,
                    start,
                    digest,
                })
            }
            Sink::Stream(sink) => {
                if let Err(e) = sink.flush() {
                    let why = format!("writing the output failed ({})", describe_io(&e));
                    return Err(self.output_failed(&e, why, 0, options.verify));
                }
                let digest = match hasher {
                    None => None,
                    Some(h) => {
                        Some(self.check_digest(h.finalize(), remote, "it was written out")?)
                    }
                };
                Ok(Downloaded {
                    size,
                    received,
                    start,
                    digest,
                })
            }
        }
    }

    /// DOWNLOAD, and the FILE answer's size and identity; an ERROR is `Refused`.
    pub(super) fn ask_for_file(
        &mut self,
        remote: &[u8],
        offset: u64,
        identity: Vec<u8>,
        verify: bool,
    ) -> Result<(u64, Vec<u8>), TransferError> {
        self.send(&Request::Download {
            path: remote.to_vec(),
            offset,
            identity,
            want_sha256: verify,
        })?;
        match self.read_response("the answer to DOWNLOAD")? {
            Response::File {
                size,
                offset: at,
                identity,
            } if at == offset && at <= size => Ok((size, identity)),
            Response::File {
                size, offset: at, ..
            } => Err(TransferError::Broken(format!(
                "the server sent bytes from offset {at} of {size}, not {offset} as asked"
            ))),
            Response::Error(reply) => Err(TransferError::Refused(reply)),
            other => Err(unexpected(&other)),
        }
    }

    /// Bytes `offset..size` from the socket to `sink` (and the hasher);
    /// `label` names the sink and `kept` ends the message of a cut transfer
    /// (`; x.part is kept: ...`).
    ///
    /// One thread receives and writes, as `nc` does: each read is written
    /// before the next one, so the `.part` always holds exactly the bytes
    /// received, even when the connection fails. A second thread to overlap
    /// the two only added a hand-off per buffer (about 30,000 context switches
    /// per GiB) and was slower (docs/PROTOCOL.md 7.1).
    #[allow(clippy::too_many_arguments)]
    fn receive_bytes(
        &mut self,
        sink: &mut dyn Write,
        label: &str,
        kept: &str,
        offset: u64,
        size: u64,
        mut hasher: Option<&mut Sha256>,
        events: &mut dyn FnMut(Event),
    ) -> Result<u64, TransferError> {
        let mut buf = vec![0u8; DOWNLOAD_BUFFER];
        let mut done = offset;
        // Whatever stops the loop, the rest of the file is still on its way:
        // the connection cannot carry another request.
        let cut = |done: u64, why: String| {
            TransferError::Broken(format!("{why} after {done} of {size} bytes{kept}"))
        };
        while done < size {
            let want = usize::try_from(size - done).map_or(buf.len(), |n| n.min(buf.len()));
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let n = match net::recv(&mut self.stream, chunk) {
                Ok(0) => return Err(cut(done, "the connection ended".into())),
                Ok(n) => n,
                Err(e) if is_timeout(&e) => {
                    let why = self.timed_out("the rest of the file").to_string();
                    return Err(TransferError::TimedOut(cut(done, why).to_string()));
                }
                Err(e) => {
                    let why = format!("the connection failed ({})", describe_io(&e));
                    return Err(cut(done, why));
                }
            };
            let data = chunk.get(..n).unwrap_or_default();
            if let Err(e) = sink.write_all(data) {
                let why = format!("writing {label} failed ({})", describe_io(&e));
                let left = size - done - n as u64;
                return Err(self.output_failed(
                    &e,
                    cut(done, why).to_string(),
                    left,
                    hasher.is_some(),
                ));
            }
            if let Some(h) = hasher.as_mut() {
                h.update(data);
            }
            done += n as u64;
            events(Event::Progress(done));
            if self.interrupt.is_requested() {
                return Err(cut(done, "interrupted".into()));
            }
        }
        Ok(done - offset)
    }

    /// A write to the output failed (`e`, said as `why`) with `left` bytes of
    /// the file (and the digest, if asked for) still to come: a closed pipe
    /// ends it all, any other failure is [`Connection::abandon`]ed.
    fn output_failed(
        &mut self,
        e: &io::Error,
        why: String,
        left: u64,
        verify: bool,
    ) -> TransferError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            let _ = self.stream.shutdown(Shutdown::Both);
            return TransferError::OutputClosed;
        }
        self.abandon(why, left, verify)
    }

    /// A local failure (`cause`) while the server still sends `left` bytes of
    /// the file, and its digest if `verify`: up to [`DRAIN_LIMIT`] they are
    /// read and dropped, so the connection can carry the next request
    /// (`Local`); past it, or if that fails, the connection is closed (`Broken`).
    fn abandon(&mut self, cause: String, left: u64, verify: bool) -> TransferError {
        if left <= DRAIN_LIMIT && self.discard(left, verify).is_ok() {
            return TransferError::Local(cause);
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        TransferError::Broken(format!(
            "{cause} (the connection was closed: {left} bytes of the file were still on their way)"
        ))
    }

    /// Reads and drops `left` raw bytes, then the DIGEST frame if `verify`.
    fn discard(&mut self, left: u64, verify: bool) -> Result<(), TransferError> {
        let mut buf = [0u8; 64 * 1024];
        let mut left = left;
        while left > 0 {
            let want = usize::try_from(left).map_or(buf.len(), |n| n.min(buf.len()));
            match net::recv(&mut self.stream, buf.get_mut(..want).unwrap_or_default()) {
                Ok(0) | Err(_) => return Err(TransferError::Broken("cut".into())),
                Ok(n) => left -= n as u64,
            }
        }
        if verify {
            match self.read_response("the digest")? {
                Response::Digest(_) => {}
                other => return Err(unexpected(&other)),
            }
        }
        Ok(())
    }

    /// Compare our digest with the server's DIGEST frame. On a mismatch the
    /// caller keeps nothing (some byte is wrong and we cannot tell which);
    /// `fate` says so.
    pub(super) fn check_digest(
        &mut self,
        ours: [u8; 32],
        remote: &[u8],
        fate: &str,
    ) -> Result<[u8; 32], TransferError> {
        let theirs = match self.read_response("the digest")? {
            Response::Digest(d) => d,
            other => return Err(unexpected(&other)),
        };
        if theirs == ours {
            return Ok(ours);
        }
        Err(TransferError::Mismatch(format!(
            "sha256 mismatch for {}: the server has {}, the copy here {}; {fate}",
            escape::name(remote),
            sha256::hex(&theirs),
            sha256::hex(&ours)
        )))
    }
}

/// Where a download starts, from what an earlier run left.
fn starting_point(plan: Plan, events: &mut dyn FnMut(Event)) -> (Start, u64, Vec<u8>) {
    match plan {
        Plan::Fresh => (Start::Fresh, 0, Vec::new()),
        Plan::Resume { offset, identity } => (Start::Resumed { from: offset }, offset, identity),
        Plan::Restart(reason) => {
            events(Event::StartingOver(&reason));
            (Start::Restarted { reason }, 0, Vec::new())
        }
    }
}

/// The whole `.part` (its `size` checked, given its permission bits) renamed
/// to `out`, and its record removed.
fn put_in_place(file: File, out: &Path, size: u64, mode: u16) -> Result<(), TransferError> {
    let part = part_path(out);
    let local = |what: String| move |e: io::Error| TransferError::local(what, &e);
    let on_disk = file.metadata().map_err(local(shown(&part)))?.len();
    if on_disk != size {
        return Err(TransferError::Local(format!(
            "{} has {on_disk} bytes, expected {size}: was it changed meanwhile?",
            shown(&part)
        )));
    }
    file_meta::give_mode(&file, mode).map_err(local(format!(
        "setting the permissions of {}",
        shown(&part)
    )))?;
    drop(file);
    fs::rename(&part, out).map_err(local(format!(
        "cannot rename {} to {}",
        shown(&part),
        shown(out)
    )))?;
    let _ = fs::remove_file(partial::info_path(out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::protocol::{ErrorReply, ServerHello, SERVER_HELLO_LEN, VERSION};
    use std::io::Read;

    const RESUME: DownloadOptions = DownloadOptions {
        resume: true,
        verify: false,
        mode: None,
        skip_same_version: false,
    };
    const RESUME_VERIFY: DownloadOptions = DownloadOptions {
        verify: true,
        ..RESUME
    };
    use crate::file_service::transfer::Interrupt;
    use crate::test_support::TempDir;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::thread;

    /// A scripted server: answers the hello, then hands the connection to `script`.
    fn fake_server(
        script: impl FnOnce(&mut TcpStream) + Send + 'static,
    ) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut hello = [0u8; 6];
            s.read_exact(&mut hello).unwrap();
            let reply = ServerHello {
                version: VERSION,
                token_required: false,
                read_only: true,
            }
            .encode();
            assert_eq!(reply.len(), SERVER_HELLO_LEN);
            s.write_all(&reply).unwrap();
            script(&mut s);
        });
        (addr, handle)
    }

    fn read_request(s: &mut TcpStream) -> Request {
        Request::read_from(s).unwrap().unwrap()
    }

    fn send(s: &mut TcpStream, r: Response) {
        r.write_to(s).unwrap();
    }

    /// The FILE frame of a fresh download of `size` bytes.
    fn send_file(s: &mut TcpStream, size: u64) {
        send(
            s,
            Response::File {
                size,
                offset: 0,
                identity: vec![3; 32],
            },
        );
    }

    #[test]
    fn resumes_the_same_version_and_verifies_the_whole_file() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(part_path(&out), &data[..40_000]).unwrap();
        let rec = PartInfo {
            server: "127.0.0.1".into(),
            name: b"big".to_vec(),
            size: data.len() as u64,
            identity: vec![1; 32],
        };
        fs::write(partial::info_path(&out), rec.encode()).unwrap();
        let served = data.clone();
        let (addr, server) = fake_server(move |s| {
            let req = read_request(s);
            assert_eq!(
                req,
                Request::Download {
                    path: b"big".to_vec(),
                    offset: 40_000,
                    identity: vec![1; 32],
                    want_sha256: true
                }
            );
            send(
                s,
                Response::File {
                    size: served.len() as u64,
                    offset: 40_000,
                    identity: vec![1; 32],
                },
            );
            s.write_all(&served[40_000..]).unwrap();
            send(s, Response::Digest(Sha256::digest(&served)));
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let mut progress = Vec::new();
        let got = conn
            .download(b"big", &out, RESUME_VERIFY, &mut |e| {
                if let Event::Progress(n) = e {
                    progress.push(n)
                }
            })
            .unwrap();
        server.join().unwrap();
        assert_eq!(got.start, Start::Resumed { from: 40_000 });
        assert_eq!(got.received, 60_000);
        assert_eq!(got.digest, Some(Sha256::digest(&data)));
        assert_eq!(fs::read(&out).unwrap(), data);
        assert!(!part_path(&out).exists() && !partial::info_path(&out).exists());
        assert_eq!(progress.last(), Some(&100_000));
    }

    #[test]
    fn a_changed_file_starts_over_on_the_same_connection() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        fs::write(part_path(&out), b"old old").unwrap();
        let rec = PartInfo {
            server: "127.0.0.1".into(),
            name: b"f".to_vec(),
            size: 20,
            identity: vec![1; 32],
        };
        fs::write(partial::info_path(&out), rec.encode()).unwrap();
        let (addr, server) = fake_server(|s| {
            assert!(matches!(
                read_request(s),
                Request::Download { offset: 7, .. }
            ));
            send(
                s,
                Response::Error(ErrorReply::new(ErrorCode::Conflict, "conflict: changed")),
            );
            assert!(
                matches!(read_request(s), Request::Download { offset: 0, ref identity, .. } if identity.is_empty())
            );
            send(
                s,
                Response::File {
                    size: 3,
                    offset: 0,
                    identity: vec![2; 32],
                },
            );
            s.write_all(b"new").unwrap();
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let mut said = Vec::new();
        let got = conn
            .download(b"f", &out, RESUME, &mut |e| {
                if let Event::StartingOver(why) = e {
                    said.push(why.to_string())
                }
            })
            .unwrap();
        server.join().unwrap();
        assert!(matches!(got.start, Start::Restarted { .. }));
        assert_eq!(said.len(), 1);
        assert!(said[0].contains("changed on the server"), "{said:?}");
        assert_eq!(fs::read(&out).unwrap(), b"new");
    }

    #[test]
    fn a_wrong_digest_keeps_nothing_and_a_short_stream_keeps_the_part() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        let (addr, server) = fake_server(|s| {
            read_request(s);
            send_file(s, 4);
            s.write_all(b"data").unwrap();
            send(s, Response::Digest([0; 32]));
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let err = conn
            .download(b"f", &out, RESUME_VERIFY, &mut |_| {})
            .unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, TransferError::Mismatch(_)), "{err}");
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert!(!out.exists() && !part_path(&out).exists() && !partial::info_path(&out).exists());

        let (addr, server) = fake_server(|s| {
            read_request(s);
            send_file(s, 10);
            s.write_all(b"part").unwrap();
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let err = conn.download(b"f", &out, RESUME, &mut |_| {}).unwrap_err();
        server.join().unwrap();
        assert!(!err.connection_usable());
        assert!(err.to_string().contains("after 4 of 10 bytes"), "{err}");
        assert!(!out.exists());
        assert_eq!(fs::read(part_path(&out)).unwrap(), b"part");
        assert!(partial::info_path(&out).exists());
    }

    #[test]
    fn an_interrupt_stops_a_stalled_download_and_keeps_the_part() {
        if crate::test_support::skip_under_wine(
            "Wine does not wake a recv blocked in another thread when its socket is shut down (Windows and unix do)",
        ) {
            return;
        }
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (addr, server) = fake_server(move |s| {
            read_request(s);
            send_file(s, 10);
            s.write_all(b"part").unwrap();
            // Then silence, until the client has given up.
            let _ = done_rx.recv();
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let interrupt = Interrupt::new();
        conn.set_interrupt(interrupt.clone());
        // Ctrl-C once the first bytes are on disk, from another thread, while the
        // download waits for bytes that never come.
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let stopper = thread::spawn(move || {
            got_rx.recv().unwrap();
            interrupt.request();
        });
        let err = conn
            .download(b"f", &out, RESUME, &mut |e| {
                if let Event::Progress(4) = e {
                    got_tx.send(()).unwrap();
                }
            })
            .unwrap_err();
        stopper.join().unwrap();
        done_tx.send(()).unwrap();
        server.join().unwrap();
        assert!(matches!(err, TransferError::Interrupted(_)), "{err}");
        assert!(!err.connection_usable());
        assert!(err.to_string().starts_with("interrupted; "), "{err}");
        assert!(!out.exists());
        assert_eq!(fs::read(part_path(&out)).unwrap(), b"part");
        assert!(partial::info_path(&out).exists());
    }

    /// A writer that takes `room` bytes, then fails with `kind`.
    struct Failing {
        room: usize,
        kind: io::ErrorKind,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from(self.kind));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_is_drained_and_a_closed_pipe_ends_it() {
        let (addr, server) = fake_server(|s| {
            // The first file: the writer fails after 3 bytes, the rest is drained.
            read_request(s);
            send_file(s, 10);
            s.write_all(b"0123456789").unwrap();
            send(s, Response::Digest(Sha256::digest(b"0123456789")));
            // Then the next request on the same connection.
            assert!(matches!(read_request(s), Request::Stat { .. }));
            send(
                s,
                Response::Error(ErrorReply::new(ErrorCode::NotFound, "not found: x")),
            );
            // A closed pipe: the client hangs up.
            read_request(s);
            send_file(s, 10);
            let _ = s.write_all(b"0123456789");
            let _ = s.read_to_end(&mut Vec::new());
        });
        let mut conn =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap();
        let mut full = Failing {
            room: 3,
            kind: io::ErrorKind::StorageFull,
        };
        let err = conn
            .download_to(b"f", &mut full, true, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TransferError::Local(_)), "{err}");
        assert!(
            err.to_string().starts_with("writing the output failed ("),
            "{err}"
        );
        assert!(err.to_string().contains("after 0 of 10 bytes"), "{err}");
        let next = conn.stat(b"x").unwrap_err();
        assert!(matches!(next, TransferError::Refused(_)), "{next}");
        let mut closed = Failing {
            room: 0,
            kind: io::ErrorKind::BrokenPipe,
        };
        let err = conn
            .download_to(b"f", &mut closed, false, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TransferError::OutputClosed), "{err}");
        assert!(!err.connection_usable());
        drop(conn);
        server.join().unwrap();
    }
}
