//! Confine every path a client names to one served directory, modelled on Go 1.24's `os.Root`.
//!
//! Every operation goes through one lookup, `Root::walk`, which checks the name
//! lexically and then resolves it one component at a time from the root, following a
//! symbolic link only while the result stays inside. On Linux the lookup holds each
//! directory open and names the next step relative to that open directory (through
//! `/proc/self/fd/N/name`), so a directory swapped for a link mid-lookup cannot move
//! it outside; elsewhere it works on full paths and re-checks what it opened.
//! `docs/ROOT.md` states the promises, the rules and the race that remains.

#[cfg(not(unix))]
compile_error!("socket_tutorial::root needs unix: it relies on O_NOFOLLOW and symlink semantics");

mod error;
mod name;
mod sys;

pub use error::{RootError, RootErrorKind};
pub use name::{MAX_COMPONENTS, MAX_COMPONENT_BYTES, MAX_NAME_BYTES};

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use name::{parse, Part};

/// Most symbolic links one lookup follows before calling it a loop (Linux's MAXSYMLINKS).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Most components one lookup visits, links and re-walks after `..` included; bounds the
/// work a crafted tree of links can make us do.
const MAX_STEPS: usize = 4096;

/// A directory tree that clients may name paths in, and nothing outside it.
///
/// Open it once with [`Root::open`]; share it between threads (it is `Send + Sync`).
/// Each method takes the client's name as raw bytes, relative to the root, and is the
/// only checked way to do that operation.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: File,
    anchored: bool,
}

/// What a directory entry is, without following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// FIFOs, sockets, devices.
    Other,
}

/// One entry of a [`Root::read_dir`] listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// The entry's name as stored on disk: bytes, since it may not be UTF-8.
    /// Show it with [`crate::escape::name`] or `String::from_utf8_lossy`.
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Length in bytes (for a symbolic link, of its target text).
    pub size: u64,
    /// Last modification, when the file system reports one.
    pub modified: Option<SystemTime>,
    /// Permission, set-id and sticky bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// A directory held open during a lookup; `file: None` is the root's own handle.
#[derive(Debug)]
struct Dir {
    file: Option<File>,
    /// Path from the root, for the path-based fallback.
    rel: PathBuf,
}

/// Where a name led.
#[derive(Debug)]
enum Target {
    /// A directory already open: the root, or one named through `.`/`..`.
    Dir(Dir),
    /// Entry `name` of `parent`; `meta` is its lstat, `None` if it does not exist.
    Entry {
        parent: Dir,
        name: OsString,
        meta: Option<Metadata>,
    },
}

#[derive(Debug)]
struct Walked {
    target: Target,
    /// What the name ends in requires a directory (`/`, `/.`, `/..`, or a link to `dir/`).
    trailing_dir: bool,
}

impl Walked {
    /// The named entry, which must exist: a move or removal of the root itself, or of a
    /// directory named through `.`/`..` (`verb` says which), is a bad request.
    fn existing_entry(
        self,
        raw: &[u8],
        verb: &str,
    ) -> Result<(Dir, OsString, Metadata), RootError> {
        match self.target {
            Target::Dir(_) => Err(err(
                RootErrorKind::BadRequest,
                raw,
                &format!("cannot {verb} the root or a directory named through '.' or '..'"),
            )),
            Target::Entry { meta: None, .. } => Err(err(RootErrorKind::NotFound, raw, "")),
            Target::Entry {
                parent,
                name,
                meta: Some(meta),
            } => Ok((parent, name, meta)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// Reads: follow a symbolic link in the last position too (if it stays inside).
    Always,
    /// Writes: the last component is the entry itself, link or not.
    NotLast,
}

fn err(kind: RootErrorKind, raw: &[u8], detail: &str) -> RootError {
    RootError::new(kind, raw, detail)
}

fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn lstat_opt(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Root {
    /// Open `dir` as a root. The path is canonicalised once, here: later renames of the
    /// directory do not move the root, they make every request fail closed.
    pub fn open(dir: &Path) -> io::Result<Root> {
        Self::open_with(dir, true)
    }

    fn open_with(dir: &Path, allow_anchor: bool) -> io::Result<Root> {
        let path = fs::canonicalize(dir)?;
        let meta = fs::metadata(&path)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                path.display()
            )));
        }
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(sys::OPEN_DIR)
            .open(&path)?;
        let opened = dir.metadata()?;
        if !same_file(&meta, &opened) {
            return Err(io::Error::other(format!(
                "{} changed while it was being opened",
                path.display()
            )));
        }
        let anchored = allow_anchor && anchor_works(&dir, &path, &opened);
        Ok(Root {
            path,
            dir,
            anchored,
        })
    }

