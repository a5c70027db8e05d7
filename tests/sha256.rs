//! SHA-256 against the FIPS 180-4 / NIST vectors, split updates around block edges, `sha256sum`, and a release-mode throughput check.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use socket_tutorial::file_service::sha256::{hash_reader, hex, Sha256};

fn digest_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[test]
fn nist_vectors() {
    assert_eq!(
        digest_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        digest_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        digest_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        digest_hex(
            b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
              hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        ),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    );
}

#[test]
fn one_million_a() {
    let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    assert_eq!(digest_hex(&vec![b'a'; 1_000_000]), expected);
    // The same message fed in odd-sized pieces that straddle block edges.
    let mut h = Sha256::new();
    let piece = [b'a'; 997];
    let mut left = 1_000_000;
    while left > 0 {
        let n = left.min(piece.len());
        h.update(&piece[..n]);
        left -= n;
    }
    assert_eq!(hex(&h.finalize()), expected);
}

/// Digests of `message(n)` computed with Python's hashlib, around the
/// 55/56-byte padding edge and the 64-byte block edges.
const AROUND_BLOCK_EDGES: [(usize, &str); 17] = [
    (
        0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        1,
        "ca358758f6d27e6cf45272937977a748fd88391db679ceda7dc7bf1f005ee879",
    ),
    (
        55,
        "e40272620990d5f772101e014a0fe168d9ab13215739a04bdcb4b9cadc303c75",
    ),
    (
        56,
        "5b3154594d65c2a11e797576e2b4ece47f48373d8acfc0ae2cc3b87ca7adaedc",
    ),
    (
        57,
        "bd73274967a968a1d4353b4096741c1c880d2356d44c63f0e7916c8efe59bccc",
    ),
    (
        63,
        "2caeed71c024d190f2f9633bdac2b8f283b1cb86dfe7709023ab70f11f747a1b",
    ),
    (
        64,
        "3483dc12a3fea6618642162f88124ea56e797597a97483d5ba597a42d98aaf6b",
    ),
    (
        65,
        "3a513663aae909c328f43e2d74265dc5ec35495c99dfde7b8f9dd37f297dfa40",
    ),
    (
        119,
        "c06b1fcfb8d206bb4fe8e8cde10de7af236f619ff29c720de0083f7377491fd9",
    ),
    (
        120,
        "f425d2567f5c636c99335e5e8bb04669475b3b8b6f7523bbabbd11115cef8550",
    ),
    (
        121,
        "a75b2c7abda3c75c6be3edc54578301604c241b5cc1b71f060e78d019624610f",
    ),
    (
        127,
        "2388ace1b8d638348c6720ec543c3dc1a2db3d73bf5c5f029536827b27b9b45f",
    ),
    (
        128,
        "43a42610c7b657d1ce21bf0255e86be7ea01aa9dddf0701f596e99a4c6f61001",
    ),
    (
        129,
        "35b3c29046f207cfca0f9e23b9ed7f9fd19084699c413286eadbc80833f374b6",
    ),
    (
        191,
        "906c63fb3ffc7f5049f48e06176389eeaffd5f0e60acad1d8a8032129abb7cca",
    ),
    (
        192,
        "b7fe17c15760409bc62d2194f66cbf1a415cd966cbcdda29fdf923dc818b1652",
    ),
    (
        193,
        "fb76e41fd9d570f4903a758f9846e93d5356234a16fa6d79a36fc9de21a0e2bc",
    ),
];

/// Varied bytes, so a bug that reorders or drops buffered bytes shows.
fn message(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

#[test]
fn lengths_around_block_edges() {
    for (n, expected) in AROUND_BLOCK_EDGES {
        assert_eq!(digest_hex(&message(n)), expected, "length {n}");
    }
}

#[test]
fn split_updates_at_every_point_give_the_same_digest() {
    for (n, expected) in AROUND_BLOCK_EDGES {
        let m = message(n);
        for i in 0..=n {
            // One split at every point, and a second one a block edge later.
            for j in [i, (i + 1).min(n), (i + 63).min(n), (i + 64).min(n)] {
                let mut h = Sha256::new();
                h.update(&m[..i]);
                h.update(&m[i..j]);
                h.update(&[]);
                h.update(&m[j..]);
                assert_eq!(hex(&h.finalize()), expected, "length {n}, splits {i}/{j}");
            }
        }
        let mut h = Sha256::new();
        for b in &m {
            h.update(std::slice::from_ref(b));
        }
        assert_eq!(hex(&h.finalize()), expected, "length {n}, byte by byte");
    }
}

/// Deterministic pseudo-random bytes (xorshift64), so the data has no
/// structure a broken implementation could get lucky on.
fn pseudo_random(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn agrees_with_sha256sum_on_a_few_megabytes() {
    match Command::new("sha256sum").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!("skipped: `sha256sum --version` exited with {}", o.status);
            return;
        }
        Err(e) => {
            eprintln!("skipped: sha256sum is not on PATH ({e})");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("sha256-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.bin");
    // 3 MiB + 17 bytes: not a whole number of blocks or read buffers.
    let data = pseudo_random(3 * 1024 * 1024 + 17, 0x9e37_79b9_7f4a_7c15);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&data))
        .unwrap();

    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    assert!(out.status.success(), "sha256sum failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let theirs = stdout.split_whitespace().next().unwrap().to_owned();

    let (ours, n) = hash_reader(&mut std::fs::File::open(&path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(hex(&ours), theirs);
    assert_eq!(hex(&Sha256::digest(&data)), theirs);
}

/// Run with `cargo test --release --test sha256 -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: only meaningful in release mode"]
fn throughput() {
    let data = pseudo_random(16 * 1024 * 1024, 1);
    let rounds = 16;
    // Warm up caches and the CPU clock before timing.
    let _ = Sha256::digest(&data);
    let start = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..rounds {
        h.update(&data);
    }
    let digest = h.finalize();
    let secs = start.elapsed().as_secs_f64();
    let mb = (data.len() * rounds) as f64 / 1e6;
    eprintln!(
        "sha256: {mb:.0} MB in {secs:.3} s = {:.0} MB/s (digest {})",
        mb / secs,
        &hex(&digest)[..16]
    );
    if !cfg!(debug_assertions) {
        assert!(mb / secs >= 200.0, "slower than 200 MB/s");
    }
}
