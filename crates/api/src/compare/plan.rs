//! The plan drawn from the data: which calls and customers to ask for (the most recent,
//! the first and last ids, a few evenly between, and an id neither store has), which
//! searches (fragments of real phones and names), which appointment filters (each
//! status, a date range) — drawn from both stores' rows, so a row only one side holds
//! is asked for too.

use ava_catalog::{Kind, Table, APPOINTMENTS, CALL_SESSIONS, CUSTOMERS};
use ava_convert::datetime::format_micros;
use ava_convert::Value;

use super::ask::{Run, SIDES};
use super::CompareError;
use crate::json::kinds;
use crate::store::Param;

/// How many of the most recent calls are sampled.
const RECENT_CALLS: i64 = 20;

/// How many ids between the first and the last are sampled, evenly spaced.
const SPREAD: i64 = 5;

/// What the requests are drawn from.
pub(super) struct Plan {
    pub(super) searches: Vec<Option<String>>,
    pub(super) calls: Sample,
    pub(super) customers: Sample,
    pub(super) appointments: Vec<String>,
}

/// Ids to ask for, and one that neither store has.
pub(super) struct Sample {
    pub(super) ids: Vec<i64>,
    pub(super) missing: i64,
}

fn ints<'a>(rows: &'a [Vec<Value<'static>>]) -> impl Iterator<Item = i64> + 'a {
    rows.iter().filter_map(|row| match row.first() {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    })
}

fn texts<'a>(rows: &'a [Vec<Value<'static>>]) -> impl Iterator<Item = &'a str> + 'a {
    rows.iter().filter_map(|row| match row.first() {
        Some(Value::Text(t)) => Some(t.as_ref()),
        _ => None,
    })
}

fn push_new(ids: &mut Vec<i64>, more: impl IntoIterator<Item = i64>) {
    for id in more {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
}

impl Plan {
    pub(super) async fn draw(run: &Run<'_>) -> Result<Plan, CompareError> {
        let recent_calls = run
            .both(
                "SELECT s.id FROM call_sessions s \
                 ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT $1",
                &[Param::Int(RECENT_CALLS)],
                &[Kind::Id],
            )
            .await?;
        let mut calls = Vec::new();
        for rows in &recent_calls {
            push_new(&mut calls, ints(rows));
        }
        let calls = spread(run, CALL_SESSIONS, calls).await?;

        let recent_customers = run
            .both(
                "SELECT s.customer_id FROM call_sessions s WHERE s.customer_id IS NOT NULL \
                 ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT $1",
                &[Param::Int(RECENT_CALLS / 2)],
                &[Kind::Id],
            )
            .await?;
        let mut customers = Vec::new();
        for rows in &recent_customers {
            push_new(&mut customers, ints(rows));
        }
        let customers = spread(run, CUSTOMERS, customers).await?;

        Ok(Plan {
            searches: searches(run).await?,
            calls,
            customers,
            appointments: appointment_queries(run).await?,
        })
    }
}

/// `ids`, plus the first and last ids of `table` and [`SPREAD`] evenly spaced between
/// them, on either store; and an id past the last of both.
async fn spread(run: &Run<'_>, table: &Table, mut ids: Vec<i64>) -> Result<Sample, CompareError> {
    let bounds = run
        .both(
            &format!(
                "SELECT min(t.id), max(t.id), count(*) FROM {} t",
                table.name
            ),
            &[],
            &[Kind::Id, Kind::Id, Kind::Int],
        )
        .await?;
    let mut missing = 1;
    for (i, rows) in bounds.iter().enumerate() {
        let Some([first, last, count]) = rows.first().map(|r| [&r[0], &r[1], &r[2]]) else {
            continue;
        };
        let (Value::Int(first), Value::Int(last), Value::Int(count)) = (first, last, count) else {
            continue;
        };
        push_new(&mut ids, [*first, *last]);
        missing = missing.max(last.saturating_add(1));
        for k in 1..=SPREAD {
            let offset = count * k / (SPREAD + 1);
            let sql = format!(
                "SELECT t.id FROM {} t ORDER BY t.id LIMIT 1 OFFSET $1",
                table.name
            );
            let rows = run.stores[i]
                .rows(&sql, &[Param::Int(offset)], &[Kind::Id])
                .await
                .map_err(|source| CompareError::Store {
                    side: SIDES[i],
                    store: run.stores[i].describe().1,
                    request: format!("sampling: {sql}"),
                    source: Box::new(source),
                })?;
            push_new(&mut ids, ints(&rows));
        }
    }
    Ok(Sample { ids, missing })
}

/// The searches of the call list: none; the last four digits of a recent caller's
/// phone; a fragment of a customer's name in lower and in upper case; the upper-cased
/// word of a name holding a letter outside ASCII (`É` if none does); `%_`, which
/// matches only itself.
async fn searches(run: &Run<'_>) -> Result<Vec<Option<String>>, CompareError> {
    let phones = run
        .both(
            "SELECT s.phone_number FROM call_sessions s WHERE s.phone_number IS NOT NULL \
             ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT 50",
            &[],
            &kinds(CALL_SESSIONS, &["phone_number"]),
        )
        .await?;
    let names = run
        .both(
            "SELECT c.name FROM customers c WHERE c.id IN \
             (SELECT s.customer_id FROM call_sessions s) ORDER BY c.id LIMIT 1000",
            &[],
            &kinds(CUSTOMERS, &["name"]),
        )
        .await?;
    let mut searches = vec![None];
    let digits = phones
        .iter()
        .flat_map(|rows| texts(rows))
        .find_map(|phone| {
            let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
            (digits.len() >= 4).then(|| digits[digits.len() - 4..].iter().collect::<String>())
        });
    searches.extend(digits.map(Some));
    let words: Vec<&str> = names
        .iter()
        .flat_map(|rows| texts(rows))
        .flat_map(str::split_whitespace)
        .collect();
    let ascii = words.iter().find_map(|word| {
        let letters: Vec<char> = word.chars().take_while(char::is_ascii_alphabetic).collect();
        (letters.len() >= 4).then(|| letters[1..4].iter().collect::<String>())
    });
    if let Some(fragment) = ascii {
        searches.push(Some(fragment.to_lowercase()));
        searches.push(Some(fragment.to_uppercase()));
    }
    let non_ascii = words
        .iter()
        .find(|word| word.chars().any(|c| !c.is_ascii() && c.is_alphabetic()))
        .map_or_else(|| "É".to_string(), |word| word.to_uppercase());
    searches.push(Some(non_ascii));
    searches.push(Some("%_".into()));
    Ok(searches)
}

/// The appointment queries: unfiltered; each status either store holds; the middle
/// half of the appointments by date, as date-times and as dates.
async fn appointment_queries(run: &Run<'_>) -> Result<Vec<String>, CompareError> {
    let encode = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let mut queries = vec![String::new()];
    let statuses = run
        .both(
            "SELECT DISTINCT a.status FROM appointments a WHERE a.status IS NOT NULL",
            &[],
            &kinds(APPOINTMENTS, &["status"]),
        )
        .await?;
    let mut all: Vec<String> = statuses
        .iter()
        .flat_map(|rows| texts(rows))
        .map(str::to_string)
        .collect();
    all.sort();
    all.dedup();
    queries.extend(all.iter().map(|status| encode(&[("status", status)])));

    let count = run
        .both("SELECT count(*) FROM appointments a", &[], &[Kind::Int])
        .await?;
    let count = count.iter().flat_map(|rows| ints(rows)).max().unwrap_or(0);
    if count > 0 {
        let mut at = Vec::new();
        for offset in [count / 4, count * 3 / 4] {
            let rows = run
                .both(
                    "SELECT a.appointment_datetime FROM appointments a \
                     WHERE a.appointment_datetime IS NOT NULL \
                     ORDER BY a.appointment_datetime, a.id LIMIT 1 OFFSET $1",
                    &[Param::Int(offset)],
                    &kinds(APPOINTMENTS, &["appointment_datetime"]),
                )
                .await?;
            if let Some(Value::Timestamp(t)) = rows[0].first().and_then(|r| r.first()) {
                at.push(format_micros(*t));
            }
        }
        if let [start, end] = &at[..] {
            let date = |t: &str| t.get(..10).unwrap_or(t).to_string();
            queries.push(encode(&[("start_date", start), ("end_date", end)]));
            queries.push(encode(&[
                ("start_date", &date(start)),
                ("end_date", &date(end)),
            ]));
        }
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_added_once_in_first_seen_order() {
        let mut ids = vec![3, 1];
        push_new(&mut ids, [1, 4, 3, 2, 4]);
        assert_eq!(ids, [3, 1, 4, 2]);
    }

    #[test]
    fn only_values_of_the_expected_type_are_read() {
        let rows = vec![
            vec![Value::Int(7)],
            vec![Value::Null],
            vec![Value::Text("a".into())],
            vec![],
        ];
        assert_eq!(ints(&rows).collect::<Vec<_>>(), [7]);
        assert_eq!(texts(&rows).collect::<Vec<_>>(), ["a"]);
    }
}