    /// The canonical path of the served directory, as it was when opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when lookups are anchored on open directory handles (Linux with /proc),
    /// which closes the swap-a-directory-for-a-link race; worth a line in the server log.
    pub fn fd_anchored(&self) -> bool {
        self.anchored
    }

    /// Open a regular file for reading; returns it with its metadata.
    ///
    /// Symbolic links inside the root are followed. A directory is `IsDirectory`; a FIFO,
    /// socket or device is `PermissionDenied` and never opened for reading. The final open
    /// uses `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY`, and the file opened must be the one the
    /// lookup found (same device and inode) and, on Linux, lie inside the root.
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
        if meta.is_dir() {
            return Err(err(RootErrorKind::IsDirectory, name, ""));
        }
        if w.trailing_dir {
            return Err(err(RootErrorKind::NotDirectory, name, ""));
        }
        if !meta.is_file() {
            return Err(err(
                RootErrorKind::PermissionDenied,
                name,
                "not a regular file",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(sys::OPEN_FILE)
            .open(self.child(&parent, &entry))
            .map_err(|e| RootError::io(name, e))?;
        let opened = file.metadata().map_err(|e| RootError::io(name, e))?;
        if !opened.is_file() || !same_file(&meta, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                name,
                "the file changed between lookup and open",
            ));
        }
        self.check_inside(&file, name)?;
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
            Target::Entry { meta: Some(m), .. } => {
                if w.trailing_dir && !m.is_dir() {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                Ok(m)
            }
        }
    }

