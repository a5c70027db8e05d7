//! The requests about directory entries (docs/PROTOCOL.md 7.2-7.3): LIST, STAT, MKDIR, RENAME, REMOVE and RMDIR, each one frame in and one answer out, through `Root`.

use super::framed::write_response;
use super::{is_reserved, root_reply, FileServer, Outcome};
use crate::file_meta;
use crate::protocol::{Entry, Kind, Meta, Response, MAX_ENTRIES, MAX_MODE, MAX_NAME};
use crate::root::{EntryKind, RootError};
use std::io;
use std::net::TcpStream;

impl FileServer {
    /// STAT: kind, size, time and mode of what `path` leads to.
    pub(super) fn stat(&self, path: &[u8]) -> Response {
        match self.root.stat(path) {
            Ok(m) => Response::Stat(Meta::from_metadata(&m)),
            Err(e) => Response::Error(root_reply(&e)),
        }
    }

    /// MKDIR: one directory, whose parent must exist.
    pub(super) fn mkdir(&self, path: &[u8]) -> Response {
        done(self.root.create_dir(path))
    }

    /// RMDIR: one empty directory.
    pub(super) fn remove_dir(&self, path: &[u8]) -> Response {
        done(self.root.remove_dir(path))
    }

    /// RENAME; with `overwrite` an existing file at `to` is replaced.
    pub(super) fn rename(&self, from: &[u8], to: &[u8], overwrite: bool) -> Response {
        done(if overwrite {
            self.root.rename_replacing(from, to)
        } else {
            self.root.rename(from, to)
        })
    }

    /// REMOVE; removing a partial upload (`rm .x.part`) is how a client cleans
    /// up an abandoned one, so it waits for no upload of that target to be running.
    pub(super) fn remove_file(&self, path: &[u8]) -> Response {
        if !is_reserved(path) {
            return done(self.root.remove_file(path));
        }
        match self.lock_partial(path) {
            Ok(_lock) => done(self.root.remove_file(path)),
            Err(reply) => Response::Error(reply),
        }
    }

    /// LIST (docs/PROTOCOL.md 7.2): chunks of at most 128 entries, the last flagged.
    pub(super) fn list(&self, stream: &TcpStream, path: &[u8]) -> io::Result<Outcome> {
        let entries = match self.root.read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                let reply = root_reply(&e);
                write_response(stream, &Response::Error(reply.clone()))?;
                return Ok(Outcome::error(&reply));
            }
        };
        let entries: Vec<Entry> = entries
            .into_iter()
            // Linux names are at most 255 bytes; anything longer cannot be sent.
            .filter(|e| e.name.len() <= MAX_NAME)
            .map(|e| Entry {
                meta: Meta {
                    kind: match e.kind {
                        EntryKind::File => Kind::File,
                        EntryKind::Dir => Kind::Dir,
                        EntryKind::Symlink => Kind::Symlink,
                        EntryKind::Other => Kind::Other,
                    },
                    size: e.size,
                    mtime_ns: e.modified.map(file_meta::system_time_ns).unwrap_or(0),
                    mode: u16::try_from(e.mode & u32::from(MAX_MODE)).unwrap_or(0),
                },
                name: e.name,
            })
            .collect();
        let count = entries.len();
        let mut chunks = entries.chunks(MAX_ENTRIES).peekable();
        if chunks.peek().is_none() {
            write_response(
                stream,
                &Response::Listing {
                    entries: Vec::new(),
                    last: true,
                },
            )?;
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            write_response(
                stream,
                &Response::Listing {
                    entries: chunk.to_vec(),
                    last,
                },
            )?;
        }
        Ok(Outcome::new(format!("ok, {count} entries"), 0))
    }
}

/// OK, or the path module's refusal.
fn done(result: Result<(), RootError>) -> Response {
    match result {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error(root_reply(&e)),
    }
}
