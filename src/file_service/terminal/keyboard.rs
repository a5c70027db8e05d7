//! The one thread that reads the terminal for the whole session: what is typed goes to the line editor through a channel, except a Ctrl-C typed while a command runs, which calls back at once (to stop a transfer) instead of waiting for the next prompt.
//!
//! Std has no signal handlers, so Ctrl-C cannot be caught as SIGINT; with the
//! terminal raw (`-isig`) it arrives as the byte 0x03, and this thread sees it
//! while the main thread is busy with a command. The thread reads with a
//! tenth-of-a-second timeout (`stty min 0 time 1`), so it can be told to stop
//! reading: a `!command` then gets every key, and the settings can be restored
//! without a read in progress.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What the thread passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Bytes as typed (Ctrl-C included when no command was running).
    Bytes(Vec<u8>),
    /// The terminal is gone (hung up, closed): no more input.
    End,
}

/// The reading thread's side of the conversation.
#[derive(Debug, Default)]
struct Shared {
    /// A command is running: Ctrl-C calls back instead of being passed on.
    busy: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Asked not to read.
    paused: bool,
    /// Not reading, because paused (or finished).
    parked: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds a usable value.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keyboard of the session's terminal (its standard input).
#[derive(Debug)]
pub struct Keyboard {
    shared: Arc<Shared>,
    typed: Receiver<Typed>,
}

/// A read that returned nothing sooner than this did not wait for its timeout:
/// the terminal is gone.
const QUICK: Duration = Duration::from_millis(20);
/// How many such reads in a row mean the end.
const QUICK_IN_A_ROW: u32 = 3;

impl Keyboard {
    /// Starts the reading thread on standard input, which must already be raw
    /// (see [`super::Settings::raw`]).
    pub fn start(on_ctrl_c: impl Fn() + Send + 'static) -> Keyboard {
        let shared = Arc::new(Shared::default());
        let (tx, typed) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        thread::spawn(move || read_loop(&thread_shared, &tx, &on_ctrl_c));
        Keyboard { shared, typed }
    }

    /// While `busy`, Ctrl-C calls back (and is not passed on).
    pub fn set_busy(&self, busy: bool) {
        self.shared.busy.store(busy, Ordering::SeqCst);
    }

    /// Stops reading, and returns once no read is in progress (within a tenth of a second).
    pub fn pause(&self) {
        let mut state = self.shared.state();
        state.paused = true;
        while !state.parked {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Reads again after [`Keyboard::pause`].
    pub fn resume(&self) {
        let mut state = self.shared.state();
        state.paused = false;
        self.shared.changed.notify_all();
    }
}

/// Where the line editor gets what is typed: the keyboard, or a test's script.
pub trait KeySource {
    /// Waits for what is typed next.
    fn next(&mut self) -> Typed;
    /// What was typed already, without waiting.
    fn pending(&mut self) -> Option<Typed>;
}

impl KeySource for Keyboard {
    fn next(&mut self) -> Typed {
        self.typed.recv().unwrap_or(Typed::End)
    }

    fn pending(&mut self) -> Option<Typed> {
        self.typed.try_recv().ok()
    }
}

fn read_loop(shared: &Shared, tx: &Sender<Typed>, on_ctrl_c: &dyn Fn()) {
    let mut stdin = io::stdin();
    let mut buf = [0u8; 1024];
    let mut quick = 0;
    loop {
        {
            let mut state = shared.state();
            while state.paused {
                state.parked = true;
                shared.changed.notify_all();
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.parked = false;
        }
        let began = Instant::now();
        let bytes = match stdin.read(&mut buf) {
            Ok(0) => {
                // The tenth of a second passed with nothing typed; or, when
                // it returns at once, there is no terminal any more.
                quick = if began.elapsed() < QUICK {
                    quick + 1
                } else {
                    0
                };
                if quick < QUICK_IN_A_ROW {
                    continue;
                }
                None
            }
            Ok(n) => Some(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => None,
        };
        let Some(bytes) = bytes else {
            let _ = tx.send(Typed::End);
            break;
        };
        quick = 0;
        let mut passed = Vec::with_capacity(bytes.len());
        for &byte in bytes {
            if byte == 0x03 && shared.busy.load(Ordering::SeqCst) {
                on_ctrl_c();
            } else {
                passed.push(byte);
            }
        }
        if !passed.is_empty() && tx.send(Typed::Bytes(passed)).is_err() {
            break;
        }
    }
    // Finished: whoever waits for this thread to stop reading need not wait.
    let mut state = shared.state();
    state.parked = true;
    shared.changed.notify_all();
}
