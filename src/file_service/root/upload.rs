//! Uploads staged through the root: a hidden partial file `.<name>.part` beside the target, found again to resume, renamed onto the target at commit.
//!
//! The target is looked up like any other name; the partial's name is deterministic so
//! a broken upload is found again, and lives in the target's own directory so the final
//! rename never crosses a file system. Beside each partial an upload writes a record,
//! `.<name>.part.srv`, before the partial and removed after it: only a partial with its
//! record was made by an upload here, so a user's own `.notes.part` is never appended to
//! or cleaned up as if it were one ([`PartialFile::has_record`]). No client can name a
//! record ([`is_record_name`]), and listings leave them out. [`UploadKey`] names a
//! target however it was spelled, for a server that must not let two uploads share one
//! partial.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use super::error::{RootError, RootErrorKind};
use super::lookup::{err, kind, lstat_opt, Dir, Follow, Target};
use super::{case, sys, EntryKind, Root, MAX_COMPONENT_BYTES};
use crate::core::errno;

/// Whether one path component has the form of an upload's partial file, `.<name>.part`.
/// A server can use it to keep clients from reading, listing or writing partial files
/// directly (which would let two uploads, or an upload and a download, meet in one).
///
/// Where names ignore case (Windows, macOS), `.<name>.PART` and the like are the same
/// file, so they match too. (No character outside ASCII folds to a letter of `part`.)
pub fn is_partial_name(component: &[u8]) -> bool {
    const SUFFIX: &[u8] = b".part";
    let Some(tail) = component
        .len()
        .checked_sub(SUFFIX.len())
        .map(|at| &component[at..])
    else {
        return false;
    };
    let suffix_matches = if sys::NAMES_IGNORE_CASE {
        tail.eq_ignore_ascii_case(SUFFIX)
    } else {
        tail == SUFFIX
    };
    component.len() > SUFFIX.len() + 1 && component.starts_with(b".") && suffix_matches
}

/// What a record's name adds to its partial's: `.<name>.part.srv`.
const RECORD_SUFFIX: &str = ".srv";
/// What the temporary a record is written to adds to its partial's name: the record is
/// renamed into place whole, so it is there or not, never half-written.
const RECORD_TEMP_SUFFIX: &str = ".srv.tmp";
/// What the longest name the server makes for an upload adds to the target's name:
/// `.` and `.part.srv.tmp`.
const ADDED_BYTES: usize = 1 + ".part".len() + RECORD_TEMP_SUFFIX.len();
/// What a record holds: a line for whoever comes across one.
const RECORD_TEXT: &[u8] =
    b"download_server: the partial upload beside this file is one of its uploads\n";

/// Whether one path component has the form of an upload's record, `.<name>.part.srv`, or of
/// the temporary it is written to, `.<name>.part.srv.tmp`. Such names belong to the server:
/// [`Root`] refuses them from clients and leaves them out of listings, so that no client can
/// make a file of its own look like one of the server's partial uploads.
pub fn is_record_name(component: &[u8]) -> bool {
    let ends_with = |suffix: &str| {
        let suffix = suffix.as_bytes();
        component.len() > suffix.len() && {
            let tail = &component[component.len() - suffix.len()..];
            if sys::NAMES_IGNORE_CASE {
                tail.eq_ignore_ascii_case(suffix)
            } else {
                tail == suffix
            }
        }
    };
    let partial_of = |suffix: &str| {
        ends_with(suffix) && is_partial_name(&component[..component.len() - suffix.len()])
    };
    partial_of(RECORD_SUFFIX) || partial_of(RECORD_TEMP_SUFFIX)
}

/// `name` with `suffix` after it.
fn suffixed(name: &OsStr, suffix: &str) -> OsString {
    let mut out = name.to_os_string();
    out.push(suffix);
    out
}

