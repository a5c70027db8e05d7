//! trace_chart draws real runs right: each arrow joins the bytes of a send to the recv that read them (one to one, split, coalesced), each datagram to its recvfrom or to a cross; and its page loads in a headless browser.

mod common;

use common::{command, describe, Spawn, TempDir, TIMEOUT};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The drawing tool, examples/trace_chart.
fn trace_chart() -> PathBuf {
    common::example("trace_chart")
}

/// The records of a trace file (after its header), as (call, fields) with `at`, `n`.
struct Rec {
    conn: String,
    call: String,
    at: Option<u64>,
    n: Option<u64>,
    line: String,
}

fn records(path: &Path) -> Vec<Rec> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            let get = |k: &str| {
                parts[3..]
                    .iter()
                    .find_map(|f| f.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            };
            Rec {
                conn: parts[1].to_string(),
                call: parts[2].to_string(),
                at: get("at").and_then(|v| v.parse().ok()),
                n: get("n").and_then(|v| v.parse().ok()),
                line: get("line").unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// Waits until the trace file has `n` records of `call` (a server writes its last ones after the client is gone).
fn wait_records(path: &Path, call: &str, n: usize) {
    let start = Instant::now();
    while records(path).iter().filter(|r| r.call == call).count() < n {
        assert!(
            start.elapsed() < TIMEOUT,
            "{} never had {n} {call}",
            path.display()
        );
        std::thread::yield_now();
    }
}

/// The arrows of the SVG: (data-send, data-recv or "lost", data-bytes).
fn arrows(svg: &str) -> BTreeSet<(usize, Option<usize>, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    let event = |v: String| v.strip_prefix('e').unwrap().parse::<usize>().unwrap();
    svg.split("<g ")
        .filter(|tag| tag.starts_with("class=\"arrow"))
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            (
                event(attr(tag, "data-send").expect(tag)),
                attr(tag, "data-recv").map(event),
                attr(tag, "data-bytes").expect(tag),
            )
        })
        .collect()
}

/// The joins the two traces imply, worked out here on their own: every overlap of a send's
/// byte range (client, event numbers from `base_a`) with a recv's (server, from `base_b`).
fn overlaps(
    a: &[Rec],
    base_a: usize,
    b: &[Rec],
    base_b: usize,
) -> BTreeSet<(usize, Option<usize>, String)> {
    let mut out = BTreeSet::new();
    let stream = |rs: &[Rec], base: usize, call: &str| -> Vec<(u64, u64, usize)> {
        rs.iter()
            .enumerate()
            .filter(|(_, r)| r.call == call && r.n.unwrap_or(0) > 0)
            .map(|(i, r)| (r.at.unwrap(), r.at.unwrap() + r.n.unwrap(), base + i))
            .collect()
    };
    for (sa, sb, ra, rb) in [(a, base_a, b, base_b), (b, base_b, a, base_a)] {
        let recvs = stream(ra, rb, "recv");
        let read = recvs.last().map_or(0, |r| r.1);
        for (s0, s1, s) in stream(sa, sb, "send") {
            for &(r0, r1, r) in &recvs {
                let (from, to) = (s0.max(r0), s1.min(r1));
                if from < to {
                    out.insert((s, Some(r), format!("{from}-{to}")));
                }
            }
            // Bytes the peer never read (it closed first): an arrow to nowhere.
            if s1 > read {
                out.insert((s, None, format!("{}-{s1}", s0.max(read))));
            }
        }
    }
    out
}

fn draw(out: &Path, traces: &[&Path]) -> String {
    let output = std::process::Command::new(trace_chart())
        .args(traces)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    std::fs::read_to_string(out).unwrap()
}

