//! The proxy's tests, as one test binary: real loopback sockets throughout (an echo
//! server, the local PostgreSQL, the binary), no mocks.
//!
//! Timing checks assert lower bounds (the delay really is applied) tightly and upper
//! bounds only loosely, to catch hangs and serial delays: this machine is shared and slow
//! at times, and a test of speed would be flaky.

mod binary;
mod postgres;
mod relay;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A shape of `ms` milliseconds one way, no bandwidth cap.
pub fn delay(ms: u64) -> ava_netproxy::Shape {
    ava_netproxy::Shape {
        delay: Duration::from_millis(ms),
        bandwidth: None,
    }
}

/// An echo server on loopback: each connection gets back what it sends, and after the
/// client's FIN the server ends its side too. How each connection ended is reported:
/// `Ok(bytes echoed)` after the FIN, or the error (a reset, say).
pub async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<io::Result<u64>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ends, ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let ends = ends.clone();
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let end = match tokio::io::copy(&mut r, &mut w).await {
                    Ok(n) => w.shutdown().await.map(|()| n),
                    Err(e) => Err(e),
                };
                let _ = ends.send(end);
            });
        }
    });
    (addr, ended)
}

/// Sends `msg` and reads its echo back.
pub async fn exchange(conn: &mut TcpStream, msg: &[u8]) {
    conn.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    conn.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
}
