//! Code references of a walkthrough page: `- [PATH:LINE](../PATH#LLINE) `code``, checked against the files.
//!
//! A code reference in docs/WALKTHROUGH*.md is a list item of exactly this form:
//!
//! ```text
//! - [src/bin/tcp_server.rs:119](../src/bin/tcp_server.rs#L119) `let listener = config.server.listen(&log)?;`
//! ```
//!
//! The link text is `PATH:LINE` (PATH from the repository root), the link goes
//! to the same place from docs/ (so a reader can click through), and the code
//! span is that whole line of the file, trimmed (a line holding a backtick is
//! quoted with double backticks: ``` `` a `b` `` ```). A line of that form inside
//! a fenced block (the page's own example of the syntax) is checked too; nothing
//! else in a fence is. Any other line with a link to `#L<n>` is reported as
//! malformed, so a typo cannot make a reference go unchecked.

use std::path::Path;

/// One code reference, and where it sits in its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    pub line: usize,
    pub snippet: String,
    pub doc_line: usize,
}

impl Reference {
    /// The reference as it should be written, for a given line number.
    fn render(&self, line: usize) -> String {
        let fence = if self.snippet.contains('`') {
            "``"
        } else {
            "`"
        };
        let pad = if fence.len() > 1 { " " } else { "" };
        format!(
            "- [{path}:{line}](../{path}#L{line}) {fence}{pad}{snippet}{pad}{fence}",
            path = self.path,
            snippet = self.snippet
        )
    }
}

/// The references of a document, and the lines that look like references but are not well formed.
pub fn parse(doc: &str) -> (Vec<Reference>, Vec<String>) {
    let mut references = Vec::new();
    let mut malformed = Vec::new();
    let mut in_fence = false;
    for (i, text) in doc.lines().enumerate() {
        let doc_line = i + 1;
        let trimmed = text.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            // An example of the syntax (How to read this page) is checked like any
            // reference, so that it cannot go stale; anything else in a fence is not ours.
            if trimmed.starts_with("- [") {
                if let Ok(Some((path, line, snippet))) = parse_reference(trimmed) {
                    references.push(Reference {
                        path,
                        line,
                        snippet,
                        doc_line,
                    });
                }
            }
            continue;
        }
        let looks_like_one = trimmed.starts_with("- [") && trimmed.contains("](")
            || (trimmed.contains("](") && trimmed.contains("#L"));
        if !looks_like_one {
            continue;
        }
        match parse_reference(trimmed) {
            Ok(Some((path, line, snippet))) => references.push(Reference {
                path,
                line,
                snippet,
                doc_line,
            }),
            // An ordinary list item that starts with a link to something else.
            Ok(None) => {}
            Err(why) => malformed.push(format!("line {doc_line}: {why}: {text}")),
        }
    }
    (references, malformed)
}

