//! Checks the codecs against what Python's own codecs do, recorded in tests/data/gbk_vectors.txt.

use std::error::Error;

use socket_tutorial::core::encoding::{Decoder, EncodeError, Encoding};

/// Produced by tools/gen_gbk_vectors.py from Python's codecs.
const VECTORS: &str = include_str!("data/gbk_vectors.txt");

/// How many two-byte sequences Python's gbk codec decodes.
const PYTHON_GBK_PAIRS: usize = 21_791;

#[derive(Debug)]
enum Case {
    /// `text.encode(enc) == bytes` and `bytes.decode(enc) == text`.
    Encode {
        enc: Encoding,
        text: String,
        bytes: Vec<u8>,
    },
    /// `bytes.decode(enc, errors="replace") == text`.
    Decode {
        enc: Encoding,
        bytes: Vec<u8>,
        text: String,
    },
    /// Strict encoding fails at `index` on `ch`.
    Unencodable {
        enc: Encoding,
        text: String,
        index: usize,
        ch: char,
    },
}

fn unhex(field: &str) -> Vec<u8> {
    assert!(field.len() % 2 == 0, "odd hex field {field:?}");
    (0..field.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&field[i..i + 2], 16).expect("hex digits in vector file"))
        .collect()
}

fn unhex_text(field: &str) -> String {
    String::from_utf8(unhex(field)).expect("text fields hold utf-8")
}

fn cases() -> Vec<Case> {
    VECTORS
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let enc: Encoding = fields[1].parse().expect("known encoding in vector file");
            match fields[0] {
                "encode" => Case::Encode {
                    enc,
                    text: unhex_text(fields[2]),
                    bytes: unhex(fields[3]),
                },
                "decode" => Case::Decode {
                    enc,
                    bytes: unhex(fields[2]),
                    text: unhex_text(fields[3]),
                },
                "unencodable" => {
                    let ch = unhex_text(fields[4]);
                    let mut chars = ch.chars();
                    let case = Case::Unencodable {
                        enc,
                        text: unhex_text(fields[2]),
                        index: fields[3].parse().expect("char index"),
                        ch: chars.next().expect("one char"),
                    };
                    assert_eq!(chars.next(), None, "one char in {line}");
                    case
                }
                kind => panic!("unknown case kind {kind:?} in {line}"),
            }
        })
        .collect()
}

/// Every (encoding, bytes, text) that decoding must reproduce.
fn decode_expectations() -> Vec<(Encoding, Vec<u8>, String)> {
    cases()
        .into_iter()
        .filter_map(|case| match case {
            Case::Encode { enc, text, bytes } | Case::Decode { enc, bytes, text } => {
                Some((enc, bytes, text))
            }
            Case::Unencodable { .. } => None,
        })
        .collect()
}

fn decode_in_pieces(enc: Encoding, pieces: &[&[u8]]) -> String {
    let mut decoder = enc.decoder();
    let mut out = String::new();
    for piece in pieces {
        decoder.decode(piece, &mut out);
    }
    decoder.finish(&mut out);
    out
}

#[test]
fn vector_file_covers_every_kind_of_case() {
    let cases = cases();
    let count = |pred: fn(&Case) -> bool| cases.iter().filter(|c| pred(c)).count();
    // Guards against a parser that silently drops lines.
    assert_eq!(
        cases.len(),
        VECTORS.lines().filter(|l| !l.starts_with('#')).count()
    );
    assert!(
        count(|c| matches!(
            c,
            Case::Encode {
                enc: Encoding::Gbk,
                ..
            }
        )) >= 20
    );
    assert!(
        count(|c| matches!(
            c,
            Case::Encode {
                enc: Encoding::Utf8,
                ..
            }
        )) >= 20
    );
    assert!(
        count(|c| matches!(
            c,
            Case::Decode {
                enc: Encoding::Gbk,
                ..
            }
        )) >= 200
    );
    assert!(
        count(|c| matches!(
            c,
            Case::Decode {
                enc: Encoding::Utf8,
                ..
            }
        )) >= 200
    );
    assert!(count(|c| matches!(c, Case::Unencodable { .. })) >= 10);
}

