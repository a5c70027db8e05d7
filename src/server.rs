//! The skeleton every TCP server shares: bind, the `listening on` line, and an accept loop that gives each client its own thread.
//!
//! The tutorial's servers handle one client at a time inside the accept loop,
//! so a second client waits until the first one leaves. Here the loop has the
//! shape of the Rust Cookbook's echo server: accept, then spawn a thread that
//! owns the stream and serves it; a failed accept is logged and the loop goes
//! on. Nothing a single client does (a failed accept, a reset, a hang) can end
//! the loop. The limits around it: `--max-clients` is a counter of places
//! (past it a client is refused, or handed to a turn-away handler), and
//! `--idle-timeout` is the read and write timeout of each client's socket.

use crate::cli::{describe_io, Arg, Error, Parser};
use crate::errno;
use crate::log::Log;
use crate::net;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Stack reserved for each client thread. The 2 MiB default is address space, not memory: a
/// thread uses only the pages it touches (the bench's hold test measured the same peak memory
/// either way). But ten thousand threads would reserve 20 GiB, which a system with strict
/// overcommit (`vm.overcommit_memory=2`) or a 32-bit one refuses; 64 KiB is 640 MiB for them.
/// Our handlers need a few KiB (a 1 KiB read buffer, a formatted line); `tests/tcp.rs`
/// (`every_handler_path_runs_in_the_client_stack`) runs each of them in this stack.
pub const CLIENT_STACK_BYTES: usize = 64 * 1024;

/// How long the accept loop pauses after running out of file descriptors or memory, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The options every server has: `--bind`, `--port`, `--max-clients`, `--idle-timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub bind: String,
    pub port: u16,
    pub max_clients: usize,
    /// `None` means never time out.
    pub idle_timeout: Option<Duration>,
}

