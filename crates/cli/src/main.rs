//! `ava`: moves the Med Spa Voice AI analytics from the app's SQLite file into
//! Supabase Postgres, exactly, and proves it. This is the binary's edge: argument
//! parsing, configuration (`DATABASE_URL`, `.env`), progress and reports, exit codes.
//! The work itself lives in the library crates (see ARCHITECTURE.md).

mod config;
mod demo;
mod doctor;
mod export;
mod progress;
mod report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ava_migrations::ErrorKind;
use clap::{Args, Parser, Subcommand};

/// Exit codes, documented in the README ("Exit codes").
mod exit {
    /// Success, including "already migrated" and a verify that found no difference.
    pub const OK: u8 = 0;
    /// Any other failure: connection, I/O, a file that is not the app's database, …
    pub const ERROR: u8 = 1;
    // 2 is clap's code for a usage error.
    /// `ava verify` found differences.
    pub const DIFFERENT: u8 = 3;
    /// Refused: the target holds other rows (see --force), or another run holds the lock.
    pub const REFUSED: u8 = 4;
    /// The SQLite file has cells that cannot be stored faithfully; nothing was written.
    pub const BAD_INPUT: u8 = 5;
    /// The target's schema is not current: run `ava db push`.
    pub const SCHEMA: u8 = 6;
    /// `ava doctor` found something to fix.
    pub const DOCTOR: u8 = 7;

    use ava_migrations::ErrorKind;

    /// The exit code of a failure of `kind`: the one place kinds become codes.
    pub fn code(kind: ErrorKind) -> u8 {
        match kind {
            ErrorKind::Failed => ERROR,
            ErrorKind::Refused => REFUSED,
            ErrorKind::BadInput => BAD_INPUT,
            ErrorKind::Schema => SCHEMA,
        }
    }

    /// What kind of failure `e` is: the kind of the library error it carries (with any
    /// context added on the way), else [`ErrorKind::Failed`].
    pub fn kind(e: &anyhow::Error) -> ErrorKind {
        if let Some(e) = e.downcast_ref::<ava_migrate::MigrateError>() {
            e.kind()
        } else if let Some(e) = e.downcast_ref::<ava_migrations::SchemaError>() {
            e.kind()
        } else if let Some(e) = e.downcast_ref::<ava_export::ExportError>() {
            e.kind()
        } else if let Some(e) = e.downcast_ref::<ava_sink::SinkError>() {
            ErrorKind::of_sink(e)
        } else {
            ErrorKind::Failed
        }
    }
}

