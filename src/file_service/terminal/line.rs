//! The line being edited: its characters and the cursor, and every edit the keys ask for (as in readline's emacs mode).

/// A line of text with a cursor, counted in characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditLine {
    chars: Vec<char>,
    cursor: usize,
}

impl EditLine {
    pub fn new() -> EditLine {
        EditLine::default()
    }

    /// `text`, with the cursor at its end.
    pub fn with_text(text: &str) -> EditLine {
        let chars: Vec<char> = text.chars().collect();
        EditLine {
            cursor: chars.len(),
            chars,
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The cursor's position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The text left of the cursor (what completion looks at).
    pub fn before_cursor(&self) -> String {
        self.chars[..self.cursor].iter().collect()
    }

    pub fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Replaces the characters from `start` to the cursor with `text`.
    pub fn replace_before_cursor(&mut self, start: usize, text: &str) {
        let start = start.min(self.cursor);
        let new: Vec<char> = text.chars().collect();
        let added = new.len();
        self.chars.splice(start..self.cursor, new);
        self.cursor = start + added;
    }

    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// To the start of this word, or of the one before.
    pub fn word_left(&mut self) {
        while self.cursor > 0 && self.chars[self.cursor - 1].is_whitespace() {
            self.cursor -= 1;
        }
        while self.cursor > 0 && !self.chars[self.cursor - 1].is_whitespace() {
            self.cursor -= 1;
        }
    }

    /// To the end of this word, or of the next.
    pub fn word_right(&mut self) {
        let len = self.chars.len();
        while self.cursor < len && self.chars[self.cursor].is_whitespace() {
            self.cursor += 1;
        }
        while self.cursor < len && !self.chars[self.cursor].is_whitespace() {
            self.cursor += 1;
        }
    }

    /// Ctrl-U: everything left of the cursor.
    pub fn kill_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Ctrl-K: everything from the cursor on.
    pub fn kill_to_end(&mut self) {
        self.chars.truncate(self.cursor);
    }

    /// Ctrl-W: the word left of the cursor and the blanks after it.
    pub fn kill_word_before(&mut self) {
        let end = self.cursor;
        self.word_left();
        self.chars.drain(self.cursor..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, cursor: usize) -> EditLine {
        let mut line = EditLine::with_text(text);
        line.cursor = cursor;
        line
    }

    #[test]
    fn typing_and_moving() {
        let mut line = EditLine::new();
        for c in "gt a".chars() {
            line.insert(c);
        }
        line.home();
        line.right();
        line.insert('e');
        assert_eq!((line.text(), line.cursor()), ("get a".into(), 2));
        line.end();
        line.left();
        line.backspace();
        assert_eq!((line.text(), line.cursor()), ("geta".into(), 3));
        line.delete();
        line.delete();
        assert_eq!(line.text(), "get");
        line.home();
        line.backspace();
        line.left();
        assert_eq!((line.text(), line.cursor()), ("get".into(), 0));
    }

    #[test]
    fn kills() {
        let mut line = at("get my file.txt", 6);
        line.kill_to_end();
        assert_eq!(line.text(), "get my");
        let mut line = at("get my file.txt", 6);
        line.kill_to_start();
        assert_eq!((line.text(), line.cursor()), (" file.txt".into(), 0));
        let mut line = at("get my  file", 8);
        line.kill_word_before();
        assert_eq!((line.text(), line.cursor()), ("get file".into(), 4));
        let mut line = at("put 文件", 6);
        line.kill_word_before();
        assert_eq!(line.text(), "put ");
    }

    #[test]
    fn words() {
        let mut line = at("get  one two", 12);
        line.word_left();
        assert_eq!(line.cursor(), 9);
        line.word_left();
        assert_eq!(line.cursor(), 5);
        line.word_right();
        assert_eq!(line.cursor(), 8);
    }

    #[test]
    fn completion_replaces_the_word_left_of_the_cursor() {
        let mut line = at("get do rest", 6);
        line.replace_before_cursor(4, "docs/");
        assert_eq!((line.text(), line.cursor()), ("get docs/ rest".into(), 9));
    }
}
