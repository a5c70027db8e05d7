//! One command line of `file_shell` into words, as sftp reads them: quotes and backslashes protect spaces and wildcards, `#` starts a comment, and a leading `-` or `@` changes how batch mode treats the line.

use std::fmt;

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word with quotes and escapes removed: a name, an option, a destination.
    pub text: String,
    /// The same word as a wildcard pattern for [`crate::file_service::glob`]: `*`, `?`, `[`,
    /// `]` and `\` that were quoted or escaped are escaped with `\`, so only
    /// wildcards typed bare are wildcards.
    pub pattern: String,
    /// Some of it was quoted or escaped: `'-r'` is a name, not an option.
    pub quoted: bool,
}

impl Word {
    /// A word typed without quotes or escapes.
    pub fn bare(text: &str) -> Word {
        Word {
            text: text.to_owned(),
            pattern: text.to_owned(),
            quoted: false,
        }
    }

    /// Whether the word has an unquoted, unescaped wildcard.
    pub fn has_magic(&self) -> bool {
        crate::file_service::glob::has_magic(&self.pattern)
    }
}

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    UnclosedQuote(char),
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnclosedQuote(q) => write!(f, "unclosed quote {q}"),
        }
    }
}

/// A character that means something to the glob matcher.
fn is_glob_special(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '\\')
}

/// Split a line into words.
///
/// * Spaces and tabs separate words.
/// * `'...'` keeps everything inside as it is.
/// * `"..."` too, except that `\"` and `\\` stand for `"` and `\`.
/// * Outside quotes, `\x` stands for `x` (`my\ file`).
/// * `#` at the start of a word begins a comment that runs to the end of the line.
pub fn split(line: &str) -> Result<Vec<Word>, SplitError> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    // The word being built; `None` between words.
    let mut current: Option<Word> = None;
    let push = |word: &mut Word, c: char, protected: bool| {
        word.quoted |= protected;
        word.text.push(c);
        if protected && is_glob_special(c) {
            word.pattern.push('\\');
        }
        word.pattern.push(c);
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '#' if current.is_none() => break,
            '\'' => {
                let word = current.get_or_insert_with(|| Word::bare(""));
                word.quoted = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => push(word, c, true),
                        None => return Err(SplitError::UnclosedQuote('\'')),
                    }
                }
            }
            '"' => {
                let word = current.get_or_insert_with(|| Word::bare(""));
                word.quoted = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"') | Some('\\')) => {
                            let escaped = chars.next().unwrap_or('\\');
                            push(word, escaped, true);
                        }
                        Some(c) => push(word, c, true),
                        None => return Err(SplitError::UnclosedQuote('"')),
                    }
                }
            }
            '\\' => {
                let word = current.get_or_insert_with(|| Word::bare(""));
                // A backslash at the very end has nothing to escape: it is itself.
                let escaped = chars.next().unwrap_or('\\');
                push(word, escaped, true);
            }
            c => {
                let word = current.get_or_insert_with(|| Word::bare(""));
                push(word, c, false);
            }
        }
    }
    if let Some(word) = current {
        words.push(word);
    }
    Ok(words)
}

/// The words of a line being typed, as far as the cursor: the words before
/// the last one, and the last one (unfinished: an open quote is allowed),
/// with where it starts in characters. After a blank the last word is empty
/// and starts at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    pub before: Vec<String>,
    pub last: String,
    pub start: usize,
}

/// [`split`] for a line still being typed, for Tab completion.
pub fn partial(line: &str) -> Partial {
    let mut before = Vec::new();
    let mut last: Option<(usize, String)> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            match c {
                c if c == q => quote = None,
                '\\' if q == '"' && matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                    if let Some((_, escaped)) = chars.next() {
                        last.get_or_insert_with(|| (i, String::new()))
                            .1
                            .push(escaped);
                    }
                }
                c => last.get_or_insert_with(|| (i, String::new())).1.push(c),
            }
            continue;
        }
        match c {
            ' ' | '\t' => {
                if let Some((_, word)) = last.take() {
                    before.push(word);
                }
            }
            '\'' | '"' => {
                last.get_or_insert_with(|| (i, String::new()));
                quote = Some(c);
            }
            '\\' => {
                let word = &mut last.get_or_insert_with(|| (i, String::new())).1;
                if let Some((_, escaped)) = chars.next() {
                    word.push(escaped);
                }
            }
            c => last.get_or_insert_with(|| (i, String::new())).1.push(c),
        }
    }
    let (start, last) = last.unwrap_or((line.chars().count(), String::new()));
    Partial {
        before,
        last,
        start,
    }
}

/// `text` written so that [`split`] reads it back as one word, as it is:
/// blanks, quotes, backslashes, wildcards and a leading `#` get a backslash.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        if matches!(c, ' ' | '\t' | '\'' | '"' | '\\') || is_glob_special(c) || (c == '#' && i == 0)
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A line of input after its batch prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// `-`: a failure does not stop batch mode.
    pub may_fail: bool,
    /// `@`: batch mode does not echo the line.
    pub quiet: bool,
    /// What is left: a command, `!command`, a comment or nothing.
    pub body: &'a str,
}

impl Line<'_> {
    /// Nothing to run: an empty line or a comment.
    pub fn is_blank(&self) -> bool {
        self.body.is_empty() || self.body.starts_with('#')
    }
}

