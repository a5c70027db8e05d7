//! The walkthrough's lessons as one program that runs on every platform (PowerShell and cmd
//! included), where the page's bash blocks need bash: `cargo run --release --example lesson -- NAME`.
//!
//! Each lesson runs the same steps as its block (start a server, drive a client, wait for
//! a line of the log, stop the server, show what the page shows) with our binaries, and
//! prints the same transcript; `tests/walkthrough.rs` compares the two.
//!
//! Usage: lesson NAME        run one lesson
//!        lesson --list      the lessons, with the section of the page each belongs to
//! Options (for the walkthrough test): --free-ports (free ports, shown as the page's),
//! --shown-dir DIR (the lesson's folder shown as DIR).
//!
//! Standard library only.

#[path = "../demo/build.rs"]
mod build;
mod download;
mod run;
mod tcp;
mod udp;

use run::{Lesson, Result};
use std::process::ExitCode;

/// What a lesson does.
type Steps = fn(&Lesson) -> Result<()>;

/// Every lesson: its name, the page's section, and its steps.
const LESSONS: [(&str, &str, Steps); 13] = [
    (
        "tcp-sequential-python",
        "What TCP promises, and what it does not",
        tcp::sequential_python,
    ),
    (
        "tcp-sequential-python-trace",
        "What TCP promises, and what it does not",
        tcp::sequential_python_traced,
    ),
    (
        "tcp-stream",
        "What TCP promises, and what it does not",
        tcp::stream,
    ),
    (
        "udp-forged-lines",
        "What UDP promises, and what it does not",
        udp::forged_lines,
    ),
    ("tcp-sequential", "One thread per client", tcp::sequential),
    ("tcp-threads", "One thread per client", tcp::threads),
    (
        "tcp-threads-trace",
        "One thread per client",
        tcp::threads_traced,
    ),
    (
        "download-trace",
        "What TCP promises, and what it does not",
        download::traced,
    ),
    (
        "udp-long-datagram",
        "What UDP promises, and what it does not",
        udp::long_datagram,
    ),
    (
        "download-photo",
        "The tutorial's own list of download limitations",
        download::photo,
    ),
    (
        "download-resume",
        "The tutorial's own list of download limitations",
        download::resume,
    ),
    (
        "download-missing",
        "The tutorial's own list of download limitations",
        download::missing,
    ),
    (
        "download-raw-trace",
        "The tutorial's own list of download limitations",
        download::raw_traced,
    ),
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lesson: {message}");
            if message == run::no_python() {
                return ExitCode::from(run::NO_PYTHON);
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut name = None;
    let mut free_ports = false;
    let mut shown_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                for (name, section, _) in LESSONS {
                    println!("{name:20} {section}");
                }
                return Ok(());
            }
            "--free-ports" => free_ports = true,
            "--shown-dir" => shown_dir = Some(args.next().ok_or("--shown-dir needs a folder")?),
            "-h" | "--help" => {
                println!(
                    "Usage: lesson NAME | --list   (cargo run --release --example lesson -- NAME)"
                );
                return Ok(());
            }
            _ if name.is_none() && !arg.starts_with('-') => name = Some(arg),
            _ => return Err(format!("unexpected argument '{arg}' (try --list)")),
        }
    }
    let name = name.ok_or("which lesson? `lesson --list` names them")?;
    let Some((_, _, lesson)) = LESSONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("no lesson '{name}' (try --list)"));
    };
    let bin = run::programs_dir()?;
    build::build_when_run_by_cargo(&bin)?;
    lesson(&Lesson::new(bin, free_ports, shown_dir)?)
}