/// `Ok(None)` for a link that is not a code reference at all (no `#L` anchor, text not `PATH:LINE`).
fn parse_reference(line: &str) -> Result<Option<(String, usize, String)>, String> {
    let Some(rest) = line.strip_prefix("- [") else {
        return Err("a code reference is a list item starting `- [PATH:LINE](`".into());
    };
    let (text, rest) = rest.split_once("](").ok_or("no `](` after the link text")?;
    let (target, rest) = rest.split_once(')').ok_or("no `)` closing the link")?;
    let text_parts = text
        .rsplit_once(':')
        .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if text_parts.is_none() && !target.contains("#L") {
        return Ok(None);
    }
    let (path, number) = text_parts.ok_or("the link text is not PATH:LINE")?;
    let line: usize = number
        .parse()
        .map_err(|_| format!("{number} is not a line number"))?;
    if line == 0 {
        return Err("lines are numbered from 1".into());
    }
    let expected_target = format!("../{path}#L{line}");
    if target != expected_target {
        return Err(format!(
            "the link goes to {target}, but its text says {path}:{line} (it should go to {expected_target})"
        ));
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("one space, then the quoted code, must follow the link")?;
    let ticks = rest.bytes().take_while(|&b| b == b'`').count();
    if ticks == 0 || ticks > 2 {
        return Err(
            "the quoted code must be a code span (`code`, or ``code`` when it holds a backtick)"
                .into(),
        );
    }
    let fence = &rest[..ticks];
    let body = &rest[ticks..];
    let end = body
        .find(fence)
        .ok_or("the code span is not closed on this line")?;
    let after = body[end + ticks..].trim_end();
    if !after.is_empty() {
        return Err(format!("text after the code span: {after:?}"));
    }
    let mut snippet = &body[..end];
    if ticks == 2 && snippet.len() >= 2 && snippet.starts_with(' ') && snippet.ends_with(' ') {
        snippet = &snippet[1..snippet.len() - 1];
    }
    if snippet.trim().is_empty() {
        return Err("the quoted code is empty".into());
    }
    Ok(Some((path.to_string(), line, snippet.to_string())))
}

/// Everything wrong with a document's references, relative to the repository at `root`.
pub fn check(root: &Path, doc_name: &str, doc: &str) -> (Vec<Reference>, Vec<String>) {
    let (references, malformed) = parse(doc);
    let mut problems: Vec<String> = malformed
        .into_iter()
        .map(|m| format!("{doc_name} {m}"))
        .collect();
    for r in &references {
        let at = format!("{doc_name} line {}: {}:{}", r.doc_line, r.path, r.line);
        let Ok(text) = std::fs::read_to_string(root.join(&r.path)) else {
            problems.push(format!("{at}: no such file"));
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let wanted = r.snippet.trim();
        if lines.get(r.line - 1).map(|l| l.trim()) == Some(wanted) {
            continue;
        }
        let found = match lines.get(r.line - 1) {
            Some(l) => format!("line {} is `{}`", r.line, l.trim()),
            None => format!("the file has only {} lines", lines.len()),
        };
        let now: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == wanted)
            .map(|(i, _)| i + 1)
            .collect();
        let hint = match now.as_slice() {
            [] => {
                let near: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| resembles(l.trim(), wanted))
                    .take(5)
                    .map(|(i, l)| format!("{}: `{}`", i + 1, l.trim()))
                    .collect();
                if near.is_empty() {
                    format!("`{wanted}` is on no line of {} any more", r.path)
                } else {
                    format!(
                        "`{wanted}` is on no line of {} any more; lines that resemble it: {}",
                        r.path,
                        near.join("; ")
                    )
                }
            }
            [n] => format!("the code is now at line {n}; write:\n    {}", r.render(*n)),
            many => format!(
                "the code is now at lines {many:?}; pick one, e.g.:\n    {}",
                r.render(many[0])
            ),
        };
        problems.push(format!("{at}: {found}, not `{wanted}`: {hint}"));
    }
    (references, problems)
}

