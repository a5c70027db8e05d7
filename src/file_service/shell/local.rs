//! The local side of `file_shell`: `lpwd`, `lcd`, `lls`, `lmkdir`, `!command`, and local listings for wildcard expansion.

use super::expand::{expand, Found, Side};
use super::listing::{self, Browse};
use super::words::Word;
use super::{host, paths, Shell};
use crate::file_service::os_name;
use crate::file_service::protocol::{Entry, Meta};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The local side of [`expand`]: `std::fs`, entries sorted by name bytes,
/// described without following links.
pub struct LocalSide;

impl Side for LocalSide {
    type Path = PathBuf;
    type Meta = Meta;

    fn join(&self, dir: &PathBuf, name: &[u8]) -> PathBuf {
        paths::local_join(dir, name)
    }

    fn parent(&self, path: &PathBuf) -> PathBuf {
        path.parent()
            .map_or_else(|| path.clone(), Path::to_path_buf)
    }

    fn list(&mut self, dir: &PathBuf) -> Result<Vec<Found<Meta>>, String> {
        carried(dir).map(|entries| {
            entries
                .into_iter()
                .map(|e| Found {
                    dir_like: paths::local_join(dir, &e.name).is_dir(),
                    name: e.name,
                    meta: e.meta,
                })
                .collect()
        })
    }
}

/// A local directory's entries, sorted by name bytes, links described as
/// links; after them, an error naming each entry whose name the protocol
/// cannot carry (on Windows, a name that is not valid Unicode).
pub fn read_dir(dir: &Path) -> Result<Vec<Result<Entry, String>>, String> {
    let shown = paths::shown_local(dir);
    let mut out = Vec::new();
    let mut not_carried = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_message(&shown, &e))? {
        let entry = entry.map_err(|e| io_message(&shown, &e))?;
        // Gone since the directory was read: not there any more.
        let Ok(meta) = entry.metadata() else { continue };
        match os_name::to_bytes(&entry.file_name()) {
            Some(name) => out.push(Entry {
                name: name.to_vec(),
                meta: Meta::from_metadata(&meta),
            }),
            None => not_carried.push(Err(paths::not_carried(&entry.path()))),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out.into_iter().map(Ok).chain(not_carried).collect())
}

/// [`read_dir`] for wildcards and `lls`, which leave out a name that cannot be carried (`put -r` names it).
fn carried(dir: &Path) -> Result<Vec<Entry>, String> {
    read_dir(dir).map(|entries| entries.into_iter().filter_map(Result::ok).collect())
}

/// `what: reason` for a failed local operation.
pub fn io_message(what: &str, err: &std::io::Error) -> String {
    format!("{what}: {}", crate::core::cli::describe_io(err))
}

/// The local paths one word names: its wildcard matches, or itself.
pub fn local_matches(cwd: &Path, word: &Word) -> Vec<(PathBuf, Option<Meta>)> {
    if !word.has_magic() {
        return vec![(paths::local(cwd, &word.text), None)];
    }
    let base = if word.pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        cwd.to_path_buf()
    };
    expand(&mut LocalSide, base, &word.pattern, &|_| true)
}

impl Shell {
    pub(super) fn lpwd(&mut self) -> Result<(), String> {
        let line = format!(
            "Local working directory: {}",
            paths::shown_local(&self.lcwd)
        );
        self.say(&line)
    }

    pub(super) fn lcd(&mut self, args: &[Word]) -> Result<(), String> {
        let target = match args {
            [] => paths::local(&self.lcwd, "~"),
            [dir] => paths::local(&self.lcwd, &dir.text),
            _ => return Err("usage: lcd [PATH]".into()),
        };
        let shown = paths::shown_local(&target);
        let real = fs::canonicalize(&target).map_err(|e| io_message(&shown, &e))?;
        if !real.is_dir() {
            return Err(format!("{shown}: not a directory"));
        }
        self.lcwd = crate::file_service::os_name::shown_path(&real);
        Ok(())
    }

    pub(super) fn lmkdir(&mut self, args: &[Word]) -> Result<(), String> {
        let [dir] = args else {
            return Err("usage: lmkdir PATH".into());
        };
        let path = paths::local(&self.lcwd, &dir.text);
        fs::create_dir(&path).map_err(|e| io_message(&paths::shown_local(&path), &e))
    }

    pub(super) fn lls(&mut self, flags: &[char], args: &[Word]) -> Result<(), String> {
        let mut side = LocalBrowse { cwd: &self.lcwd };
        let (said, failed) = listing::ls(&mut side, flags, args);
        self.tell(said)?;
        super::failures(failed, args.len().max(1), "names")
    }

    /// `!command` with the platform's interpreter (`sh -c`, `cmd /C`) in the
    /// local directory; a lone `!` starts that interpreter.
    pub(super) fn bang(&mut self, command: &str) -> Result<(), String> {
        let mut cmd = if command.trim().is_empty() {
            if !self.interactive {
                return Err(
                    "!: a lone ! starts an interactive shell; give a command in batch mode".into(),
                );
            }
            host::interactive()
        } else if self.bang_as_job {
            host::command_as_job(command)
        } else {
            host::command(command)
        };
        // In batch mode stdin holds the rest of the script, which is not the command's.
        if !self.interactive {
            cmd.stdin(Stdio::null());
        }
        self.flush();
        let status = cmd
            .current_dir(&self.lcwd)
            .status()
            .map_err(|e| io_message(&format!("!: cannot run {}", host::INTERPRETER), &e))?;
        match status.code() {
            Some(0) => Ok(()),
            // What a command stopped by Ctrl-C ends with; sftp says `Interrupt`.
            Some(130) if self.bang_as_job => {
                Err("Interrupt: !: the command was stopped (status 130)".into())
            }
            Some(code) => Err(format!("!: the command exited with status {code}")),
            None => Err("!: the command was killed by a signal".into()),
        }
    }
}

/// The local side of `lls`.
struct LocalBrowse<'a> {
    cwd: &'a Path,
}

impl Browse for LocalBrowse<'_> {
    type Path = PathBuf;

    fn matches(&mut self, word: &Word, _all: bool) -> Vec<(PathBuf, Option<Meta>)> {
        local_matches(self.cwd, word)
    }

    fn stat(&mut self, path: &PathBuf) -> Result<Meta, String> {
        fs::metadata(path)
            .map(|m| Meta::from_metadata(&m))
            .map_err(|e| io_message(&paths::shown_local(path), &e))
    }

    fn list(&mut self, dir: &PathBuf) -> Result<Vec<Entry>, String> {
        carried(dir)
    }

    fn shown(&self, path: &PathBuf) -> String {
        paths::shown_local(path)
    }

    /// Relative to the local directory when below it.
    fn relative(&self, path: &PathBuf) -> Vec<u8> {
        let shown = path.strip_prefix(self.cwd).unwrap_or(path).as_os_str();
        match os_name::to_bytes(shown) {
            Some(bytes) => bytes.to_vec(),
            None => shown.to_string_lossy().into_owned().into_bytes(),
        }
    }
}
