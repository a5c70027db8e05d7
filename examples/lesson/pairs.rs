//! The tutorial's own Python programs against ours, in both directions, as docs/WALKTHROUGH.md's "Try it" blocks run them; they need the programs in `py/` (or `--py DIR`).

use crate::run::{Lesson, Result};

/// Lines as typed, for a client's stdin.
fn typed(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

/// A tutorial pair in two windows, as a Windows learner types it: the server's window (in
/// `dir` of the lesson's folder) and the client's. The lessons run exactly these lines, so
/// the page's two-window commands (`lesson --windows NAME`) cannot drift from what is tested.
pub struct Windows {
    pub server: &'static str,
    pub server_dir: &'static str,
    pub client: &'static str,
    pub client_dir: &'static str,
}

/// Every pair lesson's two windows, by lesson name.
pub const WINDOWS: [(&str, Windows); 6] = [
    (
        "tcp-python-client",
        Windows {
            server: r"target\release\tcp_server.exe --bind 127.0.0.1 --port 10500 --encoding gbk",
            server_dir: "",
            client: r"py py\tcp_client.py",
            client_dir: "",
        },
    ),
    (
        "tcp-python-server",
        Windows {
            server: r"py py\tcp_server.py",
            server_dir: "",
            client: r"target\release\tcp_client.exe --port 10500 --encoding gbk",
            client_dir: "",
        },
    ),
    (
        "download-python-client",
        Windows {
            server: r"target\release\download_server.exe --root served --port 11500",
            server_dir: "",
            client: r"py ..\py\download_client.py",
            client_dir: "here",
        },
    ),
    (
        "download-raw-python-server",
        Windows {
            server: r"py ..\py\download_server.py",
            server_dir: "served",
            client: r"..\target\release\download_client.exe --raw --port 11500 photo.jpg",
            client_dir: "here",
        },
    ),
    (
        "udp-python-sender-to-ours",
        Windows {
            server: r"target\release\udp_receiver.exe --bind 127.0.0.1 --port 15000 --encoding gbk",
            server_dir: "",
            client: r"py py\udp_sender.py",
            client_dir: "",
        },
    ),
    (
        "udp-python-receiver",
        Windows {
            server: r"py py\udp_receiver.py",
            server_dir: "",
            client: r"target\release\udp_sender.exe --no-greeting --bind-port 0 --port 15000",
            client_dir: "",
        },
    ),
];

fn windows(name: &str) -> &'static Windows {
    &WINDOWS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a pair lesson has its windows")
        .1
}

/// Our tcp_client (in gbk) against the tutorial's tcp_server.py.
pub fn tcp_python_server(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let w = windows("tcp-python-server");
    let server = l.start_typed(w.server_dir, w.server, "python-server.log")?;
    l.run_typed(w.client_dir, w.client, &typed(&["hello", "你好", "exit"]))?;
    l.wait_for("python-server.log", "service complete", 1)?;
    server.kill()?;
    l.cat("python-server.log")
}

/// The tutorial's tcp_client.py against our tcp_server (in gbk).
pub fn tcp_python_client(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let w = windows("tcp-python-client");
    let server = l.start_typed(w.server_dir, w.server, "server.log")?;
    l.wait_for("server.log", "listening on", 1)?;
    l.run_typed(w.client_dir, w.client, &typed(&["hello", "你好", "exit"]))?;
    l.say("");
    l.wait_for("server.log", "service complete", 1)?;
    server.kill()?;
    l.cat("server.log")
}

/// Our udp_sender's 3000-byte datagram cut to 1024 by the tutorial's udp_receiver.py.
pub fn udp_python_receiver(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let w = windows("udp-python-receiver");
    let receiver = l.start_typed(w.server_dir, w.server, "python-receiver.log")?;
    let mut input = vec![b'x'; 3000];
    input.extend_from_slice(b"\nexit\n");
    l.run_typed(w.client_dir, w.client, &input)?;
    receiver.wait()?;
    l.cat_counting_x(&["python-receiver.log"])
}

/// The tutorial's client against our download_server: a missing file is a close without a byte.
pub fn download_python_client(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    l.mkdir("served")?;
    l.mkdir("here")?;
    let w = windows("download-python-client");
    let server = l.start_typed(w.server_dir, w.server, "server.log")?;
    l.wait_for("server.log", "listening on", 1)?;
    let code = l.run_typed(w.client_dir, w.client, b"nope.txt\n")?;
    l.say(&format!(" <- exit status {code}"));
    l.wait_for("server.log", "tutorial", 1)?;
    server.kill()?;
    l.cat_last("server.log")
}

