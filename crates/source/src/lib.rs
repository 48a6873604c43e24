//! The SQLite source: opens the app's `ava_database.db` read-only and streams the five
//! catalog tables' rows, in id order, from one consistent snapshot.
//!
//! **Invariant: the source file is never written.** It is opened with
//! `SQLITE_OPEN_READ_ONLY`; every read of a run happens inside one read transaction
//! (a [`Snapshot`]), so rows the app commits meanwhile are not seen half-way (in WAL
//! mode the app keeps writing; in rollback-journal mode its writes wait, up to its own
//! busy timeout, until the snapshot ends).
//!
//! **Every way the file can be wrong is a [`SourceError`], never a panic**: one line
//! naming the file, what is wrong with it and what to do. SQLite reports most of them
//! (by its error codes) only at the first read, not at open — a corrupt
//! page only when a table reaches it — so every read maps its error the same way:
//!
//! | the file | error |
//! |---|---|
//! | missing; a directory, device or FIFO; unreadable | [`SourceError::NotFound`], [`SourceError::NotAFile`], [`SourceError::Unreadable`] |
//! | 0 bytes | [`SourceError::Empty`] |
//! | text, random bytes, encrypted (SQLCipher) | [`SourceError::TextFile`], [`SourceError::NotADatabase`] |
//! | truncated, damaged header or pages | [`SourceError::Corrupt`] (with the table being read, or `every page` from [`Source::quick_check`]) |
//! | another program holds a write lock past the busy timeout | [`SourceError::Locked`] |
//! | a hot journal beside it (the app stopped mid-write) | [`SourceError::HotJournal`] |
//! | WAL mode, but `-shm` cannot be created (read-only folder) | [`SourceError::WalIndex`] |
//! | SQLite, but none of the five tables | [`SourceError::NotAvaDatabase`] |
//! | a table or column missing | [`SourceError::MissingTable`], [`SourceError::MissingColumn`] |
//!
//! Extra tables and columns are ignored; columns are selected by name (so their order
//! and the case of their names do not matter); a *view* named like one of the tables is
//! read like the table. Cells of the wrong storage class (say `id TEXT`) are not the
//! reader's business: the converter reports them with their table, id and column.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ava_catalog::{IdRange, Table, MAX_COLUMNS, TABLES};
use ava_convert::Cell;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

/// How long a read waits for another program's write lock before giving up.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Overrides [`DEFAULT_BUSY_TIMEOUT`] for [`Source::open`], in milliseconds. Internal:
/// the tests use it to see a locked file refused without waiting half a minute.
pub const BUSY_TIMEOUT_ENV: &str = "AVA_SQLITE_BUSY_TIMEOUT_MS";

/// The first 16 bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Bytes of the file read to explain an error: to tell text from random bytes and see
/// the journal mode (bytes 18 and 19 of the header are 2 in WAL mode).
const HEAD_BYTES: u64 = 512;

