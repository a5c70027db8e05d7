//! How the server answers a request: one response frame in one write, an ERROR that leaves the connection usable, and the refusal two requests share.
//!
//! Every module that answers a request (`framed`, `download`, `entries`,
//! `uploads`) sends through here, so a frame is traced and written the same
//! way whoever sends it.

use super::{Outcome, Then};
use crate::core::server::deadline::Paced;
use crate::core::trace::Way;
use crate::file_service::protocol::shown::ShownResponse;
use crate::file_service::protocol::{ErrorCode, ErrorReply, Response};
use std::io::{self, Write};

/// Answer with an ERROR that leaves the connection usable.
pub(super) fn refuse(stream: &Paced<'_>, reply: ErrorReply) -> io::Result<(Outcome, Then)> {
    write_response(stream, &Response::Error(reply.clone()))?;
    Ok((Outcome::error(&reply), Then::Continue))
}

/// One frame in one write, straight to the socket.
pub(super) fn write_response(mut stream: &Paced<'_>, response: &Response) -> io::Result<()> {
    stream.stream().frame(Way::Sent, ShownResponse(response));
    stream.write_all(&encode(response))
}

/// A response's frame; the server builds only responses the protocol can carry.
pub(super) fn encode(response: &Response) -> Vec<u8> {
    response
        .encode()
        .expect("the server only builds responses within the protocol's limits")
}

/// `busy`: the target is being uploaded by another client (an UPLOAD of it, or a REMOVE of its partial).
pub(super) fn busy(shown: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorCode::Busy,
        &format!("busy: {shown} is being uploaded by another client; try again when it is done"),
    )
}
