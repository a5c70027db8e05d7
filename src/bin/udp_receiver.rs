//! udp_receiver: the tutorial's `udp_receiver.py`, step by step.
//!
//! Differences from the Python, and why: a datagram is read into a 64 KiB
//! buffer, so it arrives whole (the Python's `recvfrom(1024)` silently drops
//! everything past 1024 bytes); bytes that are not valid text are shown as
//! U+FFFD instead of ending the program with a traceback; a datagram is shown
//! on one line with its control characters escaped, so a sender cannot forge
//! lines or drive the terminal; the address and port are options and the
//! first line says which were bound; `--count` and `--keep-open` make it
//! usable from scripts; the text is decoded as UTF-8 unless `--encoding gbk`
//! (the Python always uses gbk).

use socket_tutorial::core::cli::{self, describe_io, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::input;
use socket_tutorial::core::print;
use socket_tutorial::core::trace;
use socket_tutorial::core::{net, server, show, udp};
use socket_tutorial::{eprintln, println};
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    config.trace.start(config.encoding)?;
    // 1-2. Create the UDP socket and bind the receiving port (one call in Rust).
    let socket = net::bind_udp(&config.bind, config.port)?;
    let addr = socket
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", &e))?;
    server::announce(addr);
    let mut buf = vec![0u8; udp::RECV_BUFFER];
    let mut received: u64 = 0;
    loop {
        // 3. Receive one datagram and who sent it.
        let (n, from) = match net::recv_from(&socket, &mut buf) {
            Ok(got) => got,
            // Windows reports an ICMP error for an earlier datagram on the next receive; it says nothing about this one.
            Err(err) if udp::is_port_unreachable(&err) => {
                eprintln!("udp_receiver: warning: {}", describe_io(&err));
                continue;
            }
            Err(err) => return Err(Error::io("cannot receive", &err)),
        };
        // 4. Print it with the sender's address.
        let text = show::datagram(&buf[..n], config.encoding);
        println!("{from}: {text}");
        if let Some(err) = print::stdout_failed() {
            // Nobody reads what we print any more: `udp_receiver | head` ends quietly.
            return Err(Error::stdout(err));
        }
        received += 1;
        // 5. Stop at `exit` (unless --keep-open) or after --count datagrams.
        if (!config.keep_open && input::is_exit(text.as_bytes())) || config.count == Some(received)
        {
            // 6. The socket is closed when it is dropped.
            return Ok(());
        }
    }
}

const PROGRAM: Program = Program {
    name: "udp_receiver",
    help: "\
udp_receiver: prints every UDP datagram it receives (the tutorial's udp_receiver.py)

Usage: udp_receiver [OPTIONS]

For each datagram it prints one line, `IP:PORT: <text>`, with the sender's
address; a line ending at the end of the datagram is not printed twice, and
any other newline or control character in it is shown escaped (`\\n`, `\\x1b`),
so one datagram is always one line. A
datagram whose text is `exit` or `exit()` is printed and then ends the
receiver, as in the Python. Any datagram up to the UDP maximum (65,507 bytes
over IPv4, 65,527 over IPv6) is shown whole, never cut; bytes that are not
valid text in the chosen encoding are shown as U+FFFD.

UDP has no connection: the receiver does not know who will send, or whether
anything sent to it was lost on the way. Every datagram is on its own.

Examples:
  udp_receiver --port 0             # any free port; the first line says which
  udp_receiver --keep-open --count 1000 > log.txt

Options:
      --bind ADDR        address to receive on: IPv4, IPv6 or a host name [default: 0.0.0.0]
      --port N           port to receive on; 0 picks a free one [default: 15000]
      --count N          exit 0 after N datagrams
      --keep-open        `exit` and `exit()` are printed like any text and do not end the receiver
      --encoding ENC     how the text is decoded: utf-8 or gbk (the Python's) [default: utf-8]
      --trace            print each socket operation on stderr, with its bytes
      --trace-file PATH  the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help             print this help
  -V, --version          print the version

The first line on stdout is `listening on IP:PORT`, with the port actually
bound. Each line is written out at once (lines of datagrams that arrive
together are written together). If whoever reads stdout goes away, the
receiver exits 0.
",
};

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    bind: String,
    port: u16,
    count: Option<u64>,
    keep_open: bool,
    encoding: Encoding,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            bind: "0.0.0.0".into(),
            port: 15000,
            count: None,
            keep_open: false,
            encoding: Encoding::Utf8,
        };
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Long("bind") => config.bind = parser.string()?,
                Arg::Long("port") => config.port = parser.parse("a port number from 0 to 65535")?,
                Arg::Long("count") => {
                    let n: u64 = parser.parse("a number of datagrams, at least 1")?;
                    if n == 0 {
                        return Err(Error::usage("--count must be at least 1"));
                    }
                    config.count = Some(n);
                }
                Arg::Long("keep-open") => config.keep_open = true,
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                arg => return Err(arg.unexpected()),
            }
        }
        Ok(config)
    }
}
