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
