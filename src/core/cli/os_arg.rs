//! The one thing about arguments std leaves to each platform: the rest of an argument after a byte offset, kept as the system's own string (not UTF-8 on Unix, UTF-16 on Windows).

use std::ffi::{OsStr, OsString};

/// `arg` from byte `at` of its encoded bytes on, where everything before `at` is UTF-8
/// (the `--name=` or `-o` in front of a value).
#[cfg(unix)]
pub(super) fn after(arg: &OsStr, at: usize) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(&arg.as_bytes()[at..]).to_owned()
}

/// `arg` from byte `at` of its encoded bytes on, where everything before `at` is UTF-8:
/// that prefix is counted again in UTF-16 units, which is what Windows' strings are made of.
#[cfg(windows)]
pub(super) fn after(arg: &OsStr, at: usize) -> OsString {
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    let prefix = std::str::from_utf8(&arg.as_encoded_bytes()[..at]).unwrap_or_default();
    let skip = prefix.encode_utf16().count();
    let wide: Vec<u16> = arg.encode_wide().skip(skip).collect();
    OsString::from_wide(&wide)
}

/// Elsewhere arguments are UTF-8 text (or lossily made so).
#[cfg(not(any(unix, windows)))]
pub(super) fn after(arg: &OsStr, at: usize) -> OsString {
    let text = arg.to_string_lossy();
    OsString::from(text.get(at..).unwrap_or_default())
}

/// A file name that is not valid UTF-8 on this platform, for tests.
#[cfg(all(test, unix))]
pub(super) fn not_utf8_example() -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(b"caf\xe9.txt".to_vec())
}

/// A file name that is not valid UTF-8 on this platform (an unpaired surrogate), for tests.
#[cfg(all(test, windows))]
pub(super) fn not_utf8_example() -> OsString {
    use std::os::windows::ffi::OsStringExt;
    OsString::from_wide(&[0x63, 0xD800, 0x2E, 0x74])
}
