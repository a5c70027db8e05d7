//! The command table of `file_shell`: every command's name, usage, one-line help and details, and the option letters each one takes.

use super::words::Word;

/// One command of the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub name: &'static str,
    /// Other names for the same command.
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// More for `help NAME`.
    pub details: &'static str,
    /// Option letters it accepts (`-r`, `-a`, ...).
    pub flags: &'static str,
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "pwd",
        aliases: &[],
        usage: "pwd",
        summary: "show the remote directory",
        details: "The server's root is /: the shell never leaves it.",
        flags: "",
    },
    Command {
        name: "lpwd",
        aliases: &[],
        usage: "lpwd",
        summary: "show the local directory",
        details: "An `l` in front of a command makes it act on this machine (the tutorial's rule).",
        flags: "",
    },
    Command {
        name: "cd",
        aliases: &[],
        usage: "cd [PATH]",
        summary: "change the remote directory",
        details: "Without PATH, back to the root. `cd ..` at the root stays at the root.",
        flags: "",
    },
    Command {
        name: "lcd",
        aliases: &[],
        usage: "lcd [PATH]",
        summary: "change the local directory",
        details: "Without PATH, to your home directory ($HOME; %USERPROFILE% on Windows).\n\
                  `~` and `~/x` start there.",
        flags: "",
    },
    Command {
        name: "ls",
        aliases: &["dir"],
        usage: "ls [-1ahlnrSt] [PATH...]",
        summary: "list remote files",
        details: "A directory lists its entries, a file or a pattern (`*.txt`) the names it matches,\n\
                  one a line (-1 says so too), sorted by name.\n\
                  -a  names starting with `.` too\n\
                  -l  type, permission bits, owner and group (numbers, as ls -n), size and\n    \
                  local time (TZ, else the system's zone; UTC, marked, when unknown);\n    \
                  -n is the same, as in sftp (owners are always numbers here)\n\
                  -h  sizes as 1.5K, 20M (with -l)\n\
                  -t  newest first; -S largest first; -r the other way round",
        flags: "1ahlnrSt",
    },
    Command {
        name: "lls",
        aliases: &["ldir"],
        usage: "lls [-1ahlnrSt] [PATH...]",
        summary: "list local files",
        details: "The same as ls, for this machine.",
        flags: "1ahlnrSt",
    },
    Command {
        name: "mkdir",
        aliases: &[],
        usage: "mkdir PATH",
        summary: "make a remote directory",
        details: "One directory; its parent must exist.",
        flags: "",
    },
    Command {
        name: "lmkdir",
        aliases: &[],
        usage: "lmkdir PATH",
        summary: "make a local directory",
        details: "One directory; its parent must exist.",
        flags: "",
    },
    Command {
        name: "get",
        aliases: &[],
        usage: "get [-a] [-p] [-r] REMOTE... [LOCAL]",
        summary: "download files (-r: folders too)",
        details: "REMOTE may hold * and ? (`get ./* .`); LOCAL never does. Without LOCAL, into the\n\
                  local directory under the same names. Several sources, or a LOCAL ending in /,\n\
                  need LOCAL to be an existing directory (lmkdir it first).\n\
                  -r  copy folders whole (also -R); one folder to a LOCAL that does not exist\n    \
                  arrives under that name; a file that fails does not stop the rest\n\
                  -a  resume an interrupted download (its NAME.part), like reget\n\
                  -p  keep modification times too\n\
                  Permission bits come along (this side's umask applies; on Windows, the\n\
                  read-only bit, all that Windows has of them). A remote symbolic link named or\n\
                  matched is followed (the server keeps it inside its root); inside a folder it\n\
                  is skipped. Files arrive as NAME.part and are renamed when complete; Ctrl-C\n\
                  stops the transfer and keeps NAME.part for reget.",
        flags: "aprR",
    },
    Command {
        name: "put",
        aliases: &[],
        usage: "put [-a] [-p] [-r] LOCAL... [REMOTE]",
        summary: "upload files (-r: folders too)",
        details: "LOCAL may hold * and ? (`put ./* .`); REMOTE never does. Without REMOTE, into the\n\
                  remote directory under the same names. Several sources, or a REMOTE ending in /,\n\
                  need REMOTE to be an existing directory (mkdir it first), as in sftp.\n\
                  -r  copy folders whole (also -R); one folder to a REMOTE that does not exist\n    \
                  arrives under that name; a file that fails does not stop the rest\n\
                  -a  resume an interrupted upload, like reput\n\
                  -p  keep the modification times of files too\n\
                  Permission bits come along (the server's umask applies; on Windows, the\n\
                  read-only bit, all that Windows has of them). Symbolic links are never\n\
                  followed, wherever they are met: one named is refused, one matched by a\n\
                  wildcard or inside a folder is skipped. The server writes a hidden .NAME.part\n\
                  and renames it when complete; Ctrl-C stops the transfer, and reput goes on.",
        flags: "aprR",
    },
    Command {
        name: "reget",
        aliases: &[],
        usage: "reget [-p] [-r] REMOTE... [LOCAL]",
        summary: "resume downloads (get -a)",
        details: "Goes on from NAME.part if the remote file is still the same version. A file\n\
                  that is already complete is reported as such, and that is a success.",
        flags: "pr",
    },
    Command {
        name: "reput",
        aliases: &[],
        usage: "reput [-p] [-r] LOCAL... [REMOTE]",
        summary: "resume uploads (put -a)",
        details: "Goes on from what the server kept of an interrupted upload of the same file.\n\
                  A file already complete on the server (same size) is reported as such, and\n\
                  that is a success (OpenSSH's reput fails there).",
        flags: "pr",
    },
    Command {
        name: "rename",
        aliases: &[],
        usage: "rename OLD NEW",
        summary: "rename a remote file or directory",
        details: "NEW must not exist.",
        flags: "",
    },
    Command {
        name: "rm",
        aliases: &[],
        usage: "rm PATH...",
        summary: "remove remote files",
        details: "PATH may hold * and ?. Directories are removed with rmdir.",
        flags: "",
    },
    Command {
        name: "rmdir",
        aliases: &[],
        usage: "rmdir PATH",
        summary: "remove an empty remote directory",
        details: "The directory must be empty.",
        flags: "",
    },
    Command {
        name: "chmod",
        aliases: &[],
        usage: "chmod MODE PATH...",
        summary: "change the permission bits of remote files or directories",
        details: "MODE is octal, as for chmod(1) and sftp: 644, 0755. PATH may hold * and ?.\n\
                  The server must run with --writable. A symbolic link is refused, never\n\
                  followed (a confined server never writes through one), and set-id and\n\
                  sticky bits are never applied, so MODE has three digits at most. A server\n\
                  on Windows keeps only the read-only bit: set when MODE has no owner-write\n\
                  bit (0200), cleared otherwise.",
        flags: "",
    },
    Command {
        name: "lumask",
        aliases: &[],
        usage: "lumask [UMASK]",
        summary: "show or set the local umask that downloads get",
        details: "UMASK is octal (022, 077). A file `get` saves without -p has the remote file's\n\
                  permission bits less these, as with sftp's lumask. It starts as this\n\
                  process's umask. Windows has no umask: a UMASK with the owner-write bit\n\
                  (0200) makes downloads read-only there, the one bit Windows keeps.",
        flags: "",
    },
    Command {
        name: "version",
        aliases: &[],
        usage: "version",
        summary: "show file_shell's version and the protocol version in use",
        details: "sftp shows its SFTP protocol version; this is the version of our own protocol\n\
                  (PROTOCOL.md, installed in share/doc/socket-tutorial).",
        flags: "",
    },
    Command {
        name: "progress",
        aliases: &[],
        usage: "progress",
        summary: "turn the progress line on or off",
        details: "The progress line is shown on a terminal only, and on by default.",
        flags: "",
    },
    Command {
        name: "help",
        aliases: &["?"],
        usage: "help [COMMAND]",
        summary: "list the commands, or explain one",
        details: "",
        flags: "",
    },
    Command {
        name: "!",
        aliases: &[],
        usage: "!COMMAND",
        summary: "run COMMAND here, in the local directory (sh -c; cmd /C on Windows)",
        details: "A lone ! starts an interactive shell ($SHELL; %ComSpec% on Windows) when the\n\
                  session is interactive.",
        flags: "",
    },
    Command {
        name: "bye",
        aliases: &["exit", "quit"],
        usage: "bye",
        summary: "leave (also exit, quit, or end of input)",
        details: "",
        flags: "",
    },
];

