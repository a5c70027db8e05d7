//! file_shell against download_server over loopback: the tutorial's folder round trip, wildcards, quoting, the root as a floor, writes and their refusals, hostile names, interrupted transfers, tokens, -p, links in trees, and batch mode.

mod common;

use common::{
    command, cutting_proxy, describe, download_server, pattern, tree, wait_for_size, Cut, Running,
    Spawn, TempDir,
};
use socket_tutorial::core::cli::Failure;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

/// A served root, a local working directory and a server, in one TempDir.
struct Fixture {
    tmp: TempDir,
    root: PathBuf,
    here: PathBuf,
    srv: Running,
}

fn fixture(label: &str, server_args: &[&str]) -> Fixture {
    let tmp = TempDir::new(label);
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&here).unwrap();
    let srv = download_server(&root, server_args);
    Fixture {
        tmp,
        root,
        here,
        srv,
    }
}

impl Fixture {
    /// file_shell with `script` on stdin (batch mode), run in `here`.
    fn shell(&self, script: &str) -> Output {
        self.shell_with(script, &[])
    }

    fn shell_with(&self, script: &str, args: &[&str]) -> Output {
        self.shell_in_zone(script, args, None)
    }

    /// file_shell fed in two parts: `first`, then, once its output shows `seen` and
    /// `between` has done its part to the server, `rest`; its exit status and transcript.
    fn shell_in_two_parts(
        &mut self,
        first: &str,
        seen: &str,
        between: impl FnOnce(&mut Running),
        rest: &str,
    ) -> (std::process::ExitStatus, String) {
        use std::io::Write;
        let mut shell = Spawn::new("file_shell")
            .args(["-P", &self.srv.port()])
            .current_dir(&self.here)
            .piped_stdin()
            .start();
        let mut stdin = shell.stdin.take().unwrap();
        stdin.write_all(first.as_bytes()).unwrap();
        shell.wait_for(seen);
        between(&mut self.srv);
        stdin.write_all(rest.as_bytes()).unwrap();
        drop(stdin);
        let status = shell.wait_exit();
        (status, shell.transcript())
    }

