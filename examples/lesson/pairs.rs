//! The tutorial's own Python programs against ours, in both directions, as docs/WALKTHROUGH.md's "Try it" blocks run them; they need the programs in `py/` (or `--py DIR`).

use crate::run::{Lesson, Result};

/// Lines as typed, for a client's stdin.
fn typed(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

/// Our tcp_client (in gbk) against the tutorial's tcp_server.py.
pub fn tcp_python_server(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let server = l.start_tutorial("", &["py/tcp_server.py"], "python-server.log")?;
    let input = typed(&["hello", "你好", "exit"]);
    l.run(
        "",
        "tcp_client",
        &["--port", "10500", "--encoding", "gbk"],
        &input,
    )?;
    l.wait_for("python-server.log", "service complete", 1)?;
    server.kill()?;
    l.cat("python-server.log")
}

/// The tutorial's tcp_client.py against our tcp_server (in gbk).
pub fn tcp_python_client(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        "10500",
        "--encoding",
        "gbk",
    ];
    let server = l.start("tcp_server", &args, "server.log", None)?;
    l.wait_for("server.log", "listening on", 1)?;
    l.run_tutorial(
        "",
        &["py/tcp_client.py"],
        &typed(&["hello", "你好", "exit"]),
    )?;
    l.say("");
    l.wait_for("server.log", "service complete", 1)?;
    server.kill()?;
    l.cat("server.log")
}

/// Our udp_sender's 3000-byte datagram cut to 1024 by the tutorial's udp_receiver.py.
pub fn udp_python_receiver(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let receiver = l.start_tutorial("", &["py/udp_receiver.py"], "python-receiver.log")?;
    let mut input = vec![b'x'; 3000];
    input.extend_from_slice(b"\nexit\n");
    let args = ["--no-greeting", "--bind-port", "0", "--port", "15000"];
    l.run("", "udp_sender", &args, &input)?;
    receiver.wait()?;
    l.cat_counting_x(&["python-receiver.log"])
}

/// The tutorial's client against our download_server: a missing file is a close without a byte.
pub fn download_python_client(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    l.mkdir("served")?;
    l.mkdir("here")?;
    let server = l.start(
        "download_server",
        &["--root", "served", "--port", "11500"],
        "server.log",
        None,
    )?;
    l.wait_for("server.log", "listening on", 1)?;
    let code = l.run_tutorial("here", &["../py/download_client.py"], b"nope.txt\n")?;
    l.say(&format!(" <- exit status {code}"));
    l.wait_for("server.log", "tutorial", 1)?;
    server.kill()?;
    l.cat_last("server.log")
}
