//! The partial uploads a writable server holds: one upload per target at a time, what each partial holds, and the bounds on all of them together (`--max-partial-bytes`, `--max-partial-age`).
//!
//! Two uploads to one name would share one partial file (`Root` names it
//! `.<name>.part`, deterministically, so a broken upload is found again), so
//! each target is locked for the length of its upload, by the key `Root`
//! gives every spelling of it, and so is a partial while anything else
//! removes it. Each partial on disk has a record here: where it is, how many
//! bytes it holds (a running upload: what it has received, and the room it
//! took for the next read, [`Partials::window`]), when it was last written,
//! and the source its bytes came from. A partial found after a restart of the
//! server has no source: it is not trusted, and an upload to it starts over.
//!
//! The records are what keeps abandoned uploads from piling up. An upload
//! takes room under `--max-partial-bytes` as its bytes arrive, never for what
//! it only announced, so one that drips holds what it sent and no more; room
//! short, the partials of abandoned uploads are removed, oldest first. An
//! upload is told `too large` when it could never fit, `busy` before its
//! first byte when running uploads leave no room for its size, and `busy`
//! after its last one when they took the room meanwhile (its partial kept
//! for a resume). A partial untouched for `--max-partial-age` is removed. At start-up
//! the root is walked once for partial files (`adopt_existing`), so that
//! partials left by an earlier run count, and expire, too: only those with the
//! record an upload writes beside its partial (`Root` keeps it); a file that
//! only looks like one is the user's, and is left alone.

use super::FileServer;
use crate::core::escape;
use crate::file_service::protocol::{ErrorCode, ErrorReply};
use crate::file_service::root::{
    is_partial_name, EntryKind, Root, RootErrorKind, UploadKey, MAX_COMPONENTS,
};
use crate::{eprintln, println};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, SystemTime};

/// Partial uploads kept track of at once; past it, the oldest abandoned one is removed, so
/// clients cannot make the server's memory grow without bound.
const MAX_PARTIALS: usize = 4096;

/// The most room a running upload holds ahead of the bytes it has received (see
/// [`Partials::window`]): the size of one read from its socket.
const MAX_WINDOW: u64 = 64 * 1024;

/// The longest the expiry thread sleeps between two looks.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// The bounds on partial uploads together; `None` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialLimits {
    /// Bytes all partial uploads may hold, running ones included (`--max-partial-bytes`).
    pub max_bytes: Option<u64>,
    /// How long a partial may stay untouched before it is removed (`--max-partial-age`).
    pub max_age: Option<Duration>,
}

impl Default for PartialLimits {
    /// 16 GiB in partial uploads, each kept a day after its last byte.
    fn default() -> PartialLimits {
        PartialLimits {
            max_bytes: Some(16 << 30),
            max_age: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

/// The source a partial file's bytes came from, as its upload announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Source {
    pub size: u64,
    pub identity: Vec<u8>,
}

/// One partial file on disk.
#[derive(Debug)]
struct Partial {
    /// Where it is, from the root through real directories: how it is found again to be removed.
    path: Vec<u8>,
    /// What it holds on disk; while its upload runs, that and the room taken ahead of it
    /// (at most [`Partials::window`]).
    bytes: u64,
    /// When it was last written.
    touched: SystemTime,
    /// What its bytes are, when this run of the server wrote them.
    source: Option<Source>,
}

#[derive(Default)]
struct State {
    /// Targets being uploaded, or whose partial is being removed, right now.
    active: HashSet<UploadKey>,
    partials: HashMap<UploadKey, Partial>,
    /// The sum of every partial's `bytes`.
    total: u64,
}

impl State {
    fn take_out(&mut self, key: &UploadKey) -> Option<Partial> {
        let partial = self.partials.remove(key)?;
        self.total = self.total.saturating_sub(partial.bytes);
        Some(partial)
    }

    /// What the partials of running uploads other than `not` hold.
    fn running_besides(&self, not: &UploadKey) -> u64 {
        self.partials
            .iter()
            .filter(|(k, _)| *k != not && self.active.contains(*k))
            .map(|(_, p)| p.bytes)
            .sum()
    }

    /// The abandoned partial (no upload running) last written longest ago, other than `not`.
    fn oldest_idle(&self, not: &UploadKey) -> Option<UploadKey> {
        self.partials
            .iter()
            .filter(|(k, _)| *k != not && !self.active.contains(*k))
            .min_by_key(|(_, p)| p.touched)
            .map(|(k, _)| k.clone())
    }
}

/// Every partial upload of one server; see the module's comment.
pub(super) struct Partials {
    state: Mutex<State>,
    limits: PartialLimits,
}

/// Held while one target is uploaded, or its partial removed; dropping it frees the target.
pub(super) struct Lock<'a> {
    partials: &'a Partials,
    key: UploadKey,
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        let mut state = self.partials.state();
        state.active.remove(&self.key);
        // An upload that ends leaves its partial untouched from now on.
        if let Some(p) = state.partials.get_mut(&self.key) {
            p.touched = SystemTime::now();
        }
    }
}