#[test]
fn matches_python_on_every_vector() {
    for case in cases() {
        match case {
            Case::Encode { enc, text, bytes } => {
                assert_eq!(enc.encode(&text), Ok(bytes.clone()), "encode {text:?}");
                assert_eq!(enc.decode_lossy(&bytes), text, "decode {bytes:02x?}");
            }
            Case::Decode { enc, bytes, text } => {
                assert_eq!(enc.decode_lossy(&bytes), text, "{enc:?} {bytes:02x?}");
            }
            Case::Unencodable {
                enc,
                text,
                index,
                ch,
            } => {
                assert_eq!(
                    enc.encode(&text),
                    Err(EncodeError { ch, index }),
                    "{text:?}"
                );
            }
        }
    }
}

#[test]
fn tutorial_messages_encode_as_python_does() {
    assert_eq!(
        Encoding::Gbk
            .encode("this is a data from client, 我是客戶发送端!")
            .expect("all of it is in gbk"),
        b"this is a data from client, \xce\xd2\xca\xc7\xbf\xcd\x91\xf4\xb7\xa2\xcb\xcd\xb6\xcb!"
    );
    assert_eq!(
        Encoding::Gbk
            .encode("ok, Processing Request Completion！")
            .expect("all of it is in gbk"),
        b"ok, Processing Request Completion\xa3\xa1"
    );
}

#[test]
fn streaming_split_anywhere_matches_whole_decode() {
    for (enc, bytes, text) in decode_expectations() {
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(
                decode_in_pieces(enc, &[a, b]),
                text,
                "{enc:?} {bytes:02x?} at {i}"
            );
            for j in i..=bytes.len() {
                let (b, c) = bytes[i..].split_at(j - i);
                assert_eq!(
                    decode_in_pieces(enc, &[a, b, c]),
                    text,
                    "{enc:?} {bytes:02x?} at {i} and {j}"
                );
            }
        }
        let single_bytes: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            decode_in_pieces(enc, &single_bytes),
            text,
            "{enc:?} {bytes:02x?} bytewise"
        );
    }
}

#[test]
fn ascii_runs_of_every_length_survive_the_fast_path() {
    // Long ASCII runs are copied a word at a time; check the hand-over back
    // to the byte loop at every run length and alignment around it.
    for lead in 0..3 {
        for len in 0..70 {
            let ascii: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let text = format!("{}{ascii}我{ascii}", "中".repeat(lead));
            let mut bytes = b"\xd6\xd0".repeat(lead);
            bytes.extend_from_slice(ascii.as_bytes());
            bytes.extend_from_slice(b"\xce\xd2");
            bytes.extend_from_slice(ascii.as_bytes());
            assert_eq!(Encoding::Gbk.encode(&text), Ok(bytes.clone()), "{text:?}");
            assert_eq!(Encoding::Gbk.decode_lossy(&bytes), text, "{bytes:02x?}");
            bytes.push(0xce);
            assert_eq!(
                Encoding::Gbk.decode_lossy(&bytes),
                format!("{text}\u{FFFD}")
            );
        }
    }
}

#[test]
fn gbk_character_split_across_reads_is_kept_whole() {
    let mut decoder = Encoding::Gbk.decoder();
    let mut out = String::new();
    decoder.decode(b"ok \xce", &mut out);
    assert_eq!(out, "ok ", "the lead byte waits for its trail");
    decoder.decode(b"\xd2\xca", &mut out);
    assert_eq!(out, "ok 我");
    decoder.decode(b"", &mut out);
    assert_eq!(out, "ok 我", "an empty read keeps the pending byte");
    decoder.decode(b"\xc7!", &mut out);
    assert_eq!(out, "ok 我是!");
    decoder.finish(&mut out);
    assert_eq!(out, "ok 我是!", "nothing was pending");
}

