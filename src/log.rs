//! Line-atomic output shared by client threads: one writer thread owns stdout and stderr.
//!
//! Client threads hand whole lines to the writer over a channel, so two
//! clients' lines never mix inside a line. The writer flushes as soon as the
//! channel is empty: alone, each line is written and flushed at once (a log
//! file can be tailed); under load, the lines that queued up meanwhile go out
//! in one write, so logging costs one system call per batch, not per line.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

/// Bytes gathered before a batch is written even if more lines are waiting.
const BATCH_BYTES: usize = 64 * 1024;
/// Lines that may wait for the writer; past it, writers wait (so a stalled stdout slows clients instead of eating memory).
const QUEUE_LINES: usize = 1024;

enum Message {
    Out(String),
    Err(String),
    Flush(mpsc::Sender<()>),
}

/// A handle to the shared output; clone it into each client thread.
#[derive(Clone)]
pub struct Log {
    tx: SyncSender<Message>,
}

impl Log {
    /// Output to the process's stdout and stderr.
    pub fn stdio() -> Log {
        Log::to(Box::new(io::stdout()), Box::new(io::stderr()))
    }

    /// Output to any two writers (tests use buffers).
    pub fn to(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Log {
        let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
        thread::Builder::new()
            .name("log".into())
            .spawn(move || write_lines(rx, out, err))
            .expect("cannot start the log writer thread");
        Log { tx }
    }

    /// Writes one line (without its newline) to stdout.
    pub fn out(&self, line: impl Into<String>) {
        // The writer only stops when every handle is gone, so a failed send cannot happen while we hold one.
        let _ = self.tx.send(Message::Out(line.into()));
    }

    /// Writes one line (without its newline) to stderr.
    pub fn err(&self, line: impl Into<String>) {
        let _ = self.tx.send(Message::Err(line.into()));
    }

    /// Waits until every line sent so far has been written and flushed (call before exiting).
    pub fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        if self.tx.send(Message::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }
}

/// One output stream; after a write error (a closed pipe, a full disk) its lines are dropped so the server goes on.
struct Sink {
    writer: Box<dyn Write + Send>,
    buf: Vec<u8>,
    broken: bool,
}

impl Sink {
    fn push(&mut self, line: String) {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
    }

    fn write_out(&mut self) {
        if !self.broken && !self.buf.is_empty() {
            let result = self
                .writer
                .write_all(&self.buf)
                .and_then(|()| self.writer.flush());
            self.broken = result.is_err();
        }
        self.buf.clear();
    }
}

fn write_lines(rx: Receiver<Message>, out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) {
    let mut out = Sink {
        writer: out,
        buf: Vec::with_capacity(BATCH_BYTES),
        broken: false,
    };
    let mut err = Sink {
        writer: err,
        buf: Vec::new(),
        broken: false,
    };
    let mut waiting = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Out(line) => out.push(line),
                Message::Err(line) => err.push(line),
                Message::Flush(done) => waiting.push(done),
            }
            if out.buf.len() + err.buf.len() < BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        out.write_out();
        err.write_out();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

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
                        log.out(format!("thread {t} line {i} {}", "x".repeat(100)));
                    }
                    log.err(format!("thread {t} done"));
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
