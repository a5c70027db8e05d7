//! Shell-style wildcards (`*`, `?`, `[a-z]`, `[!x]`, `\` escapes) over one path component, for file-shell commands like `get *.txt`.
//!
//! Matching works on characters, not bytes, so `?` matches one `文`.
//! A name starting with `.` is matched only by a pattern starting with a
//! literal `.`, as in shells and sftp, so `*` does not pick up hidden files.
//!
//! Cost is O(pattern length × name length) in the worst case, never
//! exponential: on a mismatch only the most recent `*` is retried, one
//! character further on. That is enough because an earlier `*` could only
//! make room for text that the later `*` can absorb anyway.

/// One element of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: any one character.
    Any,
    /// `*`: any run of characters, including none.
    Star,
    /// `[...]`: one character in (or, negated, not in) the ranges; a
    /// single character `c` is the range `(c, c)`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Char(x) => *x == c,
            Token::Any => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Parse `[...]` starting just after the `[`; `None` if it never closes,
/// in which case the `[` is an ordinary character.
fn parse_class(chars: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *chars.get(i)?;
        }
        i += 1;
        // `a-z` is a range unless the `-` is last: `[a-]` holds `a` and `-`.
        let is_range =
            chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&next| next != ']');
        if is_range {
            i += 1;
            let mut hi = *chars.get(i)?;
            if hi == '\\' {
                i += 1;
                hi = *chars.get(i)?;
            }
            i += 1;
            ranges.push((c, hi));
        } else {
            ranges.push((c, c));
        }
    }
}

fn parse(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::with_capacity(chars.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' => {
                // `**` means the same as `*`; one star keeps retries cheap.
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' => tokens.push(Token::Any),
            '\\' => match chars.get(i) {
                Some(&escaped) => {
                    tokens.push(Token::Char(escaped));
                    i += 1;
                }
                // A trailing backslash has nothing to escape: it is itself.
                None => tokens.push(Token::Char('\\')),
            },
            '[' => match chars.get(i..).and_then(parse_class) {
                Some((class, used)) => {
                    tokens.push(class);
                    i += used;
                }
                None => tokens.push(Token::Char('[')),
            },
            other => tokens.push(Token::Char(other)),
        }
    }
    tokens
}

/// Whether `pattern` contains a wildcard that is not escaped (a `[` that
/// never closes is not one).
pub fn has_magic(pattern: &str) -> bool {
    parse(pattern).iter().any(|t| !matches!(t, Token::Char(_)))
}

