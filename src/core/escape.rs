//! What a peer sent, made safe to print: shown, never obeyed.
//!
//! Bytes from the network reach a terminal or a log. A newline in them would
//! start a line that looks like ours (a forged `127.0.0.1:1: exit`), an escape
//! sequence would move the cursor, clear the screen or retitle the window, and
//! a bidi override (`\u{202e}`) would make `rtl\u{202e}txt.exe` read as
//! `rtlexe.txt`. Every binary that prints peer text passes it through here
//! first, so each of those shows as a visible escape (`\n`, `\x1b`,
//! `\u{202e}`) while Chinese and any other printable text is left untouched.

/// Longest quoted part [`name`] shows, in characters of escaped output.
const NAME_MAX: usize = 120;

/// Free text from a peer (a message, a datagram, a server's error message) for one line of output.
///
/// Control characters become `\n`, `\r`, `\t`, `\xNN` (other C0 and DEL) or
/// `\u{NN}` (C1), and invisible format characters (bidi controls, zero-width
/// characters, the BOM) become `\u{...}`. A backslash is kept as it is, so a
/// Windows path reads naturally; what matters is that nothing is obeyed.
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c, false);
    }
    out
}

/// A name a peer sent (a path, a file name), quoted for a log line or an error message.
///
/// Like [`text`], and also: the result is in double quotes, a `"` or `\` inside
/// is escaped so the quotes cannot be closed early, bytes that are not UTF-8
/// become `\xNN`, and a long name is cut after about 120 characters and marked
/// with an ellipsis and its length in bytes.
pub fn name(raw: &[u8]) -> String {
    let (mut out, cut) = quoted(raw, NAME_MAX);
    if cut {
        out.push_str(&format!("… ({} bytes)", raw.len()));
    }
    out
}

/// `raw` in double quotes as [`name`] shows it, cut after about `max` characters of escaped
/// output; the flag says whether it was cut (the caller says how long the whole was).
pub fn quoted(raw: &[u8], max: usize) -> (String, bool) {
    let mut out = String::with_capacity(raw.len().min(max) + 2);
    out.push('"');
    let mut shown = 0usize;
    let mut cut = false;
    let mut piece = String::new();
    'chunks: for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            piece.clear();
            push_escaped(&mut piece, c, true);
            if !push_piece(&mut out, &mut shown, &piece, max) {
                cut = true;
                break 'chunks;
            }
        }
        for b in chunk.invalid() {
            if !push_piece(&mut out, &mut shown, &format!("\\x{b:02x}"), max) {
                cut = true;
                break 'chunks;
            }
        }
    }
    out.push('"');
    (out, cut)
}

/// C0 controls, DEL and C1 controls: never part of text meant to be read.
pub fn is_control(c: char) -> bool {
    let n = u32::from(c);
    n < 0x20 || n == 0x7f || (0x80..=0x9f).contains(&n)
}

/// Format characters that change how the text around them looks without showing themselves:
/// the soft hyphen, bidi marks, embeddings, overrides and isolates, zero-width characters,
/// line and paragraph separators, the BOM, interlinear annotation and tag characters.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0xad | 0x061c
            | 0x180e
            | 0x200b..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x2069
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0xe0000..=0xe007f
    )
}

fn push_piece(out: &mut String, shown: &mut usize, piece: &str, max: usize) -> bool {
    let n = piece.chars().count();
    if *shown + n > max {
        return false;
    }
    out.push_str(piece);
    *shown += n;
    true
}

fn push_escaped(out: &mut String, c: char, quoted: bool) {
    use std::fmt::Write;
    match c {
        '"' | '\\' if quoted => {
            out.push('\\');
            out.push(c);
        }
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing into a String cannot fail.
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if is_control(c) || is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_controls_and_bidi_and_leaves_the_rest() {
        assert_eq!(text("hello\nexit"), "hello\\nexit");
        assert_eq!(text("a\x1b]0;title\x07b"), "a\\x1b]0;title\\x07b");
        assert_eq!(text("\x1b[2J"), "\\x1b[2J");
        assert_eq!(text("rtl\u{202e}txt.exe"), "rtl\\u{202e}txt.exe");
        assert_eq!(text("x\u{85}\u{200b}"), "x\\u{85}\\u{200b}");
        assert_eq!(text("not found: \"a\""), "not found: \"a\"");
        assert_eq!(text("C:\\temp"), "C:\\temp");
        assert_eq!(text("我是客戶发送端！"), "我是客戶发送端！");
    }

    #[test]
    fn names_are_quoted_escaped_and_shortened() {
        assert_eq!(name(b"a.txt"), "\"a.txt\"");
        assert_eq!(name(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(name(b"x\xffy\n"), "\"x\\xffy\\n\"");
        assert_eq!(name("文件".as_bytes()), "\"文件\"");
        let long = vec![b'a'; 300];
        let shown = name(&long);
        assert!(shown.ends_with("\"… (300 bytes)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'a').count(), NAME_MAX);
    }
}
