//! download_server: the tutorial's `download_server.py`, step by step.
//!
//! A tutorial client's request reads as in the Python, in `send_file_client`
//! below: receive the name with one `recv` of up to 1024 bytes, open it,
//! send it, close. Differences, and why: the Python opens any path a client
//! names (`../`, `/etc/passwd`); here every name is confined to `--root` by
//! the `root` module, and refused otherwise. The Python reads the whole file
//! into memory and sends it with one `send`; here `io::copy` streams it
//! through a 64 KiB buffer, in constant memory, for files of any size. Each
//! client has its own thread, one that is silent, drips its request or
//! stops reading is dropped when a deadline passes (`--idle-timeout`,
//! `--request-timeout`, `--body-timeout` with `--min-rate`), one host holds
//! at most `--max-per-address` connections, and it listens on 127.0.0.1
//! unless told otherwise, because it hands out files.
//!
//! The next chapter is our own framed protocol (docs/PROTOCOL.md), spoken by
//! download_client and file_shell: when the first bytes are its hello rather
//! than a name, the connection goes to `FileServer::serve_framed`. There a
//! missing file is an error with a code and a message, downloads resume and
//! are verified, and with `--writable` file_shell uploads (atomic,
//! resumable, size-limited), makes, renames and removes, the tutorial's sftp
//! use; with a token, nothing is served to a client that does not present it.

use socket_tutorial::core::admission::{Admission, Refusal};
use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::net;
use socket_tutorial::core::print;
use socket_tutorial::core::server::deadline::{self, Deadlines};
use socket_tutorial::core::server::{self, Options};
use socket_tutorial::core::trace::{self, Stream};
use socket_tutorial::file_service::fileserver::{
    Config as ServeConfig, FileServer, PartialLimits, BUSY_GRACE, SEND_BUFFER,
};
use socket_tutorial::file_service::os_name;
use socket_tutorial::file_service::protocol::{self, Detected, TUTORIAL_READ_LEN};
use socket_tutorial::file_service::root::Root;
use socket_tutorial::file_service::token::TokenFile;
use socket_tutorial::println;
use std::io::{self, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    config.trace.start(config.encoding)?;
    let root = Root::open(&config.root)
        .map_err(|e| Error::io(format!("cannot serve {}", config.root.display()), &e))?;
    let serve = ServeConfig {
        encoding: config.encoding,
        idle_timeout: config.server.idle_timeout,
        deadlines: config.deadlines,
        writable: config.writable,
        max_upload: config.max_upload,
        partials: config.partials,
        token: config.token.load()?,
    };
    // 1. Create the socket, bind and listen (one call in Rust).
    let mut listener = config.server.listen()?;
    let addr = listener.local_addr()?;
    server::announce(addr);
    announce_files(addr, &root, &serve);
    let files = FileServer::start(root, serve);
    // When all --max-clients places are taken, the client idle longest (silent since it
    // connected, or between requests) is closed to make room. Past that, and past
    // --max-per-address, a few clients at a time are told `busy` in their own protocol;
    // beyond those the connection closes without a byte, which a tutorial client (that
    // saves every byte as the file) also expects.
    let admission =
        Admission::new(&config.server, Refusal::TurnAway { grace: BUSY_GRACE }).making_room();
    loop {
        // 2. Accept a client; a failed accept is logged (by `accept`), and the loop goes on.
        let Ok((stream, addr)) = listener.accept() else {
            continue;
        };
        let Some(seat) = admission.admit(&stream, addr) else {
            continue;
        };
        let busy = seat.busy();
        let files = Arc::clone(&files);
        let idle = config.server.idle_timeout;
        seat.spawn(addr, move || {
            // 3-5. `send_file_client` serves it (or, past a limit, it is told so).
            let outcome = match busy {
                None => send_file_client(&files, stream, addr),
                Some(why) => files.turn_away(stream, addr, why),
            };
            server::log_end(addr, idle, outcome);
        });
    }
}

