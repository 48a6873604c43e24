//! The relay against an echo server: delay, pipelining, integrity, half-close, cut,
//! pause, reshaping, bandwidth, stats.

use std::time::{Duration, Instant};

use ava_netproxy::{Proxy, ProxyError, Shape};
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::{delay, echo_server, exchange};

const MS: Duration = Duration::from_millis(1);
/// Loose upper bound on anything that should be quick: catches hangs, not slowness.
const HANG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_round_trip_costs_twice_the_delay_and_a_new_connection_one_more() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(20)).unwrap();

    // The first exchange pays the emulated handshake: 3 × 20 ms to the server, 20 back.
    let t = Instant::now();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut conn, b"hello").await;
    let first = t.elapsed();
    assert!(
        first >= 80 * MS,
        "first exchange took {first:?}, under 4 × 20 ms"
    );

    for _ in 0..3 {
        let t = Instant::now();
        exchange(&mut conn, b"ping").await;
        let rtt = t.elapsed();
        assert!(rtt >= 40 * MS, "round trip took {rtt:?}, under 2 × 20 ms");
        assert!(rtt < Duration::from_secs(2), "round trip took {rtt:?}");
    }
}

#[tokio::test]
async fn pipelined_messages_share_one_delay() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(50)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut conn, b"warm up").await;

    let t = Instant::now();
    for i in 0..20u8 {
        conn.write_all(&[i; 100]).await.unwrap();
    }
    let mut back = vec![0; 2000];
    conn.read_exact(&mut back).await.unwrap();
    let took = t.elapsed();
    for (i, message) in back.chunks(100).enumerate() {
        assert!(message.iter().all(|&b| usize::from(b) == i), "out of order");
    }
    assert!(
        took >= 100 * MS,
        "20 messages came back in {took:?}, under 2 × 50 ms"
    );
    // Serial per-chunk sleeps would take 20 × 2 × 50 ms = 2 s.
    assert!(
        took < 500 * MS,
        "20 pipelined messages took {took:?}: delays add up"
    );
}

#[tokio::test]
async fn bytes_arrive_intact_and_in_order_both_ways() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(5)).unwrap();
    let mut data = vec![0u8; 8 * 1024 * 1024];
    rand::rng().fill(&mut data[..]);

    let conn = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut r, mut w) = conn.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        // Uneven writes, so that chunk boundaries fall anywhere.
        for piece in sent.chunks(12_345) {
            w.write_all(piece).await.unwrap();
        }
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    timeout(Duration::from_secs(60), r.read_to_end(&mut back))
        .await
        .expect("8 MiB echo hung")
        .unwrap();
    writer.await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the echoed bytes differ");
    let stats = proxy.stats();
    assert_eq!((stats.bytes_up, stats.bytes_down), (8 << 20, 8 << 20));
}

#[tokio::test]
async fn half_close_goes_through_after_the_data() {
    let (upstream, mut ended) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(20)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut conn, b"warm up").await;

    let t = Instant::now();
    conn.write_all(b"last words").await.unwrap();
    conn.shutdown().await.unwrap();
    // The echo server ends its side only after our FIN reached it.
    let mut back = Vec::new();
    timeout(HANG, conn.read_to_end(&mut back))
        .await
        .expect("the FIN never went through")
        .unwrap();
    assert_eq!(back, b"last words");
    assert!(t.elapsed() >= 40 * MS);
    let end = timeout(HANG, ended.recv()).await.unwrap().unwrap();
    assert_eq!(
        end.unwrap(),
        17,
        "the server saw a clean FIN after all the data"
    );
    // Both FINs through: the connection is gone.
    for _ in 0..100 {
        if proxy.connections() == 0 {
            return;
        }
        tokio::time::sleep(10 * MS).await;
    }
    panic!("a connection closed both ways is still open");
}

#[tokio::test]
async fn cut_resets_both_sides_and_new_connections_work() {
    let (upstream, mut ended) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(5)).unwrap();
    let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut a, b"a").await;
    exchange(&mut b, b"b").await;
    assert_eq!(proxy.connections(), 2);

    assert_eq!(proxy.cut(), 2);
    assert_eq!(proxy.connections(), 0);
    for conn in [&mut a, &mut b] {
        let mut buf = [0; 16];
        match timeout(HANG, conn.read(&mut buf))
            .await
            .expect("read hung after cut")
        {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("read {n} bytes from a cut connection"),
        }
    }
    for _ in 0..2 {
        let end = timeout(HANG, ended.recv()).await.unwrap().unwrap();
        let e = end.expect_err("the server side ended cleanly, not cut");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }

    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut c, b"still here").await;
    assert_eq!(proxy.stats().accepted, 3);
}

#[tokio::test]
async fn pause_holds_data_and_resume_delivers_it() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut conn, b"warm up").await;

    proxy.pause();
    conn.write_all(b"anyone?").await.unwrap();
    let mut back = [0; 7];
    let held = timeout(300 * MS, conn.read_exact(&mut back)).await;
    assert!(held.is_err(), "data went through a paused proxy");
    assert_eq!(proxy.connections(), 1, "pausing closed the connection");

    proxy.resume();
    timeout(HANG, conn.read_exact(&mut back))
        .await
        .expect("nothing after resume")
        .unwrap();
    assert_eq!(&back, b"anyone?");
}

