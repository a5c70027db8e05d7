//! The shell blocks of a walkthrough page: what each one is for, as its marker says, and the output the page shows under it.
//!
//! A transcript is a ```` ```sh ```` block followed at once by a ```` ```text ````
//! block, the output it printed. The line right before the ```` ```sh ```` fence
//! may hold a marker saying what the test does with the block:
//!
//! | marker | meaning |
//! |---|---|
//! | (none) | a transcript the test runs, needing only our binaries and the usual tools |
//! | `<!-- walkthrough: needs python3 -->` | a transcript the test runs when `python3` is installed (inline Python, never the tutorial's files) |
//! | `<!-- walkthrough: not run: REASON -->` | a transcript or a command the test cannot run, and why |
//! | `<!-- walkthrough: prelude -->` | definitions the reader pastes once (`wait_for`); put before every run |
//! | `<!-- walkthrough: setup -->` | commands whose effect later blocks of the same `##` section use; run before each of them |

/// What the test does with a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    Run,
    NeedsPython3,
    NotRun(String),
    Prelude,
    Setup,
}

/// A ```` ```text ```` block under a shell block: the output the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub text: String,
    /// 0-based index of the document line after the opening fence, and of the closing fence.
    pub first_line: usize,
    pub fence_line: usize,
    /// The indentation of the fence (blocks inside list items are indented).
    pub indent: String,
}

/// One ```` ```sh ```` block of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The `## ` heading the block is under.
    pub section: String,
    pub marker: Marker,
    /// The commands, without the fence's indentation.
    pub code: String,
    pub output: Option<Output>,
}

impl Block {
    /// A transcript is a block with output under it.
    pub fn is_transcript(&self) -> bool {
        self.output.is_some()
    }
}

const MARKER_START: &str = "<!-- walkthrough:";

/// The shell blocks of a page, or everything wrong with its markers and fences.
pub fn parse(doc: &str) -> Result<Vec<Block>, Vec<String>> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut section = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
        }
        if trimmed.starts_with(MARKER_START) {
            let next = lines.get(i + 1).map(|l| l.trim_start());
            if next != Some("```sh") {
                problems.push(format!(
                    "line {}: a walkthrough marker must be on the line right before a ```sh block: {line}",
                    i + 1
                ));
            }
        }
        if !trimmed.starts_with("```") {
            i += 1;
            continue;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let Some(close) = closing_fence(&lines, i + 1, indent) else {
            problems.push(format!("line {}: this fence is never closed", i + 1));
            break;
        };
        if trimmed != "```sh" {
            i = close + 1;
            continue;
        }
        let marker = match i.checked_sub(1).map(|p| lines[p].trim()) {
            Some(prev) if prev.starts_with(MARKER_START) => match parse_marker(prev) {
                Ok(marker) => marker,
                Err(why) => {
                    problems.push(format!("line {i}: {why}: {prev}"));
                    Marker::Run
                }
            },
            _ => Marker::Run,
        };
        let code = unindent(&lines[i + 1..close], indent);
        let mut output = None;
        let mut end = close;
        if lines.get(close + 1).map(|l| l.trim_start()) == Some("```text") {
            match closing_fence(&lines, close + 2, indent) {
                Some(out_close) => {
                    output = Some(Output {
                        text: unindent(&lines[close + 2..out_close], indent),
                        first_line: close + 2,
                        fence_line: out_close,
                        indent: indent.to_string(),
                    });
                    end = out_close;
                }
                None => problems.push(format!("line {}: this fence is never closed", close + 2)),
            }
        }
        let block = Block {
            line: i + 1,
            section: section.clone(),
            marker,
            code,
            output,
        };
        if let Some(why) = misfit(&block) {
            problems.push(format!("line {}: {why}", block.line));
        }
        blocks.push(block);
        i = end + 1;
    }
    if problems.is_empty() {
        Ok(blocks)
    } else {
        Err(problems)
    }
}

/// The index of the fence that closes a block opened before `from`.
fn closing_fence(lines: &[&str], from: usize, indent: &str) -> Option<usize> {
    (from..lines.len()).find(|&j| {
        let l = lines[j];
        l.starts_with(indent) && l[indent.len()..].trim_end() == "```"
    })
}

fn unindent(lines: &[&str], indent: &str) -> String {
    let mut text = String::new();
    for l in lines {
        text.push_str(l.strip_prefix(indent).unwrap_or(l.trim_start()));
        text.push('\n');
    }
    text
}

fn parse_marker(line: &str) -> Result<Marker, String> {
    let inner = line
        .strip_prefix(MARKER_START)
        .and_then(|rest| rest.strip_suffix("-->"))
        .ok_or("a marker is one line, `<!-- walkthrough: ... -->`")?
        .trim();
    match inner {
        "prelude" => Ok(Marker::Prelude),
        "setup" => Ok(Marker::Setup),
        "needs python3" => Ok(Marker::NeedsPython3),
        _ => match inner.strip_prefix("not run:") {
            Some(reason) if !reason.trim().is_empty() => {
                Ok(Marker::NotRun(reason.trim().to_string()))
            }
            _ => Err(
                "unknown marker (prelude, setup, needs python3, or not run: REASON)".to_string(),
            ),
        },
    }
}

