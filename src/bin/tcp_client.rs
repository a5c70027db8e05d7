//! tcp_client: the tutorial's `tcp_client.py`, step by step.
//!
//! Differences from the Python, and why: the prompt is shown only when stdin
//! is a terminal, so piped input gives clean output; end of input ends the
//! session instead of a crash; an empty line is not sent (TCP cannot carry an
//! empty message, and the Python then waits forever for a reply); a server
//! that hangs up mid-session is reported in one line with exit code 1; and the
//! reply is printed on one line with its control characters escaped (what a
//! server sends is shown, never obeyed by the terminal).

use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::input::{self, Input};
use socket_tutorial::core::net::{self, Target};
use socket_tutorial::core::show;
use socket_tutorial::core::trace;
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    config.trace.start(config.encoding)?;
    // 1-2. Create the socket and connect to the server.
    let mut stream = config.server.connect()?;
    let peer = stream
        .peer_addr()
        .map_err(|e| Error::io("reading the server's address", &e))?;
    let mut input = Input::stdin();
    let mut out = io::stdout().lock();
    let mut reply = vec![0u8; RECV_SIZE];
    let mut decoder = config.encoding.decoder();
    let mut refused = 0;
    let mut number = 0;
    // 3. Read what to send, as the Python's input() does.
    while let Some(message) = input.line("Please your require:")? {
        number += 1;
        if message.is_empty() {
            continue;
        }
        let wire = match input::encode_line(message, config.encoding) {
            Ok(wire) => wire,
            Err(why) => {
                eprintln!("{}: line {number} not sent: {why}", PROGRAM.name);
                refused += 1;
                continue;
            }
        };
        // 3. Send it.
        stream.write_all(&wire).map_err(|e| lost(peer, &e))?;
        // 4. Receive the server's reply and print it.
        let n = net::recv(&mut stream, &mut reply).map_err(|e| lost(peer, &e))?;
        if n == 0 {
            return Err(Error::runtime(format!(
                "the server {peer} closed the connection"
            )));
        }
        let text = show::message(&mut decoder, &reply[..n]);
        writeln!(out, "The corresponding contents of the server are:{text}")
            .map_err(Error::stdout)?;
        // Stop after `exit` or `exit()` has been answered, as the Python does.
        if input::is_exit(message) {
            break;
        }
    }
    // 5. Close the socket (when `stream` is dropped).
    input::not_sent(refused)
}

fn lost(peer: std::net::SocketAddr, err: &io::Error) -> Error {
    Error::io(format!("connection to {peer} lost"), err)
}

const PROGRAM: Program = Program {
    name: "tcp_client",
    help: "\
tcp_client: sends each line of input to a TCP server and prints its reply (the tutorial's tcp_client.py)

Usage: tcp_client [OPTIONS] [HOST [PORT]]

Each line read from stdin is sent without its newline; the client then waits
for one reply and prints `The corresponding contents of the server are:<reply>`.
After sending `exit` or `exit()` (and printing the reply), or at the end of
input, it closes the connection and exits 0. The prompt `Please your require:`
appears only when stdin is a terminal. Empty lines are skipped.

TCP is a byte stream: one read is taken as one reply, as in the Python, so a
long reply may come in pieces and be printed against later lines. A reply is
printed on one line: a newline or other control character in it is shown
escaped (`\\n`, `\\x1b`), and one line ending at its end is dropped.

HOST and PORT may also be given as words, as nc takes them
(`tcp_client 127.0.0.1 10500`), instead of --host and --port.

Examples:
  printf 'hello\\nexit\\n' | tcp_client --port 10500
  tcp_client 127.0.0.1 10500        # HOST and PORT as words, as for nc

Options:
      --host HOST   server to connect to: IPv4, IPv6 or a host name [default: 127.0.0.1]
      --port N      server port [default: 10500]
      --encoding E  text encoding on the wire: utf-8 or gbk (the Python's) [default: utf-8]
                    input is read as UTF-8 and sent in E; a line with a character E
                    lacks is not sent (an error names it) and the exit status is 1
      --trace       print each socket operation on stderr, with its bytes
      --trace-file PATH
                    the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help        print this help
  -V, --version     print the version

Exit status: 0 when the session ended normally, 6 when the host name has no
address, 7 when nobody accepted the connection (curl's and download_client's
numbers), 1 when the connection failed later, the server closed it or a line
could not be encoded, 2 for a bad argument.
",
};

/// One read of the reply takes at most this much, like the Python's `recv(1024)`
/// (and our server's reads): a reply is whatever one read returns.
const RECV_SIZE: usize = 1024;

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    server: Target,
    encoding: Encoding,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            server: Target::local(10500),
            encoding: Encoding::Utf8,
        };
        let mut words = 0;
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                // nc's habit: the host, then the port, as words.
                Arg::Value(word) => {
                    let text = word.to_str().ok_or_else(|| {
                        Error::usage(format!("'{}': not valid UTF-8", word.to_string_lossy()))
                    })?;
                    match words {
                        0 => config.server.set_host(text)?,
                        1 => config.server.set_port(text.parse().map_err(|_| {
                            Error::usage(format!(
                                "invalid port '{text}': a server's port is from 1 to 65535"
                            ))
                        })?)?,
                        _ => return Err(Arg::Value(word).unexpected()),
                    }
                    words += 1;
                }
                arg => config.server.parse(arg, parser)?,
            }
        }
        Ok(config)
    }
}
