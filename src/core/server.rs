//! The skeleton every TCP server shares: bind, the `listening on` line, and an accept loop that gives each client its own thread.
//!
//! The tutorial's servers handle one client at a time inside the accept loop,
//! so a second client waits until the first one leaves. Here the loop has the
//! shape of the Rust Cookbook's echo server: accept, then spawn a thread that
//! owns the stream and serves it; a failed accept is logged and the loop goes
//! on. Nothing a single client does (a failed accept, a reset, a hang) can end
//! the loop. The limits around it: `--max-clients` is a counter of places
//! (past it a client is refused, or handed to a turn-away handler),
//! `--max-per-address` the same per client host (`hosts`), so one host
//! cannot take every place, and `--idle-timeout` is the read and write
//! timeout of each client's socket. A server that reads requests of its own
//! sets tighter deadlines per read and write (`deadline`).

pub mod deadline;
mod hosts;

use crate::core::cli::{describe_io, Arg, Error, Parser};
use crate::core::errno;
use crate::core::log::Log;
use crate::core::net;
use crate::core::trace::{self, Stream};
use hosts::{Host, Hosts};
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

/// Connections past `--max-per-address` that one host may have in the turn-away handler at once.
const TURN_AWAY_PER_HOST: usize = 2;

/// The options every server has: `--bind`, `--port`, `--max-clients`, `--max-per-address`, `--idle-timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub bind: String,
    pub port: u16,
    pub max_clients: usize,
    /// Connections one client host may hold at once; `None` means no limit.
    pub max_per_address: Option<usize>,
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
            "max-per-address" => {
                let n: usize = parser.parse("a number of connections (0 = no limit)")?;
                self.max_per_address = (n > 0).then_some(n);
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

/// What serves one client on its thread.
type Handler = Box<dyn Fn(Stream, SocketAddr) -> io::Result<()> + Send + Sync>;

/// What refuses a client past a limit on its thread, in its own protocol.
type TurnAway = Box<dyn Fn(Stream, SocketAddr, Busy) -> io::Result<()> + Send + Sync>;

/// Which limit a refused client met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// `--max-clients` clients are connected.
    Full { max_clients: usize },
    /// The client's host already holds `--max-per-address` connections.
    Host { max_per_address: usize },
}

impl Busy {
    /// What a client is told, in a protocol that can say it.
    pub fn message(self) -> String {
        match self {
            Busy::Full { max_clients } => {
                format!("busy: the server already has {max_clients} clients; try again later")
            }
            Busy::Host { max_per_address } => format!(
                "busy: your address already has {max_per_address} connections to this server \
                 (--max-per-address); close one and try again"
            ),
        }
    }
}

/// An accept loop with its limits; call [`Server::run`] with the per-client handler.
pub struct Server {
    listener: TcpListener,
    log: Log,
    max_clients: usize,
    max_per_address: Option<usize>,
    idle_timeout: Option<Duration>,
    sequential: bool,
    /// Refused clients are closed without a byte (a protocol where any byte would be taken as data).
    silent_refusals: bool,
    /// Clients past a limit, at most this many at once, get a thread running this handler.
    turn_away: Option<(usize, TurnAway)>,
}

impl Server {
    pub fn new(listener: TcpListener, options: &Options, log: &Log) -> Server {
        Server {
            listener,
            log: log.clone(),
            max_clients: options.max_clients,
            max_per_address: options.max_per_address,
            idle_timeout: options.idle_timeout,
            sequential: false,
            silent_refusals: false,
            turn_away: None,
        }
    }

    /// Serve one client at a time in the accept loop itself, exactly as the tutorial does (for teaching and comparison).
    pub fn sequential(mut self, yes: bool) -> Server {
        self.sequential = yes;
        self
    }

    /// A refused client is closed without a byte, instead of being sent `server busy` (a line
    /// of text, which a client that takes every byte as a file's content must not get).
    pub fn refuse_silently(mut self) -> Server {
        self.silent_refusals = true;
        self
    }

