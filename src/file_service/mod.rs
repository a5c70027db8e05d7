//! The file service beside the core: the framed protocol, the served root, the file server, transfers and `file_shell`.

pub mod file_meta;
pub mod fileserver;
pub mod glob;
pub mod os_name;
pub mod progress;
pub mod protocol;
pub mod root;
pub mod sha256;
pub mod shell;
pub mod terminal;
pub mod token;
pub mod transfer;
