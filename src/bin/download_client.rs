//! download_client: the tutorial's `download_client.py`, step by step.
//!
//! Differences from the Python, and why: the Python does one `recv(6000)`, so
//! a longer file is cut, and it cannot tell a missing file from an empty one;
//! here the framed protocol says the size first and every byte is read, and a
//! refusal comes back as the server's message with exit status 1. Bytes go
//! to `<out>.part` and are renamed only when complete, an interrupted
//! download resumes if the server still has the same version, and
//! `--verify` checks a SHA-256 of the whole file. Names can be given on the
//! command line (several at once); with none, it asks `file_name:` like the
//! Python. `--raw` speaks the tutorial's own protocol, for the unmodified
//! `download_server.py`.

use socket_tutorial::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::encoding::Encoding;
use socket_tutorial::input::Input;
use socket_tutorial::net::Target;
use socket_tutorial::progress::{human_bytes, Progress};
use socket_tutorial::token::{Token, TokenFile};
use socket_tutorial::transfer::{self, Connection, Event};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const PROGRAM: Program = Program {
    name: "download_client",
    help: "\
download_client: downloads files from download_server (the tutorial's download_client.py)

Usage: download_client [OPTIONS] [NAME...]

Each NAME is a path relative to the server's root. It is saved as
copy-<name> in the current directory, as the Python does (only the last
part of a path: `docs/a.txt` becomes copy-a.txt), or at -o. With no NAME,
it asks `file_name:` on stdin like the Python.

Nothing partial is ever left under the final name: bytes go to <out>.part
(with <out>.part.info recording which version of the file they are), and
the file is renamed into place when all of it has arrived. Run the same
command again after an interruption and it resumes where it stopped, if
the server still has the same version of the file; otherwise it starts
over, and says which. A progress line is shown on stderr when it is a
terminal.

Options:
      --host HOST      server to connect to [default: 127.0.0.1]
      --port N         server port [default: 11500]
  -o, --output PATH    where to save; an existing directory keeps the file's
                       own name (and must be one with several NAMEs)
      --verify         compare a SHA-256 of the whole file with the server's, and
                       print it the way sha256sum does (`<hex>  <file>`)
      --token-file FILE  the token a download_server started with --token-file
                       wants (its first line) [default: $DOWNLOAD_SERVER_TOKEN]
      --raw            speak the tutorial's protocol, for the Python
                       download_server.py: no size, no resume, no verify
      --encoding ENC   how --raw sends names: utf-8 or gbk (the Python server
                       decodes gbk) [default: utf-8]
  -h, --help           print this help
  -V, --version        print the version

Exit status: 0 when every file was saved, 1 when any failed (each failure
is named, with the server's message, e.g. `not found: \"notes.txt\"`), 2 for
a bad argument.
",
};

struct Config {
    server: Target,
    output: Option<PathBuf>,
    verify: bool,
    raw: bool,
    encoding: Encoding,
    token: TokenFile,
    names: Vec<OsString>,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            server: Target::local(11500),
            output: None,
            verify: false,
            raw: false,
            encoding: Encoding::Utf8,
            token: TokenFile::default(),
            names: Vec::new(),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                Arg::Short('o') => config.output = Some(parser.value()?.into()),
                Arg::Long(ref name) if name == "output" => {
                    config.output = Some(parser.value()?.into())
                }
                Arg::Long(ref name) if name == "verify" => config.verify = true,
                Arg::Long(ref name) if name == "raw" => config.raw = true,
                Arg::Long(ref name) if name == "encoding" => {
                    config.encoding = parser.parse("utf-8 or gbk")?
                }
                Arg::Value(name) => config.names.push(name),
                arg => {
                    if !(config.server.parse_arg(&arg, parser)?
                        || config.token.parse_arg(&arg, parser)?)
                    {
                        return Err(cli::unexpected(arg));
                    }
                }
            }
        }
        if config.raw && config.verify {
            return Err(Error::usage(
                "--verify needs the framed protocol: the tutorial's server (--raw) sends no digest",
            ));
        }
        if let Some(out) = &config.output {
            if config.names.len() > 1 && !out.is_dir() {
                return Err(Error::usage(format!(
                    "with several NAMEs, -o must be an existing directory, and {} is not one",
                    out.display()
                )));
            }
        }
        Ok(config)
    }

    /// Where one NAME is saved.
    fn output_for(&self, name: &[u8]) -> Result<PathBuf, String> {
        let derived = match &self.output {
            Some(dir) if dir.is_dir() => transfer::output_in_dir(dir, name),
            Some(path) => return Ok(path.clone()),
            None => transfer::default_output(name),
        };
        derived.ok_or_else(|| {
            format!(
                "{}: no file name to save it under (it ends in `/`, `.` or `..`); use -o PATH",
                show(name)
            )
        })
    }
}