#[test]
fn utf8_character_split_across_reads_is_kept_whole() {
    let mut decoder = Encoding::Utf8.decoder();
    let mut out = String::new();
    for byte in "😀".as_bytes() {
        decoder.decode(&[*byte], &mut out);
    }
    decoder.finish(&mut out);
    assert_eq!(out, "😀");
}

#[test]
fn finish_flushes_pending_bytes_as_one_replacement_and_resets() {
    for (enc, partial) in [
        (Encoding::Gbk, &b"\xce"[..]),
        (Encoding::Utf8, b"\xf0\x9f\x98"),
    ] {
        let mut decoder = enc.decoder();
        let mut out = String::new();
        decoder.decode(partial, &mut out);
        assert_eq!(out, "", "{enc:?}");
        decoder.finish(&mut out);
        assert_eq!(out, "\u{FFFD}", "{enc:?}");
        decoder.decode(b"a", &mut out);
        decoder.finish(&mut out);
        assert_eq!(
            out, "\u{FFFD}a",
            "{enc:?}: the decoder starts afresh after finish"
        );
    }
}

#[test]
fn bytes_that_start_no_gbk_pair_are_replaced_without_waiting() {
    // 0x80 and 0xFF can never begin a pair, so a chat line ending in one
    // shows its U+FFFD now rather than on the next read.
    for byte in [0x80u8, 0xFF] {
        let mut decoder = Encoding::Gbk.decoder();
        let mut out = String::new();
        decoder.decode(&[b'a', byte], &mut out);
        assert_eq!(out, "a\u{FFFD}", "{byte:#04x}");
        decoder.finish(&mut out);
        assert_eq!(out, "a\u{FFFD}", "{byte:#04x}: nothing left to flush");
    }
}

#[test]
fn gbk_invalid_input_is_replaced_like_python() {
    let gbk = |bytes: &[u8]| Encoding::Gbk.decode_lossy(bytes);
    // A lone lead byte at the end.
    assert_eq!(gbk(b"ok\xce"), "ok\u{FFFD}");
    // Lead + invalid trail: only the lead is replaced, the trail is read again.
    assert_eq!(gbk(b"\xce\x7fA"), "\u{FFFD}\u{7f}A");
    assert_eq!(gbk(b"\x81\x30"), "\u{FFFD}0");
    assert_eq!(gbk(b"\xff\xce\xd2"), "\u{FFFD}我");
    // 0x80 and 0xFF are never characters on their own or as leads.
    assert_eq!(gbk(b"\x80"), "\u{FFFD}");
    assert_eq!(gbk(b"\xff"), "\u{FFFD}");
    assert_eq!(gbk(b"\x80\x40"), "\u{FFFD}@");
    assert_eq!(gbk(b"\xff\xff"), "\u{FFFD}\u{FFFD}");
}

#[test]
fn single_bytes_decode_as_python_does() {
    for byte in 0..=0xFFu8 {
        let expected = if byte < 0x80 {
            char::from(byte)
        } else {
            // Python's gbk has no single-byte euro sign at 0x80, unlike
            // Windows code page 936.
            char::REPLACEMENT_CHARACTER
        };
        assert_eq!(
            Encoding::Gbk.decode_lossy(&[byte]),
            expected.to_string(),
            "{byte:#04x}"
        );
    }
    assert_eq!(
        Encoding::Gbk.encode("€"),
        Err(EncodeError {
            ch: '€', index: 0
        })
    );
}

