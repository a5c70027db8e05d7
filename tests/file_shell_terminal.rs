//! file_shell at a terminal, through a pseudo-terminal (`script -qc` from util-linux, on Linux) and under tmux at 80 columns (the rows on screen): line editing, history across sessions, Tab completion of local and remote names (after an idle timeout too), Ctrl-C at the prompt, during a transfer and in `!command`, the progress line's width, and the terminal as it was afterwards. Where there is no such terminal (macOS's `script` takes other arguments, Windows has neither) each test says so and skips.

mod common;

use common::{bin, download_server, pace, pattern, wait_for_size, TempDir, TIMEOUT};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// A command running in a pseudo-terminal: what it shows, and its keyboard.
struct Pty {
    child: Child,
    keys: ChildStdin,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    /// How far [`Pty::wait_for`] has read.
    seen: usize,
}

/// What the terminal showed, and how many of script's two outputs have closed.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    closed: usize,
}

/// `script` from util-linux, which gives a command a pseudo-terminal (said on stderr
/// where it is not there).
fn pty_available(test: &str) -> bool {
    cfg!(target_os = "linux") && runs("script", "--version")
        || skipped(
            test,
            "no pseudo-terminal for tests here (it needs util-linux `script`, on Linux)",
        )
}

/// Whether `program arg` runs and succeeds here.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Says loudly that `test` is skipped and why; always false, for `available || skipped(..)`.
fn skipped(test: &str, why: &str) -> bool {
    eprintln!("SKIPPED {test}: {why}");
    false
}

impl Pty {
    /// Runs `sh_command` with `sh -c` in a new pseudo-terminal, in `dir`, with `HOME` set to `home`.
    fn start(sh_command: &str, dir: &Path, home: &Path) -> Pty {
        let mut child = Command::new("script")
            .args(["-qfc", sh_command, "/dev/null"])
            .current_dir(dir)
            .env("HOME", home)
            .env("SHELL", "/bin/sh")
            .env_remove("DOWNLOAD_SERVER_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start script");
        let keys = child.stdin.take().expect("piped");
        let screen = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        for mut stream in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let screen = Arc::clone(&screen);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let (lock, changed) = &*screen;
                // A test that failed holding the lock must not make this thread panic too.
                let screen = || lock.lock().unwrap_or_else(|e| e.into_inner());
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    screen().bytes.extend_from_slice(&buf[..n]);
                    changed.notify_all();
                }
                screen().closed += 1;
                changed.notify_all();
            });
        }
        Pty {
            child,
            keys,
            screen,
            seen: 0,
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.keys.write_all(keys).expect("type into the terminal");
        self.keys.flush().expect("type into the terminal");
    }

    /// Everything shown so far, as text.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.0.lock().unwrap().bytes).into_owned()
    }

    /// Waits until `needle` is shown after what earlier waits found; fails after [`TIMEOUT`].
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let (lock, changed) = &*self.screen;
        let mut screen = lock.lock().unwrap();
        loop {
            let shown = &screen.bytes;
            let text = String::from_utf8_lossy(&shown[self.seen.min(shown.len())..]).into_owned();
            if let Some(at) = text.find(needle) {
                // `at` is in the lossy text; close enough to move past it.
                self.seen += text[..at + needle.len()].len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the terminal never showed {needle:?}; it shows:\n{}",
                String::from_utf8_lossy(&screen.bytes)
            );
            screen = changed.wait_timeout(screen, left).unwrap().0;
        }
    }

    /// Waits for `script` (and so the command) to end: both its outputs close.
    fn wait_exit(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        {
            let (lock, changed) = &*self.screen;
            let mut screen = lock.lock().unwrap();
            while screen.closed < 2 {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "the terminal's command did not end:\n{}",
                    String::from_utf8_lossy(&screen.bytes)
                );
                screen = changed.wait_timeout(screen, left).unwrap().0;
            }
        }
        let status = self.child.wait().expect("wait for script");
        let text = self.text();
        assert!(status.success(), "script failed: {status}\n{text}");
        text
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A shell command line for the file_shell binary with `args`.
fn file_shell(args: &str) -> String {
    format!("{} {args}", bin("file_shell").display())
}

