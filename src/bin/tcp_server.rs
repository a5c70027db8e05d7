//! tcp_server: the tutorial's `tcp_server.py`, step by step.
//!
//! Like the Python, one read of up to 1024 bytes is one message and gets one
//! reply. Differences, and why: each client is served by its own thread (the
//! Python serves one client at a time, so a second client waits; `--sequential`
//! does as the Python does); a failed accept or a client's error is logged and
//! the server goes on; `--max-clients` and `--max-per-address` bound what
//! clients can take, and a silent client is disconnected after
//! `--idle-timeout`; what a client sent is shown on one line with its control
//! characters escaped (a peer's text is shown, never obeyed); and `--echo`
//! turns it into a plain echo server for tools and benchmarks.

use socket_tutorial::core::admission::{Admission, Refusal};
use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::net;
use socket_tutorial::core::server::{self, Options};
use socket_tutorial::core::show;
use socket_tutorial::core::trace::{self, Stream};
use socket_tutorial::println;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    let config = Arc::new(config);
    config.trace.start(config.encoding)?;
    // 1-3. Create the socket, bind it and listen (one call in Rust).
    let mut listener = config.server.listen()?;
    server::announce(listener.local_addr()?);
    let admission = Admission::new(&config.server, Refusal::Line);
    loop {
        // 4. Accept a client; a failed accept is logged (by `accept`), and the loop goes on.
        let Ok((stream, addr)) = listener.accept() else {
            continue;
        };
        if config.sequential {
            // As the Python does: serve this client before accepting the next.
            serve(stream, addr, &config);
            continue;
        }
        let Some(seat) = admission.admit(&stream, addr) else {
            continue;
        };
        let config = Arc::clone(&config);
        seat.spawn(addr, move || serve(stream, addr, &config));
    }
}

/// One client on its own thread: the session, then one line if it ended badly.
fn serve(stream: Stream, addr: SocketAddr, config: &Config) {
    let outcome = handle_connection(stream, addr, config);
    server::log_end(addr, config.server.idle_timeout, outcome);
}

/// One client's session: the Python's inner `while True` loop.
fn handle_connection(mut stream: Stream, addr: SocketAddr, config: &Config) -> io::Result<()> {
    // 4 (cont.). Say who connected, as the Python prints `client_addr`.
    println!("client info: {addr}");
    let mut buf = [0u8; RECV_SIZE];
    // A multi-byte character can be split between two reads; the decoder keeps its first half for the next one.
    let mut decoder = config.encoding.decoder();
    loop {
        // 5. Receive; nothing means the client closed its side.
        let n = net::recv(&mut stream, &mut buf)?;
        if n == 0 {
            break;
        }
        // 6. Reply, then print what was asked.
        if config.echo {
            stream.write_all(&buf[..n])?;
        } else {
            stream.write_all(&config.reply)?;
        }
        if !config.quiet {
            let text = show::message(&mut decoder, &buf[..n]);
            println!("Require from client is:{text}");
        }
    }
    let mut rest = String::new();
    decoder.finish(&mut rest);
    if !config.quiet && !rest.is_empty() {
        println!("Require from client is:{rest}");
    }
    // 7. Close this client's socket (on drop) and say so.
    println!("service complete: {addr}");
    Ok(())
}

const PROGRAM: Program = Program {
    name: "tcp_server",
    help: "\
tcp_server: answers each message a TCP client sends (the tutorial's tcp_server.py)

Usage: tcp_server [OPTIONS]

For each client it prints `client info: IP:PORT`, then for every message
`Require from client is:<text>` and replies `ok, Processing Request Completion！`;
when the client closes it prints `service complete: IP:PORT`. Every client
gets its own thread, so one slow client never delays another.

TCP is a byte stream, not a sequence of messages: like the Python's
`recv(1024)`, this server takes what one read returns (up to 1024 bytes) as
one message, so a long line arrives in pieces and gets one reply per piece,
and two quick lines may arrive in one read and get one reply, printed as
`hello\\nexit`. A message is printed on one line: a newline or other control
character in it is shown escaped. The file protocol (download_server) shows
how framing does this right.

Examples:
  tcp_server --port 0               # any free port; the first line says which
  tcp_server --echo --quiet         # a plain echo server on port 10500
  tcp_server --encoding gbk --sequential   # exactly like tcp_server.py

Options:
      --bind ADDR          address to listen on: IPv4, IPv6 or a host name [default: 0.0.0.0]
      --port N             port to listen on; 0 picks a free one [default: 10500]
      --echo               reply with the exact bytes received (a plain echo server)
      --quiet              do not print each message (connects and disconnects still are)
      --encoding ENC       text encoding of messages and replies: utf-8 or gbk (the Python's) [default: utf-8]
      --max-clients N      clients served at once; past it a newcomer gets `server busy` [default: 10000]
      --max-per-address N  connections one client address (an IPv6 /64) may hold at once; past it
                           a newcomer from there gets `server busy`; 0 = no limit [default: 1000]
      --idle-timeout SECS  disconnect a client silent this long; 0 = never [default: 600]
      --sequential         serve one client at a time, exactly like the Python loop
      --trace              print each socket operation on stderr, with its bytes
      --trace-file PATH    the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help               print this help
  -V, --version            print the version

The first line on stdout is `listening on IP:PORT`, with the port actually bound.
",
};

/// What every message is answered with, unless `--echo`.
const REPLY: &str = "ok, Processing Request Completion！";

/// One read takes at most this much: the Python's `recv(1024)`.
const RECV_SIZE: usize = 1024;

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    server: Options,
    echo: bool,
    quiet: bool,
    sequential: bool,
    encoding: Encoding,
    /// The reply in the chosen encoding, encoded once.
    reply: Vec<u8>,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            server: Options {
                bind: "0.0.0.0".into(),
                port: 10500,
                max_clients: 10_000,
                max_per_address: Some(1000),
                idle_timeout: Some(Duration::from_secs(600)),
            },
            echo: false,
            quiet: false,
            sequential: false,
            encoding: Encoding::Utf8,
            reply: Vec::new(),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Long("echo") => config.echo = true,
                Arg::Long("quiet") => config.quiet = true,
                Arg::Long("sequential") => config.sequential = true,
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                arg => config.server.parse(arg, parser)?,
            }
        }
        config.reply = config
            .encoding
            .encode(REPLY)
            .expect("the reply is plain ASCII and one full-width mark that both encodings have");
        Ok(config)
    }
}
