//! Helpers for the library's unit tests: a temporary directory of their own, removed afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system's temp dir, named after the test's label; removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "socket-tutorial-unit-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test's temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// For a unit test that fails only because Wine lacks something real Windows has: says so,
/// naming the gap, and returns true so the test can return early (as `tests/common` does).
pub fn skip_under_wine(gap: &str) -> bool {
    let wine = cfg!(windows)
        && (std::env::var_os("WINEPREFIX").is_some()
            || std::env::var_os("WINELOADER").is_some()
            || Path::new(r"C:\windows\system32\winecfg.exe").exists());
    if wine {
        eprintln!("SKIPPED under Wine: {gap}");
    }
    wine
}
