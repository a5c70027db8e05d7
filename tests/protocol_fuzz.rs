//! Randomized robustness test of the protocol parsers: random and mutated frames never panic, and whatever parses re-encodes to the same bytes.
//!
//! Std only, with a seeded SplitMix64. Every run prints its seed; replay a
//! failure with `PROTOCOL_FUZZ_SEED=<seed> cargo test --test protocol_fuzz`.
//! `PROTOCOL_FUZZ_CASES` changes the number of cases per direction. The same
//! generator then sends 1,000 frames to a live `download_server`, which must
//! answer or close every one and still serve a normal download afterwards,
//! while seeded attacks on its deadlines run alongside (a hello or a request
//! dripped a byte at a time, one stopped halfway, a download nobody reads):
//! each must be closed by the server, for its own reason.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::time::{SystemTime, UNIX_EPOCH};

use socket_tutorial::file_service::protocol::{
    parse_request, parse_response, Attrs, Entry, ErrorCode, ErrorReply, Kind, Meta, Owner,
    ProtocolError, Request, Response, DIGEST_LEN, FRAME_HEADER_LEN, MAX_ENTRIES, MAX_ERROR_MESSAGE,
    MAX_FRAME, MAX_IDENTITY, MAX_MODE, MAX_NAME, MAX_PATH, NONCE_LEN, PROOF_LEN,
};

const DEFAULT_REQUEST_CASES: usize = 100_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Lengths that sit on and around the interesting edges.
    fn len_upto(&mut self, min: usize, max: usize) -> usize {
        match self.below(10) {
            0 => min,
            1 => max,
            2 => self.range(max.saturating_sub(3).max(min), max),
            _ => self.range(min, max.min(min + 24)),
        }
    }

    fn name_bytes(&mut self, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"abcXYZ019._-/ \\*?[]";
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            match self.below(6) {
                0 => v.extend_from_slice("文件".as_bytes()),
                1 => v.extend_from_slice(&[0xce, 0xc4, 0xbc, 0xfe]),
                2 => v.push(self.next() as u8),
                _ => v.push(self.pick(ALPHABET)),
            }
        }
        v.truncate(len);
        v
    }

    fn path(&mut self) -> Vec<u8> {
        let len = self.len_upto(0, MAX_PATH);
        self.name_bytes(len)
    }

    fn u64_edge(&mut self) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => 1 << self.below(64),
            _ => self.next() >> self.below(64),
        }
    }
}

fn seed() -> u64 {
    match std::env::var("PROTOCOL_FUZZ_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("PROTOCOL_FUZZ_SEED={s:?} is not a u64"))
        }
        // A new seed every run explores new inputs; it is printed so a
        // failure can be replayed.
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed),
    }
}

