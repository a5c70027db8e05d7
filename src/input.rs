//! Lines for a client to send, read from stdin as Python's `input()` reads them, with the prompt shown only on a terminal.

use crate::cli::Error;
use std::io::{self, BufRead, IsTerminal, StdinLock, Write};

/// The standard input of a client that sends what is typed (or piped) to it, line by line.
pub struct Input {
    reader: StdinLock<'static>,
    interactive: bool,
    line: Vec<u8>,
}

impl Input {
    pub fn stdin() -> Input {
        let stdin = io::stdin();
        Input {
            interactive: stdin.is_terminal(),
            reader: stdin.lock(),
            line: Vec::new(),
        }
    }

    /// True when a person is typing: only then are prompts and other chatter printed.
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Shows `prompt` on a terminal, then reads the next line without its line ending; `None` at the end of input.
    ///
    /// Piped input gets no prompt, so the output of `printf ... | client` holds only what the client was asked for.
    pub fn line(&mut self, prompt: &str) -> Result<Option<&[u8]>, Error> {
        if self.interactive {
            let mut out = io::stdout().lock();
            out.write_all(prompt.as_bytes())
                .and_then(|()| out.flush())
                .map_err(Error::stdout)?;
        }
        self.line.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|e| Error::io("reading stdin", &e))?;
        if read == 0 {
            return Ok(None);
        }
        Ok(Some(strip_newline(&self.line)))
    }
}

/// A line without its `\n` or `\r\n`.
pub fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_go_and_nothing_else() {
        assert_eq!(strip_newline(b"a\r\n"), b"a");
        assert_eq!(strip_newline(b"a\n"), b"a");
        assert_eq!(strip_newline(b"a"), b"a");
        assert_eq!(strip_newline(b"a\n\n"), b"a\n");
        assert_eq!(strip_newline(b" a \r"), b" a ");
    }
}
