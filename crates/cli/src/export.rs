//! `ava export` (the way back: the target's rows into a new SQLite file the old backend
//! can run on) and `ava archive` (the clean-up: a compressed, hashed, verified copy of
//! the SQLite file, and removal of the original only after a passing verify). The work
//! is in `ava_export` and `ava_archive`; this is arguments, output and exit codes.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::{config, exit, progress, report, with_push_hint, SourceArgs, TargetArgs};

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The new SQLite file to write (refused if anything exists at this path).
    #[arg(long, value_name = "OUT")]
    sqlite: PathBuf,
}

#[derive(Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Folder for the archive and its manifest (created if missing) [default: the SQLite
    /// file's folder]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
    /// After a passing verify of the copy against the target, delete the original (and its
    /// -wal and -shm). Refused without a target, when the verify finds any difference, or
    /// when the file changed since the backup (the app is still running).
    #[arg(long)]
    remove_original: bool,
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `ava export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<u8> {
    if args.sqlite.symlink_metadata().is_ok() {
        return Err(ava_export::ExportError::Exists(args.sqlite.clone()).into());
    }
    let mut target = config::connect(&args.target).await?;
    ava_migrations::ensure_ready(&target)
        .await
        .map_err(|e| with_push_hint(e.into(), &args.target))?;
    let started = Instant::now();
    let bars = progress::Bars::new();
    let result = ava_export::export(&mut target, &args.sqlite, &bars).await;
    bars.clear();
    let report = result?;
    println!("  {:<15} {:>12}", "table", "rows");
    for (table, rows) in &report.tables {
        println!("  {table:<15} {rows:>12}");
    }
    println!(
        "exported: {} → {} ({} rows, {}, {:.2} s), in the app's DDL and value formats",
        target.url(),
        report.path.display(),
        report.total_rows(),
        megabytes(report.bytes),
        started.elapsed().as_secs_f64()
    );
    let flag = if args.target.database_url.is_some() {
        " --database-url URL"
    } else {
        ""
    };
    println!(
        "next: ava verify --sqlite {}{flag}   (proves the file holds exactly the target)",
        report.path.display()
    );
    Ok(exit::OK)
}

/// `ava archive`.
pub async fn archive(args: ArchiveArgs) -> anyhow::Result<u8> {
    let sqlite = config::sqlite_path(&args.source)?;
    // The target is optional here: only a configured one is used.
    let url = config::database_url(&args.target).ok();
    if args.remove_original && url.is_none() {
        eprintln!("error: {}", ava_archive::ArchiveError::RemoveNeedsTarget);
        return Ok(exit::REFUSED);
    }
    let mut target = match &url {
        Some(url) => {
            let target = ava_sink::connect(url).await?;
            ava_migrations::ensure_ready(&target)
                .await
                .map_err(|e| with_push_hint(e.into(), &args.target))?;
            Some(target)
        }
        None => None,
    };
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => match sqlite.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let started = Instant::now();
    let result = ava_archive::archive(&sqlite, &out, target.as_mut(), args.remove_original).await;
    let report = match result {
        Ok(report) => report,
        Err(
            e @ (ava_archive::ArchiveError::Exists(_)
            | ava_archive::ArchiveError::RemoveNeedsTarget),
        ) => {
            eprintln!("error: {e}");
            return Ok(exit::REFUSED);
        }
        Err(e) => return Err(e.into()),
    };
    let m = &report.manifest;
    println!("  {:<15} {:>12}", "table", "rows");
    for t in &m.tables {
        println!("  {:<15} {:>12}", t.table, t.rows);
    }
    println!(
        "archived: {} → {} ({} → {}, zstd level {}, {:.2} s)",
        sqlite.display(),
        report.archive.display(),
        megabytes(m.backup.size),
        megabytes(m.archive.size),
        m.archive.level,
        started.elapsed().as_secs_f64()
    );
    println!("  backup sha256:  {}  ({})", m.backup.sha256, m.backup.file);
    println!("  archive sha256: {}", m.archive.sha256);
    println!("  manifest:       {}", report.manifest_path.display());
    println!(
        "  restore with:   zstd -d {} -o {}",
        report.archive.display(),
        m.backup.file
    );
    let mut code = exit::OK;
    match &m.verify {
        None => println!("not verified: no target given (--database-url or DATABASE_URL)"),
        Some(v) => {
            println!("verify of the copy against {}:", v.target);
            report::verify(&v.report, started.elapsed());
            if !v.identical {
                code = exit::DIFFERENT;
            }
        }
    }
    match &report.removal {
        ava_archive::Removal::NotRequested => {
            println!("original kept: {}", sqlite.display());
        }
        ava_archive::Removal::Removed(files) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            println!("original removed: {}", names.join(", "));
        }
        ava_archive::Removal::Refused(why) => {
            eprintln!(
                "error: not removing {}: {why}; the original is kept",
                sqlite.display()
            );
            if code == exit::OK {
                code = exit::REFUSED;
            }
        }
    }
    Ok(code)
}
