//! A small valid file of the app's schema, shared by the hostile-file tests and the
//! fuzzers of this crate.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ava_catalog::{IdRange, TABLES};
use ava_source::{Source, SourceError};
use rusqlite::Connection;

/// Rows of `call_events` in [`write_valid`]'s file: enough to fill a few pages, so a
/// damaged page can be one that only reading that table reaches.
pub const EVENTS: i64 = 120;

/// Writes at `path` the app's schema ([`ava_catalog::SQLITE_DDL`]) with a few rows in
/// every table, in the app's formats.
pub fn write_valid(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF; {}
         INSERT INTO customers (id, name, phone, email, is_new_client, created_at, updated_at,
                                has_allergies, is_pregnant, notes) VALUES
           (1, 'Ana Lima', '+15550000001', 'ana@example.com', 1,
            '2025-08-01 10:00:00.000000', '2025-08-01 10:00:00.000000', 0, 0, ''),
           (2, 'Bo \"JJ\" O''Brien', '+15550000002', NULL, 0,
            '2025-08-02 11:30:15.250000', NULL, 1, NULL, 'tab\there\nnew line 😊'),
           (3, 'שרה', '+15550000003', 'sara@example.com', NULL, NULL, NULL, NULL, NULL, NULL);
         INSERT INTO appointments (id, customer_id, calendar_event_id, appointment_datetime,
                                   service_type, provider, duration_minutes, status, booked_by,
                                   special_requests, created_at) VALUES
           (1, 1, 'evt-1', '2025-08-10 15:00:00.000000', 'Botox', 'Dr. Kim', 60,
            'scheduled', 'ai', NULL, '2025-08-01 10:05:00.000000'),
           (2, 2, NULL, '2025-08-11 09:30:00.000000', 'HydraFacial', '', 45,
            'cancelled', 'staff', 'window seat', '2025-08-02 11:35:00.000000');
         INSERT INTO call_sessions (id, customer_id, session_id, phone_number, started_at,
                                    ended_at, duration_seconds, transcript, satisfaction_score,
                                    sentiment, outcome, customer_interruptions, escalated) VALUES
           (1, 1, 'sess-1', '+15550000001', '2025-08-01 10:00:00.000000',
            '2025-08-01 10:04:10.500000', 250, '[{{\"role\": \"user\", \"text\": \"hi\"}}]',
            8.7, 'positive', 'booked', 0, 0),
           (2, NULL, 'sess-2', NULL, '2025-08-02 11:30:00.000000', NULL, NULL,
            'plain text transcript', NULL, NULL, NULL, 2, 1);
         INSERT INTO daily_metrics (id, date, total_calls, total_talk_time_seconds,
                                    avg_call_duration_seconds, appointments_booked,
                                    avg_satisfaction_score, conversion_rate, updated_at) VALUES
           (1, '2025-08-01 00:00:00.000000', 1, 250, 250, 1, 8.7, 100.0,
            '2025-08-01 23:59:00.000000'),
           (2, '2025-08-02 00:00:00.000000', 1, 0, 0, 0, 0.0, 0.0,
            '2025-08-02 23:59:00.000000');",
        ava_catalog::SQLITE_DDL
    ))
    .unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO call_events (id, call_session_id, event_type, timestamp, data)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .unwrap();
    for id in 1..=EVENTS {
        let data = match id % 4 {
            0 => "null".to_string(),
            1 => format!(
                "{{\"intent\": \"book_appointment\", \"confidence\": 0.{id:03}, \"text\": \"{}\"}}",
                "caf\\u00e9 ".repeat(8)
            ),
            2 => format!("{{\"n\": {id}, \"list\": [1, 2.5, null]}}"),
            _ => "{}".into(),
        };
        insert
            .execute(rusqlite::params![
                id,
                1 + id % 2,
                ["speech", "function_call", "transfer"][(id % 3) as usize],
                format!(
                    "2025-08-01 10:{:02}:{:02}.{:06}",
                    id / 60 % 60,
                    id % 60,
                    id * 7
                ),
                data,
            ])
            .unwrap();
    }
}

/// A temp dir holding `valid.db` written by [`write_valid`].
pub fn valid_in_tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.db");
    write_valid(&path);
    (dir, path)
}

/// Everything a run reads: open, snapshot, and per table `count` and every row through
/// `row` (in the reader's order). The first error stops it.
pub fn read_all(
    path: &Path,
    mut row: impl FnMut(&'static ava_catalog::Table, &[ava_convert::Cell<'_>]),
) -> Result<Vec<u64>, SourceError> {
    let mut source = Source::open_with_busy_timeout(path, std::time::Duration::from_millis(50))?;
    let snap = source.snapshot()?;
    let mut counts = Vec::new();
    for table in &TABLES {
        counts.push(snap.count(table)?);
        snap.for_each::<SourceError>(table, IdRange::ALL, |cells| {
            assert_eq!(cells.len(), table.columns.len());
            row(table, cells);
            Ok(())
        })?;
    }
    Ok(counts)
}
