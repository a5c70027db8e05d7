//! `--trace` on every binary: the trace of a scripted exchange, line by line, with times and ports normalised; and nothing on stderr without it.

mod common;

use common::{command, describe, Line, Running, Spawn, TempDir};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;

/// A server started with `--trace`, once it printed `listening on` (its trace lines come
/// on stderr before that line, so `Spawn::server`, which wants that line first, cannot be used).
fn traced_server(spawn: Spawn) -> Running {
    let mut running = spawn.start();
    loop {
        match running.next_line() {
            Some(Line::Out(text)) if text.starts_with("listening on ") => {
                running.addr = text["listening on ".len()..].parse().ok();
                assert!(running.addr.is_some(), "{text}");
                return running;
            }
            Some(_) => continue,
            None => panic!("no `listening on` line\n{}", running.transcript()),
        }
    }
}

/// The trace lines (stderr) a process printed so far.
fn stderr_of(running: &Running) -> String {
    let mut text = String::new();
    for line in running.transcript().lines() {
        if let Some(l) = line.strip_prefix("err| ") {
            text.push_str(l);
            text.push('\n');
        }
    }
    text
}

/// Trace lines with what changes between runs made equal: `+S.UUUUUU` is `+T`, the ports
/// named in `named` are shown by their names, every other port as `{1}`, `{2}`... in order
/// of appearance, named ones counted (across all the texts given to one `Ports`).
#[derive(Default)]
struct Ports {
    names: BTreeMap<u16, String>,
}

impl Ports {
    fn name(&mut self, port: u16, name: &str) {
        self.names.insert(port, name.to_string());
    }

    fn normalise(&mut self, text: &str) -> Vec<String> {
        text.lines().map(|line| self.line(line)).collect()
    }

