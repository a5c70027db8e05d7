//! The tutorial's own protocol on the client (docs/PROTOCOL.md 4.5), for the Python `download_server.py`: the name's bytes out, then everything until the server closes.

use super::connection::{is_timeout, timeout_error};
use super::download::DOWNLOAD_BUFFER;
use super::partial::{self, part_path, PartInfo};
use super::{shown, Event, TransferError};
use crate::core::net;
use crate::core::trace::Stream;
use crate::file_service::protocol::{ErrorCode, ErrorReply, TUTORIAL_READ_LEN};
use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The tutorial's protocol (docs/PROTOCOL.md 4.5), for the Python
/// `download_server.py`: send the name's bytes, read until the server
/// closes. Still through `.part`, so a broken connection leaves nothing under
/// `out`, and a `.part` there that this client did not leave is refused, as
/// in [`super::Connection::download`]. `timeout` bounds each wait for the
/// server (`None`: forever). Returns the number of bytes saved.
pub fn raw_download(
    mut stream: Stream,
    request: &[u8],
    out: &Path,
    timeout: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<u64, TransferError> {
    let server = peer(&stream)?;
    // The tutorial's protocol cannot resume: a partial of ours is replaced
    // (`resume: false`), anything else refused before a byte is asked for.
    partial::plan(out, request, &partial::server_id(server), false)?;
    let first = ask(&mut stream, server, request, timeout)?;
    let part = part_path(out);
    // Recorded first, so the next run knows the `.part` is ours (and cannot be resumed).
    let record = PartInfo {
        server: partial::server_id(server),
        name: request.to_vec(),
        size: 0,
        identity: Vec::new(),
    };
    record.write(&partial::info_path(out))?;
    let mut file = partial::open_part(&part, 0)?;
    match receive(
        &mut stream,
        server,
        first,
        &mut file,
        &shown(&part),
        timeout,
        events,
    ) {
        Ok(total) => {
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
            Ok(total)
        }
        Err(e) => {
            // Nothing can resume a tutorial download: do not leave a piece behind.
            drop(file);
            partial::remove(out);
            Err(e)
        }
    }
}

/// [`raw_download`] into `sink` as the bytes arrive (download_client's `-o -`).
pub fn raw_download_to(
    mut stream: Stream,
    request: &[u8],
    sink: &mut dyn Write,
    timeout: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<u64, TransferError> {
    let server = peer(&stream)?;
    let first = ask(&mut stream, server, request, timeout)?;
    let total = receive(
        &mut stream,
        server,
        first,
        sink,
        "the output",
        timeout,
        events,
    )?;
    sink.flush().map_err(|e| output_error(&e, "the output"))?;
    Ok(total)
}

fn peer(stream: &Stream) -> Result<SocketAddr, TransferError> {
    stream
        .peer_addr()
        .map_err(|e| TransferError::broken("reading the server's address", &e))
}

/// Sends the name and waits for the first bytes: the tutorial's server sends
/// nothing at all for a missing file (or an empty one).
fn ask(
    stream: &mut Stream,
    server: SocketAddr,
    request: &[u8],
    timeout: Option<Duration>,
) -> Result<Vec<u8>, TransferError> {
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
    stream
        .write_all(request)
        .map_err(|e| match is_timeout(&e) {
            true => timeout_error(server, timeout, "the server to take the file name"),
            false => TransferError::broken("sending the file name", &e),
        })?;
    let mut buf = vec![0u8; DOWNLOAD_BUFFER];
    let first = net::recv(stream, &mut buf).map_err(|e| match is_timeout(&e) {
        true => timeout_error(server, timeout, "the file"),
        false => TransferError::broken("receiving the file", &e),
    })?;
    if first == 0 {
        return Err(TransferError::Refused(ErrorReply::new(
            ErrorCode::NotFound,
            "nothing received (missing file or empty file: the tutorial protocol cannot tell them apart)",
        )));
    }
    buf.truncate(first);
    Ok(buf)
}

/// `first`, then everything until the server closes, into `sink`.
fn receive(
    stream: &mut Stream,
    server: SocketAddr,
    first: Vec<u8>,
    sink: &mut dyn Write,
    label: &str,
    timeout: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<u64, TransferError> {
    let mut buf = first;
    let mut n = buf.len();
    buf.resize(DOWNLOAD_BUFFER, 0);
    let mut total = 0u64;
    loop {
        let data = buf.get(..n).unwrap_or_default();
        sink.write_all(data).map_err(|e| output_error(&e, label))?;
        total += n as u64;
        events(Event::Progress(total));
        n = match net::recv(stream, &mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                let waited = format!("the rest of the file after {total} bytes (nothing kept)");
                return Err(timeout_error(server, timeout, &waited));
            }
            Err(e) => {
                return Err(TransferError::broken(
                    format!("the connection failed after {total} bytes (nothing kept)"),
                    &e,
                ))
            }
        };
    }
}

/// A failed write to the output: a closed pipe is the reader's choice.
fn output_error(e: &io::Error, label: &str) -> TransferError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        TransferError::OutputClosed
    } else {
        TransferError::local(format!("writing {label} failed"), e)
    }
}
