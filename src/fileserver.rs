//! The file server's side of docs/PROTOCOL.md: tell tutorial clients from framed ones, answer each request through `Root`, stream files with `io::copy`.
//!
//! `download_server` is a thin binary around [`FileServer::serve`], which the
//! shared accept loop calls once per connection, on that connection's thread.
//! Every name a client sends goes through [`Root`]; nothing here opens a path
//! any other way. Write requests (MKDIR, UPLOAD, RENAME, REMOVE, RMDIR) are
//! answered `read-only` unless [`Config::writable`]; uploads live in the
//! `uploads` submodule. With [`Config::token`], a framed connection must
//! present the token before anything is served.

use crate::encoding::Encoding;
use crate::escape;
use crate::log::Log;
use crate::protocol::{
    self, detect, version_supported, Detected, Entry, ErrorCode, ErrorReply, Kind, Meta,
    ProtocolError, Request, Response, ServerHello, CLIENT_HELLO_LEN, MAX_ENTRIES,
    TUTORIAL_READ_LEN, VERSION,
};
use crate::root::{is_partial_name, EntryKind, Root, RootError, RootErrorKind};
use crate::sha256::Sha256;
use crate::token::Token;
use std::fmt::Write as _;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod uploads;

/// Connections past `--max-clients` that are read far enough to be told
/// `busy` in their own protocol (see [`FileServer::turn_away`]); past this
/// many more at once, the accept loop closes them without a word
/// (docs/PROTOCOL.md 4.4).
pub const BUSY_GRACE: usize = 64;

/// Buffer for a file's bytes on their way to the socket: large enough that
/// system calls are not the cost, small enough that the bytes are still in
/// the CPU's cache when they are copied on into the socket (serving 1 GiB
/// cost about 0.3 s of system time with 32-64 KiB, 0.45-0.6 s with 128 KiB),
/// and cheap for a thousand clients. On the heap: client threads have small stacks.
const SEND_CHUNK: usize = 64 * 1024;

/// What the server was started with, beyond the root.
#[derive(Debug, Clone)]
pub struct Config {
    /// How a tutorial client's file name is decoded (the Python sends gbk).
    pub encoding: Encoding,
    /// Clients served at once; the next ones are answered `busy`.
    pub max_clients: usize,
    /// Silence allowed between requests (and while sending); `None` = forever.
    pub idle_timeout: Option<Duration>,
    /// Accept MKDIR, UPLOAD, RENAME, REMOVE and RMDIR; otherwise they are
    /// answered `read-only`, and the hello says so.
    pub writable: bool,
    /// Largest upload accepted, in bytes; `None` = no limit.
    pub max_upload: Option<u64>,
    /// Every framed connection must present this token before anything else,
    /// and tutorial clients are refused.
    pub token: Option<Token>,
}

/// Serves one directory to any number of connections; share it in an `Arc`.
pub struct FileServer {
    root: Root,
    config: Config,
    log: Log,
    uploads: uploads::Uploads,
}

/// How one request ended, for its log line.
struct Outcome {
    result: String,
    bytes: u64,
}

impl Outcome {
    fn ok(result: impl Into<String>, bytes: u64) -> Outcome {
        Outcome {
            result: result.into(),
            bytes,
        }
    }

    fn error(reply: &ErrorReply) -> Outcome {
        Outcome::ok(format!("error: {}", reply.message), 0)
    }
}

/// Whether the connection can take another request after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Close,
}

impl FileServer {
    pub fn new(root: Root, config: Config, log: Log) -> FileServer {
        FileServer {
            root,
            config,
            log,
            uploads: uploads::Uploads::default(),
        }
    }

    /// The served root.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// One connection, from its first byte to its close (docs/PROTOCOL.md 4.3).
    ///
    /// Errors returned are the connection's (a timeout, a reset): the accept
    /// loop logs them. Everything about a request is logged here.
    pub fn serve(&self, stream: TcpStream, addr: SocketAddr) -> io::Result<()> {
        self.session(stream, addr, false)
    }

