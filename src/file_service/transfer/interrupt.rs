//! Stopping a transfer from outside it (file_shell's Ctrl-C): a flag the transfer loops look at, and a shutdown that wakes a read that is waiting.
//!
//! A transfer's loop checks the flag between buffers; but a loop blocked in a
//! read of a silent server would not look until the server spoke again. So the
//! connection registers its socket while a transfer runs, and a request shuts
//! that socket down: the blocked read returns at once, the loop sees the flag,
//! and the transfer ends with [`super::TransferError::Interrupted`], its partial
//! file kept for a resume. The connection is then unusable (the rest of a file
//! was still on its way), so the caller opens a new one.

use crate::core::trace::Stream;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A cloneable handle: one clone sits with the connection, another with whoever watches for Ctrl-C.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    /// The socket of the transfer in progress, if one is.
    running: Mutex<Option<Stream>>,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks the transfer in progress (if any) to stop now.
    pub fn request(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        if let Some(stream) = self.running().as_ref() {
            // Only to wake a waiting read; the connection is given up either way.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// True when a stop was asked for since the last [`Interrupt::clear`].
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Forgets an earlier request: call it before the next command.
    pub fn clear(&self) {
        self.inner.requested.store(false, Ordering::SeqCst);
    }

    /// Registers `stream` as the transfer in progress until the guard is dropped.
    pub(super) fn watch(&self, stream: &Stream) -> Watching<'_> {
        *self.running() = stream.try_clone().ok();
        // A request that came before the registration still stops this transfer.
        if self.is_requested() {
            self.request();
        }
        Watching(self)
    }

    fn running(&self) -> MutexGuard<'_, Option<Stream>> {
        // Nothing panics while holding it; a poisoned lock still holds a usable value.
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// While it lives, [`Interrupt::request`] shuts the transfer's socket down.
pub(super) struct Watching<'a>(&'a Interrupt);

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        *self.0.running() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_request_wakes_a_waiting_read() {
        if crate::test_support::skip_under_wine(
            "Wine does not wake a recv blocked in another thread when its socket is shut down (Windows and unix do)",
        ) {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = Stream::from(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let (_server, _) = listener.accept().unwrap();
        let interrupt = Interrupt::new();
        let watching = interrupt.watch(&client);
        let stopper = {
            let interrupt = interrupt.clone();
            std::thread::spawn(move || interrupt.request())
        };
        // The server never sends: only the shutdown can end this read.
        let mut buf = [0u8; 16];
        let got = client.read(&mut buf);
        stopper.join().unwrap();
        assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
        assert!(interrupt.is_requested());
        drop(watching);
        interrupt.clear();
        assert!(!interrupt.is_requested());
    }
}
