//! download_server and download_client over loopback: sizes, errors, hostile names, resume, tutorial and Python peers, hostile and idle connections.

mod common;
#[path = "common/links.rs"]
mod links;

use common::{
    command, cutting_proxy, describe, download_server, framed, pattern, wait_for_size, Cut,
    Running, Spawn, TempDir, TIMEOUT,
};
use socket_tutorial::file_service::progress::human_bytes;
use socket_tutorial::file_service::protocol::{
    ClientHello, ErrorCode, ErrorReply, Kind, Request, Response, ServerHello,
};
use socket_tutorial::file_service::sha256::{self, Sha256};
use std::fs::{self, File, FileTimes};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MIB: u64 = 1024 * 1024;

/// Compare two files by streaming both, never holding either whole.
fn same_contents(a: &Path, b: &Path) -> Result<(), String> {
    let (mut fa, mut fb) = (File::open(a).unwrap(), File::open(b).unwrap());
    let (la, lb) = (fa.metadata().unwrap().len(), fb.metadata().unwrap().len());
    if la != lb {
        return Err(format!(
            "{} has {la} bytes, {} has {lb}",
            a.display(),
            b.display()
        ));
    }
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    let mut at = 0u64;
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return Ok(());
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            let i = ba[..n]
                .iter()
                .zip(&bb[..n])
                .position(|(x, y)| x != y)
                .unwrap();
            return Err(format!("first difference at byte {}", at + i as u64));
        }
        at += n as u64;
    }
}

/// download_client against `srv`, run in `cwd`, with `args` after `--port`.
fn client(srv: &Running, cwd: &Path, args: &[&str]) -> std::process::Output {
    client_command(cwd)
        .args(["--port", &srv.port()])
        .args(args)
        .output()
        .unwrap()
}

/// download_client in `cwd`, remembering its finished downloads next to `cwd`
/// (in `<cwd>.state`) rather than in the home directory of whoever runs the tests.
fn client_command(cwd: &Path) -> assert_cmd::Command {
    let state = state_dir(cwd);
    let mut cmd = command("download_client");
    cmd.current_dir(cwd)
        .env("XDG_STATE_HOME", &state)
        .env("LOCALAPPDATA", &state);
    cmd
}

fn state_dir(cwd: &Path) -> PathBuf {
    let mut name = cwd.as_os_str().to_owned();
    name.push(".state");
    PathBuf::from(name)
}

/// Waits until the process has printed a line containing each needle, in any order.
fn wait_for_all(process: &mut Running, needles: &[&str]) {
    let mut missing: Vec<&str> = needles.to_vec();
    while !missing.is_empty() {
        let line = process
            .next_line()
            .unwrap_or_else(|| panic!("never printed {missing:?}\n{}", process.transcript()));
        missing.retain(|n| !line.text().contains(n));
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn response(s: &mut TcpStream) -> Response {
    Response::read_from(s).unwrap().expect("a response frame")
}

fn download_frame(path: &[u8], offset: u64, identity: &[u8], sha: bool) -> Vec<u8> {
    // Built by hand so that over-long paths can be sent too.
    let mut body = vec![0x02, u8::from(sha)];
    body.extend_from_slice(&offset.to_be_bytes());
    body.push(identity.len() as u8);
    body.extend_from_slice(identity);
    body.extend_from_slice(&(path.len() as u16).to_be_bytes());
    body.extend_from_slice(path);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

fn expect_error(resp: Response, what: &str) -> ErrorReply {
    match resp {
        Response::Error(e) => e,
        other => panic!("{what}: expected an ERROR, got {other:?}"),
    }
}

/// Read everything until the peer closes; a reset counts as the end.
fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("reading until close: {e} (after {} bytes)", got.len()),
        }
    }
}

