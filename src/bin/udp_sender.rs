//! udp_sender: the tutorial's `udp_sender.py`, step by step.
//!
//! Differences from the Python, and why: the socket is `connect()`ed to the
//! receiver, so the OS can tell us when nobody listens there (a warning, not
//! a crash); a line too long for one datagram is refused instead of failing
//! with a traceback, and so is a line the encoding cannot represent (the
//! sender goes on with the next line and exits 1 at the end); end of input
//! ends the sender (the Python crashes on it); the prompt appears only when
//! stdin is a terminal; addresses, ports and the encoding are options.

use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::input::{self, Input};
use socket_tutorial::core::net::Target;
use socket_tutorial::core::trace;
use socket_tutorial::core::udp::{self, NotSent, Sender, Sent};
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    config.trace.start(config.encoding)?;
    // 1-2. Create the UDP socket and bind our own address (the Python binds port 14000 too);
    // `Sender::open` also connects it to the receiver, which the Python does not, so that
    // the OS can tell us when nobody listens there.
    let (local, target) = udp::sender_addrs(
        &config.receiver.host,
        config.receiver.port,
        config.bind.as_deref(),
        config.bind_port,
    )?;
    let sender = Sender::open(local, target)?;
    let mut input = Input::stdin();
    if input.is_interactive() {
        let from = sender.local_addr()?;
        writeln!(
            io::stdout(),
            "sending from {from} to {target} (UDP: nothing confirms delivery)"
        )
        .map_err(Error::stdout)?;
    }
    let mut refused = 0usize;
    // 3. Send the greeting.
    if config.greeting {
        let greeting = config
            .encoding
            .encode(GREETING)
            .expect("both encodings have every character of the greeting");
        send(&sender, &greeting, None, &mut refused)?;
    }
    let mut number = 0usize;
    // 4. Read a line, as the Python's input() does.
    while let Some(message) = input.line(PROMPT)? {
        number += 1;
        // 5. Send it as one datagram.
        match input::encode_line(message, config.encoding) {
            Ok(payload) => send(&sender, &payload, Some(number), &mut refused)?,
            Err(why) => {
                warn(&format!("line {number} not sent: {why}"));
                refused += 1;
            }
        }
        // Stop after sending `exit` or `exit()`, as the Python's loop does.
        if input::is_exit(message) {
            break;
        }
    }
    if sender.port_unreachable_pending() {
        warn_nobody(target);
    }
    // 6. The socket is closed when it is dropped.
    input::not_sent(refused)
}

/// Sends one datagram; a refusal is reported and counted, a port-unreachable is a warning, any other failure ends the sender.
///
/// `line` is the input line's number, or `None` for the greeting.
fn send(
    sender: &Sender,
    payload: &[u8],
    line: Option<usize>,
    refused: &mut usize,
) -> Result<(), Error> {
    match sender.send(payload) {
        Ok(Sent::Sent) => Ok(()),
        Ok(Sent::AfterPortUnreachable) => {
            warn_nobody(sender.target());
            Ok(())
        }
        Err(NotSent::Failed(err)) => Err(err),
        Err(too_long) => {
            warn(&format!(
                "{} not sent: {}",
                match line {
                    Some(n) => format!("line {n}"),
                    None => "the greeting".to_string(),
                },
                too_long.describe(sender.target())
            ));
            *refused += 1;
            Ok(())
        }
    }
}

fn warn_nobody(target: std::net::SocketAddr) {
    warn(&format!(
        "warning: {target} answered an earlier datagram with 'port unreachable': nobody is receiving there (yet)"
    ));
}

/// One line on stderr; if stderr itself is gone there is nobody left to tell.
fn warn(message: &str) {
    let _ = writeln!(io::stderr(), "udp_sender: {message}");
}

