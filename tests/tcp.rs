//! tcp_server and tcp_client against each other, against raw sockets and against Python peers, over loopback.

mod common;

use common::{command, describe, Spawn, TIMEOUT};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const REPLY: &str = "ok, Processing Request Completion！";

fn server(args: &[&str]) -> common::Running {
    Spawn::new("tcp_server")
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .args(args)
        .server()
}

fn connect(server: &common::Running) -> TcpStream {
    let stream = TcpStream::connect(server.connect_addr()).expect("connect to the server");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Sends `message` and reads exactly `expect_len` bytes back.
fn round_trip(stream: &mut TcpStream, message: &[u8], expect_len: usize) -> Vec<u8> {
    stream.write_all(message).unwrap();
    let mut reply = vec![0u8; expect_len];
    stream.read_exact(&mut reply).unwrap();
    reply
}

#[test]
fn one_client_several_messages() {
    let mut srv = server(&[]);
    let out = command("tcp_client")
        .args(["--port", &srv.port()])
        .write_stdin("hello\nsecond message\n")
        .assert()
        .success();
    let expected = format!(
        "The corresponding contents of the server are:{REPLY}\n\
         The corresponding contents of the server are:{REPLY}\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        expected,
        "{}",
        describe(out.get_output())
    );
    srv.wait_for("service complete: 127.0.0.1:");
    let log = srv.stdout_lines();
    assert!(
        log.iter().any(|l| l.starts_with("client info: 127.0.0.1:")),
        "{log:?}"
    );
    assert!(
        log.contains(&"Require from client is:hello".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"Require from client is:second message".to_string()),
        "{log:?}"
    );
}

#[test]
fn exit_ends_the_session_after_its_reply() {
    let mut srv = server(&[]);
    let out = command("tcp_client")
        .args(["--port", &srv.port()])
        .write_stdin("first\nexit\nnever sent\n")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    srv.wait_for("service complete:");
    let log = srv.stdout_lines();
    assert!(
        log.contains(&"Require from client is:exit".to_string()),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("never sent")), "{log:?}");
}

#[test]
fn exit_with_parentheses_also_ends_it() {
    let srv = server(&[]);
    let out = command("tcp_client")
        .args(["--port", &srv.port()])
        .write_stdin("exit()\nafter\n")
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout)
            .lines()
            .count(),
        1
    );
}

#[test]
fn end_of_input_ends_the_session_and_no_prompt_when_piped() {
    let srv = server(&[]);
    let out = command("tcp_client")
        .args(["--port", &srv.port()])
        .write_stdin("only line")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(
        stdout,
        format!("The corresponding contents of the server are:{REPLY}\n")
    );
    assert!(!stdout.contains("Please your require"));
}

#[test]
fn fifty_clients_at_once_while_a_silent_one_waits() {
    let srv = server(&["--echo", "--quiet"]);
    // Connected first and never says anything: in the Python it would block everybody.
    let _silent = connect(&srv);
    let (tx, rx) = mpsc::channel();
    let addr = srv.connect_addr();
    for i in 0..50 {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            for round in 0..5 {
                let message = format!("client {i} round {round}");
                let reply = round_trip(&mut stream, message.as_bytes(), message.len());
                assert_eq!(reply, message.as_bytes());
            }
            tx.send(i).unwrap();
        });
    }
    drop(tx);
    let mut done: Vec<i32> = rx.iter().collect();
    done.sort();
    assert_eq!(done, (0..50).collect::<Vec<_>>());
}

#[test]
fn echo_returns_exact_bytes_including_invalid_utf8() {
    let srv = server(&["--echo"]);
    let mut stream = connect(&srv);
    let message = [0xff, 0xfe, 0x00, b'a', 0xc3, 0x28, b'\n'];
    assert_eq!(round_trip(&mut stream, &message, message.len()), message);
}

#[test]
fn echo_returns_a_one_mebibyte_message_whole() {
    let srv = server(&["--echo", "--quiet"]);
    let stream = connect(&srv);
    let message: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = message.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut received = Vec::new();
    (&stream).read_to_end(&mut received).unwrap();
    sender.join().unwrap();
    assert_eq!(received.len(), message.len());
    assert!(received == message, "echoed bytes differ");
}

