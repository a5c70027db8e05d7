//! The command blocks of the READMEs and docs/FILE_SHELL.md run as written: each line of ours succeeds against the servers its block starts.
//!
//! A page's ```` ```sh ```` block is a list of commands a reader types, one per line,
//! with a `# comment`. This test runs every block that needs only our programs, in a
//! home directory of its own that holds the files the pages name (`~/shared/notes.txt`,
//! `nightly.txt`...):
//!
//! - a line starting a server (`tcp_server`, `download_server`, `udp_receiver`) is
//!   started on a free port (`--port 0`; a `> FILE` after it is dropped, the test reads
//!   its `listening on` line) and runs until the block ends;
//! - every other line runs with bash and must exit 0 within a deadline. `PORT` is the
//!   last server's port, a program's default port written out (`11500`) is the port of
//!   the server of that program, and a client that names no port is given it (`--port`,
//!   `-P` for file_shell);
//! - a line that names a host on the network (`files.example.org`) cannot be run here:
//!   its arguments are checked (`--help` after them: the parser checks every argument
//!   before it answers), as are the lines of ours in blocks that are not run.
//!
//! A block is not run when a line of it starts another program than ours, `printf`
//! (bash's own) or `less` (which copies when its output is not a terminal): `ssh`,
//! `sftp`, `make`, `cargo`, the tutorial's Python. The test lists them with why.

mod common;

use std::path::Path;

/// The pages whose command blocks are run.
const PAGES: [&str; 3] = ["README.md", "README.zh-CN.md", "docs/FILE_SHELL.md"];

/// The servers of ours, with the default port each listens on and the clients that talk to it.
const SERVERS: [(&str, u16, &[&str]); 3] = [
    ("tcp_server", 10500, &["tcp_client"]),
    ("download_server", 11500, &["download_client", "file_shell"]),
    ("udp_receiver", 15000, &["udp_sender"]),
];

/// Programs not ours that a runnable block may use.
const ALLOWED: [&str; 2] = ["printf", "less"];

/// One ```` ```sh ```` block: where it starts and its command lines, comments removed.
struct Block {
    page: &'static str,
    line: usize,
    commands: Vec<String>,
}

fn blocks(page: &'static str) -> Vec<Block> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {page}: {e}"));
    let mut found = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match (&mut current, trimmed) {
            (None, "```sh") => {
                current = Some(Block {
                    page,
                    line: i + 1,
                    commands: Vec::new(),
                })
            }
            (Some(_), "```") => found.extend(current.take()),
            (Some(block), l) => {
                let command = strip_comment(l);
                if !command.is_empty() {
                    block.commands.push(command.to_string());
                }
            }
            _ => {}
        }
    }
    found
}

/// The command without its `# comment` (a `#` at the start of a word).
fn strip_comment(line: &str) -> &str {
    let cut = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)))
        .map_or(line.len(), |(i, _)| i);
    line[..cut].trim()
}

/// The programs a command line starts: its first word and the first after each `|`.
fn programs(command: &str) -> Vec<&str> {
    command
        .split('|')
        .filter_map(|part| part.split_whitespace().next())
        .collect()
}

fn ours(program: &str) -> bool {
    socket_tutorial::PROGRAMS.contains(&program)
}

/// Why a block cannot be run with our programs alone, if it cannot.
fn needs_other(block: &Block) -> Option<String> {
    let others: Vec<&str> = block
        .commands
        .iter()
        .flat_map(|c| programs(c))
        .filter(|p| !ours(p) && !ALLOWED.contains(p))
        .collect();
    (!others.is_empty()).then(|| format!("needs {}", others.join(", ")))
}

/// Checks that each program of ours on the line takes its arguments, without running it.
fn check_arguments(block: &Block, command: &str, problems: &mut Vec<String>) -> usize {
    let mut checked = 0;
    for part in command.split('|') {
        // The program's own words end where the shell's redirections begin (`> log.txt`).
        let words: Vec<&str> = part
            .split_whitespace()
            .take_while(|w| !w.starts_with(['>', '<', '&']) && !w.starts_with("2>"))
            .collect();
        let Some((&program, args)) = words.split_first() else {
            continue;
        };
        if !ours(program) {
            continue;
        }
        // `PORT` stands for the port of a server the block starts: any port parses.
        let args = args.iter().map(|&a| if a == "PORT" { "11500" } else { a });
        let out = common::command(program)
            .args(args)
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if !out.status.success() {
            problems.push(format!(
                "{}:{}: `{command}` is not a command {program} takes:\n{}",
                block.page,
                block.line,
                common::describe(&out)
            ));
        }
        checked += 1;
    }
    checked
}

