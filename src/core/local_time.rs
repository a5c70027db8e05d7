//! Local time without a C library: the UTC offset at a moment, from `TZ` or the system's zone file (TZif, RFC 8536), for `ls -l`.
//!
//! std has no time-zone call and this crate uses no `libc`, so the offset is
//! found the way the C library itself finds it on unix:
//! - `TZ` unset: the system's zone file, `/etc/localtime` (on macOS a link into
//!   its zoneinfo). Windows has no such file and std no other way to ask, so
//!   there the zone is unknown unless `TZ` says it.
//! - `TZ` empty: UTC.
//! - `TZ=:NAME` or `TZ=NAME`: the zone file `NAME` if it is a path, else
//!   `$TZDIR/NAME` or `/usr/share/zoneinfo/NAME`; failing those, `NAME` read
//!   as a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3` (what a TZif file's
//!   footer holds too).
//!
//! What cannot be read leaves the zone unknown: the caller shows UTC and says so.
//! Leap seconds are ignored, as `ls` does with the usual zone files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the system keeps its own zone, when it has one.
#[cfg(unix)]
const SYSTEM_ZONE: Option<&str> = Some("/etc/localtime");
/// Windows keeps its zone in the registry, which std cannot read.
#[cfg(windows)]
const SYSTEM_ZONE: Option<&str> = None;

/// The largest zone file read (real ones are a few KiB).
const MAX_ZONE_FILE: u64 = 256 * 1024;

/// A time zone: how far local time is from UTC at any moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// Nothing said which zone this is (or what said it could not be read).
    Unknown,
    Rule(Posix),
    Table(Table),
}

/// A TZif file's transitions: from `at[i]` (seconds since 1970 UTC) on,
/// local time is UTC + `offsets[index[i]]`; before the first, `offsets[0]`;
/// after the last, the footer's rule if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    at: Vec<i64>,
    index: Vec<usize>,
    offsets: Vec<i32>,
    footer: Option<Posix>,
}

/// A POSIX `TZ` rule: a standard offset and perhaps a summer offset with the
/// two moments of each year it starts and ends. Offsets are seconds east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posix {
    std: i32,
    dst: Option<Summer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summer {
    offset: i32,
    start: (Day, i32),
    end: (Day, i32),
}

/// A day of the year as a POSIX rule names it; the `i32` beside it is the local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Day {
    /// `Jn`: 1 ..= 365, February 29 never counted.
    Julian(i64),
    /// `n`: 0 ..= 365, February 29 counted.
    Zero(i64),
    /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5: the last) of month `m`.
    Month(i64, i64, i64),
}

/// This process's zone, found once.
pub fn local() -> &'static Zone {
    static LOCAL: OnceLock<Zone> = OnceLock::new();
    LOCAL.get_or_init(|| Zone::from_tz(std::env::var("TZ").ok().as_deref()))
}

impl Zone {
    /// The zone a `TZ` value names (`None`: unset), as described above.
    pub fn from_tz(tz: Option<&str>) -> Zone {
        let Some(tz) = tz else {
            return SYSTEM_ZONE.map_or(Zone::Unknown, |path| Zone::file(Path::new(path)));
        };
        if tz.is_empty() {
            return Zone::Rule(Posix { std: 0, dst: None });
        }
        let name = tz.strip_prefix(':').unwrap_or(tz);
        let dir = std::env::var_os("TZDIR")
            .map_or_else(|| PathBuf::from("/usr/share/zoneinfo"), PathBuf::from);
        // A name that climbs out of the zone directory is not a zone name.
        let file = if Path::new(name).is_absolute() {
            Some(PathBuf::from(name))
        } else if name.split('/').any(|part| part == "..") {
            None
        } else {
            Some(dir.join(name))
        };
        match file.map(|path| Zone::file(&path)).filter(Zone::known) {
            Some(zone) => zone,
            None => Posix::parse(name).map_or(Zone::Unknown, Zone::Rule),
        }
    }