#[test]
fn invalid_utf8_is_shown_not_fatal() {
    let mut srv = server(&[]);
    let mut stream = connect(&srv);
    let reply = round_trip(&mut stream, b"caf\xe9!", REPLY.len());
    assert_eq!(reply, REPLY.as_bytes());
    srv.wait_for("Require from client is:caf\u{fffd}!");
}

#[test]
fn max_clients_refuses_a_third_and_keeps_serving_the_first_two() {
    let mut srv = server(&["--echo", "--max-clients", "2"]);
    let mut first = connect(&srv);
    let mut second = connect(&srv);
    // Both are being served (their threads exist) before the third arrives.
    assert_eq!(round_trip(&mut first, b"one", 3), b"one");
    assert_eq!(round_trip(&mut second, b"two", 3), b"two");
    let mut third = connect(&srv);
    let mut refused = Vec::new();
    third.read_to_end(&mut refused).unwrap();
    assert_eq!(refused, b"server busy\n");
    srv.wait_for("server busy");
    assert_eq!(round_trip(&mut first, b"still", 5), b"still");
    assert_eq!(round_trip(&mut second, b"here", 4), b"here");
}

#[test]
fn max_per_address_refuses_one_host_and_says_why() {
    let mut srv = server(&["--echo", "--max-per-address", "1"]);
    let mut first = connect(&srv);
    assert_eq!(round_trip(&mut first, b"one", 3), b"one");
    let mut second = connect(&srv);
    let mut refused = Vec::new();
    second.read_to_end(&mut refused).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&refused),
        "server busy: too many connections from your address\n"
    );
    srv.wait_for("127.0.0.1 already has 1 connection (--max-per-address 1)");
    assert_eq!(round_trip(&mut first, b"still", 5), b"still");
    common::assert_usage_error("tcp_server", &["--max-per-address", "-1"]);
}

#[test]
fn idle_timeout_disconnects_a_silent_client() {
    let mut srv = server(&["--idle-timeout", "1"]);
    let mut silent = connect(&srv);
    let mut buf = [0u8; 16];
    // The server closes its side: the read ends with 0 bytes (or a reset), well before our own timeout.
    match silent.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {n} bytes from the server"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let line = srv.wait_for("idle timeout");
    assert!(
        line.contains("nothing sent or read by 127.0.0.1:"),
        "{line}"
    );
    assert!(line.ends_with("for 1 s, disconnected"), "{line}");
}

#[test]
fn sequential_serves_one_client_at_a_time() {
    let srv = server(&["--sequential", "--echo"]);
    let mut first = connect(&srv);
    assert_eq!(round_trip(&mut first, b"a", 1), b"a");
    let mut second = connect(&srv);
    second.write_all(b"b").unwrap();
    // While the first client stays, the second gets no answer (a bounded check, not a synchronisation).
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1];
    let waited = second.read(&mut buf).unwrap_err();
    assert!(
        matches!(
            waited.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{waited}"
    );
    drop(first);
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    second.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"b");
}

#[test]
fn ipv6_and_host_names() {
    let srv = Spawn::new("tcp_server")
        .args(["--port", "0", "--bind", "::1"])
        .server();
    assert!(srv.addr.unwrap().is_ipv6());
    command("tcp_client")
        .args(["--host", "::1", "--port", &srv.port()])
        .write_stdin("over ipv6\n")
        .assert()
        .success();
    let srv4 = server(&[]);
    command("tcp_client")
        .args(["--host", "localhost", "--port", &srv4.port()])
        .write_stdin("by name\n")
        .assert()
        .success();
}

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    common::assert_usage_error("tcp_server", &["--port", "http"]);
    common::assert_usage_error("tcp_server", &["--bogus"]);
    common::assert_usage_error("tcp_server", &["--max-clients", "0"]);
    common::assert_usage_error("tcp_client", &["127.0.0.1", "10500", "extra"]);
    common::assert_usage_error("tcp_client", &["127.0.0.1", "http"]);
    common::assert_usage_error("tcp_client", &["--port"]);
}

