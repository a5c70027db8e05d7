//! The wire format checked byte for byte: round trips, the worked example of docs/PROTOCOL.md, every limit and every way a frame can be malformed.

use super::request::{
    T_AUTH, T_DOWNLOAD, T_LIST, T_RMDIR, T_STAT, T_UPLOAD, UPLOAD_ATTRS, UPLOAD_MODE,
};
use super::response::{T_CHALLENGE, T_ERROR, T_FILE, T_LISTING, T_OK, T_STAT_REPLY};
use super::*;
use std::fmt;
use std::io::{self, Read};

fn identity32() -> Vec<u8> {
    let mut id = Vec::new();
    id.extend_from_slice(&6u64.to_be_bytes());
    id.extend_from_slice(&1_700_000_000_123_456_789i64.to_be_bytes());
    id.extend_from_slice(&0x2a51u64.to_be_bytes());
    id.extend_from_slice(&0x803u64.to_be_bytes());
    id
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex is valid"))
        .collect()
}

/// A raw frame with any type and payload, for hand-made bad input.
fn frame(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    f.push(ty);
    f.extend_from_slice(payload);
    f
}

fn sample_requests() -> Vec<Request> {
    let p = b"dir/file.txt".to_vec();
    vec![
        Request::Auth { proof: [0x5a; 32] },
        Request::Download {
            path: p.clone(),
            offset: 0,
            identity: vec![],
            want_sha256: false,
        },
        Request::Download {
            path: "文件.txt".as_bytes().to_vec(),
            offset: u64::MAX,
            identity: identity32(),
            want_sha256: true,
        },
        Request::List {
            path: vec![],
            owners: false,
        },
        Request::List {
            path: b"docs".to_vec(),
            owners: true,
        },
        Request::Stat { path: p.clone() },
        Request::Mkdir { path: p.clone() },
        Request::Upload {
            path: p.clone(),
            size: 1 << 40,
            identity: vec![7; MAX_IDENTITY],
            resume: true,
            overwrite: false,
            attrs: None,
        },
        Request::Upload {
            path: vec![0xce, 0xc4, 0xbc, 0xfe],
            size: 0,
            identity: vec![],
            resume: false,
            overwrite: true,
            attrs: Some(Attrs {
                mtime_ns: Some(-5),
                mode: 0o4755,
            }),
        },
        Request::Upload {
            path: p.clone(),
            size: 9,
            identity: vec![1],
            resume: false,
            overwrite: false,
            attrs: Some(Attrs {
                mtime_ns: None,
                mode: 0o600,
            }),
        },
        Request::Rename {
            from: p.clone(),
            to: b"other".to_vec(),
            overwrite: true,
        },
        Request::Rename {
            from: vec![],
            to: vec![],
            overwrite: false,
        },
        Request::RemoveFile { path: p.clone() },
        Request::RemoveDir { path: p.clone() },
        Request::Chmod {
            path: p,
            mode: 0o640,
        },
    ]
}

fn sample_responses() -> Vec<Response> {
    let meta = Meta {
        kind: Kind::File,
        size: 6,
        mtime_ns: -1,
        mode: 0o644,
        owner: None,
    };
    vec![
        Response::Ok,
        Response::Error(ErrorReply::new(ErrorCode::NotFound, "not found: x")),
        Response::Error(ErrorReply::new(ErrorCode::Unauthorized, "").closing()),
        Response::File {
            size: 6,
            offset: 3,
            identity: identity32(),
        },
        Response::File {
            size: 0,
            offset: 0,
            identity: vec![1],
        },
        Response::Digest([0xab; DIGEST_LEN]),
        Response::Listing {
            entries: vec![],
            last: true,
        },
        Response::Listing {
            entries: vec![
                Entry {
                    name: b"a".to_vec(),
                    meta,
                },
                Entry {
                    name: "目录".as_bytes().to_vec(),
                    meta: Meta {
                        kind: Kind::Dir,
                        size: 4096,
                        mtime_ns: i64::MAX,
                        mode: MAX_MODE,
                        owner: None,
                    },
                },
                Entry {
                    name: b"link".to_vec(),
                    meta: Meta {
                        kind: Kind::Symlink,
                        size: 0,
                        mtime_ns: i64::MIN,
                        mode: 0o777,
                        owner: None,
                    },
                },
                Entry {
                    name: b"fifo".to_vec(),
                    meta: Meta {
                        kind: Kind::Other,
                        size: 0,
                        mtime_ns: 0,
                        mode: 0,
                        owner: None,
                    },
                },
            ],
            last: false,
        },
        Response::Stat(meta),
        Response::UploadReady { offset: 12345 },
        Response::Challenge { nonce: [0xc3; 32] },
    ]
}

