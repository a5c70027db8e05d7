//! What a lesson does, step by step, on any platform: start a server with its log in a file, run a client with its input, wait for a line, show a file, stop the server.
//!
//! Each step is what one line of the walkthrough's bash block does, so a lesson reads
//! like its block and prints what the block prints. The ports and the directory are the
//! page's own (10500, 11500, 15000; a folder of the lesson's), or, with `--free-ports`
//! (the walkthrough test), free ones, shown as the page names them. Every wait has a
//! deadline.

use std::env::consts::EXE_SUFFIX;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What went wrong, said in one line by `main`.
pub type Result<T> = std::result::Result<T, String>;

/// The ports the page names (the programs' defaults); `--free-ports` swaps each for a free one.
const PAGE_PORTS: [u16; 5] = [10500, 11500, 11600, 14000, 15000];

/// The longest one wait may take: the slowest lesson needs a few seconds.
const DEADLINE: Duration = Duration::from_secs(20);

/// One run of a lesson: where the programs are, its folder, and how ports and paths are shown.
pub struct Lesson {
    bin: PathBuf,
    dir: PathBuf,
    /// The page's port and the one really used.
    ports: Vec<(u16, u16)>,
    /// How the lesson's folder is shown (`--shown-dir`), if not as it is.
    shown_dir: Option<String>,
    /// Where the learner keeps the tutorial's own programs (`--py`, else `py`).
    tutorial: PathBuf,
}

