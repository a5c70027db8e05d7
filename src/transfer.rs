//! The client side of a download: `<out>.part`, resuming only the same version, end-to-end SHA-256, and a rename that makes the file appear only when whole.
//!
//! A download writes to `<out>.part` and records, in `<out>.part.info`, which
//! server-side version (the identity of docs/PROTOCOL.md 7.1) those bytes came
//! from. An interrupted run leaves both; the next run asks the server to go
//! on from the `.part`'s length if the version is still the same, and starts
//! over otherwise. Only when every byte has arrived (and, with verification,
//! the SHA-256 of the whole file matches the server's) is `.part` renamed to
//! `<out>`. `download_client` uses this module, and so does `file_shell`,
//! which also lists, makes, renames and removes through [`Connection`]
//! (the `remote` submodule) and uploads with the same guarantees: a
//! temporary name on the server, resume of the same source only, a rename
//! when complete (the `upload` submodule).
//!
//! The output is not `fsync`ed before the rename (like `curl`, `wget` and
//! `rsync` by default): a crash of the process or a dropped connection never
//! leaves a short file under the final name, but a power failure right after
//! the rename may, depending on the file system.

use crate::protocol::{
    ClientHello, ErrorCode, ErrorReply, Meta, ProtocolError, Request, Response, ServerHello,
    TUTORIAL_READ_LEN, VERSION,
};
use crate::sha256::{self, Sha256};
use crate::token::{Token, TOKEN_ENV};
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

mod remote;
mod upload;

pub use upload::{UploadOptions, Uploaded};

/// How much is read from the socket at a time: big reads mean few system
/// calls (std's `io::copy` would use 8 KiB), and writes into the page cache
/// get cheaper per byte as they grow: receiving 1 GiB cost 0.55-0.7 s of
/// system time with 256 KiB, 0.65-1.1 s with 128 KiB, 0.85-1.1 s with 64 KiB.
const RECV_CHUNK: usize = 256 * 1024;

/// Buffers in flight between the receiving and the writing thread.
const BUFFERS: usize = 4;

/// First line of a `.part.info` file; a file without it is not ours.
const INFO_MAGIC: &str = "socket-tutorial partial download 1";

/// Why a download failed.
#[derive(Debug)]
pub enum TransferError {
    /// The server answered with an ERROR; the connection stays usable unless
    /// the reply said it closes.
    Refused(ErrorReply),
    /// The connection failed or the server broke the protocol: it cannot be
    /// used for another request.
    Broken(String),
    /// A local file could not be read or written.
    Local(String),
    /// Every byte arrived but the SHA-256 digests differ; nothing was kept.
    Mismatch(String),
}

impl TransferError {
    /// Whether the same connection can carry the next request.
    pub fn connection_usable(&self) -> bool {
        match self {
            TransferError::Refused(reply) => !reply.closing,
            TransferError::Local(_) | TransferError::Mismatch(_) => true,
            TransferError::Broken(_) => false,
        }
    }

    fn local(what: impl fmt::Display, err: &io::Error) -> TransferError {
        TransferError::Local(format!("{what}: {}", crate::cli::describe_io(err)))
    }

    fn broken(what: impl fmt::Display, err: &io::Error) -> TransferError {
        TransferError::Broken(format!("{what}: {}", crate::cli::describe_io(err)))
    }

