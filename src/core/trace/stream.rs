//! A TCP stream that `--trace` can watch: `recv`, `send`, `shutdown` and `close` on it are traced, and a bulk transfer is summarised.
//!
//! Everything the library reads or writes on a TCP connection goes through a
//! [`Stream`]; without `--trace` it is the `TcpStream` and an empty `Option`.
//! A long run of reads (or of writes) in one direction, a file's bytes, shows
//! its first [`SHOW_BYTES`] one operation a line, then one summary line per
//! [`SUMMARY_BYTES`] and one when the run ends: a 1 GiB download is a few
//! dozen lines, and every read of a small exchange is visible.
//!
//! In the trace file each connection has a name (`t1`) and each `send` and
//! `recv` the offset of its first byte in its direction (`at=`): the bytes a
//! send put at offsets 0..5 are the bytes the peer's recvs read at 0..5.

use super::{data, family, note, tracer, Bytes, Fields, Tracer, Way};
use crate::core::cli::describe_io;
use std::fmt::Display;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// Bytes of a run in one direction shown one operation a line.
const SHOW_BYTES: u64 = 256 * 1024;

/// Past [`SHOW_BYTES`], one summary line per this many bytes.
const SUMMARY_BYTES: u64 = 64 * 1024 * 1024;

/// A connected TCP socket, traced with `--trace`. Read and write it as a `TcpStream`
/// (through `&mut Stream` or `&Stream`); its other methods are the `TcpStream`'s.
#[derive(Debug)]
pub struct Stream {
    /// Shared only with [`Closer`]s, which do not keep it open: the socket closes when this drops.
    inner: Arc<TcpStream>,
    /// `None` unless `--trace` was given.
    traced: Option<Box<Traced>>,
}

#[derive(Debug)]
struct Traced {
    tracer: &'static Tracer,
    /// `[IP:PORT]`, the peer, at the start of each line.
    label: String,
    /// The connection's name in the trace file (`t1`).
    conn: String,
    /// Bytes sent and received so far, shared with the clones (`try_clone`).
    offsets: Arc<Offsets>,
    run: Mutex<Run>,
    /// A second handle (`try_clone`): closing it closes nothing the Python would.
    clone: bool,
}

/// The operations in one direction since the last change of direction.
#[derive(Debug, Default)]
struct Run {
    way: Option<Way>,
    bytes: u64,
    /// Operations and bytes not shown one by one, since the last summary.
    hidden_ops: u64,
    hidden_bytes: u64,
    /// The offset of the first byte not shown.
    hidden_at: u64,
}

/// How many bytes went each way on a connection: the next send's and recv's offsets.
#[derive(Debug, Default)]
struct Offsets {
    sent: AtomicU64,
    received: AtomicU64,
}

impl Offsets {
    fn of(&self, way: Way) -> &AtomicU64 {
        match way {
            Way::Sent => &self.sent,
            Way::Received => &self.received,
        }
    }
}

impl Stream {
    /// A stream accepted by a listener; traces the Python's `accept`, where it returns.
    pub fn accepted(inner: TcpStream, peer: SocketAddr) -> Stream {
        let stream = Stream::new(inner, peer);
        if let Some(t) = &stream.traced {
            let local = stream.inner.local_addr().ok();
            t.tracer.line(
                &t.conn,
                "accept",
                |f| {
                    if let Some(local) = local {
                        f.addr("local", local);
                    }
                    f.addr("peer", peer);
                },
                format_args!("accept -> {peer}"),
            );
        }
        stream
    }

    /// A stream this side connected to `peer`; traces the Python's `socket` and `connect`.
    pub fn connected(inner: TcpStream, peer: SocketAddr) -> Stream {
        let stream = Stream::new(inner, peer);
        if let Some(t) = &stream.traced {
            t.tracer.line(
                &t.conn,
                "socket",
                |f| {
                    f.word("family", family(peer)).word("type", "SOCK_STREAM");
                },
                format_args!("socket {} SOCK_STREAM", family(peer)),
            );
            let local = stream.inner.local_addr().ok();
            let fields = |f: &mut Fields| {
                if let Some(local) = local {
                    f.addr("local", local);
                }
                f.addr("peer", peer);
            };
            match local {
                Some(local) => t.tracer.line(
                    &t.conn,
                    "connect",
                    fields,
                    format_args!("connect {peer} -> from {local}"),
                ),
                None => t
                    .tracer
                    .line(&t.conn, "connect", fields, format_args!("connect {peer}")),
            }
        }
        stream
    }

    fn new(inner: TcpStream, peer: SocketAddr) -> Stream {
        let traced = tracer().map(|tracer| {
            Box::new(Traced {
                tracer,
                label: format!("[{peer}]"),
                conn: tracer.connection('t'),
                offsets: Arc::default(),
                run: Mutex::new(Run::default()),
                clone: false,
            })
        });
        Stream {
            inner: Arc::new(inner),
            traced,
        }
    }

