//! `ls` and `lls`, the same walk for both sides, and how they show entries: a name a line, or with `-l` the type, permission bits, owner and group, size and local time, as `ls -ln` would.

use super::words::Word;
use crate::core::local_time::{self, civil_from_days, Zone};
use crate::file_service::protocol::{Entry, Kind, Meta};

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

/// How `ls` was asked to show entries: sftp's `-1 -a -l -n -h -t -S -r`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// `-a`: names starting with `.` too.
    pub all: bool,
    /// `-l` (or `-n`, which is sftp's `-l` with numbers): type, permissions,
    /// owner and group, size and time.
    pub long: bool,
    /// `-h`: sizes as 1.5K, 20M.
    pub human: bool,
    pub order: Order,
    /// `-r`: the order reversed.
    pub reverse: bool,
}

/// Which way entries are sorted: by name unless `-t` or `-S` says otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Name,
    /// `-t`: newest first.
    Time,
    /// `-S`: largest first.
    Size,
}

impl Style {
    /// From the option letters (`-1` is accepted: one name a line is the only way).
    pub fn from_flags(flags: &[char]) -> Style {
        let order = match (flags.contains(&'t'), flags.contains(&'S')) {
            (_, true) => Order::Size,
            (true, false) => Order::Time,
            _ => Order::Name,
        };
        Style {
            all: flags.contains(&'a'),
            long: flags.contains(&'l') || flags.contains(&'n'),
            human: flags.contains(&'h'),
            order,
            reverse: flags.contains(&'r'),
        }
    }

    /// Sorts entries as asked; names break ties, so the order is always the same.
    pub fn sort(&self, entries: &mut [Entry]) {
        entries.sort_by(|a, b| {
            let by = match self.order {
                Order::Name => std::cmp::Ordering::Equal,
                Order::Time => b.meta.mtime_ns.cmp(&a.meta.mtime_ns),
                Order::Size => b.meta.size.cmp(&a.meta.size),
            };
            by.then_with(|| a.name.cmp(&b.name))
        });
        if self.reverse {
            entries.reverse();
        }
    }

    /// One entry's line, times in this process's zone.
    pub fn line(&self, entry: &Entry) -> String {
        let zone = local_time::local();
        match (self.long, self.human) {
            (false, _) => short(entry),
            (true, false) => long(entry, zone),
            (true, true) => long_human(entry, zone),
        }
    }
}

/// `ls [-1ahlnrSt] [PATH...]` on one side: a directory named as such lists its
/// entries (names starting with `.` only with `-a`); a file, or whatever a
/// wildcard matched, is shown itself. Entries are sorted here (a server
/// sends them as it reads them). Returns the lines and how many names failed.
pub fn ls<B: Browse>(side: &mut B, flags: &[char], args: &[Word]) -> (Vec<Said>, usize) {
    let style = Style::from_flags(flags);
    let words = if args.is_empty() {
        vec![Word::bare(".")]
    } else {
        args.to_vec()
    };
    let mut said = Vec::new();
    let mut failed = 0;
    for word in &words {
        let matches = side.matches(word, style.all);
        if matches.is_empty() {
            said.push(Said::Failed(format!("{}: no match", word.text)));
            failed += 1;
        }
        // What the word named itself (files, wildcard matches), shown together.
        let mut named = Vec::new();
        let mut dirs = Vec::new();
        for (path, meta) in matches {
            match meta.map_or_else(|| side.stat(&path), Ok) {
                Ok(m) if m.kind == Kind::Dir && !word.has_magic() => dirs.push(path),
                Ok(meta) => {
                    let name = if word.has_magic() {
                        side.relative(&path)
                    } else {
                        word.text.clone().into_bytes()
                    };
                    named.push(Entry { name, meta });
                }
                Err(e) => {
                    said.push(Said::Failed(e));
                    failed += 1;
                }
            }
        }
        style.sort(&mut named);
        said.extend(named.iter().map(|e| Said::Out(style.line(e))));
        for dir in dirs {
            if words.len() > 1 {
                said.push(Said::Out(format!("{}:", side.shown(&dir))));
            }
            match side.list(&dir) {
                Ok(entries) => {
                    let mut rows: Vec<Entry> = entries
                        .into_iter()
                        .filter(|e| style.all || !e.name.starts_with(b"."))
                        .collect();
                    style.sort(&mut rows);
                    said.extend(rows.iter().map(|e| Said::Out(style.line(e))));
                }
                Err(e) => {
                    said.push(Said::Failed(e));
                    failed += 1;
                }
            }
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

/// `drwxr-xr-x  1000  1000        4096 2024-05-01 12:00 name/`
pub fn long(entry: &Entry, zone: &Zone) -> String {
    format!(
        "{} {} {:>11} {} {}",
        mode_string(entry.meta.kind, entry.meta.mode),
        owner_columns(&entry.meta),
        entry.meta.size,
        minutes(entry.meta.mtime_ns, zone),
        short(entry)
    )
}

/// `ls -lh`: the size as `ls -h` shows it.
pub fn long_human(entry: &Entry, zone: &Zone) -> String {
    format!(
        "{} {} {:>6} {} {}",
        mode_string(entry.meta.kind, entry.meta.mode),
        owner_columns(&entry.meta),
        human_size(entry.meta.size),
        minutes(entry.meta.mtime_ns, zone),
        short(entry)
    )
}

/// Owner and group as numbers, as `ls -n` shows them (no account names: the
/// server's may not be this system's); a dash each where there are none
/// (a Windows system, or a server older than LIST_OWNERS).
pub fn owner_columns(meta: &Meta) -> String {
    match meta.owner {
        Some(owner) => format!("{:>5} {:>5}", owner.uid, owner.gid),
        None => format!("{:>5} {:>5}", "-", "-"),
    }
}

/// A size as `ls -h` shows it: bytes up to 1023, then K, M, G, ... (powers
/// of 1024), one decimal below 10, rounded up as `ls` does.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value.ceil() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && (value * 10.0).ceil() < 100.0 {
        format!("{:.1}{}", (value * 10.0).ceil() / 10.0, UNITS[unit])
    } else {
        format!("{}{}", value.ceil(), UNITS[unit])
    }
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

/// A time as `YYYY-MM-DD HH:MM` in `zone`; in UTC, marked ` UTC`, when the
/// zone is unknown (Windows without `TZ`: see `core::local_time`).
pub fn minutes(ns: i64, zone: &Zone) -> String {
    let utc = ns.div_euclid(1_000_000_000);
    let secs = utc.saturating_add(i64::from(zone.offset_at(utc)));
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}{}",
        in_day / 3600,
        in_day % 3600 / 60,
        if zone.known() { "" } else { " UTC" }
    )
}

