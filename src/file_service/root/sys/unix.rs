//! unix: `O_NOFOLLOW` opens, dev+ino identity, and `/proc/self/fd` anchoring on Linux.
//!
//! std gives us `OpenOptionsExt::custom_flags` but no constants, and the crate takes no
//! dependency on `libc`. The values below were copied from the kernel/libc headers as
//! mirrored in the `libc` crate 0.2.191 (`src/unix/...`), file by file:
//! - Linux/Android: `linux_like/linux/gnu/b64/x86_64/mod.rs` and its siblings for each arch,
//!   `linux_like/android/mod.rs`, `linux_like/linux_l4re_shared.rs` (asm-generic `fcntl.h`
//!   and `errno.h`, with the arm/aarch64/powerpc/m68k, mips and sparc overrides).
//! - Apple: `bsd/apple/mod.rs`; FreeBSD/DragonFly: `bsd/freebsdlike/**`;
//!   NetBSD/OpenBSD: `bsd/netbsdlike/**`; shared BSD values: `bsd/mod.rs`.
//! - illumos/Solaris: `solarish/mod.rs`.
//!
//! The error numbers live with the others in `crate::core::errno`.
//!
//! On any other unix every flag is 0: the module
//! still works there, but only the after-open dev+ino checks stand between a swapped
//! symbolic link and the caller (see docs/ROOT.md).

use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::file_service::root::EntryKind;

// The four values that differ between Linux architectures are O_DIRECTORY/O_NOFOLLOW
// (arm, aarch64, powerpc, powerpc64, m68k use 0o40000/0o100000, everyone else
// 0o200000/0o400000), and O_NONBLOCK/O_NOCTTY on mips and sparc.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod consts {
    #[cfg(any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "m68k"
    ))]
    mod dir_flags {
        pub const O_DIRECTORY: i32 = 0x4000;
        pub const O_NOFOLLOW: i32 = 0x8000;
    }
    #[cfg(not(any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "m68k"
    )))]
    mod dir_flags {
        pub const O_DIRECTORY: i32 = 0x10000;
        pub const O_NOFOLLOW: i32 = 0x20000;
    }
    pub use dir_flags::{O_DIRECTORY, O_NOFOLLOW};

    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6"
    ))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x80;
        pub const O_NOCTTY: i32 = 0x800;
    }
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x4000;
        pub const O_NOCTTY: i32 = 0x8000;
    }
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x800;
        pub const O_NOCTTY: i32 = 0x100;
    }
    pub use rest::{O_NOCTTY, O_NONBLOCK};
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos"
))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x4;
    pub const O_NOFOLLOW: i32 = 0x100;
    pub const O_DIRECTORY: i32 = 0x10_0000;
    pub const O_NOCTTY: i32 = 0x2_0000;
}

#[cfg(any(
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd"
))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x4;
    pub const O_NOFOLLOW: i32 = 0x100;
    pub const O_NOCTTY: i32 = 0x8000;
    #[cfg(any(target_os = "freebsd", target_os = "openbsd"))]
    pub const O_DIRECTORY: i32 = 0x2_0000;
    #[cfg(target_os = "netbsd")]
    pub const O_DIRECTORY: i32 = 0x20_0000;
    #[cfg(target_os = "dragonfly")]
    pub const O_DIRECTORY: i32 = 0x800_0000;
}

#[cfg(any(target_os = "illumos", target_os = "solaris"))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x80;
    pub const O_NOFOLLOW: i32 = 0x2_0000;
    pub const O_DIRECTORY: i32 = 0x100_0000;
    pub const O_NOCTTY: i32 = 0x800;
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "illumos",
    target_os = "solaris"
)))]
mod consts {
    // Unknown numbering: ask for nothing rather than for the wrong thing.
    pub const O_NONBLOCK: i32 = 0;
    pub const O_NOFOLLOW: i32 = 0;
    pub const O_DIRECTORY: i32 = 0;
    pub const O_NOCTTY: i32 = 0;
}

use consts::{O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK};

/// Flags for every open we do: never follow the final component, never block on a FIFO
/// or device, never let a terminal become our controlling tty.
const OPEN_FILE: i32 = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
/// The same, plus "must be a directory", for the directory handles of a lookup.
const OPEN_DIR: i32 = OPEN_FILE | O_DIRECTORY;

/// APFS and HFS+, macOS's file systems, are case-insensitive unless formatted otherwise;
/// elsewhere a unix name is its bytes.
pub(crate) const NAMES_IGNORE_CASE: bool = cfg!(target_vendor = "apple");
/// Windows' extra name rules (streams, trailing dots) do not apply here.
pub(crate) const WINDOWS_NAMES: bool = false;
/// What separates the components of a symbolic link's target.
pub(crate) const LINK_SEPARATORS: &[u8] = b"/";

/// A directory of a lookup, with `O_DIRECTORY|O_NOFOLLOW`.
pub(crate) fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_DIR)
        .open(path)
}

