//! The file protocol's frames as `--trace` shows them: one line each, decoded (`DOWNLOAD "notes.txt" offset 0 want-sha256`), names shown safely and the token never.

use crate::core::escape;
use crate::file_service::protocol::{
    Entry, ErrorReply, Kind, Meta, Request, Response, ServerHello,
};
use std::fmt::{self, Display, Formatter};

/// Entries of a LISTING frame named on its line; the rest are counted.
const ENTRIES_SHOWN: usize = 3;

/// Hex digits of a digest shown; the rest is `…`.
const HEX_SHOWN: usize = 8;

/// A request frame, for its trace line.
pub struct ShownRequest<'a>(pub &'a Request);

/// A response frame, for its trace line.
pub struct ShownResponse<'a>(pub &'a Response);

/// The client's hello, `version` the one it asks for.
pub struct ShownClientHello(pub u16);

/// The server's hello.
pub struct ShownServerHello<'a>(pub &'a ServerHello);

impl Display for ShownRequest<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = escape::name;
        match self.0 {
            // Not the token: its HMAC over this connection's nonce, useless elsewhere.
            Request::Auth { proof } => write!(f, "AUTH proof ({} bytes)", proof.len()),
            Request::Download {
                path,
                offset,
                identity,
                want_sha256,
            } => {
                write!(f, "DOWNLOAD {} offset {offset}", name(path))?;
                if !identity.is_empty() {
                    write!(f, " identity ({} bytes)", identity.len())?;
                }
                if *want_sha256 {
                    f.write_str(" want-sha256")?;
                }
                Ok(())
            }
            Request::List {
                path,
                owners: false,
            } => write!(f, "LIST {}", name(path)),
            Request::List { path, owners: true } => write!(f, "LIST_OWNERS {}", name(path)),
            Request::Stat { path } => write!(f, "STAT {}", name(path)),
            Request::Mkdir { path } => write!(f, "MKDIR {}", name(path)),
            Request::RemoveFile { path } => write!(f, "REMOVE {}", name(path)),
            Request::RemoveDir { path } => write!(f, "RMDIR {}", name(path)),
            Request::Chmod { path, mode } => write!(f, "CHMOD {} mode {mode:04o}", name(path)),
            Request::Upload {
                path,
                size,
                identity,
                resume,
                overwrite,
                attrs,
            } => {
                write!(f, "UPLOAD {} size {size}", name(path))?;
                if !identity.is_empty() {
                    write!(f, " identity ({} bytes)", identity.len())?;
                }
                if *resume {
                    f.write_str(" resume")?;
                }
                if *overwrite {
                    f.write_str(" overwrite")?;
                }
                if let Some(a) = attrs {
                    write!(f, " mode {:o}", a.mode)?;
                    if a.mtime_ns.is_some() {
                        f.write_str(" with-mtime")?;
                    }
                }
                Ok(())
            }
            Request::Rename {
                from,
                to,
                overwrite,
            } => {
                write!(f, "RENAME {} to {}", name(from), name(to))?;
                if *overwrite {
                    f.write_str(" overwrite")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for ShownResponse<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Response::Ok => f.write_str("OK"),
            Response::Error(reply) => ShownError(reply).fmt(f),
            Response::File {
                size,
                offset,
                identity,
            } => {
                let identity = identity.len();
                write!(
                    f,
                    "FILE size {size} offset {offset} identity ({identity} bytes)"
                )?;
                write!(f, " (then {} raw bytes)", size.saturating_sub(*offset))
            }
            Response::Digest(digest) => write!(f, "DIGEST sha256 {}", Hex(digest)),
            Response::Listing { entries, last } => {
                match entries.len() {
                    1 => f.write_str("LISTING 1 entry")?,
                    n => write!(f, "LISTING {n} entries")?,
                }
                for entry in entries.iter().take(ENTRIES_SHOWN) {
                    write!(f, " {}", ShownEntry(entry))?;
                }
                if entries.len() > ENTRIES_SHOWN {
                    f.write_str(" …")?;
                }
                if entries.iter().any(|e| e.meta.owner.is_some()) {
                    f.write_str(" (owners)")?;
                }
                if *last {
                    f.write_str(" (last)")?;
                }
                Ok(())
            }
            Response::Stat(meta) => write!(f, "STAT-REPLY {}", ShownMeta(meta)),
            Response::UploadReady { offset } => write!(f, "UPLOAD-READY offset {offset}"),
            Response::Challenge { nonce } => write!(f, "CHALLENGE nonce ({} bytes)", nonce.len()),
        }
    }
}