    /// With `TZ` set to `tz` (listings show times in the zone it names).
    fn shell_in_zone(&self, script: &str, args: &[&str], tz: Option<&str>) -> Output {
        let mut cmd = command("file_shell");
        if let Some(tz) = tz {
            cmd.env("TZ", tz);
        }
        cmd.args(["--port", &self.srv.port()])
            .args(args)
            .current_dir(&self.here)
            .write_stdin(script)
            .output()
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeded(out: &Output) {
    assert!(out.status.success(), "{}", describe(out));
}

/// A runtime failure: 1, or the code of its kind (`Failure::exit_code`; the
/// codes themselves are checked in `batch_mode_exits_with_the_kind_of_failure`).
fn failed(out: &Output) {
    let runtime: Vec<u8> = Failure::ALL.iter().map(|k| k.exit_code()).collect();
    assert!(
        out.status
            .code()
            .is_some_and(|c| c == 1 || u8::try_from(c).is_ok_and(|c| runtime.contains(&c))),
        "{}",
        describe(out)
    );
}

/// A tree like the tutorial's folder: nested folders, binary and empty
/// files, empty folders, spaces and Chinese in names, a hidden file inside.
fn make_tree(dir: &Path) {
    for d in ["docs/img", "src/deep/deeper", "empty", "其他/空"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("readme.txt"), b"the tutorial's folder\n").unwrap();
    fs::write(dir.join("docs/img/photo.jpg"), pattern(1, 300_000)).unwrap();
    fs::write(dir.join("docs/notes 1.txt"), b"with a space").unwrap();
    fs::write(dir.join("docs/.hidden"), b"dot file inside a folder").unwrap();
    fs::write(dir.join("src/deep/deeper/zero.bin"), b"").unwrap();
    fs::write(dir.join("src/deep/code.py"), b"print('hi')\n").unwrap();
    fs::write(dir.join("empty.dat"), b"").unwrap();
    fs::write(dir.join("其他/文件.txt"), "中文内容".as_bytes()).unwrap();
    fs::write(dir.join("all bytes.bin"), (0..=255u8).collect::<Vec<u8>>()).unwrap();
}

#[test]
fn the_tutorials_folder_goes_up_and_comes_back_identical() {
    let f = fixture("sh-tutorial", &["--writable"]);
    let src = f.here.join("new_temp_src");
    fs::create_dir_all(&src).unwrap();
    make_tree(&src);
    fs::write(src.join(".top_hidden"), b"not matched by ./*").unwrap();
    let out = f.shell(
        "# the tutorial: put a folder's contents up, then get them back elsewhere\n\
         pwd\n\
         lpwd\n\
         mkdir up_temp\n\
         cd up_temp\n\
         lcd new_temp_src\n\
         put -r ./* .\n\
         ls\n\
         ls -l docs\n\
         lcd ..\n\
         lmkdir new_temp\n\
         lcd new_temp\n\
         get -r ./* .\n\
         lpwd\n\
         bye\n",
    );
    succeeded(&out);
    let mut expected = tree(&src);
    expected.remove(".top_hidden");
    assert_eq!(tree(&f.root.join("up_temp")), expected, "uploaded tree");
    assert_eq!(tree(&f.here.join("new_temp")), expected, "downloaded tree");
    let text = stdout(&out);
    // Local paths are shown as this system writes them (`\` on Windows).
    let local = |path: &str| path.replace('/', std::path::MAIN_SEPARATOR_STR);
    for line in [
        "file> pwd".to_string(),
        "Remote working directory: /".to_string(),
        "file> put -r ./* .".to_string(),
        format!(
            "Uploading {} to /up_temp/docs/img/photo.jpg",
            local("docs/img/photo.jpg")
        ),
        "file> ls".to_string(),
        "docs/".to_string(),
        "empty.dat".to_string(),
        "其他/".to_string(),
        "file> lmkdir new_temp".to_string(),
        format!(
            "Fetching /up_temp/其他/文件.txt to {}",
            local("其他/文件.txt")
        ),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(text.contains(&format!(
        "Local working directory: {}",
        common::shown_dir(&f.here.join("new_temp"))
    )));
    assert!(!text.contains(".top_hidden"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("-rw-") && l.ends_with(" notes 1.txt")),
        "{text}"
    );
    // Nothing partial is left on either side.
    for dir in [&f.root, &f.here] {
        for name in tree(dir).keys() {
            assert!(
                !name.ends_with(".part") && !name.ends_with(".part.info"),
                "{name}"
            );
        }
    }
}

#[test]
fn wildcards_choose_sources_and_several_need_a_directory() {
    let f = fixture("sh-glob", &["--writable"]);
    for name in ["a.txt", "b.txt", "c.bin", "dd.bin"] {
        fs::write(f.root.join(name), name).unwrap();
    }
    fs::create_dir(f.root.join("dir.txt")).unwrap();
    fs::create_dir(f.here.join("into")).unwrap();
    let out = f.shell("get *.txt into\nget ?.bin\nls *.bin\nls -l d*\n");
    succeeded(&out);
    let text = stdout(&out);
    assert_eq!(fs::read(f.here.join("into/a.txt")).unwrap(), b"a.txt");
    assert_eq!(fs::read(f.here.join("into/b.txt")).unwrap(), b"b.txt");
    assert!(!f.here.join("into/dir.txt").exists());
    assert!(
        stderr(&out).contains("skipping directory /dir.txt (get -r copies folders)"),
        "{}",
        describe(&out)
    );
    assert!(f.here.join("c.bin").exists() && !f.here.join("dd.bin").exists());
    assert!(text.contains("file> ls *.bin\nc.bin\ndd.bin\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("-rw-") && l.ends_with(" dd.bin")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("drwx") && l.ends_with(" dir.txt/")),
        "{text}"
    );

    // Several matches into something that is not a directory: refused, nothing written.
    let out = f.shell("get *.bin single.bin\n");
    failed(&out);
    assert!(
        stderr(&out).contains("the destination must be a directory"),
        "{}",
        describe(&out)
    );
    assert!(!f.here.join("single.bin").exists());
    // The destination is never a pattern: `*.new` is a plain name (one
    // Windows refuses: there the point is that nothing else was written).
    let out = f.shell("get a.txt *.new\n");
    if cfg!(windows) {
        failed(&out);
        assert!(!f.here.join("a.txt").exists(), "{}", describe(&out));
    } else {
        succeeded(&out);
        assert_eq!(fs::read(f.here.join("*.new")).unwrap(), b"a.txt");
    }

    // The other way, and rm with a pattern.
    fs::create_dir(f.here.join("up")).unwrap();
    fs::write(f.here.join("up/x1.log"), b"1").unwrap();
    fs::write(f.here.join("up/x2.log"), b"2").unwrap();
    fs::write(f.here.join("up/keep.txt"), b"k").unwrap();
    fs::create_dir(f.here.join("up/folder")).unwrap();
    fs::create_dir(f.root.join("logs")).unwrap();
    let out = f.shell("lcd up\nput ./* /logs\nrm /logs/*.log\nls /logs\n");
    succeeded(&out);
    assert!(stderr(&out).contains("skipping directory folder (put -r copies folders)"));
    assert!(stdout(&out).contains("Removing /logs/x1.log\nRemoving /logs/x2.log\n"));
    assert_eq!(
        tree(&f.root.join("logs")).keys().collect::<Vec<_>>(),
        ["keep.txt"]
    );
    let out = f.shell("rm *.nothing\n");
    failed(&out);
    assert!(
        stderr(&out).contains("*.nothing: no match"),
        "{}",
        describe(&out)
    );
}

#[test]
fn names_with_spaces_by_quotes_or_backslashes() {
    let f = fixture("sh-spaces", &["--writable"]);
    fs::write(f.here.join("my file.txt"), b"one").unwrap();
    fs::write(f.here.join("other file.txt"), b"two").unwrap();
    // Windows allows no * in a name: there the quoted * must match nothing,
    // starXname included, and the put fails (its line may: it starts with -).
    let star_is_a_name = cfg!(unix);
    if star_is_a_name {
        fs::write(f.here.join("star*name"), b"three").unwrap();
    }
    fs::write(f.here.join("starXname"), b"not me").unwrap();
    let out = f.shell(
        "put \"my file.txt\"\n\
         put other\\ file.txt 'remote name.txt'\n\
         -put 'star*name'\n\
         mkdir \"a dir\"\n\
         lmkdir back\n\
         get 'my file.txt' back/\n\
         get \"remote name.txt\" 'back/local name.txt'\n\
         rename 'remote name.txt' \"a dir/moved one.txt\"\n\
         ls 'a dir'\n",
    );
    succeeded(&out);
    assert_eq!(fs::read(f.root.join("my file.txt")).unwrap(), b"one");
    assert_eq!(
        fs::read(f.root.join("a dir/moved one.txt")).unwrap(),
        b"two"
    );
    if star_is_a_name {
        assert_eq!(fs::read(f.root.join("star*name")).unwrap(), b"three");
    }
    assert!(
        !f.root.join("starXname").exists(),
        "a quoted * is not a wildcard"
    );
    assert_eq!(fs::read(f.here.join("back/my file.txt")).unwrap(), b"one");
    assert_eq!(
        fs::read(f.here.join("back/local name.txt")).unwrap(),
        b"two"
    );
    assert!(
        stdout(&out).contains("file> ls 'a dir'\nmoved one.txt\n"),
        "{}",
        describe(&out)
    );
    let out = f.shell("get 'unclosed\n");
    failed(&out);
    assert!(
        stderr(&out).contains("unclosed quote '"),
        "{}",
        describe(&out)
    );
}

#[test]
fn cd_dot_dot_at_the_root_stays_at_the_root() {
    let f = fixture("sh-root", &[]);
    fs::create_dir_all(f.root.join("sub/inner")).unwrap();
    fs::write(f.root.join("top.txt"), b"top").unwrap();
    fs::write(f.tmp.join("outside.txt"), b"SENTINEL").unwrap();
    let out = f.shell(
        "cd ..\npwd\ncd ../../..\nls\ncd sub/inner\npwd\ncd ../../../..\npwd\ncd /sub\npwd\nget ../../outside.txt\n",
    );
    // The last line fails: the name resolves to /outside.txt, inside the root.
    failed(&out);
    let text = stdout(&out);
    assert_eq!(
        text.matches("Remote working directory: /\n").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("Remote working directory: /sub/inner\n"),
        "{text}"
    );
    assert!(text.contains("Remote working directory: /sub\n"), "{text}");
    assert!(text.contains("file> ls\nsub/\ntop.txt\n"), "{text}");
    assert!(
        stderr(&out).contains("not found: \"/outside.txt\""),
        "{}",
        describe(&out)
    );
    assert!(!f.here.join("outside.txt").exists());
    let out = f.shell("cd top.txt\n");
    failed(&out);
    assert!(
        stderr(&out).contains("/top.txt: not a directory"),
        "{}",
        describe(&out)
    );
}

#[test]
fn rm_rename_and_rmdir() {
    let f = fixture("sh-rm", &["--writable"]);
    fs::create_dir_all(f.root.join("full/x")).unwrap();
    fs::create_dir(f.root.join("empty")).unwrap();
    fs::write(f.root.join("a.txt"), b"a").unwrap();
    fs::write(f.root.join("taken.txt"), b"t").unwrap();
    let out = f.shell(
        "rename a.txt b.txt\n\
         -rename b.txt taken.txt\n\
         -rm full\n\
         rm b.txt\n\
         rmdir empty\n\
         -rmdir full\n\
         rename full/x full/y\n\
         rmdir full\n",
    );
    failed(&out);
    let err = stderr(&out);
    assert!(err.contains("already exists: \"/taken.txt\""), "{err}");
    assert!(err.contains("is a directory: \"/full\"\n"), "{err}");
    assert!(err.contains("directory not empty: \"/full\"\n"), "{err}");
    assert!(err.contains("batch stopped at line 8: rmdir full"), "{err}");
    assert_eq!(
        tree(&f.root).keys().collect::<Vec<_>>(),
        ["full/", "full/y/", "taken.txt"]
    );
    assert_eq!(fs::read(f.root.join("taken.txt")).unwrap(), b"t");
}

#[test]
fn a_read_only_server_refuses_every_write_and_nothing_changes() {
    let f = fixture("sh-ro", &[]);
    fs::create_dir_all(f.root.join("d")).unwrap();
    fs::write(f.root.join("a.txt"), b"a").unwrap();
    fs::write(f.here.join("f.txt"), b"f").unwrap();
    fs::create_dir_all(f.here.join("tree/sub")).unwrap();
    fs::write(f.here.join("tree/sub/g.txt"), b"g").unwrap();
    let before = tree(&f.root);
    for command in [
        "put f.txt",
        "put -r tree",
        "reput f.txt",
        "put -p f.txt a.txt",
        "mkdir new",
        "rm a.txt",
        "rmdir d",
        "rename a.txt b.txt",
    ] {
        let out = f.shell(&format!("{command}\n"));
        failed(&out);
        assert!(
            stderr(&out).contains("read-only server"),
            "{command}: {}",
            describe(&out)
        );
        assert_eq!(tree(&f.root), before, "{command} changed the root");
    }
    // Reading still works.
    let out = f.shell("get a.txt\nls\n");
    succeeded(&out);
}

#[test]
fn hostile_names_through_the_shell_write_nothing_outside() {
    let f = fixture("sh-hostile", &["--writable"]);
    let outside = f.tmp.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim"), b"SENTINEL").unwrap();
    // A symbolic link on unix, a junction on Windows: either leads outside.
    if let Err(why) = common::link_dir(Path::new("../outside"), &f.root.join("out")) {
        if common::skip_under_wine(&format!("Wine cannot make a junction ({why})")) {
            return;
        }
        panic!("cannot link out of the root: {why}");
    }
    fs::create_dir(f.root.join("dir")).unwrap();
    fs::create_dir(f.root.join("dir/f.txt")).unwrap();
    fs::write(f.here.join("f.txt"), b"evil").unwrap();
    fs::create_dir_all(f.here.join("tree")).unwrap();
    fs::write(f.here.join("tree/t.txt"), b"evil").unwrap();
    let (before_out, before_root) = (tree(&outside), tree(&f.root));
    for (command, message) in [
        ("put f.txt out/f.txt", "outside"),
        ("put f.txt out/victim", "outside"),
        ("put -r tree out/tree", "outside"),
        ("put f.txt out", "outside"),
        ("rename dir/f.txt out/moved", "outside"),
        ("rm out/victim", "outside"),
        ("mkdir out/new", "outside"),
        ("cd out", "outside"),
        ("put f.txt .f.txt.part", "belong to uploads in progress"),
    ] {
        let out = f.shell(&format!("{command}\n"));
        failed(&out);
        assert!(
            stderr(&out).contains(message),
            "{command}: {}",
            describe(&out)
        );
    }
    // `put f.txt dir`: dir is a directory, so the file goes into it, where
    // a directory already has its name: refused too.
    let out = f.shell("put f.txt dir\n");
    failed(&out);
    assert!(
        stderr(&out).contains("is a directory"),
        "{}",
        describe(&out)
    );
    assert_eq!(tree(&outside), before_out, "nothing outside changed");
    assert_eq!(tree(&f.root), before_root, "nothing inside changed");
}

#[test]
fn a_killed_upload_resumes_with_reput() {
    let mut f = fixture("sh-reput", &["--writable"]);
    let size = 24 * 1024 * 1024;
    let data = pattern(7, size);
    fs::write(f.here.join("big.bin"), &data).unwrap();
    fs::write(f.here.join("script"), "put big.bin\n").unwrap();
    let cut = 5 * 1024 * 1024;
    let (proxy, release) = cutting_proxy(f.srv.connect_addr(), Cut::Upstream, cut);
    let mut shell = Spawn::new("file_shell")
        .args(["--port", &proxy.port().to_string(), "-b", "script"])
        .current_dir(&f.here)
        .start();
    let part = f.root.join(".big.bin.part");
    // The hello and the UPLOAD frame take less than 1 KiB of the cut.
    wait_for_size(&part, "most of the cut", |n| n >= (cut - 1024) as u64);
    assert!(
        !f.root.join("big.bin").exists(),
        "nothing under the final name"
    );
    shell.kill();
    drop(release);
    let line = f
        .srv
        .wait_for("upload \"big.bin\" -> connection lost after");
    assert!(
        line.contains("the partial file is kept for a resume"),
        "{line}"
    );
    let kept = fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < size as u64, "{kept}");
    assert!(
        !f.root.join("big.bin").exists(),
        "still nothing under the final name"
    );

    let out = f.shell("reput big.bin\n");
    succeeded(&out);
    assert!(
        stdout(&out).contains("Resuming upload of big.bin at "),
        "{}",
        describe(&out)
    );
    assert_eq!(fs::read(f.root.join("big.bin")).unwrap(), data);
    assert!(!part.exists());
    f.srv.wait_for(&format!(
        "upload \"big.bin\" -> ok (resumed at byte {kept}), {} bytes",
        size as u64 - kept
    ));

    // Already complete: said, and a success (OpenSSH's reput fails here).
    let out = f.shell("reput big.bin\nput -a big.bin\n");
    succeeded(&out);
    assert_eq!(
        stdout(&out)
            .matches("/big.bin is already complete (25165824 bytes)")
            .count(),
        2,
        "{}",
        describe(&out)
    );
}

#[test]
fn a_killed_download_resumes_with_reget() {
    let mut f = fixture("sh-reget", &[]);
    let size = 24 * 1024 * 1024;
    let data = pattern(8, size);
    fs::write(f.root.join("big.bin"), &data).unwrap();
    fs::write(f.here.join("script"), "get big.bin\n").unwrap();
    let cut = 5 * 1024 * 1024;
    let (proxy, release) = cutting_proxy(f.srv.connect_addr(), Cut::Downstream, cut);
    let mut shell = Spawn::new("file_shell")
        .args(["--port", &proxy.port().to_string(), "-b", "script"])
        .current_dir(&f.here)
        .start();
    let part = f.here.join("big.bin.part");
    wait_for_size(&part, "most of the cut", |n| n >= (cut - 1024) as u64);
    shell.kill();
    drop(release);
    assert!(!f.here.join("big.bin").exists());
    let kept = fs::metadata(&part).unwrap().len();
    let out = f.shell("reget big.bin\n");
    succeeded(&out);
    assert!(
        stdout(&out).contains("Resuming download of /big.bin at "),
        "{}",
        describe(&out)
    );
    assert_eq!(fs::read(f.here.join("big.bin")).unwrap(), data);
    f.srv.wait_for(&format!("(resumed at byte {kept})"));
    let out = f.shell("reget big.bin\nget -a big.bin\n");
    succeeded(&out);
    assert_eq!(
        stdout(&out)
            .matches("big.bin is already complete (25165824 bytes)")
            .count(),
        2,
        "{}",
        describe(&out)
    );
    // A .part that no download left is not ours: a plain get leaves it alone.
    fs::write(&part, b"stale").unwrap();
    let out = f.shell("get big.bin\n");
    failed(&out);
    assert!(
        stderr(&out).contains("big.bin.part exists and was not left by a download of"),
        "{}",
        describe(&out)
    );
    assert_eq!(fs::read(&part).unwrap(), b"stale");
    assert_eq!(fs::read(f.here.join("big.bin")).unwrap(), data);
}

/// Issue 12 item 6: a user's own `notes.part` and `notes.part.info` survive
/// `get notes`, which says what to do; a partial a download of `notes` left
/// is replaced by a plain get and continued by `reget`.
#[test]
fn a_users_own_part_file_survives_get() {
    let f = fixture("sh-own-part", &[]);
    fs::write(f.root.join("notes"), b"the server's notes").unwrap();
    let (part, info) = (f.here.join("notes.part"), f.here.join("notes.part.info"));
    fs::write(&part, b"my own half-written notes").unwrap();
    fs::write(&info, b"my own remarks about them").unwrap();
    for command in ["get notes\n", "reget notes\n", "get -a notes .\n"] {
        let out = f.shell(command);
        failed(&out);
        let err = stderr(&out);
        assert!(
            err.contains(
                "notes.part exists and was not left by a download of \"notes\" from 127.0.0.1"
            ) && err.contains("move it away, or save the download under another name"),
            "{command}: {}",
            describe(&out)
        );
        assert_eq!(fs::read(&part).unwrap(), b"my own half-written notes");
        assert_eq!(fs::read(&info).unwrap(), b"my own remarks about them");
        assert!(!f.here.join("notes").exists());
    }
    // Under another name it downloads, and leaves them be.
    let out = f.shell("get notes mine\n");
    succeeded(&out);
    assert_eq!(
        fs::read(f.here.join("mine")).unwrap(),
        b"the server's notes"
    );
    assert_eq!(fs::read(&part).unwrap(), b"my own half-written notes");
    // Only the user's own info file, with no .part: still theirs.
    fs::remove_file(&part).unwrap();
    failed(&f.shell("get notes\n"));
    assert_eq!(fs::read(&info).unwrap(), b"my own remarks about them");
    fs::remove_file(&info).unwrap();
    succeeded(&f.shell("get notes\n"));
    assert_eq!(
        fs::read(f.here.join("notes")).unwrap(),
        b"the server's notes"
    );
    assert!(!part.exists() && !info.exists());
}

#[test]
fn without_the_right_token_nothing_is_served() {
    let tmp = TempDir::new("sh-token");
    let (root, here) = (tmp.join("root"), tmp.join("here"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&here).unwrap();
    fs::write(root.join("secret.txt"), b"SECRET").unwrap();
    fs::write(tmp.join("token"), b"open sesame\n").unwrap();
    fs::write(tmp.join("wrong"), b"open sesame!\n").unwrap();
    let mut srv = Spawn::new("download_server")
        .args(["--port", "0", "--writable", "--root"])
        .args([&root])
        .args(["--token-file"])
        .args([tmp.join("token")])
        .server();
    let port = srv.port();
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = command("file_shell");
        cmd.args(["--port", &port])
            .args(args)
            .current_dir(&here)
            .write_stdin("get secret.txt\n");
        if let Some(value) = env {
            cmd.env("DOWNLOAD_SERVER_TOKEN", value);
        }
        cmd.output().unwrap()
    };
    let out = run(&[], None);
    failed(&out);
    assert!(stderr(&out).contains("wants a token"), "{}", describe(&out));
    let wrong = tmp.join("wrong");
    let out = run(&["--token-file", wrong.to_str().unwrap()], None);
    failed(&out);
    assert!(stderr(&out).contains("unauthorized"), "{}", describe(&out));
    let out = run(&[], Some("guess"));
    failed(&out);
    assert!(!here.join("secret.txt").exists(), "nothing was served");
    srv.wait_for("auth -> refused: wrong token; closed");
    let token = tmp.join("token");
    let out = run(&["--token-file", token.to_str().unwrap()], None);
    succeeded(&out);
    fs::remove_file(here.join("secret.txt")).unwrap();
    let out = run(&[], Some("open sesame"));
    succeeded(&out);
    assert_eq!(fs::read(here.join("secret.txt")).unwrap(), b"SECRET");
}

#[cfg(unix)]
#[test]
fn dash_p_keeps_times_and_permission_bits_both_ways() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture("sh-preserve", &["--writable"]);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::write(f.here.join("kept.sh"), b"#!/bin/sh\n").unwrap();
    fs::File::options()
        .write(true)
        .open(f.here.join("kept.sh"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::set_permissions(f.here.join("kept.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::create_dir_all(f.here.join("tree/sub")).unwrap();
    fs::write(f.here.join("tree/sub/t.txt"), b"t").unwrap();
    fs::set_permissions(
        f.here.join("tree/sub/t.txt"),
        fs::Permissions::from_mode(0o604),
    )
    .unwrap();
    let out = f.shell("put -p kept.sh\nput kept.sh plain.sh\nput -rp tree\nlmkdir back\nget -p kept.sh back/\nget -rp tree back/tree\n");
    succeeded(&out);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    for copy in [f.root.join("kept.sh"), f.here.join("back/kept.sh")] {
        assert_eq!(mode(&copy), 0o750, "{}", copy.display());
        assert_eq!(mtime(&copy), old, "{}", copy.display());
    }
    assert_ne!(
        mtime(&f.root.join("plain.sh")),
        old,
        "without -p the time is the upload's"
    );
    assert_eq!(mode(&f.root.join("tree/sub/t.txt")), 0o604);
    assert_eq!(mode(&f.here.join("back/tree/sub/t.txt")), 0o604);
    let out = f.shell_in_zone("ls -l kept.sh\n", &[], Some("UTC0"));
    assert!(
        stdout(&out).contains(&format!(
            "-rwxr-x--- {}          10 2001-09-09 01:46 kept.sh",
            owner_columns(&f.root.join("kept.sh"))
        )),
        "{}",
        describe(&out)
    );
}

/// Windows keeps no permission bits, only a read-only attribute: -p keeps that and the time.
#[cfg(windows)]
#[test]
fn dash_p_keeps_times_and_the_read_only_bit_both_ways() {
    let f = fixture("sh-preserve-win", &["--writable"]);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let set_old = |p: &Path| {
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap()
    };
    let set_read_only = |p: &Path| {
        let mut perms = fs::metadata(p).unwrap().permissions();
        perms.set_readonly(true);
        fs::set_permissions(p, perms).unwrap();
    };
    fs::write(f.here.join("kept.txt"), b"keep me\n").unwrap();
    set_old(&f.here.join("kept.txt"));
    set_read_only(&f.here.join("kept.txt"));
    fs::create_dir_all(f.here.join("tree/sub")).unwrap();
    fs::write(f.here.join("tree/sub/t.txt"), b"t").unwrap();
    fs::write(f.here.join("tree/sub/w.txt"), b"w").unwrap();
    set_old(&f.here.join("tree/sub/t.txt"));
    set_read_only(&f.here.join("tree/sub/t.txt"));
    let out = f.shell("put -p kept.txt\nput kept.txt plain.txt\nput -rp tree\nlmkdir back\nget -p kept.txt back/\nget -rp tree back/tree\n");
    succeeded(&out);
    let read_only = |p: &Path| fs::metadata(p).unwrap().permissions().readonly();
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    for copy in [
        f.root.join("kept.txt"),
        f.here.join("back/kept.txt"),
        f.root.join("tree/sub/t.txt"),
        f.here.join("back/tree/sub/t.txt"),
    ] {
        assert!(read_only(&copy), "{} is not read-only", copy.display());
        assert_eq!(mtime(&copy), old, "{}", copy.display());
    }
    for copy in [
        f.root.join("tree/sub/w.txt"),
        f.here.join("back/tree/sub/w.txt"),
    ] {
        assert!(!read_only(&copy), "{} became read-only", copy.display());
    }
    assert!(
        read_only(&f.root.join("plain.txt")),
        "without -p the read-only bit travels still (it is Windows' mode bits)"
    );
    assert_ne!(
        mtime(&f.root.join("plain.txt")),
        old,
        "without -p the time is the upload's"
    );
}

#[cfg(unix)]
#[test]
fn links_in_trees_are_skipped_and_one_failure_does_not_stop_the_rest() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;
    let f = fixture("sh-links", &["--writable"]);
    let bad = OsStr::from_bytes(b"bad\xffname.txt");
    // Up: a link to a file, a link to a folder, a name the server refuses.
    let src = f.here.join("src");
    fs::create_dir_all(src.join("real")).unwrap();
    fs::write(src.join("real/r.txt"), b"r").unwrap();
    fs::write(src.join("z.txt"), b"z").unwrap();
    fs::write(src.join(bad), b"b").unwrap();
    symlink("z.txt", src.join("link.txt")).unwrap();
    symlink("real", src.join("linkdir")).unwrap();
    symlink("/etc", src.join("etc")).unwrap();
    let out = f.shell("put -r src\n");
    failed(&out);
    let err = stderr(&out);
    for name in ["src/link.txt", "src/linkdir", "src/etc"] {
        assert!(
            err.contains(&format!(
                "skipping symbolic link {name} (links are never followed)"
            )),
            "{name}: {err}"
        );
    }
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(
        err.contains("1 of 1 files failed") || err.contains("batch stopped"),
        "{err}"
    );
    assert_eq!(
        tree(&f.root.join("src")).keys().collect::<Vec<_>>(),
        ["real/", "real/r.txt", "z.txt"],
        "the rest arrived"
    );
    // Down: links in the served tree are skipped too, and the bad name fails alone.
    let served = f.root.join("served");
    fs::create_dir_all(served.join("in")).unwrap();
    fs::write(served.join("in/a.txt"), b"a").unwrap();
    fs::write(served.join(bad), b"b").unwrap();
    fs::write(served.join("ok.txt"), b"ok").unwrap();
    symlink("ok.txt", served.join("link.txt")).unwrap();
    symlink("in", served.join("linkdir")).unwrap();
    let out = f.shell("get -r served\n");
    failed(&out);
    let err = stderr(&out);
    assert!(
        err.contains("skipping symbolic link /served/link.txt"),
        "{err}"
    );
    assert!(
        err.contains("skipping symbolic link /served/linkdir"),
        "{err}"
    );
    assert_eq!(
        tree(&f.here.join("served")).keys().collect::<Vec<_>>(),
        ["in/", "in/a.txt", "ok.txt"]
    );
}

/// The Windows side of the test above: a junction (what an account without
/// privileges makes) is skipped like a link, both ways, and a name that is not
/// valid Unicode fails alone, named, while the rest of the tree goes up.
#[cfg(windows)]
#[test]
fn junctions_in_trees_are_skipped_and_one_failure_does_not_stop_the_rest() {
    use std::ffi::OsString;
    use std::os::windows::ffi::OsStringExt;
    let f = fixture("sh-links-win", &["--writable"]);
    let src = f.here.join("src");
    fs::create_dir_all(src.join("real")).unwrap();
    fs::write(src.join("real/r.txt"), b"r").unwrap();
    fs::write(src.join("z.txt"), b"z").unwrap();
    if let Err(why) = common::link_dir(Path::new("real"), &src.join("junction")) {
        if common::skip_under_wine(&format!("Wine cannot make a junction ({why})")) {
            return;
        }
        panic!("cannot make a junction: {why}");
    }
    // "bad" + an unpaired surrogate + ".txt": a name Windows keeps and UTF-8 cannot.
    let bad: Vec<u16> = "bad"
        .encode_utf16()
        .chain([0xD800])
        .chain(".txt".encode_utf16())
        .collect();
    let bad_made = fs::write(src.join(OsString::from_wide(&bad)), b"b").is_ok();
    let out = f.shell("put -r src\n");
    let err = stderr(&out);
    assert!(
        err.contains("skipping symbolic link src\\junction (links are never followed)"),
        "{}",
        describe(&out)
    );
    if bad_made {
        failed(&out);
        assert!(err.contains("not valid Unicode"), "{err}");
    } else {
        succeeded(&out);
    }
    assert_eq!(
        tree(&f.root.join("src")).keys().collect::<Vec<_>>(),
        ["real/", "real/r.txt", "z.txt"],
        "the rest arrived"
    );
    // Down: a junction in the served tree is skipped too.
    let served = f.root.join("served");
    fs::create_dir_all(served.join("in")).unwrap();
    fs::write(served.join("in/a.txt"), b"a").unwrap();
    fs::write(served.join("ok.txt"), b"ok").unwrap();
    common::link_dir(Path::new("in"), &served.join("junction")).unwrap();
    let out = f.shell("get -r served\n");
    succeeded(&out);
    assert!(
        stderr(&out).contains("skipping symbolic link /served/junction"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        tree(&f.here.join("served")).keys().collect::<Vec<_>>(),
        ["in/", "in/a.txt", "ok.txt"]
    );
}

#[test]
fn batch_mode_echoes_stops_at_a_failure_and_honours_prefixes() {
    let f = fixture("sh-batch", &[]);
    fs::write(f.root.join("a.txt"), b"a").unwrap();
    let script = "# a comment, not echoed\n\
                  \n\
                  pwd\n\
                  @lpwd\n\
                  -get missing.txt\n\
                  @-get missing2.txt\n\
                  get a.txt\n\
                  get missing3.txt\n\
                  pwd\n";
    let out = f.shell(script);
    failed(&out);
    let text = stdout(&out);
    let lpwd = format!("Local working directory: {}", common::shown_dir(&f.here));
    assert_eq!(
        text,
        format!(
            "file> pwd\nRemote working directory: /\n{lpwd}\nfile> -get missing.txt\n\
             file> get a.txt\nFetching /a.txt to a.txt\nfile> get missing3.txt\n"
        )
    );
    let err = stderr(&out);
    assert!(err.contains("not found: \"/missing.txt\""), "{err}");
    assert!(err.contains("not found: \"/missing2.txt\""), "{err}");
    assert!(
        err.ends_with("file_shell: error: batch stopped at line 8: get missing3.txt\n"),
        "{err}"
    );
    // The same from -b FILE; only `-` lines failing is a success.
    fs::write(f.here.join("script"), "-get nope\npwd\n").unwrap();
    let out = command("file_shell")
        .args(["--port", &f.srv.port(), "-b", "script"])
        .current_dir(&f.here)
        .output()
        .unwrap();
    succeeded(&out);
    assert_eq!(
        stdout(&out),
        "file> -get nope\nfile> pwd\nRemote working directory: /\n"
    );
    // help, help CMD and unknown commands.
    let out = f.shell("help\nhelp get\n?\nhelp nothing\n");
    failed(&out);
    let text = stdout(&out);
    for usage in [
        "get [-a] [-p] [-r] REMOTE... [LOCAL]",
        "lmkdir PATH",
        "!COMMAND",
        "bye",
    ] {
        assert!(text.contains(usage), "{usage}: {text}");
    }
    assert!(
        text.contains("usage: get [-a] [-p] [-r] REMOTE... [LOCAL]\ndownload files"),
        "{text}"
    );
    assert!(stderr(&out).contains("help: no command nothing"));
    // What -p keeps, for each platform.
    let out = f.shell("help put\nhelp get\n");
    succeeded(&out);
    assert_eq!(
        stdout(&out).matches("read-only bit").count(),
        2,
        "{}",
        describe(&out)
    );
    let out = f.shell("nosuch 600 a.txt\n");
    failed(&out);
    assert!(
        stderr(&out).contains("unknown command: nosuch"),
        "{}",
        describe(&out)
    );
    let out = f.shell("get -x a.txt\n");
    failed(&out);
    assert!(
        stderr(&out).contains("unknown option -x"),
        "{}",
        describe(&out)
    );
}

#[test]
fn local_commands_and_bang() {
    let f = fixture("sh-local", &[]);
    fs::create_dir(f.here.join("sub")).unwrap();
    fs::write(f.here.join("sub/x.txt"), b"12345").unwrap();
    fs::write(f.here.join("sub/.dot"), b"").unwrap();
    // The platform's own interpreter: sh -c, or cmd /C on Windows.
    let (bang, made) = if cfg!(windows) {
        // No space before &&: cmd would write it into the file.
        ("!echo made> made.txt&& cd", &b"made\r\n"[..])
    } else {
        ("!echo made > made.txt; pwd", &b"made\n"[..])
    };
    let out = f.shell(&format!(
        "lcd sub\nlls\nlls -la x.txt\n{bang}\nlls *.txt\nlcd nowhere\n"
    ));
    failed(&out);
    let text = stdout(&out);
    let sub = common::shown_dir(&f.here.join("sub"));
    assert!(text.contains("file> lls\nx.txt\nfile>"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("-rw-") && l.contains(" 5 ") && l.ends_with(" x.txt")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_end() == sub),
        "! runs in the local directory {sub}: {text}"
    );
    assert!(
        text.contains("file> lls *.txt\nmade.txt\nx.txt\n"),
        "{text}"
    );
    assert_eq!(fs::read(f.here.join("sub/made.txt")).unwrap(), made);
    assert!(
        stderr(&out).contains("nowhere: no such file or directory"),
        "{}",
        describe(&out)
    );
    let out = f.shell("!exit 3\n");
    failed(&out);
    assert!(
        stderr(&out).contains("!: the command exited with status 3"),
        "{}",
        describe(&out)
    );
    let out = f.shell("progress\nprogress\n");
    assert_eq!(
        stdout(&out),
        "file> progress\nProgress meter disabled\nfile> progress\nProgress meter enabled\n"
    );
}

#[test]
fn help_version_usage_and_connection_errors() {
    let help = common::assert_help_and_version(
        "file_shell",
        "sftp",
        &[
            "put ./* .",
            "get ./* .",
            "-b",
            "--token-file",
            "ssh -L 11501:127.0.0.1:11500",
            "[[USER@]HOST[:PORT]]",
            "-P, --port",
            "--timeout SECS",
            "Tab",
            "Ctrl-C",
            "file> ",
            "read-only bit",
            "cmd /C",
        ],
    );
    assert!(help.contains("sftp的使用"), "{help}");
    common::assert_usage_error("file_shell", &["--port", "0"]);
    common::assert_usage_error("file_shell", &["host", "extra"]);
    common::assert_usage_error("file_shell", &["-P", "0"]);
    common::assert_usage_error("file_shell", &["127.0.0.1:0"]);
    common::assert_usage_error("file_shell", &["127.0.0.1:5", "-P", "6"]);
    common::assert_usage_error("file_shell", &["--timeout", "soon"]);
    common::assert_usage_error("file_shell", &["-b"]);
    // Nobody listening: one line, exit 1, before any command runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = command("file_shell")
        .args(["--port", &port.to_string()])
        .write_stdin("pwd\n")
        .output()
        .unwrap();
    failed(&out);
    assert!(
        stderr(&out).starts_with("file_shell: error: cannot connect"),
        "{}",
        describe(&out)
    );
    assert!(stdout(&out).is_empty());
    let out = command("file_shell")
        .args(["-b", "/no/such/script"])
        .output()
        .unwrap();
    failed(&out);
    assert!(
        stderr(&out).contains("cannot read the batch file"),
        "{}",
        describe(&out)
    );
}

/// Issue 13 item 3: a `get` whose local write fails names the local cause,
/// and the connection stays in step, so the next command works; in batch
/// mode a failing line that began with `-` does not stop the batch.
#[test]
fn a_get_that_cannot_write_locally_says_why_and_the_next_command_works() {
    let f = fixture("sh-get-local", &[]);
    fs::write(f.root.join("notes.txt"), b"the notes\n").unwrap();
    fs::write(f.here.join("afile"), b"not a folder").unwrap();
    let nowhere = f.tmp.join("nonexistent/x.txt");
    let out = f.shell(&format!(
        "-get notes.txt {}\n-get notes.txt afile/x.txt\nget notes.txt\nls\n",
        nowhere.display()
    ));
    succeeded(&out);
    let err = stderr(&out);
    assert!(
        err.contains("x.txt: cannot be written: ") && err.contains("nonexistent does not exist"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("afile is not a directory"),
        "{}",
        describe(&out)
    );
    assert!(!err.contains("protocol"), "{}", describe(&out));
    assert_eq!(fs::read(f.here.join("notes.txt")).unwrap(), b"the notes\n");
    assert!(
        stdout(&out).contains("file> ls\nnotes.txt\n"),
        "{}",
        describe(&out)
    );
}

/// Issue 13 item 6: a destination ending in `/` must be a directory, as in
/// sftp, scp and cp; nothing is created under that name, and no internal
/// `.part.info` is named.
#[test]
fn a_destination_ending_in_a_slash_must_be_a_directory() {
    let f = fixture("sh-slash", &["--writable"]);
    fs::write(f.here.join("f.txt"), b"f").unwrap();
    fs::write(f.root.join("r.txt"), b"r").unwrap();
    let out = f.shell("put f.txt newdir/\n");
    failed(&out);
    assert!(
        stderr(&out).contains("/newdir: no such directory on the server"),
        "{}",
        describe(&out)
    );
    assert!(!f.root.join("newdir").exists(), "no file named newdir");
    let out = f.shell("get r.txt newlocal/\n");
    failed(&out);
    let err = stderr(&out);
    assert!(
        err.contains("newlocal/: no such local directory"),
        "{}",
        describe(&out)
    );
    assert!(!err.contains(".part"), "{err}");
    assert!(!f.here.join("newlocal").exists());
    // Where the folders exist, the same commands work.
    let out = f.shell("mkdir newdir\nput f.txt newdir/\nlmkdir newlocal\nget r.txt newlocal/\n");
    succeeded(&out);
    assert_eq!(fs::read(f.root.join("newdir/f.txt")).unwrap(), b"f");
    assert_eq!(fs::read(f.here.join("newlocal/r.txt")).unwrap(), b"r");
}

/// Issue 13 item 7: several sources need an existing remote directory (as in
/// sftp), and `--help`'s own example, `mkdir backup` then `put -r ./* backup`,
/// does what it says; one folder to a new name still arrives under it.
#[test]
fn several_sources_need_an_existing_directory_and_the_help_example_is_true() {
    let f = fixture("sh-backup", &["--writable"]);
    make_tree(&f.here);
    let out = f.shell("put -r ./* backup\n");
    failed(&out);
    assert!(
        stderr(&out).contains(
            "the destination must be a directory, and /backup does not exist (mkdir it first)"
        ),
        "{}",
        describe(&out)
    );
    assert!(!f.root.join("backup").exists(), "nothing moved");
    let out = f.shell("mkdir backup\nput -r ./* backup\nput -r docs docs_copy\n");
    succeeded(&out);
    let mut expected = tree(&f.here);
    assert_eq!(tree(&f.root.join("backup")), expected);
    expected.retain(|k, _| k.starts_with("docs/") && k != "docs/");
    let copied: Vec<String> = tree(&f.root.join("docs_copy"))
        .into_keys()
        .map(|k| format!("docs/{k}"))
        .collect();
    assert_eq!(copied, expected.into_keys().collect::<Vec<_>>());
    let help = stdout(&command("file_shell").arg("--help").output().unwrap());
    assert!(
        help.contains("file> mkdir backup") && help.contains("file> put -r ./* backup"),
        "{help}"
    );
    // The same rule downwards.
    let out = f.shell("get -r /backup/* missing_here\n");
    failed(&out);
    assert!(
        stderr(&out).contains("does not exist (lmkdir it first)"),
        "{}",
        describe(&out)
    );
}

/// Issue 13 item 8: `put` never follows a symbolic link, named on the command
/// line, matched by a wildcard or inside a folder: `put -r ./* .` with a link
/// to a secret outside uploads none of it.
#[cfg(unix)]
#[test]
fn put_never_follows_a_link_named_or_matched() {
    use std::os::unix::fs::symlink;
    let f = fixture("sh-put-links", &["--writable"]);
    let secret = f.tmp.join("secret.txt");
    fs::write(&secret, b"SECRET").unwrap();
    fs::create_dir(f.tmp.join("secret_dir")).unwrap();
    fs::write(f.tmp.join("secret_dir/inside.txt"), b"SECRET").unwrap();
    fs::write(f.here.join("plain.txt"), b"plain").unwrap();
    symlink(&secret, f.here.join("passwd")).unwrap();
    symlink(f.tmp.join("secret_dir"), f.here.join("etc")).unwrap();
    let out = f.shell("put -r ./* .\nput ./* .\n");
    succeeded(&out);
    let err = stderr(&out);
    for name in ["passwd", "etc"] {
        assert_eq!(
            err.matches(&format!(
                "skipping symbolic link {name} (links are never followed)"
            ))
            .count(),
            2,
            "{}",
            describe(&out)
        );
    }
    assert_eq!(
        tree(&f.root).keys().collect::<Vec<_>>(),
        ["plain.txt"],
        "nothing behind a link went up"
    );
    // Named on purpose: refused, and the command fails.
    for command in ["put passwd\n", "put -r etc\n", "put -r etc newname\n"] {
        let out = f.shell(command);
        failed(&out);
        assert!(
            stderr(&out).contains("(links are never followed)"),
            "{command}: {}",
            describe(&out)
        );
    }
    assert_eq!(tree(&f.root).keys().collect::<Vec<_>>(), ["plain.txt"]);
}

/// The Windows side: a junction (what an account without privileges makes)
/// matched by `put -r ./* .` or named is not followed either.
#[cfg(windows)]
#[test]
fn put_never_follows_a_junction_named_or_matched() {
    let f = fixture("sh-put-junction", &["--writable"]);
    fs::create_dir(f.tmp.join("secret_dir")).unwrap();
    fs::write(f.tmp.join("secret_dir/inside.txt"), b"SECRET").unwrap();
    fs::write(f.here.join("plain.txt"), b"plain").unwrap();
    if let Err(why) = common::link_dir(&f.tmp.join("secret_dir"), &f.here.join("etc")) {
        if common::skip_under_wine(&format!("Wine cannot make a junction ({why})")) {
            return;
        }
        panic!("cannot make a junction: {why}");
    }
    let out = f.shell("put -r ./* .\n");
    succeeded(&out);
    assert!(
        stderr(&out).contains("skipping symbolic link etc (links are never followed)"),
        "{}",
        describe(&out)
    );
    let out = f.shell("put -r etc\n");
    failed(&out);
    assert_eq!(tree(&f.root).keys().collect::<Vec<_>>(), ["plain.txt"]);
}

/// Issue 13 item 9 and issue 12 item 10: `ls -1 -a -l -h -t -S -r` as sftp
/// has them, sorted by the client (the server sends listings unsorted);
/// `get -R` is `-r`; failures in a tree are counted per file, like the total.
#[test]
fn ls_takes_sftps_options_get_takes_dash_capital_r_and_failures_add_up() {
    let f = fixture("sh-ls", &[]);
    let day = |d: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + d * 86_400);
    for (name, size, age) in [("b.txt", 3000, 2), ("a.txt", 10, 1), ("c.txt", 20, 3)] {
        let path = f.root.join(name);
        fs::write(&path, vec![b'x'; size]).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(day(age))
            .unwrap();
    }
    fs::write(f.root.join(".dot"), b"").unwrap();
    let script = "ls -1\nls -t\nls -S\nls -Sr\nls -1a\nls -lh b.txt\n";
    let out = f.shell_in_zone(script, &[], Some("UTC0"));
    succeeded(&out);
    assert_eq!(
        stdout(&out),
        "file> ls -1\na.txt\nb.txt\nc.txt\n\
         file> ls -t\nc.txt\nb.txt\na.txt\n\
         file> ls -S\nb.txt\nc.txt\na.txt\n\
         file> ls -Sr\na.txt\nc.txt\nb.txt\n\
         file> ls -1a\n.dot\na.txt\nb.txt\nc.txt\n\
         file> ls -lh b.txt\n-rw-r--r-- OWNERS   3.0K 2023-11-16 22:13 b.txt\n"
            .replace("-rw-r--r--", &mode_of(&f.root.join("b.txt")))
            .replace("OWNERS", &owner_columns(&f.root.join("b.txt")))
    );
    // get -R, and a tree where two files of three cannot be written.
    let served = f.root.join("served");
    fs::create_dir(&served).unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        fs::write(served.join(name), name).unwrap();
    }
    fs::create_dir_all(f.here.join("served/a.txt")).unwrap();
    fs::create_dir_all(f.here.join("served/b.txt")).unwrap();
    let out = f.shell("get -R served\n");
    failed(&out);
    assert!(
        stderr(&out).contains("2 of 3 files failed (see above)"),
        "{}",
        describe(&out)
    );
    assert_eq!(fs::read(f.here.join("served/c.txt")).unwrap(), b"c.txt");
}

/// `ls -l`'s owner and group columns for a file made by this test: its
/// numbers, which std reads on unix (the test process's own uid and gid).
#[cfg(unix)]
fn owner_columns(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).unwrap();
    format!("{:>5} {:>5}", meta.uid(), meta.gid())
}

/// Windows: a file's owner is a security identifier that std does not show; a dash each.
#[cfg(windows)]
fn owner_columns(_path: &Path) -> String {
    format!("{:>5} {:>5}", "-", "-")
}

/// Issue 21 row 9: `ls -l` (and `lls -l`, and `-n`, as sftp has it) show
/// owner and group as `ls -n` does, for a listed directory, a named file and
/// wildcard matches alike,
/// and times in the zone `TZ` names: a POSIX rule, a zone file (with its
/// summer time), UTC; `-lh` the same with human sizes.
#[test]
fn ls_l_shows_owners_and_local_times() {
    let f = fixture("sh-ls-owner", &[]);
    let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    // 2023-11-14 22:13:20 UTC (winter in New York) and 2023-07-10 14:40 UTC (summer).
    for (dir, name, secs) in [
        (&f.root, "winter.txt", 1_700_000_000),
        (&f.root, "summer.txt", 1_689_000_000),
        (&f.here, "local.txt", 1_700_000_000),
    ] {
        let path = dir.join(name);
        fs::write(&path, b"12345").unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(at(secs))
            .unwrap();
    }
    let owners = owner_columns(&f.root.join("winter.txt"));
    let line = |mode_path: &Path, size: &str, time: &str, name: &str| {
        format!("{} {owners} {size} {time} {name}", mode_of(mode_path),)
    };
    let script = "ls -l\nls -n winter.txt\nls -l s*.txt\nls -lh winter.txt\nlls -l local.txt\n";
    let check = |tz: &str, winter: &str, summer: &str| {
        let out = f.shell_in_zone(script, &[], Some(tz));
        succeeded(&out);
        let (w, s, l) = (
            f.root.join("winter.txt"),
            f.root.join("summer.txt"),
            f.here.join("local.txt"),
        );
        let long = |p: &Path, time: &str, name: &str| line(p, &format!("{:>11}", 5), time, name);
        let expected = [
            "file> ls -l".to_string(),
            long(&s, summer, "summer.txt"),
            long(&w, winter, "winter.txt"),
            "file> ls -n winter.txt".to_string(),
            long(&w, winter, "winter.txt"),
            "file> ls -l s*.txt".to_string(),
            long(&s, summer, "summer.txt"),
            "file> ls -lh winter.txt".to_string(),
            line(&w, &format!("{:>6}", 5), winter, "winter.txt"),
            "file> lls -l local.txt".to_string(),
            long(&l, winter, "local.txt"),
        ];
        assert_eq!(
            stdout(&out).lines().collect::<Vec<_>>(),
            expected,
            "TZ={tz}\n{}",
            describe(&out)
        );
    };
    check("UTC0", "2023-11-14 22:13", "2023-07-10 14:40");
    if cfg!(unix) {
        // Set and empty: UTC (Windows keeps no empty variables).
        check("", "2023-11-14 22:13", "2023-07-10 14:40");
    }
    check(
        "EST5EDT,M3.2.0,M11.1.0",
        "2023-11-14 17:13",
        "2023-07-10 10:40",
    );
    check("<+0530>-5:30", "2023-11-15 03:43", "2023-07-10 20:10");
    // A zone file, as TZ names it on unix; its table says when summer time was.
    let zone = Path::new("/usr/share/zoneinfo/America/New_York");
    if zone.is_file() {
        check("America/New_York", "2023-11-14 17:13", "2023-07-10 10:40");
        check(
            ":/usr/share/zoneinfo/America/New_York",
            "2023-11-14 17:13",
            "2023-07-10 10:40",
        );
    } else {
        common::skip(&format!(
            "no {} here: ls -l with TZ naming a zone file is not checked",
            zone.display()
        ));
    }
    // A zone nobody can read: UTC, and it says so.
    check(
        "No/Such_Zone",
        "2023-11-14 22:13 UTC",
        "2023-07-10 14:40 UTC",
    );
}

/// A server older than LIST_OWNERS answers it as an unknown request and
/// closes (docs/PROTOCOL.md 5.1): `ls -l` connects again, lists with plain
/// LIST, shows dashes for the owners, and asks no more for them.
#[test]
fn ls_l_against_a_server_older_than_owners_shows_dashes() {
    use socket_tutorial::file_service::protocol::{
        Entry, ErrorCode, ErrorReply, Kind, Meta, Request, Response, ServerHello, VERSION,
    };
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let meta = |kind, size| Meta {
        kind,
        size,
        mtime_ns: 1_700_000_000 * 1_000_000_000,
        mode: 0o644,
        owner: None,
    };
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        // The connection LIST_OWNERS ends, and the one after it.
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.read_exact(&mut [0u8; 6]).unwrap();
            let hello = ServerHello {
                version: VERSION,
                token_required: false,
                read_only: true,
            };
            s.write_all(&hello.encode()).unwrap();
            while let Ok(Some(request)) = Request::read_from(&mut s) {
                seen.push(request.name());
                let reply = match request {
                    Request::Stat { .. } => Response::Stat(meta(Kind::Dir, 0)),
                    Request::List { owners: false, .. } => Response::Listing {
                        entries: vec![Entry {
                            name: b"old.txt".to_vec(),
                            meta: meta(Kind::File, 5),
                        }],
                        last: true,
                    },
                    // What a server of before LIST_OWNERS says to it.
                    _ => Response::Error(
                        ErrorReply::new(ErrorCode::BadRequest, "bad request: unknown frame type")
                            .closing(),
                    ),
                };
                reply.write_to(&mut s).unwrap();
                if matches!(reply, Response::Error(_)) {
                    break;
                }
            }
        }
        seen
    });
    let out = command("file_shell")
        .env("TZ", "UTC0")
        .args(["--port", &port.to_string()])
        .write_stdin("ls -l\nls -l old.txt\n")
        .output()
        .unwrap();
    succeeded(&out);
    let line = "-rw-r--r--     -     -           5 2023-11-14 22:13 old.txt";
    assert_eq!(
        stdout(&out),
        format!("file> ls -l\n{line}\nfile> ls -l old.txt\n{line}\n"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        server.join().unwrap(),
        ["STAT", "LIST_OWNERS", "LIST", "STAT", "LIST"]
    );
}

/// `ls -l`'s ten mode characters for a local file, as the server will show it.
fn mode_of(path: &Path) -> String {
    let meta = fs::metadata(path).unwrap();
    socket_tutorial::file_service::shell::listing::mode_string(
        socket_tutorial::file_service::protocol::Kind::File,
        socket_tutorial::file_service::protocol::Meta::from_metadata(&meta).mode,
    )
}

/// Issue 13 item 9: `file_shell HOST:PORT`, `file_shell -P PORT HOST` and
/// `[IPv6]:PORT`, as sftp users type them.
#[test]
fn the_server_is_named_as_sftp_users_name_it() {
    let f = fixture("sh-host", &[]);
    let port = f.srv.port();
    for args in [
        vec![format!("127.0.0.1:{port}")],
        vec!["-P".to_string(), port.clone(), "127.0.0.1".to_string()],
        vec!["--port".to_string(), port.clone(), "localhost".to_string()],
    ] {
        let out = command("file_shell")
            .args(&args)
            .current_dir(&f.here)
            .write_stdin("pwd\n")
            .output()
            .unwrap();
        succeeded(&out);
        assert!(
            stdout(&out).contains("Remote working directory: /"),
            "{args:?}"
        );
    }
    let v6 = fixture("sh-host6", &["--bind", "::1"]);
    let out = command("file_shell")
        .arg(format!("[::1]:{}", v6.srv.port()))
        .current_dir(&v6.here)
        .write_stdin("pwd\n")
        .output()
        .unwrap();
    succeeded(&out);
}

/// Issue 12 item 4 through file_shell: `--timeout SECS` ends the wait on a
/// server that accepts and never says a word, with exit status 1.
#[test]
fn a_silent_server_is_given_up_after_the_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let out = command("file_shell")
        .args(["--timeout", "1", "-P", &port])
        .write_stdin("pwd\n")
        .output()
        .unwrap();
    failed(&out);
    assert!(
        stderr(&out).starts_with("file_shell: error: ") && stderr(&out).contains("timed out"),
        "{}",
        describe(&out)
    );
    drop(silent);
}

/// Issue 13 item 5: a session that outlives the server's idle timeout (here a
/// slow local step in a batch) reconnects before the next command, says so in
/// one line, keeps the remote directory, and the batch does not fail.
#[test]
fn a_session_that_outlives_the_idle_timeout_reconnects_quietly() {
    let mut f = fixture("sh-idle", &["--idle-timeout", "1"]);
    fs::create_dir(f.root.join("docs")).unwrap();
    fs::write(f.root.join("docs/a.txt"), b"a").unwrap();
    // The server hangs up on the idle session: then the batch goes on.
    let (status, transcript) = f.shell_in_two_parts(
        "cd docs\n",
        "file> cd docs",
        |srv| drop(srv.wait_for("idle timeout")),
        "pwd\nget a.txt\n",
    );
    assert!(status.success(), "{transcript}");
    assert_eq!(
        transcript.matches("Reconnected to 127.0.0.1:").count(),
        1,
        "{transcript}"
    );
    assert!(
        transcript.contains("out| Remote working directory: /docs"),
        "{transcript}"
    );
    assert_eq!(fs::read(f.here.join("a.txt")).unwrap(), b"a");
}

/// Issue 13 item 4: mode bits travel without -p, as in sftp (the receiving
/// side's umask applies): a 0600 file does not arrive readable by everyone.
#[cfg(unix)]
#[test]
fn mode_bits_travel_without_dash_p() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture("sh-modes", &["--writable"]);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for (name, bits) in [("secret.txt", 0o600), ("run.sh", 0o755)] {
        fs::write(f.here.join(name), name).unwrap();
        fs::set_permissions(f.here.join(name), fs::Permissions::from_mode(bits)).unwrap();
    }
    let out = f
        .shell("put secret.txt\nput run.sh\nlmkdir back\nget secret.txt back/\nget run.sh back/\n");
    succeeded(&out);
    for dir in [&f.root, &f.here.join("back")] {
        assert_eq!(mode(&dir.join("secret.txt")), 0o600, "{}", dir.display());
        assert_eq!(
            mode(&dir.join("run.sh")) & 0o100,
            0o100,
            "{}",
            dir.display()
        );
    }
}

