//! The core the six tutorial programs stand on: one module per idea, none of them about files.

pub mod admission;
pub mod cli;
pub mod encoding;
pub mod errno;
pub mod escape;
pub mod fold;
pub mod input;
pub mod local_time;
pub mod manpage;
pub mod net;
pub mod print;
pub mod server;
pub mod show;
pub mod trace;
pub mod udp;
