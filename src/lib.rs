//! Shared code for the socket tutorial's binaries: one module per idea.

pub mod cli;
pub mod encoding;
pub mod errno;
pub mod escape;
pub mod file_meta;
pub mod fileserver;
pub mod glob;
pub mod input;
pub mod log;
pub mod manpage;
pub mod net;
pub mod os_name;
pub mod progress;
pub mod protocol;
pub mod root;
pub mod server;
pub mod sha256;
pub mod shell;
pub mod show;
pub mod terminal;
pub mod token;
pub mod trace;
pub mod transfer;
pub mod udp;

#[cfg(test)]
mod test_support;

/// The seven programs this crate builds (`src/bin/`), in the tutorial's order: each has a
/// manual page, and the demo runs them all.
pub const PROGRAMS: [&str; 7] = [
    "tcp_server",
    "tcp_client",
    "download_server",
    "download_client",
    "udp_receiver",
    "udp_sender",
    "file_shell",
];