/// `stty -g` before and after the command, each on a line of its own, so a
/// test can see the terminal was left as it was found.
fn bracketed(command: &str) -> String {
    format!("echo BEFORE $(stty -g); {command}; echo AFTER $(stty -g) EXIT")
}

/// The two `stty -g` answers [`bracketed`] showed.
fn settings_before_and_after(text: &str) -> (String, String) {
    let find = |tag: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(tag).map(|s| s.trim().to_string()))
            .unwrap_or_else(|| panic!("no {tag} line in:\n{text}"))
    };
    (find("BEFORE "), find("AFTER ").replace(" EXIT", ""))
}

#[test]
fn history_and_tab_completion_of_local_and_remote_names() {
    if !pty_available("history_and_tab_completion_of_local_and_remote_names") {
        return;
    }
    let tmp = TempDir::new("tty-edit");
    let (root, here, home) = (tmp.join("root"), tmp.join("here"), tmp.join("home"));
    for d in [&root, &here, &home] {
        fs::create_dir_all(d).unwrap();
    }
    fs::create_dir(root.join("documents")).unwrap();
    fs::write(root.join("documents/remote notes.txt"), b"remote").unwrap();
    fs::write(root.join("documents/report.txt"), b"report").unwrap();
    fs::create_dir(here.join("subfolder")).unwrap();
    fs::write(here.join("subfolder/local.txt"), b"local").unwrap();
    let srv = download_server(&root, &[]);
    let port = srv.port();

    let mut pty = Pty::start(&bracketed(&file_shell(&format!("-P {port}"))), &here, &home);
    pty.wait_for("file> ");
    // Tab on a remote name (a folder: no space after it), then on a file with a space in its name.
    pty.type_keys(b"cd doc\t\r");
    pty.wait_for("file> ");
    pty.type_keys(b"get rem\t\r");
    pty.wait_for("Fetching /documents/remote notes.txt to remote notes.txt");
    pty.wait_for("file> ");
    // Tab on a local name, and the command name itself.
    pty.type_keys(b"lc\tsubf\t\r");
    pty.wait_for("file> ");
    // `!command` gets the keyboard (the reading thread steps aside) and the terminal as it was.
    pty.type_keys(b"!echo RE$((1))ADY; read x; echo got=$x; stty -g\r");
    pty.wait_for("RE1ADY");
    pty.type_keys(b"typed\r");
    pty.wait_for("got=typed");
    pty.wait_for("file> ");
    pty.type_keys(b"lpwd\r");
    pty.wait_for("Local working directory: ");
    pty.wait_for("subfolder");
    // Two choices: the first Tab adds nothing, the second lists them.
    pty.type_keys(b"ls re\t\t");
    pty.wait_for("remote notes.txt  report.txt");
    // Ctrl-U gives that line up; Up brings back the last one, `lpwd`.
    pty.type_keys(b"\x15\x1b[A\r");
    pty.wait_for("Local working directory: ");
    // Up, then edited: Home, Delete makes it `pwd`.
    pty.type_keys(b"\x1b[A\x01\x1b[3~\x05\r");
    pty.wait_for("Remote working directory: /documents");
    pty.type_keys(b"bye\r");
    let text = pty.wait_exit();
    assert_eq!(fs::read(here.join("remote notes.txt")).unwrap(), b"remote");
    assert!(!text.contains("unknown command"), "{text}");
    let (before, after) = settings_before_and_after(&text);
    assert_eq!(before, after, "the terminal was not restored:\n{text}");
    assert!(
        text.contains(&format!("got=typed\r\n{before}\r\n")),
        "`!` did not get the terminal as it was:\n{text}"
    );

    // A new session finds the history of the last one.
    let history = fs::read_to_string(home.join(".file_shell_history")).unwrap();
    assert!(history.contains("get remote\\ notes.txt"), "{history}");
    let mut pty = Pty::start(&file_shell(&format!("-P {port}")), &here, &home);
    pty.wait_for("file> ");
    // Up: bye; Up again: the `pwd` typed last time.
    pty.type_keys(b"\x1b[A\x1b[A\r");
    pty.wait_for("Remote working directory: /");
    pty.type_keys(b"\x04");
    pty.wait_exit();
}

