//! The few error numbers std has no `io::ErrorKind` for, one table per platform, and the questions we ask of them.
//!
//! Wherever std has a kind (`ConnectionRefused`, `ConnectionReset`,
//! `OutOfMemory`, `TimedOut`...) the code asks `err.kind()` and never looks at
//! a number. Three network conditions have no stable kind: a process out of
//! file descriptors, a system out of socket buffers, and a datagram too long
//! to send. Eight file-system ones have none at our MSRV (1.80): the numbers
//! `root` matches (`ENOTDIR`, `EISDIR`, `ENOTEMPTY`, `ELOOP`, `ENAMETOOLONG`,
//! `EINVAL`, `EXDEV`, and Windows' bad-name error). Their numbers differ
//! between systems (and, on Linux, between CPU architectures), so each
//! platform's are listed once, in [`table`], with the header they come from.
//! On a system not listed every number is -1 (nothing matches) and every
//! question here answers "no": the caller then treats the error like any other.

use std::io;

/// True when the process or the system has no file descriptor left (`EMFILE`, `ENFILE`; Windows `WSAEMFILE`).
pub fn is_out_of_descriptors(err: &io::Error) -> bool {
    is_one_of(err, table::OUT_OF_DESCRIPTORS)
}

/// True when the system has no buffer space left for a socket (`ENOBUFS`; Windows `WSAENOBUFS`).
pub fn is_out_of_buffers(err: &io::Error) -> bool {
    is_one_of(err, table::OUT_OF_BUFFERS)
}

/// True when the system refused a datagram as too long (`EMSGSIZE`; Windows `WSAEMSGSIZE`).
pub fn is_message_too_long(err: &io::Error) -> bool {
    is_one_of(err, table::MESSAGE_TOO_LONG)
}

// The file-system numbers, for `root` to match (`Some(n) if n == errno::ELOOP`).
// -1 where a platform has no such error: no error carries it.
pub(crate) use table::{EBADNAME, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOTDIR, ENOTEMPTY, EXDEV};

fn is_one_of(err: &io::Error, numbers: &[i32]) -> bool {
    err.raw_os_error().is_some_and(|n| numbers.contains(&n))
}

/// Linux and Android. `EMFILE` 24 and `ENFILE` 23 are the same on every
/// architecture (include/uapi/asm-generic/errno-base.h); `ENOBUFS` and
/// `EMSGSIZE` are not, see [`arch`].
#[cfg(any(target_os = "linux", target_os = "android"))]
mod table {
    use super::arch;

    pub const OUT_OF_DESCRIPTORS: &[i32] = &[24, 23];
    pub const OUT_OF_BUFFERS: &[i32] = &[arch::ENOBUFS];
    pub const MESSAGE_TOO_LONG: &[i32] = &[arch::EMSGSIZE];
    pub use arch::{ELOOP, ENAMETOOLONG, ENOTEMPTY};

    // These four share one value on every unix (they date from V7).
    pub const EXDEV: i32 = 18;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    /// unix has no error for a name the file system cannot hold that ENAMETOOLONG does not cover.
    pub const EBADNAME: i32 = -1;
}

/// Most Linux architectures (x86, ARM, RISC-V, PowerPC, s390x...) and every
/// Android one: include/uapi/asm-generic/errno.h.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))
))]
mod arch {
    pub const ENOBUFS: i32 = 105;
    pub const EMSGSIZE: i32 = 90;
    pub const ELOOP: i32 = 40;
    pub const ENOTEMPTY: i32 = 39;
    pub const ENAMETOOLONG: i32 = 36;
}

/// Linux on MIPS keeps the System V numbers: arch/mips/include/uapi/asm/errno.h.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6"
    )
))]
mod arch {
    pub const ENOBUFS: i32 = 132;
    pub const EMSGSIZE: i32 = 97;
    pub const ELOOP: i32 = 90;
    pub const ENOTEMPTY: i32 = 93;
    pub const ENAMETOOLONG: i32 = 78;
}

