//! The server named after `file_shell`'s options, as ssh and sftp users type it: `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT` (a bare IPv6 address has colons of its own, so it takes no port).

/// `HOST[:PORT]` split into the host and the port, if one was given.
pub fn host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "invalid port '{p}' in '{text}': a server's port is from 1 to 65535"
        )),
        Ok(n) => Ok(Some(n)),
    };
    if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "'{text}': an IPv6 address in [ ] needs its closing ]"
            ));
        };
        return match after {
            "" => Ok((host.to_owned(), None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host.to_owned(), port(p)?)),
                None => Err(format!("'{text}': after ] only :PORT may follow")),
            },
        };
    }
    let (host, given) = match text.rsplit_once(':') {
        // One colon: HOST:PORT. More: an IPv6 address on its own.
        Some((host, p)) if !host.contains(':') => (host, port(p)?),
        _ => (text, None),
    };
    if host.is_empty() {
        return Err(format!("'{text}': no host name"));
    }
    Ok((host.to_owned(), given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_sftp_users_type() {
        let ok = |t: &str| host_port(t).unwrap();
        assert_eq!(ok("example.org"), ("example.org".into(), None));
        assert_eq!(ok("127.0.0.1:2222"), ("127.0.0.1".into(), Some(2222)));
        assert_eq!(ok("[::1]:2222"), ("::1".into(), Some(2222)));
        assert_eq!(ok("[::1]"), ("::1".into(), None));
        assert_eq!(ok("::1"), ("::1".into(), None));
        assert_eq!(ok("fe80::1"), ("fe80::1".into(), None));
        for bad in [
            "host:0",
            "host:http",
            "host:",
            ":80",
            "[::1",
            "[::1]x",
            "[::1]:99999",
            "",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
