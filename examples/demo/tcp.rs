//! Part 1: tcp_server and tcp_client (tcp_server.py / tcp_client.py).

use crate::tour::{expect_status, Input, Result, Tour};

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

    // Issue 14 (--trace) adds its traced exchange here: the same conversation
    // once more with --trace, showing each read and write as it happens.

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