#[test]
fn every_request_round_trips() {
    let mut types = std::collections::BTreeSet::new();
    for req in sample_requests() {
        let bytes = req.encode().expect("samples are within limits");
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len() - 4
        );
        assert_eq!(parse_request(&bytes).unwrap(), (req.clone(), bytes.len()));
        let mut r = &bytes[..];
        assert_eq!(Request::read_from(&mut r).unwrap(), Some(req.clone()));
        assert!(Request::read_from(&mut r).unwrap().is_none());
        types.insert(req.frame_type());
    }
    assert_eq!(types.len(), 11, "every request type is sampled");
}

#[test]
fn every_response_round_trips() {
    let mut types = std::collections::BTreeSet::new();
    for resp in sample_responses() {
        let bytes = resp.encode().expect("samples are within limits");
        assert_eq!(parse_response(&bytes).unwrap(), (resp.clone(), bytes.len()));
        let mut r = &bytes[..];
        assert_eq!(Response::read_from(&mut r).unwrap(), Some(resp.clone()));
        assert!(Response::read_from(&mut r).unwrap().is_none());
        types.insert(resp.frame_type());
    }
    assert_eq!(types.len(), 8, "every response type is sampled");
}

#[test]
fn every_error_code_round_trips() {
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_u16(code.as_u16()), Some(code));
        let resp = Response::Error(ErrorReply::new(code, code.name()));
        let bytes = resp.encode().unwrap();
        assert_eq!(parse_response(&bytes).unwrap().0, resp);
    }
    assert_eq!(ErrorCode::from_u16(0), None);
    assert_eq!(ErrorCode::from_u16(16), None);
}

#[test]
fn worked_example_with_a_token_is_exact() {
    let server = ServerHello {
        version: 2,
        token_required: true,
        read_only: true,
    };
    assert_eq!(server.encode().to_vec(), hex("00 53 54 50 00 02 03"));
    let mut nonce = [0u8; NONCE_LEN];
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = i as u8;
    }
    assert_eq!(
        Response::Challenge { nonce }.encode().unwrap(),
        hex(
            "00 00 00 21 87 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f \
             10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"
        )
    );
    let token = crate::file_service::token::Token::new(b"correct horse".to_vec()).unwrap();
    assert_eq!(
        Request::Auth {
            proof: token.proof(&nonce)
        }
        .encode()
        .unwrap(),
        hex(
            "00 00 00 21 01 7e 86 0e 91 a6 46 cd 84 01 2a ad 39 dc f3 6a b7 \
             26 a7 88 88 1d 03 d2 bc 09 a4 7b 87 65 bd 13 67"
        )
    );
    assert_eq!(Response::Ok.encode().unwrap(), hex("00 00 00 01 80"));
}