    /// List a directory, sorted by name; `""` and `"."` list the root.
    ///
    /// Entries are described without following links (a link is `EntryKind::Symlink`),
    /// so a listing never reveals anything about what lies outside.
    pub fn read_dir(&self, name: &[u8]) -> Result<Vec<DirEntryInfo>, RootError> {
        let w = self.walk(name, true, Follow::Always)?;
        let dir = match w.target {
            Target::Dir(d) => d,
            Target::Entry { meta: None, .. } => return Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                parent,
                name: entry,
                meta: Some(m),
            } => {
                if !m.is_dir() {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                self.open_dir_at(&parent, &entry, &m, name)?
            }
        };
        let listing_path = self.dir_path(&dir);
        let mut out = Vec::new();
        for entry in fs::read_dir(&listing_path).map_err(|e| RootError::io(name, e))? {
            let entry = entry.map_err(|e| RootError::io(name, e))?;
            // DirEntry::metadata does not follow links; an entry that vanished mid-listing
            // is simply no longer there.
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(RootError::io(name, e)),
            };
            let ft = meta.file_type();
            let kind = if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            out.push(DirEntryInfo {
                name: entry.file_name().into_vec(),
                kind,
                size: meta.len(),
                modified: meta.modified().ok(),
                mode: meta.mode() & 0o7777,
            });
        }
        if !self.anchored {
            // Listing went by path: make sure the path still names the directory we checked.
            let now = fs::symlink_metadata(&listing_path).map_err(|e| RootError::io(name, e))?;
            let held = self
                .dir_file(&dir)
                .metadata()
                .map_err(|e| RootError::io(name, e))?;
            if !same_file(&now, &held) {
                return Err(err(
                    RootErrorKind::Outside,
                    name,
                    "the directory changed while it was listed",
                ));
            }
        }
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
        fs::create_dir(self.child(&parent, &entry)).map_err(|e| RootError::io(name, e))
    }

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
    /// device and inode, so every spelling of the same target (`x`, `./x`, `d/../x`, a
    /// link to the directory) gets the same key.
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
        if temp.len() > MAX_COMPONENT_BYTES {
            return Err(err(
                RootErrorKind::BadRequest,
                name,
                "too long to upload: the temporary name adds 6 bytes",
            ));
        }
        let dir_meta = self
            .dir_file(&parent)
            .metadata()
            .map_err(|e| RootError::io(name, e))?;
        let key = UploadKey {
            dev: dir_meta.dev(),
            ino: dir_meta.ino(),
            name: target.as_bytes().to_vec(),
        };
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
        if src_trailing_dir && !src_meta.is_dir() {
            return Err(err(RootErrorKind::NotDirectory, from, ""));
        }
        let dst = self.walk(to, false, Follow::NotLast)?;
        let (dst_parent, dst_name) = match dst.target {
            Target::Entry {
                parent,
                name,
                meta: Some(m),
            } if replace && !m.is_dir() && !src_meta.is_dir() => (parent, name),
            Target::Dir(_) | Target::Entry { meta: Some(_), .. } => {
                return Err(err(RootErrorKind::AlreadyExists, to, ""))
            }
            Target::Entry {
                parent,
                name,
                meta: None,
            } => (parent, name),
        };
        if dst.trailing_dir && !src_meta.is_dir() {
            return Err(err(RootErrorKind::NotDirectory, to, ""));
        }
        fs::rename(
            self.child(&src_parent, &src_name),
            self.child(&dst_parent, &dst_name),
        )
        .map_err(|e| match e.raw_os_error() {
            Some(sys::EINVAL) => err(
                RootErrorKind::BadRequest,
                to,
                "cannot move a directory into itself",
            ),
            Some(sys::EXDEV) => err(RootErrorKind::Other, to, "crosses a mount point"),
            _ => RootError::io(to, e),
        })
    }

    /// Remove a file. A symbolic link is removed itself, never what it points to.
    pub fn remove_file(&self, name: &[u8]) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let (parent, entry) = match w.target {
            Target::Dir(_) => return Err(err(RootErrorKind::IsDirectory, name, "")),
            Target::Entry { meta: None, .. } => return Err(err(RootErrorKind::NotFound, name, "")),
            Target::Entry {
                meta: Some(m),
                parent,
                name: entry,
            } => {
                if m.is_dir() {
                    return Err(err(RootErrorKind::IsDirectory, name, ""));
                }
                if w.trailing_dir {
                    return Err(err(RootErrorKind::NotDirectory, name, ""));
                }
                (parent, entry)
            }
        };
        fs::remove_file(self.child(&parent, &entry)).map_err(|e| RootError::io(name, e))
    }

    /// Remove an empty directory. A symbolic link to a directory is `NotDirectory`.
    pub fn remove_dir(&self, name: &[u8]) -> Result<(), RootError> {
        let w = self.walk(name, false, Follow::NotLast)?;
        let (parent, entry, meta) = w.existing_entry(name, "remove")?;
        if !meta.is_dir() {
            return Err(err(RootErrorKind::NotDirectory, name, ""));
        }
        fs::remove_dir(self.child(&parent, &entry)).map_err(|e| {
            // POSIX lets rmdir report a non-empty directory as EEXIST too.
            if e.kind() == io::ErrorKind::AlreadyExists {
                err(RootErrorKind::NotEmpty, name, "")
            } else {
                RootError::io(name, e)
            }
        })
    }

    /// The one lookup every operation uses.
    ///
    /// Checks `raw` lexically, then resolves it from the root one component at a time:
    /// every directory on the way is opened with `O_DIRECTORY|O_NOFOLLOW` and checked to be
    /// the one just looked at; a symbolic link is read and its target spliced into the
    /// remaining components, unless it is absolute, climbs above the root, or the hops
    /// exceed [`MAX_SYMLINK_HOPS`]. `..` goes up from the directory actually reached (as
    /// the kernel would), and the way back is re-opened from the root, not through `..`.
    fn walk(&self, raw: &[u8], allow_empty: bool, follow: Follow) -> Result<Walked, RootError> {
        let parsed = parse(raw, allow_empty)?;
        let mut pending: VecDeque<Part> = parsed.parts.into();
        let mut trailing_dir = parsed.trailing_dir;
        // Names of the real directories from the root to `cur`.
        let mut resolved: Vec<OsString> = Vec::new();
        // `None` after `..`: re-open from the root when next needed.
        let mut cur: Option<Dir> = Some(self.root_dir());
        let mut hops = 0usize;
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                return Err(err(
                    RootErrorKind::Outside,
                    raw,
                    "lookup takes too many steps",
                ));
            }
            let Some(part) = pending.pop_front() else {
                let dir = match cur {
                    Some(d) => d,
                    None => self.reopen(&resolved, raw, &mut steps)?,
                };
                return Ok(Walked {
                    target: Target::Dir(dir),
                    trailing_dir,
                });
            };
            let comp = match part {
                Part::Parent => {
                    if resolved.pop().is_none() {
                        return Err(err(RootErrorKind::Outside, raw, "climbs above the root"));
                    }
                    cur = None;
                    continue;
                }
                Part::Name(n) => OsString::from_vec(n),
            };
            let dir = match cur.take() {
                Some(d) => d,
                None => self.reopen(&resolved, raw, &mut steps)?,
            };
            let last = pending.is_empty();
            let path = self.child(&dir, &comp);
            let meta = lstat_opt(&path).map_err(|e| RootError::io(raw, e))?;
            let Some(meta) = meta else {
                if last {
                    return Ok(Walked {
                        target: Target::Entry {
                            parent: dir,
                            name: comp,
                            meta: None,
                        },
                        trailing_dir,
                    });
                }
                return Err(err(
                    RootErrorKind::NotFound,
                    raw,
                    "a directory on the way is missing",
                ));
            };
            if meta.file_type().is_symlink() && !(last && follow == Follow::NotLast) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(err(
                        RootErrorKind::Outside,
                        raw,
                        "more than 40 symbolic links: a loop?",
                    ));
                }
                let link = fs::read_link(&path).map_err(|e| RootError::io(raw, e))?;
                let link = link.as_os_str().as_bytes();
                if link.starts_with(b"/") {
                    return Err(err(
                        RootErrorKind::Outside,
                        raw,
                        "symbolic link to an absolute path",
                    ));
                }
                if last {
                    trailing_dir |= link.ends_with(b"/")
                        || link == b"."
                        || link == b".."
                        || link.ends_with(b"/.")
                        || link.ends_with(b"/..");
                }
                // The target is relative to the directory holding the link: splice it
                // in front of what is left, in order.
                for piece in link.split(|&b| b == b'/').rev() {
                    match piece {
                        b"" | b"." => {}
                        b".." => pending.push_front(Part::Parent),
                        p => pending.push_front(Part::Name(p.to_vec())),
                    }
                }
                cur = Some(dir);
                continue;
            }
            if last {
                return Ok(Walked {
                    target: Target::Entry {
                        parent: dir,
                        name: comp,
                        meta: Some(meta),
                    },
                    trailing_dir,
                });
            }
            if !meta.is_dir() {
                return Err(err(
                    RootErrorKind::NotDirectory,
                    raw,
                    "a component on the way is not a directory",
                ));
            }
            let sub = self.open_dir_at(&dir, &comp, &meta, raw)?;
            resolved.push(comp);
            cur = Some(sub);
        }
    }

    /// Re-open the chain of real directories `resolved` from the root (after a `..`).
    fn reopen(
        &self,
        resolved: &[OsString],
        raw: &[u8],
        steps: &mut usize,
    ) -> Result<Dir, RootError> {
        let mut dir = self.root_dir();
        for comp in resolved {
            *steps += 1;
            if *steps > MAX_STEPS {
                return Err(err(
                    RootErrorKind::Outside,
                    raw,
                    "lookup takes too many steps",
                ));
            }
            let path = self.child(&dir, comp);
            let meta = fs::symlink_metadata(&path).map_err(|e| RootError::io(raw, e))?;
            if meta.file_type().is_symlink() {
                return Err(err(
                    RootErrorKind::Outside,
                    raw,
                    "a directory on the way became a symbolic link",
                ));
            }
            if !meta.is_dir() {
                return Err(err(
                    RootErrorKind::NotDirectory,
                    raw,
                    "a component on the way is not a directory",
                ));
            }
            dir = self.open_dir_at(&dir, comp, &meta, raw)?;
        }
        Ok(dir)
    }

    /// Open directory `name` of `parent`, which lstat showed as `seen`, and check it is that one.
    fn open_dir_at(
        &self,
        parent: &Dir,
        name: &OsStr,
        seen: &Metadata,
        raw: &[u8],
    ) -> Result<Dir, RootError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(sys::OPEN_DIR)
            .open(self.child(parent, name))
            .map_err(|e| RootError::io(raw, e))?;
        let opened = file.metadata().map_err(|e| RootError::io(raw, e))?;
        if !opened.is_dir() || !same_file(seen, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                raw,
                "a directory changed between lookup and open",
            ));
        }
        self.check_inside(&file, raw)?;
        Ok(Dir {
            file: Some(file),
            rel: parent.rel.join(name),
        })
    }

    fn root_dir(&self) -> Dir {
        Dir {
            file: None,
            rel: PathBuf::new(),
        }
    }

    fn dir_file<'a>(&'a self, d: &'a Dir) -> &'a File {
        d.file.as_ref().unwrap_or(&self.dir)
    }

    /// The path the kernel should resolve to reach the open directory `d` itself.
    fn dir_path(&self, d: &Dir) -> PathBuf {
        if self.anchored {
            fd_path(self.dir_file(d))
        } else {
            self.path.join(&d.rel)
        }
    }

    /// The path of entry `name` in `d`. `name` is always a single checked component (never
    /// empty, `.`, `..`, or containing `/`), so joining it cannot go anywhere else.
    fn child(&self, d: &Dir, name: &OsStr) -> PathBuf {
        let mut p = self.dir_path(d);
        p.push(name);
        p
    }

    /// On Linux, ask the kernel where an open file really is: it must be under the root.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn check_inside(&self, file: &File, raw: &[u8]) -> Result<(), RootError> {
        if !self.anchored {
            // /proc was not usable when the root was opened; nothing to ask.
            return Ok(());
        }
        let real = fs::read_link(fd_path(file)).map_err(|e| RootError::io(raw, e))?;
        if real.starts_with(&self.path) {
            Ok(())
        } else {
            Err(err(
                RootErrorKind::Outside,
                raw,
                "the opened file lies outside the root",
            ))
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn check_inside(&self, _file: &File, _raw: &[u8]) -> Result<(), RootError> {
        Ok(())
    }
}

