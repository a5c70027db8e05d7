//! A client's partial download on disk: `<out>.part`, and `<out>.part.info` recording which server, name and version its bytes came from, so that a client continues or removes only a partial that it made.
//!
//! A `.part` is ours when its `.part.info` says so: our first line, the same
//! server, the same remote name. Anything else under those names (a user's
//! own `notes.part`, a partial from another server or of another file) is
//! left alone, and the download refuses with what to do. The version (the
//! server's identity of the file) then decides between going on from the
//! `.part`'s length and starting over.
//!
//! The server is the IP address the connection reached, without the port
//! ([`server_id`]): it is what the bytes actually came from, whatever name the
//! user typed for it; the port is left out because a proxy or a tunnel end on
//! the same machine leads to the same files.

use super::{shown, TransferError};
use crate::core::escape;
use crate::file_service::sha256::Sha256;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// First line of a `.part.info` file; a file without it is not ours.
const INFO_MAGIC: &str = "socket-tutorial partial download 2";

/// Longest `.part.info` read: ours are under 300 bytes, and a big file by that
/// name is someone else's.
const MAX_INFO: u64 = 4096;

/// `<out>.part`: where the bytes go until the file is whole.
pub fn part_path(out: &Path) -> PathBuf {
    with_suffix(out, ".part")
}

/// `<out>.part.info`: which version of which remote file the `.part` holds.
pub fn info_path(out: &Path) -> PathBuf {
    with_suffix(out, ".part.info")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The server, as a partial's record names it: the address of the machine the
/// connection reached, without the port. A proxy or a second port on that
/// machine (the tests and the tour resume through a proxy on another port)
/// reach the same files more often than not, and continuing a partial of
/// another version is refused by the server's identity check anyway; what the
/// record must rule out is a partial fetched from another machine.
pub(super) fn server_id(peer: SocketAddr) -> String {
    peer.ip().to_canonical().to_string()
}

/// What `<out>.part.info` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartInfo {
    /// The server, as [`server_id`] names it.
    pub server: String,
    pub name: Vec<u8>,
    pub size: u64,
    /// The server's version identity; empty for the tutorial's protocol, which has none.
    pub identity: Vec<u8>,
}

impl PartInfo {
    pub fn encode(&self) -> String {
        format!(
            "{INFO_MAGIC}\nserver {}\nname {}\nsize {}\nidentity {}\n",
            self.server,
            to_hex(&self.name),
            self.size,
            to_hex(&self.identity)
        )
    }

    pub fn parse(text: &str) -> Option<PartInfo> {
        let mut lines = text.lines();
        if lines.next()? != INFO_MAGIC {
            return None;
        }
        let server = lines.next()?.strip_prefix("server ")?.to_owned();
        let name = from_hex(lines.next()?.strip_prefix("name ")?)?;
        let size = lines.next()?.strip_prefix("size ")?.parse().ok()?;
        let identity = from_hex(lines.next()?.strip_prefix("identity ")?)?;
        Some(PartInfo {
            server,
            name,
            size,
            identity,
        })
    }

    /// Written before the first byte goes into the `.part`.
    ///
    /// Whole or not at all: written beside it first and renamed over it, so a full disk or
    /// a crash leaves the old record or none, never half of one (see [`Record::HalfWritten`]
    /// for what an older client could leave).
    pub fn write(&self, info: &Path) -> Result<(), TransferError> {
        let temporary = with_suffix(info, ".tmp");
        let written =
            fs::write(&temporary, self.encode()).and_then(|()| fs::rename(&temporary, info));
        written.map_err(|e| {
            let _ = fs::remove_file(&temporary);
            TransferError::local(format!("cannot write {}", shown(info)), &e)
        })
    }
}

pub(super) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a `.part.info` holds.
enum Record {
    Whole(PartInfo),
    /// Empty, or our first line and then less than a record: what writing it in place
    /// left when the disk was full (clients before records were written whole).
    HalfWritten,
    /// Anything else: not ours.
    Other,
}

impl Record {
    fn read(text: &str) -> Record {
        match PartInfo::parse(text) {
            Some(record) => Record::Whole(record),
            None if INFO_MAGIC.starts_with(text) || text.starts_with(INFO_MAGIC) => {
                Record::HalfWritten
            }
            None => Record::Other,
        }
    }
}

/// What to ask for, given what an earlier run left on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// From byte 0; a partial of ours, if any, is replaced.
    Fresh,
    Resume {
        offset: u64,
        identity: Vec<u8>,
    },
    /// A partial of ours that cannot be continued: start over, and say why.
    Restart(String),
}

