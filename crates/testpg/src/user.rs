//! The tests' OS user: root ignores file permissions, so a test of what ava does with a
//! file it may not read, or a folder it may not write, runs its subject as an
//! unprivileged user when the tests run as root (as CI does) — never skipped.

use std::path::Path;
use std::process::Command;

/// The user an unprivileged run is made as (Debian's and most systems' `nobody`).
pub const UNPRIVILEGED_USER: &str = "nobody";

/// Whether this process runs as root (the owner of `/proc/self` is the effective uid).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` as a command that runs without root's privileges: as
/// [`UNPRIVILEGED_USER`] (via `runuser`) when this process is root, else as this
/// process' own user. The program, and every folder above it, must be readable and
/// searchable by that user (the default for a checkout made with umask 022).
pub fn unprivileged(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", UNPRIVILEGED_USER, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// For a test that must not run as root: when this process is root, runs the test
/// `name` of this test binary again as [`UNPRIVILEGED_USER`] (alone, its output shown),
/// asserts that it passed and returns `true` — the caller then returns; otherwise
/// returns `false` and the caller runs the test itself.
pub fn rerun_unprivileged(name: &str) -> bool {
    if !running_as_root() {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = unprivileged(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} as {UNPRIVILEGED_USER}: {e}", exe.display()));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}, run again as {UNPRIVILEGED_USER} (root ignores file permissions), failed \
         ({}); {UNPRIVILEGED_USER} must be able to run {}\n{stdout}{stderr}",
        out.status,
        exe.display()
    );
    true
}
