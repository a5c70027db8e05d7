//! Helpers shared by the integration tests: run a binary, wait for a server's `listening on` line, kill it on drop.
//!
//! Nothing here sleeps to synchronise: a test waits for a line a process
//! prints, or for a socket, always with [`TIMEOUT`] so a hang fails fast.

#![allow(dead_code)] // each test file uses a different part of this module

use socket_tutorial::file_service::protocol::{ClientHello, Request, Response, ServerHello};
use socket_tutorial::file_service::sha256::hmac;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The path of one of the project's binaries, built by cargo for this test run.
pub fn bin(name: &str) -> PathBuf {
    assert_cmd::cargo::cargo_bin(name)
}

/// A token in the developer's environment would make every server in the
/// tests want one; a test that wants a token sets it itself.
const TOKEN_ENV: &str = "DOWNLOAD_SERVER_TOKEN";

/// Where download_client remembers finished downloads during the tests: in
/// the temporary directory, not in the home directory of whoever runs them.
fn state_dir() -> PathBuf {
    std::env::temp_dir().join("socket-tutorial-tests-state")
}

/// A `Command` for one of the project's binaries.
pub fn command(name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin(name));
    cmd.timeout(TIMEOUT)
        .env_remove(TOKEN_ENV)
        .env("XDG_STATE_HOME", state_dir())
        .env("LOCALAPPDATA", state_dir());
    cmd
}

/// Everything a finished command printed, for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A directory of its own for one test, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "socket-tutorial-{label}-{}-{n}",
            std::process::id()
        ));
        remove_tree(&path);
        std::fs::create_dir_all(&path).expect("create the test's temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        remove_tree(&self.path);
    }
}

/// Removes `path` and everything under it, as far as it can. Windows (Wine at
/// least) will not delete a read-only file, which `-p` tests leave behind, so
/// a first failure clears the read-only attributes and tries again.
fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    fn writable(path: &Path) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                writable(&entry.path());
            }
        }
        let mut perms = meta.permissions();
        if perms.readonly() && !meta.file_type().is_symlink() {
            #[allow(clippy::permissions_set_readonly_false)] // the owner's own temp files
            perms.set_readonly(false);
            let _ = std::fs::set_permissions(path, perms);
        }
    }
    writable(path);
    let _ = std::fs::remove_dir_all(path);
}

/// Which stream a line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Err(String),
}

impl Line {
    pub fn text(&self) -> &str {
        match self {
            Line::Out(t) | Line::Err(t) => t,
        }
    }
}

/// A running process (usually a server) whose output lines the test can wait for; killed on drop.
pub struct Running {
    child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    seen: Arc<Mutex<Vec<Line>>>,
    command: String,
    /// The address from the `listening on` line, when the process is a server.
    pub addr: Option<SocketAddr>,
}

/// Builds a [`Running`] process.
pub struct Spawn {
    cmd: Command,
    text: String,
    piped_stdin: bool,
}

impl Spawn {
    /// One of the project's binaries.
    pub fn new(name: &str) -> Spawn {
        let mut cmd = Command::new(bin(name));
        cmd.env_remove(TOKEN_ENV)
            .env("XDG_STATE_HOME", state_dir())
            .env("LOCALAPPDATA", state_dir());
        Spawn {
            cmd,
            text: name.to_string(),
            piped_stdin: false,
        }
    }

    /// Any other program (a Python peer, `nc`).
    pub fn program(program: &str) -> Spawn {
        Spawn {
            cmd: Command::new(program),
            text: program.to_string(),
            piped_stdin: false,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Spawn
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.text.push(' ');
            self.text.push_str(&arg.as_ref().to_string_lossy());
            self.cmd.arg(arg);
        }
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Spawn {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Spawn {
        self.cmd.env(key, value);
        self
    }

    /// Keep the child's stdin as a pipe the test writes to (otherwise it reads nothing).
    pub fn piped_stdin(mut self) -> Spawn {
        self.piped_stdin = true;
        self
    }

    /// Starts the process without waiting for anything.
    pub fn start(mut self) -> Running {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if self.piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.text));
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward(stdout, tx.clone(), Arc::clone(&seen), Line::Out);
        forward(stderr, tx, Arc::clone(&seen), Line::Err);
        Running {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen,
            command: self.text,
            addr: None,
        }
    }

