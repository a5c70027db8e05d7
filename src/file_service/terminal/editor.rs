//! One prompt's line editing: keys from the [`super::Keyboard`] applied to an [`EditLine`], Up and Down through the [`History`], Tab asking a [`Completer`], and the row redrawn after each batch of keys.

use super::completion::{columns, common_prefix, Completer};
use super::display::render;
use super::history::History;
use super::keyboard::{KeySource, Typed};
use super::keys::{Key, KeyParser};
use super::line::EditLine;
use std::collections::VecDeque;
use std::io::{self, Write};

/// How many choices a double Tab lists before it says how many more there are.
const MAX_LISTED: usize = 200;

/// What one prompt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Enter: the line.
    Line(String),
    /// Ctrl-C: the line was given up.
    Cancelled,
    /// Ctrl-D on an empty line, or the terminal went away.
    End,
}

/// Edits lines at the prompt, keeping keys typed ahead for the next one.
#[derive(Debug)]
pub struct LineEditor {
    history: History,
    parser: KeyParser,
    typed_ahead: VecDeque<u8>,
    ended: bool,
}

/// The state of the line during one prompt.
struct Prompt<'a> {
    text: &'a str,
    line: EditLine,
    offset: usize,
    columns: usize,
    /// Which history line is shown (`None`: the one being typed).
    browsing: Option<usize>,
    /// The line being typed, kept while the history is browsed.
    draft: String,
    /// The key before was Tab: another lists the choices.
    after_tab: bool,
    out: Vec<u8>,
}

impl LineEditor {
    pub fn new(history: History) -> LineEditor {
        LineEditor {
            history,
            parser: KeyParser::new(),
            typed_ahead: VecDeque::new(),
            ended: false,
        }
    }

    /// Shows `prompt` and edits a line until Enter, Ctrl-C or the end.
    pub fn read_line(
        &mut self,
        prompt: &str,
        keyboard: &mut dyn KeySource,
        screen: &mut dyn Write,
        columns: usize,
        completer: &mut dyn Completer,
    ) -> io::Result<Reading> {
        let mut p = Prompt {
            text: prompt,
            line: EditLine::new(),
            offset: 0,
            columns,
            browsing: None,
            draft: String::new(),
            after_tab: false,
            out: Vec::new(),
        };
        p.redraw();
        loop {
            if self.typed_ahead.is_empty() {
                flush(screen, &mut p.out)?;
                if self.ended {
                    p.out.extend_from_slice(b"\n");
                    flush(screen, &mut p.out)?;
                    return Ok(Reading::End);
                }
                self.wait_for_keys(keyboard);
                continue;
            }
            while let Some(byte) = self.typed_ahead.pop_front() {
                let Some(key) = self.parser.push(byte) else {
                    continue;
                };
                if let Some(reading) = self.apply(&mut p, key, completer) {
                    flush(screen, &mut p.out)?;
                    return Ok(reading);
                }
            }
            p.redraw();
        }
    }

    /// Blocks until something is typed, then takes all that is waiting.
    fn wait_for_keys(&mut self, keyboard: &mut dyn KeySource) {
        let mut next = Some(keyboard.next());
        while let Some(typed) = next {
            match typed {
                Typed::Bytes(bytes) => self.typed_ahead.extend(bytes),
                Typed::End => {
                    self.ended = true;
                    break;
                }
            }
            next = keyboard.pending();
        }
    }

    /// One key; `Some` when it ends the prompt.
    fn apply(
        &mut self,
        p: &mut Prompt,
        key: Key,
        completer: &mut dyn Completer,
    ) -> Option<Reading> {
        let was_tab = std::mem::replace(&mut p.after_tab, false);
        match key {
            Key::Char(c) if is_shown_as_is(c) => p.line.insert(c),
            Key::Char(_) | Key::Ignored => {}
            Key::Enter => {
                p.line.end();
                p.redraw();
                p.out.extend_from_slice(b"\n");
                let text = p.line.text();
                self.history.add(&text);
                return Some(Reading::Line(text));
            }
            Key::Interrupt => {
                p.line.end();
                p.redraw();
                p.out.extend_from_slice(b"^C\n");
                return Some(Reading::Cancelled);
            }
            Key::CtrlD if p.line.is_empty() => {
                p.redraw();
                p.out.extend_from_slice(b"\n");
                return Some(Reading::End);
            }
            Key::CtrlD | Key::Delete => p.line.delete(),
            Key::Backspace => p.line.backspace(),
            Key::Left => p.line.left(),
            Key::Right => p.line.right(),
            Key::WordLeft => p.line.word_left(),
            Key::WordRight => p.line.word_right(),
            Key::Home => p.line.home(),
            Key::End => p.line.end(),
            Key::KillToStart => p.line.kill_to_start(),
            Key::KillToEnd => p.line.kill_to_end(),
            Key::KillWordBefore => p.line.kill_word_before(),
            Key::ClearScreen => p.out.extend_from_slice(b"\x1b[H\x1b[2J"),
            Key::Up => self.older(p),
            Key::Down => self.newer(p),
            Key::Tab => {
                complete(p, completer, was_tab);
                p.after_tab = true;
            }
        }
        None
    }