/// The Python's `send_file_client`: receive the file name, send the file, close.
fn send_file_client(files: &FileServer, mut client: Stream, addr: SocketAddr) -> io::Result<()> {
    let started = Instant::now();
    // 3. Receive the file name: one recv of up to 1024 bytes, like the Python's recv(1024).
    let mut request = [0u8; TUTORIAL_READ_LEN];
    let n = net::recv(&mut client, &mut request)?;
    let request = &request[..n];
    if protocol::detect(request) != Detected::Tutorial {
        // Not a name but our own protocol's hello: the next chapter, docs/PROTOCOL.md.
        return files.serve_framed(client, addr, request);
    }
    // The name as UTF-8 (decoded from gbk with --encoding gbk, like the Python), or why not.
    let name = match files.tutorial_name(request) {
        Ok(name) => name,
        Err(refused) => {
            files.log_request(addr, "tutorial", request, &refused, 0, started);
            return Ok(());
        }
    };
    // 4. Open the file, only inside --root (the Python opens any path it is sent) ...
    let file = match files.root().open_file(&name) {
        Ok((file, _metadata)) => file,
        Err(e) => {
            let result = format!("error: {e} (closed without an answer)");
            files.log_request(addr, "tutorial", &name, &result, 0, started);
            return Ok(());
        }
    };
    // ... and send all of it, 64 KiB at a time (the Python reads it whole and sends it at once),
    // to a client that must keep taking it (`paced`: --min-rate, --body-timeout).
    let mut file = BufReader::with_capacity(SEND_BUFFER, file);
    match io::copy(&mut file, &mut files.paced(&client)) {
        Ok(sent) => files.log_request(addr, "tutorial", &name, "ok", sent, started),
        Err(e) => {
            let (lost, why) = deadline::lost_or_dropped(&e);
            let result = format!("{lost}: {why}");
            files.log_request(addr, "tutorial", &name, &result, 0, started);
        }
    }
    // 5. Close the connection: `client` is dropped when this returns.
    Ok(())
}

/// What is served, and a warning when it is reachable from other machines.
/// On stdout, after `listening on`: scripts that wait for that first line
/// must not meet a warning on stderr first.
fn announce_files(addr: SocketAddr, root: &Root, serve: &ServeConfig) {
    let mode = if serve.writable {
        "writable"
    } else {
        "read-only"
    };
    let limit = match serve.max_upload {
        Some(max) if serve.writable => format!(", uploads up to {max} bytes"),
        _ => String::new(),
    };
    let token = if serve.token.is_some() {
        ", token required"
    } else {
        ""
    };
    println!(
        "serving {} ({mode}{limit}{token})",
        os_name::shown_path(root.path()).display()
    );
    if !addr.ip().is_loopback() {
        let what = if serve.writable {
            "downloaded, overwritten and removed"
        } else {
            "downloaded"
        };
        let who = if serve.token.is_some() {
            "anyone who has the token and can reach this machine (unencrypted: the files can be sniffed)"
        } else {
            "anyone who can reach this machine"
        };
        println!(
            "warning: bound to {}: every file under {} can be {what} by {who}",
            addr.ip(),
            root.path().display()
        );
    }
    if !root.fd_anchored() {
        println!(
            "warning: /proc is not usable: paths are checked by name, see docs/ROOT.md (What remains)"
        );
    }
    print::flush();
}

