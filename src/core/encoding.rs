//! UTF-8 and GBK codecs that match Python's byte for byte, so both ends of a socket see the same text.

mod gbk;

use std::error::Error;
use std::fmt;
use std::str::FromStr;

/// A text encoding a peer may use on the wire.
///
/// The Python tutorial sends every message as `.encode("gbk")` and reads it
/// with `.decode("gbk")`. GBK here means precisely CPython's `gbk` codec: the
/// table is generated from it by `tools/gen_gbk.py`, and lossy decoding puts
/// U+FFFD where `bytes.decode(enc, errors="replace")` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gbk,
}

impl Encoding {
    /// The canonical lowercase name, as Python spells it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }

    /// Encodes `text`, failing on the first character the encoding lacks
    /// (like Python's `errors="strict"`). UTF-8 never fails.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, EncodeError> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Gbk => gbk::encode(text),
        }
    }

    /// Decodes `bytes`, replacing each invalid or truncated sequence with
    /// U+FFFD exactly as Python's `errors="replace"` does.
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        let mut out = String::new();
        let mut decoder = self.decoder();
        decoder.decode(bytes, &mut out);
        decoder.finish(&mut out);
        out
    }

    /// A decoder for text that arrives in pieces, such as successive reads
    /// from a socket.
    pub fn decoder(self) -> Decoder {
        Decoder {
            encoding: self,
            pending: [0; 4],
            pending_len: 0,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = ParseEncodingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Python treats cp936 as an alias of gbk (not of Windows code page
        // 936, which adds the euro sign at 0x80), so we do too.
        if s.eq_ignore_ascii_case("utf-8") || s.eq_ignore_ascii_case("utf8") {
            Ok(Encoding::Utf8)
        } else if s.eq_ignore_ascii_case("gbk") || s.eq_ignore_ascii_case("cp936") {
            Ok(Encoding::Gbk)
        } else {
            Err(ParseEncodingError { name: s.to_owned() })
        }
    }
}

/// The name given to [`Encoding::from_str`] is not one we support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEncodingError {
    name: String,
}

impl fmt::Display for ParseEncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown encoding '{}' (expected utf-8 or gbk)",
            self.name.escape_debug()
        )
    }
}

impl Error for ParseEncodingError {}

/// A character the target encoding cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// The character that could not be encoded.
    pub ch: char,
    /// Its position in the input, counted in characters (as Python reports it).
    pub index: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // escape_debug keeps printable characters as they are but stops a
        // stray control character from messing up the terminal.
        write!(
            f,
            "cannot encode '{}' (U+{:04X}) in gbk",
            self.ch.escape_debug(),
            u32::from(self.ch)
        )
    }
}

impl Error for EncodeError {}

/// Decodes a byte stream piece by piece. A multi-byte sequence split across
/// two calls is held back and completed by the next call, so the result never
/// depends on where the stream was cut.
#[derive(Clone, Debug)]
pub struct Decoder {
    encoding: Encoding,
    // At most one GBK lead byte, or up to three bytes of an unfinished UTF-8
    // sequence.
    pending: [u8; 4],
    pending_len: u8,
}

impl Decoder {
    /// Appends the text decoded from `bytes` to `out`, keeping an incomplete
    /// trailing sequence for the next call.
    pub fn decode(&mut self, bytes: &[u8], out: &mut String) {
        match self.encoding {
            Encoding::Gbk => self.decode_gbk(bytes, out),
            Encoding::Utf8 => self.decode_utf8(bytes, out),
        }
    }

    /// Ends the stream: a sequence still waiting for its remaining bytes
    /// becomes one U+FFFD, as Python reports a truncated sequence.
    pub fn finish(&mut self, out: &mut String) {
        if self.pending_len > 0 {
            out.push(char::REPLACEMENT_CHARACTER);
            self.pending_len = 0;
        }
    }

    fn decode_gbk(&mut self, mut bytes: &[u8], out: &mut String) {
        if self.pending_len > 0 {
            let Some((&trail, rest)) = bytes.split_first() else {
                return;
            };
            self.pending_len = 0;
            match gbk::decode_pair(self.pending[0], trail) {
                Some(ch) => {
                    out.push(ch);
                    bytes = rest;
                }
                // Python replaces only the lead byte and reads the trail
                // again as the start of the next character.
                None => out.push(char::REPLACEMENT_CHARACTER),
            }
        }
        if let Some(lead) = gbk::decode(bytes, out) {
            self.pending[0] = lead;
            self.pending_len = 1;
        }
    }

    fn decode_utf8(&mut self, mut bytes: &[u8], out: &mut String) {
        // Complete the held-back sequence first, a byte at a time, so the
        // rest of the input can then be decoded where it lies instead of
        // being copied behind the held bytes.
        while self.pending_len > 0 {
            let Some((&next, rest)) = bytes.split_first() else {
                return;
            };
            bytes = rest;
            let len = usize::from(self.pending_len);
            self.pending[len] = next;
            let held = self.pending;
            let held = &held[..=len];
            self.pending_len = 0;
            match std::str::from_utf8(held) {
                Ok(text) => out.push_str(text),
                Err(err) => match err.error_len() {
                    None => self.pending_len = (len + 1) as u8,
                    Some(_) => {
                        // The new byte cannot continue the sequence. Decode
                        // what was held in one go: it yields the replacement
                        // for the broken prefix, and the byte itself starts
                        // afresh (and may become pending).
                        self.decode_utf8_fresh(held, out);
                    }
                },
            }
        }
        self.decode_utf8_fresh(bytes, out);
    }

    /// Decodes with nothing pending; an incomplete tail becomes pending.
    fn decode_utf8_fresh(&mut self, mut bytes: &[u8], out: &mut String) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    return;
                }
                Err(err) => {
                    let (valid, rest) = bytes.split_at(err.valid_up_to());
                    out.push_str(
                        std::str::from_utf8(valid).expect("valid_up_to marks a valid prefix"),
                    );
                    match err.error_len() {
                        // Rust's error_len is the "maximal subpart" that
                        // Python also replaces with a single U+FFFD.
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            bytes = &rest[len..];
                        }
                        None => {
                            // Only an unfinished sequence (1..=3 bytes) is
                            // reported without an error length.
                            self.pending[..rest.len()].copy_from_slice(rest);
                            self.pending_len = rest.len() as u8;
                            return;
                        }
                    }
                }
            }
        }
    }
}
