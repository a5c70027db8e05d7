//! Tab completion, the part that knows nothing of what is completed: what a completer answers, the longest common prefix of the answers, and the choices laid out in columns as `ls` does.

use super::display::text_width;

/// One way to finish the word left of the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The whole word as it would be typed (quoted or escaped where needed).
    pub replacement: String,
    /// How it is listed among the choices (escaped for the screen).
    pub shown: String,
    /// When it is the only choice, a space follows; not after a directory,
    /// whose names come next.
    pub finished: bool,
}

/// A completer's answer: where the word starts (in characters) and the candidates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    pub start: usize,
    pub candidates: Vec<Candidate>,
}

/// What the editor asks on Tab.
pub trait Completer {
    /// The ways to finish the last word of `before_cursor`, the line left of the cursor.
    fn complete(&mut self, before_cursor: &str) -> Completion;
}

/// A completer with nothing to offer.
pub struct NoCompletion;

impl Completer for NoCompletion {
    fn complete(&mut self, _before_cursor: &str) -> Completion {
        Completion::default()
    }
}

/// The longest start all of `words` share (whole characters).
pub fn common_prefix<S: AsRef<str>>(words: &[S]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut prefix: Vec<char> = first.as_ref().chars().collect();
    for word in &words[1..] {
        let same = prefix
            .iter()
            .zip(word.as_ref().chars())
            .take_while(|(a, b)| **a == *b)
            .count();
        prefix.truncate(same);
    }
    prefix.into_iter().collect()
}

/// `names` in columns down the rows, as `ls` lays them out, to fit `width`.
pub fn columns<S: AsRef<str>>(names: &[S], width: usize) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let column = names
        .iter()
        .map(|n| text_width(n.as_ref()))
        .max()
        .unwrap_or(0)
        + 2;
    let per_row = (width / column).max(1);
    let rows = names.len().div_ceil(per_row);
    (0..rows)
        .map(|row| {
            let mut line = String::new();
            let mut at = row;
            while at < names.len() {
                let name = names[at].as_ref();
                line.push_str(name);
                at += rows;
                if at < names.len() {
                    line.push_str(&" ".repeat(column - text_width(name)));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(common_prefix(&["notes.txt", "notes.md", "now"]), "no");
        assert_eq!(common_prefix(&["文件一", "文件二"]), "文件");
        assert_eq!(common_prefix(&["a"]), "a");
        assert_eq!(common_prefix::<&str>(&[]), "");
        assert_eq!(common_prefix(&["x", "y"]), "");
    }

    #[test]
    fn choices_in_columns_down_the_rows() {
        let names = ["a.txt", "b.txt", "c.txt", "docs/", "e"];
        // Each column is 7 wide: 2 fit in 16 columns, so 3 rows.
        assert_eq!(columns(&names, 16), ["a.txt  docs/", "b.txt  e", "c.txt"]);
        assert_eq!(columns(&names, 80), ["a.txt  b.txt  c.txt  docs/  e"]);
        // Too narrow for even one: one a row.
        assert_eq!(columns(&["long name"], 4), ["long name"]);
        // Wide characters take two columns each.
        assert_eq!(columns(&["文件", "ab"], 80), ["文件  ab"]);
    }
}
