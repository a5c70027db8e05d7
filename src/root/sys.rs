//! Open flags and errno values that std does not name, per target, and where the numbers come from.
//!
//! std gives us `OpenOptionsExt::custom_flags` but no constants, and the crate takes no
//! dependency on `libc`. The values below were copied from the kernel/libc headers as
//! mirrored in the `libc` crate 0.2.191 (`src/unix/...`), file by file:
//! - Linux/Android: `linux_like/linux/gnu/b64/x86_64/mod.rs` and its siblings for each arch,
//!   `linux_like/android/mod.rs`, `linux_like/linux_l4re_shared.rs` (asm-generic `fcntl.h`
//!   and `errno.h`, with the arm/aarch64/powerpc/m68k, mips and sparc overrides).
//! - Apple: `bsd/apple/mod.rs`; FreeBSD/DragonFly: `bsd/freebsdlike/**`;
//!   NetBSD/OpenBSD: `bsd/netbsdlike/**`; shared BSD values: `bsd/mod.rs`.
//! - illumos/Solaris: `solarish/mod.rs`.
//!
//! On any other unix every flag is 0 and every errno is -1 (matches nothing): the module
//! still works there, but only the after-open dev+ino checks stand between a swapped
//! symbolic link and the caller (see docs/ROOT.md).

// The four values that differ between Linux architectures are O_DIRECTORY/O_NOFOLLOW
// (arm, aarch64, powerpc, powerpc64, m68k use 0o40000/0o100000, everyone else
// 0o200000/0o400000), and O_NONBLOCK/O_NOCTTY/ELOOP/ENOTEMPTY/ENAMETOOLONG on mips and sparc.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod consts {
    #[cfg(any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "m68k"
    ))]
    mod dir_flags {
        pub const O_DIRECTORY: i32 = 0x4000;
        pub const O_NOFOLLOW: i32 = 0x8000;
    }
    #[cfg(not(any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "m68k"
    )))]
    mod dir_flags {
        pub const O_DIRECTORY: i32 = 0x10000;
        pub const O_NOFOLLOW: i32 = 0x20000;
    }
    pub use dir_flags::{O_DIRECTORY, O_NOFOLLOW};

    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6"
    ))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x80;
        pub const O_NOCTTY: i32 = 0x800;
        pub const ELOOP: i32 = 90;
        pub const ENOTEMPTY: i32 = 93;
        pub const ENAMETOOLONG: i32 = 78;
    }
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x4000;
        pub const O_NOCTTY: i32 = 0x8000;
        pub const ELOOP: i32 = 62;
        pub const ENOTEMPTY: i32 = 66;
        pub const ENAMETOOLONG: i32 = 63;
    }
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "mips32r6",
        target_arch = "mips64r6",
        target_arch = "sparc",
        target_arch = "sparc64"
    )))]
    mod rest {
        pub const O_NONBLOCK: i32 = 0x800;
        pub const O_NOCTTY: i32 = 0x100;
        pub const ELOOP: i32 = 40;
        pub const ENOTEMPTY: i32 = 39;
        pub const ENAMETOOLONG: i32 = 36;
    }
    pub use rest::{ELOOP, ENAMETOOLONG, ENOTEMPTY, O_NOCTTY, O_NONBLOCK};
}

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos"
))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x4;
    pub const O_NOFOLLOW: i32 = 0x100;
    pub const O_DIRECTORY: i32 = 0x10_0000;
    pub const O_NOCTTY: i32 = 0x2_0000;
    pub const ELOOP: i32 = 62;
    pub const ENOTEMPTY: i32 = 66;
    pub const ENAMETOOLONG: i32 = 63;
}

#[cfg(any(
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd"
))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x4;
    pub const O_NOFOLLOW: i32 = 0x100;
    pub const O_NOCTTY: i32 = 0x8000;
    #[cfg(any(target_os = "freebsd", target_os = "openbsd"))]
    pub const O_DIRECTORY: i32 = 0x2_0000;
    #[cfg(target_os = "netbsd")]
    pub const O_DIRECTORY: i32 = 0x20_0000;
    #[cfg(target_os = "dragonfly")]
    pub const O_DIRECTORY: i32 = 0x800_0000;
    pub const ELOOP: i32 = 62;
    pub const ENOTEMPTY: i32 = 66;
    pub const ENAMETOOLONG: i32 = 63;
}

#[cfg(any(target_os = "illumos", target_os = "solaris"))]
mod consts {
    pub const O_NONBLOCK: i32 = 0x80;
    pub const O_NOFOLLOW: i32 = 0x2_0000;
    pub const O_DIRECTORY: i32 = 0x100_0000;
    pub const O_NOCTTY: i32 = 0x800;
    pub const ELOOP: i32 = 90;
    pub const ENOTEMPTY: i32 = 93;
    pub const ENAMETOOLONG: i32 = 78;
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "visionos",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "illumos",
    target_os = "solaris"
)))]
mod consts {
    // Unknown numbering: ask for nothing rather than for the wrong thing.
    pub const O_NONBLOCK: i32 = 0;
    pub const O_NOFOLLOW: i32 = 0;
    pub const O_DIRECTORY: i32 = 0;
    pub const O_NOCTTY: i32 = 0;
    pub const ELOOP: i32 = -1;
    pub const ENOTEMPTY: i32 = -1;
    pub const ENAMETOOLONG: i32 = -1;
}

pub(crate) use consts::{
    ELOOP, ENAMETOOLONG, ENOTEMPTY, O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK,
};

// These four share one value on every unix listed above (they date from V7).
pub(crate) const EXDEV: i32 = 18;
pub(crate) const ENOTDIR: i32 = 20;
pub(crate) const EISDIR: i32 = 21;
pub(crate) const EINVAL: i32 = 22;

/// Flags for every open we do: never follow the final component, never block on a FIFO
/// or device, never let a terminal become our controlling tty.
pub(crate) const OPEN_FILE: i32 = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
/// The same, plus "must be a directory", for the directory handles of a lookup.
pub(crate) const OPEN_DIR: i32 = OPEN_FILE | O_DIRECTORY;