/// Issue 21, item 6: `file_shell -P PORT root@127.0.0.1`, as sftp is called, said
/// `cannot resolve host 'root@127.0.0.1'`. The user is set aside with one line.
#[test]
fn user_at_host_is_accepted_and_the_user_ignored_with_one_line() {
    let f = fixture("shell-user-at", &[]);
    fs::write(f.root.join("a.txt"), "hello").unwrap();
    for args in [
        vec!["-P".to_string(), f.srv.port(), "root@127.0.0.1".to_string()],
        vec![format!("up_temp@127.0.0.1:{}", f.srv.port())],
    ] {
        let out = command("file_shell")
            .args(&args)
            .current_dir(&f.here)
            .write_stdin("get a.txt\n")
            .output()
            .unwrap();
        succeeded(&out);
        let err = stderr(&out);
        let user = args.last().unwrap().split('@').next().unwrap();
        assert_eq!(
            err.lines()
                .filter(|l| l.contains("has no accounts"))
                .collect::<Vec<_>>(),
            [format!(
                "file_shell: ignoring the user '{user}': download_server has no accounts \
                 (a token, --token-file, is all it may ask for)"
            )],
            "{}",
            describe(&out)
        );
        assert_eq!(fs::read(f.here.join("a.txt")).unwrap(), b"hello");
        fs::remove_file(f.here.join("a.txt")).unwrap();
    }
}

