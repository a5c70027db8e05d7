//! The small requests of a file-shell session: AUTH, STAT, LIST, MKDIR, RENAME, REMOVE and RMDIR, each one frame out and one answer back.

use super::{unexpected, Connection, TransferError};
use crate::core::escape;
use crate::file_service::protocol::{Entry, Meta, Request, Response};
use crate::file_service::token::Token;

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

    /// AUTH: prove to a server that wants a token that this client holds it,
    /// by answering the CHALLENGE that follows its hello with the token's HMAC
    /// over the nonce (docs/PROTOCOL.md 4.2, 5.1). The token is never sent.
    pub fn auth(&mut self, token: &Token) -> Result<(), TransferError> {
        let nonce = match self.read_response("its CHALLENGE")? {
            Response::Challenge { nonce } => nonce,
            Response::Error(reply) => return Err(TransferError::Refused(reply)),
            other => return Err(unexpected(&other)),
        };
        self.expect_ok(&Request::Auth {
            proof: token.proof(&nonce),
        })
    }

    /// LIST: the entries of a remote directory (`""` is the root), gathered
    /// from all LISTING chunks in the order the server sent them (it streams
    /// them as it reads the directory: sorting is the caller's job).
    ///
    /// The whole reply is bounded ([`MAX_LIST_ENTRIES`], [`MAX_LIST_NAME_BYTES`]),
    /// not only each frame, and so is the number of frames: one that is not the
    /// last must bring an entry. Past any bound the listing is given up and the
    /// connection with it (the rest of the listing is still on its way).
    ///
    /// With `owners` it asks LIST_OWNERS: entries with owner and group where the
    /// server's system has them. A server older than LIST_OWNERS answers it as an
    /// unknown request and closes, as it does CHMOD.
    pub fn list(&mut self, remote: &[u8], owners: bool) -> Result<Vec<Entry>, TransferError> {
        self.send(&Request::List {
            path: remote.to_vec(),
            owners,
        })?;
        let mut all = Vec::new();
        let mut taken = Taken::default();
        loop {
            match self.read_response("the listing")? {
                Response::Listing { entries, last } => {
                    // A frame without progress: so many of them would cost time and work
                    // without end, while the bounds below count only entries and names.
                    if entries.is_empty() && !last {
                        return Err(TransferError::Broken(format!(
                            "the server broke the protocol: a LISTING of {} that holds no entry \
                             and is not the last; the listing was given up, and the connection with it",
                            escape::name(remote)
                        )));
                    }
                    if let Err(why) = taken.add(&entries) {
                        return Err(TransferError::Broken(format!(
                            "the listing of {} {why}; it was given up, and the connection with it",
                            escape::name(remote)
                        )));
                    }
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

    /// CHMOD: the permission bits of one file or directory (a link is refused, never
    /// followed). A server older than CHMOD answers it as an unknown request and closes.
    pub fn chmod(&mut self, remote: &[u8], mode: u16) -> Result<(), TransferError> {
        self.expect_ok(&Request::Chmod {
            path: remote.to_vec(),
            mode,
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

/// How much of one listing has arrived, against its bounds.
#[derive(Debug, Default)]
struct Taken {
    entries: usize,
    name_bytes: usize,
}

impl Taken {
    /// Counts one LISTING chunk; past either bound, says so.
    fn add(&mut self, chunk: &[Entry]) -> Result<(), String> {
        self.entries += chunk.len();
        self.name_bytes += chunk.iter().map(|e| e.name.len()).sum::<usize>();
        if self.entries > MAX_LIST_ENTRIES || self.name_bytes > MAX_LIST_NAME_BYTES {
            return Err(format!(
                "passed {} entries and {} bytes of names, more than this client takes in one \
                 listing ({MAX_LIST_ENTRIES} entries, {MAX_LIST_NAME_BYTES} bytes)",
                self.entries, self.name_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::protocol::{Kind, MAX_ENTRIES};

    #[test]
    fn a_listing_is_bounded_by_entries_and_by_bytes_of_names() {
        let chunk = |name_len: usize| -> Vec<Entry> {
            let meta = Meta {
                kind: Kind::File,
                size: 0,
                mtime_ns: 0,
                mode: 0,
                owner: None,
            };
            (0..MAX_ENTRIES)
                .map(|_| Entry {
                    name: vec![b'n'; name_len],
                    meta,
                })
                .collect()
        };
        // Many entries with short names: the entry bound.
        let short = chunk(1);
        let mut taken = Taken::default();
        let mut frames = 0;
        let why = loop {
            frames += 1;
            if let Err(why) = taken.add(&short) {
                break why;
            }
        };
        assert_eq!(frames, MAX_LIST_ENTRIES / MAX_ENTRIES + 1);
        assert!(
            why.starts_with("passed 1000064 entries and 1000064 bytes"),
            "{why}"
        );
        // Long names: the byte bound comes first.
        let long = chunk(255);
        let mut taken = Taken::default();
        let mut frames = 0;
        while taken.add(&long).is_ok() {
            frames += 1;
        }
        assert_eq!(frames, MAX_LIST_NAME_BYTES / (255 * MAX_ENTRIES));
        assert!(taken.entries < MAX_LIST_ENTRIES);
    }
}
