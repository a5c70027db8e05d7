//! Part 1: tcp_server and tcp_client (tcp_server.py / tcp_client.py).

use crate::tour::{expect_status, Input, Result, Tour};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn part(tour: &Tour) -> Result<()> {
    tour.title("1. TCP: a server that answers every message (tcp_server.py / tcp_client.py)");
    tour.say("The server prints 'listening on IP:PORT' first; --port 0 lets the system pick a free port.");
    let mut server = tour.start("tcp_server", &["--port", "0", "--bind", "127.0.0.1"])?;
    let port = server.port.to_string();
    tour.say("");
    tour.say("The client sends each line of its input and prints the server's one reply:");
    let code = tour.run(
        &tour.path(""),
        "tcp_client",
        &["--port", &port],
        &Input::Lines(&["hello, server", "how are you?", "exit"]),
    )?;
    expect_status("tcp_client", code, 0)?;
    tour.say("");
    tour.say("Meanwhile the server logged, for that client:");
    server.show_log();

    traced_exchange(tour)?;

    tour.say("");
    tour.say("Unlike the Python, every client has its own thread: two clients at the same time are both answered.");
    tour.say("With --echo it is a plain echo server; TCP is a byte stream, so 'one read = one message' is only a convention:");
    let echo = tour.start(
        "tcp_server",
        &["--port", "0", "--bind", "127.0.0.1", "--echo", "--quiet"],
    )?;
    let code = tour.run(
        &tour.path(""),
        "tcp_client",
        &["--port", &echo.port.to_string()],
        &Input::Lines(&["echo me back"]),
    )?;
    expect_status("tcp_client", code, 0)
}

/// Two quick messages arriving as one `recv`, watched with `--trace`.
fn traced_exchange(tour: &Tour) -> Result<()> {
    tour.say("");
    tour.say("TCP carries bytes, not messages. With --trace the server prints each socket call, named as the Python");
    tour.say("names it (on stderr). With --sequential it serves one client at a time, like the Python: while it serves");
    tour.say("a first client, a second one sends \"hello\\n\" and \"exit\\n\" in two sends. They wait together, and one recv takes both:");
    let mut server = tour.start(
        "tcp_server",
        &[
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--sequential",
            "--trace",
        ],
    )?;
    two_sends_while_busy(server.port).map_err(|e| format!("talking to tcp_server: {e}"))?;
    server.show_log_about(&["accept ->", "] recv(", "] send", "] close"]);
    tour.say(
        "The second client's two messages came out of one recv(1024), 11 bytes, and got one reply:",
    );
    tour.say("one read is not one message. The file protocol (part 2) says how long each message is instead.");
    Ok(())
}

/// A first client keeps the server busy while a second one sends two messages; then both are answered.
fn two_sends_while_busy(port: u16) -> std::io::Result<()> {
    let connect = || -> std::io::Result<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(stream)
    };
    let mut first = connect()?;
    let mut second = connect()?;
    second.write_all(b"hello\n")?;
    second.write_all(b"exit\n")?;
    // Each is answered with the 36 bytes of "ok, Processing Request Completion！".
    let mut reply = [0u8; 36];
    first.write_all(b"first")?;
    first.read_exact(&mut reply)?;
    drop(first);
    second.read_exact(&mut reply)?;
    Ok(())
}