    fn file(path: &Path) -> Zone {
        use std::io::Read;
        let mut bytes = Vec::new();
        let read =
            std::fs::File::open(path).and_then(|f| f.take(MAX_ZONE_FILE).read_to_end(&mut bytes));
        match read {
            Ok(_) => Table::parse(&bytes).map_or(Zone::Unknown, Zone::Table),
            Err(_) => Zone::Unknown,
        }
    }

    /// Whether anything said which zone this is.
    pub fn known(&self) -> bool {
        *self != Zone::Unknown
    }

    /// Seconds east of UTC at `utc` (seconds since 1970); 0 when unknown.
    pub fn offset_at(&self, utc: i64) -> i32 {
        match self {
            Zone::Unknown => 0,
            Zone::Rule(rule) => rule.offset_at(utc),
            Zone::Table(table) => table.offset_at(utc),
        }
    }
}

impl Table {
    /// A TZif file, version 1 (32-bit times) or 2 and later (the 64-bit block
    /// that follows the version 1 one, then the footer rule). `None` if it is not one.
    pub fn parse(bytes: &[u8]) -> Option<Table> {
        let mut r = Reader(bytes);
        let (version, counts) = header(&mut r)?;
        if version == 0 {
            return block(&mut r, counts, 4, None);
        }
        // Skip the version 1 block: the 64-bit one after it says the same and more.
        r.take(block_len(counts, 4)?)?;
        let (_, counts) = header(&mut r)?;
        let data = r.take(block_len(counts, 8)?)?;
        // The footer: a newline, a POSIX rule (perhaps empty), a newline.
        let footer = match r.0 {
            [b'\n', rest @ ..] => {
                let end = rest.iter().position(|&b| b == b'\n')?;
                let text = std::str::from_utf8(&rest[..end]).ok()?;
                if text.is_empty() {
                    None
                } else {
                    Some(Posix::parse(text)?)
                }
            }
            _ => return None,
        };
        block(&mut Reader(data), counts, 8, footer)
    }

    fn offset_at(&self, utc: i64) -> i32 {
        // How many transitions lie at or before `utc`.
        match (self.footer, self.at.partition_point(|&t| t <= utc)) {
            (Some(rule), n) if n == self.at.len() => rule.offset_at(utc),
            (_, 0) => self.offsets[0],
            (_, n) => self.offsets[self.index[n - 1]],
        }
    }
}

/// A data block's six counts: UT/local indicators, standard/wall indicators,
/// leap seconds, transitions, local time types, abbreviation bytes.
type Counts = [usize; 6];

fn header(r: &mut Reader) -> Option<(u8, Counts)> {
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = match r.take(1)?[0] {
        0 => 0,
        b'2'..=b'9' => 2,
        _ => return None,
    };
    r.take(15)?;
    let mut counts = [0; 6];
    for c in &mut counts {
        *c = usize::try_from(r.u32()?).ok()?;
    }
    Some((version, counts))
}

fn block_len([isut, isstd, leap, time, types, chars]: Counts, width: usize) -> Option<usize> {
    let parts = [
        time.checked_mul(width + 1)?,
        types.checked_mul(6)?,
        chars,
        leap.checked_mul(width + 4)?,
        isstd,
        isut,
    ];
    parts.iter().try_fold(0usize, |sum, &p| sum.checked_add(p))
}

fn block(r: &mut Reader, counts: Counts, width: usize, footer: Option<Posix>) -> Option<Table> {
    let [_, _, _, time, types, _] = counts;
    // Counts checked against the bytes there before anything is allocated for them.
    if types == 0 || block_len(counts, width)? > r.0.len() {
        return None;
    }
    let mut at = Vec::with_capacity(time);
    for _ in 0..time {
        at.push(if width == 4 {
            i64::from(r.u32()? as i32)
        } else {
            r.u64()? as i64
        });
    }
    let index: Vec<usize> = r.take(time)?.iter().map(|&i| usize::from(i)).collect();
    if index.iter().any(|&i| i >= types) || at.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    let mut offsets = Vec::with_capacity(types);
    for _ in 0..types {
        offsets.push(r.u32()? as i32);
        r.take(2)?; // is-DST and the abbreviation's index: not shown.
    }
    Some(Table {
        at,
        index,
        offsets,
        footer,
    })
}

