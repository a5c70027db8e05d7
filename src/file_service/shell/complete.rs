//! Tab completion for the shell, as sftp does it: the first word from the command names; after a remote command (and for `get`'s source, `put`'s destination) remote names; after a local command (and for `put`'s source, `get`'s destination) local names.

use super::commands::{self, COMMANDS};
use super::paths::{self, RemotePath};
use super::remote::{matchable, Server};
use super::words::{self, Partial};
use crate::file_service::protocol::{Entry, Kind};
use crate::file_service::terminal::{Candidate, Completer, Completion};
use std::path::Path;

/// Which names an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    Remote,
    Local,
    Commands,
    None,
}

/// What the `n`th argument (from 1, options not counted) of `command` names.
/// As in sftp: `get`'s first is remote and the next local, `put` the other way.
fn names_for(command: &str, n: usize) -> Names {
    let Some(c) = commands::lookup(command) else {
        return Names::None;
    };
    match (c.name, n) {
        ("cd" | "ls" | "mkdir" | "rm" | "rmdir" | "rename", _) => Names::Remote,
        ("lcd" | "lls" | "lmkdir", _) => Names::Local,
        ("get" | "reget", 1) | ("put" | "reput", 2..) => Names::Remote,
        ("get" | "reget", _) | ("put" | "reput", _) => Names::Local,
        ("help", 1) => Names::Commands,
        _ => Names::None,
    }
}

/// The shell's completer: what it needs to list both sides.
pub struct ShellCompleter<'a> {
    pub server: &'a mut Server,
    pub cwd: &'a RemotePath,
    pub lcwd: &'a Path,
}

impl Completer for ShellCompleter<'_> {
    fn complete(&mut self, before_cursor: &str) -> Completion {
        let Partial {
            before,
            last,
            start,
        } = words::partial(before_cursor);
        let names = match before.split_first() {
            None => Names::Commands,
            Some((command, args)) => {
                let n = args.iter().filter(|a| !a.starts_with('-')).count() + 1;
                names_for(command, n)
            }
        };
        let candidates = match names {
            Names::Commands => command_names(&last),
            Names::Remote => self.remote_names(&last),
            Names::Local => local_names(self.lcwd, &last),
            Names::None => Vec::new(),
        };
        Completion { start, candidates }
    }
}

impl ShellCompleter<'_> {
    fn remote_names(&mut self, typed: &str) -> Vec<Candidate> {
        let (dir, prefix) = split_last(typed);
        let listed = self.cwd.resolve(if dir.is_empty() { "." } else { dir });
        // A connection the server closed while the user sat idle is replaced
        // first, as before a command, so this Tab completes (not the next);
        // the line saying so would break into the line being edited.
        let _ = self.server.revive();
        // Nothing to offer is all a failure here can mean.
        let entries = self.server.list(&listed, false).unwrap_or_default();
        let entries = entries.into_iter().filter(|e| matchable(&e.name));
        candidates(dir, prefix, entries)
    }
}

fn command_names(typed: &str) -> Vec<Candidate> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
        .filter(|name| name.starts_with(typed) && *name != "!")
        .map(|name| Candidate {
            replacement: name.to_owned(),
            shown: name.to_owned(),
            finished: true,
        })
        .collect()
}

fn local_names(lcwd: &Path, typed: &str) -> Vec<Candidate> {
    let (dir, prefix) = split_last(typed);
    let listed = paths::local(lcwd, if dir.is_empty() { "." } else { dir });
    let Ok(entries) = super::local::read_dir(&listed) else {
        return Vec::new();
    };
    let entries = entries.into_iter().filter_map(Result::ok).map(|mut e| {
        // A link to a folder completes as a folder, as in a shell.
        if paths::local_join(&listed, &e.name).is_dir() {
            e.meta.kind = Kind::Dir;
        }
        e
    });
    candidates(dir, prefix, entries)
}

/// `docs/no` -> (`docs/`, `no`): the folder to list and the start of the name.
fn split_last(typed: &str) -> (&str, &str) {
    match typed.rfind('/') {
        Some(i) => typed.split_at(i + 1),
        None => ("", typed),
    }
}