    /// A connection past `--max-clients` (the accept loop's turn-away handler):
    /// read just enough to know its protocol, then say `busy` in it
    /// (a framed client gets an ERROR, a tutorial client a close without a byte).
    pub fn turn_away(&self, stream: TcpStream, addr: SocketAddr) -> io::Result<()> {
        self.session(stream, addr, true)
    }

    fn session(&self, stream: TcpStream, addr: SocketAddr, busy: bool) -> io::Result<()> {
        // Small replies (an ERROR, a DIGEST after the bytes) must not wait for
        // the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        // The first bytes get the whole idle timeout (set by the accept loop): the
        // tutorial's client connects first and only then asks its user for a name.

        // The Python server's single recv(1024).
        let mut first = vec![0u8; TUTORIAL_READ_LEN];
        let Some(n) = self.first_bytes(&stream, &mut first, addr)? else {
            return Ok(());
        };
        if n == 0 {
            self.log
                .out(format_args!("{addr} connected and left without a request"));
            return Ok(());
        }
        first.truncate(n);
        let version = loop {
            match detect(&first) {
                Detected::Tutorial => return self.serve_tutorial(&stream, addr, &first, busy),
                Detected::Framed { version } => break version,
                Detected::NotOurs => {
                    self.log.out(format_args!(
                        "{addr} sent {}: neither a file name nor our hello, closed",
                        escape::name(&first)
                    ));
                    return Ok(());
                }
                Detected::Incomplete => {
                    let mut more = [0u8; CLIENT_HELLO_LEN];
                    let Some(n) = self.first_bytes(&stream, &mut more, addr)? else {
                        return Ok(());
                    };
                    if n == 0 {
                        self.log
                            .out(format_args!("{addr} left in the middle of its hello"));
                        return Ok(());
                    }
                    first.extend_from_slice(more.get(..n).unwrap_or_default());
                }
            }
        };
        // Whatever came with the hello is already the first frame.
        let leftover = first.split_off(CLIENT_HELLO_LEN);
        self.serve_framed(stream, addr, version, leftover, busy)
    }

