//! A run's server sessions, and those another run left behind.
//!
//! Across a real network a client that dies (`kill -9`, a closed laptop, a dropped
//! link) can leave its server sessions running for a while: still building an index,
//! still holding the advisory lock or an open transaction. A run that starts at once
//! would collide with them. So every connection of `ava migrate` and `ava sync` is
//! named in `pg_stat_activity` by [`tag`] — the command, the process id and the host —
//! and before a run writes, [`settle`] looks for the sessions of any other run on the
//! same database:
//! - a run on this machine whose process is alive is running: refused at once;
//! - a run on this machine whose process is gone is dead, and a run elsewhere may be:
//!   their sessions are waited for, saying so, for at most [`Settle::wait`] — the
//!   server ends them by itself when it notices the client is gone
//!   (`client_connection_check_interval` and TCP keepalive, set on every session by
//!   `ava_sink::SESSION`, about a minute at worst);
//! - still there after the wait: with [`Settle::takeover`] they are ended
//!   (`pg_terminate_backend`, where the role may), else the run stops naming them and
//!   the SQL that ends them.

use std::time::{Duration, Instant};

use ava_sink::Target;

use crate::{MigrateError, Progress};

/// How long [`settle`] waits by default: the server's keepalive notices a vanished
/// client in about a minute.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(90);

/// How often the sessions are looked at again while waiting.
const POLL: Duration = Duration::from_millis(250);

/// The most `application_name` holds (`NAMEDATALEN` − 1).
const MAX_NAME: usize = 63;

/// What to do about another run's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// The longest to wait for them to end.
    pub wait: Duration,
    /// End them (`pg_terminate_backend`) when they outlast the wait.
    pub takeover: bool,
}

impl Default for Settle {
    fn default() -> Settle {
        Settle {
            wait: DEFAULT_WAIT,
            takeover: false,
        }
    }
}

/// This machine's name (Linux: the kernel's; elsewhere `HOSTNAME`, else `unknown`).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The `application_name` of this process's `command` (`migrate`, `sync`):
/// `ava migrate 1234@host`.
pub fn tag(command: &str) -> String {
    let mut tag = format!("ava {command} {}@{}", std::process::id(), host());
    while tag.len() > MAX_NAME {
        tag.pop();
    }
    tag
}

/// Whether `application` names a writing run of ava (any process).
fn is_run(application: &str) -> bool {
    application.starts_with("ava migrate ") || application.starts_with("ava sync ")
}

/// Where a tagged run's process is, from this machine's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    Alive,
    Gone,
    Elsewhere,
}

/// The state of the process `application` names.
fn process(application: &str) -> Process {
    let Some((pid, at)) = application
        .rsplit(' ')
        .next()
        .and_then(|who| who.split_once('@'))
    else {
        return Process::Elsewhere;
    };
    let here = host();
    // The host may have been cut to fit the name.
    if at.is_empty() || !here.starts_with(at) {
        return Process::Elsewhere;
    }
    match pid.parse::<u32>() {
        Ok(pid) if std::path::Path::new("/proc/self").exists() => {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                Process::Alive
            } else {
                Process::Gone
            }
        }
        _ => Process::Elsewhere,
    }
}

/// One server session of another run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub pid: i32,
    pub application: String,
    pub state: String,
    /// What it runs or last ran, cut short.
    pub query: String,
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, {}: {})",
            self.pid, self.application, self.state, self.query
        )
    }
}

/// The sessions of other runs on `target`'s database.
async fn others(target: &Target, ours: &str) -> Result<Vec<Session>, MigrateError> {
    let rows = target
        .client_ref()
        .query_typed(
            "SELECT pid, application_name, coalesce(state, ''), left(query, 80) \
             FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND application_name <> $1 \
               AND (application_name LIKE 'ava migrate %' OR application_name LIKE 'ava sync %') \
             ORDER BY pid",
            &[(&ours, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .map_err(|e| target.error("reading pg_stat_activity", e))?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            application: r.get(1),
            state: r.get(2),
            query: r.get::<_, String>(3).replace(char::is_whitespace, " "),
        })
        .filter(|s| is_run(&s.application))
        .collect())
}