fn cases(default: usize) -> usize {
    std::env::var("PROTOCOL_FUZZ_CASES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

fn random_request(rng: &mut Rng) -> Request {
    match rng.below(10) {
        0 => {
            let mut proof = [0u8; PROOF_LEN];
            proof.copy_from_slice(&rng.bytes(PROOF_LEN));
            Request::Auth { proof }
        }
        1 => {
            let offset = rng.u64_edge();
            let id_len = rng.len_upto(0, MAX_IDENTITY);
            Request::Download {
                path: rng.path(),
                offset,
                identity: rng.bytes(id_len),
                want_sha256: rng.percent(50),
            }
        }
        2 => Request::List {
            path: rng.path(),
            owners: rng.percent(50),
        },
        3 => Request::Stat { path: rng.path() },
        4 => Request::Mkdir { path: rng.path() },
        5 => {
            let size = rng.u64_edge();
            let id_len = rng.len_upto(0, MAX_IDENTITY);
            Request::Upload {
                path: rng.path(),
                size,
                identity: rng.bytes(id_len),
                resume: rng.percent(50),
                overwrite: rng.percent(50),
                attrs: rng.percent(50).then(|| Attrs {
                    mtime_ns: rng.percent(50).then(|| rng.u64_edge() as i64),
                    mode: (rng.next() as u16) & MAX_MODE,
                }),
            }
        }
        6 => Request::Rename {
            from: rng.path(),
            to: rng.path(),
            overwrite: rng.percent(50),
        },
        7 => Request::RemoveFile { path: rng.path() },
        8 => Request::Chmod {
            path: rng.path(),
            mode: (rng.next() as u16) & MAX_MODE,
        },
        _ => Request::RemoveDir { path: rng.path() },
    }
}

fn random_meta(rng: &mut Rng) -> Meta {
    Meta {
        kind: rng.pick(&[Kind::File, Kind::Dir, Kind::Symlink, Kind::Other]),
        size: rng.u64_edge(),
        mtime_ns: rng.u64_edge() as i64,
        mode: (rng.next() as u16) & MAX_MODE,
        owner: None,
    }
}

fn random_response(rng: &mut Rng) -> Response {
    match rng.below(8) {
        0 => Response::Ok,
        1 => {
            let len = rng.len_upto(0, MAX_ERROR_MESSAGE);
            let message = String::from_utf8_lossy(&rng.name_bytes(len)).into_owned();
            let mut reply = ErrorReply::new(rng.pick(&ErrorCode::ALL), &message);
            if rng.percent(50) {
                reply = reply.closing();
            }
            Response::Error(reply)
        }
        2 => {
            let size = rng.u64_edge();
            let offset = if size == 0 {
                0
            } else {
                rng.next() % (size.saturating_add(1).max(1))
            };
            let id_len = rng.len_upto(1, MAX_IDENTITY);
            Response::File {
                size,
                offset: offset.min(size),
                identity: rng.bytes(id_len),
            }
        }
        3 => {
            let mut d = [0u8; DIGEST_LEN];
            d.copy_from_slice(&rng.bytes(DIGEST_LEN));
            Response::Digest(d)
        }
        4 => {
            let count = rng.len_upto(0, MAX_ENTRIES);
            // All entries carry owners (the answer to LIST_OWNERS) or none.
            let owned = rng.percent(50);
            let entries = (0..count)
                .map(|_| {
                    let len = rng.len_upto(1, MAX_NAME);
                    let owner = owned.then(|| Owner {
                        uid: rng.next() as u32,
                        gid: rng.next() as u32,
                    });
                    Entry {
                        name: rng.name_bytes(len),
                        meta: Meta {
                            owner,
                            ..random_meta(rng)
                        },
                    }
                })
                .collect();
            Response::Listing {
                entries,
                last: rng.percent(50),
            }
        }
        5 => Response::Stat(random_meta(rng)),
        6 => {
            let mut nonce = [0u8; NONCE_LEN];
            nonce.copy_from_slice(&rng.bytes(NONCE_LEN));
            Response::Challenge { nonce }
        }
        _ => Response::UploadReady {
            offset: rng.u64_edge(),
        },
    }
}

fn be(bytes: &[u8], at: usize, width: usize) -> usize {
    bytes[at..at + width]
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
}

/// (offset, width, limit) of every length field of a valid frame, found by
/// walking the layout of docs/PROTOCOL.md independently of the parser.
fn length_fields(frame: &[u8], request: bool) -> Vec<(usize, usize, usize)> {
    let mut fields = vec![(0, 4, MAX_FRAME)];
    let ty = frame[4];
    let mut at = 5;
    // Walk a `bytesN` field: record its length and skip it.
    let mut field = |at: &mut usize, width: usize, limit: usize| {
        fields.push((*at, width, limit));
        *at += width + be(frame, *at, width);
    };
    match (request, ty) {
        (true, 0x02) | (true, 0x06) => {
            at += 9;
            field(&mut at, 1, MAX_IDENTITY);
            field(&mut at, 2, MAX_PATH);
        }
        (true, 0x03..=0x05) | (true, 0x08) | (true, 0x09) | (true, 0x0b) => {
            field(&mut at, 2, MAX_PATH)
        }
        (true, 0x07) => {
            at += 1;
            field(&mut at, 2, MAX_PATH);
            field(&mut at, 2, MAX_PATH);
        }
        (false, 0x81) => {
            at += 3;
            field(&mut at, 2, MAX_ERROR_MESSAGE);
        }
        (false, 0x82) => {
            at += 16;
            field(&mut at, 1, MAX_IDENTITY);
        }
        (false, 0x84) => {
            let count = be(frame, at + 1, 2);
            // OWNERS: uid and gid after each entry's mode.
            let owners = if frame[at] & 0x02 != 0 { 8 } else { 0 };
            fields.push((at + 1, 2, MAX_ENTRIES));
            at += 3;
            let mut walk = |at: &mut usize| {
                *at += 19 + owners;
                fields.push((*at, 1, MAX_NAME));
                *at += 1 + be(frame, *at, 1);
            };
            for _ in 0..count {
                walk(&mut at);
            }
        }
        _ => {}
    }
    fields
}

fn put_be(bytes: &mut [u8], at: usize, width: usize, value: u64) {
    for i in 0..width {
        bytes[at + i] = (value >> (8 * (width - 1 - i))) as u8;
    }
}

fn set_frame_len(bytes: &mut [u8]) {
    let len = (bytes.len() - FRAME_HEADER_LEN) as u64;
    put_be(bytes, 0, 4, len);
}

/// One fuzz input derived from a valid frame.
fn mutate(rng: &mut Rng, valid: &[u8], request: bool, other: &[u8]) -> (Vec<u8>, &'static str) {
    let mut b = valid.to_vec();
    match rng.below(8) {
        0 => (b, "valid"),
        1 => {
            for _ in 0..rng.range(1, 8) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            (b, "bit flips")
        }
        2 => {
            let cut = rng.below(b.len());
            b.truncate(cut);
            if rng.percent(50) && b.len() >= FRAME_HEADER_LEN {
                // Consistent outer length: the damage is inside the frame.
                set_frame_len(&mut b);
            }
            (b, "truncation")
        }
        3 | 4 => {
            let fields = length_fields(valid, request);
            let (at, width, limit) = fields[rng.below(fields.len())];
            let current = be(valid, at, width) as u64;
            let all_ones = if width == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * width)) - 1
            };
            let value = match rng.below(8) {
                0 => 0,
                1 => 1,
                2 => current.wrapping_sub(1),
                3 => current + 1,
                4 => limit as u64,
                5 => limit as u64 + 1,
                6 => all_ones,
                _ => rng.next(),
            } & all_ones;
            put_be(&mut b, at, width, value);
            if at != 0 && rng.percent(50) {
                set_frame_len(&mut b);
            }
            (b, "length-field edit")
        }
        5 => {
            for _ in 0..rng.range(1, 4) {
                let i = rng.below(b.len());
                let random = rng.next() as u8;
                b[i] = rng.pick(&[0x00, 0x01, 0x7f, 0x80, 0xff, random]);
            }
            (b, "byte overwrite")
        }
        6 => {
            if rng.percent(50) {
                b.extend_from_slice(other);
            } else {
                let n = rng.range(1, 16);
                b.extend(rng.bytes(n));
            }
            (b, "trailing bytes")
        }
        _ => {
            // Random body behind a consistent header and a plausible type,
            // so decoding gets past the first checks.
            let n = rng.range(0, 80);
            let mut r = vec![0, 0, 0, 0];
            r.push(if rng.percent(80) {
                if request {
                    rng.range(0, 10) as u8
                } else {
                    rng.range(0x7f, 0x87) as u8
                }
            } else {
                rng.next() as u8
            });
            r.extend(rng.bytes(n));
            if rng.percent(90) {
                set_frame_len(&mut r);
            } else {
                let len = rng.next() as u32;
                put_be(&mut r, 0, 4, u64::from(len));
            }
            (r, "random")
        }
    }
}

