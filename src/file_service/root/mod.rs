//! Confine every path a client names to one served directory, modelled on Go 1.24's `os.Root`.
//!
//! Every operation here goes through one lookup (`lookup.rs`): the name is checked
//! lexically (`name.rs`), then resolved one component at a time from the root, following
//! a symbolic link only while the result stays inside. What keeps a directory on the way
//! from being swapped for a link is the platform's part (`sys/`): Linux names each step
//! relative to an open directory through `/proc/self/fd`, Windows holds every directory
//! of the path open so none can be moved, other systems work on full paths and re-check
//! what they opened. Uploads (partial files, resume, commit) are staged in `upload.rs`.
//! `docs/ROOT.md` states the promises per platform, the rules and the races that remain.

mod case;
mod dir_stream;
mod error;
mod lookup;
mod name;
mod sys;
mod upload;

pub use dir_stream::DirStream;
pub use error::{RootError, RootErrorKind};
pub use lookup::MAX_SYMLINK_HOPS;
pub use name::{problem_here, MAX_COMPONENTS, MAX_COMPONENT_BYTES, MAX_NAME_BYTES};
pub use upload::{is_partial_name, is_record_name, PartialFile, Upload, UploadKey, UploadTarget};

use crate::core::errno;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use lookup::{err, kind, Follow, Target};

/// A directory tree that clients may name paths in, and nothing outside it.
///
/// Open it once with [`Root::open`]; share it between threads (it is `Send + Sync`).
/// Each method takes the client's name as raw bytes, relative to the root, and is the
/// only checked way to do that operation.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: File,
    anchor: sys::Anchor,
}

/// What a directory entry is, without following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link; on Windows also a junction.
    Symlink,
    /// FIFOs, sockets, devices; on Windows, reparse points that are not links.
    Other,
}

/// One entry of a [`Root::stream_dir`] or [`Root::read_dir`] listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// The entry's name as stored on disk: bytes, since on unix it may not be UTF-8.
    /// Show it with [`crate::core::escape::name`] or `String::from_utf8_lossy`.
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Length in bytes (for a symbolic link, of its target text).
    pub size: u64,
    /// Last modification, when the file system reports one.
    pub modified: Option<SystemTime>,
    /// Permission, set-id and sticky bits (`st_mode & 0o7777`); on Windows, made up from
    /// the read-only attribute as a STAT reply's are (`file_meta::mode_bits`: `0o644` or
    /// `0o444`, `0o755` or `0o555` for a directory), so `ls -l` and `ls -l FILE` agree.
    pub mode: u32,
    /// Owner and group numbers where the system has them (unix); `None` on Windows.
    pub owner: Option<crate::file_service::protocol::Owner>,
}

