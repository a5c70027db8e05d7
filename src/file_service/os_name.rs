//! A file name of this system as the bytes the protocol carries, and back.
//!
//! (And [`shown_path`]: a canonical path as people write it.)
//!
//! The protocol carries names as bytes, and our names are UTF-8. On unix a
//! name already is bytes, so every name can travel, UTF-8 or not. On Windows
//! a name is UTF-16; one that is valid Unicode travels as its UTF-8, and one
//! that is not (an unpaired surrogate) has no bytes to travel as: `None`, and
//! the caller refuses that name by name.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The bytes that stand for `name` on the wire, or `None` when this system's name cannot be carried.
pub fn to_bytes(name: &OsStr) -> Option<&[u8]> {
    imp::to_bytes(name)
}

/// The name these wire bytes stand for here, or `None` when this system cannot hold it.
pub fn from_bytes(bytes: &[u8]) -> Option<&OsStr> {
    imp::from_bytes(bytes)
}

/// [`from_bytes`], as a path.
pub fn path_from_bytes(bytes: &[u8]) -> Option<&Path> {
    from_bytes(bytes).map(Path::new)
}

/// A path from `fs::canonicalize` as people write it: Windows answers
/// `\\?\C:\dir`, which means `C:\dir`. Elsewhere (and for a `\\?\UNC\...`
/// path, which has no shorter form that means the same) it is unchanged.
pub fn shown_path(real: &Path) -> PathBuf {
    let text = real.to_string_lossy();
    match text.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => real.to_path_buf(),
    }
}

/// Why [`to_bytes`] or [`from_bytes`] gave `None`, for an error message.
pub const NOT_CARRIED: &str = if cfg!(windows) {
    "not valid Unicode, so it cannot be sent or stored as UTF-8"
} else {
    "cannot be represented on this system"
};

#[cfg(unix)]
mod imp {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    pub fn to_bytes(name: &OsStr) -> Option<&[u8]> {
        Some(name.as_bytes())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<&OsStr> {
        Some(OsStr::from_bytes(bytes))
    }
}

#[cfg(not(unix))]
mod imp {
    use std::ffi::OsStr;

    pub fn to_bytes(name: &OsStr) -> Option<&[u8]> {
        name.to_str().map(str::as_bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<&OsStr> {
        std::str::from_utf8(bytes).ok().map(OsStr::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_names_round_trip() {
        for name in ["notes.txt", "文件.txt", "a b", ""] {
            let bytes = to_bytes(OsStr::new(name)).expect("a Unicode name travels");
            assert_eq!(bytes, name.as_bytes());
            assert_eq!(from_bytes(bytes), Some(OsStr::new(name)));
        }
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        let bytes = b"caf\xe9";
        if cfg!(unix) {
            assert_eq!(from_bytes(bytes).and_then(to_bytes), Some(&bytes[..]));
        } else {
            assert_eq!(from_bytes(bytes), None);
        }
    }

    #[test]
    fn a_verbatim_drive_path_is_shown_as_people_write_it() {
        assert_eq!(
            shown_path(Path::new(r"\\?\C:\new_temp")),
            PathBuf::from(r"C:\new_temp")
        );
        for unchanged in [r"\\?\UNC\host\share", "/srv/files", r"C:\x"] {
            assert_eq!(shown_path(Path::new(unchanged)), PathBuf::from(unchanged));
        }
    }
}
