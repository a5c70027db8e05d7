//! The server side of a shell session: one connection, opened again when a failure made it unusable, and remote listings for wildcard expansion.

use super::expand::{Found, Side};
use super::paths::RemotePath;
use crate::net::Target;
use crate::protocol::{Entry, Kind, Meta};
use crate::root::is_partial_name;
use crate::token::Token;
use crate::transfer::{Connection, TransferError};
use std::path::Component;

/// The server a shell talks to, and its connection when there is one.
pub struct Server {
    target: Target,
    token: Option<Token>,
    conn: Option<Connection>,
}

impl Server {
    pub fn new(target: Target, token: Option<Token>) -> Server {
        Server {
            target,
            token,
            conn: None,
        }
    }

    /// The connection, opened (hellos, token) if there is none.
    pub fn connection(&mut self) -> Result<&mut Connection, TransferError> {
        match &mut self.conn {
            Some(conn) => Ok(conn),
            slot => {
                let stream = self
                    .target
                    .connect()
                    .map_err(|e| TransferError::Broken(e.to_string()))?;
                Ok(slot.insert(Connection::open(stream, self.token.as_ref())?))
            }
        }
    }

    /// Run one operation on the connection; a failure that leaves the
    /// connection unusable drops it, so the next command connects afresh.
    pub fn call<T>(
        &mut self,
        op: impl FnOnce(&mut Connection) -> Result<T, TransferError>,
    ) -> Result<T, TransferError> {
        let result = op(self.connection()?);
        if let Err(e) = &result {
            if !e.connection_usable() {
                self.conn = None;
            }
        }
        result
    }

    pub fn stat(&mut self, path: &RemotePath) -> Result<Meta, TransferError> {
        self.call(|c| c.stat(&path.wire()))
    }

    /// Whether the server said it is read-only (when connected).
    pub fn read_only(&self) -> Option<bool> {
        self.conn.as_ref().map(|c| c.server_hello().read_only)
    }

    /// `host:port` as given.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.target.host, self.target.port)
    }
}

/// Whether a name from the server can be used as one local path component:
/// a hostile server must not make `get` write outside the destination. It
/// must be exactly one file name by this system's rules: not empty, `.` or
/// `..`, no separator (`/`, and `\` on Windows), no drive or stream `:` on
/// Windows, no NUL, and bytes this system can hold as a name.
pub fn safe_component(name: &[u8]) -> bool {
    let Some(path) = crate::os_name::path_from_bytes(name) else {
        return false;
    };
    let mut parts = path.components();
    let one_name = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(part)), None) if part == path.as_os_str()
    );
    one_name && !name.contains(&0) && !super::host::is_unsafe_here(name)
}

/// Listing for wildcard expansion and for `ls`: names a wildcard may match
/// leave out partial uploads and names no path can hold.
pub fn matchable(name: &[u8]) -> bool {
    safe_component(name) && !is_partial_name(name)
}

/// The remote side of [`super::expand::expand`].
pub struct RemoteSide<'a>(pub &'a mut Server);

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
        let entries: Vec<Entry> = self
            .0
            .call(|c| c.list(&dir.wire()))
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
        for windows_only in [&br"..\x"[..], br"a\b", b"C:x", b"notes.txt:hidden"] {
            assert_eq!(
                safe_component(windows_only),
                !cfg!(windows),
                "{windows_only:?}"
            );
        }
        for good in [&b"a"[..], b"...", b".hidden", b"a b", "文件".as_bytes()] {
            assert!(safe_component(good), "{good:?}");
        }
        assert!(!matchable(b".x.part"));
        assert!(matchable(b"x.part"));
    }
}