const PROGRAM: Program = Program {
    name: "download_server",
    help: "\
download_server: serves the files of one directory to download_client (the tutorial's download_server.py)

Usage: download_server [OPTIONS]

Clients name a file relative to --root; the server sends it whole, of any
size, or an error: not found, is a directory, permission denied, outside
the served root, bad request, busy. Names that leave the root (`../x`,
`/etc/passwd`, links pointing outside) are refused and nothing outside the
root is ever opened. Framed clients (download_client) can resume an
interrupted download and verify it with SHA-256; the tutorial's own
download_client.py still works: it gets the raw bytes, and nothing for a
missing file, exactly as from the Python server.

By default the server never writes: upload, mkdir, rename and remove
requests are answered `read-only server`. With --writable, file_shell can
put files and folders, mkdir, rename, rm and rmdir, inside the root only.
An upload goes to a hidden `.<name>.part` next to its target and is renamed
into place only when every byte has arrived, so nobody ever sees half a
file under the real name; a broken upload resumes (file_shell's reput) while
the server runs. Two uploads to one name at once: the second is told `busy`.

With --token-file FILE (or the environment variable DOWNLOAD_SERVER_TOKEN),
every framed client must prove it holds that token before anything is
served, by answering a fresh nonce with an HMAC of it: the token itself
never crosses the network. A wrong or missing token is refused and
disconnected, tutorial clients are refused, and an address that gave a
wrong token waits longer for each answer (100 ms, doubling up to 5 s, until
it has been quiet for 60 s); a burst of wrong tokens is logged once. A token
that is only spaces or holds a control byte is an error at start. The files
are NOT encrypted: names and contents cross the network in clear. Off this
machine, tunnel it over SSH (see README.md, installed in
share/doc/socket-tutorial).

Every request is logged on stdout: client, path, result, bytes, time.

Nobody holds a place for long without using it: a client may be silent
before a request for --idle-timeout (the tutorial's client asks its user for
the name after it connects); once a request (or the hello) has begun, all of
it must arrive within --request-timeout (--hello-timeout) of its first byte,
however slowly it drips; and the bytes of an upload, a download or a listing
must move at --min-rate at least, in either direction (a client that stops
reading is as slow as one that stops sending), with --body-timeout seconds of
slack. A client that misses a deadline is disconnected and the line says why.

Examples:
  download_server --root ~/shared            # 127.0.0.1:11500, read-only
  download_server --root ~/shared --writable --max-upload-bytes 1000000000
  download_server --encoding gbk              # for the tutorial's download_client.py

Options:
      --root DIR           directory to serve [default: the current directory]
      --bind ADDR          address to listen on [default: 127.0.0.1, this machine only];
                           --bind 0.0.0.0 exposes the files to the network
      --port N             port to listen on; 0 picks a free one [default: 11500]
      --encoding ENC       how tutorial clients encode file names: utf-8 or gbk
                           (the Python client sends gbk) [default: utf-8]
      --writable           accept uploads, mkdir, rename, rm and rmdir [default: read-only]
      --max-upload-bytes N refuse uploads larger than N bytes [default: no limit]
      --max-partial-bytes N
                           bytes all unfinished uploads together may hold on disk
                           (hidden .NAME.part files); past it the oldest abandoned
                           ones are removed, or the upload is told `busy`
                           [default: 17179869184, 16 GiB]
      --max-partial-age SECS
                           remove an unfinished upload's .NAME.part untouched this
                           long, also those an earlier run left; 0 = never
                           [default: 86400, a day]
      --token-file FILE    clients must present the token in FILE's first line
                           [default: $DOWNLOAD_SERVER_TOKEN if set, else no token]
      --max-clients N      clients served at once; when all are taken, the one idle longest
                           (silent, or between requests; never one mid-transfer) is
                           closed to make room, else a newcomer is told `busy` [default: 1000]
      --max-per-address N  connections one client address (an IPv6 /64) may hold at once;
                           0 = no limit [default: 32]
      --idle-timeout SECS  disconnect a client silent this long before a request;
                           0 = never [default: 60]
      --hello-timeout SECS a framed client's hello must be whole within SECS of its
                           first byte (for a client past a connection limit, within SECS
                           of connecting: it is only told `busy`); 0 = never [default: 10]
      --request-timeout SECS
                           a request must be whole within SECS of its first byte;
                           0 = never [default: 20]
      --body-timeout SECS  the longest an upload, download or listing may stall, and
                           the slack it has behind --min-rate; 0 = never [default: 20]
      --min-rate BYTES     bytes per second an upload, download or listing must keep
                           up, counting only the time the server waits for the client;
                           0 = any rate [default: 500]
      --trace              print each socket operation and frame on stderr (file
                           bytes summarised)
      --trace-file PATH    the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help               print this help
  -V, --version            print the version

The first line on stdout is `listening on IP:PORT`, with the port actually bound.
The protocol is described in PROTOCOL.md (docs/ in the source,
share/doc/socket-tutorial where installed).
",
};

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    server: Options,
    deadlines: Deadlines,
    root: PathBuf,
    encoding: Encoding,
    writable: bool,
    max_upload: Option<u64>,
    partials: PartialLimits,
    token: TokenFile,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            server: Options {
                bind: "127.0.0.1".into(),
                port: 11500,
                max_clients: 1000,
                max_per_address: Some(32),
                idle_timeout: Some(Duration::from_secs(60)),
            },
            deadlines: Deadlines::default(),
            root: PathBuf::from("."),
            encoding: Encoding::Utf8,
            writable: false,
            max_upload: None,
            partials: PartialLimits::default(),
            token: TokenFile::default(),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Long("root") => config.root = parser.value()?.into(),
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                Arg::Long("writable") => config.writable = true,
                Arg::Long("max-upload-bytes") => {
                    config.max_upload = Some(parser.parse("a number of bytes")?)
                }
                Arg::Long("max-partial-bytes") => {
                    config.partials.max_bytes = Some(parser.parse("a number of bytes")?)
                }
                Arg::Long("max-partial-age") => config.partials.max_age = parser.seconds()?,
                Arg::Long("hello-timeout") => config.deadlines.hello = parser.seconds()?,
                Arg::Long("request-timeout") => config.deadlines.request = parser.seconds()?,
                Arg::Long("body-timeout") => config.deadlines.body = parser.seconds()?,
                Arg::Long("min-rate") => {
                    config.deadlines.min_rate = parser.parse("a number of bytes per second")?
                }
                Arg::Long("token-file") => config.token = TokenFile::at(parser.value()?),
                arg => config.server.parse(arg, parser)?,
            }
        }
        Ok(config)
    }
}
