//! `file_shell`'s command layer over [`crate::file_service::transfer::Connection`]: reading lines (interactive or batch, as sftp does), running each command on the remote or the local side, and saying what failed.
//!
//! Submodules, each small: `input` (where lines come from: the line editor,
//! a prompt, a batch), `words` (splitting a line, batch prefixes), `commands`
//! (the table behind `help`), `complete` (Tab), `paths` (remote and local
//! paths), `expand` (wildcards on either side), `remote` (the connection),
//! `browse` (pwd, cd, ls, mkdir, rm, rmdir, rename), `local` (lpwd, lcd, lls,
//! lmkdir, !), `modes` (chmod, lumask, version), `copy` (what get and put share), `get` (get, reget), `put`
//! (put, reput), `listing` (how ls sorts and shows entries), `host` (what
//! differs between unix and Windows locally).

mod browse;
pub mod commands;
mod complete;
mod copy;
pub use copy::TreeLimits;
pub mod expand;
mod get;
mod host;
pub mod input;
pub mod listing;
mod local;
mod modes;
pub mod paths;
mod put;
mod remote;
pub mod words;

use crate::core::cli::{Error, Failure};
use crate::core::net::Target;
use crate::file_service::terminal::Reading;
use crate::file_service::token::Token;
use crate::file_service::transfer::Interrupt;
use copy::Copy;
pub use input::Input;
use paths::RemotePath;
use remote::Server;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;
use words::Word;

/// The commands that never talk to the server (`pwd` shows the shell's own
/// idea of the remote directory): a closed connection is left for the next
/// command that needs it.
const NO_SERVER: &[&str] = &[
    "pwd", "lpwd", "lcd", "lls", "lmkdir", "lumask", "progress", "help", "!", "bye",
];

/// The prompt, shown when a person types the commands.
pub const PROMPT: &str = "file> ";

/// How the session reads its commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From a terminal: a prompt, no echo, a failure does not end the session.
    Interactive,
    /// From `-b FILE` or piped stdin: each line is echoed after the prompt,
    /// and the first failure ends the session (unless the line starts with `-`).
    Batch,
}

/// Why a session ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Batch mode: this line failed; on the server side, of this kind (for the exit status).
    Failed {
        line: usize,
        command: String,
        failure: Option<Failure>,
    },
    /// Batch mode: Ctrl-C during this line.
    Interrupted { line: usize, command: String },
    /// Reading the commands failed.
    Input(String),
    /// Stdout was closed by its reader.
    StdoutClosed,
}

/// One `file_shell` session: the server, the remote and local directories,
/// and where output goes.
pub struct Shell {
    server: Server,
    cwd: RemotePath,
    lcwd: PathBuf,
    progress: bool,
    interactive: bool,
    /// `!command` runs as a job of its own at the terminal (Ctrl-C stops it, not us).
    bang_as_job: bool,
    /// Requested by Ctrl-C (see [`Input::running`]); cleared before each command.
    interrupt: Interrupt,
    /// What `help` says about line editing here, when it is off.
    editing_off: Option<String>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    stdout_closed: bool,
    quit: bool,
    /// How far `get -r` and `put -r` go, and how far the current one has gone.
    tree_limits: TreeLimits,
    walk: copy::Walk,
    /// `--allow-any-name`: save names from the server that hold control characters or begin with `-`.
    allow_any_name: bool,
}

/// The outcome of one command: `Err` carries what to print (if anything is
/// left to say) and means the command failed.
type Done = Result<(), String>;