#[derive(Parser)]
#[command(
    name = "ava",
    version,
    about = "Move the Ava analytics from SQLite to Supabase Postgres, exactly, and prove it.",
    long_about = "Move the Med Spa Voice AI analytics (customers, appointments, call_sessions, \
call_events, daily_metrics) from the app's SQLite file into Supabase Postgres, exactly, and prove it.\n\n\
Typical run:  ava db push  →  ava migrate --dry-run  →  ava migrate  →  ava verify\n\
Cutover:      ava sync (app running)  →  stop the app  →  ava sync  →  ava verify  →  switch DATABASE_URL\n\n\
The target is --database-url, else DATABASE_URL from the environment or from a .env file in the \
working directory. Passwords are never printed.",
    after_help = "Exit codes: 0 ok · 1 error · 2 usage · 3 differences found · \
4 refused (target holds other rows, an interrupted run, busy, or an existing file) · \
5 bad input cells · 6 schema not current · 7 doctor found something to fix"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply or inspect the schema migrations (supabase/migrations, embedded in this binary).
    #[command(subcommand)]
    Db(DbCommand),
    /// Copy the SQLite file's five tables into the target.
    ///
    /// Checks every cell and copies customers, appointments, call_sessions, call_events and
    /// daily_metrics with binary COPY, committing every batch, then builds the indexes and
    /// moves every id sequence past max(id). Into an empty target the copy runs while the file
    /// is read: should any cell prove unstorable, the rows copied are removed again and the
    /// target is left as it was. Into any other target the whole file is checked first and
    /// nothing is written if a cell cannot be stored faithfully. A target that already holds
    /// exactly the source is left alone ("already migrated"); one holding other rows is
    /// refused unless --force. The session's statement_timeout is set to 0 so long
    /// copies are not cancelled (Supabase's default is 2 minutes).
    Migrate(MigrateArgs),
    /// Make a migrated target equal to the SQLite file again, writing only what differs.
    ///
    /// For the cutover: run it while the app still writes to SQLite, stop the app, run it
    /// once more, verify, switch DATABASE_URL. New and changed rows are upserted, rows gone
    /// from the file are deleted, the sequences moved past max(id) — all in one transaction.
    /// The same bad-input rules as migrate apply (--on-error skip --rejects FILE too).
    Sync(SyncArgs),
    /// Prove the target holds exactly the SQLite file's rows: every row of every table is
    /// checksummed on both sides, differing chunks are narrowed down to rows and columns.
    Verify(VerifyArgs),
    /// Write a realistic demo SQLite file with the app's exact schema and value formats.
    Seed(SeedArgs),
    /// Run the whole job on local defaults: seed a demo file, push the schema, migrate, verify,
    /// then serve the dashboard on the migrated data (until Ctrl-C; --no-serve stops after verify).
    Demo(demo::DemoArgs),
    /// The way back: write the target's rows into a new SQLite file the old backend can run on.
    ///
    /// Creates OUT with the app's exact SQLite DDL and writes every row of the five tables from one
    /// read-only snapshot of the target, in the app's value formats: datetimes as
    /// `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, booleans 0/1, floats bit for bit, text byte for byte,
    /// JSON as Python's json.dumps text, NULL as NULL. Written into a temporary file beside OUT
    /// and moved into place when complete; an existing OUT is refused (exit 4). A value the app's
    /// file cannot hold exactly (NaN, -0.0, a year outside 0001–9999) stops the export, named by
    /// table, id and column. Then `ava verify --sqlite OUT` proves the file holds exactly the
    /// target.
    Export(export::ExportArgs),
    /// The clean-up: a compressed, hashed, verified copy of the SQLite file; optionally remove the
    /// original.
    ///
    /// Opens the file read-only (its bytes never change) and copies it with SQLite's online backup
    /// API (a consistent snapshot even while the app writes), then writes
    /// NAME-YYYYMMDDTHHMMSSZ.db.zst (zstd) and NAME-YYYYMMDDTHHMMSSZ.manifest.json beside it: sha256
    /// and size of the backup and of the compressed file, rows per table, the ava version and,
    /// when a target is configured (--database-url or DATABASE_URL), the result of verifying the
    /// copy against it (exit 3 if it differs). --remove-original deletes the original only after a
    /// passing verify, and only if the file did not change since the backup; otherwise it is kept
    /// (exit 3 or 4).
    Archive(export::ArchiveArgs),
    /// Serve the analytics API: the admin routes the dashboard reads, the write routes the
    /// voice service calls.
    ///
    /// On Postgres when a database URL is set (--database-url, DATABASE_URL or ./.env), else on
    /// the SQLite file (./ava_database.db by default; created with the app's schema if absent; an
    /// existing file that `ava migrate` would refuse, or with a damaged page, is refused before
    /// anything writes to it, exit 1). Admin routes need `Authorization: Bearer
    /// $ADMIN_API_TOKEN` (or a Supabase login's JWT with --jwt-secret/--jwks), write routes `Bearer $INGEST_API_TOKEN`; /health is open (healthy
    /// or not, and the store's kind; where the store is: /api/admin/health). Both route groups
    /// must be guarded, or it refuses to start naming the missing token; --insecure-open runs
    /// every route open, on a loopback --addr only. A bad parameter, an unknown one included,
    /// is a 422 naming it; every error is {"detail": …} JSON. One log line per request on
    /// stderr (RUST_LOG sets the level). Stops on Ctrl-C or SIGTERM after the requests in
    /// flight.
    Serve(serve::ServeArgs),
    /// Check the target: one line per check, ✓ fine, ! worth a look, ✗ to fix (with what to do).
    ///
    /// Reads only. The connection kind from the URL's host and port (Supabase direct, session
    /// pooler, transaction pooler on 6543 — ✗, migrate and sync need port 5432 —, local,
    /// other); that the server answers (the URL shown without its password); TLS as the server
    /// sees this connection, and its version (plain text to a host that is not loopback is ✗);
    /// the server version; the migrations (applied, pending, unknown to this build) and the
    /// schema; row-level security on each of the five tables; every way the anon and
    /// authenticated roles reach into the schemas the Data API serves (public, and those in
    /// the authenticator role's pgrst.db_schemas): privileges on tables and columns, views
    /// that are not security_invoker, materialized views, foreign tables, SECURITY DEFINER
    /// functions, policies for anon or public and permissive ones for authenticated that
    /// are true, each with the SQL that closes it; every id sequence past max(id); with
    /// --sqlite, the row counts of the file against the target. Exit 0 when nothing is ✗,
    /// else 7.
    Doctor(doctor::DoctorArgs),
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply the migrations not yet applied, each with its history row in one transaction,
    /// under an advisory lock; recorded in supabase_migrations.schema_migrations as the
    /// Supabase CLI records them.
    Push {
        #[command(flatten)]
        target: TargetArgs,
        /// Show what would be applied; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List applied and pending migrations.
    Status {
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// Target Postgres URL, e.g. postgresql://postgres:PASSWORD@db.PROJECT.supabase.co:5432/postgres
    /// [default: $DATABASE_URL, or DATABASE_URL in ./.env]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Clone)]
struct SourceArgs {
    /// The app's SQLite file [default: ./ava_database.db, then ./backend/ava_database.db]
    #[arg(long, value_name = "PATH")]
    sqlite: Option<PathBuf>,
}

#[derive(Args)]
struct MigrateArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Connect to both sides, check the schema and scan the data; print per table the source
    /// count, the target count and what would happen. Writes nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace the rows a non-empty target holds, in one transaction: if anything fails the
    /// target keeps its previous rows. Readers of those tables wait until it commits.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Finish an interrupted run (killed, or its connection lost): copy only the rows its
    /// committed batches do not cover. Without an interrupted run, migrate as usual.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    on_error: OnErrorArgs,
    #[command(flatten)]
    settle: SettleArgs,
    /// Rows per COPY batch; a plain run commits after each batch.
    #[arg(long, value_name = "N", default_value_t = ava_migrate::DEFAULT_BATCH_SIZE,
          value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
}

#[derive(Args)]
struct SyncArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Find and print the differences; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    on_error: OnErrorArgs,
    #[command(flatten)]
    settle: SettleArgs,
}

