//! The tutorial's own protocol on the client (docs/PROTOCOL.md 4.5), for the Python `download_server.py`: the name's bytes out, then everything until the server closes.

use super::download::{info_path, part_path, DOWNLOAD_BUFFER};
use super::{Event, TransferError};
use crate::net;
use crate::protocol::{ErrorCode, ErrorReply, TUTORIAL_READ_LEN};
use std::fs::{self, File};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;

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
    let mut buf = vec![0u8; DOWNLOAD_BUFFER];
    let first = net::recv(&mut stream, &mut buf)
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
        n = match net::recv(&mut stream, &mut buf) {
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