#[test]
fn help_and_version() {
    common::assert_help_and_version(
        "tcp_server",
        "tcp_server.py",
        &["byte stream", "--sequential"],
    );
    common::assert_help_and_version(
        "tcp_client",
        "tcp_client.py",
        &["byte stream", "--encoding"],
    );
}

#[test]
fn connection_refused_is_one_clear_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = command("tcp_client")
        .args(["--port", &port.to_string()])
        .write_stdin("hello\n")
        .assert()
        .code(7);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("tcp_client: error: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
}

#[test]
fn unknown_host_is_one_clear_line() {
    let out = command("tcp_client")
        .args(["--host", "no-such-host.invalid"])
        .assert()
        .code(6);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("tcp_client: error: cannot resolve host 'no-such-host.invalid'"),
        "{stderr}"
    );
}

#[test]
fn address_in_use_is_one_clear_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = command("tcp_server")
        .args(["--bind", "127.0.0.1", "--port", &port])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("tcp_server: error: cannot listen on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("address already in use"), "{stderr}");
}

/// A server for one client: it answers the first message with `reply`, reads once more (the
/// next message, or the end of the stream) and closes. Returns its port and its thread.
fn server_answering_once(reply: Vec<u8>) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).unwrap();
        stream.write_all(&reply).unwrap();
        let _ = stream.read(&mut buf).unwrap();
        // Dropped here: a client still waiting for a reply sees the end of the stream.
    });
    (port, peer)
}

#[test]
fn server_hanging_up_mid_session_is_exit_1() {
    let (port, peer) = server_answering_once(b"first reply".to_vec());
    let out = command("tcp_client")
        .args(["--port", &port])
        .write_stdin("one\ntwo\nthree\n")
        .assert()
        .code(1);
    peer.join().unwrap();
    let output = out.get_output();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "The corresponding contents of the server are:first reply\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("tcp_client: error: the server 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("closed the connection"), "{stderr}");
}

/// A peer in the tutorial's style (send, recv(1024), print), written for this test, against our server.
#[test]
fn python_peer_in_the_tutorials_style_talks_to_our_server() {
    let Some(python) = common::python() else {
        return;
    };
    let srv = server(&[]);
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
for message in ["hello from python", "exit"]:
    s.send(message.encode("utf-8"))
    print("reply:%s" % s.recv(1024).decode("utf-8"))
s.close()
"#;
    let out = python
        .command()
        .args(["-c", script, &srv.port()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("reply:{REPLY}\nreply:{REPLY}\n")
    );
}

/// Our client against a Python server that behaves like the tutorial's (gbk reply): the full-width `！` it cannot decode as UTF-8 is shown as U+FFFD, never a crash.
#[test]
fn our_client_against_a_tutorial_style_python_server() {
    let Some(python) = common::python() else {
        return;
    };
    let script = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(128)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
c, addr = s.accept()
while True:
    data = c.recv(1024)
    if not data:
        break
    c.send("ok, Processing Request Completion！".encode("gbk"))
    print("Require from client is:%s" % data.decode("gbk"), flush=True)
c.close()
"#;
    let mut py = python_server(python, script);
    let port = py.addr.unwrap().port().to_string();
    let out = command("tcp_client")
        .args(["--port", &port])
        .write_stdin("hi\nexit\n")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = "The corresponding contents of the server are:ok, Processing Request Completion\u{fffd}\u{fffd}\n";
    assert_eq!(stdout, line.repeat(2));
    py.wait_for("Require from client is:exit");
}

/// Runs a Python server script that prints `listening on IP:PORT` first.
fn python_server(python: common::Python, script: &str) -> common::Running {
    python.spawn().args(["-c", script]).server()
}

const CHINESE: &str = "我是客戶发送端";

#[test]
fn gbk_both_ways_between_our_client_and_server() {
    let mut srv = server(&["--encoding", "gbk"]);
    let out = command("tcp_client")
        .args(["--encoding", "GBK", "--port", &srv.port()])
        .write_stdin(format!("{CHINESE}\n"))
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("The corresponding contents of the server are:{REPLY}\n")
    );
    srv.wait_for(&format!("Require from client is:{CHINESE}"));
}

