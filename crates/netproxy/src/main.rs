//! `ava-netproxy`: the latency proxy ([`ava_netproxy`]) as a command, for the shell
//! benchmark.
//!
//! ```text
//! ava-netproxy --listen 127.0.0.1:0 --upstream 127.0.0.1:5432 --delay-ms 10 [--bandwidth-mbit N]
//! ```
//!
//! Prints the address it listens on, one line on stdout, once it accepts connections;
//! runs until SIGTERM or SIGINT, then prints its counters (`accepted=… bytes_up=…
//! bytes_down=… round_trips=…`) on stderr. Exit codes: 0 after a signal, 1 when it cannot
//! run (a listen address that is not loopback, a taken port), 2 for bad usage. `RUST_LOG`
//! sets the log level (default `warn`; `debug` logs every reset connection).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use ava_netproxy::{Proxy, Shape};
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

/// A loopback TCP proxy that adds a network's one-way delay (and a bandwidth cap) to
/// every connection it forwards.
#[derive(Parser)]
#[command(name = "ava-netproxy", version)]
struct Args {
    /// Where to listen: a loopback address; port 0 picks a free one
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to forward each connection to
    #[arg(long, value_name = "ADDR")]
    upstream: SocketAddr,
    /// One-way delay added to each direction, in milliseconds (a round trip costs twice)
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    delay_ms: u64,
    /// Bandwidth cap per direction and connection, in megabits per second [default: none]
    #[arg(long = "bandwidth-mbit", value_name = "MBIT", value_parser = bytes_per_second)]
    bandwidth: Option<u64>,
}

/// Megabits per second (fractions allowed) as bytes per second.
fn bytes_per_second(mbit: &str) -> Result<u64, String> {
    let mbit: f64 = mbit.parse().map_err(|e| format!("{e}"))?;
    let bytes = mbit * 1_000_000.0 / 8.0;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err("must be a positive number of megabits per second".to_owned());
    }
    Ok(bytes.round() as u64)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ava-netproxy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let shape = Shape {
        delay: Duration::from_millis(args.delay_ms),
        bandwidth: args.bandwidth,
    };
    let proxy = Proxy::start_on(args.listen, args.upstream, shape).map_err(|e| e.to_string())?;
    // The signal handlers are set before the address is printed, so that a script that
    // reads the address and then signals never kills the proxy by the default action.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let handler = |kind| {
        let _in_runtime = runtime.enter();
        signal(kind).map_err(|e| format!("cannot handle signals: {e}"))
    };
    let (mut term, mut int) = (
        handler(SignalKind::terminate())?,
        handler(SignalKind::interrupt())?,
    );
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", proxy.addr())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot print the address: {e}"))?;
    runtime.block_on(async {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    let stats = proxy.stats();
    drop(proxy);
    eprintln!(
        "accepted={} bytes_up={} bytes_down={} round_trips={}",
        stats.accepted, stats.bytes_up, stats.bytes_down, stats.round_trips
    );
    Ok(())
}