/// What went wrong reading the SQLite file; every message is one line that names the
/// file, says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("SQLite file {0} does not exist: pass --sqlite PATH (or run from the folder holding ava_database.db)")]
    NotFound(PathBuf),
    #[error("{path} is {what}, not a SQLite file: pass --sqlite with the path of the app's ava_database.db")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("cannot read {path}: {}: run ava as a user who may read it, or pass a readable copy with --sqlite", one_line(.error))]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0} is empty (0 bytes): not a database (the app creates its tables when it first starts): pass the app's ava_database.db with --sqlite")]
    Empty(PathBuf),
    #[error("cannot open {0}: it is a text file, not a SQLite database (file is not a database): pass the app's ava_database.db with --sqlite")]
    TextFile(PathBuf),
    #[error("cannot open {0}: file is not a database or encrypted (e.g. with SQLCipher), which ava cannot read: pass the app's plain, unencrypted ava_database.db with --sqlite")]
    NotADatabase(PathBuf),
    #[error("{path} is corrupt ({detail}, reading {what}): recover a copy with `sqlite3 {path} '.recover' | sqlite3 recovered.db` ('.dump' with an old sqlite3) and pass --sqlite recovered.db")]
    Corrupt {
        path: PathBuf,
        /// `the schema` or `table <name>`.
        what: String,
        detail: String,
    },
    #[error("{path}: database is locked: another program is writing to it (waited {waited:?}); stop the app or retry")]
    Locked { path: PathBuf, waited: Duration },
    #[error("{0} has an unfinished write in its -journal file (the app stopped while writing), which ava, reading read-only, will not roll back: start the app once, or run `sqlite3 {0} 'PRAGMA quick_check'` (which rolls it back), then retry")]
    HotJournal(PathBuf),
    #[error("{path} is in WAL mode, and reading it needs its -shm (and -wal) file beside it, which cannot be created or opened (is {dir} writable?): give this user write access to {dir}, or copy the file and its -wal to a writable folder and pass the copy with --sqlite")]
    WalIndex { path: PathBuf, dir: PathBuf },
    #[error("{path} is a SQLite database but not the Ava app's: it has no customers table (nor appointments, call_sessions, call_events, daily_metrics; its tables: {found}): pass the app's ava_database.db with --sqlite")]
    NotAvaDatabase { path: PathBuf, found: String },
    #[error("{path} has no table {table}: it is not the Ava app's database, or from another version of the app: pass the app's ava_database.db with --sqlite")]
    MissingTable { path: PathBuf, table: &'static str },
    #[error("{path}: table {table} has no column {column}: it is not the Ava app's database, or from another version of the app: pass the app's ava_database.db with --sqlite")]
    MissingColumn {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
    },
    #[error("{path}: table {table} has a row whose id is {id}, not an integer: fix that row in the file")]
    BadId {
        path: PathBuf,
        table: &'static str,
        id: String,
    },
    #[error("cannot open {path} as a SQLite database: {}: check that it is the app's ava_database.db", one_line(.error))]
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("reading {what} from {path}: {}: check the file with `sqlite3 {path} 'PRAGMA integrity_check'`", one_line(.error))]
    Read {
        path: PathBuf,
        /// `the schema` or `table <name>`.
        what: String,
        error: rusqlite::Error,
    },
}

/// The file being read, and what is needed to explain its errors.
struct Input {
    path: PathBuf,
    busy_timeout: Duration,
}

impl Input {
    /// The first [`HEAD_BYTES`] bytes of the file (fewer if it is shorter; none if it
    /// cannot be read), read only to explain an error SQLite gave.
    ///
    /// Only then: closing any descriptor of a file drops every POSIX lock this process
    /// holds on it, so opening the file outside SQLite while another connection of the
    /// process reads it (`ava migrate` verifies an already migrated target while its
    /// reader holds its snapshot) would silently end that connection's read lock.
    fn head(&self) -> Vec<u8> {
        let mut head = Vec::with_capacity(HEAD_BYTES as usize);
        let _ = File::open(&self.path).and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head));
        head
    }
}

/// What was being read when SQLite failed.
#[derive(Clone, Copy)]
enum Reading<'a> {
    /// Opening the file.
    Open,
    /// The schema (`sqlite_master`, `pragma_table_info`) or the snapshot's first read.
    Schema,
    Table(&'a str),
    /// Every page's structure ([`Source::quick_check`]).
    Pages,
}

impl Reading<'_> {
    fn describe(self) -> String {
        match self {
            Reading::Open | Reading::Schema => "the schema".into(),
            Reading::Table(t) => format!("table {t}"),
            Reading::Pages => "every page".into(),
        }
    }
}

