//! The SHA-256 of each file version a client asked to verify, hashed once: asking again costs no hash, clients asking at once share one, and a hash whose client left is taken up where it stopped.
//!
//! A DOWNLOAD with WANT_SHA256 makes the server hash the whole file, the
//! part the client already has included: with `offset == size`, all of it
//! for none of it sent. So a digest is remembered by the version identity
//! of the file (size, modification time, inode, device: a new version is a
//! new key), at most [`MAX_DIGESTS`] of them, the oldest forgotten first.
//!
//! A hash not finished yet is kept too, as the hasher's state after the
//! first `position` bytes ([`Hashing`]): every request for that version
//! continues the same one, so two requests at once share the work piece by
//! piece, and one that comes after a client left goes on from where that
//! client's request stopped. Whatever clients do, each byte of a version is
//! hashed once, as long as the version stays among the last
//! [`MAX_UNFINISHED`] begun.

use crate::file_service::sha256::Sha256;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// Digests remembered at once (about 100 bytes each).
pub const MAX_DIGESTS: usize = 4096;

/// Unfinished hashes kept at once (about 250 bytes each), the oldest begun forgotten
/// first. Forgetting one takes this many other versions begun since, each hashed for a
/// MiB at least before its client can be seen to have left.
pub const MAX_UNFINISHED: usize = 1024;

/// A SHA-256 digest.
pub(super) type Digest = [u8; 32];

/// How far the hash of one version has got: `hasher` has seen its bytes `0..position`.
struct Progress {
    hasher: Sha256,
    position: u64,
}

/// One version's hash, shared by the requests at it.
type Shared = Arc<Mutex<Progress>>;

#[derive(Default)]
struct State {
    done: HashMap<Vec<u8>, Digest>,
    /// `done`'s keys, oldest first.
    order: VecDeque<Vec<u8>>,
    unfinished: HashMap<Vec<u8>, Shared>,
    /// `unfinished`'s keys, oldest begun first.
    begun: VecDeque<Vec<u8>>,
}

impl State {
    /// Forgets `identity`'s unfinished hash if it is still `progress` (it may have been
    /// forgotten, and begun again, meanwhile).
    fn drop_unfinished(&mut self, identity: &[u8], progress: &Shared) {
        if self
            .unfinished
            .get(identity)
            .is_some_and(|p| Arc::ptr_eq(p, progress))
        {
            self.unfinished.remove(identity);
            self.begun.retain(|k| k != identity);
        }
    }
}

/// The remembered digests, and unfinished hashes, of one server.
#[derive(Default)]
pub(super) struct Digests {
    state: Mutex<State>,
}

/// What is known of a version's digest when a request asks for it.
pub(super) enum Lookup<'a> {
    Remembered(Digest),
    /// Not finished: this request's part in it.
    Unfinished(Hashing<'a>),
}

/// One request's part in hashing a version: its bytes continue the hash where it
/// stands, whoever brought it there.
pub(super) struct Hashing<'a> {
    digests: &'a Digests,
    identity: Vec<u8>,
    progress: Shared,
    /// Bytes this request hashed, for its log line.
    hashed: u64,
}

/// Locks a mutex that holds only plain data, usable after a panic elsewhere.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Digests {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The digest of this version, if remembered.
    #[cfg(test)]
    fn get(&self, identity: &[u8]) -> Option<Digest> {
        self.state().done.get(identity).copied()
    }

    /// Remembers a version's digest, forgetting the oldest past [`MAX_DIGESTS`].
    fn put(&self, identity: &[u8], digest: Digest) {
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

    /// This version's digest if remembered; otherwise its hash, as far as it has got (from
    /// byte 0 if never begun, or forgotten). One look, so that a hash finished meanwhile is
    /// never begun again.
    pub(super) fn lookup(&self, identity: &[u8]) -> Lookup<'_> {
        let mut state = self.state();
        if let Some(digest) = state.done.get(identity) {
            return Lookup::Remembered(*digest);
        }
        let progress = match state.unfinished.get(identity) {
            Some(p) => Arc::clone(p),
            None => {
                let p = Arc::new(Mutex::new(Progress {
                    hasher: Sha256::new(),
                    position: 0,
                }));
                state.unfinished.insert(identity.to_vec(), Arc::clone(&p));
                state.begun.push_back(identity.to_vec());
                while state.begun.len() > MAX_UNFINISHED {
                    // Requests still at it keep their share; later ones begin anew.
                    if let Some(old) = state.begun.pop_front() {
                        state.unfinished.remove(&old);
                    }
                }
                p
            }
        };
        Lookup::Unfinished(Hashing {
            digests: self,
            identity: identity.to_vec(),
            progress,
            hashed: 0,
        })
    }

    /// Forgets all that is known of a version that changed while it was read: a digest
    /// or a hash of its bytes may mix two versions.
    pub(super) fn forget(&self, hashing: Hashing<'_>) {
        let mut state = self.state();
        state.drop_unfinished(&hashing.identity, &hashing.progress);
        if state.done.remove(&hashing.identity).is_some() {
            state.order.retain(|k| *k != hashing.identity);
        }
    }
}

