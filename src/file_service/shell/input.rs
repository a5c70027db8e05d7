//! Where a session's commands come from, and what the terminal does meanwhile: a terminal with line editing (and Ctrl-C that stops the transfer, not the shell), a terminal or console that edits lines itself, or a batch file or pipe (with the terminal watched for Ctrl-C when it is standard input).

use super::host;
use super::{Mode, PROMPT};
use crate::file_service::terminal::{self, Completer, History, LineEditor, Reading, Tty};
use crate::file_service::transfer::Interrupt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;

/// The session's input, and the one [`Interrupt`] its Ctrl-C requests.
pub struct Input {
    source: Source,
    interrupt: Interrupt,
    /// Why lines are read without our editor on a terminal (said by `help`).
    plain_because: Option<String>,
}

enum Source {
    /// A terminal this process drives: line editing, history, completion.
    Editor { tty: Tty, editor: LineEditor },
    /// A terminal that edits lines itself (the Windows console), or one
    /// that could not be set up: whole lines after a prompt.
    Prompted(io::StdinLock<'static>),
    /// A batch file or a pipe; when standard input is a terminal (`-b FILE`
    /// typed at one), it is watched so that Ctrl-C stops the batch.
    Batch {
        reader: Box<dyn BufRead>,
        watch: Option<Tty>,
    },
}

/// The history file under the home directory.
const HISTORY_FILE: &str = ".file_shell_history";

impl Input {
    /// Commands from `batch` (a file, or `-` for standard input), or else
    /// from standard input: interactive when it is a terminal.
    pub fn open(batch: Option<&Path>) -> Result<Input, String> {
        let interrupt = Interrupt::new();
        let stdin_is_terminal = io::stdin().is_terminal();
        let source = match batch {
            Some(path) if path.as_os_str() != "-" => {
                let file = File::open(path).map_err(|e| {
                    format!(
                        "cannot read the batch file {}: {}",
                        path.display(),
                        crate::core::cli::describe_io(&e)
                    )
                })?;
                // A batch in the background leaves the terminal to the foreground job.
                let watch = if stdin_is_terminal && terminal::in_foreground() {
                    Tty::open(on_ctrl_c(&interrupt)).ok()
                } else {
                    None
                };
                if let Some(tty) = &watch {
                    // Every Ctrl-C counts: a batch is always running something.
                    tty.set_busy(true);
                }
                Source::Batch {
                    reader: Box::new(BufReader::new(file)),
                    watch,
                }
            }
            Some(_) => Source::Batch {
                reader: Box::new(io::stdin().lock()),
                watch: None,
            },
            // Piped in: the terminal, if any, belongs to the whole pipeline.
            None if !stdin_is_terminal => Source::Batch {
                reader: Box::new(io::stdin().lock()),
                watch: None,
            },
            None => {
                // Started with `&`: reading the terminal now would stop the
                // process (SIGTTIN). Wait for `fg` instead.
                terminal::wait_for_foreground();
                match Tty::open(on_ctrl_c(&interrupt)) {
                    Ok(tty) => {
                        let history = match host::home() {
                            Some(home) => History::in_file(home.join(HISTORY_FILE)),
                            None => History::in_memory(),
                        };
                        Source::Editor {
                            tty,
                            editor: LineEditor::new(history),
                        }
                    }
                    Err(why) => {
                        return Ok(Input {
                            source: Source::Prompted(io::stdin().lock()),
                            interrupt,
                            plain_because: Some(why),
                        })
                    }
                }
            }
        };
        Ok(Input {
            source,
            interrupt,
            plain_because: None,
        })
    }

    /// Interactive (a prompt, no echo, failures do not end the session) or batch.
    pub fn mode(&self) -> Mode {
        match self.source {
            Source::Batch { .. } => Mode::Batch,
            _ => Mode::Interactive,
        }
    }

    /// Whether a `!command` gets this session's terminal handed over (see [`Tty::hand_over`]).
    pub fn hands_over_terminal(&self) -> bool {
        matches!(
            self.source,
            Source::Editor { .. } | Source::Batch { watch: Some(_), .. }
        )
    }

    /// What Ctrl-C requests; the session hands it to every connection.
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// Whether this session edits lines itself, and if not, why not.
    pub fn editing(&self) -> Result<(), &str> {
        match (&self.source, &self.plain_because) {
            (Source::Editor { .. }, _) => Ok(()),
            (_, Some(why)) => Err(why),
            _ => Err("the commands do not come from a terminal"),
        }
    }

    /// The next command line; on a terminal after the prompt.
    pub fn next_line(&mut self, completer: &mut dyn Completer) -> Result<Reading, String> {
        let why = |e: io::Error| crate::core::cli::describe_io(&e);
        match &mut self.source {
            Source::Editor { tty, editor } => {
                let columns = tty.columns();
                editor
                    .read_line(
                        PROMPT,
                        tty.keyboard(),
                        &mut io::stdout().lock(),
                        columns,
                        completer,
                    )
                    .map_err(why)
            }
            Source::Prompted(stdin) => {
                let mut out = io::stdout().lock();
                out.write_all(PROMPT.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(why)?;
                let reading = read_line(stdin).map_err(why)?;
                if reading == Reading::End {
                    // End of input on a terminal: end the prompt's line.
                    let _ = writeln!(out);
                }
                Ok(reading)
            }
            Source::Batch { reader, .. } => read_line(reader.as_mut()).map_err(why),
        }
    }

    /// Runs one command. Meanwhile a Ctrl-C at the terminal requests the
    /// interrupt; a `!command` gets the terminal as it was before the session.
    pub fn running<T>(&mut self, bang: bool, command: impl FnOnce() -> T) -> T {
        let tty = match &self.source {
            Source::Editor { tty, .. } => Some(tty),
            Source::Batch { watch, .. } => watch.as_ref(),
            Source::Prompted(_) => None,
        };
        let Some(tty) = tty else {
            return command();
        };
        if bang {
            return tty.hand_over(command);
        }
        let batch = self.mode() == Mode::Batch;
        tty.set_busy(true);
        let result = command();
        tty.set_busy(batch);
        result
    }
}

/// What the keyboard thread does on Ctrl-C while a command runs.
fn on_ctrl_c(interrupt: &Interrupt) -> impl Fn() + Send + 'static {
    let interrupt = interrupt.clone();
    move || interrupt.request()
}

/// One line of a file or pipe, without its line ending.
fn read_line(reader: &mut dyn BufRead) -> io::Result<Reading> {
    let mut raw = Vec::new();
    if reader.read_until(b'\n', &mut raw)? == 0 {
        return Ok(Reading::End);
    }
    let text = crate::core::input::strip_newline(&raw);
    Ok(Reading::Line(String::from_utf8_lossy(text).into_owned()))
}
