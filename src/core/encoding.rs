//! UTF-8 and GBK codecs that match Python's byte for byte, so both ends of a socket see the same text.

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

mod gbk {
    use super::EncodeError;

    /// Rows for lead bytes 0x81..=0xFE, columns for trail bytes 0x40..=0xFE,
    /// little-endian u16 code points, 0 where Python rejects the pair.
    const PACKED: &[u8; 48_132] = include_bytes!("encoding/gbk_decode.bin");
    const TRAILS: usize = 0xFF - 0x40;

    /// Number of two-byte sequences Python's gbk codec decodes.
    const PAIR_COUNT: usize = 21_791;

    const fn packed_at(i: usize) -> u16 {
        PACKED[2 * i] as u16 | (PACKED[2 * i + 1] as u16) << 8
    }

    /// Decoded code point for every (lead, trail) pair, indexed by the pair
    /// read as a big-endian u16, 0 if invalid. Unpacked at compile time into
    /// a full 256x256 grid so lookups need neither range checks nor offsets.
    static DECODE: [u16; 0x10000] = {
        let mut table = [0u16; 0x10000];
        let mut count = 0;
        let mut i = 0;
        while i < PACKED.len() / 2 {
            let cp = packed_at(i);
            if cp != 0 {
                // Checked once here so that `to_char` can never fail.
                assert!(cp >= 0x80 && !(cp >= 0xD800 && cp <= 0xDFFF));
                let lead = 0x81 + i / TRAILS;
                let trail = 0x40 + i % TRAILS;
                table[lead << 8 | trail] = cp;
                count += 1;
            }
            i += 1;
        }
        assert!(count == PAIR_COUNT);
        table
    };

    /// GBK bytes (big-endian) for every BMP code point, 0 if unencodable.
    static ENCODE: [u16; 0x10000] = {
        let mut table = [0u16; 0x10000];
        let mut i = 0;
        while i < PACKED.len() / 2 {
            let cp = packed_at(i) as usize;
            if cp != 0 {
                // The generator checked that the mapping is one-to-one.
                assert!(table[cp] == 0);
                table[cp] = ((0x81 + i / TRAILS) << 8 | (0x40 + i % TRAILS)) as u16;
            }
            i += 1;
        }
        table
    };

    fn to_char(cp: u16) -> char {
        char::from_u32(u32::from(cp)).expect("table entries were checked to be scalar values")
    }

    pub(super) fn decode_pair(lead: u8, trail: u8) -> Option<char> {
        match DECODE[usize::from(u16::from_be_bytes([lead, trail]))] {
            0 => None,
            cp => Some(to_char(cp)),
        }
    }

    /// Appends the decoding of `bytes` to `out`. Returns a trailing byte that
    /// may still become a character once the next byte arrives.
    pub(super) fn decode(bytes: &[u8], out: &mut String) -> Option<u8> {
        // Two GBK bytes become at most three UTF-8 bytes.
        out.reserve(bytes.len() + bytes.len() / 2);
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                // ASCII runs in Chinese text are mostly short (spaces, digits,
                // short words), where a byte at a time is quickest; only a
                // run that reaches 16 bytes is worth copying a word at a time.
                let start = i;
                while let Some(&c) = bytes.get(i).filter(|c| c.is_ascii()) {
                    out.push(char::from(c));
                    i += 1;
                    if i - start == 16 {
                        let end = i + ascii_prefix_len(&bytes[i..]);
                        out.push_str(std::str::from_utf8(&bytes[i..end]).expect("ASCII is UTF-8"));
                        i = end;
                        break;
                    }
                }
                continue;
            }
            match bytes.get(i + 1) {
                Some(&trail) => match DECODE[usize::from(u16::from_be_bytes([b, trail]))] {
                    0 => {
                        // Python's CJK codecs replace just the bad byte and
                        // retry from the next one.
                        out.push(char::REPLACEMENT_CHARACTER);
                        i += 1;
                    }
                    cp => {
                        out.push(to_char(cp));
                        i += 2;
                    }
                },
                // 0x80 and 0xFF start no pair, so waiting would not help.
                None if (0x81..=0xFE).contains(&b) => return Some(b),
                None => {
                    out.push(char::REPLACEMENT_CHARACTER);
                    i += 1;
                }
            }
        }
        None
    }

    /// Length of the leading run of ASCII bytes, checked a word at a time.
    /// Little-endian words put the first byte lowest, so the lowest set high
    /// bit marks the first non-ASCII byte.
    fn ascii_prefix_len(bytes: &[u8]) -> usize {
        const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
        let mut len = 0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("chunks are 8 bytes"));
            let high = word & HIGH_BITS;
            if high != 0 {
                return len + (high.trailing_zeros() / 8) as usize;
            }
            len += 8;
        }
        len + chunks
            .remainder()
            .iter()
            .take_while(|b| b.is_ascii())
            .count()
    }

    pub(super) fn encode(text: &str) -> Result<Vec<u8>, EncodeError> {
        let bytes = text.as_bytes();
        // Every character takes no more bytes in GBK than in UTF-8.
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                // Same short-run/long-run split as in `decode`.
                let start = i;
                while let Some(&c) = bytes.get(i).filter(|c| c.is_ascii()) {
                    out.push(c);
                    i += 1;
                    if i - start == 16 {
                        let end = i + ascii_prefix_len(&bytes[i..]);
                        out.extend_from_slice(&bytes[i..end]);
                        i = end;
                        break;
                    }
                }
                continue;
            }
            // Decoding the UTF-8 by hand is quicker than `chars()` here, and
            // `text` is valid UTF-8, so the continuation bytes are there.
            let (cp, len) = if b < 0xE0 {
                (u16::from(b & 0x1F) << 6 | u16::from(bytes[i + 1] & 0x3F), 2)
            } else if b < 0xF0 {
                (
                    u16::from(b & 0x0F) << 12
                        | u16::from(bytes[i + 1] & 0x3F) << 6
                        | u16::from(bytes[i + 2] & 0x3F),
                    3,
                )
            } else {
                // Beyond the BMP, where GBK has nothing.
                return Err(unencodable(text, i));
            };
            let code = ENCODE[usize::from(cp)];
            if code == 0 {
                return Err(unencodable(text, i));
            }
            out.extend_from_slice(&code.to_be_bytes());
            i += len;
        }
        Ok(out)
    }

    #[cold]
    fn unencodable(text: &str, byte_index: usize) -> EncodeError {
        EncodeError {
            ch: text[byte_index..]
                .chars()
                .next()
                .expect("byte_index is at the start of a character"),
            index: text[..byte_index].chars().count(),
        }
    }
}
