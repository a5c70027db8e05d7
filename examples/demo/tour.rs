//! The machinery of the tour: find the programs, start a server on a free port, run a client with its input, show what each printed.
//!
//! The tour shows the programs' own words and explains them; it relies only
//! on their contracts (a server's first line is `listening on IP:PORT`, exit
//! status 0/1/2), never on the wording of a message, so that it keeps working
//! while that wording changes. Every wait has a deadline.

use std::env::consts::EXE_SUFFIX;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Every program the tour runs: all of them.
use socket_tutorial::PROGRAMS;

/// What went wrong, said in one line by `main`.
pub type Result<T> = std::result::Result<T, String>;

/// The longest any one wait may take before the tour gives up.
const DEADLINE: Duration = Duration::from_secs(20);

/// A server is taken to have said everything about a request when it has
/// printed nothing more for this long.
const QUIET: Duration = Duration::from_millis(300);

/// The tour's state: where the programs are and a scratch directory,
/// removed at the end.
pub struct Tour {
    bin: PathBuf,
    tmp: PathBuf,
}

impl Tour {
    /// The programs in `bin` (built first when cargo started the tour), and a
    /// new scratch directory.
    pub fn new(bin: PathBuf) -> Result<Tour> {
        crate::build::build_when_run_by_cargo(&bin)?;
        for name in PROGRAMS {
            let path = bin.join(format!("{name}{EXE_SUFFIX}"));
            if !path.is_file() {
                return Err(format!(
                    "{} is missing: build the programs first with `cargo build --release` \
                     (`make demo` does), then run the tour again",
                    path.display()
                ));
            }
        }
        let tmp = std::env::temp_dir().join(format!("socket-tutorial-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot make {}: {e}", tmp.display()))?;
        Ok(Tour { bin, tmp })
    }

    /// The scratch directory (or a path in it), made if missing.
    pub fn dir(&self, rel: &str) -> Result<PathBuf> {
        let path = self.tmp.join(rel);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot make {}: {e}", path.display()))?;
        Ok(path)
    }

    /// A path in the scratch directory, not made.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.join(rel)
    }

    /// A heading for one part of the tour.
    pub fn title(&self, text: &str) {
        println!("\n== {text}");
    }

    /// A line of explanation.
    pub fn say(&self, text: &str) {
        println!("{text}");
    }

    /// Starts one of the programs as a server and waits for its `listening on` line.
    pub fn start(&self, name: &str, args: &[&str]) -> Result<Server> {
        let mut cmd = Command::new(self.program(name));
        cmd.args(args)
            .current_dir(&self.tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut server = Server::spawn(name, cmd)?;
        server.port = server.listening()?;
        // The start is shown in one line of our own; its log starts after it.
        server.new_lines();
        println!(
            "(started: {name} {}  ->  listening on port {})",
            args.join(" "),
            server.port
        );
        Ok(server)
    }

    /// Runs one of the programs in `dir` with `input` on its stdin, showing
    /// the command and, indented, everything it printed; returns its exit status.
    pub fn run(&self, dir: &Path, name: &str, args: &[&str], input: &Input) -> Result<i32> {
        let shown = format!("$ {name} {}", args.join(" "));
        match input {
            Input::Nothing => println!("{}", shown.trim_end()),
            Input::Lines(lines) => {
                let typed: Vec<String> = lines.iter().map(|l| format!("{l:?}")).collect();
                println!(
                    "{}      (its input: {})",
                    shown.trim_end(),
                    typed.join(", ")
                );
            }
            Input::File(file) => println!("{} < {file}", shown.trim_end()),
        }
        // Both streams into one file, so that what it printed comes out in
        // the order it was printed, as on a terminal.
        let out_path = self.tmp.join(format!("{name}.out"));
        let out = File::create(&out_path)
            .map_err(|e| format!("cannot make {}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", out_path.display()))?;
        let bytes = match input {
            Input::Nothing => Vec::new(),
            Input::Lines(lines) => lines
                .iter()
                .flat_map(|l| format!("{l}\n").into_bytes())
                .collect(),
            Input::File(file) => {
                std::fs::read(dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?
            }
        };
        let mut child = Command::new(self.program(name))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // Written from a thread: a client may print before it has read
            // everything, and one that stops reading early is no error here.
            thread::spawn(move || stdin.write_all(&bytes));
        }
        let code = wait_with_deadline(&mut child, name)?;
        let printed = std::fs::read(&out_path)
            .map_err(|e| format!("cannot read {}: {e}", out_path.display()))?;
        for line in String::from_utf8_lossy(&printed).lines() {
            println!("    {line}");
        }
        Ok(code)
    }

    fn program(&self, name: &str) -> PathBuf {
        self.bin.join(format!("{name}{EXE_SUFFIX}"))
    }
}