/// A partial taken out of the records to be removed, with its target locked meanwhile.
struct Doomed<'a> {
    lock: Lock<'a>,
    partial: Partial,
}

/// Why a partial is removed by the server itself.
#[derive(Clone, Copy)]
enum Why {
    /// Untouched for `--max-partial-age`.
    Age(Duration),
    /// Room for another upload under `--max-partial-bytes`.
    Room(u64),
    /// Room for another partial under [`MAX_PARTIALS`].
    Count,
}

impl Partials {
    pub(super) fn new(limits: PartialLimits) -> Partials {
        Partials {
            state: Mutex::default(),
            limits,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left plain sets and
        // maps behind, which are still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The target for this upload (or removal) alone, or `None` if another one has it.
    pub(super) fn lock(&self, key: &UploadKey) -> Option<Lock<'_>> {
        let mut state = self.state();
        if !state.active.insert(key.clone()) {
            return None;
        }
        Some(Lock {
            partials: self,
            key: key.clone(),
        })
    }

    /// Where an upload can go on: the partial's length, if the client asked to resume and the
    /// partial came from the same source.
    pub(super) fn resume_point(
        &self,
        lock: &Lock<'_>,
        source: &Source,
        resume: bool,
        on_disk: u64,
    ) -> u64 {
        if !resume || source.identity.is_empty() || on_disk > source.size {
            return 0;
        }
        match self.state().partials.get(&lock.key) {
            Some(p) if p.source.as_ref() == Some(source) => on_disk,
            _ => 0,
        }
    }

    /// How far ahead of what it has received a running upload may hold room: one read of
    /// the socket, and never more than a sixteenth of `--max-partial-bytes`, so that no
    /// upload, however slowly it sends, holds room it has not used.
    pub(super) fn window(&self) -> u64 {
        match self.limits.max_bytes {
            Some(max) => (max / 16).clamp(1, MAX_WINDOW),
            None => MAX_WINDOW,
        }
    }

    /// An upload of `size` bytes may begin on the locked target, whose partial is at `path`:
    /// refused, touching nothing, when `size` alone is over `--max-partial-bytes` (`too
    /// large`), or when what running uploads hold leaves no room for it (`busy`). It holds
    /// nothing yet beyond what its partial holds: room is taken as the bytes come ([`Self::grow`]).
    /// Past [`MAX_PARTIALS`], the oldest abandoned partial is removed.
    pub(super) fn reserve(
        &self,
        root: &Root,
        lock: &Lock<'_>,
        path: Vec<u8>,
        size: u64,
        shown: &str,
    ) -> Result<(), ErrorReply> {
        let doomed = {
            let mut state = self.state();
            let key = &lock.key;
            let mine = state.partials.get(key).map_or(0, |p| p.bytes);
            if let Some(max) = self.limits.max_bytes {
                if size > max {
                    return Err(ErrorReply::new(
                        ErrorCode::TooLarge,
                        &format!(
                            "too large: {shown} is {size} bytes; this server keeps at most {max} \
                             bytes of uploads in progress (--max-partial-bytes)"
                        ),
                    ));
                }
                let running = state.running_besides(key);
                if running.saturating_add(size) > max {
                    return Err(busy(running, max, "try again later"));
                }
            }
            let doomed = self.make_room(&mut state, key, mine);
            let now = SystemTime::now();
            let entry = state.partials.entry(key.clone()).or_insert(Partial {
                path: Vec::new(),
                bytes: 0,
                touched: now,
                source: None,
            });
            entry.path = path;
            entry.touched = now;
            doomed
        };
        for (d, why) in doomed {
            self.remove(root, d, why);
        }
        Ok(())
    }

    /// Room for the partial of the locked (running) upload to hold `to` bytes: the partials
    /// of abandoned uploads are removed, oldest first, until the total fits
    /// `--max-partial-bytes`. Refused `busy`, touching nothing, when running uploads hold the
    /// rest; what the partial holds so far stays, for a resume.
    pub(super) fn grow(&self, root: &Root, lock: &Lock<'_>, to: u64) -> Result<(), ErrorReply> {
        let doomed = {
            let mut state = self.state();
            let key = &lock.key;
            let mine = state.partials.get(key).map_or(0, |p| p.bytes);
            if to <= mine {
                return Ok(());
            }
            if let Some(max) = self.limits.max_bytes {
                let running = state.running_besides(key);
                if running.saturating_add(to) > max {
                    let kept = format!("the first {mine} bytes are kept: resume later");
                    return Err(busy(running, max, &kept));
                }
            }
            let doomed = self.make_room(&mut state, key, to);
            let entry = state.partials.entry(key.clone()).or_insert(Partial {
                path: Vec::new(),
                bytes: 0,
                touched: SystemTime::now(),
                source: None,
            });
            let before = entry.bytes;
            entry.bytes = to;
            state.total = state.total.saturating_sub(before).saturating_add(to);
            doomed
        };
        for (d, why) in doomed {
            self.remove(root, d, why);
        }
        Ok(())
    }

    /// Takes out of the records, for removal, the abandoned partials (oldest first) that must
    /// go for the partial of `key` to hold `wanted` bytes within `--max-partial-bytes`, and
    /// for it to have a record within [`MAX_PARTIALS`]. The caller has checked that running
    /// uploads leave room.
    fn make_room<'a>(
        &'a self,
        state: &mut State,
        key: &UploadKey,
        wanted: u64,
    ) -> Vec<(Doomed<'a>, Why)> {
        let mine = state.partials.get(key).map_or(0, |p| p.bytes);
        let mut doomed = Vec::new();
        loop {
            let over_bytes = self
                .limits
                .max_bytes
                .is_some_and(|max| state.total.saturating_sub(mine).saturating_add(wanted) > max);
            let over_count =
                !state.partials.contains_key(key) && state.partials.len() >= MAX_PARTIALS;
            if !over_bytes && !over_count {
                break;
            }
            let Some(victim) = state.oldest_idle(key) else {
                break;
            };
            let why = match self.limits.max_bytes {
                Some(max) if over_bytes => Why::Room(max),
                _ => Why::Count,
            };
            if let Some(partial) = state.take_out(&victim) {
                state.active.insert(victim.clone());
                doomed.push((
                    Doomed {
                        lock: Lock {
                            partials: self,
                            key: victim,
                        },
                        partial,
                    },
                    why,
                ));
            }
        }
        doomed
    }

