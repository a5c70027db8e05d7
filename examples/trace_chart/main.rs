//! trace_chart: two or more `--trace-file` traces drawn as one sequence diagram, in SVG or in an HTML page around it.
//!
//! `cargo run --release --example trace_chart -- client.trace server.trace -o lesson.svg`
//! (`-o lesson.html`, or `--html`, for a page that opens in any browser). One lane
//! per program, and per connection for a server with several clients; time flows
//! down; every call is a mark with its label in the Python's words; an arrow joins
//! the bytes of each TCP `send` to the `recv`s that read them (by their offsets,
//! docs/TRACE.md) and each UDP `sendto` to its `recvfrom`, or to a cross when no
//! one received it. Standard library only.

mod draw;
mod model;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "Usage: trace_chart TRACE... [-o OUT.svg|OUT.html] [--html] [--title TEXT]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trace_chart: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut inputs = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut html = false;
    let mut title = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-o") => out = Some(args.next().ok_or("-o needs a file")?.into()),
            Some("--html") => html = true,
            Some("--title") => {
                title = Some(
                    args.next()
                        .and_then(|t| t.into_string().ok())
                        .ok_or("--title needs a text")?,
                )
            }
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return Ok(());
            }
            Some(a) if a.starts_with('-') => return Err(format!("unknown option '{a}'\n{USAGE}")),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    if inputs.is_empty() {
        return Err(format!("no trace given\n{USAGE}"));
    }
    let mut traces = Vec::new();
    for path in &inputs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        traces.push(model::Trace::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let chart = model::Chart::new(traces);
    let html = html
        || out
            .as_ref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("html"));
    let svg = draw::svg(&chart, title.as_deref());
    let text = if html {
        draw::html(&svg, &chart, title.as_deref())
    } else {
        svg
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| format!("writing to stdout: {e}"))
        }
    }
}
