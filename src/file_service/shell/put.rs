//! `put` and `reput`: local wildcards matched, each file to its remote place (the server writes `.NAME.part` and renames it), whole folders with `-r`, resume with `-a`, `-p` for times and modes. Symbolic links are never followed, wherever they are met: named, matched by a wildcard, or inside a folder.

use super::copy::{must_be_a_directory, split_destination, transfer_message, Copy, Tally, Walk};
use super::local::{io_message, local_matches, read_dir};
use super::paths::{self, RemotePath};
use super::remote::Server;
use super::words::Word;
use super::Shell;
use crate::file_service::protocol::{ErrorCode, Kind};
use crate::file_service::transfer::{TransferError, UploadOptions};
use std::fs;
use std::path::Path;

impl Shell {
    /// `put [-a] [-p] [-r] LOCAL... [REMOTE]`
    pub(super) fn put(&mut self, args: &[Word], how: Copy) -> Result<(), String> {
        let (sources, dest) = split_destination(args);
        if sources.is_empty() {
            return Err("usage: put [-a] [-p] [-r] LOCAL... [REMOTE]".into());
        }
        self.walk = Walk::new(self.tree_limits);
        let mut tally = Tally::default();
        let mut items = Vec::new();
        for word in sources {
            let matches = local_matches(&self.lcwd, word);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                tally.add(Tally::failure());
            }
            items.extend(matches.into_iter().map(|(p, _)| (p, word.has_magic())));
        }
        let into = match dest {
            None => Some(self.cwd.clone()),
            Some(word) => self.remote_destination(word, items.len())?,
        };
        let dest = dest.map(|d| self.cwd.resolve(&d.text));
        for (local, globbed) in items {
            if self.interrupted() {
                break;
            }
            let shown = self.here(&local);
            let target = match (&into, paths::local_name(&local), &dest) {
                (Some(dir), Some(Ok(name)), _) => dir.join(name),
                (None, _, Some(d)) => d.clone(),
                (Some(_), Some(Err(message)), _) => {
                    self.complain(&message);
                    tally.add(Tally::failure());
                    continue;
                }
                _ => {
                    self.complain(&format!("{shown}: name a remote destination for it"));
                    tally.add(Tally::failure());
                    continue;
                }
            };
            // The name itself, not what a link points to.
            tally.add(match fs::symlink_metadata(&local) {
                Err(e) => {
                    self.complain(&io_message(&shown, &e));
                    Tally::failure()
                }
                Ok(m) if m.file_type().is_symlink() => self.skip_link(&shown, !globbed),
                Ok(m) if m.is_file() => self.put_file(&local, &target, how),
                Ok(m) if m.is_dir() && how.recursive => self.put_tree(&local, &target, how, 0),
                Ok(m) if m.is_dir() => self.skip_folder(&shown, "put", globbed),
                Ok(_) => {
                    self.notice(&format!("skipping {shown}: not a regular file"));
                    Tally::skipped()
                }
            });
        }
        tally.outcome()
    }

    /// The remote directory files go into (`None`: the destination is the
    /// new name of the one source). Several sources, or a trailing `/`, need
    /// an existing directory, as in sftp.
    fn remote_destination(
        &mut self,
        word: &Word,
        sources: usize,
    ) -> Result<Option<RemotePath>, String> {
        let dest = self.cwd.resolve(&word.text);
        let missing = match self.server.stat(&dest) {
            Ok(m) if m.kind == Kind::Dir => return Ok(Some(dest)),
            Ok(_) => false,
            Err(TransferError::Refused(ref e)) if e.code == ErrorCode::NotFound => true,
            Err(e) => return Err(e.to_string()),
        };
        if must_be_a_directory(word) {
            return Err(if missing {
                format!("{}: no such directory on the server", dest.shown())
            } else {
                format!("{}: not a directory", dest.shown())
            });
        }
        if sources > 1 {
            let why = if missing {
                "does not exist (mkdir it first)"
            } else {
                "is not one"
            };
            return Err(format!(
                "{sources} sources, so the destination must be a directory, and {} {why}",
                dest.shown()
            ));
        }
        Ok(None)
    }

    /// One local file to `remote`.
    fn put_file(&mut self, local: &Path, remote: &RemotePath, how: Copy) -> Tally {
        let result = self.try_put_file(local, remote, how);
        self.count(result)
    }

    fn try_put_file(&mut self, local: &Path, remote: &RemotePath, how: Copy) -> Result<(), String> {
        let shown = self.here(local);
        if how.resume {
            let size = fs::metadata(local)
                .map_err(|e| io_message(&shown, &e))?
                .len();
            if let Ok(m) = self.server.stat(remote) {
                if m.kind == Kind::File && m.size == size {
                    return self.say(&format!(
                        "{} is already complete ({size} bytes)",
                        remote.shown()
                    ));
                }
            }
        }
        self.say(&format!("Uploading {shown} to {}", remote.shown()))?;
        let options = UploadOptions {
            resume: how.resume,
            overwrite: true,
            preserve: how.preserve,
        };
        let show = self.progress;
        let Shell {
            server, out, err, ..
        } = self;
        let mut meter = Shell::meter(out, err, shown.clone(), "upload", show);
        let result =
            server.call(|c| c.upload(local, &remote.wire(), options, &mut |e| meter.event(e)));
        match result {
            Ok(done) => {
                meter.finish(done.size);
                Ok(())
            }
            Err(e) => Err(transfer_message(&shown, &e)),
        }
    }

    /// A local folder into `remote`, whole.
    fn put_tree(&mut self, local: &Path, remote: &RemotePath, how: Copy, depth: usize) -> Tally {
        let shown = self.here(local);
        if let Err(message) = self.walk.enter(depth, &shown) {
            self.complain(&message);
            return Tally::failure();
        }
        if let Err(message) = make_remote_dir(&mut self.server, remote) {
            self.complain(&message);
            return Tally::failure();
        }
        let entries = match read_dir(local) {
            Ok(entries) => entries,
            Err(message) => {
                self.complain(&message);
                return Tally::failure();
            }
        };
        let mut tally = Tally::default();
        for entry in entries {
            if self.interrupted() {
                break;
            }
            if let Err(message) = self.walk.count("put") {
                if let Some(message) = message {
                    self.complain(&message);
                    tally.add(Tally::failure());
                }
                break;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(message) => {
                    self.complain(&message);
                    tally.add(Tally::failure());
                    continue;
                }
            };
            let child = paths::local_join(local, &entry.name);
            let shown = self.here(&child);
            let target = remote.join(&entry.name);
            // Looked at again now: the listing may be stale.
            tally.add(match fs::symlink_metadata(&child) {
                Err(e) => {
                    self.complain(&io_message(&shown, &e));
                    Tally::failure()
                }
                Ok(m) if m.file_type().is_symlink() => self.skip_link(&shown, false),
                Ok(m) if m.is_dir() => self.put_tree(&child, &target, how, depth + 1),
                Ok(m) if m.is_file() => self.put_file(&child, &target, how),
                Ok(_) => {
                    self.notice(&format!("skipping {shown}: not a regular file"));
                    Tally::skipped()
                }
            });
        }
        tally
    }
}

/// The remote directory of a `put -r`, made if it is missing.
fn make_remote_dir(server: &mut Server, remote: &RemotePath) -> Result<(), String> {
    match server.stat(remote) {
        Ok(m) if m.kind == Kind::Dir => Ok(()),
        Ok(_) => Err(format!("{} exists and is not a directory", remote.shown())),
        Err(TransferError::Refused(ref e)) if e.code == ErrorCode::NotFound => server
            .call(|c| c.mkdir(&remote.wire()))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}
