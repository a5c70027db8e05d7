//! Who gets a thread: `--max-clients` and `--max-per-address`, what a client past them is told, and whose place a newcomer may take.
//!
//! The accept loop calls [`Admission::admit`] once per client. It counts the
//! clients served (at most `--max-clients`) and the connections of each host
//! (at most `--max-per-address`, see [`Host`]), all under one lock that only this
//! module takes. A client within the limits gets a [`Seat`]; the seat goes
//! with the client's thread and, when the thread ends (even by a panic, or
//! when it cannot start), gives its place back. A client past a limit is
//! refused as the server's [`Refusal`] says: tcp_server writes one line;
//! download_server, whose tutorial clients would save any byte as the file,
//! gives a few of them a seat to be turned away in its framed protocol
//! ([`Seat::busy`]) and closes the rest without a byte.
//!
//! A server that knows when its clients are between requests
//! ([`Admission::making_room`], download_server) first makes room: when every
//! place is taken, the client that has waited longest for its next request (or
//! for its first: a connection that says nothing) is closed and its place goes
//! to the newcomer. A client moving a transfer is never closed so. The
//! connection's thread says which it is doing, [`transferring`] and
//! [`between_requests`] (download_server's deadlines call them).

use crate::core::cli::describe_io;
use crate::core::fold::Fold;
use crate::core::server::Options;
use crate::core::trace::Closer;
use crate::core::trace::Stream;
use crate::{eprintln, println};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Stack reserved for each client thread. The 2 MiB default is address space, not memory: a
/// thread uses only the pages it touches. But ten thousand threads would reserve 20 GiB, which
/// a system with strict overcommit (`vm.overcommit_memory=2`) or a 32-bit one refuses; 64 KiB
/// is 640 MiB for them. Our handlers need a few KiB (a 1 KiB read buffer, a formatted line);
/// `tests/tcp.rs` (`every_handler_path_runs_in_the_client_stack`) measures tcp_server's.
pub const CLIENT_STACK_BYTES: usize = 64 * 1024;

/// Clients closed to make room that are logged one by one in a second; the others of that
/// second are counted into one line.
const CLOSINGS_LOGGED: u32 = 10;

/// Clients past a limit that one host may have being turned away at once (download_server).
const TURN_AWAY_PER_HOST: usize = 2;

/// Clients closed to make room whose threads may not have ended yet. Such a thread ends as
/// soon as it sees its socket closed (at once on Linux and macOS; on Windows a read already
/// waiting runs to its timeout), so threads alive never pass `--max-clients` by more.
const LEAVING_AT_MOST: usize = 64;

/// What a server does with a client past `--max-clients` or `--max-per-address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Write one line (`server busy`) and close: tcp_server, whose clients print what they get.
    Line,
    /// Give up to `grace` of them (two per host) a seat to be told in the server's own
    /// protocol ([`Seat::busy`]); close the rest without a byte.
    TurnAway { grace: usize },
}

/// Which limit a client met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// `--max-clients` clients are connected.
    Full { max_clients: usize },
    /// The client's host already holds `--max-per-address` connections.
    Host { max_per_address: usize },
}

impl Busy {
    /// What a client is told, in a protocol that can say it.
    pub fn message(self) -> String {
        match self {
            Busy::Full { max_clients } => {
                format!("busy: the server already has {max_clients} clients; try again later")
            }
            Busy::Host { max_per_address } => format!(
                "busy: your address already has {max_per_address} connections to this server \
                 (--max-per-address); close one and try again"
            ),
        }
    }
}

/// The accept loop's one call that admits a client or refuses it.
pub struct Admission {
    counts: Arc<Mutex<Counts>>,
    max_clients: usize,
    max_per_address: Option<usize>,
    refusal: Refusal,
    /// Whether a newcomer to a full server takes the place of the client idle longest.
    make_room: bool,
    /// What the idle times of [`Place`]s count from.
    epoch: Instant,
    /// The lines of clients closed to make room: a crowd reconnecting as fast as it is
    /// closed would write hundreds of thousands a second.
    closings: Fold,
}

/// Places taken, overall and per host.
#[derive(Default)]
struct Counts {
    served: usize,
    turning_away: usize,
    /// Only hosts with a seat are here, so the table never holds more than the connections alive.
    hosts: HashMap<Host, Held>,
    /// The places served clients hold, when the server makes room ([`Admission::making_room`]).
    places: HashMap<u64, Arc<Place>>,
    next_place: u64,
    /// Clients closed to make room whose threads have not ended yet.
    leaving: usize,
}

/// A served client's place, as the server making room sees it: what it is doing, and how
/// to close it.
struct Place {
    id: u64,
    addr: SocketAddr,
    closer: Closer,
    epoch: Instant,
    /// [`TRANSFERRING`], [`CLOSED`], or idle since this many nanoseconds after `epoch`.
    state: AtomicU64,
}

