//! A one-line transfer progress display for stderr: the file's base name, bytes, percent, rate and time left, redrawn in place at most ten times a second, never wider than the terminal.
//!
//! The width is `COLUMNS` when it is set, else the terminal's own (`stty
//! size` on unix; std cannot ask a Windows console), else 80; the line takes
//! one column less, since writing the last one makes some terminals wrap,
//! and a line that wraps leaves a row behind at every redraw.
//!
//! The text is built by pure functions of (done, total, elapsed) so it can
//! be tested without a clock or a terminal; [`Progress`] adds the
//! throttling and the writing, with the clock passed in.

use crate::file_service::terminal::text_width;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Minimum time between two redraws: ten a second is smooth to the eye and
/// costs nothing next to the transfer.
pub const REDRAW_INTERVAL: Duration = Duration::from_millis(100);

/// Returns to the start of the line; the line is then rewritten in place.
const START_OF_LINE: &str = "\r";
/// ANSI "erase to end of line", so a shorter line leaves no leftovers.
const CLEAR_TO_END: &str = "\x1b[K";
/// The width assumed when nothing says: a terminal's classic one.
const DEFAULT_COLUMNS: usize = 80;
/// How long the terminal's width is taken as known (asking costs a process).
const COLUMNS_KEPT: Duration = Duration::from_secs(1);

/// Whether to show progress at all: only when stderr is a terminal, so
/// logs and pipes never fill up with `\r` redraws.
pub fn enabled() -> bool {
    io::stderr().is_terminal()
}

/// The terminal's width in columns (see the module's text).
pub fn columns() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    // A `get -r` of many small files asks once a second, not once a file;
    // a resized terminal is seen within that second.
    static KNOWN: Mutex<Option<(Instant, usize)>> = Mutex::new(None);
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    match *known {
        Some((when, n)) if when.elapsed() < COLUMNS_KEPT => n,
        _ => {
            let n = crate::file_service::terminal::stderr_columns().unwrap_or(DEFAULT_COLUMNS);
            *known = Some((Instant::now(), n));
            n
        }
    }
}

/// The last component of a path as shown (`/photos/2018/beach.jpg` -> `beach.jpg`).
pub fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None if trimmed.is_empty() => path,
        None => trimmed,
    }
}

/// `label: numbers` in at most `columns - 1` columns: the label shortened
/// first (ending in `…`), left out when not even three of its characters
/// fit, and the numbers cut last.
fn fit(label: &str, numbers: &str, columns: usize) -> String {
    let room = columns.saturating_sub(1);
    let numbers_width = text_width(numbers);
    let whole = text_width(label) + 2 + numbers_width;
    if !label.is_empty() && whole <= room {
        return format!("{label}: {numbers}");
    }
    let label_room = room.saturating_sub(numbers_width + 2);
    if !label.is_empty() && label_room >= 4 {
        return format!("{}…: {numbers}", take_width(label, label_room - 1));
    }
    take_width(numbers, room)
}

/// The longest start of `text` at most `room` columns wide.
fn take_width(text: &str, room: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|&c| {
            used += crate::file_service::terminal::width(c);
            used <= room
        })
        .collect()
}

/// Bytes in binary units with one decimal: `"0 B"`, `"1023 B"`, `"1.5 KiB"`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // 1023.95 would print as "1024.0", so it belongs to the next unit.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"EiB"))
}

/// Whole seconds as `M:SS` or `H:MM:SS`.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Percent done, 0..=100. A zero-byte transfer is complete as soon as it starts.
fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        return 100;
    }
    let pct = u128::from(done.min(total)) * 100 / u128::from(total);
    u64::try_from(pct).unwrap_or(100)
}

/// Bytes per second over this session, or `None` before any time passed.
fn rate(transferred: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0).then(|| transferred as f64 / secs)
}

fn rate_text(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{}/s", human_bytes(r as u64)),
        None => "--/s".to_owned(),
    }
}

fn eta_text(done: u64, total: u64, rate: Option<f64>) -> String {
    if done >= total {
        return human_duration(0);
    }
    match rate {
        Some(r) if r >= 1.0 => {
            let secs = ((total - done) as f64 / r).ceil();
            // `as` saturates, so an absurd estimate stays a number.
            human_duration(secs as u64)
        }
        _ => "--:--".to_owned(),
    }
}

