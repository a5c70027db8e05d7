//! Lines for a client to send, read from stdin as Python's `input()` reads them, with the prompt shown only on a terminal.

use crate::core::cli::Error;
use crate::core::encoding::Encoding;
use std::borrow::Cow;
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

/// The bytes to send for one line: UTF-8 input goes out as typed; for gbk it must be text gbk can represent.
pub fn encode_line(line: &[u8], encoding: Encoding) -> Result<Cow<'_, [u8]>, String> {
    if encoding == Encoding::Utf8 {
        return Ok(Cow::Borrowed(line));
    }
    let text = std::str::from_utf8(line).map_err(|_| {
        format!("it is not valid UTF-8 text, so it cannot be converted to {encoding}")
    })?;
    encoding
        .encode(text)
        .map(Cow::Owned)
        .map_err(|err| err.to_string())
}

/// True for the two texts that end the tutorial's clients (and its UDP receiver).
pub fn is_exit(text: &[u8]) -> bool {
    text == b"exit" || text == b"exit()"
}

/// The error a client ends with when some lines could not be sent (each was reported as it happened).
pub fn not_sent(count: usize) -> Result<(), Error> {
    match count {
        0 => Ok(()),
        1 => Err(Error::runtime("1 line was not sent (see above)")),
        n => Err(Error::runtime(format!(
            "{n} lines were not sent (see above)"
        ))),
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