/// Why a block and its marker do not go together, if they do not.
fn misfit(block: &Block) -> Option<String> {
    match (&block.marker, block.is_transcript()) {
        (Marker::Run | Marker::NeedsPython3, false) => Some(
            "a block with no ```text output under it must be marked prelude, setup or `not run: REASON`"
                .into(),
        ),
        (Marker::Prelude | Marker::Setup, true) => {
            Some("a prelude or setup block prints nothing, so it has no ```text under it".into())
        }
        _ => None,
    }
}

/// Our programs, and what a command line naming one must say so that a test run of it
/// touches no fixed port and nothing beyond loopback.
const PROGRAMS: [(&str, &[&str]); 7] = [
    ("tcp_server", &["--port", "--bind 127.0.0.1"]),
    ("udp_receiver", &["--port", "--bind 127.0.0.1"]),
    ("download_server", &["--port"]),
    ("tcp_client", &["--port"]),
    ("download_client", &["--port"]),
    ("udp_sender", &["--port", "--bind-port"]),
    ("file_shell", &["-P"]),
];

/// Everything in a block to be run that would use a default (fixed) port or listen beyond loopback.
pub fn fixed_port_uses(code: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for line in code.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first().is_some_and(|w| w.starts_with('#')) {
            continue;
        }
        for (at, word) in words.iter().enumerate() {
            let Some((name, wanted)) = PROGRAMS.iter().find(|(name, _)| word == name) else {
                continue;
            };
            // The command runs to the next shell operator.
            let rest: Vec<&str> = words[at + 1..]
                .iter()
                .take_while(|w| {
                    !matches!(**w, "|" | ";" | "&" | "&&" | "||") && !w.starts_with('>')
                })
                .copied()
                .collect();
            let rest = format!(" {} ", rest.join(" "));
            for option in wanted.iter() {
                if !rest.contains(&format!(" {option} ")) {
                    problems.push(format!("`{name}` without `{option}`: {}", line.trim()));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_parses_into_blocks_with_their_markers_and_outputs() {
        let doc = "\
## One

```sh
echo hi
```
```text
hi
```

<!-- walkthrough: not run: needs strace -->
```sh
strace true
```

- item:

  <!-- walkthrough: setup -->
  ```sh
  mkdir x
  ```
## Two
```text
not a transcript
```
";
        let blocks = parse(doc).expect("parses");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].marker, Marker::Run);
        assert_eq!(blocks[0].code, "echo hi\n");
        assert_eq!(blocks[0].output.as_ref().unwrap().text, "hi\n");
        assert_eq!(blocks[0].line, 3);
        assert_eq!(blocks[1].marker, Marker::NotRun("needs strace".into()));
        assert!(!blocks[1].is_transcript());
        assert_eq!(blocks[2].marker, Marker::Setup);
        assert_eq!(blocks[2].code, "mkdir x\n");
        assert_eq!(blocks[2].section, "One");
    }

    #[test]
    fn a_block_without_output_must_say_what_it_is() {
        let problems = parse("```sh\necho hi\n```\n").unwrap_err();
        assert!(problems[0].contains("no ```text output"), "{problems:?}");
        let problems =
            parse("<!-- walkthrough: setup -->\n```sh\necho\n```\n```text\n\n```\n").unwrap_err();
        assert!(problems[0].contains("prints nothing"), "{problems:?}");
        let problems =
            parse("<!-- walkthrough: maybe -->\n```sh\necho\n```\n```text\n\n```\n").unwrap_err();
        assert!(problems[0].contains("unknown marker"), "{problems:?}");
        let problems = parse("<!-- walkthrough: setup -->\n\n```sh\necho\n```\n").unwrap_err();
        assert!(problems[0].contains("right before"), "{problems:?}");
    }

    #[test]
    fn commands_to_be_run_name_their_ports_and_stay_on_loopback() {
        assert_eq!(
            fixed_port_uses(
                "tcp_server --bind 127.0.0.1 --port 10500 > log &\nprintf x | tcp_client --port 10500\n\
                 python3 py/tcp_server.py\n# tcp_server alone in a comment\n"
            ),
            Vec::<String>::new()
        );
        let problems = fixed_port_uses(
            "tcp_server > server.log &\necho | udp_sender --port 15000; echo | download_client x | tcp_client --port 1\n",
        );
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("`tcp_server` without `--port`"));
        assert!(problems[1].contains("`tcp_server` without `--bind 127.0.0.1`"));
        assert!(problems[2].contains("`udp_sender` without `--bind-port`"));
        assert!(problems[3].contains("`download_client` without `--port`"));
    }
}