/// One tcp_client session with tcp_server, both traced: `hello`, a line of 3000 `x`, `exit`.
fn tcp_session(dir: &TempDir, run: usize) -> (PathBuf, PathBuf) {
    let server_trace = dir.join(format!("server{run}.trace"));
    let client_trace = dir.join(format!("client{run}.trace"));
    let server = Spawn::new("tcp_server")
        .args(["--port", "0", "--bind", "127.0.0.1", "--trace-file"])
        .args([&server_trace])
        .server();
    let mut input = b"hello\n".to_vec();
    input.extend_from_slice(&[b'x'; 3000]);
    input.extend_from_slice(b"\nexit\n");
    let out = command("tcp_client")
        .args(["--port", &server.port(), "--trace-file"])
        .arg(&client_trace)
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    wait_records(&server_trace, "close", 1);
    (client_trace, server_trace)
}

#[test]
fn each_send_is_joined_to_the_recvs_that_read_its_bytes() {
    let dir = TempDir::new("chart-tcp");
    // Where the server's three replies to the long line fall in the client's reads is up to
    // timing; a few sessions are enough to see two of them come out of one recv.
    let mut coalesced = false;
    for run in 0..10 {
        let (client, server) = tcp_session(&dir, run);
        let svg = draw(&dir.join(format!("chart{run}.svg")), &[&client, &server]);
        let (c, s) = (records(&client), records(&server));
        let got = arrows(&svg);
        let want = overlaps(&c, 0, &s, c.len());
        assert_eq!(
            got, want,
            "the arrows are not the overlaps of the byte ranges\n{svg}"
        );
        let into = |e: usize| got.iter().filter(|a| a.1 == Some(e)).count();
        let from = |e: usize| got.iter().filter(|a| a.0 == e).count();
        // One to one: "hello" is one send and one recv, with one arrow between them.
        let hello = c
            .iter()
            .position(|r| r.call == "send" && r.n == Some(5))
            .unwrap();
        let hello_recv = c.len()
            + s.iter()
                .position(|r| r.call == "recv" && r.n == Some(5))
                .unwrap();
        assert!(
            got.contains(&(hello, Some(hello_recv), "0-5".into())),
            "{got:?}"
        );
        assert_eq!((from(hello), into(hello_recv)), (1, 1));
        // Split: the 3000 bytes, one send, read by recv(1024) in three pieces at least.
        let long = c
            .iter()
            .position(|r| r.call == "send" && r.n == Some(3000))
            .unwrap();
        assert!(from(long) >= 3, "{got:?}");
        // Coalesced: some recv got the bytes of two sends (`exit` glued to the long line's
        // last piece, or two replies).
        coalesced |= c
            .iter()
            .chain(&s)
            .enumerate()
            .any(|(i, r)| r.call == "recv" && into(i) >= 2);
        // Labels are the Python's calls.
        assert!(
            svg.contains(">send 5 bytes &quot;hello&quot;</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(">recv(1024) -&gt; 1024 bytes &quot;xxxx"),
            "{svg}"
        );
        if coalesced {
            return;
        }
    }
    panic!("in 10 sessions no recv got the bytes of two sends");
}

#[test]
fn each_datagram_is_joined_to_its_recvfrom_or_drawn_lost() {
    let dir = TempDir::new("chart-udp");
    let receiver_trace = dir.join("receiver.trace");
    let sender_trace = dir.join("sender.trace");
    // The receiver stops after two datagrams: the greeting and "one"; "two" finds no one.
    let mut receiver = Spawn::new("udp_receiver")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--count",
            "2",
            "--trace-file",
        ])
        .args([&receiver_trace])
        .server();
    let port = receiver.port();
    let out = command("udp_sender")
        .args([
            "--bind",
            "127.0.0.1",
            "--bind-port",
            "0",
            "--port",
            &port,
            "--trace-file",
        ])
        .arg(&sender_trace)
        .write_stdin("one\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(receiver.wait_exit().success());
    let out2 = command("udp_sender")
        .args([
            "--bind",
            "127.0.0.1",
            "--bind-port",
            "0",
            "--no-greeting",
            "--port",
            &port,
            "--trace-file",
        ])
        .arg(dir.join("late.trace"))
        .write_stdin("two\n")
        .output()
        .unwrap();
    assert!(out2.status.success(), "{}", describe(&out2));
    let late = dir.join("late.trace");
    let svg = draw(
        &dir.join("udp.svg"),
        &[&sender_trace, &late, &receiver_trace],
    );
    let (s, l, r) = (
        records(&sender_trace),
        records(&late),
        records(&receiver_trace),
    );
    let base_r = s.len() + l.len();
    let sendto = |rs: &[Rec], base: usize| -> Vec<usize> {
        rs.iter()
            .enumerate()
            .filter(|(_, x)| x.call == "sendto")
            .map(|(i, _)| base + i)
            .collect()
    };
    let recvfrom: Vec<usize> = r
        .iter()
        .enumerate()
        .filter(|(_, x)| x.call == "recvfrom")
        .map(|(i, _)| base_r + i)
        .collect();
    let sent = sendto(&s, 0);
    let lost = sendto(&l, s.len());
    assert_eq!((sent.len(), lost.len(), recvfrom.len()), (2, 1, 2));
    let got = arrows(&svg);
    let greeting = s[sent[0]].n.unwrap();
    let want: BTreeSet<_> = [
        (sent[0], Some(recvfrom[0]), format!("0-{greeting}")),
        (sent[1], Some(recvfrom[1]), "0-3".to_string()),
        (lost[0], None, "0-3".to_string()),
    ]
    .into();
    assert_eq!(got, want, "{svg}");
    assert!(svg.contains("lost: 3 bytes"), "{svg}");
    assert!(svg.contains(">sendto 127.0.0.1:"), "{svg}");
    assert!(r
        .iter()
        .any(|x| x.line.contains("recvfrom(65536) -> 3 bytes")));
    assert!(r.iter().all(|x| x.conn == "u1"), "one socket, u1");
}

