//! Manual pages in roff (`man 7 man`), made from a program's `--help` text so that the two never say different things.
//!
//! The help texts all have one shape (see any binary's `PROGRAM`): a first line
//! `name: what it does`, a `Usage:` line, paragraphs, `Arguments:` and
//! `Options:` lists whose entries start at a small indentation (`  -h, --help`,
//! `      --port N`) with their descriptions after the spec, continued on deeper
//! indented lines, an `Examples:` block of indented command lines, then closing
//! paragraphs, of which one may start with `Exit status:`. Those become NAME,
//! SYNOPSIS, DESCRIPTION, ARGUMENTS, OPTIONS, EXIT STATUS, NOTES and EXAMPLES;
//! a program may add sections of its own ([`Section`]: file_shell's COMMANDS),
//! and SEE ALSO names the other programs. A paragraph whose lines are all
//! indented is an example, kept as it is; `code` in backticks is set in bold; a
//! lone `.` (`get ./* .`) is never put at the start of a line of its own. The
//! page is plain ASCII (other characters as `\[uXXXX]`), so any `man` renders
//! it without guessing an encoding.

use std::fmt::Write as _;

pub use crate::PROGRAMS;

/// The footer of our pages: this crate and its version.
pub const SOURCE: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));

/// The page of one of our [`PROGRAMS`], from its `--help`: its SEE ALSO names the others.
pub fn program_page(name: &str, help: &str) -> String {
    program_page_with(name, help, &[])
}

/// [`program_page`] with sections of the program's own after OPTIONS.
pub fn program_page_with(name: &str, help: &str, sections: &[Section]) -> String {
    let others: Vec<&str> = PROGRAMS.iter().copied().filter(|p| *p != name).collect();
    render(&Page {
        name,
        source: SOURCE,
        help,
        see_also: &others,
        sections,
    })
}

/// A section a program adds to its page: a paragraph, then one entry per item
/// (file_shell's commands: `get [-a] [-p] [-r] REMOTE... [LOCAL]` and its help).
pub struct Section {
    pub title: String,
    pub intro: String,
    /// The entry's head (set in bold), then its lines, each kept a line of its own.
    pub entries: Vec<(String, Vec<String>)>,
}

/// What a page is made from.
pub struct Page<'a> {
    /// The program's name, as on its help's first line.
    pub name: &'a str,
    /// Shown in the page's footer, e.g. `socket-tutorial 0.1.0`.
    pub source: &'a str,
    /// The whole `--help` text.
    pub help: &'a str,
    /// Other programs the page points to.
    pub see_also: &'a [&'a str],
    /// Sections of the program's own, after OPTIONS.
    pub sections: &'a [Section],
}

/// One entry of an `Options:` or `Arguments:` list.
struct Entry {
    /// `-h, --help`, `--port N`, `[HOST[:PORT]]`.
    spec: String,
    description: Vec<String>,
}

/// The help text, taken apart.
#[derive(Default)]
struct Help {
    summary: String,
    usage: String,
    description: Vec<Vec<String>>,
    arguments: Vec<Entry>,
    options: Vec<Entry>,
    exit_status: Vec<String>,
    notes: Vec<Vec<String>>,
    examples: Vec<String>,
}