/// What the tutorial client does: send the name's bytes, read until close.
fn tutorial_request(addr: SocketAddr, name: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(name).unwrap();
    read_all(&mut s)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_size_arrives_byte_identical() {
    let tmp = TempDir::new("dl-sizes");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let sizes = [0usize, 1, 6001, 10 * MIB as usize];
    for (i, size) in sizes.iter().enumerate() {
        fs::write(root.join(format!("f{size}.bin")), pattern(i as u64, *size)).unwrap();
    }
    let mut srv = download_server(&root, &[]);
    let names: Vec<String> = sizes.iter().map(|s| format!("f{s}.bin")).collect();
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let out = client(&srv, &cwd, &names_ref);
    assert!(out.status.success(), "{}", describe(&out));
    for name in &names {
        same_contents(&root.join(name), &cwd.join(format!("copy-{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Nothing but the copies is left behind.
    let expected: Vec<String> = {
        let mut v: Vec<String> = names.iter().map(|n| format!("copy-{n}")).collect();
        v.sort();
        v
    };
    assert_eq!(files_in(&cwd), expected);
    srv.wait_for("download \"f10485760.bin\" -> ok, 10485760 bytes");
}

#[test]
fn a_one_gib_file_arrives_byte_identical() {
    let tmp = TempDir::new("dl-gib");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    // The source is sparse, but the copy takes 1 GiB of real disk.
    if let Some(free) = common::free_bytes(tmp.path()) {
        if free < (1 << 30) + (512 << 20) {
            eprintln!(
                "skipped: {} MiB free under {}, the copy needs 1 GiB",
                free >> 20,
                tmp.path().display()
            );
            return;
        }
    }
    // Sparse, with distinct data at unaligned places all along it, so a lost,
    // repeated or misplaced chunk anywhere shows.
    let big = root.join("big.bin");
    let mut f = File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    let mut write_at = |at: u64, data: &[u8]| {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(data).unwrap();
    };
    for k in 0..32u64 {
        write_at(k * 32 * MIB + k * 4099, &pattern(k, 5000));
    }
    write_at((1 << 30) - 4096, &pattern(99, 4096));
    drop(f);
    let srv = download_server(&root, &[]);
    let started = Instant::now();
    let out = client(&srv, &cwd, &["big.bin"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", describe(&out));
    same_contents(&big, &cwd.join("copy-big.bin")).unwrap();
    eprintln!("1 GiB over loopback took {took:?} (this build's binaries)");
}

#[test]
fn missing_directory_and_unreadable_are_clear_errors_with_nothing_left() {
    let tmp = TempDir::new("dl-errors");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut cases = vec![
        ("nope.txt", 78, "not found: \"nope.txt\""),
        ("sub", 1, "is a directory: \"sub\""),
    ];
    // A socket file and a file nobody may read: what unix has and Windows has not.
    #[cfg(unix)]
    let _socket = {
        use std::os::unix::fs::PermissionsExt;
        let socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
        fs::write(root.join("locked.txt"), b"secret").unwrap();
        fs::set_permissions(root.join("locked.txt"), fs::Permissions::from_mode(0o000)).unwrap();
        cases.push((
            "sock",
            9,
            "permission denied: \"sock\" (not a regular file)",
        ));
        if File::open(root.join("locked.txt")).is_err() {
            cases.push(("locked.txt", 9, "permission denied: \"locked.txt\""));
        } else {
            eprintln!("running as root: mode 000 does not stop reads, so the socket file stands in for an unreadable file");
        }
        socket
    };
    let srv = download_server(&root, &[]);
    for (name, code, message) in cases {
        let out = client(&srv, &cwd, &[name]);
        assert_eq!(out.status.code(), Some(code), "{name}: {}", describe(&out));
        assert_eq!(
            stderr_of(&out).lines().collect::<Vec<_>>(),
            vec![format!("download_client: error: {message}").as_str()],
            "{name}"
        );
        assert!(
            files_in(&cwd).is_empty(),
            "{name}: left {:?}",
            files_in(&cwd)
        );
    }
}

#[test]
fn several_names_one_failure_each_named_and_the_rest_saved() {
    let tmp = TempDir::new("dl-several");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(cwd.join("out")).unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    fs::write(root.join("docs/b.txt"), b"bbb").unwrap();
    let srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["a.txt", "nope.txt", "docs/b.txt", "../x"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("download_client: error: not found: \"nope.txt\"\n"),
        "{err}"
    );
    assert!(
        err.contains("download_client: error: outside the served root: \"../x\""),
        "{err}"
    );
    assert!(
        err.ends_with("download_client: error: 2 of 4 files failed\n"),
        "{err}"
    );
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"aaa");
    assert_eq!(fs::read(cwd.join("copy-b.txt")).unwrap(), b"bbb");

    // -o DIR puts files there under their own names; -o FILE with several names is refused.
    let out = client(&srv, &cwd, &["-o", "out", "a.txt", "docs/b.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(files_in(&cwd.join("out")), vec!["a.txt", "b.txt"]);
    let out = client(&srv, &cwd, &["-o", "single", "a.txt", "docs/b.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("-o must be an existing directory"),
        "{}",
        describe(&out)
    );
    let out = client(&srv, &cwd, &["-o", "single.txt", "a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("single.txt")).unwrap(), b"aaa");

    // With no NAME, it asks like the Python's input("file_name:").
    let out = command("download_client")
        .args(["--port", &srv.port()])
        .write_stdin("docs/b.txt\n")
        .current_dir(cwd.join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("out/copy-b.txt")).unwrap(), b"bbb");
}

#[test]
fn verify_prints_the_digest_like_sha256sum() {
    let tmp = TempDir::new("dl-verify");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let data = pattern(7, 3 * MIB as usize + 17);
    fs::write(root.join("v.bin"), &data).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    let mut srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["--verify", "v.bin", "empty"]);
    assert!(out.status.success(), "{}", describe(&out));
    let expected = format!(
        "{}  copy-v.bin\n{}  copy-empty\n",
        sha256::hex(&Sha256::digest(&data)),
        sha256::hex(&Sha256::digest(b""))
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    if let Ok(sum) = std::process::Command::new("sha256sum")
        .args(["copy-v.bin", "copy-empty"])
        .current_dir(&cwd)
        .output()
    {
        assert_eq!(
            String::from_utf8_lossy(&sum.stdout),
            expected,
            "sha256sum agrees"
        );
    } else {
        eprintln!("sha256sum not found: compared with the library's SHA-256 only");
    }
    srv.wait_for("download \"v.bin\" -> ok, with sha256");
}

/// Builds the served tree for the hostile-name tests: `root/` with files and
/// links of every kind, and `secret.txt` outside it.
struct Hostile {
    tmp: TempDir,
    /// Whether this system let the test make symbolic links (said on stderr when not).
    links: bool,
    /// Whether a junction out of the root was made (Windows only).
    junction: bool,
}

impl Hostile {
    fn new() -> Hostile {
        let tmp = TempDir::new("dl-hostile");
        let root = tmp.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(tmp.join("secret.txt"), b"SENTINEL-OUTSIDE-THE-ROOT").unwrap();
        fs::write(root.join("notes.txt"), b"hello notes\n").unwrap();
        let links = links::links_work(tmp.path());
        if links {
            let abs_inside = root.join("notes.txt");
            for (target, link) in [
                ("/", "to_root"),
                ("../secret.txt", "up"),
                ("chain2", "chain1"),
                ("sub/chain3", "chain2"),
                ("../../secret.txt", "sub/chain3"),
                ("loop2", "loop1"),
                ("loop1", "loop2"),
                ("..", "dotdot"),
                (abs_inside.to_str().unwrap(), "abs_inside"),
                ("notes.txt", "inside"),
            ] {
                links::symlink(target, &root.join(link)).unwrap();
            }
        } else {
            // The honest request the test makes between hostile ones needs "inside".
            fs::write(root.join("inside"), b"hello notes\n").unwrap();
        }
        let junction = links::junction(&root.join("junction"), tmp.path());
        Hostile {
            tmp,
            links,
            junction,
        }
    }

    fn root(&self) -> PathBuf {
        self.tmp.join("root")
    }

    fn secret(&self) -> PathBuf {
        self.tmp.join("secret.txt")
    }

    /// Each name and the error it must get in a framed request.
    fn names(&self) -> Vec<(Vec<u8>, ErrorCode)> {
        use ErrorCode::*;
        let secret_abs = self.secret().to_string_lossy().into_owned();
        // `C:\...` is refused for its backslash and drive letter before anything else.
        let absolute = if cfg!(windows) {
            BadRequest
        } else {
            OutsideRoot
        };
        let mut v: Vec<(Vec<u8>, ErrorCode)> = vec![
            (b"/etc/passwd".to_vec(), OutsideRoot),
            (b"/".to_vec(), OutsideRoot),
            (b"//x".to_vec(), OutsideRoot),
            (secret_abs.into_bytes(), absolute),
            (b"../secret.txt".to_vec(), OutsideRoot),
            (b"a/../../secret.txt".to_vec(), OutsideRoot),
            (b"sub/../../secret.txt".to_vec(), OutsideRoot),
            (b"..\\secret.txt".to_vec(), BadRequest),
            (b"C:\\x".to_vec(), BadRequest),
            (b"c:/x".to_vec(), BadRequest),
            (b"\\\\host\\share".to_vec(), BadRequest),
            (b"notes.txt\0.png".to_vec(), BadRequest),
            (b"notes\n.txt".to_vec(), BadRequest),
            (b"\x1b[31mred".to_vec(), BadRequest),
            (b"tab\there".to_vec(), BadRequest),
            (b"%2e%2e/secret.txt".to_vec(), NotFound),
            (b"%2e%2e%2fsecret.txt".to_vec(), NotFound),
            (b"\xff\xfe".to_vec(), BadRequest),
            (b"\xc0\xaf".to_vec(), BadRequest),
            (vec![b'x'; 5000], TooLarge),
            (b"a/".repeat(10_000), TooLarge),
            (b"a/".repeat(2000), BadRequest),
            (vec![b'y'; 256], BadRequest),
            (b"NUL".to_vec(), BadRequest),
            (b"COM1".to_vec(), BadRequest),
            (b"sub/con.txt".to_vec(), BadRequest),
            (b"CON.txt".to_vec(), BadRequest),
            (b"".to_vec(), BadRequest),
        ];
        if self.links {
            v.extend([
                (b"to_root".to_vec(), OutsideRoot),
                (b"to_root/etc/passwd".to_vec(), OutsideRoot),
                (b"up".to_vec(), OutsideRoot),
                (b"up/".to_vec(), OutsideRoot),
                (b"chain1".to_vec(), OutsideRoot),
                (b"loop1".to_vec(), OutsideRoot),
                (b"dotdot/secret.txt".to_vec(), OutsideRoot),
                (b"abs_inside".to_vec(), OutsideRoot),
                (b"dotdot/root/notes.txt".to_vec(), OutsideRoot),
            ]);
        }
        if cfg!(windows) {
            // What Windows reads as something else than a plain name.
            v.extend([
                (b"notes.txt::$DATA".to_vec(), BadRequest),
                (b"notes.txt:hidden".to_vec(), BadRequest),
                (b"notes.txt.".to_vec(), BadRequest),
                (b"notes.txt ".to_vec(), BadRequest),
                (b"not*s.txt".to_vec(), BadRequest),
                (b"sub./../notes.txt".to_vec(), BadRequest),
            ]);
        }
        if self.junction {
            v.push((b"junction/secret.txt".to_vec(), OutsideRoot));
        }
        v
    }
}

/// Set the sentinel's access time far in the past (before its mtime): any
/// read of it then updates it, even under `relatime`.
fn age_atime(path: &Path) -> SystemTime {
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(FileTimes::new().set_accessed(old))
        .unwrap();
    fs::metadata(path).unwrap().accessed().unwrap()
}

#[test]
fn hostile_names_are_refused_and_nothing_outside_is_read() {
    let h = Hostile::new();
    let names = h.names();
    assert!(names.len() >= 30);
    // Does this file system record reads at all? Find out on a file of our own.
    let control = h.tmp.join("control.txt");
    fs::write(&control, b"control").unwrap();
    let control_before = age_atime(&control);
    fs::read(&control).unwrap();
    let atime_works = fs::metadata(&control).unwrap().accessed().unwrap() != control_before;
    let secret_before = age_atime(&h.secret());

    let mut srv = download_server(&h.root(), &[]);
    let addr = srv.connect_addr();
    for (name, code) in &names {
        let shown = String::from_utf8_lossy(&name[..name.len().min(40)]).into_owned();
        let (mut s, _) = framed(addr);
        s.write_all(&download_frame(name, 0, &[], false)).unwrap();
        let err = expect_error(response(&mut s), &shown);
        assert_eq!(err.code, *code, "{shown:?}: {err:?}");
        assert!(
            !err.message.chars().any(char::is_control),
            "{shown:?}: {err:?}"
        );
        if err.closing {
            assert_eq!(err.code, ErrorCode::TooLarge, "{shown:?}");
            assert!(read_all(&mut s).is_empty());
        } else {
            // The connection is still good for an honest request.
            s.write_all(&download_frame(b"inside", 0, &[], false))
                .unwrap();
            assert!(
                matches!(response(&mut s), Response::File { size: 12, .. }),
                "{shown:?}"
            );
            let mut body = [0u8; 12];
            s.read_exact(&mut body).unwrap();
            assert_eq!(&body, b"hello notes\n");
        }
        // The tutorial way: the same name, bare. Never a byte back. (An empty
        // name cannot be sent: TCP carries no empty message.)
        if !name.is_empty() {
            assert!(tutorial_request(addr, name).is_empty(), "{shown:?}");
        }
    }
    // Resume offsets that make no sense.
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(b"notes.txt", 0, &[], false))
        .unwrap();
    let Response::File { identity, .. } = response(&mut s) else {
        panic!("no FILE")
    };
    let mut body = [0u8; 12];
    s.read_exact(&mut body).unwrap();
    for (offset, id, code) in [
        (13, identity.clone(), ErrorCode::BadRequest),
        (u64::MAX, identity.clone(), ErrorCode::BadRequest),
        (5, Vec::new(), ErrorCode::BadRequest),
        (5, vec![0; 32], ErrorCode::Conflict),
    ] {
        s.write_all(&download_frame(b"notes.txt", offset, &id, false))
            .unwrap();
        let err = expect_error(response(&mut s), "resume");
        assert_eq!(err.code, code, "offset {offset}: {err:?}");
        assert!(!err.closing);
    }
    s.write_all(&download_frame(b"notes.txt", 6, &identity, false))
        .unwrap();
    assert!(matches!(
        response(&mut s),
        Response::File {
            size: 12,
            offset: 6,
            ..
        }
    ));
    let mut rest = [0u8; 6];
    s.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"notes\n");

    // Still serving, and the sentinel was never read.
    let cwd = h.tmp.join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let out = client(&srv, &cwd, &["notes.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    srv.wait_for("download \"notes.txt\" -> ok");
    if atime_works {
        assert_eq!(
            fs::metadata(h.secret()).unwrap().accessed().unwrap(),
            secret_before,
            "the sentinel outside the root was read"
        );
    } else {
        eprintln!("this file system does not update access times: the sentinel check rests on the replies alone");
    }
    // Every refusal is logged, with control characters escaped.
    let log = srv.stdout_lines();
    assert!(
        log.iter().all(|l| !l.chars().any(char::is_control)),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.contains("\\x1b[31mred")), "{log:?}");
    assert!(
        log.iter().all(|l| !l.contains("SENTINEL")),
        "{}",
        srv.transcript()
    );
}

/// Bytes the server sends before the file's own: its hello and the FILE frame.
const BEFORE_DATA: usize = 7 + 4 + 1 + 16 + 1 + 32;

fn interrupted_download(srv: &Running, cwd: &Path, name: &str, cut: usize) {
    let (proxy, release) = cutting_proxy(srv.connect_addr(), Cut::Downstream, BEFORE_DATA + cut);
    let mut client = Spawn::new("download_client")
        .args(["--port", &proxy.port().to_string(), name])
        .current_dir(cwd)
        .start();
    wait_for_size(
        &cwd.join(format!("copy-{name}.part")),
        &format!("{cut}"),
        |n| n == cut as u64,
    );
    client.kill();
    drop(release);
    assert!(!cwd.join(format!("copy-{name}")).exists());
    assert!(cwd.join(format!("copy-{name}.part.info")).exists());
}

#[test]
fn a_killed_download_resumes_and_sends_less() {
    let tmp = TempDir::new("dl-resume");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let size = 24 * MIB as usize;
    fs::write(root.join("big.bin"), pattern(3, size)).unwrap();
    let mut srv = download_server(&root, &[]);
    let cut = 3 * MIB as usize + 12_345;
    interrupted_download(&srv, &cwd, "big.bin", cut);
    let out = client(&srv, &cwd, &["--verify", "big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "download_client: \"big.bin\": resuming copy-big.bin.part at 3.0 MiB of 24.0 MiB"
        ),
        "{err}"
    );
    same_contents(&root.join("big.bin"), &cwd.join("copy-big.bin")).unwrap();
    assert_eq!(files_in(&cwd), vec!["copy-big.bin"]);
    let line = srv.wait_for("(resumed at byte");
    assert!(
        line.contains(&format!("(resumed at byte {cut}), with sha256 (hashed "))
            && line.contains(&format!(" bytes), {} bytes, ", size - cut)),
        "{line}"
    );
}

#[test]
fn a_file_changed_between_runs_is_downloaded_again_whole() {
    let tmp = TempDir::new("dl-changed");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let size = 16 * MIB as usize;
    fs::write(root.join("doc.bin"), pattern(4, size)).unwrap();
    let mut srv = download_server(&root, &[]);
    interrupted_download(&srv, &cwd, "doc.bin", 2 * MIB as usize + 1);
    // Same size, new content, and a modification time that surely differs.
    let newer = pattern(5, size);
    fs::write(root.join("doc.bin"), &newer).unwrap();
    File::options()
        .write(true)
        .open(root.join("doc.bin"))
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    let out = client(&srv, &cwd, &["doc.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("download_client: \"doc.bin\": starting over: \"doc.bin\" changed on the server since the partial download"),
        "{err}"
    );
    assert_eq!(fs::read(cwd.join("copy-doc.bin")).unwrap(), newer);
    assert_eq!(files_in(&cwd), vec!["copy-doc.bin"]);
    srv.wait_for("error: conflict:");
    srv.wait_for(&format!("download \"doc.bin\" -> ok, {size} bytes"));
}

/// The tutorial's request through the binary's own steps: one read of up to
/// 1024 bytes is the name, the file's bytes come back, then the close; a name
/// that cannot be served gets the close alone; each request is one log line.
#[test]
fn a_tutorial_request_is_one_read_the_bytes_and_the_close() {
    let tmp = TempDir::new("dl-tutorial");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let data = pattern(12, 200_000);
    fs::write(root.join("notes.txt"), &data).unwrap();
    let mut srv = download_server(&root, &[]);
    let addr = srv.connect_addr();

    assert_eq!(tutorial_request(addr, b"notes.txt"), data);
    srv.wait_for("tutorial \"notes.txt\" -> ok, 200000 bytes");

    assert!(tutorial_request(addr, b"missing.txt").is_empty());
    srv.wait_for("tutorial \"missing.txt\" -> error: not found: \"missing.txt\" (closed without an answer), 0 bytes");

    // 1500 bytes sent at once: the one read takes the first 1024 as the name,
    // as the Python's recv(1024) would, and nothing more is read.
    assert!(tutorial_request(addr, &[b'a'; 1500]).is_empty());
    srv.wait_for("… (1024 bytes) -> error:");

    // A client that connects and leaves is logged, and the server goes on.
    drop(TcpStream::connect(addr).unwrap());
    srv.wait_for("connected and left without a request");
    assert_eq!(tutorial_request(addr, b"notes.txt"), data);
}

/// The tutorial client's request, from Python, as it sends it on Windows (gbk).
#[test]
fn a_python_tutorial_style_request_gets_the_raw_bytes() {
    let Some(python) = common::python() else {
        return;
    };
    let tmp = TempDir::new("dl-pyclient");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let data = pattern(8, 9000);
    fs::write(root.join("文件.txt"), &data).unwrap();
    let srv = download_server(&root, &["--encoding", "gbk"]);
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(sys.argv[2].encode("gbk"))
data = b""
while True:
    chunk = s.recv(6000)
    if not chunk:
        break
    data += chunk
s.close()
open(sys.argv[3], "wb").write(data)
"#;
    for (name, expected) in [("文件.txt", data.clone()), ("没有.txt", Vec::new())] {
        let got = tmp.join("got");
        let out = python
            .command()
            .args(["-c", script, &srv.port(), name])
            .arg(&got)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(fs::read(&got).unwrap(), expected, "{name}");
    }
}

/// A Python server in the tutorial's style (recv(1024), decode, open, send, close), written for this test.
const PYTHON_TUTORIAL_SERVER: &str = r#"
import socket, sys
enc = sys.argv[1]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(10)
print("listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
while True:
    conn, addr = srv.accept()
    name = conn.recv(1024).decode(enc)
    print("client require file:%s" % name, flush=True)
    try:
        with open(name, "rb") as f:
            content = f.read()
    except Exception:
        content = None
        print("file not found:%s" % name, flush=True)
    if content:
        conn.sendall(content)
    conn.close()
"#;

#[test]
fn raw_mode_downloads_from_a_tutorial_style_python_server() {
    let Some(python) = common::python() else {
        return;
    };
    let tmp = TempDir::new("dl-pyserver");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let data = pattern(9, 250_000);
    fs::write(root.join("文件.bin"), &data).unwrap();
    let mut py = python
        .spawn()
        .args(["-c", PYTHON_TUTORIAL_SERVER, "gbk"])
        .current_dir(&root)
        .server();
    let out = client(&py, &cwd, &["--raw", "--encoding", "gbk", "文件.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-文件.bin")).unwrap(), data);
    py.wait_for("client require file:文件.bin");

    let out = client(&py, &cwd, &["--raw", "missing.txt"]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("nothing received (missing file or empty file"),
        "{}",
        describe(&out)
    );
    assert!(!cwd.join("copy-missing.txt").exists());

    // Without --raw, the client sees no hello and says what to do.
    let out = client(&py, &cwd, &["文件.bin"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr_of(&out).contains("use --raw"), "{}", describe(&out));
}

#[test]
fn garbage_truncated_frames_and_silence_do_not_stop_the_server() {
    let tmp = TempDir::new("dl-garbage");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("ok.txt"), b"still here").unwrap();
    let mut srv = download_server(&root, &["--idle-timeout", "2"]);
    let addr = srv.connect_addr();
    let hello = ClientHello::default().encode();
    let connect = || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    };

    // Silent: connects and never says a word; the server hangs up (after 2 s).
    let mut silent = connect();
    // Binary garbage that is not a hello: a "file name" that is refused, nothing sent.
    assert!(tutorial_request(addr, b"\x01\x02\xfe garbage \x7f").is_empty());
    // Starts like a hello, then is not ours.
    let mut s = connect();
    s.write_all(b"\0XYZ whatever").unwrap();
    assert!(read_all(&mut s).is_empty());
    // Half a hello, then gone.
    let mut s = connect();
    s.write_all(&hello[..3]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert!(read_all(&mut s).is_empty());

    let after_hello = |frame: &[u8]| -> (ServerHello, Vec<u8>) {
        let mut s = connect();
        s.write_all(&hello).unwrap();
        s.write_all(frame).unwrap();
        let h = ServerHello::read_from(&mut s).unwrap().expect("hello");
        (h, read_all(&mut s))
    };
    // A length far over the limit: one ERROR, then close.
    let (_, rest) = after_hello(&[0xff, 0xff, 0xff, 0xff, 0x02]);
    let err = expect_error(
        Response::read_from(&mut &rest[..]).unwrap().unwrap(),
        "huge",
    );
    assert_eq!((err.code, err.closing), (ErrorCode::TooLarge, true));
    // An empty frame, an unknown type, a frame with leftover bytes.
    for frame in [
        &[0, 0, 0, 0][..],
        &[0, 0, 0, 1, 0x42],
        &[0, 0, 0, 5, 0x04, 0, 1, b'a', b'b'],
    ] {
        let (_, rest) = after_hello(frame);
        let err = expect_error(Response::read_from(&mut &rest[..]).unwrap().unwrap(), "bad");
        assert_eq!(
            (err.code, err.closing),
            (ErrorCode::BadRequest, true),
            "{frame:?}"
        );
    }
    // A frame cut short: the server waits for the rest, sees the end, closes without a frame.
    let mut s = connect();
    s.write_all(&hello).unwrap();
    s.write_all(&[0, 0, 0, 100, 0x02, 0, 0]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert!(ServerHello::read_from(&mut s).unwrap().is_some());
    assert!(read_all(&mut s).is_empty());
    // A version we do not speak: our hello names version 2, then an ERROR;
    // a version-1 client is told why its version is gone.
    for (asked, why) in [
        (3, "unsupported protocol version 3 (this side speaks version 2)"),
        (1, "unsupported protocol version 1: this side speaks version 2, in which a token never crosses the network"),
    ] {
        let mut s = connect();
        s.write_all(&ClientHello { version: asked }.encode()).unwrap();
        let h = ServerHello::read_from(&mut s).unwrap().unwrap();
        assert_eq!(h.version, 2);
        let err = expect_error(response(&mut s), "version");
        assert_eq!(
            (err.code, err.closing),
            (ErrorCode::UnsupportedVersion, true)
        );
        assert!(err.message.starts_with(why), "{err:?}");
    }

    // The silent client was dropped; a real client is served all along.
    assert!(read_all(&mut silent).is_empty());
    let out = client(&srv, &cwd, &["ok.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-ok.txt")).unwrap(), b"still here");
    wait_for_all(
        &mut srv,
        &[
            "closed the connection inside a frame",
            // The silent client: the accept loop reports its idle timeout.
            "for 2 s, disconnected",
        ],
    );
}

#[test]
fn five_hundred_idle_connections_do_not_stop_a_download() {
    let tmp = TempDir::new("dl-idle");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let data = pattern(11, MIB as usize + 3);
    fs::write(root.join("real.bin"), &data).unwrap();
    // All from one address here: the per-address limit is another test's.
    let srv = download_server(&root, &["--max-per-address", "0"]);
    let addr = srv.connect_addr();
    let hello = ClientHello::default().encode();
    let mut idle = Vec::new();
    for i in 0..500 {
        let mut s = TcpStream::connect(addr).unwrap();
        match i % 3 {
            0 => {}
            1 => s.write_all(&hello[..4]).unwrap(),
            _ => {
                s.write_all(&hello).unwrap();
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                ServerHello::read_from(&mut s).unwrap().unwrap();
            }
        }
        idle.push(s);
    }
    let out = client(&srv, &cwd, &["real.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-real.bin")).unwrap(), data);
    assert_eq!(idle.len(), 500);
}

#[test]
fn past_max_clients_a_framed_client_is_told_busy() {
    let tmp = TempDir::new("dl-busy");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"a").unwrap();
    File::create(root.join("big.bin"))
        .and_then(|f| f.set_len(48 * MIB))
        .unwrap();
    let srv = download_server(&root, &["--max-clients", "1", "--body-timeout", "0"]);
    // The one place, held by a download in progress (an idle client would be closed to
    // make room).
    let _holder = stalled_download(srv.connect_addr(), b"big.bin");
    let out = client(&srv, &cwd, &["a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("busy: the server already has 1 clients"),
        "{}",
        describe(&out)
    );
    // A tutorial client gets nothing at all (anything would become its file).
    assert!(tutorial_request(srv.connect_addr(), b"a.txt").is_empty());
    assert!(files_in(&cwd).is_empty());
}

/// Sends `bytes` one at a time, `every` apart, on a thread of its own, until they are all
/// sent or the server closes; returns when the server closed, measured from the first byte.
fn drip(
    mut s: TcpStream,
    bytes: Vec<u8>,
    every: Duration,
) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let first = Instant::now();
        for b in bytes {
            if s.write_all(&[b]).is_err() || !common::pace(&mut s, every) {
                return Some(first.elapsed());
            }
        }
        // All of it went out: the server must answer or close; either ends this read.
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let _ = s.read(&mut [0u8; 64]);
        None
    })
}

/// The version identity of `name`, from the FILE frame of a download that is then dropped.
/// The bytes a request's log line says it hashed (` (hashed N bytes)`), 0 when none.
fn hashed_bytes(line: &str) -> u64 {
    line.split(" (hashed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map_or(0, |n| n.parse().unwrap())
}

fn identity_of(addr: SocketAddr, name: &[u8]) -> Vec<u8> {
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(name, 0, &[], false)).unwrap();
    match response(&mut s) {
        Response::File { identity, .. } => identity,
        other => panic!("no FILE: {other:?}"),
    }
}

/// A framed DOWNLOAD of `name` whose FILE frame was read, and then nothing more: the
/// server's writes block, mid-transfer.
fn stalled_download(addr: SocketAddr, name: &[u8]) -> TcpStream {
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(name, 0, &[], false)).unwrap();
    assert!(
        matches!(response(&mut s), Response::File { .. }),
        "a download in progress"
    );
    s
}

/// A hello answered, on a new connection.
fn hello_done(addr: SocketAddr) -> TcpStream {
    let (s, _) = framed(addr);
    s
}

#[test]
fn clients_that_drip_a_hello_or_a_request_lose_their_place_at_the_deadline() {
    let tmp = TempDir::new("dl-drip");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("ok.txt"), b"served").unwrap();
    // Every place taken by a client that sends a byte every 300 ms: far inside the idle
    // timeout, which alone would keep them all for ever.
    let mut srv = download_server(
        &root,
        &[
            "--max-clients",
            "3",
            "--max-per-address",
            "0",
            "--idle-timeout",
            "30",
            "--hello-timeout",
            "1",
            "--request-timeout",
            "1",
        ],
    );
    let addr = srv.connect_addr();
    let every = Duration::from_millis(300);
    let hello = ClientHello::default().encode().to_vec();
    let frame = download_frame(b"ok.txt", 0, &[], false);
    let mut drippers = vec![drip(TcpStream::connect(addr).unwrap(), hello, every)];
    for _ in 0..2 {
        drippers.push(drip(hello_done(addr), frame.clone(), every));
    }
    // The server is full; a fourth client would take the place of the one idle longest
    // (`a_full_server_closes_the_client_idle_longest_to_make_room`), so none comes.
    wait_for_all(
        &mut srv,
        &[
            "hello timeout: 127.0.0.1:",
            "did not finish its hello within 1 s",
            "request timeout: 127.0.0.1:",
        ],
    );
    let held: Vec<Duration> = drippers
        .into_iter()
        .map(|d| d.join().unwrap().expect("the server closed on the dripper"))
        .collect();
    eprintln!("drip clients held their places for {held:?} after their first byte");
    // Its place is free again: a real client is served.
    let out = client(&srv, &cwd, &["ok.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-ok.txt")).unwrap(), b"served");
}

#[test]
fn a_client_that_stops_reading_a_download_is_dropped() {
    let tmp = TempDir::new("dl-stall");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    // Far more than the socket buffers hold, so the server's writes block.
    File::create(root.join("big.bin"))
        .and_then(|f| f.set_len(48 * MIB))
        .unwrap();
    let mut srv = download_server(
        &root,
        &[
            "--body-timeout",
            "1",
            "--min-rate",
            "100000",
            "--idle-timeout",
            "30",
        ],
    );
    let addr = srv.connect_addr();
    // A framed client reads the FILE frame, then nothing.
    let (mut framed_reader, _) = framed(addr);
    framed_reader
        .write_all(&download_frame(b"big.bin", 0, &[], false))
        .unwrap();
    assert!(matches!(
        response(&mut framed_reader),
        Response::File { .. }
    ));
    // A tutorial client asks, then reads nothing.
    let mut tutorial = TcpStream::connect(addr).unwrap();
    tutorial.write_all(b"big.bin").unwrap();
    wait_for_all(
        &mut srv,
        &[
            "download \"big.bin\" -> dropped: too slow: ",
            "tutorial \"big.bin\" -> dropped: too slow: ",
        ],
    );
    // Both connections were closed: what is left in them ends.
    framed_reader.set_read_timeout(Some(TIMEOUT)).unwrap();
    tutorial.set_read_timeout(Some(TIMEOUT)).unwrap();
    let left = read_all(&mut framed_reader).len() + read_all(&mut tutorial).len();
    assert!(left < 2 * 48 * MIB as usize, "{left}");
}

#[test]
fn a_digest_asked_again_or_at_once_is_hashed_once() {
    let tmp = TempDir::new("dl-digest");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let data = pattern(9, MIB as usize + 5);
    let digest = Sha256::digest(&data);
    fs::write(root.join("d.bin"), &data).unwrap();
    let size = data.len() as u64;
    let mut srv = download_server(&root, &[]);
    let addr = srv.connect_addr();
    let identity = identity_of(addr, b"d.bin");
    // The attack of issue 12: the digest with offset == size, nothing sent, four at once.
    let ask = |identity: Vec<u8>| {
        std::thread::spawn(move || {
            let (mut s, _) = framed(addr);
            s.write_all(&download_frame(b"d.bin", size, &identity, true))
                .unwrap();
            let file = response(&mut s);
            assert!(
                matches!(file, Response::File { offset, .. } if offset == size),
                "{file:?}"
            );
            response(&mut s)
        })
    };
    let asks: Vec<_> = (0..4).map(|_| ask(identity.clone())).collect();
    for a in asks {
        assert_eq!(a.join().unwrap(), Response::Digest(digest));
    }
    assert_eq!(
        ask(identity.clone()).join().unwrap(),
        Response::Digest(digest)
    );
    let mut lines = Vec::new();
    while lines.len() < 5 {
        let line = srv.wait_for("download \"d.bin\" -> ok (resumed at byte");
        lines.push(line);
    }
    // Requests at the same time may share the pieces of one hash: what they
    // hashed together is the file, once.
    assert_eq!(
        lines.iter().map(|l| hashed_bytes(l)).sum::<u64>(),
        size,
        "one hash for five requests:\n{lines:#?}"
    );
    // A new version is a new digest.
    let mut more = data.clone();
    more.extend_from_slice(b"tail");
    fs::write(root.join("d.bin"), &more).unwrap();
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(b"d.bin", 0, &[], true))
        .unwrap();
    let Response::File { size: new, .. } = response(&mut s) else {
        panic!("no FILE")
    };
    let mut got = vec![0u8; new as usize];
    s.read_exact(&mut got).unwrap();
    assert_eq!(response(&mut s), Response::Digest(Sha256::digest(&more)));
    let line = srv.wait_for("download \"d.bin\" -> ok, with sha256");
    assert!(!line.contains("remembered"), "{line}");
}

