//! download_server --writable and --token-file over loopback, at the protocol level: writes stay inside the root, uploads are atomic, exclusive and resumable, the size limit holds, and without the token nothing is served.

mod common;
#[path = "common/links.rs"]
mod links;

use common::{
    command, describe, download_server, framed, prove, tree, Running, Spawn, TempDir, TIMEOUT,
};
use socket_tutorial::file_service::protocol::{Attrs, ErrorCode, ErrorReply, Request, Response};
use socket_tutorial::file_service::token::Token;
use socket_tutorial::file_service::transfer::{Connection, TransferError, UploadOptions};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

fn ask(s: &mut TcpStream, request: Request) -> Response {
    request.write_to(s).unwrap();
    Response::read_from(s).unwrap().expect("an answer")
}

fn refused(response: Response, what: &str) -> ErrorReply {
    match response {
        Response::Error(e) => {
            assert!(!e.closing, "{what}: {e:?} should leave the connection open");
            e
        }
        other => panic!("{what}: expected an ERROR, got {other:?}"),
    }
}

fn upload(path: &[u8], size: u64, identity: &[u8], resume: bool) -> Request {
    Request::Upload {
        path: path.to_vec(),
        size,
        identity: identity.to_vec(),
        resume,
        overwrite: false,
        attrs: None,
    }
}

fn mkdir(path: &[u8]) -> Request {
    Request::Mkdir {
        path: path.to_vec(),
    }
}

fn remove(path: &[u8]) -> Request {
    Request::RemoveFile {
        path: path.to_vec(),
    }
}

fn rmdir(path: &[u8]) -> Request {
    Request::RemoveDir {
        path: path.to_vec(),
    }
}

fn rename(from: &[u8], to: &[u8], overwrite: bool) -> Request {
    Request::Rename {
        from: from.to_vec(),
        to: to.to_vec(),
        overwrite,
    }
}

fn connection(srv: &Running, token: Option<&Token>) -> Connection {
    Connection::open(
        TcpStream::connect(srv.connect_addr()).unwrap().into(),
        token,
        None,
    )
    .unwrap()
}