impl Shell {
    /// A session with `target`, starting at the remote root and in the
    /// process's current directory, writing to stdout and stderr, reading
    /// from `input`. Each wait for the server ends after `timeout` (`None`: never).
    pub fn new(
        target: Target,
        token: Option<Token>,
        input: &Input,
        timeout: Option<Duration>,
    ) -> io::Result<Shell> {
        let interrupt = input.interrupt();
        Ok(Shell {
            server: Server::new(target, token, timeout, interrupt.clone()),
            cwd: RemotePath::root(),
            lcwd: std::env::current_dir()?,
            progress: true,
            interactive: input.mode() == Mode::Interactive,
            bang_as_job: input.hands_over_terminal(),
            interrupt,
            editing_off: match input.mode() {
                Mode::Interactive => input.editing().err().map(str::to_owned),
                Mode::Batch => None,
            },
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
            stdout_closed: false,
            quit: false,
            tree_limits: TreeLimits::default(),
            walk: copy::Walk::default(),
            allow_any_name: false,
        })
    }

    /// Save names from the server that hold control characters or begin with `-`
    /// (file_shell's `--allow-any-name`).
    pub fn allow_any_name(&mut self, yes: bool) {
        self.allow_any_name = yes;
    }

    /// How far `get -r` and `put -r` may go (file_shell's `--max-depth`, `--max-entries`).
    pub fn set_tree_limits(&mut self, limits: TreeLimits) {
        self.tree_limits = limits;
    }

    /// Connect now, so that a wrong port or token is reported before any command.
    pub fn connect(&mut self) -> Result<(), Error> {
        self.server
            .connection()
            .map(drop)
            .map_err(|e| e.to_error(e.to_string()))
    }

    /// `Connected to HOST:PORT.` and whether it is read-only, for a person.
    pub fn greeting(&self) -> String {
        let mut text = format!("Connected to {}.", self.server.describe());
        if self.server.read_only() == Some(true) {
            text.push_str(" The server is read-only: put, mkdir, rename and rm will be refused.");
        }
        text
    }

    /// Read and run commands until `bye` or the end of input.
    pub fn run(&mut self, input: &mut Input) -> Result<(), Stop> {
        let mode = input.mode();
        let mut number = 0;
        while !self.quit {
            number += 1;
            let mut completer = complete::ShellCompleter {
                server: &mut self.server,
                cwd: &self.cwd,
                lcwd: &self.lcwd,
            };
            let text = match input.next_line(&mut completer) {
                Ok(Reading::Line(text)) => text,
                // Ctrl-C at the prompt: the line is given up, the session goes on.
                Ok(Reading::Cancelled) => continue,
                Ok(Reading::End) => break,
                Err(why) => return Err(Stop::Input(why)),
            };
            let line = words::prefixes(&text);
            if line.is_blank() {
                continue;
            }
            if mode == Mode::Batch && !line.quiet {
                let echo = format!("{PROMPT}{}", text.trim());
                let _ = self.say(&echo);
            }
            if mode == Mode::Interactive {
                self.interrupt.clear();
            }
            let body = line.body;
            self.server.take_failure();
            let result = input.running(body.starts_with('!'), || self.execute(body));
            if let Err(message) = &result {
                if !message.is_empty() {
                    self.complain(message);
                }
            }
            self.flush();
            if self.stdout_closed {
                return Err(Stop::StdoutClosed);
            }
            let at = || (number, line.body.to_owned());
            if mode == Mode::Batch && self.interrupt.is_requested() {
                let (line, command) = at();
                return Err(Stop::Interrupted { line, command });
            }
            if result.is_err() && mode == Mode::Batch && !line.may_fail {
                let (line, command) = at();
                let failure = self.server.take_failure();
                return Err(Stop::Failed {
                    line,
                    command,
                    failure,
                });
            }
        }
        Ok(())
    }

