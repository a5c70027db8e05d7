//! `print` for threads that share stdout: whole lines, written at once when alone, batched under load.
//!
//! A thread formats its line (on its own stack), appends it to the stream's
//! pending lines under a lock, and goes on: it never waits for a write, so
//! two clients' lines never mix and a slow terminal never slows a client
//! down. A writer thread per stream takes everything pending and writes it
//! in one system call. Alone, a line is written as soon as the writer wakes
//! (a log file can be tailed); under load, the lines that pile up while one
//! write is in progress go out together in the next, so a busy server, or a
//! UDP receiver keeping up with a fast sender, pays one write per batch, not
//! one per line.

use std::fmt::Display;
use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// Pending bytes past which a thread waits for the writer instead of adding more
/// (so a stalled stdout slows clients down instead of eating memory).
const MAX_PENDING: usize = 256 * 1024;

/// How long the writer, woken by a line after a quiet spell, waits for more before writing:
/// too short for a person to notice, long enough for a burst of lines to go out in one write.
const LINGER: std::time::Duration = std::time::Duration::from_micros(200);

/// A handle to the shared output; clone it into each client thread.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Streams>,
}

struct Streams {
    out: Arc<Sink>,
    err: Arc<Sink>,
}

/// One output stream: the lines waiting for its writer thread.
struct Sink {
    state: Mutex<State>,
    /// Signalled when lines arrive (for the writer), and when a batch is written (for `flush` and a full buffer).
    changed: Condvar,
}

struct State {
    pending: Vec<u8>,
    /// The writer has taken a batch and not finished writing it.
    writing: bool,
    /// The write error (a closed pipe, a full disk) after which lines are dropped, so a server goes on.
    failed: Option<io::Error>,
    /// Every `Log` is gone: the writer writes what is pending and ends.
    closed: bool,
    /// The stream, until the first line starts the writer thread with it (a stream never
    /// printed to, like stderr most of the time, costs no thread).
    unstarted: Option<Box<dyn Write + Send>>,
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
        self.inner.out.wait_written();
        self.inner.err.wait_written();
    }

    /// Why stdout stopped, once writing to it has failed (whoever read it has gone, or the disk is
    /// full); lines printed since then were dropped. The writer finds out when it writes, so this
    /// can say so a line or two after the line that failed.
    pub fn stdout_failed(&self) -> Option<io::Error> {
        let state = self.inner.out.lock();
        let err = state.failed.as_ref()?;
        Some(match err.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => err.kind().into(),
        })
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.out.close();
        self.err.close();
    }
}

impl Sink {
    fn new(writer: Box<dyn Write + Send>) -> Arc<Sink> {
        Arc::new(Sink {
            state: Mutex::new(State {
                pending: Vec::new(),
                writing: false,
                failed: None,
                closed: false,
                unstarted: Some(writer),
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the lines are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn push(self: &Arc<Self>, line: impl Display) {
        // Formatted before taking the lock: with a thousand threads logging, the lock is held only for a copy.
        let mut text = LineBuf::default();
        // Writing into memory cannot fail; a Display impl that errors leaves a partial line, still ended.
        let _ = writeln!(text, "{line}");
        let mut state = self.lock();
        if let Some(writer) = state.unstarted.take() {
            self.start_writer(&mut state, writer);
        }
        while state.pending.len() >= MAX_PENDING && state.failed.is_none() {
            state = self.wait(state);
        }
        if state.failed.is_some() {
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(text.as_bytes());
        // A writer in the middle of a write looks at `pending` again when it is done; an idle one
        // needs waking, once (a line already pending has woken it).
        if was_empty && !state.writing {
            self.changed.notify_all();
        }
    }

    fn start_writer(self: &Arc<Self>, state: &mut State, writer: Box<dyn Write + Send>) {
        let sink = Arc::clone(self);
        let started = thread::Builder::new()
            .name("log writer".into())
            .spawn(move || sink.write_lines(writer));
        if let Err(err) = started {
            // Without a writer nothing can be printed; say why once, where it can still be seen.
            let _ = writeln!(io::stderr(), "cannot start the log writer: {err}");
            state.failed = Some(err);
        }
    }

    /// The writer thread: takes whatever is pending and writes it, until every `Log` is gone.
    fn write_lines(&self, mut writer: Box<dyn Write + Send>) {
        let mut batch = Vec::new();
        let mut state = self.lock();
        loop {
            if state.pending.is_empty() && !state.closed {
                while state.pending.is_empty() && !state.closed {
                    state = self.wait(state);
                }
                // Woken by a first line: let more gather for a moment, so a burst is one write.
                drop(state);
                thread::sleep(LINGER);
                state = self.lock();
            }
            if state.pending.is_empty() {
                return;
            }
            mem::swap(&mut batch, &mut state.pending);
            state.writing = true;
            drop(state);
            let written = writer.write_all(&batch).and_then(|()| writer.flush());
            batch.clear();
            state = self.lock();
            state.writing = false;
            if let Err(err) = written {
                state.pending.clear();
                state.failed = Some(err);
            }
            // For `flush` and threads waiting for room.
            self.changed.notify_all();
        }
    }

    fn wait_written(&self) {
        let mut state = self.lock();
        while (state.writing || !state.pending.is_empty()) && state.failed.is_none() {
            state = self.wait(state);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

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
        log.flush();
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
    fn a_line_alone_is_written_in_a_write_of_its_own() {
        let out = Shared::default();
        let log = Log::to(Box::new(out.clone()), Box::new(io::sink()));
        for i in 0..3 {
            log.out(format_args!("line {i}"));
            // `flush` only waits: nothing held the line back for more to come.
            log.flush();
            assert_eq!(out.writes.load(Ordering::SeqCst), i + 1);
        }
        assert_eq!(out.text(), "line 0\nline 1\nline 2\n");
    }

    /// A writer whose first write waits for the test's go-ahead.
    struct Gate {
        out: Shared,
        started: mpsc::Sender<()>,
        go: Option<mpsc::Receiver<()>>,
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
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        let gate = Gate {
            out: out.clone(),
            started: started_tx,
            go: Some(go_rx),
        };
        let log = Log::to(Box::new(gate), Box::new(io::sink()));
        log.out("first");
        // The writer is now stuck in its first write; these return at once all the same.
        started_rx.recv().unwrap();
        for i in 0..100 {
            log.out(format_args!("line {i}"));
        }
        go_tx.send(()).unwrap();
        log.flush();
        let expected: Vec<String> = std::iter::once("first".to_string())
            .chain((0..100).map(|i| format!("line {i}")))
            .collect();
        assert_eq!(out.text().lines().collect::<Vec<_>>(), expected);
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
        log.flush();
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
        log.flush();
        assert_eq!(
            log.stdout_failed().map(|e| e.kind()),
            Some(io::ErrorKind::BrokenPipe)
        );
        log.out("dropped, not waited for");
        log.err("kept");
        log.flush();
        assert_eq!(err.text(), "kept\n");
    }

    #[test]
    fn the_writer_ends_with_the_last_log_and_writes_what_was_pending() {
        let out = Shared::default();
        let log = Log::to(Box::new(out.clone()), Box::new(io::sink()));
        let writer = Arc::clone(&log.inner.out);
        log.out("last words");
        drop(log);
        // The writer holds the only other reference; it lets go when it ends.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&writer) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never ended"
            );
            thread::yield_now();
        }
        assert_eq!(out.text(), "last words\n");
    }
}
