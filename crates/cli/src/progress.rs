//! Progress of a migration: a bar per table on a terminal (indicatif), plain log lines
//! otherwise (CI logs, pipes).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a log line reports a table's progress when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Bars {
    multi: Option<MultiProgress>,
    state: Mutex<State>,
    started: Instant,
}

#[derive(Default)]
struct State {
    bars: HashMap<&'static str, ProgressBar>,
    /// Per table: total rows, rows done, when it started, when last logged.
    tables: HashMap<&'static str, (u64, u64, Instant, Instant)>,
}

impl Bars {
    pub fn new() -> Bars {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Bars {
            multi,
            state: Mutex::new(State::default()),
            started: Instant::now(),
        }
    }

    /// Removes the bars before the report is printed.
    pub fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the state inconsistent: keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn rate(rows: u64, since: Instant) -> f64 {
    rows as f64 / since.elapsed().as_secs_f64().max(1e-9)
}

impl ava_migrate::Progress for Bars {
    fn phase(&self, what: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(format!("… {what}"));
            }
            // In a log, each phase with the time since the start.
            None => eprintln!(
                "ava: [{:6.2} s] {what}",
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    fn table_started(&self, table: &'static str, rows: u64) {
        let mut state = self.state();
        let now = Instant::now();
        state.tables.insert(table, (rows, 0, now, now));
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(rows));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>15} [{bar:30}] {human_pos}/{human_len} rows  {per_sec}  ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(table);
                state.bars.insert(table, bar);
            }
            None => eprintln!("ava: copying {table}: {rows} rows"),
        }
    }

    fn rows_copied(&self, table: &'static str, rows: u64) {
        let mut state = self.state();
        if let Some(bar) = state.bars.get(table) {
            bar.inc(rows);
        }
        if self.multi.is_none() {
            if let Some((total, done, start, logged)) = state.tables.get_mut(table) {
                *done += rows;
                if logged.elapsed() >= LOG_EVERY {
                    *logged = Instant::now();
                    eprintln!(
                        "ava: {table}: {done}/{total} rows, {:.0} rows/s",
                        rate(*done, *start)
                    );
                }
            }
        }
    }

    fn table_finished(&self, table: &'static str) {
        let state = self.state();
        if let Some(bar) = state.bars.get(table) {
            bar.finish();
        }
        if self.multi.is_none() {
            if let Some((total, _, start, _)) = state.tables.get(table) {
                eprintln!(
                    "ava: {table}: done, {total} rows in {:.2} s",
                    start.elapsed().as_secs_f64()
                );
            }
        }
    }
}
