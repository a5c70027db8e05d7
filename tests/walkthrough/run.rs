//! Runs one shell block of a page with bash, in a directory of its own, its named ports swapped for free ones, under a deadline.

use crate::common::TempDir;
use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// The ports a block may name (the programs' defaults, and one more for a second
/// server); the test gives each a free port of its own.
pub const NAMED_PORTS: [u16; 5] = [10500, 11500, 11600, 14000, 15000];

/// A block that has not finished by then is stuck (the slowest take a few seconds).
pub const BLOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the page says its blocks run; the block's own directory is shown as this.
pub const PAGE_DIR: &str = "/tmp/walk";

/// What a block printed (stdout and stderr together, as a terminal shows them), with its
/// directory shown as [`PAGE_DIR`] and its ports as the page names them.
pub struct Ran {
    pub output: String,
    /// The page's ports this block used.
    pub named: Vec<u16>,
    /// How each was swapped, for failure messages.
    pub swapped: Vec<(u16, u16)>,
}

/// Runs `code` with the built binaries first on PATH, after `before` (the page's prelude and
/// the section's setups), which bash reads from a file named by `BASH_ENV` so that the
/// block's own lines keep their numbers in what bash reports.
///
/// With `tutorial`, a directory holding the tutorial's Python programs, they are copied
/// into the block's `py/`, their ports swapped like the block's.
pub fn run(
    before: &str,
    code: &str,
    bin_dir: &Path,
    tutorial: Option<&Path>,
) -> Result<Ran, String> {
    let dir = TempDir::new("walkthrough-block");
    let real_dir = std::fs::canonicalize(dir.path()).map_err(|e| e.to_string())?;
    let swapped: Vec<(u16, u16)> = NAMED_PORTS
        .iter()
        .filter(|&&p| contains_number(before, p) || contains_number(code, p))
        .map(|&p| (p, free_port()))
        .collect();
    let (mut before, mut code) = (before.to_string(), code.to_string());
    for &(named, free) in &swapped {
        before = replace_number(&before, named, free);
        code = replace_number(&code, named, free);
    }
    if let Some(tutorial) = tutorial {
        copy_programs(tutorial, &real_dir.join("py"), &swapped)?;
    }
    let prelude_dir = TempDir::new("walkthrough-prelude");
    let prelude = prelude_dir.join("prelude.sh");
    std::fs::write(&prelude, before).map_err(|e| format!("cannot write the prelude: {e}"))?;
    // On the block's first line, so that its lines are numbered as on the page.
    let text = format!("exec 2>&1; {code}");

    let path = match std::env::var_os("PATH") {
        Some(old) => {
            let mut dirs = vec![bin_dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&old));
            std::env::join_paths(dirs).map_err(|e| e.to_string())?
        }
        None => bin_dir.as_os_str().to_owned(),
    };
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&text)
        .current_dir(&real_dir)
        .env("PATH", path)
        .env("BASH_ENV", &prelude)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LANGUAGE")
        .env_remove("DOWNLOAD_SERVER_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that whatever it leaves running can be stopped with it.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let group = child.id();
    let stdout = read_all(child.stdout.take().expect("piped"));
    let stderr = read_all(child.stderr.take().expect("piped"));
    let (done, exited) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let finished = exited.recv_timeout(BLOCK_TIMEOUT).is_ok();
    // A server the block forgot to stop would hold its port and the output pipe.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let mut output = collect(stdout)?;
    output.push_str(&collect(stderr)?);
    if !finished {
        output.push_str(&format!(
            "[the test stopped the block after {} s]\n",
            BLOCK_TIMEOUT.as_secs()
        ));
    }
    for shown in [real_dir.to_string_lossy(), dir.path().to_string_lossy()] {
        output = output.replace(shown.as_ref(), PAGE_DIR);
    }
    for &(named, free) in &swapped {
        output = replace_number(&output, free, named);
    }
    Ok(Ran {
        output,
        named: swapped.iter().map(|&(named, _)| named).collect(),
        swapped,
    })
}

fn copy_programs(from: &Path, to: &Path, swapped: &[(u16, u16)]) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "py") {
            let mut text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            for &(named, free) in swapped {
                text = replace_number(&text, named, free);
            }
            std::fs::write(to.join(path.file_name().expect("a file")), text)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn read_all(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    rx
}

fn collect(rx: mpsc::Receiver<Vec<u8>>) -> Result<String, String> {
    // Everything in the block's process group is gone by now, so the pipe closes at once.
    let bytes = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the block's output never closed".to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A port free for both TCP and UDP on loopback, never handed out twice in one test run
/// (blocks run at the same time), and never one of the page's own.
fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = tcp.local_addr().expect("its address").port();
        if NAMED_PORTS.contains(&port) || UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        if GIVEN.lock().expect("no panic while locked").insert(port) {
            return port;
        }
    }
}

fn contains_number(text: &str, n: u16) -> bool {
    replace_number(text, n, 0) != text
}

/// `text` with every whole number `from` (not part of a longer number) written as `to`.
pub fn replace_number(text: &str, from: u16, to: u16) -> String {
    let from = from.to_string();
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    for (at, _) in text.match_indices(&from) {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + from.len()).copied();
        if before.is_some_and(|b| b.is_ascii_digit()) || after.is_some_and(|b| b.is_ascii_digit()) {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(&to.to_string());
        last = at + from.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_numbers_are_swapped() {
        assert_eq!(
            replace_number("--port 10500; 105000 110500 :10500)", 10500, 41234),
            "--port 41234; 105000 110500 :41234)"
        );
    }
}
