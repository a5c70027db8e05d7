//! The one lookup every `Root` operation uses: a checked name, resolved one component at a time from the root.
//!
//! Each directory on the way is opened without following a link and checked to be the
//! one just looked at; a symbolic link is read and its target spliced into the components
//! still to come, unless it is absolute, climbs above the root, or the hops pass
//! [`MAX_SYMLINK_HOPS`]. `..` goes up from the directory actually reached (as the kernel
//! would), and the way back is re-opened from the root, never through an open `..`.
//! How entries of a held directory are named, and what keeps them in place, is the
//! platform's part (`sys::Anchor`, `sys::Ancestors`).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use super::error::{RootError, RootErrorKind};
use super::name::{component_problem, parse, Part};
use super::{case, sys, EntryKind, Root};

/// Most symbolic links one lookup follows before calling it a loop (Linux's MAXSYMLINKS).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Most components one lookup visits, links and re-walks after `..` included; bounds the
/// work a crafted tree of links can make us do.
const MAX_STEPS: usize = 4096;

/// A directory held open during a lookup; `file: None` is the root's own handle.
#[derive(Debug)]
pub(super) struct Dir {
    file: Option<File>,
    /// Path from the root through real directories (links already resolved).
    pub(super) rel: PathBuf,
    /// What the platform keeps open above this directory.
    ancestors: sys::Ancestors,
}

