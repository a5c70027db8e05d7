//! file_shell: the sftp client of the tutorial's first half, over our own protocol.
//!
//! The tutorial has no Python program for this: its sftp section (SecureCRT,
//! "sftp的使用": `put ./* .`, `get ./* .`, `pwd`/`lpwd`, `cd`/`lcd`, `lmkdir`,
//! an `l` in front for the local side) uses an ssh client's sftp. This is
//! that client for `download_server`: the same commands, wildcards and batch
//! mode, with downloads and uploads that never leave half a file under the
//! final name and resume after an interruption. The commands live in the
//! library (`socket_tutorial::file_service::shell`); this file only reads the options and
//! runs a session.

use socket_tutorial::core::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::core::encoding::Encoding;
use socket_tutorial::core::escape;
use socket_tutorial::core::net::Target;
use socket_tutorial::core::trace;
use socket_tutorial::file_service::shell::{Input, Mode, Shell, Stop, TreeLimits};
use socket_tutorial::file_service::token::TokenFile;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let result = cli::parse(Config::parse).and_then(run);
    PROGRAM.exit(result)
}

fn run(config: Config) -> Result<(), Error> {
    // Names and messages in frames are UTF-8.
    config.trace.start(Encoding::Utf8)?;
    if let Some(user) = &config.user {
        eprintln!(
            "{}: ignoring the user '{}': download_server has no accounts (a token, \
             --token-file, is all it may ask for)",
            PROGRAM.name,
            escape::text(user)
        );
    }
    let token = config.token.load()?;
    // Where the commands come from: a terminal (line editing), a file or a pipe.
    let mut input = Input::open(config.batch.as_deref()).map_err(Error::runtime)?;
    let mut shell = Shell::new(config.server, token, &input, config.timeout)
        .map_err(|e| Error::io("cannot find the current directory", &e))?;
    shell.set_tree_limits(config.tree);
    shell.allow_any_name(config.allow_any_name);
    // Connect (and present the token) before the first command.
    shell.connect()?;
    if input.mode() == Mode::Interactive {
        println!("{}", shell.greeting());
    }
    match shell.run(&mut input) {
        Ok(()) => Ok(()),
        Err(Stop::Failed {
            line,
            command,
            failure,
        }) => Err(Error::of(
            failure,
            format!("batch stopped at line {line}: {command}"),
        )),
        Err(Stop::Interrupted { line, command }) => Err(Error::runtime(format!(
            "batch interrupted (Ctrl-C) at line {line}: {command}"
        ))),
        Err(Stop::Input(why)) => Err(Error::runtime(format!("reading the commands: {why}"))),
        Err(Stop::StdoutClosed) => Err(Error::BrokenPipe),
    }
}