#[tokio::test]
async fn a_fast_sender_is_held_back_not_buffered() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    let conn = TcpStream::connect(proxy.addr()).await.unwrap();
    let (_r, mut w) = conn.into_split();
    proxy.pause();
    let block = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    // Loopback takes gigabytes a second: without backpressure this would not stop.
    let _ = timeout(Duration::from_secs(1), async {
        loop {
            w.write_all(&block).await.unwrap();
            sent += block.len();
        }
    })
    .await;
    // The proxy's queue (8 MiB) plus the kernel's socket buffers.
    assert!(
        sent < 64 << 20,
        "{} MiB went into a paused proxy",
        sent >> 20
    );
}

#[tokio::test]
async fn set_shape_applies_to_new_data() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    exchange(&mut conn, b"warm up").await;

    proxy.set_shape(delay(100)).unwrap();
    let t = Instant::now();
    exchange(&mut conn, b"slow now").await;
    assert!(t.elapsed() >= 200 * MS, "took {:?}", t.elapsed());

    let zero = Shape {
        delay: Duration::ZERO,
        bandwidth: Some(0),
    };
    assert!(matches!(proxy.set_shape(zero), Err(ProxyError::Shape(_))));
}

#[tokio::test]
async fn bandwidth_cap_slows_a_transfer() {
    let (upstream, _) = echo_server().await;
    // 4 Mbit/s = 500 000 bytes per second.
    let shape = Shape {
        delay: Duration::ZERO,
        bandwidth: Some(500_000),
    };
    let proxy = Proxy::start(upstream, shape).unwrap();
    let data = vec![7u8; 1 << 20];

    let t = Instant::now();
    let conn = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut r, mut w) = conn.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    timeout(Duration::from_secs(30), r.read_to_end(&mut back))
        .await
        .expect("capped transfer hung")
        .unwrap();
    writer.await.unwrap();
    let took = t.elapsed();
    assert!(back == data);
    // 1 MiB at 500 kB/s is 2.1 s each way (pipelined, so about that in all).
    assert!(
        took >= Duration::from_millis(1500),
        "1 MiB at 4 Mbit/s took {took:?}"
    );
}

#[tokio::test]
async fn stats_count_bytes_connections_and_round_trips() {
    let (upstream, _) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(1)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    for _ in 0..5 {
        exchange(&mut conn, b"12345").await;
    }
    let stats = proxy.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!((stats.bytes_up, stats.bytes_down), (25, 25));
    assert_eq!(stats.round_trips, 5);
}

#[tokio::test]
async fn dropping_the_proxy_closes_its_connections() {
    let (upstream, mut ended) = echo_server().await;
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    let addr = proxy.addr();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    exchange(&mut conn, b"hi").await;

    drop(proxy);
    let mut buf = [0; 4];
    let read = timeout(HANG, conn.read(&mut buf)).await.expect("read hung");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(timeout(HANG, ended.recv()).await.unwrap().is_some());
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn an_unreachable_upstream_resets_the_client() {
    // A port just freed: nothing listens there.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut buf = [0; 4];
    let read = timeout(HANG, conn.read(&mut buf)).await.expect("read hung");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[test]
fn listens_on_loopback_only() {
    let upstream = "127.0.0.1:5432".parse().unwrap();
    for listen in ["0.0.0.0:0", "192.0.2.1:0", "[::]:0"] {
        let listen = listen.parse().unwrap();
        let err = Proxy::start_on(listen, upstream, delay(0)).unwrap_err();
        assert!(
            matches!(err, ProxyError::NotLoopback(a) if a == listen),
            "{err}"
        );
        assert!(err.to_string().contains("loopback"));
    }
    let proxy = Proxy::start(upstream, delay(0)).unwrap();
    assert!(proxy.addr().ip().is_loopback());
}

#[test]
fn url_for_points_the_url_at_the_proxy() {
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap(), delay(0)).unwrap();
    let port = proxy.addr().port();
    assert_eq!(
        proxy
            .url_for("postgresql://ava:s%40cret@db.example.com:6543/analytics?sslmode=disable")
            .unwrap(),
        format!("postgresql://ava:s%40cret@127.0.0.1:{port}/analytics?sslmode=disable")
    );
    assert_eq!(
        proxy.url_for("postgres://localhost/db").unwrap(),
        format!("postgres://127.0.0.1:{port}/db")
    );
    for bad in [
        "mysql://localhost/db",
        "not a url",
        "postgresql://localhost/db?host=/var/run/postgresql",
        "postgresql://u:hunter2@localhost/db?port=5433",
    ] {
        let err = proxy.url_for(bad).unwrap_err();
        assert!(matches!(err, ProxyError::Url(_)), "{bad}: {err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
