//! Measures a 1 GiB download over loopback, to a file on disk and to standard output: download_client + download_server against a minimal std `io::copy` pair, `nc`, and nginx + curl.
//!
//! Run with `make bench` (or `cargo build --release --bins --examples &&
//! target/release/examples/bench_download`). The three take turns, in a
//! rotating order, for several rounds (at least five), so that load from other
//! work on the machine falls on all of them alike, and `sync` runs before each
//! timed run, so that no run pays for the disk writeback of the one before.
//! The table shows the median and the best time of each, and the CPU time
//! (user + system, both ends) each used, which the machine's other load blurs
//! far less than wall time. Ratios are speeds relative to ours, on the
//! medians, each with a PASS/FAIL line: the target is that ours is at least
//! as fast as the baseline and as `nc`. Peak memory (VmHWM) of both of our
//! processes is sampled from /proc while they run; the target is under
//! 16 MiB each. A contender that cannot run (no `nc`) is skipped, and the
//! table says so. `BENCH_DOWNLOAD_ROUNDS` changes the number of rounds
//! (default 7, at least 5).
//!
//! nginx is the file server a user would otherwise pick: with `nginx` and `curl`
//! installed (Debian: `apt-get install nginx-light curl`) the bench writes it a
//! config (`sendfile on`, a free loopback port, the bench's file as its root,
//! its pid and logs in the bench's temporary directory) and runs it in the
//! foreground (`daemon off`) as a child. `curl -o FILE` is timed against
//! `download_client -o FILE`, and `curl -o -` against `download_client -o -`,
//! both writing into a pipe the bench reads and throws away. Their ratios are
//! the median of each round's own ratio (the two ran minutes apart at most).
//! A target missed prints FAIL and makes the bench exit 1 (`make bench` says so).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const SIZE: u64 = 1 << 30;
const MIB: f64 = 1024.0 * 1024.0;
const MEMORY_TARGET_KIB: u64 = 16 * 1024;

/// Set by a FAIL verdict: the bench then exits 1.
static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What each round runs, in a rotating order.
const BASELINE: usize = 0;
const NC: usize = 1;
const OURS: usize = 2;
const NGINX: usize = 3;
const OURS_STDOUT: usize = 4;
const NGINX_STDOUT: usize = 5;
const CONTENDERS: usize = 6;