    fn protocol(err: ProtocolError) -> TransferError {
        match err {
            ProtocolError::Io(e) => TransferError::broken("connection to the server failed", &e),
            ProtocolError::Truncated => {
                TransferError::Broken("the server closed the connection mid-answer".into())
            }
            other => TransferError::Broken(format!("the server broke the protocol: {other}")),
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The server's message already says what it is (`not found: "a.txt"`);
            // it comes from the network, so it is shown with control characters escaped.
            TransferError::Refused(reply) if !reply.message.is_empty() => {
                f.write_str(&crate::escape::text(&reply.message))
            }
            TransferError::Refused(reply) => write!(f, "{}", reply.code),
            TransferError::Broken(m) | TransferError::Local(m) | TransferError::Mismatch(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for TransferError {}

/// How a download began, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// No partial file: from byte 0.
    Fresh,
    /// Went on from the partial file's length.
    Resumed { from: u64 },
    /// A partial file was there but could not be used; why.
    Restarted { reason: String },
}

/// What the caller hears while a download runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A partial file cannot be used: the download starts over, for this reason.
    StartingOver(&'a str),
    /// The server is about to send bytes `offset..size`.
    Begin { size: u64, offset: u64 },
    /// This many bytes of the file have arrived (resumed part included).
    Progress(u64),
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Size of the whole file.
    pub size: u64,
    /// Bytes that crossed the network this time.
    pub received: u64,
    pub start: Start,
    /// The SHA-256 both sides agreed on, when verification was asked for.
    pub digest: Option<[u8; 32]>,
}

/// `<out>.part`: where the bytes go until the file is whole.
pub fn part_path(out: &Path) -> PathBuf {
    with_suffix(out, ".part")
}

/// `<out>.part.info`: which version of which remote file the `.part` holds.
pub fn info_path(out: &Path) -> PathBuf {
    with_suffix(out, ".part.info")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The last component of a remote name, if it names a file: `docs/a.txt` ->
/// `a.txt`. Both `/` and `\` count as separators, so a name can never place
/// the local copy anywhere but where the caller decides.
pub fn remote_file_name(remote: &[u8]) -> Option<&[u8]> {
    let last = remote.rsplit(|&b| b == b'/' || b == b'\\').next()?;
    match last {
        b"" | b"." | b".." => None,
        name => Some(name),
    }
}

/// The Python's `"copy-" + name`, in the current directory: `copy-a.txt`.
pub fn default_output(remote: &[u8]) -> Option<PathBuf> {
    let name = remote_file_name(remote)?;
    let mut out = b"copy-".to_vec();
    out.extend_from_slice(name);
    Some(PathBuf::from(OsString::from_vec(out)))
}

/// `dir/<name>` for `-o DIR`.
pub fn output_in_dir(dir: &Path, remote: &[u8]) -> Option<PathBuf> {
    let name = remote_file_name(remote)?;
    Some(dir.join(std::ffi::OsStr::from_bytes(name)))
}

/// `get -p`: give a downloaded file the remote modification time and
/// permission bits (`0o777` only: a server never makes a set-id file here).
pub fn apply_meta(path: &Path, meta: &Meta) -> io::Result<()> {
    crate::file_meta::apply_to_path(path, meta.mtime_ns, meta.mode)
}

/// A line like `sha256sum` prints: `<hex>  <file>`.
pub fn sha256sum_line(digest: &[u8; 32], file: &Path) -> String {
    format!("{}  {}", sha256::hex(digest), file.display())
}

/// What `<out>.part.info` records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartInfo {
    name: Vec<u8>,
    size: u64,
    identity: Vec<u8>,
}

impl PartInfo {
    fn encode(&self) -> String {
        format!(
            "{INFO_MAGIC}\nname {}\nsize {}\nidentity {}\n",
            to_hex(&self.name),
            self.size,
            to_hex(&self.identity)
        )
    }

    fn parse(text: &str) -> Option<PartInfo> {
        let mut lines = text.lines();
        if lines.next()? != INFO_MAGIC {
            return None;
        }
        let name = from_hex(lines.next()?.strip_prefix("name ")?)?;
        let size = lines.next()?.strip_prefix("size ")?.parse().ok()?;
        let identity = from_hex(lines.next()?.strip_prefix("identity ")?)?;
        Some(PartInfo {
            name,
            size,
            identity,
        })
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What to ask for, given what a previous run left on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Fresh,
    Resume {
        offset: u64,
        identity: Vec<u8>,
    },
    /// Something is there but unusable: start over, and say why.
    Restart(String),
}

fn plan(part: &Path, info: &Path, remote: &[u8]) -> Result<Plan, TransferError> {
    let len = match fs::metadata(part) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => {
            return Err(TransferError::Local(format!(
                "{} exists and is not a file",
                part.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Plan::Fresh),
        Err(e) => return Err(TransferError::local(part.display(), &e)),
    };
    let recorded = fs::read_to_string(info)
        .ok()
        .and_then(|t| PartInfo::parse(&t));
    Ok(match recorded {
        None => Plan::Restart(format!(
            "{} has no record of which version it holds",
            part.display()
        )),
        Some(r) if r.name != remote => {
            Plan::Restart(format!("{} holds part of another file", part.display()))
        }
        Some(r) if len > r.size => Plan::Restart(format!(
            "{} is longer than the file it is part of",
            part.display()
        )),
        Some(_) if len == 0 => Plan::Fresh,
        Some(r) => Plan::Resume {
            offset: len,
            identity: r.identity,
        },
    })
}

/// A framed connection to a file server, after the hellos.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    hello: ServerHello,
}

impl Connection {
    /// Exchange hellos on a connected stream (docs/PROTOCOL.md 4.1-4.2, 4.6).
    pub fn handshake(stream: TcpStream) -> Result<Connection, TransferError> {
        let peer = stream
            .peer_addr()
            .map_err(|e| TransferError::broken("reading the server's address", &e))?;
        // Requests and replies are small and strictly alternate; never let
        // one wait for a delayed ACK.
        let _ = stream.set_nodelay(true);
        ClientHello::default()
            .write_to(&mut &stream)
            .map_err(|e| TransferError::broken(format!("sending the hello to {peer}"), &e))?;
        let hello = match ServerHello::read_from(&mut &stream) {
            Ok(Some(hello)) => hello,
            Ok(None) => {
                return Err(TransferError::Broken(format!(
                    "the server {peer} closed the connection without answering the hello: \
                     it does not speak download_client's protocol (for the tutorial's \
                     download_server.py use --raw)"
                )))
            }
            Err(ProtocolError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(TransferError::Broken(format!(
                    "the server {peer} reset the connection without answering the hello: \
                     it does not speak download_client's protocol (for the tutorial's \
                     download_server.py use --raw)"
                )))
            }
            Err(e) => return Err(TransferError::protocol(e)),
        };
        // A busy server sends its ERROR right after the hello; it is read as
        // the answer to the first request, so nothing here waits for it.
        let mut conn = Connection {
            stream,
            peer,
            hello,
        };
        if hello.version != VERSION {
            // The server names the version it speaks, then an ERROR, then closes.
            return Err(match conn.read_response() {
                Ok(Response::Error(reply)) => TransferError::Refused(reply),
                _ => TransferError::Broken(format!(
                    "the server {peer} speaks protocol version {}, this client {VERSION}",
                    hello.version
                )),
            });
        }
        Ok(conn)
    }

    /// [`Connection::handshake`], then AUTH with `token` if the server asks
    /// for one (and only then: a token is not sent to a server that did not
    /// ask for it).
    pub fn open(stream: TcpStream, token: Option<&Token>) -> Result<Connection, TransferError> {
        let mut conn = Connection::handshake(stream)?;
        if conn.hello.token_required {
            match token {
                Some(token) => conn.auth(token.as_bytes())?,
                None => {
                    return Err(TransferError::Refused(ErrorReply::new(
                        ErrorCode::Unauthorized,
                        &format!(
                            "unauthorized: the server {} wants a token: give --token-file FILE \
                             or set {TOKEN_ENV}",
                            conn.peer
                        ),
                    )))
                }
            }
        }
        Ok(conn)
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The server's hello (its flags say whether it is read-only).
    pub fn server_hello(&self) -> ServerHello {
        self.hello
    }

    fn send(&mut self, request: &Request) -> Result<(), TransferError> {
        request
            .write_to(&mut &self.stream)
            .map_err(TransferError::protocol)
    }

    fn read_response(&mut self) -> Result<Response, TransferError> {
        match Response::read_from(&mut &self.stream) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(TransferError::Broken(format!(
                "the server {} closed the connection",
                self.peer
            ))),
            Err(e) => Err(TransferError::protocol(e)),
        }
    }

    /// STAT: kind, size and time of a remote path.
    pub fn stat(&mut self, remote: &[u8]) -> Result<Meta, TransferError> {
        self.send(&Request::Stat {
            path: remote.to_vec(),
        })?;
        match self.read_response()? {
            Response::Stat(meta) => Ok(meta),
            Response::Error(reply) => Err(TransferError::Refused(reply)),
            other => Err(unexpected(&other)),
        }
    }

    /// Download `remote` to `out` through `<out>.part`, resuming a partial
    /// copy of the same version, verifying with SHA-256 if `verify`.
    pub fn download(
        &mut self,
        remote: &[u8],
        out: &Path,
        verify: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<Downloaded, TransferError> {
        let part = part_path(out);
        let info = info_path(out);
        let mut start = Start::Fresh;
        let (offset, identity) = match plan(&part, &info, remote)? {
            Plan::Fresh => (0, Vec::new()),
            Plan::Resume { offset, identity } => {
                start = Start::Resumed { from: offset };
                (offset, identity)
            }
            Plan::Restart(reason) => {
                events(Event::StartingOver(&reason));
                start = Start::Restarted { reason };
                (0, Vec::new())
            }
        };
        self.send(&download_request(remote, offset, identity, verify))?;
        let mut answer = self.read_response()?;
        if offset > 0 {
            if let Response::Error(reply) = &answer {
                if reply.code == ErrorCode::Conflict && !reply.closing {
                    let reason = format!(
                        "{} changed on the server since the partial download",
                        String::from_utf8_lossy(remote)
                    );
                    events(Event::StartingOver(&reason));
                    start = Start::Restarted { reason };
                    self.send(&download_request(remote, 0, Vec::new(), verify))?;
                    answer = self.read_response()?;
                }
            }
        }
        let (size, offset, identity) = match answer {
            Response::File {
                size,
                offset: at,
                identity,
            } => {
                let asked = if matches!(start, Start::Resumed { .. }) {
                    offset
                } else {
                    0
                };
                if at != asked {
                    return Err(TransferError::Broken(format!(
                        "the server sent bytes from offset {at}, not {asked} as asked"
                    )));
                }
                (size, at, identity)
            }
            Response::Error(reply) => return Err(TransferError::Refused(reply)),
            other => return Err(unexpected(&other)),
        };
        let info_text = PartInfo {
            name: remote.to_vec(),
            size,
            identity,
        }
        .encode();
        fs::write(&info, info_text)
            .map_err(|e| TransferError::local(format!("cannot write {}", info.display()), &e))?;
        let mut file = open_part(&part, offset)?;
        let mut hasher = if verify {
            Some(hash_prefix(&part, offset)?)
        } else {
            None
        };
        events(Event::Begin { size, offset });
        let received = self.receive(&mut file, &part, offset, size, hasher.as_mut(), events)?;
        drop(file);
        let digest = match hasher {
            None => None,
            Some(h) => Some(self.check_digest(h.finalize(), remote, &part, &info)?),
        };
        let on_disk = fs::metadata(&part)
            .map_err(|e| TransferError::local(part.display(), &e))?
            .len();
        if on_disk != size {
            return Err(TransferError::Local(format!(
                "{} has {on_disk} bytes, expected {size}: was it changed meanwhile?",
                part.display()
            )));
        }
        fs::rename(&part, out).map_err(|e| {
            TransferError::local(
                format!("cannot rename {} to {}", part.display(), out.display()),
                &e,
            )
        })?;
        let _ = fs::remove_file(&info);
        Ok(Downloaded {
            size,
            received,
            start,
            digest,
        })
    }

    /// Bytes `offset..size` from the socket to the `.part`.
    ///
    /// Two threads: this one receives while a writer thread writes (and
    /// hashes) the previous chunk, so the copy out of the socket overlaps the
    /// slower copy into the page cache. [`BUFFERS`] buffers go round between
    /// them. Whatever arrived is written before this returns, even when the
    /// connection fails, so the `.part` always holds exactly the bytes received.
    fn receive(
        &mut self,
        file: &mut File,
        part: &Path,
        offset: u64,
        size: u64,
        hasher: Option<&mut Sha256>,
        events: &mut dyn FnMut(Event),
    ) -> Result<u64, TransferError> {
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
        let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 0..BUFFERS {
            empty_tx
                .send(vec![0u8; RECV_CHUNK])
                .expect("the channel holds BUFFERS buffers");
        }
        thread::scope(|scope| {
            let writer = scope.spawn(move || write_chunks(file, part, hasher, full_rx, empty_tx));
            let received = self.receive_chunks(part, offset, size, &full_tx, &empty_rx, events);
            drop(full_tx);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(TransferError::Local("the writer thread failed".into())));
            // A local failure explains a stopped reader better than the reverse.
            written?;
            received
        })
    }

    fn receive_chunks(
        &mut self,
        part: &Path,
        offset: u64,
        size: u64,
        full: &mpsc::SyncSender<(Vec<u8>, usize)>,
        empty: &mpsc::Receiver<Vec<u8>>,
        events: &mut dyn FnMut(Event),
    ) -> Result<u64, TransferError> {
        let mut done = offset;
        while done < size {
            // No buffer back means the writer stopped; it reports why.
            let Ok(mut buf) = empty.recv() else {
                return Ok(done - offset);
            };
            let want = usize::try_from(size - done).map_or(buf.len(), |n| n.min(buf.len()));
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let n = match self.stream.read(chunk) {
                Ok(0) => {
                    return Err(TransferError::Broken(format!(
                        "the connection ended after {done} of {size} bytes; {} is kept: run again to resume",
                        part.display()
                    )))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    let _ = full.send((buf, 0));
                    continue;
                }
                Err(e) => {
                    return Err(TransferError::Broken(format!(
                        "the connection failed after {done} of {size} bytes ({}); {} is kept: run again to resume",
                        crate::cli::describe_io(&e),
                        part.display()
                    )))
                }
            };
            if full.send((buf, n)).is_err() {
                return Ok(done - offset);
            }
            done += n as u64;
            events(Event::Progress(done));
        }
        Ok(done - offset)
    }

    /// Compare our digest with the server's DIGEST frame; on a mismatch
    /// nothing is kept, since some byte on disk is wrong and we cannot tell which.
    fn check_digest(
        &mut self,
        ours: [u8; 32],
        remote: &[u8],
        part: &Path,
        info: &Path,
    ) -> Result<[u8; 32], TransferError> {
        let theirs = match self.read_response()? {
            Response::Digest(d) => d,
            other => return Err(unexpected(&other)),
        };
        if theirs == ours {
            return Ok(ours);
        }
        let _ = fs::remove_file(part);
        let _ = fs::remove_file(info);
        Err(TransferError::Mismatch(format!(
            "sha256 mismatch for {}: the server has {}, the copy here {}; it was not kept",
            String::from_utf8_lossy(remote),
            sha256::hex(&theirs),
            sha256::hex(&ours)
        )))
    }
}

/// The writer thread of [`Connection::receive`]: chunks to the `.part` (and
/// the hasher), each buffer sent back for the next read.
fn write_chunks(
    file: &mut File,
    part: &Path,
    mut hasher: Option<&mut Sha256>,
    full: mpsc::Receiver<(Vec<u8>, usize)>,
    empty: mpsc::SyncSender<Vec<u8>>,
) -> Result<(), TransferError> {
    for (buf, n) in full {
        let data = buf.get(..n).unwrap_or_default();
        file.write_all(data)
            .map_err(|e| TransferError::local(format!("writing {}", part.display()), &e))?;
        if let Some(h) = hasher.as_mut() {
            h.update(data);
        }
        // The reader may have finished and gone: then the buffer is not needed.
        let _ = empty.send(buf);
    }
    Ok(())
}

fn download_request(remote: &[u8], offset: u64, identity: Vec<u8>, verify: bool) -> Request {
    Request::Download {
        path: remote.to_vec(),
        offset,
        identity,
        want_sha256: verify,
    }
}

fn unexpected(response: &Response) -> TransferError {
    TransferError::Broken(format!(
        "the server broke the protocol: unexpected answer (frame type 0x{:02x})",
        response.frame_type()
    ))
}

/// The `.part`, positioned at `offset` (created empty for a fresh download).
fn open_part(part: &Path, offset: u64) -> Result<File, TransferError> {
    let opened = if offset == 0 {
        File::create(part)
    } else {
        OpenOptions::new().write(true).open(part)
    };
    let mut file =
        opened.map_err(|e| TransferError::local(format!("cannot open {}", part.display()), &e))?;
    // Anything past `offset` is not part of what the server agreed to continue.
    file.set_len(offset)
        .and_then(|()| file.seek(SeekFrom::Start(offset)).map(drop))
        .map_err(|e| TransferError::local(format!("cannot prepare {}", part.display()), &e))?;
    Ok(file)
}

/// A hasher that has already seen the first `len` bytes of the `.part`.
fn hash_prefix(part: &Path, len: u64) -> Result<Sha256, TransferError> {
    let mut h = Sha256::new();
    if len > 0 {
        let file = File::open(part)
            .map_err(|e| TransferError::local(format!("cannot read {}", part.display()), &e))?;
        let copied = io::copy(&mut file.take(len), &mut h)
            .map_err(|e| TransferError::local(format!("cannot read {}", part.display()), &e))?;
        if copied != len {
            return Err(TransferError::Local(format!(
                "{} shrank while it was read",
                part.display()
            )));
        }
    }
    Ok(h)
}

/// The tutorial's protocol (docs/PROTOCOL.md 4.5), for the Python
/// `download_server.py`: send the name's bytes, read until the server
/// closes. Still through `.part`, so a broken connection leaves nothing under
/// `out`. Returns the number of bytes saved.
pub fn raw_download(
    mut stream: TcpStream,
    request: &[u8],
    out: &Path,
    events: &mut dyn FnMut(Event),
) -> Result<u64, TransferError> {
    if request.is_empty() || request.len() > TUTORIAL_READ_LEN {
        return Err(TransferError::Local(format!(
            "the name is {} bytes; the tutorial's server reads 1 to {TUTORIAL_READ_LEN}",
            request.len()
        )));
    }
    stream
        .write_all(request)
        .map_err(|e| TransferError::broken("sending the file name", &e))?;
    let mut buf = vec![0u8; RECV_CHUNK];
    let first = read_retrying(&mut stream, &mut buf)
        .map_err(|e| TransferError::broken("receiving the file", &e))?;
    if first == 0 {
        return Err(TransferError::Refused(ErrorReply::new(
            ErrorCode::NotFound,
            "nothing received (missing file or empty file: the tutorial protocol cannot tell them apart)",
        )));
    }
    let part = part_path(out);
    // A .part from a framed run is not continued by this one.
    let _ = fs::remove_file(info_path(out));
    let mut file = File::create(&part)
        .map_err(|e| TransferError::local(format!("cannot create {}", part.display()), &e))?;
    let mut n = first;
    let mut total = 0u64;
    loop {
        let data = buf.get(..n).unwrap_or_default();
        if let Err(e) = file.write_all(data) {
            let _ = fs::remove_file(&part);
            return Err(TransferError::local(
                format!("writing {}", part.display()),
                &e,
            ));
        }
        total += n as u64;
        events(Event::Progress(total));
        n = match read_retrying(&mut stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Nothing can resume a tutorial download: do not leave a piece behind.
                let _ = fs::remove_file(&part);
                return Err(TransferError::broken(
                    format!("the connection failed after {total} bytes (nothing kept)"),
                    &e,
                ));
            }
        };
    }
    drop(file);
    fs::rename(&part, out).map_err(|e| {
        TransferError::local(
            format!("cannot rename {} to {}", part.display(), out.display()),
            &e,
        )
    })?;
    Ok(total)
}

fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SERVER_HELLO_LEN;
    use crate::test_support::TempDir;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn output_names_stay_where_the_caller_puts_them() {
        assert_eq!(default_output(b"a.txt"), Some(PathBuf::from("copy-a.txt")));
        assert_eq!(
            default_output(b"docs/a.txt"),
            Some(PathBuf::from("copy-a.txt"))
        );
        assert_eq!(
            default_output(b"../../etc/passwd"),
            Some(PathBuf::from("copy-passwd"))
        );
        assert_eq!(
            default_output(b"..\\x\\evil"),
            Some(PathBuf::from("copy-evil"))
        );
        for none in [&b""[..], b"dir/", b"..", b"a/.", b"/"] {
            assert_eq!(default_output(none), None, "{none:?}");
        }
        assert_eq!(
            output_in_dir(Path::new("out"), b"x/y.bin"),
            Some(PathBuf::from("out/y.bin"))
        );
        assert_eq!(part_path(Path::new("d/f")), PathBuf::from("d/f.part"));
        assert_eq!(info_path(Path::new("f")), PathBuf::from("f.part.info"));
    }

    #[test]
    fn part_info_round_trips_and_rejects_strangers() {
        let info = PartInfo {
            name: vec![0xff, b'a', b'/'],
            size: 1 << 40,
            identity: (0..32).collect(),
        };
        assert_eq!(PartInfo::parse(&info.encode()), Some(info));
        assert_eq!(PartInfo::parse("something else\n"), None);
        assert_eq!(
            PartInfo::parse(&format!("{INFO_MAGIC}\nname 6\nsize 1\nidentity 00\n")),
            None
        );
        assert_eq!(from_hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(from_hex("0g"), None);
    }

    #[test]
    fn what_a_previous_run_left_decides_the_plan() {
        let t = TempDir::new("transfer");
        let out = t.path().join("f");
        let (part, info) = (part_path(&out), info_path(&out));
        assert_eq!(plan(&part, &info, b"f").unwrap(), Plan::Fresh);
        fs::write(&part, b"abc").unwrap();
        assert!(
            matches!(plan(&part, &info, b"f").unwrap(), Plan::Restart(r) if r.contains("no record"))
        );
        let rec = PartInfo {
            name: b"f".to_vec(),
            size: 10,
            identity: vec![7; 32],
        };
        fs::write(&info, rec.encode()).unwrap();
        assert_eq!(
            plan(&part, &info, b"f").unwrap(),
            Plan::Resume {
                offset: 3,
                identity: vec![7; 32]
            }
        );
        assert!(
            matches!(plan(&part, &info, b"g").unwrap(), Plan::Restart(r) if r.contains("another file"))
        );
        fs::write(&part, [0u8; 11]).unwrap();
        assert!(
            matches!(plan(&part, &info, b"f").unwrap(), Plan::Restart(r) if r.contains("longer"))
        );
        fs::write(&part, b"").unwrap();
        assert_eq!(plan(&part, &info, b"f").unwrap(), Plan::Fresh);
    }

    /// A scripted server: answers the hello, then hands the connection to `script`.
    fn fake_server(
        script: impl FnOnce(&mut TcpStream) + Send + 'static,
    ) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut hello = [0u8; 6];
            s.read_exact(&mut hello).unwrap();
            let reply = ServerHello {
                version: VERSION,
                token_required: false,
                read_only: true,
            }
            .encode();
            assert_eq!(reply.len(), SERVER_HELLO_LEN);
            s.write_all(&reply).unwrap();
            script(&mut s);
        });
        (addr, handle)
    }

    fn read_request(s: &mut TcpStream) -> Request {
        Request::read_from(s).unwrap().unwrap()
    }

    fn send(s: &mut TcpStream, r: Response) {
        r.write_to(s).unwrap();
    }

    #[test]
    fn resumes_the_same_version_and_verifies_the_whole_file() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(part_path(&out), &data[..40_000]).unwrap();
        let rec = PartInfo {
            name: b"big".to_vec(),
            size: data.len() as u64,
            identity: vec![1; 32],
        };
        fs::write(info_path(&out), rec.encode()).unwrap();
        let served = data.clone();
        let (addr, server) = fake_server(move |s| {
            let req = read_request(s);
            assert_eq!(
                req,
                Request::Download {
                    path: b"big".to_vec(),
                    offset: 40_000,
                    identity: vec![1; 32],
                    want_sha256: true
                }
            );
            send(
                s,
                Response::File {
                    size: served.len() as u64,
                    offset: 40_000,
                    identity: vec![1; 32],
                },
            );
            s.write_all(&served[40_000..]).unwrap();
            send(s, Response::Digest(Sha256::digest(&served)));
        });
        let mut conn = Connection::handshake(TcpStream::connect(addr).unwrap()).unwrap();
        let mut progress = Vec::new();
        let got = conn
            .download(b"big", &out, true, &mut |e| {
                if let Event::Progress(n) = e {
                    progress.push(n)
                }
            })
            .unwrap();
        server.join().unwrap();
        assert_eq!(got.start, Start::Resumed { from: 40_000 });
        assert_eq!(got.received, 60_000);
        assert_eq!(got.digest, Some(Sha256::digest(&data)));
        assert_eq!(fs::read(&out).unwrap(), data);
        assert!(!part_path(&out).exists() && !info_path(&out).exists());
        assert_eq!(progress.last(), Some(&100_000));
    }

