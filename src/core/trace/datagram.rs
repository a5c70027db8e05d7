//! A UDP socket that `--trace` can watch: `socket`, `bind`, `connect`, `sendto`, `recvfrom` and `close`, every datagram on its own line.

use super::{data, family, tracer, Bytes, Fields};
use crate::core::cli::describe_io;
use std::fmt::Display;
use std::io;
use std::net::{SocketAddr, UdpSocket};

/// A bound UDP socket, traced with `--trace`.
#[derive(Debug)]
pub struct Socket {
    inner: UdpSocket,
    /// The socket's name in the trace file (`u1`), when tracing.
    conn: Option<String>,
}

impl Socket {
    /// Binds a UDP socket to `addr`: the Python's `socket(AF_INET, SOCK_DGRAM)` and `bind`.
    pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
        let inner = UdpSocket::bind(addr)?;
        let socket = Socket {
            conn: tracer().map(|t| t.connection('u')),
            inner,
        };
        socket.line(
            "socket",
            |f| {
                f.word("family", family(addr)).word("type", "SOCK_DGRAM");
            },
            format_args!("socket {} SOCK_DGRAM", family(addr)),
        );
        let bound = socket.inner.local_addr().unwrap_or(addr);
        socket.line(
            "bind",
            |f| {
                f.addr("local", bound);
            },
            format_args!("bind {bound}"),
        );
        Ok(socket)
    }

    /// One line about this socket, if tracing.
    fn line(&self, call: &str, fields: impl FnOnce(&mut Fields), line: impl Display) {
        if let (Some(t), Some(conn)) = (tracer(), &self.conn) {
            t.line(conn, call, fields, line);
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Fixes where `send` sends to; sends nothing.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        let result = self.inner.connect(addr);
        match &result {
            Ok(()) => self.line(
                "connect",
                |f| {
                    f.addr("peer", addr);
                },
                format_args!("connect {addr} (UDP: sends nothing, only fixes the destination)"),
            ),
            Err(e) => self.line(
                "connect",
                |f| {
                    f.addr("peer", addr).text("error", &describe_io(e));
                },
                format_args!("connect {addr} -> error: {}", describe_io(e)),
            ),
        }
        result
    }

    /// One datagram to the connected address: the Python's `sendto(data, addr)`.
    pub fn send(&self, payload: &[u8]) -> io::Result<usize> {
        let result = self.inner.send(payload);
        if let Some(t) = tracer() {
            let peer = self.inner.peer_addr().ok();
            let to = match peer {
                Some(addr) => addr.to_string(),
                None => "?".to_string(),
            };
            let local = self.inner.local_addr().ok();
            let ends = |f: &mut Fields| {
                if let Some(local) = local {
                    f.addr("local", local);
                }
                if let Some(peer) = peer {
                    f.addr("to", peer);
                }
            };
            match &result {
                Ok(n) => self.line(
                    "sendto",
                    |f| {
                        ends(f);
                        f.num("n", *n as u64).data(&payload[..*n]);
                    },
                    format_args!(
                        "sendto {to} {} {}",
                        Bytes(*n as u64),
                        data(&payload[..*n], t.encoding)
                    ),
                ),
                Err(e) => self.line(
                    "sendto",
                    |f| {
                        ends(f);
                        f.num("asked", payload.len() as u64)
                            .text("error", &describe_io(e));
                    },
                    format_args!(
                        "sendto {to} {} -> error: {}",
                        Bytes(payload.len() as u64),
                        describe_io(e)
                    ),
                ),
            }
        }
        result
    }

    /// One datagram and who sent it: the Python's `recvfrom(n)`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let result = self.inner.recv_from(buf);
        if let Some(t) = tracer() {
            let asked = buf.len();
            let local = self.inner.local_addr().ok();
            let here = |f: &mut Fields| {
                f.num("asked", asked as u64);
                if let Some(local) = local {
                    f.addr("local", local);
                }
            };
            match &result {
                Ok((n, from)) => self.line(
                    "recvfrom",
                    |f| {
                        here(f);
                        f.addr("from", *from).num("n", *n as u64).data(&buf[..*n]);
                    },
                    format_args!(
                        "recvfrom({asked}) -> {} from {from} {}",
                        Bytes(*n as u64),
                        data(&buf[..*n], t.encoding)
                    ),
                ),
                Err(e) => self.line(
                    "recvfrom",
                    |f| {
                        here(f);
                        f.text("error", &describe_io(e));
                    },
                    format_args!("recvfrom({asked}) -> error: {}", describe_io(e)),
                ),
            }
        }
        result
    }

    /// The error the OS holds for this socket (an ICMP "port unreachable"), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.line("close", |_| {}, "close");
    }
}