fn error_kind(e: &ProtocolError) -> &'static str {
    match e {
        ProtocolError::Truncated => "truncated",
        ProtocolError::TooLarge { .. } => "too large",
        ProtocolError::Malformed(_) => "malformed",
        ProtocolError::UnknownType(_) => "unknown type",
        ProtocolError::UnsupportedVersion(_) => "unsupported version",
        ProtocolError::Io(_) => "io",
    }
}

fn hex(b: &[u8]) -> String {
    let shown: Vec<String> = b.iter().take(96).map(|x| format!("{x:02x}")).collect();
    let more = if b.len() > 96 { " ..." } else { "" };
    format!("[{} bytes] {}{more}", b.len(), shown.join(" "))
}

type ParseFn<T> = fn(&[u8]) -> Result<(T, usize), ProtocolError>;
type ReadFn<T> = fn(&mut &[u8]) -> Result<Option<T>, ProtocolError>;
type EncodeFn<T> = fn(&T) -> Result<Vec<u8>, ProtocolError>;

/// The property both directions share: parse is total, agrees with the
/// stream reader, and a successful parse is the frame's only encoding.
fn check_one<T: PartialEq + std::fmt::Debug>(
    input: &[u8],
    what: &str,
    parse: ParseFn<T>,
    read: ReadFn<T>,
    encode: EncodeFn<T>,
) -> Result<&'static str, String> {
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| parse(input)))
        .map_err(|_| format!("parser panicked on {what}: {}", hex(input)))?;
    let mut stream = input;
    let streamed = panic::catch_unwind(AssertUnwindSafe(|| read(&mut stream)))
        .map_err(|_| format!("stream reader panicked on {what}: {}", hex(input)))?;
    match parsed {
        Ok((value, used)) => {
            if used > input.len() {
                return Err(format!("used {used} of {} bytes", input.len()));
            }
            let again = encode(&value)
                .map_err(|e| format!("parsed {value:?} but cannot re-encode it: {e}"))?;
            if again != input[..used] {
                return Err(format!(
                    "{what}: re-encoding differs\n input {}\n again {}",
                    hex(&input[..used]),
                    hex(&again)
                ));
            }
            match streamed {
                Ok(Some(s)) if s == value => Ok("parsed"),
                other => Err(format!(
                    "{what}: parse gave {value:?} but read_from gave {other:?}: {}",
                    hex(input)
                )),
            }
        }
        Err(e) => {
            let agree = match &streamed {
                Ok(None) => input.is_empty() && matches!(e, ProtocolError::Truncated),
                Ok(Some(_)) => false,
                Err(s) => error_kind(s) == error_kind(&e),
            };
            if agree {
                Ok(error_kind(&e))
            } else {
                Err(format!(
                    "{what}: parse refused with {e:?} but read_from gave {streamed:?}: {}",
                    hex(input)
                ))
            }
        }
    }
}