/// Maps a SQLite error to what it means for this file, by SQLite's error codes.
fn classify(file: &Input, reading: Reading<'_>, error: rusqlite::Error) -> SourceError {
    let path = file.path.clone();
    let (code, extended) = match error.sqlite_error() {
        Some(e) => (Some(e.code), e.extended_code),
        None => (None, 0),
    };
    let head = match code {
        Some(ErrorCode::NotADatabase | ErrorCode::CannotOpen | ErrorCode::ReadOnly) => file.head(),
        _ => Vec::new(),
    };
    let wal = head.len() >= 20 && head.starts_with(MAGIC) && head[18..20] == [2, 2];
    match code {
        Some(ErrorCode::NotADatabase) if head.starts_with(MAGIC) => SourceError::Corrupt {
            path,
            what: reading.describe(),
            detail: "its header is damaged: file is not a database".into(),
        },
        Some(ErrorCode::NotADatabase) if looks_like_text(&head) => SourceError::TextFile(path),
        Some(ErrorCode::NotADatabase) => SourceError::NotADatabase(path),
        Some(ErrorCode::DatabaseCorrupt) => SourceError::Corrupt {
            path,
            what: reading.describe(),
            detail: one_line(&error),
        },
        // A plain SQLITE_ERROR, told apart only by its message: the header's schema
        // format or text encoding is out of range.
        Some(ErrorCode::Unknown) if one_line(&error) == "unsupported file format" => {
            SourceError::Corrupt {
                path,
                what: reading.describe(),
                detail: "its header is damaged (or from a newer SQLite): unsupported file format"
                    .into(),
            }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => SourceError::Locked {
            path,
            waited: file.busy_timeout,
        },
        Some(ErrorCode::ReadOnly) if extended == rusqlite::ffi::SQLITE_READONLY_ROLLBACK => {
            SourceError::HotJournal(path)
        }
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly) if wal => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            SourceError::WalIndex { path, dir }
        }
        _ => match reading {
            // Why SQLite could not open it, if the file system says (permissions).
            Reading::Open if code == Some(ErrorCode::CannotOpen) => match File::open(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    SourceError::Unreadable { path, error: e }
                }
                _ => SourceError::Open { path, error },
            },
            Reading::Open => SourceError::Open { path, error },
            _ => SourceError::Read {
                path,
                what: reading.describe(),
                error,
            },
        },
    }
}

/// An error's message on one line, control characters escaped: SQLite quotes names
/// from the file, which a damaged or hostile file can fill with anything.
fn one_line(error: &dyn std::fmt::Display) -> String {
    let mut out = String::new();
    for c in error.to_string().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A name read from the file's schema, whatever its bytes.
fn name(row: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    Ok(match row.get_ref(0)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Null => String::new(),
    })
}

/// Whether the start of a file reads as text (UTF-8 without control characters other
/// than white space), as opposed to random or encrypted bytes.
fn looks_like_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of the read is still text.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// The busy timeout [`Source::open`] uses: [`BUSY_TIMEOUT_ENV`] if set to a number of
/// milliseconds, else [`DEFAULT_BUSY_TIMEOUT`].
fn busy_timeout() -> Duration {
    std::env::var(BUSY_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_BUSY_TIMEOUT, Duration::from_millis)
}

/// `path` with `suffix` appended to its file name (`x.db` → `x.db-wal`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The app's SQLite file, opened read-only.
pub struct Source {
    conn: Connection,
    file: Input,
}

impl Source {
    /// Opens `path` read-only and checks that every catalog table and column is there
    /// (extra tables and columns are ignored; columns are selected by name, so their
    /// order does not matter). Waits up to [`DEFAULT_BUSY_TIMEOUT`] for another
    /// program's write lock (see [`BUSY_TIMEOUT_ENV`]).
    pub fn open(path: &Path) -> Result<Source, SourceError> {
        Source::open_with_busy_timeout(path, busy_timeout())
    }

