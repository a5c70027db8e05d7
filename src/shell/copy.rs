//! `get`, `put`, `reget` and `reput`: wildcards on the source side only, where each file lands, whole folder trees with `-r` (links skipped, never followed; one failure does not stop the rest), resume with `-a`, and `-p`.

use super::local::{io_message, local_matches, read_dir};
use super::paths::{self, RemotePath};
use super::remote::{safe_component, Server};
use super::words::Word;
use super::{failures, Shell};
use crate::progress::{human_bytes, Progress};
use crate::protocol::{ErrorCode, Kind, Meta};
use crate::root::is_partial_name;
use crate::transfer::{self, Event, TransferError, UploadOptions};
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

/// What `-r`, `-a` and `-p` asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Copy {
    pub recursive: bool,
    pub resume: bool,
    pub preserve: bool,
}

impl Copy {
    pub fn from_flags(flags: &[char], resume: bool) -> Copy {
        Copy {
            recursive: flags.contains(&'r'),
            resume: resume || flags.contains(&'a'),
            preserve: flags.contains(&'p'),
        }
    }
}

/// Sources and the optional destination: the last of two or more words.
fn split_destination(args: &[Word]) -> (&[Word], Option<&Word>) {
    match args {
        [] | [_] => (args, None),
        [sources @ .., dest] => (sources, Some(dest)),
    }
}

/// Says what happens to a file while it moves: resuming, starting over,
/// and the progress line on a terminal.
struct Meter<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    label: String,
    what: &'static str,
    show: bool,
    bar: Option<Progress<io::Stderr>>,
}

impl Meter<'_> {
    fn event(&mut self, event: Event) {
        // Nothing sensible is left to do when the terminal itself is gone.
        match event {
            Event::StartingOver(reason) => {
                let _ = writeln!(
                    self.err,
                    "{}: starting over: {}",
                    self.label,
                    crate::escape::text(reason)
                );
            }
            Event::Begin { size, offset } => {
                if offset > 0 {
                    let _ = writeln!(
                        self.out,
                        "Resuming {} of {} at {} of {}",
                        self.what,
                        self.label,
                        human_bytes(offset),
                        human_bytes(size)
                    );
                }
                if self.show {
                    let _ = self.out.flush();
                    self.bar = Some(Progress::stderr(&self.label, size, offset));
                }
            }
            Event::Progress(done) => {
                if let Some(bar) = self.bar.as_mut() {
                    let _ = bar.update(done, Instant::now());
                }
            }
        }
    }

    fn finish(&mut self, size: u64) {
        if let Some(bar) = self.bar.as_mut() {
            let _ = bar.finish(size, Instant::now());
        }
    }
}

/// A message for a failed transfer: the server's own message names the
/// path already; other failures get it in front.
fn transfer_message(name: &str, e: &TransferError) -> String {
    match e {
        TransferError::Refused(_) => e.to_string(),
        _ => format!("{name}: {e}"),
    }
}

