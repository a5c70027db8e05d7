//! The manual pages in docs/man say what each program's `--help` says, and render cleanly.
//!
//! The pages are committed (so `man -l docs/man/tcp_server.1` works in a checkout,
//! and `make install` copies them) and made by `make man` from the programs' help
//! (src/core/manpage.rs, examples/man.rs). When a help text changes, the first test
//! here fails until `make man` is run again.

mod common;

use socket_tutorial::core::manpage::PROGRAMS;
use socket_tutorial::manual_page as program_page;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn page_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/man")
        .join(format!("{name}.1"))
}

fn help(name: &str) -> String {
    let out = common::command(name).arg("--help").assert().success();
    String::from_utf8(out.get_output().stdout.clone()).expect("help is UTF-8")
}

fn committed(name: &str) -> String {
    let path = page_path(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run `make man`", path.display()))
}

#[test]
fn every_committed_page_is_what_its_programs_help_makes_now() {
    let mut stale = Vec::new();
    for name in PROGRAMS {
        let want = program_page(name, &help(name));
        let have = committed(name);
        // Line by line, so that a checkout with CRLF line ends still matches.
        if want.lines().eq(have.lines()) {
            continue;
        }
        let (w, h): (Vec<&str>, Vec<&str>) = (want.lines().collect(), have.lines().collect());
        let at = w
            .iter()
            .zip(&h)
            .position(|(a, b)| a != b)
            .unwrap_or(w.len().min(h.len()));
        stale.push(format!(
            "docs/man/{name}.1 line {}: the page has {:?}, `{name} --help` now makes {:?}",
            at + 1,
            h.get(at).copied().unwrap_or("(the end)"),
            w.get(at).copied().unwrap_or("(the end)"),
        ));
    }
    assert!(
        stale.is_empty(),
        "{} manual page(s) no longer match their program's --help; run `make man`:\n{}",
        stale.len(),
        stale.join("\n")
    );
}

#[test]
fn docs_man_holds_one_page_per_program_and_no_other() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/man exists")
        .map(|e| {
            e.expect("read docs/man")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let mut wanted: Vec<String> = PROGRAMS.iter().map(|p| format!("{p}.1")).collect();
    wanted.sort();
    assert_eq!(found, wanted);
}

/// Every word of the help is on the page, as many times, and the page adds none but its
/// headings: nothing was lost or made up on the way to roff.
#[test]
fn a_page_loses_no_word_of_the_help() {
    for name in PROGRAMS {
        let help = help(name);
        let page = program_page(name, &help);
        let from_help = words(&help_text(name, &help));
        let on_page = words(&page_text(&page));
        assert_eq!(
            difference(&from_help, &on_page),
            Vec::<String>::new(),
            "words of `{name} --help` missing from its page"
        );
        assert_eq!(
            difference(&on_page, &from_help),
            Vec::<String>::new(),
            "words on {name}'s page that are not in its --help"
        );
    }
}

/// The help without what the page says with headings instead.
fn help_text(name: &str, help: &str) -> String {
    let mut text = String::new();
    for (i, line) in help.lines().enumerate() {
        // The NAME line is `name \- summary`, where the help says `name: summary`.
        let first;
        let line = if i == 0 {
            first = line.replacen(&format!("{name}:"), name, 1);
            &first
        } else {
            line
        };
        let line = line
            .strip_prefix("Usage:")
            .or_else(|| line.strip_prefix("Exit status:"))
            .unwrap_or(line);
        if matches!(line, "Options:" | "Arguments:" | "Examples:") {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.replace('`', "")
}

/// The text a reader sees on the page, without headings, requests, SEE ALSO and
/// COMMANDS (which comes from file_shell's command table, not from its --help).
fn page_text(page: &str) -> String {
    let mut text = String::new();
    let mut see_also = false;
    for line in page.lines() {
        if let Some(title) = line.strip_prefix(".SH ") {
            see_also = title.contains("SEE ALSO") || title == "COMMANDS";
            continue;
        }
        if let Some(name) = line.strip_prefix(".B ") {
            text.push_str(name);
            text.push('\n');
            continue;
        }
        if line.starts_with('.') || see_also {
            continue;
        }
        text.push_str(&unescape(line));
        text.push('\n');
    }
    text.replacen(" - ", " ", 1)
}

/// What roff shows for the escapes the generator writes.
fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let esc = &rest[at + 1..];
        let (shown, len) = if let Some(code) = esc.strip_prefix("[u") {
            let end = code.find(']').expect("a closed \\[u...]");
            let ch = u32::from_str_radix(&code[..end], 16)
                .ok()
                .and_then(char::from_u32)
                .expect("a code point");
            (ch.to_string(), 2 + end + 1)
        } else if esc.starts_with("(ga") {
            ("`".into(), 3)
        } else if esc.starts_with("(aq") {
            ("'".into(), 3)
        } else if esc.starts_with("(dq") {
            ("\"".into(), 3)
        } else if esc.starts_with('f') {
            (String::new(), 2)
        } else if esc.starts_with('e') {
            ("\\".into(), 1)
        } else if esc.starts_with('-') {
            ("-".into(), 1)
        } else if esc.starts_with('&') {
            (String::new(), 1)
        } else if esc.starts_with('~') {
            (" ".into(), 1)
        } else {
            panic!("an escape the generator does not write: {line}");
        };
        out.push_str(&shown);
        rest = &esc[len..];
    }
    out.push_str(rest);
    out
}

fn words(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Each word of `a` more often than in `b`, with how many more.
fn difference(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> Vec<String> {
    a.iter()
        .filter(|(w, n)| b.get(*w).copied().unwrap_or(0) < **n)
        .map(|(w, n)| format!("{w} ({} more)", n - b.get(w).copied().unwrap_or(0)))
        .collect()
}

/// groff's own check (`-ww`: every warning) finds nothing to say; skipped, loudly, without groff.
#[test]
fn every_page_renders_without_a_warning() {
    if !common::installed("groff") {
        common::skip(
            "groff is not installed (apt-get install groff-base), so no page was rendered",
        );
        return;
    }
    for name in PROGRAMS {
        let page = program_page(name, &help(name));
        let mut child = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run groff");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(page.as_bytes())
            .expect("write the page to groff");
        let out = child.wait_with_output().expect("groff finishes");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff warns about {name}'s page:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// file_shell(1) documents each interactive command, from the table its `help` shows.
#[test]
fn file_shells_page_lists_every_command_help_lists() {
    use socket_tutorial::file_service::shell::commands::COMMANDS;
    let page = committed("file_shell");
    let section = page
        .split(".SH COMMANDS\n")
        .nth(1)
        .and_then(|rest| rest.split(".SH ").next())
        .expect("file_shell(1) has a COMMANDS section");
    let shown = unescape_all(section);
    for c in COMMANDS {
        assert!(shown.contains(c.usage), "COMMANDS lacks `{}`", c.usage);
        assert!(
            shown.contains(c.summary),
            "COMMANDS lacks the help of {}",
            c.name
        );
    }
}

fn unescape_all(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('.'))
        .map(|l| unescape(l) + "\n")
        .collect()
}

/// Every page has examples, and each command of ours in them takes its arguments.
#[test]
fn every_page_has_examples_that_its_program_takes() {
    for name in PROGRAMS {
        let page = committed(name);
        let section = page
            .split(".SH EXAMPLES\n")
            .nth(1)
            .and_then(|rest| rest.split(".SH ").next())
            .unwrap_or_else(|| panic!("{name}(1) has no EXAMPLES section"));
        let mut checked = 0;
        for line in unescape_all(section).lines() {
            let command = line.split(" #").next().unwrap_or("");
            // A redirection is the shell's, not an argument.
            let command = command.split(" > ").next().unwrap_or("");
            for part in command.split('|') {
                let words: Vec<&str> = part.split_whitespace().collect();
                let Some((&program, args)) = words.split_first() else {
                    continue;
                };
                if !PROGRAMS.contains(&program) {
                    continue;
                }
                let out = common::command(program)
                    .args(args)
                    .arg("--help")
                    .output()
                    .expect("run the example's program");
                assert!(
                    out.status.success(),
                    "{name}(1): the example `{line}` is not a command {program} takes:\n{}",
                    common::describe(&out)
                );
                checked += 1;
            }
        }
        assert!(checked >= 2, "{name}(1): only {checked} examples of ours");
    }
}

/// A page names no document (`*.md`) that `make install` does not put beside it, in share/doc.
#[test]
fn every_document_a_page_names_is_installed() {
    let makefile = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Makefile"))
        .expect("read the Makefile");
    let installed: Vec<&str> = makefile
        .lines()
        .find_map(|l| l.strip_prefix("DOCS = "))
        .expect("the Makefile's DOCS = line")
        .split_whitespace()
        .collect();
    assert!(
        makefile.contains("cp $(DOCS) \"$(DOCDIR)/\""),
        "make install copies $(DOCS)"
    );
    let base = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
    let bases: Vec<String> = installed.iter().map(|p| base(p)).collect();
    for name in PROGRAMS {
        let text = unescape_all(&committed(name));
        for word in text.split(|c: char| c.is_whitespace() || "(),;`".contains(c)) {
            let word = word.trim_end_matches('.');
            if !word.ends_with(".md") {
                continue;
            }
            assert!(
                bases.contains(&base(word)),
                "{name}(1) names {word}, which make install does not install (DOCS: {installed:?})"
            );
        }
        assert!(
            !text.contains("docs/PROTOCOL.md") && !text.contains("docs/ROOT.md"),
            "{name}(1) points into the source's docs/, which is not installed"
        );
    }
    for path in installed {
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(path).is_file(),
            "DOCS names {path}, which does not exist"
        );
    }
}

/// At any width, groff never starts a line with the lone `.` of `get ./* .`.
#[test]
fn a_lone_dot_never_starts_a_rendered_line() {
    if !common::installed("groff") {
        common::skip(
            "groff is not installed (apt-get install groff-base), so no page was rendered",
        );
        return;
    }
    let page = committed("file_shell");
    for width in 40..=100 {
        let mut child = Command::new("groff")
            .args(["-man", "-Tascii", &format!("-rLL={width}n")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run groff");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(page.as_bytes())
            .expect("write the page to groff");
        let out = child.wait_with_output().expect("groff finishes");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let body = line.trim_start();
            assert!(
                !(body == "." || body.starts_with(". ")),
                "at {width} columns a line of file_shell(1) starts with a lone `.`: {line:?}"
            );
        }
    }
}
