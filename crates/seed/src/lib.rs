//! Writes synthetic `ava_database.db` files: the app's exact SQLite schema, filled with
//! realistic, deterministic data that holds every hard case a migration must carry.
//!
//! Tests and load runs of the migration need source files of any size without shipping
//! real patient data. [`seed`] creates one from `(calls, seed, end)`; the same options
//! always give byte-identical table contents. Values are spelled exactly as the app's
//! SQLAlchemy models store them in SQLite: `DateTime` as
//! `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, `Boolean` as INTEGER 0/1, `Float` as REAL,
//! `JSON` as Python `json.dumps` text (ASCII-escaped, `None` as the text `null`).
//!
//! Hard cases appear at a fixed rate (by row id), so any seed of 200 calls or more holds
//! each of them: unicode, quoted and RTL names; tabs, newlines, CRLF, backslashes and
//! emoji in notes and transcripts; NULL in every nullable column of the first four
//! tables; `''` in notes, provider and escalation_reason; JSON `null` and SQL NULL in
//! `call_events.data`; legacy plain-text and NULL transcripts; anonymous calls (some
//! with no phone); calls that never ended; escalations; full-precision scores.
//!
//! # The `daily_metrics` rule
//!
//! `daily_metrics` is the fold of `call_sessions` that `admin-api.md` describes (what
//! the app's `AnalyticsService` does as each call ends), pinned down here so that a
//! server recomputing it gets the same bits:
//!
//! - Only calls with `ended_at` set are folded (`started_at` is never NULL on those).
//!   A call belongs to the UTC day of its `started_at`; there is one row per day that
//!   has at least one folded call, ids ascending with the date.
//! - `date` = that day's midnight, `YYYY-MM-DD 00:00:00.000000`; `updated_at` = the
//!   same day at `23:59:00.000000`.
//! - `total_calls` = count; `total_talk_time_seconds` = sum of `duration_seconds`;
//!   `avg_call_duration_seconds` = `total_talk_time_seconds / total_calls` (integer
//!   division).
//! - `appointments_booked`, `appointments_rescheduled`, `appointments_cancelled` =
//!   count of `outcome` = `'booked'`, `'rescheduled'`, `'cancelled'`;
//!   `calls_escalated` = count of `escalated = 1` (NULL does not count).
//! - `conversion_rate` = `booked as f64 / total_calls as f64 * 100.0` (in that order).
//! - `avg_satisfaction_score` = the day's non-NULL `satisfaction_score` values added
//!   as f64 one by one in ascending call `id` order, divided by how many there are;
//!   `0.0` when there are none. (Postgres: `avg(satisfaction_score ORDER BY id)`;
//!   SQLite ≥ 3.43's `avg()` uses compensated summation and can differ in the last bit.)

mod stamp;
mod vocab;

use ava_catalog::{Table, SQLITE_DDL, TABLES};
use ava_convert::pyjson;
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::types::{Null, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement, ToSql};
use serde::Serialize;
use stamp::{Date, Iso, Sql, DAY, HOUR, MINUTE, SECOND};
use std::fmt::{self, Display};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use vocab::*;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// Number of `call_sessions` rows; the other tables scale with it (about 8 rows per
    /// call in all).
    pub calls: u64,
    /// Seed of the random generator: same options, same contents.
    pub seed: u64,
    /// Last UTC day that has calls; they spread over `clamp(calls / 250, 7, 730)` days
    /// ending here.
    pub end: NaiveDate,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows per table, in [`ava_catalog::TABLES`] order.
    pub rows: Vec<(&'static str, u64)>,
}

#[derive(thiserror::Error, Debug)]
pub enum SeedError {
    #[error("{} already exists: delete it or choose another path", .0.display())]
    Exists(PathBuf),
    #[error("cannot create {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("end date {0} is outside the years 1100..=9000 the seed can spell")]
    EndOutOfRange(NaiveDate),
}

