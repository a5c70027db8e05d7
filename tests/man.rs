//! The manual pages in docs/man say what each program's `--help` says, and render cleanly.
//!
//! The pages are committed (so `man -l docs/man/tcp_server.1` works in a checkout,
//! and `make install` copies them) and made by `make man` from the programs' help
//! (src/core/manpage.rs, examples/man.rs). When a help text changes, the first test
//! here fails until `make man` is run again.

mod common;

use socket_tutorial::core::manpage::{program_page, PROGRAMS};
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
        if matches!(line, "Options:" | "Arguments:") {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.replace('`', "")
}

/// The text a reader sees on the page, without headings, requests and SEE ALSO.
fn page_text(page: &str) -> String {
    let mut text = String::new();
    let mut see_also = false;
    for line in page.lines() {
        if let Some(title) = line.strip_prefix(".SH ") {
            see_also = title.contains("SEE ALSO");
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