const PROGRAM: Program = Program {
    name: "udp_sender",
    help: "\
udp_sender: sends each line of input as one UDP datagram (the tutorial's udp_sender.py)

Usage: udp_sender [OPTIONS] [HOST [PORT]]

First it sends the greeting `this is a data from client, 我是客戶发送端!`, then
each line read from stdin, without its newline, as one datagram (an empty line
is an empty datagram). After sending `exit` or `exit()`, or at the end of
input, it exits. The Python's prompt `請輸入要要发送的数据:` (\"please enter
the data to send:\") appears only when stdin is a terminal.

UDP has no connection and no acknowledgement: a datagram is sent whether or
not anyone listens, and nothing tells the sender that it arrived. The socket
is connected to the receiver's address (which sends nothing), so that when
the receiving machine answers with an ICMP \"port unreachable\" the system
passes it on; it is then shown as a warning and the sender goes on. On a
network such an answer may never come, so silence proves nothing.

A line longer than one datagram carries (65,507 bytes over IPv4, 65,527 over
IPv6, or less if the system says so) is refused, not cut; so is a line with a
character the encoding lacks (gbk has no emoji, for instance). Each refusal is
one line on stderr naming the line; the sender goes on with the next line.

The tutorial's Python programs encode and decode everything as gbk, and its
receiver stops with a traceback on bytes that are not gbk (such as the
greeting in UTF-8): use --encoding gbk to talk to them.

HOST and PORT may also be given as words, as nc takes them
(`udp_sender 127.0.0.1 15000`, like `nc -u 127.0.0.1 15000`), instead of
--host and --port.

Examples:
  printf 'hello\\nexit\\n' | udp_sender --bind-port 0 --port 15000
  udp_sender --encoding gbk         # to the tutorial's udp_receiver.py

Options:
      --host HOST        receiver to send to: IPv4, IPv6 or a host name [default: 127.0.0.1]
      --port N           receiver's port [default: 15000]
      --bind ADDR        local address to send from [default: 0.0.0.0, or :: for an IPv6 receiver]
      --bind-port N      local port to send from; 0 picks a free one [default: 14000]
      --no-greeting      do not send the greeting first
      --encoding ENC     how the text is encoded: utf-8 or gbk (the Python's) [default: utf-8]
      --trace            print each socket operation on stderr, with its bytes
      --trace-file PATH  the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help             print this help
  -V, --version          print the version

A host name with both IPv4 and IPv6 addresses is reached over IPv4 (the
receiver listens on 0.0.0.0 by default) unless --bind says otherwise.

Exit status: 0 when every line was sent (whether anyone received it or not),
1 when a line was refused or the socket failed, 2 for a bad argument.
",
};

/// What the Python sends before anything typed.
const GREETING: &str = "this is a data from client, 我是客戶发送端!";

/// The Python's prompt, word for word.
const PROMPT: &str = "請輸入要要发送的数据:";

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    receiver: Target,
    bind: Option<String>,
    bind_port: u16,
    greeting: bool,
    encoding: Encoding,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            receiver: Target::local(15000),
            bind: None,
            bind_port: 14000,
            greeting: true,
            encoding: Encoding::Utf8,
        };
        let mut words = 0;
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Long("bind") => config.bind = Some(parser.string()?),
                Arg::Long("bind-port") => {
                    config.bind_port = parser.parse("a port number from 0 to 65535")?
                }
                Arg::Long("no-greeting") => config.greeting = false,
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                // nc's habit (`nc -u HOST PORT`): the host, then the port, as words.
                Arg::Value(word) => {
                    let text = word.to_str().ok_or_else(|| {
                        Error::usage(format!("'{}': not valid UTF-8", word.to_string_lossy()))
                    })?;
                    match words {
                        0 => config.receiver.set_host(text)?,
                        1 => config.receiver.set_port(text.parse().map_err(|_| {
                            Error::usage(format!(
                                "invalid port '{text}': a receiver's port is from 1 to 65535"
                            ))
                        })?)?,
                        _ => return Err(Arg::Value(word).unexpected()),
                    }
                    words += 1;
                }
                arg => config.receiver.parse(arg, parser)?,
            }
        }
        Ok(config)
    }
}