/// An `ssh -L LOCAL:HOST:PORT` whose LOCAL is a default port of ours collides, on a machine
/// that runs that server too, with the server's own port.
fn check_tunnel(block: &Block, command: &str, problems: &mut Vec<String>) {
    let words: Vec<&str> = command.split_whitespace().collect();
    for pair in words.windows(2).filter(|w| w[0] == "-L") {
        let local = pair[1].split(':').next().unwrap_or("");
        if SERVERS.iter().any(|s| s.1.to_string() == local) {
            problems.push(format!(
                "{}:{}: `{command}`: the tunnel's local port {local} is a server's own default port",
                block.page, block.line
            ));
        }
    }
}

#[test]
fn every_command_block_of_the_pages_runs_as_written() {
    let mut problems = Vec::new();
    // Only unix runs blocks (they are bash).
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut ran = 0;
    let mut parsed = 0;
    let mut not_run = Vec::new();
    for page in PAGES {
        let found = blocks(page);
        assert!(
            found.len() >= 2,
            "{page}: only {} sh blocks found",
            found.len()
        );
        for block in &found {
            let why = needs_other(block).or_else(|| {
                (!cfg!(unix)).then(|| "the blocks are bash, run on unix only".to_string())
            });
            if let Some(why) = why {
                not_run.push(format!("{}:{} ({why})", block.page, block.line));
                for command in &block.commands {
                    parsed += check_arguments(block, command, &mut problems);
                    check_tunnel(block, command, &mut problems);
                }
                continue;
            }
            #[cfg(unix)]
            {
                let (r, p) = run::block(block, &mut problems);
                ran += r;
                parsed += p;
            }
        }
    }
    // One write to stderr, which cargo test shows even when the test passes.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
        "doc_commands: {ran} command lines run, {parsed} more checked for their arguments only; \
         {} block(s) not run: {}\n",
        not_run.len(),
        not_run.join(", ")
    )
        .as_bytes(),
    );
    assert!(
        problems.is_empty(),
        "{} command(s) of the pages do not work as written:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    if cfg!(unix) {
        assert!(ran >= 15, "only {ran} command lines were run");
    }
}

#[cfg(unix)]
mod run {
    use super::*;
    use crate::common::{Spawn, TempDir, TIMEOUT};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::thread;

    /// A host that is not this machine: such a line is only parsed.
    fn names_remote_host(command: &str) -> bool {
        command
            .split_whitespace()
            .any(|w| w.contains("example.") || w.contains('@'))
    }

    /// The files the pages' commands name, in a home directory: the served `~/shared`,
    /// and `work/`, where the commands run (what `put -r ./* .` uploads).
    fn fixture(home: &Path) {
        let files = [
            ("shared/notes.txt", "notes\n"),
            ("shared/docs/report.pdf", "%PDF-1.4 a report\n"),
            ("shared/a.txt", "a\n"),
            ("shared/b.txt", "b\n"),
            ("shared/big.iso", "not so big\n"),
            ("work/notes.txt", "local notes\n"),
            ("work/photos/beach.jpg", "a beach\n"),
            ("work/nightly.txt", "ls\nget notes.txt\n"),
            ("work/session.txt", "pwd\nls\n"),
        ];
        for (name, text) in files {
            let path = home.join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("make a directory");
            std::fs::write(&path, text).expect("write a fixture");
        }
    }

