//! A loopback TCP proxy that stands for the network between ava and Supabase.
//!
//! Supabase is always 10–100 ms away, and this machine's kernel has no netem, so the
//! benchmark (`bench/`, through the `ava-netproxy` binary) and the integration tests
//! (through [`Proxy`]) put this proxy between `ava` and a local PostgreSQL to get real
//! latency, a bandwidth cap, cuts and stalls over real sockets.
//!
//! ```no_run
//! # fn example(db_url: &str) -> Result<(), ava_netproxy::ProxyError> {
//! use std::time::Duration;
//! use ava_netproxy::{Proxy, Shape};
//!
//! let shape = Shape { delay: Duration::from_millis(20), bandwidth: None };
//! let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap(), shape)?;
//! let url = proxy.url_for(db_url)?; // connect here: every round trip now costs 40 ms
//! // ...
//! proxy.cut(); // every open connection is reset, as by a dropped network
//! # Ok(()) }
//! ```
//!
//! # The model
//!
//! Each direction of each connection is a pipe: a reader task stamps every chunk it reads
//! with the time it is due at the other end (read time + [`Shape::delay`], after the
//! chunks before it have gone through the bandwidth cap, if any), and a writer writes the
//! chunks in order, each once its time has come. So a delay delays; it does not divide
//! throughput the way sleeping before each write would. The FIN of a half-close travels
//! the same pipe, behind the data. TCP's handshake has no chunk to delay (the client's
//! `connect` returns at once, from the kernel), so it is paid at the other end: the
//! connection to the upstream is opened 3 × delay after the accept, when the server would
//! see the handshake done on a real network, and what the client sends meanwhile waits.
//! A new connection thus costs its round trip as it would over the real network.
//!
//! A reset or an error on either side resets both (`SO_LINGER` 0, so the peers see a
//! reset, not a clean end), as [`Proxy::cut`] does to every connection at once.
//!
//! The proxy runs on a thread and runtime of its own, so it works the same from `#[test]`
//! and `#[tokio::test]`, and a test that blocks its own runtime does not stall the
//! network too.
//!
//! # Why hand-written
//!
//! Toxiproxy is a separate server driven over HTTP; noxious, its Rust port, is built the
//! same way and has not been released since 2021. No maintained crate is an in-process
//! delaying proxy with cuts, and the relay itself is a few hundred lines.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};

/// The most one read takes from a socket: the size of a chunk at most.
const CHUNK: usize = 16 * 1024;
/// Chunks queued per direction of a connection, so at most `QUEUE × CHUNK` (8 MiB) in
/// flight: once the queue is full the reader stops reading, and TCP's own flow control
/// holds a fast sender back.
const QUEUE: usize = 512;
/// A delay longer than this is no network: refused, so that time arithmetic cannot
/// overflow.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// How long [`Proxy::cut`] waits for the connections it cut to be gone.
const CUT_WAIT: Duration = Duration::from_secs(5);

/// What the network does to the data, in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// One-way delay, applied to each direction: a round trip costs twice this.
    pub delay: Duration,
    /// Bandwidth cap in bytes per second, per direction and per connection; `None` for
    /// none.
    pub bandwidth: Option<u64>,
}

impl Shape {
    fn check(self) -> Result<Shape, ProxyError> {
        if self.delay > MAX_DELAY {
            return Err(ProxyError::Shape("the delay must be at most an hour"));
        }
        if self.bandwidth == Some(0) {
            return Err(ProxyError::Shape(
                "the bandwidth must be at least 1 byte per second (pause() stops traffic)",
            ));
        }
        Ok(self)
    }
}

/// Counters since the proxy started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Bytes forwarded from clients to the upstream.
    pub bytes_up: u64,
    /// Bytes forwarded from the upstream to clients.
    pub bytes_down: u64,
    /// Turns: how often, on one connection, data went down to the client after data had
    /// gone up since the last turn. A request and its answer count one, a pipelined batch
    /// of requests and their answers too: the round trips that latency is paid on.
    pub round_trips: u64,
}

