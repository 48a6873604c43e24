//! `ava archive`: a compressed copy taken with SQLite's online backup API, a manifest that
//! proves it (checked here with sha2 and zstd directly, not with ava's code), and removal
//! of the original only after a passing verify. The original's bytes never change.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::*;

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The one archive and the one manifest in `dir`.
fn written(dir: &Path) -> (PathBuf, Value) {
    let names = names_in(dir);
    let pick = |suffix: &str| {
        let found: Vec<&String> = names.iter().filter(|n| n.ends_with(suffix)).collect();
        assert_eq!(found.len(), 1, "one *{suffix} expected in {names:?}");
        dir.join(found[0])
    };
    let archive = pick(".db.zst");
    let manifest = pick(".manifest.json");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    (archive, manifest)
}

/// Decompresses `archive` to `to`.
fn decompress(archive: &Path, to: &Path) {
    let bytes = zstd::stream::decode_all(std::fs::File::open(archive).unwrap()).unwrap();
    std::fs::write(to, bytes).unwrap();
}

impl Case {
    fn archive(&self, extra: &[&str]) -> Out {
        let mut cmd = self.ava();
        cmd.args(["archive", "--sqlite"])
            .arg(&self.sqlite)
            .args(extra);
        Out::of(&mut cmd)
    }

    fn archive_to_target(&self, extra: &[&str]) -> Out {
        let mut args = extra.to_vec();
        args.extend(["--database-url", &self.db.url]);
        self.archive(&args)
    }
}

#[test]
fn archive_writes_a_decompressible_copy_matching_its_manifest() {
    let case = Case::seeded(CALLS, 90);
    let before = sha256(&case.sqlite);
    let out_dir = case.dir.path().join("archives");
    case.archive(&["--out", out_dir.to_str().unwrap()])
        .ok()
        .stdout_has(&["archived:", "not verified", "original kept"]);
    assert_eq!(sha256(&case.sqlite), before, "the original changed");

    let (archive, manifest) = written(&out_dir);
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("source-") && name.ends_with("Z.db.zst"),
        "{name}"
    );
    assert_eq!(manifest["archive"]["file"], name.as_str());
    assert_eq!(manifest["archive"]["compression"], "zstd");
    assert_eq!(manifest["archive"]["sha256"], sha256(&archive).as_str());
    assert_eq!(
        manifest["archive"]["size"],
        std::fs::metadata(&archive).unwrap().len()
    );
    assert_eq!(manifest["ava_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["verify"], Value::Null);

    let restored = case.dir.path().join("restored.db");
    decompress(&archive, &restored);
    assert_eq!(manifest["backup"]["sha256"], sha256(&restored).as_str());
    assert_eq!(
        manifest["backup"]["size"],
        std::fs::metadata(&restored).unwrap().len()
    );
    assert_eq!(sqlite::dump(&restored), sqlite::dump(&case.sqlite));
    let counts: Vec<(String, i64)> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = TABLE_NAMES
        .iter()
        .map(|t| t.to_string())
        .zip(sqlite::counts(&case.sqlite))
        .collect();
    assert_eq!(counts, want);
    assert_eq!(sha256(&case.sqlite), before, "the original changed");
}

#[test]
fn archive_verifies_the_copy_against_a_target_and_keeps_the_original() {
    let case = Case::migrated(CALLS, 91);
    let before = sha256(&case.sqlite);
    case.archive_to_target(&[])
        .ok()
        .stdout_has(&["✓ identical", "original kept"]);
    // Default folder: the SQLite file's own.
    let (_, manifest) = written(case.dir.path());
    assert_eq!(manifest["verify"]["identical"], true);
    assert_eq!(
        manifest["verify"]["report"]["tables"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert!(case.sqlite.exists());
    assert_eq!(sha256(&case.sqlite), before);
}

#[test]
fn remove_original_without_a_target_is_refused() {
    let case = Case::seeded(CALLS, 92);
    let before = sha256(&case.sqlite);
    case.archive(&["--remove-original"])
        .code(4)
        .stderr_has(&["--remove-original needs a target", "nothing was archived"]);
    assert_eq!(sha256(&case.sqlite), before);
    assert_eq!(names_in(case.dir.path()), ["source.db"]);
}

#[test]
fn remove_original_with_a_failing_verify_keeps_the_file() {
    let case = Case::migrated(CALLS, 93);
    let before = sha256(&case.sqlite);
    case.pg
        .exec("update customers set name = 'Changed In Postgres' where id = 5");
    case.archive_to_target(&["--remove-original"])
        .code(3)
        .stdout_has(&["customers id 5: name"])
        .stderr_has(&["not removing", "differences", "the original is kept"]);
    assert!(case.sqlite.exists());
    assert_eq!(sha256(&case.sqlite), before);
    let (_, manifest) = written(case.dir.path());
    assert_eq!(manifest["verify"]["identical"], false);
}

#[test]
fn remove_original_after_a_passing_verify_deletes_it_and_its_wal() {
    let case = Case::pushed(CALLS, 94);
    case.lite("PRAGMA journal_mode = WAL");
    case.migrate(&[]).ok();
    // An idle connection keeps the -wal and -shm files in place.
    let conn = case.lite_conn();
    let _: i64 = conn
        .query_row("select count(*) from customers", [], |r| r.get(0))
        .unwrap();
    let wal = case.dir.path().join("source.db-wal");
    let shm = case.dir.path().join("source.db-shm");
    assert!(wal.exists() && shm.exists());
    let rows = sqlite::dump(&case.sqlite);

    let out_dir = case.dir.path().join("archives");
    case.archive_to_target(&["--remove-original", "--out", out_dir.to_str().unwrap()])
        .ok()
        .stdout_has(&["✓ identical", "original removed"]);
    for gone in [&case.sqlite, &wal, &shm] {
        assert!(!gone.exists(), "{} is still there", gone.display());
    }
    drop(conn);

    // The archive is the file: same rows, still in WAL mode, identical to the target.
    let (archive, manifest) = written(&out_dir);
    assert_eq!(manifest["backup"]["journal_mode"], "wal");
    let restored = case.dir.path().join("restored.db");
    decompress(&archive, &restored);
    assert_eq!(manifest["backup"]["sha256"], sha256(&restored).as_str());
    assert_eq!(sqlite::dump(&restored), rows);
    case.with_both_file(&["verify"], &restored).ok();
}