/// Big-endian fields off the front of a byte string.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

impl Posix {
    /// `STD offset [DST [offset] [,start[/time],end[/time]]]`, e.g. `UTC0`,
    /// `CET-1CEST,M3.5.0,M10.5.0/3`, `<+0330>-3:30`. POSIX offsets count west,
    /// so `CET-1` is one hour east of UTC.
    pub fn parse(text: &str) -> Option<Posix> {
        let mut s = text.as_bytes();
        zone_name(&mut s)?;
        let std = -clock(&mut s, 24)?;
        if s.is_empty() {
            return Some(Posix { std, dst: None });
        }
        zone_name(&mut s)?;
        let offset = if matches!(s.first(), Some(b',') | None) {
            std + 3600
        } else {
            -clock(&mut s, 24)?
        };
        // No rule given: the US rule, as the C library assumes.
        let (start, end) = if s.is_empty() {
            ((Day::Month(3, 2, 0), 7200), (Day::Month(11, 1, 0), 7200))
        } else {
            s = s.strip_prefix(b",")?;
            let start = change(&mut s)?;
            s = s.strip_prefix(b",")?;
            (start, change(&mut s)?)
        };
        if !s.is_empty() {
            return None;
        }
        Some(Posix {
            std,
            dst: Some(Summer { offset, start, end }),
        })
    }

    fn offset_at(&self, utc: i64) -> i32 {
        let Some(summer) = self.dst else {
            return self.std;
        };
        let (year, _, _) = civil_from_days((utc + i64::from(self.std)).div_euclid(86_400));
        // Each change is given in the local time in force just before it.
        let start = moment(year, summer.start) - i64::from(self.std);
        let end = moment(year, summer.end) - i64::from(summer.offset);
        let in_summer = if start < end {
            start <= utc && utc < end
        } else {
            // The southern hemisphere: summer spans the new year.
            !(end <= utc && utc < start)
        };
        if in_summer {
            summer.offset
        } else {
            self.std
        }
    }
}

/// A zone's name: three or more letters, or anything but `>` between `<` and `>`.
fn zone_name(s: &mut &[u8]) -> Option<()> {
    let len = if s.first() == Some(&b'<') {
        s.iter().position(|&b| b == b'>')? + 1
    } else {
        s.iter().take_while(|b| b.is_ascii_alphabetic()).count()
    };
    if len < 3 {
        return None;
    }
    *s = &s[len..];
    Some(())
}

/// `[+-]hh[:mm[:ss]]` as seconds, hours at most `max_hours`.
fn clock(s: &mut &[u8], max_hours: i64) -> Option<i32> {
    let sign = match s.first() {
        Some(b'-') => -1,
        Some(b'+') => 1,
        _ => 0,
    };
    if sign != 0 {
        *s = &s[1..];
    }
    let hours = number(s)?;
    let mut total = hours * 3600;
    for unit in [60, 1] {
        match s.strip_prefix(b":") {
            Some(rest) => {
                *s = rest;
                let n = number(s)?;
                if n > 59 {
                    return None;
                }
                total += n * unit;
            }
            None => break,
        }
    }
    if hours > max_hours {
        return None;
    }
    i32::try_from(if sign < 0 { -total } else { total }).ok()
}

/// One to three digits.
fn number(s: &mut &[u8]) -> Option<i64> {
    let len = s.iter().take(3).take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let n = std::str::from_utf8(&s[..len]).ok()?.parse().ok()?;
    *s = &s[len..];
    Some(n)
}

