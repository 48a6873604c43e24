use ava_testpg::{admin_url, Cluster, TestDb};

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"));
    tokio::spawn(connection);
    client
}

async fn database_exists(name: &str) -> bool {
    connect(admin_url())
        .await
        .query_one(
            "select exists (select 1 from pg_database where datname = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_databases_are_distinct_and_dropping_removes_one() {
    let a = TestDb::new();
    let b = TestDb::new();
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);

    let (ca, cb) = (a.client().await, b.client().await);
    for (db, client) in [(&a, &ca), (&b, &cb)] {
        let current: String = client
            .query_one("select current_database()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(current, db.name);
    }
    ca.batch_execute("create table only_in_a (x int)")
        .await
        .unwrap();
    let in_b: Option<String> = cb
        .query_one("select to_regclass('only_in_a')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        in_b, None,
        "a table made in one test database shows in another"
    );

    let name = a.name.clone();
    assert!(database_exists(&name).await);
    // Still connected: WITH (FORCE) cuts the connection.
    drop(a);
    assert!(!database_exists(&name).await, "{name} survived its TestDb");
    assert!(database_exists(&b.name).await);
}

#[tokio::test]
async fn works_on_a_current_thread_runtime() {
    let db = TestDb::new();
    let one: i32 = db
        .client()
        .await
        .query_one("select 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(one, 1);
}

#[test]
fn works_outside_a_runtime() {
    let db = TestDb::new();
    let name = db.name.clone();
    drop(db);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(!runtime.block_on(database_exists(&name)));
}

/// The fallback path of server discovery, forced: a cluster from the machine's binaries
/// (as the `postgres` OS user when the tests run as root).
#[tokio::test]
async fn throwaway_cluster_answers_and_is_removed() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = cluster.dir().to_path_buf();
    assert!(dir.starts_with("/tmp"), "{}", dir.display());
    assert!(dir.join("data").join("PG_VERSION").is_file());

    let client = connect(cluster.url()).await;
    let one: i32 = client.query_one("select 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    for sql in ["create database scratch", "drop database scratch"] {
        client.batch_execute(sql).await.unwrap();
    }

    drop(client);
    drop(cluster);
    assert!(!dir.exists(), "{} survived its Cluster", dir.display());
}