/// What to do about the server sessions another run left (shared by migrate and sync).
#[derive(Args)]
struct SettleArgs {
    /// How long to wait for the server sessions of another run — one that was killed or
    /// lost its network, whose sessions the server has not ended yet — before giving up
    /// and naming them (the server notices a vanished client within about a minute)
    #[arg(long, value_name = "SECONDS", default_value_t = ava_migrate::sessions::DEFAULT_WAIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    wait_secs: u64,
    /// When another run's sessions outlast --wait-secs, end them (pg_terminate_backend;
    /// the role must own them or have pg_signal_backend) instead of stopping
    #[arg(long)]
    takeover: bool,
}

impl SettleArgs {
    fn settle(&self) -> ava_migrate::sessions::Settle {
        ava_migrate::sessions::Settle {
            wait: std::time::Duration::from_secs(self.wait_secs),
            takeover: self.takeover,
        }
    }
}

/// `--on-error` and `--rejects`, shared by migrate and sync.
#[derive(Args)]
struct OnErrorArgs {
    /// What to do with rows that cannot be stored faithfully: `abort` lists them all and
    /// writes nothing; `skip` copies everything else and writes each rejected row (and
    /// every row that refers to it) to --rejects FILE as one JSON line.
    #[arg(long, value_enum, default_value_t = OnError::Abort, requires_if("skip", "rejects"))]
    on_error: OnError,
    /// With --on-error skip: the JSON-lines file the rejected rows are written to
    /// (created or replaced). Pass it to `ava verify --rejects` afterwards.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
}

