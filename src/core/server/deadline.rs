//! Deadlines for a client's socket, as Apache's `mod_reqtimeout` and nginx's timeouts set them: idle before a request, a bound on a request once begun, a minimum rate for a body.
//!
//! std's sockets have one timeout per direction, and it applies to each read
//! or write alone: a client that sends one byte just before it runs out is
//! never dropped by it, and holds its place for as long as it likes. So before
//! every read and write, [`Paced`] sets the socket's timeout to what is left
//! of the deadline that applies at that moment:
//!
//! - **idle**: before the first byte of a request, each read may wait
//!   `--idle-timeout` (a person may be deciding what to ask);
//! - **hello** and **request**: once a hello or a request frame has begun, all
//!   of it must arrive within `--hello-timeout` / `--request-timeout` of its
//!   first byte, however slowly it drips (nginx's `client_header_timeout`,
//!   Apache's `header=`);
//! - **body**: while the bytes of an upload, a download, a listing or a reply
//!   move, the client must keep up `--min-rate` bytes a second, with
//!   `--body-timeout` seconds of slack (Apache's `body=20,MinRate=500`; a stall
//!   of `--body-timeout` always ends it, as nginx's `client_body_timeout` and
//!   `send_timeout` do). Only the time the server spends waiting for the
//!   client counts: reading a disk or hashing a file is the server's time.
//!
//! A deadline that passes is an [`io::ErrorKind::TimedOut`] error that says
//! which one ([`explain`]), and the connection is closed.

use crate::core::admission;
use crate::core::cli::describe_io;
use crate::core::trace::Stream;
use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The deadlines of a server that reads requests (`download_server`); `None` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From the first byte of a hello to its last (and, for a client past a limit, from connect).
    pub hello: Option<Duration>,
    /// From the first byte of a request frame to its last.
    pub request: Option<Duration>,
    /// The longest a body may fall behind `min_rate` (and so the longest it may stall).
    pub body: Option<Duration>,
    /// Bytes per second a body must keep up; 0 = any rate, as long as it never stalls for `body`.
    pub min_rate: u64,
}

impl Default for Deadlines {
    /// Apache's `header=20` and `body=20,MinRate=500`, and a short hello.
    fn default() -> Deadlines {
        Deadlines {
            hello: Some(Duration::from_secs(10)),
            request: Some(Duration::from_secs(20)),
            body: Some(Duration::from_secs(20)),
            min_rate: 500,
        }
    }
}

/// Which deadline governs the socket now.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Before a request's first byte: each read may wait the idle timeout.
    Idle,
    /// A hello or a request frame has begun: all of it by `until`.
    Frame {
        stage: Stage,
        until: Option<Instant>,
    },
    /// A body moves: `slack` is how long the server may still wait for the client.
    Body {
        slack: Duration,
        moved: u64,
        waited: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Hello,
    Request,
}

/// A client's socket, read and written under the deadline that applies now (see the module's
/// comment). Read and write it through `&Paced`, as through `&Stream`.
#[derive(Debug)]
pub struct Paced<'s> {
    stream: &'s Stream,
    idle: Option<Duration>,
    deadlines: Deadlines,
    phase: Cell<Phase>,
}

impl<'s> Paced<'s> {
    /// In the idle phase: waiting for a request.
    pub fn new(stream: &'s Stream, idle: Option<Duration>, deadlines: Deadlines) -> Paced<'s> {
        Paced {
            stream,
            idle,
            deadlines,
            phase: Cell::new(Phase::Idle),
        }
    }

    /// The socket itself (for its options; read and write through `&Paced`).
    pub fn stream(&self) -> &'s Stream {
        self.stream
    }

    /// A hello has begun (or, for a client past a limit, the connection): the rest of it is
    /// due within `--hello-timeout` from now.
    pub fn hello(&self) {
        self.begin(Stage::Hello, self.deadlines.hello);
    }

    /// Waiting for the next request: idle, unless some of it has already arrived (`begun`),
    /// and then its frame is due within `--request-timeout` from now.
    pub fn await_request(&self, begun: bool) {
        // A server that is full may close a client between requests to make room (admission).
        admission::between_requests();
        if begun {
            self.begin(Stage::Request, self.deadlines.request);
        } else {
            self.phase.set(Phase::Idle);
        }
    }

    /// A body starts moving (an answer, an upload's bytes): the client must keep up
    /// `--min-rate`, with `--body-timeout` of slack.
    pub fn body(&self) {
        // ... but never one moving a transfer.
        admission::transferring();
        self.phase.set(Phase::Body {
            slack: self.deadlines.body.unwrap_or(Duration::MAX),
            moved: 0,
            waited: Duration::ZERO,
        });
    }

