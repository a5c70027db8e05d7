//! What udp_sender and udp_receiver share: datagram size limits, the sender's addresses and socket, and reading UDP errors.
//!
//! UDP has no connection: a datagram is sent whether or not anyone listens,
//! and nothing comes back to say it arrived. The one hint a sender can get is
//! an ICMP "port unreachable" from the receiving machine, and the OS hands it
//! only to a socket that is `connect()`ed to that address (connecting a UDP
//! socket sends nothing; it fixes the destination). So the sender connects,
//! and reports those hints as warnings.

use crate::core::cli::{describe_io, Error};
use crate::core::errno;
use crate::core::net;
use crate::core::trace::Socket;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Bytes the receiver reads at once: more than any UDP payload (at most 65,527 bytes), so every datagram arrives whole.
pub const RECV_BUFFER: usize = 65_536;

/// The largest payload one UDP datagram can carry to `addr`.
///
/// The 16-bit length fields cap it: over IPv4 the 65,535-byte packet also holds
/// a 20-byte IP header and the 8-byte UDP header; over IPv6 the payload length
/// excludes the IPv6 header, so only the UDP header comes off.
pub fn max_payload(addr: SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 65_507,
        SocketAddr::V6(_) => 65_527,
    }
}

/// "IPv4" or "IPv6", for messages.
pub fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// True for the error by which the OS passes on an ICMP "port unreachable" for an earlier datagram.
///
/// std has kinds for both spellings: Linux, macOS and the BSDs report it as
/// `ECONNREFUSED` (`ConnectionRefused`), and only on a connected socket;
/// Windows as `WSAECONNRESET` (`ConnectionReset`), on the next send or receive.
pub fn is_port_unreachable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

/// The local address to bind and the target to send to, both of one address family.
///
/// Without `bind`, a host name with both kinds of address is reached over
/// IPv4, because the receiver listens on `0.0.0.0` by default; the socket is
/// bound to the wildcard address of that family.
pub fn sender_addrs(
    host: &str,
    port: u16,
    bind: Option<&str>,
    bind_port: u16,
) -> Result<(SocketAddr, SocketAddr), Error> {
    let targets = net::resolve(host, port)?;
    let Some(bind) = bind else {
        let target = targets.iter().find(|a| a.is_ipv4()).unwrap_or(&targets[0]);
        let any = if target.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        };
        return Ok((SocketAddr::new(any, bind_port), *target));
    };
    for local in net::resolve(bind, bind_port)? {
        if let Some(target) = targets.iter().find(|t| t.is_ipv4() == local.is_ipv4()) {
            return Ok((local, *target));
        }
    }
    Err(Error::runtime(format!(
        "--bind {bind} and --host {host} have no address family in common (one is IPv4, the other IPv6)"
    )))
}

/// A UDP socket bound to the sender's own address and connected to the receiver's.
pub struct Sender {
    socket: Socket,
    target: SocketAddr,
}

/// What became of one datagram the OS accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Handed to the OS; whether anyone receives it, nobody will say.
    Sent,
    /// Handed to the OS, but only on a second try: the first try reported that an earlier datagram found nobody listening.
    AfterPortUnreachable,
}

/// Why a datagram was not sent.
#[derive(Debug)]
pub enum NotSent {
    /// Too large for one datagram: `len` bytes where at most `max` fit (`max` is `None` when the OS said so below our limit).
    TooLong { len: usize, max: Option<usize> },
    /// Anything else: the sender cannot go on.
    Failed(Error),
}

impl Sender {
    /// Binds `local` and connects to `target` (see [`sender_addrs`]).
    pub fn open(local: SocketAddr, target: SocketAddr) -> Result<Sender, Error> {
        let socket = Socket::bind(local).map_err(|err| {
            let hint = match err.kind() {
                io::ErrorKind::AddrInUse => {
                    " (another program, perhaps another udp_sender, uses that port; --bind-port 0 picks a free one)"
                }
                io::ErrorKind::PermissionDenied if local.port() < 1024 => {
                    " (ports below 1024 need administrator rights)"
                }
                _ => "",
            };
            Error::runtime(format!(
                "cannot bind the sending socket to {local}: {}{hint}",
                describe_io(&err)
            ))
        })?;
        // Sends nothing: it only fixes the destination, so that the OS passes
        // on ICMP "port unreachable" from it (see the module comment).
        socket
            .connect(target)
            .map_err(|err| Error::io(format!("cannot send to {target}"), &err))?;
        Ok(Sender { socket, target })
    }