impl Shell {
    fn meter<'a>(
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
        label: String,
        what: &'static str,
        show: bool,
    ) -> Meter<'a> {
        Meter {
            out,
            err,
            label,
            what,
            show,
            bar: None,
        }
    }

    /// `get [-a] [-p] [-r] REMOTE... [LOCAL]`
    pub(super) fn get(&mut self, args: &[Word], how: Copy) -> Result<(), String> {
        let (sources, dest) = split_destination(args);
        if sources.is_empty() {
            return Err("usage: get [-a] [-p] [-r] REMOTE... [LOCAL]".into());
        }
        let mut failed = 0;
        let mut items = Vec::new();
        for word in sources {
            let matches = self.remote_matches(word, false);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                failed += 1;
            }
            items.extend(matches.into_iter().map(|(p, m)| (p, m, word.has_magic())));
        }
        let dest = dest.map(|d| paths::local(&self.lcwd, &d.text));
        let into = match &dest {
            None => Some(self.lcwd.clone()),
            Some(d) if d.is_dir() => Some(d.clone()),
            Some(d) if items.len() > 1 => {
                return Err(format!(
                    "{} files match, so the destination must be a directory, and {} is not one",
                    items.len(),
                    self.here(d)
                ))
            }
            Some(_) => None,
        };
        let total = items.len();
        for (remote, meta, globbed) in items {
            let target = match (&into, remote.file_name(), &dest) {
                (Some(dir), Some(name), _) if safe_component(name) => paths::local_join(dir, name),
                (Some(dir), None, _) => dir.clone(),
                (None, _, Some(d)) => d.clone(),
                _ => {
                    self.complain(&format!(
                        "{}: not a name that can be saved here",
                        remote.shown()
                    ));
                    failed += 1;
                    continue;
                }
            };
            // A top-level name is followed if it is a link (it was named, or
            // matched, on purpose); only inside a tree are links skipped.
            let meta = match meta {
                Some(m) if m.kind != Kind::Symlink => m,
                _ => match self.server.stat(&remote) {
                    Ok(m) => m,
                    Err(e) => {
                        self.complain(&e.to_string());
                        failed += 1;
                        continue;
                    }
                },
            };
            failed += match meta.kind {
                Kind::File => self.get_file(&remote, &meta, &target, how),
                Kind::Dir if how.recursive => self.get_tree(&remote, &meta, &target, how),
                Kind::Dir => self.skip_folder(&remote.shown(), "get", globbed),
                _ => {
                    self.notice(&format!("skipping {}: not a regular file", remote.shown()));
                    0
                }
            };
        }
        failures(failed, total, "files")
    }

    /// A folder named without `-r`: a failure if named on purpose, a notice if a wildcard matched it.
    fn skip_folder(&mut self, shown: &str, command: &str, globbed: bool) -> usize {
        let message = format!("skipping directory {shown} ({command} -r copies folders)");
        if globbed {
            self.notice(&message);
            0
        } else {
            self.complain(&message);
            1
        }
    }

    /// One remote file to `target`; 0 or 1 failures.
    fn get_file(&mut self, remote: &RemotePath, meta: &Meta, target: &Path, how: Copy) -> usize {
        let result = self.try_get_file(remote, meta, target, how);
        self.count(result)
    }

    /// 1 for a failure, said on stderr; 0 otherwise.
    fn count(&mut self, result: Result<(), String>) -> usize {
        match result {
            Ok(()) => 0,
            Err(message) => {
                self.complain(&message);
                1
            }
        }
    }

    fn try_get_file(
        &mut self,
        remote: &RemotePath,
        meta: &Meta,
        target: &Path,
        how: Copy,
    ) -> Result<(), String> {
        let shown_local = self.here(target);
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
        } else {
            // A plain get starts afresh, as in sftp; -a is the way to resume.
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(transfer::info_path(target));
        }
        self.say(&format!("Fetching {} to {shown_local}", remote.shown()))?;
        let label = remote.shown();
        let show = self.progress;
        let Shell {
            server, out, err, ..
        } = self;
        let mut meter = Shell::meter(out, err, label.clone(), "download", show);
        let result =
            server.call(|c| c.download(&remote.wire(), target, false, &mut |e| meter.event(e)));
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

    /// A remote folder into `local`, whole; returns the number of failures.
    fn get_tree(&mut self, remote: &RemotePath, meta: &Meta, local: &Path, how: Copy) -> usize {
        let shown_local = self.here(local);
        match fs::symlink_metadata(local) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                self.complain(&format!("{shown_local} exists and is not a directory"));
                return 1;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Err(e) = fs::create_dir(local) {
                    self.complain(&io_message(&shown_local, &e));
                    return 1;
                }
            }
            Err(e) => {
                self.complain(&io_message(&shown_local, &e));
                return 1;
            }
        }
        let entries = match self.server.call(|c| c.list(&remote.wire())) {
            Ok(entries) => entries,
            Err(e) => {
                self.complain(&e.to_string());
                return 1;
            }
        };
        let mut failed = 0;
        for entry in entries {
            let child = remote.join(&entry.name);
            if is_partial_name(&entry.name) {
                continue;
            }
            if !safe_component(&entry.name) {
                self.complain(&format!(
                    "{}: the server sent a name that cannot be saved",
                    child.shown()
                ));
                failed += 1;
                continue;
            }
            let target = paths::local_join(local, &entry.name);
            failed += match entry.meta.kind {
                Kind::File => self.get_file(&child, &entry.meta, &target, how),
                Kind::Dir => self.get_tree(&child, &entry.meta, &target, how),
                Kind::Symlink => {
                    self.notice(&format!(
                        "skipping symbolic link {} (links are never followed)",
                        child.shown()
                    ));
                    0
                }
                Kind::Other => {
                    self.notice(&format!("skipping {}: not a regular file", child.shown()));
                    0
                }
            };
        }
        if let Err(message) = self.keep_meta(local, meta, how) {
            self.complain(&message);
            failed += 1;
        }
        failed
    }

    /// `put [-a] [-p] [-r] LOCAL... [REMOTE]`
    pub(super) fn put(&mut self, args: &[Word], how: Copy) -> Result<(), String> {
        let (sources, dest) = split_destination(args);
        if sources.is_empty() {
            return Err("usage: put [-a] [-p] [-r] LOCAL... [REMOTE]".into());
        }
        let mut failed = 0;
        let mut items = Vec::new();
        for word in sources {
            let matches = local_matches(&self.lcwd, word);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                failed += 1;
            }
            items.extend(matches.into_iter().map(|(p, _)| (p, word.has_magic())));
        }
        let dest = dest.map(|d| self.cwd.resolve(&d.text));
        let into = match &dest {
            None => Some(self.cwd.clone()),
            Some(d) => match self.server.stat(d) {
                Ok(m) if m.kind == Kind::Dir => Some(d.clone()),
                Ok(_) | Err(TransferError::Refused(_)) if items.len() > 1 => {
                    return Err(format!(
                        "{} files match, so the destination must be a directory, and {} is not one",
                        items.len(),
                        d.shown()
                    ))
                }
                Ok(_) => None,
                Err(TransferError::Refused(ref e)) if e.code == ErrorCode::NotFound => None,
                Err(e) => return Err(e.to_string()),
            },
        };
        let total = items.len();
        for (local, globbed) in items {
            let shown = self.here(&local);
            let target = match (&into, paths::local_name(&local), &dest) {
                (Some(dir), Some(Ok(name)), _) => dir.join(name),
                (None, _, Some(d)) => d.clone(),
                (Some(_), Some(Err(message)), _) => {
                    self.complain(&message);
                    failed += 1;
                    continue;
                }
                _ => {
                    self.complain(&format!("{shown}: name a remote destination for it"));
                    failed += 1;
                    continue;
                }
            };
            failed += match fs::metadata(&local) {
                Err(e) => {
                    self.complain(&io_message(&shown, &e));
                    1
                }
                Ok(m) if m.is_file() => self.put_file(&local, &target, how),
                Ok(m) if m.is_dir() && how.recursive => self.put_tree(&local, &target, how),
                Ok(m) if m.is_dir() => self.skip_folder(&shown, "put", globbed),
                Ok(_) => {
                    self.notice(&format!("skipping {shown}: not a regular file"));
                    0
                }
            };
        }
        failures(failed, total, "files")
    }

    /// One local file to `remote`; 0 or 1 failures.
    fn put_file(&mut self, local: &Path, remote: &RemotePath, how: Copy) -> usize {
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

    /// A local folder into `remote`, whole; returns the number of failures.
    fn put_tree(&mut self, local: &Path, remote: &RemotePath, how: Copy) -> usize {
        if let Err(message) = make_remote_dir(&mut self.server, remote) {
            self.complain(&message);
            return 1;
        }
        let entries = match read_dir(local) {
            Ok(entries) => entries,
            Err(message) => {
                self.complain(&message);
                return 1;
            }
        };
        let mut failed = 0;
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(message) => {
                    self.complain(&message);
                    failed += 1;
                    continue;
                }
            };
            let child = paths::local_join(local, &entry.name);
            let shown = self.here(&child);
            let target = remote.join(&entry.name);
            // Looked at again now: the listing may be stale.
            failed += match fs::symlink_metadata(&child) {
                Err(e) => {
                    self.complain(&io_message(&shown, &e));
                    1
                }
                Ok(m) if m.file_type().is_symlink() => {
                    self.notice(&format!(
                        "skipping symbolic link {shown} (links are never followed)"
                    ));
                    0
                }
                Ok(m) if m.is_dir() => self.put_tree(&child, &target, how),
                Ok(m) if m.is_file() => self.put_file(&child, &target, how),
                Ok(_) => {
                    self.notice(&format!("skipping {shown}: not a regular file"));
                    0
                }
            };
        }
        failed
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