/// Writes the record of the partial `temp` in `parent`: a temporary, then a rename, so the
/// record is whole or absent.
fn write_record(root: &Root, parent: &Dir, temp: &OsStr, raw: &[u8]) -> Result<(), RootError> {
    use std::io::Write;
    let tmp_path = root.child(parent, &suffixed(temp, RECORD_TEMP_SUFFIX));
    // A temporary left by a run that stopped half-way is ours to replace.
    match fs::remove_file(&tmp_path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(RootError::io(raw, e)),
        _ => {}
    }
    let mut file = sys::open_partial(&tmp_path, true).map_err(|e| RootError::io(raw, e))?;
    file.write_all(RECORD_TEXT)
        .and_then(|()| file.sync_all())
        .map_err(|e| RootError::io(raw, e))?;
    drop(file);
    fs::rename(
        &tmp_path,
        root.child(parent, &suffixed(temp, RECORD_SUFFIX)),
    )
    .map_err(|e| RootError::io(raw, e))
}

/// Removes the record of the partial `temp` in `parent`, once the partial is gone. One
/// that cannot be removed only stays behind: without its partial it marks nothing.
fn remove_record(root: &Root, parent: &Dir, temp: &OsStr) {
    let _ = fs::remove_file(root.child(parent, &suffixed(temp, RECORD_SUFFIX)));
}

/// The target a partial file's name belongs to: `x` for `.x.part`.
fn partial_target(component: &[u8]) -> Option<&[u8]> {
    if !is_partial_name(component) {
        return None;
    }
    component.get(1..component.len() - ".part".len())
}

/// A path from the root through real directories, then `entry`, as `/`-separated bytes.
fn resolved_path(rel: &Path, entry: &OsStr) -> Vec<u8> {
    let mut out = Vec::new();
    for comp in rel.iter().chain(std::iter::once(entry)) {
        if !out.is_empty() {
            out.push(b'/');
        }
        // Every directory on the way, and the entry, were named in UTF-8 by a client or a link.
        out.extend_from_slice(crate::file_service::os_name::to_bytes(comp).unwrap_or_default());
    }
    out
}

/// `.<name>.part`: deterministic, so a broken upload is found again by name.
fn temp_name(target: &OsString) -> OsString {
    let mut t = OsString::from(".");
    t.push(target);
    t.push(".part");
    t
}

/// Writes never go through a link, and never replace a directory or a special file.
fn refuse_write_target(meta: &Metadata, raw: &[u8]) -> Result<(), RootError> {
    match kind(meta) {
        EntryKind::File => Ok(()),
        EntryKind::Dir => Err(err(RootErrorKind::IsDirectory, raw, "")),
        EntryKind::Symlink => Err(err(
            RootErrorKind::PermissionDenied,
            raw,
            "is a symbolic link; writes never go through links",
        )),
        EntryKind::Other => Err(err(
            RootErrorKind::PermissionDenied,
            raw,
            "not a regular file",
        )),
    }
}

/// A partial that cannot be reopened because it is a link or a directory is refused like
/// any other partial that is not a plain file.
fn partial_error(raw: &[u8], e: io::Error) -> RootError {
    let what = match e.raw_os_error() {
        Some(n) if n == errno::ELOOP => "the partial upload is a symbolic link",
        Some(n) if n == errno::EISDIR => "the partial upload is a directory",
        _ => return RootError::io(raw, e),
    };
    err(RootErrorKind::PermissionDenied, raw, what)
}

/// Which file an upload goes to, independent of how its name was spelled: its directory
/// and its name there, compared as the file system compares names (without case on
/// Windows and macOS).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadKey {
    dir: DirId,
    name: Vec<u8>,
}

/// A directory, whatever path led to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DirId {
    /// Device and inode, where the system gives them (unix).
    Inode(u64, u64),
    /// Its path from the root through real directories (links resolved), folded: on
    /// Windows, where stable std has no file index. Directories there have no second
    /// names (no hard links; junctions are refused, short aliases too), so the path is
    /// as good as an identity for as long as the directory stays where it is.
    Path(Vec<u8>),
}

impl DirId {
    fn of(meta: &Metadata, rel: &Path) -> DirId {
        match sys::inode(meta) {
            Some((dev, ino)) => DirId::Inode(dev, ino),
            None => {
                let mut path = Vec::new();
                for comp in rel.iter() {
                    path.push(b'/');
                    // Every directory on the way was named in UTF-8 by the client or a link.
                    let bytes = crate::file_service::os_name::to_bytes(comp).unwrap_or_default();
                    path.extend_from_slice(&case::key(bytes));
                }
                DirId::Path(path)
            }
        }
    }
}

