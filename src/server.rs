//! The skeleton every TCP server shares: bind, the `listening on` line, and an accept loop that gives each client its own thread.
//!
//! The tutorial's servers handle one client at a time inside the accept loop,
//! so a second client waits until the first one leaves. Here each accepted
//! connection gets a thread of its own; the accept loop only accepts. Nothing a
//! single client does (a failed accept, a reset, a hang) can end the loop.

use crate::cli::{describe_io, Arg, Error, Parser};
use crate::log::Log;
use crate::net;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Stack for each client thread: enough for our handlers, small so ten thousand clients stay cheap.
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

/// Handles a client past `--max-clients` on a thread of its own, to refuse it in its own protocol.
type TurnAway = Arc<dyn Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync>;

/// An accept loop with its limits; call [`Server::run`] with the per-client handler.
pub struct Server {
    listener: TcpListener,
    log: Log,
    max_clients: usize,
    idle_timeout: Option<Duration>,
    sequential: bool,
    busy_reply: Vec<u8>,
    /// At most this many refused clients at once get `TurnAway`'s thread.
    turn_away: Option<(usize, TurnAway)>,
}

/// What every client thread shares; one `Arc` of it is all a thread carries, so a client costs little memory.
struct Shared<H> {
    handler: H,
    log: Log,
    idle_timeout: Option<Duration>,
    /// Clients being served.
    active: AtomicUsize,
    /// Clients past the limit being told so by the turn-away handler.
    refusing: AtomicUsize,
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
        self.turn_away = Some((grace, Arc::new(handler)));
        self
    }

    /// Accepts clients forever, running `handler` for each in its own thread.
    ///
    /// The handler owns the stream and reports how the conversation ended;
    /// its errors are logged here, by the thread that owned the client.
    pub fn run<H>(self, handler: H) -> !
    where
        H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            handler,
            log: self.log.clone(),
            idle_timeout: self.idle_timeout,
            active: AtomicUsize::new(0),
            refusing: AtomicUsize::new(0),
        });
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
            if let Err(err) = self.prepare(&stream) {
                self.log
                    .err(format_args!("{addr}: error: {}", describe_io(&err)));
                continue;
            }
            if self.sequential {
                serve_one(&shared, stream, addr);
                continue;
            }
            let active = shared.active.load(Ordering::Acquire);
            // The thread's closure carries only the slot and the stream (the address is asked
            // again in the thread): with ten thousand clients every byte here is ten kilobytes.
            let spawned = if active < self.max_clients {
                let slot = Slot::<H, SERVED>::take(Arc::clone(&shared));
                thread::Builder::new()
                    .stack_size(CLIENT_STACK_BYTES)
                    .spawn(move || {
                        if let Some(addr) = peer(&slot.shared.log, &stream) {
                            serve_one(&slot.shared, stream, addr);
                        }
                    })
            } else {
                match &self.turn_away {
                    Some((grace, handler)) if shared.refusing.load(Ordering::Acquire) < *grace => {
                        let slot = Slot::<H, REFUSING>::take(Arc::clone(&shared));
                        let handler = Arc::clone(handler);
                        thread::Builder::new()
                            .stack_size(CLIENT_STACK_BYTES)
                            .spawn(move || {
                                if let Some(addr) = peer(&slot.shared.log, &stream) {
                                    let outcome = handler(stream, addr);
                                    report(
                                        &slot.shared.log,
                                        addr,
                                        slot.shared.idle_timeout,
                                        outcome,
                                    );
                                }
                            })
                    }
                    _ => {
                        self.refuse_busy(stream, addr, active);
                        continue;
                    }
                }
            };
            // The closure (and with it the stream and the slot) is dropped on failure, so the client is closed and counted out.
            if let Err(err) = spawned {
                self.log.err(format_args!(
                    "{addr}: cannot start a thread for this client: {}",
                    describe_io(&err)
                ));
            }
        }
    }

    fn prepare(&self, stream: &TcpStream) -> io::Result<()> {
        // A client that stops reading is as idle as one that stops writing.
        stream.set_read_timeout(self.idle_timeout)?;
        stream.set_write_timeout(self.idle_timeout)
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

fn serve_one<H>(shared: &Shared<H>, stream: TcpStream, addr: SocketAddr)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()>,
{
    let outcome = (shared.handler)(stream, addr);
    report(&shared.log, addr, shared.idle_timeout, outcome);
}

/// The client's address, in its own thread; a client that already left is logged and let go.
fn peer(log: &Log, stream: &TcpStream) -> Option<SocketAddr> {
    match stream.peer_addr() {
        Ok(addr) => Some(addr),
        Err(err) => {
            log.out(format_args!(
                "a client left before it was served ({})",
                describe_io(&err)
            ));
            None
        }
    }
}

/// [`Slot`] kinds: a client being served, or one being turned away.
const SERVED: bool = false;
const REFUSING: bool = true;

/// Holds one place in the count of served (or refusing) clients; dropping it, even by a panic, frees the place.
struct Slot<H, const KIND: bool> {
    shared: Arc<Shared<H>>,
}

impl<H, const KIND: bool> Slot<H, KIND> {
    fn take(shared: Arc<Shared<H>>) -> Slot<H, KIND> {
        let slot = Slot { shared };
        slot.counter().fetch_add(1, Ordering::AcqRel);
        slot
    }

    fn counter(&self) -> &AtomicUsize {
        if KIND == REFUSING {
            &self.shared.refusing
        } else {
            &self.shared.active
        }
    }
}

impl<H, const KIND: bool> Drop for Slot<H, KIND> {
    fn drop(&mut self) {
        self.counter().fetch_sub(1, Ordering::AcqRel);
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

fn is_resource_exhaustion(err: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux: accept fails again at once until something is freed.
    matches!(err.raw_os_error(), Some(24 | 23 | 105 | 12))
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
        let emfile = io::Error::from_raw_os_error(24);
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
