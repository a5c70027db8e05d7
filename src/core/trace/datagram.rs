//! A UDP socket that `--trace` can watch: `socket`, `bind`, `connect`, `sendto`, `recvfrom` and `close`, every datagram on its own line.

use super::{data, family, note, tracer, Bytes};
use crate::core::cli::describe_io;
use std::io;
use std::net::{SocketAddr, UdpSocket};

/// A bound UDP socket, traced with `--trace`.
#[derive(Debug)]
pub struct Socket {
    inner: UdpSocket,
}

impl Socket {
    /// Binds a UDP socket to `addr`: the Python's `socket(AF_INET, SOCK_DGRAM)` and `bind`.
    pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
        let inner = UdpSocket::bind(addr)?;
        if tracer().is_some() {
            note(format_args!("socket {} SOCK_DGRAM", family(addr)));
            match inner.local_addr() {
                Ok(bound) => note(format_args!("bind {bound}")),
                Err(_) => note(format_args!("bind {addr}")),
            }
        }
        Ok(Socket { inner })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Fixes where `send` sends to; sends nothing.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        let result = self.inner.connect(addr);
        match &result {
            Ok(()) => note(format_args!(
                "connect {addr} (UDP: sends nothing, only fixes the destination)"
            )),
            Err(e) => note(format_args!("connect {addr} -> error: {}", describe_io(e))),
        }
        result
    }

    /// One datagram to the connected address: the Python's `sendto(data, addr)`.
    pub fn send(&self, payload: &[u8]) -> io::Result<usize> {
        let result = self.inner.send(payload);
        if let Some(t) = tracer() {
            let to = match self.inner.peer_addr() {
                Ok(addr) => addr.to_string(),
                Err(_) => "?".to_string(),
            };
            match &result {
                Ok(n) => t.line(format_args!(
                    "sendto {to} {} {}",
                    Bytes(*n as u64),
                    data(&payload[..*n], t.encoding)
                )),
                Err(e) => t.line(format_args!(
                    "sendto {to} {} -> error: {}",
                    Bytes(payload.len() as u64),
                    describe_io(e)
                )),
            }
        }
        result
    }

    /// One datagram and who sent it: the Python's `recvfrom(n)`.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let result = self.inner.recv_from(buf);
        if let Some(t) = tracer() {
            let asked = buf.len();
            match &result {
                Ok((n, from)) => t.line(format_args!(
                    "recvfrom({asked}) -> {} from {from} {}",
                    Bytes(*n as u64),
                    data(&buf[..*n], t.encoding)
                )),
                Err(e) => t.line(format_args!(
                    "recvfrom({asked}) -> error: {}",
                    describe_io(e)
                )),
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
        note("close");
    }
}
