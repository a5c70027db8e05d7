//! udp_sender and udp_receiver against each other, against raw sockets and against Python peers, over loopback.

mod common;

use common::{command, describe, Running, Spawn, TIMEOUT};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const GREETING: &str = "this is a data from client, 我是客戶发送端!";
/// The greeting as Python's `GREETING.encode("gbk")` gives it.
const GREETING_GBK: &[u8] =
    b"this is a data from client, \xce\xd2\xca\xc7\xbf\xcd\x91\xf4\xb7\xa2\xcb\xcd\xb6\xcb!";

fn receiver(args: &[&str]) -> Running {
    Spawn::new("udp_receiver")
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .args(args)
        .server()
}

/// udp_sender aimed at `port`, sending from any free port.
fn sender(port: &str) -> assert_cmd::Command {
    let mut cmd = command("udp_sender");
    cmd.args(["--bind-port", "0", "--port", port]);
    cmd
}

/// The receiver's datagram lines so far, split into sender address and text.
fn datagrams(rcv: &Running) -> Vec<(SocketAddr, String)> {
    rcv.stdout_lines()
        .iter()
        .skip(1)
        .map(|line| {
            let (addr, text) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("not `IP:PORT: text`: {line:?}"));
            (addr.parse().expect("a socket address"), text.to_string())
        })
        .collect()
}

fn texts(rcv: &Running) -> Vec<String> {
    datagrams(rcv).into_iter().map(|(_, text)| text).collect()
}

/// A std socket on loopback that the test reads datagrams from.
fn raw_receiver() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    (socket, port)
}

fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).expect("a datagram");
    buf.truncate(n);
    buf
}

/// True when nothing more is queued. Loopback delivers a datagram before `send` returns, so after the sender has exited this is exact.
fn nothing_more(socket: &UdpSocket) -> bool {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    let empty = socket.recv(&mut buf).is_err();
    socket.set_nonblocking(false).unwrap();
    empty
}

/// A port with nobody on it: bound by the system, then let go.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn send_from_raw(port: &str, datagrams: &[&[u8]]) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in datagrams {
        socket
            .send_to(datagram, format!("127.0.0.1:{port}"))
            .unwrap();
    }
    socket.local_addr().unwrap()
}

fn stderr_of(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn greeting_lines_and_exit_end_both_sides() {
    let mut rcv = receiver(&[]);
    let out = sender(&rcv.port())
        .write_stdin("hello\n\nsecond line\nexit\nnever sent\n")
        .assert()
        .success();
    // Piped input: no prompt, nothing on stdout.
    assert!(
        out.get_output().stdout.is_empty(),
        "{}",
        describe(out.get_output())
    );
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    let got = datagrams(&rcv);
    let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
    // An empty line is an empty datagram: UDP, unlike TCP, can carry one.
    assert_eq!(texts, [GREETING, "hello", "", "second line", "exit"]);
    let from = got[0].0;
    assert!(from.ip().is_loopback(), "{from}");
    assert!(got.iter().all(|(addr, _)| *addr == from), "{got:?}");
}

#[test]
fn end_of_input_ends_the_sender_and_the_receiver_goes_on() {
    let mut rcv = receiver(&[]);
    sender(&rcv.port())
        .write_stdin("no newline at the end")
        .assert()
        .success();
    rcv.wait_for(": no newline at the end");
    // Still receiving (and each line was flushed while it waited): `exit()` ends it.
    send_from_raw(&rcv.port(), &[b"exit()"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), [GREETING, "no newline at the end", "exit()"]);
}

#[test]
fn a_60000_byte_datagram_and_the_ipv4_maximum_arrive_whole() {
    let mut rcv = receiver(&["--count", "3"]);
    let big = "a".repeat(60_000);
    let max = "b".repeat(65_507);
    sender(&rcv.port())
        .write_stdin(format!("{big}\n{max}\n"))
        .assert()
        .success();
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    let texts = texts(&rcv);
    assert_eq!(texts.len(), 3);
    assert!(
        texts[1] == big,
        "60,000 bytes sent, {} shown",
        texts[1].len()
    );
    assert!(
        texts[2] == max,
        "65,507 bytes sent, {} shown",
        texts[2].len()
    );
}

#[test]
fn an_over_long_line_is_refused_not_cut_and_the_rest_is_sent() {
    let mut rcv = receiver(&["--count", "2"]);
    let out = sender(&rcv.port())
        .write_stdin(format!("{}\nafter\n", "x".repeat(65_508)))
        .assert()
        .code(1);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "udp_sender: line 1 not sent: it is 65508 bytes, more than one UDP datagram can carry over IPv4 (65507 bytes); it was not cut"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("udp_sender: error: 1 line was not sent (see above)\n"),
        "{stderr}"
    );
    // Had any part of the long line been sent, it would be the second datagram.
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), [GREETING, "after"]);
}

