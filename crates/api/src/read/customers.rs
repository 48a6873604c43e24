//! The customers list (`GET /api/admin/customers`): a page of customers in one of three
//! orders — by name, by when they became customers, by their last call — optionally
//! searched by part of the name or phone number, each with how many calls and
//! appointments they have and when they last called, and the exact total.
//!
//! Every order reads an index (`…_customer_list_indexes.sql`); a page's counts are read
//! from the (customer_id, …) indexes for its customers alone. Customers without the
//! sorted value (no `created_at`, no call with a start time) come after all others in
//! both directions, ties by id, as in the call log.

use ava_catalog::Kind;
use ava_catalog::{CALL_SESSIONS, CUSTOMERS};

use super::calls::{contains_pattern, order_by};
use super::list::{sort_order, total_key, total_pages, List};
use crate::json::{all_columns, kinds, select, Answer, Keys, Objects};
use crate::request::{Field, Params, Query, Rule};
use crate::store::{Dialect, Param, Store};
use crate::ApiError;

/// A customers page: the query of `GET /api/admin/customers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomersPage {
    pub page: i64,
    pub page_size: i64,
    pub search: Option<String>,
    pub sort_by: CustomerSort,
    pub descending: bool,
}

/// The orders of the customers list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    /// By name, compared byte by byte (as SQLite compares text, so both stores agree).
    Name,
    /// By `created_at`.
    CreatedAt,
    /// By the start of the customer's latest call.
    LastCall,
}

/// The names of [`CustomerSort`]'s orders, in [`CustomerSort::ALL`]'s order.
pub const CUSTOMER_SORTS: [&str; 3] = ["name", "created_at", "last_call"];

impl CustomerSort {
    pub const ALL: [CustomerSort; 3] = [
        CustomerSort::Name,
        CustomerSort::CreatedAt,
        CustomerSort::LastCall,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CustomerSort::Name => CUSTOMER_SORTS[0],
            CustomerSort::CreatedAt => CUSTOMER_SORTS[1],
            CustomerSort::LastCall => CUSTOMER_SORTS[2],
        }
    }
}

const SORT_BY: Field = Field::optional(
    "sort_by",
    Rule::OneOf(&CUSTOMER_SORTS),
    "The order: by `name` (compared byte by byte), by `created_at`, or by the start of \
     the customer's latest call (`last_call`).",
)
.or(CUSTOMER_SORTS[0]);
const SORT_ORDER: Field = sort_order("The direction.", "asc");

/// `search` of the customers list.
fn search_field() -> Field {
    Field::optional(
        "search",
        Rule::column(CUSTOMERS, "name"),
        "Part of the customer's name or phone number, any case (empty: every customer).",
    )
}

/// The customers list's query fields.
fn list() -> List {
    List {
        rows: "Customers per page.",
        search: search_field(),
        sort_by: SORT_BY,
        sort_order: SORT_ORDER,
    }
}

impl Params for CustomersPage {
    fn fields() -> Vec<Field> {
        list().fields()
    }

    fn from_query(query: &Query) -> CustomersPage {
        let listed = list().read(query);
        CustomersPage {
            page: listed.page,
            page_size: listed.page_size,
            sort_by: CustomerSort::ALL
                .into_iter()
                .find(|s| s.name() == listed.sort_by)
                .unwrap_or(CustomerSort::Name),
            search: listed.search,
            descending: listed.descending,
        }
    }
}

/// Beside a listed customer's columns: how many calls and appointments they have, and
/// the start of their latest call (`null` without one).
pub const CUSTOMER_COUNTS: [&str; 3] = ["calls", "appointments", "last_call_at"];

/// How many calls and appointments the customer `c` has, as columns.
const COUNTS_SQL: &str = "(SELECT count(*) FROM call_sessions k WHERE k.customer_id = c.id) \
     AS calls, (SELECT count(*) FROM appointments a WHERE a.customer_id = c.id) AS appointments";

/// The start of the latest call of the customer `c`, as a column (from the
/// (customer_id, started_at, id) index).
const LAST_CALL_SQL: &str =
    "(SELECT max(m.started_at) FROM call_sessions m WHERE m.customer_id = c.id) AS last_call_at";

/// The statements of a customers page on `d`: the page's, and its total's. The search
/// pattern, if any, is `$1` ([`customers_params`]).
pub fn customers_sql(d: Dialect, page: &CustomersPage) -> (String, String) {
    // Both arms are read from their trigram indexes on Postgres (a bitmap OR).
    let search = page.search.as_ref().map(|_| {
        format!(
            "({} LIKE $1 ESCAPE '\\' OR {} LIKE $1 ESCAPE '\\')",
            d.fold("c.name"),
            d.fold("c.phone")
        )
    });
    let filter = search
        .as_ref()
        .map(|s| format!("WHERE {s}"))
        .unwrap_or_default();
    let (limit, offset) = (page.page_size, (page.page - 1) * page.page_size);
    // LIMIT and OFFSET are written in (integers ava checked): each is planned for its
    // values (see the call log).
    let window = format!("LIMIT {limit} OFFSET {offset}");
    let fields = select(CUSTOMERS, &all_columns(CUSTOMERS), "c");
    let sql = match page.sort_by {
        CustomerSort::Name | CustomerSort::CreatedAt => {
            let order = match page.sort_by {
                CustomerSort::Name => {
                    let (direction, bytewise) = (
                        if page.descending { "DESC" } else { "ASC" },
                        if d == Dialect::Postgres {
                            " COLLATE \"C\""
                        } else {
                            ""
                        },
                    );
                    // NOT NULL: no NULLS clause, so a backwards read serves DESC.
                    format!("ORDER BY c.name{bytewise} {direction}, c.id {direction}")
                }
                _ => order_by("c", "created_at", page.descending),
            };
            // The page's ids from the order's index first, then their rows and counts.
            format!(
                "SELECT {fields}, {COUNTS_SQL}, {LAST_CALL_SQL} FROM customers c WHERE {} {order}",
                d.any_of(
                    "c.id",
                    &format!("SELECT c.id FROM customers c {filter} {order} {window}")
                ),
            )
        }
        CustomerSort::LastCall => last_call_page(
            &fields,
            search.as_deref(),
            page.descending,
            (offset + limit, &window),
        ),
    };
    (sql, format!("SELECT count(*) FROM customers c {filter}"))
}

