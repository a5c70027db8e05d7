//! The client side of UPLOAD (docs/PROTOCOL.md 7.4): the source's identity so only the same source is resumed, the raw bytes, and a check that the source did not change while it was sent.

use super::connection::is_timeout;
use super::{unexpected, Connection, Event, Start, TransferError};
use crate::core::net;
use crate::file_service::protocol::{Attrs, Request, Response};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::net::Shutdown;
use std::path::Path;

/// Bytes read from the local file per write to the socket.
const UPLOAD_SEND_BUFFER: usize = 256 * 1024;

/// How to upload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// Continue a partial upload of the same source, if the server has one.
    pub resume: bool,
    /// Replace an existing remote file.
    pub overwrite: bool,
    /// Give the remote file the source's modification time, and its permission
    /// bits as they are (without it they are masked by the server's umask).
    pub preserve: bool,
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Size of the whole file.
    pub size: u64,
    /// Bytes that crossed the network this time.
    pub sent: u64,
    /// [`Start::Resumed`] when the server already held part of it.
    pub start: Start,
}

impl Connection {
    /// Upload the regular file `local` to `remote`. The server writes it to a
    /// temporary name and renames it into place only when every byte is
    /// there; a broken upload can be resumed with `resume` while the
    /// server keeps its partial file.
    ///
    /// A source that shrinks while it is read cannot deliver the promised
    /// size: the connection is then unusable (`Broken`), and the server
    /// keeps what it got. A source that changed (its identity differs after
    /// the upload) is reported as `Local`: the server's copy may mix two versions.
    pub fn upload(
        &mut self,
        local: &Path,
        remote: &[u8],
        options: UploadOptions,
        events: &mut dyn FnMut(Event),
    ) -> Result<Uploaded, TransferError> {
        let kept = "what arrived is kept by the server for reput";
        self.interruptible(kept, |conn| {
            conn.upload_watched(local, remote, options, events)
        })
    }

    fn upload_watched(
        &mut self,
        local: &Path,
        remote: &[u8],
        options: UploadOptions,
        events: &mut dyn FnMut(Event),
    ) -> Result<Uploaded, TransferError> {
        let mut file = File::open(local)
            .map_err(|e| TransferError::local(format!("cannot open {}", local.display()), &e))?;
        let meta = file
            .metadata()
            .map_err(|e| TransferError::local(local.display(), &e))?;
        if !meta.is_file() {
            return Err(TransferError::Local(format!(
                "{} is not a regular file",
                local.display()
            )));
        }
        let size = meta.len();
        let identity = crate::file_service::file_meta::identity(&meta);
        // The permission bits always travel, as with sftp (the server masks them with its
        // umask); the time only with `preserve`, and then the mode is applied as it is.
        let attrs = Some(Attrs {
            mtime_ns: options.preserve.then(|| {
                meta.modified()
                    .map(crate::file_service::file_meta::system_time_ns)
                    .unwrap_or(0)
            }),
            mode: crate::file_service::file_meta::mode_bits(&meta),
        });
        self.send(&Request::Upload {
            path: remote.to_vec(),
            size,
            identity: identity.clone(),
            resume: options.resume,
            overwrite: options.overwrite,
            attrs,
        })?;
        let offset = match self.read_response("the answer to UPLOAD")? {
            Response::UploadReady { offset } if offset <= size => offset,
            Response::UploadReady { offset } => {
                return Err(TransferError::Broken(format!(
                    "the server broke the protocol: it holds {offset} bytes of a {size}-byte file"
                )))
            }
            Response::Error(reply) => return Err(TransferError::Refused(reply)),
            other => return Err(unexpected(&other)),
        };
        events(Event::Begin { size, offset });
        let sent = match self.send_bytes(&mut file, local, offset, size, events) {
            Ok(sent) => sent,
            Err(e) => {
                // The server still counts raw bytes: a next request on this
                // connection would be read as file data. Make sure there is none.
                let _ = self.stream.shutdown(Shutdown::Both);
                return Err(e);
            }
        };
        match self.read_response("the server's word that the file is stored")? {
            Response::Ok => {}
            Response::Error(reply) => return Err(TransferError::Refused(reply)),
            other => return Err(unexpected(&other)),
        }
        let now = file
            .metadata()
            .map_err(|e| TransferError::local(local.display(), &e))?;
        if crate::file_service::file_meta::identity(&now) != identity {
            return Err(TransferError::Local(format!(
                "{} changed while it was uploaded: the server's copy may mix two versions; put it again",
                local.display()
            )));
        }
        let start = if offset > 0 {
            Start::Resumed { from: offset }
        } else {
            Start::Fresh
        };
        Ok(Uploaded { size, sent, start })
    }

    /// Bytes `offset..size` of `file` to the socket.
    fn send_bytes(
        &mut self,
        file: &mut File,
        local: &Path,
        offset: u64,
        size: u64,
        events: &mut dyn FnMut(Event),
    ) -> Result<u64, TransferError> {
        // Either way the server cannot get the bytes it was promised, and only
        // a closed connection tells it so; it keeps what arrived, for `reput`.
        let cut = |done: u64, why: String| {
            TransferError::Broken(format!(
                "{why} after {done} of {size} bytes; the server keeps them: reput to resume"
            ))
        };
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| cut(offset, format!("cannot read {}: {e}", local.display())))?;
        let mut buf = vec![0u8; UPLOAD_SEND_BUFFER];
        let mut done = offset;
        while done < size {
            let want = usize::try_from(size - done).map_or(buf.len(), |left| left.min(buf.len()));
            let chunk = buf.get_mut(..want).unwrap_or_default();
            let n = match net::recv(file, chunk) {
                Ok(0) => return Err(cut(done, format!("{} shrank", local.display()))),
                Ok(n) => n,
                Err(e) => {
                    return Err(cut(
                        done,
                        format!(
                            "reading {} failed ({})",
                            local.display(),
                            crate::core::cli::describe_io(&e)
                        ),
                    ))
                }
            };
            let data = chunk.get(..n).unwrap_or_default();
            if let Err(e) = (&self.stream).write_all(data) {
                let why = if is_timeout(&e) {
                    self.timed_out("the server to take the file").to_string()
                } else {
                    format!(
                        "the connection failed ({})",
                        crate::core::cli::describe_io(&e)
                    )
                };
                return Err(cut(done, why));
            }
            done += n as u64;
            events(Event::Progress(done));
            if self.interrupt.is_requested() {
                return Err(cut(done, "interrupted".into()));
            }
        }
        Ok(done - offset)
    }
}