#[test]
fn worked_example_in_the_document_is_exact() {
    let hello = ClientHello::default().encode();
    assert_eq!(hello.to_vec(), hex("00 53 54 50 00 02"));
    let server = ServerHello {
        version: 2,
        token_required: false,
        read_only: false,
    };
    assert_eq!(server.encode().to_vec(), hex("00 53 54 50 00 02 00"));

    let download = Request::Download {
        path: b"hello.txt".to_vec(),
        offset: 0,
        identity: vec![],
        want_sha256: true,
    };
    assert_eq!(
        download.encode().unwrap(),
        hex("00 00 00 16 02 01 00 00 00 00 00 00 00 00 00 00 09 68 65 6c 6c 6f 2e 74 78 74")
    );
    let id_hex = "00 00 00 00 00 00 00 06 17 97 9c fe 3d 85 cd 15 \
                  00 00 00 00 00 00 2a 51 00 00 00 00 00 00 08 03";
    let file = Response::File {
        size: 6,
        offset: 0,
        identity: identity32(),
    };
    assert_eq!(
        file.encode().unwrap(),
        hex(&format!(
            "00 00 00 32 82 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00 00 20 {id_hex}"
        ))
    );
    let digest = hex("58 91 b5 b5 22 d5 df 08 6d 0f f0 b1 10 fb d9 d2 \
         1b b4 fc 71 63 af 34 d0 82 86 a2 e8 46 f6 be 03");
    let trailer = Response::Digest(digest.clone().try_into().unwrap());
    let mut expected = hex("00 00 00 21 83");
    expected.extend_from_slice(&digest);
    assert_eq!(trailer.encode().unwrap(), expected);

    let resume = Request::Download {
        path: b"hello.txt".to_vec(),
        offset: 3,
        identity: identity32(),
        want_sha256: true,
    };
    assert_eq!(
        resume.encode().unwrap(),
        hex(&format!(
            "00 00 00 36 02 01 00 00 00 00 00 00 00 03 20 {id_hex} 00 09 68 65 6c 6c 6f 2e 74 78 74"
        ))
    );
    let resumed = Response::File {
        size: 6,
        offset: 3,
        identity: identity32(),
    };
    assert_eq!(
        resumed.encode().unwrap(),
        hex(&format!(
            "00 00 00 32 82 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00 03 20 {id_hex}"
        ))
    );

    let missing = Request::Download {
        path: b"nope.txt".to_vec(),
        offset: 0,
        identity: vec![],
        want_sha256: false,
    };
    assert_eq!(
        missing.encode().unwrap(),
        hex("00 00 00 15 02 00 00 00 00 00 00 00 00 00 00 00 08 6e 6f 70 65 2e 74 78 74")
    );
    let not_found = Response::Error(ErrorReply::new(ErrorCode::NotFound, "not found: nope.txt"));
    assert_eq!(
        not_found.encode().unwrap(),
        hex("00 00 00 19 81 00 01 00 00 13 6e 6f 74 20 66 6f 75 6e 64 3a 20 6e 6f 70 65 2e 74 78 74")
    );
}

#[test]
fn truncation_at_every_cut_point_is_reported() {
    let frames: Vec<(Vec<u8>, bool)> = sample_requests()
        .iter()
        .map(|r| (r.encode().unwrap(), true))
        .chain(
            sample_responses()
                .iter()
                .map(|r| (r.encode().unwrap(), false)),
        )
        .collect();
    for (bytes, is_request) in frames {
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            let parsed = if is_request {
                parse_request(part).map(|_| ())
            } else {
                parse_response(part).map(|_| ())
            };
            assert!(
                matches!(parsed, Err(ProtocolError::Truncated)),
                "cut {cut} of {bytes:02x?}: {parsed:?}"
            );
            let mut r = part;
            let read = if is_request {
                Request::read_from(&mut r).map(|o| o.is_some())
            } else {
                Response::read_from(&mut r).map(|o| o.is_some())
            };
            if cut == 0 {
                assert!(matches!(read, Ok(false)), "empty input is a clean end");
            } else {
                assert!(
                    matches!(read, Err(ProtocolError::Truncated)),
                    "read_from cut {cut}: {read:?}"
                );
            }
        }
    }
}

fn path_payload(len_field: u16, actual: usize) -> Vec<u8> {
    let mut p = len_field.to_be_bytes().to_vec();
    p.extend(std::iter::repeat(b'a').take(actual));
    p
}

fn is_too_large<T: fmt::Debug>(r: Result<T, ProtocolError>) -> bool {
    matches!(r, Err(ProtocolError::TooLarge { .. }))
}

fn is_malformed<T: fmt::Debug>(r: Result<T, ProtocolError>) -> bool {
    matches!(r, Err(ProtocolError::Malformed(_)))
}