    /// A read of the first bytes; `None` when the client let the hello
    /// timeout pass (logged here: the accept loop would name the idle timeout).
    fn first_bytes(
        &self,
        stream: &TcpStream,
        buf: &mut [u8],
        addr: SocketAddr,
    ) -> io::Result<Option<usize>> {
        match read_some(stream, buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if crate::server::is_timeout(&e) => {
                let secs = self.config.idle_timeout.map_or(0, |d| d.as_secs());
                self.log.out(format_args!(
                    "{addr} sent no request for {secs} s, disconnected"
                ));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A tutorial client: the bytes of its first read are a file name; answer
    /// with the raw bytes and close, or close without a byte (PROTOCOL.md 4.4).
    fn serve_tutorial(
        &self,
        stream: &TcpStream,
        addr: SocketAddr,
        raw: &[u8],
        busy: bool,
    ) -> io::Result<()> {
        let started = Instant::now();
        let name = match decode_tutorial_name(raw, self.config.encoding) {
            Ok(name) => name,
            Err(why) => {
                let outcome = Outcome::ok(format!("refused: {why}"), 0);
                self.log_request(addr, "tutorial", raw, &outcome, started);
                return Ok(());
            }
        };
        if busy {
            let outcome = Outcome::ok("busy: closed without an answer", 0);
            self.log_request(addr, "tutorial", &name, &outcome, started);
            return Ok(());
        }
        if self.config.token.is_some() {
            // The tutorial's protocol has no way to present a token.
            let outcome = Outcome::ok("refused: a token is required (closed without an answer)", 0);
            self.log_request(addr, "tutorial", &name, &outcome, started);
            return Ok(());
        }
        if is_reserved(&name) {
            let outcome = Outcome::ok("refused: a partial upload (closed without an answer)", 0);
            self.log_request(addr, "tutorial", &name, &outcome, started);
            return Ok(());
        }
        let outcome = match self.root.open_file(&name) {
            Err(e) => Outcome::ok(format!("error: {} (closed without an answer)", e), 0),
            Ok((mut file, meta)) => {
                let size = meta.len();
                // The bulk goes in full segments; the close pushes out the tail.
                let _ = stream.set_nodelay(false);
                match send_file(&mut file, 0, size, stream) {
                    Ok(sent) if sent == size => Outcome::ok("ok", sent),
                    Ok(sent) => Outcome::ok("the file shrank while it was sent", sent),
                    Err((e, sent)) => Outcome::ok(
                        format!("connection lost: {}", crate::cli::describe_io(&e)),
                        sent,
                    ),
                }
            }
        };
        self.log_request(addr, "tutorial", &name, &outcome, started);
        Ok(())
    }

    fn serve_framed(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        version: u16,
        leftover: Vec<u8>,
        busy: bool,
    ) -> io::Result<()> {
        let hello = ServerHello {
            version: VERSION,
            token_required: self.config.token.is_some(),
            read_only: !self.config.writable,
        };
        if !version_supported(version) {
            let err = ProtocolError::UnsupportedVersion(version);
            self.log.out(format_args!("{addr} hello: {err}, closed"));
            let mut reply = hello.encode().to_vec();
            reply.extend(encode(&Response::Error(err.reply())));
            return (&stream).write_all(&reply);
        }
        if busy {
            self.log.out(format_args!(
                "{addr} hello: busy ({} clients at once at most), closed",
                self.config.max_clients
            ));
            let busy = ErrorReply::new(
                ErrorCode::Busy,
                &format!(
                    "busy: the server already has {} clients; try again later",
                    self.config.max_clients
                ),
            )
            .closing();
            let mut reply = hello.encode().to_vec();
            reply.extend(encode(&Response::Error(busy)));
            return (&stream).write_all(&reply);
        }
        hello.write_to(&mut &stream)?;
        stream.set_read_timeout(self.config.idle_timeout)?;
        // Frames are read through one buffer that starts with the bytes that
        // came with the hello; replies go straight to the socket, so raw file
        // bytes are never stuck behind a buffer.
        let mut reader = BufReader::new(Cursor::new(leftover).chain(&stream));
        let mut first_frame = true;
        if let Some(token) = &self.config.token {
            if self.authenticate(token, &mut reader, &stream, addr)? == Next::Close {
                return Ok(());
            }
            first_frame = false;
        }
        loop {
            let request = match Request::read_from(&mut reader) {
                Ok(None) => return Ok(()),
                Ok(Some(request)) => request,
                Err(ProtocolError::Io(e)) => return Err(e),
                Err(ProtocolError::Truncated) => {
                    self.log
                        .out(format_args!("{addr} closed the connection inside a frame"));
                    return Ok(());
                }
                Err(e) => {
                    self.log
                        .out(format_args!("{addr} sent a bad frame: {e}; closed"));
                    return write_response(&stream, &Response::Error(e.reply()));
                }
            };
            if self.answer(request, &mut reader, &stream, addr, first_frame)? == Next::Close {
                return Ok(());
            }
            first_frame = false;
        }
    }

    /// The first frame of a connection to a server with a token: it must be
    /// AUTH with that token, or the connection is refused `unauthorized`
    /// and closed, and nothing is served. Every refusal is logged.
    fn authenticate(
        &self,
        token: &Token,
        reader: &mut dyn Read,
        stream: &TcpStream,
        addr: SocketAddr,
    ) -> io::Result<Next> {
        let started = Instant::now();
        let why = match Request::read_from(reader) {
            Ok(None) | Err(ProtocolError::Truncated) => {
                self.log
                    .out(format_args!("{addr} left before presenting the token"));
                return Ok(Next::Close);
            }
            Err(ProtocolError::Io(e)) => return Err(e),
            Err(e) => format!("sent a bad frame instead of the token: {e}"),
            Ok(Some(Request::Auth { token: given })) if token.matches(&given) => {
                write_response(stream, &Response::Ok)?;
                self.log_request(addr, "auth", b"", &Outcome::ok("ok", 0), started);
                return Ok(Next::Continue);
            }
            Ok(Some(Request::Auth { .. })) => "wrong token".to_owned(),
            Ok(Some(other)) => format!("no token: sent a {} request first", request_name(&other)),
        };
        let reply = ErrorReply::new(
            ErrorCode::Unauthorized,
            "unauthorized: this server wants a token (file_shell --token-file FILE, or DOWNLOAD_SERVER_TOKEN)",
        )
        .closing();
        write_response(stream, &Response::Error(reply))?;
        let outcome = Outcome::ok(format!("refused: {why}; closed"), 0);
        self.log_request(addr, "auth", b"", &outcome, started);
        Ok(Next::Close)
    }

    /// Answer one framed request; `Err` is a failure of the connection itself.
    ///
    /// `reader` is where the request came from: an UPLOAD's raw bytes follow
    /// its frame there (some may already sit in its buffer).
    pub fn answer(
        &self,
        request: Request,
        reader: &mut dyn Read,
        stream: &TcpStream,
        addr: SocketAddr,
        first_frame: bool,
    ) -> io::Result<Next> {
        let started = Instant::now();
        if let Some(reply) = self.refusal(&request) {
            write_response(stream, &Response::Error(reply.clone()))?;
            let name = request_paths(&request)
                .first()
                .map(|p| p.to_vec())
                .unwrap_or_default();
            let outcome = Outcome::error(&reply);
            self.log_request(addr, request_name(&request), &name, &outcome, started);
            return Ok(Next::Continue);
        }
        let (op, name, outcome, next) = match request {
            Request::Download {
                path,
                offset,
                identity,
                want_sha256,
            } => {
                let (outcome, next) =
                    self.download(stream, &path, offset, &identity, want_sha256)?;
                ("download", path, outcome, next)
            }
            Request::Stat { path } => {
                let reply = match self.root.stat(&path) {
                    Ok(m) => Response::Stat(Meta::from_metadata(&m)),
                    Err(e) => Response::Error(root_reply(&e)),
                };
                write_response(stream, &reply)?;
                ("stat", path, reply_outcome(&reply), Next::Continue)
            }
            Request::List { path } => {
                let outcome = self.list(stream, &path)?;
                ("list", path, outcome, Next::Continue)
            }
            Request::Auth { .. } => {
                // No token is configured, so any token is accepted, as the
                // protocol asks; but only as the first frame.
                let reply = if first_frame {
                    Response::Ok
                } else {
                    Response::Error(ErrorReply::new(
                        ErrorCode::BadRequest,
                        "bad request: AUTH is only allowed as the first frame",
                    ))
                };
                write_response(stream, &reply)?;
                ("auth", Vec::new(), reply_outcome(&reply), Next::Continue)
            }
            Request::Upload {
                path,
                size,
                identity,
                resume,
                overwrite,
                attrs,
            } => {
                let asked = uploads::Asked {
                    size,
                    identity,
                    resume,
                    overwrite,
                    attrs,
                };
                let (outcome, next) = self.upload(reader, stream, &path, asked)?;
                ("upload", path, outcome, next)
            }
            Request::Mkdir { path } => {
                let reply = done(self.root.create_dir(&path));
                write_response(stream, &reply)?;
                ("mkdir", path, reply_outcome(&reply), Next::Continue)
            }
            Request::RemoveFile { path } => {
                let reply = self.remove_file(&path);
                write_response(stream, &reply)?;
                ("remove", path, reply_outcome(&reply), Next::Continue)
            }
            Request::RemoveDir { path } => {
                let reply = done(self.root.remove_dir(&path));
                write_response(stream, &reply)?;
                ("rmdir", path, reply_outcome(&reply), Next::Continue)
            }
            Request::Rename {
                from,
                to,
                overwrite,
            } => {
                let renamed = if overwrite {
                    self.root.rename_replacing(&from, &to)
                } else {
                    self.root.rename(&from, &to)
                };
                let reply = done(renamed);
                write_response(stream, &reply)?;
                let mut outcome = reply_outcome(&reply);
                if !matches!(reply, Response::Error(_)) {
                    outcome.result = format!("ok, now {}", escape::name(&to));
                }
                ("rename", from, outcome, Next::Continue)
            }
        };
        self.log_request(addr, op, &name, &outcome, started);
        Ok(next)
    }

    /// A request refused before it is looked at: a write to a read-only
    /// server, or a name of the form `.<name>.part`, which belongs to an
    /// upload in progress (only STAT, LIST and REMOVE may name one).
    fn refusal(&self, request: &Request) -> Option<ErrorReply> {
        let writes = matches!(
            request,
            Request::Mkdir { .. }
                | Request::Upload { .. }
                | Request::RemoveFile { .. }
                | Request::RemoveDir { .. }
                | Request::Rename { .. }
        );
        if writes && !self.config.writable {
            return Some(ErrorReply::new(
                ErrorCode::ReadOnly,
                "read-only server: it only sends files (start it with --writable to allow \
                 upload, mkdir, rename and remove)",
            ));
        }
        if matches!(
            request,
            Request::Stat { .. } | Request::List { .. } | Request::RemoveFile { .. }
        ) {
            return None;
        }
        let reserved = request_paths(request)
            .into_iter()
            .find(|p| is_reserved(p))?;
        Some(ErrorReply::new(
            ErrorCode::PermissionDenied,
            &format!(
                "permission denied: {}: names of the form .NAME.part belong to uploads in progress",
                escape::name(reserved)
            ),
        ))
    }

    /// REMOVE; removing a partial upload (`rm .x.part`) is how a client cleans
    /// up an abandoned one, so it waits for no upload of that target to be running.
    fn remove_file(&self, path: &[u8]) -> Response {
        if !is_reserved(path) {
            return done(self.root.remove_file(path));
        }
        match self.lock_partial(path) {
            Ok(_lock) => done(self.root.remove_file(path)),
            Err(reply) => Response::Error(reply),
        }
    }

    /// DOWNLOAD (docs/PROTOCOL.md 7.1): decide from the open handle's
    /// identity before a byte is sent, then stream from that same handle.
    fn download(
        &self,
        stream: &TcpStream,
        path: &[u8],
        offset: u64,
        identity: &[u8],
        want_sha256: bool,
    ) -> io::Result<(Outcome, Next)> {
        let (mut file, meta) = match self.root.open_file(path) {
            Ok(opened) => opened,
            Err(e) => return refuse(stream, root_reply(&e)),
        };
        let size = meta.len();
        let current = crate::file_meta::identity(&meta);
        let shown = escape::name(path);
        if offset > 0 && identity.is_empty() {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::BadRequest,
                    &format!(
                        "bad request: resuming {shown} needs the identity of the partial copy"
                    ),
                ),
            );
        }
        if offset > 0 && identity != current.as_slice() {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::Conflict,
                    &format!("conflict: {shown} changed since the partial download; start over"),
                ),
            );
        }
        if offset > size {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::BadRequest,
                    &format!(
                        "bad request: offset {offset} is past the end of {shown} ({size} bytes)"
                    ),
                ),
            );
        }
        write_response(
            stream,
            &Response::File {
                size,
                offset,
                identity: current.clone(),
            },
        )?;
        let want = size - offset;
        // Full segments for the bulk (measured: about 15% less system time
        // than with NODELAY); back on afterwards, which also pushes out the
        // tail at once, so a DIGEST or the next reply never waits for an ACK.
        let _ = stream.set_nodelay(false);
        let sent = if want_sha256 {
            send_hashed(&mut file, offset, size, stream)
        } else {
            send_file(&mut file, offset, size, stream).map(|sent| (sent, None))
        };
        let _ = stream.set_nodelay(true);
        let resumed = if offset > 0 {
            format!(" (resumed at byte {offset})")
        } else {
            String::new()
        };
        match sent {
            Err((e, sent)) => {
                let why = crate::cli::describe_io(&e);
                Ok((
                    Outcome::ok(format!("connection lost{resumed}: {why}"), sent),
                    Next::Close,
                ))
            }
            // The promised count cannot be met: closing is the only way to
            // tell the client, which keeps what it has and can resume.
            Ok((sent, _)) if sent < want => Ok((
                Outcome::ok(
                    format!("the file shrank while it was sent{resumed}; closed"),
                    sent,
                ),
                Next::Close,
            )),
            // Written to while it was sent: the bytes may mix two versions,
            // and a digest of them would only vouch for the mix. Closing
            // without DIGEST makes a verifying client keep its .part and
            // find the new version (a conflict) on its next try.
            Ok((sent, _)) if changed_since(&file, &current) => Ok((
                Outcome::ok(
                    format!("the file changed while it was sent{resumed}; closed"),
                    sent,
                ),
                Next::Close,
            )),
            Ok((sent, digest)) => {
                if let Some(digest) = digest {
                    write_response(stream, &Response::Digest(digest))?;
                }
                let verified = if want_sha256 { ", with sha256" } else { "" };
                Ok((
                    Outcome::ok(format!("ok{resumed}{verified}"), sent),
                    Next::Continue,
                ))
            }
        }
    }

    /// LIST (docs/PROTOCOL.md 7.2): chunks of at most 128 entries, the last flagged.
    fn list(&self, stream: &TcpStream, path: &[u8]) -> io::Result<Outcome> {
        let entries = match self.root.read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                let reply = root_reply(&e);
                write_response(stream, &Response::Error(reply.clone()))?;
                return Ok(Outcome::error(&reply));
            }
        };
        let entries: Vec<Entry> = entries
            .into_iter()
            // Linux names are at most 255 bytes; anything longer cannot be sent.
            .filter(|e| e.name.len() <= protocol::MAX_NAME)
            .map(|e| Entry {
                meta: Meta {
                    kind: match e.kind {
                        EntryKind::File => Kind::File,
                        EntryKind::Dir => Kind::Dir,
                        EntryKind::Symlink => Kind::Symlink,
                        EntryKind::Other => Kind::Other,
                    },
                    size: e.size,
                    mtime_ns: e
                        .modified
                        .map(crate::file_meta::system_time_ns)
                        .unwrap_or(0),
                    mode: u16::try_from(e.mode & u32::from(protocol::MAX_MODE)).unwrap_or(0),
                },
                name: e.name,
            })
            .collect();
        let count = entries.len();
        let mut chunks = entries.chunks(MAX_ENTRIES).peekable();
        if chunks.peek().is_none() {
            write_response(
                stream,
                &Response::Listing {
                    entries: Vec::new(),
                    last: true,
                },
            )?;
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            write_response(
                stream,
                &Response::Listing {
                    entries: chunk.to_vec(),
                    last,
                },
            )?;
        }
        Ok(Outcome::ok(format!("ok, {count} entries"), 0))
    }

    /// `127.0.0.1:40312 download "notes.txt" -> ok, 6001 bytes, 0.4 ms`
    fn log_request(
        &self,
        addr: SocketAddr,
        op: &str,
        name: &[u8],
        outcome: &Outcome,
        started: Instant,
    ) {
        let mut line = format!("{addr} {op}");
        if !name.is_empty() || op != "auth" {
            let _ = write!(line, " {}", escape::name(name));
        }
        let secs = started.elapsed().as_secs_f64();
        let time = if secs < 1.0 {
            format!("{:.1} ms", secs * 1000.0)
        } else {
            format!("{secs:.2} s")
        };
        let _ = write!(
            line,
            " -> {}, {} bytes, {time}",
            outcome.result, outcome.bytes
        );
        self.log.out(line);
    }
}