/// The roff source of the manual page (section 1) for `page`.
pub fn render(page: &Page) -> String {
    let help = parse(page.name, page.help);
    let mut out = String::new();
    let _ = writeln!(
        out,
        ".TH {} 1 \"\" \"{}\" \"User Commands\"",
        page.name.to_ascii_uppercase(),
        escape(page.source)
    );
    // Help texts are full of commands and code: no hyphenation, no stretched spaces.
    out.push_str(".nh\n.ad l\n");
    section(&mut out, "NAME");
    let summary = escape(&help.summary)
        .replace(" . ", "\\~. ")
        .replace(" .)", "\\~.)");
    let _ = writeln!(out, "{} \\- {summary}", escape(page.name));
    section(&mut out, "SYNOPSIS");
    let usage = help.usage.strip_prefix(page.name).unwrap_or(&help.usage);
    let _ = writeln!(out, ".B {}", escape(page.name));
    if !usage.trim().is_empty() {
        out.push_str(&text_line(usage.trim()));
    }
    if !help.description.is_empty() {
        section(&mut out, "DESCRIPTION");
        paragraphs(&mut out, &help.description);
    }
    for (title, entries) in [("ARGUMENTS", &help.arguments), ("OPTIONS", &help.options)] {
        if entries.is_empty() {
            continue;
        }
        section(&mut out, title);
        for entry in entries {
            out.push_str(".TP\n");
            out.push_str(&spec(&entry.spec));
            out.push_str(&text(&entry.description));
        }
    }
    for own in page.sections {
        section(&mut out, &own.title);
        out.push_str(&text(std::slice::from_ref(&own.intro)));
        for (head, lines) in &own.entries {
            out.push_str(".TP\n");
            let _ = writeln!(out, "\\fB{}\\fR", escape(head));
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push_str(".br\n");
                }
                out.push_str(&text(&[line.trim().to_string()]));
            }
        }
    }
    if !help.exit_status.is_empty() {
        section(&mut out, "EXIT STATUS");
        // A table of codes (indented lines) inside it is kept as written, like an example.
        let mut runs: Vec<Vec<String>> = Vec::new();
        for line in &help.exit_status {
            match runs.last_mut() {
                Some(run) if run[0].starts_with(' ') == line.starts_with(' ') => {
                    run.push(line.clone())
                }
                _ => runs.push(vec![line.clone()]),
            }
        }
        paragraphs(&mut out, &runs);
    }
    if !help.notes.is_empty() {
        section(&mut out, "NOTES");
        paragraphs(&mut out, &help.notes);
    }
    if !help.examples.is_empty() {
        section(&mut out, "EXAMPLES");
        paragraphs(&mut out, std::slice::from_ref(&help.examples));
    }
    if !page.see_also.is_empty() {
        section(&mut out, "SEE ALSO");
        let last = page.see_also.len() - 1;
        for (i, other) in page.see_also.iter().enumerate() {
            let comma = if i < last { "," } else { "" };
            let _ = writeln!(out, ".BR {} (1){comma}", escape(other));
        }
    }
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, ".SH {}", quoted(title));
}

fn quoted(title: &str) -> String {
    if title.contains(' ') {
        format!("\"{title}\"")
    } else {
        title.to_string()
    }
}

/// Splits the help into its parts (see the module's comment for the shape).
fn parse(name: &str, help: &str) -> Help {
    let mut parsed = Help::default();
    let mut lines = help.lines().peekable();
    let first = lines.next().unwrap_or_default();
    parsed.summary = first
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(first)
        .trim()
        .to_string();
    let blocks = blocks(lines.collect());
    let mut seen_lists = false;
    for block in blocks {
        let head = block[0].trim_end();
        if let Some(usage) = head
            .strip_prefix("Usage:")
            .filter(|_| parsed.usage.is_empty())
        {
            parsed.usage = usage.trim().to_string();
            continue;
        }
        let list = match head {
            "Options:" => Some(&mut parsed.options),
            "Arguments:" => Some(&mut parsed.arguments),
            _ => None,
        };
        if let Some(list) = list {
            list.extend(entries(&block[1..]));
            seen_lists = true;
            continue;
        }
        if head == "Examples:" {
            parsed.examples.extend(block[1..].iter().cloned());
            continue;
        }
        if let Some(rest) = head.strip_prefix("Exit status:") {
            let mut text = vec![rest.trim().to_string()];
            text.extend(block[1..].iter().cloned());
            parsed.exit_status = text;
            continue;
        }
        if seen_lists {
            parsed.notes.push(block);
        } else {
            parsed.description.push(block);
        }
    }
    parsed
}

/// The lines, cut into blocks at blank lines.
fn blocks(lines: Vec<&str>) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.trim_end().to_string());
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// An entry starts at a small indentation; deeper lines continue the one before.
const ENTRY_INDENT: usize = 8;

fn entries(lines: &[String]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        match entries.last_mut() {
            Some(entry) if indent > ENTRY_INDENT => entry.description.push(body.to_string()),
            _ => {
                let (spec, description) = split_spec(body);
                entries.push(Entry {
                    spec,
                    description: if description.is_empty() {
                        Vec::new()
                    } else {
                        vec![description]
                    },
                });
            }
        }
    }
    entries
}