#[test]
fn a_digest_is_not_computed_for_a_client_that_left() {
    let tmp = TempDir::new("dl-digest-left");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    // Long enough to hash that the client has left before it is done (the server looks
    // every MiB).
    let size = 16 * MIB;
    let file = File::create(root.join("big.bin")).unwrap();
    file.set_len(size).unwrap();
    drop(file);
    let mut srv = download_server(&root, &[]);
    let addr = srv.connect_addr();
    let identity = identity_of(addr, b"big.bin");
    // Asks for the digest of 64 MiB, and leaves at once.
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(b"big.bin", size, &identity, true))
        .unwrap();
    drop(s);
    srv.wait_for("download \"big.bin\" -> closed: the client left");
}

/// Issue 20, finding 1: ten clients one after another ask for the digest at
/// `offset == size` and leave; each abandoned hash used to start over from byte
/// 0 and be lost, so the server hashed the file again and again for nothing
/// sent. Now what each one hashed is kept and the next goes on from there: the
/// ten and one that waits for the digest hash the file once between them.
#[test]
fn abandoned_digests_are_resumed_not_repeated() {
    let tmp = TempDir::new("dl-digest-abandoned");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let size = 16 * MIB;
    let data = pattern(20, size as usize);
    fs::write(root.join("big.bin"), &data).unwrap();
    fs::write(root.join("other.bin"), pattern(21, size as usize)).unwrap();
    let mut srv = download_server(&root, &[]);
    let addr = srv.connect_addr();
    let cpu_before = server_cpu(srv.pid());
    let identity = identity_of(addr, b"big.bin");
    // identity_of's own download, which asked for no digest.
    srv.wait_for("download \"big.bin\" -> ");
    let mut lines = Vec::new();
    for _ in 0..10 {
        let (mut s, _) = framed(addr);
        s.write_all(&download_frame(b"big.bin", size, &identity, true))
            .unwrap();
        drop(s);
        lines.push(srv.wait_for("download \"big.bin\" -> "));
    }
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(b"big.bin", size, &identity, true))
        .unwrap();
    assert!(matches!(response(&mut s), Response::File { .. }));
    assert_eq!(response(&mut s), Response::Digest(Sha256::digest(&data)));
    lines.push(srv.wait_for("download \"big.bin\" -> ok"));
    assert_eq!(
        lines.iter().map(|l| hashed_bytes(l)).sum::<u64>(),
        size,
        "eleven requests, one hash between them:\n{lines:#?}"
    );
    // The same in CPU time where it can be read: the eleven cost about what one
    // whole hash of another file of the same size costs, not ten of them.
    let cpu_eleven = server_cpu(srv.pid()).zip(cpu_before).map(|(a, b)| a - b);
    let other = identity_of(addr, b"other.bin");
    let (mut s, _) = framed(addr);
    s.write_all(&download_frame(b"other.bin", size, &other, true))
        .unwrap();
    assert!(matches!(response(&mut s), Response::File { .. }));
    assert!(matches!(response(&mut s), Response::Digest(_)));
    srv.wait_for("download \"other.bin\" -> ok");
    let cpu_one = server_cpu(srv.pid())
        .zip(cpu_eleven.and(cpu_before))
        .map(|(a, b)| a - b);
    match (cpu_eleven, cpu_one, cpu_before) {
        (Some(eleven), Some(total), Some(_)) => {
            let one = total - eleven;
            assert!(
                eleven < 3 * one.max(1),
                "eleven requests took {eleven} ticks of CPU, one whole hash {one}"
            );
        }
        _ => eprintln!("SKIPPED: the server's CPU time (no /proc/PID/stat here); bytes checked"),
    }
}

