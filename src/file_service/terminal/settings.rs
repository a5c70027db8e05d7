//! The terminal's settings: saved, made raw for line editing, and restored. On unix through `stty` on standard input (std has no termios); the Windows console edits lines itself, so there it is unsupported.

use std::io;

/// The terminal's settings as they were before this process changed them.
#[derive(Debug)]
pub struct Settings {
    saved: imp::Saved,
}

impl Settings {
    /// Saves the settings of the terminal on standard input.
    pub fn save() -> io::Result<Settings> {
        Ok(Settings {
            saved: imp::save()?,
        })
    }

    /// Raw for the prompt: keys arrive one by one and unechoed, Ctrl-C as the
    /// byte 0x03 rather than SIGINT (and Ctrl-Z, Ctrl-S, Ctrl-V as bytes too),
    /// and a read returns after a tenth of a second with nothing, so the
    /// reading thread can stop when asked. Output is unchanged: `\n` still
    /// starts a new line.
    pub fn raw(&self) -> io::Result<()> {
        imp::raw()
    }

    /// Back to the saved settings.
    pub fn restore(&self) -> io::Result<()> {
        imp::restore(&self.saved)
    }

    /// The terminal's width in columns, if it says.
    pub fn columns(&self) -> Option<usize> {
        imp::columns()
    }
}

/// The width in columns of the terminal on standard error, if it is one and says.
pub fn stderr_columns() -> Option<usize> {
    imp::stderr_columns()
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::process::{Command, Stdio};

    /// `stty -g`'s answer, which `stty` takes back as it is.
    pub type Saved = String;

    /// `stty ARGS` on standard input; its output.
    fn stty(args: &[&str]) -> io::Result<String> {
        let out = Command::new("stty")
            .args(args)
            .stdin(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(io::Error::other(format!("stty failed: {}", why.trim())));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    pub fn save() -> io::Result<Saved> {
        stty(&["-g"])
    }

    pub fn raw() -> io::Result<()> {
        stty(&[
            "-icanon", "-echo", "-isig", "-ixon", "-iexten", "min", "0", "time", "1",
        ])
        .map(drop)
    }

    pub fn restore(saved: &Saved) -> io::Result<()> {
        stty(&[saved]).map(drop)
    }

    pub fn columns() -> Option<usize> {
        parse_size(&stty(&["size"]).ok()?)
    }

    /// `stty size` reads the terminal on its standard input: here, ours on stderr.
    pub fn stderr_columns() -> Option<usize> {
        use std::os::fd::AsFd;
        let tty = io::stderr().as_fd().try_clone_to_owned().ok()?;
        let out = Command::new("stty")
            .arg("size")
            .stdin(Stdio::from(tty))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status.success().then_some(())?;
        parse_size(&String::from_utf8_lossy(&out.stdout))
    }

    /// `stty size` answers "ROWS COLUMNS".
    fn parse_size(size: &str) -> Option<usize> {
        let cols: usize = size.split_whitespace().nth(1)?.parse().ok()?;
        (cols > 0).then_some(cols)
    }
}

#[cfg(windows)]
mod imp {
    use std::io;

    pub type Saved = ();

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the Windows console edits lines itself",
        )
    }

    pub fn save() -> io::Result<Saved> {
        Err(unsupported())
    }

    pub fn raw() -> io::Result<()> {
        Err(unsupported())
    }

    pub fn restore(_saved: &Saved) -> io::Result<()> {
        Err(unsupported())
    }

    /// std has no call for the console's size.
    pub fn columns() -> Option<usize> {
        None
    }

    pub fn stderr_columns() -> Option<usize> {
        None
    }
}
