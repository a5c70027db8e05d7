//! The requests about directory entries (docs/PROTOCOL.md 7.2-7.3): LIST, STAT, MKDIR, RENAME, REMOVE, RMDIR and CHMOD, each one frame in and one answer out, through `Root`.

use super::reply::{refuse, write_response};
use super::{is_reserved, root_reply, FileServer, Outcome, Then};
use crate::core::server::deadline::{lost_or_dropped, Paced};
use crate::file_service::file_meta;
use crate::file_service::protocol::{Entry, Kind, Meta, Response, MAX_ENTRIES, MAX_MODE, MAX_NAME};
use crate::file_service::root::{DirEntryInfo, EntryKind, RootError};
use std::io;
use std::mem;

impl FileServer {
    /// STAT: kind, size, time and mode of what `path` leads to.
    pub(super) fn stat(&self, path: &[u8]) -> Response {
        match self.root.stat(path) {
            // STAT's layout has no owner (docs/PROTOCOL.md 5.2).
            Ok(m) => Response::Stat(Meta {
                owner: None,
                ..Meta::from_metadata(&m)
            }),
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

    /// CHMOD: the permission bits of one file or directory, never through a link.
    pub(super) fn chmod(&self, path: &[u8], mode: u16) -> Response {
        done(self.root.set_mode(path, mode))
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
    /// up an abandoned one, so it waits for no upload of `x` to be running.
    pub(super) fn remove_file(&self, path: &[u8]) -> Response {
        if !is_reserved(path) {
            return done(self.root.remove_file(path));
        }
        match self.remove_partial(path) {
            Ok(()) => Response::Ok,
            Err(reply) => Response::Error(reply),
        }
    }

    /// LIST (docs/PROTOCOL.md 7.2): chunks of at most 128 entries, the last
    /// flagged, sent as the directory is read: one chunk in memory, whatever
    /// the directory holds, and in the file system's order (the client sorts).
    /// With `owners` (LIST_OWNERS) each entry carries its owner and group, where this
    /// system has them.
    pub(super) fn list(
        &self,
        client: &Paced<'_>,
        path: &[u8],
        owners: bool,
    ) -> io::Result<(Outcome, Then)> {
        let mut listing = match self.root.stream_dir(path) {
            Ok(listing) => listing,
            Err(e) => return refuse(client, root_reply(&e)),
        };
        let mut chunk: Vec<Entry> = Vec::with_capacity(MAX_ENTRIES);
        let mut sent = 0usize;
        // One entry read ahead, so the chunk that ends the listing is the one flagged LAST.
        let mut next = listing.next();
        while let Some(entry) = next.take() {
            match entry {
                // Linux names are at most 255 bytes; anything longer cannot be sent.
                Ok(info) if info.name.len() > MAX_NAME => {}
                Ok(info) => chunk.push(listing_entry(info, owners)),
                Err(e) => return list_failed(client, &e, sent),
            }
            next = listing.next();
            if chunk.len() == MAX_ENTRIES && next.is_some() {
                if let Err(e) = send_chunk(client, &mut chunk, false) {
                    return Ok(dropped(&e, sent));
                }
                sent += MAX_ENTRIES;
            }
        }
        if let Err(e) = listing.finish() {
            return list_failed(client, &e, sent);
        }
        let count = chunk.len();
        if let Err(e) = send_chunk(client, &mut chunk, true) {
            return Ok(dropped(&e, sent));
        }
        let outcome = Outcome::new(format!("ok, {} entries", sent + count), 0);
        Ok((outcome, Then::Continue))
    }
}

/// One LISTING frame of `chunk`, which is left empty (its memory kept for the next one).
fn send_chunk(client: &Paced<'_>, chunk: &mut Vec<Entry>, last: bool) -> io::Result<()> {
    let response = Response::Listing {
        entries: mem::take(chunk),
        last,
    };
    let written = write_response(client, &response);
    if let Response::Listing { mut entries, .. } = response {
        entries.clear();
        *chunk = entries;
    }
    written
}

/// A listing that failed after `sent` entries: an ERROR ends it (the chunks before are not
/// the whole directory).
fn list_failed(client: &Paced<'_>, e: &RootError, sent: usize) -> io::Result<(Outcome, Then)> {
    let (outcome, then) = refuse(client, root_reply(e))?;
    let result = format!("{} (after {sent} entries)", outcome.result);
    Ok((Outcome::new(result, 0), then))
}

/// A client that stopped taking its listing, or left.
fn dropped(e: &io::Error, sent: usize) -> (Outcome, Then) {
    let (verb, why) = lost_or_dropped(e);
    let result = format!("{verb} after {sent} entries: {why}");
    (Outcome::new(result, 0), Then::Close)
}

/// A directory entry as a LISTING carries it.
fn listing_entry(e: DirEntryInfo, owners: bool) -> Entry {
    Entry {
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
            owner: e.owner.filter(|_| owners),
        },
        name: e.name,
    }
}

/// OK, or the path module's refusal.
fn done(result: Result<(), RootError>) -> Response {
    match result {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error(root_reply(&e)),
    }
}
