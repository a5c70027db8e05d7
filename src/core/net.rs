//! Turning `--host`/`--bind` and `--port` into sockets, with errors a user can act on.

use crate::core::cli::{describe_io, Arg, Error, Failure, Parser};
use crate::core::trace::{self, Socket, Stream};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The server a client talks to, from its options: `--host` (which may carry the port, as
/// `HOST:PORT` or `[IPv6]:PORT`) and `--port`. Every client parses it here, so they all
/// accept the same forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// The ports given with the host and on their own, so that two that disagree are
    /// refused whichever comes first.
    port_in_host: Option<u16>,
    port_option: Option<u16>,
}

impl Target {
    /// Loopback and the given default port, as the tutorial's clients use.
    pub fn local(port: u16) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port,
            port_in_host: None,
            port_option: None,
        }
    }

    /// Takes `--host HOST[:PORT]` or `--port N`; any other argument is refused as unknown.
    pub fn parse(&mut self, arg: Arg, parser: &mut Parser) -> Result<(), Error> {
        match arg {
            Arg::Long("host") => self.set_host(&parser.string()?),
            Arg::Long("port") => self.set_port(parser.parse(PORT_EXPECTED)?),
            arg => Err(arg.unexpected()),
        }
    }

    /// The server as people write it: `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT` (a
    /// bare IPv6 address has colons of its own, so it takes no port). For `--host`, and
    /// for file_shell's positional `HOST[:PORT]`.
    pub fn set_host(&mut self, text: &str) -> Result<(), Error> {
        let (host, port) = host_port(text).map_err(Error::usage)?;
        self.host = host;
        if port.is_some() {
            self.port_in_host = port;
        }
        self.agree()
    }

    /// A port on its own: `--port`, and file_shell's `-P`.
    pub fn set_port(&mut self, port: u16) -> Result<(), Error> {
        if port == 0 {
            return Err(Error::usage(
                "invalid port '0': a server's port is from 1 to 65535",
            ));
        }
        self.port_option = Some(port);
        self.agree()
    }

    fn agree(&mut self) -> Result<(), Error> {
        match (self.port_in_host, self.port_option) {
            (Some(a), Some(b)) if a != b => Err(Error::usage(format!(
                "two different ports given: {a} with the host and {b} as the port option"
            ))),
            (Some(port), _) | (None, Some(port)) => {
                self.port = port;
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// Connects to the server (see [`connect`]).
    pub fn connect(&self) -> Result<Stream, Error> {
        connect(&self.host, self.port)
    }

    /// [`Target::connect`], giving up on an address that has not answered within `timeout`
    /// (`None`: the system's own limit, minutes on most).
    pub fn connect_within(&self, timeout: Option<Duration>) -> Result<Stream, Error> {
        match timeout {
            None => self.connect(),
            Some(t) => connect_first(&self.host, self.port, |addr| {
                TcpStream::connect_timeout(&addr, t)
            }),
        }
    }
}

/// What a port option takes, for its usage error.
const PORT_EXPECTED: &str = "a port number from 1 to 65535";

/// `HOST[:PORT]` split into the host and the port, if one was given.
fn host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "invalid port '{p}' in '{text}': a server's port is from 1 to 65535"
        )),
        Ok(n) => Ok(Some(n)),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "'{text}': an IPv6 address in [ ] needs its closing ]"
            ));
        };
        return match after {
            "" => Ok((host.to_owned(), None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host.to_owned(), port(p)?)),
                None => Err(format!("'{text}': after ] only :PORT may follow")),
            },
        };
    }
    let (host, given) = match text.rsplit_once(':') {
        // One colon: HOST:PORT. More: an IPv6 address on its own.
        Some((host, p)) if !host.contains(':') => (host, port(p)?),
        _ => (text, None),
    };
    if host.is_empty() {
        return Err(format!("'{text}': no host name"));
    }
    Ok((host.to_owned(), given))
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
pub fn recv_from(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
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
pub fn connect(host: &str, port: u16) -> Result<Stream, Error> {
    connect_first(host, port, TcpStream::connect)
}

fn connect_first(
    host: &str,
    port: u16,
    connect_one: impl Fn(SocketAddr) -> io::Result<TcpStream>,
) -> Result<Stream, Error> {
    let mut last = None;
    let addrs = resolve(host, port).map_err(|e| e.kind(Failure::Resolve))?;
    for addr in addrs {
        match connect_one(addr) {
            Ok(stream) => return Ok(Stream::connected(stream, addr)),
            Err(err) => {
                trace::connect_failed(addr, &err);
                last = Some((addr, err));
            }
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
    let kind = match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
        _ => Failure::Connect,
    };
    Error::Failed(
        kind,
        format!("cannot connect to {addr}: {}{hint}", describe_io(err)),
    )
}

/// Binds a TCP listener on `bind`:`port` (port 0 picks a free port).
pub fn bind_tcp(bind: &str, port: u16) -> Result<TcpListener, Error> {
    let listener = bind_first(bind, port, TcpListener::bind)?;
    trace::listening(&listener);
    Ok(listener)
}

/// Binds a UDP socket on `bind`:`port` (port 0 picks a free port).
pub fn bind_udp(bind: &str, port: u16) -> Result<Socket, Error> {
    bind_first(bind, port, Socket::bind)
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
    fn a_failed_connect_says_its_kind_for_the_exit_status() {
        // An empty name resolves to nothing without asking any resolver.
        assert_eq!(
            connect("", 1).unwrap_err().failure(),
            Some(Failure::Resolve)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        assert_eq!(
            connect("127.0.0.1", port).unwrap_err().failure(),
            Some(Failure::Connect)
        );
        // Binding is no connect: its failures keep the generic status.
        assert_eq!(bind_tcp("", 0).unwrap_err().failure(), None);
    }

    #[test]
    fn every_form_of_host_and_port() {
        let ok = |t: &str| host_port(t).unwrap();
        assert_eq!(ok("example.org"), ("example.org".into(), None));
        assert_eq!(ok("127.0.0.1:2222"), ("127.0.0.1".into(), Some(2222)));
        assert_eq!(ok("[::1]:2222"), ("::1".into(), Some(2222)));
        assert_eq!(ok("[::1]"), ("::1".into(), None));
        assert_eq!(ok("::1"), ("::1".into(), None));
        assert_eq!(ok("fe80::1"), ("fe80::1".into(), None));
        for bad in [
            "host:0",
            "host:http",
            "host:",
            ":80",
            "[::1",
            "[::1]x",
            "[::1]:99999",
            "",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_ports_must_agree_whichever_comes_first() {
        let mut t = Target::local(11500);
        t.set_host("[::1]:2222").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 2222));
        t.set_port(2222).unwrap();
        let err = t.set_port(2223).unwrap_err().to_string();
        assert!(
            err.contains(
                "two different ports given: 2222 with the host and 2223 as the port option"
            ),
            "{err}"
        );

        let mut t = Target::local(11500);
        t.set_port(7).unwrap();
        t.set_port(8).unwrap();
        assert!(t.set_host("example.org:9").is_err());
        t.set_host("example.org:8").unwrap();
        t.set_host("other").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("other", 8));
        assert!(Target::local(1).set_port(0).is_err());
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