/// Whether `/proc/self/fd/N/name` reaches entries of the open root directory `dir`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn anchor_works(dir: &File, path: &Path, meta: &Metadata) -> bool {
    let through_proc = fd_path(dir);
    let points_home = fs::read_link(&through_proc).is_ok_and(|p| p == path);
    let same_dir = fs::metadata(through_proc.join(".")).is_ok_and(|m| same_file(&m, meta));
    points_home && same_dir
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn anchor_works(_dir: &File, _path: &Path, _meta: &Metadata) -> bool {
    false
}

/// `/proc/self/fd/N`: on Linux, a path that resolves to the open file itself, not to a name.
fn fd_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Whether one path component has the form of an upload's partial file, `.<name>.part`.
/// A server can use it to keep clients from reading, listing or writing partial files
/// directly (which would let two uploads, or an upload and a download, meet in one).
pub fn is_partial_name(component: &[u8]) -> bool {
    component.len() > ".part".len() + 1
        && component.starts_with(b".")
        && component.ends_with(b".part")
}

/// `.<name>.part`: deterministic, so a broken upload is found again by name.
fn temp_name(target: &OsStr) -> OsString {
    let mut t = Vec::with_capacity(target.len() + 6);
    t.push(b'.');
    t.extend_from_slice(target.as_bytes());
    t.extend_from_slice(b".part");
    OsString::from_vec(t)
}