/// The progress text for `done` of `total` bytes after `elapsed`, e.g.
/// `"512.0 KiB / 1.0 MiB  50%  512.0 KiB/s  ETA 0:01"`.
pub fn render(done: u64, total: u64, elapsed: Duration) -> String {
    render_resumed(done, 0, total, elapsed)
}

/// Like [`render`] for a transfer that resumed at `start` bytes: the rate
/// and time left count only what moved in this session.
pub fn render_resumed(done: u64, start: u64, total: u64, elapsed: Duration) -> String {
    let r = rate(done.saturating_sub(start), elapsed);
    format!(
        "{} / {}  {:>3}%  {}  ETA {}",
        human_bytes(done),
        human_bytes(total),
        percent(done, total),
        rate_text(r),
        eta_text(done, total, r)
    )
}

/// The line left on screen when a transfer ends, e.g.
/// `"1.0 MiB / 1.0 MiB  100%  512.0 KiB/s  in 0:02"`.
pub fn render_final(done: u64, start: u64, total: u64, elapsed: Duration) -> String {
    format!(
        "{} / {}  {:>3}%  {}  in {}",
        human_bytes(done),
        human_bytes(total),
        percent(done, total),
        rate_text(rate(done.saturating_sub(start), elapsed)),
        human_duration(elapsed.as_secs())
    )
}

/// A progress line being redrawn on `out`.
pub struct Progress<W: Write> {
    out: W,
    enabled: bool,
    label: String,
    /// The terminal's width; the line takes one column less.
    columns: usize,
    total: u64,
    start: u64,
    started: Instant,
    last_draw: Option<Instant>,
    /// A line is on screen without its final newline.
    line_open: bool,
    finished: bool,
}

impl Progress<io::Stderr> {
    /// Progress on stderr for the file at `path` (shown by its base name, as
    /// sftp does), only if stderr is a terminal, fitted to its width; the
    /// clock starts now.
    pub fn stderr(path: &str, total: u64, start: u64) -> Progress<io::Stderr> {
        let on = enabled();
        let progress = Progress::new(
            io::stderr(),
            on,
            base_name(path),
            total,
            start,
            Instant::now(),
        );
        if on {
            progress.columns(columns())
        } else {
            progress
        }
    }
}

impl<W: Write> Progress<W> {
    /// `start` is the offset a resumed transfer begins at (0 otherwise);
    /// `started` is when this session's bytes began to move.
    pub fn new(
        out: W,
        enabled: bool,
        label: &str,
        total: u64,
        start: u64,
        started: Instant,
    ) -> Progress<W> {
        Progress {
            out,
            enabled,
            label: label.to_owned(),
            columns: DEFAULT_COLUMNS,
            total,
            start,
            started,
            last_draw: None,
            line_open: false,
            finished: false,
        }
    }

    /// Fits the line to `columns` (80 unless told).
    pub fn columns(mut self, columns: usize) -> Progress<W> {
        self.columns = columns;
        self
    }

    /// Report `done` bytes at time `now`. Draws only if the last drawing
    /// is at least [`REDRAW_INTERVAL`] old; returns whether it drew.
    pub fn update(&mut self, done: u64, now: Instant) -> io::Result<bool> {
        if !self.enabled || self.finished {
            return Ok(false);
        }
        if let Some(last) = self.last_draw {
            if now.saturating_duration_since(last) < REDRAW_INTERVAL {
                return Ok(false);
            }
        }
        let elapsed = now.saturating_duration_since(self.started);
        let line = render_resumed(done, self.start, self.total, elapsed);
        let line = fit(&self.label, &line, self.columns);
        write!(self.out, "{START_OF_LINE}{line}{CLEAR_TO_END}")?;
        self.out.flush()?;
        self.last_draw = Some(now);
        self.line_open = true;
        Ok(true)
    }