/// sftp commands this shell does not offer, and why, so that they are not taken for typos.
pub const NOT_OFFERED: &[(&str, &str)] = &[
    (
        "df",
        "df is not offered: Rust's standard library has no call for a file system's free space, \
         and the protocol has no request for it",
    ),
    (
        "ln",
        "ln is not offered: the server never creates a link, so that no name it serves can \
         lead outside its root",
    ),
    (
        "symlink",
        "symlink is not offered: the server never creates a link, so that no name it serves \
         can lead outside its root",
    ),
    (
        "cp",
        "cp is not offered: the protocol has no server-side copy (sftp's cp needs the \
         copy-data extension); get the file and put it under the new name",
    ),
];

/// Why `name` is one of the sftp commands not offered here, if it is.
pub fn not_offered(name: &str) -> Option<&'static str> {
    NOT_OFFERED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// The command called `name` (or one of its aliases).
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// What `help` says about typing at the prompt, on each platform.
pub const EDITING: &str = "\
At a unix terminal: Left/Right, Home/End, Backspace/Delete, Ctrl-A/E/U/K/W edit the line,
Ctrl-L clears the screen, Up/Down recall earlier lines (kept in ~/.file_shell_history),
Tab completes commands and names (twice: lists them), Ctrl-C clears the line or stops a
transfer (keeping the partial file), Ctrl-D on an empty line leaves.
In a Windows console, the console edits the line and Up/Down/F7 recall this session's
lines; there is no Tab completion, and Ctrl-C ends file_shell (partial files are kept).
";

