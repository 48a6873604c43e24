//! The call log (`GET /api/admin/calls`): a page of calls in one of three orders,
//! optionally searched by part of the caller's phone number or of the customer's name,
//! with the exact total of the calls that match.
//!
//! The total is remembered per query with the state of the store it was counted in
//! (`store::Totals`), so the pages and sorts of one query share one count; a search finds its
//! page by collecting its matches from the indexes, or — when the totals say they are
//! dense — by walking the sort's index ([`walk_is_cheaper`]).

use ava_catalog::Kind;
use ava_catalog::{CALL_SESSIONS, CUSTOMERS};
use ava_convert::Value;

use super::list::{sort_order, total_key, total_pages, List};
use crate::json::{kinds, select, Answer, Keys, Objects};
use crate::request::{Field, Params, Query, Rule};
use crate::store::{fold, Dialect, Param, Rows, Store, SNAPSHOT};
use crate::ApiError;

/// A calls page: the query of `GET /api/admin/calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsPage {
    pub page: i64,
    pub page_size: i64,
    pub search: Option<String>,
    pub sort_by: &'static str,
    pub descending: bool,
}

pub const SORT_COLUMNS: [&str; 3] = ["started_at", "duration_seconds", "satisfaction_score"];

const SORT_BY: Field = Field::optional(
    "sort_by",
    Rule::OneOf(&SORT_COLUMNS),
    "The column to sort by.",
)
.or(SORT_COLUMNS[0]);
const SORT_ORDER: Field = sort_order("The order.", "desc");

/// `search` of the calls list: compared with customers' names (and phone numbers).
fn search_field() -> Field {
    Field::optional(
        "search",
        Rule::column(CUSTOMERS, "name"),
        "Part of the caller's phone number or of the customer's name, any case (empty: \
         every call).",
    )
}

/// The call log's query fields.
fn list() -> List {
    List {
        rows: "Calls per page.",
        search: search_field(),
        sort_by: SORT_BY,
        sort_order: SORT_ORDER,
    }
}

impl Params for CallsPage {
    fn fields() -> Vec<Field> {
        list().fields()
    }

    fn from_query(query: &Query) -> CallsPage {
        let listed = list().read(query);
        CallsPage {
            page: listed.page,
            page_size: listed.page_size,
            sort_by: SORT_COLUMNS
                .into_iter()
                .find(|c| *c == listed.sort_by)
                .unwrap_or(SORT_COLUMNS[0]),
            search: listed.search,
            descending: listed.descending,
        }
    }
}

/// Beside a listed call's columns: its customer's name (`null` without a customer), so
/// that the log names the caller where the name is known.
pub const CUSTOMER_NAME: &str = "customer_name";

/// The name of the customer of the row `alias` (a call, an appointment), as the column
/// [`CUSTOMER_NAME`].
pub(super) fn customer_name_of(alias: &str) -> String {
    format!(
        "(SELECT cn.name FROM customers cn WHERE cn.id = {alias}.customer_id) AS {CUSTOMER_NAME}"
    )
}

/// The columns of a call in the list.
pub const LIST_COLUMNS: [&str; 12] = [
    "id",
    "session_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "phone_number",
    "customer_id",
    "satisfaction_score",
    "sentiment",
    "outcome",
    "escalated",
    "escalation_reason",
];

