//! The remote side's small commands: `pwd`, `cd`, `ls`, `mkdir`, `rmdir`, `rm` and `rename`.

use super::expand::expand;
use super::paths::RemotePath;
use super::remote::{matchable, RemoteSide};
use super::words::Word;
use super::{failures, listing, Shell};
use crate::protocol::{Entry, Kind, Meta};

impl Shell {
    /// The remote paths one word names: its wildcard matches (partial
    /// uploads left out unless `partials`), or itself.
    pub(super) fn remote_matches(
        &mut self,
        word: &Word,
        partials: bool,
    ) -> Vec<(RemotePath, Option<Meta>)> {
        if !word.has_magic() {
            return vec![(self.cwd.resolve(&word.text), None)];
        }
        let base = if word.pattern.starts_with('/') {
            RemotePath::root()
        } else {
            self.cwd.clone()
        };
        let keep =
            |name: &[u8]| matchable(name) || (partials && crate::root::is_partial_name(name));
        expand(
            &mut RemoteSide(&mut self.server),
            base,
            &word.pattern,
            &keep,
        )
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
        let meta = self.server.stat(&target).map_err(|e| e.to_string())?;
        if meta.kind != Kind::Dir {
            return Err(format!("{}: not a directory", target.shown()));
        }
        self.cwd = target;
        Ok(())
    }

    pub(super) fn ls(&mut self, flags: &[char], args: &[Word]) -> Result<(), String> {
        let (all, long) = (flags.contains(&'a'), flags.contains(&'l'));
        let words = if args.is_empty() {
            vec![Word::bare(".")]
        } else {
            args.to_vec()
        };
        let mut failed = 0;
        for word in &words {
            let matches = self.remote_matches(word, all);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                failed += 1;
            }
            for (path, meta) in matches {
                let meta = match meta {
                    Some(m) => m,
                    None => match self.server.stat(&path) {
                        Ok(m) => m,
                        Err(e) => {
                            self.complain(&e.to_string());
                            failed += 1;
                            continue;
                        }
                    },
                };
                let rows = if meta.kind == Kind::Dir && !word.has_magic() {
                    if words.len() > 1 {
                        self.say(&format!("{}:", path.shown()))?;
                    }
                    match self.server.call(|c| c.list(&path.wire())) {
                        Ok(entries) => entries
                            .into_iter()
                            .filter(|e| all || !e.name.starts_with(b"."))
                            .collect(),
                        Err(e) => {
                            self.complain(&e.to_string());
                            failed += 1;
                            continue;
                        }
                    }
                } else {
                    let name = if word.has_magic() {
                        self.relative(&path)
                    } else {
                        word.text.clone()
                    };
                    vec![Entry {
                        name: name.into_bytes(),
                        meta,
                    }]
                };
                self.show_rows(&rows, long)?;
            }
        }
        failures(failed, words.len(), "names")
    }

    /// How `ls PATTERN` names a match: relative to the remote directory when below it.
    fn relative(&self, path: &RemotePath) -> String {
        let here = self.cwd.wire();
        let there = path.wire();
        let below = if here.is_empty() {
            Some(&there[..])
        } else {
            there
                .strip_prefix(here.as_slice())
                .and_then(|rest| rest.strip_prefix(b"/"))
        };
        match below {
            Some(rest) => listing::name(rest),
            None => path.shown(),
        }
    }

    pub(super) fn mkdir(&mut self, args: &[Word]) -> Result<(), String> {
        let [dir] = args else {
            return Err("usage: mkdir PATH".into());
        };
        let path = self.cwd.resolve(&dir.text);
        self.server
            .call(|c| c.mkdir(&path.wire()))
            .map_err(|e| e.to_string())
    }

    pub(super) fn rmdir(&mut self, args: &[Word]) -> Result<(), String> {
        let [dir] = args else {
            return Err("usage: rmdir PATH".into());
        };
        let path = self.cwd.resolve(&dir.text);
        self.server
            .call(|c| c.remove_dir(&path.wire()))
            .map_err(|e| e.to_string())
    }

    pub(super) fn rename(&mut self, args: &[Word]) -> Result<(), String> {
        let [from, to] = args else {
            return Err("usage: rename OLD NEW".into());
        };
        let (from, to) = (self.cwd.resolve(&from.text), self.cwd.resolve(&to.text));
        self.server
            .call(|c| c.rename(&from.wire(), &to.wire(), false))
            .map_err(|e| e.to_string())
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
                    self.complain(&e.to_string());
                    failed += 1;
                }
            }
        }
        failures(failed, total.max(args.len()), "files")
    }
}