impl Root {
    /// Start, or resume, an upload to `name`: [`Root::prepare_upload`] then [`UploadTarget::open`].
    ///
    /// Data goes to a hidden temporary file `.<name>.part` in the target's directory (which
    /// must already exist inside the root). If that file is already there, it is reopened
    /// and [`Upload::resume_from`] tells how many bytes it holds: that is how a broken
    /// upload is found again. The target must not be a directory, a symbolic link or a
    /// special file; an existing regular file is replaced, atomically, at commit.
    pub fn create_upload(&self, name: &[u8]) -> Result<Upload<'_>, RootError> {
        self.prepare_upload(name)?.open()
    }

    /// The first half of [`Root::create_upload`]: look `name` up and check it can be
    /// uploaded to, holding its directory open, but touch nothing yet.
    ///
    /// A server that must not let two uploads share one partial file takes a lock on
    /// [`UploadTarget::key`] between the two halves: the key names the directory by
    /// device and inode (on Windows, by its real path from the root), and the name as the
    /// file system compares it, so every spelling of the same target (`x`, `./x`,
    /// `d/../x`, a link to the directory, and on Windows and macOS `X`) gets the same key.
    pub fn prepare_upload(&self, name: &[u8]) -> Result<UploadTarget<'_>, RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        if w.trailing_dir {
            return Err(err(
                RootErrorKind::BadRequest,
                name,
                "an upload names a file, not a directory",
            ));
        }
        let (parent, target, meta) = match w.target {
            Target::Dir(_) => return Err(err(RootErrorKind::IsDirectory, name, "")),
            Target::Entry {
                parent,
                name: target,
                meta,
            } => (parent, target, meta),
        };
        if let Some(m) = &meta {
            refuse_write_target(m, name)?;
        }
        let temp = temp_name(&target);
        if target.len() + ADDED_BYTES > MAX_COMPONENT_BYTES {
            return Err(err(
                RootErrorKind::BadRequest,
                name,
                &format!("too long to upload: the server's names for it add {ADDED_BYTES} bytes"),
            ));
        }
        // The target's last component came from the client, in UTF-8.
        let target_bytes = crate::file_service::os_name::to_bytes(&target).unwrap_or_default();
        let key = self.upload_key(&parent, target_bytes, name)?;
        Ok(UploadTarget {
            root: self,
            parent,
            temp,
            target,
            name: name.to_vec(),
            key,
            existing: meta,
        })
    }
}

impl Root {
    /// The key of an upload of `target` into the held directory `parent`.
    fn upload_key(&self, parent: &Dir, target: &[u8], raw: &[u8]) -> Result<UploadKey, RootError> {
        let dir_meta = self
            .dir_file(parent)
            .metadata()
            .map_err(|e| RootError::io(raw, e))?;
        Ok(UploadKey {
            dir: DirId::of(&dir_meta, &parent.rel),
            name: case::key(target),
        })
    }

    /// Look `name` up as the partial file of an upload, `dir/.x.part`, whatever is there now
    /// (nothing, a file, a directory): `None` when its last component does not have that form.
    /// Its [`PartialFile::key`] is the [`UploadTarget::key`] of `dir/x` even when `dir/x` cannot
    /// be uploaded to right now (it became a directory), so a server that locks uploads by key
    /// can keep a running upload's partial from being removed under it.
    pub fn find_partial(&self, name: &[u8]) -> Result<Option<PartialFile<'_>>, RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let Target::Entry {
            parent,
            name: entry,
            meta,
        } = w.target
        else {
            return Ok(None);
        };
        let Some(target) = crate::file_service::os_name::to_bytes(&entry).and_then(partial_target)
        else {
            return Ok(None);
        };
        let key = self.upload_key(&parent, target, name)?;
        Ok(Some(PartialFile {
            root: self,
            parent,
            entry,
            meta,
            trailing_dir: w.trailing_dir,
            name: name.to_vec(),
            key,
        }))
    }
}

/// A partial upload's file looked up by [`Root::find_partial`], its directory held open.
#[derive(Debug)]
pub struct PartialFile<'r> {
    root: &'r Root,
    parent: Dir,
    entry: OsString,
    meta: Option<Metadata>,
    trailing_dir: bool,
    name: Vec<u8>,
    key: UploadKey,
}