/// Creates `path` (which must not exist) with [`SQLITE_DDL`] and fills it as described
/// in the crate docs. On failure the partly written file is removed again.
pub fn seed(path: &Path, opts: &SeedOptions) -> Result<SeedReport, SeedError> {
    // Keeps every timestamp (customers a year before the first call, appointments weeks
    // after the last) a four-digit year.
    if !(1100..=9000).contains(&opts.end.year()) {
        return Err(SeedError::EndOutOfRange(opts.end));
    }
    // create_new, not an exists() check: never clobber a file that appears meanwhile.
    if let Err(source) = std::fs::File::create_new(path) {
        return Err(match source.kind() {
            std::io::ErrorKind::AlreadyExists => SeedError::Exists(path.to_path_buf()),
            _ => SeedError::Io {
                path: path.to_path_buf(),
                source,
            },
        });
    }
    write(path, opts).map_err(|source| {
        // A half-written file would only make the next attempt fail with Exists.
        let _ = std::fs::remove_file(path);
        SeedError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write(path: &Path, opts: &SeedOptions) -> rusqlite::Result<SeedReport> {
    let mut db = Connection::open(path)?;
    db.execute_batch(SQLITE_DDL)?;
    // Nobody else sees the file until we return, and on failure it is deleted: the fill
    // needs neither a journal nor fsyncs. A fixed cache keeps memory flat. Foreign keys
    // are valid by construction (the tests run `foreign_key_check`); enforcing them (the
    // bundled SQLite does by default) would cost a parent lookup per row and forbid
    // inserting a batch of calls after their events.
    db.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -65536;",
    )?;
    let tx = db.transaction()?;
    let rows = fill(&tx, opts)?;
    tx.commit()?;
    db.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")?;
    db.close().map_err(|(_, e)| e)?;
    Ok(SeedReport {
        rows: TABLES.iter().map(|t| t.name).zip(rows).collect(),
    })
}

/// Prepared `INSERT`s of all of a table's catalog columns, bound one column at a time
/// in catalog order through a single reused buffer (SQLite copies bound text). Rows can
/// go in batches of a known size, one multi-row statement each, which saves SQLite the
/// per-statement work for the many small event rows.
struct Insert<'c> {
    db: &'c Connection,
    table: &'static Table,
    /// `by_size[n - 1]` inserts n rows.
    by_size: Vec<Statement<'c>>,
    size: usize,
    bound: usize,
    pending: usize,
    rows: u64,
    buf: Vec<u8>,
}

/// Rows per multi-row `INSERT` where the count is known ahead.
const BATCH: usize = 64;

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

impl<'c> Insert<'c> {
    fn new(db: &'c Connection, table: &'static Table) -> rusqlite::Result<Self> {
        let mut insert = Self {
            db,
            table,
            by_size: Vec::new(),
            size: 0,
            bound: 0,
            pending: 0,
            rows: 0,
            buf: Vec::new(),
        };
        insert.batch(1)?;
        Ok(insert)
    }

    /// The next `n` rows go in one statement (then back to one at a time).
    fn batch(&mut self, n: usize) -> rusqlite::Result<()> {
        debug_assert_eq!(self.pending, 0);
        while self.by_size.len() < n {
            let marks = vec!["?"; self.table.columns.len()].join(", ");
            let rows = vec![format!("({marks})"); self.by_size.len() + 1].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {rows}",
                self.table.name,
                self.table.column_list()
            );
            self.by_size.push(self.db.prepare(&sql)?);
        }
        self.size = n;
        Ok(())
    }

    /// The id the next row gets: ids are 1..n in insertion order.
    fn next_id(&self) -> i64 {
        self.rows as i64 + 1
    }

    fn val(&mut self, v: impl ToSql) -> rusqlite::Result<&mut Self> {
        self.bound += 1;
        self.by_size[self.size - 1].raw_bind_parameter(self.bound, v)?;
        Ok(self)
    }

    fn bind_buf(&mut self) -> rusqlite::Result<&mut Self> {
        self.bound += 1;
        let text = ToSqlOutput::Borrowed(ValueRef::Text(&self.buf));
        self.by_size[self.size - 1].raw_bind_parameter(self.bound, text)?;
        Ok(self)
    }

    fn text(&mut self, v: impl Display) -> rusqlite::Result<&mut Self> {
        self.buf.clear();
        write!(self.buf, "{v}").map_err(conversion)?;
        self.bind_buf()
    }

    fn opt_text(&mut self, v: Option<impl Display>) -> rusqlite::Result<&mut Self> {
        match v {
            Some(v) => self.text(v),
            None => self.val(Null),
        }
    }

    fn json(&mut self, v: &impl Serialize) -> rusqlite::Result<&mut Self> {
        self.buf.clear();
        pyjson::dump(&mut self.buf, v).map_err(conversion)?;
        self.bind_buf()
    }

    /// Ends a row; runs the statement once the batch is complete.
    fn row(&mut self) -> rusqlite::Result<()> {
        self.rows += 1;
        self.pending += 1;
        if self.pending == self.size {
            let stmt = &mut self.by_size[self.size - 1];
            debug_assert_eq!(self.bound, stmt.parameter_count());
            stmt.raw_execute()?;
            (self.size, self.bound, self.pending) = (1, 0, 0);
        }
        Ok(())
    }
}

