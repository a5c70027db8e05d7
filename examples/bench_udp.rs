//! Measures datagrams per second, and datagrams lost, from udp_sender to udp_receiver, next to a minimal std loop.
//!
//! Run with `make bench`, or `cargo build --release --bins --examples &&
//! target/release/examples/bench_udp`. Ours: `udp_sender` reads N lines from a
//! pipe and sends each as a datagram to `udp_receiver --keep-open --count N`,
//! whose output goes to a file. The baseline: a thread sending N datagrams
//! from a connected `UdpSocket` to a thread counting them with `recv_from`.
//! Both run over loopback, one round of each in turn, so outside load hits
//! both alike; the best and the median round of each are shown, with every
//! round's loss. The ratio is of the best rounds.
//!
//! The rate is datagrams received per second, from the first send to the
//! last datagram received. On loopback nothing is lost on the wire: a loss
//! means the receiver fell behind and its socket buffer overflowed.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// (payload bytes, datagrams per run).
const CASES: [(usize, u64); 2] = [(64, 200_000), (1400, 100_000)];
const ROUNDS: usize = 5;
/// After the sender is done, this long without a new datagram means the rest were lost.
const QUIET: Duration = Duration::from_millis(500);

struct Run {
    received: u64,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

/// The directory holding this example's binaries' siblings: `target/release/examples/..`.
fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the example is not in target/<profile>/examples")?
        .to_path_buf();
    for name in ["udp_sender", "udp_receiver"] {
        if !dir.join(name).is_file() {
            return Err(format!(
                "{} is missing: run `cargo build --release --bins` first",
                dir.join(name).display()
            ));
        }
    }
    Ok(dir)
}

fn baseline(size: usize, n: u64) -> Run {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind the baseline receiver");
    rx.set_read_timeout(Some(QUIET))
        .expect("set a read timeout");
    let addr = rx.local_addr().expect("receiver address");
    let receiver = thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut count = 0;
        let mut last = Instant::now();
        while count < n {
            match rx.recv_from(&mut buf) {
                Ok(_) => {
                    count += 1;
                    last = Instant::now();
                }
                Err(_) => break,
            }
        }
        (count, last)
    });
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind the baseline sender");
    tx.connect(addr).expect("connect the baseline sender");
    let payload = vec![b'x'; size];
    let start = Instant::now();
    for _ in 0..n {
        // Like udp_sender, a refused send is not retried here; on loopback it does not happen.
        let _ = tx.send(&payload);
    }
    let (received, last) = receiver.join().expect("baseline receiver thread");
    Run {
        received,
        elapsed: last.saturating_duration_since(start),
    }
}

fn ours(dir: &Path, size: usize, n: u64, out: &Path) -> Run {
    let mut receiver = Command::new(dir.join("udp_receiver"))
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--keep-open",
            "--count",
        ])
        .arg(n.to_string())
        .stdout(File::create(out).expect("create the receiver's output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start udp_receiver");
    let port = wait_for_port(out, &mut receiver);

    // A block of lines written again and again, so the input is never all in memory.
    let block_lines = 1000u64;
    let mut block = Vec::new();
    for _ in 0..block_lines {
        block.extend(std::iter::repeat(b'x').take(size));
        block.push(b'\n');
    }
    let start = Instant::now();
    let mut sender = Command::new(dir.join("udp_sender"))
        .args(["--bind", "127.0.0.1", "--bind-port", "0", "--no-greeting"])
        .args(["--port", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start udp_sender");
    let mut stdin = sender.stdin.take().expect("piped stdin");
    for _ in 0..n / block_lines {
        stdin.write_all(&block).expect("feed udp_sender");
    }
    drop(stdin);
    let status = sender.wait().expect("wait for udp_sender");
    assert!(status.success(), "udp_sender failed: {status}");

    // Whatever is still in the receiver's socket buffer arrives while its output grows; when it stops growing, the rest was lost.
    let mut size_seen = 0;
    let mut last_growth = Instant::now();
    let end = loop {
        match receiver.try_wait().expect("wait for udp_receiver") {
            Some(status) => {
                assert!(status.success(), "udp_receiver failed: {status}");
                break Instant::now();
            }
            None => {
                let now_size = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
                if now_size != size_seen {
                    size_seen = now_size;
                    last_growth = Instant::now();
                } else if last_growth.elapsed() > QUIET {
                    let _ = receiver.kill();
                    let _ = receiver.wait();
                    break last_growth;
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
    };
    // Count only whole lines `IP:PORT: xxx…`, so a cut or garbled datagram would not pass for a received one.
    let mut expected = b": ".to_vec();
    expected.extend(std::iter::repeat(b'x').take(size));
    let received = BufReader::new(File::open(out).expect("open the receiver's output"))
        .split(b'\n')
        .filter(|line| line.as_ref().is_ok_and(|l| l.ends_with(&expected)))
        .count() as u64;
    Run {
        received,
        elapsed: end.saturating_duration_since(start),
    }
}

fn best_and_median(runs: &[Run]) -> (f64, f64) {
    let mut rates: Vec<f64> = runs.iter().map(Run::rate).collect();
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() - 1], rates[rates.len() / 2])
}

fn wait_for_port(out: &Path, receiver: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(out).unwrap_or_default();
        if let Some(line) = text.lines().next().filter(|_| text.contains('\n')) {
            let port = line
                .strip_prefix("listening on ")
                .and_then(|a| a.rsplit(':').next())
                .unwrap_or_else(|| panic!("udp_receiver printed {line:?} first"));
            return port.to_string();
        }
        if let Ok(Some(status)) = receiver.try_wait() {
            panic!("udp_receiver exited early: {status}");
        }
        assert!(Instant::now() < deadline, "udp_receiver did not start");
        thread::sleep(Duration::from_millis(2));
    }
}

fn main() {
    let dir = match bin_dir() {
        Ok(dir) => dir,
        Err(why) => {
            println!("bench_udp skipped: {why}");
            return;
        }
    };
    let out = std::env::temp_dir().join(format!("bench_udp_{}.out", std::process::id()));
    println!(
        "UDP over loopback, one sender to one receiver; rate = datagrams received per second; {ROUNDS} rounds each, taking turns"
    );
    println!();
    println!(
        "{:>6}  {:<42} {:>9} {:>9} {:>9}  {:<36} {:>5}",
        "size", "", "datagrams", "best/s", "median/s", "lost (each round)", "ratio"
    );
    for (size, n) in CASES {
        let mut base = Vec::new();
        let mut mine = Vec::new();
        for round in 0..ROUNDS {
            // Alternate which goes first, so neither always runs on a warmer machine.
            if round % 2 == 0 {
                base.push(baseline(size, n));
                mine.push(ours(&dir, size, n, &out));
            } else {
                mine.push(ours(&dir, size, n, &out));
                base.push(baseline(size, n));
            }
        }
        let (base_best, _) = best_and_median(&base);
        for (name, runs) in [
            ("std loop: send() / recv_from() that counts", &base),
            ("udp_sender < pipe, udp_receiver > file", &mine),
        ] {
            let (best, median) = best_and_median(runs);
            let lost: Vec<String> = runs.iter().map(|r| (n - r.received).to_string()).collect();
            println!(
                "{size:>4} B  {name:<42} {n:>9} {best:>9.0} {median:>9.0}  {:<36} {:>4.2}x",
                lost.join(", "),
                best / base_best
            );
        }
    }
    let _ = fs::remove_file(&out);
    println!();
    println!("target: none (issue 3 sets no figure); these are for information");
    println!(
        "reproduce: cargo build --release --bins --examples && target/release/examples/bench_udp"
    );
}