    /// What the partial of the locked target holds from now on, for a resume.
    pub(super) fn remember(&self, lock: &Lock<'_>, source: Source) {
        if let Some(p) = self.state().partials.get_mut(&lock.key) {
            p.source = Some(source);
        }
    }

    /// The upload stopped with `bytes` in its partial, which is kept for a resume.
    pub(super) fn settle(&self, lock: &Lock<'_>, bytes: u64) {
        let mut state = self.state();
        if let Some(p) = state.partials.get_mut(&lock.key) {
            let before = p.bytes;
            p.bytes = bytes;
            state.total = state.total.saturating_sub(before).saturating_add(bytes);
        }
    }

    /// The partial of the locked target is gone (committed, removed, thrown away).
    pub(super) fn forget(&self, lock: &Lock<'_>) {
        self.state().take_out(&lock.key);
    }

    /// Removes partials untouched for `--max-partial-age`; returns when the next one is due.
    fn expire(&self, root: &Root, max_age: Duration) -> Duration {
        let now = SystemTime::now();
        let age = |p: &Partial| now.duration_since(p.touched).unwrap_or_default();
        let (doomed, next) = {
            let mut state = self.state();
            let expired: Vec<UploadKey> = state
                .partials
                .iter()
                .filter(|(k, p)| !state.active.contains(*k) && age(p) >= max_age)
                .map(|(k, _)| k.clone())
                .collect();
            let mut doomed = Vec::new();
            for key in expired {
                if let Some(partial) = state.take_out(&key) {
                    state.active.insert(key.clone());
                    doomed.push(Doomed {
                        lock: Lock {
                            partials: self,
                            key,
                        },
                        partial,
                    });
                }
            }
            let next = state
                .partials
                .iter()
                .filter(|(k, _)| !state.active.contains(*k))
                .map(|(_, p)| max_age.saturating_sub(age(p)))
                .min()
                .unwrap_or(max_age);
            (doomed, next)
        };
        for d in doomed {
            self.remove(root, d, Why::Age(max_age));
        }
        next
    }