impl OnErrorArgs {
    /// The rejects file when rows are to be skipped; `None` aborts on bad input.
    fn rejects(self) -> Option<PathBuf> {
        (self.on_error == OnError::Skip)
            .then_some(self.rejects)
            .flatten()
    }
}

/// `ava migrate --on-error`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnError {
    Abort,
    Skip,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The rejects file of `ava migrate --on-error skip`: its rows are left out of the
    /// source, everything else is compared exactly.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Compare what the analytics API answers instead of the rows: the read routes' logic
    /// asked a fixed set of requests (every overview period, call-list pages by every sort
    /// and several searches, a sample of calls, transcripts, customers and histories, daily
    /// series, appointments) over the SQLite file and over the target with the same "now";
    /// every JSON path that differs is named. Adds ava's read indexes to the SQLite file and
    /// puts it in WAL mode, as `ava serve` does.
    #[arg(long, conflicts_with = "rejects")]
    api: bool,
}

#[derive(Args)]
struct SeedArgs {
    /// Where to write the file (refused if it exists).
    #[arg(long, value_name = "PATH")]
    sqlite: PathBuf,
    /// Number of calls; about 8 rows are written per call across the five tables.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    calls: u64,
    /// Random seed: the same seed, calls and end date give the same file.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Last day with calls (UTC), YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DATE")]
    end: Option<chrono::NaiveDate>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server (also at the end of the demo) spreads requests over every core; the
    // other commands need one thread.
    let mut builder = if matches!(cli.command, Command::Serve(_) | Command::Demo(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::code(exit::kind(&e)))
        }
    }
}