#[test]
fn writes_change_the_root_and_are_logged() {
    let tmp = TempDir::new("ws-writes");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(tmp.join("src.txt"), b"uploaded bytes").unwrap();
    let mut srv = download_server(&root, &["--writable"]);
    srv.wait_for("serving");
    let mut c = connection(&srv, None);
    assert!(!c.server_hello().read_only);
    c.mkdir(b"docs").unwrap();
    let up = c
        .upload(
            &tmp.join("src.txt"),
            b"docs/a.txt",
            UploadOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((up.size, up.sent), (14, 14));
    assert_eq!(
        fs::read(root.join("docs/a.txt")).unwrap(),
        b"uploaded bytes"
    );
    // Without OVERWRITE an existing file is kept; with it, replaced.
    let err = c
        .upload(
            &tmp.join("src.txt"),
            b"docs/a.txt",
            UploadOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().starts_with("already exists"), "{err}");
    let replace = UploadOptions {
        overwrite: true,
        ..UploadOptions::default()
    };
    c.upload(&tmp.join("src.txt"), b"docs/a.txt", replace, &mut |_| {})
        .unwrap();
    c.rename(b"docs/a.txt", b"b.txt", false).unwrap();
    fs::write(root.join("c.txt"), b"c").unwrap();
    let err = c.rename(b"c.txt", b"b.txt", false).unwrap_err();
    assert!(err.to_string().starts_with("already exists"), "{err}");
    c.rename(b"c.txt", b"b.txt", true).unwrap();
    assert_eq!(fs::read(root.join("b.txt")).unwrap(), b"c");
    let err = c.remove_dir(b"").unwrap_err();
    assert!(matches!(err, TransferError::Refused(ref e) if e.code == ErrorCode::BadRequest));
    c.remove_file(b"b.txt").unwrap();
    c.remove_dir(b"docs").unwrap();
    assert!(fs::read_dir(&root).unwrap().next().is_none());
    srv.wait_for("upload \"docs/a.txt\" -> ok, 14 bytes");
    srv.wait_for("rename \"docs/a.txt\" -> ok, now \"b.txt\"");
    srv.wait_for("rmdir \"docs\" -> ok");
}

#[test]
fn hostile_writes_are_refused_and_nothing_lands_outside() {
    let tmp = TempDir::new("ws-hostile");
    let (root, outside) = (tmp.join("root"), tmp.join("outside"));
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"SENTINEL").unwrap();
    fs::write(root.join("f.txt"), b"inside").unwrap();
    let links = links::links_work(tmp.path());
    if links {
        let abs = outside.to_str().unwrap();
        for (target, link) in [
            ("../outside", "out"),
            (abs, "abs"),
            ("../outside/victim", "victim_link"),
            ("f.txt", "inner_link"),
        ] {
            links::symlink(target, &root.join(link)).unwrap();
        }
    }
    let junction = links::junction(&root.join("junction"), &outside);
    let (before_root, before_out) = (tree(&root), tree(&outside));
    let srv = download_server(&root, &["--writable"]);
    let (mut s, _) = framed(srv.connect_addr());
    let outside_abs = outside.join("abs.txt").display().to_string();
    // `C:\...` is refused for its backslash and drive letter before anything else.
    let absolute = if cfg!(windows) {
        ErrorCode::BadRequest
    } else {
        ErrorCode::OutsideRoot
    };
    let mut cases: Vec<(Request, ErrorCode)> = vec![
        (
            upload(b"../escape.txt", 3, b"", false),
            ErrorCode::OutsideRoot,
        ),
        (
            upload(b"dir/../../escape.txt", 3, b"", false),
            ErrorCode::OutsideRoot,
        ),
        (upload(outside_abs.as_bytes(), 3, b"", false), absolute),
        (upload(b"CON.txt", 3, b"", false), ErrorCode::BadRequest),
        // An existing directory is never replaced by a file.
        (upload(b"dir", 3, b"", false), ErrorCode::IsADirectory),
        (upload(b"dir/sub", 3, b"", false), ErrorCode::IsADirectory),
        (upload(b"dir/", 3, b"", false), ErrorCode::BadRequest),
        (upload(b"a\\b", 3, b"", false), ErrorCode::BadRequest),
        // Partial uploads belong to the server.
        (
            upload(b".f.txt.part", 3, b"", false),
            ErrorCode::PermissionDenied,
        ),
        (
            upload(b"dir/.x.part", 3, b"", false),
            ErrorCode::PermissionDenied,
        ),
        (mkdir(b"../newdir"), ErrorCode::OutsideRoot),
        (mkdir(b"dir"), ErrorCode::AlreadyExists),
        (rename(b"f.txt", b"dir", true), ErrorCode::AlreadyExists),
        (remove(b"../outside/victim"), ErrorCode::OutsideRoot),
        (rmdir(b"../outside"), ErrorCode::OutsideRoot),
    ];
    cases.push((upload(b"dir/CON.txt", 3, b"", false), ErrorCode::BadRequest));
    if links {
        cases.extend([
            (upload(b"out/x", 3, b"", false), ErrorCode::OutsideRoot),
            (upload(b"abs/x", 3, b"", false), ErrorCode::OutsideRoot),
            (upload(b"out/victim", 3, b"", false), ErrorCode::OutsideRoot),
            // A link as the target is never written through, inside or out.
            (
                upload(b"victim_link", 3, b"", false),
                ErrorCode::PermissionDenied,
            ),
            (
                upload(b"inner_link", 3, b"", false),
                ErrorCode::PermissionDenied,
            ),
            (mkdir(b"out/newdir"), ErrorCode::OutsideRoot),
            (rename(b"f.txt", b"out/f.txt", true), ErrorCode::OutsideRoot),
            (
                rename(b"out/victim", b"stolen", false),
                ErrorCode::OutsideRoot,
            ),
            (remove(b"out/victim"), ErrorCode::OutsideRoot),
            (rmdir(b"out"), ErrorCode::NotADirectory),
        ]);
    }
    if cfg!(windows) {
        // What Windows reads as something else than a plain name.
        for name in [
            &b"f.txt::$DATA"[..],
            b"new.txt:hidden",
            b"new.txt.",
            b"new.txt ",
        ] {
            cases.push((upload(name, 3, b"", false), ErrorCode::BadRequest));
        }
        // A case variant of a partial's name is the same file there.
        cases.push((
            upload(b".F.TXT.PART", 3, b"", false),
            ErrorCode::PermissionDenied,
        ));
    }
    if junction {
        cases.push((upload(b"junction/x", 3, b"", false), ErrorCode::OutsideRoot));
        cases.push((remove(b"junction/victim"), ErrorCode::OutsideRoot));
    }
    for (request, code) in cases {
        let what = format!("{request:?}");
        let err = refused(ask(&mut s, request), &what);
        assert_eq!(err.code, code, "{what}: {err}");
    }
    assert_eq!(tree(&outside), before_out, "nothing outside changed");
    assert_eq!(tree(&root), before_root, "nothing inside changed");
    // The connection is still in step: a normal request works.
    assert!(matches!(
        ask(
            &mut s,
            Request::Stat {
                path: b"f.txt".to_vec()
            }
        ),
        Response::Stat(_)
    ));
}

#[test]
fn a_second_upload_of_the_same_target_is_told_busy() {
    let tmp = TempDir::new("ws-busy");
    let root = tmp.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    let links = links::links_work(tmp.path());
    if links {
        links::symlink(".", &root.join("here")).unwrap();
    }
    let mut srv = download_server(&root, &["--writable"]);
    let (mut a, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut a, upload(b"big.bin", 10, b"id-a", false)),
        Response::UploadReady { offset: 0 }
    );
    a.write_all(b"12345").unwrap();
    let (mut b, _) = framed(srv.connect_addr());
    let mut spellings = vec![&b"big.bin"[..], b"./big.bin", b"sub/../big.bin"];
    if links {
        spellings.push(b"here/big.bin");
    }
    if cfg!(any(windows, target_vendor = "apple")) {
        // One file where names ignore case (Windows, macOS): one upload at a time.
        spellings.extend([&b"BIG.BIN"[..], b"Big.bin", b"sub/../bIg.BiN"]);
    }
    for spelling in spellings {
        let err = refused(ask(&mut b, upload(spelling, 3, b"id-b", false)), "second");
        assert_eq!(err.code, ErrorCode::Busy, "{spelling:?}");
        assert!(
            err.message.contains("being uploaded by another client"),
            "{err}"
        );
    }
    // The partial is visible in a listing but cannot be read or removed meanwhile.
    let Response::Listing { entries, .. } = ask(
        &mut b,
        Request::List {
            path: vec![],
            owners: false,
        },
    ) else {
        panic!("a listing")
    };
    assert!(entries.iter().any(|e| e.name == b".big.bin.part"));
    let err = refused(
        ask(
            &mut b,
            Request::Download {
                path: b".big.bin.part".to_vec(),
                offset: 0,
                identity: vec![],
                want_sha256: false,
            },
        ),
        "download partial",
    );
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    let err = refused(
        ask(
            &mut b,
            Request::RemoveFile {
                path: b".big.bin.part".to_vec(),
            },
        ),
        "remove partial",
    );
    assert_eq!(err.code, ErrorCode::Busy);
    assert!(
        !root.join("big.bin").exists(),
        "nothing under the final name yet"
    );
    a.write_all(b"67890").unwrap();
    assert_eq!(Response::read_from(&mut a).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("big.bin")).unwrap(), b"1234567890");
    assert!(!root.join(".big.bin.part").exists());
    // Free again: another target's abandoned partial can be cleaned up by name.
    assert_eq!(
        ask(&mut b, upload(b"c.bin", 4, b"id-c", false)),
        Response::UploadReady { offset: 0 }
    );
    b.write_all(b"ab").unwrap();
    drop(b);
    srv.wait_for("upload \"c.bin\" -> connection lost after 2 of 4 bytes");
    assert_eq!(
        ask(
            &mut a,
            Request::RemoveFile {
                path: b".c.bin.part".to_vec()
            }
        ),
        Response::Ok
    );
    assert!(!root.join(".c.bin.part").exists());
}

