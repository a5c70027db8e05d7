//! The server side of a shell session: one connection, opened again when a failure made it unusable or the server closed it while idle, and remote listings (sorted here: the server sends them as it reads them) for `ls`, wildcards and completion.

use super::expand::{Found, Side};
use super::paths::RemotePath;
use crate::core::cli::Failure;
use crate::core::net::Target;
use crate::core::trace::Stream;
use crate::file_service::protocol::{Entry, ErrorCode, ErrorReply, Kind, Meta};
use crate::file_service::root::is_partial_name;
use crate::file_service::token::Token;
use crate::file_service::transfer::{Connection, Interrupt, TransferError};
use std::io;
use std::path::Component;
use std::time::Duration;

/// The server a shell talks to, and its connection when there is one.
pub struct Server {
    target: Target,
    token: Option<Token>,
    /// How long to wait for the server before giving up (`None`: forever).
    timeout: Option<Duration>,
    /// Given to every connection, so Ctrl-C stops its transfers.
    interrupt: Interrupt,
    open: Option<Open>,
    /// The kind of the last call's failure, if it failed, for batch mode's exit status.
    failure: Option<Failure>,
    /// The server answered LIST_OWNERS as an unknown request (it is older than
    /// it): listings are asked for without owners from then on.
    no_owners: bool,
}

/// A connection, and a second handle on its socket to look at it between commands.
struct Open {
    conn: Connection,
    probe: Stream,
    /// It has carried a request: from now on the server speaks only when asked.
    used: bool,
}

impl Server {
    pub fn new(
        target: Target,
        token: Option<Token>,
        timeout: Option<Duration>,
        interrupt: Interrupt,
    ) -> Server {
        Server {
            target,
            token,
            timeout,
            interrupt,
            open: None,
            failure: None,
            no_owners: false,
        }
    }

    /// The connection, opened (hellos, token) if there is none.
    pub fn connection(&mut self) -> Result<&mut Connection, TransferError> {
        if self.open.is_none() {
            self.open = Some(self.open_new()?);
        }
        match &mut self.open {
            Some(open) => Ok(&mut open.conn),
            None => Err(TransferError::Broken("not connected".into())),
        }
    }

    fn open_new(&self) -> Result<Open, TransferError> {
        let broken = |e: &dyn std::fmt::Display| TransferError::Broken(e.to_string());
        let stream = self
            .target
            .connect_within(self.timeout)
            .map_err(TransferError::Connect)?;
        let probe = stream.try_clone().map_err(|e| broken(&e))?;
        // Silence from the server ends a wait after --timeout.
        let mut conn = Connection::open(stream, self.token.as_ref(), self.timeout)?;
        conn.set_interrupt(self.interrupt.clone());
        Ok(Open {
            conn,
            probe,
            used: false,
        })
    }

    /// Run one operation on the connection; a failure that leaves the
    /// connection unusable drops it, so the next command connects afresh.
    pub fn call<T>(
        &mut self,
        op: impl FnOnce(&mut Connection) -> Result<T, TransferError>,
    ) -> Result<T, TransferError> {
        let result = self.connection().and_then(op);
        // The last call's: a refusal a command expects and handles (put asking
        // whether its destination exists) is forgotten by the calls after it.
        self.failure = result.as_ref().err().and_then(TransferError::failure);
        match &result {
            Err(e) if !e.connection_usable() => self.open = None,
            _ => {
                if let Some(open) = &mut self.open {
                    open.used = true;
                }
            }
        }
        result
    }

    /// Before a command that needs the server: a connection the server closed
    /// (its `--idle-timeout`, or it went away) is replaced now, so the command
    /// does not fail for it; the line returned says so. When no new one can
    /// be made, the error says the connection was lost, not that it was idle:
    /// a server that was killed looks the same from here.
    pub fn revive(&mut self) -> Result<Option<String>, String> {
        match &self.open {
            Some(open) if closed_while_idle(open) => self.open = None,
            _ => return Ok(None),
        }
        match self.connection() {
            Ok(_) => Ok(Some(format!(
                "Reconnected to {} (the server had closed the connection).",
                self.describe()
            ))),
            Err(e) => {
                self.failure = e.failure();
                Err(format!(
                    "The connection to {} was lost, and reconnecting failed: {e}",
                    self.describe()
                ))
            }
        }
    }

    /// The kind of the last failure on the server side since the last call, if any.
    pub fn take_failure(&mut self) -> Option<Failure> {
        self.failure.take()
    }

    pub fn stat(&mut self, path: &RemotePath) -> Result<Meta, TransferError> {
        self.call(|c| c.stat(&path.wire()))
    }