/// [`Place::state`] while its client moves a transfer.
const TRANSFERRING: u64 = u64::MAX;
/// [`Place::state`] once it was closed to make room; its place is already given.
const CLOSED: u64 = u64::MAX - 1;

impl Place {
    fn now(&self) -> u64 {
        nanos_since(self.epoch)
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).map_or(CLOSED - 1, |n| n.min(CLOSED - 1))
}

thread_local! {
    /// The place of the client this thread serves, set by [`Seat::spawn`].
    static PLACE: RefCell<Option<Arc<Place>>> = const { RefCell::new(None) };
}

/// This thread's client is moving a transfer (an answer, an upload's bytes): its place is
/// not taken from it. Nothing on a thread that serves no client, or on a server that does
/// not make room.
pub fn transferring() {
    PLACE.with_borrow(|place| {
        if let Some(place) = place {
            let _ = place
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    (s != CLOSED).then_some(TRANSFERRING)
                });
        }
    });
}

/// This thread's client is between requests: from now on, when every place is taken, it
/// may be closed to make room. A client that has not yet made a request is idle since it
/// connected.
pub fn between_requests() {
    PLACE.with_borrow(|place| {
        if let Some(place) = place {
            let now = place.now();
            let _ = place.state.compare_exchange(
                TRANSFERRING,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    });
}

/// Whether this thread's client was closed to make room for another: its closing is logged
/// already (or counted, in a storm), so its end need not be.
pub fn closed_to_make_room() -> bool {
    PLACE.with_borrow(|place| {
        place
            .as_ref()
            .is_some_and(|p| p.state.load(Ordering::Acquire) == CLOSED)
    })
}

/// One host's seats.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    served: usize,
    turning_away: usize,
}

impl Admission {
    pub fn new(options: &Options, refusal: Refusal) -> Admission {
        Admission {
            counts: Arc::default(),
            max_clients: options.max_clients,
            max_per_address: options.max_per_address,
            refusal,
            make_room: false,
            epoch: Instant::now(),
            closings: Fold::new(CLOSINGS_LOGGED),
        }
    }

    /// When every place is taken, a newcomer takes the place of the client that has been
    /// idle longest (waiting for its next request, or for its first), which is closed; never
    /// one moving a transfer. For a server whose threads say what they do ([`transferring`],
    /// [`between_requests`]); `--max-per-address` still applies first.
    pub fn making_room(mut self) -> Admission {
        self.make_room = true;
        self
    }

    /// A seat for this client, or `None` when it was refused (and told so, and logged).
    pub fn admit(&self, stream: &Stream, addr: SocketAddr) -> Option<Seat> {
        let host = Host::of(addr.ip());
        let mut counts = lock(&self.counts);
        let held = counts.hosts.get(&host).copied().unwrap_or_default();
        let busy = match self.max_per_address {
            Some(max) if held.served >= max => Some(Busy::Host {
                max_per_address: max,
            }),
            _ if counts.served >= self.max_clients => Some(Busy::Full {
                max_clients: self.max_clients,
            }),
            _ => None,
        };
        let mut closed = None;
        let busy = match busy {
            Some(Busy::Full { .. }) if self.make_room => match self.make_room(&mut counts) {
                Some(place) => {
                    closed = Some(place);
                    None
                }
                None => busy,
            },
            busy => busy,
        };
        let Some(busy) = busy else {
            counts.served += 1;
            counts.hosts.entry(host).or_default().served += 1;
            let place = self.make_room.then(|| {
                let id = counts.next_place;
                counts.next_place += 1;
                let place = Arc::new(Place {
                    id,
                    addr,
                    closer: stream.closer(),
                    epoch: self.epoch,
                    state: AtomicU64::new(nanos_since(self.epoch)),
                });
                counts.places.insert(id, Arc::clone(&place));
                place
            });
            drop(counts);
            if let Some((place, idle)) = closed {
                place.closer.shutdown();
                self.log_closing(&place, idle, addr);
            }
            return Some(Seat {
                counts: Arc::clone(&self.counts),
                host,
                busy: None,
                place,
            });
        };
        if let Refusal::TurnAway { grace } = self.refusal {
            if counts.turning_away < grace && held.turning_away < TURN_AWAY_PER_HOST {
                counts.turning_away += 1;
                counts.hosts.entry(host).or_default().turning_away += 1;
                return Some(self.seat(host, Some(busy)));
            }
        }
        let served = counts.served;
        drop(counts);
        self.refuse(stream, addr, busy, held, served);
        None
    }

    /// The line of a client closed to make room for `addr`; in a storm of them, the first
    /// [`CLOSINGS_LOGGED`] of a second, then one line that counts the rest.
    fn log_closing(&self, place: &Place, idle: Duration, addr: SocketAddr) {
        let turn = self.closings.turn(Instant::now());
        if let Some((count, over)) = turn.folded {
            let s = if count == 1 { "" } else { "s" };
            println!(
                "closed {count} more idle client{s} to make room in the last {:.1} s (past \
                 {CLOSINGS_LOGGED} a second they are counted, not logged one by one)",
                over.as_secs_f64()
            );
        }
        if turn.print {
            println!(
                "closed {}: idle for {:.1} s while all {} places were taken, to make room for {addr}",
                place.addr,
                idle.as_secs_f64(),
                self.max_clients
            );
        }
    }

    fn seat(&self, host: Host, busy: Option<Busy>) -> Seat {
        Seat {
            counts: Arc::clone(&self.counts),
            host,
            busy,
            place: None,
        }
    }

    /// Gives up the place of the client idle longest, if any is idle (and not too many
    /// closed ones are still ending): the place is free at once, for the caller to take;
    /// the closed client's thread, when it ends, gives back nothing more. The place and
    /// how long it was idle, to be shut down and logged once the lock is released.
    fn make_room(&self, counts: &mut Counts) -> Option<(Arc<Place>, Duration)> {
        if counts.leaving >= LEAVING_AT_MOST {
            return None;
        }
        // A client may begin a transfer while we look: then it is not closed, and the
        // next idle one is looked for (a few times at most, not for ever).
        for _ in 0..4 {
            let (place, since) = counts
                .places
                .values()
                .filter_map(|p| {
                    let s = p.state.load(Ordering::Acquire);
                    (s < CLOSED).then_some((p, s))
                })
                .min_by_key(|&(_, s)| s)?;
            let now = nanos_since(self.epoch);
            if place
                .state
                .compare_exchange(since, CLOSED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            let place = Arc::clone(place);
            counts.leaving += 1;
            counts.served -= 1;
            let host = Host::of(place.addr.ip());
            if let Some(held) = counts.hosts.get_mut(&host) {
                held.served -= 1;
                if held.served == 0 && held.turning_away == 0 {
                    counts.hosts.remove(&host);
                }
            }
            return Some((place, Duration::from_nanos(now.saturating_sub(since))));
        }
        None
    }

    fn refuse(&self, stream: &Stream, addr: SocketAddr, busy: Busy, held: Held, served: usize) {
        let reply: &[u8] = match (self.refusal, busy) {
            (Refusal::TurnAway { .. }, _) => b"",
            (Refusal::Line, Busy::Full { .. }) => b"server busy\n",
            (Refusal::Line, Busy::Host { .. }) => {
                b"server busy: too many connections from your address\n"
            }
        };
        // The loop must never wait on a refused client: the line fits in an empty socket
        // buffer, or is dropped.
        let _ = stream.set_nonblocking(true);
        let _ = (&*stream).write_all(reply);
        match busy {
            Busy::Full { max_clients } => println!(
                "refused {addr}: server busy ({served} clients connected, --max-clients {max_clients})"
            ),
            Busy::Host { max_per_address } => {
                let (held, host) = (held.served, Host::of(addr.ip()));
                let s = if held == 1 { "" } else { "s" };
                println!(
                    "refused {addr}: {host} already has {held} connection{s} (--max-per-address {max_per_address})"
                )
            }
        }
    }
}

/// A client host, as `--max-per-address` counts them: an IPv4 address, or the /64 an IPv6
/// address lies in (a host there usually has a whole /64 to itself, so counting single
/// addresses would let it take every place). An IPv4 client reaching a dual-stack listener
/// (`::ffff:a.b.c.d`) counts as its IPv4 address.
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

/// A client's place, held by its thread; dropping it gives the place back.
pub struct Seat {
    counts: Arc<Mutex<Counts>>,
    host: Host,
    /// The limit this client met, when it has a seat only to be turned away.
    busy: Option<Busy>,
    /// Its place, when the server makes room ([`Admission::making_room`]).
    place: Option<Arc<Place>>,
}

impl Seat {
    /// `Some` when this client is past a limit and has its seat only to be told so.
    pub fn busy(&self) -> Option<Busy> {
        self.busy
    }

    /// Starts the client's own thread, which holds the seat until `serve` returns. If no
    /// thread can be started, the client is closed (its stream is in `serve`) and counted out.
    pub fn spawn(self, addr: SocketAddr, serve: impl FnOnce() + Send + 'static) {
        let started = thread::Builder::new()
            .stack_size(CLIENT_STACK_BYTES)
            .spawn(move || {
                PLACE.set(self.place.clone());
                let _seat = self;
                serve();
            });
        if let Err(err) = started {
            eprintln!(
                "{addr}: cannot start a thread for this client: {}",
                describe_io(&err)
            );
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(place) = &self.place {
            counts.places.remove(&place.id);
            // Its place was given to the newcomer it was closed for (under this lock).
            if place.state.load(Ordering::Acquire) == CLOSED {
                counts.leaving -= 1;
                return;
            }
        }
        let turning_away = self.busy.is_some();
        if turning_away {
            counts.turning_away -= 1;
        } else {
            counts.served -= 1;
        }
        if let Some(held) = counts.hosts.get_mut(&self.host) {
            if turning_away {
                held.turning_away -= 1;
            } else {
                held.served -= 1;
            }
            if held.served == 0 && held.turning_away == 0 {
                counts.hosts.remove(&self.host);
            }
        }
    }
}

fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    // Plain counters stay right after a panic elsewhere: every change is one statement.
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    fn admission(
        max_clients: usize,
        max_per_address: Option<usize>,
        refusal: Refusal,
    ) -> Admission {
        let options = Options {
            bind: "127.0.0.1".into(),
            port: 0,
            max_clients,
            max_per_address,
            idle_timeout: Some(Duration::from_secs(5)),
        };
        Admission::new(&options, refusal)
    }

    /// A connected pair: our side as the accept loop has it, and the client's.
    fn pair(listener: &TcpListener) -> (Stream, SocketAddr, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, addr) = listener.accept().unwrap();
        (Stream::accepted(ours, addr), addr, client)
    }

    fn read_all(mut client: TcpStream) -> Vec<u8> {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        got
    }

    #[test]
    fn places_are_taken_refused_and_given_back() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(2, None, Refusal::Line);
        let (a, addr_a, _ca) = pair(&listener);
        let (b, addr_b, _cb) = pair(&listener);
        let seat_a = admission.admit(&a, addr_a).expect("first place");
        let _seat_b = admission.admit(&b, addr_b).expect("second place");
        let (c, addr_c, client_c) = pair(&listener);
        assert!(admission.admit(&c, addr_c).is_none());
        drop(c);
        assert_eq!(read_all(client_c), b"server busy\n");
        drop(seat_a);
        let (d, addr_d, _cd) = pair(&listener);
        let _seat_d = admission
            .admit(&d, addr_d)
            .expect("a place given back is free again");
        assert_eq!(lock(&admission.counts).served, 2);
    }

    #[test]
    fn a_host_past_its_seats_is_told_so() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(10, Some(1), Refusal::Line);
        let (a, addr_a, _ca) = pair(&listener);
        let seat = admission.admit(&a, addr_a).expect("first seat");
        let (b, addr_b, client_b) = pair(&listener);
        assert!(admission.admit(&b, addr_b).is_none());
        drop(b);
        assert_eq!(
            read_all(client_b),
            b"server busy: too many connections from your address\n"
        );
        drop(seat);
        assert!(
            lock(&admission.counts).hosts.is_empty(),
            "a host with no seat is forgotten"
        );
    }

    #[test]
    fn turn_away_seats_are_bounded_per_host_and_in_all() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(1, None, Refusal::TurnAway { grace: 64 });
        let (a, addr_a, _ca) = pair(&listener);
        let served = admission.admit(&a, addr_a).expect("the one place");
        assert_eq!(served.busy(), None);
        let mut turned_away = Vec::new();
        for _ in 0..TURN_AWAY_PER_HOST {
            let (s, addr, c) = pair(&listener);
            let seat = admission.admit(&s, addr).expect("a seat to be turned away");
            assert_eq!(seat.busy(), Some(Busy::Full { max_clients: 1 }));
            turned_away.push((seat, c));
        }
        let (s, addr, client) = pair(&listener);
        assert!(admission.admit(&s, addr).is_none(), "two per host at most");
        drop(s);
        assert_eq!(
            read_all(client),
            b"",
            "past the grace: closed without a byte"
        );
        drop(turned_away);
        drop(served);
        let counts = lock(&admission.counts);
        assert_eq!((counts.served, counts.turning_away), (0, 0));
        assert!(counts.hosts.is_empty());
    }

    #[test]
    fn a_seat_is_given_back_when_its_thread_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(1, None, Refusal::Line);
        let (a, addr, _ca) = pair(&listener);
        let (done, finished) = std::sync::mpsc::channel();
        admission
            .admit(&a, addr)
            .expect("the one place")
            .spawn(addr, move || done.send(()).unwrap());
        finished.recv_timeout(Duration::from_secs(5)).unwrap();
        // The thread drops its seat just after `serve` returns.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lock(&admission.counts).served != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the seat was not given back"
            );
            thread::yield_now();
        }
    }

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
}