/// `help`: every command, one line each.
pub fn overview() -> String {
    let width = COMMANDS.iter().map(|c| c.usage.len()).max().unwrap_or(0);
    let mut text = String::from("Commands (an `l` in front acts on this machine):\n");
    for c in COMMANDS {
        text.push_str(&format!("  {:width$}  {}\n", c.usage, c.summary));
    }
    text.push_str(
        "In batch mode a line starting with - may fail, and one starting with @ is not echoed.\n",
    );
    let names: Vec<&str> = NOT_OFFERED.iter().map(|(n, _)| *n).collect();
    text.push_str(&format!(
        "Not offered: {} (help NAME says why).\n",
        names.join(", ")
    ));
    text.push_str(EDITING);
    text
}

/// The COMMANDS section of file_shell's manual page: what `help` and `help NAME` say, for each command.
pub fn manual_section() -> crate::core::manpage::Section {
    let entries = COMMANDS
        .iter()
        .map(|c| {
            let mut summary = c.summary.to_string();
            if !c.aliases.is_empty() {
                summary.push_str(&format!(" (also: {})", c.aliases.join(", ")));
            }
            let mut lines = vec![summary];
            lines.extend(detail_paragraphs(c.details));
            (c.usage.to_string(), lines)
        })
        .collect();
    crate::core::manpage::Section {
        title: "COMMANDS".into(),
        intro: "At the `file> ` prompt, or one a line in batch mode (`help` lists them, `help NAME` explains one):".into(),
        entries,
    }
}

