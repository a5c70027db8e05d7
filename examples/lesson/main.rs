//! The walkthrough's lessons as one program that runs on every platform (PowerShell and cmd
//! included), where the page's bash blocks need bash: `cargo run --release --example lesson -- NAME`.
//!
//! Each lesson runs the same steps as its block (start a server, drive a client, wait for
//! a line of the log, stop the server, show what the page shows) with our binaries, and
//! prints the same transcript; `tests/walkthrough.rs` compares the two.
//!
//! Usage: lesson NAME            run one lesson
//!        lesson --list          the lessons, with the section of the page each belongs to
//!        lesson --windows NAME  a pair lesson's two commands, one per window
//!        lesson --diagrams DIR  the walkthrough's diagrams, drawn from real runs (`make diagrams`)
//! Options: --py DIR (where the tutorial's own Python programs are, for the lessons that
//! run them; default py, as the page keeps them). For the walkthrough test: --free-ports
//! (free ports, shown as the page's), --shown-dir DIR (the lesson's folder shown as DIR).
//!
//! Standard library only.

#[path = "../demo/build.rs"]
mod build;
mod diagrams;
mod download;
mod pairs;
mod run;
mod tcp;
mod udp;

use run::{Lesson, Result};
use std::process::ExitCode;

/// What a lesson does.
type Steps = fn(&Lesson) -> Result<()>;

/// Every lesson: its name, the page's section, and its steps.
const LESSONS: [(&str, &str, Steps); 30] = [
    (
        "udp-not-reading",
        "What UDP promises, and what it does not",
        udp::not_reading,
    ),
    (
        "tcp-long-line-python",
        "What TCP promises, and what it does not",
        tcp::long_line_python,
    ),
    (
        "tcp-long-line",
        "What TCP promises, and what it does not",
        tcp::long_line,
    ),
    (
        "download-raw-python-server",
        "On Windows: each pair in two windows",
        pairs::download_raw_python_server,
    ),
    (
        "udp-python-sender-to-ours",
        "On Windows: each pair in two windows",
        pairs::udp_python_sender_to_ours,
    ),
    (
        "tcp-listen-trace",
        "`tcp_server.py` → `tcp_server`",
        tcp::listen_traced,
    ),
    (
        "tcp-python-server-two-sends",
        "What TCP promises, and what it does not",
        pairs::tcp_python_server_two_sends,
    ),
    (
        "udp-python-forged",
        "What UDP promises, and what it does not",
        pairs::udp_python_forged,
    ),
    (
        "udp-python-sender",
        "What UDP promises, and what it does not",
        pairs::udp_python_sender,
    ),
    (
        "download-python-photo",
        "The tutorial's own list of download limitations",
        pairs::download_python_photo,
    ),
    (
        "download-python-missing",
        "The tutorial's own list of download limitations",
        pairs::download_python_missing,
    ),
    (
        "download-slow-link-python",
        "The tutorial's own list of download limitations",
        pairs::download_slow_link_python,
    ),
    (
        "download-slow-link-raw",
        "The tutorial's own list of download limitations",
        download::slow_link_raw,
    ),
    (
        "tcp-python-server",
        "`tcp_server.py` → `tcp_server`",
        pairs::tcp_python_server,
    ),
    (
        "tcp-python-client",
        "`tcp_server.py` → `tcp_server`",
        pairs::tcp_python_client,
    ),
    (
        "udp-python-receiver",
        "What UDP promises, and what it does not",
        pairs::udp_python_receiver,
    ),
    (
        "download-python-client",
        "The tutorial's own list of download limitations",
        pairs::download_python_client,
    ),
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
            if message.starts_with("this lesson runs the tutorial's own Python programs") {
                return ExitCode::from(run::NO_TUTORIAL);
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut name = None;
    let mut free_ports = false;
    let mut shown_dir = None;
    let mut tutorial = std::path::PathBuf::from("py");
    let mut diagrams = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                for (name, section, _) in LESSONS {
                    println!("{name:20} {section}");
                }
                return Ok(());
            }
            "--windows" => {
                let name = args.next().ok_or("--windows needs a lesson")?;
                let (_, w) = pairs::WINDOWS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or(format!("lesson '{name}' is not a pair in two windows"))?;
                // As the page shows each window: `cd DIR` first when it runs in a folder.
                for (dir, line) in [(w.server_dir, w.server), (w.client_dir, w.client)] {
                    if !dir.is_empty() {
                        println!("cd {dir}");
                    }
                    println!("{line}");
                    println!();
                }
                return Ok(());
            }
            "--free-ports" => free_ports = true,
            "--diagrams" => diagrams = Some(args.next().ok_or("--diagrams needs a folder")?),
            "--shown-dir" => shown_dir = Some(args.next().ok_or("--shown-dir needs a folder")?),
            "--py" => tutorial = args.next().ok_or("--py needs a folder")?.into(),
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
    if let Some(out) = diagrams {
        let bin = run::programs_dir()?;
        build::build_when_run_by_cargo(&bin)?;
        let out = std::env::current_dir()
            .map(|d| d.join(&out))
            .unwrap_or(out.into());
        return diagrams::all(&Lesson::new(bin, true, None, tutorial)?, &out);
    }
    let name = name.ok_or("which lesson? `lesson --list` names them")?;
    let Some((_, _, lesson)) = LESSONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("no lesson '{name}' (try --list)"));
    };
    let bin = run::programs_dir()?;
    build::build_when_run_by_cargo(&bin)?;
    // The tutorial's folder as the learner named it, from where the lesson was started.
    let tutorial = std::env::current_dir()
        .map(|here| here.join(&tutorial))
        .unwrap_or(tutorial);
    lesson(&Lesson::new(bin, free_ports, shown_dir, tutorial)?)
}