/// The name a pattern without wildcards stands for, with its escapes
/// removed (`a\*b` is the name `a*b`); `None` if it has wildcards.
pub fn literal(pattern: &str) -> Option<String> {
    parse(pattern)
        .into_iter()
        .map(|t| match t {
            Token::Char(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Whether `name` (one path component) matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let tokens = parse(pattern);
    let name: Vec<char> = name.chars().collect();
    if name.first() == Some(&'.') && tokens.first() != Some(&Token::Char('.')) {
        return false;
    }

    let (mut p, mut n) = (0, 0);
    // Where to retry after a mismatch: the token after the last `*`, and
    // the name position that `*` should swallow up to next. `None` until a
    // `*` has been seen.
    let mut retry: Option<(usize, usize)> = None;
    while p < tokens.len() || n < name.len() {
        match tokens.get(p) {
            Some(Token::Star) => {
                retry = Some((p + 1, n + 1));
                p += 1;
                continue;
            }
            Some(tok) if name.get(n).is_some_and(|&c| tok.matches(c)) => {
                p += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match retry {
            Some((star_next, name_next)) if name_next <= name.len() => {
                p = star_next;
                n = name_next;
                retry = Some((star_next, name_next + 1));
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn literals() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(!matches("a", ""));
        assert!(matches("file.txt", "file.txt"));
        assert!(!matches("file.txt", "file.txt2"));
        assert!(!matches("file.txt", "File.txt"));
    }

    #[test]
    fn star() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
        assert!(matches("*.txt", "notes.txt"));
        assert!(!matches("*.txt", ".txt.txt"));
        assert!(!matches("*.txt", "notes.txt.bak"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(matches("a*b*c", "abcbc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("**", "x"));
        assert!(matches("*a", "aaa"));
        assert!(!matches("*a", "aab"));
        assert!(matches("a*", "a"));
    }

    #[test]
    fn question_mark() {
        assert!(matches("?", "a"));
        assert!(!matches("?", ""));
        assert!(!matches("?", "ab"));
        assert!(matches("file?.txt", "file1.txt"));
        assert!(!matches("file?.txt", "file.txt"));
        assert!(matches("*?", "a"));
        assert!(!matches("?*?", "a"));
    }

    #[test]
    fn classes() {
        assert!(matches("[abc]", "b"));
        assert!(!matches("[abc]", "d"));
        assert!(matches("[a-z]", "q"));
        assert!(!matches("[a-z]", "Q"));
        assert!(matches("[!a-z]", "Q"));
        assert!(matches("[^a-z]", "Q"));
        assert!(!matches("[!x]", "x"));
        assert!(matches("[!x]", "y"));
        assert!(matches("[]]", "]"));
        assert!(matches("[!]]", "a"));
        assert!(!matches("[!]]", "]"));
        assert!(matches("[a-]", "-"));
        assert!(matches("[a-]", "a"));
        assert!(matches("[\\]]", "]"));
        assert!(matches("[a\\-z]", "-"));
        assert!(!matches("[a\\-z]", "b"));
        assert!(!matches("[z-a]", "m"));
        assert!(matches("log[0-9][0-9].txt", "log42.txt"));
        assert!(!matches("log[0-9][0-9].txt", "log4x.txt"));
        // An unclosed `[` is an ordinary character.
        assert!(matches("[abc", "[abc"));
        assert!(!matches("[abc", "a"));
        assert!(matches("a[", "a["));
        assert!(matches("[!", "[!"));
    }

    #[test]
    fn escapes() {
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "x"));
        assert!(matches("a\\?b", "a?b"));
        assert!(!matches("a\\?b", "axb"));
        assert!(matches("\\[a]", "[a]"));
        assert!(matches("\\\\", "\\"));
        assert!(matches("x\\", "x\\"));
        assert!(matches("\\a", "a"));
    }

    #[test]
    fn hidden_files_need_a_literal_dot() {
        assert!(!matches("*", ".bashrc"));
        assert!(!matches("?bashrc", ".bashrc"));
        assert!(!matches("[.]bashrc", ".bashrc"));
        assert!(!matches("*rc", ".bashrc"));
        assert!(matches(".*", ".bashrc"));
        assert!(matches(".bash*", ".bashrc"));
        assert!(matches("\\.bashrc", ".bashrc"));
        // Only a leading dot is special.
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("a*", "a.b.c"));
    }

    #[test]
    fn unicode_names() {
        assert!(matches("?", "文"));
        assert!(matches("文件?.txt", "文件1.txt"));
        assert!(matches("文件?.txt", "文件二.txt"));
        assert!(!matches("文件?.txt", "文件12.txt"));
        assert!(matches("*.txt", "日本語.txt"));
        assert!(matches("[文字]*", "字典"));
        assert!(!matches("[!文字]*", "字典"));
        assert!(matches("[а-я]*", "привет"));
        assert!(matches("*🦀*", "rust🦀crab"));
        assert!(matches("???", "🦀🦀🦀"));
        assert!(!matches("??", "🦀🦀🦀"));
        // A decomposed é is two characters; matching is by character.
        assert!(matches("caf??", "cafe\u{301}"));
        assert!(!matches("caf?", "cafe\u{301}"));
    }

    #[test]
    fn magic_and_literal() {
        assert!(has_magic("*.txt"));
        assert!(has_magic("file?"));
        assert!(has_magic("[ab]"));
        assert!(!has_magic("plain.txt"));
        assert!(!has_magic("a\\*b"));
        assert!(!has_magic("[unclosed"));
        assert!(!has_magic(""));
        assert_eq!(literal("a\\*b"), Some("a*b".to_owned()));
        assert_eq!(literal("plain"), Some("plain".to_owned()));
        assert_eq!(literal("[x"), Some("[x".to_owned()));
        assert_eq!(literal("x*"), None);
        // Every literal matches its own name (unless it is hidden, which
        // a literal pattern then also starts with).
        for p in ["a\\*b", "plain", "[x", ".hidden", "文件", "trail\\"] {
            let name = literal(p).unwrap();
            assert!(matches(p, &name), "{p} vs {name}");
        }
    }

    /// The textbook recursive matcher: exponential, but obviously right.
    fn naive(tokens: &[Token], name: &[char]) -> bool {
        match tokens.split_first() {
            None => name.is_empty(),
            Some((Token::Star, rest)) => (0..=name.len()).any(|k| naive(rest, &name[k..])),
            Some((tok, rest)) => match name.split_first() {
                Some((&c, more)) => tok.matches(c) && naive(rest, more),
                None => false,
            },
        }
    }

    #[test]
    fn agrees_with_a_naive_matcher() {
        const PIECES: [&str; 9] = ["a", "b", "*", "?", "[ab]", "[!a]", "\\*", ".", "文"];
        const LETTERS: [char; 5] = ['a', 'b', '*', '.', '文'];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let pattern: String = (0..next(7)).map(|_| PIECES[next(PIECES.len())]).collect();
            let name: String = (0..next(9)).map(|_| LETTERS[next(LETTERS.len())]).collect();
            let tokens = parse(&pattern);
            let chars: Vec<char> = name.chars().collect();
            let hidden_ok = !name.starts_with('.') || tokens.first() == Some(&Token::Char('.'));
            let expected = hidden_ok && naive(&tokens, &chars);
            assert_eq!(
                matches(&pattern, &name),
                expected,
                "{pattern:?} vs {name:?}"
            );
        }
    }

    fn assert_fast(pattern: &str, name: &str, expected: bool) {
        let start = Instant::now();
        assert_eq!(matches(pattern, name), expected, "{pattern}");
        // Exponential backtracking would take years on these inputs; the
        // bound is generous for slow debug builds.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{pattern} took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let a = "a".repeat(100_000);
        assert_fast("a*a*a*a*a*a*b", &a, false);
        assert_fast("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", &a, false);
        assert_fast("a*a*a*a*a*a*a", &a, true);
        assert_fast(&"*".repeat(10_000), &a, true);
        assert_fast(&format!("{}b", "?*".repeat(50)), &a, false);
        assert_fast(&"[a-z]*".repeat(30), &a, true);
    }
}
