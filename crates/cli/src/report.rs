//! What the commands print: summaries and tables on stdout.

use std::path::Path;
use std::time::Duration;

use ava_migrate::{Action, Options, Outcome};
use ava_verify::{Diff, Report};

pub fn push(report: &ava_migrations::PushReport, url: &str) {
    let verb = if report.dry_run {
        "would apply"
    } else {
        "applied"
    };
    if report.applied.is_empty() {
        println!("{url}: schema is current, nothing to apply");
        return;
    }
    println!("{url}: {verb} {} migration(s):", report.applied.len());
    for m in &report.applied {
        println!("  {}  {}", m.version, m.name);
    }
}

pub fn status(status: &ava_migrations::Status, url: &str) {
    println!("{url}");
    println!("  {:<16} {:<40} state", "version", "name");
    for row in &status.applied {
        let state = if status.unknown.contains(&row.version) {
            "applied, unknown to this build"
        } else if status.changed.contains(&row.version) {
            "applied, file changed since"
        } else {
            "applied"
        };
        println!(
            "  {:<16} {:<40} {state}",
            row.version,
            row.name.as_deref().unwrap_or("")
        );
    }
    for m in &status.pending {
        println!("  {:<16} {:<40} pending", m.version, m.name);
    }
    if status.is_current() {
        println!("schema is current");
    } else if !status.pending.is_empty() {
        println!("run `ava db push` to apply the pending migration(s)");
    }
}

pub fn migrate(outcome: &Outcome, opts: &Options, url: &str) {
    let source = opts.sqlite.display();
    if let Some(i) = &outcome.interrupted {
        println!(
            "note: an earlier run ({}, started {}) was interrupted after {} rows{}",
            i.run,
            i.started_at,
            i.rows_copied,
            if outcome.wrote {
                "; this run replaced it"
            } else {
                ""
            }
        );
    }
    if opts.dry_run {
        println!("dry run: {source} → {url} (nothing written)");
        println!(
            "  {:<15} {:>12} {:>12} {:>10}",
            "table", "source rows", "target rows", "converted"
        );
        for t in &outcome.tables {
            println!(
                "  {:<15} {:>12} {:>12} {:>10}",
                t.table,
                t.source_rows,
                t.target_rows,
                t.converted_total()
            );
        }
        converted(outcome);
        bad_cells(outcome);
        let total: u64 = outcome.tables.iter().map(|t| t.source_rows).sum();
        println!(
            "would: {}",
            match outcome.action {
                Action::Copy => format!("copy {total} rows into the empty target"),
                Action::AlreadyMigrated if outcome.sequences_behind.is_empty() => {
                    "nothing: the target already holds exactly the source".into()
                }
                Action::AlreadyMigrated => format!(
                    "move the id sequences of {} past max(id); the target already holds exactly the source",
                    outcome.sequences_behind.join(", ")
                ),
                Action::Replace =>
                    format!("replace the target's rows with the source's {total} rows (--force)"),
                Action::Resume => {
                    "finish the interrupted run: copy the rows its committed batches do not cover"
                        .into()
                }
                Action::Refuse =>
                    "refuse: the target holds other rows (pass --force to replace them)".into(),
                Action::BadInput =>
                    "refuse: some cells cannot be stored faithfully (listed above)".into(),
            }
        );
        return;
    }
    if outcome.action == Action::AlreadyMigrated {
        println!("already migrated: {url} holds exactly the rows of {source}");
        if outcome.sequences_behind.is_empty() {
            println!("nothing written");
        } else {
            println!(
                "the id sequences of {} were behind max(id): moved past it",
                outcome.sequences_behind.join(", ")
            );
        }
        return;
    }
    println!(
        "  {:<15} {:>12} {:>12} {:>10} {:>9} {:>11}",
        "table", "source rows", "copied", "converted", "seconds", "rows/s"
    );
    let (mut rows, mut secs) = (0, 0.0);
    for t in &outcome.tables {
        rows += t.copied;
        secs += t.seconds;
        println!(
            "  {:<15} {:>12} {:>12} {:>10} {:>9.2} {:>11.0}",
            t.table,
            t.source_rows,
            t.copied,
            t.converted_total(),
            t.seconds,
            t.copied as f64 / t.seconds.max(1e-9)
        );
    }
    // The tables overlap (the next starts while the last batches of the one before
    // are in flight): the total is the copy's wall time when it is known.
    let total_secs = if outcome.copy_seconds > 0.0 {
        outcome.copy_seconds
    } else {
        secs
    };
    println!(
        "  {:<15} {:>12} {:>12} {:>10} {:>9.2} {:>11.0}",
        "total",
        outcome.tables.iter().map(|t| t.source_rows).sum::<u64>(),
        rows,
        outcome
            .tables
            .iter()
            .map(|t| t.converted_total())
            .sum::<u64>(),
        total_secs,
        rows as f64 / total_secs.max(1e-9)
    );
    converted(outcome);
    let rejected: u64 = outcome.rejected.iter().sum();
    if let (Some(file), true) = (&opts.rejects, rejected > 0) {
        for (t, n) in outcome
            .tables
            .iter()
            .zip(&outcome.rejected)
            .filter(|(_, n)| **n > 0)
        {
            println!("  rejected: {}: {n} row(s)", t.table);
        }
        println!(
            "{rejected} rejected row(s) written to {}; check them with `ava verify --rejects {}`",
            file.display(),
            file.display()
        );
    }
    println!(
        "{} {source} → {url}; id sequences moved past max(id). Next: ava verify",
        match outcome.action {
            Action::Replace => "replaced (--force):",
            Action::Resume => "resumed and finished:",
            _ => "migrated:",
        }
    );
}

