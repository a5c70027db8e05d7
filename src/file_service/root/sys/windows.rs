//! Windows: opens that never follow a reparse point, directories held so they cannot be moved, what stable std offers for identity, and error numbers.
//!
//! Stable std has what confinement needs on Windows, and no more:
//! - `OpenOptionsExt::custom_flags` with `FILE_FLAG_OPEN_REPARSE_POINT` opens a symbolic
//!   link or junction itself rather than its target, and `FILE_FLAG_BACKUP_SEMANTICS`
//!   lets `CreateFileW` open a directory at all.
//! - `OpenOptionsExt::share_mode` without `FILE_SHARE_DELETE`: while we hold a directory
//!   open that way, nobody can rename, delete or replace it (opening it for `DELETE`, which
//!   all three need, fails with a sharing violation). A lookup holds every directory of
//!   the path (`Ancestors`), so the path it names entries by cannot be re-pointed by a swap.
//! - `MetadataExt::file_attributes`: `FILE_ATTRIBUTE_REPARSE_POINT` marks symbolic links
//!   and junctions (and other reparse points), checked on the handle we actually opened.
//!
//! What it lacks: the file index and volume serial number (`MetadataExt::file_index`,
//! `volume_serial_number`, `number_of_links` are unstable, rust-lang/rust#63010). So
//! identity is weak here: creation time and kind (see `same_file`), directories are told
//! apart by their path from the root, and a second hard link cannot be seen.
//!
//! The numbers are from the Windows SDK (`winnt.h`, `winbase.h`, `winerror.h`).

use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::file_service::root::case;
use crate::file_service::root::EntryKind;

const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
/// Access rights: read and write an entry's attributes (the read-only bit).
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
const FILE_SHARE_READ: u32 = 0x1;
const FILE_SHARE_WRITE: u32 = 0x2;
const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x10;
const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;

/// NTFS and FAT compare names without case (per-directory case sensitivity, a WSL
/// feature, is off unless someone turned it on).
pub(crate) const NAMES_IGNORE_CASE: bool = true;
/// Streams, trailing dots and spaces, and the characters Windows forbids are refused.
pub(crate) const WINDOWS_NAMES: bool = true;
/// A link's target may use either separator.
pub(crate) const LINK_SEPARATORS: &[u8] = b"/\\";

/// A directory of a lookup, itself and not a link's target, held so that it cannot be
/// renamed, removed or replaced while we hold it (no `FILE_SHARE_DELETE`). Reading is
/// shared, and so is writing (which a directory's handle is only opened for to change
/// its attributes), so other readers and our own concurrent lookups are not refused.
/// The caller checks the handle's own attributes: a link that took the directory's place
/// opens as itself, and shows as one.
pub(crate) fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// A file to serve, itself and not a link's target. Sharing stays std's default (read,
/// write, delete), so an upload can still replace the file while it is being served,
/// as a rename can on unix.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// A file or directory whose read-only attribute is to change: only the right to read
/// and write its attributes (opening for writing would fail on a file already
/// read-only), itself and not a link's target.
pub(crate) fn open_attributes(path: &Path, dir: bool) -> io::Result<File> {
    let backup = if dir { FILE_FLAG_BACKUP_SEMANTICS } else { 0 };
    OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | backup)
        .open(path)
}

/// An upload's partial file, created new or reopened, itself and not a link's target.
/// Delete stays shared: the commit renames it while it is still open.
pub(crate) fn open_partial(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// What an entry is. A symbolic link or junction is a link (std calls both symlinks);
/// any other reparse point (a cloud placeholder, a deduplicated file, an AF_UNIX socket)
/// is `Other`: we neither follow nor serve what a file-system filter makes of it.
pub(crate) fn kind(meta: &Metadata) -> EntryKind {
    let attrs = meta.file_attributes();
    if attrs & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        if meta.file_type().is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        }
    } else if attrs & FILE_ATTRIBUTE_DIRECTORY != 0 {
        EntryKind::Dir
    } else {
        EntryKind::File
    }
}