/// The CPU time (user + system, in clock ticks) of a process, from Linux's /proc.
fn server_cpu(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A framed connection that was served: STAT answered.
fn served(addr: SocketAddr) -> Option<TcpStream> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(&ClientHello::default().encode()).ok()?;
    ServerHello::read_from(&mut s).ok()??;
    Request::Stat { path: Vec::new() }.write_to(&mut s).ok()?;
    match Response::read_from(&mut s).ok()?? {
        Response::Stat(_) => Some(s),
        _ => None,
    }
}

#[test]
fn one_address_cannot_take_every_place() {
    let tmp = TempDir::new("dl-per-address");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    // On `::`, clients come from two addresses of this machine: 127.0.0.1 and ::1
    // (std cannot bind a client to 127.0.0.2 before it connects). Without a dual
    // stack (Windows), 127.0.0.1 alone, and the second address is not tried.
    let limits = [
        "--max-clients",
        "10",
        "--max-per-address",
        "2",
        "--hello-timeout",
        "30",
    ];
    let dual = Spawn::new("download_server")
        .args(["--port", "0", "--bind", "::"])
        .args(limits)
        .args(["--root"])
        .args([&root])
        .start();
    let mut dual = Some(dual);
    let port = dual.as_mut().and_then(|srv| {
        let line = srv.next_line()?;
        let addr = line
            .text()
            .strip_prefix("listening on ")?
            .parse::<SocketAddr>()
            .ok()?;
        Some(addr.port())
    });
    let v4_of = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let (mut srv, v4, v6, first) = match port.and_then(|p| Some((p, served(v4_of(p))?))) {
        Some((port, first)) => {
            let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
            (dual.take().unwrap(), v4_of(port), Some(v6), first)
        }
        None => {
            eprintln!(
                "SKIPPED in one_address_cannot_take_every_place: a second client address \
                 (no IPv4 clients on `::` here), so 127.0.0.1 only"
            );
            drop(dual);
            let srv = download_server(&root, &limits);
            let v4 = srv.connect_addr();
            let first = served(v4).expect("the first connection from 127.0.0.1");
            (srv, v4, None, first)
        }
    };
    let _second = served(v4).expect("the second connection from 127.0.0.1");
    // The third from 127.0.0.1 is told why, in its own protocol...
    let (mut third, _) = framed(v4);
    let err = expect_error(response(&mut third), "third");
    assert_eq!((err.code, err.closing), (ErrorCode::Busy, true));
    assert!(
        err.message
            .contains("your address already has 2 connections"),
        "{err:?}"
    );
    srv.wait_for("hello: busy (2 connections per address at most), closed");
    // ... a tutorial client gets nothing, as for any refusal ...
    assert!(tutorial_request(v4, b"x").is_empty());
    // ... while another address is served.
    let _other = v6.map(|v6| served(v6).expect("::1 is another address"));
    // Two more from 127.0.0.1 that say nothing wait in the turn-away handler; past
    // those two, the accept loop closes at once, without a byte.
    let _quiet: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(v4).unwrap()).collect();
    let mut closed = TcpStream::connect(v4).unwrap();
    closed.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert!(read_all(&mut closed).is_empty());
    srv.wait_for("127.0.0.1 already has 2 connections (--max-per-address 2)");
    // A place given back is a place again.
    drop(first);
    let deadline = Instant::now() + TIMEOUT;
    while served(v4).is_none() {
        assert!(Instant::now() < deadline, "{}", srv.transcript());
    }
}

/// Issue 20, finding 3: silent connections filled `--max-clients`, and a real client was
/// closed without a byte. Now the client idle longest makes room, never one mid-transfer.
#[test]
fn a_full_server_closes_the_client_idle_longest_to_make_room() {
    let tmp = TempDir::new("dl-make-room");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("small.txt"), b"small").unwrap();
    File::create(root.join("big.bin"))
        .and_then(|f| f.set_len(48 * MIB))
        .unwrap();
    // All from 127.0.0.1 (std cannot choose a client's address; the next test can).
    let args = [
        "--max-clients",
        "8",
        "--max-per-address",
        "0",
        "--body-timeout",
        "0",
    ];
    let mut srv = download_server(&root, &args);
    let addr = srv.connect_addr();
    // The oldest connection is a download whose reader has stopped: mid-transfer.
    let mut reader = stalled_download(addr, b"big.bin");
    // Every other place: connections that never say a word, oldest first. The accept loop
    // admits in the order of connection, so the client below comes after them.
    let mut silent: Vec<TcpStream> = (0..7).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let out = client(&srv, &cwd, &["small.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-small.txt")).unwrap(), b"small");
    // The oldest silent one made room, and was told by the close.
    let oldest = silent[0].local_addr().unwrap();
    srv.wait_for(&format!("closed {oldest}: idle for "));
    silent[0].set_read_timeout(Some(TIMEOUT)).unwrap();
    assert!(read_all(&mut silent[0]).is_empty());
    // The others are still connected, and the download goes on.
    for s in &silent[1..] {
        s.set_nonblocking(true).unwrap();
        let err = s.peek(&mut [0u8; 1]).expect_err("still open, nothing sent");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
    }
    reader.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut chunk = vec![0u8; MIB as usize];
    reader.read_exact(&mut chunk).expect("the download goes on");
}