    /// Starts a server and waits for its first stdout line, which must be `listening on IP:PORT`.
    pub fn server(self) -> Running {
        let mut running = self.start();
        let first = running.next_line();
        let addr = match &first {
            Some(Line::Out(text)) => text
                .strip_prefix("listening on ")
                .and_then(|a| a.parse::<SocketAddr>().ok()),
            _ => None,
        };
        match addr {
            Some(addr) => running.addr = Some(addr),
            None => panic!(
                "`{}` did not start with `listening on IP:PORT` (got {first:?})\n{}",
                running.command,
                running.transcript()
            ),
        }
        running
    }
}

fn forward<R: Read + Send + 'static>(
    stream: R,
    tx: mpsc::Sender<Line>,
    seen: Arc<Mutex<Vec<Line>>>,
    wrap: fn(String) -> Line,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let line = wrap(text.trim_end_matches(['\n', '\r']).to_string());
                    seen.lock()
                        .expect("no panics while locked")
                        .push(line.clone());
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

impl Running {
    /// The server's address to connect to: an unspecified bind address (`0.0.0.0`, `::`) becomes loopback.
    pub fn connect_addr(&self) -> SocketAddr {
        let addr = self
            .addr
            .expect("this process printed a `listening on` line");
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, addr.port())
    }

    /// The port the server bound, as a string for `--port`.
    pub fn port(&self) -> String {
        self.connect_addr().port().to_string()
    }

    /// The next line from stdout or stderr, or `None` when both are closed; fails the test after [`TIMEOUT`].
    pub fn next_line(&mut self) -> Option<Line> {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "`{}` printed nothing for {TIMEOUT:?}\n{}",
                self.command,
                self.transcript()
            ),
        }
    }

    /// Waits for a line (on stdout or stderr) containing `needle`, returning it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.text().contains(needle) => return line.text().to_string(),
                Ok(_) => continue,
                Err(_) => panic!(
                    "`{}` never printed a line containing {needle:?}\n{}",
                    self.command,
                    self.transcript()
                ),
            }
        }
    }

    /// Waits for the process to exit by itself; fails the test after [`TIMEOUT`].
    ///
    /// Its stdout and stderr close when it exits, so waiting for both to close
    /// is waiting for the exit, without polling.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return self.child.wait().expect("wait for the child")
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "`{}` did not exit within {TIMEOUT:?}\n{}",
                    self.command,
                    self.transcript()
                ),
            }
        }
    }

    /// Every line the process printed so far, for failure messages.
    pub fn transcript(&self) -> String {
        let seen = self.seen.lock().expect("no panics while locked");
        let mut text = format!("--- output of `{}` ---\n", self.command);
        for line in seen.iter() {
            match line {
                Line::Out(t) => text.push_str(&format!("out| {t}\n")),
                Line::Err(t) => text.push_str(&format!("err| {t}\n")),
            }
        }
        text
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        let seen = self.seen.lock().expect("no panics while locked");
        seen.iter()
            .filter_map(|l| match l {
                Line::Out(t) => Some(t.clone()),
                Line::Err(_) => None,
            })
            .collect()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Free space in bytes on the file system holding `dir`, from `df` (std has no call for it); `None` if unknown.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// True when this Windows build runs under Wine rather than on Windows (see [`skip_under_wine`]).
pub fn under_wine() -> bool {
    // Wine passes the Unix environment through, and its prefix always has winecfg; real Windows has neither.
    cfg!(windows)
        && (std::env::var_os("WINEPREFIX").is_some()
            || std::env::var_os("WINELOADER").is_some()
            || Path::new(r"C:\windows\system32\winecfg.exe").exists())
}

/// For a test that fails only because Wine lacks something real Windows has: says so on
/// stderr, naming the gap, and returns true so the test can return early. Never use it to
/// hide a failure that real Windows would have too.
pub fn skip_under_wine(gap: &str) -> bool {
    if under_wine() {
        eprintln!("SKIPPED under Wine: {gap}");
        return true;
    }
    false
}

/// A link at `link` to the directory `target` (relative to `link`'s folder, or
/// absolute), of the kind a learner's account can make: a symbolic link on
/// unix, a junction on Windows (`mklink /J`; a symbolic link needs a privilege
/// there). Both lead wherever they point, outside a served root included.
pub fn link_dir(target: &Path, link: &Path) -> Result<(), String> {
    link_imp::link_dir(target, link)
}

#[cfg(unix)]
mod link_imp {
    use std::path::Path;

    pub fn link_dir(target: &Path, link: &Path) -> Result<(), String> {
        std::os::unix::fs::symlink(target, link).map_err(|e| e.to_string())
    }
}

#[cfg(windows)]
mod link_imp {
    use std::path::Path;
    use std::process::Command;

    pub fn link_dir(target: &Path, link: &Path) -> Result<(), String> {
        // A junction holds an absolute path.
        let folder = link.parent().unwrap_or(Path::new("."));
        let target = std::path::absolute(folder.join(target)).map_err(|e| e.to_string())?;
        let out = Command::new("cmd")
            .args(["/C", "mklink", "/J"])
            .arg(link)
            .arg(&target)
            .output()
            .map_err(|e| format!("cannot run cmd: {e}"))?;
        if out.status.success() && link.exists() {
            return Ok(());
        }
        Err(format!(
            "mklink /J failed: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A directory as the shell shows it: `fs::canonicalize`, without the `\\?\`
/// that Windows puts in front (`C:\dir`, as people write it).
pub fn shown_dir(path: &Path) -> String {
    let real = std::fs::canonicalize(path).expect("canonicalize a test directory");
    let text = real.display().to_string();
    match text.strip_prefix(r"\\?\") {
        Some(rest) if cfg!(windows) && rest.as_bytes().get(1) == Some(&b':') => rest.to_string(),
        _ => text,
    }
}

/// True when `program --version` runs and succeeds: the program is installed.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python 3 interpreter, as each platform has it: `python3` on unix, the `py -3` launcher
/// or `python` on Windows (a stock Windows install has no `python3`, or only the Store's
/// stand-in, which is not Python).
#[derive(Debug, Clone, Copy)]
pub struct Python {
    pub program: &'static str,
    pub args: &'static [&'static str],
}

/// Where [`find_python`] looks, in this order.
pub const PYTHONS: [Python; 3] = [
    Python {
        program: "python3",
        args: &[],
    },
    Python {
        program: "py",
        args: &["-3"],
    },
    Python {
        program: "python",
        args: &[],
    },
];

impl Python {
    /// A `Command` that runs this interpreter (with `-3` for the launcher).
    pub fn command(self) -> Command {
        let mut cmd = Command::new(self.program);
        cmd.args(self.args);
        cmd
    }

    /// The same, as a [`Spawn`] (for a Python server whose lines a test waits on).
    pub fn spawn(self) -> Spawn {
        Spawn::program(self.program).args(self.args)
    }

    /// How a person would type it: `py -3`, `python3`.
    pub fn spelling(self) -> String {
        std::iter::once(self.program)
            .chain(self.args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The first of [`PYTHONS`] that runs and is Python 3, looked for once.
pub fn find_python() -> Option<Python> {
    static FOUND: std::sync::OnceLock<Option<Python>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        PYTHONS.into_iter().find(|python| {
            python
                .command()
                .args(["-c", "import sys; sys.exit(sys.version_info[0] != 3)"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// A Python 3 to run the tutorial's side of an interop test. Without one, the calling test,
/// which then returns early, is named in one line on stderr, written past `cargo test`'s
/// capture (which hides `eprintln!` of passing tests), so a skipped interop test never
/// passes silently.
#[track_caller]
pub fn python() -> Option<Python> {
    let found = find_python();
    if found.is_none() {
        let tried: Vec<String> = PYTHONS.iter().map(|p| p.spelling()).collect();
        skipped(
            std::panic::Location::caller(),
            &format!(
                "no Python 3 found (tried {}), so this interop test with a Python peer did not run",
                tried.join(", ")
            ),
        );
    }
    found
}

/// For a test about to return early: says so on stderr, uncaptured, naming the test and why.
#[track_caller]
pub fn skip(why: &str) {
    skipped(std::panic::Location::caller(), why);
}

/// Says on stderr, uncaptured, that the test running on this thread (libtest names the
/// thread after the test) was skipped at `at`, and why.
fn skipped(at: &std::panic::Location, why: &str) {
    let current = thread::current();
    let test = current.name().unwrap_or("a test");
    // One write, so that lines of tests running at once do not interleave.
    let line = format!("SKIPPED {test} ({}:{}): {why}\n", at.file(), at.line());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Asserts that `bin args` is a usage error: exit 2, `<bin>: error: ` and the usage line on stderr, nothing on stdout.
pub fn assert_usage_error(bin: &str, args: &[&str]) {
    let out = command(bin).args(args).assert().code(2);
    let output = out.get_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("{bin}: error: ")),
        "{}",
        describe(output)
    );
    assert!(
        stderr.contains(&format!("Usage: {bin}")),
        "{}",
        describe(output)
    );
    assert!(output.stdout.is_empty(), "{}", describe(output));
}

/// Asserts that `--help` names the usage, the Python program `python` and each of `words`, and that `--version` is `<bin> <version>`; returns the help.
pub fn assert_help_and_version(bin: &str, python: &str, words: &[&str]) -> String {
    let out = command(bin).arg("--help").assert().success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(help.contains(&format!("Usage: {bin}")), "{help}");
    assert!(help.contains(python), "{help}");
    for word in words {
        assert!(help.contains(word), "no {word:?} in:\n{help}");
    }
    let out = command(bin).arg("--version").assert().success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("{bin} {}\n", env!("CARGO_PKG_VERSION"))
    );
    help
}

/// Which way a [`cutting_proxy`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Server to client: a download stops.
    Downstream,
    /// Client to server: an upload stops.
    Upstream,
}

/// A proxy for one connection to `server` that forwards the first `limit`
/// bytes going the `cut` way, then holds both connections without
/// forwarding more (the other way flows freely), so a transfer stops at an
/// exact point without anyone closing. Dropping the returned sender ends it.
pub fn cutting_proxy(server: SocketAddr, cut: Cut, limit: usize) -> (SocketAddr, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let addr = listener.local_addr().expect("the proxy's address");
    let (release, released) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (client, _) = listener.accept().expect("the client connects");
        let upstream = TcpStream::connect(server).expect("connect to the server");
        let (limited_from, limited_to, free_from, free_to) = match cut {
            Cut::Downstream => (&upstream, &client, &client, &upstream),
            Cut::Upstream => (&client, &upstream, &upstream, &client),
        };
        let (mut free_from, mut free_to) = (
            free_from.try_clone().expect("clone"),
            free_to.try_clone().expect("clone"),
        );
        thread::spawn(move || {
            let _ = std::io::copy(&mut free_from, &mut free_to);
        });
        let mut forwarded = 0;
        let mut buf = [0u8; 16 * 1024];
        let (mut from, mut to) = (limited_from, limited_to);
        while forwarded < limit {
            let want = buf.len().min(limit - forwarded);
            match from.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    forwarded += n;
                }
            }
        }
        let _ = released.recv();
        // The other direction's thread holds clones: shutting the sockets
        // down (not just dropping ours) ends both connections for real.
        let _ = upstream.shutdown(std::net::Shutdown::Both);
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
    (addr, release)
}

/// Waits `every` on `s`, as an attacker paces its bytes, reading and dropping whatever the
/// server sends meanwhile; `false` as soon as the server closes the connection. The wait is
/// on the socket, with a timeout, so a close is seen the moment it happens.
pub fn pace(s: &mut TcpStream, every: Duration) -> bool {
    let until = Instant::now() + every;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        if s.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        match s.read(&mut [0u8; 256]) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

/// Deterministic, non-repeating bytes (a stream of SplitMix64 values).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A framed connection after the hellos, and the server's hello.
pub fn framed(addr: SocketAddr) -> (TcpStream, ServerHello) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    ClientHello::default()
        .write_to(&mut s)
        .expect("send the hello");
    let hello = ServerHello::read_from(&mut s)
        .expect("read the hello")
        .expect("a server hello");
    (s, hello)
}

/// On a framed connection to a server that wants a token: reads its CHALLENGE,
/// answers AUTH with `key`'s HMAC over the nonce (`key` need not be a token
/// the library would load), and returns the server's answer.
pub fn prove(s: &mut TcpStream, key: &[u8]) -> Response {
    let challenge = Response::read_from(s).expect("read the challenge");
    let Some(Response::Challenge { nonce }) = challenge else {
        panic!("expected a CHALLENGE, got {challenge:?}")
    };
    let auth = Request::Auth {
        proof: hmac(key, &nonce),
    };
    auth.write_to(s).expect("send AUTH");
    Response::read_from(s)
        .expect("read the answer to AUTH")
        .expect("an answer to AUTH")
}

/// Everything under `dir`: files with their contents, directories (empty
/// ones too) as `None`, links with their targets; links are not followed.
/// Names are relative to `dir`, with `/` between components on every system.
pub fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).expect("read the tree") {
            let path = entry.expect("read the tree").path();
            let rel = path
                .strip_prefix(base)
                .expect("read the tree")
                .iter()
                .map(|part| part.to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let meta = std::fs::symlink_metadata(&path).expect("read the tree");
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("read the tree");
                out.insert(
                    rel,
                    Some(format!("link to {}", target.display()).into_bytes()),
                );
            } else if meta.is_dir() {
                out.insert(rel + "/", None);
                walk(base, &path, out);
            } else {
                out.insert(rel, Some(std::fs::read(&path).expect("read the tree")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `download_server --port 0 --root ROOT EXTRA...`, once it listens.
pub fn download_server(root: &Path, extra: &[&str]) -> Running {
    Spawn::new("download_server")
        .args(["--port", "0", "--root"])
        .args([root])
        .args(extra)
        .server()
}

/// Waits until the size of `path` satisfies `ok` (a bounded poll: a file
/// growing as a transfer goes on says nothing else about how far it got).
pub fn wait_for_size(path: &Path, wanted: &str, ok: impl Fn(u64) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if ok(now) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} stayed at {now} bytes, expected {wanted}",
            path.display()
        );
        thread::yield_now();
    }
}

/// An example program (examples/NAME), built for the tests. The whole `cargo test`
/// builds every example beside the tests; a run of one suite (`cargo test --test
/// walkthrough`) does not, so the one needed is built here, with the same cargo and
/// into the same target directory as the test itself.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/PROFILE/deps/TEST");
    let path = profile
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        build_example(name, profile);
    }
    assert!(
        path.is_file(),
        "{} is not built and could not be built here: run the whole `cargo test` \
         (it builds the examples), or `cargo build --examples` first",
        path.display()
    );
    path
}

fn build_example(name: &str, profile: &Path) {
    // Suites run their tests at once: one build at a time, the others then find it built.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "--example", name]);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile.file_name() == Some(OsStr::new("release")) {
        command.arg("--release");
    }
    let Some(target_dir) = profile.parent() else {
        return;
    };
    // target/PROFILE for this machine, target/TRIPLE/PROFILE for a cross build.
    if target_dir.join("CACHEDIR.TAG").is_file() {
        command.arg("--target-dir").arg(target_dir);
    } else if let (Some(triple), Some(top)) = (target_dir.file_name(), target_dir.parent()) {
        command
            .arg("--target")
            .arg(triple)
            .arg("--target-dir")
            .arg(top);
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("building examples/{name} failed ({status}): {command:?}"),
        Err(e) => eprintln!("cannot run cargo to build examples/{name}: {e}: {command:?}"),
    }
}

/// The lesson runner, examples/lesson.
pub fn lesson_program() -> PathBuf {
    example("lesson")
}