/// `search` as a `LIKE` pattern matching it anywhere, case-folded, `%`, `_` and `\`
/// taken literally.
pub(super) fn contains_pattern(search: &str) -> String {
    let mut pattern = String::from("%");
    for c in fold(search).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The two arms of a search, each with its own index (the trigram indexes on Postgres,
/// `…_api_indexes.sql`), rather than one OR across the join: the calls whose phone
/// matches (`p`), and those of the customers whose name matches (`n`). `$1` is the
/// pattern ([`contains_pattern`]).
fn search_arms(d: Dialect) -> (String, String) {
    let phone = format!("{} LIKE $1 ESCAPE '\\'", d.fold("p.phone_number"));
    let customers = d.any_of(
        "n.customer_id",
        &format!(
            "SELECT nc.id FROM customers nc WHERE {} LIKE $1 ESCAPE '\\'",
            d.fold("nc.name")
        ),
    );
    (phone, customers)
}

/// The calls either arm matches, as `s`, by id.
fn matches_by_id(phone: &str, customers: &str) -> String {
    format!(
        "FROM call_sessions s WHERE s.id IN (SELECT p.id FROM call_sessions p \
         WHERE {phone} UNION ALL SELECT n.id FROM call_sessions n WHERE {customers})"
    )
}

/// The call log's order of `alias`'s rows by `sort_by`. A call without the sorted value
/// (a start time, a duration, a score) comes after all others in both directions, as
/// the clinic's SQLite file listed them going down; ties by id. Each direction reads an
/// index in order: on Postgres the (column, id) index going up and its (column DESC
/// NULLS LAST, id DESC) twin going down (`…_call_log_nulls_last.sql`); SQLite reads
/// both from the (column, id) index.
pub(super) fn order_by(alias: &str, sort_by: &str, descending: bool) -> String {
    let (direction, ids) = if descending {
        ("DESC NULLS LAST", "DESC")
    } else {
        ("ASC NULLS LAST", "ASC")
    };
    format!("ORDER BY {alias}.\"{sort_by}\" {direction}, {alias}.id {ids}")
}

/// `GET /api/admin/calls`.
pub async fn calls(store: &Store, page: &CallsPage) -> Result<Answer, ApiError> {
    let d = store.dialect();
    let mut params = Vec::new();
    // Two arms rather than one OR across the join: each can use its own index (the
    // trigram indexes on Postgres, `…_api_indexes.sql`).
    let from = match &page.search {
        Some(search) => {
            params.push(Param::Text(contains_pattern(search)));
            let (phone, customers) = search_arms(d);
            match d {
                // The matches' ids and sort keys alone: the customers' arm from the
                // (customer_id, started_at, id) index without visiting a row, so a page
                // sorts a few thousand index entries, not rows joined back by id
                // (`…_customer_calls_index.sql`).
                Dialect::Postgres => format!(
                    "FROM (SELECT p.id, p.\"{sort}\" FROM call_sessions p WHERE {phone} \
                     UNION SELECT n.id, n.\"{sort}\" FROM call_sessions n WHERE {customers}) s",
                    sort = page.sort_by
                ),
                Dialect::Sqlite => matches_by_id(&phone, &customers),
            }
        }
        None => ALL_CALLS.to_string(),
    };
    let n = params.len();
    let order_by = |alias: &str| order_by(alias, page.sort_by, page.descending);
    let order = order_by("s");
    let offset = (page.page - 1) * page.page_size;
    // On Postgres an unfiltered page's LIMIT and OFFSET are written into its statement
    // (integers, never text from the request). With a parameter there, a plan made
    // for any value must guess how many rows are wanted and costs more than one made
    // for the values, so Postgres plans the statement at every execution; that was
    // 40 % of the server's work for a page. Without, each connection plans a page once
    // (after five executions) and reuses the plan. A search keeps its parameters: its
    // best plan depends on the pattern. The texts vary by page: the statement cache
    // stays bounded (`PgStore`'s `MAX_STATEMENTS`).
    let literal = d == Dialect::Postgres && page.search.is_none();
    let (limit, columns) = (
        if literal {
            format!("LIMIT {} OFFSET {offset}", page.page_size)
        } else {
            format!("LIMIT ${} OFFSET ${}", n + 1, n + 2)
        },
        format!(
            "{}, {}",
            select(CALL_SESSIONS, &LIST_COLUMNS, "s"),
            customer_name_of("s")
        ),
    );
    // The exact total is remembered per query (one entry serves every page, sort and
    // direction), with the state of the store it was counted in; each store tells
    // cheaply whether that state still holds.
    let key = total_key(&from, &params);
    // On SQLite a search's total is counted first (usually remembered: see
    // `SqliteStore::count`), so that even the first requests of a new search know it.
    // The count alone in its SELECT: SQLite then counts from its smallest index (with
    // another column beside it, it reads every row). Postgres counts in the page's
    // statement.
    let count_sql = || format!("SELECT count(*) {from}");
    let counted = match store {
        Store::Sqlite(lite) if page.search.is_some() => {
            Some(lite.count(&key, &count_sql(), &params).await?)
        }
        _ => None,
    };
    // A search's page: walked — the sort's index in order, each call tested — when the
    // totals last counted say its matches are dense; else collected from `from`.
    let walk = page.search.is_some()
        && walk_is_cheaper(
            counted.or_else(|| store.last_count(&key)),
            store.last_count(&total_key(ALL_CALLS, &[])),
            page,
        );
    let walked;
    let page_from = if walk {
        walked = format!(
            "FROM call_sessions s LEFT JOIN customers c ON c.id = s.customer_id \
             WHERE {} LIKE $1 ESCAPE '\\' OR {} LIKE $1 ESCAPE '\\'",
            d.fold("c.name"),
            d.fold("s.phone_number")
        );
        &walked
    } else {
        &from
    };
    let sql = match d {
        // The page's ids first, from the (column, id) index alone (an index-only scan
        // once the table is vacuumed), then only their rows: a deep page skips index
        // entries, not the wide rows they point at. The ids as `= ANY(ARRAY(…))`: the
        // rows by primary key whatever the plan guesses of their number (as `IN (…)`, a
        // generic plan hash-joined the whole table); 8 % more pages a second in pgbench
        // even with a plan per execution, 10–20 % by wrk (noisy here). Beside them, in the
        // same statement, the total: the statement compares its snapshot with the one the query was last
        // counted in (`$n+3`), and counts only when they differ (see `Totals`). One
        // statement rather than two: measured with pgbench, 13 % more pages a second.
        Dialect::Postgres => format!(
            "WITH t AS (SELECT {SNAPSHOT} AS snapshot, CASE WHEN {SNAPSHOT} = ${} THEN NULL \
             ELSE (SELECT count(*) {from}) END AS total) \
             SELECT t.snapshot, t.total, {}, p.{CUSTOMER_NAME} FROM t LEFT JOIN \
             (SELECT {columns} FROM call_sessions s WHERE {}) p ON true {}",
            n + if literal { 1 } else { 3 },
            select(CALL_SESSIONS, &LIST_COLUMNS, "p"),
            d.any_of("s.id", &format!("SELECT s.id {page_from} {order} {limit}")),
            order_by("p")
        ),
        // SQLite reads a row by its id cheaply as it walks the index; measured, the
        // two-step form was 3 × slower there. The total comes from its own statement,
        // on another read connection, counted only when the file changed.
        Dialect::Sqlite => format!("SELECT {columns} {page_from} {order} {limit}"),
    };
    let mut page_params = params.clone();
    if !literal {
        page_params.push(Param::Int(page.page_size));
        page_params.push(Param::Int(offset));
    }
    let mut columns = kinds(CALL_SESSIONS, &LIST_COLUMNS);
    columns.extend(kinds(CUSTOMERS, &["name"]));
    match store {
        Store::Postgres(pg) => {
            let known = pg.totals.get(&key);
            page_params.push(Param::Text(
                known.as_ref().map(|k| k.0.clone()).unwrap_or_default(),
            ));
            let mut columns = columns;
            columns.splice(0..0, [Kind::Text, Kind::Id]);
            let mut rows = store.rows(&sql, &page_params, &columns).await?;
            let total = pg.totals.settle(&key, known, rows.first().map(|r| &r[..2]));
            // A page past the end is one row of the total with no call (no id).
            rows.retain(|row| !matches!(row.get(2), None | Some(Value::Null)));
            for row in &mut rows {
                row.drain(..2);
            }
            calls_page(page, total, rows)
        }
        // Counted again only when the file changed (`SqliteStore::count`): a search's
        // total above, before its page was chosen; else beside the page.
        Store::Sqlite(lite) => {
            let (total, rows) = match counted {
                Some(total) => (total, store.rows(&sql, &page_params, &columns).await?),
                None => {
                    futures_util::future::try_join(
                        lite.count(&key, &count_sql(), &params),
                        store.rows(&sql, &page_params, &columns),
                    )
                    .await?
                }
            };
            calls_page(page, total, rows)
        }
    }
}

/// The unfiltered call log's `FROM`.
const ALL_CALLS: &str = "FROM call_sessions s";

/// Whether a search's page is found sooner by walking the sort's index and testing each
/// call in turn (its name and phone folded: about 6 µs a call, for about (offset + page
/// size) × all calls / matches calls) than by collecting every match from the indexes and
/// sorting them (about 2 µs a match) — measured at 100,000 calls. Judged by the totals
/// last counted (stale or not: only the speed depends on it, never the answer); when
/// either is unknown, collect. Walking keeps a frequent fragment's first pages from
/// growing with the table: at 1,000,000 calls "garc" matches 50,000.
fn walk_is_cheaper(found: Option<i64>, all: Option<i64>, page: &CallsPage) -> bool {
    let reach = (page.page as f64) * (page.page_size as f64);
    match (found, all) {
        (Some(found), Some(all)) => {
            let (found, all) = (found as f64, all as f64);
            6.0 * reach * all / found.max(1.0) < 2.0 * found
        }
        _ => false,
    }
}

/// The call log's answer: the page of calls and the exact total.
/// The keys of a listed call: its columns, then its customer's name.
pub fn list_keys() -> Vec<&'static str> {
    let mut keys = LIST_COLUMNS.to_vec();
    keys.push(CUSTOMER_NAME);
    keys
}

/// A listed call's values as the list sends them: the original sent 0 for a call
/// without a duration.
fn as_listed(row: &mut [Value<'static>]) {
    let duration = LIST_COLUMNS
        .iter()
        .position(|c| *c == "duration_seconds")
        .unwrap_or(usize::MAX);
    if let Some(cell @ Value::Null) = row.get_mut(duration) {
        *cell = Value::Int(0);
    }
}

fn calls_page(page: &CallsPage, total: i64, mut rows: Rows) -> Result<Answer, ApiError> {
    for row in &mut rows {
        as_listed(row);
    }
    // Its keys in sorted order, as every answer's.
    #[derive(serde::Serialize)]
    struct CallsAnswer<'a> {
        calls: Objects<'a>,
        page: i64,
        page_size: i64,
        total: i64,
        total_pages: i64,
    }
    Answer::write(&CallsAnswer {
        calls: Objects {
            keys: &Keys::new(&list_keys()),
            rows: &rows,
        },
        page: page.page,
        page_size: page.page_size,
        total,
        total_pages: total_pages(total, page.page_size),
    })
}

/// The query of `GET /api/admin/calls/export.csv`: the call log's search and sort, every
/// page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub search: Option<String>,
    pub sort_by: &'static str,
    pub descending: bool,
}