fn main() -> ExitCode {
    cli::main(&PROGRAM, |parser| {
        let mut config = Config::parse(parser)?;
        if config.names.is_empty() {
            // 3 (first half). Ask for the file name, like the Python's input(); here before
            // connecting, so that the server is not kept waiting while someone types.
            config.names.push(ask_file_name()?);
        }
        let token = config.token.load()?;
        let mut session: Option<Connection> = None;
        let mut failures = Vec::new();
        for name in &config.names {
            let name = name.as_bytes();
            let outcome = if config.raw {
                download_raw(&config, name)
            } else {
                download_framed(&config, token.as_ref(), &mut session, name)
            };
            if let Err(message) = outcome {
                if config.names.len() > 1 {
                    eprintln!("download_client: error: {message}");
                }
                failures.push(message);
            }
        }
        // 5. Close the socket (when `session` is dropped).
        match failures.as_slice() {
            [] => Ok(()),
            [only] if config.names.len() == 1 => Err(Error::runtime(only.clone())),
            _ => Err(Error::runtime(format!(
                "{} of {} files failed",
                failures.len(),
                config.names.len()
            ))),
        }
    })
}

/// The Python's `input("file_name:")`; the prompt only on a terminal.
fn ask_file_name() -> Result<OsString, Error> {
    match Input::stdin().line("file_name:")? {
        Some(name) if !name.is_empty() => Ok(OsString::from_vec(name.to_vec())),
        _ => Err(Error::usage("no file name given")),
    }
}

/// One NAME over the framed protocol, reusing the connection while it is usable.
fn download_framed(
    config: &Config,
    token: Option<&Token>,
    session: &mut Option<Connection>,
    name: &[u8],
) -> Result<(), String> {
    let out = config.output_for(name)?;
    // 1-2. Create the socket and connect (once for all NAMEs), then the hellos.
    let conn = match session {
        Some(conn) => conn,
        None => {
            let stream = config.server.connect().map_err(|e| e.to_string())?;
            session.insert(Connection::open(stream, token).map_err(|e| e.to_string())?)
        }
    };
    // 3. Ask for the file; 4. receive every byte into <out>.part, then rename.
    let mut progress = None;
    let result = conn.download(name, &out, config.verify, &mut |event| {
        on_event(event, name, &out, &mut progress)
    });
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            if !e.connection_usable() {
                *session = None;
            }
            drop(progress);
            return Err(match e {
                transfer::TransferError::Refused(_) => e.to_string(),
                _ => format!("{}: {e}", show(name)),
            });
        }
    };
    if let Some(p) = progress.as_mut() {
        let _ = p.finish(done.size, Instant::now());
    }
    if let Some(digest) = &done.digest {
        let mut stdout = io::stdout();
        writeln!(stdout, "{}", transfer::sha256sum_line(digest, &out))
            .map_err(|e| format!("writing to stdout: {e}"))?;
    }
    Ok(())
}

/// Say what happens to a partial file, and draw the progress line.
fn on_event(event: Event, name: &[u8], out: &Path, progress: &mut Option<Progress<io::Stderr>>) {
    match event {
        Event::StartingOver(reason) => {
            eprintln!(
                "download_client: {}: starting over: {}",
                show(name),
                socket_tutorial::escape::text(reason)
            );
        }
        Event::Begin { size, offset } => {
            if offset > 0 {
                eprintln!(
                    "download_client: {}: resuming {} at {} of {}",
                    show(name),
                    transfer::part_path(out).display(),
                    human_bytes(offset),
                    human_bytes(size)
                );
            }
            *progress = Some(Progress::stderr(&show(name), size, offset));
        }
        Event::Progress(done) => {
            if let Some(p) = progress.as_mut() {
                let _ = p.update(done, Instant::now());
            }
        }
    }
}

/// One NAME over the tutorial's protocol: a connection of its own, the name's
/// bytes, then everything until the server closes.
fn download_raw(config: &Config, name: &[u8]) -> Result<(), String> {
    let out = config.output_for(name)?;
    let request = match config.encoding {
        Encoding::Utf8 => name.to_vec(),
        Encoding::Gbk => {
            let text = std::str::from_utf8(name)
                .map_err(|_| format!("{}: not valid UTF-8, cannot encode it in gbk", show(name)))?;
            config
                .encoding
                .encode(text)
                .map_err(|e| format!("{}: {e}", show(name)))?
        }
    };
    // 1-2. Create the socket and connect.
    let stream = config.server.connect().map_err(|e| e.to_string())?;
    // 3. Send the name; 4. receive until the server closes.
    transfer::raw_download(stream, &request, &out, &mut |_| {})
        .map(drop)
        .map_err(|e| format!("{}: {e}", show(name)))
}

/// A NAME for messages: lossy UTF-8, control characters escaped.
fn show(name: &[u8]) -> String {
    socket_tutorial::escape::text(&String::from_utf8_lossy(name))
}