/// The temporary directory, removed however the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process killed when dropped.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(Path::to_path_buf))
        .expect("the bench lives in target/<profile>/examples");
    let server_bin = bin_dir.join("download_server");
    let client_bin = bin_dir.join("download_client");
    for b in [&server_bin, &client_bin] {
        if !b.exists() {
            eprintln!(
                "bench_download: {} is missing: run `cargo build --release --bins --examples` first",
                b.display()
            );
            std::process::exit(1);
        }
    }
    let rounds: usize = std::env::var("BENCH_DOWNLOAD_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(5);
    let scratch = Scratch(std::env::temp_dir().join(format!(
        "socket-tutorial-bench-download-{}",
        std::process::id()
    )));
    let root = scratch.0.join("root");
    fs::create_dir_all(&root).expect("create the scratch directory");
    let big = root.join("big.bin");
    write_big_file(&big).expect("write the 1 GiB test file");

    if Command::new("sync").status().is_err() {
        eprintln!("bench_download: warning: `sync` cannot run, so each run may pay for the writeback of the one before");
    }
    let nc = nc_available();
    if !nc {
        eprintln!("bench_download: SKIPPING nc: it is not installed (`apt-get install netcat-openbsd` provides it)");
    }
    let (server, port) = start_server(&server_bin, &root);
    let server_pid = server.0.id();
    let nginx = Nginx::start(&scratch.0, &root);
    if let Err(why) = &nginx {
        eprintln!("bench_download: SKIPPING nginx + curl: {why}");
    }

    let mut runs: Vec<Vec<Run>> = (0..CONTENDERS).map(|_| Vec::new()).collect();
    let mut client_hwm = 0u64;
    let mut checked = false;
    for round in 0..rounds {
        for k in 0..CONTENDERS {
            let which = (round + k) % CONTENDERS;
            let out = scratch.0.join(format!("out-{which}"));
            let to_disk = !matches!(which, OURS_STDOUT | NGINX_STDOUT);
            // Only a run that writes to disk leaves writeback behind it, or pays for one.
            if to_disk {
                settle();
            }
            let run = match which {
                BASELINE => Some(baseline(&big, &out)),
                NC if nc => Some(netcat(&big, &out)),
                OURS => {
                    let (run, hwm) = ours(&client_bin, port, server_pid, Some(&out));
                    client_hwm = client_hwm.max(hwm);
                    if !checked {
                        same_file(&big, &out).expect("our copy differs from the original");
                        checked = true;
                    }
                    Some(run)
                }
                OURS_STDOUT => Some(ours(&client_bin, port, server_pid, None).0),
                NGINX => nginx.as_ref().ok().map(|n| n.curl(Some(&out))),
                NGINX_STDOUT => nginx.as_ref().ok().map(|n| n.curl(None)),
                _ => None,
            };
            if let Some(run) = run {
                if to_disk {
                    let len = fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                    assert_eq!(len, SIZE, "run {which} saved {len} bytes");
                }
                runs[which].push(run);
            }
            let _ = fs::remove_file(&out);
        }
        // Rewritten in place on a terminal; one line each in a log.
        let end = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            '\r'
        } else {
            '\n'
        };
        eprint!("round {}/{rounds} done{end}", round + 1);
    }
    eprintln!();
    let server_hwm = vm_hwm_kib(server_pid).unwrap_or(0);
    drop(server);
    // Stopped with the others; only whether it ran is needed from here on.
    let nginx: Result<(), String> = nginx.map(drop);

    let tps = ticks_per_second();
    let stats = |v: &[Run]| -> (f64, f64, f64) {
        let secs: Vec<f64> = v.iter().map(|r| r.secs).collect();
        let cpu: Vec<f64> = v.iter().map(|r| r.ticks as f64 / tps).collect();
        (median(&secs), best(&secs), median(&cpu))
    };
    let ours_s = stats(&runs[OURS]);
    println!("1 GiB over loopback, {rounds} alternating rounds");
    println!("command: target/release/examples/bench_download   (make bench)");
    println!();
    println!(
        "{:<34} {:>8} {:>8} {:>7} {:>8}  {:>9}  result (on the median)",
        "", "median", "best", "MiB/s", "CPU s", "ours/it"
    );
    row("download_client + download_server", ours_s, None);
    let base_s = stats(&runs[BASELINE]);
    row(
        "std io::copy pair (baseline)",
        base_s,
        Some(base_s.0 / ours_s.0),
    );
    if nc {
        let nc_s = stats(&runs[NC]);
        row("nc -N -l | nc -d", nc_s, Some(nc_s.0 / ours_s.0));
    } else {
        println!(
            "{:<34} SKIPPED: nc is not installed (apt-get install netcat-openbsd)",
            "nc -N -l | nc -d"
        );
    }
    match &nginx {
        Ok(_) => row(
            "nginx (sendfile) + curl -o FILE",
            stats(&runs[NGINX]),
            Some(same_round_ratio(&runs[NGINX], &runs[OURS])),
        ),
        Err(why) => println!("{:<34} SKIPPED: {why}", "nginx + curl -o FILE"),
    }
    println!();
    println!("to standard output (a pipe the bench reads and discards), same rounds:");
    row("download_client -o -", stats(&runs[OURS_STDOUT]), None);
    match &nginx {
        Ok(_) => row(
            "nginx (sendfile) + curl -o -",
            stats(&runs[NGINX_STDOUT]),
            Some(same_round_ratio(&runs[NGINX_STDOUT], &runs[OURS_STDOUT])),
        ),
        Err(why) => println!("{:<34} SKIPPED: {why}", "nginx + curl -o -"),
    }
    println!(
        "(ours/it: its median time over ours, or for nginx the median of each round's ratio; \
         CPU s: user + system time of both ends, median)"
    );
    println!();
    for (name, kib) in [
        ("download_server", server_hwm),
        ("download_client", client_hwm),
    ] {
        println!(
            "peak memory (VmHWM) {name:<16} {:>6.1} MiB   {}",
            kib as f64 / 1024.0,
            verdict(kib > 0 && kib < MEMORY_TARGET_KIB, "target < 16 MiB")
        );
    }
    println!();
    let all = |v: &[Run]| rounded(&v.iter().map(|r| r.secs).collect::<Vec<_>>());
    println!("all times (s): ours {:?}", all(&runs[OURS]));
    println!("               std  {:?}", all(&runs[BASELINE]));
    if nc {
        println!("               nc   {:?}", all(&runs[NC]));
    }
    if nginx.is_ok() {
        println!("               nginx+curl {:?}", all(&runs[NGINX]));
        println!("ours -o -      {:?}", all(&runs[OURS_STDOUT]));
        println!("curl -o -      {:?}", all(&runs[NGINX_STDOUT]));
    }
    if FAILED.load(Ordering::Relaxed) {
        std::process::exit(1);
    }
}