impl Params for Export {
    fn fields() -> Vec<Field> {
        vec![search_field(), SORT_BY, SORT_ORDER]
    }

    fn from_query(query: &Query) -> Export {
        let page = CallsPage::from_query(query);
        Export {
            search: page.search,
            sort_by: page.sort_by,
            descending: page.descending,
        }
    }
}

/// Rows of CSV gathered, at most, before they are handed on.
const CSV_ROWS: usize = 256;

/// `GET /api/admin/calls/export.csv`: every call the search matches, in the log's order,
/// as CSV (RFC 4180: a header row, fields quoted where needed, CRLF line ends, UTF-8):
/// the listed columns as the list sends them, then the customer's name. Streamed in
/// chunks of at most `CSV_ROWS` rows as the rows arrive: memory stays flat however
/// many calls. Text that a spreadsheet would read as a formula (starting with `=`, `@`,
/// a tab or a carriage return) is sent after a `'`; `+` and `-` are left alone (phone
/// numbers start with `+`).
pub async fn export(
    store: &Store,
    query: &Export,
) -> Result<impl futures_util::Stream<Item = Result<bytes::Bytes, ApiError>> + use<>, ApiError> {
    use futures_util::StreamExt;
    let mut params = Vec::new();
    let from = match &query.search {
        Some(search) => {
            params.push(Param::Text(contains_pattern(search)));
            let (phone, customers) = search_arms(store.dialect());
            matches_by_id(&phone, &customers)
        }
        None => ALL_CALLS.to_string(),
    };
    let sql = format!(
        "SELECT {}, {} {from} {}",
        select(CALL_SESSIONS, &LIST_COLUMNS, "s"),
        customer_name_of("s"),
        order_by("s", query.sort_by, query.descending)
    );
    let mut columns = kinds(CALL_SESSIONS, &LIST_COLUMNS);
    columns.extend(kinds(CUSTOMERS, &["name"]));
    let rows = store.stream(&sql, &params, &columns).await?;
    let header = csv_record(list_keys().into_iter().map(str::to_string));
    let body = rows
        .map(|row| {
            let mut row = row?;
            as_listed(&mut row);
            Ok::<_, ApiError>(csv_record(row.iter().map(csv_field)))
        })
        .ready_chunks(CSV_ROWS)
        .map(|records| {
            let mut chunk = Vec::new();
            for record in records {
                chunk.extend_from_slice(&record?);
            }
            Ok(bytes::Bytes::from(chunk))
        })
        .inspect(|chunk| {
            if let Err(e) = chunk {
                tracing::error!("calls export ended early: {e}");
            }
        });
    Ok(futures_util::stream::once(async move { Ok(bytes::Bytes::from(header)) }).chain(body))
}

