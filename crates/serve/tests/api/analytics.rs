//! The analytics routes in a clinic's time zone, on both stores, against Postgres' own
//! time zone arithmetic as the oracle.

use ava_serve::Tokens;
use serde_json::{json, Value};

use crate::support::*;

/// Rows of `sql` (with `$1` the zone and `$2` the days back) as JSON objects of `columns`.
async fn oracle(stores: &Stores, sql: &str, tz: &str, days: i32, columns: &[&str]) -> Value {
    let client = stores.pg.client().await;
    let rows = client.query(sql, &[&tz, &days]).await.unwrap();
    Value::Array(
        rows.iter()
            .map(|row| {
                let mut object = serde_json::Map::new();
                for (i, column) in columns.iter().enumerate() {
                    let value = match row.try_get::<_, i64>(i) {
                        Ok(n) => json!(n),
                        Err(_) => json!(row.get::<_, String>(i)),
                    };
                    object.insert((*column).to_string(), value);
                }
                Value::Object(object)
            })
            .collect(),
    )
}

/// The calls from the midnight `$2` days before today in zone `$1` to now, as Postgres
/// sees it.
const SINCE: &str = "started_at >= (date_trunc('day', now() AT TIME ZONE $1) \
                     - make_interval(days => $2)) AT TIME ZONE $1 AND started_at <= now()";

#[tokio::test]
async fn peak_hours_and_outcomes_count_in_the_clinics_own_zone() {
    let stores = Stores::seeded(400, 31).await;
    let [pg, lite] = stores.both();
    let servers = [
        Server::start(pg, Tokens::open()).await,
        Server::start(lite, Tokens::open()).await,
    ];
    let peak_sql = format!(
        "SELECT extract(dow FROM started_at AT TIME ZONE $1)::bigint, \
         extract(hour FROM started_at AT TIME ZONE $1)::bigint, count(*) \
         FROM call_sessions WHERE {SINCE} GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let outcome_sql = format!(
        "SELECT coalesce(outcome, 'in_progress'), count(*) FROM call_sessions \
         WHERE {SINCE} GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    for tz in [
        "UTC",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Pacific/Chatham",
    ] {
        for (period, days) in [("week", 7), ("month", 30)] {
            // The oracle before and after: a midnight may pass in between.
            let path = format!("/api/admin/analytics/peak-hours?period={period}&tz={tz}");
            let before = oracle(&stores, &peak_sql, tz, days, &["day", "hour", "value"]).await;
            let got = same(&servers, &path, &[]).await;
            let after = oracle(&stores, &peak_sql, tz, days, &["day", "hour", "value"]).await;
            assert!(got == before || got == after, "{path}: {got} ≠ {before}");
            assert!(
                !got.as_array().unwrap().is_empty(),
                "{path}: no calls seeded"
            );
            let path = format!(
                "/api/admin/analytics/outcome-distribution?period={period}&tz={}",
                tz.replace('/', "%2F")
            );
            let columns = ["outcome", "count"];
            let before = oracle(&stores, &outcome_sql, tz, days, &columns).await;
            let got = same(&servers, &path, &[]).await;
            let after = oracle(&stores, &outcome_sql, tz, days, &columns).await;
            assert_eq!(got["period"], period);
            assert!(
                got["outcomes"] == before || got["outcomes"] == after,
                "{path}: {got} ≠ {before}"
            );
        }
    }
    // The zone matters: the same period counted in another zone's hours differs.
    let utc = same(
        &servers,
        "/api/admin/analytics/peak-hours?period=month&tz=UTC",
        &[],
    )
    .await;
    let la = same(
        &servers,
        "/api/admin/analytics/peak-hours?period=month&tz=America/Los_Angeles",
        &[],
    )
    .await;
    assert_ne!(utc, la);
    // No zone: UTC, or the server's own.
    let default = same(
        &servers,
        "/api/admin/analytics/peak-hours?period=month",
        &[],
    )
    .await;
    assert_eq!(default, utc);
    let mut state = ava_serve::AppState::new(stores.pg_store(), Tokens::open());
    state.timezone = "America/Los_Angeles".parse().unwrap();
    let los_angeles = Server::start_with(state).await;
    let reply = los_angeles
        .get("/api/admin/analytics/peak-hours?period=month")
        .await;
    assert_eq!(reply.body, la, "{}", reply.text);
}

#[tokio::test]
async fn an_unknown_zone_or_period_is_a_422_naming_it() {
    let stores = Stores::seeded(20, 32).await;
    let server = Server::start(stores.sqlite_store(), Tokens::open()).await;
    for (path, name) in [
        ("/api/admin/analytics/peak-hours?tz=Mars/Olympus", "tz"),
        (
            "/api/admin/analytics/peak-hours?tz=america/los_angeles",
            "tz",
        ),
        ("/api/admin/analytics/peak-hours?period=today", "period"),
        ("/api/admin/analytics/outcome-distribution?tz=", "tz"),
        (
            "/api/admin/analytics/outcome-distribution?period=year",
            "period",
        ),
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 422, "{path}: {}", reply.text);
        assert_eq!(
            reply.body["detail"][0]["loc"],
            json!(["query", name]),
            "{path}"
        );
    }
}