/// Adds the exact command to run when the schema is not ready (without repeating a
/// password: the user passes the same URL again).
fn with_push_hint(e: anyhow::Error, target: &TargetArgs) -> anyhow::Error {
    if exit::kind(&e) != ErrorKind::Schema {
        return e;
    }
    let flag = if target.database_url.is_some() {
        " --database-url URL"
    } else {
        ""
    };
    e.context(format!("run `ava db push{flag}` first"))
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Db(DbCommand::Push { target, dry_run }) => {
            let mut target = config::connect(&target).await?;
            let report = ava_migrations::push(target.client(), dry_run)
                .await
                .with_context(|| format!("db push to {}", target.url()))?;
            report::push(&report, target.url());
            Ok(exit::OK)
        }
        Command::Db(DbCommand::Status { target }) => {
            let mut target = config::connect(&target).await?;
            let status = ava_migrations::status(target.client())
                .await
                .with_context(|| format!("db status of {}", target.url()))?;
            report::status(&status, target.url());
            Ok(if status.is_current() {
                exit::OK
            } else {
                exit::SCHEMA
            })
        }
        Command::Migrate(args) => {
            let sqlite = config::sqlite_path(&args.source)?;
            let mut target = connect_session(&args.target, "migrate").await?;
            let opts = ava_migrate::Options {
                sqlite,
                batch_size: args.batch_size,
                dry_run: args.dry_run,
                force: args.force,
                resume: args.resume,
                rejects: args.on_error.rejects(),
                settle: args.settle.settle(),
            };
            migrate(&mut target, &opts)
                .await
                .map_err(|e| with_push_hint(e, &args.target))
        }
        Command::Sync(args) => {
            let sqlite = config::sqlite_path(&args.source)?;
            let mut target = connect_session(&args.target, "sync").await?;
            let opts = ava_migrate::SyncOptions {
                sqlite,
                dry_run: args.dry_run,
                rejects: args.on_error.rejects(),
                settle: args.settle.settle(),
            };
            let progress = progress::Bars::new();
            let report = ava_migrate::sync(&mut target, &opts, &progress)
                .await
                .map_err(|e| with_push_hint(e.into(), &args.target))?;
            report::sync(&report, &opts, target.url());
            Ok(exit::OK)
        }
        Command::Verify(args) => {
            let sqlite = config::sqlite_path(&args.source)?;
            let mut target = config::connect(&args.target).await?;
            ava_migrations::ensure_ready(&target)
                .await
                .map_err(|e| with_push_hint(e.into(), &args.target))?;
            if args.api {
                return verify_api(&sqlite, &args.target, args.json).await;
            }
            let excluded = match &args.rejects {
                Some(file) => ava_verify::Excluded::read(file)?,
                None => ava_verify::Excluded::default(),
            };
            verify(&mut target, &sqlite, &excluded, args.json).await
        }
        Command::Seed(args) => {
            seed(&args.sqlite, args.calls, args.seed, args.end)?;
            Ok(exit::OK)
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Export(args) => export::export(args).await,
        Command::Archive(args) => export::archive(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Doctor(args) => doctor::doctor(args).await,
    }
}

/// Connects for `ava migrate` and `ava sync` (`command`), which need a session of their own
/// (advisory lock, COPY, settings): a URL to Supabase's transaction-mode pooler is refused
/// before connecting, naming the session-mode URL. Every connection is named after this
/// run (`ava_migrate::sessions::tag`), so a later run can tell its sessions apart.
async fn connect_session(target: &TargetArgs, command: &str) -> anyhow::Result<ava_sink::Target> {
    let url = config::database_url(target)?;
    ava_sink::refuse_transaction_pooler(&url)?;
    // The session's settings go out with the run's first statements (`ava_migrate`'s
    // start): a round trip fewer far from the server.
    Ok(ava_sink::connect_unprepared(&url, &ava_migrate::sessions::tag(command)).await?)
}

/// `ava migrate`, shared with `ava demo`.
async fn migrate(target: &mut ava_sink::Target, opts: &ava_migrate::Options) -> anyhow::Result<u8> {
    let progress = progress::Bars::new();
    let result = ava_migrate::migrate(target, opts, &progress).await;
    progress.clear();
    let outcome = result?;
    report::migrate(&outcome, opts, target.url());
    Ok(match (opts.dry_run, outcome.action) {
        (true, ava_migrate::Action::BadInput) => exit::code(ErrorKind::BadInput),
        (true, ava_migrate::Action::Refuse) => exit::code(ErrorKind::Refused),
        _ => exit::OK,
    })
}

/// `ava verify`, shared with `ava demo`.
async fn verify(
    target: &mut ava_sink::Target,
    sqlite: &std::path::Path,
    excluded: &ava_verify::Excluded,
    json: bool,
) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let report = ava_verify::verify(sqlite, target, excluded).await?;
    if !excluded.is_empty() && !json {
        println!(
            "{} rejected row(s) left out of the comparison",
            excluded.len()
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::verify(&report, started.elapsed());
    }
    Ok(if report.identical() {
        exit::OK
    } else {
        exit::DIFFERENT
    })
}

/// `ava verify --api`: the read routes over the SQLite file and over the target.
async fn verify_api(
    sqlite: &std::path::Path,
    target: &TargetArgs,
    json: bool,
) -> anyhow::Result<u8> {
    use ava_api::store::{PgStore, SqliteStore};
    use ava_api::Store;
    // Say so plainly (SQLite would say "unable to open database file").
    if !sqlite.is_file() {
        anyhow::bail!("{}: no such file", sqlite.display());
    }
    let started = std::time::Instant::now();
    // A copy with ava's indexes: the file itself is only read.
    let source = Store::Sqlite(SqliteStore::open_copy(sqlite, 2)?);
    let target = Store::Postgres(PgStore::new(
        &config::database_url(target)?,
        4,
        "ava verify",
    )?);
    let report = ava_api::compare::compare(&source, &target, chrono::Utc::now()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::verify_api(&report, started.elapsed());
    }
    Ok(if report.identical() {
        exit::OK
    } else {
        exit::DIFFERENT
    })
}

/// `ava seed`, shared with `ava demo`.
fn seed(
    path: &std::path::Path,
    calls: u64,
    seed: u64,
    end: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let opts = ava_seed::SeedOptions {
        calls,
        seed,
        end: end.unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
    let report = ava_seed::seed(path, &opts)?;
    report::seed(&report, path, started.elapsed());
    Ok(())
}