/// Whether the open file's identity is no longer `identity`.
fn changed_since(file: &std::fs::File, identity: &[u8]) -> bool {
    file.metadata()
        .map_or(true, |m| crate::file_meta::identity(&m) != identity)
}

/// A tutorial client's file name as UTF-8 bytes for `Root`. With `gbk`, a
/// name that is not valid gbk is refused rather than guessed at.
pub fn decode_tutorial_name(raw: &[u8], encoding: Encoding) -> Result<Vec<u8>, &'static str> {
    match encoding {
        // Root checks UTF-8 itself and says so in its refusal.
        Encoding::Utf8 => Ok(raw.to_vec()),
        Encoding::Gbk => {
            let text = encoding.decode_lossy(raw);
            // No gbk sequence decodes to U+FFFD, so one in the text marks bytes
            // that were not gbk.
            if text.contains(char::REPLACEMENT_CHARACTER) {
                Err("the name is not valid gbk")
            } else {
                Ok(text.into_bytes())
            }
        }
    }
}

/// The protocol's error code for a refusal of the path module.
pub fn root_error_code(kind: RootErrorKind) -> ErrorCode {
    match kind {
        RootErrorKind::BadRequest => ErrorCode::BadRequest,
        RootErrorKind::Outside => ErrorCode::OutsideRoot,
        RootErrorKind::NotFound => ErrorCode::NotFound,
        RootErrorKind::IsDirectory => ErrorCode::IsADirectory,
        RootErrorKind::NotDirectory => ErrorCode::NotADirectory,
        RootErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        RootErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
        RootErrorKind::NotEmpty => ErrorCode::NotEmpty,
        RootErrorKind::Other => ErrorCode::Internal,
    }
}