fn run(request: bool, default_cases: usize) {
    let seed = seed();
    let n = cases(default_cases);
    let direction = if request { "request" } else { "response" };
    eprintln!("{direction} fuzz: seed {seed} ({n} cases); replay with PROTOCOL_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let gen = |rng: &mut Rng| -> Vec<u8> {
        let encoded = if request {
            random_request(rng).encode()
        } else {
            random_response(rng).encode()
        };
        encoded.unwrap_or_else(|e| panic!("seed {seed}: generator made an invalid frame: {e}"))
    };
    let mut previous = gen(&mut rng);
    for case in 0..n {
        let valid = gen(&mut rng);
        let (input, what) = mutate(&mut rng, &valid, request, &previous);
        let verdict = if request {
            check_one(
                &input,
                what,
                parse_request,
                |r| Request::read_from(r),
                Request::encode,
            )
        } else {
            check_one(
                &input,
                what,
                parse_response,
                |r| Response::read_from(r),
                Response::encode,
            )
        };
        match verdict {
            Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
            Err(msg) => panic!(
                "{direction} fuzz case {case} failed (replay: PROTOCOL_FUZZ_SEED={seed}): {msg}"
            ),
        }
        if what == "valid" && !input.is_empty() {
            assert!(
                check_valid(&input, request),
                "seed {seed} case {case}: a valid frame was refused: {}",
                hex(&input)
            );
        }
        previous = valid;
    }
    eprintln!("{direction} fuzz outcomes: {outcomes:?}");
    if n >= 10_000 {
        // The generator must keep reaching both sides of every check, or
        // this test would pass without testing anything.
        for kind in [
            "parsed",
            "truncated",
            "too large",
            "malformed",
            "unknown type",
        ] {
            let seen = outcomes.get(kind).copied().unwrap_or(0);
            assert!(
                seen >= n / 200,
                "seed {seed}: only {seen} of {n} cases ended as {kind}: {outcomes:?}"
            );
        }
    }
}