impl Root {
    /// Open `dir` as a root. The path is canonicalised once, here: later renames of the
    /// directory do not move the root, they make every request fail closed (on Windows
    /// the root is held open, and cannot be renamed or removed while it is served).
    pub fn open(dir: &Path) -> io::Result<Root> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, allow_proc: bool) -> io::Result<Root> {
        let path = fs::canonicalize(dir)?;
        let meta = fs::metadata(&path)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                path.display()
            )));
        }
        let dir = sys::open_dir(&path)?;
        let opened = dir.metadata()?;
        if kind(&opened) != EntryKind::Dir || !sys::same_file(&meta, &opened) {
            return Err(io::Error::other(format!(
                "{} changed while it was being opened",
                path.display()
            )));
        }
        let anchor = sys::Anchor::new(&dir, &path, &opened, allow_proc);
        Ok(Root { path, dir, anchor })
    }

    /// The canonical path of the served directory, as it was when opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when a directory on the way cannot be swapped for a link during a lookup:
    /// Linux with `/proc` (lookups anchored on open directory handles) and Windows
    /// (every directory of the path held open, so it cannot be moved). False elsewhere,
    /// where that race stays open; worth a line in the server log. See docs/ROOT.md.
    pub fn fd_anchored(&self) -> bool {
        self.anchor.swap_proof()
    }

    /// Open a regular file for reading; returns it with its metadata.
    ///
    /// Symbolic links inside the root are followed. A directory is `IsDirectory`; a FIFO,
    /// socket, device or other special file is `PermissionDenied` and never opened for
    /// reading. The final open never follows a link (and on unix never blocks or takes a
    /// controlling terminal); the file opened must be a regular file, the one the lookup
    /// found, and, on Linux, lie inside the root.
    pub fn open_file(&self, name: &[u8]) -> Result<(File, Metadata), RootError> {
        let w = self.walk(name, false, Follow::Always)?;
        let (parent, entry, meta) = match w.target {
            Target::Dir(_) => return Err(err(RootErrorKind::IsDirectory, name, "")),
            Target::Entry { meta: None, .. } => return Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                parent,
                name: entry,
                meta: Some(meta),
            } => (parent, entry, meta),
        };
        match kind(&meta) {
            EntryKind::Dir => return Err(err(RootErrorKind::IsDirectory, name, "")),
            _ if w.trailing_dir => return Err(err(RootErrorKind::NotDirectory, name, "")),
            EntryKind::File => {}
            EntryKind::Symlink | EntryKind::Other => {
                return Err(err(
                    RootErrorKind::PermissionDenied,
                    name,
                    "not a regular file",
                ))
            }
        }
        let file =
            sys::open_read(&self.child(&parent, &entry)).map_err(|e| RootError::io(name, e))?;
        let opened = file.metadata().map_err(|e| RootError::io(name, e))?;
        if kind(&opened) != EntryKind::File || !sys::same_file(&meta, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                name,
                "the file changed between lookup and open",
            ));
        }
        self.confirm(&parent, Some(&file), name)?;
        Ok((file, opened))
    }

    /// Metadata of what `name` leads to, following links inside the root.
    /// `""` and `"."` are the root itself.
    pub fn stat(&self, name: &[u8]) -> Result<Metadata, RootError> {
        let w = self.walk(name, true, Follow::Always)?;
        match w.target {
            Target::Dir(d) => self
                .dir_file(&d)
                .metadata()
                .map_err(|e| RootError::io(name, e)),
            Target::Entry { meta: None, .. } => Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                meta: Some(m),
                parent,
                ..
            } => {
                if w.trailing_dir && kind(&m) != EntryKind::Dir {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                self.confirm(&parent, None, name)?;
                Ok(m)
            }
        }
    }

    /// List a directory, sorted by name; `""` and `"."` list the root: all of
    /// [`Root::stream_dir`], collected. Its memory grows with the directory; a server
    /// streams instead.
    pub fn read_dir(&self, name: &[u8]) -> Result<Vec<DirEntryInfo>, RootError> {
        let mut listing = self.stream_dir(name)?;
        let mut out = Vec::new();
        for entry in &mut listing {
            out.push(entry?);
        }
        listing.finish()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Create one directory; its parent must exist. Never follows a link in the last place.
    pub fn create_dir(&self, name: &[u8]) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let (parent, entry) = match w.target {
            Target::Dir(_) | Target::Entry { meta: Some(_), .. } => {
                return Err(err(RootErrorKind::AlreadyExists, name, ""))
            }
            Target::Entry {
                parent,
                name: entry,
                meta: None,
            } => (parent, entry),
        };
        fs::create_dir(self.child(&parent, &entry)).map_err(|e| RootError::io(name, e))?;
        self.confirm(&parent, None, name)
    }

    /// Rename `from` to `to`; `to` must not exist and its parent must.
    ///
    /// A symbolic link is renamed as itself, never followed, on either side.
    pub fn rename(&self, from: &[u8], to: &[u8]) -> Result<(), RootError> {
        self.rename_inner(from, to, false)
    }

    /// Like [`Root::rename`], but an existing file (or link) at `to` is replaced, atomically.
    /// A directory at `to` is never replaced (`AlreadyExists`).
    pub fn rename_replacing(&self, from: &[u8], to: &[u8]) -> Result<(), RootError> {
        self.rename_inner(from, to, true)
    }

    fn rename_inner(&self, from: &[u8], to: &[u8], replace: bool) -> Result<(), RootError> {
        let src = self.walk(from, false, Follow::NotLast)?;
        let src_trailing_dir = src.trailing_dir;
        let (src_parent, src_name, src_meta) = src.existing_entry(from, "rename")?;
        let src_is_dir = kind(&src_meta) == EntryKind::Dir;
        if src_trailing_dir && !src_is_dir {
            return Err(err(RootErrorKind::NotDirectory, from, ""));
        }
        let dst = self.walk(to, false, Follow::NotLast)?;
        let (dst_parent, dst_name) = match dst.target {
            Target::Entry {
                parent,
                name,
                meta: Some(m),
            } if replace && kind(&m) != EntryKind::Dir && !src_is_dir => (parent, name),
            Target::Dir(_) | Target::Entry { meta: Some(_), .. } => {
                return Err(err(RootErrorKind::AlreadyExists, to, ""))
            }
            Target::Entry {
                parent,
                name,
                meta: None,
            } => (parent, name),
        };
        if dst.trailing_dir && !src_is_dir {
            return Err(err(RootErrorKind::NotDirectory, to, ""));
        }
        // Said before the system is asked: Windows would only report the directory as in
        // use (the lookup of `to` holds it open).
        if src_is_dir && dst_parent.is_within(&src_parent, &src_name) {
            return Err(into_itself(to));
        }
        fs::rename(
            self.child(&src_parent, &src_name),
            self.child(&dst_parent, &dst_name),
        )
        .map_err(|e| match e.raw_os_error() {
            Some(n) if n == errno::EINVAL => into_itself(to),
            Some(n) if n == errno::EXDEV => err(RootErrorKind::Other, to, "crosses a mount point"),
            _ => RootError::io(to, e),
        })?;
        self.confirm(&src_parent, None, from)?;
        self.confirm(&dst_parent, None, to)
    }

    /// Remove a file. A symbolic link is removed itself, never what it points to.
    pub fn remove_file(&self, name: &[u8]) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let (parent, entry, meta) = match w.target {
            Target::Dir(_) => return Err(err(RootErrorKind::IsDirectory, name, "")),
            Target::Entry { meta: None, .. } => return Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                meta: Some(m),
                parent,
                name: entry,
            } => {
                if kind(&m) == EntryKind::Dir {
                    return Err(err(RootErrorKind::IsDirectory, name, ""));
                }
                if w.trailing_dir {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                (parent, entry, m)
            }
        };
        sys::remove_file(&self.child(&parent, &entry), &meta)
            .map_err(|e| RootError::io(name, e))?;
        self.confirm(&parent, None, name)
    }

    /// Remove an empty directory. A symbolic link to a directory is `NotDirectory`.
    pub fn remove_dir(&self, name: &[u8]) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let (parent, entry, meta) = w.existing_entry(name, "remove")?;
        if kind(&meta) != EntryKind::Dir {
            return Err(err(RootErrorKind::NotDirectory, name, ""));
        }
        fs::remove_dir(self.child(&parent, &entry)).map_err(|e| {
            // POSIX lets rmdir report a non-empty directory as EEXIST too.
            if e.kind() == io::ErrorKind::AlreadyExists {
                err(RootErrorKind::NotEmpty, name, "")
            } else {
                RootError::io(name, e)
            }
        })?;
        self.confirm(&parent, None, name)
    }
}

