//! The test harness: seeded stores and a server on a loopback port.

use std::path::PathBuf;

use ava_api::store::{PgStore, SqliteStore};
use ava_api::Store;
use ava_serve::{AppState, Tokens};
use ava_testpg::TestDb;
use chrono::NaiveDate;
use serde_json::Value;

/// The last day with calls in the seeded files. "Today" for the API is the real today,
/// so periods relative to now see the seeded days only when this is today; tests that
/// compare the stores do not depend on it.
pub fn end() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The same seeded rows in both stores.
pub struct Stores {
    pub dir: tempfile::TempDir,
    pub sqlite: PathBuf,
    pub pg: TestDb,
}

struct Quiet;

impl ava_migrate::Progress for Quiet {
    fn phase(&self, _: &str) {}
    fn table_started(&self, _: &'static str, _: u64) {}
    fn rows_copied(&self, _: &'static str, _: u64) {}
    fn table_finished(&self, _: &'static str) {}
}

impl Stores {
    /// `calls` seeded calls (seed `seed`, ending today) in a SQLite file, migrated into a
    /// fresh Postgres database.
    pub async fn seeded(calls: u64, seed: u64) -> Stores {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("ava_database.db");
        ava_seed::seed(
            &sqlite,
            &ava_seed::SeedOptions {
                calls,
                seed,
                end: end(),
            },
        )
        .unwrap();
        let pg = TestDb::new();
        Self::load(&pg, &sqlite).await;
        Stores { dir, sqlite, pg }
    }

    /// Empty stores: a new SQLite file (`ava serve` creates it) and a database with the
    /// schema pushed.
    pub async fn empty() -> Stores {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = dir.path().join("ava_database.db");
        let pg = TestDb::new();
        let mut client = pg.client().await;
        ava_migrations::push(&mut client, false).await.unwrap();
        Stores { dir, sqlite, pg }
    }

    async fn load(pg: &TestDb, sqlite: &std::path::Path) {
        let mut client = pg.client().await;
        ava_migrations::push(&mut client, false).await.unwrap();
        let mut target = ava_sink::connect(&pg.url).await.unwrap();
        let opts = ava_migrate::Options {
            sqlite: sqlite.to_path_buf(),
            batch_size: ava_migrate::DEFAULT_BATCH_SIZE,
            dry_run: false,
            force: false,
            resume: false,
            rejects: None,
            settle: Default::default(),
        };
        ava_migrate::migrate(&mut target, &opts, &Quiet)
            .await
            .unwrap();
    }

    pub fn sqlite_store(&self) -> Store {
        Store::Sqlite(SqliteStore::open(&self.sqlite, 4).unwrap())
    }

    pub fn pg_store(&self) -> Store {
        Store::Postgres(PgStore::new(&self.pg.url, 8, "ava serve tests").unwrap())
    }

    /// Both, Postgres first.
    pub fn both(&self) -> [Store; 2] {
        [self.pg_store(), self.sqlite_store()]
    }
}

/// A server on a free loopback port, stopped when dropped.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Server {
    pub async fn start(store: Store, tokens: Tokens) -> Server {
        Server::start_with(AppState::new(store, tokens)).await
    }

    pub async fn start_with(state: AppState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(ava_serve::run(listener, state, std::future::pending()));
        Server {
            base,
            http: reqwest::Client::new(),
            task,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn get_with(&self, path: &str, token: &str) -> Reply {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }
}

/// The flags of `ava serve` that make its state (empty values are left out, as there).
#[derive(Debug, Clone, Default)]
pub struct ServeFlags {
    pub admin_token: Option<String>,
    pub ingest_token: Option<String>,
    pub jwt_secret: Option<String>,
    pub jwks: Option<String>,
    pub supabase_url: Option<String>,
    pub supabase_anon_key: Option<String>,
}

/// The [`AppState`] `ava serve` builds from `flags` on `store` (as `crates/cli/src/serve.rs`
/// does: the JWT verifier from `--jwt-secret`/`--jwks`, the tokens, the Supabase project
/// `/config.json` names).
pub async fn served_state(store: Store, flags: ServeFlags) -> AppState {
    let jwt = ava_serve::jwt::Verifier::new(flags.jwt_secret.as_deref(), flags.jwks.as_deref())
        .await
        .unwrap()
        .map(std::sync::Arc::new);
    let tokens = Tokens {
        admin: flags.admin_token.filter(|t| !t.is_empty()),
        ingest: flags.ingest_token.filter(|t| !t.is_empty()),
        jwt,
        ..Tokens::default()
    };
    let mut state = AppState::new(store, tokens);
    state.supabase = std::sync::Arc::new(ava_serve::Supabase {
        supabase_url: flags.supabase_url.filter(|u| !u.is_empty()),
        supabase_anon_key: flags.supabase_anon_key.filter(|k| !k.is_empty()),
    });
    state
}

/// A server on each store, Postgres first.
pub async fn servers(stores: &Stores) -> [Server; 2] {
    let [pg, lite] = stores.both();
    [
        Server::start(pg, Tokens::open()).await,
        Server::start(lite, Tokens::open()).await,
    ]
}

/// `GET path?query` (the query encoded as a browser would).
pub async fn get(server: &Server, path: &str, query: &[(&str, &str)]) -> Reply {
    let url = reqwest::Url::parse_with_params(&format!("{}{path}", server.base), query).unwrap();
    server.send(server.http.get(url)).await
}

/// Asks both servers; asserts a 200 from Postgres and the same bytes from both; the body.
pub async fn same(servers: &[Server; 2], path: &str, query: &[(&str, &str)]) -> Value {
    let (pg, lite) = (
        get(&servers[0], path, query).await,
        get(&servers[1], path, query).await,
    );
    assert_eq!(pg.status, 200, "{path} {query:?}: {}", pg.text);
    assert_eq!(pg.text, lite.text, "{path} {query:?}: the stores differ");
    pg.body
}

/// The text of the first column of each row of `sql` on the Postgres copy.
pub async fn pg_texts(stores: &Stores, sql: &str) -> Vec<String> {
    pg_column(stores, sql).await
}

/// The integer in the first column of each row of `sql` on the Postgres copy.
pub async fn pg_ids(stores: &Stores, sql: &str) -> Vec<i64> {
    pg_column(stores, sql).await
}

async fn pg_column<T: tokio_postgres::types::FromSqlOwned>(stores: &Stores, sql: &str) -> Vec<T> {
    stores
        .pg
        .client()
        .await
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Postgres' plan of `sql` on `client` (with that session's settings), one line per node.
pub async fn plan(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .query(&format!("EXPLAIN {sql}"), &[])
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}