/// One CSV record (with its CRLF) of `fields`, quoted as RFC 4180 asks.
fn csv_record(fields: impl Iterator<Item = String>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; an empty record is what would be sent if it did.
    let _ = writer.write_record(fields);
    writer.into_inner().unwrap_or_default()
}

/// A value as a CSV field: as in the JSON answer, `null` empty, text guarded against
/// being read as a formula.
fn csv_field(value: &Value<'_>) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(text) | Value::Json(text) => {
            if text.starts_with(['=', '@', '\t', '\r']) {
                format!("'{text}")
            } else {
                text.to_string()
            }
        }
        Value::Timestamp(us) => ava_convert::datetime::format_micros(*us),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(x) => serde_json::to_string(x).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: i64) -> CallsPage {
        CallsPage {
            page,
            page_size: 50,
            search: Some("garc".into()),
            sort_by: "started_at",
            descending: true,
        }
    }

    #[test]
    fn a_search_walks_the_index_only_when_its_matches_are_known_to_be_dense() {
        let all = Some(100_000);
        // Nothing counted yet: collect.
        assert!(!walk_is_cheaper(None, None, &page(1)));
        assert!(
            !walk_is_cheaper(Some(5_097), None, &page(1)),
            "all calls unknown"
        );
        assert!(!walk_is_cheaper(None, all, &page(1)), "matches unknown");
        // 5 % of the calls: the first page passes ~1,000 calls, the 37th ~36,000.
        assert!(walk_is_cheaper(Some(5_097), all, &page(1)));
        assert!(!walk_is_cheaper(Some(5_097), all, &page(37)));
        // A rare fragment, or none at all: collect.
        assert!(!walk_is_cheaper(Some(12), all, &page(1)));
        assert!(!walk_is_cheaper(Some(0), all, &page(1)));
    }
}