fn check_valid(input: &[u8], request: bool) -> bool {
    if request {
        parse_request(input).is_ok()
    } else {
        parse_response(input).is_ok()
    }
}

#[test]
fn random_and_mutated_requests_never_panic_and_round_trip() {
    run(true, DEFAULT_REQUEST_CASES);
}

#[test]
fn random_and_mutated_responses_never_panic_and_round_trip() {
    run(false, DEFAULT_REQUEST_CASES / 2);
}

/// Frames sent to the live server, one connection each.
const LIVE_CASES: usize = 1_000;

/// Attacks on the live server's deadlines, run alongside the frames.
const ATTACKS: usize = 10;

/// One attack on a deadline (the live server has them all at 1 s).
#[derive(Debug, Clone, Copy)]
enum Attack {
    /// The hello, one byte every few hundred ms.
    DripHello,
    /// A whole hello, then a request one byte every few hundred ms.
    DripRequest,
    /// Part of a hello, then silence.
    HalfHello,
    /// A whole hello and part of a request, then silence.
    HalfFrame,
    /// A download of a large file, and not one byte read.
    StalledRead,
}

impl Attack {
    /// What the server's log says about the attacker at `addr` when it closes it.
    fn line(self, addr: &str) -> String {
        match self {
            Attack::DripHello | Attack::HalfHello => {
                format!("hello timeout: {addr} did not finish its hello within 1 s")
            }
            Attack::DripRequest | Attack::HalfFrame => {
                format!("request timeout: {addr} did not finish a request within 1 s")
            }
            Attack::StalledRead => format!("{addr} download \"big\" -> dropped: "),
        }
    }

    /// Starts the attack on a thread that holds its connection until the server closes it
    /// (a stalled reader's connection goes to `held`, for the test to keep); returns the
    /// attacker's address.
    fn start(
        self,
        server: SocketAddr,
        rng: &mut Rng,
        hello: &[u8],
        request: Vec<u8>,
        held: &mut Vec<TcpStream>,
    ) -> String {
        let mut s = TcpStream::connect(server).expect("connect an attacker");
        let addr = s.local_addr().expect("the attacker's address").to_string();
        let every = std::time::Duration::from_millis(rng.range(300, 500) as u64);
        let (now, drip): (Vec<u8>, Vec<u8>) = match self {
            Attack::DripHello => (Vec::new(), hello.to_vec()),
            Attack::DripRequest => (hello.to_vec(), request),
            Attack::HalfHello => (hello[..rng.range(1, hello.len() - 1)].to_vec(), Vec::new()),
            Attack::HalfFrame => {
                let mut bytes = hello.to_vec();
                bytes.extend_from_slice(&request[..rng.range(1, request.len() - 1)]);
                (bytes, Vec::new())
            }
            Attack::StalledRead => {
                let mut bytes = hello.to_vec();
                bytes.extend(
                    Request::Download {
                        path: b"big".to_vec(),
                        offset: 0,
                        identity: Vec::new(),
                        want_sha256: false,
                    }
                    .encode()
                    .expect("a valid DOWNLOAD"),
                );
                (bytes, Vec::new())
            }
        };
        if matches!(self, Attack::StalledRead) {
            // The attack itself: ask for a large file, then hold the connection and never
            // read it. The test keeps it until it ends; the server's log is what is checked.
            s.write_all(&now)
                .expect("send the stalled reader's request");
            held.push(s);
            return addr;
        }
        std::thread::spawn(move || {
            if s.write_all(&now).is_err() {
                return;
            }
            for b in drip {
                if !common::pace(&mut s, every) || s.write_all(&[b]).is_err() {
                    return;
                }
            }
            // Held (never read for itself) until the server closes it; the read only sees that.
            let _ = s.set_read_timeout(Some(common::TIMEOUT));
            let _ = s.read_to_end(&mut Vec::new());
        });
        addr
    }
}