    /// [`Source::open`] waiting at most `busy_timeout` for a lock, at open and at
    /// every read.
    pub fn open_with_busy_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<Source, SourceError> {
        check_file(path)?;
        let file = Input {
            path: path.to_path_buf(),
            busy_timeout,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(&file, Reading::Open, e))?;
        // Wait for a writer's lock rather than failing at once.
        conn.busy_timeout(busy_timeout)
            .map_err(|e| classify(&file, Reading::Open, e))?;
        let source = Source { conn, file };
        source.check_schema()?;
        Ok(source)
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Checks the structure of every page with SQLite's `PRAGMA quick_check` (read-only):
    /// a damaged page that no table has reached yet is [`SourceError::Corrupt`]. For a
    /// program that writes the file after opening it (`ava serve`), which must refuse it
    /// before its first write: [`Source::open`] reads only the header and the schema, and
    /// a migration finds a damaged page when its scan reaches it. `quick_check` rather
    /// than `integrity_check`: it still walks every b-tree page, but skips matching
    /// every index against its table, the slow part on a big file (a seeded file of
    /// 100k calls, 245 MB, in the page cache: 0.3 s, against 1.1 s).
    pub fn quick_check(&self) -> Result<(), SourceError> {
        // One problem is enough to refuse the file; SQLite stops looking at the first.
        let problem: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], name)
            .map_err(|e| classify(&self.file, Reading::Pages, e))?;
        if problem == "ok" {
            return Ok(());
        }
        // SQLite heads the problem with a line of its own naming the database
        // (`*** in database main ***`).
        let detail = problem
            .lines()
            .filter(|line| !line.starts_with("***"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(SourceError::Corrupt {
            path: self.file.path.clone(),
            what: Reading::Pages.describe(),
            detail: one_line(&detail),
        })
    }

    fn check_schema(&self) -> Result<(), SourceError> {
        let err = |reading| move |e| classify(&self.file, reading, e);
        let names: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )
            .and_then(|mut s| s.query_map([], name)?.collect())
            .map_err(err(Reading::Schema))?;
        let ours = |n: &String| TABLES.iter().any(|t| t.name.eq_ignore_ascii_case(n));
        if !names.iter().any(ours) {
            const LISTED: usize = 8;
            let mut found = names
                .iter()
                .take(LISTED)
                .map(|n| ava_convert::excerpt(n.as_bytes()))
                .collect::<Vec<_>>()
                .join(", ");
            if names.is_empty() {
                found = "none".into();
            } else if names.len() > LISTED {
                found.push_str(&format!(" and {} more", names.len() - LISTED));
            }
            return Err(SourceError::NotAvaDatabase {
                path: self.file.path.clone(),
                found,
            });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(err(Reading::Schema))?;
        for table in &TABLES {
            let columns: Vec<String> = stmt
                .query_map([table.name], name)
                .and_then(|rows| rows.collect())
                .map_err(err(Reading::Table(table.name)))?;
            if columns.is_empty() {
                return Err(SourceError::MissingTable {
                    path: self.file.path.clone(),
                    table: table.name,
                });
            }
            // SQLite's column names are case-insensitive, like its table names.
            if let Some(c) = table
                .columns
                .iter()
                .find(|c| !columns.iter().any(|n| n.eq_ignore_ascii_case(c.name)))
            {
                return Err(SourceError::MissingColumn {
                    path: self.file.path.clone(),
                    table: table.name,
                    column: c.name,
                });
            }
        }
        Ok(())
    }

    /// Copies the whole file, as one consistent snapshot, to a new file `dest` with
    /// SQLite's online backup API (in one step, so a writer cannot slip in between
    /// pages). A run that reads the data several times (`ava sync`) reads the copy, so
    /// every read sees the same rows even while the app writes.
    pub fn backup_to(&self, dest: &Path) -> Result<(), SourceError> {
        let file = &self.file;
        let read_err = |e| classify(file, Reading::Schema, e);
        let mut copy = Connection::open(dest).map_err(|error| SourceError::Open {
            path: dest.to_path_buf(),
            error,
        })?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy).map_err(read_err)?;
        // A busy file is waited out by the connection's busy timeout first; anything
        // short of done is retried until that much time again has passed.
        let deadline = std::time::Instant::now() + file.busy_timeout;
        while backup.step(-1).map_err(read_err)? != rusqlite::backup::StepResult::Done {
            if std::time::Instant::now() >= deadline {
                return Err(SourceError::Locked {
                    path: file.path.clone(),
                    waited: file.busy_timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Starts the read transaction every read of a run goes through.
    pub fn snapshot(&mut self) -> Result<Snapshot<'_>, SourceError> {
        let file = &self.file;
        let read_err = |e| classify(file, Reading::Schema, e);
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(read_err)?;
        // A deferred transaction takes its snapshot at the first read: take it now.
        tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(read_err)?;
        Ok(Snapshot { tx, file })
    }
}

/// A 128-bit digest (xxh3) of the file's bytes and of its `-wal` beside it: equal
/// digests mean SQLite holds the same data. `ava sync` records the digest taken *before*
/// its snapshot, so a commit in between can only make the next run do more work, never
/// less. Reads the files once, sequentially; about 10 ms per 100 MB from the page cache.
pub fn file_digest(path: &Path) -> Result<u128, SourceError> {
    use std::io::Read;
    check_file(path)?;
    let mut hash = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    for (i, file) in [path.to_path_buf(), sibling(path, "-wal")]
        .iter()
        .enumerate()
    {
        let unreadable = |error| SourceError::Unreadable {
            path: file.clone(),
            error,
        };
        let mut f = match File::open(file) {
            Ok(f) => f,
            // No -wal: a rollback-journal database, or a WAL one fully checkpointed.
            Err(e) if i > 0 && e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(unreadable(e)),
        };
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(unreadable)?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            len += n as u64;
        }
        // Where one file ends: the same bytes split differently are another state.
        hash.update(&len.to_le_bytes());
    }
    Ok(hash.digest128())
}

/// The sizes and modification times of the file and its `-wal`, as text: a cheap
/// hint that the file changed (`ava sync` then starts reading it at once rather than
/// first checking its digest). Equal stats prove nothing; only [`file_digest`] does.
pub fn file_stat(path: &Path) -> String {
    [path.to_path_buf(), sibling(path, "-wal")]
        .iter()
        .map(|file| match std::fs::metadata(file) {
            Ok(meta) => {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}@{modified}", meta.len())
            }
            Err(_) => "-".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Watches a file for commits by any other connection or process, through SQLite's
/// `PRAGMA data_version` on a connection of its own: [`CommitWatch::quiet`] says
/// whether none happened since [`CommitWatch::start`].
pub struct CommitWatch {
    conn: Connection,
    file: Input,
    start: i64,
}

impl CommitWatch {
    pub fn start(path: &Path) -> Result<CommitWatch, SourceError> {
        let source = Source::open(path)?;
        let start = data_version(&source.conn, &source.file)?;
        Ok(CommitWatch {
            conn: source.conn,
            file: source.file,
            start,
        })
    }

    /// No commit since the watch started.
    pub fn quiet(&self) -> Result<bool, SourceError> {
        Ok(data_version(&self.conn, &self.file)? == self.start)
    }
}

fn data_version(conn: &Connection, file: &Input) -> Result<i64, SourceError> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(|e| classify(file, Reading::Schema, e))
}

/// Checks, from its metadata only (see [`Input::head`]), that `path` is a non-empty
/// regular file.
fn check_file(path: &Path) -> Result<(), SourceError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::NotFound(path.to_path_buf()))
        }
        Err(error) => {
            return Err(SourceError::Unreadable {
                path: path.to_path_buf(),
                error,
            })
        }
    };
    if !meta.is_file() {
        return Err(SourceError::NotAFile {
            path: path.to_path_buf(),
            what: if meta.is_dir() {
                "a directory"
            } else {
                "a device, FIFO or socket"
            },
        });
    }
    // A WAL-mode database can hold everything in its -wal while the file itself is
    // still short; SQLite decides then.
    if meta.len() == 0 && !sibling(path, "-wal").exists() {
        return Err(SourceError::Empty(path.to_path_buf()));
    }
    Ok(())
}