impl Hashing<'_> {
    /// Where the hash stands: bytes before it need no hashing.
    pub(super) fn position(&self) -> u64 {
        lock(&self.progress).position
    }

    /// Bytes this request hashed.
    pub(super) fn hashed(&self) -> u64 {
        self.hashed
    }

    /// `data`, the version's bytes from `at`, read for sending: hashes those that continue
    /// the hash (none if it stands before `at`, or past the end of `data`).
    pub(super) fn offer(&mut self, at: u64, data: &[u8]) {
        let mut progress = lock(&self.progress);
        let Some(skip) = progress.position.checked_sub(at) else {
            return;
        };
        let new = usize::try_from(skip)
            .ok()
            .and_then(|skip| data.get(skip..))
            .unwrap_or_default();
        progress.hasher.update(new);
        progress.position += new.len() as u64;
        self.hashed += new.len() as u64;
    }

    /// Continues the hash by one piece: `read(position, buf)` reads the bytes at the
    /// position, the lock held so that no two requests read and hash the same piece.
    /// Returns the position after it and the count read, or the read's error.
    pub(super) fn advance(
        &mut self,
        buf: &mut [u8],
        read: impl FnOnce(u64, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<(u64, usize)> {
        let mut progress = lock(&self.progress);
        let n = read(progress.position, buf)?;
        let data = buf.get(..n).unwrap_or_default();
        progress.hasher.update(data);
        progress.position += data.len() as u64;
        self.hashed += data.len() as u64;
        Ok((progress.position, data.len()))
    }

    /// The digest, once all `size` bytes are hashed: remembered, and the unfinished hash
    /// forgotten. `None` while bytes are missing.
    pub(super) fn finish(&self, size: u64) -> Option<Digest> {
        let progress = lock(&self.progress);
        if progress.position != size {
            return None;
        }
        let digest = progress.hasher.clone().finalize();
        drop(progress);
        self.digests.put(&self.identity, digest);
        self.digests
            .state()
            .drop_unfinished(&self.identity, &self.progress);
        Some(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// The unfinished hash of `identity`; the test knows it is not remembered.
    fn hashing<'a>(digests: &'a Digests, identity: &[u8]) -> Hashing<'a> {
        match digests.lookup(identity) {
            Lookup::Unfinished(h) => h,
            Lookup::Remembered(_) => panic!("remembered"),
        }
    }

    /// Hashes `data` to its end through `hashing`, giving up after `pieces` pieces of `piece` bytes.
    fn hash_some(hashing: &mut Hashing<'_>, data: &[u8], piece: usize, pieces: usize) -> u64 {
        let mut buf = vec![0u8; piece];
        let mut at = hashing.position();
        for _ in 0..pieces {
            at = hashing
                .advance(&mut buf, |pos, buf| {
                    let from = data.get(pos as usize..).unwrap_or_default();
                    let n = from.len().min(buf.len());
                    buf[..n].copy_from_slice(&from[..n]);
                    Ok(n)
                })
                .unwrap()
                .0;
        }
        at
    }

    #[test]
    fn a_hash_left_unfinished_goes_on_where_it_stopped() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let size = data.len() as u64;
        let digests = Digests::default();
        // Ten requests that each hash 1,500 bytes and leave.
        let mut by_request = Vec::new();
        for _ in 0..10 {
            let mut h = match digests.lookup(b"v1") {
                Lookup::Unfinished(h) => h,
                Lookup::Remembered(d) => {
                    assert_eq!(d, Sha256::digest(&data));
                    by_request.push(0);
                    continue;
                }
            };
            hash_some(&mut h, &data, 500, 3);
            by_request.push(h.hashed());
            if let Some(d) = h.finish(size) {
                assert_eq!(d, Sha256::digest(&data));
            }
        }
        assert_eq!(by_request.iter().sum::<u64>(), size, "{by_request:?}");
        assert_eq!(by_request[..6], [1500; 6]);
        assert_eq!(by_request[6], 1000);
        assert_eq!(digests.get(b"v1"), Some(Sha256::digest(&data)));
        assert!(digests.state().unfinished.is_empty());
    }

    #[test]
    fn bytes_offered_while_sending_continue_the_hash_only_where_it_stands() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 253) as u8).collect();
        let digests = Digests::default();
        let mut h = hashing(&digests, b"v");
        // Ahead of the hash: a client resuming at 300 cannot hash its bytes yet.
        h.offer(300, &data[300..400]);
        assert_eq!((h.position(), h.hashed()), (0, 0));
        h.offer(0, &data[..250]);
        // Overlapping what is hashed: only the new part counts.
        h.offer(200, &data[200..600]);
        assert_eq!((h.position(), h.hashed()), (600, 600));
        // Another request, sending from 0, hashes nothing until it passes 600.
        let mut other = hashing(&digests, b"v");
        other.offer(0, &data[..600]);
        other.offer(600, &data[600..]);
        assert_eq!(other.hashed(), 400);
        assert_eq!(h.finish(1000), Some(Sha256::digest(&data)));
        assert_eq!(other.finish(1000), Some(Sha256::digest(&data)));
        assert_eq!(digests.get(b"v"), Some(Sha256::digest(&data)));
    }

    #[test]
    fn clients_asking_at_once_share_one_hash() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        let digests = Digests::default();
        let barrier = Barrier::new(4);
        let hashed: Vec<u64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let mut h = match digests.lookup(b"big") {
                            Lookup::Unfinished(h) => h,
                            Lookup::Remembered(d) => {
                                assert_eq!(d, Sha256::digest(&data));
                                return 0;
                            }
                        };
                        while hash_some(&mut h, &data, 1000, 1) < data.len() as u64 {}
                        assert_eq!(h.finish(data.len() as u64), Some(Sha256::digest(&data)));
                        h.hashed()
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(hashed.iter().sum::<u64>(), data.len() as u64, "{hashed:?}");
    }

    #[test]
    fn digests_and_unfinished_hashes_are_bounded_oldest_forgotten_first() {
        let digests = Digests::default();
        let mut first = hashing(&digests, b"v1");
        first.offer(0, b"abc");
        assert_eq!(first.finish(3), Some(Sha256::digest(b"abc")));
        let mut left = hashing(&digests, b"left");
        left.offer(0, b"ab");
        drop(left);
        assert_eq!(hashing(&digests, b"left").position(), 2);
        for i in 0..MAX_DIGESTS {
            digests.put(format!("x{i}").as_bytes(), [0; 32]);
        }
        assert_eq!(digests.get(b"v1"), None);
        assert!(digests
            .get(format!("x{}", MAX_DIGESTS - 1).as_bytes())
            .is_some());
        for i in 0..MAX_UNFINISHED {
            drop(hashing(&digests, format!("y{i}").as_bytes()));
        }
        let state = digests.state();
        assert!(state.done.len() <= MAX_DIGESTS);
        assert_eq!(state.unfinished.len(), MAX_UNFINISHED);
        assert_eq!(state.begun.len(), MAX_UNFINISHED);
        assert!(!state.unfinished.contains_key(b"left".as_slice()));
        drop(state);
        assert_eq!(hashing(&digests, b"left").position(), 0);
    }

    #[test]
    fn a_version_that_changed_is_forgotten() {
        let digests = Digests::default();
        let mut h = hashing(&digests, b"v");
        h.offer(0, b"half");
        digests.forget(h);
        assert_eq!(hashing(&digests, b"v").position(), 0);
        let mut h = hashing(&digests, b"w");
        h.offer(0, b"all");
        assert!(h.finish(3).is_some());
        digests.forget(h);
        assert_eq!(digests.get(b"w"), None);
    }
}