#[test]
fn every_gbk_pair_round_trips_and_python_count_matches() {
    let mut pairs = 0;
    for lead in 0x80..=0xFFu8 {
        for trail in 0..=0xFFu8 {
            let bytes = [lead, trail];
            let text = Encoding::Gbk.decode_lossy(&bytes);
            let mut chars = text.chars();
            let first = chars.next().expect("decoding two bytes gives text");
            if first == char::REPLACEMENT_CHARACTER {
                // Not a pair: the trail byte is decoded on its own.
                assert_eq!(chars.as_str(), Encoding::Gbk.decode_lossy(&[trail]));
                continue;
            }
            assert_eq!(chars.next(), None, "{bytes:02x?} is one character");
            assert!((0x81..=0xFE).contains(&lead) && (0x40..=0xFE).contains(&trail));
            assert_ne!(trail, 0x7F);
            assert_eq!(
                Encoding::Gbk.encode(&text),
                Ok(bytes.to_vec()),
                "{first:?} from {bytes:02x?}"
            );
            pairs += 1;
        }
    }
    assert_eq!(pairs, PYTHON_GBK_PAIRS);
}

#[test]
fn only_table_characters_encode() {
    let mut encodable = 0;
    for ch in (0x80..=0x10FFFF).filter_map(char::from_u32) {
        let text = ch.to_string();
        match Encoding::Gbk.encode(&text) {
            Ok(bytes) => {
                assert_eq!(bytes.len(), 2, "{ch:?}");
                assert_eq!(Encoding::Gbk.decode_lossy(&bytes), text);
                encodable += 1;
            }
            Err(err) => assert_eq!(err, EncodeError { ch, index: 0 }),
        }
    }
    assert_eq!(encodable, PYTHON_GBK_PAIRS);
    for byte in 0..0x80u8 {
        let text = char::from(byte).to_string();
        assert_eq!(Encoding::Gbk.encode(&text), Ok(vec![byte]));
    }
}

#[test]
fn encode_error_names_the_character() {
    let err = Encoding::Gbk
        .encode("中文 😀!")
        .expect_err("gbk has no emoji");
    assert_eq!(
        err,
        EncodeError {
            ch: '😀', index: 3
        }
    );
    assert_eq!(err.to_string(), "cannot encode '😀' (U+1F600) in gbk");
    assert_eq!(
        EncodeError {
            ch: '€', index: 0
        }
        .to_string(),
        "cannot encode '€' (U+20AC) in gbk"
    );
    let boxed: Box<dyn Error + Send + Sync> = Box::new(err);
    assert!(boxed.source().is_none());
}

#[test]
fn utf8_encode_never_fails() {
    let text = "emoji 😀, euro €, 中文, \u{0}";
    assert_eq!(Encoding::Utf8.encode(text), Ok(text.as_bytes().to_vec()));
}

#[test]
fn names_parse_case_insensitively() {
    for name in ["utf-8", "utf8", "UTF-8", "Utf8", "UTF8"] {
        assert_eq!(name.parse::<Encoding>(), Ok(Encoding::Utf8), "{name}");
    }
    for name in ["gbk", "GBK", "Gbk", "cp936", "CP936"] {
        assert_eq!(name.parse::<Encoding>(), Ok(Encoding::Gbk), "{name}");
    }
    for enc in [Encoding::Utf8, Encoding::Gbk] {
        assert_eq!(enc.name().parse::<Encoding>(), Ok(enc));
    }
    assert_eq!(Encoding::Utf8.name(), "utf-8");
    assert_eq!(Encoding::Gbk.name(), "gbk");
}

#[test]
fn unknown_name_is_rejected_with_a_helpful_message() {
    for name in ["latin1", "", "utf-16", "gb2312", " gbk"] {
        let err = name.parse::<Encoding>().expect_err(name);
        assert_eq!(
            err.to_string(),
            format!("unknown encoding '{name}' (expected utf-8 or gbk)")
        );
        let _: &dyn Error = &err;
    }
}

#[test]
fn types_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Encoding>();
    send_sync::<Decoder>();
    send_sync::<EncodeError>();
    send_sync::<<Encoding as std::str::FromStr>::Err>();
}
