//! What `get`, `put`, `reget` and `reput` share: their options, how the destination is read, how failures are counted (per file, whatever argument named it), and the meter that says how a file is moving. The two directions are `get` and `put`.

use super::words::Word;
use super::Shell;
use crate::file_service::progress::{human_bytes, Progress};
use crate::file_service::transfer::{Event, TransferError};
use std::io::{self, Write};
use std::time::Instant;

/// How far `get -r` and `put -r` go, whatever a tree holds (a server can send a tree
/// without end): at most `max_depth` folders below the one named (sftp stops at 64 too) and
/// `max_entries` entries in all, for one command. file_shell's `--max-depth` and
/// `--max-entries` set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    pub max_depth: usize,
    pub max_entries: usize,
}

impl Default for TreeLimits {
    fn default() -> TreeLimits {
        TreeLimits {
            max_depth: 64,
            max_entries: 1_000_000,
        }
    }
}

/// One recursive copy against its [`TreeLimits`].
#[derive(Debug, Default)]
pub(super) struct Walk {
    limits: TreeLimits,
    entries: usize,
    /// The entry bound was passed and said: the copy stops.
    stopped: bool,
}

impl Walk {
    pub fn new(limits: TreeLimits) -> Walk {
        Walk {
            limits,
            entries: 0,
            stopped: false,
        }
    }

    /// Whether a folder `depth` levels below the one named may be entered; the message if not.
    pub fn enter(&self, depth: usize, shown: &str) -> Result<(), String> {
        if depth > self.limits.max_depth {
            return Err(format!(
                "{shown}: not copied: deeper than --max-depth {} folders",
                self.limits.max_depth
            ));
        }
        Ok(())
    }

    /// Counts one entry of a tree; past `max_entries` the copy stops, and says so once.
    pub fn count(&mut self, command: &str) -> Result<(), Option<String>> {
        if self.stopped {
            return Err(None);
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            self.stopped = true;
            return Err(Some(format!(
                "{command} -r stopped: more than --max-entries {} entries",
                self.limits.max_entries
            )));
        }
        Ok(())
    }
}

/// What `-r` (or `-R`), `-a` and `-p` asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Copy {
    pub recursive: bool,
    pub resume: bool,
    pub preserve: bool,
}

impl Copy {
    pub fn from_flags(flags: &[char], resume: bool) -> Copy {
        Copy {
            recursive: flags.contains(&'r') || flags.contains(&'R'),
            resume: resume || flags.contains(&'a'),
            preserve: flags.contains(&'p'),
        }
    }
}

/// Sources and the optional destination: the last of two or more words.
pub(super) fn split_destination(args: &[Word]) -> (&[Word], Option<&Word>) {
    match args {
        [] | [_] => (args, None),
        [sources @ .., dest] => (sources, Some(dest)),
    }
}

/// A destination typed with a trailing `/` names a directory that must exist
/// (as in sftp, scp and cp), never a new file.
pub(super) fn must_be_a_directory(dest: &Word) -> bool {
    dest.text.ends_with('/') || (cfg!(windows) && dest.text.ends_with('\\'))
}

/// Files a command tried to copy, and how many of them failed: counted the
/// same way (per file, whatever argument named it), so that `N of M` adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub tried: usize,
    pub failed: usize,
}

impl Tally {
    pub fn success() -> Tally {
        Tally {
            tried: 1,
            failed: 0,
        }
    }

    pub fn failure() -> Tally {
        Tally {
            tried: 1,
            failed: 1,
        }
    }

    /// Skipped on purpose (a notice was said): not counted.
    pub fn skipped() -> Tally {
        Tally::default()
    }

    pub fn of(result: &Result<(), String>) -> Tally {
        match result {
            Ok(()) => Tally::success(),
            Err(_) => Tally::failure(),
        }
    }

    pub fn add(&mut self, other: Tally) {
        self.tried += other.tried;
        self.failed += other.failed;
    }

    /// The command's outcome.
    pub fn outcome(self) -> Result<(), String> {
        super::failures(self.failed, self.tried, "files")
    }
}

/// Says what happens to a file while it moves: resuming, starting over,
/// and the progress line on a terminal.
pub(super) struct Meter<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    label: String,
    what: &'static str,
    show: bool,
    bar: Option<Progress<io::Stderr>>,
}

impl Meter<'_> {
    pub(super) fn event(&mut self, event: Event) {
        // Nothing sensible is left to do when the terminal itself is gone.
        match event {
            Event::StartingOver(reason) => {
                let _ = writeln!(
                    self.err,
                    "{}: starting over: {}",
                    self.label,
                    crate::core::escape::text(reason)
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

    pub(super) fn finish(&mut self, size: u64) {
        if let Some(bar) = self.bar.as_mut() {
            let _ = bar.finish(size, Instant::now());
        }
    }
}

/// A message for a failed transfer: the server's own message names the
/// path already; other failures get it in front. One stopped by Ctrl-C
/// starts with `Interrupted`, as in sftp, and says what was kept.
pub(super) fn transfer_message(name: &str, e: &TransferError) -> String {
    match e {
        TransferError::Refused(_) => e.to_string(),
        TransferError::Interrupted(m) => {
            format!(
                "Interrupted: {name}: {}",
                m.strip_prefix("interrupted; ").unwrap_or(m)
            )
        }
        _ => format!("{name}: {e}"),
    }
}

impl Shell {
    pub(super) fn meter<'a>(
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

    /// A folder named without `-r`: a failure if named on purpose, a notice if a wildcard matched it.
    pub(super) fn skip_folder(&mut self, shown: &str, command: &str, globbed: bool) -> Tally {
        let message = format!("skipping directory {shown} ({command} -r copies folders)");
        self.skip(&message, globbed)
    }

    /// A symbolic link: never followed, wherever it is met; named on purpose
    /// that is a failure, matched by a wildcard or met inside a folder a notice.
    pub(super) fn skip_link(&mut self, shown: &str, on_purpose: bool) -> Tally {
        let message = format!("skipping symbolic link {shown} (links are never followed)");
        self.skip(&message, !on_purpose)
    }

    fn skip(&mut self, message: &str, just_a_notice: bool) -> Tally {
        if just_a_notice {
            self.notice(message);
            Tally::skipped()
        } else {
            self.complain(message);
            Tally::failure()
        }
    }

    /// A file's outcome, its failure said on stderr.
    pub(super) fn count(&mut self, result: Result<(), String>) -> Tally {
        let tally = Tally::of(&result);
        if let Err(message) = result {
            self.complain(&message);
        }
        tally
    }

    /// Ctrl-C was typed: the rest of the command is not done.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupt.is_requested()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_file() {
        let mut t = Tally::default();
        t.add(Tally::success());
        t.add(Tally::skipped());
        assert_eq!(t.outcome(), Ok(()));
        let mut tree = Tally::default();
        for _ in 0..8 {
            tree.add(Tally::failure());
        }
        tree.add(Tally::success());
        tree.add(Tally::success());
        t.add(tree);
        assert_eq!(t.outcome(), Err("8 of 11 files failed (see above)".into()));
    }

    #[test]
    fn a_trailing_slash_asks_for_a_directory() {
        assert!(must_be_a_directory(&Word::bare("dir/")));
        assert!(!must_be_a_directory(&Word::bare("dir")));
        assert!(Copy::from_flags(&['R'], false).recursive);
        let m = transfer_message(
            "/a",
            &TransferError::Interrupted("interrupted; a.part kept".into()),
        );
        assert_eq!(m, "Interrupted: /a: a.part kept");
    }
}
