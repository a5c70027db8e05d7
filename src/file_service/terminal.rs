//! Typing at a terminal without a line-editing library: the terminal's settings (raw mode through `stty`), whether this process may touch it (job control), keys from bytes, the line being edited, its display, the history, completion, and the one thread that reads the keyboard.
//!
//! - `settings`: [`Settings`], saved with `stty -g`, raw for the prompt
//!   (Ctrl-C arrives as the byte 0x03 instead of SIGINT), restored on drop;
//!   on Windows the console keeps its own line editing and this is unsupported.
//! - `job`: [`in_foreground`], so that a shell started with `&` is never
//!   stopped by SIGTTIN or SIGTTOU for touching the terminal.
//! - `keys`: [`Key`] and [`KeyParser`] (escape sequences, UTF-8).
//! - `line`: [`EditLine`], the text and the cursor, and every edit.
//! - `display`: how wide a character is, and the one row that shows a line.
//! - `history`: [`History`], kept in a bounded file.
//! - `completion`: [`Completer`], the longest common prefix, choices in columns.
//! - `keyboard`: [`Keyboard`], the thread that reads the terminal for the whole
//!   session and turns Ctrl-C into a callback while a command runs.
//! - `editor`: [`LineEditor`], which puts them together for one prompt.
//!
//! Nothing here knows about files or servers: `crate::file_service::shell::input` uses it.

mod completion;
mod display;
mod editor;
mod history;
mod job;
mod keyboard;
mod keys;
mod line;
mod settings;

pub use completion::{columns, common_prefix, Candidate, Completer, Completion, NoCompletion};
pub use display::{render, text_width, width};
pub use editor::{LineEditor, Reading};
pub use history::History;
pub use job::{in_foreground, wait_for_foreground};
pub use keyboard::{KeySource, Keyboard, Typed};
pub use keys::{Key, KeyParser};
pub use line::EditLine;
pub use settings::{stderr_columns, Settings};

/// The terminal on standard input, set up for this session: raw while the
/// process runs, with one thread reading it; restored when dropped (a panic
/// unwinding through `main` included).
pub struct Tty {
    settings: Settings,
    keyboard: Keyboard,
}

impl Tty {
    /// Takes over the terminal on standard input, or says why it cannot: not
    /// a terminal, no `stty` (Windows), or this process is in the background
    /// (setting it would stop the process with SIGTTOU).
    ///
    /// `on_ctrl_c` runs on the reading thread for each Ctrl-C typed while
    /// [`Keyboard::set_busy`] is on; otherwise Ctrl-C is a key like any other.
    pub fn open(on_ctrl_c: impl Fn() + Send + 'static) -> Result<Tty, String> {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return Err("standard input is not a terminal".into());
        }
        if !in_foreground() {
            return Err("this process is in the background".into());
        }
        let settings = Settings::save().map_err(|e| e.to_string())?;
        settings.raw().map_err(|e| e.to_string())?;
        let keyboard = Keyboard::start(on_ctrl_c);
        Ok(Tty { settings, keyboard })
    }

    pub fn keyboard(&mut self) -> &mut Keyboard {
        &mut self.keyboard
    }

    /// See [`Keyboard::set_busy`].
    pub fn set_busy(&self, busy: bool) {
        self.keyboard.set_busy(busy);
    }

    /// Columns of the terminal (80 when it does not say).
    pub fn columns(&self) -> usize {
        self.settings.columns().unwrap_or(80)
    }

    /// Runs `f` (a `!command`) with the terminal as it was before this
    /// session: the reading thread stops reading, so the command gets every
    /// key, and Ctrl-C is a signal again. Raw mode comes back afterwards.
    pub fn hand_over<T>(&self, f: impl FnOnce() -> T) -> T {
        self.keyboard.pause();
        let _ = self.settings.restore();
        let result = f();
        // Stopped with Ctrl-Z and sent to the background meanwhile: wait
        // for the foreground rather than be stopped for setting the terminal.
        job::wait_for_foreground();
        let _ = self.settings.raw();
        self.keyboard.resume();
        result
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        // Not reading any more before the settings change: a read in progress
        // under the restored settings would wait for a whole line.
        self.keyboard.pause();
        let _ = self.settings.restore();
    }
}