#[test]
fn an_upload_resumes_only_the_same_source() {
    let tmp = TempDir::new("ws-resume");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut srv = download_server(&root, &["--writable"]);
    let data: Vec<u8> = (0..100u8).collect();
    let cut = |srv: &mut Running, identity: &[u8], from: u64, n: usize| {
        let (mut s, _) = framed(srv.connect_addr());
        assert_eq!(
            ask(&mut s, upload(b"f.bin", 100, identity, from > 0)),
            Response::UploadReady { offset: from }
        );
        s.write_all(&data[from as usize..from as usize + n])
            .unwrap();
        drop(s);
        srv.wait_for(&format!(
            "connection lost after {} of 100 bytes",
            from as usize + n
        ));
    };
    cut(&mut srv, b"v1", 0, 40);
    assert_eq!(fs::metadata(root.join(".f.bin.part")).unwrap().len(), 40);
    assert!(!root.join("f.bin").exists());
    let (mut s, _) = framed(srv.connect_addr());
    // Another source, or no RESUME, or no identity: start over.
    for (identity, resume) in [(&b"v2"[..], true), (b"v1", false), (b"", true)] {
        assert_eq!(
            ask(&mut s, upload(b"f.bin", 100, identity, resume)),
            Response::UploadReady { offset: 0 },
            "{identity:?} {resume}"
        );
        s.write_all(&data[..30]).unwrap();
        drop(s);
        srv.wait_for("connection lost after 30 of 100 bytes");
        s = framed(srv.connect_addr()).0;
    }
    // A different size is another source too.
    assert_eq!(
        ask(&mut s, upload(b"f.bin", 99, b"", true)),
        Response::UploadReady { offset: 0 }
    );
    drop(s);
    srv.wait_for("connection lost after 0 of 99 bytes");
    cut(&mut srv, b"v1", 0, 40);
    cut(&mut srv, b"v1", 40, 35);
    let (mut s, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut s, upload(b"f.bin", 100, b"v1", true)),
        Response::UploadReady { offset: 75 }
    );
    s.write_all(&data[75..]).unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("f.bin")).unwrap(), data);
    srv.wait_for("upload \"f.bin\" -> ok (resumed at byte 75), 25 bytes");
}

#[test]
fn a_running_uploads_partial_stays_whatever_its_target_becomes() {
    let tmp = TempDir::new("ws-guard");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("u.bin"), b"old").unwrap();
    let mut srv = download_server(&root, &["--writable"]);
    let overwrite = |path: &[u8], size: u64, identity: &[u8], resume: bool| Request::Upload {
        path: path.to_vec(),
        size,
        identity: identity.to_vec(),
        resume,
        overwrite: true,
        attrs: None,
    };
    // A uploads t.bin (new) and u.bin (over an old one), half of each so far.
    let (mut a, _) = framed(srv.connect_addr());
    let (mut a2, _) = framed(srv.connect_addr());
    for (s, name) in [(&mut a, &b"t.bin"[..]), (&mut a2, b"u.bin")] {
        assert_eq!(
            ask(s, overwrite(name, 10, b"id-a", false)),
            Response::UploadReady { offset: 0 }
        );
        s.write_all(b"12345").unwrap();
    }
    common::wait_for_size(&root.join(".t.bin.part"), "5", |n| n == 5);
    common::wait_for_size(&root.join(".u.bin.part"), "5", |n| n == 5);
    // B makes each target a directory, then tries to remove the running partials.
    let (mut b, _) = framed(srv.connect_addr());
    assert_eq!(ask(&mut b, remove(b"u.bin")), Response::Ok);
    for name in [&b"t.bin"[..], b"u.bin"] {
        assert_eq!(ask(&mut b, mkdir(name)), Response::Ok);
        let mut partial = b".".to_vec();
        partial.extend_from_slice(name);
        partial.extend_from_slice(b".part");
        let err = refused(ask(&mut b, remove(&partial)), "remove the running partial");
        assert_eq!(err.code, ErrorCode::Busy, "{err:?}");
    }
    assert_eq!(fs::metadata(root.join(".t.bin.part")).unwrap().len(), 5);
    // A's uploads end with the truth: their targets are directories now.
    for s in [&mut a, &mut a2] {
        s.write_all(b"67890").unwrap();
        let err = refused(Response::read_from(s).unwrap().unwrap(), "commit");
        assert_eq!(err.code, ErrorCode::IsADirectory, "{err:?}");
    }
    srv.wait_for("upload \"u.bin\" -> error: is a directory");
    // Once the directory is gone, A's reput finishes from what the server kept.
    assert_eq!(ask(&mut b, rmdir(b"t.bin")), Response::Ok);
    assert_eq!(
        ask(&mut a, overwrite(b"t.bin", 10, b"id-a", true)),
        Response::UploadReady { offset: 10 }
    );
    assert_eq!(Response::read_from(&mut a).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("t.bin")).unwrap(), b"1234567890");
    assert!(!root.join(".t.bin.part").exists());
}

