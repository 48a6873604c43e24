//! The plan's clean-up: a compressed copy of the app's SQLite file, with a manifest that
//! proves what it holds, and — only after a passing verify — removal of the original.
//!
//! [`archive`] opens the original **read-only** (its bytes never change) and copies it
//! with SQLite's online backup API, in one step: a consistent snapshot even while the
//! app keeps writing (the same pages a reader would see in one read transaction,
//! including what is still in the `-wal` file). The copy is counted, verified against
//! the target when one is given (`ava_verify::verify`, exactly as `ava verify` does),
//! compressed with zstd, decompressed again to check it, and published as
//! `<name>-<UTC timestamp>.db.zst` beside `<name>-<UTC timestamp>.manifest.json` (both
//! created only if absent: an archive never replaces a file).
//!
//! With `remove_original`, the original (and its `-wal` / `-shm`) is deleted only when a
//! target was given, the verify found the backup identical to it, and the file did not
//! change from before the backup until the deletion (SQLite's `data_version`, read on
//! the one connection held open throughout). Otherwise it is kept and
//! [`ArchiveReport::removal`] says why.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ava_catalog::TABLES;
use ava_sink::Target;
use ava_source::{Source, SourceError};
use ava_verify::{Report, VerifyError};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// zstd rather than gzip: SQLite pages (text, small integers, free space) compress
/// about as well or better with zstd at its default level as with gzip at its best, and
/// several times faster (hundreds of MB/s against tens), so archiving a large file
/// takes seconds, not minutes; the `zstd` tool (`zstd -d FILE`) is packaged on every
/// current Linux and macOS, and the frame carries a checksum and the content size, so
/// `zstd -t` checks an archive on its own.
pub const ZSTD_LEVEL: i32 = 3;

/// How long the backup waits for a writer's lock on the original before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes per read when hashing and compressing.
const CHUNK: usize = 1 << 20;

/// Why an archive stopped. Nothing is left in the output folder in every case but the
/// last two (where the archive is complete).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("SQLite file {} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("--remove-original needs a target to verify the copy against first (pass --database-url URL or set DATABASE_URL); nothing was archived or removed")]
    RemoveNeedsTarget,
    #[error("{} already exists: an archive never replaces a file (wait a second or choose another --out)", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("the compressed archive {} does not decompress to the backup (sha256 {found}, expected {expected}); it was not kept", path.display())]
    Corrupt {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// What the manifest records about the archive itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveFile {
    /// File name, in the manifest's folder.
    pub file: String,
    pub compression: &'static str,
    pub level: i32,
    pub size: u64,
    pub sha256: String,
}

/// What the manifest records about the backup the archive decompresses to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupFile {
    /// The name to decompress it to (`zstd -d` picks this name).
    pub file: String,
    pub size: u64,
    pub sha256: String,
    /// `wal` or `rollback` (what the original used; the copy keeps it).
    pub journal_mode: &'static str,
}

/// One table's row count in the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: u64,
}

/// The verify of the backup against the target.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// The target, redacted.
    pub target: String,
    pub identical: bool,
    pub report: Report,
}

/// `manifest.json`: everything needed to trust the archive without the original.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub ava_version: &'static str,
    /// When the backup was taken, UTC (RFC 3339).
    pub created_at: String,
    /// The original file, as given.
    pub original: String,
    pub archive: ArchiveFile,
    pub backup: BackupFile,
    /// Rows per catalog table in the backup, in load order.
    pub tables: Vec<TableRows>,
    /// Present when a target was given.
    pub verify: Option<Verified>,
}

/// What became of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Not asked for: the original is kept.
    NotRequested,
    /// Deleted: these files.
    Removed(Vec<PathBuf>),
    /// Asked for but refused; the original is kept. The reason names why.
    Refused(RefusedBecause),
}

/// Why the original was kept although its removal was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusedBecause {
    #[error("the verify found differences between the backup and the target")]
    VerifyDiffers,
    #[error("the file changed during or after the backup (is the app still running?); stop the app, then migrate and archive again")]
    Changed,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ArchiveReport {
    /// The compressed backup.
    pub archive: PathBuf,
    /// Its manifest.
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub removal: Removal,
}

