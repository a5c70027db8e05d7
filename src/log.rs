//! `print` for threads that share stdout: whole lines, written at once when alone, batched under load.
//!
//! A thread formats its line first (on its own stack), then takes the lock of
//! the stream and appends the line to a buffer, so two clients' lines never
//! mix. Before it lets go of the lock it flushes the buffer, unless other
//! threads are already waiting with lines of their own: then the last of them
//! flushes for everyone. Alone, every line is written at once (a log file can
//! be tailed); under load, the lines that pile up while one write is in
//! progress go out together, so logging costs one system call per batch, not
//! one per line.

use std::fmt::Display;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Bytes of lines a stream gathers at most before they are written, whoever is waiting.
const BATCH_BYTES: usize = 32 * 1024;

/// A handle to the shared output; clone it into each client thread.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Streams>,
}

struct Streams {
    out: Sink,
    err: Sink,
}

/// One output stream.
struct Sink {
    state: Mutex<State>,
    /// Threads waiting for `state` with a line to add; while there are some, the flush is theirs to do.
    waiting: AtomicUsize,
}

struct State {
    writer: BufWriter<Box<dyn Write + Send>>,
    /// The write error (a closed pipe, a full disk) after which lines are dropped, so a server goes on.
    failed: Option<io::Error>,
}

impl Log {
    /// Output to the process's stdout and stderr.
    pub fn stdio() -> Log {
        Log::to(Box::new(io::stdout()), Box::new(io::stderr()))
    }

    /// Output to any two writers (tests use buffers).
    pub fn to(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Log {
        Log {
            inner: Arc::new(Streams {
                out: Sink::new(out),
                err: Sink::new(err),
            }),
        }
    }

    /// Prints one line (without its newline) on stdout, like Python's `print`.
    ///
    /// Pass `format_args!(..)` rather than `format!(..)`: a short line is then
    /// formatted on the stack, and a client thread that logs allocates nothing
    /// (which, for ten thousand idle clients, is memory their threads never hold).
    pub fn out(&self, line: impl Display) {
        self.inner.out.push(line);
    }

    /// Prints one line (without its newline) on stderr; see [`Log::out`].
    pub fn err(&self, line: impl Display) {
        self.inner.err.push(line);
    }

    /// Waits until every line given so far has been written and flushed (call before exiting).
    pub fn flush(&self) {
        self.inner.out.flush();
        self.inner.err.flush();
    }

    /// Why stdout stopped, once writing to it has failed (whoever read it has gone, or the disk is
    /// full); lines printed since then were dropped.
    pub fn stdout_failed(&self) -> Option<io::Error> {
        let state = self.inner.out.lock();
        let err = state.failed.as_ref()?;
        Some(match err.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => err.kind().into(),
        })
    }
}