/// An upload of `size` bytes announced, `sent` of them sent, then the connection closed.
fn abandon(srv: &mut Running, name: &str, size: u64, sent: usize) {
    let (mut s, _) = framed(srv.connect_addr());
    let id = format!("id-{name}");
    assert_eq!(
        ask(&mut s, upload(name.as_bytes(), size, id.as_bytes(), false)),
        Response::UploadReady { offset: 0 }
    );
    s.write_all(&vec![b'x'; sent]).unwrap();
    drop(s);
    srv.wait_for(&format!(
        "upload \"{name}\" -> connection lost after {sent} of {size} bytes"
    ));
}

#[test]
fn abandoned_uploads_make_room_for_new_ones_within_the_bound() {
    let tmp = TempDir::new("ws-partial-bytes");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    // A running upload holds what it received and at most 3000 / 16 = 187 bytes ahead.
    let mut srv = download_server(&root, &["--writable", "--max-partial-bytes", "3000"]);
    for name in ["a", "b", "c"] {
        abandon(&mut srv, name, 1000, 500);
    }
    let partial = |name: &str| root.join(format!(".{name}.part"));
    // 1500 bytes held by abandoned uploads: nothing is removed until the bytes need room.
    let (mut d, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut d, upload(b"d", 2000, b"id-d", false)),
        Response::UploadReady { offset: 0 }
    );
    assert!(partial("a").exists() && partial("b").exists() && partial("c").exists());
    // 1600 received need room for 9 * 187 = 1683: more than the 1500 left, so the oldest goes.
    d.write_all(&[b'd'; 1600]).unwrap();
    srv.wait_for("removed partial upload \".a.part\" (500 bytes): untouched for");
    assert!(!partial("a").exists());
    assert!(partial("b").exists() && partial("c").exists());
    let (mut s, _) = framed(srv.connect_addr());
    // More than the bound can ever hold.
    let err = refused(ask(&mut s, upload(b"e", 3001, b"id-e", false)), "too large");
    assert_eq!(err.code, ErrorCode::TooLarge, "{err:?}");
    assert!(err.message.contains("--max-partial-bytes"), "{err}");
    // The running upload holds its 1683: 1500 more cannot fit, and nothing is removed for it.
    let err = refused(ask(&mut s, upload(b"f", 1500, b"id-f", false)), "busy");
    assert_eq!(err.code, ErrorCode::Busy, "{err:?}");
    assert!(err.message.contains("hold 1683 of the 3000 bytes"), "{err}");
    assert!(partial("b").exists() && partial("c").exists());
    assert!(!partial("e").exists() && !partial("f").exists());
    // 1000 fit once both abandoned ones are gone.
    assert_eq!(
        ask(&mut s, upload(b"g", 1000, b"id-g", false)),
        Response::UploadReady { offset: 0 }
    );
    s.write_all(&[b'g'; 1000]).unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    srv.wait_for("removed partial upload \".b.part\"");
    srv.wait_for("removed partial upload \".c.part\"");
    assert!(!partial("b").exists() && !partial("c").exists());
    d.write_all(&[b'd'; 400]).unwrap();
    assert_eq!(Response::read_from(&mut d).unwrap(), Some(Response::Ok));
    // The removed partial's upload starts over.
    assert_eq!(
        ask(&mut d, upload(b"a", 1000, b"id-a", true)),
        Response::UploadReady { offset: 0 }
    );
}

/// The `--max-partial-bytes` the tests of issue 20's second finding use.
const QUOTA: &str = "300000";

#[test]
fn an_upload_that_drips_holds_only_what_it_sent() {
    let tmp = TempDir::new("ws-partial-drip");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let srv = download_server(&root, &["--writable", "--max-partial-bytes", QUOTA]);
    // One client announces the whole bound, sends a few KB and holds (well within
    // --body-timeout, so it still keeps --min-rate).
    let (mut drip, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut drip, upload(b"drip.bin", 300_000, b"id-drip", false)),
        Response::UploadReady { offset: 0 }
    );
    let bytes = common::pattern(20, 300_000);
    drip.write_all(&bytes[..4096]).unwrap();
    common::wait_for_size(&root.join(".drip.bin.part"), "4096", |n| n == 4096);
    // Another client's small upload is not locked out.
    let (mut other, _) = framed(srv.connect_addr());
    let mut busy = 0;
    let mut stored = false;
    for _ in 0..10 {
        match ask(&mut other, upload(b"small.txt", 50, b"id-small", false)) {
            Response::UploadReady { offset: 0 } => {
                other.write_all(&[b's'; 50]).unwrap();
                assert_eq!(Response::read_from(&mut other).unwrap(), Some(Response::Ok));
                stored = true;
                break;
            }
            Response::Error(e) if e.code == ErrorCode::Busy => busy += 1,
            other => panic!("small upload: {other:?}"),
        }
    }
    assert!(
        stored,
        "the small upload was told busy {busy} of 10 tries\n{}",
        srv.transcript()
    );
    assert_eq!(busy, 0, "{}", srv.transcript());
    assert_eq!(fs::read(root.join("small.txt")).unwrap(), [b's'; 50]);
    // The drip, once it sends the rest, is stored whole.
    drip.write_all(&bytes[4096..]).unwrap();
    assert_eq!(Response::read_from(&mut drip).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("drip.bin")).unwrap(), bytes);
}

