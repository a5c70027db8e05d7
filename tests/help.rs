//! Every binary that ports one of the tutorial's programs names that program in its `--help`.
//!
//! A learner who runs `tcp_server --help` should learn which Python program
//! to read next to it (docs/WALKTHROUGH.md pairs them step by step).

mod common;

/// Each of the tutorial's six programs and the binary that ports it.
const PAIRS: [(&str, &str); 6] = [
    ("tcp_server", "tcp_server.py"),
    ("tcp_client", "tcp_client.py"),
    ("download_server", "download_server.py"),
    ("download_client", "download_client.py"),
    ("udp_receiver", "udp_receiver.py"),
    ("udp_sender", "udp_sender.py"),
];

#[test]
fn every_port_names_the_python_program_it_mirrors() {
    for (bin, python) in PAIRS {
        common::assert_help_and_version(bin, python, &[]);
    }
}

#[test]
fn the_walkthrough_has_a_section_for_every_pair() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["docs/WALKTHROUGH.md", "docs/WALKTHROUGH.zh-CN.md"] {
        let text = std::fs::read_to_string(root.join(doc))
            .unwrap_or_else(|e| panic!("cannot read {doc}: {e}"));
        for (bin, python) in PAIRS {
            let heading = format!("`{python}` → `{bin}`");
            assert!(
                text.lines()
                    .any(|l| l.starts_with("## ") && l.contains(&heading)),
                "{doc} has no `## ` heading containing {heading:?}"
            );
        }
    }
}