/// Why the proxy could not start, or could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0} is not a loopback address: the proxy listens on loopback only")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {cause}")]
    Listen {
        addr: SocketAddr,
        #[source]
        cause: io::Error,
    },
    #[error("cannot start the proxy's thread: {0}")]
    Thread(#[source] io::Error),
    #[error("bad shape: {0}")]
    Shape(&'static str),
    /// The message never repeats the URL: it may hold a password.
    #[error("cannot point the URL at the proxy: {0}")]
    Url(String),
}

/// A running proxy: listens on a loopback port and forwards every connection to the
/// upstream, shaped. Dropping it stops it and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy").field("addr", &self.addr).finish()
    }
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1` and a free port, forwarding to `upstream`.
    pub fn start(upstream: SocketAddr, shape: Shape) -> Result<Proxy, ProxyError> {
        Proxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream, shape)
    }

    /// Starts a proxy listening on `listen`, which must be a loopback address (port 0
    /// picks a free one), forwarding to `upstream`.
    pub fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        shape: Shape,
    ) -> Result<Proxy, ProxyError> {
        if !listen.ip().is_loopback() {
            return Err(ProxyError::NotLoopback(listen));
        }
        let shape = shape.check()?;
        let listen_error = |cause| ProxyError::Listen {
            addr: listen,
            cause,
        };
        // Bound here, not on the proxy's thread, so that a taken port fails the call.
        let listener = std::net::TcpListener::bind(listen).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ProxyError::Thread)?;
        let listener = {
            let _in_runtime = runtime.enter();
            TcpListener::from_std(listener).map_err(listen_error)?
        };
        let shared = Arc::new(Shared::new(shape));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("ava-netproxy {addr}"))
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    runtime.block_on(async {
                        tokio::select! {
                            () = accept_loop(listener, upstream, shared) => {}
                            _ = stopped => {}
                        }
                    });
                    // Dropping the runtime drops every connection's task, and so closes
                    // its sockets, before the thread ends and `Drop` returns.
                    drop(runtime);
                }
            })
            .map_err(ProxyError::Thread)?;
        Ok(Proxy {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `postgres_url` (`postgresql://` or `postgres://`) with its host and port replaced
    /// by the proxy's; user, password, database and query are kept.
    ///
    /// Refuses a URL whose query names a server (`host`, `hostaddr` or `port`): the
    /// client would go there instead, around the proxy.
    pub fn url_for(&self, postgres_url: &str) -> Result<String, ProxyError> {
        let mut url = url::Url::parse(postgres_url)
            .map_err(|e| ProxyError::Url(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgresql" | "postgres") {
            return Err(ProxyError::Url(format!(
                "its scheme is {}, not postgresql",
                url.scheme()
            )));
        }
        if let Some((key, _)) = url
            .query_pairs()
            .find(|(key, _)| matches!(key.as_ref(), "host" | "hostaddr" | "port"))
        {
            return Err(ProxyError::Url(format!(
                "its query sets {key}, which would bypass the proxy"
            )));
        }
        let set = url
            .set_ip_host(self.addr.ip())
            .and_then(|()| url.set_port(Some(self.addr.port())));
        set.map_err(|()| ProxyError::Url("it has no host to replace".to_owned()))?;
        Ok(url.into())
    }

    /// Resets every open connection at once, both sides, as a dropped network would:
    /// the client and the server each see a reset. Returns once they are closed, with how
    /// many there were. The proxy goes on accepting new connections.
    pub fn cut(&self) -> usize {
        let mut conns = self.shared.conns();
        let cut: Vec<u64> = conns
            .iter_mut()
            .filter_map(|(id, trigger)| {
                let trigger = trigger.take()?;
                // A connection that has just ended has dropped its receiver: nothing to do.
                let _ = trigger.send(());
                Some(*id)
            })
            .collect();
        let deadline = std::time::Instant::now() + CUT_WAIT;
        while cut.iter().any(|id| conns.contains_key(id)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            conns = self
                .shared
                .gone
                .wait_timeout(conns, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        cut.len()
    }

    /// Changes the shape for data read from now on; data already in flight keeps its
    /// times (a longer delay is a stall that starts now).
    pub fn set_shape(&self, shape: Shape) -> Result<(), ProxyError> {
        *self.shared.shape_lock() = shape.check()?;
        Ok(())
    }

    /// Stops forwarding without closing anything: a black hole, the way a vanished peer
    /// looks. Data is held, not dropped; once the queues are full, TCP's flow control
    /// stops the senders.
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Forwards again after [`Proxy::pause`]; what was held goes through at once.
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.shared.conns().len()
    }

    /// Counters since the proxy started.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            accepted: s.accepted.load(Ordering::Relaxed),
            bytes_up: s.bytes_up.load(Ordering::Relaxed),
            bytes_down: s.bytes_down.load(Ordering::Relaxed),
            round_trips: s.round_trips.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Quick: the thread only drops its runtime. An Err is a panic on that thread,
            // already reported by the panic hook.
            let _ = thread.join();
        }
    }
}

