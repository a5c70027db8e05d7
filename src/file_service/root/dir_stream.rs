//! A directory listed one entry at a time, so a listing costs the same memory whatever the directory holds.
//!
//! The lookup and the checks are those of every operation: the directory is
//! reached through `Root::walk` and held open while it is read. The checks a
//! listing needs after the fact (on systems that list by path, that the path
//! still names the directory the lookup checked; on Windows, that no held
//! directory became a link) run right after the directory is opened, before
//! the first entry is given out, and again at [`DirStream::finish`].

use std::fs;
use std::io;
use std::path::PathBuf;

use super::error::{RootError, RootErrorKind};
use super::lookup::{err, kind, Dir, Follow, Target};
use super::{sys, DirEntryInfo, EntryKind, Root};

/// A directory being listed: iterate it for its entries (in the order the file system gives
/// them, unsorted), then call [`DirStream::finish`].
///
/// Entries are described without following links (a link is `EntryKind::Symlink`); a name
/// this system cannot carry as UTF-8 (on Windows, one that is not valid Unicode) is left out,
/// since a client could not name it back, and so is an upload's record (`.<name>.part.srv`,
/// the server's own); an entry removed while it is listed is left out.
#[derive(Debug)]
pub struct DirStream<'r> {
    root: &'r Root,
    dir: Dir,
    entries: fs::ReadDir,
    /// The path the listing was opened by.
    path: PathBuf,
    /// The client's name of the directory, for errors.
    name: Vec<u8>,
}

impl Root {
    /// Open a directory for listing; `""` and `"."` are the root. A file is `NotDirectory`.
    pub fn stream_dir(&self, name: &[u8]) -> Result<DirStream<'_>, RootError> {
        let w = self.walk(name, true, Follow::Always)?;
        let dir = match w.target {
            Target::Dir(d) => d,
            Target::Entry { meta: None, .. } => return Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                parent,
                name: entry,
                meta: Some(m),
            } => {
                if kind(&m) != EntryKind::Dir {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                self.descend(parent, &entry, &m, name)?
            }
        };
        let path = self.dir_path(&dir);
        let entries = fs::read_dir(&path).map_err(|e| RootError::io(name, e))?;
        let listing = DirStream {
            root: self,
            dir,
            entries,
            path,
            name: name.to_vec(),
        };
        listing.check()?;
        Ok(listing)
    }
}

impl DirStream<'_> {
    /// After the last entry: the directory listed must still be the one the lookup checked.
    /// When this fails, the entries already given out may not be from inside the root.
    pub fn finish(self) -> Result<(), RootError> {
        self.check()
    }

    fn check(&self) -> Result<(), RootError> {
        let name = self.name.as_slice();
        if !self.root.anchor.swap_proof() {
            // Listed by path: the path must still name the directory we checked.
            let now = fs::symlink_metadata(&self.path).map_err(|e| RootError::io(name, e))?;
            let held = self
                .root
                .dir_file(&self.dir)
                .metadata()
                .map_err(|e| RootError::io(name, e))?;
            if !sys::same_file(&now, &held) {
                return Err(err(
                    RootErrorKind::Outside,
                    name,
                    "the directory changed while it was listed",
                ));
            }
        }
        self.root.confirm(&self.dir, None, name)
    }
}

impl Iterator for DirStream<'_> {
    type Item = Result<DirEntryInfo, RootError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.entries.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(RootError::io(&self.name, e))),
            };
            // DirEntry::metadata does not follow links; an entry that vanished mid-listing
            // is simply no longer there.
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Some(Err(RootError::io(&self.name, e))),
            };
            let Some(name) =
                crate::file_service::os_name::to_bytes(&entry.file_name()).map(<[u8]>::to_vec)
            else {
                continue;
            };
            // The server's records of uploads: no client may name them.
            if super::upload::is_record_name(&name) {
                continue;
            }
            return Some(Ok(DirEntryInfo {
                name,
                kind: kind(&meta),
                size: meta.len(),
                modified: meta.modified().ok(),
                mode: u32::from(crate::file_service::file_meta::mode_bits(&meta)),
                owner: crate::file_service::file_meta::owner(&meta),
            }));
        }
    }
}
