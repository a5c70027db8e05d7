//! The download lessons of docs/WALKTHROUGH.md, each the same steps as its bash block.

use crate::run::{Lesson, Result};

/// `download_client --trace hello.txt`: our protocol's calls, frame by frame.
pub fn traced(l: &Lesson) -> Result<()> {
    l.mkdir("served")?;
    l.write("served/hello.txt", b"hello\n")?;
    let server = serve(l, "11500", "download-server.log")?;
    l.run(
        "",
        "download_client",
        &["--port", "11500", "--trace", "hello.txt"],
        b"",
    )?;
    server.kill()
}

/// A whole photo over our protocol, compared with the original.
pub fn photo(l: &Lesson) -> Result<()> {
    served_files(l)?;
    let server = serve(l, "11500", "server.log")?;
    l.run(
        "here",
        "download_client",
        &["--port", "11500", "photo.jpg"],
        b"",
    )?;
    l.wc_c("here", "copy-photo.jpg")?;
    if l.read("here/copy-photo.jpg")? == l.read("served/photo.jpg")? {
        l.say("identical");
    }
    server.kill()
}

/// A missing file and an empty one: ours tells them apart; with `--raw` it says it cannot.
pub fn missing(l: &Lesson) -> Result<()> {
    served_files(l)?;
    let server = serve(l, "11500", "server.log")?;
    for args in [
        &["--port", "11500", "nope.txt"][..],
        &["--port", "11500", "empty.txt"],
    ] {
        let code = l.run("here", "download_client", args, b"")?;
        l.say(&format!("exit status {code}"));
    }
    l.wc_c("here", "copy-empty.txt")?;
    let code = l.run(
        "here",
        "download_client",
        &["--port", "11500", "--raw", "nope.txt"],
        b"",
    )?;
    l.say(&format!("exit status {code}"));
    l.wait_for("server.log", "tutorial", 1)?;
    server.kill()?;
    l.cat("server.log")
}

/// The two `--raw` requests on the wire: the name out, and a close without a byte.
pub fn raw_traced(l: &Lesson) -> Result<()> {
    served_files(l)?;
    let server = serve(l, "11500", "server.log")?;
    for name in ["nope.txt", "empty.txt"] {
        l.run(
            "here",
            "download_client",
            &["--port", "11500", "--raw", "--trace", name],
            b"",
        )?;
    }
    server.kill()
}

/// The section's setup: `served/` with a photo, a small and a big file and an empty one,
/// and `here/`, where the clients save.
pub fn served_files(l: &Lesson) -> Result<()> {
    l.mkdir("served")?;
    l.mkdir("here")?;
    l.write("served/photo.jpg", &noise(10_000, 1))?;
    l.write("served/small.jpg", &noise(4_000, 2))?;
    l.write("served/big.bin", &noise(8_000_000, 3))?;
    l.write("served/empty.txt", b"")
}

/// Bytes that look random (the page's `head -c N /dev/urandom`), the same on every run.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A download cut part-way and resumed, on any platform: a relay in front of the server
/// passes the hellos, the FILE frame and 2 MiB of the file, then holds the rest back; the
/// client is stopped there (the page's bash block uses `ulimit -f` for the same crash).
/// The second run continues from the `.part`.
pub fn resume(l: &Lesson) -> Result<()> {
    served_files(l)?;
    let server = serve(l, "11500", "server.log")?;
    // The server's hello (7 bytes) and the FILE frame (4 + 50), then 2 MiB of the file.
    let relay = Relay::start(l.real_port(11500), 7 + 54 + PART)?;
    let port = relay.port.to_string();
    let client = l.spawn("here", "download_client", &["--port", &port, "big.bin"])?;
    l.wait_for_size("here/copy-big.bin.part", PART)?;
    client.kill()?;
    l.say(&format!(
        "download_client stopped with {PART} bytes in copy-big.bin.part"
    ));
    l.wc_c_all("here", &["copy-big.bin.part", "copy-big.bin.part.info"])?;
    l.run(
        "here",
        "download_client",
        &["--port", "11500", "big.bin"],
        b"",
    )?;
    if l.read("here/copy-big.bin")? == l.read("served/big.bin")? {
        l.say("identical");
    }
    l.wait_for("server.log", "resumed at", 1)?;
    server.kill()?;
    l.cat_matching("server.log", "resumed at")
}