#[test]
fn frame_length_limits_are_enforced() {
    assert!(is_malformed(parse_request(&[0, 0, 0, 0])));
    // Refused from the header alone, before the announced bytes exist.
    assert!(is_too_large(parse_request(&[0, 1, 0, 1])));
    assert!(is_too_large(parse_request(&[0xff, 0xff, 0xff, 0xff])));
    assert!(is_too_large(parse_response(&[0, 1, 0, 1])));
    // Exactly MAX_FRAME passes the length check (and then fails on content).
    let mut big = frame(T_LIST, &path_payload(0, 0));
    big.resize(FRAME_HEADER_LEN + MAX_FRAME, 0);
    big[..4].copy_from_slice(&(MAX_FRAME as u32).to_be_bytes());
    assert!(is_malformed(parse_request(&big)));
}

#[test]
fn a_hostile_length_reads_and_allocates_nothing_more() {
    struct Counting<'a> {
        data: &'a [u8],
        taken: usize,
    }
    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.read(buf)?;
            self.taken += n;
            Ok(n)
        }
    }
    let mut input = vec![0xff, 0xff, 0xff, 0xff, T_LIST];
    input.extend(std::iter::repeat(0).take(100));
    let mut r = Counting {
        data: &input,
        taken: 0,
    };
    assert!(is_too_large(Request::read_from(&mut r)));
    assert_eq!(r.taken, FRAME_HEADER_LEN);
}

#[test]
fn path_limit() {
    let at = frame(T_STAT, &path_payload(MAX_PATH as u16, MAX_PATH));
    assert!(parse_request(&at).is_ok());
    let over = frame(T_STAT, &path_payload(MAX_PATH as u16 + 1, MAX_PATH + 1));
    assert!(is_too_large(parse_request(&over)));
    let req = Request::Stat {
        path: vec![b'a'; MAX_PATH + 1],
    };
    assert!(is_too_large(req.encode()));
    let req = Request::Rename {
        from: vec![b'a'; MAX_PATH],
        to: vec![b'a'; MAX_PATH + 1],
        overwrite: false,
    };
    assert!(is_too_large(req.encode()));
}

#[test]
fn auth_and_challenge_are_exactly_32_bytes() {
    let auth = Request::Auth { proof: [7; 32] }.encode().unwrap();
    assert_eq!(auth, frame(T_AUTH, &[7; 32]));
    for len in [0, 31, 33] {
        let bad = frame(T_AUTH, &vec![7; len]);
        assert!(parse_request(&bad).is_err(), "AUTH of {len} bytes");
        let bad = frame(T_CHALLENGE, &vec![7; len]);
        assert!(parse_response(&bad).is_err(), "CHALLENGE of {len} bytes");
    }
    assert_eq!(
        parse_response(&frame(T_CHALLENGE, &[9; 32])).unwrap().0,
        Response::Challenge { nonce: [9; 32] }
    );
}

#[test]
fn identity_limits() {
    let too_long = Request::Download {
        path: vec![],
        offset: 1,
        identity: vec![0; MAX_IDENTITY + 1],
        want_sha256: false,
    };
    assert!(is_too_large(too_long.encode()));
    let mut payload = vec![0];
    payload.extend_from_slice(&1u64.to_be_bytes());
    payload.push((MAX_IDENTITY + 1) as u8);
    payload.extend(vec![0; MAX_IDENTITY + 1]);
    payload.extend_from_slice(&[0, 0]);
    assert!(is_too_large(parse_request(&frame(T_DOWNLOAD, &payload))));
    payload[0] = 0;
    payload[1 + 8] = 0xff;
    assert!(is_too_large(parse_request(&frame(T_UPLOAD, &payload))));

    // A FILE frame must carry an identity, and a bounded one.
    for bad in [vec![], vec![0; MAX_IDENTITY + 1]] {
        let resp = Response::File {
            size: 1,
            offset: 0,
            identity: bad,
        };
        assert!(resp.encode().is_err());
    }
    let mut file = 1u64.to_be_bytes().to_vec();
    file.extend_from_slice(&0u64.to_be_bytes());
    file.push(0);
    assert!(is_malformed(parse_response(&frame(T_FILE, &file))));
}

