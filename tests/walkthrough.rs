//! The walkthroughs stay true: every code reference still quotes its line, and every transcript that can be run prints what the page shows.
//!
//! Code references are described in `walkthrough/references.rs`, the markers on
//! shell blocks in `walkthrough/blocks.rs`. The transcripts are run with bash, on
//! unix: each runnable block (after the page's prelude and its section's setup
//! blocks) in a directory of its own, with the built binaries first on PATH, the
//! ports it names swapped for free ones, and a deadline. Its output is compared
//! with the page's after `walkthrough/normalise.rs` has made client ports, times
//! and the shell's job numbers equal. When the code changed on purpose,
//! `WALKTHROUGH_UPDATE=1 cargo test --test walkthrough` writes each differing
//! block's new output into both pages. The blocks that need the tutorial's own
//! Python programs are run too when `WALKTHROUGH_PYTHON_DIR` names a directory
//! holding them (the project never ships them): each block gets a copy in `py/`.
//!
//! The lesson runner (`examples/lesson`, the same steps on every platform) is checked
//! here too, on every platform: each lesson a page names under a block must print what
//! the block shows (or the transcript under the lesson's own command), and each pair's
//! two Windows windows must be the commands its lesson runs.

#[path = "walkthrough/blocks.rs"]
mod blocks;
mod common;
#[path = "walkthrough/normalise.rs"]
mod normalise;
#[path = "walkthrough/references.rs"]
mod references;
#[cfg(unix)]
#[path = "walkthrough/run.rs"]
mod run;

use blocks::{Block, Marker};
use std::collections::BTreeSet;
use std::path::Path;

/// The walkthroughs, in every language; they quote the same code and show the same blocks.
const DOCS: [&str; 2] = ["docs/WALKTHROUGH.md", "docs/WALKTHROUGH.zh-CN.md"];

/// A walkthrough quotes this many lines at least; fewer means the parser missed them.
const MIN_REFERENCES: usize = 40;

