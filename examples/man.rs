//! Writes the manual pages in docs/man from each program's `--help` (`make man` runs it after building the programs).
//!
//! Usage: man [OUT_DIR [DIR_WITH_THE_PROGRAMS]]   (default: docs/man, and the folder above
//! this example, target/<profile>)
//!
//! `tests/man.rs` fails when a committed page no longer matches its program's help,
//! and says to run this.

use socket_tutorial::core::manpage::PROGRAMS;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("man: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1);
    let out = args
        .next()
        .map_or_else(|| PathBuf::from("docs/man"), PathBuf::from);
    let programs = match args.next() {
        Some(dir) => PathBuf::from(dir),
        None => programs_dir()?,
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for name in PROGRAMS {
        let help = help_of(&programs.join(name))?;
        let page = socket_tutorial::manual_page(name, &help);
        let path = out.join(format!("{name}.1"));
        std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn help_of(program: &Path) -> Result<String, String> {
    let out = Command::new(program).arg("--help").output().map_err(|e| {
        format!(
            "cannot run {}: {e} (build the programs first)",
            program.display()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "{} --help failed: {}",
            program.display(),
            out.status
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{} --help is not UTF-8", program.display()))
}

/// The folder above this example's (cargo puts examples in target/<profile>/examples, the programs in target/<profile>).
fn programs_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(PathBuf::from)
        .ok_or_else(|| format!("cannot find the folder above {}", exe.display()))
}