/// `-o, --output PATH    where to save` -> (`-o, --output PATH`, `where to save`): the
/// option names, each but the last ending in a comma, then at most one placeholder
/// with no lowercase letter (`N`, `FILE`, `[HOST[:PORT]]`).
fn split_spec(body: &str) -> (String, String) {
    let words: Vec<&str> = body.split_whitespace().collect();
    let mut n = 0;
    while n < words.len() {
        let word = words[n];
        let is_name = n == 0 || words[n - 1].ends_with(',');
        if is_name {
            n += 1;
            continue;
        }
        let placeholder = !word.bytes().any(|b| b.is_ascii_lowercase())
            && !word.starts_with('-')
            && !words[n - 1].starts_with('[');
        if placeholder {
            n += 1;
        }
        break;
    }
    let spec = words[..n].join(" ");
    // The description is the rest of the line as written (its spacing kept).
    let mut rest = body;
    for word in &words[..n] {
        rest = rest.trim_start();
        rest = &rest[word.len()..];
    }
    (spec, rest.trim().to_string())
}

/// `-h, --help` in bold, placeholders in italics.
fn spec(spec: &str) -> String {
    let mut parts = Vec::new();
    for word in spec.split(' ') {
        let (word, comma) = match word.strip_suffix(',') {
            Some(w) => (w, ","),
            None => (word, ""),
        };
        let font = if word.starts_with('-') { "B" } else { "I" };
        parts.push(format!("\\f{font}{}\\fR{comma}", escape(word)));
    }
    format!("{}\n", parts.join(" "))
}

fn paragraphs(out: &mut String, paragraphs: &[Vec<String>]) {
    for (i, lines) in paragraphs.iter().enumerate() {
        if i > 0 {
            out.push_str(".PP\n");
        }
        if lines.iter().all(|l| l.starts_with(' ')) {
            // An example, shown as written.
            let indent = lines
                .iter()
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            out.push_str(".RS 4\n.nf\n");
            for line in lines {
                out.push_str(&text_line(&line[indent..]));
            }
            out.push_str(".fi\n.RE\n");
        } else {
            out.push_str(&text(lines));
        }
    }
}

/// Filled text: each line trimmed (a leading space would break the line), `code` in bold.
fn text(lines: &[String]) -> String {
    let joined: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    let joined = joined.join("\n");
    let ticks = joined.matches('`').count();
    let mut out = String::new();
    let mut bold = false;
    let mut seen = 0;
    let chars: Vec<char> = joined.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        // A lone `.` (the destination of `get ./* .`) stays on the line of the word before it.
        let lone_dot = chars.get(i + 1) == Some(&'.')
            && chars
                .get(i + 2)
                .map_or(true, |c| c.is_whitespace() || ",;)".contains(*c));
        if ch.is_whitespace() && lone_dot {
            out.push_str("\\~");
        } else if ch == '`' {
            seen += 1;
            // A lone backtick left over (an odd count) is shown as one.
            if seen == ticks && !bold && ticks % 2 == 1 {
                out.push_str("\\(ga");
            } else {
                out.push_str(if bold { "\\fR" } else { "\\fB" });
                bold = !bold;
            }
        } else {
            out.push_str(&escape_char(ch));
        }
    }
    out.lines().map(guard).collect()
}

/// One line as written, escaped.
fn text_line(line: &str) -> String {
    guard(&escape(line))
}

/// A line roff would take as a request (`.`, `'`) starts with `\&`; every line ends in `\n`.
fn guard(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}\n")
    } else {
        format!("{line}\n")
    }
}

fn escape(text: &str) -> String {
    text.chars().map(escape_char).collect()
}

