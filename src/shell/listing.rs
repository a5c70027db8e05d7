//! `ls` and `lls`, the same walk for both sides, and how they show entries: a name a line, or with `-l` the type, permission bits, size and time (UTC), as `ls -l` would.

use super::words::Word;
use crate::protocol::{Entry, Kind, Meta};

/// What `ls` and `lls` need from their side.
pub trait Browse {
    type Path;
    /// The paths a word names: its wildcard matches (with metadata), or itself.
    fn matches(&mut self, word: &Word, all: bool) -> Vec<(Self::Path, Option<Meta>)>;
    fn stat(&mut self, path: &Self::Path) -> Result<Meta, String>;
    fn list(&mut self, dir: &Self::Path) -> Result<Vec<Entry>, String>;
    /// The path for a heading over its listing.
    fn shown(&self, path: &Self::Path) -> String;
    /// How a wildcard match is named in the listing.
    fn relative(&self, path: &Self::Path) -> Vec<u8>;
}

/// A line of a listing: for stdout, or a failure for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Out(String),
    Failed(String),
}

/// `ls [-a] [-l] [PATH...]` on one side: a directory named as such lists its
/// entries (names starting with `.` only with `-a`); a file, or whatever a
/// wildcard matched, is shown itself. Returns the lines and how many names failed.
pub fn ls<B: Browse>(side: &mut B, flags: &[char], args: &[Word]) -> (Vec<Said>, usize) {
    let (all, long) = (flags.contains(&'a'), flags.contains(&'l'));
    let words = if args.is_empty() {
        vec![Word::bare(".")]
    } else {
        args.to_vec()
    };
    let mut said = Vec::new();
    let mut failed = 0;
    for word in &words {
        let matches = side.matches(word, all);
        if matches.is_empty() {
            said.push(Said::Failed(format!("{}: no match", word.text)));
            failed += 1;
        }
        for (path, meta) in matches {
            let meta = match meta.map_or_else(|| side.stat(&path), Ok) {
                Ok(m) => m,
                Err(e) => {
                    said.push(Said::Failed(e));
                    failed += 1;
                    continue;
                }
            };
            let rows = if meta.kind == Kind::Dir && !word.has_magic() {
                if words.len() > 1 {
                    said.push(Said::Out(format!("{}:", side.shown(&path))));
                }
                match side.list(&path) {
                    Ok(entries) => entries
                        .into_iter()
                        .filter(|e| all || !e.name.starts_with(b"."))
                        .collect(),
                    Err(e) => {
                        said.push(Said::Failed(e));
                        failed += 1;
                        continue;
                    }
                }
            } else {
                let name = if word.has_magic() {
                    side.relative(&path)
                } else {
                    word.text.clone().into_bytes()
                };
                vec![Entry { name, meta }]
            };
            said.extend(
                rows.iter()
                    .map(|row| Said::Out(if long { self::long(row) } else { short(row) })),
            );
        }
    }
    (said, failed)
}

/// `name`, with `/` after a directory, control characters escaped.
pub fn short(entry: &Entry) -> String {
    let mut line = name(&entry.name);
    if entry.meta.kind == Kind::Dir {
        line.push('/');
    }
    line
}

/// `drwxr-xr-x        4096 2024-05-01 12:00 name/`
pub fn long(entry: &Entry) -> String {
    format!(
        "{} {:>11} {} {}",
        mode_string(entry.meta.kind, entry.meta.mode),
        entry.meta.size,
        utc_minutes(entry.meta.mtime_ns),
        short(entry)
    )
}

/// The ten characters `ls -l` starts with: type, then `rwx` three times,
/// with `s`/`S` and `t`/`T` for the set-id and sticky bits.
pub fn mode_string(kind: Kind, mode: u16) -> String {
    let mut s = String::with_capacity(10);
    s.push(match kind {
        Kind::File => '-',
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Other => '?',
    });
    // (read, write, execute, special bit, special letter) for user, group, other.
    let triples = [
        (0o400, 0o200, 0o100, 0o4000, 's'),
        (0o040, 0o020, 0o010, 0o2000, 's'),
        (0o004, 0o002, 0o001, 0o1000, 't'),
    ];
    for (r, w, x, special, letter) in triples {
        s.push(if mode & r != 0 { 'r' } else { '-' });
        s.push(if mode & w != 0 { 'w' } else { '-' });
        s.push(match (mode & x != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// A time as `YYYY-MM-DD HH:MM` in UTC (std has no time zones).
pub fn utc_minutes(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A name from either side for the screen.
pub fn name(raw: &[u8]) -> String {
    crate::escape::text(&String::from_utf8_lossy(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Meta;

    fn entry(name: &str, kind: Kind, mode: u16, size: u64, mtime_ns: i64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            meta: Meta {
                kind,
                size,
                mtime_ns,
                mode,
            },
        }
    }

    #[test]
    fn modes_as_ls_shows_them() {
        assert_eq!(mode_string(Kind::File, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(Kind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(Kind::Symlink, 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(Kind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(Kind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(Kind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(Kind::Other, 0), "?---------");
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(utc_minutes(0), "1970-01-01 00:00");
        assert_eq!(utc_minutes(1_700_000_000_123_456_789), "2023-11-14 22:13");
        assert_eq!(utc_minutes(951_782_400 * 1_000_000_000), "2000-02-29 00:00");
        assert_eq!(utc_minutes(-1), "1969-12-31 23:59");
        assert_eq!(
            utc_minutes(-86_400 * 1_000_000_000 * 365),
            "1969-01-01 00:00"
        );
        // The extremes do not panic.
        utc_minutes(i64::MIN);
        utc_minutes(i64::MAX);
    }

    #[test]
    fn lines() {
        let f = entry("a.txt", Kind::File, 0o640, 1234, 0);
        assert_eq!(short(&f), "a.txt");
        assert_eq!(long(&f), "-rw-r-----        1234 1970-01-01 00:00 a.txt");
        let d = entry("docs", Kind::Dir, 0o755, 4096, 0);
        assert_eq!(short(&d), "docs/");
        assert!(long(&d).starts_with("drwxr-xr-x"));
        assert_eq!(
            short(&entry("bad\x1b[2J", Kind::File, 0, 0, 0)),
            "bad\\x1b[2J"
        );
    }
}