    fn older(&self, p: &mut Prompt) {
        let lines = self.history.lines();
        let index = match p.browsing {
            None if lines.is_empty() => return,
            None => {
                p.draft = p.line.text();
                lines.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        p.browsing = Some(index);
        p.line = EditLine::with_text(&lines[index]);
    }

    fn newer(&self, p: &mut Prompt) {
        let lines = self.history.lines();
        match p.browsing {
            None => {}
            Some(i) if i + 1 < lines.len() => {
                p.browsing = Some(i + 1);
                p.line = EditLine::with_text(&lines[i + 1]);
            }
            Some(_) => {
                p.browsing = None;
                p.line = EditLine::with_text(&p.draft);
            }
        }
    }
}

impl Prompt<'_> {
    fn redraw(&mut self) {
        let row = render(self.text, &self.line, self.columns, &mut self.offset);
        self.out.extend_from_slice(row.as_bytes());
    }
}

/// Tab: the one candidate, or the longest prefix they share; on a second Tab, the list.
fn complete(p: &mut Prompt, completer: &mut dyn Completer, second: bool) {
    let completion = completer.complete(&p.line.before_cursor());
    let candidates = completion.candidates;
    let start = completion.start;
    if let [only] = candidates.as_slice() {
        let mut word = only.replacement.clone();
        if only.finished {
            word.push(' ');
        }
        p.line.replace_before_cursor(start, &word);
        return;
    }
    let typed: String = p.line.chars()[start.min(p.line.cursor())..p.line.cursor()]
        .iter()
        .collect();
    let replacements: Vec<&str> = candidates.iter().map(|c| c.replacement.as_str()).collect();
    let prefix = common_prefix(&replacements);
    if prefix.chars().count() > typed.chars().count() && prefix.starts_with(&typed) {
        p.line.replace_before_cursor(start, &prefix);
    } else if second && !candidates.is_empty() {
        p.out.extend_from_slice(b"\n");
        let shown: Vec<&str> = candidates
            .iter()
            .take(MAX_LISTED)
            .map(|c| c.shown.as_str())
            .collect();
        for row in columns(&shown, p.columns) {
            p.out.extend_from_slice(row.as_bytes());
            p.out.extend_from_slice(b"\n");
        }
        if candidates.len() > MAX_LISTED {
            let more = format!("... and {} more\n", candidates.len() - MAX_LISTED);
            p.out.extend_from_slice(more.as_bytes());
        }
    } else {
        // Nothing to add: the terminal's bell, as readline does.
        p.out.push(0x07);
    }
}

/// Characters that may be typed into the line: what the escaper would leave
/// alone (no control, bidi or zero-width characters pasted in).
fn is_shown_as_is(c: char) -> bool {
    let mut buf = [0u8; 4];
    let one = c.encode_utf8(&mut buf);
    crate::core::escape::text(one) == *one
}

fn flush(screen: &mut dyn Write, out: &mut Vec<u8>) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    screen.write_all(out)?;
    screen.flush()?;
    out.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::terminal::completion::{Candidate, Completion};

    /// Keys typed all at once, then the end.
    struct Script(Option<Vec<u8>>);

    impl KeySource for Script {
        fn next(&mut self) -> Typed {
            self.0.take().map_or(Typed::End, Typed::Bytes)
        }
        fn pending(&mut self) -> Option<Typed> {
            None
        }
    }