/// `date[/time]`: when a change happens, the time local (02:00 unless given;
/// up to 167 hours either way, as version 3 zone files allow).
fn change(s: &mut &[u8]) -> Option<(Day, i32)> {
    let day = match s.first()? {
        b'J' => {
            *s = &s[1..];
            Day::Julian(number(s).filter(|n| (1..=365).contains(n))?)
        }
        b'M' => {
            *s = &s[1..];
            let m = number(s).filter(|n| (1..=12).contains(n))?;
            *s = s.strip_prefix(b".")?;
            let w = number(s).filter(|n| (1..=5).contains(n))?;
            *s = s.strip_prefix(b".")?;
            Day::Month(m, w, number(s).filter(|n| (0..=6).contains(n))?)
        }
        _ => Day::Zero(number(s).filter(|n| (0..=365).contains(n))?),
    };
    let time = match s.strip_prefix(b"/") {
        Some(rest) => {
            *s = rest;
            clock(s, 167)?
        }
        None => 7200,
    };
    Some((day, time))
}

/// Seconds since 1970 of local time `time` on `day` of `year`, as if the zone were UTC.
fn moment(year: i64, (day, time): (Day, i32)) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    let leap = days_from_civil(year, 3, 1) - days_from_civil(year, 2, 1) == 29;
    let days = match day {
        Day::Julian(n) => jan1 + n - 1 + i64::from(leap && n >= 60),
        Day::Zero(n) => jan1 + n,
        Day::Month(m, w, d) => {
            let first = days_from_civil(year, m, 1);
            // 1970-01-01 was a Thursday (weekday 4).
            let first_weekday = (first + 4).rem_euclid(7);
            let mut day = first + (d - first_weekday).rem_euclid(7) + (w - 1) * 7;
            let next_month = if m == 12 {
                days_from_civil(year + 1, 1, 1)
            } else {
                days_from_civil(year, m + 1, 1)
            };
            while day >= next_month {
                day -= 7;
            }
            day
        }
    };
    days * 86_400 + i64::from(time)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
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

