//! What may differ between two honest runs of a block (client ports, times, `--trace`'s clock, the shell's job numbers, column padding) made equal, and a line diff for failures.

use std::collections::BTreeMap;

/// Where a client's port appears after its address, in our output and the Python's.
const PORT_PREFIXES: [&str; 3] = ["127.0.0.1:", "('127.0.0.1', ", "[::1]:"];

/// `text` with what changes from run to run replaced by placeholders: client ports
/// (numbered in order of appearance, so one client keeps one number), durations in
/// `ms` and `s`, the `+S.UUUUUU` that starts a `--trace` line, and the line number and process id in the shell's report of a
/// killed job. Ports in `keep` (the ones the block names) stay as they are. Runs
/// of spaces count as one, and so do none at the start of a line: tools pad
/// their columns differently (`wc` on Linux and on macOS).
pub fn normalise(text: &str, keep: &[u16]) -> String {
    let mut ports = BTreeMap::new();
    let mut out = String::new();
    for line in text.lines() {
        let line = line
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let line = trace_clock(&line);
        let line = shell_report(&line);
        let line = client_ports(&line, keep, &mut ports);
        out.push_str(&durations(&line));
        out.push('\n');
    }
    out
}

/// `+1.204311 accept -> ...` (a `--trace` line: seconds since the program started) -> `+{t} accept -> ...`.
fn trace_clock(line: &str) -> String {
    let Some((clock, rest)) = line.strip_prefix('+').and_then(|l| l.split_once(' ')) else {
        return line.to_string();
    };
    let is_clock = clock.split_once('.').is_some_and(|(secs, micros)| {
        !secs.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && micros.len() == 6
            && micros.bytes().all(|b| b.is_ascii_digit())
    });
    if !is_clock {
        return line.to_string();
    }
    format!("+{{t}} {rest}")
}

/// `bash: line 3:  4242 File size limit exceeded ...` -> `bash: line {n}: {pid} File size ...`.
fn shell_report(line: &str) -> String {
    let Some(rest) = line.strip_prefix("bash: line ") else {
        return line.to_string();
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = rest[digits..].strip_prefix(':') else {
        return line.to_string();
    };
    let spaces = rest.len() - rest.trim_start().len();
    let pid = rest[spaces..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 || pid == 0 || !rest[spaces + pid..].starts_with(' ') {
        return format!("bash: line {{n}}:{rest}");
    }
    format!("bash: line {{n}}: {{pid}}{}", &rest[spaces + pid..])
}

fn client_ports(line: &str, keep: &[u16], seen: &mut BTreeMap<u16, usize>) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        let next = PORT_PREFIXES
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, p.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        let after = &rest[at + len..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at + len]);
        match after[..digits].parse::<u16>() {
            Ok(port) if port >= 1024 && !keep.contains(&port) => {
                let n = seen.len() + 1;
                let n = *seen.entry(port).or_insert(n);
                out.push_str(&format!("{{port {n}}}"));
            }
            _ => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
}

/// `0.1 ms` -> `{t} ms`, `2.04 s` -> `{t} s`.
fn durations(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric() || b"._{".contains(&bytes[i - 1])));
        if starts_number {
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                j += 1;
            }
            let unit = ["ms", "s"].into_iter().find(|unit| {
                let u = unit.as_bytes();
                bytes.get(j) == Some(&b' ')
                    && bytes.get(j + 1..j + 1 + u.len()) == Some(u)
                    && !bytes
                        .get(j + 1 + u.len())
                        .is_some_and(|b| b.is_ascii_alphanumeric())
            });
            if unit.is_some() {
                out.push_str("{t}");
            } else {
                out.push_str(&line[i..j]);
            }
            i = j;
            continue;
        }
        let ch = line[i..].chars().next().expect("inside the line");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A line diff of `expected` and `actual`: ` ` both, `-` only expected, `+` only actual.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Longest common subsequence, by the table of suffix lengths.
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            table[i][j] = if a[i] == b[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || table[i][j + 1] >= table[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ports_are_numbered_and_named_ports_kept() {
        let text = "listening on 127.0.0.1:10500\nclient info: 127.0.0.1:36210\n\
                    service complete: 127.0.0.1:36210\nclient info：('127.0.0.1', 36214)\n\
                    127.0.0.1:1: exit\n";
        assert_eq!(
            normalise(text, &[10500]),
            "listening on 127.0.0.1:10500\nclient info: 127.0.0.1:{port 1}\n\
             service complete: 127.0.0.1:{port 1}\nclient info：('127.0.0.1', {port 2})\n\
             127.0.0.1:1: exit\n"
        );
    }

    #[test]
    fn two_clients_swapped_are_a_difference() {
        let a = "info: 127.0.0.1:40000\ninfo: 127.0.0.1:40001\ndone: 127.0.0.1:40000\n";
        let b = "info: 127.0.0.1:50000\ninfo: 127.0.0.1:50001\ndone: 127.0.0.1:50001\n";
        assert_ne!(normalise(a, &[]), normalise(b, &[]));
    }

    #[test]
    fn column_padding_is_not_a_difference() {
        assert_eq!(
            normalise("   10000 copy-photo.jpg\n 6000  x\n", &[]),
            normalise("10000 copy-photo.jpg\n6000 x\n", &[])
        );
        assert_ne!(normalise("6000x\n", &[]), normalise("6000 x\n", &[]));
    }

    #[test]
    fn durations_but_not_sizes_or_names() {
        assert_eq!(
            durations("ok, 10000 bytes, 0.2 ms; second client: 2.04 s; 2.0 MiB; in the last 1 s)"),
            "ok, 10000 bytes, {t} ms; second client: {t} s; 2.0 MiB; in the last {t} s)"
        );
        assert_eq!(durations("x2 s 3 sec 4 ms"), "x2 s 3 sec {t} ms");
    }

    #[test]
    fn the_clock_of_a_trace_line() {
        assert_eq!(
            trace_clock("+1.204311 [127.0.0.1:5] recv(1024) -> 2 bytes \"hi\""),
            "+{t} [127.0.0.1:5] recv(1024) -> 2 bytes \"hi\""
        );
        assert_eq!(trace_clock("+1 is not a clock"), "+1 is not a clock");
        assert_eq!(trace_clock("+1.5 x"), "+1.5 x");
    }

    #[test]
    fn the_shells_report_of_a_killed_job() {
        assert_eq!(
            shell_report("bash: line 3:  3847 File size limit exceeded( ulimit -f 2048 )"),
            "bash: line {n}: {pid} File size limit exceeded( ulimit -f 2048 )"
        );
        assert_eq!(
            shell_report("bash: line 12: x: command not found"),
            "bash: line {n}: x: command not found"
        );
        assert_eq!(shell_report("bash is fine"), "bash is fine");
    }

    #[test]
    fn a_diff_shows_what_went_and_what_came() {
        assert_eq!(diff("a\nb\nc\n", "a\nc\nd\n"), "  a\n- b\n  c\n+ d\n");
        assert_eq!(diff("", "x\n"), "+ x\n");
    }
}