/// Archives the SQLite file `sqlite` into `out_dir` (created if missing), as described
/// in the crate docs.
pub async fn archive(
    sqlite: &Path,
    out_dir: &Path,
    target: Option<&mut Target>,
    remove_original: bool,
) -> Result<ArchiveReport, ArchiveError> {
    if remove_original && target.is_none() {
        return Err(ArchiveError::RemoveNeedsTarget);
    }
    if !sqlite.is_file() {
        return Err(ArchiveError::NotFound(sqlite.to_path_buf()));
    }
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let now = chrono::Utc::now();
    let stem = sqlite.file_stem().map_or_else(
        || "ava_database".into(),
        |s| s.to_string_lossy().into_owned(),
    );
    let base = format!("{stem}-{}", now.format("%Y%m%dT%H%M%SZ"));
    let archive_path = out_dir.join(format!("{base}.db.zst"));
    let manifest_path = out_dir.join(format!("{base}.manifest.json"));
    for p in [&archive_path, &manifest_path] {
        if p.symlink_metadata().is_ok() {
            return Err(ArchiveError::Exists(p.clone()));
        }
    }

    // The original, read-only, held open until the end so that `data_version` can tell
    // whether anyone committed to it since the backup.
    let sqlite_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Sqlite { path, source }
    };
    let original = Connection::open_with_flags(
        sqlite,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(sqlite))?;
    original
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_err(sqlite))?;

    // The uncompressed backup, a private temporary file in the output folder.
    let backup_tmp = Temp::create(out_dir.join(format!(".{base}.db.partial")))?;
    let before = data_version(&original).map_err(sqlite_err(sqlite))?;
    Source::open(sqlite)?.backup_to(&backup_tmp.path)?;
    File::open(&backup_tmp.path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&backup_tmp.path))?;
    let after = data_version(&original).map_err(sqlite_err(sqlite))?;
    let journal_mode = journal_mode(&backup_tmp.path)?;

    // Counted through the source reader, which also checks this is the app's database.
    let tables = {
        let mut source = Source::open(&backup_tmp.path)?;
        let snap = source.snapshot()?;
        TABLES
            .iter()
            .map(|t| {
                Ok(TableRows {
                    table: t.name,
                    rows: snap.count(t)?,
                })
            })
            .collect::<Result<Vec<_>, SourceError>>()?
    };
    let verify = match target {
        Some(target) => {
            let report =
                ava_verify::verify(&backup_tmp.path, target, &ava_verify::Excluded::default())
                    .await?;
            Some(Verified {
                target: target.url().to_string(),
                identical: report.identical(),
                report,
            })
        }
        None => None,
    };
    // Reading a WAL-mode copy leaves (empty) -wal and -shm files beside it: ours.
    backup_tmp.remove_side_files();

    let archive_tmp = Temp::create(out_dir.join(format!(".{base}.db.zst.partial")))?;
    let (backup_hash, backup_size, archive_hash, archive_size) =
        compress(&backup_tmp.path, &archive_tmp.path)?;
    let check = decompressed_sha256(&archive_tmp.path)?;
    if check != backup_hash {
        return Err(ArchiveError::Corrupt {
            path: archive_path,
            expected: backup_hash,
            found: check,
        });
    }
    drop(backup_tmp);

    let manifest = Manifest {
        ava_version: env!("CARGO_PKG_VERSION"),
        created_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        original: sqlite.display().to_string(),
        archive: ArchiveFile {
            file: file_name(&archive_path),
            compression: "zstd",
            level: ZSTD_LEVEL,
            size: archive_size,
            sha256: archive_hash,
        },
        backup: BackupFile {
            file: format!("{base}.db"),
            size: backup_size,
            sha256: backup_hash,
            journal_mode,
        },
        tables,
        verify,
    };
    let manifest_tmp = Temp::create(out_dir.join(format!(".{base}.manifest.json.partial")))?;
    {
        let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Io {
            path: manifest_tmp.path.clone(),
            source: e.into(),
        })?;
        text.push(b'\n');
        let mut f = File::options()
            .write(true)
            .open(&manifest_tmp.path)
            .map_err(io_err(&manifest_tmp.path))?;
        f.write_all(&text).map_err(io_err(&manifest_tmp.path))?;
        f.sync_all().map_err(io_err(&manifest_tmp.path))?;
    }
    archive_tmp.publish(&archive_path)?;
    if let Err(e) = manifest_tmp.publish(&manifest_path) {
        // An archive without its manifest cannot be trusted: take it back.
        let _ = std::fs::remove_file(&archive_path);
        return Err(e);
    }
    sync_dir(out_dir);

    let removal = if !remove_original {
        Removal::NotRequested
    } else if !manifest.verify.as_ref().is_some_and(|v| v.identical) {
        Removal::Refused(RefusedBecause::VerifyDiffers)
    } else if before != after || data_version(&original).map_err(sqlite_err(sqlite))? != before {
        Removal::Refused(RefusedBecause::Changed)
    } else {
        drop(original);
        Removal::Removed(remove_with_side_files(sqlite)?)
    };
    Ok(ArchiveReport {
        archive: archive_path,
        manifest_path,
        manifest,
        removal,
    })
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError {
    let path = path.to_path_buf();
    move |source| ArchiveError::Io { path, source }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// SQLite's count of commits by other connections, as seen by this one.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// The journal mode a SQLite file's header records (bytes 18 and 19: 2 for WAL).
fn journal_mode(path: &Path) -> Result<&'static str, ArchiveError> {
    let mut header = [0u8; 20];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(io_err(path))?;
    Ok(if header[18] == 2 { "wal" } else { "rollback" })
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compresses `from` into `to` in one pass; returns the sha256 and size of both.
fn compress(from: &Path, to: &Path) -> Result<(String, u64, String, u64), ArchiveError> {
    let input = File::open(from).map_err(io_err(from))?;
    let size = input.metadata().map_err(io_err(from))?.len();
    let output = File::options().write(true).open(to).map_err(io_err(to))?;
    let sink = Hashing {
        inner: BufWriter::with_capacity(CHUNK, output),
        hash: Sha256::new(),
        bytes: 0,
    };
    let mut encoder = zstd::stream::Encoder::new(sink, ZSTD_LEVEL).map_err(io_err(to))?;
    encoder.include_checksum(true).map_err(io_err(to))?;
    encoder.include_contentsize(true).map_err(io_err(to))?;
    encoder
        .set_pledged_src_size(Some(size))
        .map_err(io_err(to))?;
    let mut reader = BufReader::with_capacity(CHUNK, input);
    let mut plain = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut read = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(io_err(from))?;
        if n == 0 {
            break;
        }
        plain.update(&buf[..n]);
        encoder.write_all(&buf[..n]).map_err(io_err(to))?;
        read += n as u64;
    }
    let mut sink = encoder.finish().map_err(io_err(to))?;
    sink.flush().map_err(io_err(to))?;
    let file = sink.inner.into_inner().map_err(|e| ArchiveError::Io {
        path: to.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(to))?;
    Ok((
        hex::encode(plain.finalize()),
        read,
        hex::encode(sink.hash.finalize()),
        sink.bytes,
    ))
}

/// The sha256 of what the zstd file `path` decompresses to.
fn decompressed_sha256(path: &Path) -> Result<String, ArchiveError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut sink = Hashing {
        inner: io::sink(),
        hash: Sha256::new(),
        bytes: 0,
    };
    zstd::stream::copy_decode(BufReader::with_capacity(CHUNK, file), &mut sink)
        .map_err(io_err(path))?;
    Ok(hex::encode(sink.hash.finalize()))
}

