//! The TCP lessons of docs/WALKTHROUGH.md's "One thread per client", each the same steps as its bash block.

use crate::run::{Lesson, Result};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// A first client that types slowly (its line comes 3 s after it connects), then a second;
/// how long the second waits; both servers' logs. With `--sequential` the second waits for
/// the first, as with the Python; without it, it is answered at once.
fn two_clients(l: &Lesson, server_args: &[&str], sequential: bool) -> Result<()> {
    let server = l.start("tcp_server", server_args, "server.log", None)?;
    l.wait_for("server.log", "listening on", 1)?;
    thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| {
            l.run_fed("", "tcp_client", &["--port", "10500"], &mut |stdin| {
                thread::sleep(Duration::from_secs(3));
                write(stdin, b"first client, typing slowly\n")
            })
        });
        l.wait_for("server.log", "client info", 1)?;
        let started = Instant::now();
        // Served after the first when sequential: its reply is shown after the first's, as a
        // terminal shows it, however the two programs' output threads are scheduled.
        let into = sequential.then_some("second.txt");
        l.run_into(
            "",
            "tcp_client",
            &["--port", "10500"],
            &mut |stdin| write(stdin, b"second\n"),
            into,
        )?;
        let waited = started.elapsed();
        if sequential {
            join(first)?;
            l.cat("second.txt")?;
            l.say(&format!("second client: {:.1} s", waited.as_secs_f64()));
        } else {
            l.say(&format!("second client: {:.1} s", waited.as_secs_f64()));
            join(first)?;
        }
        Ok(())
    })?;
    l.wait_for("server.log", "service complete", 2)?;
    server.kill()?;
    l.cat("server.log")
}

/// Waits for a client running on a thread of the lesson's.
fn join(client: thread::ScopedJoinHandle<'_, Result<i32>>) -> Result<i32> {
    client
        .join()
        .map_err(|_| "a client's thread failed".to_string())?
}

/// Two sends from a Python client, "hello, " and "world", while a first client holds the
/// sequential server: they wait in the socket and come out of one recv together.
pub fn sequential_python(l: &Lesson) -> Result<()> {
    let args = ["--bind", "127.0.0.1", "--port", "10500", "--sequential"];
    let server = l.start("tcp_server", &args, "server.log", None)?;
    l.wait_for("server.log", "listening on", 1)?;
    thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| slow_first_client(l, None));
        l.wait_for("server.log", "client info", 1)?;
        // Served after the first: its line is shown after the first's, as on a terminal.
        let printed = l.python_output(TWO_SENDS_PRINTED)?;
        join(first)?;
        l.say_text(&printed);
        Ok(())
    })?;
    l.wait_for("server.log", "service complete", 2)?;
    server.kill()?;
    l.cat("server.log")
}

/// The same, as the server's `--trace` shows it: one recv of 12 bytes.
pub fn sequential_python_traced(l: &Lesson) -> Result<()> {
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        "10500",
        "--sequential",
        "--trace",
    ];
    let server = l.start("tcp_server", &args, "server.log", Some("trace.txt"))?;
    l.wait_for("server.log", "listening on", 1)?;
    thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| slow_first_client(l, Some("first.txt")));
        l.wait_for("trace.txt", "accept", 1)?;
        l.python(TWO_SENDS)?;
        join(first)?;
        Ok(())
    })?;
    l.wait_for("trace.txt", "] close", 2)?;
    server.kill()?;
    l.cat("trace.txt")
}

