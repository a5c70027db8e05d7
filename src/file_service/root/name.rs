//! Lexical checks on a client's name, before any file is looked at.

use std::ffi::OsString;

use super::error::{RootError, RootErrorKind};
use super::sys;
use crate::core::escape::is_control;

/// Longest name a client may send, in bytes (Linux's PATH_MAX).
pub const MAX_NAME_BYTES: usize = 4096;
/// Longest single component, in bytes (NAME_MAX on every common file system).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Most components a name may have, counting `.` and `..`.
pub const MAX_COMPONENTS: usize = 256;

/// One step of a checked name: `.` has already been dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Name(OsString),
    Parent,
}

/// A name that passed the lexical rules.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub parts: Vec<Part>,
    /// The name ends in `/`, `/.` or `/..`: what it names must be a directory.
    pub trailing_dir: bool,
}

/// Check a client's name; `allow_empty` lets "" mean the root itself (listings, stat).
pub(crate) fn parse(raw: &[u8], allow_empty: bool) -> Result<Parsed, RootError> {
    let bad = |detail: &str| Err(RootError::new(RootErrorKind::BadRequest, raw, detail));
    if raw.len() > MAX_NAME_BYTES {
        return bad("longer than 4096 bytes");
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return bad("not valid UTF-8");
    };
    if text.is_empty() {
        if allow_empty {
            return Ok(Parsed {
                parts: Vec::new(),
                trailing_dir: true,
            });
        }
        return bad("empty name");
    }
    if text.chars().any(is_control) {
        return bad("control character");
    }
    // A backslash is a separator on Windows and an escape everywhere else: no honest
    // client needs one, and refusing it keeps `..\x` from meaning two things.
    if text.contains('\\') {
        return bad("backslash");
    }
    let b = text.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return bad("drive letter");
    }
    if text.starts_with('/') {
        return Err(RootError::new(RootErrorKind::Outside, raw, "absolute path"));
    }

    let comps: Vec<&str> = text.split('/').filter(|c| !c.is_empty()).collect();
    if comps.len() > MAX_COMPONENTS {
        return bad("more than 256 components");
    }
    let mut parts = Vec::with_capacity(comps.len());
    let mut depth: usize = 0;
    for comp in &comps {
        if comp.len() > MAX_COMPONENT_BYTES {
            return bad("a component is longer than 255 bytes");
        }
        match *comp {
            "." => {}
            ".." => {
                // Lexically climbing above the root is refused even if a symbolic link
                // on the way would have brought the physical path back inside.
                let Some(up) = depth.checked_sub(1) else {
                    return Err(RootError::new(
                        RootErrorKind::Outside,
                        raw,
                        "climbs above the root with '..'",
                    ));
                };
                depth = up;
                parts.push(Part::Parent);
            }
            name => {
                if let Some(why) = component_problem(name) {
                    return bad(why);
                }
                if super::upload::is_record_name(name.as_bytes()) {
                    return bad(
                        "names of the form .NAME.part.srv are the server's records of uploads",
                    );
                }
                depth += 1;
                parts.push(Part::Name(OsString::from(name)));
            }
        }
    }
    let trailing_dir = text.ends_with('/') || comps.last().is_some_and(|c| *c == "." || *c == "..");
    Ok(Parsed {
        parts,
        trailing_dir,
    })
}

/// Why one component (not `.` or `..`) cannot name a file here, if it cannot. Also
/// applied to the components of a symbolic link's target, which the lookup follows.
pub(crate) fn component_problem(comp: &str) -> Option<&'static str> {
    if is_windows_device(comp) {
        return Some("reserved device name");
    }
    if sys::WINDOWS_NAMES {
        windows_problem(comp)
    } else {
        None
    }
}