#[test]
fn a_live_server_survives_random_frames_and_still_serves() {
    use common::{command, describe, Spawn, TempDir, TIMEOUT};
    let seed = seed();
    eprintln!(
        "live fuzz: seed {seed} ({LIVE_CASES} frames); replay with PROTOCOL_FUZZ_SEED={seed}"
    );
    let tmp = TempDir::new("fuzz-live");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let mut rng = Rng(seed ^ 0x11fe);
    let data = rng.bytes(1 << 20);
    std::fs::write(root.join("b"), &data).unwrap();
    // Far more than socket buffers hold: a download of it nobody reads blocks the server.
    let big = std::fs::File::create(root.join("big")).unwrap();
    big.set_len(64 << 20).unwrap();
    drop(big);
    let mut srv = Spawn::new("download_server")
        .args([
            "--port",
            "0",
            "--idle-timeout",
            "5",
            "--max-per-address",
            "0",
        ])
        .args(["--hello-timeout", "1", "--request-timeout", "1"])
        .args(["--body-timeout", "1", "--min-rate", "100000", "--root"])
        .args([&root])
        .server();
    let addr = srv.connect_addr();
    let hello = socket_tutorial::file_service::protocol::ClientHello::default().encode();
    let gen = |rng: &mut Rng| {
        random_request(rng)
            .encode()
            .unwrap_or_else(|e| panic!("seed {seed}: generator made an invalid frame: {e}"))
    };
    let kinds = [
        Attack::DripHello,
        Attack::DripRequest,
        Attack::HalfHello,
        Attack::HalfFrame,
        Attack::StalledRead,
    ];
    // The stalled readers' connections, kept open (and never read) until the test ends.
    let mut held = Vec::new();
    let attacks: Vec<(Attack, String)> = (0..ATTACKS)
        .map(|_| {
            let kind = rng.pick(&kinds);
            // A short request, so dripping it takes seconds, not hours.
            let len = rng.range(1, 12);
            let request = Request::Stat {
                path: rng.name_bytes(len),
            };
            let request = request.encode().expect("a valid STAT");
            (kind, kind.start(addr, &mut rng, &hello, request, &mut held))
        })
        .collect();
    let mut previous = gen(&mut rng);
    let mut answered = 0usize;
    for case in 0..LIVE_CASES {
        let valid = gen(&mut rng);
        let (input, what) = mutate(&mut rng, &valid, true, &previous);
        let mut s = TcpStream::connect(addr)
            .unwrap_or_else(|e| panic!("seed {seed} case {case}: the server is gone: {e}"));
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        // Mostly after a proper hello; sometimes bare, as a tutorial client would.
        let mut sent = Vec::new();
        if rng.percent(90) {
            sent.extend_from_slice(&hello);
        }
        sent.extend_from_slice(&input);
        // The server may close before reading everything: that is allowed.
        let _ = s.write_all(&sent);
        let _ = s.shutdown(Shutdown::Write);
        let mut reply = Vec::new();
        match s.read_to_end(&mut reply) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "seed {seed} case {case} ({what}): the server neither answered nor closed: {e}\n{}\n{}",
                hex(&sent),
                srv.transcript()
            ),
        }
        answered += usize::from(!reply.is_empty());
        previous = valid;
    }
    eprintln!("live fuzz: {answered} of {LIVE_CASES} connections got an answer");
    // Every attacker was closed, each for its own reason.
    let mut missing: Vec<String> = attacks.iter().map(|(kind, at)| kind.line(at)).collect();
    eprintln!(
        "live fuzz: attacks {:?}",
        attacks.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    while !missing.is_empty() {
        let Some(line) = srv.next_line() else {
            panic!("seed {seed}: the server never closed {missing:?}")
        };
        missing.retain(|m| !line.text().contains(m.as_str()));
    }
    let out = command("download_client")
        .args(["--port", &srv.port(), "--verify", "b"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "seed {seed}: {}", describe(&out));
    assert!(
        std::fs::read(cwd.join("copy-b")).unwrap() == data,
        "seed {seed}: copy differs"
    );
}