    /// A way to shut this connection down from another thread, which does not keep it
    /// open: admission closes an idle client so when it makes room for a newcomer.
    pub fn closer(&self) -> Closer {
        Closer {
            socket: Arc::downgrade(&self.inner),
            traced: self
                .traced
                .as_ref()
                .map(|t| (t.tracer, t.label.clone(), t.conn.clone())),
        }
    }

    /// One frame of the file protocol, decoded, after the reads that carried it or before
    /// the write that sends it (`-> DOWNLOAD "notes.txt" ...`); nothing without `--trace`.
    pub fn frame(&self, way: Way, frame: impl Display) {
        if let Some(t) = &self.traced {
            let dir = match way {
                Way::Sent => "out",
                Way::Received => "in",
            };
            t.event(
                "frame",
                |f| {
                    f.word("dir", dir);
                },
                format_args!("{} {frame}", way.arrow()),
            );
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking)
    }

    /// Looks at the next byte without taking it (not traced: the data is read again).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf)
    }

    /// The Python's `shutdown(how)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let result = self.inner.shutdown(how);
        if let Some(t) = &self.traced {
            let how = match how {
                Shutdown::Read => "SHUT_RD",
                Shutdown::Write => "SHUT_WR",
                Shutdown::Both => "SHUT_RDWR",
            };
            match &result {
                Ok(()) => t.event(
                    "shutdown",
                    |f| {
                        f.word("how", how);
                    },
                    format_args!("shutdown({how})"),
                ),
                Err(e) => t.event(
                    "shutdown",
                    |f| {
                        f.word("how", how).text("error", &describe_io(e));
                    },
                    format_args!("shutdown({how}) -> error: {}", describe_io(e)),
                ),
            }
        }
        result
    }

    /// A second handle on the same socket, traced like this one (its drop is not a `close`).
    pub fn try_clone(&self) -> io::Result<Stream> {
        let traced = self.traced.as_ref().map(|t| {
            Box::new(Traced {
                tracer: t.tracer,
                label: t.label.clone(),
                conn: t.conn.clone(),
                offsets: Arc::clone(&t.offsets),
                run: Mutex::new(Run::default()),
                clone: true,
            })
        });
        Ok(Stream {
            inner: Arc::new(self.inner.try_clone()?),
            traced,
        })
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let result = (&*self.inner).read(buf);
        if let Some(t) = &self.traced {
            let got = result.as_ref().ok().map(|&n| &buf[..n]);
            t.op(Way::Received, buf.len(), got, &result);
        }
        result
    }

    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let result = (&*self.inner).write(buf);
        if let Some(t) = &self.traced {
            let sent = result.as_ref().ok().map(|&n| &buf[..n]);
            t.op(Way::Sent, buf.len(), sent, &result);
        }
        result
    }
}

/// A [`Stream`]'s `shutdown(SHUT_RDWR)`, callable from any thread while the stream is open.
#[derive(Debug)]
pub struct Closer {
    socket: Weak<TcpStream>,
    traced: Option<(&'static Tracer, String, String)>,
}

impl Closer {
    /// Shuts the connection down in both directions: its peer sees the close, and the
    /// thread that reads it sees the end of the stream (on Linux and macOS at once; on
    /// Windows a read already waiting goes on until its timeout). Nothing if it has closed.
    pub fn shutdown(&self) {
        let Some(socket) = self.socket.upgrade() else {
            return;
        };
        let result = socket.shutdown(Shutdown::Both);
        if let Some((tracer, label, conn)) = &self.traced {
            match &result {
                Ok(()) => tracer.line(
                    conn,
                    "shutdown",
                    |f| {
                        f.word("how", "SHUT_RDWR");
                    },
                    format_args!("{label} shutdown(SHUT_RDWR)"),
                ),
                Err(e) => tracer.line(
                    conn,
                    "shutdown",
                    |f| {
                        f.word("how", "SHUT_RDWR").text("error", &describe_io(e));
                    },
                    format_args!("{label} shutdown(SHUT_RDWR) -> error: {}", describe_io(e)),
                ),
            }
        }
    }
}

impl Traced {
    fn lock(&self) -> std::sync::MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A line that is not a read or a write: it ends the run.
    fn event(&self, call: &str, fields: impl FnOnce(&mut Fields), line: impl Display) {
        let mut run = self.lock();
        self.end_run(&mut run);
        self.line(call, fields, line);
    }

    /// One line of this connection: `[IP:PORT] line`.
    fn line(&self, call: &str, fields: impl FnOnce(&mut Fields), line: impl Display) {
        self.tracer.line(
            &self.conn,
            call,
            fields,
            format_args!("{} {line}", self.label),
        );
    }

    fn end_run(&self, run: &mut Run) {
        self.summary(run);
        *run = Run::default();
    }