    /// A remote directory's entries, sorted by name; with `owners` (for `ls -l`)
    /// with their owner and group where the server has them. A server older than
    /// LIST_OWNERS refuses it as a bad request and closes: the listing is asked
    /// again without owners on a new connection, and so are all after it.
    pub fn list(&mut self, dir: &RemotePath, owners: bool) -> Result<Vec<Entry>, TransferError> {
        let owners = owners && !self.no_owners;
        let mut entries = match self.call(|c| c.list(&dir.wire(), owners)) {
            Err(TransferError::Refused(reply)) if owners && is_unknown_request(&reply) => {
                self.no_owners = true;
                self.open = None;
                self.call(|c| c.list(&dir.wire(), false))?
            }
            other => other?,
        };
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Whether the server said it is read-only (when connected).
    pub fn read_only(&self) -> Option<bool> {
        self.open.as_ref().map(|o| o.conn.server_hello().read_only)
    }

    /// `host:port` as given.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.target.host, self.target.port)
    }
}

/// How a server answers a request type it does not know: `bad request`, closing.
fn is_unknown_request(reply: &ErrorReply) -> bool {
    reply.code == ErrorCode::BadRequest && reply.closing
}

/// Whether the server has closed this connection: it reads as ended, or (once
/// it has carried a request) the server said something nobody asked for,
/// which can only be a goodbye. A busy server's ERROR right after the hello
/// is left for the first command to read.
fn closed_while_idle(open: &Open) -> bool {
    if open.probe.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let closed = match open.probe.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => open.used,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    // Back to blocking for the connection's own reads; if even this fails
    // the connection is no good.
    closed || open.probe.set_nonblocking(false).is_err()
}

/// Whether a name from the server can be used as one local path component:
/// a hostile server must not make `get` write outside the destination. It
/// must be exactly one file name by this system's rules: not empty, `.` or
/// `..`, no separator (`/`, and `\` on Windows), no NUL, bytes this system
/// can hold as a name, and on Windows nothing it reads as another file
/// (`root::problem_here`: a device such as `CON`, a stream, a trailing dot).
pub fn safe_component(name: &[u8]) -> bool {
    let Some(path) = crate::file_service::os_name::path_from_bytes(name) else {
        return false;
    };
    let mut parts = path.components();
    let one_name = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(part)), None) if part == path.as_os_str()
    );
    one_name
        && !name.contains(&0)
        && path.to_str().map_or(true, |text| {
            crate::file_service::root::problem_here(text).is_none()
        })
}

/// Listing for wildcard expansion and for `ls`: names a wildcard may match
/// leave out partial uploads and names no path can hold.
pub fn matchable(name: &[u8]) -> bool {
    safe_component(name) && !is_partial_name(name)
}

/// The remote side of [`super::expand::expand`]; `owners` for `ls -l`'s wildcards.
pub struct RemoteSide<'a> {
    pub server: &'a mut Server,
    pub owners: bool,
}

impl Side for RemoteSide<'_> {
    type Path = RemotePath;
    type Meta = Meta;

    fn join(&self, dir: &RemotePath, name: &[u8]) -> RemotePath {
        dir.join(name)
    }

    fn parent(&self, path: &RemotePath) -> RemotePath {
        path.parent()
    }

    fn list(&mut self, dir: &RemotePath) -> Result<Vec<Found<Meta>>, String> {
        let entries = self
            .server
            .list(dir, self.owners)
            .map_err(|e| e.to_string())?;
        Ok(entries
            .into_iter()
            .map(|e| Found {
                dir_like: matches!(e.meta.kind, Kind::Dir | Kind::Symlink),
                name: e.name,
                meta: e.meta,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_destination_are_not_used() {
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"a/b",
            b"/etc",
            b"a\0b",
            b"a/",
            b"./a",
        ] {
            assert!(!safe_component(bad), "{bad:?}");
        }
        for windows_only in [
            &br"..\x"[..],
            br"a\b",
            b"C:x",
            b"notes.txt:hidden",
            b"CON",
            b"nul.txt",
            b"secret.",
            b"...",
            b"a?b",
        ] {
            assert_eq!(
                safe_component(windows_only),
                !cfg!(windows),
                "{windows_only:?}"
            );
        }
        for good in [&b"a"[..], b".hidden", b"a b", "文件".as_bytes()] {
            assert!(safe_component(good), "{good:?}");
        }
        assert!(!matchable(b".x.part"));
        assert!(matchable(b"x.part"));
    }
}