/// A character as roff shows it literally: `-` as a minus (so options can be
/// copied), quotes and backslashes as themselves, anything not ASCII by its code point.
fn escape_char(ch: char) -> String {
    match ch {
        '\\' => "\\e".into(),
        '-' => "\\-".into(),
        '\'' => "\\(aq".into(),
        '`' => "\\(ga".into(),
        '"' => "\\(dq".into(),
        ch if ch.is_ascii() => ch.to_string(),
        ch => format!("\\[u{:04X}]", ch as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "\
demo: shows `one` thing (the tutorial's demo.py)

Usage: demo [OPTIONS] [NAME...]

First paragraph, with a \\ and a - and ünïcode 你好, get ./* . as one.
.starts with a dot

  demo> an example
    indented more

Arguments:
  [NAME...]          names
                     more about names

Options:
      --port N       port [default: 10500]
                     --port 0 picks one
      --max-upload-bytes N refuse uploads larger than N bytes
  -h, --help         print this help

The first line is `listening on`.

Exit status: 0 when fine,
1 when not.

Examples:
  demo --port 0
  demo get ./* .
";

    fn page() -> String {
        render(&Page {
            name: "demo",
            source: "socket-tutorial 0.1.0",
            help: HELP,
            see_also: &["tcp_server", "tcp_client"],
            sections: &[Section {
                title: "COMMANDS".into(),
                intro: "At the `demo>` prompt:".into(),
                entries: vec![(
                    "get FILE".into(),
                    vec!["fetch FILE".into(), "-a  resume".into()],
                )],
            }],
        })
    }

    #[test]
    fn the_help_becomes_the_usual_sections() {
        let page = page();
        let sections: Vec<&str> = page.lines().filter(|l| l.starts_with(".SH")).collect();
        assert_eq!(
            sections,
            [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH DESCRIPTION",
                ".SH ARGUMENTS",
                ".SH OPTIONS",
                ".SH COMMANDS",
                ".SH \"EXIT STATUS\"",
                ".SH NOTES",
                ".SH EXAMPLES",
                ".SH \"SEE ALSO\""
            ]
        );
        assert!(page.starts_with(
            ".TH DEMO 1 \"\" \"socket\\-tutorial 0.1.0\" \"User Commands\"\n.nh\n.ad l\n"
        ));
        assert!(page.contains(
            ".SH NAME\ndemo \\- shows \\(gaone\\(ga thing (the tutorial\\(aqs demo.py)\n"
        ));
        assert!(page.contains(".SH SYNOPSIS\n.B demo\n[OPTIONS] [NAME...]\n"));
        assert!(page.contains(".SH \"SEE ALSO\"\n.BR tcp_server (1),\n.BR tcp_client (1)\n"));
    }

    #[test]
    fn options_are_entries_with_their_continuations() {
        let page = page();
        assert!(
            page.contains(".TP\n\\fB\\-\\-port\\fR \\fIN\\fR\nport [default: 10500]\n\\-\\-port 0 picks one\n"),
            "{page}"
        );
        assert!(
            page.contains(".TP\n\\fB\\-\\-max\\-upload\\-bytes\\fR \\fIN\\fR\nrefuse uploads larger than N bytes\n"),
            "{page}"
        );
        assert!(
            page.contains(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nprint this help\n"),
            "{page}"
        );
        assert!(
            page.contains(".TP\n\\fI[NAME...]\\fR\nnames\nmore about names\n"),
            "{page}"
        );
    }

    #[test]
    fn text_is_escaped_and_examples_kept_as_written() {
        let page = page();
        assert!(
            page.contains("First paragraph, with a \\e and a \\- and \\[u00FC]n\\[u00EF]code \\[u4F60]\\[u597D], get ./*\\~. as one.\n\\&.starts with a dot\n"),
            "{page}"
        );
        assert!(
            page.contains(".RS 4\n.nf\ndemo> an example\n  indented more\n.fi\n.RE\n"),
            "{page}"
        );
        assert!(
            page.contains("The first line is \\fBlistening on\\fR.\n"),
            "{page}"
        );
        assert!(
            page.contains(".SH \"EXIT STATUS\"\n0 when fine,\n1 when not.\n"),
            "{page}"
        );
        assert!(page.is_ascii());
        // A blank line or a leading space would break filled text; only the example keeps its indentation.
        let spaced: Vec<&str> = page
            .lines()
            .filter(|l| l.is_empty() || l.starts_with(' '))
            .collect();
        assert_eq!(spaced, ["  indented more"]);
    }

    #[test]
    fn own_sections_and_examples_have_their_places() {
        let page = page();
        assert!(
            page.contains(".SH COMMANDS\nAt the \\fBdemo>\\fR prompt:\n.TP\n\\fBget FILE\\fR\nfetch FILE\n.br\n\\-a  resume\n"),
            "{page}"
        );
        assert!(
            page.contains(
                ".SH EXAMPLES\n.RS 4\n.nf\ndemo \\-\\-port 0\ndemo get ./* .\n.fi\n.RE\n"
            ),
            "{page}"
        );
    }
}
