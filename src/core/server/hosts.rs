//! How many connections each client host holds, for `--max-per-address`: one host must not take every place.
//!
//! A host is its IPv4 address, or the /64 an IPv6 address lies in (a host
//! there usually has a whole /64 to itself, so counting single addresses
//! would let it take every place). An IPv4 client reaching a dual-stack
//! listener (`::ffff:a.b.c.d`) counts as its IPv4 address. Only the accept
//! loop adds to a count, so checking and then adding is exact; a client's
//! thread gives its seat back when it ends, and a host with no seats left is
//! forgotten, so the table never holds more than the connections alive.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};

/// A client host, as `--max-per-address` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Host(IpAddr);

impl Host {
    pub fn of(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(v4) => Host(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Host(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Host(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Seats taken per host: served clients, and clients being turned away.
#[derive(Debug, Default, Clone, Copy)]
pub struct Held {
    pub served: usize,
    pub turning_away: usize,
}

/// The table of hosts with at least one seat.
#[derive(Default)]
pub struct Hosts {
    held: Mutex<HashMap<Host, Held>>,
}

impl Hosts {
    fn lock(&self) -> MutexGuard<'_, HashMap<Host, Held>> {
        // Plain counters stay usable after a panic elsewhere.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `host` holds now.
    pub fn held(&self, host: Host) -> Held {
        self.lock().get(&host).copied().unwrap_or_default()
    }

    /// A seat for `host`, as a served client or as one being turned away.
    pub fn take(&self, host: Host, turning_away: bool) {
        let mut held = self.lock();
        let entry = held.entry(host).or_default();
        if turning_away {
            entry.turning_away += 1;
        } else {
            entry.served += 1;
        }
    }

    /// Gives back a seat [`Hosts::take`] gave; a host with none left is forgotten.
    pub fn give_back(&self, host: Host, turning_away: bool) {
        let mut held = self.lock();
        if let Some(entry) = held.get_mut(&host) {
            if turning_away {
                entry.turning_away = entry.turning_away.saturating_sub(1);
            } else {
                entry.served = entry.served.saturating_sub(1);
            }
            if entry.served == 0 && entry.turning_away == 0 {
                held.remove(&host);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_addresses_and_ipv6_prefixes() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(Host::of(v4), Host::of(mapped));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Host::of(a), Host::of(b));
        assert_ne!(Host::of(a), Host::of(c));
        assert_eq!(Host::of(a).to_string(), "2001:db8:1:2::/64");
        assert_eq!(Host::of(v4).to_string(), "192.0.2.7");
    }

    #[test]
    fn seats_are_counted_and_given_back() {
        let hosts = Hosts::default();
        let host = Host::of("127.0.0.1".parse().unwrap());
        hosts.take(host, false);
        hosts.take(host, true);
        let held = hosts.held(host);
        assert_eq!((held.served, held.turning_away), (1, 1));
        hosts.give_back(host, false);
        hosts.give_back(host, true);
        assert!(hosts.lock().is_empty());
    }
}