    /// Run one command line (without batch prefixes).
    pub fn execute(&mut self, body: &str) -> Done {
        if let Some(command) = body.strip_prefix('!') {
            return self.bang(command);
        }
        let words = words::split(body).map_err(|e| e.to_string())?;
        let Some((name, args)) = words.split_first() else {
            return Ok(());
        };
        if let Some(why) = commands::not_offered(&name.text) {
            return Err(why.to_string());
        }
        let Some(command) = commands::lookup(&name.text) else {
            return Err(format!(
                "unknown command: {} (help lists the commands)",
                crate::core::escape::text(&name.text)
            ));
        };
        let (flags, args) = commands::options(command, args)?;
        // Only a command that talks to the server reconnects, and says so.
        if !NO_SERVER.contains(&command.name) {
            if let Some(notice) = self.server.revive()? {
                self.notice(&notice);
            }
        }
        match command.name {
            "pwd" => self.pwd(),
            "lpwd" => self.lpwd(),
            "cd" => self.cd(args),
            "lcd" => self.lcd(args),
            "ls" => self.ls(&flags, args),
            "lls" => self.lls(&flags, args),
            "mkdir" => self.mkdir(args),
            "lmkdir" => self.lmkdir(args),
            "get" => self.get(args, Copy::from_flags(&flags, false)),
            "put" => self.put(args, Copy::from_flags(&flags, false)),
            "reget" => self.get(args, Copy::from_flags(&flags, true)),
            "reput" => self.put(args, Copy::from_flags(&flags, true)),
            "rename" => self.rename(args),
            "rm" => self.rm(args),
            "rmdir" => self.rmdir(args),
            "chmod" => self.chmod(args),
            "lumask" => self.lumask(args),
            "version" => self.version(),
            "progress" => self.toggle_progress(),
            "help" => self.help(args),
            "bye" => {
                self.quit = true;
                Ok(())
            }
            other => Err(format!("{other}: not implemented")),
        }
    }

    fn help(&mut self, args: &[Word]) -> Done {
        let text = match args {
            [] => {
                let mut text = commands::overview();
                if let Some(why) = &self.editing_off {
                    text.push_str(&format!("Line editing is off in this session: {why}.\n"));
                }
                text
            }
            [name] => match commands::lookup(&name.text) {
                Some(c) => commands::details(c),
                None => match commands::not_offered(&name.text) {
                    Some(why) => format!("{why}\n"),
                    None => return Err(format!("help: no command {}", name.text)),
                },
            },
            _ => return Err("usage: help [COMMAND]".into()),
        };
        self.say(text.trim_end())
    }

    fn toggle_progress(&mut self) -> Done {
        self.progress = !self.progress;
        let state = if self.progress {
            "Progress meter enabled"
        } else {
            "Progress meter disabled"
        };
        self.say(state)
    }

    /// Lines of a listing, each to stdout or (a failure) stderr, in order.
    fn tell(&mut self, said: Vec<listing::Said>) -> Done {
        for line in said {
            match line {
                listing::Said::Out(text) => self.say(&text)?,
                listing::Said::Failed(text) => self.complain(&text),
            }
        }
        Ok(())
    }

    /// A line of output on stdout.
    fn say(&mut self, line: &str) -> Done {
        match writeln!(self.out, "{line}") {
            Ok(()) => Ok(()),
            Err(e) => {
                if e.kind() == io::ErrorKind::BrokenPipe {
                    self.stdout_closed = true;
                }
                Err(String::new())
            }
        }
    }

    /// A failure, on stderr.
    fn complain(&mut self, message: &str) {
        self.flush();
        // If stderr is gone there is nowhere left to say anything.
        let _ = writeln!(self.err, "{message}");
    }

    /// Something skipped on purpose (a link, a special file), on stderr; not a failure.
    fn notice(&mut self, message: &str) {
        self.complain(message);
    }

    /// A local path for messages: relative to the local directory when below it.
    fn here(&self, path: &std::path::Path) -> String {
        match path.strip_prefix(&self.lcwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => paths::shown_local(rel),
            _ => paths::shown_local(path),
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// `Ok` when nothing failed, otherwise how many of how many.
fn failures(failed: usize, total: usize, what: &str) -> Done {
    match failed {
        0 => Ok(()),
        1 if total <= 1 => Err(String::new()),
        n => Err(format!("{n} of {total} {what} failed (see above)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_counts() {
        assert_eq!(failures(0, 5, "files"), Ok(()));
        assert_eq!(failures(1, 1, "files"), Err(String::new()));
        assert_eq!(
            failures(2, 7, "files"),
            Err("2 of 7 files failed (see above)".into())
        );
    }
}
