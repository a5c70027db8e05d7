//! Whether this process is in the foreground of its terminal: a background process that reads the terminal is stopped with SIGTTIN, and one that changes its settings with SIGTTOU, so the shell looks first.

use std::time::Duration;

/// True when this process's group is the terminal's foreground group (or
/// when that cannot be told, or there is no such thing: no controlling
/// terminal, which nothing can stop us for, or Windows).
pub fn in_foreground() -> bool {
    imp::in_foreground().unwrap_or(true)
}

/// Waits (polling, a few times a second) until this process is in the
/// foreground: what `fg` does for a job that was sent to the background.
pub fn wait_for_foreground() {
    while !in_foreground() {
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(unix)]
mod imp {
    use std::process::Command;

    /// Linux says it in `/proc/self/stat` (the process group is field 5, the
    /// terminal's foreground group field 8); elsewhere `ps` does.
    pub fn in_foreground() -> Option<bool> {
        from_proc().or_else(from_ps)
    }

    fn from_proc() -> Option<bool> {
        parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// Whether a `/proc/PID/stat` line says the process is in the foreground.
    pub fn parse_stat(stat: &str) -> Option<bool> {
        // The command name (field 2) is in parentheses and may hold spaces and `)`.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state (3), ppid (4), pgrp (5), session (6), tty (7), tpgid (8).
        let (pgrp, tpgid) = (fields.get(2)?, fields.get(5)?);
        Some(same_group(pgrp, tpgid))
    }

    /// `tpgid` is -1 (Linux) or 0 (BSD `ps`) without a controlling terminal.
    fn same_group(pgrp: &str, tpgid: &str) -> bool {
        pgrp == tpgid || tpgid == "-1" || tpgid == "0"
    }

    fn from_ps() -> Option<bool> {
        let out = Command::new("ps")
            .args(["-o", "pgid=", "-o", "tpgid=", "-p"])
            .arg(std::process::id().to_string())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut ids = text.split_whitespace();
        let (pgid, tpgid) = (ids.next()?, ids.next()?);
        Some(same_group(pgid, tpgid))
    }
}

#[cfg(windows)]
mod imp {
    /// A Windows console has no background jobs.
    pub fn in_foreground() -> Option<bool> {
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::imp::parse_stat;

    #[test]
    fn the_foreground_is_read_from_a_stat_line() {
        // pid (comm) state ppid pgrp session tty_nr tpgid ...
        assert_eq!(
            parse_stat("42 (file_shell) S 1 42 7 34816 42 0 0"),
            Some(true)
        );
        assert_eq!(
            parse_stat("42 (file_shell) T 1 42 7 34816 50 0 0"),
            Some(false)
        );
        // No controlling terminal at all (tpgid -1): nothing can stop it.
        assert_eq!(parse_stat("42 (a) b) S 1 42 7 0 -1 0"), Some(true));
        assert_eq!(parse_stat("garbage"), None);
    }
}