/// One send of 2000 bytes read in two recvs, and two lines sent at once read in one.
pub fn stream(l: &Lesson) -> Result<()> {
    let args = ["--bind", "127.0.0.1", "--port", "10500", "--trace"];
    let server = l.start("tcp_server", &args, "server.log", Some("trace.txt"))?;
    l.wait_for("server.log", "listening on", 1)?;
    l.python(&send_all_then_read(r#"b"x" * 2000"#))?;
    l.python(&send_all_then_read(r#"b"hello\nexit\n""#))?;
    l.wait_for("server.log", "service complete", 2)?;
    server.kill()?;
    l.cat_counting_x(&["server.log"])?;
    l.cat_matching("trace.txt", "recv(")
}

/// A Python client that sends `data` in one `sendall`, closes its side, and prints every reply.
fn send_all_then_read(data: &str) -> String {
    format!(
        r#"import socket; s = socket.create_connection(("127.0.0.1", 10500)); s.sendall({data}); s.shutdown(socket.SHUT_WR); print(s.makefile("rb").read().decode())"#
    )
}

/// The page's Python client: two sends, then one recv, printed.
pub const TWO_SENDS_PRINTED: &str = r#"import socket; s = socket.create_connection(("127.0.0.1", 10500)); s.send(b"hello, "); s.send(b"world"); print(s.recv(1024))"#;

/// The same without printing the reply.
const TWO_SENDS: &str = r#"import socket; s = socket.create_connection(("127.0.0.1", 10500)); s.send(b"hello, "); s.send(b"world"); s.recv(1024)"#;

/// `(sleep 2; echo first client) | tcp_client --port 10500`: connects at once, types late.
fn slow_first_client(l: &Lesson, into: Option<&str>) -> Result<i32> {
    l.run_into(
        "",
        "tcp_client",
        &["--port", "10500"],
        &mut |stdin| {
            thread::sleep(Duration::from_secs(2));
            write(stdin, b"first client\n")
        },
        into,
    )
}

/// The tutorial's way: one client at a time.
pub fn sequential(l: &Lesson) -> Result<()> {
    two_clients(
        l,
        &["--bind", "127.0.0.1", "--port", "10500", "--sequential"],
        true,
    )
}

/// Ours: one thread per client.
pub fn threads(l: &Lesson) -> Result<()> {
    two_clients(l, &["--bind", "127.0.0.1", "--port", "10500"], false)
}

/// Two clients at once, as `--trace` shows them: each connection's own recv, send and close.
pub fn threads_traced(l: &Lesson) -> Result<()> {
    let args = ["--bind", "127.0.0.1", "--port", "10500", "--trace"];
    let server = l.start("tcp_server", &args, "server.log", Some("trace.txt"))?;
    l.wait_for("server.log", "listening on", 1)?;
    thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| {
            l.run_into(
                "",
                "tcp_client",
                &["--port", "10500"],
                &mut |stdin| {
                    write(stdin, b"one\n")?;
                    l.wait_for("trace.txt", "] send", 2)?;
                    write(stdin, b"exit\n")
                },
                Some("first.txt"),
            )
        });
        l.wait_for("trace.txt", "] send", 1)?;
        l.run_into(
            "",
            "tcp_client",
            &["--port", "10500"],
            &mut |stdin| {
                write(stdin, b"two\n")?;
                l.wait_for("trace.txt", "] close", 1)?;
                write(stdin, b"exit\n")
            },
            Some("second.txt"),
        )?;
        join(first)?;
        Ok(())
    })?;
    l.wait_for("trace.txt", "] close", 2)?;
    server.kill()?;
    l.cat("trace.txt")
}

fn write(stdin: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    stdin
        .write_all(bytes)
        .and_then(|()| stdin.flush())
        .map_err(|e| e.to_string())
}

/// What `strace` shows of tcp_server's start, shown by `--trace` on every platform: the
/// Python's socket, bind and listen, in one call of Rust's.
pub fn listen_traced(l: &Lesson) -> Result<()> {
    let args = ["--bind", "127.0.0.1", "--port", "10500", "--trace"];
    let server = l.start("tcp_server", &args, "server.log", Some("trace.txt"))?;
    l.wait_for("server.log", "listening on", 1)?;
    l.wait_for("trace.txt", "listen ", 1)?;
    server.kill()?;
    l.cat("server.log")?;
    l.cat("trace.txt")
}

/// One line of 3000 `x` sent in one write: our server reads it in pieces of at most 1024
/// bytes and answers each, and our client, one read per reply, gets out of step. Where the
/// pieces fall differs from run to run.
pub fn long_line(l: &Lesson) -> Result<()> {
    let server = l.start(
        "tcp_server",
        &["--bind", "127.0.0.1", "--port", "10500"],
        "server.log",
        None,
    )?;
    l.wait_for("server.log", "listening on", 1)?;
    l.run("", "tcp_client", &["--port", "10500"], &long_line_input())?;
    // When the client closed with a reply still unread, its system answered the
    // server with a reset: the session then ends in `connection lost` (the page says so).
    l.wait_for_any("server.log", &["service complete", "connection lost"], 1)?;
    server.kill()?;
    l.cat_counting_x(&["server.log"])
}

/// The same against the tutorial's tcp_server.py, in gbk.
pub fn long_line_python(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let server = l.start_tutorial("", &["py/tcp_server.py"], "python-server.log")?;
    l.run(
        "",
        "tcp_client",
        &["--port", "10500", "--encoding", "gbk"],
        &long_line_input(),
    )?;
    l.wait_for_any(
        "python-server.log",
        &["service complete", "ConnectionResetError"],
        1,
    )?;
    server.kill()?;
    l.cat_counting_x(&["python-server.log"])
}

/// 3000 `x`, a newline, then `exit` (the page's `{ head -c 3000 /dev/zero | tr '\0' x; echo; echo exit; }`).
fn long_line_input() -> Vec<u8> {
    let mut input = vec![b'x'; 3000];
    input.extend_from_slice(b"\nexit\n");
    input
}
