//! The start of a writing run (`ava migrate`, `ava sync`): the session's settings, the
//! run's first checks, settling with the sessions another run left behind, and the
//! session advisory lock that keeps two writing runs on one database apart.
//!
//! Invariant: a run that writes holds the lock from before its first write to its end
//! (the lock is the session's: it goes with the connection).

use ava_sink::Target;
use tokio_postgres::Client;

use crate::{sessions, MigrateError, Progress};

/// Key of the session advisory lock that keeps two `ava migrate` runs apart
/// (`'ava migrate'` in ASCII, so it is recognisable in `pg_locks`).
const LOCK_KEY: i64 = 0x6176_6120_6d69_6772;

/// Takes the session lock that keeps two writing runs (`ava migrate`, `ava sync`) on one
/// database apart.
async fn lock(target: &Target) -> Result<(), MigrateError> {
    let locked = try_lock(target.client_ref())
        .await
        .map_err(|e| target.error("taking the migrate lock", e))?;
    if locked {
        Ok(())
    } else {
        Err(MigrateError::Busy {
            url: target.url().to_string(),
        })
    }
}

/// One try at the lock of [`lock`].
async fn try_lock(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_typed_one(
            "SELECT pg_try_advisory_lock($1)",
            &[(&LOCK_KEY, tokio_postgres::types::Type::INT8)],
        )
        .await?
        .get(0))
}

/// A writing run's start, pipelined (far from the server each round trip costs the
/// distance): the session's settings ([`Target::prepare_session`]: the CLI connects
/// without them, see `ava_sink::connect_unprepared`), `first` (the run's first checks),
/// then — unless `dry_run` — settling with another run's sessions
/// ([`sessions::settle`]) and the lock. The first error on the wire wins; a lock
/// missed because a dead run still held it is tried again once settled.
pub(crate) async fn start<E: Into<MigrateError>>(
    target: &Target,
    first: impl std::future::Future<Output = Result<(), E>>,
    dry_run: bool,
    settle: sessions::Settle,
    progress: &dyn Progress,
) -> Result<(), MigrateError> {
    let session = async { target.prepare_session().await.map_err(MigrateError::from) };
    let first = async { first.await.map_err(Into::into) };
    if dry_run {
        return futures_util::try_join!(session, first).map(drop);
    }
    let settled_and_locked = async {
        let (settled, locked) = futures_util::join!(
            sessions::settle(target, settle, progress),
            try_lock(target.client_ref())
        );
        settled?;
        match locked {
            Ok(true) => Ok(()),
            _ => lock(target).await,
        }
    };
    futures_util::try_join!(session, first, settled_and_locked).map(drop)
}