    fn line(&mut self, line: &str) -> String {
        let line = match line.strip_prefix('+') {
            Some(rest) => {
                let time = rest.find(' ').unwrap_or(0);
                let (secs, micros) = rest[..time].split_once('.').unwrap_or(("", ""));
                assert!(
                    !secs.is_empty()
                        && secs.bytes().all(|b| b.is_ascii_digit())
                        && micros.len() == 6
                        && micros.bytes().all(|b| b.is_ascii_digit()),
                    "a trace line starts with +S.UUUUUU: {line}"
                );
                format!("+T{}", &rest[time..])
            }
            None => panic!("not a trace line: {line}"),
        };
        let mut out = String::new();
        let mut rest = line.as_str();
        while let Some(at) = rest.find("127.0.0.1:") {
            let after = &rest[at + "127.0.0.1:".len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            out.push_str(&rest[..at + "127.0.0.1:".len()]);
            match after[..digits].parse::<u16>() {
                Ok(port) if port != 0 => {
                    let n = self.names.len() + 1;
                    let name = self.names.entry(port).or_insert_with(|| format!("{{{n}}}"));
                    out.push_str(name);
                }
                _ => out.push_str(&after[..digits]),
            }
            rest = &after[digits..];
        }
        out.push_str(rest);
        out
    }
}

/// Waits until the process has printed `n` lines containing `needle`, on either stream and
/// in any order (a server's stdout lines go out a little after its trace lines).
fn wait_lines(running: &mut Running, needle: &str, n: usize) {
    while running.transcript().matches(needle).count() < n {
        if running.next_line().is_none() {
            panic!(
                "ended before {n} lines with {needle:?}\n{}",
                running.transcript()
            );
        }
    }
}

/// One of the binaries on 127.0.0.1 and a free port, with `extra` options.
fn on_loopback(name: &str, extra: &[&str]) -> Spawn {
    Spawn::new(name)
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .args(extra)
}

/// Runs a client to its end; it must succeed.
fn run_ok(cmd: &mut assert_cmd::Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    out
}

/// [`run_ok`], and nothing may be printed on stderr.
fn run_quiet(cmd: &mut assert_cmd::Command) {
    let out = run_ok(cmd);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

/// udp_sender from 127.0.0.1 and a free port to `port`, with `extra` options.
fn udp_sender(port: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = command("udp_sender");
    cmd.args(["--bind", "127.0.0.1", "--bind-port", "0", "--port", port])
        .args(extra);
    cmd
}

/// What a traced TCP server prints first, for its listener on 127.0.0.1.
const LISTENING: [&str; 3] = [
    "+T socket AF_INET SOCK_STREAM",
    "+T bind 127.0.0.1:SERVER",
    "+T listen 127.0.0.1:SERVER backlog 128",
];

/// The client's connect, from the port named `{2}`.
const CONNECTED: [&str; 2] = [
    "+T socket AF_INET SOCK_STREAM",
    "+T connect 127.0.0.1:SERVER -> from 127.0.0.1:{2}",
];

fn assert_lines(what: &str, got: &[String], want: &[&str]) {
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        want,
        "{what}: the trace is not what was expected\n--- got\n{}\n--- want\n{}",
        got.join("\n"),
        want.join("\n")
    );
}

#[test]
fn tcp_server_shows_two_messages_arriving_in_one_recv() {
    let mut server = traced_server(on_loopback("tcp_server", &["--sequential", "--trace"]));
    let addr = server.connect_addr();
    // The server serves one client at a time: while it waits for the first one, the second
    // one's two sends both arrive, and the server reads them with one recv.
    let mut first = TcpStream::connect(addr).unwrap();
    server.wait_for("accept ->");
    let mut second = TcpStream::connect(addr).unwrap();
    second.write_all(b"hello\n").unwrap();
    second.write_all(b"exit\n").unwrap();
    first.write_all(b"first").unwrap();
    let mut reply = [0u8; 64];
    let n = first.read(&mut reply).unwrap();
    assert_eq!(
        &reply[..n],
        "ok, Processing Request Completion！".as_bytes()
    );
    drop(first);
    let n = second.read(&mut reply).unwrap();
    assert_eq!(
        &reply[..n],
        "ok, Processing Request Completion！".as_bytes()
    );
    drop(second);
    wait_lines(&mut server, "] close", 2);
    let mut ports = Ports::default();
    ports.name(addr.port(), "SERVER");
    let trace = ports.normalise(&stderr_of(&server));
    assert_lines(
        "tcp_server --trace",
        &trace,
        &[
            LISTENING[0],
            LISTENING[1],
            LISTENING[2],
            "+T accept -> 127.0.0.1:{2}",
            "+T [127.0.0.1:{2}] recv(1024) -> 5 bytes \"first\"",
            "+T [127.0.0.1:{2}] send 36 bytes \"ok, Processing Request Completion！\"",
            "+T [127.0.0.1:{2}] recv(1024) -> 0 bytes (peer closed)",
            "+T [127.0.0.1:{2}] close",
            "+T accept -> 127.0.0.1:{3}",
            "+T [127.0.0.1:{3}] recv(1024) -> 11 bytes \"hello\\nexit\\n\"",
            "+T [127.0.0.1:{3}] send 36 bytes \"ok, Processing Request Completion！\"",
            "+T [127.0.0.1:{3}] recv(1024) -> 0 bytes (peer closed)",
            "+T [127.0.0.1:{3}] close",
        ],
    );
}

#[test]
fn lines_of_clients_served_at_once_never_mix() {
    let mut server = traced_server(on_loopback("tcp_server", &["--echo", "--quiet", "--trace"]));
    let addr = server.connect_addr();
    let message = [b'm'; 1000];
    let clients: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                let mut echo = [0u8; 1000];
                for _ in 0..5 {
                    stream.write_all(&message).unwrap();
                    stream.read_exact(&mut echo).unwrap();
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    wait_lines(&mut server, "] close", 16);
    let mut ports = Ports::default();
    ports.name(addr.port(), "SERVER");
    // Each line is whole: it starts with its clock (checked by `normalise`), names its
    // client once and ends where it should; and each client's bytes are all there.
    let trace = ports.normalise(&stderr_of(&server));
    let mut echoed: BTreeMap<String, usize> = BTreeMap::new();
    for line in &trace[LISTENING.len()..] {
        assert_eq!(line.matches("+T").count(), 1, "{line}");
        if let Some(rest) = line.strip_prefix("+T accept -> ") {
            assert!(
                rest.starts_with("127.0.0.1:{") && rest.ends_with('}'),
                "{line}"
            );
            continue;
        }
        let (client, op) = line["+T [".len()..].split_once("] ").expect(line);
        assert_eq!(line.matches('[').count(), 1, "{line}");
        if let Some(sent) = op.strip_prefix("send ") {
            // `send 1000 bytes "mmm…"…` (however the reads cut the messages).
            let (n, shown) = sent.split_once(" bytes ").expect(line);
            assert!(shown.starts_with("\"m"), "{line}");
            *echoed.entry(client.to_string()).or_default() += n.parse::<usize>().expect(line);
        } else {
            assert!(op.starts_with("recv(1024) -> ") || op == "close", "{line}");
        }
    }
    assert_eq!(echoed.len(), 16, "{echoed:?}");
    assert!(echoed.values().all(|&n| n == 5000), "{echoed:?}");
}

#[test]
fn tcp_client_traces_connect_send_recv_and_close() {
    let server = on_loopback("tcp_server", &[]).server();
    let out = run_ok(
        command("tcp_client")
            .args(["--port", &server.port(), "--trace"])
            .write_stdin("hello\nexit\n"),
    );
    let mut ports = Ports::default();
    ports.name(server.connect_addr().port(), "SERVER");
    let trace = ports.normalise(&String::from_utf8_lossy(&out.stderr));
    let reply = "\"ok, Processing Request Completion！\"";
    assert_lines(
        "tcp_client --trace",
        &trace,
        &[
            CONNECTED[0],
            CONNECTED[1],
            "+T [127.0.0.1:SERVER] send 5 bytes \"hello\"",
            &format!("+T [127.0.0.1:SERVER] recv(1024) -> 36 bytes {reply}"),
            "+T [127.0.0.1:SERVER] send 4 bytes \"exit\"",
            &format!("+T [127.0.0.1:SERVER] recv(1024) -> 36 bytes {reply}"),
            "+T [127.0.0.1:SERVER] close",
        ],
    );
}

#[test]
fn a_datagram_larger_than_the_pythons_buffer_arrives_whole() {
    let mut receiver = traced_server(on_loopback("udp_receiver", &["--count", "2", "--trace"]));
    let line = "y".repeat(2000);
    let out = run_ok(udp_sender(&receiver.port(), &["--trace"]).write_stdin(format!("{line}\n")));
    assert!(receiver.wait_exit().success());
    let mut ports = Ports::default();
    ports.name(receiver.connect_addr().port(), "RECEIVER");
    let sender = ports.normalise(&String::from_utf8_lossy(&out.stderr));
    let greeting = "\"this is a data from client, 我是客戶发送端!\"";
    let ys = format!("\"{}\"…", "y".repeat(64));
    assert_lines(
        "udp_sender --trace",
        &sender,
        &[
            "+T socket AF_INET SOCK_DGRAM",
            "+T bind 127.0.0.1:{2}",
            "+T connect 127.0.0.1:RECEIVER (UDP: sends nothing, only fixes the destination)",
            &format!("+T sendto 127.0.0.1:RECEIVER 50 bytes {greeting}"),
            &format!("+T sendto 127.0.0.1:RECEIVER 2000 bytes {ys}"),
            "+T close",
        ],
    );
    let trace = ports.normalise(&stderr_of(&receiver));
    assert_lines(
        "udp_receiver --trace",
        &trace,
        &[
            "+T socket AF_INET SOCK_DGRAM",
            "+T bind 127.0.0.1:RECEIVER",
            &format!("+T recvfrom(65536) -> 50 bytes from 127.0.0.1:{{2}} {greeting}"),
            &format!("+T recvfrom(65536) -> 2000 bytes from 127.0.0.1:{{2}} {ys}"),
            "+T close",
        ],
    );
}

/// A root holding `notes.txt`: 20000 bytes of text.
fn notes_root() -> (TempDir, Vec<u8>) {
    let dir = TempDir::new("trace-root");
    let root = dir.join("served");
    std::fs::create_dir(&root).unwrap();
    let notes: Vec<u8> = b"notes\n".iter().copied().cycle().take(20000).collect();
    std::fs::write(root.join("notes.txt"), &notes).unwrap();
    (dir, notes)
}

fn download_server(dir: &TempDir) -> Running {
    traced_server(
        Spawn::new("download_server")
            .args(["--port", "0", "--trace", "--root"])
            .args([dir.join("served")]),
    )
}

/// download_client (with `extra`) fetching notes.txt from download_server, both with
/// `--trace`: the client's trace and the server's, normalised (the server's port is
/// `SERVER`, the client's `{2}`).
fn traced_download(extra: &[&str]) -> (Vec<String>, Vec<String>) {
    let (dir, notes) = notes_root();
    let mut server = download_server(&dir);
    let out_path = dir.join("got.txt");
    let out = run_ok(
        command("download_client")
            // -s: the `saved as` line is not part of the trace.
            .args(["--port", &server.port(), "--trace", "-s", "-o"])
            .arg(&out_path)
            .args(extra)
            .arg("notes.txt"),
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), notes);
    wait_lines(&mut server, "] close", 1);
    let mut ports = Ports::default();
    ports.name(server.connect_addr().port(), "SERVER");
    let client = ports.normalise(&String::from_utf8_lossy(&out.stderr));
    let server_trace = ports.normalise(&stderr_of(&server));
    (client, server_trace)
}

#[test]
fn a_framed_download_shows_its_frames_next_to_the_reads_that_carry_them() {
    let (client, server_trace) = traced_download(&["--verify"]);
    let file_frame =
        "\"\\x00\\x00\\x002\\x82\\x00\\x00\\x00\\x00\\x00\\x00N \\x00\\x00\\x00\\x00\\x00\"…";
    let download =
        "\"\\x00\\x00\\x00\\x16\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\"…";
    let body = format!("\"{}n\"…", "notes\\n".repeat(9));
    // The DIGEST frame: its length (33), type 0x83 and the first bytes of the SHA-256.
    let digest_frame =
        "\"\\x00\\x00\\x00!\\x83t\\xad\\xc1&\\xa6=\\x1aK\\xc1\\x8a\\xce.\\x80?\\x1a\\x9e\"…";
    let digest_body =
        "\"\\x83t\\xad\\xc1&\\xa6=\\x1aK\\xc1\\x8a\\xce.\\x80?\\x1a\\x9e\\x08\\x9f\\x9eI\"…";
    let s = "+T [127.0.0.1:SERVER]";
    assert_lines(
        "download_client --trace",
        &client,
        &[
            CONNECTED[0],
            CONNECTED[1],
            &format!("{s} -> HELLO version 2"),
            &format!("{s} send 6 bytes \"\\x00STP\\x00\\x02\""),
            &format!("{s} recv(7) -> 7 bytes \"\\x00STP\\x00\\x02\\x02\""),
            &format!("{s} <- HELLO version 2 read-only"),
            &format!("{s} -> DOWNLOAD \"notes.txt\" offset 0 want-sha256"),
            &format!("{s} send 26 bytes {download}"),
            &format!("{s} recv(4) -> 4 bytes \"\\x00\\x00\\x002\""),
            &format!("{s} recv(50) -> 50 bytes \"\\x82\\x00\\x00\\x00\\x00\\x00\\x00N \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00 \"…"),
            &format!("{s} <- FILE size 20000 offset 0 identity (32 bytes) (then 20000 raw bytes)"),
            &format!("{s} recv(20000) -> 20000 bytes {body}"),
            &format!("{s} recv(4) -> 4 bytes \"\\x00\\x00\\x00!\""),
            &format!("{s} recv(33) -> 33 bytes {digest_body}"),
            &format!("{s} <- DIGEST sha256 74adc126…"),
            &format!("{s} close"),
        ],
    );
    let c = "+T [127.0.0.1:{2}]";
    assert_lines(
        "download_server --trace",
        &server_trace,
        &[
            LISTENING[0],
            LISTENING[1],
            LISTENING[2],
            "+T accept -> 127.0.0.1:{2}",
            &format!("{c} recv(1024) -> 6 bytes \"\\x00STP\\x00\\x02\""),
            &format!("{c} <- HELLO version 2"),
            &format!("{c} -> HELLO version 2 read-only"),
            &format!("{c} send 7 bytes \"\\x00STP\\x00\\x02\\x02\""),
            &format!("{c} recv(8192) -> 26 bytes {download}"),
            &format!("{c} <- DOWNLOAD \"notes.txt\" offset 0 want-sha256"),
            &format!("{c} -> FILE size 20000 offset 0 identity (32 bytes) (then 20000 raw bytes)"),
            &format!("{c} send 54 bytes {file_frame}"),
            &format!("{c} send 20000 bytes {body}"),
            &format!("{c} -> DIGEST sha256 74adc126…"),
            &format!("{c} send 37 bytes {digest_frame}"),
            &format!("{c} recv(8192) -> 0 bytes (peer closed)"),
            &format!("{c} close"),
        ],
    );
}

#[test]
fn a_tutorial_download_is_one_recv_of_the_name_then_bytes_until_the_close() {
    let (client, server_trace) = traced_download(&["--raw"]);
    let body = format!("\"{}n\"…", "notes\\n".repeat(9));
    let s = "+T [127.0.0.1:SERVER]";
    assert_lines(
        "download_client --raw --trace",
        &client,
        &[
            CONNECTED[0],
            CONNECTED[1],
            &format!("{s} send 9 bytes \"notes.txt\""),
            &format!("{s} recv(1048576) -> 20000 bytes {body}"),
            &format!("{s} recv(1048576) -> 0 bytes (peer closed)"),
            &format!("{s} close"),
        ],
    );
    let c = "+T [127.0.0.1:{2}]";
    assert_lines(
        "download_server --trace, a tutorial client",
        &server_trace,
        &[
            LISTENING[0],
            LISTENING[1],
            LISTENING[2],
            "+T accept -> 127.0.0.1:{2}",
            &format!("{c} recv(1024) -> 9 bytes \"notes.txt\""),
            &format!("{c} send 20000 bytes {body}"),
            &format!("{c} close"),
        ],
    );
}

#[test]
fn file_shell_shows_each_frame_it_sends_and_receives() {
    let (dir, notes) = notes_root();
    let server = Spawn::new("download_server")
        .args(["--port", "0", "--root"])
        .args([dir.join("served")])
        .server();
    std::fs::write(dir.join("batch"), "ls\nget notes.txt got.txt\n").unwrap();
    let out = command("file_shell")
        .current_dir(dir.path())
        .args([
            "--trace",
            "-b",
            "batch",
            &format!("127.0.0.1:{}", server.port()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read(dir.join("got.txt")).unwrap(), notes);
    let mut ports = Ports::default();
    ports.name(server.connect_addr().port(), "SERVER");
    let trace = ports.normalise(&String::from_utf8_lossy(&out.stderr));
    // The frames, in order (the reads and writes that carry them are checked above).
    let frames: Vec<String> = trace
        .iter()
        .filter(|l| l.contains("] -> ") || l.contains("] <- "))
        .map(|l| {
            // Permission bits follow the system's umask (and Windows has its own).
            match l.find(" mode ") {
                Some(at) => format!("{} mode M", &l[..at]),
                None => l.clone(),
            }
        })
        .collect();
    let s = "+T [127.0.0.1:SERVER]";
    assert_lines(
        "file_shell --trace",
        &frames,
        &[
            &format!("{s} -> HELLO version 2"),
            &format!("{s} <- HELLO version 2 read-only"),
            &format!("{s} -> STAT \"\""),
            &format!("{s} <- STAT-REPLY dir mode M"),
            &format!("{s} -> LIST \"\""),
            &format!("{s} <- LISTING 1 entry \"notes.txt\" (20000) (last)"),
            &format!("{s} -> STAT \"notes.txt\""),
            &format!("{s} <- STAT-REPLY file size 20000 mode M"),
            &format!("{s} -> DOWNLOAD \"notes.txt\" offset 0"),
            &format!("{s} <- FILE size 20000 offset 0 identity (32 bytes) (then 20000 raw bytes)"),
        ],
    );
    assert_eq!(
        trace.first().map(String::as_str),
        Some("+T socket AF_INET SOCK_STREAM")
    );
    assert_eq!(
        trace.last().map(String::as_str),
        Some(&*format!("{s} close"))
    );
}

#[test]
fn text_in_gbk_is_shown_decoded_when_the_server_reads_gbk() {
    let mut server = traced_server(on_loopback("tcp_server", &["--encoding", "gbk", "--trace"]));
    let mut client = TcpStream::connect(server.connect_addr()).unwrap();
    // 你好 in gbk, then bytes that are not gbk at all.
    client.write_all(b"\xc4\xe3\xba\xc3").unwrap();
    let mut reply = [0u8; 64];
    let n = client.read(&mut reply).unwrap();
    assert_eq!(n, 35);
    client.write_all(b"\x80\xff").unwrap();
    let _ = client.read(&mut reply).unwrap();
    drop(client);
    wait_lines(&mut server, "] close", 1);
    let mut ports = Ports::default();
    ports.name(server.connect_addr().port(), "SERVER");
    let trace = ports.normalise(&stderr_of(&server));
    let reply = "gbk \"ok, Processing Request Completion！\"";
    assert_lines(
        "tcp_server --encoding gbk --trace",
        &trace[4..],
        &[
            "+T [127.0.0.1:{2}] recv(1024) -> 4 bytes gbk \"你好\"",
            &format!("+T [127.0.0.1:{{2}}] send 35 bytes {reply}"),
            "+T [127.0.0.1:{2}] recv(1024) -> 2 bytes \"\\x80\\xff\"",
            &format!("+T [127.0.0.1:{{2}}] send 35 bytes {reply}"),
            "+T [127.0.0.1:{2}] recv(1024) -> 0 bytes (peer closed)",
            "+T [127.0.0.1:{2}] close",
        ],
    );
}

#[test]
fn a_large_download_is_summarised_not_dumped() {
    let dir = TempDir::new("trace-bulk");
    std::fs::create_dir(dir.join("served")).unwrap();
    let size = 3 * 1024 * 1024 + 5;
    let data = common::pattern(7, size);
    std::fs::write(dir.join("served").join("big.bin"), &data).unwrap();
    let server = Spawn::new("download_server")
        .args(["--port", "0", "--root"])
        .args([dir.join("served")])
        .server();
    let out = run_ok(
        command("download_client")
            .args(["--port", &server.port(), "--trace", "-o"])
            .arg(dir.join("big.bin"))
            .arg("big.bin"),
    );
    let trace = String::from_utf8_lossy(&out.stderr);
    let mut shown = 0u64;
    let mut summarised = 0u64;
    let mut after_file = false;
    for line in trace.lines() {
        if line.contains("<- FILE") {
            after_file = true;
            continue;
        }
        if !after_file {
            continue;
        }
        let bytes = |l: &str, after: &str| -> u64 {
            let rest = &l[l.find(after).unwrap() + after.len()..];
            rest.split(' ').next().unwrap().parse().unwrap()
        };
        if line.contains("(bulk data, not shown one by one)") {
            summarised += bytes(line, " recv -> ");
        } else if line.contains("] recv(") && !line.contains("-> 0 bytes") {
            shown += bytes(line, ") -> ");
        }
    }
    assert_eq!(shown + summarised, size as u64, "{trace}");
    assert!(shown >= 256 * 1024 && summarised > 0, "{trace}");
    // Every read of the first 256 KiB, then one summary: a few dozen lines at most.
    assert!(
        trace.lines().count() < 80,
        "{} lines:\n{trace}",
        trace.lines().count()
    );
}

#[test]
fn without_trace_nothing_is_printed_on_stderr() {
    let tcp = on_loopback("tcp_server", &[]).server();
    run_quiet(
        command("tcp_client")
            .args(["--port", &tcp.port()])
            .write_stdin("hello\nexit\n"),
    );

    let (dir, _) = notes_root();
    let files = on_loopback("download_server", &["--root"])
        .args([dir.join("served")])
        .server();
    for args in [&["--raw"][..], &["--verify"][..]] {
        run_quiet(
            command("download_client")
                .current_dir(dir.path())
                // -q: without it the one `saved as` line is said (not a trace line).
                .args(["--port", &files.port(), "-q"])
                .args(args)
                .arg("notes.txt"),
        );
    }
    std::fs::write(dir.join("batch"), "ls\n").unwrap();
    run_quiet(command("file_shell").current_dir(dir.path()).args([
        "-b",
        "batch",
        &format!("127.0.0.1:{}", files.port()),
    ]));

    let mut receiver = on_loopback("udp_receiver", &["--count", "2"]).server();
    run_quiet(udp_sender(&receiver.port(), &[]).write_stdin("hello\n"));
    assert!(receiver.wait_exit().success());

    // Every client has finished: a trace line of theirs would have been written before the reply.
    for (name, server) in [
        ("tcp_server", &tcp),
        ("download_server", &files),
        ("udp_receiver", &receiver),
    ] {
        let stderr = stderr_of(server);
        assert!(stderr.is_empty(), "{name} printed on stderr:\n{stderr}");
    }
}

/// One record of a trace file: its time, connection, call and fields.
type Record = (u64, String, String, BTreeMap<String, String>);

/// The records of a trace file, after its header.
fn trace_file(path: &std::path::Path) -> (String, Vec<Record>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().expect("a header").to_string();
    let records = lines
        .map(|line| {
            let mut fields = line.split('\t');
            let time = fields.next().unwrap().parse().expect(line);
            let conn = fields.next().expect(line).to_string();
            let call = fields.next().expect(line).to_string();
            let keys = fields
                .map(|f| {
                    let (k, v) = f.split_once('=').expect(line);
                    (k.to_string(), v.to_string())
                })
                .collect();
            (time, conn, call, keys)
        })
        .collect();
    (header, records)
}

#[test]
fn the_trace_file_holds_the_lines_of_trace_with_their_fields() {
    let dir = TempDir::new("trace-file");
    let server = on_loopback("tcp_server", &[]).server();
    let path = dir.join("client.trace");
    let out = run_ok(
        command("tcp_client")
            .args(["--port", &server.port(), "--trace", "--trace-file"])
            .arg(&path)
            .write_stdin("hello\nexit\n"),
    );
    let (header, records) = trace_file(&path);
    assert!(
        header.starts_with("# socket-tutorial trace 1\tprogram=tcp_client\tstart_unix_us="),
        "{header}"
    );
    // The same lines as on stderr, at the same times.
    let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect();
    let from_file: Vec<String> = records
        .iter()
        .map(|(t, _, _, f)| format!("+{}.{:06} {}", t / 1_000_000, t % 1_000_000, f["line"]))
        .collect();
    assert_eq!(from_file, stderr);
    let calls: Vec<(&str, &str)> = records
        .iter()
        .map(|(_, c, call, _)| (c.as_str(), call.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("t1", "socket"),
            ("t1", "connect"),
            ("t1", "send"),
            ("t1", "recv"),
            ("t1", "send"),
            ("t1", "recv"),
            ("t1", "close")
        ]
    );
    let connect = &records[1].3;
    assert_eq!(connect["peer"], format!("127.0.0.1:{}", server.port()));
    // Each direction counts its own offsets: "hello" at 0, "exit" at 5; the replies at 0 and 36.
    let sends: Vec<(&str, &str, &str)> = records
        .iter()
        .filter(|r| r.2 == "send" || r.2 == "recv")
        .map(|r| (r.3["at"].as_str(), r.3["n"].as_str(), r.3["data"].as_str()))
        .collect();
    let reply = "\"ok, Processing Request Completion！\"";
    assert_eq!(
        sends,
        [
            ("0", "5", "\"hello\""),
            ("0", "36", reply),
            ("5", "4", "\"exit\""),
            ("36", "36", reply)
        ]
    );
    // Without --trace, the file alone: nothing on stderr.
    let quiet = dir.join("quiet.trace");
    run_quiet(
        command("tcp_client")
            .args(["--port", &server.port(), "--trace-file"])
            .arg(&quiet)
            .write_stdin("hello\n"),
    );
    assert_eq!(trace_file(&quiet).1.len(), 5);
}

#[test]
fn a_trace_file_that_cannot_be_written_is_a_runtime_error() {
    let dir = TempDir::new("trace-file-bad");
    let out = command("udp_receiver")
        .args(["--port", "0", "--bind", "127.0.0.1", "--trace-file"])
        .arg(dir.join("no").join("such.trace"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("udp_receiver: error: cannot write the trace to "),
        "{stderr}"
    );
}

#[test]
fn a_large_download_in_a_trace_file_is_summarised_with_its_offsets() {
    let dir = TempDir::new("trace-file-bulk");
    std::fs::create_dir(dir.join("served")).unwrap();
    let size = 3 * 1024 * 1024 + 5;
    std::fs::write(dir.join("served").join("big.bin"), common::pattern(8, size)).unwrap();
    let server = Spawn::new("download_server")
        .args(["--port", "0", "--root"])
        .args([dir.join("served")])
        .server();
    let path = dir.join("client.trace");
    run_quiet(
        command("download_client")
            .args(["-q", "--port", &server.port(), "--raw", "--trace-file"])
            .arg(&path)
            .args(["-o"])
            .arg(dir.join("big.bin"))
            .arg("big.bin"),
    );
    let (_, records) = trace_file(&path);
    // Reads, shown and summarised, cover the file without a gap or an overlap.
    let mut next = 0u64;
    for (_, _, call, f) in &records {
        if call == "recv" || (call == "bulk" && f["dir"] == "recv") {
            assert_eq!(f["at"].parse::<u64>().unwrap(), next, "{f:?}");
            next += f["n"].parse::<u64>().unwrap();
        }
    }
    assert_eq!(next, size as u64);
    assert!(records.iter().any(|r| r.2 == "bulk"));
    assert!(records.len() < 80, "{} records", records.len());
}
