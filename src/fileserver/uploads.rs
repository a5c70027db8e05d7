//! UPLOAD on the server (docs/PROTOCOL.md 7.4): one upload per target at a time, resume only of the same source, the size limit, `put -p`'s attributes, and a commit that renames only a complete file.
//!
//! Two uploads to one name would share one partial file (`Root` names it
//! `.<name>.part`, deterministically, so a broken upload is found again), so
//! each target is locked for the length of its upload, by the key `Root`
//! gives every spelling of it. What a partial holds (the source's size and
//! identity) is remembered in memory: a partial found after a restart of
//! the server is not trusted, and the upload starts over.

use super::framed::{refuse, write_response};
use super::{root_reply, FileServer, Outcome, Then};
use crate::escape;
use crate::net;
use crate::protocol::{Attrs, ErrorCode, ErrorReply, Response};
use crate::root::UploadKey;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

/// Bytes read from the socket per write to the partial file.
const UPLOAD_RECV_BUFFER: usize = 64 * 1024;

/// Partial uploads remembered at once; past it, one record is forgotten
/// (that upload then starts over), so clients cannot make the server's
/// memory grow without bound.
const MAX_RECORDS: usize = 4096;

/// What an UPLOAD request asked for, beyond its path.
pub(super) struct Asked {
    pub size: u64,
    pub identity: Vec<u8>,
    pub resume: bool,
    pub overwrite: bool,
    pub attrs: Option<Attrs>,
}

/// Which targets are being uploaded right now, and what each partial holds.
#[derive(Default)]
pub(super) struct Uploads {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    active: HashSet<UploadKey>,
    partials: HashMap<UploadKey, Record>,
}

/// The source a partial file's bytes came from.
struct Record {
    size: u64,
    identity: Vec<u8>,
}

/// Held while one target is being uploaded; dropping it frees the target.
pub(super) struct Lock<'a> {
    uploads: &'a Uploads,
    key: UploadKey,
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        self.uploads.state().active.remove(&self.key);
    }
}

impl Uploads {
    fn state(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left plain sets and
        // maps behind, which are still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The target for this upload alone, or `None` if another one has it.
    fn lock(&self, key: &UploadKey) -> Option<Lock<'_>> {
        let mut state = self.state();
        if !state.active.insert(key.clone()) {
            return None;
        }
        Some(Lock {
            uploads: self,
            key: key.clone(),
        })
    }

    /// Where the upload can go on: the partial's length, if the client
    /// asked to resume and the partial came from the same source.
    fn resume_point(&self, key: &UploadKey, asked: &Asked, on_disk: u64) -> u64 {
        if !asked.resume || asked.identity.is_empty() || on_disk > asked.size {
            return 0;
        }
        match self.state().partials.get(key) {
            Some(r) if r.size == asked.size && r.identity == asked.identity => on_disk,
            _ => 0,
        }
    }

    fn remember(&self, key: &UploadKey, asked: &Asked) {
        let mut state = self.state();
        if state.partials.len() >= MAX_RECORDS && !state.partials.contains_key(key) {
            if let Some(old) = state.partials.keys().next().cloned() {
                state.partials.remove(&old);
            }
        }
        state.partials.insert(
            key.clone(),
            Record {
                size: asked.size,
                identity: asked.identity.clone(),
            },
        );
    }

    fn forget(&self, key: &UploadKey) {
        self.state().partials.remove(key);
    }
}

/// How receiving the raw bytes ended.
enum Received {
    Done,
    /// The connection ended or failed first; `write_failed` if the partial
    /// is also incomplete in the middle.
    Lost {
        got: u64,
        why: String,
        write_failed: bool,
    },
    /// Every byte was read, but writing them failed (disk full...).
    WriteFailed(io::Error),
}

fn busy(shown: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorCode::Busy,
        &format!("busy: {shown} is being uploaded by another client; try again when it is done"),
    )
}

