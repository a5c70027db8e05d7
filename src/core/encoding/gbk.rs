//! The GBK codec behind [`super::Encoding::Gbk`]: Python's table, packed, and the two directions over it.

use super::EncodeError;

/// Rows for lead bytes 0x81..=0xFE, columns for trail bytes 0x40..=0xFE,
/// little-endian u16 code points, 0 where Python rejects the pair.
const PACKED: &[u8; 48_132] = include_bytes!("gbk_decode.bin");
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
