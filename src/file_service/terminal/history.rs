//! The lines typed at the prompt, for Up and Down: this session's, and the last ones of earlier sessions, kept in a file that never grows past a bound.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// How many lines are kept, in memory and in the file.
pub const MAX_LINES: usize = 1000;
/// Longer lines are used but not kept: a history file is not an archive.
const MAX_LINE_BYTES: usize = 4096;

/// The lines typed so far, oldest first, and the file that keeps them.
#[derive(Debug, Default)]
pub struct History {
    lines: Vec<String>,
    file: Option<PathBuf>,
}

impl History {
    /// A history kept only for this session.
    pub fn in_memory() -> History {
        History::default()
    }

    /// The history kept in `file`: its last [`MAX_LINES`] lines now, and each
    /// new line appended. A file that cannot be read starts an empty history;
    /// one that grew to twice the bound is cut back to it.
    pub fn in_file(file: PathBuf) -> History {
        let text = fs::read(&file).unwrap_or_default();
        let all: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let keep = all.len().saturating_sub(MAX_LINES);
        let lines = all[keep..].to_vec();
        if all.len() >= 2 * MAX_LINES {
            let mut text = lines.join("\n");
            text.push('\n');
            // A history that cannot be written is only a convenience lost.
            let _ = fs::write(&file, text);
        }
        History {
            lines,
            file: Some(file),
        }
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Adds a line typed at the prompt (not a blank one, nor the same as the last).
    pub fn add(&mut self, line: &str) {
        if line.trim().is_empty()
            || line.contains(['\n', '\r'])
            || self.lines.last().is_some_and(|last| last == line)
        {
            return;
        }
        self.lines.push(line.to_owned());
        if self.lines.len() > MAX_LINES {
            self.lines.remove(0);
        }
        if line.len() > MAX_LINE_BYTES {
            return;
        }
        if let Some(file) = &self.file {
            let appended = OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .and_then(|mut f| writeln!(f, "{line}"));
            // Nowhere to keep it (a read-only home): this session still has it.
            if appended.is_err() {
                self.file = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_and_repeats_are_not_kept() {
        let mut h = History::in_memory();
        for line in ["ls", "ls", "  ", "pwd", "ls"] {
            h.add(line);
        }
        assert_eq!(h.lines(), ["ls", "pwd", "ls"]);
    }

    #[test]
    fn the_file_keeps_lines_across_sessions_and_stays_bounded() {
        let dir = crate::test_support::TempDir::new("history");
        let file = dir.join("history");
        let mut h = History::in_file(file.clone());
        h.add("get a.txt");
        h.add("cd docs");
        drop(h);
        let h = History::in_file(file.clone());
        assert_eq!(h.lines(), ["get a.txt", "cd docs"]);

        let many: String = (0..2 * MAX_LINES + 5)
            .map(|i| format!("ls {i}\n"))
            .collect();
        fs::write(&file, many).unwrap();
        let mut h = History::in_file(file.clone());
        assert_eq!(h.lines().len(), MAX_LINES);
        assert_eq!(h.lines()[0], format!("ls {}", MAX_LINES + 5));
        let on_disk = fs::read_to_string(&file).unwrap();
        assert_eq!(on_disk.lines().count(), MAX_LINES, "the file was cut back");
        h.add("bye");
        assert_eq!(h.lines().len(), MAX_LINES);
        assert_eq!(h.lines().last().unwrap(), "bye");
    }
}