impl Sink {
    fn new(writer: Box<dyn Write + Send>) -> Sink {
        Sink {
            state: Mutex::new(State {
                writer: BufWriter::with_capacity(BATCH_BYTES, writer),
                failed: None,
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the stream is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, line: impl Display) {
        // Formatted before taking the lock: with a thousand threads logging,
        // the lock is held only for a copy (and, by one of them, a write).
        let mut text = LineBuf::default();
        // Writing into memory cannot fail; a Display impl that errors leaves a partial line, still ended.
        let _ = writeln!(text, "{line}");
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut state = self.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if state.failed.is_some() {
            return;
        }
        let mut written = state.writer.write_all(text.as_bytes());
        // Every thread counted in `waiting` takes the lock after us and checks this again,
        // so the last line of a burst is always flushed.
        if self.waiting.load(Ordering::SeqCst) == 0 {
            written = written.and_then(|()| state.writer.flush());
        }
        if let Err(err) = written {
            state.failed = Some(err);
        }
    }

    fn flush(&self) {
        let mut state = self.lock();
        if state.failed.is_none() {
            if let Err(err) = state.writer.flush() {
                state.failed = Some(err);
            }
        }
    }
}

/// One line being formatted: on the stack up to [`LineBuf::INLINE`] bytes, on the heap beyond,
/// so a short line costs no allocation (a client thread that logs keeps no heap memory).
struct LineBuf {
    inline: [u8; LineBuf::INLINE],
    len: usize,
    spilled: Vec<u8>,
}

impl LineBuf {
    const INLINE: usize = 256;

    fn as_bytes(&self) -> &[u8] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl Default for LineBuf {
    fn default() -> LineBuf {
        LineBuf {
            inline: [0; LineBuf::INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl Write for LineBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.spilled.is_empty() && self.len + buf.len() <= Self::INLINE {
            self.inline[self.len..self.len + buf.len()].copy_from_slice(buf);
            self.len += buf.len();
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    /// A writer the test can read back, counting the writes it was given.
    #[derive(Clone, Default)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_never_mix() {
        let (out, err) = (Shared::default(), Shared::default());
        let log = Log::to(Box::new(out.clone()), Box::new(err.clone()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                thread::spawn(move || {
                    for i in 0..1000 {
                        log.out(format_args!("thread {t} line {i} {}", "x".repeat(100)));
                    }
                    log.err(format_args!("thread {t} done"));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8000);
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 5, "{line}");
            assert_eq!(words[4].len(), 100, "{line}");
        }
        assert_eq!(err.text().lines().count(), 8);
    }

    #[test]
    fn a_line_alone_is_written_at_once() {
        let out = Shared::default();
        let log = Log::to(Box::new(out.clone()), Box::new(io::sink()));
        for i in 0..3 {
            log.out(format_args!("line {i}"));
            // No flush: a line is out as soon as `out` returns.
            assert_eq!(out.writes.load(Ordering::SeqCst), i + 1);
        }
        assert_eq!(out.text(), "line 0\nline 1\nline 2\n");
    }

    /// A writer whose first write waits for the test's go-ahead.
    struct Gate {
        out: Shared,
        go: Option<mpsc::Receiver<()>>,
        started: mpsc::Sender<()>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(go) = self.go.take() {
                self.started.send(()).unwrap();
                go.recv().unwrap();
            }
            self.out.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_given_during_a_write_go_out_together_in_the_next() {
        let out = Shared::default();
        let (go_tx, go_rx) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        let gate = Gate {
            out: out.clone(),
            go: Some(go_rx),
            started: started_tx,
        };
        let log = Log::to(Box::new(gate), Box::new(io::sink()));
        let first = {
            let log = log.clone();
            thread::spawn(move || log.out("first"))
        };
        // That thread is now writing, holding the stream.
        started_rx.recv().unwrap();
        let others: Vec<_> = (0..100)
            .map(|i| {
                let log = log.clone();
                thread::spawn(move || log.out(format_args!("line {i}")))
            })
            .collect();
        while log.inner.out.waiting.load(Ordering::SeqCst) < 100 {
            thread::yield_now();
        }
        go_tx.send(()).unwrap();
        first.join().unwrap();
        for t in others {
            t.join().unwrap();
        }
        let text = out.text();
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.remove(0), "first");
        lines.sort_by_key(|l| l[5..].parse::<u32>().unwrap());
        let expected: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        assert_eq!(lines, expected);
        assert_eq!(
            out.writes.load(Ordering::SeqCst),
            2,
            "the 100 lines went out in one write"
        );
    }

    #[test]
    fn long_lines_spill_to_the_heap_whole() {
        let out = Shared::default();
        let log = Log::to(Box::new(out.clone()), Box::new(io::sink()));
        let long = "x".repeat(LineBuf::INLINE * 3 + 7);
        log.out(format_args!("short"));
        log.out(format_args!("{}|{long}", "a".repeat(LineBuf::INLINE - 3)));
        let expected = format!("short\n{}|{long}\n", "a".repeat(LineBuf::INLINE - 3));
        assert_eq!(out.text(), expected);
    }

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_is_noticed_and_does_not_stop_stderr() {
        let err = Shared::default();
        let log = Log::to(Box::new(Closed), Box::new(err.clone()));
        assert!(log.stdout_failed().is_none());
        log.out("lost");
        assert_eq!(
            log.stdout_failed().map(|e| e.kind()),
            Some(io::ErrorKind::BrokenPipe)
        );
        log.err("kept");
        log.flush();
        assert_eq!(err.text(), "kept\n");
    }
}