/// The parameters of [`customers_sql`]'s statements.
pub fn customers_params(page: &CustomersPage) -> Vec<Param> {
    page.search
        .iter()
        .map(|search| Param::Text(contains_pattern(search)))
        .collect()
}

/// `GET /api/admin/customers`.
pub async fn customers(store: &Store, page: &CustomersPage) -> Result<Answer, ApiError> {
    let columns = all_columns(CUSTOMERS);
    let (sql, count_sql) = customers_sql(store.dialect(), page);
    let params = customers_params(page);
    let mut row_kinds = kinds(CUSTOMERS, &columns);
    row_kinds.extend([Kind::Int, Kind::Int]);
    row_kinds.extend(kinds(CALL_SESSIONS, &["started_at"]));
    // The page, and beside it the total: counted only when the store has changed since
    // it was last counted (`Store::count`); one entry serves every page and order.
    let (rows, total) = futures_util::future::try_join(
        store.rows(&sql, &params, &row_kinds),
        store.count(&total_key(&count_sql, &params), &count_sql, &params),
    )
    .await?;
    let mut keys = columns;
    keys.extend(CUSTOMER_COUNTS);
    #[derive(serde::Serialize)]
    struct CustomersAnswer<'a> {
        customers: Objects<'a>,
        page: i64,
        page_size: i64,
        total: i64,
        total_pages: i64,
    }
    Answer::write(&CustomersAnswer {
        customers: Objects {
            keys: &Keys::new(&keys),
            rows: &rows,
        },
        page: page.page,
        page_size: page.page_size,
        total,
        total_pages: total_pages(total, page.page_size),
    })
}

/// A page by last call. The customers with a dated call are found by walking the
/// calls in start order (the `started_at` index) and keeping each customer's latest
/// (no later call of theirs in the (customer_id, started_at, id) index): a page costs
/// about as many probes as the calls it passes, not a count per customer. The others
/// follow, by id (each tested in the same index). Each arm reads at most as far as the
/// page reaches; the page is then cut from both.
fn last_call_page(
    fields: &str,
    search: Option<&str>,
    descending: bool,
    (reach, window): (i64, &str),
) -> String {
    let direction = if descending { "DESC" } else { "ASC" };
    // `IN`, not `Dialect::any_of`: the walk tests each call it passes, and Postgres
    // tests `IN` against a hashed set, an `= ANY(ARRAY(…))` by scanning the array (at
    // 100,000 calls a search matching every customer's phone: 2.8 ms against 14.9 ms).
    let among = search
        .map(|s| format!("AND l.customer_id IN (SELECT c.id FROM customers c WHERE {s})"))
        .unwrap_or_default();
    let latest = format!(
        "SELECT l.customer_id AS cid, l.started_at AS last, l.id AS call_id \
         FROM call_sessions l WHERE l.started_at IS NOT NULL AND l.customer_id IS NOT NULL \
         {among} AND NOT EXISTS (SELECT 1 FROM call_sessions n WHERE \
         n.customer_id = l.customer_id AND (n.started_at > l.started_at OR \
         (n.started_at = l.started_at AND n.id > l.id))) \
         ORDER BY l.started_at {direction}, l.id {direction} LIMIT {reach}"
    );
    let undated = format!(
        "SELECT c.id AS cid, CAST(NULL AS TIMESTAMP) AS last, CAST(NULL AS INTEGER) AS call_id \
         FROM customers c WHERE NOT EXISTS (SELECT 1 FROM call_sessions n WHERE \
         n.customer_id = c.id AND n.started_at IS NOT NULL) {} ORDER BY c.id {direction} \
         LIMIT {reach}",
        search.map(|s| format!("AND {s}")).unwrap_or_default()
    );
    let order = |alias: &str| {
        format!(
            "ORDER BY {alias}.grp, {alias}.last {direction}, {alias}.call_id {direction}, \
             {alias}.cid {direction}"
        )
    };
    format!(
        "SELECT {fields}, {COUNTS_SQL}, p.last AS last_call_at FROM (SELECT w.* FROM \
         (SELECT 0 AS grp, x.* FROM ({latest}) x UNION ALL SELECT 1 AS grp, y.* FROM \
         ({undated}) y) w {} {window}) p JOIN customers c ON c.id = p.cid {}",
        order("w"),
        order("p")
    )
}