#[test]
fn ipv6_carries_up_to_65527_bytes() {
    let mut rcv = Spawn::new("udp_receiver")
        .args(["--port", "0", "--bind", "::1", "--count", "3"])
        .server();
    assert!(rcv.addr.unwrap().is_ipv6());
    let max = "y".repeat(65_527);
    let out = sender(&rcv.port())
        .args(["--host", "::1"])
        .write_stdin(format!("{max}\n{}\nv6\n", "z".repeat(65_528)))
        .assert()
        .code(1);
    assert!(
        stderr_of(&out).contains(
            "it is 65528 bytes, more than one UDP datagram can carry over IPv6 (65527 bytes)"
        ),
        "{}",
        stderr_of(&out)
    );
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    let got = datagrams(&rcv);
    assert!(
        got.iter().all(|(addr, _)| addr.ip().to_string() == "::1"),
        "{:?}",
        got[0]
    );
    assert!(rcv.stdout_lines()[1].starts_with("[::1]:"));
    let texts: Vec<&String> = got.iter().map(|(_, t)| t).collect();
    assert_eq!(texts.len(), 3);
    assert!(*texts[1] == max, "{} bytes shown", texts[1].len());
    assert_eq!(texts[2], "v6");
}

#[test]
fn two_senders_to_one_receiver_each_line_shows_its_sender() {
    let mut rcv = receiver(&["--count", "4"]);
    let port = rcv.port();
    let runs: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|name| {
            let port = port.clone();
            thread::spawn(move || {
                sender(&port)
                    .arg("--no-greeting")
                    .write_stdin(format!("from {name} 1\nfrom {name} 2\n"))
                    .assert()
                    .success();
            })
        })
        .collect();
    for run in runs {
        run.join().unwrap();
    }
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    let got = datagrams(&rcv);
    assert_eq!(got.len(), 4, "{got:?}");
    let from = |name: &str| -> Vec<SocketAddr> {
        got.iter()
            .filter(|(_, t)| t.starts_with(&format!("from {name} ")))
            .map(|(a, _)| *a)
            .collect()
    };
    let (a, b) = (from("A"), from("B"));
    assert_eq!((a.len(), b.len()), (2, 2), "{got:?}");
    assert_eq!(a[0], a[1], "{got:?}");
    assert_eq!(b[0], b[1], "{got:?}");
    assert_ne!(a[0], b[0], "{got:?}");
}

#[test]
fn bind_and_bind_port_choose_the_source_address() {
    let mut rcv = receiver(&["--count", "1"]);
    let port = free_port();
    command("udp_sender")
        .args(["--bind", "127.0.0.1", "--bind-port", &port.to_string()])
        .args(["--port", &rcv.port(), "--no-greeting"])
        .write_stdin("from a chosen port\n")
        .assert()
        .success();
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(
        datagrams(&rcv),
        [(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "from a chosen port".to_string()
        )]
    );
}

#[test]
fn count_stops_after_n_datagrams() {
    let mut rcv = receiver(&["--count", "2"]);
    send_from_raw(&rcv.port(), &[b"one", b"two", b"three"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), ["one", "two"]);
}