#[test]
fn message_limit() {
    let long = "中".repeat(MAX_ERROR_MESSAGE);
    let reply = ErrorReply::new(ErrorCode::Internal, &long);
    assert!(reply.message.len() <= MAX_ERROR_MESSAGE);
    assert!(reply.message.len() > MAX_ERROR_MESSAGE - 3);
    assert!(reply.message.chars().all(|c| c == '中'));
    assert!(Response::Error(reply).encode().is_ok());

    let forced = ErrorReply {
        code: ErrorCode::Internal,
        closing: false,
        message: "x".repeat(MAX_ERROR_MESSAGE + 1),
    };
    assert!(is_too_large(Response::Error(forced).encode()));
    let mut payload = vec![0, 14, 0];
    payload.extend_from_slice(&((MAX_ERROR_MESSAGE + 1) as u16).to_be_bytes());
    payload.extend(vec![b'x'; MAX_ERROR_MESSAGE + 1]);
    assert!(is_too_large(parse_response(&frame(T_ERROR, &payload))));
}

#[test]
fn listing_limits() {
    let entry = |name: Vec<u8>| Entry {
        name,
        meta: Meta {
            kind: Kind::File,
            size: 1,
            mtime_ns: 1,
            mode: 0o600,
            owner: None,
        },
    };
    let full = Response::Listing {
        entries: (0..MAX_ENTRIES)
            .map(|_| entry(vec![b'n'; MAX_NAME]))
            .collect(),
        last: true,
    };
    let bytes = full.encode().expect("a full listing fits in a frame");
    assert_eq!(parse_response(&bytes).unwrap().0, full);

    let too_many = Response::Listing {
        entries: (0..=MAX_ENTRIES).map(|_| entry(b"n".to_vec())).collect(),
        last: true,
    };
    assert!(is_too_large(too_many.encode()));
    assert!(is_too_large(parse_response(&frame(
        T_LISTING,
        &[1, 0, (MAX_ENTRIES + 1) as u8]
    ))));
    assert!(is_too_large(
        Response::Listing {
            entries: vec![entry(vec![b'n'; MAX_NAME + 1])],
            last: true
        }
        .encode()
    ));
    assert!(is_malformed(
        Response::Listing {
            entries: vec![entry(vec![])],
            last: true
        }
        .encode()
    ));
    let mut empty_name = vec![1, 0, 1, 1];
    empty_name.extend_from_slice(&[0; 16]);
    empty_name.push(0);
    assert!(is_malformed(parse_response(&frame(T_LISTING, &empty_name))));
    // A count that promises more entries than the frame holds.
    assert!(is_malformed(parse_response(&frame(T_LISTING, &[1, 0, 2]))));
}

/// LIST_OWNERS (0x0b) is LIST's path under another type; its LISTING sets
/// OWNERS (bit 1) and puts uid and gid between each entry's mode and name.
#[test]
fn listings_with_owners() {
    let ask = Request::List {
        path: b"d".to_vec(),
        owners: true,
    };
    assert_eq!(ask.encode().unwrap(), [0, 0, 0, 4, 0x0b, 0, 1, b'd']);
    let owned = |uid, gid| Meta {
        kind: Kind::File,
        size: 2,
        mtime_ns: 3,
        mode: 0o640,
        owner: Some(Owner { uid, gid }),
    };
    let listing = Response::Listing {
        entries: vec![Entry {
            name: b"x".to_vec(),
            meta: owned(1000, 0xfffe_0001),
        }],
        last: true,
    };
    let bytes = listing.encode().unwrap();
    let mut want = vec![0, 0, 0, 33, T_LISTING, 0x03, 0, 1, 1];
    want.extend(2u64.to_be_bytes());
    want.extend(3i64.to_be_bytes());
    want.extend(0o640u16.to_be_bytes());
    want.extend(1000u32.to_be_bytes());
    want.extend(0xfffe_0001u32.to_be_bytes());
    want.extend([1, b'x']);
    assert_eq!(bytes, want);
    assert_eq!(parse_response(&bytes).unwrap().0, listing);
    // A full listing with owners still fits in a frame.
    let full = Response::Listing {
        entries: (0..MAX_ENTRIES)
            .map(|_| Entry {
                name: vec![b'n'; MAX_NAME],
                meta: owned(u32::MAX, u32::MAX),
            })
            .collect(),
        last: true,
    };
    // The length field, then type, flags and count, then the entries.
    assert_eq!(
        full.encode().unwrap().len(),
        4 + 4 + 128 * (19 + 8 + 1 + 255)
    );
    // All entries or none carry owners; an empty listing never claims them; STAT has none.
    let mixed = Response::Listing {
        entries: vec![
            Entry {
                name: b"a".to_vec(),
                meta: owned(1, 1),
            },
            Entry {
                name: b"b".to_vec(),
                meta: Meta {
                    owner: None,
                    ..owned(1, 1)
                },
            },
        ],
        last: true,
    };
    assert!(is_malformed(mixed.encode()));
    assert!(is_malformed(parse_response(&frame(
        T_LISTING,
        &[0x03, 0, 0]
    ))));
    assert!(is_malformed(Response::Stat(owned(1, 1)).encode()));
    // Bit 2 is still reserved.
    assert!(is_malformed(parse_response(&frame(
        T_LISTING,
        &[0x05, 0, 0]
    ))));
}

