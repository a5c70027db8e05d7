//! When two spellings name one file: names folded the way case-insensitive file systems (Windows, macOS) compare them.
//!
//! NTFS compares names through its upcase table, a one-to-one uppercase mapping per
//! UTF-16 unit; APFS and HFS+ through Unicode case folding. `fold` maps each character to
//! the lowercase of its uppercase when both are single characters, which agrees with
//! both for every letter whose case has a one-character form (`Ä`/`ä`, `Σ`/`σ`/`ς`, the
//! Kelvin sign and `k`, `ſ` and `s`), and leaves a character whose uppercase is longer
//! (`ß`, `ŉ`) as it is, as NTFS does. std has no Unicode normalization, so names that
//! differ only in it (`é` as one code point or as `e` and a combining accent), which
//! macOS also treats as one, fold apart: docs/ROOT.md says what that costs.

use std::ffi::OsStr;

use super::sys;

/// `name` as this system compares it: folded where names ignore case, as it is elsewhere.
pub(super) fn key(name: &[u8]) -> Vec<u8> {
    if sys::NAMES_IGNORE_CASE {
        fold(name)
    } else {
        name.to_vec()
    }
}

/// Whether two names of this system are one name to its file system.
pub(super) fn same(a: &OsStr, b: &OsStr) -> bool {
    match (
        crate::file_service::os_name::to_bytes(a),
        crate::file_service::os_name::to_bytes(b),
    ) {
        (Some(a), Some(b)) => key(a) == key(b),
        _ => a == b,
    }
}

/// Case-fold UTF-8 `name`; bytes that are not UTF-8 (possible only on unix) fold as ASCII.
pub(super) fn fold(name: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(name) else {
        return name.to_ascii_lowercase();
    };
    text.chars().map(fold_char).collect::<String>().into_bytes()
}

fn fold_char(c: char) -> char {
    single(c.to_uppercase())
        .and_then(|up| single(up.to_lowercase()))
        .unwrap_or(c)
}

fn single(mut mapped: impl Iterator<Item = char>) -> Option<char> {
    match (mapped.next(), mapped.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn case_variants_fold_together() {
        for (a, b) in [
            ("Notes.TXT", "notes.txt"),
            (".NAME.PART", ".name.part"),
            ("ÄRGER", "ärger"),
            ("ΣΊΣΥΦΟΣ", "σίσυφος"),
            ("σ", "ς"),
            ("\u{212a}elvin", "kelvin"),
            ("ſ", "S"),
            ("文件", "文件"),
        ] {
            assert_eq!(fold(a.as_bytes()), fold(b.as_bytes()), "{a} / {b}");
        }
    }

    #[test]
    fn different_names_stay_apart() {
        for (a, b) in [
            ("a", "b"),
            ("straße", "strasse"),
            ("e\u{301}", "é"),
            ("file1", "file2"),
        ] {
            assert_ne!(fold(a.as_bytes()), fold(b.as_bytes()), "{a} / {b}");
        }
        assert_eq!(fold(b"caf\xe9"), b"caf\xe9");
    }
}