#[test]
fn an_upload_out_of_room_is_told_busy_and_resumes_later() {
    let tmp = TempDir::new("ws-partial-full");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let srv = download_server(&root, &["--writable", "--max-partial-bytes", QUOTA]);
    let a_bytes = common::pattern(21, 300_000);
    let (mut a, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut a, upload(b"a.bin", 300_000, b"id-a", false)),
        Response::UploadReady { offset: 0 }
    );
    a.write_all(&a_bytes[..4096]).unwrap();
    common::wait_for_size(&root.join(".a.bin.part"), "4096", |n| n == 4096);
    // A second upload starts while the first holds little, and takes 100,000 of the bound.
    let (mut b, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut b, upload(b"b.bin", 100_000, b"id-b", false)),
        Response::UploadReady { offset: 0 }
    );
    b.write_all(&[b'b'; 99_000]).unwrap();
    common::wait_for_size(&root.join(".b.bin.part"), "99000", |n| n == 99_000);
    // The first cannot have room for all its bytes now: it is read to the end, told busy,
    // and keeps what it had room for.
    a.write_all(&a_bytes[4096..]).unwrap();
    let err = refused(
        Response::read_from(&mut a).unwrap().expect("an answer"),
        "out of room",
    );
    assert_eq!(err.code, ErrorCode::Busy, "{err:?}");
    assert!(
        err.message.contains("--max-partial-bytes") && err.message.contains("resume later"),
        "{err}"
    );
    let kept = fs::metadata(root.join(".a.bin.part")).unwrap().len();
    assert!((4096..200_000).contains(&kept), "kept {kept}");
    assert!(
        err.message.contains(&format!("the first {kept} bytes")),
        "{err}"
    );
    assert!(!root.join("a.bin").exists());
    // Once the second is stored, the first resumes where it stopped.
    b.write_all(&[b'b'; 1000]).unwrap();
    assert_eq!(Response::read_from(&mut b).unwrap(), Some(Response::Ok));
    assert_eq!(
        ask(&mut a, upload(b"a.bin", 300_000, b"id-a", true)),
        Response::UploadReady { offset: kept }
    );
    a.write_all(&a_bytes[kept as usize..]).unwrap();
    assert_eq!(Response::read_from(&mut a).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("a.bin")).unwrap(), a_bytes);
}

/// Sets a file's modification time.
fn set_mtime(path: &std::path::Path, when: SystemTime) {
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(when).unwrap();
}

#[test]
fn abandoned_uploads_expire_at_start_up_and_while_running() {
    let tmp = TempDir::new("ws-partial-age");
    let root = tmp.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    // An earlier run, whose uploads were interrupted: two made old, and a fresh one.
    let mut earlier = download_server(&root, &["--writable"]);
    for name in ["old", "sub/older", "fresh"] {
        abandon(&mut earlier, name, 100, 9);
    }
    earlier.kill();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for name in [".old.part", "sub/.older.part"] {
        set_mtime(&root.join(name), hour_ago);
    }
    // Files that only look alike.
    for name in ["kept.part", ".part"] {
        fs::write(root.join(name), b"left over").unwrap();
        set_mtime(&root.join(name), hour_ago);
    }
    let mut srv = download_server(&root, &["--writable", "--max-partial-age", "2"]);
    srv.wait_for("partial uploads under the root: 1 kept (9 bytes), 2 removed, 0 left alone");
    let lines = srv.stdout_lines();
    for name in [".old.part", "sub/.older.part"] {
        let removed = format!("removed partial upload \"{name}\" (9 bytes): untouched for 3");
        assert!(
            lines.iter().any(|l| l.starts_with(&removed)),
            "{}",
            srv.transcript()
        );
        assert!(!root.join(name).exists(), "{name}");
        assert!(
            !root.join(format!("{name}.srv")).exists(),
            "{name}'s record"
        );
    }
    assert!(root.join("kept.part").exists() && root.join(".part").exists());
    // An upload abandoned now, and one still running, which never expires.
    abandon(&mut srv, "run", 100, 10);
    let (mut live, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut live, upload(b"live", 4, b"id-live", false)),
        Response::UploadReady { offset: 0 }
    );
    live.write_all(b"ab").unwrap();
    // In either order: both may be due by the time the server looks.
    let removed = [
        srv.wait_for("removed partial upload"),
        srv.wait_for("removed partial upload"),
    ];
    for what in ["\".fresh.part\" (9 bytes)", "\".run.part\" (10 bytes)"] {
        assert!(
            removed.iter().any(|l| l.contains(what)),
            "{}",
            srv.transcript()
        );
    }
    assert!(!root.join(".fresh.part").exists() && !root.join(".run.part").exists());
    assert!(!root.join(".fresh.part.srv").exists() && !root.join(".run.part.srv").exists());
    assert!(root.join(".live.part").exists());
    live.write_all(b"cd").unwrap();
    assert_eq!(Response::read_from(&mut live).unwrap(), Some(Response::Ok));
    assert_eq!(fs::read(root.join("live")).unwrap(), b"abcd");
}