/// Writes never go through a link, and never replace a directory or a special file.
fn refuse_write_target(meta: &Metadata, raw: &[u8]) -> Result<(), RootError> {
    let ft = meta.file_type();
    if ft.is_dir() {
        Err(err(RootErrorKind::IsDirectory, raw, ""))
    } else if ft.is_symlink() {
        Err(err(
            RootErrorKind::PermissionDenied,
            raw,
            "is a symbolic link; writes never go through links",
        ))
    } else if !ft.is_file() {
        Err(err(
            RootErrorKind::PermissionDenied,
            raw,
            "not a regular file",
        ))
    } else {
        Ok(())
    }
}

fn partial_error(raw: &[u8], e: io::Error) -> RootError {
    if e.raw_os_error() == Some(sys::ELOOP) {
        err(
            RootErrorKind::PermissionDenied,
            raw,
            "the partial upload is a symbolic link",
        )
    } else {
        RootError::io(raw, e)
    }
}

/// Which file an upload goes to, independent of how its name was spelled: the
/// directory's device and inode, and the file's name in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadKey {
    dev: u64,
    ino: u64,
    name: Vec<u8>,
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

    /// Whether a regular file already has the target's name (the commit would replace it).
    pub fn exists(&self) -> bool {
        self.existing.is_some()
    }

    /// Open `.<name>.part` with `O_CREAT|O_EXCL|O_NOFOLLOW`, or reopen it if a previous
    /// attempt left it; it must be a plain file with one link.
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
        let created = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(sys::OPEN_FILE)
            .open(&temp_path);
        let file = match created {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(sys::OPEN_FILE)
                .open(&temp_path)
                .map_err(|e| partial_error(name, e))?,
            Err(e) => return Err(RootError::io(name, e)),
        };
        let opened = file.metadata().map_err(|e| RootError::io(name, e))?;
        // A partial that is not a plain file, or has a second name somewhere (a hard link
        // planted by someone with access to the tree), is not ours to append to.
        if !opened.is_file() || opened.nlink() != 1 {
            return Err(err(
                RootErrorKind::PermissionDenied,
                name,
                "the partial upload is not a plain file",
            ));
        }
        let on_disk = fs::symlink_metadata(&temp_path).map_err(|e| RootError::io(name, e))?;
        if !same_file(&on_disk, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                name,
                "the partial upload changed while it was opened",
            ));
        }
        root.check_inside(&file, name)?;
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
        let raw = &self.name;
        let meta = self.file.metadata().map_err(|e| RootError::io(raw, e))?;
        if meta.len() != expected_len {
            return Err(err(
                RootErrorKind::BadRequest,
                raw,
                &format!("upload has {} bytes, expected {}", meta.len(), expected_len),
            ));
        }
        self.file.sync_all().map_err(|e| RootError::io(raw, e))?;
        let temp_path = self.root.child(&self.parent, &self.temp);
        let on_disk = fs::symlink_metadata(&temp_path).map_err(|e| RootError::io(raw, e))?;
        if !same_file(&on_disk, &meta) {
            return Err(err(
                RootErrorKind::Outside,
                raw,
                "the partial upload was replaced before commit",
            ));
        }
        let target_path = self.root.child(&self.parent, &self.target);
        if let Some(m) = lstat_opt(&target_path).map_err(|e| RootError::io(raw, e))? {
            refuse_write_target(&m, raw)?;
        }
        fs::rename(&temp_path, &target_path).map_err(|e| RootError::io(raw, e))?;
        // Make the rename itself durable. Some file systems refuse fsync on a directory;
        // the data is already safe, so that refusal is not worth failing the upload over.
        let _ = self.root.dir_file(&self.parent).sync_all();
        Ok(())
    }

    /// Leave the partial file where it is, for the client to resume later.
    pub fn keep(self) {}

    /// Remove the partial file.
    pub fn abort(self) -> Result<(), RootError> {
        let temp_path = self.root.child(&self.parent, &self.temp);
        fs::remove_file(temp_path).map_err(|e| RootError::io(&self.name, e))
    }
}

#[cfg(test)]
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
        for allow_anchor in [false, true] {
            let root = Root::open_with(&r, allow_anchor).expect("open root");
            if !allow_anchor {
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
