//! What download_client remembers of a finished download, so that a rerun can tell the file is already there, whole and current, without fetching it: one small record per saved file in the user's state directory, never next to the file.
//!
//! wget `-c` says "already fully retrieved" by size alone. Here the record
//! keeps what the server said identified the version (its identity,
//! docs/PROTOCOL.md 7.1) and what identified the saved file right after it was
//! renamed into place (`file_meta::identity`: size, time, inode). A rerun
//! trusts the record only while the saved file is exactly as it was left,
//! then asks the server, with the protocol's own resume (`offset` = the whole
//! size, that identity), whether that version is still the one it has: no
//! byte of the file crosses the network when it is.
//!
//! Where: `$XDG_STATE_HOME/socket-tutorial/downloads`, by default
//! `~/.local/state/socket-tutorial/downloads` (unix), or
//! `%LOCALAPPDATA%\socket-tutorial\downloads` (Windows); each record is named
//! by the SHA-256 of the saved file's full path. At most [`MAX_RECORDS`] are
//! kept. Records are a convenience: one that cannot be written or read only
//! means the file is fetched again.

use super::partial::{from_hex, hash_prefix, to_hex, PartInfo};
use super::{shown, Connection, Downloaded, Event, Start, TransferError};
use crate::core::escape;
use crate::file_service::file_meta;
use crate::file_service::protocol::ErrorCode;
use crate::file_service::sha256::{self, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// First line of a record; a file without it is not ours.
const MAGIC: &str = "socket-tutorial finished download 1";

/// Records kept; writing one past it removes the oldest (a download that is
/// no longer remembered is simply fetched again).
pub const MAX_RECORDS: usize = 1000;

/// One finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finished {
    /// `file_meta::identity` of the saved file, right after it was renamed into place.
    pub local: Vec<u8>,
    /// The server, as `partial::server_id` names it.
    pub server: String,
    pub name: Vec<u8>,
    pub size: u64,
    /// The server's identity of the version that was saved.
    pub identity: Vec<u8>,
}

impl Finished {
    fn encode(&self, full: &Path) -> String {
        format!(
            "{MAGIC}\npath {}\nlocal {}\nserver {}\nname {}\nsize {}\nidentity {}\n",
            to_hex(path_bytes(full).as_bytes()),
            to_hex(&self.local),
            self.server,
            to_hex(&self.name),
            self.size,
            to_hex(&self.identity)
        )
    }

    fn parse(text: &str, full: &Path) -> Option<Finished> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            Some(
                lines
                    .next()?
                    .strip_prefix(name)?
                    .strip_prefix(' ')?
                    .to_owned(),
            )
        };
        // The record's name is a digest of the path: check it is this one.
        if from_hex(&field("path")?)? != path_bytes(full).as_bytes() {
            return None;
        }
        Some(Finished {
            local: from_hex(&field("local")?)?,
            server: field("server")?,
            name: from_hex(&field("name")?)?,
            size: field("size")?.parse().ok()?,
            identity: from_hex(&field("identity")?)?,
        })
    }
}