/// A line worth showing when the quoted code is nowhere: it contains the quote, or the two
/// start alike (an edited line usually keeps its beginning).
fn resembles(line: &str, quoted: &str) -> bool {
    const ALIKE: usize = 12;
    let common = line
        .chars()
        .zip(quoted.chars())
        .take_while(|(a, b)| a == b)
        .count();
    line.contains(quoted) || common >= ALIKE.min(quoted.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::TempDir;

    /// A made-up repository and document, to see the checker fail where it should.
    fn fixture() -> TempDir {
        let dir = TempDir::new("walkthrough");
        std::fs::create_dir_all(dir.join("src")).expect("create src/");
        std::fs::write(
            dir.join("src/demo.rs"),
            "fn main() {\n    let x = 1;\n    // uses `x`\n    println!(\"{x}\");\n}\n",
        )
        .expect("write src/demo.rs");
        dir
    }

    #[test]
    fn the_checker_accepts_correct_references() {
        let dir = fixture();
        let doc = "Text.\n\n- [src/demo.rs:2](../src/demo.rs#L2) `let x = 1;`\n- [src/demo.rs:3](../src/demo.rs#L3) `` // uses `x` ``\n";
        let (references, problems) = check(dir.path(), "doc.md", doc);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(references.len(), 2);
        assert_eq!(references[1].snippet, "// uses `x`");
        assert_eq!(references[1].doc_line, 4);
    }

    #[test]
    fn the_checker_says_where_moved_code_is_now() {
        let dir = fixture();
        let doc = "- [src/demo.rs:3](../src/demo.rs#L3) `let x = 1;`\n";
        let (_, problems) = check(dir.path(), "doc.md", doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(p.starts_with("doc.md line 1: src/demo.rs:3: "), "{p}");
        assert!(p.contains("line 3 is `// uses `x``"), "{p}");
        assert!(p.contains("now at line 2"), "{p}");
        assert!(
            p.contains("- [src/demo.rs:2](../src/demo.rs#L2) `let x = 1;`"),
            "{p}"
        );
    }

    #[test]
    fn the_checker_fails_on_a_changed_snippet_a_missing_file_or_a_line_past_the_end() {
        let dir = fixture();
        let doc = "\
- [src/demo.rs:2](../src/demo.rs#L2) `let x = 2;`
- [src/gone.rs:1](../src/gone.rs#L1) `fn main() {`
- [src/demo.rs:9](../src/demo.rs#L9) `}`
- [src/demo.rs:4](../src/demo.rs#L4) `println!(\"{x}\"); // edited`
";
        let (references, problems) = check(dir.path(), "doc.md", doc);
        assert_eq!(references.len(), 4);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("`let x = 2;` is on no line of src/demo.rs any more"));
        assert!(!problems[0].contains("resemble"), "{}", problems[0]);
        assert!(problems[1].contains("src/gone.rs:1: no such file"));
        assert!(problems[2].contains("the file has only 5 lines"));
        assert!(problems[2].contains("now at line 5"), "{}", problems[2]);
        // An edited line is found by its unchanged beginning.
        assert!(
            problems[3].contains("lines that resemble it: 4: `println!(\"{x}\");`"),
            "{}",
            problems[3]
        );
    }

    #[test]
    fn the_checker_reports_malformed_references_instead_of_skipping_them() {
        let dir = fixture();
        let doc = "\
- [src/demo.rs:2](../src/demo.rs#L3) `let x = 1;`
- [src/demo.rs:2](../src/demo.rs#L2)`let x = 1;`
- [src/demo.rs:2](../src/demo.rs#L2) `let x = 1;` and more
- [src/demo.rs:2](../src/demo.rs#L2) `let x = 1;
- [src/demo.rs](../src/demo.rs#L2) `let x = 1;`
See [src/demo.rs:2](../src/demo.rs#L2) `let x = 1;` in the text.
- [the protocol](PROTOCOL.md) is an ordinary link.
";
        let (references, problems) = check(dir.path(), "doc.md", doc);
        assert!(references.is_empty(), "{references:?}");
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].contains("it should go to ../src/demo.rs#L2"));
        assert!(problems[1].contains("one space"));
        assert!(problems[2].contains("text after the code span"));
        assert!(problems[3].contains("not closed"));
        assert!(problems[4].contains("not PATH:LINE"));
        assert!(problems[5].contains("a list item"));
    }

    #[test]
    fn an_example_in_a_code_block_is_checked_when_it_is_a_reference() {
        let dir = fixture();
        let doc = "```text\n- [src/demo.rs:1](../src/demo.rs#L1) `nothing like this`\n- [not](a reference)\n```\n";
        let (references, problems) = check(dir.path(), "doc.md", doc);
        assert_eq!(references.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("is on no line of src/demo.rs"),
            "{}",
            problems[0]
        );
    }
}
