//! A framed connection to a file server (docs/PROTOCOL.md 4.1-4.2, 4.6): the hellos, the token if the server asks for one, then one frame out and one answer back, each wait bounded by the caller's timeout.

use super::{Interrupt, TransferError};
use crate::core::trace::{Stream, Way};
use crate::file_service::protocol::shown::{
    ShownClientHello, ShownRequest, ShownResponse, ShownServerHello,
};
use crate::file_service::protocol::{
    ClientHello, ErrorCode, ErrorReply, ProtocolError, Request, Response, ServerHello, SSH_SERVER,
    VERSION,
};
use crate::file_service::token::{Token, TOKEN_ENV};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A framed connection to a file server, after the hellos.
#[derive(Debug)]
pub struct Connection {
    pub(super) stream: Stream,
    peer: SocketAddr,
    hello: ServerHello,
    /// Never requested unless the caller hands one in with [`Connection::set_interrupt`].
    pub(super) interrupt: Interrupt,
    /// How long the server may stay silent before a wait ends (`None`: forever).
    timeout: Option<Duration>,
}

impl Connection {
    /// Exchange hellos on a connected stream (docs/PROTOCOL.md 4.1-4.2, 4.6).
    ///
    /// From here on every wait for the server (its hello, an answer, the bytes
    /// of a file) and every send to it ends after `timeout` of silence (`None`:
    /// never), with an error saying what was waited for.
    pub fn handshake(
        stream: Stream,
        timeout: Option<Duration>,
    ) -> Result<Connection, TransferError> {
        let peer = stream
            .peer_addr()
            .map_err(|e| TransferError::broken("reading the server's address", &e))?;
        stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .map_err(|e| TransferError::broken("setting the timeout", &e))?;
        // Requests and replies are small and strictly alternate; never let
        // one wait for a delayed ACK.
        let _ = stream.set_nodelay(true);
        let silent = |waiting: &str| timeout_error(peer, timeout, waiting);
        let ours = ClientHello::default();
        stream.frame(Way::Sent, ShownClientHello(ours.version));
        ours.write_to(&mut &stream)
            .map_err(|e| match is_timeout(&e) {
                true => silent("the server to take its hello"),
                false => TransferError::broken(format!("sending the hello to {peer}"), &e),
            })?;
        let hello = match ServerHello::read_from(&mut &stream) {
            Ok(Some(hello)) => {
                stream.frame(Way::Received, ShownServerHello(&hello));
                hello
            }
            Ok(None) => {
                return Err(TransferError::Broken(format!(
                    "the server {peer} closed the connection without answering the hello: \
                     it is busy (a download_server with every place taken closes so; try \
                     again later), or it does not speak this protocol (for the tutorial's \
                     download_server.py use --raw)"
                )))
            }
            Err(ProtocolError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(TransferError::Broken(format!(
                    "the server {peer} reset the connection without answering the hello: \
                     it is busy (a download_server with every place taken closes so; try \
                     again later), or it does not speak this protocol (for the tutorial's \
                     download_server.py use --raw)"
                )))
            }
            Err(ProtocolError::Io(e)) if is_timeout(&e) => return Err(silent("its hello")),
            Err(ProtocolError::Malformed(why)) if why == SSH_SERVER => {
                return Err(TransferError::Protocol(format!(
                    "the server {peer} is an SSH server (it answered `SSH-`): file_shell and \
                     download_client speak to download_server; for an SSH server use sftp"
                )))
            }
            Err(e) => return Err(TransferError::protocol(e)),
        };
        // A busy server sends its ERROR right after the hello; it is read as
        // the answer to the first request, so nothing here waits for it.
        let mut conn = Connection {
            stream,
            peer,
            hello,
            interrupt: Interrupt::new(),
            timeout,
        };
        if hello.version != VERSION {
            // The server names the version it speaks, then an ERROR, then closes.
            return Err(match conn.read_response("its reason for another version") {
                // Its reason speaks of "this side": say which side is old.
                Ok(Response::Error(reply)) if hello.version < VERSION => {
                    TransferError::Refused(ErrorReply::new(
                        reply.code,
                        &format!(
                            "the server {peer} speaks protocol version {}, older than this \
                             client's {VERSION} (in which a token never crosses the network): \
                             update the server; it said: {}",
                            hello.version, reply.message
                        ),
                    ))
                }
                Ok(Response::Error(reply)) => TransferError::Refused(reply),
                _ => TransferError::Broken(format!(
                    "the server {peer} speaks protocol version {}, this client {VERSION}",
                    hello.version
                )),
            });
        }
        Ok(conn)
    }