impl Display for ShownClientHello {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "HELLO version {}", self.0)
    }
}

impl Display for ShownServerHello<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let hello = self.0;
        write!(f, "HELLO version {}", hello.version)?;
        if hello.token_required {
            f.write_str(" token-required")?;
        }
        if hello.read_only {
            f.write_str(" read-only")?;
        }
        Ok(())
    }
}

struct ShownError<'a>(&'a ErrorReply);

impl Display for ShownError<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let reply = self.0;
        write!(
            f,
            "ERROR {} {}",
            reply.code,
            escape::name(reply.message.as_bytes())
        )?;
        if reply.closing {
            f.write_str(" closing")?;
        }
        Ok(())
    }
}

struct ShownEntry<'a>(&'a Entry);

impl Display for ShownEntry<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let entry = self.0;
        let name = escape::name(&entry.name);
        match entry.meta.kind {
            Kind::Dir => write!(f, "{name}/"),
            _ => write!(f, "{name} ({})", entry.meta.size),
        }
    }
}

struct ShownMeta<'a>(&'a Meta);

impl Display for ShownMeta<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let meta = self.0;
        let kind = match meta.kind {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        };
        // A directory's size says nothing (and differs between file systems).
        match meta.kind {
            Kind::Dir => write!(f, "{kind} mode {:o}", meta.mode),
            _ => write!(f, "{kind} size {} mode {:o}", meta.size, meta.mode),
        }
    }
}

/// The first [`HEX_SHOWN`] hex digits of some bytes, `…` when there are more; `-` for none.
struct Hex<'a>(&'a [u8]);

impl Display for Hex<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for b in self.0.iter().take(HEX_SHOWN / 2) {
            write!(f, "{b:02x}")?;
        }
        if self.0.len() > HEX_SHOWN / 2 {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_as_the_protocol_names_them() {
        let download = Request::Download {
            path: b"notes.txt".to_vec(),
            offset: 0,
            identity: Vec::new(),
            want_sha256: true,
        };
        assert_eq!(
            ShownRequest(&download).to_string(),
            "DOWNLOAD \"notes.txt\" offset 0 want-sha256"
        );
        let file = Response::File {
            size: 20000,
            offset: 0,
            identity: vec![0x3f, 0x2a, 0, 1, 2, 3],
        };
        assert_eq!(
            ShownResponse(&file).to_string(),
            "FILE size 20000 offset 0 identity (6 bytes) (then 20000 raw bytes)"
        );
        let auth = Request::Auth { proof: [0xab; 32] };
        assert_eq!(ShownRequest(&auth).to_string(), "AUTH proof (32 bytes)");
        let challenge = Response::Challenge { nonce: [1; 32] };
        assert_eq!(
            ShownResponse(&challenge).to_string(),
            "CHALLENGE nonce (32 bytes)"
        );
        let evil = Request::Stat {
            path: b"a\x1b[2J\n".to_vec(),
        };
        assert_eq!(ShownRequest(&evil).to_string(), "STAT \"a\\x1b[2J\\n\"");
        let list = Request::List {
            path: b"d".to_vec(),
            owners: true,
        };
        assert_eq!(ShownRequest(&list).to_string(), "LIST_OWNERS \"d\"");
        let owned = Response::Listing {
            entries: vec![Entry {
                name: b"x".to_vec(),
                meta: Meta {
                    kind: Kind::File,
                    size: 2,
                    mtime_ns: 0,
                    mode: 0o644,
                    owner: Some(crate::file_service::protocol::Owner { uid: 0, gid: 0 }),
                },
            }],
            last: true,
        };
        assert_eq!(
            ShownResponse(&owned).to_string(),
            "LISTING 1 entry \"x\" (2) (owners) (last)"
        );
    }
}