/// `(timestamp, total_calls, appointments_booked, avg_satisfaction_score)` of each bucket.
fn series_rows(body: &Value) -> Vec<(String, i64, i64, Option<f64>)> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["timestamp"].as_str().unwrap().to_string(),
                b["total_calls"].as_i64().unwrap(),
                b["appointments_booked"].as_i64().unwrap(),
                b["avg_satisfaction_score"].as_f64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_time_series_has_every_bucket_of_the_period_in_the_clinics_zone() {
    let stores = Stores::seeded(400, 33).await;
    let [pg, lite] = stores.both();
    let servers = [
        Server::start(pg, Tokens::open()).await,
        Server::start(lite, Tokens::open()).await,
    ];
    // Postgres' own buckets: local midnights (or hours from the first), each joined
    // with the calls started in it.
    let buckets = |step: &str| {
        format!(
            "WITH b AS (SELECT t AS start, lead(t, 1, 'infinity') OVER (ORDER BY t) AS stop \
             FROM generate_series(date_trunc('day', now() AT TIME ZONE $1) \
             - make_interval(days => $2), now() AT TIME ZONE $1, interval '1 {step}') l, \
             LATERAL (SELECT {start} AS t) x) \
             SELECT to_char(b.start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
             count(s.id), count(s.id) FILTER (WHERE s.outcome = 'booked'), \
             avg(s.satisfaction_score) FROM b LEFT JOIN call_sessions s \
             ON s.started_at >= b.start AND s.started_at < b.stop \
             AND s.started_at <= now() GROUP BY b.start ORDER BY b.start",
            // A day's start is its local midnight; an hour's, so many hours after the
            // first midnight.
            start = if step == "day" {
                "l AT TIME ZONE $1"
            } else {
                "(date_trunc('day', now() AT TIME ZONE $1) - make_interval(days => $2)) \
                 AT TIME ZONE $1 + (l - (date_trunc('day', now() AT TIME ZONE $1) \
                 - make_interval(days => $2)))"
            }
        )
    };
    let client = stores.pg.client().await;
    let expected = |sql: String, tz: &'static str, days: i32| {
        let client = &client;
        async move {
            let rows = client.query(&sql, &[&tz, &days]).await.unwrap();
            rows.iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, i64>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, Option<f64>>(3),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let mut checked = 0;
    for tz in ["UTC", "America/Los_Angeles", "Asia/Kolkata"] {
        for (period, days) in [("today", 0), ("week", 7), ("month", 30)] {
            for interval in ["hour", "day"] {
                let path = format!(
                    "/api/admin/analytics/timeseries?period={period}&interval={interval}&tz={tz}"
                );
                let before = expected(buckets(interval), tz, days).await;
                let got = series_rows(&same(&servers, &path, &[]).await);
                let after = expected(buckets(interval), tz, days).await;
                let oracle = if got.len() == after.len() && got[0].0 == after[0].0 {
                    after
                } else {
                    before
                };
                assert_eq!(got.len(), oracle.len(), "{path}: {got:?}\n≠ {oracle:?}");
                for (g, o) in got.iter().zip(&oracle) {
                    assert_eq!((&g.0, g.1, g.2), (&o.0, o.1, o.2), "{path}");
                    match (g.3, o.3) {
                        (None, None) => {}
                        (Some(g), Some(o)) => assert!((g - o).abs() <= 0.005 + 1e-9, "{path}"),
                        other => panic!("{path}: {other:?}"),
                    }
                }
                checked += got.iter().filter(|b| b.1 > 0).count();
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} buckets with calls: the seed moved"
    );
}

#[tokio::test]
async fn services_count_the_appointments_of_the_periods_days_in_the_clinics_zone() {
    let stores = Stores::seeded(400, 34).await;
    let [pg, lite] = stores.both();
    let servers = [
        Server::start(pg, Tokens::open()).await,
        Server::start(lite, Tokens::open()).await,
    ];
    let sql = "WITH a AS (SELECT service_type, coalesce(status, 'unknown') AS status, \
               booked_by FROM appointments WHERE appointment_datetime >= \
               (date_trunc('day', now() AT TIME ZONE $1) - make_interval(days => $2)) \
               AT TIME ZONE $1 AND appointment_datetime < \
               (date_trunc('day', now() AT TIME ZONE $1) + interval '1 day') AT TIME ZONE $1), \
               st AS (SELECT service_type, status, count(*) AS n FROM a GROUP BY 1, 2) \
               SELECT st.service_type, \
               (SELECT count(*) FROM a WHERE a.service_type = st.service_type) AS total, \
               (SELECT count(*) FROM a WHERE a.service_type = st.service_type \
                AND a.booked_by = 'ai') AS ai, jsonb_object_agg(st.status, st.n)::text \
               FROM st GROUP BY st.service_type ORDER BY 2 DESC, 1";
    let client = stores.pg.client().await;
    let mut seen = 0;
    for tz in ["UTC", "America/Los_Angeles", "Asia/Kolkata"] {
        for (period, days) in [("today", 0i32), ("week", 7), ("month", 30)] {
            let path = format!("/api/admin/analytics/services?period={period}&tz={tz}");
            let got = same(&servers, &path, &[]).await;
            let rows = client.query(sql, &[&tz, &days]).await.unwrap();
            assert_eq!(got["period"], period);
            let services = got["services"].as_array().unwrap();
            assert_eq!(services.len(), rows.len(), "{path}: {got}");
            for (service, row) in services.iter().zip(&rows) {
                let (total, ai): (i64, i64) = (row.get(1), row.get(2));
                assert_eq!(service["service_type"], row.get::<_, String>(0), "{path}");
                assert_eq!(service["appointments"], total, "{path}");
                assert_eq!(service["booked_by_ai"], ai, "{path}");
                let by_status: Value = serde_json::from_str(row.get(3)).unwrap();
                assert_eq!(service["by_status"], by_status, "{path}");
                let rate = service["ai_booked_rate"].as_f64().unwrap();
                assert!((rate - ai as f64 * 100.0 / total as f64).abs() <= 0.005 + 1e-9);
                seen += total;
            }
        }
    }
    assert!(
        seen > 50,
        "only {seen} appointments in the periods: the seed moved"
    );
}