impl FileServer {
    /// UPLOAD (docs/PROTOCOL.md 7.4). Refusals come before UPLOAD_READY, so
    /// no raw bytes follow them and the connection stays in step.
    pub(super) fn upload(
        &self,
        reader: &mut dyn Read,
        stream: &TcpStream,
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
        let key = target.key().clone();
        // Taken before the partial is opened: a second upload must not even
        // reopen a partial another one is writing or committing.
        let Some(_lock) = self.uploads.lock(&key) else {
            return refuse(stream, busy(&shown));
        };
        let mut up = match target.open() {
            Ok(up) => up,
            Err(e) => return refuse(stream, root_reply(&e)),
        };
        let offset = self.uploads.resume_point(&key, &asked, up.resume_from());
        if offset == 0 && up.resume_from() > 0 {
            if let Err(e) = up.start_over() {
                return refuse(stream, root_reply(&e));
            }
        }
        self.uploads.remember(&key, &asked);
        write_response(stream, &Response::UploadReady { offset })?;

        let size = asked.size;
        let resumed = if offset > 0 {
            format!(" (resumed at byte {offset})")
        } else {
            String::new()
        };
        let want = size - offset;
        match receive(reader, up.file(), want) {
            Received::Done => {}
            Received::Lost {
                got,
                why,
                write_failed,
            } => {
                let kept = if write_failed {
                    self.uploads.forget(&key);
                    let _ = up.abort();
                    "a write had failed, so nothing is kept"
                } else {
                    up.keep();
                    "the partial file is kept for a resume"
                };
                let outcome = Outcome::new(
                    format!(
                        "connection lost after {} of {size} bytes{resumed} ({why}); {kept}",
                        offset + got
                    ),
                    got,
                );
                return Ok((outcome, Then::Close));
            }
            Received::WriteFailed(e) => {
                self.uploads.forget(&key);
                let _ = up.abort();
                let why = format!(
                    "internal: writing {shown} failed: {}; nothing was kept",
                    crate::cli::describe_io(&e)
                );
                return refuse_received(stream, ErrorReply::new(ErrorCode::Internal, &why), want);
            }
        }
        if let Some(attrs) = asked.attrs {
            if let Err(e) = apply_attrs(up.file(), attrs) {
                // Every byte is there: a resume sends none and tries again.
                let why = format!(
                    "internal: setting the time and permissions of {shown}: {}",
                    crate::cli::describe_io(&e)
                );
                return refuse_received(stream, ErrorReply::new(ErrorCode::Internal, &why), want);
            }
        }
        match up.commit(size) {
            Ok(()) => {
                self.uploads.forget(&key);
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

    /// For removing a partial upload `dir/.x.part`: the lock on `dir/x`, so
    /// that a running upload's partial is never removed under it. `None`
    /// when nothing can be uploaded to `dir/x` (then nothing uses the partial).
    pub(super) fn lock_partial(&self, path: &[u8]) -> Result<Option<Lock<'_>>, ErrorReply> {
        let (dir, last) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                path.get(..=i).unwrap_or_default(),
                path.get(i + 1..).unwrap_or_default(),
            ),
            None => (&b""[..], path),
        };
        let Some(name) = last
            .strip_prefix(b".")
            .and_then(|rest| rest.strip_suffix(b".part"))
        else {
            return Ok(None);
        };
        let mut target = dir.to_vec();
        target.extend_from_slice(name);
        let Ok(t) = self.root.prepare_upload(&target) else {
            return Ok(None);
        };
        match self.uploads.lock(t.key()) {
            Some(lock) => {
                self.uploads.forget(t.key());
                Ok(Some(lock))
            }
            None => Err(busy(&escape::name(&target))),
        }
    }
}

/// An error after the raw bytes arrived: logged with the bytes received.
fn refuse_received(
    stream: &TcpStream,
    reply: ErrorReply,
    received: u64,
) -> io::Result<(Outcome, Then)> {
    let (outcome, then) = refuse(stream, reply)?;
    Ok((Outcome::new(outcome.result, received), then))
}

/// Exactly `want` raw bytes from `reader` into `file`. After a failed
/// write the rest is still read (and dropped), so the stream stays in step
/// and the client hears why (docs/PROTOCOL.md 7.4, step 4). Never reads
/// past `want`: what is written is bounded by the announced size, which was
/// checked against the server's limit.
fn receive(reader: &mut dyn Read, file: &mut File, want: u64) -> Received {
    let mut buf = vec![0u8; UPLOAD_RECV_BUFFER];
    let mut got = 0u64;
    let mut failed: Option<io::Error> = None;
    while got < want {
        let n = usize::try_from(want - got).map_or(buf.len(), |left| left.min(buf.len()));
        let chunk = buf.get_mut(..n).unwrap_or_default();
        let read = match net::recv(reader, chunk) {
            Ok(0) => {
                return Received::Lost {
                    got,
                    why: "the client closed the connection".into(),
                    write_failed: failed.is_some(),
                }
            }
            Ok(read) => read,
            Err(e) => {
                return Received::Lost {
                    got,
                    why: crate::cli::describe_io(&e),
                    write_failed: failed.is_some(),
                }
            }
        };
        if failed.is_none() {
            if let Err(e) = file.write_all(chunk.get(..read).unwrap_or_default()) {
                failed = Some(e);
            }
        }
        got += read as u64;
    }
    match failed {
        None => Received::Done,
        Some(e) => Received::WriteFailed(e),
    }
}

/// `put -p`: the source's modification time and its permission bits as they
/// are; plain `put`: its permission bits masked by this server's umask, as
/// sftp does. Never a set-id bit: a client never makes a set-id file here.
fn apply_attrs(file: &File, attrs: Attrs) -> io::Result<()> {
    match attrs.mtime_ns {
        Some(mtime_ns) => crate::file_meta::apply(file, mtime_ns, attrs.mode),
        None => crate::file_meta::give_mode(file, attrs.mode),
    }
}