/// The best identity stable std offers: the same creation time (100 ns ticks) and the
/// same kind. It tells a file from one created at another moment, not from one whose
/// creation time was set to match (`SetFileTime`) or carried over by NTFS "tunneling"
/// (a file created under a name deleted seconds before inherits its creation time). The
/// checks that confinement rests on look at the opened handle itself instead.
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    let shape = FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT;
    a.creation_time() == b.creation_time()
        && a.file_attributes() & shape == b.file_attributes() & shape
}

/// No file index in stable std: directories are told apart by their path from the root.
pub(crate) fn inode(_meta: &Metadata) -> Option<(u64, u64)> {
    None
}

/// The link count is not in stable std (`number_of_links` is unstable): a second hard
/// link cannot be seen here (docs/ROOT.md, What remains).
pub(crate) fn extra_links(_meta: &Metadata) -> bool {
    false
}

/// Whether `name`, which exists as `path`, is that entry's own name and not its short
/// 8.3 alias (`LONGNA~1.TXT` for `longname.txt`), which would let a client reach a name
/// it may not use (a hidden partial upload) by another spelling.
///
/// Only a name with a `~` can be a generated alias, so only those cost a look: a file or
/// directory is asked for its final path (which carries long names); a link, which
/// that would follow, is looked for in its directory's listing.
pub(crate) fn own_name(path: &Path, name: &OsStr, kind: EntryKind) -> io::Result<bool> {
    if !name.to_str().is_some_and(|n| n.contains('~')) {
        return Ok(true);
    }
    match kind {
        EntryKind::File | EntryKind::Dir => {
            let real = fs::canonicalize(path)?;
            Ok(real.file_name().is_some_and(|r| case::same(r, name)))
        }
        EntryKind::Symlink | EntryKind::Other => {
            let Some(dir) = path.parent() else {
                return Ok(false);
            };
            for entry in fs::read_dir(dir)? {
                if case::same(&entry?.file_name(), name) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// Remove a file, or a link itself: a link to a directory (or a junction) is removed as
/// a directory, which removes the link and never what it points to.
pub(crate) fn remove_file(path: &Path, meta: &Metadata) -> io::Result<()> {
    if meta.file_type().is_symlink_dir() {
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
}

/// NTFS logs the rename itself; flushing a directory needs a handle opened for writing,
/// which a lookup never holds.
pub(crate) fn sync_dir(_dir: &File) {}

/// How a lookup names entries of a directory it holds: by full path from the root. What
/// keeps that path pointing where the lookup checked is `Ancestors`: every directory on it
/// is held open without `FILE_SHARE_DELETE`, so none can be swapped for a link.
#[derive(Debug)]
pub(crate) struct Anchor;

impl Anchor {
    pub(crate) fn new(_dir: &File, _path: &Path, _meta: &Metadata, _allow_proc: bool) -> Anchor {
        Anchor
    }

    /// Held directories cannot be renamed or replaced: a swap fails while we hold them.
    pub(crate) fn swap_proof(&self) -> bool {
        true
    }

    pub(crate) fn dir_path(&self, root: &Path, _dir: &File, rel: &Path) -> PathBuf {
        root.join(rel)
    }

    /// Windows has no `/proc`; `Ancestors::still_real` is its after-the-fact check.
    pub(crate) fn inside(&self, _root: &Path, _file: &File) -> io::Result<bool> {
        Ok(true)
    }
}

/// Every directory between the root and where a lookup stands, held open.
#[derive(Debug)]
pub(crate) struct Ancestors(Vec<File>);

impl Ancestors {
    pub(crate) fn new() -> Ancestors {
        Ancestors(Vec::new())
    }

    /// A lookup stepped down from `dir`: keep holding it, so the path stays put.
    pub(crate) fn keep(&mut self, dir: File) {
        self.0.push(dir);
    }

    /// Whether the root, every held directory and `dir` are still plain directories.
    ///
    /// Holding a directory stops it being renamed, not being made a junction: setting a
    /// reparse point needs only write-attributes access, which no share mode refuses, and
    /// an empty directory. A lookup that went through one is caught here, after the fact.
    pub(crate) fn still_real(&self, root: &File, dir: Option<&File>) -> io::Result<bool> {
        for held in std::iter::once(root).chain(&self.0).chain(dir) {
            if kind(&held.metadata()?) != EntryKind::Dir {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
