//! Shared code for the socket tutorial's binaries, in two layers.
//!
//! - [`core`]: what the six tutorial programs stand on: sockets and the accept
//!   loop's admission, `--trace`, text encodings, escaping, the command line
//!   and printing. It imports nothing from the file service.
//! - [`file_service`]: what the framed protocol, `file_shell` and
//!   `download_server --writable` add beside them: the protocol, the served
//!   root, the file server, transfers, the shell and its terminal.

pub mod core;
pub mod file_service;

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

/// The manual page of one of our [`PROGRAMS`] from its `--help` (`make man`), with
/// file_shell's interactive commands from the table its `help` shows.
pub fn manual_page(name: &str, help: &str) -> String {
    if name == "file_shell" {
        let commands = file_service::shell::commands::manual_section();
        core::manpage::program_page_with(name, help, &[commands])
    } else {
        core::manpage::program_page(name, help)
    }
}
