//! A log line that can come thousands of times a second: the first few of each second printed, the rest counted into one line.
//!
//! A storm (a crowd reconnecting as fast as it is closed) would otherwise
//! write a line per event, hundreds of thousands in seconds, and bury every
//! other line of the log. [`Fold::turn`] says, for one more event, whether to
//! print it, and how many were counted instead since the last line printed,
//! to be said first. There is no timer: what a storm's last second folded is
//! said with the next event, whenever it comes.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The length of one window of [`Fold`].
pub const WINDOW: Duration = Duration::from_secs(1);

/// Events of one kind, printed at most `budget` a [`WINDOW`], the others counted.
#[derive(Debug)]
pub struct Fold {
    budget: u32,
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    started: Option<Instant>,
    printed: u32,
    folded: u64,
}

/// What to print for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// Events counted, not printed, in the window that ended, and how long it lasted: a line
    /// to print before this event's own.
    pub folded: Option<(u64, Duration)>,
    /// Whether this event gets its own line.
    pub print: bool,
}

impl Fold {
    /// At most `budget` lines a second, and one more for those folded.
    pub fn new(budget: u32) -> Fold {
        Fold {
            budget,
            state: Mutex::default(),
        }
    }

    /// One more event, at `now`.
    pub fn turn(&self, now: Instant) -> Turn {
        // A counter left by a thread that panicked is still a counter.
        let mut w = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut folded = None;
        let over = w
            .started
            .map_or(true, |t| now.saturating_duration_since(t) >= WINDOW);
        if over {
            folded = w.end(now);
            w.started = Some(now);
        }
        let print = w.printed < self.budget;
        if print {
            w.printed += 1;
        } else {
            w.folded += 1;
        }
        Turn { folded, print }
    }

    /// Ends the window at `now`, before its second is over (the next event opens a new
    /// one): what it counted and how long it lasted, to be said before a line of another kind.
    pub fn restart(&self, now: Instant) -> Option<(u64, Duration)> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .end(now)
    }
}

impl Window {
    /// Closes this window: what it counted instead of printing, if anything, and for how long.
    fn end(&mut self, now: Instant) -> Option<(u64, Duration)> {
        let folded = self
            .started
            .filter(|_| self.folded > 0)
            .map(|t| (self.folded, now.saturating_duration_since(t)));
        *self = Window::default();
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_events_are_counted_and_said_with_the_next_window() {
        let fold = Fold::new(2);
        let t0 = Instant::now();
        let printed = |t| fold.turn(t);
        for i in 0..2 {
            let t = printed(t0 + Duration::from_millis(i));
            assert_eq!(
                t,
                Turn {
                    folded: None,
                    print: true
                }
            );
        }
        for i in 2..1000 {
            let t = printed(t0 + Duration::from_micros(i));
            assert_eq!(
                t,
                Turn {
                    folded: None,
                    print: false
                }
            );
        }
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(
            fold.turn(later),
            Turn {
                folded: Some((998, Duration::from_millis(1500))),
                print: true
            }
        );
        // The window that began then folded nothing: nothing more to say after it.
        assert_eq!(
            fold.turn(later + WINDOW),
            Turn {
                folded: None,
                print: true
            }
        );
    }
}