/// Decides from `<out>.part` and `<out>.part.info` what a download of
/// `remote` from `server` may do with them: continue them (`resume`, if the
/// record allows), replace them, or (not ours) nothing: then an error says
/// what to do, and neither file is touched.
pub(super) fn plan(
    out: &Path,
    remote: &[u8],
    server: &str,
    resume: bool,
) -> Result<Plan, TransferError> {
    let (part, info) = (part_path(out), info_path(out));
    let not_ours = |what: &Path| {
        TransferError::Local(format!(
            "{} exists and was not left by a download of {} from {server}: it is left alone; \
             move it away, or save the download under another name",
            shown(what),
            escape::name(remote)
        ))
    };
    // Not followed: a link by that name is not a partial file of ours.
    let part_len = match fs::symlink_metadata(&part) {
        Ok(m) if m.is_file() => Some(m.len()),
        Ok(_) => return Err(not_ours(&part)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(TransferError::local(shown(&part), &e)),
    };
    // A record this client was writing when the disk filled up or it was stopped.
    let _ = fs::remove_file(with_suffix(&info, ".tmp"));
    let record = match File::open(&info) {
        Ok(file) => {
            let mut text = String::new();
            // Not UTF-8, or too long: not ours either way.
            let _ = file.take(MAX_INFO).read_to_string(&mut text);
            Some(Record::read(&text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(TransferError::local(shown(&info), &e)),
    };
    let record = match record {
        None if part_len.is_none() => return Ok(Plan::Fresh),
        None => return Err(not_ours(&part)),
        Some(Record::Whole(r)) if r.server == server && r.name == remote => r,
        // What an older client left when writing it failed: ours, but of no use.
        Some(Record::HalfWritten) => {
            return Ok(match part_len {
                None | Some(0) => Plan::Fresh,
                Some(_) => Plan::Restart(format!(
                    "{} was written only in part, so which version {} holds is unknown",
                    shown(&info),
                    shown(&part)
                )),
            })
        }
        Some(_) => return Err(not_ours(if part_len.is_some() { &part } else { &info })),
    };
    Ok(match part_len {
        None | Some(0) => Plan::Fresh,
        Some(_) if !resume => Plan::Fresh,
        Some(_) if record.identity.is_empty() => Plan::Restart(format!(
            "{} came over the tutorial's protocol (--raw), which cannot resume",
            shown(&part)
        )),
        Some(len) if len > record.size => Plan::Restart(format!(
            "{} is longer than the file it is part of",
            shown(&part)
        )),
        Some(len) => Plan::Resume {
            offset: len,
            identity: record.identity,
        },
    })
}

/// The `.part`, positioned at `offset`: a new file for a fresh download
/// (only its owner may read it until it is whole: see
/// [`crate::file_service::file_meta::create_private`]), else the partial one cut to
/// `offset` (anything past it is not part of what the server agreed to
/// continue). [`plan`] has made sure that whatever is there is ours.
///
/// A fresh download gets a new file rather than an old one cut to length 0:
/// ext4 takes a file truncated to 0 for a rewrite in place and starts writing
/// it to disk when it is closed (its `auto_da_alloc`), which made a 1 GiB
/// download about 0.3 s slower here.
pub(super) fn open_part(part: &Path, offset: u64) -> Result<File, TransferError> {
    let opened = if offset == 0 {
        match fs::remove_file(part) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => crate::file_service::file_meta::create_private(part),
        }
    } else {
        OpenOptions::new()
            .write(true)
            .open(part)
            .and_then(|mut file| {
                file.set_len(offset)?;
                file.seek(SeekFrom::Start(offset))?;
                Ok(file)
            })
    };
    opened.map_err(|e| TransferError::local(format!("cannot open {}", shown(part)), &e))
}

/// A hasher that has already seen the first `len` bytes of the `.part`.
pub(super) fn hash_prefix(part: &Path, len: u64) -> Result<Sha256, TransferError> {
    let mut h = Sha256::new();
    if len > 0 {
        let cannot =
            |e: &io::Error| TransferError::local(format!("cannot read {}", shown(part)), e);
        let file = File::open(part).map_err(|e| cannot(&e))?;
        let copied = io::copy(&mut file.take(len), &mut h).map_err(|e| cannot(&e))?;
        if copied != len {
            return Err(TransferError::Local(format!(
                "{} shrank while it was read",
                shown(part)
            )));
        }
    }
    Ok(h)
}

/// Both files of a partial download, once it is whole, or worthless.
pub(super) fn remove(out: &Path) {
    let _ = fs::remove_file(part_path(out));
    let _ = fs::remove_file(info_path(out));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    const SERVER: &str = "127.0.0.1";

    #[test]
    fn a_half_written_record_is_ours_and_of_no_use() {
        let t = TempDir::new("half-record");
        let out = t.path().join("notes");
        let (part, info) = (part_path(&out), info_path(&out));
        for half in [
            "",
            "socket-tutorial partial",
            "socket-tutorial partial download 2\nserver 12",
        ] {
            fs::write(&info, half).unwrap();
            let _ = fs::remove_file(&part);
            assert_eq!(
                plan(&out, b"notes", SERVER, true).unwrap(),
                Plan::Fresh,
                "{half:?}"
            );
            fs::write(&part, b"abc").unwrap();
            assert!(
                matches!(
                    plan(&out, b"notes", SERVER, true).unwrap(),
                    Plan::Restart(_)
                ),
                "{half:?}"
            );
        }
        // Someone else's file by that name is still not ours.
        fs::write(&info, "my own notes").unwrap();
        assert!(plan(&out, b"notes", SERVER, true).is_err());
    }

    #[test]
    fn a_record_is_written_whole_and_no_temporary_is_left() {
        let t = TempDir::new("whole-record");
        let info = t.path().join("notes.part.info");
        record(b"notes", 10).write(&info).unwrap();
        assert_eq!(
            PartInfo::parse(&fs::read_to_string(&info).unwrap()),
            Some(record(b"notes", 10))
        );
        assert!(!with_suffix(&info, ".tmp").exists());
    }

    fn record(name: &[u8], size: u64) -> PartInfo {
        PartInfo {
            server: SERVER.into(),
            name: name.to_vec(),
            size,
            identity: vec![7; 32],
        }
    }

    #[test]
    fn part_info_round_trips_and_rejects_strangers() {
        let info = PartInfo {
            server: "::1".into(),
            name: vec![0xff, b'a', b'/'],
            size: 1 << 40,
            identity: (0..32).collect(),
        };
        assert_eq!(PartInfo::parse(&info.encode()), Some(info));
        assert_eq!(PartInfo::parse("something else\n"), None);
        assert_eq!(
            PartInfo::parse(&format!(
                "{INFO_MAGIC}\nserver x\nname 6\nsize 1\nidentity 00\n"
            )),
            None
        );
        // The record of the version before the server was recorded is not ours.
        assert_eq!(
            PartInfo::parse("socket-tutorial partial download 1\nname 66\nsize 1\nidentity 00\n"),
            None
        );
        assert_eq!(from_hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(from_hex("0g"), None);
    }

    #[test]
    fn what_an_earlier_run_left_decides_the_plan() {
        let t = TempDir::new("partial");
        let out = t.path().join("f");
        let (part, info) = (part_path(&out), info_path(&out));
        let plan_f = |resume| plan(&out, b"f", SERVER, resume);
        assert_eq!(plan_f(true).unwrap(), Plan::Fresh);
        fs::write(&info, record(b"f", 10).encode()).unwrap();
        assert_eq!(plan_f(true).unwrap(), Plan::Fresh);
        fs::write(&part, b"abc").unwrap();
        assert_eq!(
            plan_f(true).unwrap(),
            Plan::Resume {
                offset: 3,
                identity: vec![7; 32]
            }
        );
        // A plain get replaces a partial of ours.
        assert_eq!(plan_f(false).unwrap(), Plan::Fresh);
        fs::write(&part, [0u8; 11]).unwrap();
        assert!(matches!(plan_f(true).unwrap(), Plan::Restart(r) if r.contains("longer")));
        let raw = PartInfo {
            identity: vec![],
            ..record(b"f", 0)
        };
        fs::write(&info, raw.encode()).unwrap();
        assert!(matches!(plan_f(true).unwrap(), Plan::Restart(r) if r.contains("--raw")));
        fs::write(&part, b"").unwrap();
        fs::write(&info, record(b"f", 10).encode()).unwrap();
        assert_eq!(plan_f(true).unwrap(), Plan::Fresh);
    }

    #[test]
    fn a_partial_that_is_not_ours_is_refused_and_left_alone() {
        let t = TempDir::new("partial");
        let out = t.path().join("notes");
        let (part, info) = (part_path(&out), info_path(&out));
        let refused = |part_there: bool, why: &str| {
            for resume in [true, false] {
                let e = plan(&out, b"notes", SERVER, resume).unwrap_err();
                assert!(e.connection_usable());
                let e = e.to_string();
                let named = if part_there { &part } else { &info };
                assert!(
                    e.starts_with(&format!(
                        "{} exists and was not left by a download of \"notes\" from 127.0.0.1",
                        named.display()
                    )),
                    "{why}: {e}"
                );
                assert!(e.contains("move it away"), "{e}");
            }
        };
        // The user's own notes.part, with or without a notes.part.info of theirs.
        fs::write(&part, b"my own notes").unwrap();
        refused(true, "no record");
        fs::write(&info, b"my own info").unwrap();
        refused(true, "someone else's record");
        fs::remove_file(&part).unwrap();
        refused(false, "a lone info of theirs");
        // Ours, but of another file, or from another server.
        fs::write(&part, b"abc").unwrap();
        fs::write(&info, record(b"other", 10).encode()).unwrap();
        refused(true, "another name");
        let elsewhere = PartInfo {
            server: "127.0.0.2".into(),
            ..record(b"notes", 10)
        };
        fs::write(&info, elsewhere.encode()).unwrap();
        refused(true, "another server");
        // A directory by that name.
        fs::remove_file(&part).unwrap();
        fs::create_dir(&part).unwrap();
        refused(true, "a directory");
        fs::remove_dir(&part).unwrap();
        fs::write(&part, b"abc").unwrap();
        assert_eq!(fs::read(&part).unwrap(), b"abc");
        assert_eq!(fs::read(&info).unwrap(), elsewhere.encode().as_bytes());
    }
}