impl Options {
    /// Takes one of the shared server options from the parser; returns `false` for any other argument.
    pub fn parse_arg(&mut self, arg: &Arg, parser: &mut Parser) -> Result<bool, Error> {
        let Arg::Long(name) = arg else {
            return Ok(false);
        };
        match name.as_str() {
            "bind" => self.bind = parser.string()?,
            "port" => self.port = parser.parse("a port number from 0 to 65535")?,
            "max-clients" => {
                let n: usize = parser.parse("a number of clients, at least 1")?;
                if n == 0 {
                    return Err(Error::usage("--max-clients must be at least 1"));
                }
                self.max_clients = n;
            }
            "idle-timeout" => {
                let secs: u64 = parser.parse("a number of seconds (0 = never)")?;
                self.idle_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Binds the listener and prints `listening on IP:PORT` as the first line of stdout.
    pub fn listen(&self, log: &Log) -> Result<TcpListener, Error> {
        let listener = net::bind_tcp(&self.bind, self.port)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", &e))?;
        announce(log, addr);
        Ok(listener)
    }
}

/// Prints the `listening on IP:PORT` line and flushes it at once: scripts and tests wait for it.
pub fn announce(log: &Log, addr: SocketAddr) {
    log.out(format_args!("listening on {addr}"));
    log.flush();
}

/// What serves one client on its thread: the server's handler, or the turn-away handler.
type Handler = Box<dyn Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync>;

/// An accept loop with its limits; call [`Server::run`] with the per-client handler.
pub struct Server {
    listener: TcpListener,
    log: Log,
    max_clients: usize,
    idle_timeout: Option<Duration>,
    sequential: bool,
    busy_reply: Vec<u8>,
    /// Clients past `max_clients`, at most this many at once, get a thread running this handler.
    turn_away: Option<(usize, Handler)>,
}

impl Server {
    pub fn new(listener: TcpListener, options: &Options, log: &Log) -> Server {
        Server {
            listener,
            log: log.clone(),
            max_clients: options.max_clients,
            idle_timeout: options.idle_timeout,
            sequential: false,
            busy_reply: b"server busy\n".to_vec(),
            turn_away: None,
        }
    }

    /// Serve one client at a time in the accept loop itself, exactly as the tutorial does (for teaching and comparison).
    pub fn sequential(mut self, yes: bool) -> Server {
        self.sequential = yes;
        self
    }

    /// What a client refused for `--max-clients` is sent before the connection is closed.
    pub fn busy_reply(mut self, reply: &[u8]) -> Server {
        self.busy_reply = reply.to_vec();
        self
    }

    /// Clients past `--max-clients` (up to `grace` of them at once) are handed to `handler` on a
    /// thread of their own, so it can read their request and refuse them in their own protocol;
    /// past those, the [`Server::busy_reply`] bytes are sent and the connection closed.
    pub fn turn_away<B>(mut self, grace: usize, handler: B) -> Server
    where
        B: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
    {
        self.turn_away = Some((grace, Box::new(handler)));
        self
    }

    /// Accepts clients forever; each one is served by `handler` on a thread of its own.
    ///
    /// The handler owns the stream and reports how the conversation ended;
    /// its errors are logged by that thread, and never end the loop.
    pub fn run<H>(mut self, handler: H) -> !
    where
        H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
    {
        let (grace, turn_away) = match self.turn_away.take() {
            Some((grace, turn_away)) => (grace, Some(turn_away)),
            None => (0, None),
        };
        let clients = Arc::new(Clients {
            log: self.log.clone(),
            idle_timeout: self.idle_timeout,
            handler: Box::new(handler),
            turn_away,
        });
        let served = Counter::default();
        let refusing = Counter::default();
        let mut accept_errors = Repeats::default();
        loop {
            let (stream, addr) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_errors.log(&self.log, &err);
                    if is_resource_exhaustion(&err) {
                        thread::sleep(ACCEPT_BACKOFF);
                    }
                    continue;
                }
            };
            if self.sequential {
                clients.serve(stream, false);
                continue;
            }
            let place = match served.take(self.max_clients) {
                Some(place) => Some((place, false)),
                None if clients.turn_away.is_some() => refusing.take(grace).map(|p| (p, true)),
                None => None,
            };
            match place {
                Some((place, turned_away)) => spawn(&clients, place, stream, addr, turned_away),
                None => self.refuse_busy(stream, addr, served.now()),
            }
        }
    }

    fn refuse_busy(&self, mut stream: TcpStream, addr: SocketAddr, active: usize) {
        // Never let a refused client block the accept loop: the reply fits in an empty socket buffer, or is dropped.
        let _ = stream.set_nonblocking(true);
        let _ = stream.write_all(&self.busy_reply);
        self.log.out(format_args!(
            "refused {addr}: server busy ({active} clients connected, --max-clients {})",
            self.max_clients
        ));
    }
}

/// Starts the client's own thread, which owns the stream and its place until the client is done.
fn spawn(
    clients: &Arc<Clients>,
    place: Place,
    stream: TcpStream,
    addr: SocketAddr,
    turned_away: bool,
) {
    let shared = Arc::clone(clients);
    // What the closure holds stays on the heap while the client is connected, so it holds no
    // more than it must: the client's address is asked again in the thread. Measured with the
    // bench's hold test (10,000 clients), the 32 bytes of a `SocketAddr` here cost 0.3 MiB and
    // made the peak memory larger than the textbook loop's.
    let started = thread::Builder::new()
        .stack_size(CLIENT_STACK_BYTES)
        .spawn(move || {
            shared.serve(stream, turned_away);
            drop(place);
        });
    // On failure the closure, and with it the stream and the place, is dropped: the client is closed and counted out.
    if let Err(err) = started {
        clients.log.err(format_args!(
            "{addr}: cannot start a thread for this client: {}",
            describe_io(&err)
        ));
    }
}

/// What every client thread shares: one `Arc` of it.
struct Clients {
    log: Log,
    idle_timeout: Option<Duration>,
    handler: Handler,
    /// For clients past `--max-clients`, if the server refuses them in their own protocol.
    turn_away: Option<Handler>,
}

impl Clients {
    /// One client, from its first byte to its last: timeouts set, the handler run, how it ended logged.
    fn serve(&self, stream: TcpStream, turned_away: bool) {
        let addr = match stream.peer_addr() {
            Ok(addr) => addr,
            Err(err) => {
                let why = describe_io(&err);
                return self
                    .log
                    .out(format_args!("a client left before it was served ({why})"));
            }
        };
        let handler = match (&self.turn_away, turned_away) {
            (Some(turn_away), true) => turn_away,
            _ => &self.handler,
        };
        // A client that stops reading is as idle as one that stops writing.
        let idle = self.idle_timeout;
        let outcome = stream
            .set_read_timeout(idle)
            .and_then(|()| stream.set_write_timeout(idle))
            .and_then(|()| handler(stream, addr));
        report(&self.log, addr, idle, outcome);
    }
}

/// How many places are taken; only the accept loop takes places, so checking then adding is exact.
#[derive(Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn now(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// A place, if fewer than `limit` are taken.
    fn take(&self, limit: usize) -> Option<Place> {
        if self.now() >= limit {
            return None;
        }
        self.0.fetch_add(1, Ordering::AcqRel);
        Some(Place(Arc::clone(&self.0)))
    }
}