    /// Draw the final line (whatever the throttle says) and end it.
    /// Later calls do nothing.
    pub fn finish(&mut self, done: u64, now: Instant) -> io::Result<()> {
        if !self.enabled || self.finished {
            return Ok(());
        }
        self.finished = true;
        let elapsed = now.saturating_duration_since(self.started);
        let line = render_final(done, self.start, self.total, elapsed);
        let line = fit(&self.label, &line, self.columns);
        writeln!(self.out, "{START_OF_LINE}{line}{CLEAR_TO_END}")?;
        self.line_open = false;
        self.out.flush()
    }

    /// Leave the current line as it is and move to the next one, so an
    /// error message printed after a failed transfer starts on its own line.
    pub fn abandon(&mut self) -> io::Result<()> {
        self.finished = true;
        if self.line_open {
            self.line_open = false;
            writeln!(self.out)?;
            self.out.flush()?;
        }
        Ok(())
    }
}

impl<W: Write> Drop for Progress<W> {
    fn drop(&mut self) {
        // Nowhere to report a failure to write a newline to a terminal.
        let _ = self.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;

    #[test]
    fn units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1), "1 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(MIB - 1), "1.0 MiB");
        assert_eq!(human_bytes(10 * MIB + 300 * KIB), "10.3 MiB");
        assert_eq!(human_bytes(5 * 1024 * MIB), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "0:00");
        assert_eq!(human_duration(59), "0:59");
        assert_eq!(human_duration(61), "1:01");
        assert_eq!(human_duration(3599), "59:59");
        assert_eq!(human_duration(3600), "1:00:00");
        assert_eq!(human_duration(3661), "1:01:01");
        assert_eq!(human_duration(100 * 3600), "100:00:00");
    }

    #[test]
    fn halfway_line() {
        assert_eq!(
            render(512 * KIB, MIB, Duration::from_secs(1)),
            "512.0 KiB / 1.0 MiB   50%  512.0 KiB/s  ETA 0:01"
        );
        assert_eq!(
            render(MIB / 4, MIB, Duration::from_secs(1)),
            "256.0 KiB / 1.0 MiB   25%  256.0 KiB/s  ETA 0:03"
        );
    }

    #[test]
    fn percent_at_zero_and_for_an_empty_file() {
        assert!(render(0, 1000, Duration::from_secs(1)).contains("   0%"));
        let empty = render(0, 0, Duration::ZERO);
        assert!(empty.contains("100%"), "{empty}");
        assert!(empty.ends_with("ETA 0:00"), "{empty}");
        // A file that grew while being sent never shows more than 100%.
        assert!(render(2000, 1000, Duration::from_secs(1)).contains("100%"));
        assert!(render(u64::MAX, u64::MAX - 1, Duration::from_secs(1)).contains("100%"));
        assert!(render(u64::MAX / 2, u64::MAX, Duration::from_secs(1)).contains(" 49%"));
    }

    #[test]
    fn eta_unknown_without_a_rate() {
        let at_start = render(0, 1000, Duration::ZERO);
        assert!(at_start.contains("--/s"), "{at_start}");
        assert!(at_start.ends_with("ETA --:--"), "{at_start}");
        let stalled = render(0, 1000, Duration::from_secs(5));
        assert!(stalled.contains("0 B/s"), "{stalled}");
        assert!(stalled.ends_with("ETA --:--"), "{stalled}");
        let slow = render(1, u64::MAX, Duration::from_secs(1));
        assert!(slow.contains("ETA "), "{slow}");
    }

    #[test]
    fn resumed_transfers_count_only_this_session() {
        // 500 bytes were already there; 100 more moved in one second.
        let line = render_resumed(600, 500, 1000, Duration::from_secs(1));
        assert_eq!(line, "600 B / 1000 B   60%  100 B/s  ETA 0:04");
    }

    #[test]
    fn final_line() {
        assert_eq!(
            render_final(MIB, 0, MIB, Duration::from_secs(2)),
            "1.0 MiB / 1.0 MiB  100%  512.0 KiB/s  in 0:02"
        );
    }

    fn draws(out: &[u8]) -> usize {
        out.iter().filter(|&&b| b == b'\r').count()
    }

    #[test]
    fn redraws_at_most_ten_times_a_second() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, true, "file.bin", 100_000, 0, t0);
        let mut drawn = 0;
        // An update every 10 ms for one second.
        for i in 0..100u64 {
            if p.update(i * 1000, t0 + Duration::from_millis(i * 10))
                .unwrap()
            {
                drawn += 1;
            }
        }
        assert_eq!(drawn, 10);
        assert!(!p.update(1, t0 + Duration::from_millis(995)).unwrap());
        p.finish(100_000, t0 + Duration::from_millis(1000)).unwrap();
        // Finishing always draws, even right after a redraw, and only once.
        p.finish(100_000, t0 + Duration::from_millis(2000)).unwrap();
        assert!(!p.update(5, t0 + Duration::from_secs(5)).unwrap());
        drop(p);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(draws(text.as_bytes()), 11);
        assert!(text.starts_with("\rfile.bin: 0 B / 97.7 KiB"), "{text:?}");
        assert!(text.contains("\x1b[K\r"));
        assert!(
            text.ends_with("\rfile.bin: 97.7 KiB / 97.7 KiB  100%  97.7 KiB/s  in 0:01\x1b[K\n"),
            "{text:?}"
        );
        assert_eq!(text.matches('\n').count(), 1);
    }

    #[test]
    fn disabled_writes_nothing() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut p = Progress::new(&mut out, false, "x", 10, 0, t0);
        assert!(!p.update(5, t0).unwrap());
        p.finish(10, t0 + Duration::from_secs(1)).unwrap();
        drop(p);
        assert!(out.is_empty());
    }

    #[test]
    fn an_abandoned_line_is_ended() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        {
            let mut p = Progress::new(&mut out, true, "", 10, 0, t0);
            p.update(5, t0).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("\r5 B / 10 B   50%"), "{text:?}");
        assert!(text.ends_with("\x1b[K\n"), "{text:?}");

        // Nothing drawn: nothing to end.
        let mut out = Vec::new();
        drop(Progress::new(&mut out, true, "", 10, 0, t0));
        assert!(out.is_empty());
    }

    #[test]
    fn not_enabled_when_stderr_is_a_pipe() {
        // Re-run this very test in a child whose stderr is a pipe.
        if std::env::var_os("PROGRESS_TEST_CHILD").is_some() {
            println!("enabled={}", enabled());
            return;
        }
        // The test's name as the harness knows it: this module's path without the crate's name.
        let (_, module) = module_path!().split_once("::").unwrap();
        let name = format!("{module}::not_enabled_when_stderr_is_a_pipe");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &name, "--nocapture"])
            .env("PROGRESS_TEST_CHILD", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains("enabled=false"), "{stdout}");
    }

    #[test]
    fn long_labels_are_shortened_to_the_width() {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let long = "文".repeat(50);
        let mut p = Progress::new(&mut out, true, &long, 1, 0, t0).columns(80);
        p.finish(1, t0).unwrap();
        drop(p);
        let text = String::from_utf8(out).unwrap();
        let line = text.trim_start_matches('\r').trim_end_matches("\x1b[K\n");
        assert_eq!(text_width(line), 79, "{line:?}");
        let label = line.split(": ").next().unwrap();
        assert!(label.ends_with('…'), "{label}");
    }

    #[test]
    fn the_line_fits_any_width() {
        let numbers = render(512 * KIB, MIB, Duration::from_secs(1));
        assert_eq!(
            fit("beach.jpg", &numbers, 80),
            format!("beach.jpg: {numbers}")
        );
        for columns in [0, 1, 10, 30, 50, 60, 80, 200] {
            for label in ["", "beach.jpg", &"x".repeat(100), &"文".repeat(40)] {
                let line = fit(label, &numbers, columns);
                assert!(
                    text_width(&line) < columns.max(1),
                    "{columns}: {line:?} is {} wide",
                    text_width(&line)
                );
            }
        }
        // Narrow: the label goes before the numbers are cut.
        assert_eq!(fit("beach.jpg", &numbers, 50), numbers);
        assert_eq!(fit("beach.jpg", &numbers, 56), format!("beac…: {numbers}"));
    }

    #[test]
    fn the_base_name_is_shown() {
        assert_eq!(
            base_name("/home/up_temp/socket/photos/2018/beach.jpg"),
            "beach.jpg"
        );
        assert_eq!(base_name("notes.txt"), "notes.txt");
        assert_eq!(base_name("/docs/"), "docs");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name(""), "");
    }
}
