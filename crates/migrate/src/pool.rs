//! The connections a plain run writes batches and builds indexes on: how many for the
//! distance to the server, each with `synchronous_commit` off, and which errors mean a
//! connection was lost (worth opening it again and retrying the batch) rather than
//! something about the data.

use std::time::{Duration, Instant};

use ava_sink::Target;
use tokio_postgres::Client;

use crate::error::query_error;
use crate::MigrateError;

/// The connections batches are written on and indexes built on (a plain run; `--force`
/// does everything inside its one transaction on the main connection): opened together,
/// as many as [`build_connections`] says for the distance to the server, and one more:
/// the builder of [`Writer::Batches`].
pub(crate) async fn open_pool(
    target: &Target,
) -> Result<(Vec<Target>, Option<Target>), MigrateError> {
    let distance = round_trip(target.client_ref())
        .await
        .map_err(|e| query_error(target.url(), "timing a round trip", e))?;
    let opened = futures_util::future::join_all(
        (0..=build_connections(distance)).map(|_| writer_connection(target)),
    )
    .await;
    let mut pool = Vec::with_capacity(opened.len());
    for connection in opened {
        pool.push(connection?);
    }
    let builder = pool.pop();
    Ok((pool, builder))
}

/// How many connections copy batches and build indexes at once: near the server, one per
/// core, between 2 and 4 (index builds are CPU-bound on the server; more only contend);
/// far from it ([`FAR`] or more per round trip), [`FAR_CONNECTIONS`], because then each
/// connection spends most of its time waiting for answers. Measured at 100k calls, 80
/// ms away: 2 connections 20.7 s, 4 16.0 s, 6 14.2 s; on the same machine 6 were 10%
/// slower than 2.
fn build_connections(round_trip: Duration) -> usize {
    if round_trip >= FAR {
        FAR_CONNECTIONS
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
    }
}

/// A round trip this long or longer means the server is far (another machine, a region).
const FAR: Duration = Duration::from_millis(5);
/// Connections when far from the server.
const FAR_CONNECTIONS: usize = 6;

/// One round trip to the server, timed.
async fn round_trip(client: &Client) -> Result<Duration, tokio_postgres::Error> {
    let started = Instant::now();
    client.batch_execute("").await?;
    Ok(started.elapsed())
}

/// Whether an error means the connection (or the server) went away, rather than
/// something about the data: worth reconnecting and trying the batch again.
pub(crate) fn retriable(e: &tokio_postgres::Error) -> bool {
    retriable_state(e.code().map(|c| c.code()))
}

/// [`retriable`] by the error's SQLSTATE: none (the connection itself failed), class 08
/// (connection exception), or 57P01-57P03 (the server shut down or restarts).
fn retriable_state(code: Option<&str>) -> bool {
    code.is_none_or(|code| code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03"))
}

/// A connection for writing batches: committing need not wait for its WAL flush, since
/// each batch commits with its own ledger row (whatever survives a crash is described
/// truly).
pub(crate) async fn writer_connection(target: &Target) -> Result<Target, ava_sink::SinkError> {
    let conn = target.connect_another().await?;
    conn.client_ref()
        .batch_execute("SET synchronous_commit = off")
        .await
        .map_err(|e| conn.error("setting synchronous_commit", e))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_or_a_restarting_server_is_retried() {
        // No SQLSTATE: the connection itself failed.
        assert!(retriable_state(None));
        for code in ["08000", "08003", "08006", "57P01", "57P02", "57P03"] {
            assert!(retriable_state(Some(code)), "{code}");
        }
    }

    #[test]
    fn an_error_about_the_data_is_not_retried() {
        for code in ["23505", "22P02", "42P01", "57014", "40001", "53100"] {
            assert!(!retriable_state(Some(code)), "{code}");
        }
    }

    #[test]
    fn far_from_the_server_more_connections_copy() {
        assert_eq!(build_connections(FAR), FAR_CONNECTIONS);
        assert_eq!(build_connections(Duration::from_secs(1)), FAR_CONNECTIONS);
        let near = build_connections(Duration::from_micros(200));
        assert!((2..=4).contains(&near), "{near}");
    }
}