/// Take the prefixes `-` and `@` (in any order) off the front of a line, and
/// the surrounding blanks.
pub fn prefixes(line: &str) -> Line<'_> {
    let mut body = line.trim_matches([' ', '\t', '\r']);
    let (mut may_fail, mut quiet) = (false, false);
    loop {
        if let Some(rest) = body.strip_prefix('-') {
            may_fail = true;
            body = rest.trim_start_matches([' ', '\t']);
        } else if let Some(rest) = body.strip_prefix('@') {
            quiet = true;
            body = rest.trim_start_matches([' ', '\t']);
        } else {
            break;
        }
    }
    Line {
        may_fail,
        quiet,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(texts("put  a\tb "), ["put", "a", "b"]);
        assert!(texts("   ").is_empty());
        assert!(texts("").is_empty());
    }

    #[test]
    fn quotes_and_backslashes_keep_spaces() {
        assert_eq!(
            texts("get \"my file.txt\" 'other one'"),
            ["get", "my file.txt", "other one"]
        );
        assert_eq!(texts("get my\\ file.txt"), ["get", "my file.txt"]);
        assert_eq!(texts("get a\"b c\"d"), ["get", "ab cd"]);
        assert_eq!(texts("get ''"), ["get", ""]);
        assert_eq!(
            texts(r#"put "say \"hi\"" 'it\s'"#),
            ["put", "say \"hi\"", "it\\s"]
        );
        assert_eq!(
            texts(r"put back\\slash end\"),
            ["put", "back\\slash", "end\\"]
        );
        assert_eq!(texts("cd 文件 夹"), ["cd", "文件", "夹"]);
    }

    #[test]
    fn unclosed_quotes_are_errors() {
        assert_eq!(split("get 'a"), Err(SplitError::UnclosedQuote('\'')));
        assert_eq!(split("get \"a"), Err(SplitError::UnclosedQuote('"')));
        assert_eq!(
            split("get \"a\\\"").unwrap_err().to_string(),
            "unclosed quote \""
        );
    }

    #[test]
    fn comments_start_only_a_word() {
        assert_eq!(texts("# all comment"), Vec::<String>::new());
        assert_eq!(texts("ls # list it"), ["ls"]);
        assert_eq!(texts("get a#b"), ["get", "a#b"]);
        assert_eq!(texts("get '#a'"), ["get", "#a"]);
    }

    #[test]
    fn quoted_wildcards_are_not_wildcards() {
        let w = split("get *.txt '*.txt' \\*.txt \"a?[b]\" x\\\\y").unwrap();
        assert!(w[1].has_magic());
        assert_eq!(w[1].pattern, "*.txt");
        for quoted in &w[2..] {
            assert!(!quoted.has_magic(), "{quoted:?}");
            assert_eq!(
                crate::file_service::glob::literal(&quoted.pattern).as_deref(),
                Some(quoted.text.as_str()),
                "{quoted:?}"
            );
        }
        assert_eq!(w[2].text, "*.txt");
        assert_eq!(w[4].text, "a?[b]");
        assert_eq!(w[5].text, "x\\y");
        // Half quoted: the bare star is still one.
        let mixed = &split("get 'my dir'/*.txt").unwrap()[1];
        assert_eq!(mixed.text, "my dir/*.txt");
        assert!(mixed.has_magic());
    }

    #[test]
    fn a_line_being_typed() {
        let p = partial("get 'my fi");
        assert_eq!(p.before, ["get"]);
        assert_eq!((p.last.as_str(), p.start), ("my fi", 4));
        let p = partial("put a\\ b c");
        assert_eq!(p.before, ["put", "a b"]);
        assert_eq!((p.last.as_str(), p.start), ("c", 9));
        let p = partial("lcd ");
        assert_eq!(p.before, ["lcd"]);
        assert_eq!((p.last.as_str(), p.start), ("", 4));
        let p = partial("");
        assert!(p.before.is_empty());
        assert_eq!((p.last.as_str(), p.start), ("", 0));
        let p = partial("cd \"文 件\"/x");
        assert_eq!((p.last.as_str(), p.start), ("文 件/x", 3));
    }

    #[test]
    fn quoted_words_read_back_as_they_were() {
        for name in [
            "my file.txt",
            "it's",
            "a\"b",
            "back\\slash",
            "*.txt",
            "#x",
            "a#b",
            "文件 夹",
            "[x]?",
        ] {
            let quoted = quote(name);
            let words = split(&quoted).unwrap();
            assert_eq!(words.len(), 1, "{quoted}");
            assert_eq!(words[0].text, name, "{quoted}");
            assert!(!words[0].has_magic(), "{quoted}");
            assert_eq!(partial(&quoted).last, name, "{quoted}");
        }
        assert_eq!(quote("a#b"), "a#b");
        assert_eq!(quote("my file"), "my\\ file");
    }

    #[test]
    fn batch_prefixes() {
        let l = prefixes("  -rm x  ");
        assert_eq!((l.may_fail, l.quiet, l.body), (true, false, "rm x"));
        let l = prefixes("@-get a");
        assert_eq!((l.may_fail, l.quiet, l.body), (true, true, "get a"));
        let l = prefixes("- @ ls");
        assert_eq!((l.may_fail, l.quiet, l.body), (true, true, "ls"));
        let l = prefixes("pwd\r");
        assert_eq!((l.may_fail, l.quiet, l.body), (false, false, "pwd"));
        assert!(prefixes("  # note").is_blank());
        assert!(prefixes("-").is_blank());
        assert!(!prefixes("!ls").is_blank());
    }
}