/// The median over rounds of `theirs / ours` in the same round.
fn same_round_ratio(theirs: &[Run], ours: &[Run]) -> f64 {
    let ratios: Vec<f64> = theirs
        .iter()
        .zip(ours)
        .map(|(t, o)| t.secs / o.secs)
        .collect();
    median(&ratios)
}

/// Start each run with no dirty pages left by the previous one, so nobody
/// pays for another's writeback.
fn settle() {
    let _ = Command::new("sync").status();
}

fn row(name: &str, (median, best, cpu): (f64, f64, f64), ratio: Option<f64>) {
    let speed = SIZE as f64 / MIB / median;
    let head = format!("{name:<34} {median:>7.3}s {best:>7.3}s {speed:>7.0} {cpu:>7.2}s");
    match ratio {
        None => println!("{head}"),
        Some(r) => println!("{head}  {r:>8.2}x  {}", verdict(r >= 1.0, "target >= 1.0x")),
    }
}

fn verdict(ok: bool, target: &str) -> String {
    if !ok {
        FAILED.store(true, Ordering::Relaxed);
    }
    format!("{} ({target})", if ok { "PASS" } else { "FAIL" })
}

fn rounded(v: &[f64]) -> Vec<f64> {
    v.iter().map(|t| (t * 1000.0).round() / 1000.0).collect()
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

/// 1 GiB of non-repeating bytes (not sparse: a real file's pages).
fn write_big_file(path: &Path) -> io::Result<()> {
    let mut f = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut state = 0x5eed_u64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..(SIZE >> 20) {
        for word in chunk.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            word.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        f.write_all(&chunk)?;
    }
    f.flush()
}

fn same_file(a: &Path, b: &Path) -> io::Result<()> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            let mut rest = [0u8; 1];
            return match fb.read(&mut rest)? {
                0 => Ok(()),
                _ => Err(io::Error::other("the copy is longer")),
            };
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Err(io::Error::other("contents differ"));
        }
    }
}

fn start_server(bin: &Path, root: &Path) -> (Kill, u16) {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--bind", "127.0.0.1", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start download_server");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("download_server said {first:?}"));
    // Keep reading its log so it never blocks on a full pipe.
    thread::spawn(move || for _ in lines {});
    (Kill(child), port)
}

/// Peak resident memory of a live process, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Watches a process from /proc until told to stop: its peak memory, and the
/// CPU time it had used when last seen (a process that has exited cannot be
/// asked, so this is a few milliseconds short at most).
struct Sampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    hwm: Arc<AtomicU64>,
    ticks: Arc<AtomicU64>,
    thread: thread::JoinHandle<()>,
}

impl Sampler {
    fn watch(pid: u32) -> Sampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hwm = Arc::new(AtomicU64::new(0));
        let ticks = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, hwm, ticks) = (Arc::clone(&stop), Arc::clone(&hwm), Arc::clone(&ticks));
            thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    if let Some(kib) = vm_hwm_kib(pid) {
                        hwm.fetch_max(kib, Ordering::AcqRel);
                    }
                    if let Some(t) = cpu_ticks(&pid.to_string()) {
                        ticks.fetch_max(t, Ordering::AcqRel);
                    }
                    thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Sampler {
            stop,
            hwm,
            ticks,
            thread,
        }
    }

    /// (peak KiB, CPU ticks)
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
        (
            self.hwm.load(Ordering::Acquire),
            self.ticks.load(Ordering::Acquire),
        )
    }
}

/// User + system CPU time of a process (`"self"` or a pid), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second, as `getconf CLK_TCK` says (100 on Linux).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A timed run: wall seconds and CPU ticks of everything that took part.
struct Run {
    secs: f64,
    ticks: u64,
}

