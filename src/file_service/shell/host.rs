//! What the shell's local side does differently on unix and on Windows: the command interpreter behind `!`, the home directory behind `~`, how a local directory is shown, and which names from a server may not become a local file name.

use std::process::Command;

pub use imp::{home, INTERPRETER};

/// `COMMAND` run by the platform's command interpreter (`sh -c` or `cmd /C`).
pub fn command(text: &str) -> Command {
    imp::command(text)
}

/// [`command`] as a job of its own at the terminal, so that Ctrl-C stops the
/// command and not file_shell (see `imp::as_job`); for a terminal handed over.
pub fn command_as_job(text: &str) -> Command {
    imp::as_job(text)
}

/// The interpreter on its own, for a lone `!`.
pub fn interactive() -> Command {
    Command::new(imp::interactive_program())
}

#[cfg(not(windows))]
mod imp {
    use std::ffi::OsString;
    use std::path::PathBuf;
    use std::process::Command;

    /// How `!` runs a command, for messages.
    pub const INTERPRETER: &str = "sh -c";

    pub fn command(text: &str) -> Command {
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(text);
        sh
    }

    /// Std cannot ignore SIGINT, and the terminal sends it to its foreground
    /// process group, where file_shell is. So an outer `sh` with job control
    /// (`set -m`) runs the command in a process group of its own and gives it
    /// the terminal: Ctrl-C reaches only the command, and the outer `sh` gives
    /// the terminal back to file_shell's group when it ends. Its trap keeps
    /// an ash (dash) from raising the job's SIGINT on itself before it has
    /// given the terminal back; bash, which would ignore the trap's status,
    /// exits 130 by itself. `exit $?` comes last, so the job is never the
    /// outer shell itself through an `exec` shortcut. Exit status 130 means
    /// the command ended by Ctrl-C.
    const AS_JOB: &str = "set -m\n\
                          [ -n \"$BASH_VERSION\" ] || trap 'exit 130' INT\n\
                          /bin/sh -c \"$1\"\n\
                          exit $?\n";

    pub fn as_job(text: &str) -> Command {
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(AS_JOB).arg("sh").arg(text);
        sh
    }

    pub fn interactive_program() -> OsString {
        std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into())
    }

    pub fn home() -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

#[cfg(windows)]
mod imp {
    use std::ffi::OsString;
    use std::os::windows::process::CommandExt;
    use std::path::PathBuf;
    use std::process::Command;

    /// How `!` runs a command, for messages.
    pub const INTERPRETER: &str = "cmd /C";

    pub fn command(text: &str) -> Command {
        let mut cmd = Command::new(interactive_program());
        // cmd parses its own command line: /S /C "..." hands it the text as typed,
        // where std's quoting of an ordinary argument would add backslashes cmd keeps.
        cmd.args(["/S", "/C"]).raw_arg(format!("\"{text}\""));
        cmd
    }

    /// The console sends Ctrl-C to every process attached to it, and std
    /// installs no handler, so it ends file_shell with the command; a new
    /// process group would only make the command deaf to it. As it is.
    pub fn as_job(text: &str) -> Command {
        command(text)
    }

    pub fn interactive_program() -> OsString {
        std::env::var_os("ComSpec").unwrap_or_else(|| "cmd.exe".into())
    }

    pub fn home() -> Option<PathBuf> {
        std::env::var_os("USERPROFILE").map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_runs_a_command_and_reports_its_status() {
        let status = command("exit 3").status().expect("run the interpreter");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_directory_is_shown_as_people_write_it() {
        let dir = std::env::current_dir().expect("a current directory");
        let shown = crate::file_service::os_name::shown_path(
            &std::fs::canonicalize(&dir).expect("canonicalize"),
        );
        assert!(!shown.to_string_lossy().starts_with(r"\\?\"), "{shown:?}");
        assert!(shown.is_absolute(), "{shown:?}");
    }
}
