//! The token's challenge-response (docs/PROTOCOL.md 4.2, 5.1), and wrong tokens from one address answered slower and slower, logged once per burst.
//!
//! A server with a token sends a fresh nonce right after its hello; the
//! client's first frame must be AUTH with HMAC-SHA256(token, nonce). Guessing
//! is slowed per client host (an IPv4 address, an IPv6 /64, as
//! `--max-per-address` counts them): once a host has given a wrong token,
//! each of its attempts waits before it is answered, right or wrong (were a
//! right one answered at once, a guesser would stop waiting for the others),
//! 100 ms after the first failure, doubling, at most 5 s, until the host has
//! been quiet for a minute. The wait is spent on the client's own thread
//! before its answer, so it holds only the place the client already has,
//! and never longer than [`MAX_DELAY`].

use super::framed::read_request;
use super::reply::write_response;
use super::{FileServer, Then};
use crate::core::admission::Host;
use crate::core::server::deadline::Paced;
use crate::file_service::protocol::{ErrorCode, ErrorReply, ProtocolError, Request, Response};
use crate::file_service::token::{self, Token};
use crate::println;
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The wait before answering a host's attempt after its first wrong token.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait, however many wrong tokens came before.
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// A host with no wrong token for this long is answered at once again.
pub const QUIET: Duration = Duration::from_secs(60);
/// Hosts remembered at most; past this the one quiet longest is forgotten.
pub const MAX_HOSTS: usize = 4096;

impl FileServer {
    /// The start of a session with a server that wants a token: our CHALLENGE,
    /// then the client's first frame, which must be AUTH with the right
    /// proof; anything else is refused `unauthorized` and closed, and nothing
    /// is served. Refusals are logged, those of a burst once (see [`Failures`]).
    pub(super) fn authenticate(
        &self,
        token: &Token,
        reader: &mut dyn Read,
        stream: &Paced<'_>,
        addr: SocketAddr,
    ) -> io::Result<Then> {
        let nonce = token::nonce();
        write_response(stream, &Response::Challenge { nonce })?;
        let request = read_request(reader, stream);
        let started = Instant::now();
        stream.body();
        let why = match request {
            Ok(None) | Err(ProtocolError::Truncated) => {
                println!("{addr} left before presenting the token");
                return Ok(Then::Close);
            }
            Err(ProtocolError::Io(e)) => return Err(e),
            Err(e) => format!("sent a bad frame instead of the token: {e}"),
            Ok(Some(Request::Auth { proof })) => {
                let host = Host::of(addr.ip());
                thread::sleep(self.failures.delay(host, Instant::now()));
                if token.verifies(&nonce, &proof) {
                    write_response(stream, &Response::Ok)?;
                    self.log_request(addr, "auth", b"", "ok", 0, started);
                    return Ok(Then::Continue);
                }
                let notes = self.failures.failed(host, Instant::now());
                write_response(stream, &Response::Error(unauthorized()))?;
                // Inside a burst a wrong token is counted, not logged.
                if let Some(note) = notes {
                    self.log_request(
                        addr,
                        "auth",
                        b"",
                        "refused: wrong token; closed",
                        0,
                        started,
                    );
                    println!("{note}");
                }
                return Ok(Then::Close);
            }
            Ok(Some(other)) => format!("no token: sent a {} request first", other.name()),
        };
        write_response(stream, &Response::Error(unauthorized()))?;
        let result = format!("refused: {why}; closed");
        self.log_request(addr, "auth", b"", &result, 0, started);
        Ok(Then::Close)
    }
}

fn unauthorized() -> ErrorReply {
    ErrorReply::new(
        ErrorCode::Unauthorized,
        "unauthorized: this server wants a token (file_shell --token-file FILE, or DOWNLOAD_SERVER_TOKEN)",
    )
    .closing()
}

/// The wrong tokens of each host lately: how long its next attempt waits.
#[derive(Default)]
pub(super) struct Failures {
    bursts: Mutex<HashMap<Host, Burst>>,
}

/// A host's wrong tokens since its first one after a quiet time.
#[derive(Debug, Clone, Copy)]
struct Burst {
    first: Instant,
    last: Instant,
    count: u64,
}

impl Failures {
    /// How long an attempt from `host` waits before it is answered; logs the
    /// end of the bursts that have been quiet for [`QUIET`].
    pub(super) fn delay(&self, host: Host, now: Instant) -> Duration {
        let mut bursts = self.lock();
        for line in sweep(&mut bursts, now) {
            println!("{line}");
        }
        bursts
            .get(&host)
            .map_or(Duration::ZERO, |b| delay_after(b.count))
    }

