//! `--trace`: one line on stderr per socket operation, named as the Python names it, so a run can be watched at the level the tutorial teaches.
//!
//! The binaries call [`start`] once, in `main`, when `--trace` is given; from
//! then on every socket the library makes is traced: TCP streams are a
//! [`Stream`] (`stream`), UDP sockets a [`Socket`] (`datagram`); the file
//! service adds lines of its own for the frames it reads ([`Stream::frame`]).
//! Without `--trace` a `Stream` holds no tracer and each read or write costs
//! one test of a null pointer (a UDP `Socket`, one atomic load).
//!
//! A line is `+S.UUUUUU` (seconds since [`start`]), the connection in brackets
//! (the peer's address), the operation and what it moved, the bytes shown by
//! [`data`]: printable text as it is, the rest escaped by [`crate::core::escape`],
//! long data cut with `…` (the line gives the total). Each line is one write to
//! stderr under its lock, so lines of two client threads never mix.
//!
//! `--trace-file PATH` writes the same lines to a file, each with the fields a
//! drawing needs (`file`; the format is docs/TRACE.md).

mod datagram;
mod file;
mod stream;

pub use datagram::Socket;
pub(crate) use stream::{accept_failed, connect_failed, listening};
pub use stream::{Closer, Stream};

use crate::core::cli::{Arg, Error, Parser};
use crate::core::encoding::Encoding;
use crate::core::escape;
pub(crate) use file::Fields;
use std::fmt::{self, Display};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Characters of escaped data a line shows at most; the rest is cut, marked `…`.
const DATA_MAX: usize = 64;

/// The process's tracer, once `--trace` has started it.
static TRACER: OnceLock<Tracer> = OnceLock::new();

/// Where trace lines go, and what they need to say.
#[derive(Debug)]
pub(crate) struct Tracer {
    start: Instant,
    /// How the binary decodes its peer's text (see [`data`]).
    encoding: Encoding,
    /// `--trace`: lines on stderr.
    stderr: bool,
    /// `--trace-file`: the same lines, with their fields, in a file.
    file: Option<file::TraceFile>,
    /// The last connection number given (`t1`, `u2`: see [`Tracer::connection`]).
    connections: AtomicU64,
}

/// Starts tracing on stderr for the rest of the process (`--trace`): times count from now.
/// `encoding` is how the binary reads its peer's text, so text in gbk is shown decoded.
pub fn start(encoding: Encoding) {
    let _ = TRACER.set(Tracer::new(encoding, true, None));
}

/// `--trace` and `--trace-file PATH`, the options every binary takes: parse them with
/// [`Options::parse`], then [`Options::start`] once, first thing in `run`.
#[derive(Debug, Default)]
pub struct Options {
    pub stderr: bool,
    pub file: Option<PathBuf>,
}

impl Options {
    /// `--trace` or `--trace-file PATH`; refuses any other option.
    pub fn parse(&mut self, arg: Arg, parser: &mut Parser) -> Result<(), Error> {
        match arg {
            Arg::Long("trace") => self.stderr = true,
            Arg::Long("trace-file") => self.file = Some(PathBuf::from(parser.value()?)),
            arg => return Err(arg.unexpected()),
        }
        Ok(())
    }

    /// Starts tracing if either option was given; the file is created (emptied) now.
    pub fn start(&self, encoding: Encoding) -> Result<(), Error> {
        if !self.stderr && self.file.is_none() {
            return Ok(());
        }
        let file = match &self.file {
            Some(path) => Some(file::TraceFile::create(path).map_err(|e| {
                Error::io(format!("cannot write the trace to {}", path.display()), &e)
            })?),
            None => None,
        };
        let _ = TRACER.set(Tracer::new(encoding, self.stderr, file));
        Ok(())
    }
}

/// The tracer, when `--trace` is on.
fn tracer() -> Option<&'static Tracer> {
    TRACER.get()
}

/// One line about no connection in particular (`socket`, `bind`, `listen`), if tracing;
/// `fields` says it for the trace file.
pub(crate) fn note(call: &str, fields: impl FnOnce(&mut Fields), line: impl Display) {
    if let Some(t) = tracer() {
        t.line(NO_CONNECTION, call, fields, line);
    }
}

/// The connection column of a line about none.
pub(crate) const NO_CONNECTION: &str = "-";

