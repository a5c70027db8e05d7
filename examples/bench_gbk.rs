//! Measures GBK decode/encode throughput against Python's own codec on the same text.
//!
//! Run with `cargo run --release --example bench_gbk`. Throughput is in MB/s
//! of GBK bytes, best of several runs, because the machine may be busy with
//! other work and the best run is the one least disturbed by it. Rust and
//! Python take turns over a few rounds so that a burst of outside load
//! slows both sides rather than only whichever ran during it.

use std::hint::black_box;
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use socket_tutorial::core::encoding::Encoding;

const TARGET_BYTES: usize = 4_000_000;
/// Timed runs per side in each round.
const RUNS: usize = 5;
const ROUNDS: usize = 4;

/// Same shape of timing loop as the Rust side, so neither gets an advantage.
const PYTHON_BENCH: &str = r#"
import sys, time
data = open(sys.argv[1], 'rb').read()
runs = int(sys.argv[2])
text = data.decode('gbk')
assert text.encode('gbk') == data
def best(f):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)
print(len(text), best(lambda: data.decode('gbk')), best(lambda: text.encode('gbk')))
"#;

/// Deterministic so runs are comparable; xorshift is plenty for picking words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// About 40% of the GBK bytes are ASCII words, the rest common hanzi (GB2312
/// level 1) with full-width punctuation, like chat messages in the tutorial.
fn sample_text() -> String {
    let hanzi: Vec<char> = (0xB0..=0xD7u8)
        .flat_map(|lead| (0xA1..=0xFEu8).map(move |trail| [lead, trail]))
        .filter_map(|pair| Encoding::Gbk.decode_lossy(&pair).chars().next())
        .filter(|&ch| ch != char::REPLACEMENT_CHARACTER)
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut text = String::new();
    let mut gbk_len = 0;
    let mut word = String::new();
    while gbk_len < TARGET_BYTES {
        word.clear();
        if rng.below(2) == 0 {
            for _ in 0..2 + rng.below(7) {
                word.push(char::from(b'a' + rng.below(26) as u8));
            }
            word.push(' ');
        } else {
            for _ in 0..1 + rng.below(6) {
                word.push(hanzi[rng.below(hanzi.len())]);
            }
            match rng.below(4) {
                0 => word.push('，'),
                1 => word.push('。'),
                2 => word.push(' '),
                _ => {}
            }
        }
        // Every character used here is one GBK byte if ASCII, two otherwise.
        gbk_len += word
            .chars()
            .map(|c| if c.is_ascii() { 1 } else { 2 })
            .sum::<usize>();
        text.push_str(&word);
    }
    text
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

#[derive(Clone, Copy)]
struct PythonTimes {
    chars: usize,
    decode: f64,
    encode: f64,
}

/// One round of Python timings on the GBK bytes stored at `path`.
fn python_times(path: &Path) -> Result<PythonTimes, String> {
    let output = match Command::new("python3")
        .arg("-c")
        .arg(PYTHON_BENCH)
        .arg(path)
        .arg(RUNS.to_string())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err("python3 is not on PATH".to_owned())
        }
        Err(e) => return Err(format!("cannot run python3: {e}")),
    };
    if !output.status.success() {
        return Err(format!(
            "python3 failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let parse = || -> Option<PythonTimes> {
        match fields.as_slice() {
            [chars, decode, encode] => Some(PythonTimes {
                chars: chars.parse().ok()?,
                decode: decode.parse().ok()?,
                encode: encode.parse().ok()?,
            }),
            _ => None,
        }
    };
    parse().ok_or_else(|| format!("unexpected output from python3: {}", stdout.trim()))
}

fn main() {
    let text = sample_text();
    let gbk = Encoding::Gbk
        .encode(&text)
        .expect("sample text uses only GBK characters");
    assert_eq!(Encoding::Gbk.decode_lossy(&gbk), text, "round trip");
    let chars = text.chars().count();

    let path = std::env::temp_dir().join(format!("bench_gbk_{}.bin", std::process::id()));
    let mut python: Result<Option<PythonTimes>, String> = std::fs::write(&path, &gbk)
        .map(|()| None)
        .map_err(|e| format!("cannot write {}: {e}", path.display()));
    let mut decode = f64::INFINITY;
    let mut encode = f64::INFINITY;
    for _ in 0..ROUNDS {
        let d = best_of(RUNS, || Encoding::Gbk.decode_lossy(black_box(&gbk)));
        let e = best_of(RUNS, || Encoding::Gbk.encode(black_box(&text)));
        decode = decode.min(d.as_secs_f64());
        encode = encode.min(e.as_secs_f64());
        if let Ok(best) = &python {
            let best = *best;
            python = python_times(&path).map(|round| {
                assert_eq!(
                    round.chars, chars,
                    "python decoded a different number of chars"
                );
                Some(match best {
                    Some(best) => PythonTimes {
                        chars,
                        decode: best.decode.min(round.decode),
                        encode: best.encode.min(round.encode),
                    },
                    None => round,
                })
            });
        }
    }
    // Best effort: a leftover file in the temp dir is harmless.
    let _ = std::fs::remove_file(&path);
    let python = python.and_then(|times| times.ok_or_else(|| "no rounds were run".to_owned()));

    println!(
        "gbk codec: {:.2} MB of gbk bytes ({} chars, {:.2} MB as utf-8), best of {} runs each",
        gbk.len() as f64 / 1e6,
        chars,
        text.len() as f64 / 1e6,
        RUNS * ROUNDS
    );
    println!();
    println!(
        "{:<8} {:>12} {:>14} {:>12}",
        "", "rust MB/s", "python MB/s", "rust/python"
    );
    for (name, rust, py) in [
        ("decode", decode, python.as_ref().ok().map(|p| p.decode)),
        ("encode", encode, python.as_ref().ok().map(|p| p.encode)),
    ] {
        let rust_rate = mb_per_s(gbk.len(), rust);
        match py {
            Some(py) => println!(
                "{name:<8} {rust_rate:>12.1} {:>14.1} {:>11.2}x",
                mb_per_s(gbk.len(), py),
                py / rust
            ),
            None => println!("{name:<8} {rust_rate:>12.1} {:>14} {:>12}", "-", "-"),
        }
    }
    if let Err(why) = python {
        println!();
        println!("comparison with Python skipped: {why}");
    }
}