/// The entries whose names start with `prefix` (names starting with `.` only
/// when it does), each as `dir` + name, quoted to be typed.
fn candidates(dir: &str, prefix: &str, entries: impl Iterator<Item = Entry>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = entries
        .filter_map(|e| {
            // A name that cannot be typed back (not UTF-8, control characters) is not offered.
            let name = String::from_utf8(e.name).ok()?;
            if !name.starts_with(prefix)
                || (name.starts_with('.') && !prefix.starts_with('.'))
                || crate::core::escape::text(&name) != name
            {
                return None;
            }
            let is_dir = e.meta.kind == Kind::Dir;
            let slash = if is_dir { "/" } else { "" };
            Some(Candidate {
                replacement: format!("{}{slash}", words::quote(&format!("{dir}{name}"))),
                shown: format!("{name}{slash}"),
                finished: !is_dir,
            })
        })
        .collect();
    out.sort_by(|a, b| a.shown.cmp(&b.shown));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::protocol::Meta;

    fn entry(name: &str, kind: Kind) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            meta: Meta {
                kind,
                size: 0,
                mtime_ns: 0,
                mode: 0o644,
                owner: None,
            },
        }
    }

    #[test]
    fn which_side_each_argument_names() {
        assert_eq!(names_for("get", 1), Names::Remote);
        assert_eq!(names_for("get", 2), Names::Local);
        assert_eq!(names_for("put", 1), Names::Local);
        assert_eq!(names_for("reput", 2), Names::Remote);
        assert_eq!(names_for("lcd", 1), Names::Local);
        assert_eq!(names_for("dir", 1), Names::Remote);
        assert_eq!(names_for("help", 1), Names::Commands);
        assert_eq!(names_for("pwd", 1), Names::None);
        assert_eq!(names_for("nonsense", 1), Names::None);
    }

    #[test]
    fn commands_complete_by_name_and_alias() {
        let names: Vec<String> = command_names("l")
            .into_iter()
            .map(|c| c.replacement)
            .collect();
        assert_eq!(
            names,
            ["lpwd", "lcd", "ls", "lls", "ldir", "lmkdir", "lumask"]
        );
        assert!(command_names("").iter().all(|c| c.finished));
        assert!(command_names("zz").is_empty());
    }

    #[test]
    fn names_are_quoted_and_folders_end_in_a_slash() {
        let entries = vec![
            entry("my file.txt", Kind::File),
            entry("mydir", Kind::Dir),
            entry(".hidden", Kind::File),
            entry("bad\x1bname", Kind::File),
            entry("other", Kind::File),
        ];
        let got = candidates("docs/", "my", entries.clone().into_iter());
        assert_eq!(
            got,
            [
                Candidate {
                    replacement: "docs/my\\ file.txt".into(),
                    shown: "my file.txt".into(),
                    finished: true
                },
                Candidate {
                    replacement: "docs/mydir/".into(),
                    shown: "mydir/".into(),
                    finished: false
                },
            ]
        );
        let hidden = candidates("", ".", entries.clone().into_iter());
        assert_eq!(hidden.len(), 1);
        // A name with a control character is never offered.
        assert!(candidates("", "bad", entries.into_iter()).is_empty());
        assert_eq!(split_last("a/b/c"), ("a/b/", "c"));
        assert_eq!(split_last("c"), ("", "c"));
    }

    #[test]
    fn local_names_come_from_the_local_directory() {
        let dir = crate::test_support::TempDir::new("complete");
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/notes.txt"), b"").unwrap();
        std::fs::write(dir.join("sun.txt"), b"").unwrap();
        let got: Vec<String> = local_names(dir.path(), "su")
            .into_iter()
            .map(|c| c.replacement)
            .collect();
        assert_eq!(got, ["sub/", "sun.txt"]);
        let got: Vec<String> = local_names(dir.path(), "sub/n")
            .into_iter()
            .map(|c| c.replacement)
            .collect();
        assert_eq!(got, ["sub/notes.txt"]);
    }
}