impl Root {
    /// `chmod`: give a file or directory the permission bits of `mode` (`0o777`; set-id and
    /// sticky bits are never applied, so no client makes a set-id file here). On Windows,
    /// the only bit there is: read-only when `mode` has no owner-write bit (`0o200`).
    ///
    /// Never through a symbolic link in the last place (refused: a confined write never
    /// follows one), never the root itself; the entry is opened, checked to be the one the
    /// lookup found, and changed through that handle.
    pub fn set_mode(&self, name: &[u8], mode: u16) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let trailing_dir = w.trailing_dir;
        let (parent, entry, meta) = w.existing_entry(name, "chmod")?;
        let path = self.child(&parent, &entry);
        let file = match kind(&meta) {
            EntryKind::Dir => sys::open_attributes(&path, true),
            EntryKind::File if !trailing_dir => sys::open_attributes(&path, false),
            EntryKind::File => return Err(err(RootErrorKind::NotDirectory, name, "")),
            EntryKind::Symlink => {
                return Err(err(
                    RootErrorKind::PermissionDenied,
                    name,
                    "a symbolic link: chmod never follows one",
                ))
            }
            EntryKind::Other => {
                return Err(err(
                    RootErrorKind::PermissionDenied,
                    name,
                    "not a regular file or directory",
                ))
            }
        }
        .map_err(|e| RootError::io(name, e))?;
        let opened = file.metadata().map_err(|e| RootError::io(name, e))?;
        if kind(&opened) != kind(&meta) || !sys::same_file(&meta, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                name,
                "the entry changed between lookup and open",
            ));
        }
        self.confirm(&parent, Some(&file), name)?;
        crate::file_service::file_meta::set_mode(&file, mode).map_err(|e| RootError::io(name, e))
    }
}

