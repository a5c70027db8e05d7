//! Permission bits from the shell: `chmod` on the server (a CHMOD request per match), `lumask` for what downloads get here, and `version`.

use super::words::Word;
use super::Shell;
use crate::file_service::file_meta;
use crate::file_service::protocol;

/// An octal mode or umask as typed (`644`, `0755`), at most `max`.
fn octal(text: &str, what: &str, max: u16) -> Result<u16, String> {
    let value =
        (!text.is_empty() && text.len() <= 4 && text.bytes().all(|b| (b'0'..=b'7').contains(&b)))
            .then(|| u16::from_str_radix(text, 8).ok())
            .flatten()
            .ok_or_else(|| {
                format!(
                    "{what}: {} is not an octal mode (644, 0755)",
                    crate::core::escape::text(text)
                )
            })?;
    if value > max {
        return Err(format!(
            "{what}: {text}: set-id and sticky bits are never applied by download_server; give at most {max:o}"
        ));
    }
    Ok(value)
}

impl Shell {
    /// `chmod MODE PATH...`: each match is changed, and named, as sftp does.
    pub(super) fn chmod(&mut self, args: &[Word]) -> Result<(), String> {
        let [mode, paths @ ..] = args else {
            return Err("usage: chmod MODE PATH...".into());
        };
        if paths.is_empty() {
            return Err("usage: chmod MODE PATH...".into());
        }
        let mode = octal(&mode.text, "chmod", 0o777)?;
        let (mut failed, mut total) = (0, 0);
        for word in paths {
            let matches = self.remote_matches(word, false);
            if matches.is_empty() {
                self.complain(&format!("{}: no match", word.text));
                failed += 1;
            }
            for (path, _) in matches {
                total += 1;
                self.say(&format!("Changing mode on {}", path.shown()))?;
                if let Err(e) = self.server.call(|c| c.chmod(&path.wire(), mode)) {
                    self.complain(&path.explain(&e.to_string()));
                    failed += 1;
                }
            }
        }
        if failed == 0 {
            Ok(())
        } else {
            Err(format!(
                "chmod failed for {failed} of {} names",
                total.max(paths.len())
            ))
        }
    }

    /// `lumask [UMASK]`: what `get` without -p takes away from the remote file's mode.
    pub(super) fn lumask(&mut self, args: &[Word]) -> Result<(), String> {
        match args {
            [] => {}
            [mask] => file_meta::set_umask(octal(&mask.text, "lumask", 0o777)?),
            _ => return Err("usage: lumask [UMASK]".into()),
        }
        self.say(&format!("Local umask: {:03o}", file_meta::umask()))
    }

    /// `version`: ours, and the protocol version of the session when there is one.
    pub(super) fn version(&mut self) -> Result<(), String> {
        let ours = format!(
            "file_shell {}, protocol version {} (PROTOCOL.md)",
            env!("CARGO_PKG_VERSION"),
            protocol::VERSION
        );
        let line = match self.server.connection() {
            Ok(conn) => format!(
                "{ours}; the server speaks version {}",
                conn.server_hello().version
            ),
            Err(e) => format!("{ours}; no server: {e}"),
        };
        self.say(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::octal;

    #[test]
    fn modes_are_octal_and_never_set_id() {
        assert_eq!(octal("644", "chmod", 0o777), Ok(0o644));
        assert_eq!(octal("0755", "chmod", 0o777), Ok(0o755));
        assert_eq!(octal("0", "chmod", 0o777), Ok(0));
        for bad in ["", "8", "64a", "-1", "00644", "+x", "u+x"] {
            assert!(octal(bad, "chmod", 0o777).is_err(), "{bad}");
        }
        let e = octal("4755", "chmod", 0o777).unwrap_err();
        assert!(e.contains("set-id"), "{e}");
    }
}
