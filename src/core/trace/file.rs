//! `--trace-file`: the trace lines in a file, each with its time, connection, call and fields, in the format docs/TRACE.md describes.
//!
//! One record a line, its fields separated by tabs: the time in microseconds
//! since tracing started, the connection (`t1`, `u1`, or `-`), the call, then
//! `key=value` fields, and last `line=` the line `--trace` prints. Values never
//! hold a tab or a newline: data is escaped ([`crate::core::escape::quoted`]).
//! Each record is one write under a lock, unbuffered, so a server that is killed
//! leaves every line it traced, and lines of two threads never mix.

use crate::core::escape;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The format's version, the header's first line; a reader refuses another.
pub(crate) const HEADER: &str = "# socket-tutorial trace 1";

/// Bytes of each send or receive a record holds in `data=`, at most; `n=` gives the total.
pub(crate) const DATA_BYTES: usize = 1024;

/// An open trace file.
#[derive(Debug)]
pub(crate) struct TraceFile {
    file: Mutex<File>,
}

impl TraceFile {
    /// Creates (or empties) the file and writes its header: the format, the program, and
    /// the wall clock when tracing started (so that two programs' traces can be lined up).
    pub(crate) fn create(path: &Path) -> io::Result<TraceFile> {
        let mut file = File::create(path)?;
        let program = std::env::args_os()
            .next()
            .and_then(|arg0| {
                Path::new(&arg0)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "?".to_string());
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        writeln!(
            file,
            "{HEADER}\tprogram={}\tstart_unix_us={}",
            escape::text(&program).replace('\t', "\\t"),
            since_epoch.as_micros()
        )?;
        Ok(TraceFile {
            file: Mutex::new(file),
        })
    }

    /// One record; a failed write is ignored, like a failed write to stderr.
    pub(crate) fn record(
        &self,
        t: Duration,
        conn: &str,
        call: &str,
        fields: impl FnOnce(&mut Fields),
        line: &str,
    ) {
        let mut record = Fields(format!("{}\t{conn}\t{call}", t.as_micros()));
        fields(&mut record);
        record.text("line", line);
        record.0.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.write_all(record.0.as_bytes());
    }
}

/// The `key=value` fields of one record, in the order they are added.
#[derive(Debug)]
pub struct Fields(String);

impl Fields {
    /// A count or an offset.
    pub(crate) fn num(&mut self, key: &str, n: u64) -> &mut Fields {
        let _ = write!(self.0, "\t{key}={n}");
        self
    }

    /// An address, `IP:PORT` (`[IPv6]:PORT`).
    pub(crate) fn addr(&mut self, key: &str, addr: SocketAddr) -> &mut Fields {
        let _ = write!(self.0, "\t{key}={addr}");
        self
    }

    /// A word of ours (`SOCK_STREAM`, `SHUT_WR`, `send`).
    pub(crate) fn word(&mut self, key: &str, word: &str) -> &mut Fields {
        let _ = write!(self.0, "\t{key}={word}");
        self
    }

    /// Free text (an error message, the `--trace` line), with any tab or newline escaped.
    pub(crate) fn text(&mut self, key: &str, text: &str) -> &mut Fields {
        let _ = write!(
            self.0,
            "\t{key}={}",
            text.replace('\t', "\\t").replace('\n', "\\n")
        );
        self
    }

    /// The first [`DATA_BYTES`] of what was sent or received, quoted and escaped.
    pub(crate) fn data(&mut self, bytes: &[u8]) -> &mut Fields {
        let head = bytes.get(..DATA_BYTES).unwrap_or(bytes);
        let (quoted, _) = escape::quoted(head, usize::MAX);
        let _ = write!(self.0, "\tdata={quoted}");
        self
    }
}