impl PartialFile<'_> {
    /// The key of the upload this partial belongs to.
    pub fn key(&self) -> &UploadKey {
        &self.key
    }

    /// Where it is: its path from the root through real directories (links resolved).
    pub fn path(&self) -> Vec<u8> {
        resolved_path(&self.parent.rel, &self.entry)
    }

    /// What is there now, without following a link; `None` if nothing is.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.meta.as_ref()
    }

    /// Whether its record is beside it: whether an upload here made it (see the module's
    /// comment). A file named like a partial without one is someone's own file.
    pub fn has_record(&self) -> bool {
        let record = self
            .root
            .child(&self.parent, &suffixed(&self.entry, RECORD_SUFFIX));
        lstat_opt(&record).is_ok_and(|m| m.is_some_and(|m| kind(&m) == EntryKind::File))
    }

    /// Remove it, as [`Root::remove_file`] would: a directory is `IsDirectory`, a link is
    /// removed itself.
    pub fn remove(self) -> Result<(), RootError> {
        let name = self.name.as_slice();
        let Some(meta) = &self.meta else {
            return Err(err(RootErrorKind::NotFound, name, ""));
        };
        if kind(meta) == EntryKind::Dir {
            return Err(err(RootErrorKind::IsDirectory, name, ""));
        }
        if self.trailing_dir {
            return Err(err(RootErrorKind::NotDirectory, name, ""));
        }
        sys::remove_file(&self.root.child(&self.parent, &self.entry), meta)
            .map_err(|e| RootError::io(name, e))?;
        remove_record(self.root, &self.parent, &self.entry);
        self.root.confirm(&self.parent, None, name)
    }
}

/// A checked upload target whose directory is held open; [`UploadTarget::open`]
/// opens (or reopens) its partial file.
#[derive(Debug)]
pub struct UploadTarget<'r> {
    root: &'r Root,
    parent: Dir,
    temp: OsString,
    target: OsString,
    name: Vec<u8>,
    key: UploadKey,
    existing: Option<Metadata>,
}

impl<'r> UploadTarget<'r> {
    /// The same for every spelling of this target (see [`Root::prepare_upload`]).
    pub fn key(&self) -> &UploadKey {
        &self.key
    }

    /// Where its partial file is: `.<name>.part` beside it, by its path from the root through
    /// real directories (links resolved). [`Root::find_partial`] finds it again there.
    pub fn partial_path(&self) -> Vec<u8> {
        resolved_path(&self.parent.rel, &self.temp)
    }

    /// Whether a regular file already has the target's name (the commit would replace it).
    pub fn exists(&self) -> bool {
        self.existing.is_some()
    }

    /// Create `.<name>.part` (never over an existing name, never through a link), its record
    /// first, or reopen it if an upload here left it; it must be a plain file with one link.
    /// One there without its record was not made by an upload: it is refused, untouched.
    pub fn open(self) -> Result<Upload<'r>, RootError> {
        let UploadTarget {
            root,
            parent,
            temp,
            target,
            name,
            ..
        } = self;
        let name = name.as_slice();
        let temp_path = root.child(&parent, &temp);
        let record = root.child(&parent, &suffixed(&temp, RECORD_SUFFIX));
        let left = lstat_opt(&temp_path).map_err(|e| RootError::io(name, e))?;
        let recorded = lstat_opt(&record).map_err(|e| RootError::io(name, e))?;
        match (left, recorded) {
            (Some(_), None) => {
                return Err(err(
                    RootErrorKind::PermissionDenied,
                    name,
                    &format!(
                        "{} is there and was not left by an upload of this server; move it \
                         away to upload this name",
                        crate::core::escape::name(resolved_path(&parent.rel, &temp).as_slice())
                    ),
                ))
            }
            (None, _) => write_record(root, &parent, &temp, name)?,
            (Some(_), Some(_)) => {}
        }
        let file = match sys::open_partial(&temp_path, true) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                sys::open_partial(&temp_path, false).map_err(|e| partial_error(name, e))?
            }
            Err(e) => {
                // No partial after all: its record would mark nothing.
                remove_record(root, &parent, &temp);
                return Err(RootError::io(name, e));
            }
        };
        let opened = file.metadata().map_err(|e| RootError::io(name, e))?;
        // A partial that is not a plain file, or has a second name somewhere (a hard link
        // planted by someone with access to the tree), is not ours to append to.
        if kind(&opened) != EntryKind::File || sys::extra_links(&opened) {
            return Err(err(
                RootErrorKind::PermissionDenied,
                name,
                "the partial upload is not a plain file",
            ));
        }
        let on_disk = fs::symlink_metadata(&temp_path).map_err(|e| RootError::io(name, e))?;
        if !sys::same_file(&on_disk, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                name,
                "the partial upload changed while it was opened",
            ));
        }
        root.confirm(&parent, Some(&file), name)?;
        let mut up = Upload {
            root,
            parent,
            temp,
            target,
            name: name.to_vec(),
            file,
            resume_from: 0,
        };
        up.resume_from = up
            .file
            .seek(SeekFrom::End(0))
            .map_err(|e| RootError::io(name, e))?;
        Ok(up)
    }
}

