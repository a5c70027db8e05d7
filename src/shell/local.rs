//! The local side of `file_shell`: `lpwd`, `lcd`, `lls`, `lmkdir`, `!command`, and local listings for wildcard expansion.

use super::expand::{expand, Found, Side};
use super::listing::{self, Browse};
use super::words::Word;
use super::{paths, Shell};
use crate::protocol::{Entry, Meta};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The local side of [`expand`]: `std::fs`, entries sorted by name bytes,
/// described without following links.
pub struct LocalSide;

impl Side for LocalSide {
    type Path = PathBuf;
    type Meta = Meta;

    fn join(&self, dir: &PathBuf, name: &[u8]) -> PathBuf {
        dir.join(paths::local_from_bytes(name))
    }

    fn parent(&self, path: &PathBuf) -> PathBuf {
        path.parent()
            .map_or_else(|| path.clone(), Path::to_path_buf)
    }

    fn list(&mut self, dir: &PathBuf) -> Result<Vec<Found<Meta>>, String> {
        read_dir(dir).map(|entries| {
            entries
                .into_iter()
                .map(|e| Found {
                    dir_like: dir.join(paths::local_from_bytes(&e.name)).is_dir(),
                    name: e.name,
                    meta: e.meta,
                })
                .collect()
        })
    }
}

/// A local directory's entries, sorted by name bytes, links described as links.
pub fn read_dir(dir: &Path) -> Result<Vec<Entry>, String> {
    let shown = paths::shown_local(dir);
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_message(&shown, &e))? {
        let entry = entry.map_err(|e| io_message(&shown, &e))?;
        // Gone since the directory was read: not there any more.
        let Ok(meta) = entry.metadata() else { continue };
        out.push(Entry {
            name: entry.file_name().as_bytes().to_vec(),
            meta: Meta::from_metadata(&meta),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `what: reason` for a failed local operation.
pub fn io_message(what: &str, err: &std::io::Error) -> String {
    format!("{what}: {}", crate::cli::describe_io(err))
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
        self.lcwd = real;
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

    /// `!command` with `sh -c` in the local directory; a lone `!` starts a shell.
    pub(super) fn bang(&mut self, command: &str) -> Result<(), String> {
        let mut cmd = if command.trim().is_empty() {
            if !self.interactive {
                return Err(
                    "!: a lone ! starts an interactive shell; give a command in batch mode".into(),
                );
            }
            let shell = std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into());
            Command::new(shell)
        } else {
            let mut sh = Command::new("/bin/sh");
            sh.arg("-c").arg(command);
            sh
        };
        // In batch mode stdin holds the rest of the script, which is not the command's.
        if !self.interactive {
            cmd.stdin(Stdio::null());
        }
        self.flush();
        let status = cmd
            .current_dir(&self.lcwd)
            .status()
            .map_err(|e| io_message("!: cannot run sh", &e))?;
        match status.code() {
            Some(0) => Ok(()),
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
        read_dir(dir)
    }

    fn shown(&self, path: &PathBuf) -> String {
        paths::shown_local(path)
    }

    /// Relative to the local directory when below it.
    fn relative(&self, path: &PathBuf) -> Vec<u8> {
        path.strip_prefix(self.cwd)
            .unwrap_or(path)
            .as_os_str()
            .as_bytes()
            .to_vec()
    }
}