    /// Clients past `--max-clients` or `--max-per-address` (up to `grace` of them at once, and
    /// two per host) are handed to `handler` on a thread of their own, with the limit they met,
    /// so it can read their request and refuse them in their own protocol; past those, they are
    /// refused as without a handler.
    pub fn turn_away<B>(mut self, grace: usize, handler: B) -> Server
    where
        B: Fn(Stream, SocketAddr, Busy) -> io::Result<()> + Send + Sync + 'static,
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
        H: Fn(Stream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
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
            hosts: Hosts::default(),
            max_clients: self.max_clients,
            max_per_address: self.max_per_address,
            served: Counter::default(),
            refusing: Counter::default(),
        });
        let places = Places { grace };
        let mut accept_errors = Repeats::default();
        loop {
            let (stream, addr) = match self.listener.accept() {
                Ok((stream, addr)) => {
                    trace::accepted(addr);
                    (stream, addr)
                }
                Err(err) => {
                    trace::accept_failed(&err);
                    accept_errors.log(&self.log, &err);
                    if is_resource_exhaustion(&err) {
                        thread::sleep(ACCEPT_BACKOFF);
                    }
                    continue;
                }
            };
            if self.sequential {
                clients.serve(stream, Role::Serve);
                continue;
            }
            match places.admit(&clients, stream, addr) {
                Ok(job) => spawn(job, addr),
                Err((stream, why)) => self.refuse_busy(stream, addr, why, &clients),
            }
        }
    }

    fn refuse_busy(&self, stream: TcpStream, addr: SocketAddr, why: Busy, clients: &Clients) {
        let reply: &[u8] = match why {
            _ if self.silent_refusals => b"",
            Busy::Full { .. } => b"server busy\n",
            Busy::Host { .. } => b"server busy: too many connections from your address\n",
        };
        let mut stream = Stream::accepted(stream, addr);
        // Never let a refused client block the accept loop: the reply fits in an empty socket buffer, or is dropped.
        let _ = stream.set_nonblocking(true);
        let _ = stream.write_all(reply);
        let host = Host::of(addr.ip());
        match why {
            Busy::Full { max_clients } => self.log.out(format_args!(
                "refused {addr}: server busy ({} clients connected, --max-clients {max_clients})",
                clients.served.now()
            )),
            Busy::Host { max_per_address } => {
                let held = clients.hosts.held(host).served;
                let s = if held == 1 { "" } else { "s" };
                self.log.out(format_args!(
                    "refused {addr}: {host} already has {held} connection{s} (--max-per-address {max_per_address})"
                ))
            }
        }
    }
}

/// The places the accept loop gives out: `--max-clients` of them, `--max-per-address` per
/// host (counted in [`Clients::hosts`]), and `grace` more for clients being turned away (two
/// per host at most).
struct Places {
    grace: usize,
}

impl Places {
    /// The job of the new client's thread, or the limit it meets with no way to say so in its
    /// own protocol.
    fn admit(
        &self,
        clients: &Arc<Clients>,
        stream: TcpStream,
        addr: SocketAddr,
    ) -> Result<Job, (TcpStream, Busy)> {
        let host = Host::of(addr.ip());
        let counted = clients.max_per_address.map(|_| host);
        let Some(why) = self.limit_met(clients, host) else {
            if let Some(host) = counted {
                clients.hosts.take(host, false);
            }
            let place = clients
                .served
                .take(clients.max_clients)
                .then_some(Place::Served);
            return Ok(Job {
                clients: Arc::clone(clients),
                stream: Some(stream),
                place,
                host: counted,
                role: Role::Serve,
            });
        };
        if clients.turn_away.is_none()
            || clients.hosts.held(host).turning_away >= TURN_AWAY_PER_HOST
            || !clients.refusing.take(self.grace)
        {
            return Err((stream, why));
        }
        if let Some(host) = counted {
            clients.hosts.take(host, true);
        }
        let role = match why {
            Busy::Full { .. } => Role::TurnAwayFull,
            Busy::Host { .. } => Role::TurnAwayHost,
        };
        Ok(Job {
            clients: Arc::clone(clients),
            stream: Some(stream),
            place: Some(Place::Refusing),
            host: counted,
            role,
        })
    }

    /// The limit a new client from `host` meets, if any.
    fn limit_met(&self, clients: &Clients, host: Host) -> Option<Busy> {
        if let Some(max) = clients.max_per_address {
            if clients.hosts.held(host).served >= max {
                return Some(Busy::Host {
                    max_per_address: max,
                });
            }
        }
        (clients.served.now() >= clients.max_clients).then_some(Busy::Full {
            max_clients: clients.max_clients,
        })
    }
}

/// What a client's thread holds until it ends: the shared state, its place among
/// `--max-clients` (or the turn-away grace) and its host's seat. Dropping it, even by a panic
/// or when the thread cannot start, gives both back.
///
/// It is what the thread's closure holds, on the heap while the client is connected, so it is
/// kept small: one `Arc`, the socket, and a few bytes (see [`spawn`]).
struct Job {
    clients: Arc<Clients>,
    /// The client, until its thread takes it.
    stream: Option<TcpStream>,
    place: Option<Place>,
    /// The host whose seat this is, when hosts are counted.
    host: Option<Host>,
    role: Role,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(host) = self.host {
            let turning_away = self.role != Role::Serve;
            self.clients.hosts.give_back(host, turning_away);
        }
        match self.place {
            Some(Place::Served) => self.clients.served.give_back(),
            Some(Place::Refusing) => self.clients.refusing.give_back(),
            None => {}
        }
    }
}

