//! The token over loopback: it never crosses the wire (a relay in the test reads every byte), wrong ones are answered slower and logged once per burst, and blank or control-byte tokens stop every program at start.

mod common;

use common::{command, describe, download_server, framed, prove, Spawn, TempDir, TIMEOUT};
use socket_tutorial::file_service::protocol::{ErrorCode, Request, Response};
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TOKEN: &[u8] = b"sniff-me-if-you-can-7f3a9c";

/// A relay to `server` for any number of connections, keeping a copy of
/// every byte each way: (client to server, server to client).
type Captured = Arc<Mutex<(Vec<u8>, Vec<u8>)>>;

fn recording_proxy(server: SocketAddr) -> (SocketAddr, Captured) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
    let addr = listener.local_addr().expect("the relay's address");
    let captured: Captured = Arc::default();
    let all = Arc::clone(&captured);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(upstream) = TcpStream::connect(server) else {
                return;
            };
            for (from, to, upward) in [
                (client.try_clone(), upstream.try_clone(), true),
                (upstream.try_clone(), client.try_clone(), false),
            ] {
                let (Ok(mut from), Ok(mut to)) = (from, to) else {
                    return;
                };
                let all = Arc::clone(&all);
                thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        {
                            let mut seen = all.lock().expect("no panics while locked");
                            let way = if upward { &mut seen.0 } else { &mut seen.1 };
                            way.extend_from_slice(&buf[..n]);
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    (addr, captured)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_token_never_crosses_the_wire() {
    let tmp = TempDir::new("tok-sniff");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("secret.txt"), b"for token holders").unwrap();
    let token_file = tmp.join("token");
    fs::write(&token_file, [TOKEN, b"\n"].concat()).unwrap();
    let mut srv = download_server(&root, &["--token-file", token_file.to_str().unwrap()]);
    srv.wait_for("token required");
    let (relay, captured) = recording_proxy(srv.connect_addr());

    let cwd = tmp.join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let out = command("download_client")
        .args(["--host", &relay.to_string(), "--token-file"])
        .arg(&token_file)
        .arg("secret.txt")
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        fs::read(cwd.join("copy-secret.txt")).unwrap(),
        b"for token holders"
    );
    srv.wait_for("auth -> ok");

    let (up, down) = captured.lock().unwrap().clone();
    // The exchange happened through the relay: a CHALLENGE down, an AUTH up
    // (each a 33-byte frame: type and 32 bytes)...
    assert!(contains(&down, &[0, 0, 0, 33, 0x87]), "no CHALLENGE seen");
    assert!(contains(&up, &[0, 0, 0, 33, 0x01]), "no AUTH seen");
    assert!(
        contains(&down, b"for token holders"),
        "the file went through"
    );
    // ...and the token itself went neither way, nor any long piece of it.
    for piece in TOKEN.windows(8) {
        assert!(!contains(&up, piece), "client to server: {piece:?}");
        assert!(!contains(&down, piece), "server to client: {piece:?}");
    }
}

#[test]
fn wrong_tokens_are_answered_slower_and_logged_once_per_burst() {
    let tmp = TempDir::new("tok-slow");
    let token_file = tmp.join("token");
    fs::write(&token_file, TOKEN).unwrap();
    let mut srv = download_server(tmp.path(), &["--token-file", token_file.to_str().unwrap()]);
    srv.wait_for("token required");

    // Each attempt after the Nth wrong token waits at least 100 ms * 2^(N-1)
    // before its answer (docs/PROTOCOL.md 4.2): 0, 100, 200, 400 ms.
    let minimum = [0, 100, 200, 400].map(Duration::from_millis);
    for (i, wait) in minimum.into_iter().enumerate() {
        let (mut s, hello) = framed(srv.connect_addr());
        assert!(hello.token_required);
        let asked = Instant::now();
        let Response::Error(err) = prove(&mut s, format!("guess {i}").as_bytes()) else {
            panic!("a wrong token was accepted")
        };
        let took = asked.elapsed();
        assert_eq!((err.code, err.closing), (ErrorCode::Unauthorized, true));
        assert!(took >= wait, "attempt {}: answered after {took:?}", i + 1);
    }
    // Right or wrong, the next attempt from this address waits too (else a
    // guesser would just not wait for slow answers); the right one still works.
    let (mut s, _) = framed(srv.connect_addr());
    let asked = Instant::now();
    assert_eq!(prove(&mut s, TOKEN), Response::Ok);
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "answered after {took:?}"
    );
    srv.wait_for("auth -> ok");

    // Four wrong tokens, one refusal in the log and one line for the burst.
    let lines = srv.stdout_lines();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("auth -> refused: wrong token"), 1, "{lines:#?}");
    assert_eq!(count("127.0.0.1: a wrong token; until"), 1, "{lines:#?}");
}