    fn summary(&self, run: &mut Run) {
        if run.hidden_ops == 0 {
            return;
        }
        let name = match run.way {
            Some(Way::Sent) => "send",
            _ => "recv",
        };
        let (ops, n, at) = (run.hidden_ops, run.hidden_bytes, run.hidden_at);
        self.line(
            "bulk",
            |f| {
                f.word("dir", name)
                    .num("ops", ops)
                    .num("n", n)
                    .num("at", at);
            },
            format_args!(
                "... {ops} more {name} -> {} (bulk data, not shown one by one)",
                Bytes(n)
            ),
        );
        run.hidden_ops = 0;
        run.hidden_bytes = 0;
    }

    /// One `recv(asked)` or `send` of `asked` bytes; `moved` is what it moved.
    fn op(&self, way: Way, asked: usize, moved: Option<&[u8]>, result: &io::Result<usize>) {
        let mut run = self.lock();
        if run.way != Some(way) {
            self.end_run(&mut run);
            run.way = Some(way);
        }
        let call = match way {
            Way::Received => "recv",
            Way::Sent => "send",
        };
        let offset = self.offsets.of(way);
        let bytes = match (moved, result) {
            (Some(bytes), _) if !bytes.is_empty() => bytes,
            (_, Err(e)) => {
                self.end_run(&mut run);
                let at = offset.load(Ordering::Relaxed);
                return self.line(
                    call,
                    |f| {
                        f.num("asked", asked as u64)
                            .num("at", at)
                            .text("error", &describe_io(e));
                    },
                    format_args!("{call}({asked}) -> error: {}", describe_io(e)),
                );
            }
            _ => {
                // Nothing moved: a read of 0 is the peer's close, a write of 0 a full stop.
                self.end_run(&mut run);
                let at = offset.load(Ordering::Relaxed);
                let fields = |f: &mut Fields| {
                    f.num("asked", asked as u64).num("n", 0).num("at", at);
                };
                return match way {
                    Way::Received => self.line(
                        call,
                        fields,
                        format_args!("recv({asked}) -> 0 bytes (peer closed)"),
                    ),
                    Way::Sent => self.line(call, fields, format_args!("send({asked}) -> 0 bytes")),
                };
            }
        };
        let n = bytes.len() as u64;
        let at = offset.fetch_add(n, Ordering::Relaxed);
        if run.bytes >= SHOW_BYTES {
            if run.hidden_ops == 0 {
                run.hidden_at = at;
            }
            run.hidden_ops += 1;
            run.hidden_bytes += n;
            run.bytes += n;
            if run.hidden_bytes >= SUMMARY_BYTES {
                self.summary(&mut run);
            }
            return;
        }
        run.bytes += n;
        let shown = data(bytes, self.tracer.encoding);
        let fields = |f: &mut Fields| {
            f.num("asked", asked as u64)
                .num("n", n)
                .num("at", at)
                .data(bytes);
        };
        match way {
            Way::Received => self.line(
                call,
                fields,
                format_args!("recv({asked}) -> {} {shown}", Bytes(n)),
            ),
            Way::Sent if n == asked as u64 => {
                self.line(call, fields, format_args!("send {} {shown}", Bytes(n)))
            }
            Way::Sent => self.line(
                call,
                fields,
                format_args!("send({asked}) -> {} {shown}", Bytes(n)),
            ),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some(t) = &self.traced {
            if !t.clone {
                t.event("close", |_| {}, "close");
            }
        }
    }
}

/// A stream from elsewhere (a test's `TcpStream::connect`), traced like any other.
impl From<TcpStream> for Stream {
    fn from(inner: TcpStream) -> Stream {
        let peer = inner
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        Stream::new(inner, peer)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Traces what `TcpListener::bind` did in one call: the Python's `socket`, `bind` and `listen`.
pub(crate) fn listening(listener: &TcpListener) {
    if tracer().is_none() {
        return;
    }
    if let Ok(addr) = listener.local_addr() {
        note(
            "socket",
            |f| {
                f.word("family", family(addr)).word("type", "SOCK_STREAM");
            },
            format_args!("socket {} SOCK_STREAM", family(addr)),
        );
        note(
            "bind",
            |f| {
                f.addr("local", addr);
            },
            format_args!("bind {addr}"),
        );
        // std's TcpListener::bind listens with a backlog of 128 on every platform we build for.
        note(
            "listen",
            |f| {
                f.addr("local", addr).num("backlog", 128);
            },
            format_args!("listen {addr} backlog 128"),
        );
    }
}

/// Traces a failed `accept`.
pub(crate) fn accept_failed(err: &io::Error) {
    note(
        "accept",
        |f| {
            f.text("error", &describe_io(err));
        },
        format_args!("accept -> error: {}", describe_io(err)),
    );
}

/// Traces a failed `connect`.
pub(crate) fn connect_failed(peer: SocketAddr, err: &io::Error) {
    note(
        "connect",
        |f| {
            f.addr("peer", peer).text("error", &describe_io(err));
        },
        format_args!("connect {peer} -> error: {}", describe_io(err)),
    );
}