/// Issue 21, item 4: batch mode ended with 1 whatever failed; now the kind of
/// failure has download_client's (and curl's) code.
#[test]
fn batch_mode_exits_with_the_kind_of_failure() {
    let f = fixture("shell-codes", &[]);
    fs::write(f.root.join("a.txt"), "a").unwrap();
    for (script, code) in [
        ("get nope.txt\n", 78),
        ("cd /nope\n", 78),
        ("mkdir new\n", 9),
        ("pwd\nget a.txt\n-get nope.txt\nlcd /no/such/dir\n", 1),
    ] {
        let out = f.shell(script);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{script:?}: {}",
            describe(&out)
        );
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = command("file_shell")
        .args(["-P", &closed.to_string()])
        .write_stdin("pwd\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
}

/// Issue 21, item 8: pointed at an SSH port, file_shell said `the server broke
/// the protocol: bad request: the server hello does not start with the magic`.
#[test]
fn an_ssh_server_is_named_as_one() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ssh = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").unwrap();
        let _ = s.read_to_end(&mut Vec::new());
    });
    let out = command("file_shell")
        .args(["-P", &port.to_string(), "127.0.0.1"])
        .write_stdin("pwd\n")
        .output()
        .unwrap();
    ssh.join().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "file_shell: error: the server 127.0.0.1:{port} is an SSH server (it answered \
             `SSH-`): file_shell and download_client speak to download_server; for an SSH server \
             use sftp\n"
        )
    );
}

