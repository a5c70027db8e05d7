//! `get` and `reget`: remote wildcards matched, each file to its local place through `NAME.part`, whole folders with `-r`, resume with `-a`, `-p` for times and modes. Remote links named or matched are followed (the server keeps them inside its root); inside a folder they are skipped.

use super::copy::{must_be_a_directory, split_destination, transfer_message, Copy, Tally, Walk};
use super::local::io_message;
use super::paths::{self, RemotePath};
use super::remote::safe_component;
use super::words::Word;
use super::Shell;
use crate::core::escape;
use crate::file_service::protocol::{Kind, Meta};
use crate::file_service::root::is_partial_name;
use crate::file_service::transfer::{self, DownloadOptions};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

impl Shell {
    /// `get [-a] [-p] [-r] REMOTE... [LOCAL]`
    pub(super) fn get(&mut self, args: &[Word], how: Copy) -> Result<(), String> {
        let (sources, dest) = split_destination(args);
        if sources.is_empty() {
            return Err("usage: get [-a] [-p] [-r] REMOTE... [LOCAL]".into());
        }
        self.walk = Walk::new(self.tree_limits);
        let mut tally = Tally::default();
        let mut items = Vec::new();
        for word in sources {
            let matches = self.remote_matches(word, false);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                tally.add(Tally::failure());
            }
            items.extend(matches.into_iter().map(|(p, m)| (p, m, word.has_magic())));
        }
        let into = match dest {
            None => Some(self.lcwd.clone()),
            Some(word) => self.local_destination(word, items.len())?,
        };
        let dest = dest.map(|d| paths::local(&self.lcwd, &d.text));
        for (remote, meta, globbed) in items {
            if self.interrupted() {
                break;
            }
            if let Some(why) = remote.file_name().and_then(|n| self.refused_local_name(n)) {
                self.complain(&format!("{}: not saved here: {why}", remote.shown()));
                tally.add(Tally::failure());
                continue;
            }
            let target = match (&into, remote.file_name(), &dest) {
                (Some(dir), Some(name), _) if safe_component(name) => paths::local_join(dir, name),
                (Some(dir), None, _) => dir.clone(),
                (None, _, Some(d)) => d.clone(),
                _ => {
                    self.complain(&format!(
                        "{}: not a name that can be saved here",
                        remote.shown()
                    ));
                    tally.add(Tally::failure());
                    continue;
                }
            };
            // A link named or matched is followed: the server resolves it
            // inside its root. Only inside a tree are links skipped.
            let meta = match meta {
                Some(m) if m.kind != Kind::Symlink => m,
                _ => match self.server.stat(&remote) {
                    Ok(m) => m,
                    Err(e) => {
                        self.complain(&remote.explain(&e.to_string()));
                        tally.add(Tally::failure());
                        continue;
                    }
                },
            };
            tally.add(match meta.kind {
                Kind::File => self.get_file(&remote, &meta, &target, how),
                Kind::Dir if how.recursive => self.get_tree(&remote, &meta, &target, how, 0),
                Kind::Dir => self.skip_folder(&remote.shown(), "get", globbed),
                _ => {
                    self.notice(&format!("skipping {}: not a regular file", remote.shown()));
                    Tally::skipped()
                }
            });
        }
        tally.outcome()
    }

    /// The local directory files go into (`None`: the destination is the new
    /// name of the one source). Several sources, or a trailing `/`, need an
    /// existing directory.
    fn local_destination(&self, word: &Word, sources: usize) -> Result<Option<PathBuf>, String> {
        let dest = paths::local(&self.lcwd, &word.text);
        if dest.is_dir() {
            return Ok(Some(dest));
        }
        let missing = !dest.exists();
        if must_be_a_directory(word) {
            return Err(if missing {
                format!("{}: no such local directory", word.text)
            } else {
                format!("{}: not a directory", word.text)
            });
        }
        if sources > 1 {
            let why = if missing {
                "does not exist (lmkdir it first)"
            } else {
                "is not one"
            };
            return Err(format!(
                "{sources} sources, so the destination must be a directory, and {} {why}",
                self.here(&dest)
            ));
        }
        Ok(None)
    }

    /// One remote file to `target`.
    fn get_file(&mut self, remote: &RemotePath, meta: &Meta, target: &Path, how: Copy) -> Tally {
        let result = self.try_get_file(remote, meta, target, how);
        self.count(result)
    }

    fn try_get_file(
        &mut self,
        remote: &RemotePath,
        meta: &Meta,
        target: &Path,
        how: Copy,
    ) -> Result<(), String> {
        let shown_local = self.here(target);
        // Said before a byte is asked for, naming the local cause.
        if let Some(folder) = target.parent().filter(|f| !f.as_os_str().is_empty()) {
            if !folder.is_dir() {
                let why = if folder.exists() {
                    "is not a directory"
                } else {
                    "does not exist"
                };
                return Err(format!(
                    "{shown_local}: cannot be written: {} {why}",
                    self.here(folder)
                ));
            }
        }
        let part = transfer::part_path(target);
        if how.resume {
            if let (Ok(local), false) = (fs::metadata(target), part.exists()) {
                if local.len() == meta.size {
                    self.say(&format!(
                        "{shown_local} is already complete ({} bytes)",
                        meta.size
                    ))?;
                    return self.keep_meta(target, meta, how);
                }
                if local.len() > meta.size {
                    return Err(format!(
                        "{shown_local} is larger than {}: not a partial copy of it (get replaces it)",
                        remote.shown()
                    ));
                }
                self.notice(&format!(
                    "{shown_local} has no record of which version it holds: downloading {} whole",
                    remote.shown()
                ));
            }
        }
        self.say(&format!("Fetching {} to {shown_local}", remote.shown()))?;
        let label = remote.shown();
        let show = self.progress;
        let Shell {
            server, out, err, ..
        } = self;
        let mut meter = Shell::meter(out, err, label.clone(), "download", show);
        // A plain get starts afresh, as in sftp (-a is the way to resume), but
        // replaces only a partial file that a download of this file left.
        let options = DownloadOptions {
            resume: how.resume,
            mode: Some(meta.mode),
            ..DownloadOptions::default()
        };
        let result =
            server.call(|c| c.download(&remote.wire(), target, options, &mut |e| meter.event(e)));
        match result {
            Ok(done) => {
                meter.finish(done.size);
                drop(meter);
                self.keep_meta(target, meta, how)
            }
            Err(e) => Err(transfer_message(&label, &e)),
        }
    }

    /// `-p` on the local side.
    fn keep_meta(&mut self, target: &Path, meta: &Meta, how: Copy) -> Result<(), String> {
        if !how.preserve {
            return Ok(());
        }
        transfer::apply_meta(target, meta).map_err(|e| {
            io_message(
                &format!("setting the time and permissions of {}", self.here(target)),
                &e,
            )
        })
    }

    /// A remote folder into `local`, whole.
    fn get_tree(
        &mut self,
        remote: &RemotePath,
        meta: &Meta,
        local: &Path,
        how: Copy,
        depth: usize,
    ) -> Tally {
        if let Err(message) = self.walk.enter(depth, &remote.shown()) {
            self.complain(&message);
            return Tally::failure();
        }
        let shown_local = self.here(local);
        match fs::symlink_metadata(local) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                self.complain(&format!("{shown_local} exists and is not a directory"));
                return Tally::failure();
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Err(e) = fs::create_dir(local) {
                    self.complain(&io_message(&shown_local, &e));
                    return Tally::failure();
                }
            }
            Err(e) => {
                self.complain(&io_message(&shown_local, &e));
                return Tally::failure();
            }
        }
        let entries = match self.server.list(remote, false) {
            Ok(entries) => entries,
            Err(e) => {
                self.complain(&remote.explain(&e.to_string()));
                return Tally::failure();
            }
        };
        let mut tally = Tally::default();
        for entry in entries {
            if self.interrupted() {
                return tally;
            }
            if let Err(message) = self.walk.count("get") {
                if let Some(message) = message {
                    self.complain(&message);
                    tally.add(Tally::failure());
                }
                return tally;
            }
            let child = remote.join(&entry.name);
            if is_partial_name(&entry.name) {
                continue;
            }
            if !safe_component(&entry.name) {
                self.complain(&format!(
                    "{}: the server sent a name that cannot be saved",
                    child.shown()
                ));
                tally.add(Tally::failure());
                continue;
            }
            if let Some(why) = self.refused_local_name(&entry.name) {
                self.complain(&format!("{}: not saved here: {why}", child.shown()));
                tally.add(Tally::failure());
                continue;
            }
            let target = paths::local_join(local, &entry.name);
            tally.add(match entry.meta.kind {
                Kind::File => self.get_file(&child, &entry.meta, &target, how),
                Kind::Dir => self.get_tree(&child, &entry.meta, &target, how, depth + 1),
                Kind::Symlink => self.skip_link(&child.shown(), false),
                Kind::Other => {
                    self.notice(&format!("skipping {}: not a regular file", child.shown()));
                    Tally::skipped()
                }
            });
        }
        if let Err(message) = self.keep_meta(local, meta, how) {
            self.complain(&message);
            tally.add(Tally::failure());
        }
        tally
    }

    /// Why a name from the server is not made into a local file or folder here, if it is not.
    /// Our partial files' names never are (the server's `x.part` would be taken for one of
    /// ours); names that would drive a terminal or read as an option are not, unless
    /// `--allow-any-name`.
    fn refused_local_name(&self, name: &[u8]) -> Option<String> {
        let own = [".part", ".part.info", ".part.info.tmp"];
        if own.iter().any(|suffix| name.ends_with(suffix.as_bytes())) {
            return Some(
                "the name ends like this client's own partial files (.part, .part.info)".into(),
            );
        }
        if self.allow_any_name {
            return None;
        }
        let text = String::from_utf8_lossy(name);
        let why = if text
            .chars()
            .any(|c| escape::is_control(c) || escape::is_invisible_format(c))
        {
            "the name holds a control or invisible formatting character"
        } else if name.starts_with(b"-") {
            "the name begins with -, which a command would take for an option"
        } else {
            return None;
        };
        Some(format!("{why} (--allow-any-name saves it)"))
    }
}
