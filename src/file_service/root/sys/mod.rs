//! The platform's part of confinement: opening without following links, holding directories in place, identity.
//!
//! Each platform file offers the same items, and the lookup (`root/lookup.rs`) uses only these:
//! - `open_dir`, `open_read`, `open_partial`: open a directory, a file to serve, an upload's
//!   partial file, never following a link in the last place and never blocking on a special file.
//! - `kind`: what an entry is (a link is a link, never what it points to). Its permission
//!   bits and owner are `file_meta`'s, the same for a listing as for STAT.
//! - `same_file`, `inode`, `extra_links`: is this the file the lookup saw, which directory is it
//!   (for upload keys), does it have a second name.
//! - `own_name`: whether a name that exists is the entry's own name, not an alias of it.
//! - `remove_file`, `sync_dir`: the few operations that differ.
//! - `Anchor`: how entries of a held directory are named, and whether a directory on the way can
//!   be swapped for a link mid-lookup; `Ancestors`: what a lookup keeps open above where it is.
//! - `NAMES_IGNORE_CASE`, `WINDOWS_NAMES`, `LINK_SEPARATORS`: how this system compares and splits names.
//!
//! The error numbers `io::ErrorKind` cannot name at our MSRV (`ENOTDIR`, `ENOTEMPTY`, ...) are in
//! `crate::core::errno`, with the network ones.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(super) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(super) use windows::*;