/// Issue 21, item 8: after an idle spell, `lpwd` and `help` (which need no
/// server) printed `Reconnected to ...`; now only a command that talks to the
/// server reconnects.
#[test]
fn commands_that_need_no_server_do_not_reconnect() {
    let mut f = fixture("sh-idle-local", &["--idle-timeout", "1"]);
    let (status, transcript) = f.shell_in_two_parts(
        "ls\n",
        "file> ls",
        |srv| drop(srv.wait_for("idle timeout")),
        "lpwd\nhelp\npwd\nprogress\n",
    );
    assert!(status.success(), "{transcript}");
    assert!(
        transcript.contains("out| Remote working directory: /"),
        "{transcript}"
    );
    assert!(!transcript.contains("Reconnected"), "{transcript}");
}

/// Issue 21, item 8: with the server killed, `ls` said `The server closed the
/// idle connection; reconnecting failed` although the session was not idle.
#[test]
fn a_lost_server_is_not_called_idle() {
    let mut f = fixture("sh-lost", &[]);
    fs::write(f.root.join("a.txt"), "a").unwrap();
    let port = f.srv.port();
    // After the listing's line the first ls is over, the connection idle and open.
    let (status, transcript) = f.shell_in_two_parts("ls\n", "a.txt", |srv| srv.kill(), "ls\n");
    assert_eq!(status.code(), Some(7), "{transcript}");
    assert!(
        transcript.contains(&format!(
            "err| The connection to 127.0.0.1:{port} was lost, and reconnecting failed: \
             cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{transcript}"
    );
    assert!(!transcript.contains("idle"), "{transcript}");
}

fn mode_bits(path: &Path) -> u16 {
    socket_tutorial::file_service::file_meta::mode_bits(&fs::symlink_metadata(path).unwrap())
}

#[test]
fn chmod_lumask_and_version_as_in_sftp() {
    let f = fixture("sh-chmod", &["--writable"]);
    fs::write(f.root.join("a.txt"), b"a").unwrap();
    fs::write(f.root.join("b.txt"), b"b").unwrap();
    let out = f.shell("chmod 400 *.txt\nversion\n");
    succeeded(&out);
    let text = stdout(&out);
    assert!(
        text.contains("Changing mode on /a.txt\nChanging mode on /b.txt\n"),
        "{text}"
    );
    let ro = if cfg!(windows) { 0o444 } else { 0o400 };
    assert_eq!(
        (
            mode_bits(&f.root.join("a.txt")),
            mode_bits(&f.root.join("b.txt"))
        ),
        (ro, ro)
    );
    assert!(
        text.contains(&format!(
            "file_shell {}, protocol version 2 (PROTOCOL.md); the server speaks version 2",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    // Bad modes are refused before anything is sent, and the batch stops there.
    for bad in [
        "chmod u+x a.txt",
        "chmod 4755 a.txt",
        "chmod 644",
        "chmod 644 nope.txt",
    ] {
        let out = f.shell(&format!("{bad}\n"));
        failed(&out);
        let err = stderr(&out);
        assert!(err.contains("batch stopped at line 1"), "{bad}: {err}");
    }
    // lumask: what a download without -p keeps of the remote mode.
    fs::write(f.root.join("c.txt"), b"c").unwrap();
    fs::create_dir_all(f.here.join("keep")).unwrap();
    let out = f.shell("chmod 666 c.txt\nlumask 077\nlcd keep\nget c.txt\nlumask\n");
    succeeded(&out);
    let text = stdout(&out);
    assert!(text.contains("Local umask: 077\n"), "{text}");
    let got = mode_bits(&f.here.join("keep/c.txt"));
    // Windows has one bit: 077 leaves the owner's write, so not read-only.
    assert_eq!(got, if cfg!(windows) { 0o644 } else { 0o600 });
}

#[test]
fn sftp_commands_not_offered_say_why() {
    let f = fixture("sh-not-offered", &["--writable"]);
    for (line, why) in [
        ("df", "no call for a file system's free space"),
        ("ln a b", "never creates a link"),
        ("symlink a b", "never creates a link"),
        ("cp a b", "no server-side copy"),
    ] {
        let out = f.shell(&format!("{line}\n"));
        failed(&out);
        let err = stderr(&out);
        assert!(
            err.contains(why) && !err.contains("unknown command"),
            "{line}: {err}"
        );
        let name = line.split(' ').next().unwrap();
        let help = f.shell(&format!("help {name}\n"));
        succeeded(&help);
        assert!(
            stdout(&help).contains(why),
            "help {name}: {}",
            describe(&help)
        );
    }
    let out = f.shell("help\n");
    assert!(
        stdout(&out).contains("Not offered: df, ln, symlink, cp"),
        "{}",
        describe(&out)
    );
}

#[test]
fn errors_name_remote_paths_as_pwd_shows_them() {
    let f = fixture("sh-slash", &["--writable"]);
    fs::create_dir_all(f.root.join("home/up_temp/socket")).unwrap();
    for (line, want) in [
        ("cd nope", "not found: \"/home/up_temp/socket/nope\""),
        ("ls nope", "not found: \"/home/up_temp/socket/nope\""),
        ("get nope", "not found: \"/home/up_temp/socket/nope\""),
        ("rmdir nope", "not found: \"/home/up_temp/socket/nope\""),
    ] {
        let out = f.shell(&format!("cd /home/up_temp/socket\n{line}\n"));
        failed(&out);
        assert!(stderr(&out).contains(want), "{line}: {}", describe(&out));
    }
}