/// `download_client -o OUT`, or with `None` `-o -` into a pipe read here.
fn ours(client: &Path, port: u16, server_pid: u32, out: Option<&Path>) -> (Run, u64) {
    let server_before = cpu_ticks(&server_pid.to_string()).unwrap_or(0);
    let started = Instant::now();
    let mut child = Command::new(client)
        .args(["-q", "--port", &port.to_string(), "-o"])
        .arg(out.map_or(Path::new("-"), |p| p))
        .arg("big.bin")
        .stdout(if out.is_some() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .spawn()
        .expect("start download_client");
    let sampler = Sampler::watch(child.id());
    let drained = drain(&mut child);
    let status = child.wait().expect("wait for download_client");
    assert!(
        out.is_some() || drained == SIZE,
        "download_client -o - wrote {drained} bytes"
    );
    let secs = started.elapsed().as_secs_f64();
    let (hwm, client_ticks) = sampler.finish();
    assert!(status.success(), "download_client failed: {status}");
    let server_ticks = cpu_ticks(&server_pid.to_string())
        .unwrap_or(0)
        .saturating_sub(server_before);
    (
        Run {
            secs,
            ticks: client_ticks + server_ticks,
        },
        hwm,
    )
}

/// The simplest correct std program: `io::copy` File -> TcpStream on one
/// side, TcpStream -> File on the other, as two threads of this process.
fn baseline(big: &Path, out: &Path) -> Run {
    let before = cpu_ticks("self").unwrap_or(0);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let src = big.to_path_buf();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut file = File::open(src).expect("open");
        io::copy(&mut file, &mut stream).expect("send")
    });
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut file = File::create(out).expect("create");
    io::copy(&mut stream, &mut file).expect("receive");
    drop(file);
    let secs = started.elapsed().as_secs_f64();
    server.join().expect("baseline server");
    Run {
        secs,
        ticks: cpu_ticks("self").unwrap_or(0).saturating_sub(before),
    }
}

fn nc_available() -> bool {
    Command::new("nc")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `nc -N -l` serving the file, `nc -d` saving it.
fn netcat(big: &Path, out: &Path) -> Run {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port();
    let server = Kill(
        Command::new("nc")
            .args(["-N", "-l", "127.0.0.1", &port.to_string()])
            .stdin(File::open(big).expect("open"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start nc -l"),
    );
    let server_sampler = Sampler::watch(server.0.id());
    wait_listening(port);
    let started = Instant::now();
    let mut client = Command::new("nc")
        .args(["-d", "127.0.0.1", &port.to_string()])
        .stdout(File::create(out).expect("create"))
        .spawn()
        .expect("run nc");
    let sampler = Sampler::watch(client.id());
    let status = client.wait().expect("wait for nc");
    let secs = started.elapsed().as_secs_f64();
    let (_, client_ticks) = sampler.finish();
    assert!(status.success(), "nc failed: {status}");
    drop(server);
    let (_, server_ticks) = server_sampler.finish();
    Run {
        secs,
        ticks: client_ticks + server_ticks,
    }
}

/// nc prints nothing when it listens: watch /proc/net/tcp for the port.
fn wait_listening(port: u16) {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle)) {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("nc did not start listening on port {port}");
}

/// Reads and discards a child's piped stdout, if it has one; how many bytes came.
fn drain(child: &mut Child) -> u64 {
    match child.stdout.take() {
        Some(mut stdout) => io::copy(&mut stdout, &mut io::sink()).unwrap_or(0),
        None => 0,
    }
}

/// nginx serving the bench's root from a config of the bench's own, in the foreground.
struct Nginx {
    _child: Kill,
    port: u16,
}

impl Nginx {
    fn start(scratch: &Path, root: &Path) -> Result<Nginx, String> {
        for (program, package) in [("nginx", "nginx-light"), ("curl", "curl")] {
            let found = Command::new(program)
                .arg(if program == "nginx" {
                    "-v"
                } else {
                    "--version"
                })
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
            if !found {
                return Err(format!(
                    "{program} is not installed (apt-get install {package})"
                ));
            }
        }
        let dir = scratch.join("nginx");
        fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let config = format!(
            "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n\
               client_body_temp_path {dir}/body;\n\
               server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
            dir = dir.display(),
            root = root.display(),
        );
        let conf = dir.join("nginx.conf");
        fs::write(&conf, config).map_err(|e| e.to_string())?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let child = Kill(child);
        wait_listening(port);
        Ok(Nginx {
            _child: child,
            port,
        })
    }

    /// `curl -o OUT`, or with `None` `curl -o -` into a pipe read here. Its CPU time is
    /// curl's only: nginx's workers are not sampled.
    fn curl(&self, out: Option<&Path>) -> Run {
        let url = format!("http://127.0.0.1:{}/big.bin", self.port);
        let started = Instant::now();
        let mut child = Command::new("curl")
            .args(["-s", "-f", "-o"])
            .arg(out.map_or(Path::new("-"), |p| p))
            .arg(&url)
            .stdout(if out.is_some() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .spawn()
            .expect("run curl");
        let sampler = Sampler::watch(child.id());
        let drained = drain(&mut child);
        let status = child.wait().expect("wait for curl");
        let secs = started.elapsed().as_secs_f64();
        let (_, ticks) = sampler.finish();
        assert!(status.success(), "curl failed: {status}");
        assert!(
            out.is_some() || drained == SIZE,
            "curl -o - wrote {drained} bytes"
        );
        Run { secs, ticks }
    }
}