/// The ERROR reply for a refusal of the path module: its message already
/// names the path safely (`not found: "notes.txt"`).
fn root_reply(e: &RootError) -> ErrorReply {
    ErrorReply::new(root_error_code(e.kind()), e.message())
}

/// OK, or the path module's refusal.
fn done(result: Result<(), RootError>) -> Response {
    match result {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error(root_reply(&e)),
    }
}

/// Whether any component of a client's name has the form of a partial upload.
fn is_reserved(name: &[u8]) -> bool {
    name.split(|&b| b == b'/').any(is_partial_name)
}

/// The paths a request names.
fn request_paths(request: &Request) -> Vec<&[u8]> {
    match request {
        Request::Auth { .. } => Vec::new(),
        Request::Download { path, .. }
        | Request::List { path }
        | Request::Stat { path }
        | Request::Mkdir { path }
        | Request::Upload { path, .. }
        | Request::RemoveFile { path }
        | Request::RemoveDir { path } => vec![path],
        Request::Rename { from, to, .. } => vec![from, to],
    }
}

/// The request's name in log lines.
fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Auth { .. } => "auth",
        Request::Download { .. } => "download",
        Request::List { .. } => "list",
        Request::Stat { .. } => "stat",
        Request::Mkdir { .. } => "mkdir",
        Request::Upload { .. } => "upload",
        Request::Rename { .. } => "rename",
        Request::RemoveFile { .. } => "remove",
        Request::RemoveDir { .. } => "rmdir",
    }
}