/// A proxy to `server` whose first connection forwards `limit` bytes of the
/// download and then holds (the transfer is still running, and stays so);
/// later connections are forwarded freely. Dropping the listener's thread
/// with the test ends it.
fn throttling_proxy(server: SocketAddr, limit: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(server) else {
                return;
            };
            let limit = if n == 0 { limit } else { usize::MAX };
            pipe(
                client.try_clone().unwrap(),
                upstream.try_clone().unwrap(),
                usize::MAX,
            );
            pipe(upstream, client, limit);
        }
    });
    addr
}

/// Copies `from` to `to` until either ends, the first `limit` bytes only;
/// after those it keeps reading nothing, holding the connection open until
/// the other side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream, limit: usize) {
    thread::spawn(move || {
        let mut left = limit;
        let mut buf = [0u8; 16 * 1024];
        while left > 0 {
            let want = buf.len().min(left);
            match from.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
            }
        }
        if left == 0 {
            // Held: wait for the client to give up (its side closes).
            let _ = to.read(&mut [0u8; 1]);
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[test]
fn ctrl_c_stops_the_transfer_not_the_shell() {
    if !pty_available("ctrl_c_stops_the_transfer_not_the_shell") {
        return;
    }
    let tmp = TempDir::new("tty-ctrl-c");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(root.join("big")).unwrap();
    fs::create_dir_all(&here).unwrap();
    let data = pattern(13, 8 * 1024 * 1024);
    fs::write(root.join("big/big.bin"), &data).unwrap();
    let srv = download_server(&root, &[]);
    let proxy = throttling_proxy(srv.connect_addr(), 1024 * 1024);

    let command = bracketed(&file_shell(&format!("127.0.0.1:{}", proxy.port())));
    let mut pty = Pty::start(&command, &here, tmp.path());
    pty.wait_for("file> ");
    // Ctrl-C at the prompt gives up the line; the session goes on.
    pty.type_keys(b"nonsense\x03");
    pty.wait_for("^C");
    pty.type_keys(b"cd big\r");
    pty.wait_for("file> ");
    pty.type_keys(b"get big.bin\r");
    // The proxy passes a megabyte and holds: the transfer is under way.
    wait_for_size(&here.join("big.bin.part"), "most of a MiB", |n| n > 900_000);
    pty.type_keys(b"\x03");
    pty.wait_for("Interrupted: /big/big.bin: ");
    pty.wait_for("file> ");
    // The remote directory was kept, and the next commands work.
    pty.type_keys(b"pwd\r");
    pty.wait_for("Remote working directory: /big");
    assert!(here.join("big.bin.part").exists(), "the partial was kept");
    pty.type_keys(b"reget big.bin\r");
    pty.wait_for("Resuming download of /big/big.bin at ");
    pty.wait_for("file> ");
    pty.type_keys(b"bye\r");
    let text = pty.wait_exit();
    assert_eq!(fs::read(here.join("big.bin")).unwrap(), data);
    assert!(
        text.contains("AFTER "),
        "file_shell did not end normally:\n{text}"
    );
    let (before, after) = settings_before_and_after(&text);
    assert_eq!(before, after, "the terminal was not restored:\n{text}");
}

#[test]
fn ctrl_c_ends_a_batch_with_exit_status_1() {
    if !pty_available("ctrl_c_ends_a_batch_with_exit_status_1") {
        return;
    }
    let tmp = TempDir::new("tty-batch");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&here).unwrap();
    fs::write(root.join("big.bin"), pattern(14, 4 * 1024 * 1024)).unwrap();
    fs::write(here.join("script"), "get big.bin\npwd\n").unwrap();
    let srv = download_server(&root, &[]);
    let proxy = throttling_proxy(srv.connect_addr(), 512 * 1024);
    let shell = file_shell(&format!("-P {} -b script", proxy.port()));
    let mut pty = Pty::start(
        &bracketed(&format!("{shell}; echo status=$?")),
        &here,
        tmp.path(),
    );
    wait_for_size(&here.join("big.bin.part"), "most of 512 KiB", |n| {
        n > 400_000
    });
    pty.type_keys(b"\x03");
    pty.wait_for("batch interrupted (Ctrl-C) at line 1: get big.bin");
    pty.wait_for("status=1");
    let text = pty.wait_exit();
    assert!(
        !text.contains("Remote working directory"),
        "the batch went on:\n{text}"
    );
    let (before, after) = settings_before_and_after(&text);
    assert_eq!(before, after, "the terminal was not restored:\n{text}");
}

/// A batch started in the background (`&`, with job control) must not touch
/// the terminal: setting it would stop the process with SIGTTOU, and the
/// `wait` below would never return.
#[test]
fn a_batch_in_the_background_is_never_stopped() {
    if !pty_available("a_batch_in_the_background_is_never_stopped") {
        return;
    }
    let tmp = TempDir::new("tty-bg");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&here).unwrap();
    fs::write(here.join("script"), "pwd\n").unwrap();
    let srv = download_server(&root, &[]);
    let shell = file_shell(&format!("-P {} -b script", srv.port()));
    // `set -m`: the job gets a process group of its own, as at a prompt.
    let command = format!("set -m; {shell} & wait $!; echo status=$?");
    let mut pty = Pty::start(&command, &here, tmp.path());
    pty.wait_for("Remote working directory: /");
    pty.wait_for("status=0");
    pty.wait_exit();
}