fn converted(outcome: &Outcome) {
    for t in &outcome.tables {
        for (column, n) in &t.converted {
            println!(
                "  converted: {}.{column}: {n} cell(s) (empty string → NULL, another datetime spelling, or a JSON number)",
                t.table
            );
        }
    }
}

fn bad_cells(outcome: &Outcome) {
    if outcome.bad_total == 0 {
        return;
    }
    println!("{} cell(s) cannot be stored faithfully:", outcome.bad_total);
    for c in &outcome.bad_cells {
        println!("  - {c}");
    }
    if outcome.bad_total > outcome.bad_cells.len() as u64 {
        println!(
            "  … and {} more",
            outcome.bad_total - outcome.bad_cells.len() as u64
        );
    }
}

pub fn verify(report: &Report, took: Duration) {
    println!(
        "  {:<15} {:>12} {:>12} {:>7}  result",
        "table", "source rows", "target rows", "chunks"
    );
    for t in &report.tables {
        println!(
            "  {:<15} {:>12} {:>12} {:>7}  {}",
            t.table,
            t.source_rows,
            t.target_rows,
            t.chunks,
            if t.identical() {
                "✓ identical".to_string()
            } else {
                format!("✗ {} chunk(s) differ", t.differing_chunks)
            }
        );
    }
    for t in report.tables.iter().filter(|t| !t.identical()) {
        for d in &t.diffs {
            match &d.diff {
                Diff::Missing => println!("  {} id {}: missing in the target", t.table, d.id),
                Diff::Extra => println!("  {} id {}: in the target only", t.table, d.id),
                Diff::Changed(columns) => {
                    for c in columns {
                        println!(
                            "  {} id {}: {}: source {} ≠ target {}",
                            t.table, d.id, c.column, c.source, c.target
                        );
                    }
                }
            }
        }
        if t.narrowed_chunks < t.differing_chunks {
            println!(
                "  {}: {} more differing chunk(s) not listed",
                t.table,
                t.differing_chunks - t.narrowed_chunks
            );
        }
    }
    let rows: u64 = report
        .tables
        .iter()
        .map(|t| t.source_rows.max(t.target_rows))
        .sum();
    println!(
        "{} ({rows} rows compared in {:.2} s)",
        if report.identical() {
            "verified: the target holds exactly the source"
        } else {
            "DIFFERENT: the target does not hold exactly the source"
        },
        took.as_secs_f64()
    );
}

pub fn verify_api(report: &ava_api::compare::Report, took: Duration) {
    println!("source: {}", report.source);
    println!("target: {}", report.target);
    println!("now:    {}", report.now);
    // As wide as the longest kind (`outcome-distribution`).
    let wide = report.kinds.iter().map(|k| k.kind.len()).max().unwrap_or(0);
    println!(
        "  {:<wide$} {:>9} {:>10} {:>8}",
        "request", "requests", "identical", "differ"
    );
    for k in &report.kinds {
        println!(
            "  {:<wide$} {:>9} {:>10} {:>8}",
            k.kind,
            k.requests,
            k.identical,
            k.requests - k.identical
        );
    }
    let mut differing = 0;
    for outcome in report.differing() {
        differing += 1;
        println!(
            "  ✗ {} (status: source {}, target {})",
            outcome.request, outcome.source_status, outcome.target_status
        );
        for d in &outcome.differences {
            println!(
                "      {}: source {} ≠ target {}",
                d.path, d.source, d.target
            );
        }
        if outcome.more_differences > 0 {
            println!("      … and {} more", outcome.more_differences);
        }
    }
    let total = report.requests.len();
    if differing == 0 {
        println!(
            "verified: the API answers the {total} requests identically on both stores ({:.2} s)",
            took.as_secs_f64()
        );
    } else {
        println!(
            "DIFFERENT: {differing} of {total} requests are answered differently ({:.2} s)",
            took.as_secs_f64()
        );
    }
}

pub fn seed(report: &ava_seed::SeedReport, path: &Path, took: Duration) {
    let total: u64 = report.rows.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = report
        .rows
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    println!(
        "seeded {}: {total} rows ({}) in {:.2} s",
        path.display(),
        parts.join(", "),
        took.as_secs_f64()
    );
}

pub fn sync(report: &ava_migrate::SyncReport, opts: &ava_migrate::SyncOptions, url: &str) {
    let verb = if opts.dry_run { "would sync" } else { "synced" };
    println!(
        "  {:<15} {:>10} {:>10} {:>10}",
        "table", "inserted", "updated", "deleted"
    );
    for t in &report.tables {
        println!(
            "  {:<15} {:>10} {:>10} {:>10}",
            t.table, t.inserted, t.updated, t.deleted
        );
    }
    use ava_migrate::Compared;
    println!(
        "compared: {}",
        match report.compared {
            Compared::Unchanged =>
                "the file is byte for byte as the last run read it, and the target as it left it",
            Compared::Hashes => "every SQLite row with the hashes the last run recorded",
            Compared::EveryRowNoState =>
                "every row on both sides (no earlier migrate or sync is recorded)",
            Compared::EveryRowTargetChanged =>
                "every row on both sides (the target was written outside ava since the last run)",
        }
    );
    if report.unchanged() {
        println!(
            "in sync: {url} holds exactly the rows of {} ({:.2} s); nothing written",
            opts.sqlite.display(),
            report.seconds
        );
    } else {
        println!(
            "{verb}: {} → {url} in {:.2} s{}",
            opts.sqlite.display(),
            report.seconds,
            if opts.dry_run {
                " (nothing written)"
            } else {
                ""
            }
        );
    }
}