/// A file to serve: never through a link, never blocking on a FIFO or device.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FILE)
        .open(path)
}

/// A file or directory whose mode is to change: read-only is enough for its owner
/// (`fchmod`), never through a link, never blocking on a FIFO.
pub(crate) fn open_attributes(path: &Path, dir: bool) -> io::Result<File> {
    if dir {
        open_dir(path)
    } else {
        open_read(path)
    }
}

/// An upload's partial file, created (`O_CREAT|O_EXCL`) or reopened, never through a link.
pub(crate) fn open_partial(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .custom_flags(OPEN_FILE)
        .open(path)
}

/// What an entry is, from its lstat (or an open handle's fstat).
pub(crate) fn kind(meta: &Metadata) -> EntryKind {
    let ft = meta.file_type();
    if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Device and inode: the same file, whatever its name.
pub(crate) fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Which file this is, by device and inode.
pub(crate) fn inode(meta: &Metadata) -> Option<(u64, u64)> {
    Some((meta.dev(), meta.ino()))
}

/// Whether the file has a name besides the one we opened it by (a hard link).
pub(crate) fn extra_links(meta: &Metadata) -> bool {
    meta.nlink() != 1
}

/// unix file systems have no short aliases: a name that exists is the entry's own.
pub(crate) fn own_name(_path: &Path, _name: &OsStr, _kind: EntryKind) -> io::Result<bool> {
    Ok(true)
}

/// Remove a file, or a link itself (`unlink` never follows one).
pub(crate) fn remove_file(path: &Path, _meta: &Metadata) -> io::Result<()> {
    fs::remove_file(path)
}

/// Make a rename in `dir` durable. Some file systems refuse fsync on a directory; the
/// data is already safe then, so that refusal is not worth failing an upload over.
pub(crate) fn sync_dir(dir: &File) {
    let _ = dir.sync_all();
}

/// How a lookup names entries of a directory it holds open.
///
/// On Linux, `/proc/self/fd/N/name` reaches entry `name` of open directory N, whatever
/// the directory's path is now: `openat(2)` through std alone. Elsewhere (and on Linux
/// without a usable `/proc`) entries are named by full path from the root.
#[derive(Debug)]
pub(crate) struct Anchor {
    proc: bool,
}

impl Anchor {
    /// For the root directory `dir`, opened from canonical `path`, which had metadata `meta`.
    pub(crate) fn new(dir: &File, path: &Path, meta: &Metadata, allow_proc: bool) -> Anchor {
        Anchor {
            proc: allow_proc && proc::works(dir, path, meta),
        }
    }

    /// Whether a directory on the way can be swapped for a link mid-lookup without effect.
    pub(crate) fn swap_proof(&self) -> bool {
        self.proc
    }

    /// The path the kernel resolves to reach the open directory `dir`, whose path from
    /// the root `root` is `rel`.
    pub(crate) fn dir_path(&self, root: &Path, dir: &File, rel: &Path) -> PathBuf {
        if self.proc {
            fd_path(dir)
        } else {
            root.join(rel)
        }
    }

    /// Whether the open `file` lies under `root`, when the system can tell (`/proc`).
    pub(crate) fn inside(&self, root: &Path, file: &File) -> io::Result<bool> {
        if !self.proc {
            return Ok(true);
        }
        Ok(fs::read_link(fd_path(file))?.starts_with(root))
    }
}

/// The directories above the one a lookup stands in. On unix the one it stands in is
/// enough: with `/proc` it anchors every name, and without it nothing holds a path in place.
#[derive(Debug)]
pub(crate) struct Ancestors;

impl Ancestors {
    pub(crate) fn new() -> Ancestors {
        Ancestors
    }

    /// A lookup stepped down from `dir`; unix lets it go.
    pub(crate) fn keep(&mut self, dir: File) {
        drop(dir);
    }

    /// Whether every directory held on the way is still a real directory: on unix, links
    /// cannot be made out of existing directories, so nothing to check.
    pub(crate) fn still_real(&self, _root: &File, _dir: Option<&File>) -> io::Result<bool> {
        Ok(true)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod proc {
    use super::{fd_path, same_file};
    use std::fs::{self, File, Metadata};
    use std::path::Path;

    /// Whether `/proc/self/fd/N/name` reaches entries of the open root directory `dir`.
    pub(super) fn works(dir: &File, path: &Path, meta: &Metadata) -> bool {
        let through_proc = fd_path(dir);
        let points_home = fs::read_link(&through_proc).is_ok_and(|p| p == path);
        let same_dir = fs::metadata(through_proc.join(".")).is_ok_and(|m| same_file(&m, meta));
        points_home && same_dir
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod proc {
    use std::fs::{File, Metadata};
    use std::path::Path;

    /// No `/proc/self/fd` that resolves to the open file itself here.
    pub(super) fn works(_dir: &File, _path: &Path, _meta: &Metadata) -> bool {
        false
    }
}

/// `/proc/self/fd/N`: on Linux, a path that resolves to the open file itself, not to a name.
fn fd_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
