//! Part 4: file_shell and a writable download_server (the tutorial's sftp section).

use crate::download::{noise, read, write};
use crate::tour::{expect_status, Input, Result, Tour};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

pub fn part(tour: &Tour) -> Result<()> {
    tour.title("4. Folders: the tutorial's sftp steps, put ./* . and get ./* ., with file_shell");
    let served = tour.dir("fs-served/home/up_temp/socket")?;
    let served = served.ancestors().nth(3).unwrap_or(&served).to_path_buf();
    let e = tour
        .dir("E/new_temp/photos/2018")?
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf);
    let e = e.ok_or("no E folder")?;
    write(&e.join("new_temp/notes.txt"), b"socket notes\n")?;
    write(
        &e.join("new_temp/photos/2018/beach.jpg"),
        &noise(3, 300_000),
    )?;
    write(&e.join("new_temp/empty.txt"), b"")?;
    tour.say("download_server only sends files unless started with --writable:");
    let served_arg = served.display().to_string();
    let mut server = tour.start(
        "download_server",
        &["--port", "0", "--root", &served_arg, "--writable"],
    )?;
    let port = server.port.to_string();

    tour.say("");
    tour.say("The tutorial's upload: see where we are on both sides (pwd, lpwd), go to the server's folder (cd)");
    tour.say("and the local one (lcd), then put ./* . -- with -r, because plain put skips folders (and says so).");
    tour.say("Commands on stdin (or -b FILE) run in batch mode: each is echoed after the prompt, as sftp -b does.");
    script(
        tour,
        &e,
        "upload.txt",
        "pwd\nlpwd\ncd /home/up_temp/socket\nlcd new_temp\nput ./* .\nput -r ./* .\nls -l\n",
    )?;
    let code = tour.run(
        &e,
        "file_shell",
        &["--port", &port, "-b", "upload.txt"],
        &Input::Nothing,
    )?;
    expect_status("file_shell -b upload.txt", code, 0)?;

    tour.say("");
    tour.say("And back: get ./* . into an empty local folder (lmkdir makes one on this side):");
    script(
        tour,
        &e,
        "download.txt",
        "cd /home/up_temp/socket\nlmkdir back\nlcd back\nget -r ./* .\n",
    )?;
    let code = tour.run(
        &e,
        "file_shell",
        &["--port", &port, "-b", "download.txt"],
        &Input::Nothing,
    )?;
    expect_status("file_shell -b download.txt", code, 0)?;
    if tree(&e.join("new_temp"))? != tree(&e.join("back"))? {
        return Err("the folder that came back differs from the one sent".into());
    }
    tour.say("(new_temp and back hold the same files, folders and bytes)");

    tour.say("");
    tour.say("cd .. stops at the server's root, and a name that would lead outside it is refused;");
    tour.say("in batch mode the first failure ends the session with exit status 1:");
    let link = served.join("escape");
    let mut commands = String::from("cd ../../..\npwd\n");
    match link::make(Path::new(".."), &link) {
        Ok(kind) => {
            tour.say(&format!(
                "(escape is a {kind} in the served folder, to the folder above it)"
            ));
            commands.push_str("put new_temp/notes.txt escape/stolen.txt\n");
        }
        Err(why) => {
            tour.say(&format!("(no link could be made here: {why})"));
            tour.say("(so the name is NUL.txt instead: Windows would write it to its NUL device,");
            tour.say("and the server refuses device names on every system)");
            commands.push_str("put new_temp/notes.txt NUL.txt\n");
        }
    }
    commands.push_str("pwd\n");
    script(tour, &e, "bad.txt", &commands)?;
    let code = tour.run(
        &e,
        "file_shell",
        &["--port", &port, "-b", "bad.txt"],
        &Input::Nothing,
    )?;
    tour.say(&format!("(exit status {code})"));
    if tour
        .path("fs-served")
        .join("..")
        .join("stolen.txt")
        .exists()
        || tour.path("stolen.txt").exists()
    {
        return Err("a file was written outside the served folder".into());
    }
    expect_status("file_shell -b bad.txt", code, 1)?;

    tour.say("");
    tour.say("The server logged every request; these are the writes (each upload went to a hidden .NAME.part");
    tour.say("next to its target, renamed into place only when every byte had arrived):");
    server.show_log_about(&["upload", "mkdir"]);
    Ok(())
}

/// Writes a batch script for file_shell and shows it.
fn script(tour: &Tour, dir: &Path, name: &str, text: &str) -> Result<()> {
    write(&dir.join(name), text.as_bytes())?;
    tour.say(&format!("{name}:"));
    for line in text.lines() {
        tour.say(&format!("    {line}"));
    }
    Ok(())
}

/// Every file (with its bytes) and folder under `dir`, by relative path.
fn tree(dir: &Path) -> Result<BTreeMap<String, Option<Vec<u8>>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) -> Result<()> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            let rel = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(rel, None);
                walk(base, &path, out)?;
            } else {
                out.insert(rel, Some(read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// A link to a directory, of the kind this system lets anyone make.
mod link {
    use std::path::Path;

    /// A symbolic link.
    #[cfg(unix)]
    pub fn make(target: &Path, link: &Path) -> Result<&'static str, String> {
        std::os::unix::fs::symlink(target, link)
            .map(|()| "symbolic link")
            .map_err(|e| e.to_string())
    }

    /// A junction (`mklink /J`): a symbolic link needs a privilege on Windows, a junction does not.
    #[cfg(windows)]
    pub fn make(target: &Path, link: &Path) -> Result<&'static str, String> {
        let folder = link.parent().unwrap_or(Path::new("."));
        let target = std::path::absolute(folder.join(target)).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("cmd")
            .args(["/C", "mklink", "/J"])
            .arg(link)
            .arg(target)
            .output()
            .map_err(|e| format!("cannot run cmd: {e}"))?;
        if out.status.success() && link.exists() {
            Ok("junction")
        } else {
            Err(format!(
                "mklink /J failed: {}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    #[cfg(not(any(unix, windows)))]
    pub fn make(_target: &Path, _link: &Path) -> Result<&'static str, String> {
        Err("this system has no directory links std can make".into())
    }
}
