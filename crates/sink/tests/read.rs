//! `read_tables` against a real PostgreSQL: windows over sparse ids (negative, huge, up
//! to `i64::MAX`), several tables in one call, every row once and in id order.

use ava_catalog::TABLES;
use ava_convert::Value;
use ava_sink::read_tables;
use ava_testpg::TestDb;

/// Sparse on purpose: gaps far wider than a window, and ids at the very top, where a
/// window's end saturates.
const IDS: [i64; 12] = [
    -7,
    1,
    2,
    3,
    4,
    5,
    1_000,
    1_001,
    1_000_000_000_000_000,
    i64::MAX - 2,
    i64::MAX - 1,
    i64::MAX,
];

#[tokio::test]
async fn windows_cover_sparse_ids_once_in_order() {
    let db = TestDb::new();
    let mut client = db.client().await;
    let ids: Vec<String> = IDS.iter().map(i64::to_string).collect();
    client
        .batch_execute(&format!(
            "create table public.daily_metrics (id bigint primary key, date timestamptz not null, \
             total_calls int, total_talk_time_seconds int, avg_call_duration_seconds int, \
             appointments_booked int, appointments_rescheduled int, appointments_cancelled int, \
             avg_satisfaction_score float8, calls_escalated int, conversion_rate float8, \
             updated_at timestamptz);
             insert into public.daily_metrics (id, date, total_calls) \
             select id, '2025-01-01'::timestamptz, (id % 1000)::int \
             from unnest(array[{}]::bigint[]) id;",
            ids.join(", ")
        ))
        .await
        .unwrap();
    let daily = TABLES.iter().find(|t| t.name == "daily_metrics").unwrap();
    let tx = client.transaction().await.unwrap();
    for window in [1, 2, 3, 1000, i64::MAX / 2] {
        let mut seen: Vec<(usize, i64)> = Vec::new();
        read_tables(&tx, &[daily, daily], window, |t, values| {
            let Value::Int(id) = values[0] else {
                return Err(format!("id is {:?}", values[0]));
            };
            seen.push((t, id));
            Ok(())
        })
        .await
        .unwrap_or_else(|(t, e)| panic!("window {window}, table {t}: {e:?}"));
        let expected: Vec<(usize, i64)> = [0, 1]
            .iter()
            .flat_map(|t| IDS.iter().map(move |id| (*t, *id)))
            .collect();
        assert_eq!(seen, expected, "window {window}");
    }
}