/// Chromium from the system, or from Debian's packages when it can be installed; None, said loudly, when not.
fn chromium() -> Option<PathBuf> {
    let find = || {
        ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|name| common::installed(name))
            .map(PathBuf::from)
    };
    if let Some(found) = find() {
        return Some(found);
    }
    if cfg!(target_os = "linux") && common::installed("apt-get") {
        let _ = std::process::Command::new("apt-get")
            .args(["install", "-y", "chromium"])
            .output();
    }
    let found = find();
    if found.is_none() {
        common::skip(
            "no chromium (apt-get install -y chromium): the page was not opened in a browser",
        );
    }
    found
}

#[test]
fn the_page_loads_in_a_headless_browser_with_every_arrow() {
    let Some(chromium) = chromium() else { return };
    let dir = TempDir::new("chart-browser");
    let (client, server) = tcp_session(&dir, 0);
    let page = dir.join("chart.html");
    let html = draw(&page, &[&client, &server]);
    let all = arrows(&html);
    let svg_arrows = all.len();
    let joined = all.iter().filter(|a| a.1.is_some()).count();
    assert!(joined >= 6, "{html}");
    let profile = dir.join("profile");
    let shot = dir.join("chart.png");
    let browse = |extra: &[&std::ffi::OsStr]| {
        let mut cmd = std::process::Command::new(&chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&page);
        cmd.output().unwrap()
    };
    let dom = browse(&["--dump-dom".as_ref()]);
    assert!(dom.status.success(), "{}", describe(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The script ran to its end (it sets the title last) and counted what the trace implies.
    assert!(
        dom.contains(&format!("<title>ok {svg_arrows}</title>")),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("{svg_arrows} arrows: {joined} joined")),
        "{dom}"
    );
    assert!(!dom.contains("parsererror"), "{dom}");
    let screenshot = browse(&[format!("--screenshot={}", shot.display()).as_ref()]);
    assert!(screenshot.status.success(), "{}", describe(&screenshot));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
