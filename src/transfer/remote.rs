//! The small requests of a file-shell session: AUTH, STAT, LIST, MKDIR, RENAME, REMOVE and RMDIR, each one frame out and one answer back.

use super::{unexpected, Connection, TransferError};
use crate::escape;
use crate::protocol::{Entry, Meta, Request, Response};

/// Most entries one LIST may bring: a directory of a million files still
/// lists, a server that never says LAST cannot grow this client past it.
pub const MAX_LIST_ENTRIES: usize = 1_000_000;

/// Most bytes of names one LIST may bring (64 MiB), the other half of that bound:
/// with the entries themselves (about 56 bytes each) a listing costs at most
/// about 120 MB however the server behaves.
pub const MAX_LIST_NAME_BYTES: usize = 64 * 1024 * 1024;

impl Connection {
    /// STAT: kind, size and time of a remote path.
    pub fn stat(&mut self, remote: &[u8]) -> Result<Meta, TransferError> {
        self.send(&Request::Stat {
            path: remote.to_vec(),
        })?;
        match self.read_response("the answer to STAT")? {
            Response::Stat(meta) => Ok(meta),
            Response::Error(reply) => Err(TransferError::Refused(reply)),
            other => Err(unexpected(&other)),
        }
    }

    /// AUTH: present the server's token (docs/PROTOCOL.md 4.2).
    pub fn auth(&mut self, token: &[u8]) -> Result<(), TransferError> {
        self.expect_ok(&Request::Auth {
            token: token.to_vec(),
        })
    }

    /// LIST: the entries of a remote directory (`""` is the root), gathered
    /// from all LISTING chunks in the order the server sent them (it streams
    /// them as it reads the directory: sorting is the caller's job).
    ///
    /// The whole reply is bounded ([`MAX_LIST_ENTRIES`], [`MAX_LIST_NAME_BYTES`]),
    /// not only each frame: past either bound the listing is given up and the
    /// connection with it (the rest of the listing is still on its way).
    pub fn list(&mut self, remote: &[u8]) -> Result<Vec<Entry>, TransferError> {
        self.send(&Request::List {
            path: remote.to_vec(),
        })?;
        let mut all = Vec::new();
        let mut name_bytes = 0usize;
        loop {
            match self.read_response("the listing")? {
                Response::Listing { entries, last } => {
                    name_bytes += entries.iter().map(|e| e.name.len()).sum::<usize>();
                    all.extend(entries);
                    if all.len() > MAX_LIST_ENTRIES || name_bytes > MAX_LIST_NAME_BYTES {
                        return Err(TransferError::Broken(format!(
                            "the listing of {} passed {} entries and {} bytes of names, more \
                             than this client takes in one listing ({MAX_LIST_ENTRIES} entries, \
                             {MAX_LIST_NAME_BYTES} bytes); it was given up, and the connection \
                             with it",
                            escape::name(remote),
                            all.len(),
                            name_bytes
                        )));
                    }
                    if last {
                        return Ok(all);
                    }
                }
                Response::Error(reply) => return Err(TransferError::Refused(reply)),
                other => return Err(unexpected(&other)),
            }
        }
    }

    /// MKDIR: one directory, whose parent must exist.
    pub fn mkdir(&mut self, remote: &[u8]) -> Result<(), TransferError> {
        self.expect_ok(&Request::Mkdir {
            path: remote.to_vec(),
        })
    }

    /// REMOVE: one file (or link; never what it points to).
    pub fn remove_file(&mut self, remote: &[u8]) -> Result<(), TransferError> {
        self.expect_ok(&Request::RemoveFile {
            path: remote.to_vec(),
        })
    }

    /// RMDIR: one empty directory.
    pub fn remove_dir(&mut self, remote: &[u8]) -> Result<(), TransferError> {
        self.expect_ok(&Request::RemoveDir {
            path: remote.to_vec(),
        })
    }

    /// RENAME; with `overwrite` an existing file at `to` is replaced.
    pub fn rename(&mut self, from: &[u8], to: &[u8], overwrite: bool) -> Result<(), TransferError> {
        self.expect_ok(&Request::Rename {
            from: from.to_vec(),
            to: to.to_vec(),
            overwrite,
        })
    }

    fn expect_ok(&mut self, request: &Request) -> Result<(), TransferError> {
        self.send(request)?;
        let awaiting = format!("the answer to {}", request.name());
        match self.read_response(&awaiting)? {
            Response::Ok => Ok(()),
            Response::Error(reply) => Err(TransferError::Refused(reply)),
            other => Err(unexpected(&other)),
        }
    }
}