/// A tmux session on a server of its own (a socket in the test's temp dir),
/// `COLUMNS` wide: what a user sees is `capture-pane`'s rows, wrapped as a
/// real terminal wraps them.
struct Tmux {
    socket: std::path::PathBuf,
    /// A control-mode client (`tmux -C`), attached so that tmux tells when the pane changes.
    control: Child,
    /// Its stdin, held open: the client detaches when it closes.
    _control_keys: ChildStdin,
    /// One message per `%output` notification: the pane got something to draw.
    drawn: mpsc::Receiver<()>,
}

/// tmux, on unix; said on stderr where it is not there.
fn tmux_available(test: &str) -> bool {
    cfg!(unix) && runs("tmux", "-V")
        || skipped(
            test,
            "no tmux here (apt-get install tmux), so no terminal of a known width",
        )
}

/// The terminal's width in the tmux tests: the one the issue was seen at.
const COLUMNS: usize = 80;

impl Tmux {
    /// Runs `sh_command` (with `sh -c`) in a new 80x24 pane, in `dir`, with
    /// `HOME` set to `home`; the pane stays on screen when the command ends.
    fn start(sh_command: &str, dir: &Path, home: &Path) -> Tmux {
        let socket = home.join("tmux.socket");
        let conf = home.join("tmux.conf");
        fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n",
        )
        .unwrap();
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .arg("-f")
            .arg(&conf)
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &COLUMNS.to_string(),
                "-y",
                "24",
            ])
            // Then `cat`, reading a keyboard nobody types on, keeps the pane
            // open: tmux may send no `%output` for what a pane prints as it ends.
            .args(["sh", "-c", &format!("{sh_command}\nexec cat")])
            .current_dir(dir)
            .env("HOME", home)
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm")
            .env_remove("TMUX")
            .env_remove("COLUMNS")
            .env_remove("DOWNLOAD_SERVER_TOKEN")
            .status()
            .expect("start tmux");
        assert!(status.success(), "tmux new-session failed: {status}");
        let (control, control_keys, drawn) = Self::watch(&socket);
        Tmux {
            socket,
            control,
            _control_keys: control_keys,
            drawn,
        }
    }

    /// Attaches a control-mode client to session `t` and reads its lines on a
    /// thread: a screen says nothing when it changes, but tmux sends the
    /// client `%output %PANE DATA` whenever the pane gets output. Returns once
    /// the client is attached, so no output after that goes unannounced.
    fn watch(socket: &Path) -> (Child, ChildStdin, mpsc::Receiver<()>) {
        let mut control = Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(["-C", "attach", "-t", "t"])
            .env_remove("TMUX")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a tmux control client");
        let keys = control.stdin.take().expect("its stdin");
        let out = control.stdout.take().expect("its stdout");
        let (tx, drawn) = mpsc::channel();
        let (attached_tx, attached) = mpsc::channel();
        thread::spawn(move || {
            let mut out = BufReader::new(out);
            let mut line = Vec::new();
            loop {
                line.clear();
                match out.read_until(b'\n', &mut line) {
                    Ok(1..) => {}
                    _ => return,
                }
                if line.starts_with(b"%session-changed") {
                    let _ = attached_tx.send(());
                } else if line.starts_with(b"%output") && tx.send(()).is_err() {
                    return;
                }
            }
        });
        attached
            .recv_timeout(TIMEOUT)
            .expect("the tmux control client attached");
        (control, keys, drawn)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` as it is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses keys by tmux's names: `Enter`, `Tab`, `C-c`.
    fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// The rows on screen, trailing spaces cut.
    fn rows(&self) -> Vec<String> {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Waits until the screen satisfies `ok`, looking again each time tmux says
    /// the pane got output; fails after [`TIMEOUT`] showing it.
    fn wait_until(&self, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let rows = self.rows();
            if ok(&rows) {
                return rows;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let news = self.drawn.recv_timeout(left);
            assert!(
                news.is_ok(),
                "the screen never showed {what} ({news:?}); it shows:\n{}",
                self.rows().join("\n")
            );
            // One look covers all the output announced so far.
            while self.drawn.try_recv().is_ok() {}
        }
    }

    /// Waits until some row contains `needle`.
    fn wait_for(&self, needle: &str) -> Vec<String> {
        self.wait_until(&format!("{needle:?}"), |rows| {
            rows.iter().any(|r| r.contains(needle))
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
        // The server gone, its control client ends too.
        let _ = self.control.kill();
        let _ = self.control.wait();
    }
}

/// Issue 21 row 1: Ctrl-C during `!command` stops the command, as in sftp,
/// and the session goes on (it used to end file_shell with status 130).
#[test]
fn ctrl_c_in_a_bang_command_stops_the_command_not_the_shell() {
    if !tmux_available("ctrl_c_in_a_bang_command_stops_the_command_not_the_shell") {
        return;
    }
    let tmp = TempDir::new("tmux-bang");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&here).unwrap();
    let srv = download_server(&root, &[]);
    let shell = file_shell(&format!("-P {}", srv.port()));
    let tmux = Tmux::start(&format!("{shell}; echo EXIT=$?"), &here, tmp.path());
    tmux.wait_for("file>");
    // A loop: Ctrl-C must stop all of it, not only the `sleep` running then.
    tmux.type_text("!echo START$((6*7)); while :; do sleep 30; done");
    tmux.press("Enter");
    tmux.wait_for("START42");
    tmux.press("C-c");
    tmux.wait_for("Interrupt");
    tmux.type_text("lpwd");
    tmux.press("Enter");
    let rows = tmux.wait_for("Local working directory: ");
    assert!(
        !rows.iter().any(|r| r.contains("EXIT=")),
        "file_shell ended:\n{}",
        rows.join("\n")
    );
    tmux.type_text("bye");
    tmux.press("Enter");
    tmux.wait_for("EXIT=0");
}

/// Issue 21 row 5: the first Tab after the server closed the idle connection
/// reconnects and completes (it used to fail on the dead connection, and only
/// the second Tab, on a new one, completed).
#[test]
fn the_first_tab_after_the_idle_timeout_completes() {
    if !tmux_available("the_first_tab_after_the_idle_timeout_completes") {
        return;
    }
    let tmp = TempDir::new("tmux-idle-tab");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(root.join("documents")).unwrap();
    fs::create_dir_all(&here).unwrap();
    let mut srv = download_server(&root, &["--idle-timeout", "1"]);
    let shell = file_shell(&format!("-P {}", srv.port()));
    let tmux = Tmux::start(&format!("{shell}; echo EXIT=$?"), &here, tmp.path());
    tmux.wait_for("file>");
    tmux.type_text("pwd");
    tmux.press("Enter");
    tmux.wait_for("Remote working directory: /");
    srv.wait_for("idle timeout");
    tmux.type_text("cd doc");
    tmux.press("Tab");
    tmux.wait_for("file> cd documents/");
    tmux.press("Enter");
    tmux.type_text("pwd");
    tmux.press("Enter");
    tmux.wait_for("Remote working directory: /documents");
    tmux.type_text("bye");
    tmux.press("Enter");
    tmux.wait_for("EXIT=0");
}

/// Both ends of a connection on which nothing is ever sent: [`pace`] on one
/// waits its full time, as a peer that is slow, with no sleep.
fn idle_pair() -> Option<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    let quiet = TcpStream::connect(listener.local_addr().ok()?).ok()?;
    let (idle, _) = listener.accept().ok()?;
    Some((idle, quiet))
}

/// A proxy to `server` that passes what the server sends `step` bytes at a
/// time, `every` apart: a slow network, so that a download lasts long enough
/// for its progress line to be redrawn many times.
fn slow_proxy(server: SocketAddr, step: usize, every: std::time::Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(server) else {
                return;
            };
            pipe(
                client.try_clone().unwrap(),
                upstream.try_clone().unwrap(),
                usize::MAX,
            );
            let (mut from, mut to) = (upstream, client);
            // The pause between pieces is a wait on a socket nobody writes to.
            let Some((mut idle, quiet)) = idle_pair() else {
                return;
            };
            thread::spawn(move || {
                let mut buf = vec![0u8; step];
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    if to.write_all(&buf[..n]).is_err() || !pace(&mut idle, every) {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Both);
                drop(quiet);
            });
        }
    });
    addr
}

/// Issue 21 row 2: at 80 columns the progress line of a file deep in folders
/// stays on one row through all its redraws, shows the base name, and never
/// reaches the last column (it used to be wider, wrap, and leave a row per redraw).
#[test]
fn the_progress_line_fits_80_columns_and_shows_the_base_name() {
    if !tmux_available("the_progress_line_fits_80_columns_and_shows_the_base_name") {
        return;
    }
    let tmp = TempDir::new("tmux-progress");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    let folder = root.join("home/up_temp/socket/photos/2018");
    fs::create_dir_all(&folder).unwrap();
    fs::create_dir_all(&here).unwrap();
    let data = pattern(21, 600 * 1024);
    fs::write(folder.join("beach.jpg"), &data).unwrap();
    let srv = download_server(&root, &[]);
    // 600 KiB at 16 KiB per 20 ms: about three quarters of a second, some seven redraws.
    let proxy = slow_proxy(
        srv.connect_addr(),
        16 * 1024,
        std::time::Duration::from_millis(20),
    );
    let shell = file_shell(&format!("127.0.0.1:{}", proxy.port()));
    let tmux = Tmux::start(&format!("{shell}; echo EXIT=$?"), &here, tmp.path());
    tmux.wait_for("file>");
    tmux.type_text("get /home/up_temp/socket/photos/2018/beach.jpg");
    tmux.press("Enter");
    // Done: the file is there and the next prompt is the screen's last row.
    wait_for_size(&here.join("beach.jpg"), "the whole file", |n| {
        n == data.len() as u64
    });
    let rows = tmux.wait_until("the prompt after the download", |rows| {
        rows.iter()
            .rev()
            .find(|r| !r.is_empty())
            .is_some_and(|r| r == "file>")
    });
    let fetching = rows
        .iter()
        .position(|r| r.starts_with("Fetching "))
        .expect("a Fetching line");
    let last = rows.iter().rposition(|r| r == "file>").unwrap();
    let progress = &rows[fetching + 1..last];
    let screen = rows.join("\n");
    assert_eq!(
        progress.len(),
        1,
        "the progress took several rows:\n{screen}"
    );
    let line = &progress[0];
    assert!(
        line.starts_with("beach.jpg: 600.0 KiB / 600.0 KiB  100%"),
        "{screen}"
    );
    assert!(
        line.chars().count() < COLUMNS,
        "{line:?} reaches the last column"
    );
    assert_eq!(fs::read(here.join("beach.jpg")).unwrap(), data);
    tmux.type_text("bye");
    tmux.press("Enter");
    tmux.wait_for("EXIT=0");
}