/// The sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = BufReader::with_capacity(CHUNK, File::open(path)?);
    let mut sink = Hashing {
        inner: io::sink(),
        hash: Sha256::new(),
        bytes: 0,
    };
    io::copy(&mut file, &mut sink)?;
    Ok(hex::encode(sink.hash.finalize()))
}

/// Deletes `path` and its `-wal` / `-shm` files if present; returns what was deleted.
fn remove_with_side_files(path: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut removed = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let p = PathBuf::from(name);
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !suffix.is_empty() => {}
            Err(e) => return Err(io_err(&p)(e)),
        }
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(removed)
}

/// Makes renames and deletions in `dir` durable (where the platform can).
fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A temporary file in the output folder: created new, removed (with any `-wal` /
/// `-shm` beside it) unless published.
struct Temp {
    path: PathBuf,
    published: bool,
}

impl Temp {
    fn create(path: PathBuf) -> Result<Temp, ArchiveError> {
        File::create_new(&path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => ArchiveError::Exists(path.clone()),
            _ => ArchiveError::Io {
                path: path.clone(),
                source,
            },
        })?;
        Ok(Temp {
            path,
            published: false,
        })
    }

    fn side_files(&self) -> [PathBuf; 2] {
        ["-wal", "-shm"].map(|suffix| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    fn remove_side_files(&self) {
        for p in self.side_files() {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Moves the file to `to`, never replacing an existing file.
    fn publish(mut self, to: &Path) -> Result<(), ArchiveError> {
        let result = match std::fs::hard_link(&self.path, to) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ArchiveError::Exists(to.to_path_buf()))
            }
            // No hard links here: check, then rename.
            Err(_) if to.symlink_metadata().is_ok() => {
                return Err(ArchiveError::Exists(to.to_path_buf()))
            }
            Err(_) => std::fs::rename(&self.path, to),
        };
        result.map_err(io_err(to))?;
        self.published = true;
        let _ = std::fs::remove_file(&self.path);
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
        self.remove_side_files();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(dir: &Path) -> PathBuf {
        let path = dir.join("ava_database.db");
        ava_seed::seed(
            &path,
            &ava_seed::SeedOptions {
                calls: 50,
                seed: 3,
                end: chrono::NaiveDate::from_ymd_opt(2025, 8, 25).unwrap(),
            },
        )
        .unwrap();
        path
    }

    fn dump(path: &Path) -> Vec<Vec<rusqlite::types::Value>> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut all = Vec::new();
        for t in &TABLES {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{}\" ORDER BY id", t.name))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for row in rows {
                all.push(row.unwrap());
            }
        }
        all
    }

    #[tokio::test]
    async fn archives_a_copy_that_decompresses_to_the_manifest_hash() {
        let dir = tempfile::tempdir().unwrap();
        let original = seeded(dir.path());
        let before = sha256_file(&original).unwrap();
        let out = dir.path().join("archive");
        let report = archive(&original, &out, None, false).await.unwrap();
        assert_eq!(sha256_file(&original).unwrap(), before);
        assert_eq!(report.removal, Removal::NotRequested);
        assert!(report.manifest.verify.is_none());
        assert_eq!(
            sha256_file(&report.archive).unwrap(),
            report.manifest.archive.sha256
        );
        let restored = dir.path().join("restored.db");
        let bytes = zstd::stream::decode_all(File::open(&report.archive).unwrap()).unwrap();
        std::fs::write(&restored, &bytes).unwrap();
        assert_eq!(
            sha256_file(&restored).unwrap(),
            report.manifest.backup.sha256
        );
        assert_eq!(bytes.len() as u64, report.manifest.backup.size);
        assert_eq!(dump(&restored), dump(&original));
        // Only the archive and its manifest are left in the output folder.
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [file_name(&report.archive), file_name(&report.manifest_path)]
        );
    }

    #[tokio::test]
    async fn removing_the_original_needs_a_target() {
        let dir = tempfile::tempdir().unwrap();
        let original = seeded(dir.path());
        let out = dir.path().join("archive");
        let e = archive(&original, &out, None, true).await.unwrap_err();
        assert!(matches!(e, ArchiveError::RemoveNeedsTarget), "{e}");
        assert!(original.exists());
        assert!(!out.exists());
    }
}
