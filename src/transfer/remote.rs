//! The small requests of a file-shell session: AUTH, STAT, LIST, MKDIR, RENAME, REMOVE and RMDIR, each one frame out and one answer back.

use super::{unexpected, Connection, TransferError};
use crate::protocol::{Entry, Meta, Request, Response};

impl Connection {
    /// STAT: kind, size and time of a remote path.
    pub fn stat(&mut self, remote: &[u8]) -> Result<Meta, TransferError> {
        self.send(&Request::Stat {
            path: remote.to_vec(),
        })?;
        match self.read_response()? {
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

    /// LIST: the entries of a remote directory (`""` is the root), sorted by
    /// name bytes, gathered from all LISTING chunks.
    pub fn list(&mut self, remote: &[u8]) -> Result<Vec<Entry>, TransferError> {
        self.send(&Request::List {
            path: remote.to_vec(),
        })?;
        let mut all = Vec::new();
        loop {
            match self.read_response()? {
                Response::Listing { entries, last } => {
                    all.extend(entries);
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
        match self.read_response()? {
            Response::Ok => Ok(()),
            Response::Error(reply) => Err(TransferError::Refused(reply)),
            other => Err(unexpected(&other)),
        }
    }
}