/// One UTC day's fold of its ended calls (see the crate docs).
#[derive(Default, Clone)]
struct Fold {
    calls: i64,
    talk: i64,
    booked: i64,
    rescheduled: i64,
    cancelled: i64,
    escalated: i64,
    score_sum: f64,
    scored: i64,
}

impl Fold {
    fn add(&mut self, duration: i64, outcome: Option<&str>, escalated: bool, score: Option<f64>) {
        self.calls += 1;
        self.talk += duration;
        self.booked += i64::from(outcome == Some("booked"));
        self.rescheduled += i64::from(outcome == Some("rescheduled"));
        self.cancelled += i64::from(outcome == Some("cancelled"));
        self.escalated += i64::from(escalated);
        if let Some(s) = score {
            // In call id order: the rule fixes the order of the f64 additions.
            self.score_sum += s;
            self.scored += 1;
        }
    }
}

/// A caller's phone. Customers' are `+1310555xxxx` for the first 9,999 and stay unique
/// after; other callers' never start with +1310, so they match no customer.
enum Phone {
    Customer(i64),
    Other(&'static str, u32),
}

impl Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phone::Customer(i) => write!(f, "+1310{}", 5_550_000 + i),
            Phone::Other(area, number) => write!(f, "+1{area}{number}"),
        }
    }
}

/// A Google-Calendar-shaped event id (lowercase hex, a subset of its base32hex).
struct CalendarId(u64);

impl Display for CalendarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A uuid-shaped session id: 64 random bits and 64 bits that are a bijection of the
/// call id, so ids look random yet can never collide.
#[derive(Clone, Copy)]
struct SessionId(u64, u64);

impl Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SessionId(hi, lo) = *self;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }
}

struct RecordingUrl(SessionId);

impl Display for RecordingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://recordings.example.com/{}.wav", self.0)
    }
}

/// splitmix64's finalizer: a bijection on u64, used to derive unique random-looking ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pick<T: Copy>(r: &mut impl Rng, xs: &[T]) -> T {
    xs[r.random_range(0..xs.len())]
}

fn weighted<T: Copy>(r: &mut impl Rng, xs: &[(T, u32)]) -> T {
    let mut ticket = r.random_range(0..xs.iter().map(|x| x.1).sum::<u32>());
    for &(x, w) in xs {
        if ticket < w {
            return x;
        }
        ticket -= w;
    }
    xs[xs.len() - 1].0
}

/// One line of a JSON transcript, in the app's key order.
#[derive(Serialize)]
struct Turn {
    speaker: &'static str,
    text: &'static str,
    timestamp: Iso,
}

#[derive(Serialize)]
struct Args {
    date: Date,
    service: &'static str,
}

/// `call_events.data`, free-form per event type as in the app.
#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Intent {
        intent: &'static str,
        confidence: f64,
    },
    Function {
        function: &'static str,
        args: Args,
    },
    Booked {
        appointment_id: Option<i64>,
        service: &'static str,
        datetime: Iso,
    },
    Escalation {
        reason: &'static str,
        transfer_to: &'static str,
    },
    Sentiment {
        from: &'static str,
        to: &'static str,
        note: &'static str,
    },
    Error {
        error: &'static str,
        retry: bool,
        attempts: &'static [u8],
    },
    Nested {
        nested: (u8, f64, Option<u8>, &'static str),
    },
    /// Python `None`, stored as the JSON text `null`.
    Null,
}