    /// Whether the client has gone (closed or reset its connection), asked without waiting:
    /// for long work the server does alone (hashing a file the client will not receive),
    /// which should not go on for nobody.
    pub fn client_gone(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let gone = match self.stream.peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ),
        };
        let _ = self.stream.set_nonblocking(false);
        gone
    }

    fn begin(&self, stage: Stage, limit: Option<Duration>) {
        let until = limit.and_then(|d| Instant::now().checked_add(d));
        self.phase.set(Phase::Frame { stage, until });
    }

    /// How long the next read or write may wait, or the deadline that has passed.
    fn time_left(&self) -> io::Result<Option<Duration>> {
        let left = match self.phase.get() {
            Phase::Idle => return Ok(self.idle),
            Phase::Frame { until: None, .. } => return Ok(None),
            Phase::Frame {
                until: Some(until), ..
            } => until.saturating_duration_since(Instant::now()),
            Phase::Body { .. } if self.deadlines.body.is_none() => return Ok(None),
            Phase::Body { slack, .. } => slack,
        };
        if left.is_zero() {
            return Err(self.expired());
        }
        Ok(Some(left))
    }

    /// After a read or write that waited `waited` and moved `n` bytes.
    fn account(&self, n: usize, waited: Duration) {
        let n = n as u64;
        match self.phase.get() {
            Phase::Idle if n > 0 => self.begin(Stage::Request, self.deadlines.request),
            Phase::Idle | Phase::Frame { .. } => {}
            Phase::Body {
                slack,
                moved,
                waited: before,
            } => {
                let window = self.deadlines.body.unwrap_or(Duration::MAX);
                let earned = match self.deadlines.min_rate {
                    _ if n == 0 => Duration::ZERO,
                    0 => window,
                    rate => Duration::from_nanos(
                        u64::try_from(u128::from(n) * 1_000_000_000 / u128::from(rate))
                            .unwrap_or(u64::MAX),
                    ),
                };
                let slack = slack.saturating_sub(waited).saturating_add(earned);
                self.phase.set(Phase::Body {
                    slack: slack.min(window),
                    moved: moved + n,
                    waited: before + waited,
                });
            }
        }
    }

    /// The error for the deadline of the current phase.
    fn expired(&self) -> io::Error {
        let expired = match self.phase.get() {
            Phase::Idle => Expired::Idle(self.idle.unwrap_or_default()),
            Phase::Frame {
                stage: Stage::Hello,
                ..
            } => Expired::Hello(self.deadlines.hello.unwrap_or_default()),
            Phase::Frame {
                stage: Stage::Request,
                ..
            } => Expired::Request(self.deadlines.request.unwrap_or_default()),
            Phase::Body { moved, waited, .. } => Expired::Body {
                moved,
                waited,
                window: self.deadlines.body.unwrap_or_default(),
                min_rate: self.deadlines.min_rate,
            },
        };
        io::Error::new(io::ErrorKind::TimedOut, expired)
    }

    /// One socket operation under the current deadline.
    fn paced(
        &self,
        set_timeout: impl Fn(&Stream, Option<Duration>) -> io::Result<()>,
        op: impl FnOnce(&Stream) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let left = self.time_left()?;
        set_timeout(self.stream, left)?;
        let started = Instant::now();
        let result = op(self.stream);
        let waited = started.elapsed();
        match result {
            Ok(n) => {
                self.account(n, waited);
                Ok(n)
            }
            Err(e) if super::is_timeout(&e) => {
                self.account(0, waited);
                Err(self.expired())
            }
            Err(e) => Err(e),
        }
    }
}

impl Read for &Paced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.paced(Stream::set_read_timeout, |mut s| s.read(buf))
    }
}

impl Write for &Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.paced(Stream::set_write_timeout, |mut s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Paced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which deadline passed, carried inside the `TimedOut` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expired {
    Idle(Duration),
    Hello(Duration),
    Request(Duration),
    Body {
        moved: u64,
        waited: Duration,
        window: Duration,
        min_rate: u64,
    },
}

impl Expired {
    /// The deadline inside `err`, if it is one of ours.
    pub fn of(err: &io::Error) -> Option<&Expired> {
        err.get_ref()?.downcast_ref::<Expired>()
    }

    /// The accept loop's line for a client dropped by this deadline.
    pub fn line(&self, addr: SocketAddr) -> String {
        match self {
            Expired::Idle(d) => format!(
                "idle timeout: nothing sent or read by {addr} for {} s, disconnected",
                d.as_secs()
            ),
            Expired::Hello(d) => format!(
                "hello timeout: {addr} did not finish its hello within {} s, disconnected",
                d.as_secs()
            ),
            Expired::Request(d) => format!(
                "request timeout: {addr} did not finish a request within {} s of its first byte, disconnected",
                d.as_secs()
            ),
            Expired::Body { .. } => format!("{self}: {addr} disconnected"),
        }
    }
}

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expired::Idle(d) => write!(f, "idle timeout: nothing for {} s", d.as_secs()),
            Expired::Hello(d) => write!(
                f,
                "hello timeout: not complete {} s after its first byte",
                d.as_secs()
            ),
            Expired::Request(d) => write!(
                f,
                "request timeout: not complete {} s after its first byte",
                d.as_secs()
            ),
            Expired::Body {
                moved,
                waited,
                window,
                min_rate,
            } => {
                let secs = window.as_secs();
                if *min_rate == 0 || *moved == 0 {
                    write!(f, "body timeout: nothing moved for {secs} s")
                } else {
                    write!(
                        f,
                        "too slow: {moved} bytes while waiting {:.1} s for the client, \
                         under --min-rate {min_rate} bytes/s with {secs} s of slack",
                        waited.as_secs_f64()
                    )
                }
            }
        }
    }
}

impl std::error::Error for Expired {}

/// An I/O error in plain words, saying which deadline passed when it is one of ours.
pub fn explain(err: &io::Error) -> String {
    match Expired::of(err) {
        Some(expired) => expired.to_string(),
        None => describe_io(err),
    }
}

/// How a transfer that stopped early ended, for its log line: `connection lost` and why, or
/// `dropped` and the deadline the client missed.
pub fn lost_or_dropped(err: &io::Error) -> (&'static str, String) {
    let verb = match Expired::of(err) {
        Some(_) => "dropped",
        None => "connection lost",
    };
    (verb, explain(err))
}
