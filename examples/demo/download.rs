//! Part 2: download_server and download_client (download_server.py / download_client.py).

use crate::tour::{expect_status, Input, Result, Tour};
use socket_tutorial::file_service::sha256::{hex, Sha256};
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::thread;

pub fn part(tour: &Tour) -> Result<()> {
    tour.title("2. Files: a download server that stays in its directory (download_server.py / download_client.py)");
    tour.dir("served/docs")?;
    let served = tour.path("served");
    let here = tour.dir("here")?;
    write(&served.join("notes.txt"), b"meeting at 10\n")?;
    write(&served.join("docs/photo.jpg"), &noise(1, 20_000))?;
    write(&served.join("big.bin"), &noise(2, 8_000_000))?;
    write(&tour.path("secret.txt"), b"not for you\n")?;
    tour.say("The server serves one directory (--root), on 127.0.0.1 unless told otherwise:");
    let served_arg = served.display().to_string();
    let mut server = tour.start("download_server", &["--port", "0", "--root", &served_arg])?;
    let port = server.port.to_string();

    tour.say("");
    tour.say("The Python client does one recv(6000), so anything longer was cut. Here a 20,000-byte file arrives whole,");
    tour.say("saved as copy-<name> like the Python does, and --verify prints a SHA-256 the way sha256sum does:");
    let code = tour.run(
        &here,
        "download_client",
        &["--port", &port, "--verify", "docs/photo.jpg"],
        &Input::Nothing,
    )?;
    expect_status("download_client", code, 0)?;
    let original = read(&served.join("docs/photo.jpg"))?;
    same(
        &read(&here.join("copy-photo.jpg"))?,
        &original,
        "copy-photo.jpg",
    )?;
    tour.say(&format!(
        "The served file's own SHA-256 is {}: the same bytes, all {} of them.",
        hex(&Sha256::digest(&original)),
        original.len()
    ));

    tour.say("");
    tour.say("The Python server said nothing about a missing file; the client now gets the server's message and exit status 1:");
    let code = tour.run(
        &here,
        "download_client",
        &["--port", &port, "nope.txt"],
        &Input::Nothing,
    )?;
    tour.say(&format!("(exit status {code})"));
    expect_status("download_client nope.txt", code, 1)?;

    tour.say("");
    tour.say("The Python server opened any path it was sent: ../, /etc/passwd, C:\\Windows\\win.ini. Here they are refused:");
    let code = tour.run(
        &here,
        "download_client",
        &[
            "--port",
            &port,
            "../secret.txt",
            "/etc/passwd",
            "C:\\Windows\\win.ini",
        ],
        &Input::Nothing,
    )?;
    tour.say(&format!("(exit status {code})"));
    expect_status("download_client of names outside the root", code, 1)?;
    for name in ["copy-secret.txt", "copy-passwd", "copy-win.ini"] {
        if here.join(name).exists() {
            return Err(format!(
                "the server sent a file from outside its root: {name}"
            ));
        }
    }
    tour.say(&format!("In the client's folder: {}", listing(&here)));

    tour.say("");
    tour.say("An interrupted download resumes. Here the connection is cut after 2 MiB of big.bin (a little");
    tour.say("proxy in front of the server stops forwarding). The bytes so far stay in copy-big.bin.part,");
    tour.say("never under the final name:");
    let proxy = cutting_proxy(server.port, 2 * 1024 * 1024)?;
    let code = tour.run(
        &here,
        "download_client",
        &["--port", &proxy.to_string(), "big.bin"],
        &Input::Nothing,
    )?;
    tour.say(&format!("(exit status {code})"));
    tour.say(&format!("In the client's folder: {}", listing(&here)));
    tour.say(
        "Run it again: it asks the server for the rest, if the file is still the same version:",
    );
    let code = tour.run(
        &here,
        "download_client",
        &["--port", &port, "big.bin"],
        &Input::Nothing,
    )?;
    expect_status("download_client big.bin", code, 0)?;
    same(
        &read(&here.join("copy-big.bin"))?,
        &read(&served.join("big.bin"))?,
        "copy-big.bin",
    )?;
    tour.say("(copy-big.bin is byte for byte the served big.bin)");

    tour.say("");
    tour.say("The server logged every request: client, path, result, bytes, time:");
    server.show_log();
    Ok(())
}

/// A proxy for one connection to the server on `port` that forwards the
/// first `limit` bytes of the answer, then cuts both sides; its port.
fn cutting_proxy(port: u16, limit: usize) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy: {e}"))?;
    let proxy_port = listener
        .local_addr()
        .map_err(|e| format!("proxy: {e}"))?
        .port();
    thread::spawn(move || -> std::io::Result<()> {
        let (client, _) = listener.accept()?;
        let server = TcpStream::connect(("127.0.0.1", port))?;
        let (mut up_from, mut up_to) = (client.try_clone()?, server.try_clone()?);
        thread::spawn(move || std::io::copy(&mut up_from, &mut up_to));
        let (mut from, mut to) = (&server, &client);
        let mut buf = [0u8; 16 * 1024];
        let mut forwarded = 0;
        while forwarded < limit {
            let want = buf.len().min(limit - forwarded);
            let n = from.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n])?;
            forwarded += n;
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        Ok(())
    });
    Ok(proxy_port)
}

/// Bytes that look random (xorshift), so nothing compresses or repeats.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn same(copy: &[u8], original: &[u8], name: &str) -> Result<()> {
    if copy == original {
        Ok(())
    } else {
        Err(format!("{name} differs from the served file"))
    }
}

/// `name (size bytes), ...` for the files of a directory, sorted.
fn listing(dir: &Path) -> String {
    let mut files: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            format!("{} ({size} bytes)", e.file_name().to_string_lossy())
        })
        .collect();
    files.sort();
    files.join(", ")
}
