//! UPLOAD on the server (docs/PROTOCOL.md 7.4): one upload per target at a time, resume only of the same source, the size limits, `put -p`'s attributes, and a commit that renames only a complete file.
//!
//! Which targets are being uploaded, what each partial holds and the bounds
//! on all of them together are kept by `partials`; this module is one
//! UPLOAD, from its frame to its answer.

use super::partials::Source;
use super::reply::{busy, refuse, write_response};
use super::{root_reply, FileServer, Outcome, Then};
use crate::core::escape;
use crate::core::net;
use crate::core::server::deadline::{lost_or_dropped, Paced};
use crate::file_service::protocol::{Attrs, ErrorCode, ErrorReply, Response};
use std::fs::File;
use std::io::{self, Read, Write};

/// Bytes read from the socket per write to the partial file.
const UPLOAD_RECV_BUFFER: usize = 64 * 1024;

/// What an UPLOAD request asked for, beyond its path.
pub(super) struct Asked {
    pub size: u64,
    pub identity: Vec<u8>,
    pub resume: bool,
    pub overwrite: bool,
    pub attrs: Option<Attrs>,
}

/// How receiving the raw bytes ended.
enum Received {
    Done,
    /// The connection ended or failed first; `write_failed` if the partial
    /// is also incomplete in the middle.
    Lost {
        got: u64,
        /// Of `got`, those in the partial file (fewer once room ran out).
        written: u64,
        /// `connection lost` or `dropped`, and why.
        why: (&'static str, String),
        write_failed: bool,
    },
    /// Every byte was read, but writing them failed (disk full...).
    WriteFailed(io::Error),
    /// Every byte was read, but only `written` went into the partial: past them
    /// `--max-partial-bytes` had no room (`busy`), and the rest was dropped.
    NoRoom {
        written: u64,
        reply: ErrorReply,
    },
}

impl FileServer {
    /// UPLOAD (docs/PROTOCOL.md 7.4). Refusals come before UPLOAD_READY, so
    /// no raw bytes follow them and the connection stays in step.
    pub(super) fn upload(
        &self,
        reader: &mut dyn Read,
        stream: &Paced<'_>,
        path: &[u8],
        asked: Asked,
    ) -> io::Result<(Outcome, Then)> {
        let shown = escape::name(path);
        if let Some(max) = self.config.max_upload {
            if asked.size > max {
                return refuse(
                    stream,
                    ErrorReply::new(
                        ErrorCode::TooLarge,
                        &format!(
                            "too large: {shown} is {} bytes; this server accepts at most {max}",
                            asked.size
                        ),
                    ),
                );
            }
        }
        let target = match self.root.prepare_upload(path) {
            Ok(t) => t,
            Err(e) => return refuse(stream, root_reply(&e)),
        };
        if target.exists() && !asked.overwrite {
            return refuse(
                stream,
                ErrorReply::new(
                    ErrorCode::AlreadyExists,
                    &format!("already exists: {shown}"),
                ),
            );
        }
        // Taken before the partial is opened: a second upload must not even
        // reopen a partial another one is writing or committing.
        let Some(lock) = self.partials.lock(target.key()) else {
            return refuse(stream, busy(&shown));
        };
        let partial = target.partial_path();
        if let Err(reply) = self
            .partials
            .reserve(&self.root, &lock, partial, asked.size, &shown)
        {
            return refuse(stream, reply);
        }
        let mut up = match target.open() {
            Ok(up) => up,
            Err(e) => {
                self.partials.forget(&lock);
                return refuse(stream, root_reply(&e));
            }
        };
        let source = Source {
            size: asked.size,
            identity: asked.identity.clone(),
        };
        let offset = self
            .partials
            .resume_point(&lock, &source, asked.resume, up.resume_from());
        if offset == 0 && up.resume_from() > 0 {
            if let Err(e) = up.start_over() {
                self.partials.settle(&lock, up.resume_from());
                return refuse(stream, root_reply(&e));
            }
        }
        // What the partial holds from here on; room for more is taken as bytes arrive.
        self.partials.settle(&lock, offset);
        self.partials.remember(&lock, source);
        write_response(stream, &Response::UploadReady { offset })?;

        let size = asked.size;
        let resumed = if offset > 0 {
            format!(" (resumed at byte {offset})")
        } else {
            String::new()
        };
        let want = size - offset;
        let window = self.partials.window();
        let mut room = |to: u64| self.partials.grow(&self.root, &lock, to);
        let received = receive(reader, up.file(), (offset, want), window, &mut room);
        match received {
            Received::Done => {}
            Received::Lost {
                got,
                written,
                why,
                write_failed,
            } => {
                let kept = if write_failed {
                    self.partials.forget(&lock);
                    let _ = up.abort();
                    "a write had failed, so nothing is kept"
                } else {
                    self.partials.settle(&lock, offset + written);
                    up.keep();
                    "the partial file is kept for a resume"
                };
                let (verb, why) = why;
                let outcome = Outcome::new(
                    format!(
                        "{verb} after {} of {size} bytes{resumed} ({why}); {kept}",
                        offset + got
                    ),
                    got,
                );
                return Ok((outcome, Then::Close));
            }
            Received::WriteFailed(e) => {
                self.partials.forget(&lock);
                let _ = up.abort();
                let why = format!(
                    "internal: writing {shown} failed: {}; nothing was kept",
                    crate::core::cli::describe_io(&e)
                );
                return refuse_received(stream, ErrorReply::new(ErrorCode::Internal, &why), want);
            }
            Received::NoRoom { written, reply } => {
                self.partials.settle(&lock, offset + written);
                up.keep();
                return refuse_received(stream, reply, want);
            }
        }
        if let Some(attrs) = asked.attrs {
            if let Err(e) = apply_attrs(up.file(), attrs) {
                // Every byte is there: a resume sends none and tries again.
                let why = format!(
                    "internal: setting the time and permissions of {shown}: {}",
                    crate::core::cli::describe_io(&e)
                );
                return refuse_received(stream, ErrorReply::new(ErrorCode::Internal, &why), want);
            }
        }
        match up.commit(size) {
            Ok(()) => {
                self.partials.forget(&lock);
                write_response(stream, &Response::Ok)?;
                let kept = match asked.attrs {
                    Some(Attrs {
                        mtime_ns: Some(_), ..
                    }) => ", time and permissions kept",
                    _ => "",
                };
                Ok((
                    Outcome::new(format!("ok{resumed}{kept}"), want),
                    Then::Continue,
                ))
            }
            Err(e) => refuse_received(stream, root_reply(&e), want),
        }
    }
}

/// An error after the raw bytes arrived: logged with the bytes received.
fn refuse_received(
    stream: &Paced<'_>,
    reply: ErrorReply,
    received: u64,
) -> io::Result<(Outcome, Then)> {
    let (outcome, then) = refuse(stream, reply)?;
    Ok((Outcome::new(outcome.result, received), then))
}

/// Exactly `want` raw bytes from `reader` into `file`, whose partial holds `offset`
/// bytes before them. After a failed write the rest is still read (and dropped), so the
/// stream stays in step and the client hears why (docs/PROTOCOL.md 7.4, step 4). Never reads
/// past `want`: what is written is bounded by the announced size, which was checked against
/// the server's limit.
///
/// Room under `--max-partial-bytes` is taken `window` bytes ahead of what has arrived
/// (`room(to)`: the partial may hold `to` bytes), and no byte is written past it: an upload
/// holds what it sent, not what it announced. When no room is left, the rest is read and
/// dropped too, and the partial keeps what it has for a resume.
fn receive(
    reader: &mut dyn Read,
    file: &mut File,
    (offset, want): (u64, u64),
    window: u64,
    room: &mut dyn FnMut(u64) -> Result<(), ErrorReply>,
) -> Received {
    let mut buf = vec![0u8; UPLOAD_RECV_BUFFER];
    let end = offset + want;
    let mut got = 0u64;
    let mut written = 0u64;
    // The partial may hold up to here.
    let mut held = offset;
    let mut failed: Option<io::Error> = None;
    let mut no_room: Option<ErrorReply> = None;
    while got < want {
        let writing = failed.is_none() && no_room.is_none();
        let at = offset + got;
        if writing && at == held {
            match room(at.saturating_add(window).min(end)) {
                Ok(()) => held = at.saturating_add(window).min(end),
                Err(reply) => no_room = Some(reply),
            }
        }
        let writing = failed.is_none() && no_room.is_none();
        let left = if writing { held - at } else { want - got };
        let n = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..n).unwrap_or_default();
        let read = match net::recv(reader, chunk) {
            Ok(0) => {
                return Received::Lost {
                    got,
                    written,
                    why: ("connection lost", "the client closed the connection".into()),
                    write_failed: failed.is_some(),
                }
            }
            Ok(read) => read,
            Err(e) => {
                return Received::Lost {
                    got,
                    written,
                    why: lost_or_dropped(&e),
                    write_failed: failed.is_some(),
                }
            }
        };
        if writing {
            match file.write_all(chunk.get(..read).unwrap_or_default()) {
                Ok(()) => written += read as u64,
                Err(e) => failed = Some(e),
            }
        }
        got += read as u64;
    }
    match (failed, no_room) {
        (Some(e), _) => Received::WriteFailed(e),
        (None, Some(reply)) => Received::NoRoom { written, reply },
        (None, None) => Received::Done,
    }
}

/// `put -p`: the source's modification time and its permission bits as they
/// are; plain `put`: its permission bits masked by this server's umask, as
/// sftp does. Never a set-id bit: a client never makes a set-id file here.
fn apply_attrs(file: &File, attrs: Attrs) -> io::Result<()> {
    match attrs.mtime_ns {
        Some(mtime_ns) => crate::file_service::file_meta::apply(file, mtime_ns, attrs.mode),
        None => crate::file_service::file_meta::give_mode(file, attrs.mode),
    }
}