/// `AF_INET` or `AF_INET6`, as the Python's `socket.socket(family, ...)` names it.
pub(crate) fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    }
}

/// Which way bytes or a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Sent,
    Received,
}

impl Way {
    fn arrow(self) -> &'static str {
        match self {
            Way::Sent => "->",
            Way::Received => "<-",
        }
    }
}

impl Tracer {
    fn new(encoding: Encoding, stderr: bool, file: Option<file::TraceFile>) -> Tracer {
        Tracer {
            start: Instant::now(),
            encoding,
            stderr,
            file,
            connections: AtomicU64::new(0),
        }
    }

    /// A new connection's name in the trace file: `t1`, `t2`... for TCP (`kind` `t`),
    /// `u1`... for UDP sockets, numbered in the order they were made.
    fn connection(&self, kind: char) -> String {
        format!(
            "{kind}{}",
            self.connections.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Writes `+S.UUUUUU line` to stderr in one write (with `--trace`), and the same line
    /// with its connection, call and `fields` to the trace file (with `--trace-file`); a
    /// failed write is ignored (tracing must never stop the program it watches).
    fn line(&self, conn: &str, call: &str, fields: impl FnOnce(&mut Fields), line: impl Display) {
        let t = self.start.elapsed();
        let line = line.to_string();
        if self.stderr {
            let text = format!("+{}.{:06} {line}\n", t.as_secs(), t.subsec_micros());
            let _ = io::stderr().lock().write_all(text.as_bytes());
        }
        if let Some(file) = &self.file {
            file.record(t, conn, call, fields, &line);
        }
    }
}

/// Bytes from or to the wire, shown safely: in double quotes, printable text as it is,
/// the rest escaped, cut after [`DATA_MAX`] characters with `…`. With `--encoding gbk`,
/// text that is valid gbk is shown decoded and marked `gbk`; anything else is shown as
/// its bytes (UTF-8 text as text, other bytes as `\xNN`).
pub fn data(bytes: &[u8], encoding: Encoding) -> String {
    // A line shows DATA_MAX characters at most: no need to look at more bytes than four each.
    let head = bytes.get(..DATA_MAX * 4).unwrap_or(bytes);
    if encoding == Encoding::Gbk && !head.is_ascii() {
        let mut text = String::new();
        let mut decoder = encoding.decoder();
        decoder.decode(head, &mut text);
        // A character cut by the end of `head` is held back by the decoder: left out, marked cut.
        let mut held = String::new();
        decoder.finish(&mut held);
        if !text.contains(char::REPLACEMENT_CHARACTER) {
            let whole = head.len() == bytes.len() && held.is_empty();
            return format!("gbk {}", quote(text.as_bytes(), whole));
        }
    }
    quote(head, head.len() == bytes.len())
}

fn quote(shown: &[u8], whole: bool) -> String {
    let (mut text, cut) = escape::quoted(shown, DATA_MAX);
    if cut || !whole {
        text.push('…');
    }
    text
}

/// `n bytes` / `1 byte`.
struct Bytes(u64);

impl Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_shown_quoted_escaped_and_cut() {
        let utf8 = Encoding::Utf8;
        assert_eq!(data(b"hello\nexit\n", utf8), "\"hello\\nexit\\n\"");
        assert_eq!(data(b"\x00\xff\"", utf8), "\"\\x00\\xff\\\"\"");
        assert_eq!(data("中文".as_bytes(), utf8), "\"中文\"");
        let long = data(&[b'a'; 2000], utf8);
        assert_eq!(long, format!("\"{}\"…", "a".repeat(DATA_MAX)));
    }

    #[test]
    fn gbk_is_decoded_when_it_is_gbk_and_escaped_when_not() {
        let gbk = Encoding::Gbk;
        let hello = gbk.encode("你好").unwrap();
        assert_eq!(data(&hello, gbk), "gbk \"你好\"");
        // Cut in the middle of a character: the whole characters, marked cut.
        assert_eq!(data(&hello[..3], gbk), "gbk \"你\"…");
        // Without --encoding gbk the same bytes are only bytes.
        assert_eq!(data(&hello, Encoding::Utf8), "\"\\xc4\\xe3\\xba\\xc3\"");
        // Not gbk at all: shown as bytes.
        assert_eq!(data(b"\x80\x80", gbk), "\"\\x80\\x80\"");
        assert_eq!(data(b"plain", gbk), "\"plain\"");
    }
}
