//! The READMEs' Windows blocks run as written in PowerShell and in cmd alike, and every command of ours in them is one its program takes.

mod common;

use common::command;

/// The READMEs, in every language.
const READMES: [&str; 2] = ["README.md", "README.zh-CN.md"];

/// The lines of every ```` ```bat ```` block of a README (the page's Windows commands).
fn windows_lines(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        match line.trim() {
            "```bat" => inside = true,
            "```" => inside = false,
            l if inside => lines.push(l.to_string()),
            _ => lines.extend(inline_commands(line)),
        }
    }
    lines
}

/// The code spans of a line of prose that are one of our Windows commands:
/// `` `target\release\udp_receiver.exe --encoding gbk` ``.
fn inline_commands(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("target\\release\\"))
        .map(String::from)
        .collect()
}

#[test]
fn windows_blocks_hold_what_both_shells_run() {
    for name in READMES {
        let lines = windows_lines(name);
        assert!(
            lines.len() >= 6,
            "{name}: only {} Windows lines found",
            lines.len()
        );
        for line in &lines {
            // Comments, variables and separators of one shell are errors, or mean something
            // else, in the other: `::` and REM (cmd), `#` and `$env:` (PowerShell), `%VAR%` (cmd),
            // `&&` (cmd and PowerShell 7, not Windows PowerShell 5).
            for bad in ["::", "rem ", "REM ", "#", "$", "%", "&&", ";"] {
                assert!(
                    !line.starts_with(bad.trim_end()) && !line.contains(&format!(" {bad}")),
                    "{name}: `{line}` holds `{bad}`, which one of PowerShell and cmd does not run"
                );
            }
        }
    }
}

#[test]
fn every_program_of_ours_in_the_windows_blocks_takes_its_arguments() {
    let mut checked = 0;
    for name in READMES {
        for line in windows_lines(name) {
            let mut words = line.split_whitespace();
            let Some(program) = words.next() else {
                continue;
            };
            // `target\release\tcp_server.exe`: one of ours. Cargo and Python lines are not.
            let Some(bin) = program
                .strip_prefix("target\\release\\")
                .and_then(|p| p.strip_suffix(".exe"))
                .filter(|bin| socket_tutorial::PROGRAMS.contains(bin))
            else {
                continue;
            };
            let args: Vec<&str> = words.collect();
            // The parser checks every argument before it answers --help: a wrong option or
            // value fails here with a usage error, and no server is left running.
            let out = command(bin)
                .args(&args)
                .arg("--help")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
            assert!(
                out.status.success(),
                "{name}: `{line}` is not a command {bin} takes:\n{}",
                common::describe(&out)
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} commands of ours checked");
}

#[test]
fn the_two_windows_are_the_commands_the_tcp_pair_lesson_runs() {
    let program = common::lesson_program();
    let out = std::process::Command::new(&program)
        .args(["--windows", "tcp-python-client"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let lesson: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    for name in READMES {
        let lines = windows_lines(name);
        let pair = lines.windows(2).any(|w| w == lesson.as_slice());
        assert!(
            pair,
            "{name}: the two windows are not `{}`, the commands lesson tcp-python-client runs",
            lesson.join("` and `")
        );
    }
}