/// An upload in progress: write to [`Upload::file`], then [`Upload::commit`].
///
/// Dropping it (or [`Upload::keep`]) leaves the partial file for a later resume;
/// [`Upload::abort`] removes it.
#[derive(Debug)]
pub struct Upload<'r> {
    root: &'r Root,
    parent: Dir,
    temp: OsString,
    target: OsString,
    name: Vec<u8>,
    file: File,
    resume_from: u64,
}

impl Upload<'_> {
    /// The temporary file, positioned at its end: write the rest of the data here.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// How many bytes the partial held when it was opened (0 for a fresh upload).
    pub fn resume_from(&self) -> u64 {
        self.resume_from
    }

    /// Throw away what a previous attempt left, for a client that does not resume.
    pub fn start_over(&mut self) -> Result<(), RootError> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .map_err(|e| RootError::io(&self.name, e))?;
        self.resume_from = 0;
        Ok(())
    }

    /// Check the size, flush to disk, and rename the temporary file onto the target.
    ///
    /// A size other than `expected_len` is `BadRequest`, and the partial stays for a resume.
    /// The rename is atomic and never goes through a link: if the target became a link or a
    /// directory meanwhile, the commit is refused.
    pub fn commit(self, expected_len: u64) -> Result<(), RootError> {
        let Upload {
            root,
            parent,
            temp,
            target,
            name,
            file,
            ..
        } = self;
        let raw = name.as_slice();
        let meta = file.metadata().map_err(|e| RootError::io(raw, e))?;
        if meta.len() != expected_len {
            return Err(err(
                RootErrorKind::BadRequest,
                raw,
                &format!("upload has {} bytes, expected {}", meta.len(), expected_len),
            ));
        }
        file.sync_all().map_err(|e| RootError::io(raw, e))?;
        // Closed before the rename: Windows renames an open file only if every handle
        // to it shares deletion, and there is nothing left to write.
        drop(file);
        let temp_path = root.child(&parent, &temp);
        let on_disk = fs::symlink_metadata(&temp_path).map_err(|e| RootError::io(raw, e))?;
        if !sys::same_file(&on_disk, &meta) {
            return Err(err(
                RootErrorKind::Outside,
                raw,
                "the partial upload was replaced before commit",
            ));
        }
        let target_path = root.child(&parent, &target);
        if let Some(m) = lstat_opt(&target_path).map_err(|e| RootError::io(raw, e))? {
            refuse_write_target(&m, raw)?;
        }
        fs::rename(&temp_path, &target_path).map_err(|e| RootError::io(raw, e))?;
        remove_record(root, &parent, &temp);
        sys::sync_dir(root.dir_file(&parent));
        root.confirm(&parent, None, raw)
    }

    /// Leave the partial file where it is, for the client to resume later.
    pub fn keep(self) {}

    /// Remove the partial file.
    pub fn abort(self) -> Result<(), RootError> {
        let Upload {
            root,
            parent,
            temp,
            name,
            file,
            ..
        } = self;
        // Closed first, so that on Windows the name goes at once, not when the handle does.
        drop(file);
        fs::remove_file(root.child(&parent, &temp)).map_err(|e| RootError::io(&name, e))?;
        remove_record(root, &parent, &temp);
        root.confirm(&parent, None, &name)
    }
}