/// Why this system would not take `comp` as one plain file name of its own, if it would not.
///
/// For a client's local side: a name from a server (or typed for `-o DIR/`) must be the file
/// it seems to be. On Windows that rules out devices (`CON`, `nul.txt`), streams, dropped
/// trailing dots and the characters Windows forbids ([`component_problem`]'s rules); on unix
/// every such name is an ordinary file.
pub fn problem_here(comp: &str) -> Option<&'static str> {
    if sys::WINDOWS_NAMES {
        component_problem(comp)
    } else {
        None
    }
}

/// What Windows would read as something other than a plain name, or alter:
/// - `:` opens an alternate data stream (`name:stream`, `name::$DATA` is `name` itself),
///   or makes a drive-relative path;
/// - a trailing dot or space is dropped by the Win32 layer, so `secret.` is `secret` to
///   every other program, and `...` is the directory itself;
/// - `< > " | ? *` are not allowed in names, and the first three are wildcards to
///   `FindFirstFileW`.
///
/// Checked on every system (so it is tested everywhere), applied only on Windows: on
/// unix these are ordinary names.
fn windows_problem(comp: &str) -> Option<&'static str> {
    if comp.contains(':') {
        Some("a colon: an alternate data stream on Windows")
    } else if comp.ends_with(['.', ' ']) {
        Some("ends in a dot or a space, which Windows drops")
    } else if comp.contains(['<', '>', '"', '|', '?', '*']) {
        Some("a character Windows does not allow in names")
    } else {
        None
    }
}

/// Names Windows maps to devices whatever the directory or extension ("nul.txt" is NUL).
///
/// The list is Microsoft's "Naming Files, Paths, and Namespaces" page (CON, PRN, AUX, NUL,
/// COM0-9, LPT0-9 and the superscript-digit forms) plus CONIN$/CONOUT$, as Go's
/// `filepath.IsLocal` refuses them. We refuse them on every system so that a tree served
/// here can be copied to Windows, and a server ported there stays safe.
fn is_windows_device(comp: &str) -> bool {
    let stem = comp.split('.').next().unwrap_or(comp);
    let stem = stem.trim_end_matches(' ').to_ascii_uppercase();
    match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        s => s
            .strip_prefix("COM")
            .or_else(|| s.strip_prefix("LPT"))
            .is_some_and(|digit| {
                matches!(
                    digit,
                    "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_match_with_extensions_and_case() {
        for n in [
            "NUL",
            "nul",
            "Nul.txt",
            "COM1",
            "com9.log",
            "LPT1",
            "lpt0",
            "CON",
            "aux.tar.gz",
            "PRN",
            "CONIN$",
            "COM¹",
            "NUL ",
        ] {
            assert!(is_windows_device(n), "{n} should be a device name");
        }
        for n in [
            "NULL",
            "COM",
            "COM10",
            "LPT",
            "console",
            "nu",
            "auxiliary",
            "xCON",
            "COMx",
            "ÇOM1",
            "ab€",
        ] {
            assert!(!is_windows_device(n), "{n} should not be a device name");
        }
    }

    #[test]
    fn windows_rules_catch_streams_trailing_dots_and_wildcards() {
        for n in [
            "a.txt:stream",
            "a.txt::$DATA",
            "a:",
            "secret.",
            "secret ",
            "...",
            "a. ",
            "a?b",
            "a*",
            "a<b",
            "a>b",
            "a\"b",
            "a|b",
        ] {
            assert!(
                windows_problem(n).is_some(),
                "{n} should be refused on Windows"
            );
        }
        for n in [
            ".hidden",
            "..hidden",
            "a.b.c",
            " lead",
            "~",
            "LONGNA~1.TXT",
            "文件",
        ] {
            assert_eq!(windows_problem(n), None, "{n} is a plain Windows name");
        }
    }

    #[test]
    fn trailing_dir_is_seen_for_slash_dot_and_dotdot() {
        for (n, want) in [
            ("a/", true),
            ("a/.", true),
            ("a/b/..", true),
            ("a", false),
            ("a/b", false),
        ] {
            let p = parse(n.as_bytes(), false).expect("valid name");
            assert_eq!(p.trailing_dir, want, "{n}");
        }
    }
}