/// A name from either side for the screen.
pub fn name(raw: &[u8]) -> String {
    crate::core::escape::text(&String::from_utf8_lossy(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::protocol::Meta;

    fn entry(name: &str, kind: Kind, mode: u16, size: u64, mtime_ns: i64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            meta: Meta {
                kind,
                size,
                mtime_ns,
                mode,
                owner: None,
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

    fn utc() -> Zone {
        Zone::from_tz(Some(""))
    }

    #[test]
    fn times_in_utc() {
        let utc_minutes = |ns| minutes(ns, &utc());
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
    fn times_in_a_zone_or_marked_utc() {
        let ns = 1_700_000_000_123_456_789;
        assert_eq!(
            minutes(ns, &Zone::from_tz(Some("EST5EDT"))),
            "2023-11-14 17:13"
        );
        assert_eq!(
            minutes(ns, &Zone::from_tz(Some("IST-5:30"))),
            "2023-11-15 03:43"
        );
        assert_eq!(minutes(ns, &Zone::Unknown), "2023-11-14 22:13 UTC");
        minutes(i64::MAX, &Zone::from_tz(Some("JST-9")));
        minutes(i64::MIN, &Zone::from_tz(Some("EST5")));
    }

    #[test]
    fn owners_as_numbers_or_dashes() {
        let mut f = entry("a", Kind::File, 0o644, 5, 0);
        assert_eq!(owner_columns(&f.meta), "    -     -");
        f.meta.owner = Some(crate::file_service::protocol::Owner {
            uid: 1000,
            gid: 100,
        });
        assert_eq!(
            long(&f, &utc()),
            "-rw-r--r--  1000   100           5 1970-01-01 00:00 a"
        );
    }

    #[test]
    fn human_sizes_as_ls_shows_them() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(1025), "1.1K");
        assert_eq!(human_size(10 * 1024), "10K");
        assert_eq!(human_size(10 * 1024 + 1), "11K");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0M");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0G");
        assert_eq!(human_size(u64::MAX), "16E");
    }

    #[test]
    fn sorted_by_name_time_or_size_and_reversed() {
        let mut rows = vec![
            entry("b", Kind::File, 0o644, 10, 3),
            entry("a", Kind::File, 0o644, 30, 1),
            entry("c", Kind::File, 0o644, 20, 2),
            entry("d", Kind::File, 0o644, 20, 2),
        ];
        let names = |rows: &[Entry]| rows.iter().map(short).collect::<Vec<_>>().join(" ");
        Style::from_flags(&[]).sort(&mut rows);
        assert_eq!(names(&rows), "a b c d");
        Style::from_flags(&['t']).sort(&mut rows);
        assert_eq!(names(&rows), "b c d a");
        Style::from_flags(&['S']).sort(&mut rows);
        assert_eq!(names(&rows), "a c d b");
        Style::from_flags(&['S', 'r']).sort(&mut rows);
        assert_eq!(names(&rows), "b d c a");
        Style::from_flags(&['1', 'r']).sort(&mut rows);
        assert_eq!(names(&rows), "d c b a");
        assert_eq!(
            long_human(&entry("big", Kind::File, 0o600, 1536, 0), &utc()),
            "-rw-------     -     -   1.5K 1970-01-01 00:00 big"
        );
    }

    #[test]
    fn lines() {
        let f = entry("a.txt", Kind::File, 0o640, 1234, 0);
        assert_eq!(short(&f), "a.txt");
        assert_eq!(
            long(&f, &utc()),
            "-rw-r-----     -     -        1234 1970-01-01 00:00 a.txt"
        );
        let d = entry("docs", Kind::Dir, 0o755, 4096, 0);
        assert_eq!(short(&d), "docs/");
        assert!(long(&d, &utc()).starts_with("drwxr-xr-x"));
        assert_eq!(
            short(&entry("bad\x1b[2J", Kind::File, 0, 0, 0)),
            "bad\\x1b[2J"
        );
    }
}
