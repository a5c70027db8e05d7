//! Shared code for the socket tutorial's binaries: one module per idea.

pub mod protocol;
pub mod sha256;