fn into_itself(to: &[u8]) -> RootError {
    err(
        RootErrorKind::BadRequest,
        to,
        "cannot move a directory into itself",
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    /// The path-based fallback (other unix, or Linux without /proc) is not reachable from
    /// the integration tests on Linux, so its lookups are exercised here, in a tree with a
    /// root `ROOT/a/b` and room for a sentinel beside it.
    fn tree() -> TempDir {
        let t = TempDir::new("root");
        fs::create_dir_all(t.join("ROOT/a/b")).expect("create test tree");
        t
    }

    #[test]
    fn path_mode_confines_like_anchored_mode() {
        let t = tree();
        let r = t.join("ROOT");
        fs::write(t.join("secret"), b"SECRET").expect("write sentinel");
        fs::write(r.join("a/b/f.txt"), b"inside").expect("write file");
        std::os::unix::fs::symlink("a/b/f.txt", r.join("ok")).expect("symlink");
        std::os::unix::fs::symlink("../../../secret", r.join("a/b/out")).expect("symlink");
        std::os::unix::fs::symlink("/", r.join("slash")).expect("symlink");
        for allow_proc in [false, true] {
            let root = Root::open_with(&r, allow_proc).expect("open root");
            if !allow_proc {
                assert!(!root.fd_anchored());
            }
            let (mut f, _) = root.open_file(b"ok").expect("in-root link");
            let mut s = String::new();
            io::Read::read_to_string(&mut f, &mut s).expect("read");
            assert_eq!(s, "inside");
            let (_, _) = root.open_file(b"a/b/../b/./f.txt").expect("dotdot inside");
            for bad in [&b"a/b/out"[..], b"slash/etc/passwd", b"slash", b"../secret"] {
                let e = root.open_file(bad).expect_err("must be refused");
                assert_eq!(e.kind(), RootErrorKind::Outside, "{e}");
            }
            let names: Vec<Vec<u8>> = root
                .read_dir(b"a/b")
                .expect("list")
                .into_iter()
                .map(|e| e.name)
                .collect();
            assert_eq!(names, vec![b"f.txt".to_vec(), b"out".to_vec()]);
            root.create_dir(b"a/new").expect("mkdir");
            root.remove_dir(b"a/new").expect("rmdir");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_roots_are_fd_anchored() {
        let t = tree();
        let root = Root::open(&t.join("ROOT")).expect("open root");
        assert!(
            root.fd_anchored(),
            "/proc/self/fd should be usable in the test environment"
        );
    }
}
