//! What both TCP servers' accept loops stand on: the shared options, the listener and its `listening on` line, failed accepts, and how a client's session ended.
//!
//! The loop itself is in each server's binary, in the Rust Cookbook's shape:
//! accept, admit (`admission`), spawn a thread that owns the stream. Nothing
//! a single client does (a failed accept, a reset, a hang) can end the loop:
//! a failed accept is logged here ([`Listener::accept`]), at most once a
//! second, and the loop goes on; a client's error is logged by its own thread
//! ([`log_end`]).
//! `--idle-timeout` is the read and write timeout of each accepted socket; a
//! server that reads requests of its own sets tighter deadlines per read and
//! write (`deadline`).

pub mod deadline;

use crate::core::cli::{describe_io, Arg, Error, Parser};
use crate::core::errno;
use crate::core::fold::Fold;
use crate::core::net;
use crate::core::trace::{self, Stream};
use crate::{eprintln, println};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

/// Stack reserved for each client thread. The 2 MiB default is address space, not memory: a
/// thread uses only the pages it touches. But ten thousand threads would reserve 20 GiB, which
/// a system with strict overcommit (`vm.overcommit_memory=2`) or a 32-bit one refuses; 64 KiB
/// is 640 MiB for them. Our handlers need a few KiB (a 1 KiB read buffer, a formatted line);
/// `tests/tcp.rs` (`every_handler_path_runs_in_the_client_stack`) runs tcp_server's in this
/// stack, and `tests/download.rs` download_server's.
pub const CLIENT_STACK_BYTES: usize = 64 * 1024;

/// How long the accept loop pauses after running out of file descriptors or memory, so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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
    /// Takes one of the shared server options; any other argument is refused as unknown.
    pub fn parse(&mut self, arg: Arg, parser: &mut Parser) -> Result<(), Error> {
        match arg {
            Arg::Long("bind") => self.bind = parser.string()?,
            Arg::Long("port") => self.port = parser.parse("a port number from 0 to 65535")?,
            Arg::Long("max-clients") => {
                let n: usize = parser.parse("a number of clients, at least 1")?;
                if n == 0 {
                    return Err(Error::usage("--max-clients must be at least 1"));
                }
                self.max_clients = n;
            }
            Arg::Long("max-per-address") => {
                let n: usize = parser.parse("a number of connections (0 = no limit)")?;
                self.max_per_address = (n > 0).then_some(n);
            }
            Arg::Long("idle-timeout") => self.idle_timeout = parser.seconds()?,
            arg => return Err(arg.unexpected()),
        }
        Ok(())
    }

    /// Creates the socket, binds it and listens (the Python's steps 1-3, one call in Rust).
    pub fn listen(&self) -> Result<Listener, Error> {
        let listener = net::bind_tcp(&self.bind, self.port)?;
        Ok(Listener {
            listener,
            idle_timeout: self.idle_timeout,
            failed: Repeats::default(),
        })
    }
}

/// A listening socket whose clients come traced (`--trace`) and with `--idle-timeout` set.
pub struct Listener {
    listener: TcpListener,
    idle_timeout: Option<Duration>,
    failed: Repeats,
}

impl Listener {
    /// The address actually bound (the port `--port 0` picked).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", &e))
    }

    /// Waits for the next client: the Python's `accept()`.
    ///
    /// A failed accept is logged here, the same error at most once a second, and when the
    /// process is out of descriptors or memory it pauses a moment, so that the loop that
    /// goes on to the next client does not spin until one leaves.
    pub fn accept(&mut self) -> io::Result<(Stream, SocketAddr)> {
        self.try_accept().inspect_err(|err| self.log_failed(err))
    }

    fn try_accept(&self) -> io::Result<(Stream, SocketAddr)> {
        let (stream, addr) = self.listener.accept().inspect_err(trace::accept_failed)?;
        let stream = Stream::accepted(stream, addr);
        // A client that stops reading is as idle as one that stops writing.
        stream.set_read_timeout(self.idle_timeout)?;
        stream.set_write_timeout(self.idle_timeout)?;
        Ok((stream, addr))
    }

    fn log_failed(&mut self, err: &io::Error) {
        if let Some(line) = self.failed.line(err) {
            eprintln!("{line}");
        }
        if is_resource_exhaustion(err) {
            thread::sleep(ACCEPT_BACKOFF);
        }
    }
}

/// Prints the `listening on IP:PORT` line and flushes it at once: scripts and tests wait for it.
pub fn announce(addr: SocketAddr) {
    println!("listening on {addr}");
    crate::core::print::flush();
}

/// Logs failed accepts without flooding: out of file descriptors, accept fails again every
/// [`ACCEPT_BACKOFF`] until a client leaves, so the same error is logged at most once a
/// second, with how often it happened meanwhile (a [`Fold`] of one line a second).
struct Repeats {
    last: Option<String>,
    fold: Fold,
}

impl Default for Repeats {
    fn default() -> Repeats {
        Repeats {
            last: None,
            fold: Fold::new(1),
        }
    }
}

impl Repeats {
    /// What to log for this failed accept, if anything (a repeat within a second is only counted).
    fn line(&mut self, err: &io::Error) -> Option<String> {
        let what = describe_io(err);
        let now = Instant::now();
        let mut before = None;
        if self.last.as_ref() != Some(&what) {
            // Another error: what the last one's second counted is said first.
            if let (Some(last), Some((n, _))) = (&self.last, self.fold.restart(now)) {
                before = Some(format!("accept failed: {last} ({n} more times)"));
            }
            self.last = Some(what.clone());
        }
        let turn = self.fold.turn(now);
        let line = match turn.folded {
            Some((n, over)) => format!(
                "accept failed: {what} ({} times in the last {} s)",
                n + 1,
                over.as_secs()
            ),
            None => format!("accept failed: {what}"),
        };
        let line = turn.print.then_some(line);
        match (before, line) {
            (Some(before), Some(line)) => Some(format!("{before}\n{line}")),
            (before, line) => before.or(line),
        }
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

/// Logs how a client's session ended, from the thread that served it: nothing when it ended
/// well, one line for a deadline, an idle timeout or a lost connection, an error line otherwise.
pub fn log_end(addr: SocketAddr, idle: Option<Duration>, outcome: io::Result<()>) {
    let Err(err) = outcome else {
        return;
    };
    if let Some(expired) = deadline::Expired::of(&err) {
        return println!("{}", expired.line(addr));
    }
    match err.kind() {
        _ if is_timeout(&err) => {
            let secs = idle.map(|d| d.as_secs()).unwrap_or(0);
            println!("idle timeout: nothing sent or read by {addr} for {secs} s, disconnected");
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            println!("connection lost: {addr} ({})", describe_io(&err));
        }
        _ => eprintln!("{addr}: error: {}", describe_io(&err)),
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
            max_per_address: Some(5),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }

    fn parse(args: &[&str]) -> Result<Options, Error> {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let mut opts = options();
        let mut parser = Parser::new(&args);
        while let Some(arg) = parser.next()? {
            opts.parse(arg, &mut parser)?;
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
        let mut repeats = Repeats::default();
        let emfile = io::Error::other("Too many open files");
        let mut lines = Vec::new();
        for _ in 0..50 {
            lines.extend(repeats.line(&emfile));
        }
        lines.extend(repeats.line(&io::Error::from(io::ErrorKind::ConnectionAborted)));
        assert_eq!(
            lines.join("\n"),
            "accept failed: too many open files\n\
             accept failed: too many open files (49 more times)\n\
             accept failed: connection aborted"
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