/// One taken place in a [`Counter`]; dropping it, even by a panic, gives the place back.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Logs failed accepts without flooding: out of file descriptors, accept fails again every
/// [`ACCEPT_BACKOFF`] until a client leaves, so the same error is logged at most once a
/// second, with how often it happened meanwhile.
#[derive(Default)]
struct Repeats {
    last: Option<(String, Instant)>,
    hidden: u64,
}

impl Repeats {
    const QUIET: Duration = Duration::from_secs(1);

    fn log(&mut self, log: &Log, err: &io::Error) {
        let what = describe_io(err);
        let now = Instant::now();
        if let Some((last, at)) = &self.last {
            let elapsed = now.duration_since(*at);
            if *last == what && elapsed < Self::QUIET {
                self.hidden += 1;
                return;
            }
            if *last == what {
                log.err(format_args!(
                    "accept failed: {what} ({} times in the last {} s)",
                    self.hidden + 1,
                    elapsed.as_secs()
                ));
                self.last = Some((what, now));
                self.hidden = 0;
                return;
            }
            if self.hidden > 0 {
                log.err(format_args!(
                    "accept failed: {last} ({} more times)",
                    self.hidden
                ));
            }
        }
        log.err(format_args!("accept failed: {what}"));
        self.last = Some((what, now));
        self.hidden = 0;
    }
}

/// Out of file descriptors, socket buffers or memory: accept fails again at once until something is freed.
fn is_resource_exhaustion(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::OutOfMemory
        || errno::is_out_of_descriptors(err)
        || errno::is_out_of_buffers(err)
}

/// True when an I/O error is a read or write timeout (std reports these as `WouldBlock` on unix).
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn report(log: &Log, addr: SocketAddr, idle: Option<Duration>, outcome: io::Result<()>) {
    let Err(err) = outcome else {
        return;
    };
    match err.kind() {
        _ if is_timeout(&err) => {
            let secs = idle.map(|d| d.as_secs()).unwrap_or(0);
            log.out(format_args!(
                "idle timeout: nothing sent or read by {addr} for {secs} s, disconnected"
            ));
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            log.out(format_args!(
                "connection lost: {addr} ({})",
                describe_io(&err)
            ));
        }
        _ => log.err(format_args!("{addr}: error: {}", describe_io(&err))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            bind: "0.0.0.0".into(),
            port: 10500,
            max_clients: 10,
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }

    fn parse(args: &[&str]) -> Result<Options, Error> {
        let mut opts = options();
        let mut parser = Parser::new(args.iter().copied());
        while let Some(arg) = parser.next()? {
            if !opts.parse_arg(&arg, &mut parser)? {
                return Err(crate::cli::unexpected(arg));
            }
        }
        Ok(opts)
    }

    #[test]
    fn shared_options_parse() {
        let opts = parse(&[
            "--bind",
            "::1",
            "--port=0",
            "--max-clients",
            "2",
            "--idle-timeout",
            "0",
        ])
        .unwrap();
        assert_eq!(opts.bind, "::1");
        assert_eq!(opts.port, 0);
        assert_eq!(opts.max_clients, 2);
        assert_eq!(opts.idle_timeout, None);
    }

    #[test]
    fn repeated_accept_errors_are_logged_once_a_second() {
        #[derive(Clone, Default)]
        struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Lines {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = Lines::default();
        let log = Log::to(Box::new(io::sink()), Box::new(err.clone()));
        let mut repeats = Repeats::default();
        let emfile = io::Error::other("Too many open files");
        for _ in 0..50 {
            repeats.log(&log, &emfile);
        }
        repeats.log(&log, &io::Error::from(io::ErrorKind::ConnectionAborted));
        log.flush();
        let text = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "accept failed: too many open files\n\
             accept failed: too many open files (49 more times)\n\
             accept failed: connection aborted\n"
        );
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(matches!(parse(&["--port", "70000"]), Err(Error::Usage(_))));
        assert!(matches!(
            parse(&["--max-clients", "0"]),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            parse(&["--idle-timeout", "-1"]),
            Err(Error::Usage(_))
        ));
        assert_eq!(
            parse(&["--bogus"]),
            Err(Error::usage("unknown option '--bogus'"))
        );
    }
}