/// One consistent read view of the file; rolled back (it never writes) when dropped.
pub struct Snapshot<'c> {
    tx: Transaction<'c>,
    file: &'c Input,
}

impl Snapshot<'_> {
    fn read_err(&self, table: &Table) -> impl Fn(rusqlite::Error) -> SourceError + '_ {
        let name = table.name;
        move |e| classify(self.file, Reading::Table(name), e)
    }

    /// The number of rows in `table`.
    pub fn count(&self, table: &Table) -> Result<u64, SourceError> {
        self.tx
            .query_row(
                &format!("SELECT count(*) FROM \"{}\"", table.name),
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.read_err(table))
    }

    /// Calls `f` with each row of `table` in `range`, in id order, as cells in catalog
    /// column order. Stops at the first error `f` returns.
    pub fn for_each<E: From<SourceError>>(
        &self,
        table: &Table,
        range: IdRange,
        mut f: impl FnMut(&[Cell<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let read_err = self.read_err(table);
        let sql = format!(
            "SELECT {} FROM \"{}\" WHERE {} ORDER BY id",
            table.column_list(),
            table.name,
            range.condition()
        );
        let mut stmt = self.tx.prepare(&sql).map_err(&read_err)?;
        let mut rows = stmt.query([]).map_err(&read_err)?;
        let n = table.columns.len().min(MAX_COLUMNS);
        while let Some(row) = rows.next().map_err(&read_err)? {
            // On the stack: no allocation per row.
            let mut cells = [Cell::Null; MAX_COLUMNS];
            for (i, cell) in cells[..n].iter_mut().enumerate() {
                *cell = match row.get_ref(i).map_err(&read_err)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Integer(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(v) => Cell::Text(v),
                    ValueRef::Blob(v) => Cell::Blob(v),
                };
            }
            f(&cells[..n])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