#[test]
fn files_named_like_partials_that_no_upload_made_are_left_alone() {
    let tmp = TempDir::new("ws-own-part");
    let root = tmp.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    let three_days_ago = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
    let own = [
        (".notes.part", &b"my notes"[..]),
        ("sub/.thesis.tex.part", b"\\chapter{}"),
    ];
    for (name, bytes) in own {
        fs::write(root.join(name), bytes).unwrap();
        set_mtime(&root.join(name), three_days_ago);
    }
    let mut srv = download_server(&root, &["--writable"]);
    srv.wait_for("partial uploads under the root: 0 kept (0 bytes), 0 removed, 2 left alone");
    let lines = srv.stdout_lines();
    for (name, bytes) in own {
        let alone = format!("left alone \"{name}\": named like a partial upload, but no upload");
        let count = lines.iter().filter(|l| l.contains(name)).count();
        assert!(
            count == 1 && lines.iter().any(|l| l.starts_with(&alone)),
            "one line for {name}: {}",
            srv.transcript()
        );
        assert_eq!(fs::read(root.join(name)).unwrap(), bytes, "{name}");
        let modified = fs::metadata(root.join(name)).unwrap().modified().unwrap();
        assert_eq!(modified, three_days_ago, "{name} untouched");
    }
    // An upload onto the name is refused, and says what to do.
    let (mut s, _) = framed(srv.connect_addr());
    let err = refused(ask(&mut s, upload(b"notes", 4, b"id-n", false)), "upload");
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
    assert!(err.message.contains("move it away"), "{err:?}");
    assert_eq!(fs::read(root.join(".notes.part")).unwrap(), b"my notes");
    assert!(!root.join("notes").exists() && !root.join(".notes.part.srv").exists());
    // An upload's record is the server's: no client names it or sees it listed.
    assert_eq!(
        ask(&mut s, upload(b"a.txt", 4, b"id-a", false)),
        Response::UploadReady { offset: 0 }
    );
    s.write_all(b"ab").unwrap();
    common::wait_for_size(&root.join(".a.txt.part"), "2", |n| n == 2);
    assert!(root.join(".a.txt.part.srv").is_file());
    let (mut t, _) = framed(srv.connect_addr());
    let err = refused(ask(&mut t, remove(b".a.txt.part.srv")), "remove a record");
    assert_eq!(err.code, ErrorCode::BadRequest, "{err:?}");
    assert!(root.join(".a.txt.part.srv").is_file());
    s.write_all(b"cd").unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    assert!(!root.join(".a.txt.part").exists() && !root.join(".a.txt.part.srv").exists());
}

#[test]
fn an_upload_that_drips_is_dropped_and_kept_for_a_resume() {
    let tmp = TempDir::new("ws-drip");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut srv = download_server(
        &root,
        &["--writable", "--body-timeout", "1", "--min-rate", "1000"],
    );
    let (mut s, _) = framed(srv.connect_addr());
    assert_eq!(
        ask(&mut s, upload(b"drip.bin", 100_000, b"id-drip", false)),
        Response::UploadReady { offset: 0 }
    );
    // 20 bytes a second, far under 1000: the slack of 1 s runs out.
    let dripper = std::thread::spawn(move || {
        for _ in 0..100_000 {
            if s.write_all(b"x").is_err() || !common::pace(&mut s, Duration::from_millis(50)) {
                return;
            }
        }
    });
    let line = srv.wait_for("upload \"drip.bin\" -> dropped after ");
    assert!(
        line.contains("too slow") && line.contains("the partial file is kept for a resume"),
        "{line}"
    );
    dripper.join().unwrap();
    assert!(root.join(".drip.bin.part").exists());
}

#[test]
fn the_upload_limit_refuses_before_any_byte() {
    let tmp = TempDir::new("ws-limit");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let mut srv = download_server(&root, &["--writable", "--max-upload-bytes", "1000"]);
    srv.wait_for("uploads up to 1000 bytes");
    let (mut s, _) = framed(srv.connect_addr());
    let err = refused(ask(&mut s, upload(b"big", 1001, b"", false)), "too large");
    assert_eq!(err.code, ErrorCode::TooLarge);
    assert!(err.message.contains("at most 1000"), "{err}");
    assert!(fs::read_dir(&root).unwrap().next().is_none(), "no partial");
    assert_eq!(
        ask(&mut s, upload(b"ok", 1000, b"", false)),
        Response::UploadReady { offset: 0 }
    );
    s.write_all(&[7u8; 1000]).unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    // Bytes past the announced size are the next frame, never file data.
    assert_eq!(
        ask(&mut s, upload(b"tiny", 2, b"", false)),
        Response::UploadReady { offset: 0 }
    );
    s.write_all(b"xyEXTRA").unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    let after = Response::read_from(&mut s)
        .unwrap()
        .expect("a reply to the junk");
    assert!(
        matches!(after, Response::Error(ref e) if e.closing),
        "{after:?}"
    );
    assert_eq!(fs::read(root.join("tiny")).unwrap(), b"xy");
    assert_eq!(fs::metadata(root.join("ok")).unwrap().len(), 1000);
}