#[test]
fn modes_and_upload_attributes() {
    // STAT: kind, size, mtime, then the mode as a u16.
    let stat = Response::Stat(Meta {
        kind: Kind::File,
        size: 1,
        mtime_ns: 2,
        mode: 0o640,
        owner: None,
    });
    assert_eq!(
        stat.encode().unwrap(),
        hex("00 00 00 14 85 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02 01 a0")
    );
    let mut over = hex("01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02");
    over.extend_from_slice(&(MAX_MODE + 1).to_be_bytes());
    assert!(is_malformed(parse_response(&frame(T_STAT_REPLY, &over))));
    let bad = Response::Stat(Meta {
        kind: Kind::File,
        size: 1,
        mtime_ns: 2,
        mode: 0o10000,
        owner: None,
    });
    assert!(is_malformed(bad.encode()));

    // UPLOAD: the ATTRS flag brings mtime and mode after the path, and
    // only with the flag.
    let upload = |mtime_ns: Option<i64>, mode: u16| Request::Upload {
        path: b"f".to_vec(),
        size: 3,
        identity: vec![],
        resume: false,
        overwrite: false,
        attrs: Some(Attrs { mtime_ns, mode }),
    };
    let with = upload(Some(1), 0o600);
    let bytes = with.encode().unwrap();
    assert_eq!(
        bytes,
        hex("00 00 00 18 06 04 00 00 00 00 00 00 00 03 00 00 01 66 \
             00 00 00 00 00 00 00 01 01 80")
    );
    let mut without_flag = bytes.clone();
    without_flag[5] = 0;
    assert!(is_malformed(parse_request(&without_flag)));
    let mut cut = bytes[..bytes.len() - 10].to_vec();
    cut[5] = UPLOAD_ATTRS;
    let len = (cut.len() - 4) as u32;
    cut[..4].copy_from_slice(&len.to_be_bytes());
    assert!(is_malformed(parse_request(&cut)));
    let mut high = bytes.clone();
    let n = high.len();
    high[n - 2] = 0x10;
    assert!(is_malformed(parse_request(&high)));

    // Plain put: the MODE flag brings the mode alone after the path.
    let mode_only = upload(None, 0o755);
    let bytes = mode_only.encode().unwrap();
    assert_eq!(
        bytes,
        hex("00 00 00 10 06 08 00 00 00 00 00 00 00 03 00 00 01 66 01 ed")
    );
    assert_eq!(parse_request(&bytes).unwrap().0, mode_only);
    // Without its flag the mode is a leftover byte; with ATTRS too the
    // frame would need a time it does not have; both flags are never valid.
    for flags in [0, UPLOAD_ATTRS, UPLOAD_ATTRS | UPLOAD_MODE] {
        let mut b = bytes.clone();
        b[5] = flags;
        assert!(is_malformed(parse_request(&b)), "flags {flags:#x}");
    }
    let mut both = with.encode().unwrap();
    both[5] = UPLOAD_ATTRS | UPLOAD_MODE;
    assert!(is_malformed(parse_request(&both)));
    // Bits above MODE stay reserved.
    for bit in 4..8 {
        let mut b = bytes.clone();
        b[5] |= 1 << bit;
        assert!(is_malformed(parse_request(&b)), "bit {bit}");
    }
    // A mode past MAX_MODE is refused with MODE as with ATTRS.
    let mut high = bytes;
    let n = high.len();
    high[n - 2] = 0x10;
    assert!(is_malformed(parse_request(&high)));
}

