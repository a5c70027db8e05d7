//! Symbolic links and junctions for the hostile-name tests, made the way each platform makes them, with a loud skip where it cannot.
//!
//! Included by the test files that need it (`#[path = "common/links.rs"] mod links;`),
//! next to `mod common;`, whose `skip_under_wine` it uses.

#![allow(dead_code)] // each test file uses a different part of this module

use crate::common;
use std::fs;
use std::io;
use std::path::Path;

/// A symbolic link at `link` to `target`, written with `/`. On Windows the
/// separators become `\`, and a link to a directory (an existing one, `/`, or a
/// target ending in `/` or `.`) is a directory link, as `mklink /D` makes it.
#[cfg(unix)]
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    let to_dir =
        target.ends_with(['/', '.']) || link.parent().is_some_and(|dir| dir.join(target).is_dir());
    let target = target.replace('/', "\\");
    if to_dir {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}

/// Whether this system lets the test make symbolic links in `dir`; when it
/// does not, says why on stderr, and the test leaves out what needs them.
/// (Wine 8's `CreateSymbolicLinkW` reports success and makes nothing; Windows
/// makes links only in Developer Mode or for an administrator.)
pub fn links_work(dir: &Path) -> bool {
    let probe = dir.join("link-probe");
    let made = symlink("target", &probe).is_ok()
        && fs::symlink_metadata(&probe).is_ok_and(|m| m.file_type().is_symlink());
    let _ = fs::remove_file(&probe);
    if made {
        return true;
    }
    if common::skip_under_wine("symbolic links (CreateSymbolicLinkW makes no link)") {
        return false;
    }
    if !cfg!(windows) {
        panic!("this system should let a test make a symbolic link");
    }
    eprintln!("SKIPPED the link cases: Windows makes symbolic links only in Developer Mode or for an administrator");
    false
}

/// A junction at `link` to the directory `target`, as any Windows user can
/// make one (`mklink /J`): true when made. Always false off Windows, and
/// false (said on stderr) where Wine cannot make one.
pub fn junction(link: &Path, target: &Path) -> bool {
    if !cfg!(windows) {
        return false;
    }
    let out = std::process::Command::new("cmd")
        .args(["/C", "mklink", "/J"])
        .arg(link)
        .arg(target)
        .output();
    // Wine's mklink prints its failure and still exits 0: look at what is there.
    if fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
        return true;
    }
    if common::skip_under_wine("junctions (mklink /J cannot make one)") {
        return false;
    }
    panic!("mklink /J {} failed: {out:?}", link.display());
}