#[test]
fn upload_attributes_keep_time_and_permission_bits_only() {
    let tmp = TempDir::new("ws-attrs");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let srv = download_server(&root, &["--writable"]);
    let (mut s, _) = framed(srv.connect_addr());
    let mtime_ns = 1_234_567_890_123_456_789i64;
    let request = Request::Upload {
        path: b"p.txt".to_vec(),
        size: 2,
        identity: vec![],
        resume: false,
        overwrite: false,
        attrs: Some(Attrs {
            mtime_ns: Some(mtime_ns),
            mode: 0o4751,
        }),
    };
    assert_eq!(ask(&mut s, request), Response::UploadReady { offset: 0 });
    s.write_all(b"hi").unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    // Unix keeps the permission bits but never a set-id bit; Windows keeps
    // only whether the owner may write (the read-only attribute), and times
    // in units of 100 ns.
    let (mode, kept_ns) = if cfg!(windows) {
        (0o644, mtime_ns / 100 * 100)
    } else {
        (0o751, mtime_ns)
    };
    let meta = fs::metadata(root.join("p.txt")).unwrap();
    assert!(!meta.permissions().readonly());
    let expected = SystemTime::UNIX_EPOCH + Duration::from_nanos(kept_ns as u64);
    assert_eq!(meta.modified().unwrap(), expected);
    let stat = |s: &mut TcpStream, path: &[u8]| match ask(
        s,
        Request::Stat {
            path: path.to_vec(),
        },
    ) {
        Response::Stat(m) => (m.mode, m.mtime_ns),
        other => panic!("{other:?}"),
    };
    assert_eq!(stat(&mut s, b"p.txt"), (mode, kept_ns), "no set-id bit");

    // No write bit for the owner: read-only, on Windows too.
    let request = Request::Upload {
        path: b"ro.txt".to_vec(),
        size: 2,
        identity: vec![],
        resume: false,
        overwrite: false,
        attrs: Some(Attrs {
            mtime_ns: Some(mtime_ns),
            mode: 0o444,
        }),
    };
    assert_eq!(ask(&mut s, request), Response::UploadReady { offset: 0 });
    s.write_all(b"ro").unwrap();
    assert_eq!(Response::read_from(&mut s).unwrap(), Some(Response::Ok));
    assert!(fs::metadata(root.join("ro.txt"))
        .unwrap()
        .permissions()
        .readonly());
    assert_eq!(stat(&mut s, b"ro.txt"), (0o444, kept_ns));
}

