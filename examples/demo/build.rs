//! Builds the programs first when cargo started an example (`cargo run --example demo`), so that a fresh checkout needs one command.

use std::path::Path;
use std::process::Command;

/// What went wrong, said in one line.
type Result<T> = std::result::Result<T, String>;

/// Under `cargo run --example demo` (or `lesson`) the programs may be missing or older
/// than the source: build them first, with the profile the tour itself was built with.
pub fn build_when_run_by_cargo(bin: &Path) -> Result<()> {
    let (Some(cargo), Some(manifest)) = (
        std::env::var_os("CARGO"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return Ok(());
    };
    let profile = match bin.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(name) => name.to_string(),
        None => return Ok(()),
    };
    // On stderr: what a lesson prints on stdout is its transcript.
    eprintln!("(building the programs: cargo build --profile {profile} --bins)");
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--bins", "--profile", &profile])
        .current_dir(manifest)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo could not build the programs (see above)".into());
    }
    Ok(())
}
