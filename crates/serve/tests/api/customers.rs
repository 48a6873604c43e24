//! The customers list (`GET /api/admin/customers`) on both stores, against Postgres' own
//! grouping and ordering of the same rows as the oracle.

use ava_api::read::{customers_sql, CustomerSort, CustomersPage};
use ava_api::store::Dialect;
use serde_json::{json, Value};

use crate::support::*;

/// Every page of the list for `query` (page size 7), on both servers: the same bytes
/// from each, consistent totals; the customers in order.
async fn every_page(servers: &[Server; 2], query: &[(&str, &str)]) -> (Vec<Value>, i64) {
    let mut customers = Vec::new();
    let mut page = 1;
    loop {
        let page_text = page.to_string();
        let mut asked = query.to_vec();
        asked.extend([("page_size", "7"), ("page", &page_text)]);
        let body = same(servers, "/api/admin/customers", &asked).await;
        let rows = body["customers"].as_array().unwrap();
        let total = body["total"].as_i64().unwrap();
        assert_eq!(body["total_pages"], json!((total + 6) / 7), "{query:?}");
        if rows.is_empty() {
            assert_eq!(page, body["total_pages"].as_i64().unwrap() + 1, "{query:?}");
            return (customers, total);
        }
        assert!(rows.len() <= 7);
        customers.extend(rows.iter().cloned());
        page += 1;
    }
}

/// Postgres' answer for each customer `sql` selects (its ids, in order): the customer's
/// counts and latest call as the list must send them.
async fn oracle(stores: &Stores, sql: &str) -> Vec<Value> {
    let client = stores.pg.client().await;
    let rows = client
        .query(
            &format!(
                "WITH chosen AS (SELECT id, row_number() OVER () AS n FROM ({sql}) q) \
                 SELECT c.id, (SELECT count(*) FROM call_sessions s WHERE s.customer_id = c.id), \
                 (SELECT count(*) FROM appointments a WHERE a.customer_id = c.id), \
                 (SELECT to_char(max(s.started_at), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
                  FROM call_sessions s WHERE s.customer_id = c.id) \
                 FROM chosen JOIN customers c ON c.id = chosen.id ORDER BY chosen.n"
            ),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| {
            json!({
                "id": row.get::<_, i64>(0),
                "calls": row.get::<_, i64>(1),
                "appointments": row.get::<_, i64>(2),
                "last_call_at": row.get::<_, Option<String>>(3),
            })
        })
        .collect()
}

/// What the list sends of each customer that the oracle computes.
fn summaries(customers: &[Value]) -> Vec<Value> {
    customers
        .iter()
        .map(|c| {
            json!({
                "id": c["id"],
                "calls": c["calls"],
                "appointments": c["appointments"],
                "last_call_at": c["last_call_at"],
            })
        })
        .collect()
}

/// Postgres' ordering of the customers `filter` keeps, for each order and direction.
fn ordered(sort_by: &str, descending: bool, filter: &str) -> String {
    let d = if descending { "DESC" } else { "ASC" };
    match sort_by {
        "name" => {
            format!("SELECT id FROM customers c {filter} ORDER BY name COLLATE \"C\" {d}, id {d}")
        }
        "created_at" => {
            format!(
                "SELECT id FROM customers c {filter} ORDER BY created_at {d} NULLS LAST, id {d}"
            )
        }
        // By the latest dated call (its start, then its id); customers without one last,
        // by id.
        _ => format!(
            "SELECT c.id FROM customers c LEFT JOIN LATERAL (SELECT s.started_at, s.id \
             FROM call_sessions s WHERE s.customer_id = c.id AND s.started_at IS NOT NULL \
             ORDER BY s.started_at DESC, s.id DESC LIMIT 1) l ON true {filter} \
             ORDER BY l.started_at {d} NULLS LAST, l.id {d} NULLS LAST, c.id {d}"
        ),
    }
}

