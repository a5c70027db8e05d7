//! `lesson --diagrams DIR` (`make diagrams`): the walkthrough's three pictures, each drawn by trace_chart from a real run of our programs with `--trace-file`.
//!
//! tcp-stream: tcp_client and tcp_server, `hello`, one line of 3000 `x`, `exit` (one send
//! read in pieces; where the pieces fall, and whether two sends come out of one recv, is up
//! to timing). udp: udp_sender's datagrams to udp_receiver, which stops after two, and a
//! late one nobody reads. slow-link: download_client --raw through a slow link (here in
//! the runner itself, traced, as the page's slow_link.py does it) to download_server.

use crate::run::{Lesson, Result};
use socket_tutorial::core::trace::{self, Stream};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub fn all(l: &Lesson, out: &Path) -> Result<()> {
    // The slow link's sockets are the runner's own: its trace is started first, once.
    trace::Options {
        stderr: false,
        file: Some(l.path("link.trace")),
    }
    .start(socket_tutorial::core::encoding::Encoding::Utf8)
    .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot make {}: {e}", out.display()))?;
    tcp_stream_showing_both(l)?;
    chart(
        l,
        &["tcp-client.trace", "tcp-server.trace"],
        out,
        "tcp-stream",
        "TCP: one send read by several recvs, two sends by one",
    )?;
    udp(l)?;
    chart(
        l,
        &["udp-sender.trace", "udp-late.trace", "udp-receiver.trace"],
        out,
        "udp",
        "UDP: each datagram whole in one recvfrom, or lost",
    )?;
    slow_link(l)?;
    chart(
        l,
        &[
            "download-client.trace",
            "link.trace",
            "download-server.trace",
        ],
        out,
        "slow-link",
        "A download behind a slow link: one send, many recvs",
    )
}

/// Whether two replies come out of one recv is up to timing: the runs are made again
/// until one shows it (a recv of the client's that took more than one 36-byte reply),
/// so the picture has both lessons. Each run is real; the first that shows both is drawn.
fn tcp_stream_showing_both(l: &Lesson) -> Result<()> {
    const TRIES: usize = 100;
    for _ in 0..TRIES {
        tcp_stream(l)?;
        let trace = std::fs::read_to_string(l.path("tcp-client.trace"))
            .map_err(|e| format!("cannot read tcp-client.trace: {e}"))?;
        let coalesced = trace.lines().any(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            fields.get(2) == Some(&"recv")
                && fields
                    .iter()
                    .filter_map(|f| f.strip_prefix("n="))
                    .any(|n| n.parse::<usize>().is_ok_and(|n| n > 36))
        });
        if coalesced {
            return Ok(());
        }
    }
    eprintln!("lesson: in {TRIES} runs no recv of tcp_client took two replies; drawing the last");
    Ok(())
}

fn tcp_stream(l: &Lesson) -> Result<()> {
    for file in ["tcp-server.trace", "tcp-client.trace", "tcp-server.log"] {
        let _ = std::fs::remove_file(l.path(file));
    }
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        "10500",
        "--trace-file",
        "tcp-server.trace",
    ];
    let server = l.start("tcp_server", &args, "tcp-server.log", None)?;
    l.wait_for("tcp-server.log", "listening on", 1)?;
    let mut input = b"hello\n".to_vec();
    input.extend_from_slice(&[b'x'; 3000]);
    input.extend_from_slice(b"\nexit\n");
    l.run(
        "",
        "tcp_client",
        &["--port", "10500", "--trace-file", "tcp-client.trace"],
        &input,
    )?;
    l.wait_for("tcp-server.trace", "\tclose\t", 1)?;
    server.kill()
}

fn udp(l: &Lesson) -> Result<()> {
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        "15000",
        "--count",
        "2",
        "--trace-file",
        "udp-receiver.trace",
    ];
    let receiver = l.start("udp_receiver", &args, "udp-receiver.log", None)?;
    l.wait_for("udp-receiver.log", "listening on", 1)?;
    let mut line = vec![b'x'; 3000];
    line.push(b'\n');
    let sender = [
        "--bind-port",
        "0",
        "--port",
        "15000",
        "--trace-file",
        "udp-sender.trace",
    ];
    l.run("", "udp_sender", &sender, &line)?;
    receiver.wait()?;
    let late = [
        "--no-greeting",
        "--bind-port",
        "0",
        "--port",
        "15000",
        "--trace-file",
        "udp-late.trace",
    ];
    l.run("", "udp_sender", &late, b"anyone there?\n")?;
    Ok(())
}

fn slow_link(l: &Lesson) -> Result<()> {
    l.mkdir("served")?;
    let small: Vec<u8> = (0..4000u32)
        .map(|i| b"small.jpg "[(i % 10) as usize])
        .collect();
    l.write("served/small.jpg", &small)?;
    let args = [
        "--root",
        "served",
        "--port",
        "11600",
        "--trace-file",
        "download-server.trace",
    ];
    let server = l.start("download_server", &args, "download-server.log", None)?;
    l.wait_for("download-server.log", "listening on", 1)?;
    let listener = TcpListener::bind(("127.0.0.1", l.real_port(11500)))
        .map_err(|e| format!("slow link: {e}"))?;
    let upstream = l.real_port(11600);
    let link = std::thread::spawn(move || relay(listener, upstream));
    let client = [
        "--raw",
        "--port",
        "11500",
        "-o",
        "copy-small.jpg",
        "--trace-file",
        "download-client.trace",
        "small.jpg",
    ];
    l.run("", "download_client", &client, b"")?;
    link.join()
        .map_err(|_| "the slow link failed".to_string())?
        .map_err(|e| format!("slow link: {e}"))?;
    l.wait_for("download-server.trace", "\tclose\t", 1)?;
    // The link's lanes are named after it, not after the runner that plays it.
    let link = String::from_utf8_lossy(&l.read("link.trace")?).replacen(
        "\tprogram=lesson\t",
        "\tprogram=slow link\t",
        1,
    );
    l.write("link.trace", link.as_bytes())?;
    server.kill()
}

/// The page's slow_link.py: one client; its request to the server; the answer back in
/// pieces of 1000 bytes, 10 ms apart.
fn relay(listener: TcpListener, upstream: u16) -> std::io::Result<()> {
    let (client, peer) = listener.accept()?;
    let mut client = Stream::accepted(client, peer);
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], upstream));
    let mut server = Stream::connected(TcpStream::connect(to)?, to);
    let mut buf = [0u8; 1024];
    let n = client.read(&mut buf)?;
    server.write_all(&buf[..n])?;
    let mut piece = [0u8; 1000];
    loop {
        let n = server.read(&mut piece)?;
        if n == 0 {
            return Ok(());
        }
        client.write_all(&piece[..n])?;
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `trace_chart TRACES -o OUT/NAME.svg`, the example beside this one.
fn chart(l: &Lesson, traces: &[&str], out: &Path, name: &str, title: &str) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let chart = exe.with_file_name(format!("trace_chart{}", std::env::consts::EXE_SUFFIX));
    let svg = out.join(format!("{name}.svg"));
    let status = Command::new(&chart)
        .args(traces.iter().map(|t| l.path(t)))
        .arg("-o")
        .arg(&svg)
        .args(["--title", title])
        .status()
        .map_err(|e| {
            format!(
                "cannot run {} (cargo build --example trace_chart): {e}",
                chart.display()
            )
        })?;
    if !status.success() {
        return Err(format!("trace_chart failed for {name}"));
    }
    println!("wrote {}", svg.display());
    Ok(())
}