    /// Runs one block; returns how many lines ran and how many were only parsed.
    pub fn block(block: &Block, problems: &mut Vec<String>) -> (usize, usize) {
        let dir = TempDir::new("doc-commands");
        let home = std::fs::canonicalize(dir.path()).expect("canonicalize");
        fixture(&home);
        let work = home.join("work");
        let state = home.join("state");
        // Servers started so far: (program, port), the last one last.
        let mut servers: Vec<(String, u16, crate::common::Running)> = Vec::new();
        let (mut ran, mut parsed) = (0, 0);
        for command in &block.commands {
            let words: Vec<&str> = command.split_whitespace().collect();
            let program = words[0];
            if SERVERS.iter().any(|s| s.0 == program) && !command.contains('|') {
                let mut args: Vec<String> = Vec::new();
                let mut rest = words[1..].iter();
                while let Some(&w) = rest.next() {
                    match w {
                        ">" => {
                            rest.next();
                        }
                        "--port" => {
                            rest.next();
                        }
                        w => args.push(w.replacen('~', &home.display().to_string(), 1)),
                    }
                }
                args.extend(["--port".to_string(), "0".to_string()]);
                let running = Spawn::new(program)
                    .args(&args)
                    .current_dir(&work)
                    .env("HOME", &home)
                    .server();
                let port = running.connect_addr().port();
                servers.push((program.to_string(), port, running));
                ran += 1;
                continue;
            }
            if names_remote_host(command) {
                parsed += check_arguments(block, command, problems);
                continue;
            }
            let line = match rewrite(command, &servers) {
                Ok(line) => line,
                Err(why) => {
                    problems.push(format!("{}:{}: `{command}`: {why}", block.page, block.line));
                    continue;
                }
            };
            match run_line(&line, &work, &home, &state) {
                Ok(()) => ran += 1,
                Err(why) => problems.push(format!(
                    "{}:{}: `{command}` (run as `{line}`) failed: {why}\n{}",
                    block.page,
                    block.line,
                    servers
                        .iter()
                        .map(|s| s.2.transcript())
                        .collect::<Vec<_>>()
                        .join("")
                )),
            }
        }
        (ran, parsed)
    }

    /// The line with its ports made the block's servers' (see the module's header).
    fn rewrite(
        command: &str,
        servers: &[(String, u16, crate::common::Running)],
    ) -> Result<String, String> {
        let port_of = |server: &str| servers.iter().rev().find(|s| s.0 == server).map(|s| s.1);
        let mut line = command.to_string();
        if line.split_whitespace().any(|w| w == "PORT") {
            let last = servers
                .last()
                .ok_or("PORT, and no server started before it")?;
            line = line
                .split(' ')
                .map(|w| {
                    if w == "PORT" {
                        last.1.to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        for (server, default, _) in SERVERS {
            if line.contains(&default.to_string()) {
                let port = port_of(server).ok_or(format!("{default}, and no {server} started"))?;
                line = line.replace(&default.to_string(), &port.to_string());
            }
        }
        let mut parts: Vec<String> = Vec::new();
        for part in line.split('|') {
            // The program's own words end where the shell's redirections begin (`> log.txt`).
            let words: Vec<&str> = part
                .split_whitespace()
                .take_while(|w| !w.starts_with(['>', '<', '&']) && !w.starts_with("2>"))
                .collect();
            let names_port = words
                .iter()
                .any(|w| *w == "--port" || *w == "-P" || w.contains(':'));
            let server = SERVERS.iter().find(|s| s.2.contains(&words[0]));
            match server {
                Some((name, _, _)) if !names_port => {
                    let port =
                        port_of(name).ok_or(format!("{} and no {name} started", words[0]))?;
                    let flag = if words[0] == "file_shell" {
                        "-P"
                    } else {
                        "--port"
                    };
                    parts.push(format!(
                        " {} {flag} {port} {} ",
                        words[0],
                        words[1..].join(" ")
                    ));
                }
                _ => parts.push(part.to_string()),
            }
        }
        Ok(parts.join("|").trim().to_string())
    }

    fn run_line(line: &str, work: &Path, home: &Path, state: &Path) -> Result<(), String> {
        let bin_dir = crate::common::bin("tcp_server")
            .parent()
            .expect("the binaries' directory")
            .to_path_buf();
        let mut dirs = vec![bin_dir];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(dirs).map_err(|e| e.to_string())?;
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; {line}"))
            .current_dir(work)
            .env("PATH", path)
            .env("HOME", home)
            .env("XDG_STATE_HOME", state)
            .env_remove("DOWNLOAD_SERVER_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => Err(format!("\n{}", crate::common::describe(&out))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => {
                // The pid of the bash this test started, and only it.
                let _ = Command::new("kill").arg(pid.to_string()).status();
                Err(format!("still running after {TIMEOUT:?}"))
            }
        }
    }
}
