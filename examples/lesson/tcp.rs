//! The TCP lessons of docs/WALKTHROUGH.md's "One thread per client", each the same steps as its bash block.

use crate::run::{lines, Lesson, Result};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// A first client that types slowly (its line comes 3 s after it connects), then a second;
/// how long the second waits; both servers' logs. With `--sequential` the second waits for
/// the first, as with the Python; without it, it is answered at once.
fn two_clients(l: &Lesson, server_args: &[&str]) -> Result<()> {
    let server = l.start("tcp_server", server_args, "server.log", None)?;
    l.wait_for("server.log", "listening on", 1)?;
    thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| {
            l.run_fed("", "tcp_client", &["--port", "10500"], &mut |stdin| {
                thread::sleep(Duration::from_secs(3));
                stdin
                    .write_all(b"first client, typing slowly\n")
                    .map_err(|e| e.to_string())
            })
        });
        l.wait_for("server.log", "client info", 1)?;
        let started = Instant::now();
        l.run("", "tcp_client", &["--port", "10500"], &lines(&["second"]))?;
        l.say(&format!(
            "second client: {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        first
            .join()
            .map_err(|_| "the first client's thread failed")??;
        Ok(())
    })?;
    l.wait_for("server.log", "service complete", 2)?;
    server.kill()?;
    l.cat("server.log")
}

/// The tutorial's way: one client at a time.
pub fn sequential(l: &Lesson) -> Result<()> {
    two_clients(
        l,
        &["--bind", "127.0.0.1", "--port", "10500", "--sequential"],
    )
}

/// Ours: one thread per client.
pub fn threads(l: &Lesson) -> Result<()> {
    two_clients(l, &["--bind", "127.0.0.1", "--port", "10500"])
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
        first
            .join()
            .map_err(|_| "the first client's thread failed")??;
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