impl Job {
    /// The client's thread: serve the client; dropping the job then gives back its place.
    fn run(mut self) {
        if let Some(stream) = self.stream.take() {
            self.clients.serve(stream, self.role);
        }
    }
}

/// Which count of [`Clients`] a job's place was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Served,
    Refusing,
}

/// Whether the thread serves the client, or turns it away for which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Serve,
    TurnAwayFull,
    TurnAwayHost,
}

/// Starts the client's own thread, which owns the stream and its place until the client is done.
fn spawn(job: Job, addr: SocketAddr) {
    let log = job.clients.log.clone();
    // What the closure holds stays on the heap while the client is connected, so it holds no
    // more than it must: the client's address is asked again in the thread, the socket is
    // wrapped for `--trace` there, and the job is one struct (the socket inside it) of 32
    // bytes. Measured with the bench's hold test (10,000 clients), 16 bytes more here cost
    // about 0.15 MiB, enough to make the peak memory larger than the textbook loop's.
    let started = thread::Builder::new()
        .stack_size(CLIENT_STACK_BYTES)
        .spawn(move || job.run());
    // On failure the closure, and with it the stream and the job, is dropped: the client is
    // closed and counted out.
    if let Err(err) = started {
        log.err(format_args!(
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
    /// For clients past a limit, if the server refuses them in their own protocol.
    turn_away: Option<TurnAway>,
    hosts: Hosts,
    max_clients: usize,
    max_per_address: Option<usize>,
    /// Places taken by clients being served, and by clients being turned away.
    served: Counter,
    refusing: Counter,
}

impl Clients {
    /// One client, from its first byte to its last: timeouts set, the handler run, how it ended logged.
    fn serve(&self, stream: TcpStream, role: Role) {
        let addr = match stream.peer_addr() {
            Ok(addr) => addr,
            Err(err) => {
                let why = describe_io(&err);
                return self
                    .log
                    .out(format_args!("a client left before it was served ({why})"));
            }
        };
        let stream = Stream::accepted(stream, addr);
        // A client that stops reading is as idle as one that stops writing.
        let idle = self.idle_timeout;
        let ready = stream
            .set_read_timeout(idle)
            .and_then(|()| stream.set_write_timeout(idle));
        let busy = match role {
            Role::Serve => None,
            Role::TurnAwayFull => Some(Busy::Full {
                max_clients: self.max_clients,
            }),
            Role::TurnAwayHost => Some(Busy::Host {
                max_per_address: self.max_per_address.unwrap_or(0),
            }),
        };
        let outcome = match (ready, &self.turn_away, busy) {
            (Err(err), _, _) => Err(err),
            (Ok(()), Some(turn_away), Some(why)) => turn_away(stream, addr, why),
            (Ok(()), _, _) => (self.handler)(stream, addr),
        };
        report(&self.log, addr, idle, outcome);
    }
}

/// How many places are taken; only the accept loop takes places, so checking then adding is
/// exact. A [`Job`] gives its place back when it is dropped, even by a panic.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Counter {
    fn now(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Takes a place if fewer than `limit` are taken.
    fn take(&self, limit: usize) -> bool {
        if self.now() >= limit {
            return false;
        }
        self.0.fetch_add(1, Ordering::AcqRel);
        true
    }

    fn give_back(&self) {
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
    if let Some(expired) = deadline::Expired::of(&err) {
        return log.out(expired.line(addr));
    }
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

    /// A connected client costs its thread's closure, kept for as long as it stays: the job
    /// stays within 32 bytes where a socket is a 4-byte descriptor (see `spawn`).
    #[test]
    fn a_held_client_costs_a_small_job() {
        let limit = 28 + std::mem::size_of::<TcpStream>();
        assert!(
            std::mem::size_of::<Job>() <= limit.next_multiple_of(8),
            "Job is {} bytes",
            std::mem::size_of::<Job>()
        );
    }

    fn options() -> Options {
        Options {
            bind: "0.0.0.0".into(),
            port: 10500,
            max_clients: 10,
            max_per_address: Some(5),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }

    fn parse(args: &[&str]) -> Result<Options, Error> {
        let mut opts = options();
        let mut parser = Parser::new(args.iter().copied());
        while let Some(arg) = parser.next()? {
            if !opts.parse_arg(&arg, &mut parser)? {
                return Err(crate::core::cli::unexpected(arg));
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
            "--max-per-address",
            "0",
        ])
        .unwrap();
        assert_eq!(opts.bind, "::1");
        assert_eq!(opts.port, 0);
        assert_eq!(opts.max_clients, 2);
        assert_eq!(opts.idle_timeout, None);
        assert_eq!(opts.max_per_address, None);
        assert_eq!(
            parse(&["--max-per-address", "3"]).unwrap().max_per_address,
            Some(3)
        );
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