/// Where the first download is stopped: 2 MiB.
const PART: u64 = 2 * 1024 * 1024;

/// A one-client TCP relay to `127.0.0.1:server` that passes everything the client sends and
/// only the first `limit` bytes of what the server sends; the rest waits until it is dropped.
struct Relay {
    port: u16,
}

impl Relay {
    fn start(server: u16, limit: u64) -> Result<Relay> {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("relay: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("relay: {e}"))?
            .port();
        std::thread::spawn(move || -> std::io::Result<()> {
            let (mut client, _) = listener.accept()?;
            let mut upstream = TcpStream::connect(("127.0.0.1", server))?;
            let (mut client_in, mut upstream_out) = (client.try_clone()?, upstream.try_clone()?);
            std::thread::spawn(move || std::io::copy(&mut client_in, &mut upstream_out));
            let mut left = limit;
            let mut buf = [0u8; 16 * 1024];
            while left > 0 {
                let want = buf.len().min(left as usize);
                let n = upstream.read(&mut buf[..want])?;
                if n == 0 {
                    break;
                }
                client.write_all(&buf[..n])?;
                left -= n as u64;
            }
            // Held back: the client waits for the rest until it is stopped.
            let _hold = (client, upstream, listener);
            std::thread::park();
            Ok(())
        });
        Ok(Relay { port })
    }
}

/// Our client with `--raw` behind the same slow link reads until the server closes: all of it.
pub fn slow_link_raw(l: &Lesson) -> Result<()> {
    served_files(l)?;
    let server = serve(l, "11600", "server.log")?;
    let link = slow_link(l)?;
    l.run(
        "here",
        "download_client",
        &["--raw", "--port", "11500", "small.jpg"],
        b"",
    )?;
    l.wc_c("here", "copy-small.jpg")?;
    if l.read("here/copy-small.jpg")? == l.read("served/small.jpg")? {
        l.say("identical");
    }
    drop(link);
    server.kill()
}

/// The page's slow_link.py, started in front of the server on port 11600: it listens on
/// 11500 and passes the answer back 1000 bytes every 10 ms.
pub fn slow_link(l: &Lesson) -> Result<crate::run::Server> {
    l.write("slow_link.py", SLOW_LINK.as_bytes())?;
    let link = l.start_python_script(&["slow_link.py", "11600"], "link.log")?;
    l.wait_for("link.log", "listening on", 1)?;
    Ok(link)
}

/// The walkthrough's slow link, as the page writes it.
const SLOW_LINK: &str = r#"# A slow network in front of a server: listens on port 11500 for one client,
# forwards its request to the server's port, and passes the answer back in
# pieces of 1000 bytes, 10 ms apart.
import socket, sys, time
listener = socket.create_server(("127.0.0.1", 11500))
print("listening on port 11500", flush=True)
client, _ = listener.accept()
server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
server.sendall(client.recv(1024))
try:
    while piece := server.recv(1000):
        client.sendall(piece)
        time.sleep(0.01)
except OSError:  # the client hung up
    pass
"#;

/// `download_server --root served --port PORT > LOG &`, then the wait for its `listening on`.
pub fn serve(l: &Lesson, port: &str, log: &str) -> Result<crate::run::Server> {
    let server = l.start(
        "download_server",
        &["--root", "served", "--port", port],
        log,
        None,
    )?;
    l.wait_for(log, "listening on", 1)?;
    Ok(server)
}