    /// A wrong token from `host`: the line to log when it starts a burst or
    /// brings its count to a power of ten, else `None` (it is counted).
    pub(super) fn failed(&self, host: Host, now: Instant) -> Option<String> {
        let mut bursts = self.lock();
        if let Some(b) = bursts.get_mut(&host) {
            b.count += 1;
            b.last = now;
            return is_power_of_ten(b.count).then(|| {
                format!(
                    "{host}: {} wrong tokens in {}, still coming; each attempt from it now waits {}",
                    b.count,
                    seconds(now - b.first),
                    seconds(delay_after(b.count))
                )
            });
        }
        let mut forgot = None;
        if bursts.len() >= MAX_HOSTS {
            if let Some((&oldest, &b)) = bursts.iter().min_by_key(|(_, b)| b.last) {
                bursts.remove(&oldest);
                forgot = Some(format!(
                    "{oldest}: {} in {}, forgotten to make room ({MAX_HOSTS} addresses at most); ",
                    wrong_tokens(b.count),
                    seconds(b.last - b.first)
                ));
            }
        }
        bursts.insert(
            host,
            Burst {
                first: now,
                last: now,
                count: 1,
            },
        );
        Some(format!(
            "{}{host}: a wrong token; until this address has been quiet for {}, each attempt \
             from it waits before its answer ({} after this one, doubling up to {}) and wrong \
             ones are counted, not logged",
            forgot.unwrap_or_default(),
            seconds(QUIET),
            seconds(FIRST_DELAY),
            seconds(MAX_DELAY)
        ))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Host, Burst>> {
        self.bursts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forgets the bursts quiet for [`QUIET`]; one line for each.
fn sweep(bursts: &mut HashMap<Host, Burst>, now: Instant) -> Vec<String> {
    let mut lines = Vec::new();
    bursts.retain(|host, b| {
        let over = now.saturating_duration_since(b.last) >= QUIET;
        if over {
            lines.push(format!(
                "{host}: {} in {}, then quiet for {}: its attempts are answered at once again",
                wrong_tokens(b.count),
                seconds(b.last - b.first),
                seconds(QUIET)
            ));
        }
        !over
    });
    lines
}

/// The wait after `failures` wrong tokens: none, then 100 ms doubling up to [`MAX_DELAY`].
fn delay_after(failures: u64) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => FIRST_DELAY
            .saturating_mul(1 << (n - 1).min(16))
            .min(MAX_DELAY),
    }
}

/// 10, 100, 1000...: the counts at which a long burst is logged again.
fn is_power_of_ten(mut n: u64) -> bool {
    if n < 10 {
        return false;
    }
    while n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

fn wrong_tokens(count: u64) -> String {
    match count {
        1 => "1 wrong token".to_owned(),
        n => format!("{n} wrong tokens"),
    }
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn host(last: u8) -> Host {
        Host::of(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }

    #[test]
    fn the_wait_doubles_from_100_ms_to_5_s() {
        let waits: Vec<u128> = (0..10).map(|n| delay_after(n).as_millis()).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(delay_after(u64::MAX), MAX_DELAY);
    }

    #[test]
    fn a_burst_is_logged_when_it_starts_at_powers_of_ten_and_when_it_ends() {
        let f = Failures::default();
        let t0 = Instant::now();
        let (a, b) = (host(1), host(2));
        assert_eq!(f.delay(a, t0), Duration::ZERO);
        let start = f.failed(a, t0).expect("the first is logged");
        assert!(start.starts_with("127.0.0.1: a wrong token; "), "{start}");
        let mut logged = 0;
        for i in 2..=100u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 10);
            logged += usize::from(f.failed(a, at).is_some());
        }
        assert_eq!(logged, 2, "at 10 and at 100, no more");
        let at = t0 + Duration::from_secs(2);
        assert_eq!(f.delay(a, at), MAX_DELAY);
        assert_eq!(
            f.delay(b, at),
            Duration::ZERO,
            "another address is not slowed"
        );
        // Quiet for a minute: forgotten, and answered at once.
        let later = t0 + Duration::from_secs(1) + QUIET;
        assert_eq!(f.delay(a, later), Duration::ZERO);
        assert!(f.lock().is_empty());
        // An IPv6 /64 is one host.
        let v6 = |last: u16| {
            Host::of(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, last,
            )))
        };
        f.failed(v6(1), later);
        assert_eq!(f.delay(v6(2), later), FIRST_DELAY);
    }

    #[test]
    fn the_hosts_remembered_are_bounded() {
        let f = Failures::default();
        let t0 = Instant::now();
        for i in 0..MAX_HOSTS {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32));
            f.failed(Host::of(ip), t0 + Duration::from_millis(i as u64));
        }
        let line = f.failed(host(9), t0 + Duration::from_secs(10)).unwrap();
        assert!(
            line.starts_with("10.0.0.0: 1 wrong token in 0 ms, forgotten"),
            "{line}"
        );
        assert_eq!(f.lock().len(), MAX_HOSTS);
        assert_eq!(f.delay(host(9), t0 + Duration::from_secs(10)), FIRST_DELAY);
    }
}
