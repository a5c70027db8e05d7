//! What a peer sent, as one line of our output: decoded, its own line ending dropped, shown and never obeyed.
//!
//! The Python prints `recv_data.decode("gbk")` as it is. Ours decodes the same
//! way (invalid bytes become U+FFFD instead of a traceback), drops the one line
//! ending a tool like `nc` sends after a message, and passes the rest through
//! [`escape::text`]: a newline inside a message shows as `\n` (two lines that
//! arrived in one read print as `hello\nexit`, on one line), and escape
//! sequences and bidi overrides are shown, not obeyed.

use crate::core::encoding::{Decoder, Encoding};
use crate::core::escape;

/// What one read of a TCP stream returned, as one line of text.
///
/// The decoder is the connection's: a character cut in two by the end of a
/// read is kept back and completed by the next read.
pub fn message(decoder: &mut Decoder, bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    decoder.decode(bytes, &mut text);
    line(&text)
}

/// One UDP datagram, as one line of text; it is whole, so a character cut at its end is U+FFFD.
pub fn datagram(bytes: &[u8], encoding: Encoding) -> String {
    line(&encoding.decode_lossy(bytes))
}

fn line(text: &str) -> String {
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    // Printable ASCII is shown as it is. Checking every byte (no early exit, so many are checked
    // at once) is many times faster than escaping character by character, which a receiver
    // keeping up with a fast sender needs.
    if text
        .bytes()
        .fold(true, |all, b| all & (b' '..=b'~').contains(&b))
    {
        return text.to_string();
    }
    escape::text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_ending_goes_and_the_rest_is_shown() {
        let utf8 = Encoding::Utf8;
        assert_eq!(datagram(b"hi\r\n", utf8), "hi");
        assert_eq!(datagram(b" ~\"\\", utf8), " ~\"\\");
        assert_eq!(datagram(b"\x7f", utf8), "\\x7f");
        assert_eq!(datagram(b"a\n\n", utf8), "a\\n");
        assert_eq!(datagram(b"hello\nexit\n", utf8), "hello\\nexit");
        assert_eq!(datagram(b"ab\xffcd", utf8), "ab\u{fffd}cd");
        assert_eq!(datagram(b"\x1b]0;title\x07", utf8), "\\x1b]0;title\\x07");
        assert_eq!(datagram("中文".as_bytes(), utf8), "中文");
        assert_eq!(datagram(b"\xce\xd2\x81", Encoding::Gbk), "我\u{fffd}");
    }

    #[test]
    fn a_character_cut_between_reads_waits_for_the_next() {
        let mut decoder = Encoding::Gbk.decoder();
        assert_eq!(message(&mut decoder, b"ab\xce"), "ab");
        assert_eq!(message(&mut decoder, b"\xd2\n"), "我");
    }
}