/// Linux on SPARC keeps SunOS's (BSD) numbers: arch/sparc/include/uapi/asm/errno.h.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "sparc", target_arch = "sparc64")
))]
mod arch {
    pub const ENOBUFS: i32 = 55;
    pub const EMSGSIZE: i32 = 40;
    pub const ELOOP: i32 = 62;
    pub const ENOTEMPTY: i32 = 66;
    pub const ENAMETOOLONG: i32 = 63;
}

/// macOS, iOS and the BSDs share 4.4BSD's numbers: sys/errno.h of each
/// (xnu bsd/sys/errno.h, FreeBSD and OpenBSD sys/sys/errno.h).
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
mod table {
    pub const OUT_OF_DESCRIPTORS: &[i32] = &[24, 23]; // EMFILE, ENFILE
    pub const OUT_OF_BUFFERS: &[i32] = &[55]; // ENOBUFS
    pub const MESSAGE_TOO_LONG: &[i32] = &[40]; // EMSGSIZE
    pub const ELOOP: i32 = 62;
    pub const ENOTEMPTY: i32 = 66;
    pub const ENAMETOOLONG: i32 = 63;

    // These four share one value on every unix (they date from V7).
    pub const EXDEV: i32 = 18;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    /// unix has no error for a name the file system cannot hold that ENAMETOOLONG does not cover.
    pub const EBADNAME: i32 = -1;
}

/// illumos and Solaris keep the System V numbers: uts/common/sys/errno.h.
#[cfg(any(target_os = "illumos", target_os = "solaris"))]
mod table {
    pub const OUT_OF_DESCRIPTORS: &[i32] = &[24, 23]; // EMFILE, ENFILE
    pub const OUT_OF_BUFFERS: &[i32] = &[132]; // ENOBUFS
    pub const MESSAGE_TOO_LONG: &[i32] = &[97]; // EMSGSIZE
    pub const ELOOP: i32 = 90;
    pub const ENOTEMPTY: i32 = 93;
    pub const ENAMETOOLONG: i32 = 78;

    // These four share one value on every unix (they date from V7).
    pub const EXDEV: i32 = 18;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    /// unix has no error for a name the file system cannot hold that ENAMETOOLONG does not cover.
    pub const EBADNAME: i32 = -1;
}

/// Windows reports socket errors as Winsock codes, `WSABASEERR` (10000) plus
/// the BSD number: winsock2.h / winerror.h (`WSAEMFILE`, `WSAENOBUFS`,
/// `WSAEMSGSIZE`). There is no `ENFILE` counterpart.
#[cfg(windows)]
mod table {
    pub const OUT_OF_DESCRIPTORS: &[i32] = &[10024]; // WSAEMFILE
    pub const OUT_OF_BUFFERS: &[i32] = &[10055]; // WSAENOBUFS
    pub const MESSAGE_TOO_LONG: &[i32] = &[10040]; // WSAEMSGSIZE

    // The file-system errors are Win32 codes (winerror.h).
    /// ERROR_DIRECTORY: "The directory name is invalid" (a file where a directory must be).
    pub const ENOTDIR: i32 = 267;
    /// Windows reports a directory opened as a file as access denied; no separate number.
    pub const EISDIR: i32 = -1;
    /// ERROR_DIR_NOT_EMPTY.
    pub const ENOTEMPTY: i32 = 145;
    /// ERROR_CANT_RESOLVE_FILENAME: too many reparse points in one path.
    pub const ELOOP: i32 = 1921;
    /// ERROR_FILENAME_EXCED_RANGE.
    pub const ENAMETOOLONG: i32 = 206;
    /// Moving a directory into itself is refused before `MoveFileExW` sees it (`rename`).
    pub const EINVAL: i32 = -1;
    /// ERROR_NOT_SAME_DEVICE: a rename across volumes.
    pub const EXDEV: i32 = 17;
    /// ERROR_INVALID_NAME: a name the file system cannot hold.
    pub const EBADNAME: i32 = 123;
}