    /// The address the datagrams come from (the receiver prints it).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.socket
            .local_addr()
            .map_err(|err| Error::io("reading the sending socket's address", &err))
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Sends `payload` as one datagram, whole or not at all.
    pub fn send(&self, payload: &[u8]) -> Result<Sent, NotSent> {
        let max = max_payload(self.target);
        if payload.len() > max {
            return Err(NotSent::TooLong {
                len: payload.len(),
                max: Some(max),
            });
        }
        let mut outcome = Sent::Sent;
        loop {
            match net::retry_interrupted(|| self.socket.send(payload)) {
                // UDP sends all or nothing; a short count cannot happen.
                Ok(_) => return Ok(outcome),
                // The pending error was reported instead of sending, and is
                // now cleared: one more try sends this datagram.
                Err(err) if is_port_unreachable(&err) && outcome == Sent::Sent => {
                    outcome = Sent::AfterPortUnreachable;
                }
                Err(err) if errno::is_message_too_long(&err) => {
                    return Err(NotSent::TooLong {
                        len: payload.len(),
                        max: None,
                    })
                }
                Err(err) => {
                    return Err(NotSent::Failed(Error::io(
                        format!("cannot send to {}", self.target),
                        &err,
                    )))
                }
            }
        }
    }

    /// True when an ICMP "port unreachable" arrived since the last send (on loopback it is there as soon as `send` returns).
    pub fn port_unreachable_pending(&self) -> bool {
        matches!(self.socket.take_error(), Ok(Some(err)) if is_port_unreachable(&err))
    }
}

impl NotSent {
    /// Why a datagram of this size was refused, in words.
    pub fn describe(&self, target: SocketAddr) -> String {
        match self {
            NotSent::TooLong { len, max: Some(max) } => format!(
                "it is {len} bytes, more than one UDP datagram can carry over {} ({max} bytes); it was not cut",
                family(target)
            ),
            NotSent::TooLong { len, max: None } => format!(
                "it is {len} bytes, more than the system sends in one UDP datagram to {target} (message too long); it was not cut"
            ),
            NotSent::Failed(err) => err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn limits_follow_the_family() {
        assert_eq!(max_payload("127.0.0.1:1".parse().unwrap()), 65_507);
        assert_eq!(max_payload("[::1]:1".parse().unwrap()), 65_527);
        assert!(RECV_BUFFER > max_payload("[::1]:1".parse().unwrap()));
    }

    #[test]
    fn sender_addresses_share_a_family() {
        let (local, target) = sender_addrs("127.0.0.1", 15000, None, 14000).unwrap();
        assert_eq!(local, "0.0.0.0:14000".parse().unwrap());
        assert_eq!(target, "127.0.0.1:15000".parse().unwrap());
        let (local, target) = sender_addrs("::1", 15000, None, 0).unwrap();
        assert_eq!(local, "[::]:0".parse().unwrap());
        assert_eq!(target, "[::1]:15000".parse().unwrap());
        let (local, _) = sender_addrs("::1", 15000, Some("::1"), 0).unwrap();
        assert_eq!(local, "[::1]:0".parse().unwrap());
        let err = sender_addrs("::1", 15000, Some("127.0.0.1"), 0).unwrap_err();
        assert!(
            err.to_string().contains("no address family in common"),
            "{err}"
        );
    }

    #[test]
    fn a_datagram_too_long_is_refused_before_sending() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = Sender::open(
            "127.0.0.1:0".parse().unwrap(),
            receiver.local_addr().unwrap(),
        )
        .unwrap();
        match sender.send(&vec![b'x'; 65_508]) {
            Err(NotSent::TooLong {
                len: 65_508,
                max: Some(65_507),
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(sender.send(&vec![b'x'; 65_507]).unwrap(), Sent::Sent);
        let mut buf = vec![0u8; RECV_BUFFER];
        assert_eq!(receiver.recv(&mut buf).unwrap(), 65_507);
    }
}