#[tokio::test]
async fn customers_list_pages_sorts_and_searches_as_postgres_orders_them() {
    let stores = Stores::seeded(400, 21).await;
    let servers = servers(&stores).await;
    // The seed holds what the orders must place: customers without created_at, without
    // any call, and with calls that all lack a start time.
    for (what, sql) in [
        (
            "no created_at",
            "SELECT id FROM customers WHERE created_at IS NULL",
        ),
        (
            "no call",
            "SELECT id FROM customers c WHERE NOT EXISTS \
             (SELECT 1 FROM call_sessions s WHERE s.customer_id = c.id)",
        ),
    ] {
        assert!(
            !pg_ids(&stores, sql).await.is_empty(),
            "the seed has no customer with {what}"
        );
    }
    let phone = pg_texts(
        &stores,
        "SELECT phone FROM customers ORDER BY id DESC LIMIT 1",
    )
    .await;
    let digits = &phone[0][phone[0].len() - 5..];
    let searches = [
        (None, String::new()),
        (
            Some("GARC"),
            "WHERE lower(c.name COLLATE \"und-x-icu\") LIKE '%garc%'".to_string(),
        ),
        (
            Some(digits),
            format!("WHERE c.phone LIKE '%{digits}%' OR c.name LIKE '%{digits}%'"),
        ),
    ];
    for (search, filter) in &searches {
        for sort_by in ["name", "created_at", "last_call"] {
            for descending in [false, true] {
                let mut query = vec![
                    ("sort_by", sort_by),
                    ("sort_order", if descending { "desc" } else { "asc" }),
                ];
                query.extend(search.map(|s| ("search", s)));
                let (got, total) = every_page(&servers, &query).await;
                let expected = oracle(&stores, &ordered(sort_by, descending, filter)).await;
                assert_eq!(total as usize, expected.len(), "{query:?}");
                assert_eq!(summaries(&got), expected, "{query:?}");
                if search.is_some() {
                    assert!(!got.is_empty(), "{query:?}: the search found nobody");
                }
            }
        }
    }
    // Each customer is sent with every column, as `GET /api/customers/{id}` sends it.
    let (got, _) = every_page(&servers, &[("search", "garc")]).await;
    for customer in got.iter().take(5) {
        let id = customer["id"].as_i64().unwrap();
        let one = same(&servers, &format!("/api/customers/{id}"), &[]).await;
        for (key, value) in one.as_object().unwrap() {
            assert_eq!(&customer[key], value, "customer {id}: {key}");
        }
    }
}

#[tokio::test]
async fn customers_list_refuses_what_it_does_not_take() {
    let stores = Stores::seeded(50, 22).await;
    let servers = servers(&stores).await;
    for (query, field) in [
        ("sort_by=phone", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("page=0", "page"),
        ("page_size=101", "page_size"),
        ("interval=day", "interval"),
    ] {
        for server in &servers {
            let reply = server.get(&format!("/api/admin/customers?{query}")).await;
            assert_eq!(reply.status, 422, "{query}: {}", reply.text);
            assert!(reply.text.contains(field), "{query}: {}", reply.text);
        }
    }
}

/// On Postgres each order's page is read from its index, in order: the route's own
/// statements, planned as if the tables were large (at this size scans, hashes and
/// sorts are cheaper, so they are priced out): an order no index serves would show a
/// sort of all the rows the page is cut from.
#[tokio::test]
async fn each_customer_order_reads_its_index() {
    let stores = Stores::seeded(50, 23).await;
    let client = stores.pg.client().await;
    client
        .batch_execute(
            "SET enable_seqscan = off; SET enable_bitmapscan = off; \
             SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_sort = off",
        )
        .await
        .unwrap();
    for (sort_by, indexes) in [
        (CustomerSort::Name, ["ix_customers_name_id"; 2]),
        (
            CustomerSort::CreatedAt,
            [
                "ix_customers_created_at_id",
                "ix_customers_created_at_desc_id",
            ],
        ),
        (
            CustomerSort::LastCall,
            ["ix_call_sessions_started_at_id"; 2],
        ),
    ] {
        for (descending, index) in [false, true].into_iter().zip(indexes) {
            let page = CustomersPage {
                page: 2,
                page_size: 10,
                search: None,
                sort_by,
                descending,
            };
            let (sql, _) = customers_sql(Dialect::Postgres, &page);
            let plan = plan(&client, &sql).await;
            assert!(
                plan.contains(&format!(" using {index} ")),
                "{page:?}: {index} not used\n{plan}"
            );
            // The page's rows are sorted again at most (keys on `c`, `x`, `p`); a sort
            // of the rows the page is cut from (keys on the inner `c_1`, `l`) is not.
            let inner = plan
                .lines()
                .filter(|l| l.contains("Sort Key: c_1.") || l.contains("Sort Key: l."))
                .count();
            assert_eq!(inner, 0, "{page:?}: {plan}");
            if sort_by == CustomerSort::LastCall {
                // Each call tested for being its customer's latest in the
                // (customer_id, started_at, id) index, the undated customers likewise.
                assert!(
                    plan.matches("ix_call_sessions_customer_id_started_at_id")
                        .count()
                        >= 2,
                    "{page:?}: {plan}"
                );
            }
        }
    }
}