#[test]
fn without_the_token_nothing_is_served() {
    let tmp = TempDir::new("ws-token");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("secret.txt"), b"SERVED ONLY WITH THE TOKEN").unwrap();
    fs::write(tmp.join("token"), b"correct horse\n").unwrap();
    let token_file = tmp.join("token");
    let mut srv = download_server(
        &root,
        &["--writable", "--token-file", token_file.to_str().unwrap()],
    );
    srv.wait_for("token required");

    // Missing: the first frame is something else.
    let (mut s, hello) = framed(srv.connect_addr());
    assert!(hello.token_required);
    let challenge = Response::read_from(&mut s).unwrap();
    assert!(
        matches!(challenge, Some(Response::Challenge { .. })),
        "{challenge:?}"
    );
    let Response::Error(err) = ask(
        &mut s,
        Request::List {
            path: vec![],
            owners: false,
        },
    ) else {
        panic!("refused")
    };
    assert_eq!((err.code, err.closing), (ErrorCode::Unauthorized, true));
    assert_eq!(
        s.read(&mut [0u8; 64]).unwrap(),
        0,
        "then closed, nothing listed"
    );
    srv.wait_for("auth -> refused: no token: sent a LIST request first; closed");

    // Wrong, including the right one with its newline or a prefix of it. The
    // first is logged; the rest of the burst is counted, not logged.
    for (i, wrong) in [
        &b"wrong"[..],
        b"correct horse\n",
        b"correct hors",
        b"correct horse!",
    ]
    .into_iter()
    .enumerate()
    {
        let (mut s, _) = framed(srv.connect_addr());
        let Response::Error(err) = prove(&mut s, wrong) else {
            panic!("refused")
        };
        assert_eq!((err.code, err.closing), (ErrorCode::Unauthorized, true));
        assert_eq!(s.read(&mut [0u8; 64]).unwrap(), 0);
        if i == 0 {
            srv.wait_for("auth -> refused: wrong token; closed");
            srv.wait_for("127.0.0.1: a wrong token; until this address has been quiet");
        }
    }

    // The tutorial client cannot present a token: it gets nothing at all.
    let mut t = TcpStream::connect(srv.connect_addr()).unwrap();
    t.set_read_timeout(Some(TIMEOUT)).unwrap();
    t.write_all(b"secret.txt").unwrap();
    let mut got = Vec::new();
    let _ = t.read_to_end(&mut got);
    assert!(got.is_empty());
    srv.wait_for("refused: a token is required");

    // The library says what to do; with the token everything works.
    let err = Connection::open(
        TcpStream::connect(srv.connect_addr()).unwrap().into(),
        None,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--token-file"), "{err}");
    let token = Token::from_file(&token_file).unwrap();
    let mut c = connection(&srv, Some(&token));
    assert_eq!(c.list(b"", false).unwrap().len(), 1);

    // download_client: refused without it, served with the file or the variable.
    let cwd = tmp.join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let client = || {
        let mut cmd = command("download_client");
        cmd.args(["--port", &srv.port(), "secret.txt"])
            .current_dir(&cwd);
        cmd
    };
    let out = client().output().unwrap();
    // 67: curl's "login denied".
    assert_eq!(out.status.code(), Some(67), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    assert!(!cwd.join("copy-secret.txt").exists());
    let out = client()
        .args(["--token-file", token_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    fs::remove_file(cwd.join("copy-secret.txt")).unwrap();
    let out = client()
        .env("DOWNLOAD_SERVER_TOKEN", "correct horse")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        fs::read(cwd.join("copy-secret.txt")).unwrap(),
        b"SERVED ONLY WITH THE TOKEN"
    );
}

#[test]
fn the_token_can_come_from_the_environment_and_bad_ones_stop_the_server() {
    let tmp = TempDir::new("ws-token-env");
    let mut srv = Spawn::new("download_server")
        .args(["--port", "0", "--root"])
        .args([tmp.path()])
        .env("DOWNLOAD_SERVER_TOKEN", "from-env")
        .server();
    srv.wait_for("token required");
    let token = Token::new(b"from-env".to_vec()).unwrap();
    connection(&srv, Some(&token));
    let wrong = Token::new(b"other".to_vec()).unwrap();
    let err = Connection::open(
        TcpStream::connect(srv.connect_addr()).unwrap().into(),
        Some(&wrong),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("unauthorized"), "{err}");

    fs::write(tmp.join("empty"), b"\n").unwrap();
    for (file, message) in [
        ("empty", "the token is empty"),
        ("missing", "cannot read the token file"),
    ] {
        let out = command("download_server")
            .args(["--port", "0", "--token-file"])
            .arg(tmp.join(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("download_server: error: "), "{err}");
        assert!(err.contains(message), "{err}");
    }
}

fn chmod(path: &[u8], mode: u16) -> Request {
    Request::Chmod {
        path: path.to_vec(),
        mode,
    }
}

/// The mode bits of what is at `path` itself (a link not followed), as this platform shows them.
fn mode_of(path: &std::path::Path) -> u16 {
    let meta = fs::symlink_metadata(path).unwrap();
    socket_tutorial::file_service::file_meta::mode_bits(&meta)
}

#[test]
fn chmod_changes_modes_inside_the_root_only() {
    let tmp = TempDir::new("ws-chmod");
    let (root, outside) = (tmp.join("root"), tmp.join("outside"));
    fs::create_dir_all(root.join("dir")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"SENTINEL").unwrap();
    fs::write(root.join("f.txt"), b"inside").unwrap();
    fs::write(root.join(".f.txt.part"), b"someone's partial").unwrap();
    let links = links::links_work(tmp.path());
    if links {
        links::symlink("../outside", &root.join("out")).unwrap();
        links::symlink("../outside/victim", &root.join("victim_link")).unwrap();
        links::symlink("f.txt", &root.join("inner_link")).unwrap();
    }
    // A read-only server refuses it like every other write.
    let ro = download_server(&root, &[]);
    let (mut s, _) = framed(ro.connect_addr());
    let err = refused(
        ask(&mut s, chmod(b"f.txt", 0o600)),
        "chmod on a read-only server",
    );
    assert_eq!(err.code, ErrorCode::ReadOnly, "{err}");
    assert!(err.message.contains("chmod"), "{err}");

    let mut srv = download_server(&root, &["--writable"]);
    srv.wait_for("serving");
    let mut c = connection(&srv, None);
    c.chmod(b"f.txt", 0o400).unwrap();
    srv.wait_for("chmod \"f.txt\" -> ok, mode 0400");
    // Windows keeps one bit of it: read-only, and that it shows as 0o444.
    let want = if cfg!(windows) { 0o444 } else { 0o400 };
    assert_eq!(mode_of(&root.join("f.txt")), want);
    c.chmod(b"f.txt", 0o640).unwrap();
    assert_eq!(
        mode_of(&root.join("f.txt")),
        if cfg!(windows) { 0o644 } else { 0o640 }
    );
    if cfg!(unix) {
        c.chmod(b"dir", 0o700).unwrap();
        assert_eq!(mode_of(&root.join("dir")), 0o700);
    }

    let outside_modes = || (mode_of(&outside), mode_of(&outside.join("victim")));
    let before = (outside_modes(), mode_of(&root.join(".f.txt.part")));
    let (mut s, _) = framed(srv.connect_addr());
    let mut cases: Vec<(Request, ErrorCode)> = vec![
        (chmod(b"../outside/victim", 0o777), ErrorCode::OutsideRoot),
        (chmod(b"dir/../../outside", 0o777), ErrorCode::OutsideRoot),
        (chmod(b"nope", 0o644), ErrorCode::NotFound),
        (chmod(b"", 0o777), ErrorCode::BadRequest),
        (chmod(b".", 0o777), ErrorCode::BadRequest),
        (chmod(b"f.txt/", 0o644), ErrorCode::NotADirectory),
        (chmod(b".f.txt.part", 0o777), ErrorCode::PermissionDenied),
    ];
    if links {
        cases.extend([
            (chmod(b"out/victim", 0o777), ErrorCode::OutsideRoot),
            // A link in the last place is never followed, inside or out.
            (chmod(b"victim_link", 0o777), ErrorCode::PermissionDenied),
            (chmod(b"inner_link", 0o777), ErrorCode::PermissionDenied),
            (chmod(b"out", 0o777), ErrorCode::PermissionDenied),
        ]);
    }
    for (request, code) in cases {
        let what = format!("{request:?}");
        let err = refused(ask(&mut s, request), &what);
        assert_eq!(err.code, code, "{what}: {err}");
    }
    assert_eq!(
        (outside_modes(), mode_of(&root.join(".f.txt.part"))),
        before,
        "nothing outside, and no partial, changed mode"
    );
    // Bits above 0o7777 cannot even be sent: the frame would be malformed.
    assert!(chmod(b"f.txt", 0o10000).encode().is_err());
    // Set-id and sticky bits are never applied.
    if cfg!(unix) {
        c.chmod(b"f.txt", 0o4755).unwrap();
        assert_eq!(mode_of(&root.join("f.txt")), 0o755);
    }
}
