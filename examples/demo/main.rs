//! The guided tour behind `make demo` (`cargo run --release --example demo` where there is no make):
//! each pair of programs in the tutorial's order, on free ports, with what happens explained.
//!
//! Usage: demo [DIR_WITH_THE_PROGRAMS]   (default: the folder above this example, target/release)
//!
//! Standard library only, so the tour runs wherever cargo does: Linux, macOS, Windows.

mod build;
mod download;
mod folders;
mod tcp;
mod tour;
mod udp;

use std::path::PathBuf;
use std::process::ExitCode;
use tour::Tour;

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("\nThat was the tour. `make test` (or `cargo test`) runs the tests; each program explains itself with --help.");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("demo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> tour::Result<()> {
    let tour = Tour::new(programs_dir()?)?;
    // The tutorial's order: TCP, files, UDP, then its sftp section.
    tcp::part(&tour)?;
    download::part(&tour)?;
    udp::part(&tour)?;
    folders::part(&tour)
}

/// The folder given as the one argument, or the one above this example's
/// (cargo puts examples in target/<profile>/examples, the programs in target/<profile>).
fn programs_dir() -> tour::Result<PathBuf> {
    if let Some(dir) = std::env::args_os().nth(1) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(PathBuf::from)
        .ok_or_else(|| format!("cannot find the folder above {}", exe.display()))
}
