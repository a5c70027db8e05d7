//! download_server --writable and --token-file over loopback, at the protocol level: writes stay inside the root, uploads are atomic, exclusive and resumable, the size limit holds, and without the token nothing is served.

mod common;
#[path = "common/links.rs"]
mod links;

use common::{command, describe, download_server, framed, tree, Running, Spawn, TempDir, TIMEOUT};
use socket_tutorial::protocol::{Attrs, ErrorCode, ErrorReply, Request, Response};
use socket_tutorial::token::Token;
use socket_tutorial::transfer::{Connection, TransferError, UploadOptions};
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
    Connection::open(TcpStream::connect(srv.connect_addr()).unwrap(), token, None).unwrap()
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
    let Response::Listing { entries, .. } = ask(&mut b, Request::List { path: vec![] }) else {
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
    let Response::Error(err) = ask(&mut s, Request::List { path: vec![] }) else {
        panic!("refused")
    };
    assert_eq!((err.code, err.closing), (ErrorCode::Unauthorized, true));
    assert_eq!(
        s.read(&mut [0u8; 64]).unwrap(),
        0,
        "then closed, nothing listed"
    );
    srv.wait_for("auth -> refused: no token: sent a list request first; closed");

    // Wrong, including the right one with its newline or a prefix of it.
    for wrong in [
        &b"wrong"[..],
        b"correct horse\n",
        b"correct hors",
        b"correct horse!",
    ] {
        let (mut s, _) = framed(srv.connect_addr());
        let Response::Error(err) = ask(
            &mut s,
            Request::Auth {
                token: wrong.to_vec(),
            },
        ) else {
            panic!("refused")
        };
        assert_eq!((err.code, err.closing), (ErrorCode::Unauthorized, true));
        assert_eq!(s.read(&mut [0u8; 64]).unwrap(), 0);
        srv.wait_for("auth -> refused: wrong token; closed");
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
    let err =
        Connection::open(TcpStream::connect(srv.connect_addr()).unwrap(), None, None).unwrap_err();
    assert!(err.to_string().contains("--token-file"), "{err}");
    let token = Token::from_file(&token_file).unwrap();
    let mut c = connection(&srv, Some(&token));
    assert_eq!(c.list(b"").unwrap().len(), 1);

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
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
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
        TcpStream::connect(srv.connect_addr()).unwrap(),
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
