//! A framed client's session (docs/PROTOCOL.md 4.1-4.3, 5, 8): the rest of its hello, ours, the token (`auth`), then one request after another until it closes.
//!
//! Each request is answered by the module of its job (`download`, `entries`,
//! `uploads`); this one reads the frames, refuses what is never allowed (a
//! write to a read-only server, a partial upload's name) before it is looked
//! at, and logs every request.

use super::reply::{encode, write_response};
use super::{is_reserved, FileServer, Outcome, Then};
use crate::core::admission::Busy;
use crate::core::escape;
use crate::core::net;
use crate::core::server::deadline::Paced;
use crate::core::trace::{Stream, Way};
use crate::file_service::protocol::shown::{
    ShownClientHello, ShownRequest, ShownResponse, ShownServerHello,
};
use crate::file_service::protocol::{
    detect, version_supported, Detected, ErrorCode, ErrorReply, ProtocolError, Request, Response,
    ServerHello, CLIENT_HELLO_LEN, TUTORIAL_READ_LEN, VERSION,
};
use std::io::{self, BufReader, Cursor, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

impl FileServer {
    /// A connection whose first read (`first`) was not a tutorial client's
    /// file name: our client's hello (perhaps only its start), something
    /// else, or nothing. Serves it to the end.
    ///
    /// Errors returned are the connection's (a timeout, a reset): the accept
    /// loop logs them. Everything about a request is logged here.
    pub fn serve_framed(&self, stream: Stream, addr: SocketAddr, first: &[u8]) -> io::Result<()> {
        // Every read and write from here on is under a deadline (src/core/server/deadline.rs):
        // the rest of the hello within --hello-timeout of its first byte.
        let paced = Paced::new(&stream, self.config.idle_timeout, self.config.deadlines);
        paced.hello();
        let Some((version, leftover)) = self.finish_hello(&paced, addr, first)? else {
            return Ok(());
        };
        // Small replies (an ERROR, a DIGEST after the bytes) must not wait for
        // the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        let hello = self.hello();
        if !version_supported(version) {
            let err = ProtocolError::UnsupportedVersion(version);
            println!("{addr} hello: {err}, closed");
            return say_and_close(&paced, hello, err.reply());
        }
        stream.frame(Way::Sent, ShownServerHello(&hello));
        hello.write_to(&mut &paced)?;
        // Frames are read through one buffer that starts with the bytes that
        // came with the hello; replies go straight to the socket, so raw file
        // bytes are never stuck behind a buffer.
        let begun = !leftover.is_empty();
        let mut reader = BufReader::new(Cursor::new(leftover).chain(&paced));
        paced.await_request(begun);
        let mut first_frame = true;
        if let Some(token) = &self.config.token {
            if self.authenticate(token, &mut reader, &paced, addr)? == Then::Close {
                return Ok(());
            }
            first_frame = false;
        }
        loop {
            if !first_frame {
                // A request's deadline runs from its first byte: now, if some of it came with the last one.
                paced.await_request(!reader.buffer().is_empty());
            }
            let request = match read_request(&mut reader, &paced) {
                Ok(None) => return Ok(()),
                Ok(Some(request)) => request,
                Err(ProtocolError::Io(e)) => return Err(e),
                Err(ProtocolError::Truncated) => {
                    println!("{addr} closed the connection inside a frame");
                    return Ok(());
                }
                Err(e) => {
                    println!("{addr} sent a bad frame: {e}; closed");
                    paced.body();
                    return write_response(&paced, &Response::Error(e.reply()));
                }
            };
            paced.body();
            if self.answer(request, &mut reader, &paced, addr, first_frame)? == Then::Close {
                return Ok(());
            }
            first_frame = false;
        }
    }

    /// A connection past `--max-clients` or `--max-per-address` (the accept
    /// loop's turn-away handler): read just enough to know its protocol, all
    /// of it within `--hello-timeout` of the connect, then say `busy` in it (a
    /// framed client gets an ERROR, a tutorial client a close without a byte),
    /// docs/PROTOCOL.md 4.4.
    pub fn turn_away(&self, stream: Stream, addr: SocketAddr, why: Busy) -> io::Result<()> {
        let started = Instant::now();
        let paced = Paced::new(&stream, self.config.idle_timeout, self.config.deadlines);
        paced.hello();
        let mut first = [0u8; TUTORIAL_READ_LEN];
        let n = net::recv(&mut &paced, &mut first)?;
        let first = first.get(..n).unwrap_or_default();
        if detect(first) == Detected::Tutorial {
            let result = "busy: closed without an answer";
            self.log_request(addr, "tutorial", first, result, 0, started);
            return Ok(());
        }
        if self.finish_hello(&paced, addr, first)?.is_none() {
            return Ok(());
        }
        let limit = match why {
            Busy::Full { max_clients } => format!("{max_clients} clients at once at most"),
            Busy::Host { max_per_address } => {
                format!("{max_per_address} connections per address at most")
            }
        };
        println!("{addr} hello: busy ({limit}), closed");
        let busy = ErrorReply::new(ErrorCode::Busy, &why.message()).closing();
        say_and_close(&paced, self.hello(), busy)
    }

    /// The client's version and the bytes that came after its hello, reading
    /// the rest of the hello when `first` holds only its start; `None` (logged)
    /// when the client left or is not ours (docs/PROTOCOL.md 4.3).
    fn finish_hello(
        &self,
        mut stream: &Paced<'_>,
        addr: SocketAddr,
        first: &[u8],
    ) -> io::Result<Option<(u16, Vec<u8>)>> {
        if first.is_empty() {
            // One closed to make room was logged when it was closed (a storm of them, counted).
            if !crate::core::admission::closed_to_make_room() {
                println!("{addr} connected and left without a request");
            }
            return Ok(None);
        }
        let mut got = first.to_vec();
        loop {
            match detect(&got) {
                Detected::Framed { version } => {
                    stream
                        .stream()
                        .frame(Way::Received, ShownClientHello(version));
                    let leftover = got.split_off(CLIENT_HELLO_LEN);
                    return Ok(Some((version, leftover)));
                }
                // A tutorial client's name never starts with NUL, and `got`
                // began with it: anything else is nobody we know.
                Detected::NotOurs | Detected::Tutorial => {
                    println!(
                        "{addr} sent {}: neither a file name nor our hello, closed",
                        escape::name(&got)
                    );
                    return Ok(None);
                }
                Detected::Incomplete => {
                    let mut more = [0u8; CLIENT_HELLO_LEN];
                    let n = net::recv(&mut stream, &mut more)?;
                    if n == 0 {
                        println!("{addr} left in the middle of its hello");
                        return Ok(None);
                    }
                    got.extend_from_slice(more.get(..n).unwrap_or_default());
                }
            }
        }
    }

    /// Our hello: the version we speak and what this server asks of a client.
    fn hello(&self) -> ServerHello {
        ServerHello {
            version: VERSION,
            token_required: self.config.token.is_some(),
            read_only: !self.config.writable,
        }
    }

    /// Answer one framed request; `Err` is a failure of the connection itself.
    ///
    /// `reader` is where the request came from: an UPLOAD's raw bytes follow
    /// its frame there (some may already sit in its buffer).
    fn answer(
        &self,
        request: Request,
        reader: &mut dyn Read,
        stream: &Paced<'_>,
        addr: SocketAddr,
        first_frame: bool,
    ) -> io::Result<Then> {
        let started = Instant::now();
        // Log lines name requests in lower case, as the shell's commands are.
        let op = request.name().to_ascii_lowercase();
        if let Some(reply) = self.refusal(&request) {
            write_response(stream, &Response::Error(reply.clone()))?;
            let name = request_paths(&request)
                .first()
                .map(|p| p.to_vec())
                .unwrap_or_default();
            self.log_outcome(addr, &op, &name, &Outcome::error(&reply), started);
            return Ok(Then::Continue);
        }
        let (name, outcome, then) = match request {
            Request::Download {
                path,
                offset,
                identity,
                want_sha256,
            } => {
                let (outcome, then) =
                    self.download(stream, &path, offset, &identity, want_sha256)?;
                (path, outcome, then)
            }
            Request::Upload {
                path,
                size,
                identity,
                resume,
                overwrite,
                attrs,
            } => {
                let asked = super::uploads::Asked {
                    size,
                    identity,
                    resume,
                    overwrite,
                    attrs,
                };
                let (outcome, then) = self.upload(reader, stream, &path, asked)?;
                (path, outcome, then)
            }
            Request::Auth { .. } => {
                // No token is configured, so any proof is accepted, as the
                // protocol asks; but only as the first frame.
                let reply = if first_frame {
                    Response::Ok
                } else {
                    Response::Error(ErrorReply::new(
                        ErrorCode::BadRequest,
                        "bad request: AUTH is only allowed as the first frame",
                    ))
                };
                (Vec::new(), send_reply(stream, &reply)?, Then::Continue)
            }
            Request::List { path, owners } => {
                let (outcome, then) = self.list(stream, &path, owners)?;
                (path, outcome, then)
            }
            Request::Stat { path } => {
                let reply = self.stat(&path);
                (path, send_reply(stream, &reply)?, Then::Continue)
            }
            Request::Mkdir { path } => {
                let reply = self.mkdir(&path);
                (path, send_reply(stream, &reply)?, Then::Continue)
            }
            Request::RemoveFile { path } => {
                let reply = self.remove_file(&path);
                (path, send_reply(stream, &reply)?, Then::Continue)
            }
            Request::RemoveDir { path } => {
                let reply = self.remove_dir(&path);
                (path, send_reply(stream, &reply)?, Then::Continue)
            }
            Request::Chmod { path, mode } => {
                let reply = self.chmod(&path, mode);
                let mut outcome = send_reply(stream, &reply)?;
                if reply == Response::Ok {
                    outcome.result = format!("ok, mode {mode:04o}");
                }
                (path, outcome, Then::Continue)
            }
            Request::Rename {
                from,
                to,
                overwrite,
            } => {
                let reply = self.rename(&from, &to, overwrite);
                let mut outcome = send_reply(stream, &reply)?;
                if reply == Response::Ok {
                    outcome.result = format!("ok, now {}", escape::name(&to));
                }
                (from, outcome, Then::Continue)
            }
        };
        self.log_outcome(addr, &op, &name, &outcome, started);
        Ok(then)
    }

    /// A request refused before it is looked at: a write to a read-only
    /// server, or a name of the form `.<name>.part`, which belongs to an
    /// upload in progress (only STAT, LIST and REMOVE may name one).
    fn refusal(&self, request: &Request) -> Option<ErrorReply> {
        let writes = matches!(
            request,
            Request::Mkdir { .. }
                | Request::Upload { .. }
                | Request::RemoveFile { .. }
                | Request::RemoveDir { .. }
                | Request::Rename { .. }
                | Request::Chmod { .. }
        );
        if writes && !self.config.writable {
            return Some(ErrorReply::new(
                ErrorCode::ReadOnly,
                "read-only server: it only sends files (start it with --writable to allow \
                 upload, mkdir, rename, remove and chmod)",
            ));
        }
        if matches!(
            request,
            Request::Stat { .. } | Request::List { .. } | Request::RemoveFile { .. }
        ) {
            return None;
        }
        let reserved = request_paths(request)
            .into_iter()
            .find(|p| is_reserved(p))?;
        Some(ErrorReply::new(
            ErrorCode::PermissionDenied,
            &format!(
                "permission denied: {}: names of the form .NAME.part belong to uploads in progress",
                escape::name(reserved)
            ),
        ))
    }
}

/// Our hello and an ERROR that closes, in one write, then the close.
fn say_and_close(stream: &Paced<'_>, hello: ServerHello, reply: ErrorReply) -> io::Result<()> {
    let mut bytes = hello.encode().to_vec();
    let reply = Response::Error(reply);
    stream.stream().frame(Way::Sent, ShownServerHello(&hello));
    stream.stream().frame(Way::Sent, ShownResponse(&reply));
    bytes.extend(encode(&reply));
    stream.body();
    (&*stream).write_all(&bytes)
}

/// The paths a request names.
fn request_paths(request: &Request) -> Vec<&[u8]> {
    match request {
        Request::Auth { .. } => Vec::new(),
        Request::Download { path, .. }
        | Request::List { path, .. }
        | Request::Stat { path }
        | Request::Mkdir { path }
        | Request::Upload { path, .. }
        | Request::RemoveFile { path }
        | Request::RemoveDir { path }
        | Request::Chmod { path, .. } => vec![path],
        Request::Rename { from, to, .. } => vec![from, to],
    }
}

/// A one-frame answer, sent; how it ended, for the log.
fn send_reply(stream: &Paced<'_>, reply: &Response) -> io::Result<Outcome> {
    write_response(stream, reply)?;
    Ok(match reply {
        Response::Error(e) => Outcome::error(e),
        _ => Outcome::new("ok", 0),
    })
}

/// The client's next request frame (shown decoded with `--trace`, after the reads that carried it).
pub(super) fn read_request(
    reader: &mut dyn Read,
    stream: &Paced<'_>,
) -> Result<Option<Request>, ProtocolError> {
    let request = Request::read_from(reader);
    if let Ok(Some(request)) = &request {
        stream.stream().frame(Way::Received, ShownRequest(request));
    }
    request
}
