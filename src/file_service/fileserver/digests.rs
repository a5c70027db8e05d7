//! The SHA-256 of each file version a client asked to verify, computed once: asking again costs no hash, and clients asking at once share one.
//!
//! A DOWNLOAD with WANT_SHA256 makes the server hash the whole file, the
//! part the client already has included: with `offset == size`, all of it
//! for none of it sent. So a digest is remembered by the version identity
//! of the file (size, modification time, inode, device: a new version is a
//! new key), at most [`MAX_DIGESTS`] of them, the oldest forgotten first;
//! and while one connection computes a version's digest, others asking for
//! the same version wait for it instead of hashing it again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Digests remembered at once (about 100 bytes each).
pub const MAX_DIGESTS: usize = 4096;

/// A SHA-256 digest.
pub(super) type Digest = [u8; 32];

#[derive(Default)]
struct State {
    done: HashMap<Vec<u8>, Digest>,
    /// `done`'s keys, oldest first.
    order: VecDeque<Vec<u8>>,
    /// Versions some connection is hashing now.
    computing: HashSet<Vec<u8>>,
}

/// The remembered digests of one server.
#[derive(Default)]
pub(super) struct Digests {
    state: Mutex<State>,
    /// Signalled when a computation ends, done or not.
    ended: Condvar,
}

/// Where a digest came from, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// This request hashed the file.
    Hashed,
    /// Remembered from an earlier request, or computed by another one meanwhile.
    Remembered,
}

/// Clears a version's `computing` mark however its computation ends.
struct Computing<'a> {
    digests: &'a Digests,
    identity: &'a [u8],
}

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        self.digests.state().computing.remove(self.identity);
        self.digests.ended.notify_all();
    }
}

impl Digests {
    fn state(&self) -> MutexGuard<'_, State> {
        // Plain maps stay usable after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The digest of this version, if remembered.
    pub(super) fn get(&self, identity: &[u8]) -> Option<Digest> {
        self.state().done.get(identity).copied()
    }

    /// Remembers a version's digest, forgetting the oldest past [`MAX_DIGESTS`].
    pub(super) fn put(&self, identity: &[u8], digest: Digest) {
        let mut state = self.state();
        if state.done.insert(identity.to_vec(), digest).is_some() {
            return;
        }
        state.order.push_back(identity.to_vec());
        while state.order.len() > MAX_DIGESTS {
            if let Some(old) = state.order.pop_front() {
                state.done.remove(&old);
            }
        }
    }

    /// The digest of this version: remembered, or computed by `compute` on this thread, or
    /// by another thread already at it (this one waits for it). `None` when `compute` gave up
    /// (its client left, the file could not be read) and no other thread had it.
    pub(super) fn get_or_compute(
        &self,
        identity: &[u8],
        compute: impl FnOnce() -> Option<Digest>,
    ) -> Option<(Digest, Origin)> {
        let mut state = self.state();
        loop {
            if let Some(d) = state.done.get(identity) {
                return Some((*d, Origin::Remembered));
            }
            if !state.computing.contains(identity) {
                break;
            }
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.computing.insert(identity.to_vec());
        drop(state);
        let _mark = Computing {
            digests: self,
            identity,
        };
        let digest = compute()?;
        self.put(identity, digest);
        Some((digest, Origin::Hashed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_version_is_hashed_once_and_forgotten_oldest_first() {
        let digests = Digests::default();
        let runs = AtomicUsize::new(0);
        let hash = || {
            runs.fetch_add(1, Ordering::SeqCst);
            Some([7u8; 32])
        };
        assert_eq!(
            digests.get_or_compute(b"v1", hash),
            Some(([7; 32], Origin::Hashed))
        );
        assert_eq!(
            digests.get_or_compute(b"v1", || panic!("hashed again")),
            Some(([7; 32], Origin::Remembered))
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // A computation that gives up leaves nothing behind; the next one runs.
        assert_eq!(digests.get_or_compute(b"v2", || None), None);
        assert_eq!(
            digests.get_or_compute(b"v2", || Some([2; 32])),
            Some(([2; 32], Origin::Hashed))
        );
        for i in 0..MAX_DIGESTS {
            digests.put(format!("x{i}").as_bytes(), [0; 32]);
        }
        assert_eq!(digests.get(b"v1"), None);
        assert!(digests
            .get(format!("x{}", MAX_DIGESTS - 1).as_bytes())
            .is_some());
        assert!(digests.state().done.len() <= MAX_DIGESTS);
    }

    #[test]
    fn clients_asking_at_once_share_one_hash() {
        let digests = Arc::new(Digests::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (digests, runs, barrier) = (
                    Arc::clone(&digests),
                    Arc::clone(&runs),
                    Arc::clone(&barrier),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    // Whoever comes second finds it being computed, or done.
                    digests.get_or_compute(b"big", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Some([1; 32])
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(results.iter().all(|r| r.is_some()));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{results:?}");
    }
}