impl Lesson {
    pub fn new(
        bin: PathBuf,
        free_ports: bool,
        shown_dir: Option<String>,
        tutorial: PathBuf,
    ) -> Result<Lesson> {
        let dir =
            std::env::temp_dir().join(format!("socket-tutorial-lesson-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        // The programs print the folder as the system names it (macOS's /tmp is /private/tmp).
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let mut ports = Vec::new();
        for page in PAGE_PORTS {
            let real = if free_ports { free_port()? } else { page };
            ports.push((page, real));
        }
        Ok(Lesson {
            bin,
            dir,
            ports,
            shown_dir,
            tutorial,
        })
    }

    /// A path in the lesson's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Makes a folder in the lesson's folder (`mkdir -p`).
    pub fn mkdir(&self, rel: &str) -> Result<PathBuf> {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot make {rel}: {e}"))?;
        Ok(path)
    }

    /// Writes a file in the lesson's folder (`printf ... > FILE`).
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        std::fs::write(self.dir.join(rel), bytes).map_err(|e| format!("cannot write {rel}: {e}"))
    }

    /// Starts a server in the lesson's folder, its stdout into `log` and its stderr into
    /// `errors` (or into `log` too), as `program ARGS > log [2> errors] &` does.
    pub fn start(
        &self,
        program: &str,
        args: &[&str],
        log: &str,
        errors: Option<&str>,
    ) -> Result<Server> {
        let mut cmd = Command::new(self.program(program));
        cmd.args(self.real_args(args));
        self.background(cmd, program, "", log, errors)
    }

    /// Runs a client in `dir` (a folder of the lesson's, `""` for its own) with `input` on its
    /// stdin, shows what it printed (stdout and stderr together, as a terminal does) and
    /// returns its exit status.
    pub fn run(&self, dir: &str, program: &str, args: &[&str], input: &[u8]) -> Result<i32> {
        self.run_fed(dir, program, args, &mut |stdin| {
            stdin.write_all(input).map_err(|e| e.to_string())
        })
    }

    /// [`Lesson::run`] where `feed` writes the input, and may wait between lines (for a line
    /// in a server's log, say) before it closes stdin by returning.
    pub fn run_fed(
        &self,
        dir: &str,
        program: &str,
        args: &[&str],
        feed: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<i32> {
        self.run_into(dir, program, args, feed, None)
    }

    /// [`Lesson::run_fed`] with what the client prints saved in `into` (the page's
    /// `> first.txt`) instead of shown, when given.
    pub fn run_into(
        &self,
        dir: &str,
        program: &str,
        args: &[&str],
        feed: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
        into: Option<&str>,
    ) -> Result<i32> {
        let mut cmd = Command::new(self.program(program));
        cmd.args(self.real_args(args))
            .current_dir(self.dir.join(dir))
            .stdin(Stdio::piped());
        match into {
            Some(file) => {
                let out = self.create(file)?;
                let err = out
                    .try_clone()
                    .map_err(|e| format!("cannot share {file}: {e}"))?;
                cmd.stdout(out).stderr(err);
            }
            // Shown line by line as it prints, as a terminal shows it, so that a client
            // running in the background prints in its turn.
            None => {
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        self.feed_and_show(child, program, feed)
    }

    /// Feeds a started client its input and shows each line it prints as it comes (when its
    /// output is piped); its exit status.
    fn feed_and_show(
        &self,
        mut child: Child,
        name: &str,
        feed: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<i32> {
        let (out, err) = (child.stdout.take(), child.stderr.take());
        thread::scope(|s| {
            if let Some(out) = out {
                s.spawn(|| self.forward(out));
            }
            if let Some(err) = err {
                s.spawn(|| self.forward(err));
            }
            if let Some(mut stdin) = child.stdin.take() {
                // A client that ends before reading all its input is no error here.
                let _ = feed(&mut stdin);
            }
            wait_with_deadline(&mut child, name)
        })
    }

    /// Shows each line of `stream` as it comes.
    fn forward(&self, stream: impl Read) {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            self.show(&String::from_utf8_lossy(&line));
            line.clear();
        }
    }

    /// Runs a few lines of Python (`python3 -c SCRIPT`) in the lesson's folder and shows what
    /// they print, with Python found as this platform has it ([`find_python`]).
    pub fn python(&self, script: &str) -> Result<i32> {
        let (code, printed) = self.run_python(script)?;
        self.show(&printed);
        Ok(code)
    }

    /// What [`Lesson::python`] would show, to be shown later with [`Lesson::say_text`].
    pub fn python_output(&self, script: &str) -> Result<String> {
        Ok(self.run_python(script)?.1)
    }

    fn run_python(&self, script: &str) -> Result<(i32, String)> {
        let python = find_python().ok_or_else(no_python)?;
        let mut child = Command::new(python.0)
            .args(python.1)
            .arg("-c")
            .arg(self.real_args(&[script]).remove(0))
            .current_dir(&self.dir)
            // Python writes a pipe in the system's code page otherwise (cp1252 on Windows).
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.0))?;
        let mut printed = Vec::new();
        if let Some(mut out) = child.stdout.take() {
            // Python writes to a pipe when it exits; the deadline below bounds the wait.
            let _ = out.read_to_end(&mut printed);
        }
        let code = wait_with_deadline(&mut child, "python")?;
        Ok((code, String::from_utf8_lossy(&printed).into_owned()))
    }

    /// Text printed earlier by a program, shown now.
    pub fn say_text(&self, text: &str) {
        self.show(text);
    }

    /// Starts a client in the background (`program ARGS &`), its output into `.NAME.out`.
    pub fn spawn(&self, dir: &str, program: &str, args: &[&str]) -> Result<Server> {
        let mut cmd = Command::new(self.program(program));
        cmd.args(self.real_args(args));
        self.background(cmd, program, dir, &format!(".{program}.out"), None)
    }

    /// Starts `cmd` in the background in `dir` with its stdout in `log` and its stderr in
    /// `errors` (or in `log` too), as `cmd > log [2> errors] &` does.
    fn background(
        &self,
        mut cmd: Command,
        name: &str,
        dir: &str,
        log: &str,
        errors: Option<&str>,
    ) -> Result<Server> {
        let out = self.create(log)?;
        let err = match errors {
            Some(file) => self.create(file)?,
            None => out
                .try_clone()
                .map_err(|e| format!("cannot share {log}: {e}"))?,
        };
        let child = cmd
            .current_dir(self.dir.join(dir))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Server {
            name: name.to_string(),
            child,
        })
    }

    /// The port really used for one the page names.
    pub fn real_port(&self, page: u16) -> u16 {
        self.ports
            .iter()
            .find(|(p, _)| *p == page)
            .map_or(page, |(_, real)| *real)
    }

    /// Waits until a file of the lesson's folder holds `size` bytes.
    pub fn wait_for_size(&self, rel: &str, size: u64) -> Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let now = std::fs::metadata(self.dir.join(rel)).map_or(0, |m| m.len());
            if now == size {
                return Ok(());
            }
            if now > size || Instant::now() > deadline {
                return Err(format!("{rel} holds {now} bytes, not {size}"));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Copies the tutorial's programs from the learner's folder into the lesson's `py/`,
    /// with the page's ports swapped as everywhere else (for the lessons that run them).
    pub fn tutorial_programs(&self) -> Result<()> {
        let into = self.mkdir("py")?;
        let mut copied = 0;
        let entries = std::fs::read_dir(&self.tutorial).map_err(|_| no_tutorial(&self.tutorial))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "py") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                std::fs::write(
                    into.join(entry.file_name()),
                    self.real_args(&[&text]).remove(0),
                )
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
                copied += 1;
            }
        }
        if copied == 0 {
            return Err(no_tutorial(&self.tutorial));
        }
        Ok(())
    }

    /// Starts a Python script of the lesson's own that says when it is ready
    /// (`python3 slow_link.py 11600 > link.log &`), its page ports swapped like the rest.
    pub fn start_python_script(&self, args: &[&str], log: &str) -> Result<Server> {
        let script = args.first().ok_or("no script")?;
        let text = std::fs::read_to_string(self.dir.join(script))
            .map_err(|e| format!("cannot read {script}: {e}"))?;
        std::fs::write(self.dir.join(script), self.real_args(&[&text]).remove(0))
            .map_err(|e| format!("cannot write {script}: {e}"))?;
        let python = find_python().ok_or_else(no_python)?;
        let mut cmd = Command::new(python.0);
        cmd.args(python.1).args(self.real_args(args));
        self.background(cmd, script, "", log, None)
    }

    /// Whether a file of the lesson's folder exists (the page's `ls`).
    pub fn exists(&self, rel: &str) -> bool {
        self.dir.join(rel).exists()
    }

    /// Starts one of the tutorial's Python servers (`python3 -u py/X.py > log &`) in `dir`.
    /// They print nothing when ready, so this waits a second, as the page's `sleep 1` does.
    pub fn start_tutorial(&self, dir: &str, args: &[&str], log: &str) -> Result<Server> {
        let python = find_python().ok_or_else(no_python)?;
        let mut cmd = Command::new(python.0);
        cmd.args(python.1)
            .arg("-u")
            .args(args)
            .env("PYTHONIOENCODING", "utf-8");
        let server = self.background(cmd, &args.join(" "), dir, log, None)?;
        thread::sleep(Duration::from_secs(1));
        Ok(server)
    }

    /// Runs one of the tutorial's Python clients (`... | python3 py/X.py`) in `dir` and shows
    /// what it printed.
    pub fn run_tutorial(&self, dir: &str, args: &[&str], input: &[u8]) -> Result<i32> {
        let python = find_python().ok_or_else(no_python)?;
        let child = Command::new(python.0)
            .args(python.1)
            .args(args)
            .current_dir(self.dir.join(dir))
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.0))?;
        self.feed_and_show(child, "python", &mut |stdin| {
            stdin.write_all(input).map_err(|e| e.to_string())
        })
    }

    /// Starts a server as a Windows learner types it in a window of its own
    /// (`target\\release\\tcp_server.exe ...` or `py py\\tcp_server.py`), in `dir`.
    pub fn start_typed(&self, dir: &str, line: &str, log: &str) -> Result<Server> {
        match typed_command(line)? {
            Typed::Ours(program, args) => {
                if !dir.is_empty() {
                    return Err(format!("`{line}`: our servers run in the project's folder"));
                }
                self.start(program, &args, log, None)
            }
            Typed::Python(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.start_tutorial(dir, &args, log)
            }
        }
    }

    /// Runs a client as a Windows learner types it (see [`Lesson::start_typed`]), with `input`
    /// as what they type, and shows what it printed.
    pub fn run_typed(&self, dir: &str, line: &str, input: &[u8]) -> Result<i32> {
        match typed_command(line)? {
            Typed::Ours(program, args) => self.run(dir, program, &args, input),
            Typed::Python(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.run_tutorial(dir, &args, input)
            }
        }
    }

    /// Waits until `file` has `n` lines that contain `text` (the page's `wait_for`).
    pub fn wait_for(&self, file: &str, text: &str, n: usize) -> Result<()> {
        self.wait_for_any(file, &[text], n)
    }

    /// Waits until `file` has `n` lines that contain one of `texts`.
    pub fn wait_for_any(&self, file: &str, texts: &[&str], n: usize) -> Result<()> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let content = std::fs::read(self.dir.join(file)).unwrap_or_default();
            let found = String::from_utf8_lossy(&content)
                .lines()
                .filter(|l| texts.iter().any(|text| l.contains(text)))
                .count();
            if found >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{file} has no {n} line(s) with '{}' after {} s",
                    texts.join("' or '"),
                    DEADLINE.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The bytes of a file of the lesson's folder (for the page's `cmp`).
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        std::fs::read(self.dir.join(rel)).map_err(|e| format!("cannot read {rel}: {e}"))
    }

    /// Shows a file of the lesson's folder (`cat FILE`).
    pub fn cat(&self, file: &str) -> Result<()> {
        let content =
            std::fs::read(self.dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?;
        self.show(&String::from_utf8_lossy(&content));
        Ok(())
    }

    /// Shows files as the page's `perl -pe 's/(x{10,})/"[".length($1)." x]"/ge'` does: a run
    /// of ten or more `x` as `[N x]`, so that a 3000-byte message fits on a line.
    pub fn cat_counting_x(&self, files: &[&str]) -> Result<()> {
        for file in files {
            let content = std::fs::read(self.dir.join(file))
                .map_err(|e| format!("cannot read {file}: {e}"))?;
            self.show(&count_x_runs(&String::from_utf8_lossy(&content)));
        }
        Ok(())
    }

    /// Shows the last line of a file (`tail -n 1 FILE`).
    pub fn cat_last(&self, file: &str) -> Result<()> {
        let content =
            std::fs::read(self.dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?;
        if let Some(line) = String::from_utf8_lossy(&content).lines().last() {
            self.say(line);
        }
        Ok(())
    }

    /// Shows the lines of a file that contain `text` (`grep TEXT FILE`).
    pub fn cat_matching(&self, file: &str, text: &str) -> Result<()> {
        let content =
            std::fs::read(self.dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"))?;
        for line in String::from_utf8_lossy(&content)
            .lines()
            .filter(|l| l.contains(text))
        {
            self.say(line);
        }
        Ok(())
    }

    /// Shows several files' sizes and their total, as `wc -c FILE...` does.
    pub fn wc_c_all(&self, dir: &str, files: &[&str]) -> Result<()> {
        let mut total = 0;
        for file in files {
            let len = std::fs::metadata(self.dir.join(dir).join(file))
                .map_err(|e| format!("cannot read {file}: {e}"))?
                .len();
            self.say(&format!("{len} {file}"));
            total += len;
        }
        self.say(&format!("{total} total"));
        Ok(())
    }

    /// Shows a file's size and name, as `wc -c FILE` does.
    pub fn wc_c(&self, dir: &str, file: &str) -> Result<()> {
        let meta = std::fs::metadata(self.dir.join(dir).join(file))
            .map_err(|e| format!("cannot read {file}: {e}"))?;
        self.say(&format!("{} {file}", meta.len()));
        Ok(())
    }

    /// One line of the lesson's own, as the block's `echo`.
    pub fn say(&self, line: &str) {
        self.show(&format!("{line}\n"));
    }

    /// Prints `text` with the real ports and folder shown as the page names them.
    fn show(&self, text: &str) {
        let mut text = text.to_string();
        for &(page, real) in &self.ports {
            if page != real {
                text = replace_number(&text, real, page);
            }
        }
        if let Some(shown) = &self.shown_dir {
            text = self.shown_paths(&text, shown);
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// `text` with every path in the lesson's folder shown under `shown`, with `/` between
    /// its parts whatever the system writes (`C:\...\served` as `/tmp/walk/served`).
    fn shown_paths(&self, text: &str, shown: &str) -> String {
        let full = self.dir.display().to_string();
        // Windows' canonical form starts with \\?\; the programs print the path without it.
        let plain = full.strip_prefix(r"\\?\").unwrap_or(&full).to_string();
        let mut out = String::new();
        let mut rest = text;
        while let Some((at, len)) = [&full, &plain]
            .iter()
            .filter_map(|d| rest.find(d.as_str()).map(|at| (at, d.len())))
            .min()
        {
            out.push_str(&rest[..at]);
            out.push_str(shown);
            rest = &rest[at + len..];
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ':'))
                .unwrap_or(rest.len());
            out.push_str(&rest[..end].replace('\\', "/"));
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    fn real_args(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|&arg| {
                let mut arg = arg.to_string();
                for &(page, real) in &self.ports {
                    arg = replace_number(&arg, page, real);
                }
                arg
            })
            .collect()
    }

    fn create(&self, rel: &str) -> Result<File> {
        File::create(self.dir.join(rel)).map_err(|e| format!("cannot make {rel}: {e}"))
    }

    fn program(&self, name: &str) -> PathBuf {
        self.bin.join(format!("{name}{EXE_SUFFIX}"))
    }
}

impl Drop for Lesson {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server started by [`Lesson::start`]; stopped by [`Server::kill`], or when dropped.
pub struct Server {
    name: String,
    child: Child,
}

impl Server {
    /// Stops the server (the page's `kill $server`).
    pub fn kill(mut self) -> Result<()> {
        let _ = self.child.kill();
        self.child
            .wait()
            .map(drop)
            .map_err(|e| format!("waiting for {}: {e}", self.name))
    }

    /// Waits for the program to end by itself (the page's `wait $receiver`).
    pub fn wait(mut self) -> Result<i32> {
        wait_with_deadline(&mut self.child, &self.name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a program to end, killing it after [`DEADLINE`]; its exit status.
fn wait_with_deadline(child: &mut Child, name: &str) -> Result<i32> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match child.try_wait() {
            // No code means killed by a signal (unix): -1 says "not a normal exit".
            Ok(Some(status)) => return Ok(status.code().unwrap_or(-1)),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
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

/// Where a lesson looks for Python 3, in this order: Windows' launcher, then the names
/// Windows and unix give it.
const PYTHONS: [(&str, &[&str]); 3] = [("py", &["-3"]), ("python", &[]), ("python3", &[])];

/// The first of [`PYTHONS`] that runs and is Python 3, looked for once.
pub fn find_python() -> Option<(&'static str, &'static [&'static str])> {
    static FOUND: std::sync::OnceLock<Option<(&str, &[&str])>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        PYTHONS.into_iter().find(|(program, args)| {
            Command::new(program)
                .args(*args)
                .args(["-c", "import sys; sys.exit(sys.version_info[0] != 3)"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// Exit status of a lesson that needs Python when none is found (the test skips it, and says so).
pub const NO_PYTHON: u8 = 3;

/// The error of a lesson that needs Python 3 and found none.
pub fn no_python() -> String {
    "this lesson needs Python 3, and none was found (tried py -3, python, python3): \
     install it from python.org or your system's packages"
        .to_string()
}

/// A command as a Windows learner types it in a window.
pub enum Typed<'a> {
    /// `target\\release\\NAME.exe ARGS`: one of our programs.
    Ours(&'a str, Vec<&'a str>),
    /// `py FILE ARGS`: Python, with the file's path in this system's form.
    Python(Vec<String>),
}

/// What a window's command line runs.
pub fn typed_command(line: &str) -> Result<Typed<'_>> {
    let mut words = line.split_whitespace();
    let first = words.next().ok_or("an empty command")?;
    // From the project's folder, or from a folder in it (`cd here`).
    let ours = first
        .strip_prefix("..\\")
        .unwrap_or(first)
        .strip_prefix("target\\release\\");
    if let Some(name) = ours.and_then(|p| p.strip_suffix(".exe")) {
        return Ok(Typed::Ours(name, words.collect()));
    }
    if first == "py" {
        let sep = std::path::MAIN_SEPARATOR.to_string();
        return Ok(Typed::Python(
            words.map(|w| w.replace('\\', &sep)).collect(),
        ));
    }
    Err(format!("`{line}` is neither one of ours nor `py ...`"))
}

/// Exit status of a lesson that runs the tutorial's programs when they are not found.
pub const NO_TUTORIAL: u8 = 4;

/// The error of a lesson that runs the tutorial's programs and found none in `dir`.
pub fn no_tutorial(dir: &Path) -> String {
    format!(
        "this lesson runs the tutorial's own Python programs, and {} holds none: \
         put them in a folder py/ here (as the walkthrough says), or name the folder with --py DIR",
        dir.display()
    )
}

/// Every run of ten or more `x` as `[N x]`.
fn count_x_runs(text: &str) -> String {
    let mut out = String::new();
    let mut run = 0;
    let flush = |out: &mut String, run: &mut usize| {
        if *run >= 10 {
            out.push_str(&format!("[{run} x]"));
        } else {
            out.push_str(&"x".repeat(*run));
        }
        *run = 0;
    };
    for c in text.chars() {
        if c == 'x' {
            run += 1;
        } else {
            flush(&mut out, &mut run);
            out.push(c);
        }
    }
    flush(&mut out, &mut run);
    out
}

/// A port nobody listens on now, TCP and UDP alike.
fn free_port() -> Result<u16> {
    for _ in 0..20 {
        let tcp = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot find a free port: {e}"))?;
        let port = tcp.local_addr().map_err(|e| e.to_string())?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("cannot find a port free for both TCP and UDP".into())
}

/// `text` with the number `from` (not part of a longer number) replaced by `to`.
fn replace_number(text: &str, from: u16, to: u16) -> String {
    let from = from.to_string();
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(|c| c.is_ascii_digit()) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(&from);
        } else {
            out.push_str(&to.to_string());
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// Where the programs are: the folder above this example's (cargo puts examples in
/// target/<profile>/examples, the programs in target/<profile>).
pub fn programs_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(PathBuf::from)
        .ok_or_else(|| format!("cannot find the folder above {}", exe.display()))
}