fn refuse(stream: &TcpStream, reply: ErrorReply) -> io::Result<(Outcome, Next)> {
    write_response(stream, &Response::Error(reply.clone()))?;
    Ok((Outcome::error(&reply), Next::Continue))
}

fn reply_outcome(reply: &Response) -> Outcome {
    match reply {
        Response::Error(e) => Outcome::error(e),
        _ => Outcome::ok("ok", 0),
    }
}

fn encode(response: &Response) -> Vec<u8> {
    response
        .encode()
        .expect("the server only builds responses within the protocol's limits")
}

/// One frame in one write, straight to the socket.
fn write_response(stream: &TcpStream, response: &Response) -> io::Result<()> {
    let mut w = stream;
    w.write_all(&encode(response))
}

/// One read, retried only when interrupted by a signal.
fn read_some(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Bytes `offset..size` of `file` to the socket with `io::copy`, in constant
/// memory. Returns how many were sent; on an error, the error and about how
/// many were sent.
///
/// Through a `BufReader` of [`SEND_CHUNK`] over `Take<&mut File>`, both of
/// which std's `io::copy` can see through: if std takes its kernel path
/// (`sendfile`) for a file and a socket, this does too. Since
/// rust-lang/rust#108283 std's Linux `io::copy` declines `sendfile`/`splice`
/// from a regular file into a socket or pipe (a later write to the file could
/// change bytes still queued in the socket), so today the bytes pass through
/// this buffer: one `read` and one `send` per 64 KiB, not per 8 KiB as with
/// a bare `io::copy`. docs/PROTOCOL.md 7.1 says more.
fn send_file(
    file: &mut std::fs::File,
    offset: u64,
    size: u64,
    stream: &TcpStream,
) -> Result<u64, (io::Error, u64)> {
    file.seek(SeekFrom::Start(offset)).map_err(|e| (e, 0))?;
    let mut socket = stream;
    let mut reader = BufReader::with_capacity(SEND_CHUNK, (&mut *file).take(size - offset));
    match io::copy(&mut reader, &mut socket) {
        Ok(n) => Ok(n),
        Err(e) => {
            let buffered = reader.buffer().len() as u64;
            drop(reader);
            let read = file
                .stream_position()
                .map_or(0, |pos| pos.saturating_sub(offset));
            Err((e, read.saturating_sub(buffered)))
        }
    }
}

/// Like [`send_file`], but every byte of the file (from 0, the part the
/// client already has included) goes through SHA-256, so the bytes hashed
/// are the bytes sent. Returns the count sent and, if the whole file was
/// read, its digest.
#[allow(clippy::type_complexity)]
fn send_hashed(
    file: &mut std::fs::File,
    offset: u64,
    size: u64,
    stream: &TcpStream,
) -> Result<(u64, Option<[u8; 32]>), (io::Error, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; SEND_CHUNK];
    let mut socket = stream;
    file.seek(SeekFrom::Start(0)).map_err(|e| (e, 0))?;
    let mut pos = 0u64;
    let mut sent = 0u64;
    while pos < size {
        let want = usize::try_from(size - pos).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let n = match file.read(chunk) {
            Ok(0) => return Ok((sent, None)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((e, sent)),
        };
        let data = chunk.get(..n).unwrap_or_default();
        hasher.update(data);
        // The part before `offset` is only hashed: the client has it.
        let skip = usize::try_from(offset.saturating_sub(pos)).map_or(n, |s| s.min(n));
        let to_send = data.get(skip..).unwrap_or_default();
        socket.write_all(to_send).map_err(|e| (e, sent))?;
        sent += to_send.len() as u64;
        pos += n as u64;
    }
    Ok((sent, Some(hasher.finalize())))
}

impl std::fmt::Debug for FileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileServer")
            .field("root", &self.root.path())
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_names_are_decoded_and_bad_ones_refused() {
        // "文件.txt" as the Python client sends it on Windows.
        let gbk = [0xce, 0xc4, 0xbc, 0xfe, b'.', b't', b'x', b't'];
        assert_eq!(
            decode_tutorial_name(&gbk, Encoding::Gbk).unwrap(),
            "文件.txt".as_bytes()
        );
        assert!(decode_tutorial_name(&[0xff, 0xff], Encoding::Gbk).is_err());
        assert!(decode_tutorial_name(&[0xce], Encoding::Gbk).is_err());
        // UTF-8 names pass through untouched; Root judges them.
        assert_eq!(
            decode_tutorial_name(&[0xff, b'a'], Encoding::Utf8).unwrap(),
            vec![0xff, b'a']
        );
    }

    #[test]
    fn every_root_refusal_has_a_code() {
        use RootErrorKind::*;
        let pairs = [
            (BadRequest, ErrorCode::BadRequest),
            (Outside, ErrorCode::OutsideRoot),
            (NotFound, ErrorCode::NotFound),
            (IsDirectory, ErrorCode::IsADirectory),
            (NotDirectory, ErrorCode::NotADirectory),
            (PermissionDenied, ErrorCode::PermissionDenied),
            (AlreadyExists, ErrorCode::AlreadyExists),
            (NotEmpty, ErrorCode::NotEmpty),
            (Other, ErrorCode::Internal),
        ];
        for (kind, code) in pairs {
            assert_eq!(root_error_code(kind), code);
        }
    }

    #[test]
    fn hashed_sending_skips_what_the_client_has_but_hashes_it() {
        use std::net::TcpListener;
        let dir = crate::test_support::TempDir::new("fileserver");
        let path = dir.join("f");
        let data: Vec<u8> = (0..(SEND_CHUNK * 2 + 77))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        for offset in [0u64, 5, SEND_CHUNK as u64 + 3, data.len() as u64] {
            let mut file = std::fs::File::open(&path).unwrap();
            let reader = std::thread::spawn({
                let mut client = client.try_clone().unwrap();
                let want = data.len() - offset as usize;
                move || {
                    let mut got = vec![0u8; want];
                    client.read_exact(&mut got).unwrap();
                    got
                }
            });
            let (sent, digest) =
                send_hashed(&mut file, offset, data.len() as u64, &server).unwrap();
            assert_eq!(sent, data.len() as u64 - offset);
            assert_eq!(digest, Some(Sha256::digest(&data)));
            assert_eq!(reader.join().unwrap(), &data[offset as usize..]);
        }
    }
}