#[test]
fn exit_ends_the_receiver_but_not_with_keep_open() {
    let mut rcv = receiver(&[]);
    // `nc -u` sends the newline too; it is still `exit`.
    send_from_raw(&rcv.port(), &[b"before", b"exit\n", b"after"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), ["before", "exit"]);

    let mut rcv = receiver(&["--keep-open", "--count", "3"]);
    send_from_raw(&rcv.port(), &[b"exit", b"exit()", b"after"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), ["exit", "exit()", "after"]);
}

#[test]
fn no_greeting_skips_the_first_datagram() {
    let (socket, port) = raw_receiver();
    sender(&port)
        .arg("--no-greeting")
        .write_stdin("first\n")
        .assert()
        .success();
    assert_eq!(recv(&socket), b"first");
    assert!(nothing_more(&socket));
}

#[test]
fn bytes_on_the_wire_in_utf8_and_gbk() {
    let (socket, port) = raw_receiver();
    sender(&port)
        .write_stdin(&b"caf\xc3\xa9\r\n\xff\xfe\n\nexit\nnot sent\n"[..])
        .assert()
        .success();
    assert_eq!(recv(&socket), GREETING.as_bytes());
    assert_eq!(recv(&socket), "café".as_bytes());
    // With utf-8 the line goes out exactly as read, even when it is not text.
    assert_eq!(recv(&socket), b"\xff\xfe");
    assert_eq!(recv(&socket), b"");
    assert_eq!(recv(&socket), b"exit");
    assert!(nothing_more(&socket));

    sender(&port)
        .args(["--encoding", "gbk"])
        .write_stdin("我是客戶发送端\n")
        .assert()
        .success();
    assert_eq!(recv(&socket), GREETING_GBK);
    assert_eq!(
        recv(&socket),
        b"\xce\xd2\xca\xc7\xbf\xcd\x91\xf4\xb7\xa2\xcb\xcd\xb6\xcb"
    );
    assert!(nothing_more(&socket));
}

#[test]
fn gbk_sender_refuses_what_gbk_lacks_names_it_and_goes_on() {
    let mut rcv = receiver(&["--encoding", "GBK", "--count", "3"]);
    let mut input = "中文 ok\n😀 no\n".as_bytes().to_vec();
    input.extend_from_slice(b"\xff not text\nafter\n");
    let out = sender(&rcv.port())
        .args(["--encoding", "cp936"])
        .write_stdin(input)
        .assert()
        .code(1);
    let stderr = stderr_of(&out);
    assert_eq!(
        stderr,
        "udp_sender: line 2 not sent: cannot encode '😀' (U+1F600) in gbk\n\
         udp_sender: line 3 not sent: it is not valid UTF-8 text, so it cannot be converted to gbk\n\
         udp_sender: error: 2 lines were not sent (see above)\n"
    );
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), [GREETING, "中文 ok", "after"]);
}

#[test]
fn invalid_text_is_shown_with_replacement_characters() {
    let mut rcv = receiver(&["--count", "3"]);
    send_from_raw(&rcv.port(), &[b"ab\xffcd", GREETING_GBK, b"still here"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    let shown = texts(&rcv);
    assert_eq!(shown[0], "ab\u{fffd}cd");
    assert!(
        shown[1].starts_with("this is a data from client, \u{fffd}"),
        "{}",
        shown[1]
    );
    assert_eq!(shown[2], "still here");

    let mut rcv = receiver(&["--encoding", "gbk", "--count", "1"]);
    // A gbk character, then a lead byte with nothing after it.
    send_from_raw(&rcv.port(), &[b"\xce\xd2\x81"]);
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), ["我\u{fffd}"]);
}