impl Connection {
    /// [`DownloadOptions::skip_same_version`]: when `out` is exactly as a
    /// download of `remote` from this server left it, asks whether the server
    /// still has that version, by asking to resume at its very end (nothing
    /// follows the FILE answer then). With `verify`, the copy here is hashed
    /// and compared with the server's digest too. `None`: fetch it.
    pub(super) fn already_complete(
        &mut self,
        out: &Path,
        remote: &[u8],
        server: &str,
        verify: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<Option<Downloaded>, TransferError> {
        let Some(here) = fs::metadata(out).ok().filter(|m| m.is_file()) else {
            return Ok(None);
        };
        let Some(done) = recall(out, &file_meta::identity(&here)) else {
            return Ok(None);
        };
        // An empty file cannot be asked for "from its end": it is fetched, which costs nothing.
        if done.server != server || done.name != remote || done.size == 0 {
            return Ok(None);
        }
        let ours = match verify {
            true => Some(hash_prefix(out, done.size)?.finalize()),
            false => None,
        };
        match self.ask_for_file(remote, done.size, done.identity, verify) {
            Ok(_) => {}
            Err(TransferError::Refused(reply))
                if reply.code == ErrorCode::Conflict && !reply.closing =>
            {
                let reason = format!(
                    "{} changed on the server since it was saved as {}",
                    escape::name(remote),
                    shown(out)
                );
                events(Event::StartingOver(&reason));
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let digest = match ours {
            None => None,
            Some(ours) => match self.check_digest(ours, remote, "fetching it again") {
                Ok(d) => Some(d),
                Err(TransferError::Mismatch(why)) => {
                    events(Event::StartingOver(&why));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Some(Downloaded {
            size: done.size,
            received: 0,
            start: Start::AlreadyComplete,
            digest,
        }))
    }
}

/// Remembers that `out` now holds the version `record` describes.
pub(super) fn remember_download(out: &Path, record: PartInfo) {
    if let Ok(saved) = fs::metadata(out) {
        let PartInfo {
            server,
            name,
            size,
            identity,
        } = record;
        let local = file_meta::identity(&saved);
        remember(
            out,
            &Finished {
                local,
                server,
                name,
                size,
                identity,
            },
        );
    }
}

/// Remembers that `out` now holds this download. Best effort: see the module.
pub(super) fn remember(out: &Path, finished: &Finished) {
    let Some((dir, record, full)) = locate(out) else {
        return;
    };
    if fs::create_dir_all(&dir).is_err() {
        return;
    }
    let fresh = !record.exists();
    // Written aside and renamed, so a reader never sees half a record.
    let aside = dir.join(format!(".{}.tmp", std::process::id()));
    if fs::write(&aside, finished.encode(&full)).is_ok() && fs::rename(&aside, &record).is_ok() {
        if fresh {
            prune(&dir);
        }
    } else {
        let _ = fs::remove_file(&aside);
    }
}

/// The record of `out`, if there is one and `out` is still exactly the file
/// it describes (`local`: the saved file's identity now).
pub(super) fn recall(out: &Path, local: &[u8]) -> Option<Finished> {
    let (_, record, full) = locate(out)?;
    let text = fs::read_to_string(record).ok()?;
    Finished::parse(&text, &full).filter(|f| f.local == local)
}

/// The state directory, the record's path in it, and `out`'s full path.
fn locate(out: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let dir = imp::state_dir()?.join("socket-tutorial").join("downloads");
    let full = fs::canonicalize(out).ok()?;
    let key = Sha256::digest(path_bytes(&full).as_bytes());
    let record = dir.join(sha256::hex(&key));
    Some((dir, record, full))
}

/// A path as text for the key: the same path always gives the same text.
fn path_bytes(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Keeps the newest [`MAX_RECORDS`].
fn prune(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut records: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if records.len() <= MAX_RECORDS {
        return;
    }
    records.sort();
    let excess = records.len() - MAX_RECORDS;
    for (_, path) in records.into_iter().take(excess) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(unix)]
mod imp {
    use std::path::PathBuf;

    /// `$XDG_STATE_HOME`, else `~/.local/state` (the XDG base directory rules).
    pub fn state_dir() -> Option<PathBuf> {
        match std::env::var_os("XDG_STATE_HOME") {
            Some(dir) if PathBuf::from(&dir).is_absolute() => Some(PathBuf::from(dir)),
            _ => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")),
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::path::PathBuf;

    /// `%LOCALAPPDATA%`: this machine's own application data, not roamed.
    pub fn state_dir() -> Option<PathBuf> {
        std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_only_for_its_own_path() {
        let t = crate::test_support::TempDir::new("finished");
        let (a, b) = (t.join("a"), t.join("b"));
        fs::write(&a, b"x").unwrap();
        fs::write(&b, b"x").unwrap();
        let f = Finished {
            local: vec![1, 2],
            server: "127.0.0.1".into(),
            name: b"docs/a".to_vec(),
            size: 1,
            identity: vec![9; 32],
        };
        let (fa, fb) = (fs::canonicalize(&a).unwrap(), fs::canonicalize(&b).unwrap());
        let text = f.encode(&fa);
        assert_eq!(Finished::parse(&text, &fa), Some(f.clone()));
        assert_eq!(Finished::parse(&text, &fb), None);
        assert_eq!(Finished::parse("something else", &fa), None);
    }
}