/// The details cut where a reader expects a new line, for filled text: each option
/// (`-r  copy...`, with its indented continuation) and the prose around them.
fn detail_paragraphs(details: &str) -> Vec<String> {
    let mut paragraphs: Vec<String> = Vec::new();
    for line in details.lines() {
        let continued = match paragraphs.last() {
            None => false,
            Some(_) if line.starts_with('-') => false,
            Some(last) => line.starts_with(' ') || !last.starts_with('-'),
        };
        match paragraphs.last_mut() {
            Some(last) if continued => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => paragraphs.push(line.trim().to_string()),
        }
    }
    paragraphs
}

/// `help NAME`.
pub fn details(c: &Command) -> String {
    let mut text = format!("usage: {}\n{}", c.usage, c.summary);
    if !c.aliases.is_empty() {
        text.push_str(&format!(" (also: {})", c.aliases.join(", ")));
    }
    text.push('\n');
    if !c.details.is_empty() {
        text.push_str(c.details);
        text.push('\n');
    }
    text
}

/// Leading options (`-r`, `-rp`, ...) off the front of `args`; `--` ends them.
pub fn options<'a>(c: &Command, args: &'a [Word]) -> Result<(Vec<char>, &'a [Word]), String> {
    let mut letters = Vec::new();
    let mut rest = args;
    while let Some((first, tail)) = rest.split_first() {
        if first.text == "--" {
            rest = tail;
            break;
        }
        // A quoted "-x" is a name, not an option.
        let is_option = first.text.len() > 1 && !first.quoted;
        let Some(flags) = first.text.strip_prefix('-').filter(|_| is_option) else {
            break;
        };
        for letter in flags.chars() {
            if !c.flags.contains(letter) {
                return Err(format!(
                    "{}: unknown option -{letter}; usage: {}",
                    c.name, c.usage
                ));
            }
            letters.push(letter);
        }
        rest = tail;
    }
    Ok((letters, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_service::shell::words::split;

    #[test]
    fn every_command_of_the_issue_is_there_with_help() {
        for name in [
            "pwd", "lpwd", "cd", "lcd", "ls", "lls", "mkdir", "lmkdir", "get", "put", "reget",
            "reput", "rename", "rm", "rmdir", "progress", "help", "bye", "exit", "quit", "!", "?",
            "chmod", "lumask", "version",
        ] {
            let c = lookup(name).unwrap_or_else(|| panic!("{name} is missing"));
            assert!(
                !c.summary.is_empty() && c.usage.starts_with(c.name),
                "{name}"
            );
            assert!(details(c).starts_with("usage: "), "{name}");
        }
        assert!(lookup("df").is_none() && not_offered("df").is_some());
        let all = overview();
        for c in COMMANDS {
            assert!(all.contains(c.usage), "{}", c.name);
        }
        // One line each, plus a heading, the batch note, the not-offered line and the editing note.
        assert_eq!(
            all.lines().count(),
            COMMANDS.len() + 3 + EDITING.lines().count()
        );
    }

    #[test]
    fn options_come_first_and_only_known_ones() {
        let get = lookup("get").unwrap();
        let words = split("-rp -a 'a b' -c").unwrap();
        let (flags, rest) = options(get, &words).unwrap();
        assert_eq!(flags, ['r', 'p', 'a']);
        assert_eq!(rest.len(), 2, "options stop at the first name");
        let words = split("-- -r").unwrap();
        let (flags, rest) = options(get, &words).unwrap();
        assert!(flags.is_empty());
        assert_eq!(rest[0].text, "-r");
        let words = split("'-r' x").unwrap();
        assert!(options(get, &words).unwrap().0.is_empty());
        let words = split("- x").unwrap();
        assert_eq!(
            options(get, &words).unwrap().1.len(),
            2,
            "a lone - is a name"
        );
        let err = options(lookup("rm").unwrap(), &split("-r x").unwrap()).unwrap_err();
        assert!(err.contains("unknown option -r"), "{err}");
    }
}
