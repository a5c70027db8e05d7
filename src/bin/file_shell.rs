//! file_shell: the sftp client of the tutorial's first half, over our own protocol.
//!
//! The tutorial has no Python program for this: its sftp section (SecureCRT,
//! "sftp的使用": `put ./* .`, `get ./* .`, `pwd`/`lpwd`, `cd`/`lcd`, `lmkdir`,
//! an `l` in front for the local side) uses an ssh client's sftp. This is
//! that client for `download_server`: the same commands, wildcards and batch
//! mode, with downloads and uploads that never leave half a file under the
//! final name and resume after an interruption. The commands live in the
//! library (`socket_tutorial::shell`); this file only reads the options and
//! runs a session.

use socket_tutorial::cli::{self, Arg, Error, Parser, Program};
use socket_tutorial::net::Target;
use socket_tutorial::shell::{Mode, Shell, Stop};
use socket_tutorial::token::TokenFile;
use std::fs::File;
use std::io::{self, BufReader, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

const PROGRAM: Program = Program {
    name: "file_shell",
    help: "\
file_shell: an sftp-style shell for download_server (the tutorial's sftp section: put ./* . and get ./* .)

Usage: file_shell [OPTIONS]

The tutorial moves whole folders with sftp (its SecureCRT section,
\"sftp的使用\"): pwd and lpwd, cd and lcd, lmkdir, put ./* . and get ./* .
file_shell is that client for download_server, over the project's own
protocol. An `l` in front of a command acts on this machine: ls/lls,
cd/lcd, pwd/lpwd, mkdir/lmkdir. `help` inside lists every command.

  file> lmkdir new_temp
  file> lcd new_temp
  file> get -r ./* .          # every file and folder here
  file> put -r ./* backup     # and back, into the server's backup/

Files move through a .part name and are renamed when complete; get -a
(reget) and put -a (reput) resume an interrupted transfer. -r copies whole
folders and skips symbolic links. -p keeps modification times and the
permission bits; Windows has only a read-only bit, and -p keeps that.

When stdin is a terminal you get the prompt `file> `. Otherwise (piped
stdin, or -b FILE) it runs in batch mode, as `sftp -b` does: each command is
echoed after `file> `, and the first one that fails ends the session with
exit status 1, unless its line starts with `-`; a line starting with `@` is
not echoed; `#` starts a comment. `!COMMAND` runs COMMAND on this machine
with sh -c (cmd /C on Windows).

The protocol is not encrypted. Across a network you do not trust, tunnel
it: `ssh -L 11500:127.0.0.1:11500 HOST`, then `file_shell --port 11500`.

Options:
      --host HOST        server to connect to [default: 127.0.0.1]
      --port N           server port [default: 11500]
  -b, --batch FILE       read the commands from FILE (- for stdin)
      --token-file FILE  the token the server wants (its first line)
                         [default: $DOWNLOAD_SERVER_TOKEN]
  -h, --help             print this help
  -V, --version          print the version

Exit status: 0 when every command succeeded (in batch mode) or the session
ended normally, 1 when a batch stopped at a failure or the server cannot be
reached, 2 for a bad argument.
",
};

struct Config {
    server: Target,
    batch: Option<PathBuf>,
    token: TokenFile,
}

impl Config {
    fn parse(parser: &mut Parser) -> Result<Config, Error> {
        let mut config = Config {
            server: Target::local(11500),
            batch: None,
            token: TokenFile::default(),
        };
        while let Some(arg) = parser.next()? {
            match arg {
                Arg::Short('b') => config.batch = Some(parser.value()?.into()),
                Arg::Long(ref name) if name == "batch" => {
                    config.batch = Some(parser.value()?.into())
                }
                arg => {
                    if !(config.server.parse_arg(&arg, parser)?
                        || config.token.parse_arg(&arg, parser)?)
                    {
                        return Err(cli::unexpected(arg));
                    }
                }
            }
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    cli::main(&PROGRAM, |parser| {
        let config = Config::parse(parser)?;
        let token = config.token.load()?;
        let from_file = config.batch.as_ref().filter(|p| p.as_os_str() != "-");
        let mode = if config.batch.is_none() && io::stdin().is_terminal() {
            Mode::Interactive
        } else {
            Mode::Batch
        };
        let mut input: Box<dyn io::BufRead> = match from_file {
            Some(path) => Box::new(BufReader::new(File::open(path).map_err(|e| {
                Error::io(format!("cannot read the batch file {}", path.display()), &e)
            })?)),
            None => Box::new(io::stdin().lock()),
        };
        let mut shell = Shell::new(config.server, token, mode)
            .map_err(|e| Error::io("cannot find the current directory", &e))?;
        // Connect (and present the token) before the first command.
        shell.connect().map_err(Error::runtime)?;
        if mode == Mode::Interactive {
            println!("{}", shell.greeting());
        }
        match shell.run(&mut input, mode) {
            Ok(()) => Ok(()),
            Err(Stop::Failed { line, command }) => Err(Error::runtime(format!(
                "batch stopped at line {line}: {command}"
            ))),
            Err(Stop::Input(why)) => Err(Error::runtime(format!("reading the commands: {why}"))),
            Err(Stop::StdoutClosed) => Err(Error::BrokenPipe),
        }
    })
}
