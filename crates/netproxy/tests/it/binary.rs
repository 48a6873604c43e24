//! The `ava-netproxy` command: prints its address, proxies, stops on SIGTERM, exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ava-netproxy");

/// A blocking echo server for one connection, on a thread.
fn echo_once() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0; 1024];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => conn.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    addr
}

#[test]
fn proxies_until_sigterm_and_reports_its_counters() {
    let upstream = echo_once();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.to_string(),
        ])
        .args(["--delay-ms", "10", "--bandwidth-mbit", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{line}");

    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"ping").unwrap(); // the handshake's 30 ms are paid here
    let mut back = [0; 4];
    conn.read_exact(&mut back).unwrap();
    let t = Instant::now();
    conn.write_all(b"pong").unwrap();
    conn.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"pong");
    assert!(
        t.elapsed() >= Duration::from_millis(20),
        "{:?}",
        t.elapsed()
    );

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        stderr.contains("accepted=1 bytes_up=8 bytes_down=8 round_trips=2"),
        "{stderr}"
    );
}

#[test]
fn refuses_a_listen_address_that_is_not_loopback() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--upstream", "127.0.0.1:5432"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["--upstream", "127.0.0.1:5432", "--delay-ms", "soon"][..],
        &["--upstream", "127.0.0.1:5432", "--bandwidth-mbit", "0"],
        &["--delay-ms", "10"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