/// A walkthrough shows this many transcripts at least; fewer means the parser missed them.
const MIN_TRANSCRIPTS: usize = 20;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_doc(name: &str) -> String {
    std::fs::read_to_string(repository().join(name))
        .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

fn blocks_of(name: &str) -> Vec<Block> {
    blocks::parse(&read_doc(name)).unwrap_or_else(|problems| {
        panic!(
            "{name}: {} problem(s) with its shell blocks:\n{}",
            problems.len(),
            problems.join("\n")
        )
    })
}

#[test]
fn every_code_reference_quotes_the_line_it_names() {
    let mut problems = Vec::new();
    for name in DOCS {
        let (found, mut wrong) = references::check(repository(), name, &read_doc(name));
        if found.len() < MIN_REFERENCES {
            wrong.push(format!(
                "{name}: only {} code references found, expected at least {MIN_REFERENCES}: is the syntax right?",
                found.len()
            ));
        }
        problems.extend(wrong);
    }
    assert!(
        problems.is_empty(),
        "{} stale or malformed code reference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn both_languages_quote_the_same_code() {
    let quoted = |name: &str| -> BTreeSet<(String, usize, String)> {
        references::parse(&read_doc(name))
            .0
            .into_iter()
            .map(|r| (r.path, r.line, r.snippet))
            .collect()
    };
    let english = quoted(DOCS[0]);
    let chinese = quoted(DOCS[1]);
    let only_en: Vec<_> = english.difference(&chinese).collect();
    let only_zh: Vec<_> = chinese.difference(&english).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "the two walkthroughs should quote the same lines\nonly in {}: {only_en:#?}\nonly in {}: {only_zh:#?}",
        DOCS[0],
        DOCS[1]
    );
}

#[test]
fn both_languages_show_the_same_blocks_and_every_block_to_run_names_its_ports() {
    let english = blocks_of(DOCS[0]);
    let chinese = blocks_of(DOCS[1]);
    let transcripts = english.iter().filter(|b| b.is_transcript()).count();
    assert!(
        transcripts >= MIN_TRANSCRIPTS,
        "{}: only {transcripts} transcripts found, expected at least {MIN_TRANSCRIPTS}",
        DOCS[0]
    );
    let mut problems = Vec::new();
    for (name, blocks) in [(DOCS[0], &english), (DOCS[1], &chinese)] {
        for b in blocks.iter() {
            if matches!(b.marker, Marker::Run | Marker::NeedsPython3 | Marker::Setup) {
                for p in blocks::fixed_port_uses(&b.code) {
                    problems.push(format!("{name}:{}: {p}", b.line));
                }
            }
        }
    }
    // The commands and what they print are the same in every language; only the prose differs.
    let shown = |b: &Block| {
        (
            b.marker.clone(),
            b.code.clone(),
            b.output.as_ref().map(|o| o.text.clone()),
        )
    };
    for (i, pair) in english.iter().zip(&chinese).enumerate() {
        if shown(pair.0) != shown(pair.1) {
            problems.push(format!(
                "shell block {} differs: {}:{} and {}:{} should show the same marker, commands and output",
                i + 1,
                DOCS[0],
                pair.0.line,
                DOCS[1],
                pair.1.line
            ));
        }
    }
    if english.len() != chinese.len() {
        problems.push(format!(
            "{} has {} shell blocks, {} has {}",
            DOCS[0],
            english.len(),
            DOCS[1],
            chinese.len()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_runnable_transcript_prints_what_the_page_shows() {
    #[cfg(unix)]
    transcripts::check();
    #[cfg(not(unix))]
    common::skip(
        "the walkthroughs' transcripts are bash and are run on unix only; their code references are checked here too",
    );
}

#[cfg(unix)]
mod transcripts {
    use super::*;
    use crate::normalise::{diff, normalise};
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::thread;

    /// One line on stderr that `cargo test` shows even when the test passes (it captures `eprintln!`).
    fn say(line: &str) {
        // One write, so that it does not interleave with another test's.
        let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    }

    /// The marker of blocks that need the tutorial's Python programs (see `WALKTHROUGH_PYTHON_DIR`).
    const TUTORIAL_PYTHON: &str = "needs the tutorial's Python";

    /// How many blocks run at once: most of their time is spent waiting, not computing.
    const AT_ONCE: usize = 3;

    /// One block of one page to compare with a run.
    struct Use {
        doc: &'static str,
        block: Block,
        /// What runs before the block, and the block.
        script: (String, String),
    }

    pub fn check() {
        if !common::installed("bash") {
            common::skip("bash is not installed, so no transcript was run");
            return;
        }
        let python = common::installed("python3");
        let tutorial = std::env::var_os("WALKTHROUGH_PYTHON_DIR")
            .filter(|_| python)
            .map(std::path::PathBuf::from);
        let pages: Vec<(&'static str, Vec<Block>)> =
            DOCS.iter().map(|&name| (name, blocks_of(name))).collect();
        let mut uses = Vec::new();
        for (name, blocks) in &pages {
            for b in blocks {
                let wanted = match &b.marker {
                    Marker::Run => true,
                    Marker::NeedsPython3 => python,
                    Marker::NotRun(why) => why == TUTORIAL_PYTHON && tutorial.is_some(),
                    _ => false,
                };
                if wanted {
                    uses.push(Use {
                        doc: name,
                        block: b.clone(),
                        script: (before(blocks, b), b.code.clone()),
                    });
                }
            }
        }
        // Both languages show the same blocks: each distinct script runs once.
        let scripts: Vec<(String, String)> = uses
            .iter()
            .map(|u| u.script.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let results = run_all(&scripts, tutorial.as_deref());
        let update = std::env::var_os("WALKTHROUGH_UPDATE").is_some_and(|v| v != "0");
        let mut failures = Vec::new();
        let mut rewrites: BTreeMap<&str, Vec<(blocks::Output, String)>> = BTreeMap::new();
        for u in &uses {
            let expected = &u.block.output.as_ref().expect("a transcript").text;
            let ran = match &results[&u.script] {
                Ok(ran) => ran,
                Err(why) => {
                    failures.push(format!(
                        "{}:{}: cannot run the block: {why}",
                        u.doc, u.block.line
                    ));
                    continue;
                }
            };
            let want = normalise(expected, &ran.named);
            let got = normalise(&ran.output, &ran.named);
            if want == got {
                continue;
            }
            if update {
                let output = u.block.output.clone().expect("a transcript");
                rewrites
                    .entry(u.doc)
                    .or_default()
                    .push((output, ran.output.clone()));
                continue;
            }
            failures.push(format!(
                "{doc}:{line}, in \"{section}\": the output is not what the page shows\n\
                 --- command (run in a directory of its own; ports swapped: {ports})\n{code}\
                 --- expected (the page; client ports, times and the shell's job numbers normalised)\n{want}\
                 --- actual (this run, normalised the same way)\n{got}\
                 --- diff (- expected, + actual)\n{diff}",
                doc = u.doc,
                line = u.block.line,
                section = u.block.section,
                ports = swapped(&ran.swapped),
                code = u.block.code,
                diff = diff(&want, &got),
            ));
        }
        for (name, changes) in &rewrites {
            rewrite(name, changes);
            say(&format!(
                "walkthrough: WALKTHROUGH_UPDATE wrote the new output of {} block(s) into {name}: reread the prose around them",
                changes.len()
            ));
        }
        for (name, blocks) in &pages {
            let ran: BTreeSet<usize> = uses
                .iter()
                .filter(|u| u.doc == *name)
                .map(|u| u.block.line)
                .collect();
            say(&summary(name, blocks, &ran));
        }
        assert!(
            failures.is_empty(),
            "{} transcript block(s) of the walkthroughs print something else now:\n\n{}\n\
             If the new output is right (the code changed on purpose), \
             `WALKTHROUGH_UPDATE=1 cargo test --test walkthrough` writes it under the block in both languages; \
             then reread the prose around it.",
            failures.len(),
            failures.join("\n\n")
        );
    }

    /// What runs before `block`: the page's prelude, then the setups before it in its section.
    fn before(blocks: &[Block], block: &Block) -> String {
        let mut text = String::new();
        for b in blocks {
            let before_it_here = b.section == block.section && b.line < block.line;
            if b.marker == Marker::Prelude || (b.marker == Marker::Setup && before_it_here) {
                text.push_str(&b.code);
            }
        }
        text
    }

    fn swapped(pairs: &[(u16, u16)]) -> String {
        if pairs.is_empty() {
            return "none".into();
        }
        let list: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
        list.join(", ")
    }

    /// A page's transcripts counted by what the test did with them, for the summary line.
    fn summary(name: &str, blocks: &[Block], ran: &BTreeSet<usize>) -> String {
        let transcripts: Vec<&Block> = blocks.iter().filter(|b| b.is_transcript()).collect();
        let mut not_run: BTreeMap<String, usize> = BTreeMap::new();
        for b in transcripts.iter().filter(|b| !ran.contains(&b.line)) {
            let why = match &b.marker {
                Marker::NotRun(reason) => reason.clone(),
                Marker::NeedsPython3 => "needs python3, which is not installed here".to_string(),
                _ => "?".to_string(),
            };
            *not_run.entry(why).or_default() += 1;
        }
        let inline_python = transcripts
            .iter()
            .filter(|b| b.marker == Marker::NeedsPython3 && ran.contains(&b.line))
            .count();
        let tutorial = transcripts
            .iter()
            .filter(|b| matches!(&b.marker, Marker::NotRun(_)) && ran.contains(&b.line))
            .count();
        let mut by_count: Vec<(&String, &usize)> = not_run.iter().collect();
        by_count.sort_by_key(|(why, n)| (std::cmp::Reverse(**n), *why));
        let reasons: Vec<String> = by_count
            .iter()
            .map(|(why, n)| format!("{why}: {n}"))
            .collect();
        let mut with = format!("{inline_python} of them with inline python3");
        if tutorial > 0 {
            with.push_str(&format!(
                ", {tutorial} with the tutorial's Python from WALKTHROUGH_PYTHON_DIR"
            ));
        }
        format!(
            "walkthrough: {name}: {} of {} transcript blocks run and checked ({with}); {} not run ({}); \
             {} more block(s) print nothing (the reader's setup, the prelude, setups)",
            ran.len(),
            transcripts.len(),
            transcripts.len() - ran.len(),
            reasons.join(", "),
            blocks.len() - transcripts.len(),
        )
    }

    type Results = BTreeMap<(String, String), Result<run::Ran, String>>;

    fn run_all(scripts: &[(String, String)], tutorial: Option<&Path>) -> Results {
        let bin = common::bin("tcp_server");
        let bin_dir = bin.parent().expect("the binaries' directory").to_path_buf();
        let queue = Arc::new(Mutex::new(scripts.to_vec()));
        let results = Arc::new(Mutex::new(Results::new()));
        let workers: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                let (queue, results, bin_dir) =
                    (Arc::clone(&queue), Arc::clone(&results), bin_dir.clone());
                let tutorial = tutorial.map(Path::to_path_buf);
                thread::spawn(move || loop {
                    let Some(script) = queue.lock().expect("no panic while locked").pop() else {
                        return;
                    };
                    let ran = run::run(&script.0, &script.1, &bin_dir, tutorial.as_deref());
                    results
                        .lock()
                        .expect("no panic while locked")
                        .insert(script, ran);
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a block runner panicked");
        }
        let results = Arc::try_unwrap(results).unwrap_or_else(|_| panic!("every runner is done"));
        results.into_inner().expect("no panic while locked")
    }

    /// Writes each block's new output in place of the old, in the page `name`.
    fn rewrite(name: &str, changes: &[(blocks::Output, String)]) {
        let path = repository().join(name);
        let doc = read_doc(name);
        let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
        let mut changes: Vec<&(blocks::Output, String)> = changes.iter().collect();
        // From the bottom up, so that the line numbers of the others stay right.
        changes.sort_by_key(|(output, _)| std::cmp::Reverse(output.first_line));
        for (output, text) in changes {
            let new: Vec<String> = text
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{}{l}", output.indent)
                    }
                })
                .collect();
            lines.splice(output.first_line..output.fence_line, new);
        }
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    }
}

/// How a page names a block's runner, beside the block: `` `cargo run --release --example lesson -- NAME` ``.
const LESSON_COMMAND: &str = "`cargo run --release --example lesson -- ";

/// The lesson named after each transcript of a page, up to the next shell block or section,
/// with the output it must print: the block's, or, when the lesson's own form differs
/// (a portable stand-in for a Linux-only tool), the ```` ```text ```` block right under the
/// lesson's command.
fn lessons_of(name: &str) -> Vec<(usize, String, String)> {
    let doc = read_doc(name);
    let lines: Vec<&str> = doc.lines().collect();
    let mut found = Vec::new();
    for block in blocks_of(name) {
        let Some(output) = &block.output else {
            continue;
        };
        let mut at = output.fence_line + 1;
        while let Some(line) = lines.get(at) {
            if line.trim_start().starts_with("```sh") || line.starts_with("## ") {
                break;
            }
            let Some(start) = line.find(LESSON_COMMAND) else {
                at += 1;
                continue;
            };
            let rest = &line[start + LESSON_COMMAND.len()..];
            let Some(end) = rest.find('`') else {
                break;
            };
            let own = lines[at + 1..]
                .iter()
                .position(|l| !l.trim().is_empty())
                .map(|skip| at + 1 + skip)
                .filter(|&fence| lines[fence].trim() == "```text");
            let expected = match own {
                Some(fence) => lines[fence + 1..]
                    .iter()
                    .take_while(|l| l.trim() != "```")
                    .map(|l| format!("{l}\n"))
                    .collect(),
                None => output.text.clone(),
            };
            found.push((block.line, rest[..end].to_string(), expected));
            break;
        }
    }
    found
}

/// Lessons whose transcript differs from run to run in where TCP cut a long line.
const TIMING_LESSONS: [&str; 2] = ["tcp-long-line", "tcp-long-line-python"];

/// Lessons whose figures depend on the system (how many datagrams a receive buffer keeps):
/// compared with every number taken as `N`.
const COUNTING_LESSONS: [&str; 1] = ["udp-not-reading"];

fn digits_as_n(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// What a long-line lesson must show whatever the timing: how many `x` the server read in
/// all (the `[N x]` of its log lines), and that no read took more than 1024.
fn pieces(transcript: &str) -> (usize, bool) {
    let mut total = 0;
    let mut within = true;
    for piece in transcript.split('[').skip(1) {
        if let Some(n) = piece
            .split_once(" x]")
            .and_then(|(n, _)| n.parse::<usize>().ok())
        {
            total += n;
            within &= n <= 1024;
        }
    }
    (total, within)
}

#[test]
fn every_lesson_prints_what_its_block_shows() {
    let program = common::lesson_program();
    /// The ports the page names: the runner shows them as the page does.
    const PAGE_PORTS: [u16; 5] = [10500, 11500, 11600, 14000, 15000];
    let tutorial = std::env::var_os("WALKTHROUGH_PYTHON_DIR").map(std::path::PathBuf::from);
    let mut failures = Vec::new();
    let mut ran = BTreeSet::new();
    for doc in DOCS {
        let lessons = lessons_of(doc);
        assert!(
            lessons.len() >= 28,
            "{doc}: only {} blocks name their lesson runner",
            lessons.len()
        );
        for (line, name, expected) in lessons {
            ran.insert(name.clone());
            let mut cmd = std::process::Command::new(&program);
            if let Some(dir) = &tutorial {
                cmd.arg("--py").arg(dir);
            }
            let out = cmd
                .args(["--free-ports", "--shown-dir", "/tmp/walk", &name])
                // Not a `cargo run`: the programs are built, and the lesson must not build them.
                .env_remove("CARGO")
                .env_remove("CARGO_MANIFEST_DIR")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            // 4: the lesson runs the tutorial's programs, which the project does not ship
            // (examples/lesson/run.rs, NO_TUTORIAL); WALKTHROUGH_PYTHON_DIR names them.
            if out.status.code() == Some(4) {
                common::skip(&format!(
                    "`lesson {name}` runs the tutorial's own Python programs: set WALKTHROUGH_PYTHON_DIR to their folder to run it"
                ));
                continue;
            }
            // 3: the lesson needs Python 3 and found none (examples/lesson/run.rs, NO_PYTHON).
            if out.status.code() == Some(3) {
                common::skip(&format!(
                    "`lesson {name}` found no Python 3 here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                continue;
            }
            let got = String::from_utf8_lossy(&out.stdout).into_owned();
            let (want, got) = (
                normalise::normalise(&expected, &PAGE_PORTS),
                normalise::normalise(&got, &PAGE_PORTS),
            );
            // Where a long line's pieces fall differs from run to run (the page says so): the
            // lesson must then show every byte arrived, in pieces the server's 1024-byte reads allow.
            let same = if TIMING_LESSONS.contains(&name.as_str()) {
                pieces(&want) == pieces(&got)
            } else if COUNTING_LESSONS.contains(&name.as_str()) {
                digits_as_n(&want) == digits_as_n(&got)
            } else {
                want == got
            };
            if !out.status.success() || !same {
                failures.push(format!(
                    "{doc}:{line}: `lesson {name}` ({}) does not print what the page shows\n{}\n--- stderr\n{}",
                    out.status,
                    normalise::diff(&want, &got),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran.len() >= 28, "only {} lessons ran: {ran:?}", ran.len());
}

/// The pairs of the two-windows section: each lesson named there, and the ```` ```bat ````
/// blocks under it (window 1, then window 2).
fn window_pairs(name: &str) -> Vec<(String, Vec<String>)> {
    let doc = read_doc(name);
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    let mut block: Option<String> = None;
    for line in doc.lines() {
        if let Some(text) = &mut block {
            if line.trim() == "```" {
                if let Some((_, blocks)) = pairs.last_mut() {
                    blocks.push(text.trim_end().to_string());
                }
                block = None;
            } else {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        }
        if line.trim() == "```bat" {
            block = Some(String::new());
        }
        for marker in ["(lesson `", "（课程 `"] {
            if let Some(at) = line.find(marker) {
                let rest = &line[at + marker.len()..];
                if let Some(end) = rest.find('`') {
                    pairs.push((rest[..end].to_string(), Vec::new()));
                }
            }
        }
    }
    pairs
}

#[test]
fn the_two_windows_of_each_pair_are_the_commands_its_lesson_runs() {
    let program = common::lesson_program();
    for doc in DOCS {
        let pairs = window_pairs(doc);
        assert_eq!(
            pairs.len(),
            6,
            "{doc}: the two-windows section names {} pairs, not the six",
            pairs.len()
        );
        for (name, blocks) in pairs {
            let out = std::process::Command::new(&program)
                .args(["--windows", &name])
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            assert!(
                out.status.success(),
                "lesson --windows {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lesson: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split("\n\n")
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
                .collect();
            assert_eq!(
                blocks, lesson,
                "{doc}: the windows of `{name}` are not the commands its lesson runs"
            );
        }
    }
}