#[test]
fn layout_violations_are_malformed() {
    let good = Request::Download {
        path: b"f".to_vec(),
        offset: 0,
        identity: vec![],
        want_sha256: false,
    }
    .encode()
    .unwrap();
    // Reserved flag bits.
    for bit in 1..8 {
        let mut b = good.clone();
        b[5] = 1 << bit;
        assert!(is_malformed(parse_request(&b)), "bit {bit}");
    }
    // Leftover bytes inside the frame.
    let mut extra = good.clone();
    extra.push(0);
    let len = (extra.len() - 4) as u32;
    extra[..4].copy_from_slice(&len.to_be_bytes());
    assert!(is_malformed(parse_request(&extra)));
    // A field running past the end of its frame.
    let mut short = good.clone();
    short.pop();
    let len = (short.len() - 4) as u32;
    short[..4].copy_from_slice(&len.to_be_bytes());
    assert!(is_malformed(parse_request(&short)));
    // Bad enum values.
    assert!(is_malformed(parse_response(&frame(
        T_ERROR,
        &[0, 0, 0, 0, 0]
    ))));
    assert!(is_malformed(parse_response(&frame(
        T_ERROR,
        &[0, 16, 0, 0, 0]
    ))));
    assert!(is_malformed(parse_response(&frame(
        T_ERROR,
        &[0, 1, 2, 0, 0]
    ))));
    assert!(is_malformed(parse_response(&frame(
        T_ERROR,
        &[0, 1, 0, 0, 2, 0xff, 0xfe]
    ))));
    for kind in [0u8, 5, 0xff] {
        let mut stat = vec![kind];
        stat.extend_from_slice(&[0; 16]);
        assert!(is_malformed(parse_response(&frame(T_STAT_REPLY, &stat))));
    }
    let mut file = 1u64.to_be_bytes().to_vec();
    file.extend_from_slice(&2u64.to_be_bytes());
    file.extend_from_slice(&[1, 9]);
    assert!(is_malformed(parse_response(&frame(T_FILE, &file))));
    assert!(Response::File {
        size: 1,
        offset: 2,
        identity: vec![9]
    }
    .encode()
    .is_err());
}

#[test]
fn types_are_checked_per_direction() {
    for ty in [0x00, 0x0c, 0x7f, T_OK, T_ERROR, 0xff] {
        assert!(matches!(
            parse_request(&frame(ty, &[])),
            Err(ProtocolError::UnknownType(t)) if t == ty
        ));
    }
    for ty in [0x00, T_AUTH, T_RMDIR, 0x88, 0xff] {
        assert!(matches!(
            parse_response(&frame(ty, &[])),
            Err(ProtocolError::UnknownType(t)) if t == ty
        ));
    }
}

#[test]
fn pipelined_frames_are_parsed_one_at_a_time() {
    let reqs = sample_requests();
    let mut stream = Vec::new();
    for r in &reqs {
        r.write_to(&mut stream).unwrap();
    }
    let mut rest = &stream[..];
    for r in &reqs {
        let (parsed, used) = parse_request(rest).unwrap();
        assert_eq!(&parsed, r);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());

    // A reader that hands out one byte at a time and is interrupted in
    // between still yields whole frames.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = buf.len().min(1);
            self.data.read(&mut buf[..n])
        }
    }
    let mut t = Trickle {
        data: &stream,
        interrupt: false,
    };
    for r in &reqs {
        assert_eq!(Request::read_from(&mut t).unwrap().as_ref(), Some(r));
    }
    assert!(Request::read_from(&mut t).unwrap().is_none());
}