    #[test]
    fn a_changed_file_starts_over_on_the_same_connection() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        fs::write(part_path(&out), b"old old").unwrap();
        let rec = PartInfo {
            name: b"f".to_vec(),
            size: 20,
            identity: vec![1; 32],
        };
        fs::write(info_path(&out), rec.encode()).unwrap();
        let (addr, server) = fake_server(|s| {
            assert!(matches!(
                read_request(s),
                Request::Download { offset: 7, .. }
            ));
            send(
                s,
                Response::Error(ErrorReply::new(ErrorCode::Conflict, "conflict: changed")),
            );
            assert!(
                matches!(read_request(s), Request::Download { offset: 0, ref identity, .. } if identity.is_empty())
            );
            send(
                s,
                Response::File {
                    size: 3,
                    offset: 0,
                    identity: vec![2; 32],
                },
            );
            s.write_all(b"new").unwrap();
        });
        let mut conn = Connection::handshake(TcpStream::connect(addr).unwrap()).unwrap();
        let mut said = Vec::new();
        let got = conn
            .download(b"f", &out, false, &mut |e| {
                if let Event::StartingOver(why) = e {
                    said.push(why.to_string())
                }
            })
            .unwrap();
        server.join().unwrap();
        assert!(matches!(got.start, Start::Restarted { .. }));
        assert_eq!(said.len(), 1);
        assert!(said[0].contains("changed on the server"), "{said:?}");
        assert_eq!(fs::read(&out).unwrap(), b"new");
    }

    #[test]
    fn a_wrong_digest_keeps_nothing_and_a_short_stream_keeps_the_part() {
        let t = TempDir::new("transfer");
        let out = t.path().join("copy");
        let (addr, server) = fake_server(|s| {
            read_request(s);
            send(
                s,
                Response::File {
                    size: 4,
                    offset: 0,
                    identity: vec![3; 32],
                },
            );
            s.write_all(b"data").unwrap();
            send(s, Response::Digest([0; 32]));
        });
        let mut conn = Connection::handshake(TcpStream::connect(addr).unwrap()).unwrap();
        let err = conn.download(b"f", &out, true, &mut |_| {}).unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, TransferError::Mismatch(_)), "{err}");
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert!(!out.exists() && !part_path(&out).exists() && !info_path(&out).exists());

        let (addr, server) = fake_server(|s| {
            read_request(s);
            send(
                s,
                Response::File {
                    size: 10,
                    offset: 0,
                    identity: vec![3; 32],
                },
            );
            s.write_all(b"part").unwrap();
        });
        let mut conn = Connection::handshake(TcpStream::connect(addr).unwrap()).unwrap();
        let err = conn.download(b"f", &out, false, &mut |_| {}).unwrap_err();
        server.join().unwrap();
        assert!(!err.connection_usable());
        assert!(err.to_string().contains("after 4 of 10 bytes"), "{err}");
        assert!(!out.exists());
        assert_eq!(fs::read(part_path(&out)).unwrap(), b"part");
        assert!(info_path(&out).exists());
    }

    #[test]
    fn a_server_that_says_nothing_is_not_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).unwrap();
        });
        let err = Connection::handshake(TcpStream::connect(addr).unwrap()).unwrap_err();
        server.join().unwrap();
        assert!(err.to_string().contains("use --raw"), "{err}");
    }
}
