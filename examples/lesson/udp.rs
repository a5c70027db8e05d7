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