#[test]
fn detect_tells_clients_apart() {
    assert_eq!(detect(b""), Detected::Incomplete);
    assert_eq!(detect(b"hello.txt"), Detected::Tutorial);
    // The tutorial client on Windows sends GBK: "文件.txt".
    assert_eq!(
        detect(&[0xce, 0xc4, 0xbc, 0xfe, b'.', b't', b'x', b't']),
        Detected::Tutorial
    );
    assert_eq!(detect("文件.txt".as_bytes()), Detected::Tutorial);
    assert_eq!(detect(b"\x01"), Detected::Tutorial);
    let hello = ClientHello::default().encode();
    for cut in 1..CLIENT_HELLO_LEN {
        assert_eq!(detect(&hello[..cut]), Detected::Incomplete, "cut {cut}");
    }
    assert_eq!(detect(&hello), Detected::Framed { version: VERSION });
    let mut with_frame = hello.to_vec();
    with_frame.extend(
        Request::List {
            path: vec![],
            owners: false,
        }
        .encode()
        .unwrap(),
    );
    assert_eq!(detect(&with_frame), Detected::Framed { version: VERSION });
    assert_eq!(
        detect(&ClientHello { version: 0x0203 }.encode()),
        Detected::Framed { version: 0x0203 }
    );
    assert_eq!(detect(b"\0X"), Detected::NotOurs);
    assert_eq!(detect(b"\0STQ\0\x01"), Detected::NotOurs);
    assert_eq!(detect(b"\0\0\0\0\0\0"), Detected::NotOurs);
    assert!(version_supported(VERSION));
    assert!(!version_supported(0));
    assert!(!version_supported(1), "version 1 sent the token in clear");
    assert!(!version_supported(VERSION + 1));
}

#[test]
fn server_hello_round_trips_and_is_checked() {
    for (token_required, read_only) in [(false, false), (true, false), (false, true), (true, true)]
    {
        let h = ServerHello {
            version: 7,
            token_required,
            read_only,
        };
        let bytes = h.encode();
        assert_eq!(ServerHello::parse(&bytes).unwrap(), h);
        assert_eq!(ServerHello::read_from(&mut &bytes[..]).unwrap(), Some(h));
    }
    let mut reserved = ServerHello {
        version: 1,
        token_required: false,
        read_only: false,
    }
    .encode();
    reserved[6] = 0x04;
    assert!(is_malformed(ServerHello::parse(&reserved)));
    assert!(matches!(ServerHello::read_from(&mut &b""[..]), Ok(None)));
    assert!(matches!(
        ServerHello::read_from(&mut &b"\0STP\0"[..]),
        Err(ProtocolError::Truncated)
    ));
    // Raw file bytes from a tutorial-style server are not a hello.
    assert!(is_malformed(ServerHello::read_from(&mut &b"hello\n"[..])));
    assert!(is_malformed(ServerHello::read_from(&mut &b"h"[..])));
}

#[test]
fn protocol_errors_map_to_closing_replies() {
    let cases = [
        (ProtocolError::Truncated, ErrorCode::BadRequest),
        (ProtocolError::Malformed("x"), ErrorCode::BadRequest),
        (ProtocolError::UnknownType(9), ErrorCode::BadRequest),
        (
            ProtocolError::TooLarge {
                what: "frame",
                len: 1 << 20,
                max: MAX_FRAME,
            },
            ErrorCode::TooLarge,
        ),
        (
            ProtocolError::UnsupportedVersion(2),
            ErrorCode::UnsupportedVersion,
        ),
        (
            ProtocolError::Io(io::Error::other("boom")),
            ErrorCode::Internal,
        ),
    ];
    for (err, code) in cases {
        let reply = err.reply();
        assert_eq!(reply.code, code);
        assert!(reply.closing);
        assert!(!reply.message.is_empty());
        assert!(Response::Error(reply).encode().is_ok());
    }
    let eof: ProtocolError = io::Error::from(io::ErrorKind::UnexpectedEof).into();
    assert!(matches!(eof, ProtocolError::Truncated));
}

#[test]
fn chmod_is_mode_then_path_on_the_wire() {
    let req = Request::Chmod {
        path: b"a".to_vec(),
        mode: 0o640,
    };
    assert_eq!(
        req.encode().unwrap(),
        [0, 0, 0, 6, 0x0a, 0x01, 0xa0, 0, 1, b'a']
    );
    // Bits above 0o7777 are malformed in either direction.
    assert!(is_malformed(parse_request(&frame(
        0x0a,
        &[0x10, 0, 0, 1, b'a']
    ))));
}
