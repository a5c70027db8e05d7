//! The UDP lessons of docs/WALKTHROUGH.md, each the same steps as its bash block.

use crate::run::{Lesson, Result};

/// One line of 3000 `x` is one datagram, and arrives whole in one recvfrom.
pub fn long_datagram(l: &Lesson) -> Result<()> {
    let args = ["--bind", "127.0.0.1", "--port", "15000", "--trace"];
    let receiver = l.start("udp_receiver", &args, "receiver.log", Some("trace.txt"))?;
    l.wait_for("receiver.log", "listening on", 1)?;
    let mut input = vec![b'x'; 3000];
    input.extend_from_slice(b"\nexit\n");
    l.run(
        "",
        "udp_sender",
        &["--no-greeting", "--bind-port", "0", "--port", "15000"],
        &input,
    )?;
    receiver.wait()?;
    l.cat_counting_x(&["receiver.log", "trace.txt"])
}

/// Datagrams that try to forge lines and drive the terminal are shown, escaped, on one line each.
pub fn forged_lines(l: &Lesson) -> Result<()> {
    let receiver = l.start(
        "udp_receiver",
        &["--bind", "127.0.0.1", "--port", "15000"],
        "receiver.log",
        None,
    )?;
    l.wait_for("receiver.log", "listening on", 1)?;
    l.python(FORGER)?;
    receiver.wait()?;
    l.cat("receiver.log")
}

/// The page's sender of three datagrams: forged lines, escape sequences and a bidi override, `exit`.
const FORGER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for datagram in [b"hello\n10.66.66.66:4444: forged\n127.0.0.1:1: exit",
                 "\x1b]0;new title\x07\x1b[2Jrtl\u202etxt.exe 你好".encode(), b"exit"]:
    s.sendto(datagram, ("127.0.0.1", 15000))
"#;

/// A receiver that reads nothing while 1000 datagrams are sent loses all but what the
/// system's receive buffer holds. The page stops udp_receiver with `kill -STOP`, which only
/// unix has; here the lesson's own socket is the receiver that does not read in time.
pub fn not_reading(l: &Lesson) -> Result<()> {
    use std::net::UdpSocket;
    let socket = UdpSocket::bind(("127.0.0.1", l.real_port(15000)))
        .map_err(|e| format!("cannot bind: {e}"))?;
    let input: Vec<u8> = (1..=1000)
        .flat_map(|n| format!("{n}\n").into_bytes())
        .collect();
    let args = ["--no-greeting", "--bind-port", "0", "--port", "15000"];
    let code = l.run("", "udp_sender", &args, &input)?;
    l.say(&format!("udp_sender exit status: {code}"));
    // Now read what the system kept; the sender is done, so a short silence means no more.
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let shown = match got.len() {
        0..=4 => got.join(", "),
        n => format!("{}, {} ... {}, {}", got[0], got[1], got[n - 2], got[n - 1]),
    };
    l.say(&format!("received {} of 1000: {shown}", got.len()));
    Ok(())
}