#[test]
fn gbk_server_replies_in_gbk_bytes() {
    let srv = server(&["--encoding", "cp936"]);
    let mut stream = connect(&srv);
    // "！" (U+FF01) is A3 A1 in gbk, so the reply is one byte shorter than in UTF-8.
    let mut expected = b"ok, Processing Request Completion".to_vec();
    expected.extend_from_slice(&[0xa3, 0xa1]);
    assert_eq!(round_trip(&mut stream, b"hi", expected.len()), expected);
}

#[test]
fn a_gbk_character_split_across_two_reads_is_decoded_whole() {
    let mut srv = server(&["--encoding", "gbk"]);
    let mut stream = connect(&srv);
    // 我 is CE D2 in gbk: the first read ends after its lead byte.
    round_trip(&mut stream, b"ab\xce", REPLY.len() - 1);
    srv.wait_for("Require from client is:ab");
    round_trip(&mut stream, b"\xd2cd", REPLY.len() - 1);
    let line = srv.wait_for("Require from client is:");
    assert_eq!(line, "Require from client is:我cd");
}

#[test]
fn a_character_gbk_lacks_is_refused_by_name_and_the_rest_still_goes() {
    let mut srv = server(&["--encoding", "gbk"]);
    let out = command("tcp_client")
        .args(["--encoding", "gbk", "--port", &srv.port()])
        .write_stdin("smile 😀\nplain\n")
        .assert()
        .code(1);
    let output = out.get_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 1 not sent: cannot encode '😀' (U+1F600) in gbk"),
        "{}",
        describe(output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        1,
        "{}",
        describe(output)
    );
    srv.wait_for("Require from client is:plain");
    assert!(!srv.transcript().contains("smile"));
}

#[test]
fn unknown_encoding_is_a_usage_error() {
    let out = command("tcp_server")
        .args(["--encoding", "latin1"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("invalid value 'latin1' for '--encoding': expected utf-8 or gbk"),
        "{stderr}"
    );
}

/// A Python peer of our own that encodes with gbk, like the tutorial, against our server and our client.
#[test]
fn python_gbk_peers_exchange_chinese_text_both_ways() {
    let Some(python) = common::python() else {
        return;
    };
    // Python client -> our server.
    let mut srv = server(&["--encoding", "gbk"]);
    let client = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(sys.argv[2].encode("gbk"))
sys.stdout.buffer.write(("reply:%s\n" % s.recv(1024).decode("gbk")).encode("utf-8"))
s.close()
"#;
    let out = python
        .command()
        .args(["-c", client, &srv.port(), CHINESE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("reply:{REPLY}\n")
    );
    srv.wait_for(&format!("Require from client is:{CHINESE}"));

    // Our client -> a Python server that answers like the tutorial's.
    let server_script = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(128)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
c, addr = s.accept()
while True:
    data = c.recv(1024)
    if not data:
        break
    c.send("ok, Processing Request Completion！".encode("gbk"))
    sys.stdout.buffer.write(("Require from client is:%s\n" % data.decode("gbk")).encode("utf-8"))
    sys.stdout.flush()
c.close()
"#;
    let mut py = python_server(python, server_script);
    let port = py.addr.unwrap().port().to_string();
    let out = command("tcp_client")
        .args(["--encoding", "gbk", "--port", &port])
        .write_stdin(format!("{CHINESE}\n"))
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("The corresponding contents of the server are:{REPLY}\n")
    );
    py.wait_for(&format!("Require from client is:{CHINESE}"));
}

/// Waits for `count` lines `Require from client is:...` from the server and returns their texts.
fn messages(srv: &mut common::Running, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            srv.wait_for("Require from client is:")
                .strip_prefix("Require from client is:")
                .expect("the line starts with the prefix")
                .to_string()
        })
        .collect()
}