enum Transcript {
    Json,
    Legacy(&'static str),
    Null,
}

/// What one call decided that its appointment and events need to agree with.
struct Call {
    id: i64,
    start: i64,
    service: &'static str,
    outcome: Option<&'static str>,
    escalation_reason: Option<&'static str>,
    appointment: Option<i64>,
    slot: i64,
}

struct Gen<'c> {
    rng: ChaCha8Rng,
    salt: u64,
    customer_count: i64,
    customers: Insert<'c>,
    appointments: Insert<'c>,
    calls: Insert<'c>,
    events: Insert<'c>,
    metrics: Insert<'c>,
    turns: Vec<Turn>,
}

fn fill(db: &Connection, opts: &SeedOptions) -> rusqlite::Result<[u64; 5]> {
    const UNIX_EPOCH_FROM_CE: i64 = 719_163;
    let calls = i64::try_from(opts.calls).unwrap_or(i64::MAX);
    let days = (calls / 250).clamp(7, 730);
    let first = i64::from(opts.end.num_days_from_ce()) - UNIX_EPOCH_FROM_CE - days + 1;
    let [customers, appointments, call_sessions, events, metrics] = &TABLES;
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(opts.seed),
        salt: mix(opts.seed),
        customer_count: (calls / 4).max(1),
        customers: Insert::new(db, customers)?,
        appointments: Insert::new(db, appointments)?,
        calls: Insert::new(db, call_sessions)?,
        events: Insert::new(db, events)?,
        metrics: Insert::new(db, metrics)?,
        turns: Vec::new(),
    };
    g.customer_rows(first)?;

    // Calls are generated day by day in start order, so ids follow time as in the app.
    // Each day gets its share of `calls` by weight (weekdays busier, business growing).
    let weights: Vec<f64> = (0..days)
        .map(|i| {
            let weekday =
                [1.0, 1.0, 1.0, 1.05, 1.1, 0.7, 0.35][(first + i + 3).rem_euclid(7) as usize];
            weekday * (0.6 + 0.4 * i as f64 / days as f64) * g.rng.random_range(0.8..1.2)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let (mut cumulative, mut done) = (0.0, 0);
    let mut folds = vec![Fold::default(); weights.len()];
    let mut starts = Vec::new();
    for (i, (w, fold)) in weights.iter().zip(&mut folds).enumerate() {
        cumulative += w;
        let upto = if i + 1 == weights.len() {
            calls
        } else {
            ((cumulative / total * calls as f64).round() as i64).min(calls)
        };
        let midnight = (first + i as i64) * DAY;
        starts.clear();
        starts.extend((done..upto).map(|_| midnight + g.time_of_day()));
        starts.sort_unstable();
        for chunk in starts.chunks(BATCH) {
            g.calls.batch(chunk.len())?;
            for &start in chunk {
                g.call(start, fold)?;
            }
        }
        done = upto;
    }
    // Every batch was sized to the rows that followed; a partial one would be lost.
    debug_assert!([&g.customers, &g.calls, &g.events]
        .iter()
        .all(|t| t.pending == 0));
    for (i, fold) in folds.iter().enumerate() {
        if fold.calls > 0 {
            g.metrics_row((first + i as i64) * DAY, fold)?;
        }
    }
    Ok([g.customers, g.appointments, g.calls, g.events, g.metrics].map(|t| t.rows))
}

impl Gen<'_> {
    /// Microseconds into a UTC day: mostly Los Angeles opening hours (15:00–03:00 UTC).
    fn time_of_day(&mut self) -> i64 {
        if self.rng.random_bool(0.75) {
            (15 * HOUR + self.rng.random_range(0..12 * HOUR)) % DAY
        } else {
            self.rng.random_range(0..DAY)
        }
    }

    /// An appointment time 1–45 days after `t`, on the hour or half hour.
    fn slot_after(&mut self, t: i64) -> i64 {
        let day = t.div_euclid(DAY) + self.rng.random_range(1..=45);
        day * DAY + 15 * HOUR + self.rng.random_range(0..24) * 30 * MINUTE
    }

    fn customer_rows(&mut self, first_day: i64) -> rusqlite::Result<()> {
        let (r, c) = (&mut self.rng, &mut self.customers);
        for i in 1..=self.customer_count {
            if i % BATCH as i64 == 1 {
                c.batch((self.customer_count - i + 1).min(BATCH as i64) as usize)?;
            }
            // A row from before the flags and timestamps were filled in.
            let legacy = i % 25 == 7;
            let created = (first_day - r.random_range(0..=365)) * DAY + r.random_range(0..DAY);
            let updated = created + r.random_range(0..=30 * DAY);
            let email = i % 10 != 3 && !r.random_bool(0.2);
            let notes = match i % 5 {
                0 => None,
                2 => Some(""),
                3 => Some(NOTES[(i / 5) as usize % NOTES.len()]),
                _ => (!r.random_bool(0.4)).then(|| pick(r, &NOTES)),
            };
            let flags = [r.random_bool(0.4), r.random_bool(0.15), r.random_bool(0.04)];
            let flags = flags.map(|f| (!legacy).then_some(f));
            c.val(i)?;
            if i % 5 == 1 {
                c.text(HARD_NAMES[(i / 5) as usize % HARD_NAMES.len()])?;
            } else {
                let (first, last) = (pick(r, &FIRST), pick(r, &LAST));
                c.text(format_args!("{first} {last}"))?;
            }
            c.text(Phone::Customer(i))?
                .opt_text(email.then_some(format_args!("client{i}@example.com")))?
                .val(flags[0])?
                .opt_text((!legacy).then_some(Sql(created)))?
                .opt_text((!legacy).then_some(Sql(updated)))?
                .val(flags[1])?
                .val(flags[2])?
                .val(notes)?
                .row()?;
        }
        Ok(())
    }

    fn call(&mut self, start: i64, day: &mut Fold) -> rusqlite::Result<()> {
        let id = self.calls.next_id();
        let r = &mut self.rng;
        let customer =
            (id % 10 != 5 && !r.random_bool(0.2)).then(|| r.random_range(1..=self.customer_count));
        let phone = match customer {
            Some(i) => Some(Phone::Customer(i)),
            None if id % 20 == 15 || r.random_bool(0.05) => None,
            None => Some(Phone::Other(
                pick(r, &["213", "323", "424", "626", "818"]),
                r.random_range(2_000_000..10_000_000),
            )),
        };
        // Calls that never ended: the app crashed or the caller is still on the line.
        let ended = id % 50 != 17 && !r.random_bool(0.02);
        // Most calls are short; a few run twenty minutes.
        let duration = 15 + (r.random::<f64>().powi(2) * 1200.0) as i64;
        let end = start + duration * SECOND;
        let outcome = ended.then(|| weighted(r, &OUTCOMES));
        // A row from before the counters and the escalation flag were recorded.
        let legacy = id % 100 == 41;
        let escalated = !legacy
            && (outcome == Some("escalated") || id % 50 == 9 || (ended && r.random_bool(0.03)));
        let escalation_reason = escalated.then(|| match id % 100 {
            9 => "",
            _ => pick(r, &ESCALATION_REASONS),
        });
        let score = match id % 10 {
            _ if !ended => None,
            3 => None,
            8 => Some(f64::from(r.random_range(0..=30u8)) / 3.0), // the mean of three ratings
            _ if r.random_bool(0.08) => None,
            _ if r.random_bool(0.15) => Some(f64::from(r.random_range(0..=30u8)) / 3.0),
            _ => Some(f64::from(r.random_range(0..=100u8)) / 10.0),
        };
        let sentiment = (ended && !r.random_bool(0.03)).then(|| weighted(r, &SENTIMENTS));
        let session = SessionId(r.random(), mix(id as u64 ^ self.salt));
        let recording = (ended && r.random_bool(0.3)).then_some(RecordingUrl(session));
        let function_calls = match outcome {
            Some("booked") => r.random_range(1..=4),
            _ => r.random_range(0..=3),
        };
        let counters = [r.random_range(0..=4), r.random_range(0..=3), function_calls]
            .map(|n| (!legacy).then_some(n));
        let service = pick(r, &SERVICES);
        let transcript = match id % 25 {
            11 => Transcript::Legacy(
                LEGACY_TRANSCRIPTS[(id / 25) as usize % LEGACY_TRANSCRIPTS.len()],
            ),
            19 => Transcript::Null,
            _ if !ended && r.random_bool(0.5) => Transcript::Null,
            _ => Transcript::Json,
        };
        if let Transcript::Json = transcript {
            // An unended call's transcript covers what was said so far.
            let (turns, span) = match ended {
                true => (r.random_range(2..=8), duration * SECOND),
                false => (r.random_range(1..=3), 30 * SECOND),
            };
            self.fill_turns(id, start, turns, span);
        }

        let c = &mut self.calls;
        c.val(id)?
            .val(customer)?
            .text(session)?
            .opt_text(phone)?
            // A NULL start only on a call that never ended, so the fold stays defined.
            .opt_text((id % 100 != 67).then_some(Sql(start)))?
            .opt_text(ended.then_some(Sql(end)))?
            .val(ended.then_some(duration))?;
        match transcript {
            Transcript::Json => c.json(&self.turns)?,
            Transcript::Legacy(text) => c.text(text)?,
            Transcript::Null => c.val(Null)?,
        };
        c.opt_text(recording)?
            .val(score)?
            .val(sentiment)?
            .val(outcome)?
            .val(counters[0])?
            .val(counters[1])?
            .val(counters[2])?
            .val((!legacy).then_some(escalated))?
            .val(escalation_reason)?
            .row()?;

        if ended {
            day.add(duration, outcome, escalated, score);
        }

        let slot = self.slot_after(end);
        let mut call = Call {
            id,
            start,
            service,
            outcome,
            escalation_reason,
            appointment: None,
            slot,
        };
        if let (Some("booked"), Some(customer)) = (outcome, customer) {
            call.appointment = Some(self.appointment(customer, end, slot, "ai", service)?);
        }
        let span = if ended {
            duration * SECOND
        } else {
            self.rng.random_range(5..=300) * SECOND
        };
        self.event_rows(&call, span)?;

        // Bookings made by staff or online, outside any call.
        if self.rng.random_bool(0.17) {
            let customer = self.rng.random_range(1..=self.customer_count);
            let by = if self.rng.random_bool(0.6) {
                "staff"
            } else {
                "online"
            };
            let slot = self.slot_after(start);
            let service = pick(&mut self.rng, &SERVICES);
            self.appointment(customer, start, slot, by, service)?;
        }
        Ok(())
    }

    /// Replaces `self.turns` with `n` lines spread evenly over `span` from `start`.
    fn fill_turns(&mut self, id: i64, start: i64, n: i64, span: i64) {
        let r = &mut self.rng;
        self.turns.clear();
        self.turns.extend((0..n).map(|j| {
            let (speaker, text) = match j {
                // Cycling the first line through the list puts every hard one in.
                0 => (
                    "customer",
                    CUSTOMER_LINES[id as usize % CUSTOMER_LINES.len()],
                ),
                _ if j % 2 == 0 => ("customer", pick(r, &CUSTOMER_LINES)),
                _ => ("assistant", pick(r, &ASSISTANT_LINES)),
            };
            let timestamp = Iso(start + j * (span / n));
            Turn {
                speaker,
                text,
                timestamp,
            }
        }));
    }

    /// 1–12 events at increasing times within the call's `span`.
    fn event_rows(&mut self, call: &Call, span: i64) -> rusqlite::Result<()> {
        let n = self.rng.random_range(1..=12);
        self.events.batch(n as usize)?;
        let step = span / (n + 1);
        for j in 0..n {
            let id = self.events.next_id();
            let at = call.start + step * j + self.rng.random_range(0..=step / 2);
            let kind = match call.outcome {
                _ if j == 0 => "intent_detected",
                Some("booked") if j == n - 1 => "appointment_booked",
                _ if j == n - 1 && call.escalation_reason.is_some() => "escalation_triggered",
                _ => weighted(&mut self.rng, &MIDDLE_EVENTS),
            };
            let data = match id % 40 {
                7 => None,
                27 => Some(Data::Null),
                _ if self.rng.random_bool(0.1) => Some(Data::Null),
                _ => Some(self.data(kind, call)),
            };
            let e = &mut self.events;
            e.val(id)?
                .val(call.id)?
                .val(kind)?
                .opt_text((id % 100 != 53).then_some(Sql(at)))?;
            match data {
                Some(data) => e.json(&data)?,
                None => e.val(Null)?,
            };
            e.row()?;
        }
        Ok(())
    }

    fn data(&mut self, kind: &str, call: &Call) -> Data {
        let r = &mut self.rng;
        match kind {
            "intent_detected" => Data::Intent {
                intent: pick(r, &INTENTS),
                confidence: f64::from(r.random_range(1..=999u16)) / 1000.0,
            },
            "function_called" => Data::Function {
                function: pick(r, &FUNCTIONS),
                args: Args {
                    date: Date(call.slot.div_euclid(DAY)),
                    service: call.service,
                },
            },
            "appointment_booked" => Data::Booked {
                appointment_id: call.appointment,
                service: call.service,
                datetime: Iso(call.slot),
            },
            "escalation_triggered" => Data::Escalation {
                reason: call.escalation_reason.unwrap_or_default(),
                transfer_to: "nurse",
            },
            "sentiment_change" => Data::Sentiment {
                from: weighted(r, &SENTIMENTS),
                to: weighted(r, &SENTIMENTS),
                note: pick(r, &SENTIMENT_NOTES),
            },
            // error_occurred: the app logged whatever the failing tool returned.
            _ if r.random_bool(0.3) => Data::Nested {
                nested: (1, 2.5, None, "x\u{e9}"),
            },
            _ => Data::Error {
                error: pick(r, &ERRORS),
                retry: r.random_bool(0.5),
                attempts: &[1, 2, 3],
            },
        }
    }

    fn appointment(
        &mut self,
        customer: i64,
        created: i64,
        at: i64,
        booked_by: &str,
        service: &str,
    ) -> rusqlite::Result<i64> {
        let id = self.appointments.next_id();
        let r = &mut self.rng;
        // A row from before status, booked_by, duration and timestamps were filled in.
        let legacy = id % 25 == 13;
        let calendar = (id % 10 != 4 && !r.random_bool(0.08))
            .then(|| CalendarId(mix(id as u64 ^ self.salt.rotate_left(32))));
        let provider = match id % 10 {
            2 => None,
            6 => Some(""),
            _ => (!r.random_bool(0.15)).then(|| pick(r, &PROVIDERS)),
        };
        let duration = (!legacy).then(|| pick(r, &[30, 45, 60, 60, 90]));
        let status = (!legacy).then(|| weighted(r, &STATUSES));
        let requests = match id % 10 {
            0 => None,
            8 => Some(SPECIAL_REQUESTS[(id / 10) as usize % SPECIAL_REQUESTS.len()]),
            _ => r.random_bool(0.3).then(|| pick(r, &SPECIAL_REQUESTS)),
        };
        let cancelled_at = (status == Some("cancelled"))
            .then(|| created + (at - created) / 10 * r.random_range(1..10));
        let reason = cancelled_at
            .and_then(|_| (!r.random_bool(0.2)).then(|| pick(r, &CANCELLATION_REASONS)));
        self.appointments
            .val(id)?
            .val(customer)?
            .opt_text(calendar)?
            .text(Sql(at))?
            .val(service)?
            .val(provider)?
            .val(duration)?
            .val(status)?
            .val((!legacy).then_some(booked_by))?
            .val(requests)?
            .val(reason)?
            .opt_text((!legacy).then_some(Sql(created)))?
            .opt_text((!legacy).then_some(Sql(cancelled_at.unwrap_or(created))))?
            .opt_text(cancelled_at.map(Sql))?
            .row()?;
        Ok(id)
    }

    fn metrics_row(&mut self, midnight: i64, f: &Fold) -> rusqlite::Result<()> {
        let satisfaction = if f.scored > 0 {
            f.score_sum / f.scored as f64
        } else {
            0.0
        };
        let id = self.metrics.next_id();
        self.metrics
            .val(id)?
            .text(Sql(midnight))?
            .val(f.calls)?
            .val(f.talk)?
            .val(f.talk / f.calls)?
            .val(f.booked)?
            .val(f.rescheduled)?
            .val(f.cancelled)?
            .val(satisfaction)?
            .val(f.escalated)?
            .val(f.booked as f64 / f.calls as f64 * 100.0)?
            .text(Sql(midnight + 23 * HOUR + 59 * MINUTE))?
            .row()
    }
}

#[cfg(test)]
mod tests;
