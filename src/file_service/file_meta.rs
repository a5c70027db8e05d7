//! A file's metadata as the protocol carries it (kind, modification time, mode bits, owner, version identity), read from this system and applied back to it.
//!
//! The protocol (docs/PROTOCOL.md 5.2, 7.1, 7.4) speaks in unix terms: a
//! `mode` with permission bits, times in nanoseconds since 1970. On unix
//! those are the file's own. On Windows a file has no permission bits, only
//! a read-only attribute, so the mode is made from it the way a unix system
//! mounting a Windows disk shows it (`0o644`/`0o444`, directories
//! `0o755`/`0o555`), and applying a mode sets or clears that attribute. The
//! platform parts are the `imp` modules at the bottom.

use crate::file_service::protocol::{Kind, Meta, Owner, MAX_MODE};
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Kind {
    /// What std says a file is (from `symlink_metadata`, a link stays a link).
    pub fn from_file_type(t: fs::FileType) -> Kind {
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

impl Meta {
    /// From `std` metadata (use `symlink_metadata` to report links as links).
    pub fn from_metadata(m: &fs::Metadata) -> Meta {
        Meta {
            kind: Kind::from_file_type(m.file_type()),
            size: m.len(),
            mtime_ns: m.modified().map(system_time_ns).unwrap_or(0),
            mode: mode_bits(m),
            owner: owner(m),
        }
    }
}

/// The owner's and group's numbers (`st_uid`, `st_gid`, as `ls -n` shows
/// them); `None` on Windows, where a file's owner is a security identifier
/// that stable std does not expose.
pub fn owner(m: &fs::Metadata) -> Option<Owner> {
    imp::owner(m)
}

/// The permission, set-id and sticky bits of a file, as the `mode` fields
/// carry them (at most [`MAX_MODE`]). On Windows: `0o444` or `0o644` from the
/// read-only attribute (`0o555` or `0o755` for a directory).
pub fn mode_bits(m: &fs::Metadata) -> u16 {
    imp::mode_bits(m) & MAX_MODE
}

/// A time as nanoseconds since 1970-01-01 UTC, the `mtime` field of STAT
/// replies and listing entries (negative before 1970).
pub fn system_time_ns(t: SystemTime) -> i64 {
    // Saturate: a timestamp beyond the year 2262 is not worth an error.
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// `mtime_ns` as a `SystemTime`, for setting a file's modification time.
pub fn ns_system_time(ns: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(ns.unsigned_abs());
    let t = if ns >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    // Only a platform whose clock cannot reach 1678 or 2262 gets here.
    t.unwrap_or(UNIX_EPOCH)
}

/// The version identity of an open file (docs/PROTOCOL.md 7.1): four
/// big-endian 64-bit numbers, 32 bytes. The size and the modification time in
/// nanoseconds, then what tells this file from another one at the same name:
/// on unix its inode and device numbers; on Windows (where stable std
/// offers no file index) its creation time, and 0.
///
/// Take the metadata from the handle that will be streamed
/// (`File::metadata`), so the identity describes what is actually sent.
pub fn identity(m: &fs::Metadata) -> Vec<u8> {
    let mtime = m.modified().map(system_time_ns).unwrap_or(0);
    let (file, volume) = imp::file_and_volume(m);
    let mut id = Vec::with_capacity(32);
    id.extend_from_slice(&m.len().to_be_bytes());
    id.extend_from_slice(&mtime.to_be_bytes());
    id.extend_from_slice(&file.to_be_bytes());
    id.extend_from_slice(&volume.to_be_bytes());
    id
}

/// `put -p` and `get -p`: give `file` the modification time `mtime_ns`, and
/// of `mode` what this system can keep. On unix the permission bits
/// (`0o777`: set-id and sticky bits are never applied, so a peer cannot make
/// a set-id file here). On Windows the read-only attribute, set when `mode`
/// has no owner-write bit (`0o200`) and cleared otherwise.
///
/// The time is set first: a file made read-only is still given its time.
pub fn apply(file: &File, mtime_ns: i64, mode: u16) -> io::Result<()> {
    file.set_modified(ns_system_time(mtime_ns))?;
    let current = file.metadata()?.permissions();
    file.set_permissions(imp::permissions(current, mode))
}

/// [`apply`] to the file at `path`, opened only to change its attributes
/// (so a read-only file can still be given its time).
pub fn apply_to_path(path: &Path, mtime_ns: i64, mode: u16) -> io::Result<()> {
    apply(&imp::open_for_attributes(path)?, mtime_ns, mode)
}

/// `put` and `get` without `-p`, as sftp and `cp` do: the permission bits of
/// `mode` that this process's umask lets through, as if the file had been
/// created with that mode (so a `0o600` file stays private and a `0o755`
/// one stays executable). Of that, what this system keeps (see [`apply`]):
/// on Windows the read-only attribute.
pub fn give_mode(file: &File, mode: u16) -> io::Result<()> {
    let current = file.metadata()?.permissions();
    file.set_permissions(imp::permissions(current, mode & !umask()))
}

/// `chmod`: of `mode`, what this system keeps (see [`apply`]), as it is: no umask, as
/// sftp's chmod.
pub fn set_mode(file: &File, mode: u16) -> io::Result<()> {
    let current = file.metadata()?.permissions();
    file.set_permissions(imp::permissions(current, mode))
}

/// A new file that only its owner can read until it is given its mode: a
/// download's `.part` (a `0o600` file must not be readable by others while it
/// arrives). Fails if something is already there.
pub fn create_private(path: &Path) -> io::Result<File> {
    imp::create_private(path)
}

/// The permission bits this process takes away from every file it creates
/// (`0o022` typically), found once per process; `0` on Windows.
///
/// std has no `umask` call and this crate uses no `libc`, so it is measured
/// the one way every unix allows: create a probe file asking for mode
/// `0o777` in the temporary directory, read back what it got, and remove it.
/// If even that fails, `0o022`, the usual value, is assumed.
/// A umask set by [`set_umask`] (file_shell's `lumask`) stands in for it from then on.
pub fn umask() -> u16 {
    static UMASK: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    match SET_UMASK.load(std::sync::atomic::Ordering::Relaxed) {
        UNSET => *UMASK.get_or_init(|| imp::probe_umask().unwrap_or(0o022)),
        mask => mask & 0o777,
    }
}

/// `lumask`: the umask [`umask`] answers for this process from now on. Like sftp's
/// lumask (which calls umask(2)), it is the whole process's, not one session's.
pub fn set_umask(mask: u16) {
    SET_UMASK.store(mask & 0o777, std::sync::atomic::Ordering::Relaxed);
}

/// No [`set_umask`] yet: the measured umask holds.
const UNSET: u16 = u16::MAX;
static SET_UMASK: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(UNSET);

#[cfg(unix)]
mod imp {
    use crate::file_service::protocol::Owner;
    use std::fs::{self, File, OpenOptions, Permissions};
    use std::io;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;
    use std::time::{SystemTime, UNIX_EPOCH};

    pub fn mode_bits(m: &fs::Metadata) -> u16 {
        // Masked to 0o7777 first, so it always fits.
        u16::try_from(m.permissions().mode() & 0o7777).unwrap_or(0)
    }

    pub fn file_and_volume(m: &fs::Metadata) -> (u64, u64) {
        (m.ino(), m.dev())
    }

    pub fn owner(m: &fs::Metadata) -> Option<Owner> {
        Some(Owner {
            uid: m.uid(),
            gid: m.gid(),
        })
    }

    pub fn permissions(_current: Permissions, mode: u16) -> Permissions {
        Permissions::from_mode(u32::from(mode) & 0o777)
    }

    /// Read-only is enough: the owner may change times and modes through any descriptor.
    pub fn open_for_attributes(path: &Path) -> io::Result<File> {
        File::open(path)
    }

    pub fn create_private(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    pub fn probe_umask() -> io::Result<u16> {
        let dir = std::env::temp_dir();
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..10u32 {
            let probe = dir.join(format!(
                ".socket-tutorial-umask-{}-{stamp}-{attempt}",
                std::process::id()
            ));
            let created = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o777)
                .open(&probe);
            match created {
                Ok(file) => {
                    let got = file.metadata().map(|m| m.permissions().mode());
                    let _ = fs::remove_file(&probe);
                    let got = u16::try_from(got? & 0o777).unwrap_or(0o755);
                    return Ok(0o777 & !got);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from(io::ErrorKind::AlreadyExists))
    }
}

#[cfg(windows)]
mod imp {
    use crate::file_service::protocol::Owner;
    use std::fs::{self, File, OpenOptions, Permissions};
    use std::io;
    use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
    use std::path::Path;

    /// Access rights from the Windows SDK: read and write a file's attributes and times.
    const FILE_READ_ATTRIBUTES: u32 = 0x0080;
    const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
    /// Without it Windows refuses to open a directory at all (`get -rp` sets folders' times too).
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;

    pub fn mode_bits(m: &fs::Metadata) -> u16 {
        match (m.is_dir(), m.permissions().readonly()) {
            (true, true) => 0o555,
            (true, false) => 0o755,
            (false, true) => 0o444,
            (false, false) => 0o644,
        }
    }

    /// Stable std has no file index or volume serial number (`MetadataExt::file_index`
    /// is unstable): the creation time stands in for "which file", in 100 ns units.
    pub fn file_and_volume(m: &fs::Metadata) -> (u64, u64) {
        (m.creation_time(), 0)
    }

    pub fn owner(_m: &fs::Metadata) -> Option<Owner> {
        None
    }

    pub fn permissions(mut current: Permissions, mode: u16) -> Permissions {
        current.set_readonly(mode & 0o200 == 0);
        current
    }

    /// Only the right to read and write attributes: opening for writing would
    /// fail on a file that is already read-only.
    pub fn open_for_attributes(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .access_mode(FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)
    }

    /// A new file inherits its folder's access rules; there is no mode to narrow.
    pub fn create_private(path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).create_new(true).open(path)
    }

    /// Windows has no umask: what a file may be is its folder's access rules.
    pub fn probe_umask() -> io::Result<u16> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_meta_follow_the_file() {
        let dir = crate::test_support::TempDir::new("file_meta");
        let path = dir.join("f");
        fs::write(&path, b"one").unwrap();
        let m1 = fs::metadata(&path).unwrap();
        let id1 = identity(&m1);
        assert_eq!(id1.len(), 32);
        assert!(id1.len() <= crate::file_service::protocol::MAX_IDENTITY);
        assert_eq!(&id1[..8], &3u64.to_be_bytes());
        assert_eq!(identity(&fs::metadata(&path).unwrap()), id1);
        fs::write(&path, b"three").unwrap();
        assert_ne!(identity(&fs::metadata(&path).unwrap()), id1);

        let meta = Meta::from_metadata(&fs::metadata(&path).unwrap());
        assert_eq!((meta.kind, meta.size), (Kind::File, 5));
        assert!(meta.mtime_ns > 0);
        assert_eq!(
            Meta::from_metadata(&fs::metadata(dir.path()).unwrap()).kind,
            Kind::Dir
        );
    }

    #[test]
    fn times_convert_both_ways_and_saturate() {
        assert_eq!(
            system_time_ns(ns_system_time(-1_500_000_000)),
            -1_500_000_000
        );
        // Windows keeps times in units of 100 ns: the largest time is cut to one.
        let max = system_time_ns(ns_system_time(i64::MAX));
        assert!((0..100).contains(&(i64::MAX - max)), "{max}");
        assert_eq!(system_time_ns(UNIX_EPOCH), 0);
    }

    #[test]
    fn a_mode_given_without_a_time_is_masked_by_the_umask() {
        let dir = crate::test_support::TempDir::new("file_meta");
        let path = dir.join("f");
        let file = create_private(&path).unwrap();
        assert!(
            create_private(&path).is_err(),
            "create_private replaced a file"
        );
        let mask = umask();
        if cfg!(unix) {
            assert_eq!(mode_bits(&file.metadata().unwrap()), 0o600 & !mask);
            // What a file created with 0o666 gets, the way the system does it.
            let plain = dir.join("plain");
            fs::write(&plain, b"").unwrap();
            assert_eq!(mode_bits(&fs::metadata(&plain).unwrap()), 0o666 & !mask);
            give_mode(&file, 0o4755).unwrap();
            assert_eq!(mode_bits(&file.metadata().unwrap()), 0o755 & !mask);
            give_mode(&file, 0o600).unwrap();
            assert_eq!(mode_bits(&file.metadata().unwrap()), 0o600);
        } else {
            assert_eq!(mask, 0);
            give_mode(&file, 0o444).unwrap();
            assert!(file.metadata().unwrap().permissions().readonly());
            give_mode(&file, 0o644).unwrap();
            assert!(!file.metadata().unwrap().permissions().readonly());
        }
    }

    #[test]
    fn apply_keeps_the_time_and_what_the_mode_can_say_here() {
        let dir = crate::test_support::TempDir::new("file_meta");
        let path = dir.join("f");
        fs::write(&path, b"x").unwrap();
        let when = 1_600_000_000_123_456_700i64;
        apply_to_path(&path, when, 0o444).unwrap();
        let m = fs::metadata(&path).unwrap();
        // Windows keeps times in units of 100 ns; the value above is a multiple.
        assert_eq!(m.modified().map(system_time_ns).unwrap(), when);
        assert!(m.permissions().readonly());
        assert_eq!(mode_bits(&m) & 0o222, 0);
        // A read-only file can be given its time and made writable again.
        apply_to_path(&path, when + 100, 0o640).unwrap();
        let m = fs::metadata(&path).unwrap();
        assert_eq!(m.modified().map(system_time_ns).unwrap(), when + 100);
        assert!(!m.permissions().readonly());
        if cfg!(unix) {
            assert_eq!(mode_bits(&m), 0o640);
            // Set-id bits are never applied.
            apply_to_path(&path, when, 0o4755).unwrap();
            assert_eq!(mode_bits(&fs::metadata(&path).unwrap()), 0o755);
        } else {
            assert_eq!(mode_bits(&m), 0o644);
        }
    }
}
