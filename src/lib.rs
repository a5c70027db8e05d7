//! Shared code for the socket tutorial's binaries: one module per idea.

pub mod glob;
pub mod progress;
pub mod protocol;
pub mod sha256;