    /// Completes from a fixed list of names, the word after the last space.
    struct Names(&'static [&'static str]);

    impl Completer for Names {
        fn complete(&mut self, before: &str) -> Completion {
            let start = before.rfind(' ').map_or(0, |i| i + 1);
            let word = &before[start..];
            Completion {
                start: before[..start].chars().count(),
                candidates: self
                    .0
                    .iter()
                    .filter(|n| n.starts_with(word))
                    .map(|n| Candidate {
                        replacement: n.to_string(),
                        shown: n.to_string(),
                        finished: !n.ends_with('/'),
                    })
                    .collect(),
            }
        }
    }

    /// Runs the editor over `keys`: each reading, and the screen as text.
    fn run(
        editor: &mut LineEditor,
        keys: &[u8],
        names: &'static [&'static str],
    ) -> (Vec<Reading>, String) {
        let mut source = Script(Some(keys.to_vec()));
        let mut screen = Vec::new();
        let mut readings = Vec::new();
        loop {
            let r = editor
                .read_line("file> ", &mut source, &mut screen, 80, &mut Names(names))
                .unwrap();
            readings.push(r.clone());
            if r == Reading::End {
                break;
            }
        }
        editor.ended = false;
        (readings, String::from_utf8_lossy(&screen).into_owned())
    }

    fn line(text: &str) -> Reading {
        Reading::Line(text.into())
    }

    #[test]
    fn edits_and_lines_typed_ahead() {
        let mut e = LineEditor::new(History::in_memory());
        // "gt", Home, Right, "e", End, " a", Enter; then "ls x", Ctrl-W, Enter.
        let (got, _) = run(&mut e, b"gt\x01\x1b[Ce\x05 a\rls x\x17\r", &[]);
        assert_eq!(got, [line("get a"), line("ls "), Reading::End]);
        // Ctrl-U and Ctrl-K; Ctrl-D deletes inside a line and ends an empty one.
        let (got, _) = run(
            &mut e,
            b"xx pwd\x1b[D\x1b[D\x1b[D\x15\x05\x0b\rab\x01\x04\r\x04",
            &[],
        );
        assert_eq!(got, [line("pwd"), line("b"), Reading::End]);
    }

    #[test]
    fn ctrl_c_gives_the_line_up_and_control_characters_are_not_typed() {
        let mut e = LineEditor::new(History::in_memory());
        let (got, screen) = run(&mut e, b"abc\x03pw\x00d\r", &[]);
        assert_eq!(got, [Reading::Cancelled, line("pwd"), Reading::End]);
        assert!(screen.contains("abc\x1b[K\r\x1b[9C^C\n"), "{screen:?}");
        let (got, _) = run(&mut e, "a\u{202e}b\x07c\r".as_bytes(), &[]);
        assert_eq!(got[0], line("abc"));
    }

    #[test]
    fn up_and_down_walk_the_history_and_keep_the_draft() {
        let mut e = LineEditor::new(History::in_memory());
        run(&mut e, b"cd docs\rget a.txt\r", &[]);
        // Up twice, Enter: the older line.
        let (got, _) = run(&mut e, b"\x1b[A\x1b[A\r", &[]);
        assert_eq!(got[0], line("cd docs"));
        // Typed "ls", Up, Down: "ls" is back.
        let (got, _) = run(&mut e, b"ls\x1b[A\x1b[B\r", &[]);
        assert_eq!(got[0], line("ls"));
        // Ctrl-P is Up too; past the oldest it stays there.
        let (got, _) = run(&mut e, b"\x10\x10\x10\x10\x10\x10\r", &[]);
        assert_eq!(got[0], line("cd docs"));
    }

    #[test]
    fn tab_completes_then_lists_on_a_second_tab() {
        let names: &'static [&'static str] = &["notes.txt", "notes.md", "docs/"];
        let mut e = LineEditor::new(History::in_memory());
        // One candidate: a directory gets no space after it.
        let (got, _) = run(&mut e, b"get d\tx\r", names);
        assert_eq!(got[0], line("get docs/x"));
        let (got, _) = run(&mut e, b"get notes.t\tx\r", names);
        assert_eq!(got[0], line("get notes.txt x"));
        // The shared prefix first, then the list on the second Tab.
        let (got, screen) = run(&mut e, b"get n\t\t\r", names);
        assert_eq!(got[0], line("get notes."));
        assert!(screen.contains("\nnotes.txt  notes.md\n"), "{screen:?}");
        // Nothing matches: the bell, the line unchanged.
        let (got, screen) = run(&mut e, b"get z\t\r", names);
        assert_eq!(got[0], line("get z"));
        assert!(screen.contains('\x07'), "{screen:?}");
    }
}
