//! `println!` and `eprintln!` for programs whose threads share stdout: each line whole, never mixed with another thread's.
//!
//! A binary writes `use socket_tutorial::println;` and then prints as any
//! Rust program does. The difference is behind the call: a line goes to the
//! stream's [`batch::Lines`], which a writer thread of its own writes out, so
//! a client thread never waits for a slow terminal and a busy server pays one
//! write per batch of lines, not one per line. A line printed alone is written
//! at once. [`flush`] waits until every line so far is out (the binaries' exit
//! calls it).

mod batch;

use batch::Lines;
use std::fmt;
use std::io;
use std::sync::OnceLock;

/// Prints one line on stdout, like std's `println!`, through the shared, batched writer.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::core::print::out(format_args!($($arg)*))
    };
}

/// Prints one line on stderr, like std's `eprintln!`, through the shared, batched writer.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => {
        $crate::core::print::err(format_args!($($arg)*))
    };
}

fn stdout() -> &'static Lines {
    static OUT: OnceLock<Lines> = OnceLock::new();
    OUT.get_or_init(|| Lines::new(Box::new(io::stdout())))
}

fn stderr() -> &'static Lines {
    static ERR: OnceLock<Lines> = OnceLock::new();
    ERR.get_or_init(|| Lines::new(Box::new(io::stderr())))
}

/// What [`println!`](crate::println) calls.
pub fn out(line: fmt::Arguments) {
    stdout().push(line);
}

/// What [`eprintln!`](crate::eprintln) calls.
pub fn err(line: fmt::Arguments) {
    stderr().push(line);
}

/// Waits until every line printed so far is written (scripts wait for a `listening on` line;
/// a program's exit calls this).
pub fn flush() {
    stdout().wait_written();
    stderr().wait_written();
}

/// Why stdout stopped, once writing to it failed (its reader has gone, or the disk is full);
/// lines printed since were dropped. The writer finds out when it writes, so this can say
/// so a line or two after the line that failed.
pub fn stdout_failed() -> Option<io::Error> {
    stdout().failed()
}