impl Drop for Tour {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// What a client reads on its stdin.
pub enum Input<'a> {
    Nothing,
    /// These lines, as if typed.
    Lines(&'a [&'a str]),
    /// A file in the client's directory.
    File(&'a str),
}

/// A running program whose output lines are collected as they come; killed when dropped.
pub struct Server {
    name: String,
    child: Child,
    lines: Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
    shown: usize,
    /// The port from its `listening on` line.
    pub port: u16,
}

impl Server {
    fn spawn(name: &str, mut cmd: Command) -> Result<Server> {
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            forward(out, tx.clone(), Arc::clone(&seen));
        }
        if let Some(err) = child.stderr.take() {
            forward(err, tx, Arc::clone(&seen));
        }
        Ok(Server {
            name: name.to_string(),
            child,
            lines: rx,
            seen,
            shown: 0,
            port: 0,
        })
    }

    /// The port of the first `listening on IP:PORT` line.
    fn listening(&mut self) -> Result<u16> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        if let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse().ok()) {
                            return Ok(port);
                        }
                    }
                }
                Err(_) => {
                    let printed = self.new_lines().join(" / ");
                    return Err(format!(
                        "{} did not say `listening on IP:PORT`; it printed: {printed}",
                        self.name
                    ));
                }
            }
        }
    }

    /// Waits until the server has printed nothing for a moment (it has
    /// logged what the last client did), or has exited.
    pub fn settle(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(QUIET) {
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    /// Waits for the program to end by itself; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> Result<i32> {
        let deadline = Instant::now() + within;
        // Both output streams close when it exits.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} did not finish within {} s",
                        self.name,
                        within.as_secs()
                    ))
                }
            }
        }
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for {}: {e}", self.name))?;
        // No code means killed by a signal (unix): -1 says "not a normal exit".
        Ok(status.code().unwrap_or(-1))
    }

    /// Whether the program ended within `within` (a receiver told to stop).
    pub fn ended_within(&mut self, within: Duration) -> bool {
        self.wait_exit(within).is_ok()
    }

    /// The lines printed since the last call.
    pub fn new_lines(&mut self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let new = seen[self.shown.min(seen.len())..].to_vec();
        self.shown = seen.len();
        new
    }

    /// After [`Server::settle`], what the server printed since last shown, as `    | line`.
    pub fn show_log(&mut self) {
        self.settle();
        for line in self.new_lines() {
            println!("    | {line}");
        }
    }

    /// [`Server::show_log`] for the lines that contain one of `words` (all of them if none does).
    pub fn show_log_about(&mut self, words: &[&str]) {
        self.settle();
        let lines = self.new_lines();
        let about: Vec<&String> = lines
            .iter()
            .filter(|l| words.iter().any(|w| l.contains(w)))
            .collect();
        let shown = if about.is_empty() {
            lines.iter().collect()
        } else {
            about
        };
        for line in shown {
            println!("    | {line}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects the lines of one output stream into `seen`, and signals each on `tx`.
fn forward<R: Read + Send + 'static>(stream: R, tx: Sender<String>, seen: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line.clone());
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Waits for a client to end, killing it after [`DEADLINE`]; its exit status.
fn wait_with_deadline(child: &mut Child, name: &str) -> Result<i32> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match child.try_wait() {
            // No code means killed by a signal (unix): -1 says "not a normal exit".
            Ok(Some(status)) => return Ok(status.code().unwrap_or(-1)),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{name} did not finish within {} s",
                    DEADLINE.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {name}: {e}")),
        }
    }
}

/// Fails the tour with `what` unless `code` is `expected`.
pub fn expect_status(what: &str, code: i32, expected: i32) -> Result<()> {
    if code == expected {
        Ok(())
    } else {
        Err(format!(
            "{what} exited with status {code}, expected {expected}"
        ))
    }
}