#[test]
fn one_datagram_is_one_line_whatever_it_holds() {
    let mut rcv = receiver(&["--count", "3"]);
    let from = send_from_raw(
        &rcv.port(),
        &[
            b"hello\n10.66.66.66:4444: forged\n127.0.0.1:1: exit",
            "title\x1b]0;pwned\x07 clear\x1b[2J rtl\u{202e}txt.exe 中文\r\n".as_bytes(),
            b"exit\n",
        ],
    );
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(
        rcv.stdout_lines()[1..],
        [
            format!("{from}: hello\\n10.66.66.66:4444: forged\\n127.0.0.1:1: exit"),
            format!("{from}: title\\x1b]0;pwned\\x07 clear\\x1b[2J rtl\\u{{202e}}txt.exe 中文"),
            format!("{from}: exit"),
        ]
    );
}

#[test]
fn utf8_alias_names_are_accepted_and_unknown_ones_refused() {
    let mut rcv = receiver(&["--encoding", "UTF-8", "--count", "1"]);
    sender(&rcv.port())
        .args(["--encoding", "utf8", "--no-greeting"])
        .write_stdin("中文\n")
        .assert()
        .success();
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(texts(&rcv), ["中文"]);
    for bin in ["udp_sender", "udp_receiver"] {
        let out = command(bin).args(["--encoding", "latin1"]).assert().code(2);
        assert!(
            stderr_of(&out).starts_with(&format!(
                "{bin}: error: invalid value 'latin1' for '--encoding': expected utf-8 or gbk"
            )),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn nobody_listening_is_a_warning_and_the_retry_delivers() {
    if common::skip_under_wine("Wine does not pass ICMP port unreachable on to a UDP socket") {
        return;
    }
    let port = free_port();
    let mut snd = Spawn::new("udp_sender")
        .args(["--bind-port", "0", "--port", &port.to_string()])
        .piped_stdin()
        .start();
    let stdin = snd.stdin.as_mut().expect("piped stdin");
    // The greeting finds nobody; the ICMP answer makes the next send fail, which is reported and tried again.
    stdin.write_all(b"one\n").unwrap();
    stdin.flush().unwrap();
    let warning = snd.wait_for("warning");
    assert_eq!(
        warning,
        format!(
            "udp_sender: warning: 127.0.0.1:{port} answered an earlier datagram with 'port unreachable': nobody is receiving there (yet)"
        )
    );
    // Now somebody listens there: the next line arrives, though its first try reports the answer to `one`.
    let late = UdpSocket::bind(("127.0.0.1", port)).expect("rebind the port just freed");
    late.set_read_timeout(Some(TIMEOUT)).unwrap();
    let stdin = snd.stdin.as_mut().expect("piped stdin");
    stdin.write_all(b"two\n").unwrap();
    drop(snd.stdin.take());
    assert_eq!(recv(&late), b"two");
    assert!(snd.wait_exit().success(), "{}", snd.transcript());
    let transcript = snd.transcript();
    assert!(!transcript.contains("error"), "{transcript}");
    assert!(
        transcript.lines().skip(1).all(|l| l.contains("warning")),
        "{transcript}"
    );
}

#[test]
fn a_closed_stdout_ends_the_receiver_quietly() {
    let mut child = Command::new(common::bin("udp_receiver"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--keep-open"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port = first.trim_end().rsplit(':').next().unwrap().to_string();
    drop(stdout);
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    // Stderr closes when the receiver exits. A write can still succeed while a
    // child another test is starting holds a copy of the pipe for an instant,
    // so datagrams keep coming until the receiver notices.
    let deadline = Instant::now() + TIMEOUT;
    let stderr = loop {
        send_from_raw(&port, &[b"nobody reads this"]);
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(text) => break text,
            Err(_) if Instant::now() < deadline => continue,
            Err(_) => {
                let _ = child.kill();
                panic!("udp_receiver went on after its stdout was closed");
            }
        }
    };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn ports_in_use_are_one_clear_line() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = command("udp_sender")
        .args(["--bind", "127.0.0.1", "--bind-port", &port])
        .assert()
        .code(1);
    assert_eq!(
        stderr_of(&out),
        format!(
            "udp_sender: error: cannot bind the sending socket to 127.0.0.1:{port}: address already in use \
             (another program, perhaps another udp_sender, uses that port; --bind-port 0 picks a free one)\n"
        )
    );
    let out = command("udp_receiver")
        .args(["--bind", "127.0.0.1", "--port", &port])
        .assert()
        .code(1);
    let stderr = stderr_of(&out);
    assert!(
        stderr.starts_with("udp_receiver: error: cannot listen on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("address already in use"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    for (bin, args) in [
        ("udp_receiver", &["--count", "0"][..]),
        ("udp_receiver", &["--port", "99999"][..]),
        ("udp_receiver", &["extra"][..]),
        ("udp_sender", &["--port", "0"][..]),
        ("udp_sender", &["--bind-port"][..]),
        ("udp_sender", &["--no-greeting=yes"][..]),
    ] {
        common::assert_usage_error(bin, args);
    }
}

#[test]
fn help_and_version() {
    let words = ["UDP has no connection", "--encoding"];
    common::assert_help_and_version("udp_receiver", "udp_receiver.py", &words);
    let help = common::assert_help_and_version("udp_sender", "udp_sender.py", &words);
    assert!(help.contains("請輸入要要发送的数据:"), "{help}");
    assert!(help.contains("nothing tells the sender"), "{help}");
    assert!(help.contains("connected"), "{help}");
}

/// A Python peer of our own, speaking gbk like the tutorial, sends to our receiver.
#[test]
fn python_gbk_sender_to_our_receiver() {
    let Some(python) = common::python() else {
        return;
    };
    let mut rcv = receiver(&["--encoding", "gbk", "--count", "1"]);
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.sendto("我是客戶发送端".encode("gbk"), ("127.0.0.1", int(sys.argv[1])))
print("sent from 127.0.0.1:%d" % s.getsockname()[1])
"#;
    let out = python
        .command()
        .args(["-c", script, &rcv.port()])
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let python_addr = String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("sent from ")
        .expect("the Python peer's address")
        .parse::<SocketAddr>()
        .unwrap();
    assert!(rcv.wait_exit().success(), "{}", rcv.transcript());
    assert_eq!(
        datagrams(&rcv),
        [(python_addr, "我是客戶发送端".to_string())]
    );
}

/// Our sender to a Python peer of our own that decodes gbk like the tutorial's receiver.
#[test]
fn our_gbk_sender_to_a_python_receiver() {
    let Some(python) = common::python() else {
        return;
    };
    let script = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(20)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
for expected in ["this is a data from client, 我是客戶发送端!", "我是客戶发送端"]:
    data, addr = s.recvfrom(65536)
    print("text: %s" % data.decode("gbk"), flush=True)
    print("bytes are python's gbk: %s" % (data == expected.encode("gbk")), flush=True)
"#;
    let mut py = python
        .spawn()
        .args(["-c", script])
        .env("PYTHONIOENCODING", "utf-8")
        .server();
    sender(&py.port())
        .args(["--encoding", "gbk"])
        .write_stdin("我是客戶发送端\n")
        .assert()
        .success();
    assert!(py.wait_exit().success(), "{}", py.transcript());
    assert_eq!(
        py.stdout_lines()[1..],
        [
            format!("text: {GREETING}"),
            "bytes are python's gbk: True".to_string(),
            "text: 我是客戶发送端".to_string(),
            "bytes are python's gbk: True".to_string(),
        ]
    );
}

/// Issue 21, item 10: `udp_sender HOST PORT`, as `nc -u HOST PORT` takes them, was a usage error.
#[test]
fn host_and_port_as_words_like_nc() {
    let (socket, port) = raw_receiver();
    let out = command("udp_sender")
        .args(["--bind-port", "0", "--no-greeting", "127.0.0.1", &port])
        .write_stdin("hello\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::describe(&out));
    assert_eq!(recv(&socket), b"hello");
    assert!(nothing_more(&socket));
    // A third word is still refused, and so is a port that is not one.
    common::assert_usage_error("udp_sender", &["127.0.0.1", "15000", "extra"]);
    common::assert_usage_error("udp_sender", &["127.0.0.1", "http"]);
}