/// The SQL that ends `sessions`.
fn termination(sessions: &[Session]) -> String {
    let pids: Vec<String> = sessions.iter().map(|s| s.pid.to_string()).collect();
    format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN ({});",
        pids.join(", ")
    )
}

/// Waits until no other run's session is left on `target`'s database, as the module
/// says (this run's sessions are those named as `target` is).
pub async fn settle(
    target: &Target,
    settle: Settle,
    progress: &dyn Progress,
) -> Result<(), MigrateError> {
    let ours = target.application().to_string();
    let ours = ours.as_str();
    let url = target.url().to_string();
    let started = Instant::now();
    let mut said = false;
    loop {
        let sessions = others(target, ours).await?;
        if sessions.is_empty() {
            if said {
                progress.phase(&format!(
                    "the other run's sessions ended after {:.1} s",
                    started.elapsed().as_secs_f64()
                ));
            }
            return Ok(());
        }
        if let Some(alive) = sessions
            .iter()
            .find(|s| process(&s.application) == Process::Alive)
        {
            return Err(MigrateError::Running {
                url,
                session: alive.to_string(),
            });
        }
        if !said {
            let dead = sessions
                .iter()
                .all(|s| process(&s.application) == Process::Gone);
            progress.phase(&format!(
                "waiting up to {} s for {} session(s) of {} to end: {}",
                settle.wait.as_secs(),
                sessions.len(),
                if dead {
                    "a run whose process is gone"
                } else {
                    "another run (on another machine, or gone)"
                },
                sessions
                    .iter()
                    .map(Session::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            said = true;
        }
        if started.elapsed() >= settle.wait {
            if !settle.takeover {
                return Err(MigrateError::SessionsLeft {
                    url,
                    sessions: sessions.iter().map(Session::to_string).collect(),
                    sql: termination(&sessions),
                    waited: settle.wait.as_secs(),
                });
            }
            progress.phase(&format!(
                "--takeover: ending {} session(s): {}",
                sessions.len(),
                termination(&sessions)
            ));
            for session in &sessions {
                let ended: Option<bool> = target
                    .client_ref()
                    .query_one("SELECT pg_terminate_backend($1)", &[&session.pid])
                    .await
                    .map_err(|e| {
                        target.error(format!("ending the session with pid {}", session.pid), e)
                    })?
                    .get(0);
                if ended != Some(true) {
                    return Err(MigrateError::SessionsLeft {
                        url,
                        sessions: vec![session.to_string()],
                        sql: termination(std::slice::from_ref(session)),
                        waited: settle.wait.as_secs(),
                    });
                }
            }
            // Ended sessions leave pg_stat_activity within moments; wait for that
            // (their locks go with them).
            return Box::pin(self::settle(
                target,
                Settle {
                    wait: Duration::from_secs(10),
                    takeover: false,
                },
                progress,
            ))
            .await;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_process_and_fit_postgres() {
        let tag = tag("migrate");
        assert!(tag.starts_with(&format!("ava migrate {}@", std::process::id())));
        assert!(tag.len() <= MAX_NAME);
        assert!(is_run(&tag));
        assert!(!is_run("ava"));
        assert!(!is_run("psql"));
        // This process is alive; a pid that cannot exist is gone; another host is
        // elsewhere.
        assert_eq!(process(&tag), Process::Alive);
        let gone = format!("ava migrate 4294967295@{}", host());
        assert_eq!(process(&gone), Process::Gone);
        assert_eq!(
            process("ava sync 12@some-other-machine-far-away"),
            Process::Elsewhere
        );
        assert_eq!(process("ava sync"), Process::Elsewhere);
    }

    #[test]
    fn the_termination_sql_names_each_pid() {
        let session = |pid| Session {
            pid,
            application: "ava migrate 1@h".into(),
            state: "active".into(),
            query: "CREATE INDEX".into(),
        };
        assert_eq!(
            termination(&[session(12), session(34)]),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (12, 34);"
        );
    }
}
