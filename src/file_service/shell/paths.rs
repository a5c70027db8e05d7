//! Where a name typed in `file_shell` points: a remote path kept as components below the served root (so `cd ..` stops there), and a local path relative to the shell's own local directory.

use super::host;
use crate::file_service::os_name;
use std::path::{Path, PathBuf};

/// A path on the server, relative to its root, with no `.` or `..` left in it.
/// The shell shows the root as `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemotePath {
    parts: Vec<Vec<u8>>,
}

impl RemotePath {
    /// The served root, `/`.
    pub fn root() -> RemotePath {
        RemotePath::default()
    }

    /// `text` from this directory: absolute (`/x`) from the root, relative
    /// otherwise. `..` at the root stays at the root, as in sftp on a
    /// chrooted server; the server confines names again anyway.
    pub fn resolve(&self, text: &str) -> RemotePath {
        let mut out = if text.starts_with('/') {
            RemotePath::root()
        } else {
            self.clone()
        };
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    out.parts.pop();
                }
                name => out.parts.push(name.as_bytes().to_vec()),
            }
        }
        out
    }

    /// One entry of this directory.
    pub fn join(&self, name: &[u8]) -> RemotePath {
        let mut out = self.clone();
        out.parts.push(name.to_vec());
        out
    }

    /// The directory holding this entry; the root's parent is the root.
    pub fn parent(&self) -> RemotePath {
        let mut out = self.clone();
        out.parts.pop();
        out
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&[u8]> {
        self.parts.last().map(Vec::as_slice)
    }

    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The name the protocol carries: `a/b`, and `""` for the root.
    pub fn wire(&self) -> Vec<u8> {
        self.parts.join(&b'/')
    }

    /// A server's message about this path, with the path as `pwd` shows it: the server
    /// names what it was asked (`not found: "a/b"`), which is root-relative, while the
    /// shell shows `/a/b`.
    pub fn explain(&self, message: &str) -> String {
        if self.is_root() {
            return message.to_string();
        }
        let asked = crate::core::escape::name(&self.wire());
        let shown = format!("\"{}\"", self.shown());
        message.replacen(&asked, &shown, 1)
    }

    /// For people: `/a/b`, control characters escaped.
    pub fn shown(&self) -> String {
        let mut text = String::from("/");
        text.push_str(&String::from_utf8_lossy(&self.wire()));
        crate::core::escape::text(&text)
    }
}

/// `text` (as typed) from the local directory `cwd`: `~` and `~/x` start at
/// the home directory (`$HOME`, `%USERPROFILE%` on Windows); an absolute path
/// stays as it is.
pub fn local(cwd: &Path, text: &str) -> PathBuf {
    let home = host::home;
    if text == "~" {
        if let Some(h) = home() {
            return h;
        }
    }
    if let Some(rest) = text.strip_prefix("~/") {
        if let Some(h) = home() {
            return h.join(rest);
        }
    }
    cwd.join(text)
}

/// A local name for messages: lossy UTF-8, control characters escaped.
pub fn shown_local(path: &Path) -> String {
    crate::core::escape::text(&path.to_string_lossy())
}

/// The last component of a local path as wire bytes: `None` for `/`, `.` or
/// `..` endings, an error naming it when this system's name cannot be carried.
pub fn local_name(path: &Path) -> Option<Result<&[u8], String>> {
    let name = path.file_name()?;
    Some(os_name::to_bytes(name).ok_or_else(|| not_carried(path)))
}

/// `PATH: why` for a local name the protocol cannot carry.
pub fn not_carried(path: &Path) -> String {
    format!("{}: {}", shown_local(path), os_name::NOT_CARRIED)
}

/// `dir` joined with a name that this system can hold: one read from its own
/// listing, or one from the server that passed `remote::safe_component`.
pub fn local_join(dir: &Path, name: &[u8]) -> PathBuf {
    match os_name::path_from_bytes(name) {
        Some(name) => dir.join(name),
        None => dir.join(&*String::from_utf8_lossy(name)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_messages_name_paths_as_pwd_does() {
        let p = super::RemotePath::root().resolve("home/up_temp/nope");
        assert_eq!(
            p.explain("not found: \"home/up_temp/nope\""),
            "not found: \"/home/up_temp/nope\""
        );
        assert_eq!(p.explain("busy"), "busy");
    }

    use super::*;

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        let root = RemotePath::root();
        assert_eq!(root.resolve("..").shown(), "/");
        assert_eq!(root.resolve("../../..").shown(), "/");
        assert_eq!(root.resolve("../etc/passwd").wire(), b"etc/passwd");
        let cwd = root.resolve("a/b");
        assert_eq!(cwd.shown(), "/a/b");
        assert_eq!(cwd.resolve("..").shown(), "/a");
        assert_eq!(cwd.resolve("../../../x").shown(), "/x");
        assert_eq!(cwd.resolve("/x/./y//z/..").shown(), "/x/y");
        assert_eq!(cwd.resolve(".").wire(), b"a/b");
        assert_eq!(cwd.resolve("").wire(), b"a/b");
        assert_eq!(cwd.resolve("/").wire(), b"");
        assert!(cwd.resolve("/").is_root());
    }

    #[test]
    fn names_and_parents() {
        let p = RemotePath::root().resolve("docs/my file.txt");
        assert_eq!(p.file_name(), Some(&b"my file.txt"[..]));
        assert_eq!(p.parent().shown(), "/docs");
        assert_eq!(RemotePath::root().parent(), RemotePath::root());
        assert_eq!(RemotePath::root().file_name(), None);
        assert_eq!(p.parent().join(b"x").wire(), b"docs/x");
        assert_eq!(RemotePath::root().join(b"a\x1b").shown(), "/a\\x1b");
    }

    #[test]
    fn local_paths_start_at_the_shell_directory() {
        let cwd = Path::new("/work/here");
        assert_eq!(local(cwd, "a/b"), PathBuf::from("/work/here/a/b"));
        assert_eq!(local(cwd, "/abs"), PathBuf::from("/abs"));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(local(cwd, "~"), PathBuf::from(&home));
            assert_eq!(local(cwd, "~/x"), PathBuf::from(home).join("x"));
        }
        assert_eq!(local(cwd, "~x"), PathBuf::from("/work/here/~x"));
        assert_eq!(local_name(Path::new("/a/b.txt")), Some(Ok(&b"b.txt"[..])));
        assert_eq!(local_name(Path::new("/")), None);
        assert_eq!(local_name(Path::new("a/..")), None);
    }
}