/// Where a name led.
#[derive(Debug)]
pub(super) enum Target {
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
pub(super) struct Walked {
    pub(super) target: Target,
    /// What the name ends in requires a directory (`/`, `/.`, `/..`, or a link to `dir/`).
    pub(super) trailing_dir: bool,
}

impl Walked {
    /// The named entry, which must exist: a move or removal of the root itself, or of a
    /// directory named through `.`/`..` (`verb` says which), is a bad request.
    pub(super) fn existing_entry(
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
pub(super) enum Follow {
    /// Reads: follow a symbolic link in the last position too (if it stays inside).
    Always,
    /// Writes: the last component is the entry itself, link or not.
    NotLast,
}

pub(super) fn err(kind: RootErrorKind, raw: &[u8], detail: &str) -> RootError {
    RootError::new(kind, raw, detail)
}

/// What an entry is, never following a link.
pub(super) fn kind(meta: &Metadata) -> EntryKind {
    sys::kind(meta)
}

pub(super) fn lstat_opt(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Root {
    /// The one lookup every operation uses (see the module's comment).
    pub(super) fn walk(
        &self,
        raw: &[u8],
        allow_empty: bool,
        follow: Follow,
    ) -> Result<Walked, RootError> {
        let parsed = parse(raw, allow_empty)?;
        let mut pending: VecDeque<Part> = parsed.parts.into();
        let mut trailing_dir = parsed.trailing_dir;
        // Names of the real directories from the root to `cur`.
        let mut resolved: Vec<OsString> = Vec::new();
        // `None` after `..`: re-open from the root when next needed.
        let root = self.root_dir();
        self.confirm(&root, None, raw)?;
        let mut cur: Option<Dir> = Some(root);
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
                Part::Name(n) => n,
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
            let entry_kind = kind(&meta);
            if !sys::own_name(&path, &comp, entry_kind).map_err(|e| RootError::io(raw, e))? {
                return Err(err(
                    RootErrorKind::BadRequest,
                    raw,
                    "a short (8.3) alias of another name; use the name itself",
                ));
            }
            if entry_kind == EntryKind::Symlink && !(last && follow == Follow::NotLast) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(err(
                        RootErrorKind::Outside,
                        raw,
                        "more than 40 symbolic links: a loop?",
                    ));
                }
                let link = fs::read_link(&path).map_err(|e| RootError::io(raw, e))?;
                splice(link.as_os_str(), raw, last, &mut trailing_dir, &mut pending)?;
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
            if entry_kind != EntryKind::Dir {
                return Err(err(
                    RootErrorKind::NotDirectory,
                    raw,
                    "a component on the way is not a directory",
                ));
            }
            let sub = self.descend(dir, &comp, &meta, raw)?;
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
            match kind(&meta) {
                EntryKind::Dir => {}
                EntryKind::Symlink => {
                    return Err(err(
                        RootErrorKind::Outside,
                        raw,
                        "a directory on the way became a symbolic link",
                    ))
                }
                EntryKind::File | EntryKind::Other => {
                    return Err(err(
                        RootErrorKind::NotDirectory,
                        raw,
                        "a component on the way is not a directory",
                    ))
                }
            }
            dir = self.descend(dir, comp, &meta, raw)?;
        }
        Ok(dir)
    }

    /// Open directory `name` of `parent`, which lstat showed as `seen`, check it is that
    /// one, and stand in it (the platform decides whether `parent` stays held).
    pub(super) fn descend(
        &self,
        parent: Dir,
        name: &OsStr,
        seen: &Metadata,
        raw: &[u8],
    ) -> Result<Dir, RootError> {
        let file = sys::open_dir(&self.child(&parent, name)).map_err(|e| RootError::io(raw, e))?;
        let opened = file.metadata().map_err(|e| RootError::io(raw, e))?;
        if kind(&opened) != EntryKind::Dir || !sys::same_file(seen, &opened) {
            return Err(err(
                RootErrorKind::Outside,
                raw,
                "a directory changed between lookup and open",
            ));
        }
        self.check_inside(&file, raw)?;
        let Dir {
            file: parent_file,
            rel,
            mut ancestors,
        } = parent;
        if let Some(f) = parent_file {
            ancestors.keep(f);
        }
        Ok(Dir {
            file: Some(file),
            rel: rel.join(name),
            ancestors,
        })
    }

    pub(super) fn root_dir(&self) -> Dir {
        Dir {
            file: None,
            rel: PathBuf::new(),
            ancestors: sys::Ancestors::new(),
        }
    }

    pub(super) fn dir_file<'a>(&'a self, d: &'a Dir) -> &'a File {
        d.file.as_ref().unwrap_or(&self.dir)
    }

    /// The path the kernel should resolve to reach the open directory `d` itself.
    pub(super) fn dir_path(&self, d: &Dir) -> PathBuf {
        self.anchor.dir_path(&self.path, self.dir_file(d), &d.rel)
    }

    /// The path of entry `name` in `d`. `name` is always a single checked component (never
    /// empty, `.`, `..`, or containing a separator), so joining it cannot go anywhere else.
    pub(super) fn child(&self, d: &Dir, name: &OsStr) -> PathBuf {
        let mut p = self.dir_path(d);
        p.push(name);
        p
    }

    /// Where the system can say where an open file really is (Linux's `/proc`), it must be
    /// under the root.
    fn check_inside(&self, file: &File, raw: &[u8]) -> Result<(), RootError> {
        if self
            .anchor
            .inside(&self.path, file)
            .map_err(|e| RootError::io(raw, e))?
        {
            Ok(())
        } else {
            Err(err(
                RootErrorKind::Outside,
                raw,
                "the opened file lies outside the root",
            ))
        }
    }

    /// After an operation in `dir`: the file it opened (if any) lies inside, and every
    /// directory the lookup held is still a plain directory (on Windows, an empty one can
    /// be made a junction while held; elsewhere nothing to re-check).
    pub(super) fn confirm(
        &self,
        dir: &Dir,
        opened: Option<&File>,
        raw: &[u8],
    ) -> Result<(), RootError> {
        if let Some(file) = opened {
            self.check_inside(file, raw)?;
        }
        let real = dir
            .ancestors
            .still_real(&self.dir, dir.file.as_ref())
            .map_err(|e| RootError::io(raw, e))?;
        if real {
            Ok(())
        } else {
            Err(err(
                RootErrorKind::Outside,
                raw,
                "a directory on the way became a link during the request",
            ))
        }
    }
}

impl Dir {
    /// Whether this directory is `name` in `parent`, or below it: a rename of that entry
    /// to here would move a directory into itself.
    pub(super) fn is_within(&self, parent: &Dir, name: &OsStr) -> bool {
        let entry = parent.rel.join(name);
        let mut mine = self.rel.components();
        entry.components().all(|c| {
            mine.next()
                .is_some_and(|m| case::same(m.as_os_str(), c.as_os_str()))
        })
    }
}

/// Put a symbolic link's target in front of the components still to come, in order: it
/// is relative to the directory that holds the link. Refused (`Outside`, as a link we
/// will not follow): an absolute target, one that is not valid Unicode where names must
/// be, or one with a component a client could not have named.
fn splice(
    link: &OsStr,
    raw: &[u8],
    last: bool,
    trailing_dir: &mut bool,
    pending: &mut VecDeque<Part>,
) -> Result<(), RootError> {
    let refuse = |detail: &str| Err(err(RootErrorKind::Outside, raw, detail));
    let Some(link) = crate::file_service::os_name::to_bytes(link) else {
        return refuse("a symbolic link whose target is not valid Unicode");
    };
    let is_sep = |b: &u8| sys::LINK_SEPARATORS.contains(b);
    // A colon in a Windows target is a drive (`C:\`, `C:x`) or a stream: absolute either way.
    if link.first().is_some_and(is_sep) || (sys::WINDOWS_NAMES && link.contains(&b':')) {
        return refuse("symbolic link to an absolute path");
    }
    if last {
        let end = link.split(is_sep).next_back().unwrap_or_default();
        *trailing_dir |= matches!(end, b"" | b"." | b"..");
    }
    for piece in link.split(is_sep).rev() {
        match piece {
            b"" | b"." => {}
            b".." => pending.push_front(Part::Parent),
            p => {
                if component_problem(&String::from_utf8_lossy(p)).is_some() {
                    return refuse("a symbolic link's target has a name that is not allowed here");
                }
                let Some(name) = crate::file_service::os_name::from_bytes(p) else {
                    return refuse("a symbolic link whose target is not valid Unicode");
                };
                pending.push_front(Part::Name(name.to_os_string()));
            }
        }
    }
    Ok(())
}
