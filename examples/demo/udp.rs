//! Part 3: udp_receiver and udp_sender (udp_receiver.py / udp_sender.py).

use crate::tour::{expect_status, Input, Result, Tour};
use std::time::Duration;

/// How long a receiver told to stop (`exit`, `--count`) may take to end.
const ENDS_WITHIN: Duration = Duration::from_secs(10);

pub fn part(tour: &Tour) -> Result<()> {
    tour.title("3. UDP: datagrams without a connection (udp_receiver.py / udp_sender.py)");
    let here = tour.path("");
    tour.say("The receiver binds a port and prints each datagram with the address it came from.");
    let mut receiver = tour.start("udp_receiver", &["--port", "0", "--bind", "127.0.0.1"])?;
    tour.say("");
    tour.say("The sender sends its greeting, then each line as one datagram (an empty line is an empty datagram).");
    tour.say(
        "--bind-port 0 lets the system pick the sender's port (the Python always uses 14000):",
    );
    let port = receiver.port.to_string();
    let code = tour.run(
        &here,
        "udp_sender",
        &["--bind-port", "0", "--port", &port],
        &Input::Lines(&["hello over UDP", "", "exit"]),
    )?;
    expect_status("udp_sender", code, 0)?;
    let ended = receiver.ended_within(ENDS_WITHIN);
    tour.say("");
    tour.say("The receiver printed:");
    receiver.show_log();
    if ended {
        tour.say("and 'exit' ended it, as in the Python.");
    }

    tour.say("");
    tour.say("Nothing tells a UDP sender whether anyone received. A receiver that stops after one datagram:");
    let mut once = tour.start(
        "udp_receiver",
        &["--port", "0", "--bind", "127.0.0.1", "--count", "1"],
    )?;
    let port = once.port.to_string();
    tour.run(
        &here,
        "udp_sender",
        &["--no-greeting", "--bind-port", "0", "--port", &port],
        &Input::Lines(&["only one"]),
    )?;
    if !once.ended_within(ENDS_WITHIN) {
        return Err("udp_receiver --count 1 did not end after one datagram".into());
    }
    tour.say("...has gone. Sending to its port again still succeeds (exit status 0). Any warning below is");
    tour.say("the system passing on ICMP 'port unreachable' answers, which it does because the socket is");
    tour.say("connect()ed; Linux reports them on the next send, Windows on the next receive:");
    let code = tour.run(
        &here,
        "udp_sender",
        &["--bind-port", "0", "--port", &port],
        &Input::Lines(&["is anybody there?", "hello?"]),
    )?;
    tour.say(&format!("(exit status {code})"));

    tour.say("");
    tour.say(
        "A line longer than one datagram can carry (65,507 bytes over IPv4) is refused, never cut.",
    );
    tour.say("Input: a line of 70,000 'x', then 'after'; the receiver stops after two datagrams:");
    let mut two = tour.start(
        "udp_receiver",
        &["--port", "0", "--bind", "127.0.0.1", "--count", "2"],
    )?;
    crate::download::write(
        &tour.path("long.txt"),
        format!("{}\nafter\n", "x".repeat(70_000)).as_bytes(),
    )?;
    let code = tour.run(
        &here,
        "udp_sender",
        &["--bind-port", "0", "--port", &two.port.to_string()],
        &Input::File("long.txt"),
    )?;
    tour.say(&format!("(exit status {code}: a line was not sent)"));
    expect_status("udp_sender with a line too long", code, 1)?;
    two.ended_within(ENDS_WITHIN);
    two.show_log();

    tour.say("");
    tour.say("Like the Python, both sides can speak gbk (--encoding gbk); a character gbk lacks is refused by name:");
    let mut gbk = tour.start(
        "udp_receiver",
        &[
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--encoding",
            "gbk",
            "--count",
            "2",
        ],
    )?;
    let code = tour.run(
        &here,
        "udp_sender",
        &[
            "--encoding",
            "gbk",
            "--bind-port",
            "0",
            "--port",
            &gbk.port.to_string(),
        ],
        &Input::Lines(&["我是客戶发送端", "😀"]),
    )?;
    tour.say(&format!("(exit status {code})"));
    expect_status("udp_sender with a character gbk lacks", code, 1)?;
    gbk.ended_within(ENDS_WITHIN);
    gbk.show_log();
    Ok(())
}