/// What the [`Proxy`] handle and the proxy's thread share.
struct Shared {
    shape: Mutex<Shape>,
    paused: watch::Sender<bool>,
    /// The open connections, each with the trigger that cuts it (taken once pulled).
    conns: Mutex<HashMap<u64, Option<oneshot::Sender<()>>>>,
    /// Notified whenever a connection leaves `conns`.
    gone: Condvar,
    next_id: AtomicU64,
    accepted: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    round_trips: AtomicU64,
}

impl Shared {
    fn new(shape: Shape) -> Shared {
        Shared {
            shape: Mutex::new(shape),
            paused: watch::Sender::new(false),
            conns: Mutex::new(HashMap::new()),
            gone: Condvar::new(),
            next_id: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
        }
    }

    // The locks below guard plain values that no code panics while holding, so a
    // poisoned lock (a panic elsewhere on that thread) still holds consistent data.

    fn shape_lock(&self) -> MutexGuard<'_, Shape> {
        self.shape.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shape(&self) -> Shape {
        *self.shape_lock()
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Option<oneshot::Sender<()>>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts `n` bytes forwarded in direction `dir` of a connection whose last direction
    /// is `went_up`.
    fn delivered(&self, dir: Dir, n: usize, went_up: &AtomicBool) {
        let n = n as u64;
        match dir {
            Dir::Up => {
                self.bytes_up.fetch_add(n, Ordering::Relaxed);
                went_up.store(true, Ordering::Relaxed);
            }
            Dir::Down => {
                self.bytes_down.fetch_add(n, Ordering::Relaxed);
                if went_up.swap(false, Ordering::Relaxed) {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A connection's place in [`Shared::conns`], given up when its task ends (or is dropped
/// with the runtime), after its sockets are closed.
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.conns().remove(&self.id);
        self.shared.gone.notify_all();
    }
}

#[derive(Debug, Clone, Copy)]
enum Dir {
    /// Client to upstream.
    Up,
    /// Upstream to client.
    Down,
}

/// Bytes read at one time, and when they are due at the other end. Empty data is the
/// sender's FIN (a read of 0 bytes), forwarded as a shutdown of the write side.
struct Chunk {
    due: Instant,
    data: Vec<u8>,
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                // Out of file descriptors, say: wait a little instead of spinning.
                tracing::warn!("ava-netproxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (trigger, cut) = oneshot::channel();
        shared.conns().insert(id, Some(trigger));
        let registered = Registered {
            shared: Arc::clone(&shared),
            id,
        };
        tokio::spawn(connection(client, upstream, cut, registered));
    }
}

/// Relays one accepted connection until both directions are done, either fails, or it is
/// cut; resets both sockets unless it ended cleanly.
async fn connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    cut: oneshot::Receiver<()>,
    registered: Registered,
) {
    let mut server = None;
    let reset = tokio::select! {
        r = relay(&mut client, &mut server, upstream, &registered.shared) => match r {
            // Both directions finished with a FIN.
            Ok(()) => false,
            Err(e) => {
                tracing::debug!("ava-netproxy: connection {} reset: {e}", registered.id);
                true
            }
        },
        _ = cut => true,
    };
    if reset {
        // Linger 0: closing sends a reset and drops unsent data, the way both ends see a
        // dropped network. Best effort: a socket that cannot take it is closed anyway.
        let _ = client.set_zero_linger();
        if let Some(server) = &server {
            let _ = server.set_zero_linger();
        }
    }
    // Sockets first, registry last: `cut` returns once the resets are sent.
    drop(client);
    drop(server);
    drop(registered);
}

/// The two pipes of one connection. `server` is filled in once connected, so that the
/// caller can reset it afterwards.
async fn relay(
    client: &mut TcpStream,
    server: &mut Option<TcpStream>,
    upstream: SocketAddr,
    shared: &Shared,
) -> io::Result<()> {
    let accepted = Instant::now();
    // The Postgres protocol is chatty: Nagle's algorithm would add latency of its own.
    client.set_nodelay(true)?;
    let (from_client, to_client) = client.split();
    let (up_tx, up_rx) = mpsc::channel(QUEUE);
    let (down_tx, down_rx) = mpsc::channel(QUEUE);
    let went_up = AtomicBool::new(false);
    // The client's first bytes are read (and so stamped) while the handshake is "on the
    // wire"; they wait in the queue for the server connection.
    let upload = read_side(from_client, up_tx, shared);
    let rest = async {
        sleep_until(accepted + 3 * shared.shape().delay).await;
        let server = server.insert(TcpStream::connect(upstream).await?);
        server.set_nodelay(true)?;
        let (from_server, to_server) = server.split();
        tokio::try_join!(
            write_side(up_rx, to_server, shared, Dir::Up, &went_up),
            read_side(from_server, down_tx, shared),
            write_side(down_rx, to_client, shared, Dir::Down, &went_up),
        )
        .map(drop)
    };
    tokio::try_join!(upload, rest).map(drop)
}

/// Reads `from` into the queue, each chunk stamped with when it is due at the other end,
/// until EOF (queued too) or an error.
async fn read_side(
    mut from: impl AsyncRead + Unpin,
    to: mpsc::Sender<Chunk>,
    shared: &Shared,
) -> io::Result<()> {
    let mut buf = vec![0; CHUNK];
    // When the capped link has sent everything before: a "next free time" clock.
    let mut link_free = Instant::now();
    loop {
        let n = from.read(&mut buf).await?;
        let shape = shared.shape();
        let now = Instant::now();
        let sent = match shape.bandwidth {
            // Checked: at least 1 byte per second, and n * 10^9 fits easily.
            Some(bytes_per_second) if n > 0 => {
                let serialise = Duration::from_nanos(n as u64 * 1_000_000_000 / bytes_per_second);
                link_free = link_free.max(now) + serialise;
                link_free
            }
            _ => now,
        };
        let chunk = Chunk {
            due: sent + shape.delay,
            data: buf[..n].to_vec(),
        };
        // A closed queue means the writer failed, and its error ends the connection.
        if to.send(chunk).await.is_err() || n == 0 {
            return Ok(());
        }
    }
}

/// Writes the queue to `to`, each chunk once it is due and the proxy is not paused, in
/// order; a FIN shuts down `to`'s write side after the data before it.
async fn write_side(
    mut from: mpsc::Receiver<Chunk>,
    mut to: impl AsyncWrite + Unpin,
    shared: &Shared,
    dir: Dir,
    went_up: &AtomicBool,
) -> io::Result<()> {
    let mut paused = shared.paused.subscribe();
    while let Some(chunk) = from.recv().await {
        // Skipped when already due: the timer's 1 ms resolution would add latency.
        if chunk.due > Instant::now() {
            sleep_until(chunk.due).await;
        }
        // Err only once the sender is gone, with the proxy: then there is no pause.
        let _ = paused.wait_for(|paused| !paused).await;
        if chunk.data.is_empty() {
            return to.shutdown().await;
        }
        // Counted before the write, so that a peer that has its data also sees it counted.
        shared.delivered(dir, chunk.data.len(), went_up);
        to.write_all(&chunk.data).await?;
    }
    Ok(())
}