#[test]
fn blank_and_control_tokens_stop_every_program_at_start() {
    let tmp = TempDir::new("tok-bad");
    // Nothing listens here: a program that got as far as connecting would
    // fail with another message.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let cases: [(&str, &[u8], &str); 5] = [
        ("spaces", b"  \n", "the token is only spaces"),
        ("space", b" ", "the token is only spaces"),
        (
            // Not "nul": Windows keeps that name for its null device.
            "zero-byte",
            b"ab\0cd\n",
            "the token holds the control byte 0x00 (at byte 3)",
        ),
        (
            "escape",
            b"ab\x1b[2Jcd\n",
            "the token holds the control byte 0x1b (at byte 3)",
        ),
        (
            "tab",
            b"correct\thorse\n",
            "the token holds the control byte 0x09 (at byte 8)",
        ),
    ];
    for (name, content, why) in cases {
        let file = tmp.join(name);
        fs::write(&file, content).unwrap();
        let runs = [
            ("download_server", vec!["--port", "0", "--root", "."]),
            ("download_client", vec!["--port", &port, "notes.txt"]),
            ("file_shell", vec!["--port", &port]),
        ];
        for (bin, args) in runs {
            let out = command(bin)
                .args(&args)
                .arg("--token-file")
                .arg(&file)
                .current_dir(tmp.path())
                .timeout(TIMEOUT)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{bin} {name}: {}",
                describe(&out)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            let shown = format!("{bin}: error: {}: {why}", file.display());
            assert!(err.starts_with(&shown), "{bin} {name}: {err}");
            assert_eq!(err.lines().count(), 1, "{bin} {name}: {err}");
            assert!(out.stdout.is_empty(), "{bin} {name}: {}", describe(&out));
        }
    }
    // The variable is checked the same way.
    let mut srv = Spawn::new("download_server")
        .args(["--port", "0", "--root", "."])
        .current_dir(tmp.path())
        .env("DOWNLOAD_SERVER_TOKEN", "   ")
        .start();
    let status = srv.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", srv.transcript());
    assert!(
        srv.transcript()
            .contains("download_server: error: DOWNLOAD_SERVER_TOKEN: the token is only spaces"),
        "{}",
        srv.transcript()
    );
}

/// A client without a token, at a full server that wants one, says the server is busy:
/// the ERROR that follows the hello says so, and it is read before the missing token is
/// blamed.
#[test]
fn a_full_server_that_wants_a_token_is_reported_busy_to_a_client_without_one() {
    let tmp = TempDir::new("tok-busy");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::File::create(root.join("big.bin"))
        .and_then(|f| f.set_len(48 << 20))
        .unwrap();
    fs::write(root.join("a.txt"), b"a").unwrap();
    let token_file = tmp.join("token");
    fs::write(&token_file, [TOKEN, b"\n"].concat()).unwrap();
    let args = [
        "--token-file",
        token_file.to_str().unwrap(),
        "--max-clients",
        "1",
        "--body-timeout",
        "0",
    ];
    let mut srv = download_server(&root, &args);
    srv.wait_for("token required");
    // The one place, held by a download in progress (an idle client would make room).
    let (mut holder, _) = framed(srv.connect_addr());
    assert_eq!(prove(&mut holder, TOKEN), Response::Ok);
    let download = Request::Download {
        path: b"big.bin".to_vec(),
        offset: 0,
        identity: Vec::new(),
        want_sha256: false,
    };
    download.write_to(&mut holder).unwrap();
    assert!(matches!(
        Response::read_from(&mut holder).unwrap(),
        Some(Response::File { .. })
    ));
    let out = command("download_client")
        .args(["--port", &srv.connect_addr().port().to_string(), "a.txt"])
        .env_remove("DOWNLOAD_SERVER_TOKEN")
        .current_dir(&cwd)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        err.contains("busy: the server already has 1 clients") && !err.contains("wants a token"),
        "{}",
        describe(&out)
    );
    assert!(!cwd.join("copy-a.txt").exists());
}