#[test]
fn a_long_line_is_read_in_pieces_of_at_most_1024_bytes_each_with_its_reply() {
    let mut srv = server(&[]);
    let mut stream = connect(&srv);
    let line = "x".repeat(2500);
    stream.write_all(line.as_bytes()).unwrap();
    // One reply per read: collect the pieces the server printed until they make up the line.
    let mut pieces = Vec::new();
    while pieces.iter().map(String::len).sum::<usize>() < line.len() {
        pieces.extend(messages(&mut srv, 1));
    }
    assert_eq!(pieces.concat(), line);
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    assert!(pieces.iter().all(|p| p.len() <= 1024), "{pieces:?}");
    let replies = REPLY.repeat(pieces.len());
    assert_eq!(
        round_trip(&mut stream, b"", replies.len()),
        replies.as_bytes()
    );
}

#[test]
fn two_lines_in_one_read_are_one_message_shown_on_one_line() {
    let mut srv = server(&[]);
    let mut stream = connect(&srv);
    // One write of 11 bytes: over loopback it arrives, and is read, as one piece.
    assert_eq!(
        round_trip(&mut stream, b"hello\nexit\n", REPLY.len()),
        REPLY.as_bytes()
    );
    assert_eq!(messages(&mut srv, 1), ["hello\\nexit"]);
    // `exit` means nothing to the server: the connection is still served.
    assert_eq!(
        round_trip(&mut stream, b"more", REPLY.len()),
        REPLY.as_bytes()
    );
    assert_eq!(messages(&mut srv, 1), ["more"]);
}

/// What a peer sends can hold newlines, terminal escape sequences and bidi overrides: each is shown, never obeyed.
const HOSTILE: &str = "hello\n127.0.0.1:1: forged\x1b]0;title\x07\x1b[2Jrtl\u{202e}txt.exe 中文";
/// [`HOSTILE`] as it must be printed: on one line, every control and format character visible.
const HOSTILE_SHOWN: &str =
    "hello\\n127.0.0.1:1: forged\\x1b]0;title\\x07\\x1b[2Jrtl\\u{202e}txt.exe 中文";

#[test]
fn a_hostile_message_is_printed_on_one_line_escaped() {
    let mut srv = server(&[]);
    let mut stream = connect(&srv);
    round_trip(&mut stream, HOSTILE.as_bytes(), REPLY.len());
    drop(stream);
    srv.wait_for("service complete:");
    let log = srv.stdout_lines();
    let shown: Vec<&String> = log
        .iter()
        .filter(|l| !l.starts_with("listening on") && !l.starts_with("client info:"))
        .collect();
    assert_eq!(
        shown[0],
        &format!("Require from client is:{HOSTILE_SHOWN}"),
        "{log:?}"
    );
    assert!(shown[1].starts_with("service complete:"), "{log:?}");
    assert!(!log.iter().any(|l| l.contains('\x1b')), "{log:?}");
}

#[test]
fn a_hostile_reply_is_printed_on_one_line_escaped() {
    let (port, peer) = server_answering_once(format!("{HOSTILE}\n").into_bytes());
    let out = command("tcp_client")
        .args(["--port", &port])
        .write_stdin("hi\n")
        .assert()
        .success();
    peer.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("The corresponding contents of the server are:{HOSTILE_SHOWN}\n")
    );
}

/// Messages that take tcp_server's handler deepest: every control character (each shown as
/// four characters), invalid bytes, a bidi override and Chinese text, a full 1024-byte read,
/// and a message ending with half a gbk character.
fn deep_messages() -> Vec<Vec<u8>> {
    let mut hostile: Vec<u8> = (0u8..0x20).chain([0x7f]).collect();
    hostile.extend_from_slice(b"\xff\xfe\xc3(");
    hostile.extend_from_slice("\u{202e}中文 text".as_bytes());
    let mut big = hostile.repeat(1024 / hostile.len() + 1);
    big.truncate(1024);
    vec![big, hostile, b"\xce".to_vec()]
}

/// The server configurations whose handler paths differ: default reply, gbk, echo.
const HANDLER_PATHS: [&[&str]; 3] = [&[], &["--encoding", "gbk"], &["--echo"]];