    /// [`Connection::handshake`], then AUTH with `token` if the server asks
    /// for one (and only then: a token is not sent to a server that did not
    /// ask for it). `timeout` bounds every wait for the server from here on
    /// (`None`: wait forever), as in [`Connection::handshake`].
    pub fn open(
        stream: Stream,
        token: Option<&Token>,
        timeout: Option<Duration>,
    ) -> Result<Connection, TransferError> {
        let mut conn = Connection::handshake(stream, timeout)?;
        if conn.hello.token_required {
            match token {
                Some(token) => conn.auth(token)?,
                None => {
                    // The server sends its next frame unasked: a CHALLENGE, or, when every
                    // place is taken, the ERROR that says it is busy, which is the truth
                    // to tell rather than the missing token.
                    if let Ok(Response::Error(reply)) = conn.read_response("its CHALLENGE") {
                        if reply.code != ErrorCode::Unauthorized {
                            return Err(TransferError::Refused(reply));
                        }
                    }
                    return Err(TransferError::Refused(ErrorReply::new(
                        ErrorCode::Unauthorized,
                        &format!(
                            "unauthorized: the server {} wants a token: give --token-file FILE \
                             or set {TOKEN_ENV}",
                            conn.peer
                        ),
                    )));
                }
            }
        }
        Ok(conn)
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Lets `interrupt` stop this connection's downloads and uploads (see [`Interrupt`]).
    pub fn set_interrupt(&mut self, interrupt: Interrupt) {
        self.interrupt = interrupt;
    }

    /// Runs one transfer so that an interrupt can stop it, even in a blocked read: the
    /// error it ends with is then `Interrupted`, saying what was kept, whatever the
    /// failure looked like from inside (a closed socket, a short read).
    pub(super) fn interruptible<T>(
        &mut self,
        kept: &str,
        transfer: impl FnOnce(&mut Connection) -> Result<T, TransferError>,
    ) -> Result<T, TransferError> {
        let interrupt = self.interrupt.clone();
        let watching = interrupt.watch(&self.stream);
        let result = transfer(self);
        drop(watching);
        match result {
            Err(TransferError::Mismatch(m)) => Err(TransferError::Mismatch(m)),
            Err(_) if interrupt.is_requested() => {
                Err(TransferError::Interrupted(format!("interrupted; {kept}")))
            }
            other => other,
        }
    }

    /// The server's hello (its flags say whether it is read-only).
    pub fn server_hello(&self) -> ServerHello {
        self.hello
    }

    /// One request frame to the server.
    pub(super) fn send(&mut self, request: &Request) -> Result<(), TransferError> {
        self.stream.frame(Way::Sent, ShownRequest(request));
        match request.write_to(&mut &self.stream) {
            Ok(()) => Ok(()),
            Err(ProtocolError::Io(e)) if is_timeout(&e) => {
                Err(self.timed_out("the server to take the request"))
            }
            Err(e) => Err(TransferError::protocol(e)),
        }
    }

    /// The server's next frame, `awaiting` saying what it should be (`the
    /// answer to LIST`) should the server close or fall silent instead.
    pub(super) fn read_response(&mut self, awaiting: &str) -> Result<Response, TransferError> {
        match Response::read_from(&mut &self.stream) {
            Ok(Some(r)) => {
                self.stream.frame(Way::Received, ShownResponse(&r));
                Ok(r)
            }
            Ok(None) => Err(TransferError::Broken(format!(
                "the server {} closed the connection (this client waited for {awaiting})",
                self.peer
            ))),
            Err(ProtocolError::Io(e)) if is_timeout(&e) => Err(self.timed_out(awaiting)),
            Err(e) => Err(TransferError::protocol(e)),
        }
    }

    /// The error for a wait that the timeout ended; `waiting` says for what.
    pub(super) fn timed_out(&self, waiting: &str) -> TransferError {
        timeout_error(self.peer, self.timeout, waiting)
    }
}

/// Whether a failed read or write is the socket's timeout running out: unix
/// reports it as `WouldBlock`, Windows as `TimedOut`.
pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// `timed out: the server 127.0.0.1:11500 was silent for 60 s (--timeout) while this client waited for its hello`.
pub(super) fn timeout_error(
    peer: SocketAddr,
    timeout: Option<Duration>,
    waiting: &str,
) -> TransferError {
    let silence = timeout.map_or_else(
        || "too long".to_string(),
        |t| format!("for {} s", t.as_secs_f64()),
    );
    TransferError::TimedOut(format!(
        "timed out: the server {peer} was silent {silence} (--timeout) while this client \
         waited for {waiting}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    #[test]
    fn an_older_server_is_named_as_such() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut hello = [0u8; 6];
            s.read_exact(&mut hello).unwrap();
            // What a version-1 server answers a version-2 hello.
            let old = ServerHello {
                version: 1,
                token_required: true,
                read_only: true,
            };
            old.write_to(&mut s).unwrap();
            let reply = ProtocolError::UnsupportedVersion(2).reply();
            Response::Error(reply).write_to(&mut s).unwrap();
        });
        let err =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap_err();
        server.join().unwrap();
        let text = err.to_string();
        assert!(
            text.contains("speaks protocol version 1, older than this client's 2"),
            "{text}"
        );
    }

    #[test]
    fn a_server_that_says_nothing_is_not_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).unwrap();
        });
        let err =
            Connection::handshake(TcpStream::connect(addr).unwrap().into(), None).unwrap_err();
        server.join().unwrap();
        assert!(err.to_string().contains("use --raw"), "{err}");
    }
}
