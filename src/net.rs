//! Turning `--host`/`--bind` and `--port` into sockets, with errors a user can act on.

use crate::cli::{describe_io, Arg, Error, Parser};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

/// The options every client has: `--host` and `--port` of the server it talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Loopback and the given default port, as the tutorial's clients use.
    pub fn local(port: u16) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port,
        }
    }

    /// Takes `--host` or `--port` from the parser; returns `false` for any other argument.
    pub fn parse_arg(&mut self, arg: &Arg, parser: &mut Parser) -> Result<bool, Error> {
        match arg {
            Arg::Long(name) if name == "host" => self.host = parser.string()?,
            Arg::Long(name) if name == "port" => {
                let port: u16 = parser.parse("a port number from 1 to 65535")?;
                if port == 0 {
                    return Err(Error::usage(
                        "invalid value '0' for '--port': a server's port is from 1 to 65535",
                    ));
                }
                self.port = port;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Connects to the server (see [`connect`]).
    pub fn connect(&self) -> Result<TcpStream, Error> {
        connect(&self.host, self.port)
    }
}

/// One receive, as the Python's `sock.recv(n)`: whatever has arrived, up to `buf.len()` bytes,
/// waiting only when nothing has. `Ok(0)` means the peer closed its side.
///
/// Every "read once" of the project goes through here (or [`recv_from`] for UDP), so a wait
/// cut short by a signal is tried again in one place (see [`retry_interrupted`]).
pub fn recv<R: Read + ?Sized>(stream: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    retry_interrupted(|| stream.read(buf))
}

/// One datagram and who sent it, as the Python's `sock.recvfrom(n)`; a datagram longer than
/// `buf` is cut to fit (the rest is lost), so give it room for the largest one.
pub fn recv_from(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    retry_interrupted(|| socket.recv_from(buf))
}

/// Runs `op` again while it fails with `Interrupted`: a wait cut short by a signal is not an
/// answer from the peer. (Python does the same inside every socket call since PEP 475.)
pub fn retry_interrupted<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Resolves a host (IPv4, IPv6 with or without brackets, or a name) and port.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    // People copy IPv6 addresses from URLs and logs with their brackets on.
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Err(Error::runtime("empty host name"));
    }
    let addrs: Vec<SocketAddr> = match (bare, port).to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(err) => {
            return Err(Error::runtime(format!(
                "cannot resolve host '{host}': {}",
                lookup_reason(&err)
            )))
        }
    };
    if addrs.is_empty() {
        return Err(Error::runtime(format!(
            "cannot resolve host '{host}': it has no addresses"
        )));
    }
    Ok(addrs)
}

fn lookup_reason(err: &io::Error) -> String {
    // getaddrinfo's own text ("Name or service not known") is the clearest
    // thing we have; std prefixes it with its own words.
    let text = describe_io(err);
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    if text.is_empty() {
        "host not found".to_string()
    } else {
        format!("host not found ({text})")
    }
}

/// Connects to the first address of `host` that accepts.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(err) => last = Some((addr, err)),
        }
    }
    let (addr, err) = last.expect("resolve returns at least one address");
    Err(connect_error(addr, &err))
}

/// The error for a failed connect, saying what the user most likely has to do.
pub fn connect_error(addr: SocketAddr, err: &io::Error) -> Error {
    let hint = match err.kind() {
        io::ErrorKind::ConnectionRefused => " (is the server running on that port?)",
        _ => "",
    };
    Error::runtime(format!(
        "cannot connect to {addr}: {}{hint}",
        describe_io(err)
    ))
}

/// Binds a TCP listener on `bind`:`port` (port 0 picks a free port).
pub fn bind_tcp(bind: &str, port: u16) -> Result<TcpListener, Error> {
    bind_first(bind, port, TcpListener::bind)
}

/// Binds a UDP socket on `bind`:`port` (port 0 picks a free port).
pub fn bind_udp(bind: &str, port: u16) -> Result<UdpSocket, Error> {
    bind_first(bind, port, UdpSocket::bind)
}

fn bind_first<S>(
    bind: &str,
    port: u16,
    bind_one: impl Fn(SocketAddr) -> io::Result<S>,
) -> Result<S, Error> {
    let mut last = None;
    for addr in resolve(bind, port)? {
        match bind_one(addr) {
            Ok(socket) => return Ok(socket),
            Err(err) => last = Some((addr, err)),
        }
    }
    let (addr, err) = last.expect("resolve returns at least one address");
    Err(bind_error(addr, &err))
}

fn bind_error(addr: SocketAddr, err: &io::Error) -> Error {
    let hint = match err.kind() {
        io::ErrorKind::AddrInUse => {
            " (another program is using that port; --port 0 picks a free one)"
        }
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
            " (ports below 1024 need administrator rights)"
        }
        io::ErrorKind::AddrNotAvailable => " (that address does not belong to this machine)",
        _ => "",
    };
    Error::runtime(format!(
        "cannot listen on {addr}: {}{hint}",
        describe_io(err)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literals_with_and_without_brackets() {
        assert_eq!(
            resolve("127.0.0.1", 7).unwrap(),
            vec!["127.0.0.1:7".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 7).unwrap(),
            vec!["[::1]:7".parse().unwrap()]
        );
        assert_eq!(resolve("::1", 7).unwrap(), vec!["[::1]:7".parse().unwrap()]);
    }

    #[test]
    fn unknown_host_says_so() {
        let err = resolve("no-such-host.invalid", 7).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot resolve host 'no-such-host.invalid': host not found"),
            "{err}"
        );
    }

    #[test]
    fn address_in_use_says_so() {
        let first = bind_tcp("127.0.0.1", 0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind_tcp("127.0.0.1", port).unwrap_err().to_string();
        assert!(err.contains("address already in use"), "{err}");
        assert!(err.contains("--port 0"), "{err}");
    }

    #[test]
    fn refused_connection_says_so() {
        // Bind then drop: the port is very likely free for the instant of the test.
        let port = bind_tcp("127.0.0.1", 0)
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = connect("127.0.0.1", port).unwrap_err().to_string();
        assert!(err.contains("connection refused"), "{err}");
    }
}
