//! Line-atomic output shared by client threads: whole lines, written promptly, batched under load.
//!
//! A thread hands a whole line to the log; the line is appended to a pending
//! buffer under a lock, so two clients' lines never mix inside a line. If no
//! thread is writing at that moment, this one becomes the writer: it writes
//! the pending lines (and any that arrive meanwhile) and flushes, then goes
//! back to its client. Alone, each line is written and flushed at once, with
//! no other thread to wake (a log file can be tailed); under load, the lines
//! that pile up while one write is in progress go out together in the next
//! one, so logging costs one system call per batch, not per line.

use std::fmt::Display;
use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Pending bytes past which a thread waits for the writer instead of adding more
/// (so a stalled stdout slows clients down instead of eating memory).
const MAX_PENDING: usize = 256 * 1024;

/// A handle to the shared output; clone it into each client thread.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Streams>,
}

struct Streams {
    out: Sink,
    err: Sink,
}

/// One output stream and the lines waiting for it.
struct Sink {
    state: Mutex<State>,
    /// Signalled when a writer finishes, for threads waiting on a full buffer or in `flush`.
    idle: Condvar,
}

struct State {
    pending: Vec<u8>,
    /// The buffer the writer last used, kept to reuse its capacity.
    spare: Vec<u8>,
    /// The stream itself; `None` while a thread is writing to it.
    writer: Option<Box<dyn Write + Send>>,
    /// After a write error (a closed pipe, a full disk) lines are dropped, so the server goes on.
    broken: bool,
    /// Threads waiting on `idle`; the writer only signals when there are some.
    waiting: usize,
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

    /// Writes one line (without its newline) to stdout.
    ///
    /// Pass `format_args!(..)` rather than `format!(..)`: the line is then
    /// formatted straight into the shared buffer, and a client thread that
    /// logs allocates nothing (which, for ten thousand idle clients, is
    /// memory their threads never hold).
    pub fn out(&self, line: impl Display) {
        self.inner.out.push(line);
    }

    /// Writes one line (without its newline) to stderr; see [`Log::out`].
    pub fn err(&self, line: impl Display) {
        self.inner.err.push(line);
    }

    /// Waits until every line given so far has been written and flushed (call before exiting).
    pub fn flush(&self) {
        self.inner.out.wait_idle();
        self.inner.err.wait_idle();
    }
}

impl Sink {
    fn new(writer: Box<dyn Write + Send>) -> Sink {
        Sink {
            state: Mutex::new(State {
                pending: Vec::new(),
                spare: Vec::new(),
                writer: Some(writer),
                broken: false,
                waiting: 0,
            }),
            idle: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the buffer is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.waiting += 1;
        let mut state = self
            .idle
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting -= 1;
        state
    }

    fn push(&self, line: impl Display) {
        // Formatted before taking the lock, into the stack when it fits: with a thousand
        // threads logging, the lock is held only for a copy, so a thread descheduled while
        // holding it stalls the others for as short a time as possible.
        let mut text = LineBuf::default();
        // Writing into memory cannot fail; a Display impl that errors leaves a partial line, still ended.
        let _ = writeln!(text, "{line}");
        let mut state = self.lock();
        while state.pending.len() >= MAX_PENDING && state.writer.is_none() {
            state = self.wait(state);
        }
        if state.broken {
            return;
        }
        state.pending.extend_from_slice(text.as_bytes());
        let Some(mut writer) = state.writer.take() else {
            // Another thread is writing; it will take this line with the next batch.
            return;
        };
        loop {
            let spare = mem::take(&mut state.spare);
            let mut batch = mem::replace(&mut state.pending, spare);
            drop(state);
            let written = writer.write_all(&batch).and_then(|()| writer.flush());
            batch.clear();
            state = self.lock();
            state.spare = batch;
            if written.is_err() {
                state.broken = true;
                state.pending.clear();
            }
            if state.pending.is_empty() {
                break;
            }
        }
        state.writer = Some(writer);
        if state.waiting > 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let mut state = self.lock();
        while state.writer.is_none() {
            state = self.wait(state);
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
    use std::sync::{Arc, Mutex};
    use std::thread;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
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
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8000);
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 5, "{line}");
            assert_eq!(words[4].len(), 100, "{line}");
        }
        let errs = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        assert_eq!(errs.lines().count(), 8);
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

    /// A writer whose first write waits for the test's go-ahead, and which counts its writes.
    struct Gate {
        out: Shared,
        writes: Arc<Mutex<usize>>,
        go: Option<std::sync::mpsc::Receiver<()>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(go) = self.go.take() {
                go.recv().unwrap();
            }
            *self.writes.lock().unwrap() += 1;
            self.out.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_given_during_a_write_go_out_together_in_the_next() {
        let out = Shared::default();
        let writes = Arc::new(Mutex::new(0));
        let (go_tx, go_rx) = std::sync::mpsc::channel();
        let gate = Gate {
            out: out.clone(),
            writes: Arc::clone(&writes),
            go: Some(go_rx),
        };
        let log = Log::to(Box::new(gate), Box::new(io::sink()));
        let first = {
            let log = log.clone();
            thread::spawn(move || log.out("first"))
        };
        // Wait until that thread has become the writer (it holds the stream while it writes).
        while log.inner.out.lock().writer.is_some() {
            thread::yield_now();
        }
        // These return at once: the writer is busy, so they only join the pending batch.
        for i in 0..100 {
            log.out(format_args!("line {i}"));
        }
        go_tx.send(()).unwrap();
        first.join().unwrap();
        log.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let expected: Vec<String> = std::iter::once("first".to_string())
            .chain((0..100).map(|i| format!("line {i}")))
            .collect();
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        assert_eq!(
            *writes.lock().unwrap(),
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
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            expected
        );
    }

    #[test]
    fn a_closed_stdout_does_not_stop_stderr() {
        let err = Shared::default();
        let log = Log::to(Box::new(Closed), Box::new(err.clone()));
        log.out("lost");
        log.err("kept");
        log.flush();
        assert_eq!(&*err.0.lock().unwrap(), b"kept\n");
    }
}
