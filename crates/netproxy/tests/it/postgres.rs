//! Through the proxy to a real PostgreSQL (the test server of `ava_testpg`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use ava_netproxy::Proxy;
use ava_testpg::TestDb;
use tokio_postgres::NoTls;

use crate::delay;

/// The socket address of the server a `postgresql://` URL names.
fn server_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).expect("the test server's address must be a URL here");
    let host = url.host_str().expect("the test server's URL has no host");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host, url.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
}

async fn connect(
    url: &str,
) -> (
    tokio_postgres::Client,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    (client, tokio::spawn(connection))
}

#[tokio::test]
async fn queries_pay_the_delay_and_a_cut_fails_the_client_and_ends_the_backend() {
    let db = TestDb::new();
    let proxy = Proxy::start(server_of(&db.url), delay(10)).unwrap();
    let url = proxy.url_for(&db.url).unwrap();

    let (client, connection) = connect(&url).await;
    let t = Instant::now();
    let rows = client.simple_query("select 1").await.unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(20),
        "select 1 took {took:?}, under 2 × 10 ms"
    );
    assert!(took < Duration::from_secs(2), "select 1 took {took:?}");
    let one = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0),
        _ => None,
    });
    assert_eq!(one, Some("1"));
    let pid: i32 = client
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(proxy.connections(), 1);
    assert!(proxy.stats().round_trips >= 3, "{:?}", proxy.stats());

    assert_eq!(proxy.cut(), 1);
    client
        .simple_query("select 1")
        .await
        .expect_err("a query on a cut connection succeeded");
    let ended = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .unwrap();
    assert!(ended.unwrap().is_err(), "the cut connection ended cleanly");

    // The server saw the reset too: its backend goes away (a direct connection checks).
    let (direct, _direct_connection) = connect(&db.url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: i64 = direct
            .query_one(
                "select count(*) from pg_stat_activity where pid = $1",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if alive == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "backend {pid} outlived the cut");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // And the proxy still takes new connections.
    let (again, _again_connection) = connect(&url).await;
    let one: i32 = again.query_one("select 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}
