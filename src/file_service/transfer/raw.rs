//! The tutorial's own protocol on the client (docs/PROTOCOL.md 4.5), for the Python `download_server.py`: where the bytes go, and what each failure means; the socket calls themselves are download_client's, in the Python's order.

use super::connection::{is_timeout, timeout_error};
use super::partial::{self, part_path, PartInfo};
use super::{shown, Destination, TransferError};
use crate::core::trace::Stream;
use crate::file_service::protocol::{ErrorCode, ErrorReply, TUTORIAL_READ_LEN};
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The output of one download over the tutorial's protocol (docs/PROTOCOL.md
/// 4.5): the caller sends the name's bytes, then hands this every block it
/// receives until the server closes, then calls [`RawOutput::finish`].
///
/// A file still goes through `<out>.part`, so a broken connection leaves
/// nothing under `out`, and a `.part` there that this client did not leave is
/// refused, as in [`super::Connection::download`]. The tutorial's protocol
/// cannot resume, so a piece is worthless: dropped before `finish`, this
/// removes the `.part` and its record.
pub struct RawOutput<'a> {
    server: SocketAddr,
    timeout: Option<Duration>,
    /// Bytes received so far.
    received: u64,
    to: Sink<'a>,
}

enum Sink<'a> {
    Part {
        out: &'a Path,
        /// What `<out>.part.info` records: the `.part` is ours, and cannot be resumed.
        record: PartInfo,
        /// Opened at the first byte: until then an earlier partial of ours is left as it was.
        file: Option<File>,
    },
    Stream(&'a mut dyn Write),
}

impl<'a> RawOutput<'a> {
    /// Ready to receive `request`'s file on `stream` into `into`: checks that
    /// the tutorial's server can read the name, refuses a `.part` this client
    /// did not leave (before a byte is asked for), and bounds each wait for
    /// the server by `timeout` (`None`: forever).
    pub fn create(
        stream: &Stream,
        request: &[u8],
        into: Destination<'a>,
        timeout: Option<Duration>,
    ) -> Result<RawOutput<'a>, TransferError> {
        let server = stream
            .peer_addr()
            .map_err(|e| TransferError::broken("reading the server's address", &e))?;
        let to = match into {
            Destination::File(out) => {
                let record = PartInfo {
                    server: partial::server_id(server),
                    name: request.to_vec(),
                    size: 0,
                    identity: Vec::new(),
                };
                // A partial of ours is replaced (`resume: false`), anything else refused.
                partial::plan(out, request, &record.server, false)?;
                Sink::Part {
                    out,
                    record,
                    file: None,
                }
            }
            Destination::Stream(sink) => Sink::Stream(sink),
        };
        if request.is_empty() || request.len() > TUTORIAL_READ_LEN {
            return Err(TransferError::Local(format!(
                "the name is {} bytes; the tutorial's server reads 1 to {TUTORIAL_READ_LEN}",
                request.len()
            )));
        }
        stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .map_err(|e| TransferError::broken("setting the timeout", &e))?;
        Ok(RawOutput {
            server,
            timeout,
            received: 0,
            to,
        })
    }

    /// What a failed send of the file name means.
    pub fn send_failed(&self, e: &io::Error) -> TransferError {
        match is_timeout(e) {
            true => timeout_error(
                self.server,
                self.timeout,
                "the server to take the file name",
            ),
            false => TransferError::broken("sending the file name", e),
        }
    }

    /// What a failed receive means, after what has arrived so far.
    pub fn recv_failed(&self, e: &io::Error) -> TransferError {
        let total = self.received;
        match (is_timeout(e), total) {
            (true, 0) => timeout_error(self.server, self.timeout, "the file"),
            (false, 0) => TransferError::broken("receiving the file", e),
            (true, _) => {
                let waited = format!("the rest of the file after {total} bytes (nothing kept)");
                timeout_error(self.server, self.timeout, &waited)
            }
            (false, _) => TransferError::broken(
                format!("the connection failed after {total} bytes (nothing kept)"),
                e,
            ),
        }
    }

    /// One block as it arrived; the first one makes the `.part` (its record first, so
    /// that the next run knows the `.part` is ours).
    pub fn write(&mut self, block: &[u8]) -> Result<(), TransferError> {
        let written = match &mut self.to {
            Sink::Part { out, record, file } => {
                let file = match file {
                    Some(file) => file,
                    None => {
                        record.write(&partial::info_path(out))?;
                        file.insert(partial::open_part(&part_path(out), 0)?)
                    }
                };
                file.write_all(block)
                    .map_err(|e| output_error(&e, &shown(&part_path(out))))
            }
            Sink::Stream(sink) => sink
                .write_all(block)
                .map_err(|e| output_error(&e, "the output")),
        };
        written?;
        self.received += block.len() as u64;
        Ok(())
    }

    /// The server has closed: the `.part` renamed into place (or the stream
    /// flushed), and the bytes saved returned. Nothing at all is refused, as
    /// not found.
    pub fn finish(mut self) -> Result<u64, TransferError> {
        if self.received == 0 {
            return Err(nothing_received());
        }
        match &mut self.to {
            Sink::Part { out, file, .. } => {
                let out: &Path = out;
                // Taken out of the sink: whatever happens now, the piece is not removed.
                let Some(file) = file.take() else {
                    return Err(nothing_received());
                };
                let part = part_path(out);
                // Private while it arrived; now what any new file gets here.
                crate::file_service::file_meta::give_mode(&file, 0o666).map_err(|e| {
                    TransferError::local(format!("setting the permissions of {}", shown(&part)), &e)
                })?;
                drop(file);
                fs::rename(&part, out).map_err(|e| {
                    TransferError::local(
                        format!("cannot rename {} to {}", shown(&part), shown(out)),
                        &e,
                    )
                })?;
                let _ = fs::remove_file(partial::info_path(out));
            }
            Sink::Stream(sink) => sink.flush().map_err(|e| output_error(&e, "the output"))?,
        }
        Ok(self.received)
    }
}

impl Drop for RawOutput<'_> {
    /// Nothing can resume a tutorial download: a piece is not left behind.
    fn drop(&mut self) {
        if let Sink::Part { out, file, .. } = &mut self.to {
            if let Some(file) = file.take() {
                // Closed first: Windows does not remove an open file.
                drop(file);
                partial::remove(out);
            }
        }
    }
}

/// The tutorial's server sends nothing for a missing file, nor for an empty one.
fn nothing_received() -> TransferError {
    TransferError::Refused(ErrorReply::new(
        ErrorCode::NotFound,
        "nothing received (missing file or empty file: the tutorial protocol cannot tell them apart)",
    ))
}

/// A failed write to the output: a closed pipe is the reader's choice.
fn output_error(e: &io::Error, label: &str) -> TransferError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        TransferError::OutputClosed
    } else {
        TransferError::local(format!("writing {label} failed"), e)
    }
}