/// Our download_client with `--raw` against the tutorial's download_server.py: every byte,
/// where the tutorial's own client keeps the first 6000.
pub fn download_raw_python_server(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    crate::download::served_files(l)?;
    let w = windows("download-raw-python-server");
    let server = l.start_typed(w.server_dir, w.server, "python-server.log")?;
    let code = l.run_typed(w.client_dir, w.client, b"")?;
    l.say(&format!("exit status {code}"));
    l.wc_c("here", "copy-photo.jpg")?;
    if l.read("here/copy-photo.jpg")? == l.read("served/photo.jpg")? {
        l.say("identical");
    }
    server.kill()?;
    l.cat("python-server.log")
}

/// The tutorial's udp_sender.py (greeting and lines in gbk) to our udp_receiver.
pub fn udp_python_sender_to_ours(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let w = windows("udp-python-sender-to-ours");
    let receiver = l.start_typed(w.server_dir, w.server, "receiver.log")?;
    l.wait_for("receiver.log", "listening on", 1)?;
    l.run_typed(w.client_dir, w.client, &typed(&["hello", "你好", "exit"]))?;
    l.say("");
    receiver.wait()?;
    l.cat("receiver.log")
}

/// Two sends into the tutorial's tcp_server.py while our client holds it: one recv takes both.
pub fn tcp_python_server_two_sends(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let server = l.start_tutorial("", &["py/tcp_server.py"], "python-server.log")?;
    std::thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| {
            let args = ["--port", "10500", "--encoding", "gbk"];
            l.run_fed("", "tcp_client", &args, &mut |stdin| {
                std::thread::sleep(std::time::Duration::from_secs(2));
                std::io::Write::write_all(stdin, b"first client\n").map_err(|e| e.to_string())
            })
        });
        l.wait_for("python-server.log", "client info", 1)?;
        let printed = l.python_output(crate::tcp::TWO_SENDS_PRINTED)?;
        first
            .join()
            .map_err(|_| "the first client's thread failed".to_string())??;
        l.say_text(&printed);
        Ok(())
    })?;
    l.wait_for("python-server.log", "service complete", 2)?;
    server.kill()?;
    l.cat("python-server.log")
}

/// The tutorial's udp_receiver.py prints what a sender sends as it is: forged lines.
pub fn udp_python_forged(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let receiver = l.start_tutorial("", &["py/udp_receiver.py"], "python-receiver.log")?;
    l.python(
        r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for datagram in [b"hello\n10.66.66.66:4444: forged\n127.0.0.1:1: exit", b"exit"]:
    s.sendto(datagram, ("127.0.0.1", 15000))
"#,
    )?;
    receiver.wait()?;
    l.cat("python-receiver.log")
}

/// The tutorial's udp_sender.py with nobody receiving: it cannot tell.
pub fn udp_python_sender(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    let code = l.run_tutorial("", &["py/udp_sender.py"], &typed(&["hello", "exit"]))?;
    l.say(&format!(" <- exit status {code}"));
    Ok(())
}

/// The tutorial's pair: a 10,000-byte photo arrives as its first 6000 bytes.
pub fn download_python_photo(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    crate::download::served_files(l)?;
    let server = l.start_tutorial("served", &["../py/download_server.py"], "python-server.log")?;
    l.run_tutorial("here", &["../py/download_client.py"], b"photo.jpg\n")?;
    l.say("");
    l.wc_c_all("here", &["copy-photo.jpg", "../served/photo.jpg"])?;
    server.kill()
}

/// The tutorial's pair with a missing file and an empty one: both end "well", with no file.
pub fn download_python_missing(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    crate::download::served_files(l)?;
    let server = l.start_tutorial("served", &["../py/download_server.py"], "python-server.log")?;
    for name in ["nope.txt", "empty.txt"] {
        let code = l.run_tutorial(
            "here",
            &["../py/download_client.py"],
            format!("{name}\n").as_bytes(),
        )?;
        l.say(&format!(" <- exit status {code}"));
    }
    for name in ["copy-nope.txt", "copy-empty.txt"] {
        if !l.exists(&format!("here/{name}")) {
            l.say(&format!(
                "ls: cannot access '{name}': No such file or directory"
            ));
        }
    }
    server.kill()?;
    l.cat("python-server.log")
}

/// The tutorial's client behind a slow link: it keeps the first piece only.
pub fn download_slow_link_python(l: &Lesson) -> Result<()> {
    l.tutorial_programs()?;
    crate::download::served_files(l)?;
    let server = crate::download::serve(l, "11600", "server.log")?;
    let link = crate::download::slow_link(l)?;
    l.run_tutorial("here", &["../py/download_client.py"], b"small.jpg\n")?;
    l.say("");
    l.wc_c_all("here", &["copy-small.jpg", "../served/small.jpg"])?;
    drop(link);
    server.kill()
}
