//! The remote side's small commands: `pwd`, `cd`, `ls`, `mkdir`, `rmdir`, `rm` and `rename`.

use super::expand::expand;
use super::listing::{self, Browse};
use super::paths::RemotePath;
use super::remote::{matchable, RemoteSide, Server};
use super::words::Word;
use super::{failures, Shell};
use crate::file_service::protocol::{Entry, Kind, Meta};
use crate::file_service::transfer::{Connection, TransferError};

/// The remote paths one word names from `cwd`: its wildcard matches
/// (partial uploads left out unless `partials`; with their owners if
/// `owners`), or itself.
fn remote_matches(
    server: &mut Server,
    cwd: &RemotePath,
    word: &Word,
    partials: bool,
    owners: bool,
) -> Vec<(RemotePath, Option<Meta>)> {
    if !word.has_magic() {
        return vec![(cwd.resolve(&word.text), None)];
    }
    let base = if word.pattern.starts_with('/') {
        RemotePath::root()
    } else {
        cwd.clone()
    };
    let keep = |name: &[u8]| {
        matchable(name) || (partials && crate::file_service::root::is_partial_name(name))
    };
    expand(
        &mut RemoteSide { server, owners },
        base,
        &word.pattern,
        &keep,
    )
}

/// The remote side of `ls`.
struct RemoteBrowse<'a> {
    server: &'a mut Server,
    cwd: &'a RemotePath,
    /// `ls -l`: entries with owner and group.
    long: bool,
}

impl Browse for RemoteBrowse<'_> {
    type Path = RemotePath;

    fn matches(&mut self, word: &Word, all: bool) -> Vec<(RemotePath, Option<Meta>)> {
        remote_matches(self.server, self.cwd, word, all, self.long)
    }

    /// With `-l`, a file's owner comes from its directory's listing: a STAT
    /// reply carries none (docs/PROTOCOL.md 5.2).
    fn stat(&mut self, path: &RemotePath) -> Result<Meta, String> {
        let meta = self
            .server
            .stat(path)
            .map_err(|e| path.explain(&e.to_string()))?;
        let (true, Some(name)) = (self.long && meta.kind != Kind::Dir, path.file_name()) else {
            return Ok(meta);
        };
        let owner = self
            .server
            .list(&path.parent(), true)
            .ok()
            .and_then(|entries| {
                entries
                    .into_iter()
                    .find(|e| e.name == name)
                    .and_then(|e| e.meta.owner)
            });
        Ok(Meta { owner, ..meta })
    }

    fn list(&mut self, dir: &RemotePath) -> Result<Vec<Entry>, String> {
        self.server
            .list(dir, self.long)
            .map_err(|e| dir.explain(&e.to_string()))
    }

    fn shown(&self, path: &RemotePath) -> String {
        path.shown()
    }

    /// Relative to the remote directory when below it.
    fn relative(&self, path: &RemotePath) -> Vec<u8> {
        let (here, there) = (self.cwd.wire(), path.wire());
        if here.is_empty() {
            return there;
        }
        match there
            .strip_prefix(here.as_slice())
            .and_then(|rest| rest.strip_prefix(b"/"))
        {
            Some(rest) => rest.to_vec(),
            None => path.shown().into_bytes(),
        }
    }
}

impl Shell {
    /// The remote paths one word names: its wildcard matches (partial
    /// uploads left out unless `partials`), or itself.
    pub(super) fn remote_matches(
        &mut self,
        word: &Word,
        partials: bool,
    ) -> Vec<(RemotePath, Option<Meta>)> {
        remote_matches(&mut self.server, &self.cwd, word, partials, false)
    }

    pub(super) fn pwd(&mut self) -> Result<(), String> {
        let line = format!("Remote working directory: {}", self.cwd.shown());
        self.say(&line)
    }

    pub(super) fn cd(&mut self, args: &[Word]) -> Result<(), String> {
        let target = match args {
            [] => RemotePath::root(),
            [dir] => self.cwd.resolve(&dir.text),
            _ => return Err("usage: cd [PATH]".into()),
        };
        let meta = self
            .server
            .stat(&target)
            .map_err(|e| target.explain(&e.to_string()))?;
        if meta.kind != Kind::Dir {
            return Err(format!("{}: not a directory", target.shown()));
        }
        self.cwd = target;
        Ok(())
    }

    pub(super) fn ls(&mut self, flags: &[char], args: &[Word]) -> Result<(), String> {
        let mut side = RemoteBrowse {
            server: &mut self.server,
            cwd: &self.cwd,
            long: listing::Style::from_flags(flags).long,
        };
        let (said, failed) = listing::ls(&mut side, flags, args);
        self.tell(said)?;
        failures(failed, args.len().max(1), "names")
    }

    pub(super) fn mkdir(&mut self, args: &[Word]) -> Result<(), String> {
        self.on_one_path(args, "usage: mkdir PATH", Connection::mkdir)
    }

    pub(super) fn rmdir(&mut self, args: &[Word]) -> Result<(), String> {
        self.on_one_path(args, "usage: rmdir PATH", Connection::remove_dir)
    }

    /// A request on exactly one remote path, as typed (no wildcards).
    fn on_one_path(
        &mut self,
        args: &[Word],
        usage: &str,
        op: fn(&mut Connection, &[u8]) -> Result<(), TransferError>,
    ) -> Result<(), String> {
        let [word] = args else {
            return Err(usage.into());
        };
        let path = self.cwd.resolve(&word.text);
        self.server
            .call(|c| op(c, &path.wire()))
            .map_err(|e| path.explain(&e.to_string()))
    }

    pub(super) fn rename(&mut self, args: &[Word]) -> Result<(), String> {
        let [from, to] = args else {
            return Err("usage: rename OLD NEW".into());
        };
        let (from, to) = (self.cwd.resolve(&from.text), self.cwd.resolve(&to.text));
        self.server
            .call(|c| c.rename(&from.wire(), &to.wire(), false))
            .map_err(|e| to.explain(&from.explain(&e.to_string())))
    }

    /// `rm PATH...`: each match is removed, and named, like sftp does.
    pub(super) fn rm(&mut self, args: &[Word]) -> Result<(), String> {
        if args.is_empty() {
            return Err("usage: rm PATH...".into());
        }
        let mut failed = 0;
        let mut total = 0;
        for word in args {
            // `rm .*.part` is how an abandoned partial upload is cleaned up.
            let matches = self.remote_matches(word, true);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                failed += 1;
            }
            for (path, meta) in matches {
                total += 1;
                if meta.is_some_and(|m| m.kind == Kind::Dir) {
                    self.complain(&format!(
                        "{}: is a directory (rmdir removes it)",
                        path.shown()
                    ));
                    failed += 1;
                    continue;
                }
                self.say(&format!("Removing {}", path.shown()))?;
                if let Err(e) = self.server.call(|c| c.remove_file(&path.wire())) {
                    self.complain(&path.explain(&e.to_string()));
                    failed += 1;
                }
            }
        }
        failures(failed, total.max(args.len()), "files")
    }
}