/// Each path of tcp_server's handler, with the messages that take it deepest, runs on a
/// client thread of `admission::CLIENT_STACK_BYTES`; a handler that needed more stack would
/// end the whole server (`thread ... has overflowed its stack`, then an abort), and this
/// test with it.
#[test]
fn every_handler_path_runs_in_the_client_stack() {
    for args in HANDLER_PATHS {
        let mut srv = server(args);
        let mut stream = connect(&srv);
        for message in deep_messages() {
            stream.write_all(&message).unwrap();
            let mut reply = [0u8; 1024];
            assert!(stream.read(&mut reply).unwrap() > 0, "{args:?}");
        }
        // It ended with half a character: the decoder's last word is printed at the close.
        drop(stream);
        srv.wait_for("service complete:");
        // The server still serves.
        let mut after = connect(&srv);
        assert!(
            !round_trip(&mut after, b"still there", 1).is_empty(),
            "{args:?}"
        );
        assert!(
            !srv.transcript().contains("overflowed"),
            "{}",
            srv.transcript()
        );
    }
    // The idle-timeout path: its error is reported by the client's thread.
    let mut srv = server(&["--idle-timeout", "1"]);
    let _silent = connect(&srv);
    srv.wait_for("idle timeout");
    let mut after = connect(&srv);
    assert_eq!(round_trip(&mut after, b"x", REPLY.len()), REPLY.as_bytes());
}

/// How much of the client stack a handler really touches, measured: the resident size of the
/// client thread's stack mapping (Linux keeps a page resident once touched, until the thread
/// ends) after the deepest messages, while the client is still connected. Half the stack is
/// the headroom we keep for what this workload does not reach (error messages, the system's
/// own use).
#[cfg(target_os = "linux")]
#[test]
fn a_client_thread_touches_less_than_half_its_stack() {
    use socket_tutorial::core::admission::CLIENT_STACK_BYTES;
    for args in HANDLER_PATHS {
        let srv = server(args);
        let mut stream = connect(&srv);
        for message in deep_messages() {
            stream.write_all(&message).unwrap();
            let mut reply = [0u8; 1024];
            assert!(stream.read(&mut reply).unwrap() > 0, "{args:?}");
        }
        let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", srv.pid())).unwrap();
        let stacks = thread_stacks(&smaps, CLIENT_STACK_BYTES);
        assert_eq!(stacks.len(), 1, "one client thread, one stack: {stacks:?}");
        let (size, resident) = stacks[0];
        assert!(
            resident <= CLIENT_STACK_BYTES / 2,
            "{args:?}: the client thread touched {resident} of its {size} bytes of stack"
        );
    }
}

/// (size, resident bytes) of each thread stack of `size_at_least` bytes or a little more in an
/// smaps listing: a writable private mapping right above a no-access guard page.
#[cfg(target_os = "linux")]
fn thread_stacks(smaps: &str, size_at_least: usize) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut guard_end = None;
    let mut current: Option<(usize, bool)> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                let perms = words.next().unwrap_or_default();
                let size = end - start;
                let above_guard = guard_end == Some(start) && perms == "rw-p";
                let stack_sized = (size_at_least..size_at_least + 64 * 1024).contains(&size);
                current = Some((size, above_guard && stack_sized));
                guard_end = (perms == "---p").then_some(end);
                continue;
            }
        }
        if let (Some((size, true)), Some(kib)) = (current, line.strip_prefix("Rss:")) {
            let kib: usize = kib.trim().trim_end_matches("kB").trim().parse().unwrap();
            found.push((size, kib * 1024));
        }
    }
    found
}

/// Issue 21, item 10: `tcp_client HOST PORT`, as nc takes them, was a usage error.
#[test]
fn host_and_port_as_words_like_nc() {
    let mut srv = server(&["--echo"]);
    let out = command("tcp_client")
        .args(["127.0.0.1", &srv.port()])
        .write_stdin("hello\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "The corresponding contents of the server are:hello\n"
    );
    srv.wait_for("service complete");
}