const PROGRAM: Program = Program {
    name: "file_shell",
    help: "\
file_shell: an sftp-style shell for download_server (the tutorial's sftp section: put ./* . and get ./* .)

Usage: file_shell [OPTIONS] [[USER@]HOST[:PORT]]

The tutorial moves whole folders with sftp (its SecureCRT section,
\"sftp的使用\"): pwd and lpwd, cd and lcd, lmkdir, put ./* . and get ./* .
file_shell is that client for download_server, over the project's own
protocol. An `l` in front of a command acts on this machine: ls/lls,
cd/lcd, pwd/lpwd, mkdir/lmkdir. `help` inside lists every command.

  file> lmkdir new_temp
  file> lcd new_temp
  file> get -r ./* .          # every file and folder here
  file> mkdir backup          # several sources need an existing folder
  file> put -r ./* backup     # and back, into the server's backup/

Files move through a .part name and are renamed when complete; get -a
(reget) and put -a (reput) resume an interrupted transfer. -r copies whole
folders. Permission bits come along (the receiving side's umask applies);
-p keeps modification times too. Windows has only a read-only bit, and that
is what travels. put never follows a symbolic link: one named is refused,
one matched by a wildcard or inside a folder is skipped.

When stdin is a terminal you get the prompt `file> ` with line editing:
arrows, Home/End, Ctrl-A/E/U/K/W, Ctrl-L, Up/Down through the history
(kept in ~/.file_shell_history), Tab to complete commands and local or
remote names (twice to list them). Ctrl-C clears the line, or stops the
transfer in progress (its partial is kept for reget/reput) and returns to
the prompt. The Windows console edits lines itself (no Tab completion), and
there Ctrl-C ends file_shell.

Otherwise (piped stdin, or -b FILE) it runs in batch mode, as `sftp -b`
does: each command is echoed after `file> `, and the first one that fails
ends the session with the exit status of its failure (below), unless its
line starts with `-`; a line starting with `@` is not echoed; `#` starts a
comment. Ctrl-C during
`-b FILE` at a terminal stops the batch with exit status 1; with commands
piped in, the terminal is the pipeline's and Ctrl-C ends it all (status
130). `!COMMAND` runs COMMAND on this machine with sh -c (cmd /C on
Windows). A connection the server closed while the session sat idle is
opened again before the next command that needs the server, which says
so in one line.

The protocol is not encrypted. Across a network you do not trust, tunnel
it: `ssh -L 11501:127.0.0.1:11500 HOST`, then `file_shell -P 11501`.

Examples:
  file_shell                                  # the server on 127.0.0.1:11500
  file_shell -P 2222 files.example.org        # HOST and -P PORT, as for sftp
  printf 'mkdir backup\\ncd backup\\nput -r ./* .\\n' | file_shell
  file_shell -b nightly.txt                   # batch mode, like sftp -b

Arguments:
  [[USER@]HOST[:PORT]]   the server, as for sftp: HOST, HOST:PORT, [IPv6]:PORT
                         [default: 127.0.0.1:11500]; a USER@ is ignored with
                         one line (download_server has no accounts)

Options:
      --host HOST[:PORT] the server, as an option
  -P, --port N           server port [default: 11500]
  -b, --batch FILE       read the commands from FILE (- for stdin)
      --timeout SECS     give up on a server silent this long (0 = never)
                         [default: 60]
      --max-depth N      get -r and put -r go at most N folders down, as sftp
                         [default: 64]
      --max-entries N    get -r and put -r copy at most N entries in all
                         [default: 1000000]
      --allow-any-name   save names from the server that hold control or
                         invisible formatting characters, or begin with -
      --token-file FILE  the token the server wants (its first line)
                         [default: $DOWNLOAD_SERVER_TOKEN]
      --trace            print each socket operation and frame on stderr (file
                         bytes summarised)
      --trace-file PATH  the same lines, with their fields, in PATH (docs/TRACE.md)
  -h, --help             print this help
  -V, --version          print the version

Exit status: 0 when every command succeeded (in batch mode) or the session
ended normally; otherwise what failed, in download_client's numbers (curl's
where curl has the same failure), for the server not reached and, in batch
mode, for the command that stopped the batch:
   1  any other failure (a local command, the connection lost, Ctrl-C)
   2  a bad argument
   6  the host name has no address
   7  nobody accepted the connection (no server on that port)
   8  not a download_server: an SSH server, or a broken answer
   9  refused: outside the served root, permission denied, read-only
  23  a local file could not be written (or read, for put)
  28  the server, or the connect, was silent past --timeout
  32  the SHA-256 digests differ (nothing kept)
  67  the server wants a token and did not get the right one
  78  no such file or directory on the server
",
};

struct Config {
    /// `--trace`, `--trace-file`: every socket operation on stderr, in a file.
    trace: trace::Options,
    /// `--max-depth`, `--max-entries`: how far `get -r` and `put -r` go.
    tree: TreeLimits,
    allow_any_name: bool,
    /// The server, from HOST[:PORT], --host, -P and --port (two ports given must agree).
    server: Target,
    host_given: bool,
    /// The `user` of `user@host`, said to be ignored.
    user: Option<String>,
    batch: Option<PathBuf>,
    token: TokenFile,
    timeout: Option<Duration>,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            trace: trace::Options::default(),
            tree: TreeLimits::default(),
            allow_any_name: false,
            server: Target::local(11500),
            host_given: false,
            user: None,
            batch: None,
            token: TokenFile::default(),
            timeout: Some(Duration::from_secs(60)),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                arg @ Arg::Long("trace" | "trace-file") => config.trace.parse(arg, parser)?,
                Arg::Short('b') | Arg::Long("batch") => config.batch = Some(parser.value()?.into()),
                // sftp's -P PORT; --host and --port go through Target below.
                Arg::Short('P') => config
                    .server
                    .set_port(parser.parse("a port number from 1 to 65535")?)?,
                Arg::Long("timeout") => config.timeout = parser.seconds()?,
                Arg::Long("allow-any-name") => config.allow_any_name = true,
                Arg::Long("max-depth") => {
                    config.tree.max_depth = parser.parse("a number of folders")?
                }
                Arg::Long("max-entries") => {
                    config.tree.max_entries = parser.parse("a number of entries")?
                }
                Arg::Long("token-file") => config.token = TokenFile::at(parser.value()?),
                // `file_shell HOST[:PORT]`, as `sftp HOST` (once, not with --host).
                Arg::Value(value) => {
                    if config.host_given {
                        return Err(Arg::Value(value).unexpected());
                    }
                    let text = value.to_str().ok_or_else(|| {
                        Error::usage(format!("'{}': not valid UTF-8", value.to_string_lossy()))
                    })?;
                    // sftp's `user@host`: the server has no accounts, so the user is set aside.
                    let host = match text.rsplit_once('@') {
                        Some((user, host)) => {
                            config.user = Some(user.to_owned());
                            host
                        }
                        None => text,
                    };
                    config.server.set_host(host)?;
                    config.host_given = true;
                }
                arg => config.server.parse(arg, parser)?,
            }
        }
        Ok(config)
    }
}