/// The same against a crowd from eight addresses (127.0.0.2 to 127.0.0.9, two connections
/// each, at `--max-per-address`), which a Python peer opens: std cannot bind a client
/// before it connects.
#[test]
fn a_silent_crowd_from_many_addresses_does_not_keep_a_client_out() {
    let Some(python) = common::python() else {
        return;
    };
    let tmp = TempDir::new("dl-crowd");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let args = ["--max-clients", "8", "--max-per-address", "2"];
    let mut srv = download_server(&root, &args);
    let crowd = r#"
import socket, sys
port, addresses = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(addresses):
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.%d" % (2 + i), 0))
        except OSError as e:
            print("cannot bind 127.0.0.%d: %s" % (2 + i, e), flush=True)
            sys.exit(0)
        s.connect(("127.0.0.1", port))
        held.append(s)
print("connected %d" % len(held), flush=True)
sys.stdin.read()
"#;
    let mut crowd = python
        .spawn()
        .args(["-c", crowd, &srv.port(), "8"])
        .piped_stdin()
        .start();
    let line = crowd.next_line().expect("the crowd says how it went");
    if line.text().starts_with("cannot bind") {
        return common::skip(&format!(
            "{} (only 127.0.0.1 on this system's loopback)",
            line.text()
        ));
    }
    assert_eq!(line.text(), "connected 16", "{}", crowd.transcript());
    // Sixteen silent connections for eight places: the second eight made room for
    // themselves, and a client from 127.0.0.1 gets in, at the first try.
    fs::write(root.join("a.txt"), b"served").unwrap();
    let out = client(&srv, &cwd, &["a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"served");
    srv.wait_for("to make room for 127.0.0.1:");
    let closed = srv
        .stdout_lines()
        .iter()
        .filter(|l| l.starts_with("closed 127.0.0.") && l.contains(": idle for "))
        .count();
    assert_eq!(closed, 8 + 1, "{}", srv.transcript());
}

/// A crowd that reconnects as fast as it is closed (545,000 lines in 20 s, once): the
/// closings are logged one by one ten a second at most, the rest counted into one line.
#[test]
fn a_reconnecting_crowd_is_logged_in_a_few_lines_a_second() {
    let tmp = TempDir::new("dl-storm");
    let root = tmp.join("root");
    fs::create_dir_all(&root).unwrap();
    let args = ["--max-clients", "2", "--max-per-address", "0"];
    let srv = download_server(&root, &args);
    let addr = srv.connect_addr();
    let started = Instant::now();
    // The last few are kept open: each newcomer makes room by closing an older one.
    let mut held = std::collections::VecDeque::new();
    let counted = |lines: &[String]| {
        lines
            .iter()
            .find(|l| l.contains("more idle clients to make room in the last"))
            .cloned()
    };
    let mut folded = None;
    for i in 0..200_000 {
        held.push_back(TcpStream::connect(addr).unwrap());
        if held.len() > 8 {
            held.pop_front();
        }
        if i % 200 == 0 {
            folded = counted(&srv.stdout_lines());
            if folded.is_some() {
                break;
            }
        }
    }
    let lines = srv.stdout_lines();
    let elapsed = started.elapsed();
    let folded =
        folded.unwrap_or_else(|| panic!("no line counts the closings\n{}", srv.transcript()));
    let count: u64 = folded
        .strip_prefix("closed ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{folded}"));
    assert!(count > 0, "{folded}");
    let one_by_one = lines
        .iter()
        .filter(|l| l.starts_with("closed 127.0.0.1:") && l.contains(": idle for "))
        .count() as u64;
    // Ten in each second begun, of a storm counted by the second.
    let seconds = elapsed.as_secs() + 1;
    assert!(
        (10..=10 * seconds).contains(&one_by_one),
        "{one_by_one} lines one by one in {elapsed:?}, and {folded}\n{}",
        srv.transcript()
    );
    eprintln!(
        "{} lines in {elapsed:?}, {one_by_one} one by one, and: {folded}",
        lines.len()
    );
}

#[cfg(target_os = "linux")]
fn peak_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A directory of the test's own on tmpfs (`/dev/shm`), where 100,000 entries are made and
/// removed in about a second (ten on this machine's disk); removed when dropped.
#[cfg(target_os = "linux")]
struct ShmDir(PathBuf);

#[cfg(target_os = "linux")]
impl ShmDir {
    fn new(label: &str) -> Option<ShmDir> {
        let path =
            Path::new("/dev/shm").join(format!("socket-tutorial-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).ok().map(|()| ShmDir(path))
    }
}

#[cfg(target_os = "linux")]
impl Drop for ShmDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_listing_nobody_reads_costs_one_chunk_whatever_the_directory_holds() {
    let tmp = TempDir::new("dl-big-dir");
    let shm = ShmDir::new("dl-big-dir");
    let base = shm.as_ref().map_or(tmp.path(), |s| s.0.as_path());
    let (root, cwd) = (base.join("root"), tmp.join("cwd"));
    fs::create_dir_all(root.join("many")).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("ok.txt"), b"still served").unwrap();
    // 100,000 entries with long names, about 25 MB as a whole listing in memory; made
    // as hard links of a few files (ext4 allows 65,000 links to one), which costs a
    // directory entry and no inode each.
    let long = "n".repeat(200);
    let sources: Vec<PathBuf> = (0..4).map(|i| root.join(format!("one{i}"))).collect();
    for source in &sources {
        fs::write(source, b"").unwrap();
    }
    for i in 0..100_000 {
        let link = root.join(format!("many/{long}{i:06}"));
        fs::hard_link(&sources[i % sources.len()], link).unwrap();
    }
    let mut srv = download_server(
        &root,
        &[
            "--body-timeout",
            "2",
            "--min-rate",
            "1000000",
            "--idle-timeout",
            "60",
        ],
    );
    let addr = srv.connect_addr();
    let list = |s: &mut TcpStream| {
        Request::List {
            path: b"many".to_vec(),
            owners: false,
        }
        .write_to(s)
        .unwrap();
    };
    // One listing read whole first: what any server allocates once is in the baseline.
    let (mut s, _) = framed(addr);
    list(&mut s);
    let mut entries = 0;
    loop {
        let Response::Listing { entries: e, last } = response(&mut s) else {
            panic!("not a listing")
        };
        entries += e.len();
        if last {
            break;
        }
    }
    assert_eq!(entries, 100_000);
    let before = peak_kib(srv.pid());
    // Eight clients ask and read one chunk, then nothing.
    let stalled: Vec<TcpStream> = (0..8)
        .map(|_| {
            let (mut s, _) = framed(addr);
            list(&mut s);
            assert!(matches!(
                response(&mut s),
                Response::Listing { last: false, .. }
            ));
            s
        })
        .collect();
    let after = peak_kib(srv.pid());
    let per_listing = (after.saturating_sub(before)) / 8;
    eprintln!("VmHWM {before} KiB before, {after} KiB with 8 stalled listings of 100,000 entries: {per_listing} KiB each");
    assert!(
        after.saturating_sub(before) < 8 * 1024,
        "8 stalled listings took the peak from {before} KiB to {after} KiB"
    );
    // The server still serves, and drops the stalled listings at the body timeout.
    let out = client(&srv, &cwd, &["ok.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    let mut dropped = 0;
    while dropped < stalled.len() {
        srv.wait_for("list \"many\" -> dropped after ");
        dropped += 1;
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn a_listing_nobody_reads_costs_one_chunk_whatever_the_directory_holds() {
    eprintln!("SKIPPED: the peak memory of a process is read from /proc (Linux only)");
}

#[test]
fn stat_list_and_read_only_refusals() {
    let tmp = TempDir::new("dl-stat");
    let root = tmp.join("root");
    fs::create_dir_all(root.join("many")).unwrap();
    fs::write(root.join("notes.txt"), b"12345").unwrap();
    for i in 0..130 {
        fs::write(root.join(format!("many/f{i:03}")), b"").unwrap();
    }
    let srv = download_server(&root, &[]);
    let (mut s, hello) = framed(srv.connect_addr());
    assert!(hello.read_only && !hello.token_required);
    let ask = |s: &mut TcpStream, r: Request| {
        r.write_to(s).unwrap();
        response(s)
    };
    assert_eq!(ask(&mut s, Request::Auth { proof: [0; 32] }), Response::Ok);
    match ask(
        &mut s,
        Request::Stat {
            path: b"notes.txt".to_vec(),
        },
    ) {
        Response::Stat(m) => assert_eq!((m.kind, m.size), (Kind::File, 5)),
        other => panic!("{other:?}"),
    }
    let err = expect_error(
        ask(
            &mut s,
            Request::Stat {
                path: b"../x".to_vec(),
            },
        ),
        "stat",
    );
    assert_eq!(err.code, ErrorCode::OutsideRoot);
    let mut names = Vec::new();
    let mut chunks = 0;
    let mut r = ask(
        &mut s,
        Request::List {
            path: b"many".to_vec(),
            owners: false,
        },
    );
    loop {
        chunks += 1;
        let Response::Listing { entries, last } = r else {
            panic!("{r:?}")
        };
        names.extend(entries.into_iter().map(|e| e.name));
        if last {
            break;
        }
        r = response(&mut s);
    }
    assert_eq!((chunks, names.len()), (2, 130));
    // In the directory's own order: sorting is the client's job.
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 130);
    for write in [
        Request::Mkdir {
            path: b"new".to_vec(),
        },
        Request::RemoveFile {
            path: b"notes.txt".to_vec(),
        },
        Request::Upload {
            path: b"up.txt".to_vec(),
            size: 1,
            identity: vec![],
            resume: false,
            overwrite: false,
            attrs: None,
        },
    ] {
        let err = expect_error(ask(&mut s, write), "write");
        assert_eq!((err.code, err.closing), (ErrorCode::ReadOnly, false));
        assert!(err.message.starts_with("read-only server"), "{err:?}");
    }
    let err = expect_error(ask(&mut s, Request::Auth { proof: [0; 32] }), "late auth");
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(root.join("notes.txt").exists() && !root.join("new").exists());
}

#[test]
fn a_non_loopback_bind_says_the_files_are_exposed() {
    let tmp = TempDir::new("dl-bind");
    let mut srv = Spawn::new("download_server")
        .args(["--port", "0", "--bind", "0.0.0.0", "--root"])
        .args([tmp.path()])
        .server();
    let line = srv.wait_for("warning");
    assert!(line.contains("can be downloaded by anyone"), "{line}");
    let mut local = download_server(tmp.path(), &[]);
    local.wait_for("serving");
    local.kill();
    assert!(
        !local.transcript().contains("warning"),
        "{}",
        local.transcript()
    );
}

#[test]
fn usage_errors_help_and_version() {
    for (bin, python) in [
        ("download_server", "download_server.py"),
        ("download_client", "download_client.py"),
    ] {
        let out = command(bin).arg("--help").output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(&format!("Usage: {bin}")) && help.contains(python),
            "{help}"
        );
        let out = command(bin).arg("--version").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{bin} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
    let out = command("download_client")
        .args(["--raw", "--verify", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = command("download_server")
        .args(["--root", "/no/such/dir", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr_of(&out).starts_with("download_server: error: cannot serve /no/such/dir"),
        "{}",
        describe(&out)
    );
    let out = command("download_server")
        .args(["--encoding", "latin-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

/// download_client's failures go through `cli` like every binary's: one
/// `download_client: error: ...` line for one NAME; with several, one line
/// per failed NAME as it happens and a summary last; exit 1 either way.
#[test]
fn client_errors_are_said_once_each_with_their_exit_codes() {
    let tmp = TempDir::new("dl-client-errors");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let run = |args: &[&str]| {
        command("download_client")
            .args(args)
            .current_dir(&cwd)
            .output()
            .unwrap()
    };
    let lines = |out: &std::process::Output| {
        stderr_of(out)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    // Nobody listening: one line, exit 7 (curl's), nothing on stdout.
    let out = run(&["--port", &closed, "a.txt"]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    let err = lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].starts_with(&format!(
            "download_client: error: cannot connect to 127.0.0.1:{closed}: connection refused"
        )),
        "{err:?}"
    );
    assert!(out.stdout.is_empty());

    // Two NAMEs, both failing: each named, then the summary.
    // Both failed the same way: that way's code.
    let out = run(&["--port", &closed, "--raw", "a.txt", "b.txt"]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    let err = lines(&out);
    assert_eq!(err.len(), 3, "{err:?}");
    assert!(
        err[0].starts_with("download_client: error: cannot connect"),
        "{err:?}"
    );
    assert!(
        err[1].starts_with("download_client: error: cannot connect"),
        "{err:?}"
    );
    assert_eq!(err[2], "download_client: error: 2 of 2 files failed");

    // A NAME with no file name in it is refused by name, before connecting;
    // the other NAME is still downloaded.
    let srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["dir/", "a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        lines(&out),
        vec![
            "download_client: error: \"dir/\": no file name to save it under \
             (it ends in `/`, `.` or `..`); use -o PATH",
            "download_client: \"a.txt\" saved as copy-a.txt (3 B)",
            "download_client: error: 1 of 2 files failed",
        ]
    );
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"aaa");
}

// ---- The client under a hostile or silent server, and its CLI habits (issues 12 and 13). ----

/// A scripted framed server for one connection, on loopback: it answers the
/// client's hello unless `hello` is false, runs `script`, then holds the
/// connection until the client closes it (so silence lasts as long as the
/// client waits). Returns its port.
fn fake_server(
    hello: bool,
    script: impl FnOnce(&mut TcpStream) + Send + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        if hello {
            let mut theirs = [0u8; 6];
            s.read_exact(&mut theirs).unwrap();
            let ours = ServerHello {
                version: socket_tutorial::file_service::protocol::VERSION,
                token_required: false,
                read_only: true,
            };
            s.write_all(&ours.encode()).unwrap();
        }
        script(&mut s);
        let _ = s.read_to_end(&mut Vec::new());
    });
    (port, handle)
}

fn read_request(s: &mut TcpStream) -> Request {
    Request::read_from(s).unwrap().expect("a request")
}

fn file_answer(s: &mut TcpStream, size: u64) {
    Response::File {
        size,
        offset: 0,
        identity: vec![3; 32],
    }
    .write_to(s)
    .unwrap();
}

/// Issue 12 item 4: silence at each step (before the hello, after it,
/// mid-file, before the digest, and from the tutorial's server) ends the wait
/// after `--timeout`, with exit status 1, a message saying what was waited
/// for, and the partial file kept for a resume.
#[test]
fn a_silent_server_is_given_up_at_every_step() {
    /// One step at which the server falls silent.
    struct Silence {
        label: &'static str,
        hello: bool,
        args: &'static [&'static str],
        script: Box<dyn FnOnce(&mut TcpStream) + Send>,
        waited: &'static str,
        kept: Option<&'static [u8]>,
    }
    let steps = vec![
        Silence {
            label: "before-hello",
            hello: false,
            args: &[],
            script: Box::new(|_| {}),
            waited: "waited for its hello",
            kept: None,
        },
        Silence {
            label: "after-hello",
            hello: true,
            args: &[],
            script: Box::new(|s| drop(read_request(s))),
            waited: "waited for the answer to DOWNLOAD",
            kept: None,
        },
        Silence {
            label: "mid-file",
            hello: true,
            args: &[],
            script: Box::new(|s| {
                read_request(s);
                file_answer(s, 10);
                s.write_all(b"part").unwrap();
            }),
            waited: "waited for the rest of the file after 4 of 10 bytes; \
                     copy-notes.part is kept: run again to resume",
            kept: Some(b"part"),
        },
        Silence {
            label: "before-digest",
            hello: true,
            args: &["--verify"],
            script: Box::new(|s| {
                read_request(s);
                file_answer(s, 4);
                s.write_all(b"data").unwrap();
            }),
            waited: "waited for the digest",
            kept: Some(b"data"),
        },
        Silence {
            label: "raw",
            hello: false,
            args: &["--raw"],
            script: Box::new(|s| {
                let mut name = [0u8; 5];
                s.read_exact(&mut name).unwrap();
            }),
            waited: "waited for the file",
            kept: None,
        },
    ];
    let tmp = TempDir::new("dl-silent");
    std::thread::scope(|scope| {
        for Silence {
            label,
            hello,
            args,
            script,
            waited,
            kept,
        } in steps
        {
            let cwd = tmp.join(label);
            fs::create_dir_all(&cwd).unwrap();
            scope.spawn(move || {
                let (port, server) = fake_server(hello, script);
                let started = Instant::now();
                let out = client_command(&cwd)
                    .args(["--port", &port.to_string(), "--timeout", "1"])
                    .args(args)
                    .arg("notes")
                    .output()
                    .unwrap();
                let took = started.elapsed();
                eprintln!("{label}: download_client --timeout 1 gave up after {took:?}");
                server.join().unwrap();
                assert_eq!(out.status.code(), Some(28), "{label}: {}", describe(&out));
                let err = stderr_of(&out);
                assert!(
                    err.starts_with("download_client: error: ")
                        && err.contains(&format!(
                            "timed out: the server 127.0.0.1:{port} was silent for 1 s \
                             (--timeout) while this client {waited}"
                        ))
                        && err.lines().count() == 1,
                    "{label}: {err}"
                );
                match kept {
                    Some(bytes) => {
                        assert_eq!(fs::read(cwd.join("copy-notes.part")).unwrap(), bytes);
                        assert!(cwd.join("copy-notes.part.info").exists(), "{label}");
                    }
                    None => assert!(files_in(&cwd).is_empty(), "{label}: {:?}", files_in(&cwd)),
                }
            });
        }
    });
}

/// Issue 12 item 3: a server that never ends a listing cannot grow the
/// client past its bound; a server silent before a reply is given up.
#[test]
fn a_listing_that_never_ends_is_given_up_at_its_bound() {
    use socket_tutorial::file_service::protocol::{Entry, Meta};
    use socket_tutorial::file_service::transfer::{
        Connection, MAX_LIST_ENTRIES, MAX_LIST_NAME_BYTES,
    };
    // Full chunks of the longest names, so the bound (64 MiB of names; the
    // count of entries is checked in transfer's unit tests) comes soonest.
    let entries = (0..128)
        .map(|_| Entry {
            name: vec![b'n'; 255],
            meta: Meta {
                kind: Kind::File,
                size: 1,
                mtime_ns: 0,
                mode: 0o644,
                owner: None,
            },
        })
        .collect();
    let frame = Response::Listing {
        entries,
        last: false,
    }
    .encode()
    .unwrap();
    let (port, server) = fake_server(true, move |s| {
        read_request(s);
        // Until the client hangs up; a bound on our side too, far past the client's.
        for _ in 0..(2 * MAX_LIST_NAME_BYTES / frame.len()) {
            if s.write_all(&frame).is_err() {
                return;
            }
        }
    });
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn = Connection::open(stream.into(), None, Some(TIMEOUT)).unwrap();
    let err = conn.list(b"dir", false).unwrap_err();
    drop(conn);
    server.join().unwrap();
    assert!(!err.connection_usable());
    let err = err.to_string();
    assert!(
        err.starts_with("the listing of \"dir\" passed ")
            && err.contains(&format!(
                "more than this client takes in one listing \
                 ({MAX_LIST_ENTRIES} entries, {MAX_LIST_NAME_BYTES} bytes)"
            )),
        "{err}"
    );

    let (port, server) = fake_server(true, |s| drop(read_request(s)));
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn = Connection::open(stream.into(), None, Some(Duration::from_secs(1))).unwrap();
    let err = conn.list(b"", false).unwrap_err();
    drop(conn);
    server.join().unwrap();
    assert!(!err.connection_usable());
    assert!(
        err.to_string()
            .contains("was silent for 1 s (--timeout) while this client waited for the listing"),
        "{err}"
    );
}

/// Issue 12 item 6: a user's own `NAME.part` and `NAME.part.info` are never
/// continued, truncated or removed, by download_client (framed or --raw) or
/// by `Connection::download`; the refusal says what to do, and the
/// connection stays usable.
#[test]
fn a_users_own_part_files_are_left_alone() {
    use socket_tutorial::file_service::transfer::{Connection, DownloadOptions, TransferError};
    let tmp = TempDir::new("dl-own-part");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("notes"), b"the server's notes").unwrap();
    let srv = download_server(&root, &[]);
    let (part, info) = (
        cwd.join("copy-notes.part"),
        cwd.join("copy-notes.part.info"),
    );
    let untouched = || {
        assert_eq!(fs::read(&part).unwrap(), b"my own draft");
        assert_eq!(fs::read(&info).unwrap(), b"my own notes about it");
        assert!(!cwd.join("copy-notes").exists());
    };
    fs::write(&part, b"my own draft").unwrap();
    fs::write(&info, b"my own notes about it").unwrap();
    for extra in [&[][..], &["--raw"], &["--force"]] {
        let out = client(&srv, &cwd, &[extra, &["notes"]].concat());
        assert_eq!(out.status.code(), Some(23), "{extra:?}: {}", describe(&out));
        assert_eq!(
            stderr_of(&out),
            "download_client: error: \"notes\": copy-notes.part exists and was not left by a \
             download of \"notes\" from 127.0.0.1: it is left alone; move it away, or save the \
             download under another name\n",
            "{extra:?}"
        );
        untouched();
    }
    let out = client(&srv, &cwd, &["-o", "elsewhere", "notes"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        fs::read(cwd.join("elsewhere")).unwrap(),
        b"the server's notes"
    );
    untouched();

    let stream = TcpStream::connect(srv.connect_addr()).unwrap();
    let mut conn = Connection::open(stream.into(), None, Some(TIMEOUT)).unwrap();
    for resume in [true, false] {
        let options = DownloadOptions {
            resume,
            ..DownloadOptions::default()
        };
        let err = conn
            .download(b"notes", &cwd.join("copy-notes"), options, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TransferError::Local(_)), "{err}");
        assert!(
            err.to_string().contains("was not left by a download of"),
            "{err}"
        );
        untouched();
    }
    // Refused before a byte was asked for: the connection is in step.
    assert_eq!(conn.stat(b"notes").unwrap().size, 18);
}

/// Issue 13 item 3: a download whose local write fails leaves the
/// connection in step (what is left of the file is read and dropped), so
/// the next request on it works; with more than `DRAIN_LIMIT` left the
/// connection is closed instead. Either way the error names the local cause.
#[test]
fn a_local_failure_keeps_the_connection_in_step() {
    use socket_tutorial::file_service::transfer::{
        Connection, DownloadOptions, TransferError, DRAIN_LIMIT,
    };
    let tmp = TempDir::new("dl-local-fail");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(cwd.join("out/a.txt")).unwrap();
    let small = pattern(1, 100_000);
    fs::write(root.join("small.bin"), &small).unwrap();
    fs::write(
        root.join("big.bin"),
        pattern(2, DRAIN_LIMIT as usize + 4096),
    )
    .unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    fs::write(root.join("b.txt"), b"bbb").unwrap();
    let mut srv = download_server(&root, &[]);
    let missing = cwd.join("no-such-folder").join("x.bin");
    let stream = TcpStream::connect(srv.connect_addr()).unwrap();
    let local = stream.local_addr().unwrap().port();
    let mut conn = Connection::open(stream.into(), None, Some(TIMEOUT)).unwrap();
    for verify in [false, true] {
        let options = DownloadOptions {
            verify,
            ..DownloadOptions::default()
        };
        let err = conn
            .download(b"small.bin", &missing, options, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TransferError::Local(_)), "{err}");
        assert!(err.connection_usable());
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot write {}",
                cwd.join("no-such-folder").join("x.bin.part.info").display()
            )),
            "{text}"
        );
        // The same connection: the next request is answered, not read as file data.
        let got = cwd.join(format!("small-{verify}.bin"));
        conn.download(b"small.bin", &got, options, &mut |_| {})
            .unwrap();
        assert_eq!(fs::read(&got).unwrap(), small);
    }
    let err = conn
        .download(
            b"big.bin",
            &missing,
            DownloadOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(!err.connection_usable(), "{err}");
    assert!(
        err.to_string().starts_with("cannot write ")
            && err.to_string().contains("(the connection was closed: "),
        "{err}"
    );
    for _ in 0..4 {
        srv.wait_for(&format!("127.0.0.1:{local} download \"small.bin\""));
    }

    // download_client: a.txt cannot be renamed into place (a folder is in
    // the way); b.txt still comes, over the same connection.
    let out = client(&srv, &cwd, &["-o", "out", "a.txt", "b.txt"]);
    assert_eq!(out.status.code(), Some(23), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("download_client: error: \"a.txt\": cannot rename "),
        "{err}"
    );
    assert_eq!(fs::read(cwd.join("out/b.txt")).unwrap(), b"bbb");
    let a = srv.wait_for("download \"a.txt\" -> ok");
    let b = srv.wait_for("download \"b.txt\" -> ok");
    let port_of = |line: &str| line.split(' ').next().unwrap().to_owned();
    assert_eq!(
        port_of(&a),
        port_of(&b),
        "one connection for both:\n{a}\n{b}"
    );
}

/// Issue 13 item 4: the permission bits travel without -p, masked by the
/// receiving side's umask: 0600 and 0755 on unix, the read-only bit on Windows.
#[test]
fn mode_bits_travel_both_ways_without_dash_p() {
    use socket_tutorial::file_service::file_meta;
    use socket_tutorial::file_service::transfer::{Connection, DownloadOptions, UploadOptions};
    let tmp = TempDir::new("dl-modes");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let srv = download_server(&root, &["--writable"]);
    let stream = TcpStream::connect(srv.connect_addr()).unwrap();
    let mut conn = Connection::open(stream.into(), None, Some(TIMEOUT)).unwrap();
    let mode_of = |p: &Path| file_meta::mode_bits(&fs::metadata(p).unwrap());
    let cases: &[(&str, u16)] = if cfg!(unix) {
        &[("secret.txt", 0o600), ("run.sh", 0o755)]
    } else {
        &[("locked.txt", 0o444), ("open.txt", 0o644)]
    };
    for &(name, mode) in cases {
        let local = cwd.join(name);
        fs::write(&local, name).unwrap();
        file_meta::apply_to_path(&local, 0, mode).unwrap();
        let mtime = fs::metadata(&local).unwrap().modified().unwrap();
        conn.upload(
            &local,
            name.as_bytes(),
            UploadOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let expected = mode & !file_meta::umask();
        assert_eq!(mode_of(&root.join(name)), expected, "{name} on the server");
        // Without -p the time is the time of writing, not the source's.
        assert_ne!(
            fs::metadata(root.join(name)).unwrap().modified().unwrap(),
            mtime
        );
        let meta = conn.stat(name.as_bytes()).unwrap();
        let back = cwd.join(format!("back-{name}"));
        let options = DownloadOptions {
            mode: Some(meta.mode),
            ..DownloadOptions::default()
        };
        conn.download(name.as_bytes(), &back, options, &mut |_| {})
            .unwrap();
        assert_eq!(mode_of(&back), expected, "{name} back here");
        assert_eq!(fs::read(&back).unwrap(), name.as_bytes());
    }
}

/// Issue 13 item 9: `-o -` writes exactly the file's bytes to standard
/// output (a digest, if asked for, goes to stderr), framed or --raw, and only
/// for one NAME; a reader that stops early ends it quietly.
#[test]
fn dash_o_dash_writes_the_file_to_standard_output() {
    let tmp = TempDir::new("dl-stdout");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let data = pattern(9, 3 * MIB as usize + 5);
    fs::write(root.join("f.bin"), &data).unwrap();
    let srv = download_server(&root, &[]);
    for extra in [&[][..], &["--raw"], &["--verify"]] {
        let out = client(&srv, &cwd, &[&["-o", "-"], extra, &["f.bin"]].concat());
        assert!(out.status.success(), "{extra:?}: {}", describe(&out));
        assert!(
            out.stdout == data,
            "{extra:?}: {} bytes on stdout",
            out.stdout.len()
        );
        let expected_err = match extra {
            ["--verify"] => format!("{}  -\n", sha256::hex(&Sha256::digest(&data))),
            _ => String::new(),
        };
        assert_eq!(stderr_of(&out), expected_err, "{extra:?}");
        assert!(files_in(&cwd).is_empty(), "{:?}", files_in(&cwd));
    }
    let out = client(&srv, &cwd, &["-o", "-", "f.bin", "g.bin"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr_of(&out).contains("-o - writes one file to standard output"));
    let out = client(&srv, &cwd, &["-o", "-", "nope.bin"]);
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    assert!(out.stdout.is_empty());

    // `download_client -o - f.bin | head -c 10`: the pipe closes early, and that is no error.
    let mut child = std::process::Command::new(common::bin("download_client"))
        .args(["--port", &srv.port(), "-o", "-", "f.bin"])
        .current_dir(&cwd)
        .env("XDG_STATE_HOME", state_dir(&cwd))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first[..], &data[..10]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stderr_of(&out), "");
}

/// Issue 13 item 9: `-o DIR/` makes the folder (curl's --create-dirs), for
/// one NAME or several.
#[test]
fn dash_o_dir_slash_makes_the_folder() {
    let tmp = TempDir::new("dl-newdir");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    fs::write(root.join("docs/b.txt"), b"bbb").unwrap();
    let srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["-o", "new/deeper/", "a.txt", "docs/b.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(files_in(&cwd.join("new/deeper")), vec!["a.txt", "b.txt"]);
    let out = client(&srv, &cwd, &["-o", "one/", "a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("one/a.txt")).unwrap(), b"aaa");
    // Without the slash, a missing folder is a file name, as before.
    let out = client(&srv, &cwd, &["-o", "plain", "a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("plain")).unwrap(), b"aaa");
    // A file where the folder should be: said, exit 1.
    let out = client(&srv, &cwd, &["-o", "plain/", "a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr_of(&out).starts_with("download_client: error: cannot create plain/"));
}

/// Issue 13 item 9: a rerun after a finished download says it is already
/// complete and fetches nothing, while the copy here is as it was left and
/// the server has the same version; `--force` fetches anyway; a changed copy
/// or a changed file is fetched again. Nothing is left next to the file.
#[test]
fn a_finished_download_is_not_fetched_again() {
    let tmp = TempDir::new("dl-complete");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    let data = pattern(4, 2 * MIB as usize);
    let size = data.len();
    fs::write(root.join("big.bin"), &data).unwrap();
    let mut srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    srv.wait_for(&format!("download \"big.bin\" -> ok, {size} bytes"));

    let complete = "download_client: \"big.bin\": copy-big.bin is already complete (2.0 MiB); --force fetches it again\n";
    let out = client(&srv, &cwd, &["big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stderr_of(&out), complete);
    srv.wait_for(&format!(
        "download \"big.bin\" -> ok (resumed at byte {size}), 0 bytes"
    ));
    // --verify checks the copy here against the server's digest, still fetching nothing.
    let out = client(&srv, &cwd, &["--verify", "big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stderr_of(&out), complete);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}  copy-big.bin\n", sha256::hex(&Sha256::digest(&data)))
    );
    srv.wait_for(&format!(
        "download \"big.bin\" -> ok (resumed at byte {size}), with sha256 (hashed {size} bytes), 0 bytes"
    ));
    let out = client(&srv, &cwd, &["--force", "big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "download_client: \"big.bin\" saved as copy-big.bin ({})\n",
            human_bytes(size as u64)
        )
    );
    srv.wait_for(&format!("download \"big.bin\" -> ok, {size} bytes"));
    assert_eq!(files_in(&cwd), vec!["copy-big.bin"]);

    // The copy here changed: it is not the version that was saved.
    // (-q: not even the `saved` line.)
    fs::write(cwd.join("copy-big.bin"), b"edited").unwrap();
    let out = client(&srv, &cwd, &["-q", "big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stderr_of(&out), "");
    assert_eq!(fs::read(cwd.join("copy-big.bin")).unwrap(), data);
    srv.wait_for(&format!("download \"big.bin\" -> ok, {size} bytes"));

    // The server's file changed: said, and fetched again.
    let newer = pattern(5, size);
    fs::write(root.join("big.bin"), &newer).unwrap();
    File::options()
        .write(true)
        .open(root.join("big.bin"))
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    let out = client(&srv, &cwd, &["big.bin"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "download_client: \"big.bin\": starting over: \"big.bin\" changed on the server since it was saved as copy-big.bin\n\
             download_client: \"big.bin\" saved as copy-big.bin ({})\n",
            human_bytes(size as u64)
        )
    );
    assert_eq!(fs::read(cwd.join("copy-big.bin")).unwrap(), newer);
    assert_eq!(files_in(&cwd), vec!["copy-big.bin"]);
    let records = state_dir(&cwd).join("socket-tutorial").join("downloads");
    assert_eq!(files_in(&records).len(), 1, "one record per saved file");
}

/// Issue 13 item 9: `--host HOST:PORT` and `--host [IPv6]:PORT`, with
/// `--port` still working and two ports that disagree refused.
#[test]
fn the_host_may_carry_the_port() {
    let tmp = TempDir::new("dl-host-port");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    let v4 = download_server(&root, &[]);
    let v6 = download_server(&root, &["--bind", "::1"]);
    let run = |args: &[&str]| client_command(&cwd).args(args).output().unwrap();
    for (i, args) in [
        vec!["--host".to_string(), format!("127.0.0.1:{}", v4.port())],
        vec!["--host".to_string(), format!("[::1]:{}", v6.port())],
        vec![
            "--port".to_string(),
            v4.port(),
            "--host".to_string(),
            format!("localhost:{}", v4.port()),
        ],
    ]
    .iter()
    .enumerate()
    {
        let out_name = format!("a{i}.txt");
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-o", &out_name, "a.txt"]);
        let out = run(&all);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        assert_eq!(fs::read(cwd.join(&out_name)).unwrap(), b"aaa");
    }
    let out = run(&["--host", "127.0.0.1:5", "--port", "6", "a.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stderr_of(&out).starts_with(
            "download_client: error: two different ports given: 5 with the host and 6 as the port option"
        ),
        "{}",
        describe(&out)
    );
    common::assert_usage_error("download_client", &["--host", "[::1:5", "a.txt"]);
    common::assert_usage_error("download_client", &["--host", "h:0", "a.txt"]);
}

/// Issue 12 item 8 in download_client: a server's message is shown, never
/// obeyed: newlines, escape sequences and bidi controls arrive escaped on one line.
#[test]
fn a_servers_message_is_shown_escaped_on_one_line() {
    let (port, server) = fake_server(true, |s| {
        read_request(s);
        let message = "not found: x\n127.0.0.1:1: forged\x1b[2J\u{202e}txt.exe";
        Response::Error(ErrorReply::new(ErrorCode::NotFound, message))
            .write_to(s)
            .unwrap();
    });
    let tmp = TempDir::new("dl-escape");
    let out = client_command(tmp.path())
        .args(["--port", &port.to_string(), "x"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", describe(&out));
    assert_eq!(
        stderr_of(&out),
        "download_client: error: not found: x\\n127.0.0.1:1: forged\\x1b[2J\\u{202e}txt.exe\n"
    );
}

/// `--root=DIR` and `--root DIR` name the same directory, also when its name is not UTF-8
/// (the parser's unit tests cover the same on Windows, where such a name is an unpaired
/// surrogate that Wine cannot put on disk reliably).
#[cfg(unix)]
#[test]
fn a_root_whose_name_is_not_utf8_is_taken_with_or_without_equals() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    let tmp = TempDir::new("dl-root-bytes");
    let root = tmp.join(OsStr::from_bytes(b"r\xffoot"));
    let cwd = tmp.join("cwd");
    if let Err(e) = fs::create_dir_all(&root) {
        // macOS's APFS, for one, takes only names that are UTF-8.
        return common::skip(&format!(
            "this file system refuses a directory name that is not UTF-8 ({e})"
        ));
    }
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("notes.txt"), b"from a root named in bytes\n").unwrap();
    let mut joined = OsString::from("--root=");
    joined.push(&root);
    let spellings = [
        vec![joined],
        vec!["--root".into(), root.clone().into_os_string()],
    ];
    for spelling in spellings {
        let srv = Spawn::new("download_server")
            .args(["--port", "0"])
            .args(&spelling)
            .server();
        let out = client(&srv, &cwd, &["-o", "-", "notes.txt"]);
        assert!(out.status.success(), "{spelling:?}: {}", describe(&out));
        assert_eq!(out.stdout, b"from a root named in bytes\n", "{spelling:?}");
    }
}

/// Issue 20, finding 5: a server that answers LIST with LISTING frames that hold no entry and
/// never say LAST kept file_shell busy forever (the bounds counted entries and names, not
/// frames, and --timeout never fired: the server was never silent). A frame without progress
/// now ends the listing at once.
#[test]
fn endless_empty_listing_frames_end_the_listing() {
    let tmp = TempDir::new("empty-listing");
    let (port, server) = fake_server(true, |s| loop {
        match read_request(s) {
            // The shell looks at the folder it starts in first: a directory.
            Request::Stat { .. } => Response::Stat(socket_tutorial::file_service::protocol::Meta {
                kind: Kind::Dir,
                size: 0,
                mtime_ns: 0,
                mode: 0o755,
                owner: None,
            })
            .write_to(s)
            .unwrap(),
            _ => {
                let empty = Response::Listing {
                    entries: Vec::new(),
                    last: false,
                };
                // As fast as the client reads, until it hangs up.
                while empty.write_to(s).is_ok() {}
                return;
            }
        }
    });
    fs::write(tmp.join("batch"), "ls\n").unwrap();
    let started = Instant::now();
    let out = command("file_shell")
        .args(["--timeout", "3", "-P", &port.to_string(), "-b"])
        .arg(tmp.join("batch"))
        .arg("127.0.0.1")
        .output()
        .unwrap();
    let took = started.elapsed();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("a LISTING of \"\" that holds no entry and is not the last"),
        "{err}"
    );
    // Not a timing assertion: the command's own deadline would have killed a spinning client.
    eprintln!("file_shell gave up the endless empty listing after {took:?}");
}

/// A server whose every folder holds `fanout` folders, without end: STAT says folder, LIST
/// lists `d0`, `d1`, ..., for as long as the client asks. Returns its port.
fn endless_tree(fanout: usize) -> (u16, std::thread::JoinHandle<()>) {
    use socket_tutorial::file_service::protocol::{Entry, Meta};
    let dir = Meta {
        kind: Kind::Dir,
        size: 0,
        mtime_ns: 0,
        mode: 0o755,
        owner: None,
    };
    fake_server(true, move |s| {
        while let Ok(Some(request)) = Request::read_from(s) {
            let answer = match request {
                Request::Stat { .. } => Response::Stat(dir),
                Request::List { .. } => Response::Listing {
                    entries: (0..fanout)
                        .map(|i| Entry {
                            name: format!("d{i}").into_bytes(),
                            meta: dir,
                        })
                        .collect(),
                    last: true,
                },
                _ => return,
            };
            if answer.write_to(s).is_err() {
                return;
            }
        }
    })
}

/// How many folders deep `dir` goes, following the first folder at each level.
fn depth_of(dir: &Path) -> usize {
    let mut depth = 0;
    let mut at = dir.to_path_buf();
    while let Some(next) = fs::read_dir(&at)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.path())
    {
        depth += 1;
        at = next;
    }
    depth
}

/// Issue 20, finding 4: against a server whose folders never end, `get -r` built a local
/// tree 2,033 levels deep (stopped only by PATH_MAX) and never finished. It now stops 64
/// folders down, as sftp does, and says so; `--max-depth` moves the bound.
#[test]
fn get_r_stops_at_depth_64_against_a_tree_without_end() {
    let tmp = TempDir::new("endless-depth");
    let (port, server) = endless_tree(1);
    fs::write(tmp.join("batch"), "get -r top\n").unwrap();
    let out = command("file_shell")
        .current_dir(tmp.path())
        .args([
            "--timeout",
            "5",
            "-P",
            &port.to_string(),
            "-b",
            "batch",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("not copied: deeper than --max-depth 64 folders"),
        "{}",
        describe(&out)
    );
    // `top` and 64 folders below it.
    assert_eq!(depth_of(&tmp.join("top")), 64, "{}", describe(&out));
    eprintln!(
        "get -r reached depth {} below top",
        depth_of(&tmp.join("top"))
    );
}

/// The other bound of finding 4: a wide tree stops at `--max-entries`, said once.
#[test]
fn get_r_stops_at_max_entries_and_says_so_once() {
    let tmp = TempDir::new("endless-width");
    let (port, server) = endless_tree(3);
    fs::write(tmp.join("batch"), "get -r top\n").unwrap();
    let out = command("file_shell")
        .current_dir(tmp.path())
        .args([
            "--max-entries",
            "10",
            "--timeout",
            "5",
            "-P",
            &port.to_string(),
        ])
        .args(["-b", "batch", "127.0.0.1"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr_of(&out);
    assert_eq!(
        err.matches("get -r stopped: more than --max-entries 10 entries")
            .count(),
        1,
        "{err}"
    );
    let mut made = 0;
    let mut stack = vec![tmp.join("top")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            made += 1;
            stack.push(entry.unwrap().path());
        }
    }
    assert_eq!(made, 10, "{err}");
}

/// `put -r` has the same bound: a local tree deeper than `--max-depth` is copied down to it,
/// and the folder past it is named.
#[test]
fn put_r_stops_at_max_depth() {
    let tmp = TempDir::new("put-depth");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    let mut deep = cwd.join("top");
    for _ in 0..8 {
        deep = deep.join("d");
    }
    fs::create_dir_all(&deep).unwrap();
    let srv = download_server(&root, &["--writable"]);
    fs::write(tmp.join("batch"), "put -r top\n").unwrap();
    let out = command("file_shell")
        .current_dir(&cwd)
        .args(["--max-depth", "3", "-P", &srv.port(), "-b"])
        .arg(tmp.join("batch"))
        .arg("127.0.0.1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        // The path as the system writes it (backslashes on Windows).
        stderr_of(&out)
            .replace('\\', "/")
            .contains("top/d/d/d/d: not copied: deeper than --max-depth 3 folders"),
        "{}",
        describe(&out)
    );
    assert_eq!(depth_of(&root.join("top")), 3);
}

/// Issue 20, finding 9: with every place and the busy grace taken, the server closes a new
/// connection without a byte, and the clients said it "does not speak download_client's
/// protocol (use --raw)". They now say it may be busy.
#[test]
fn a_client_locked_out_is_told_the_server_may_be_busy() {
    let tmp = TempDir::new("locked-out");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"a").unwrap();
    let args = [
        "--max-clients",
        "1",
        "--max-per-address",
        "1",
        "--hello-timeout",
        "30",
    ];
    let srv = download_server(&root, &args);
    // The one place, then the two seats one address may hold while being told `busy`, all
    // three held by connections that never send their hello. The accept loop admits in the
    // order of connection, so the client below comes after them.
    let _held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(srv.connect_addr()).unwrap())
        .collect();
    let out = client(&srv, &cwd, &["a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("the connection without answering the hello: it is busy"),
        "{err}"
    );
}

/// Issue 20, finding 6: on a resume, a FILE frame at the offset asked for but of another
/// version (a server that ignored the identity it was sent) was taken: the old bytes and the
/// new ones were saved as one file, exit 0. The client now drops the other version's bytes,
/// starts over from zero and says so.
#[test]
fn a_resume_answered_with_another_version_starts_over() {
    let tmp = TempDir::new("resume-other-version");
    let cwd = tmp.join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    let (old, new) = (b"old-version", b"NEW-VERSION");
    // First run: version 1, cut after 4 bytes.
    let (port, server) = fake_server(true, move |s| {
        let _ = read_request(s);
        Response::File {
            size: old.len() as u64,
            offset: 0,
            identity: vec![1; 32],
        }
        .write_to(s)
        .unwrap();
        s.write_all(&old[..4]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
    });
    let out = client_command(&cwd)
        .args(["--port", &port.to_string(), "a.txt"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-a.txt.part")).unwrap(), &old[..4]);
    // Second run: the server answers the resume with version 2's bytes from offset 4, then,
    // asked again from zero, with all of version 2.
    let (port, server) = fake_server(true, move |s| {
        for offset in [4u64, 0] {
            match read_request(s) {
                Request::Download { offset: asked, .. } => assert_eq!(asked, offset),
                other => panic!("expected DOWNLOAD, got {other:?}"),
            }
            Response::File {
                size: new.len() as u64,
                offset,
                identity: vec![2; 32],
            }
            .write_to(s)
            .unwrap();
            s.write_all(&new[offset as usize..]).unwrap();
        }
    });
    let out = client_command(&cwd)
        .args(["--port", &port.to_string(), "a.txt"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), new);
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "starting over: \"a.txt\" on the server is not the version the partial download holds"
        ),
        "{err}"
    );
}

/// Issue 20, finding 7: a full disk left a 0-byte `NAME.part.info` (the record was written in
/// place), and the next run refused it as not left by a download. Records are now written
/// whole (aside, then renamed), and a half-written one of ours is recognised and replaced.
#[test]
fn a_half_written_record_does_not_block_the_retry() {
    let tmp = TempDir::new("half-record");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"all of it").unwrap();
    fs::write(cwd.join("copy-a.txt.part.info"), b"").unwrap();
    let srv = download_server(&root, &[]);
    let out = client(&srv, &cwd, &["a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"all of it");
    assert!(!cwd.join("copy-a.txt.part.info").exists());
}

/// Issue 20, finding 10: `get ./* .` from a hostile server created local files named with
/// terminal escapes, a bidi override, `-rf` and `copy-ok.txt.part`. Such names are now
/// refused by default, each named escaped; our own partial names always.
#[test]
fn get_refuses_local_names_that_drive_a_terminal_or_read_as_options() {
    use socket_tutorial::file_service::protocol::{Entry, Meta};
    let tmp = TempDir::new("hostile-local-names");
    let names: Vec<&[u8]> = vec![
        b"ok.txt",
        b"\x1b]0;pwned\x07title",
        "rtl\u{202e}txt.exe".as_bytes(),
        b"-rf",
        b"copy-ok.txt.part",
    ];
    let file = Meta {
        kind: Kind::File,
        size: 2,
        mtime_ns: 0,
        mode: 0o644,
        owner: None,
    };
    let listed: Vec<Entry> = names
        .iter()
        .map(|n| Entry {
            name: n.to_vec(),
            meta: file,
        })
        .collect();
    let (port, server) = fake_server(true, move |s| {
        while let Ok(Some(request)) = Request::read_from(s) {
            let answer = match request {
                Request::Stat { ref path } if path.is_empty() => Response::Stat(Meta {
                    kind: Kind::Dir,
                    ..file
                }),
                Request::Stat { .. } => Response::Stat(file),
                Request::List { .. } => Response::Listing {
                    entries: listed.clone(),
                    last: true,
                },
                Request::Download { .. } => {
                    let head = Response::File {
                        size: 2,
                        offset: 0,
                        identity: vec![5; 32],
                    };
                    if head.write_to(s).is_err() || s.write_all(b"ok").is_err() {
                        return;
                    }
                    continue;
                }
                _ => return,
            };
            if answer.write_to(s).is_err() {
                return;
            }
        }
    });
    fs::write(tmp.join("batch"), "get ./* .\n").unwrap();
    let here = tmp.join("here");
    fs::create_dir_all(&here).unwrap();
    let out = command("file_shell")
        .current_dir(&here)
        .args(["--timeout", "5", "-P", &port.to_string(), "-b"])
        .arg(tmp.join("batch"))
        .arg("127.0.0.1")
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let made: Vec<String> = fs::read_dir(&here)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made, ["ok.txt"], "{}", describe(&out));
    let err = stderr_of(&out);
    for refused in [
        r"/\x1b]0;pwned\x07title: not saved here: the name holds a control",
        r"/rtl\u{202e}txt.exe: not saved here: the name holds a control",
        "/-rf: not saved here: the name begins with -",
        "/copy-ok.txt.part: not saved here: the name ends like this client's own partial files",
    ] {
        assert!(err.contains(refused), "{refused}\n{err}");
    }
    assert!(
        !err.contains('\x1b'),
        "what the server sent is shown escaped: {err}"
    );
}

// ---- Issue 21: curl's habits and exit codes, and the names file_shell shows. ----

/// Items 3 and 4: `/docs/a.txt` as file_shell's pwd shows it was refused as
/// an absolute path; -O, -s and -q were unknown; a run said nothing of where
/// the file went.
#[test]
fn root_absolute_names_dash_capital_o_silent_and_the_saved_line() {
    let tmp = TempDir::new("dl-curl-habits");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("docs/a.txt"), b"aaa").unwrap();
    let srv = download_server(&root, &[]);

    let out = client(&srv, &cwd, &["/docs/a.txt"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr_of(&out),
        "download_client: \"docs/a.txt\" saved as copy-a.txt (3 B)\n"
    );
    assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"aaa");

    // -O: the file's own name, as curl -O; --raw takes root-absolute names too.
    for extra in [&[][..], &["--raw"]] {
        let out = client(&srv, &cwd, &[extra, &["-O", "/docs/a.txt"]].concat());
        assert!(out.status.success(), "{extra:?}: {}", describe(&out));
        assert_eq!(
            stderr_of(&out),
            "download_client: \"docs/a.txt\" saved as a.txt (3 B)\n",
            "{extra:?}"
        );
        assert_eq!(fs::read(cwd.join("a.txt")).unwrap(), b"aaa");
        fs::remove_file(cwd.join("a.txt")).unwrap();
    }

    // -s, --silent, -q, --quiet: nothing but errors, which are still said.
    for quiet in ["-s", "--silent", "-q", "--quiet"] {
        let out = client(&srv, &cwd, &[quiet, "--force", "-O", "docs/a.txt"]);
        assert!(out.status.success(), "{quiet}: {}", describe(&out));
        assert_eq!(stderr_of(&out), "", "{quiet}");
        assert!(out.stdout.is_empty(), "{quiet}");
        assert_eq!(fs::read(cwd.join("a.txt")).unwrap(), b"aaa");
        let out = client(&srv, &cwd, &[quiet, "/nope.txt"]);
        assert_eq!(out.status.code(), Some(78), "{quiet}: {}", describe(&out));
        assert_eq!(
            stderr_of(&out),
            "download_client: error: not found: \"nope.txt\"\n",
            "{quiet}"
        );
    }

    // Above the root is still refused, now with its own code (9).
    let out = client(&srv, &cwd, &["/../x"]);
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(
        stderr_of(&out).contains("outside the served root"),
        "{}",
        describe(&out)
    );
}

/// Item 8: pointed at an SSH port, the client said `the server broke the
/// protocol: bad request: the server hello does not start with the magic`.
#[test]
fn an_ssh_server_is_named_and_exits_8() {
    let (port, server) = fake_server(false, |s| {
        s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").unwrap();
    });
    let tmp = TempDir::new("dl-ssh");
    let out = client_command(tmp.path())
        .args(["--port", &port.to_string(), "a.txt"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "download_client: error: the server 127.0.0.1:{port} is an SSH server (it answered \
             `SSH-`): file_shell and download_client speak to download_server; for an SSH server \
             use sftp\n"
        )
    );
}

/// Item 4: every bytes arrived and the digest disagrees: exit 32, nothing kept.
#[test]
fn a_digest_that_disagrees_exits_32_and_keeps_nothing() {
    let (port, server) = fake_server(true, |s| {
        read_request(s);
        file_answer(s, 3);
        s.write_all(b"abc").unwrap();
        Response::Digest([7; 32]).write_to(s).unwrap();
    });
    let tmp = TempDir::new("dl-mismatch");
    let out = client_command(tmp.path())
        .args(["--port", &port.to_string(), "--verify", "a.txt"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(32), "{}", describe(&out));
    assert!(
        files_in(tmp.path()).is_empty(),
        "{:?}",
        files_in(tmp.path())
    );
}

/// Item 4: --help and the man page (docs/man, from `make man`) of both
/// programs list every exit code the library gives a kind of failure, and 1 and 2.
#[test]
fn the_help_and_the_man_pages_list_every_exit_code() {
    for program in ["download_client", "file_shell"] {
        let out = command(program).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let page = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/man/{program}.1")),
        )
        .unwrap();
        for code in socket_tutorial::core::cli::Failure::ALL
            .iter()
            .map(|k| k.exit_code())
            .chain([1, 2])
        {
            let listed = |text: &str| {
                text.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{code}  ")))
            };
            assert!(listed(&help), "{program}: {code} is not listed:\n{help}");
            assert!(listed(&page), "{program}.1: {code} is not listed:\n{page}");
        }
    }
}

/// Item 4: wget's -c and curl's -C - were unknown options; resuming is always on,
/// so they are accepted, and -C with an offset is refused (no other offset is honest).
#[test]
fn wget_dash_c_and_curl_dash_capital_c_dash_are_accepted() {
    let tmp = TempDir::new("dl-continue");
    let (root, cwd) = (tmp.join("root"), tmp.join("cwd"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&cwd).unwrap();
    fs::write(root.join("a.txt"), b"aaa").unwrap();
    let srv = download_server(&root, &[]);
    for args in [
        &["-c", "a.txt"][..],
        &["-C", "-", "--force", "a.txt"],
        &["-C-", "--force", "a.txt"],
    ] {
        let out = client(&srv, &cwd, args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        assert_eq!(fs::read(cwd.join("copy-a.txt")).unwrap(), b"aaa");
    }
    common::assert_usage_error("download_client", &["-C", "100", "a.txt"]);
}