/// Any other system: nothing is known, so nothing matches.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris",
    windows
)))]
mod table {
    pub const OUT_OF_DESCRIPTORS: &[i32] = &[];
    pub const OUT_OF_BUFFERS: &[i32] = &[];
    pub const MESSAGE_TOO_LONG: &[i32] = &[];
    pub const ENOTDIR: i32 = -1;
    pub const EISDIR: i32 = -1;
    pub const ENOTEMPTY: i32 = -1;
    pub const ELOOP: i32 = -1;
    pub const ENAMETOOLONG: i32 = -1;
    pub const EINVAL: i32 = -1;
    pub const EXDEV: i32 = -1;
    pub const EBADNAME: i32 = -1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn each_question_matches_only_its_own_numbers() {
        for (question, numbers) in [
            (
                is_out_of_descriptors as fn(&io::Error) -> bool,
                table::OUT_OF_DESCRIPTORS,
            ),
            (is_out_of_buffers, table::OUT_OF_BUFFERS),
            (is_message_too_long, table::MESSAGE_TOO_LONG),
        ] {
            for &n in numbers {
                assert!(question(&io::Error::from_raw_os_error(n)), "{n}");
            }
        }
        let all = [
            table::OUT_OF_DESCRIPTORS,
            table::OUT_OF_BUFFERS,
            table::MESSAGE_TOO_LONG,
        ]
        .concat();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a number answers two questions");
        assert!(!is_message_too_long(&io::ErrorKind::Other.into()));
    }

    /// The table agrees with what this system really says: the message it gives for each number.
    #[test]
    fn the_numbers_are_this_systems() {
        let cases = [
            (table::OUT_OF_DESCRIPTORS, &["too many open"][..]),
            (table::OUT_OF_BUFFERS, &["buffer"][..]),
            // Windows words WSAEMSGSIZE as "a message sent on a datagram socket was larger than...".
            (table::MESSAGE_TOO_LONG, &["too long", "larger than"][..]),
        ];
        for (numbers, words) in cases {
            for &n in numbers {
                let text = io::Error::from_raw_os_error(n).to_string().to_lowercase();
                // Wine has no text for some Winsock numbers; real Windows has.
                if text.contains("formatmessagew() returned error") {
                    eprintln!("skipped {n}: this system has no message for it ({text})");
                    continue;
                }
                assert!(words.iter().any(|w| text.contains(w)), "{n}: {text}");
            }
        }
    }

    /// The file-system numbers are the ones this system gives for the same conditions.
    #[test]
    fn the_file_system_numbers_are_this_systems() {
        let dir = std::env::temp_dir().join(format!("errno-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("full/inner")).unwrap();
        std::fs::write(dir.join("file"), b"x").unwrap();
        let not_empty = std::fs::remove_dir(dir.join("full")).unwrap_err();
        let not_dir = std::fs::read_dir(dir.join("file/x")).unwrap_err();
        let too_long = std::fs::File::open(dir.join("n".repeat(300))).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(not_empty.raw_os_error(), Some(ENOTEMPTY), "{not_empty}");
        // Windows says "path not found" for a file used as a folder on the way, and names a
        // 300-character component invalid or too long depending on the path's form (Wine:
        // "not found"); the root meets those through its own checks first.
        if cfg!(unix) {
            assert_eq!(not_dir.raw_os_error(), Some(ENOTDIR), "{not_dir}");
            assert_eq!(too_long.raw_os_error(), Some(ENAMETOOLONG), "{too_long}");
        }
    }

    /// A real oversized datagram: loopback's own limit (65,535 bytes of IP packet) is refused with the number in the table.
    #[test]
    fn a_datagram_past_the_limit_is_message_too_long() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = sender
            .send_to(&vec![0u8; 70_000], receiver.local_addr().unwrap())
            .unwrap_err();
        assert!(is_message_too_long(&err), "{err:?}");
    }
}