/// The inverse: (year, month, day) to days since 1970-01-01 (Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since 1970 of a UTC date and time.
    fn utc(y: i64, m: i64, d: i64, h: i64, min: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60
    }

    /// A TZif file of one zone: "ZON" at +1 h until `change`, then "ZDT" at +2 h.
    fn tzif(version: u8, footer: &str) -> Vec<u8> {
        let change: i64 = utc(2000, 6, 1, 0, 0);
        let header = |version: u8| {
            let mut h = b"TZif".to_vec();
            h.push(version);
            h.extend([0; 15]);
            // isut, isstd, leap, time, types, chars
            for n in [0u32, 0, 0, 1, 2, 8] {
                h.extend(n.to_be_bytes());
            }
            h
        };
        let types = |b: &mut Vec<u8>| {
            b.extend(3600i32.to_be_bytes());
            b.extend([0, 0]);
            b.extend(7200i32.to_be_bytes());
            b.extend([1, 4]);
            b.extend(b"ZON\0ZDT\0");
        };
        let mut b = header(version);
        b.extend((change as i32).to_be_bytes());
        b.push(1);
        types(&mut b);
        if version == 0 {
            return b;
        }
        b.extend(header(version));
        b.extend(change.to_be_bytes());
        b.push(1);
        types(&mut b);
        b.push(b'\n');
        b.extend(footer.as_bytes());
        b.push(b'\n');
        b
    }

    #[test]
    fn a_version_1_table() {
        let table = Table::parse(&tzif(0, "")).unwrap();
        let zone = Zone::Table(table);
        assert_eq!(zone.offset_at(utc(1999, 1, 1, 0, 0)), 3600);
        assert_eq!(zone.offset_at(utc(2000, 5, 31, 23, 59)), 3600);
        assert_eq!(zone.offset_at(utc(2000, 6, 1, 0, 0)), 7200);
        assert_eq!(zone.offset_at(utc(2030, 1, 1, 0, 0)), 7200);
    }

    #[test]
    fn a_version_2_table_and_its_footer_after_the_last_change() {
        let zone = Zone::Table(Table::parse(&tzif(b'2', "CET-1CEST,M3.5.0,M10.5.0/3")).unwrap());
        assert_eq!(zone.offset_at(utc(1990, 7, 1, 0, 0)), 3600);
        assert_eq!(zone.offset_at(utc(2000, 6, 2, 0, 0)), 3600 * 2);
        // After the table: the rule. 2024's summer ran from March 31 01:00 UTC to October 27 01:00 UTC.
        assert_eq!(zone.offset_at(utc(2024, 1, 15, 12, 0)), 3600);
        assert_eq!(zone.offset_at(utc(2024, 3, 31, 0, 59)), 3600);
        assert_eq!(zone.offset_at(utc(2024, 3, 31, 1, 0)), 7200);
        assert_eq!(zone.offset_at(utc(2024, 10, 27, 0, 59)), 7200);
        assert_eq!(zone.offset_at(utc(2024, 10, 27, 1, 0)), 3600);
        // No footer: the last type holds.
        let plain = Zone::Table(Table::parse(&tzif(b'3', "")).unwrap());
        assert_eq!(plain.offset_at(utc(2024, 1, 15, 12, 0)), 7200);
    }

    #[test]
    fn what_is_not_a_zone_file_is_refused() {
        let good = tzif(b'2', "CET-1CEST,M3.5.0,M10.5.0/3");
        assert!(Table::parse(b"").is_none());
        assert!(Table::parse(b"TZjf").is_none());
        // Cut anywhere, it is refused, never read past its end.
        for cut in 0..good.len() {
            assert!(Table::parse(&good[..cut]).is_none(), "cut at {cut}");
        }
        // A type index beyond the types.
        let mut bad = tzif(0, "");
        bad[44 + 4] = 2;
        assert!(Table::parse(&bad).is_none());
        // Counts that would overflow do not panic.
        let mut huge = tzif(0, "");
        huge[20..44].fill(0xff);
        assert!(Table::parse(&huge).is_none());
    }

    #[test]
    fn posix_rules() {
        let utc0 = Posix::parse("UTC0").unwrap();
        assert_eq!(utc0.offset_at(0), 0);
        let india = Posix::parse("IST-5:30").unwrap();
        assert_eq!(india.offset_at(0), 5 * 3600 + 1800);
        let quoted = Posix::parse("<+0330>-3:30").unwrap();
        assert_eq!(quoted.offset_at(0), 3 * 3600 + 1800);
        // New York, 2024: summer from March 10 07:00 UTC to November 3 06:00 UTC.
        let ny = Posix::parse("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(ny.offset_at(utc(2024, 3, 10, 6, 59)), -5 * 3600);
        assert_eq!(ny.offset_at(utc(2024, 3, 10, 7, 0)), -4 * 3600);
        assert_eq!(ny.offset_at(utc(2024, 11, 3, 5, 59)), -4 * 3600);
        assert_eq!(ny.offset_at(utc(2024, 11, 3, 6, 0)), -5 * 3600);
        // Without a rule, the same (the C library's default).
        assert_eq!(Posix::parse("EST5EDT").unwrap(), ny);
        // Southern hemisphere: Sydney's summer spans the new year.
        let sydney = Posix::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(sydney.offset_at(utc(2024, 1, 15, 0, 0)), 11 * 3600);
        assert_eq!(sydney.offset_at(utc(2024, 7, 15, 0, 0)), 10 * 3600);
        // Julian days: J60 is March 1 every year; 59 is February 29 in a leap year.
        let j = Posix::parse("AAA0BBB,J60/0,300").unwrap();
        assert_eq!(j.offset_at(utc(2024, 2, 29, 23, 59)), 0);
        assert_eq!(j.offset_at(utc(2024, 3, 1, 0, 0)), 3600);
        for bad in [
            "",
            "U",
            "UTC",
            "UTC+",
            "UTC0X",
            "EST5EDT,M13.1.0,M1.1.0",
            "A0",
            "UTC99",
        ] {
            assert!(Posix::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn tz_values() {
        assert_eq!(Zone::from_tz(Some("")).offset_at(0), 0);
        assert!(Zone::from_tz(Some("")).known());
        assert_eq!(Zone::from_tz(Some("JST-9")).offset_at(0), 9 * 3600);
        assert!(!Zone::from_tz(Some("not a zone")).known());
        assert!(!Zone::from_tz(Some("../../etc/passwd")).known());
    }

    #[test]
    fn the_calendar_both_ways() {
        for days in [-800_000, -1, 0, 59, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