    /// Removes a partial the server gave up on, if it is still where it was and still that
    /// target's; logs one line either way.
    fn remove(&self, root: &Root, doomed: Doomed<'_>, why: Why) {
        let Doomed { lock, partial } = doomed;
        let shown = escape::name(&partial.path);
        let untouched = SystemTime::now()
            .duration_since(partial.touched)
            .unwrap_or_default()
            .as_secs();
        let because = match why {
            Why::Age(max) => format!(
                "untouched for {untouched} s (--max-partial-age {})",
                max.as_secs()
            ),
            Why::Room(max) => format!(
                "untouched for {untouched} s, to make room for another upload \
                 (--max-partial-bytes {max})"
            ),
            Why::Count => format!(
                "untouched for {untouched} s, to make room for another upload \
                 ({MAX_PARTIALS} partial uploads at most)"
            ),
        };
        let result = match root.find_partial(&partial.path) {
            Ok(Some(found)) if found.key() == &lock.key => found.remove(),
            // Its directory moved, or another target's partial is there now: not ours to remove.
            Ok(_) => Err(crate::file_service::root::RootError::new(
                RootErrorKind::NotFound,
                &partial.path,
                "no longer there",
            )),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => println!(
                "removed partial upload {shown} ({} bytes): {because}",
                partial.bytes
            ),
            Err(e) if e.kind() == RootErrorKind::NotFound => println!(
                "forgot partial upload {shown} ({} bytes): {because}; it was no longer there",
                partial.bytes
            ),
            Err(e) => eprintln!("cannot remove partial upload {shown} ({because}): {e}"),
        }
        drop(lock);
    }

    /// A partial found on disk at start-up: kept track of (no source: it is not resumed), or
    /// removed at once when it is already past `--max-partial-age`. Returns whether it was kept.
    fn adopt(
        &self,
        root: &Root,
        key: UploadKey,
        path: Vec<u8>,
        bytes: u64,
        touched: SystemTime,
    ) -> bool {
        let mut state = self.state();
        if state.active.contains(&key) || state.partials.contains_key(&key) {
            return true;
        }
        let expired = self.limits.max_age.is_some_and(|max| {
            SystemTime::now()
                .duration_since(touched)
                .unwrap_or_default()
                >= max
        });
        if !expired && state.partials.len() < MAX_PARTIALS {
            state.total = state.total.saturating_add(bytes);
            state.partials.insert(
                key,
                Partial {
                    path,
                    bytes,
                    touched,
                    source: None,
                },
            );
            return true;
        }
        state.active.insert(key.clone());
        drop(state);
        let doomed = Doomed {
            lock: Lock {
                partials: self,
                key,
            },
            partial: Partial {
                path,
                bytes,
                touched,
                source: None,
            },
        };
        let why = match self.limits.max_age {
            Some(max) if expired => Why::Age(max),
            _ => Why::Count,
        };
        self.remove(root, doomed, why);
        false
    }

