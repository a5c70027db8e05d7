//! The machinery behind `println!`: one stream's pending lines and the writer thread that writes them in batches.
//!
//! A thread formats its line, appends it to the pending bytes under a lock,
//! and goes on: it never waits for a write, so two clients' lines never mix
//! and a slow terminal never slows a client down. The writer takes everything
//! pending and writes it in one system call. Alone, a line is written as soon
//! as the writer wakes (a log file can be tailed); under load, the lines that
//! pile up while one write is in progress go out together in the next, so a
//! busy server, or a UDP receiver keeping up with a fast sender, pays one
//! write per batch, not one per line.

use std::fmt;
use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// Pending bytes past which a thread waits for the writer instead of adding more
/// (so a stalled stdout slows clients down instead of eating memory).
const MAX_PENDING: usize = 256 * 1024;

/// How long the writer, woken by a line after a quiet spell, waits for more before writing:
/// too short for a person to notice, long enough for a burst of lines to go out in one write.
const LINGER: Duration = Duration::from_micros(200);

/// One output stream's lines, shared with its writer thread.
pub(super) struct Lines {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive (for the writer), and when a batch is written (for `wait_written` and a full buffer).
    changed: Condvar,
}

struct State {
    pending: Vec<u8>,
    /// The writer has taken a batch and not finished writing it.
    writing: bool,
    /// The write error (a closed pipe, a full disk) after which lines are dropped, so a server goes on.
    failed: Option<io::Error>,
    /// The stream, until the first line starts the writer thread with it (a stream never
    /// printed to, like stderr most of the time, costs no thread).
    unstarted: Option<Box<dyn Write + Send>>,
}

impl Lines {
    pub(super) fn new(writer: Box<dyn Write + Send>) -> Lines {
        Lines {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    pending: Vec::new(),
                    writing: false,
                    failed: None,
                    unstarted: Some(writer),
                }),
                changed: Condvar::new(),
            }),
        }
    }

    /// Adds one line (its newline added here) for the writer.
    pub(super) fn push(&self, line: fmt::Arguments) {
        // Formatted before taking the lock: with a thousand threads printing, the lock is held only for a copy.
        let text = format!("{line}\n");
        let shared = &self.shared;
        let mut state = shared.lock();
        if let Some(writer) = state.unstarted.take() {
            start_writer(shared, &mut state, writer);
        }
        while state.pending.len() >= MAX_PENDING && state.failed.is_none() {
            state = shared.wait(state);
        }
        if state.failed.is_some() {
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(text.as_bytes());
        // A writer in the middle of a write looks at `pending` again when it is done; an idle one
        // needs waking, once (a line already pending has woken it).
        if was_empty && !state.writing {
            shared.changed.notify_all();
        }
    }

    /// Waits until every line given so far has been written and flushed.
    pub(super) fn wait_written(&self) {
        let shared = &self.shared;
        let mut state = shared.lock();
        while (state.writing || !state.pending.is_empty()) && state.failed.is_none() {
            state = shared.wait(state);
        }
    }

    /// The write error that stopped this stream, if one has.
    pub(super) fn failed(&self) -> Option<io::Error> {
        let state = self.shared.lock();
        let err = state.failed.as_ref()?;
        Some(match err.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => err.kind().into(),
        })
    }
}

fn start_writer(shared: &Arc<Shared>, state: &mut State, writer: Box<dyn Write + Send>) {
    let writer_side = Arc::clone(shared);
    let started = thread::Builder::new()
        .name("print writer".into())
        .spawn(move || writer_side.write_lines(writer));
    if let Err(err) = started {
        // Without a writer nothing can be printed; say why once, where it can still be seen.
        let _ = writeln!(io::stderr(), "cannot start the print writer: {err}");
        state.failed = Some(err);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the lines are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: takes whatever is pending and writes it, for as long as the process runs.
    fn write_lines(&self, mut writer: Box<dyn Write + Send>) {
        let mut batch = Vec::new();
        let mut state = self.lock();
        loop {
            if state.pending.is_empty() {
                while state.pending.is_empty() {
                    state = self.wait(state);
                }
                // Woken by a first line: let more gather for a moment, so a burst is one write.
                drop(state);
                thread::sleep(LINGER);
                state = self.lock();
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
            // For `wait_written` and threads waiting for room.
            self.changed.notify_all();
        }
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
        let out = Shared::default();
        let lines = Arc::new(Lines::new(Box::new(out.clone())));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let lines = Arc::clone(&lines);
                thread::spawn(move || {
                    for i in 0..1000 {
                        lines.push(format_args!("thread {t} line {i} {}", "x".repeat(100)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        lines.wait_written();
        let text = out.text();
        let all: Vec<&str> = text.lines().collect();
        assert_eq!(all.len(), 8000);
        for line in all {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 5, "{line}");
            assert_eq!(words[4].len(), 100, "{line}");
        }
    }

    #[test]
    fn a_line_alone_is_written_in_a_write_of_its_own() {
        let out = Shared::default();
        let lines = Lines::new(Box::new(out.clone()));
        for i in 0..3 {
            lines.push(format_args!("line {i}"));
            // `wait_written` only waits: nothing held the line back for more to come.
            lines.wait_written();
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
        let lines = Lines::new(Box::new(gate));
        lines.push(format_args!("first"));
        // The writer is now stuck in its first write; these return at once all the same.
        started_rx.recv().unwrap();
        for i in 0..100 {
            lines.push(format_args!("line {i}"));
        }
        go_tx.send(()).unwrap();
        lines.wait_written();
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
    fn a_closed_stream_is_noticed_and_later_lines_are_dropped() {
        let lines = Lines::new(Box::new(Closed));
        assert!(lines.failed().is_none());
        lines.push(format_args!("lost"));
        lines.wait_written();
        assert_eq!(
            lines.failed().map(|e| e.kind()),
            Some(io::ErrorKind::BrokenPipe)
        );
        // Dropped, not waited for.
        lines.push(format_args!("dropped"));
        lines.wait_written();
    }
}
