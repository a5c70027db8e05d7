//! download_client: the tutorial's `download_client.py`, step by step.
//!
//! Differences from the Python, and why: the Python does one `recv(6000)`, so
//! a longer file is cut, and it cannot tell a missing file from an empty one;
//! here the framed protocol says the size first and every byte is read (one
//! thread receives and writes, as `nc` does), and a refusal comes back as the
//! server's message and an exit status for its kind. Bytes go to `<out>.part` and are
//! renamed only when complete, an interrupted download resumes if the server
//! still has the same version, and `--verify` checks a SHA-256 of the whole
//! file. Names can be given on the command line (several at once); with none,
//! it asks `file_name:` like the Python. `--raw` speaks the tutorial's own
//! protocol, for the unmodified `download_server.py`.

use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::escape;
use socket_tutorial::core::input::{self, Input};
use socket_tutorial::core::net::{self, Target};
use socket_tutorial::core::trace;
use socket_tutorial::file_service::os_name;
use socket_tutorial::file_service::progress::{human_bytes, Progress};
use socket_tutorial::file_service::token::{Token, TokenFile};
use socket_tutorial::file_service::transfer::{
    self, Asked, Connection, Destination, DownloadOptions, Downloaded, Event, RawOutput, Start,
    TransferError, DOWNLOAD_BUFFER,
};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(mut config: Config) -> Result<(), Error> {
    config.trace.start(config.encoding)?;
    if config.names.is_empty() {
        // 3 (first half). Ask for the file name, like the Python's input(); here before
        // connecting, so that the server is not kept waiting while someone types.
        config.names.push(ask_file_name()?);
    }
    let token = config.token.load()?;
    if let Output::Dir(dir) = &config.output {
        fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("cannot create {}", escape::text(&dir.to_string_lossy())),
                &e,
            )
        })?;
    }
    let mut session: Option<Connection> = None;
    let mut failed = 0;
    // The kind all failures share, for the exit status (several kinds: the generic 1).
    let mut kinds = Vec::new();
    for name in &config.names {
        // `/docs/a.txt`, as file_shell's pwd shows it, is `docs/a.txt` under the root.
        let name = transfer::root_relative(name);
        let outcome = if config.raw {
            download_raw(&config, name)
        } else {
            download_framed(&config, token.as_ref(), &mut session, name)
        };
        match outcome {
            Ok(()) => {}
            // With several NAMEs, each failure is said as it happens and the rest go on.
            Err(e @ (Error::Runtime(_) | Error::Failed(..))) if config.names.len() > 1 => {
                eprintln!("{}: error: {e}", PROGRAM.name);
                kinds.push(e.failure());
                failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    // 5. Close the socket (when `session` is dropped).
    match failed {
        0 => Ok(()),
        n => {
            kinds.dedup();
            let kind = if kinds.len() == 1 { kinds[0] } else { None };
            let message = format!("{n} of {} files failed", config.names.len());
            Err(Error::of(kind, message))
        }
    }
}

/// The Python's `input("file_name:")`; the prompt only on a terminal.
fn ask_file_name() -> Result<Vec<u8>, Error> {
    match Input::stdin().line("file_name:")? {
        Some(name) if !name.is_empty() => Ok(name.to_vec()),
        _ => Err(Error::usage("no file name given")),
    }
}

/// One NAME over the tutorial's protocol, as the Python's `main` does it: a
/// connection of its own, the name's bytes, then every block until the
/// server closes. `output` keeps the `.part` and says what a failure means.
fn download_raw(config: &Config, name: &[u8]) -> Result<(), Error> {
    let out = config.output_for(name)?;
    let request = input::encode_line(name, config.encoding)
        .map_err(|why| Error::runtime(format!("{}: {why}", escape::name(name))))?;
    let fail = |e: TransferError| failure(name, &e);
    // 1-2. Create the socket and connect.
    let mut stream = config.server.connect_within(config.timeout)?;
    let mut stdout = io::stdout();
    let into = Destination::file_or(out.as_deref(), &mut stdout);
    let mut output = RawOutput::create(&stream, &request, into, config.timeout).map_err(fail)?;
    // 3. Send the file name.
    stream
        .write_all(&request)
        .map_err(|e| fail(output.send_failed(&e)))?;
    // 4. Receive every block until the server closes, into <out>.part: the
    // Python's one recv(6000), looping, so that a longer file is not cut.
    let mut buf = vec![0u8; DOWNLOAD_BUFFER];
    loop {
        let n = net::recv(&mut stream, &mut buf).map_err(|e| fail(output.recv_failed(&e)))?;
        if n == 0 {
            break;
        }
        output.write(&buf[..n]).map_err(fail)?;
    }
    // Then <out>.part is renamed into place (with -o -, stdout is flushed).
    let size = output.finish().map_err(fail)?;
    config.saved(name, out.as_deref(), size);
    // 5. Close the socket (when `stream` is dropped).
    Ok(())
}

/// A failed transfer as this program reports it: the server's own message
/// names the file (`not found: "a.txt"`); anything else is prefixed with it.
fn failure(name: &[u8], e: &TransferError) -> Error {
    match e {
        TransferError::Refused(_) => e.to_error(e.to_string()),
        _ => e.to_error(format!("{}: {e}", escape::name(name))),
    }
}

/// One NAME over the framed protocol, reusing the connection while it is usable.
fn download_framed(
    config: &Config,
    token: Option<&Token>,
    session: &mut Option<Connection>,
    name: &[u8],
) -> Result<(), Error> {
    let out = config.output_for(name)?;
    // 1-2. Create the socket and connect (once for all NAMEs), then the hellos.
    let conn = match session {
        Some(conn) => conn,
        None => {
            let stream = config.server.connect_within(config.timeout)?;
            // Not about this NAME: the server, or the token.
            let conn = Connection::open(stream, token, config.timeout)
                .map_err(|e| e.to_error(e.to_string()))?;
            session.insert(conn)
        }
    };
    let options = DownloadOptions {
        resume: true,
        verify: config.verify,
        mode: None,
        skip_same_version: !config.force,
    };
    let mut progress = None;
    let quiet = config.quiet;
    let mut events = |event: Event| on_event(event, name, out.as_deref(), quiet, &mut progress);
    let mut stdout = io::stdout();
    let into = Destination::file_or(out.as_deref(), &mut stdout);
    let done = match fetch(conn, name, into, options, &mut events) {
        Ok(done) => done,
        Err(e) => {
            if !e.connection_usable() {
                *session = None;
            }
            return Err(failure(name, &e));
        }
    };
    let shown = out.as_deref().unwrap_or(Path::new("-"));
    if done.start == Start::AlreadyComplete {
        config.say(format_args!(
            "{}: {} is already complete ({}); --force fetches it again",
            escape::name(name),
            escape::text(&shown.to_string_lossy()),
            human_bytes(done.size)
        ));
    } else {
        if let Some(p) = progress.as_mut() {
            let _ = p.finish(done.size, Instant::now());
        }
        config.saved(name, out.as_deref(), done.size);
    }
    if let Some(digest) = &done.digest {
        let line = transfer::sha256sum_line(digest, shown);
        // Standard output carries the file itself with -o -.
        match out {
            Some(_) => writeln!(io::stdout(), "{line}").map_err(Error::stdout)?,
            None => eprintln!("{line}"),
        }
    }
    Ok(())
}

/// The Python's steps 3 and 4 for one NAME on an open connection, then the
/// file put in place; resuming, the partial's record and the digest are
/// inside the steps. (Step 5, the close, is `run`'s: one connection serves
/// every NAME.)
fn fetch<'a>(
    conn: &mut Connection,
    name: &'a [u8],
    into: Destination<'a>,
    options: DownloadOptions,
    events: &mut dyn FnMut(Event),
) -> Result<Downloaded, TransferError> {
    // 3. Ask for the file (not fetched again when the one here is this version).
    let incoming = match conn.ask(name, into, options, events)? {
        Asked::Complete(done) => return Ok(done),
        Asked::Coming(incoming) => incoming,
    };
    // 4. Receive every byte into <out>.part.
    let received = conn.receive(incoming, events)?;
    // Finish: verify, rename into place (with -o -, flush stdout).
    conn.finish(received)
}

/// Say what happens to a partial file, and draw the progress line (on stderr,
/// whatever goes to stdout).
fn on_event(
    event: Event,
    name: &[u8],
    out: Option<&Path>,
    quiet: bool,
    progress: &mut Option<Progress<io::Stderr>>,
) {
    match event {
        _ if quiet => {}
        Event::StartingOver(reason) => {
            eprintln!(
                "{}: {}: starting over: {}",
                PROGRAM.name,
                escape::name(name),
                escape::text(reason)
            );
        }
        Event::Begin { size, offset } => {
            if let (Some(out), true) = (out, offset > 0) {
                eprintln!(
                    "{}: {}: resuming {} at {} of {}",
                    PROGRAM.name,
                    escape::name(name),
                    escape::text(&transfer::part_path(out).to_string_lossy()),
                    human_bytes(offset),
                    human_bytes(size)
                );
            }
            *progress = Some(Progress::stderr(&escape::name(name), size, offset));
        }
        Event::Progress(done) => {
            if let Some(p) = progress.as_mut() {
                let _ = p.update(done, Instant::now());
            }
        }
    }
}

const PROGRAM: Program = Program {
    name: "download_client",
    help: "\
download_client: downloads files from download_server (the tutorial's download_client.py)

Usage: download_client [OPTIONS] [NAME...]

Each NAME is a path under the server's root: `docs/a.txt`, or
`/docs/a.txt` as file_shell's pwd shows it (the root is `/`). It is saved as
copy-<name> in the current directory, as the Python does (only the last
part of a path: `docs/a.txt` becomes copy-a.txt); -O saves it under its
own name (a.txt), as curl -O does; -o chooses the place. With no NAME, it
asks `file_name:` on stdin like the Python. One line on stderr says where
each file was saved (`\"docs/a.txt\" saved as copy-a.txt (3 B)`), unless -s.

Nothing partial is ever left under the final name: bytes go to <out>.part
(with <out>.part.info recording which server, file and version they are),
and the file is renamed into place when all of it has arrived. Run the
same command again after an interruption and it resumes where it stopped,
if the server still has the same version of the file; otherwise it starts
over, and says which. A <out>.part that this client did not leave (your
own notes.part, say) is never touched: the download stops and says so.
Run it again after a finished download and it says the file is already
complete, without fetching it, while the saved file is as it was left and
the server has the same version (a small record of each finished download
is kept in ~/.local/state/socket-tutorial, %LOCALAPPDATA% on Windows).
A progress line is shown on stderr when it is a terminal (not with -s).

Examples:
  download_client notes.txt docs/report.pdf   # saves copy-notes.txt, copy-report.pdf
  download_client -o saved/ a.txt b.txt       # into the folder saved/
  download_client --verify big.iso            # prints '<sha256>  copy-big.iso'
  download_client -o - notes.txt | less       # to standard output

Options:
      --host HOST[:PORT]  the server: a name, an IPv4 or an IPv6 address,
                       with its port if you like (127.0.0.1:11500,
                       [::1]:11500) [default: 127.0.0.1]
      --port N         server port [default: 11500]
  -o, --output PATH    where to save; an existing directory keeps the file's
                       own name (and must be one with several NAMEs); DIR/
                       (ending in /) is created if missing; - writes the one
                       NAME to standard output
  -O, --remote-name    save under the file's own name in the current
                       directory (curl -O), not as copy-<name>
  -s, --silent         say nothing but errors: no progress line, no `saved`
                       line, no resume notice (curl -sS: errors are still said)
  -q, --quiet          the same as -s (wget -q; curl's own -q, which skips
                       .curlrc, has no meaning here)
  -c, -C -             accepted for wget -c and curl -C -: resuming is
                       always on (only from where the .part stopped)
      --force          fetch even a file that is already complete
      --verify         compare a SHA-256 of the whole file with the server's, and
                       print it the way sha256sum does (`<hex>  <file>`)
      --timeout SECS   give up on a server silent this long, keeping what
                       arrived for a resume (0 = never) [default: 60]
      --token-file FILE  the token a download_server started with --token-file
                       wants (its first line) [default: $DOWNLOAD_SERVER_TOKEN]
      --raw            speak the tutorial's protocol, for the Python
                       download_server.py: no size, no resume, no verify
      --encoding ENC   how --raw sends names: utf-8 or gbk (the Python server
                       decodes gbk) [default: utf-8]
      --trace          print each socket operation and frame on stderr (file
                       bytes summarised)
      --trace-file PATH
                       the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help           print this help
  -V, --version        print the version

Exit status: 0 when every file was saved; otherwise what failed, each
failure named with the server's message (`not found: \"notes.txt\"`), in
curl's numbers where curl has the same failure:
   1  any other failure (the connection lost mid-file, the server busy, ...)
   2  a bad argument
   6  the host name has no address
   7  nobody accepted the connection (no server on that port)
   8  not a download_server: an SSH server, or a broken answer
   9  refused: outside the served root, permission denied, read-only
  23  a local file could not be written
  28  the server, or the connect, was silent past --timeout
  32  --verify: the SHA-256 digests differ (nothing kept)
  67  the server wants a token and did not get the right one
  78  no such file or directory on the server
With several NAMEs, the code of their failure when they all failed the
same way, else 1.
",
};

/// Where the files go.
enum Output {
    /// copy-<name> in the current directory, as the Python does.
    Python,
    /// `-O`: the remote file's own name in the current directory, as `curl -O`.
    RemoteName,
    /// `-o PATH`: this file, or into this directory when it is one.
    Path(PathBuf),
    /// `-o DIR/`: into this directory, made if missing (curl's --create-dirs).
    Dir(PathBuf),
    /// `-o -`: standard output.
    Stdout,
}

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    server: Target,
    output: Output,
    verify: bool,
    force: bool,
    raw: bool,
    encoding: Encoding,
    token: TokenFile,
    /// How long the server may stay silent (`None`: forever).
    timeout: Option<Duration>,
    /// `-s`/`-q`: errors only, no progress line and no `saved` line.
    quiet: bool,
    /// As the protocol carries them: bytes, UTF-8 where the system's names are Unicode.
    names: Vec<Vec<u8>>,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            server: Target::local(11500),
            output: Output::Python,
            verify: false,
            force: false,
            raw: false,
            encoding: Encoding::Utf8,
            token: TokenFile::default(),
            timeout: Some(Duration::from_secs(60)),
            quiet: false,
            names: Vec::new(),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Short('o') | Arg::Long("output") => config.output = output(parser.value()?),
                Arg::Short('O') | Arg::Long("remote-name") => config.output = Output::RemoteName,
                Arg::Short('s') | Arg::Long("silent") => config.quiet = true,
                Arg::Short('q') | Arg::Long("quiet") => config.quiet = true,
                // wget -c and curl -C -: resuming is what this client always does.
                Arg::Short('c') | Arg::Long("continue") => {}
                Arg::Short('C') | Arg::Long("continue-at") => {
                    if parser.value()? != "-" {
                        return Err(Error::usage(
                            "-C takes only -: a download resumes where its .part stopped, \
                             and from no other offset",
                        ));
                    }
                }
                Arg::Long("verify") => config.verify = true,
                Arg::Long("force") => config.force = true,
                Arg::Long("raw") => config.raw = true,
                Arg::Long("encoding") => config.encoding = parser.parse("utf-8 or gbk")?,
                Arg::Long("timeout") => config.timeout = parser.seconds()?,
                Arg::Long("token-file") => config.token = TokenFile::at(parser.value()?),
                Arg::Value(name) => config.names.push(wire_name(&name)?),
                arg => config.server.parse(arg, parser)?,
            }
        }
        if config.raw && config.verify {
            return Err(Error::usage(
                "--verify needs the framed protocol: the tutorial's server (--raw) sends no digest",
            ));
        }
        match &config.output {
            Output::Stdout if config.names.len() > 1 => {
                return Err(Error::usage(
                    "-o - writes one file to standard output, and several NAMEs were given",
                ))
            }
            Output::Path(out) if config.names.len() > 1 && !out.is_dir() => {
                return Err(Error::usage(format!(
                    "with several NAMEs, -o must be an existing directory (or DIR/, made if missing), and {} is not one",
                    escape::text(&out.to_string_lossy())
                )))
            }
            _ => {}
        }
        Ok(config)
    }

    /// The line saying where a file went, on stderr (stdout may carry the file), unless -s;
    /// nothing for `-o -`, where the file itself went to stdout.
    fn saved(&self, name: &[u8], out: Option<&Path>, size: u64) {
        if let Some(out) = out {
            self.say(format_args!(
                "{} saved as {} ({})",
                escape::name(name),
                escape::text(&out.to_string_lossy()),
                human_bytes(size)
            ));
        }
    }

    /// A line for the person on stderr, `download_client: ...`, unless -s or -q.
    fn say(&self, line: std::fmt::Arguments) {
        if !self.quiet {
            eprintln!("{}: {line}", PROGRAM.name);
        }
    }

    /// Where one NAME is saved; `None` for standard output.
    fn output_for(&self, name: &[u8]) -> Result<Option<PathBuf>, Error> {
        match &self.output {
            Output::Stdout => return Ok(None),
            Output::Dir(dir) => transfer::output_in_dir(dir, name),
            Output::Path(dir) if dir.is_dir() => transfer::output_in_dir(dir, name),
            Output::Path(path) => Ok(path.clone()),
            Output::Python => transfer::default_output(name),
            Output::RemoteName => transfer::output_in_dir(Path::new(""), name),
        }
        .map(Some)
        .map_err(Error::runtime)
    }
}

/// `-o`'s value: `-`, `DIR/` or a path.
fn output(value: OsString) -> Output {
    if value == "-" {
        Output::Stdout
    } else if value.to_string_lossy().ends_with(std::path::is_separator) {
        Output::Dir(value.into())
    } else {
        Output::Path(value.into())
    }
}

/// A NAME from the command line as the bytes the protocol carries.
fn wire_name(name: &OsStr) -> Result<Vec<u8>, Error> {
    match os_name::to_bytes(name) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(Error::usage(format!(
            "{}: the name {}",
            escape::text(&name.to_string_lossy()),
            os_name::NOT_CARRIED
        ))),
    }
}