    /// Walks the whole root once for partial files (`.<name>.part`) and adopts each that an
    /// upload made (it has its record, `.<name>.part.srv`); any other is left alone, with one
    /// line in the log. Logs a summary. Links are not followed; a directory a client could not name is skipped.
    fn adopt_existing(&self, root: &Root) {
        let (mut kept, mut kept_bytes, mut removed, mut alone) = (0u64, 0u64, 0u64, 0u64);
        let mut stack = match root.stream_dir(b"") {
            Ok(top) => vec![(Vec::new(), top)],
            Err(e) => {
                eprintln!("cannot look for partial uploads: {e}");
                return;
            }
        };
        while let Some((dir, listing)) = stack.last_mut() {
            let Some(entry) = listing.next() else {
                stack.pop();
                continue;
            };
            let Ok(entry) = entry else {
                // An unreadable entry: what is left of this directory is skipped.
                stack.pop();
                continue;
            };
            let mut path = dir.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&entry.name);
            match entry.kind {
                EntryKind::Dir if stack.len() < MAX_COMPONENTS => {
                    if let Ok(sub) = root.stream_dir(&path) {
                        stack.push((path, sub));
                    }
                }
                EntryKind::File if is_partial_name(&entry.name) => {
                    let Ok(Some(found)) = root.find_partial(&path) else {
                        continue;
                    };
                    if !found.has_record() {
                        // Named like a partial, but no upload here made it: a user's own file.
                        alone += 1;
                        println!(
                            "left alone {}: named like a partial upload, but no upload of this \
                             server made it (it has no record beside it)",
                            escape::name(&path)
                        );
                        continue;
                    }
                    let touched = entry.modified.unwrap_or_else(SystemTime::now);
                    let key = found.key().clone();
                    let real = found.path();
                    drop(found);
                    if self.adopt(root, key, real, entry.size, touched) {
                        kept += 1;
                        kept_bytes += entry.size;
                    } else {
                        removed += 1;
                    }
                }
                _ => {}
            }
        }
        if kept > 0 || removed > 0 || alone > 0 {
            println!(
                "partial uploads under the root: {kept} kept ({kept_bytes} bytes), {removed} \
                 removed, {alone} left alone"
            );
        }
    }
}

impl FileServer {
    /// REMOVE of a partial upload (`rm .x.part`), how a client cleans up an abandoned one:
    /// refused `busy` while an upload of `x` runs, whatever `x` is now, and its record goes.
    pub(super) fn remove_partial(&self, path: &[u8]) -> Result<(), ErrorReply> {
        let found = match self.root.find_partial(path) {
            Ok(Some(found)) => found,
            Ok(None) => {
                return self
                    .root
                    .remove_file(path)
                    .map_err(|e| super::root_reply(&e))
            }
            Err(e) => return Err(super::root_reply(&e)),
        };
        let Some(lock) = self.partials.lock(found.key()) else {
            return Err(super::reply::busy(&escape::name(path)));
        };
        let removed = found.remove();
        if removed.is_ok()
            || removed
                .as_ref()
                .is_err_and(|e| e.kind() == RootErrorKind::NotFound)
        {
            self.partials.forget(&lock);
        }
        removed.map_err(|e| super::root_reply(&e))
    }
}

/// For a writable server: adopts the partials already under the root, then removes those
/// that pass `--max-partial-age`, for as long as the server exists.
pub(super) fn keep(server: &Arc<FileServer>) {
    let weak: Weak<FileServer> = Arc::downgrade(server);
    let started = thread::Builder::new()
        .name("partial uploads".into())
        .spawn(move || {
            if let Some(server) = weak.upgrade() {
                server.partials.adopt_existing(&server.root);
            }
            loop {
                let Some(server) = weak.upgrade() else {
                    return;
                };
                let Some(max_age) = server.partials.limits.max_age else {
                    return;
                };
                let next = server.partials.expire(&server.root, max_age);
                drop(server);
                thread::sleep(next.clamp(Duration::from_millis(10), MAX_SLEEP));
            }
        });
    if let Err(e) = started {
        eprintln!(
            "cannot start the thread that expires partial uploads: {}",
            crate::core::cli::describe_io(&e)
        );
    }
}

/// The `busy` answer when uploads in progress hold the room (`--max-partial-bytes`).
fn busy(running: u64, max: u64, then: &str) -> ErrorReply {
    ErrorReply::new(
        ErrorCode::Busy,
        &format!(
            "busy: uploads in progress hold {running} of the {max} bytes this server keeps \
             for them (--max-partial-bytes); {then}"
        ),
    )
}
