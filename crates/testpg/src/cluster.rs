//! A throwaway PostgreSQL cluster made from the machine's own server binaries.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Where Debian's (and the PostgreSQL apt repository's) server packages put their binaries,
/// one directory per major version.
const PG_LIB: &str = "/usr/lib/postgresql";

/// How many free ports to try before giving up (another process may take the port between
/// our probe and the server's bind).
const START_ATTEMPTS: usize = 3;

/// Why a throwaway cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries (initdb and pg_ctl) under {PG_LIB}/*/bin; install the \
         distribution's postgresql package"
    )]
    NoBinaries,
    #[error("{what} failed: {cause}")]
    Io {
        what: String,
        #[source]
        cause: std::io::Error,
    },
    #[error("{what} failed ({status}); its output:\n{output}")]
    Command {
        what: String,
        status: std::process::ExitStatus,
        output: String,
    },
}

/// A PostgreSQL cluster of its own, in a fresh directory under `/tmp`
/// (`/tmp/ava-testpg-XXXXXX/data`, socket and log beside it), listening on a free port of
/// 127.0.0.1 only, trust auth, superuser `postgres`, durability switched off for speed.
///
/// `initdb` refuses to run as root, so when this process is root the cluster is owned by
/// and run as the `postgres` OS user (`runuser -u postgres --`), its directory chowned to
/// it.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and removes the directory. So
/// that a cluster that is never dropped (one kept in a static, or a process that is
/// killed) is cleaned up too, a watchdog shell process started with it waits for this
/// process to exit and then does the same.
#[derive(Debug)]
pub struct Cluster {
    url: String,
    dir: PathBuf,
    data: PathBuf,
    pg_ctl: PathBuf,
    as_postgres: bool,
    watchdog: Child,
    // Last, so it is dropped (the directory removed) after the server has been stopped.
    _dir_guard: tempfile::TempDir,
}

impl Cluster {
    /// Initialises and starts a new cluster, blocking until it accepts connections.
    pub fn start() -> Result<Cluster, ClusterError> {
        Cluster::start_with("", None)
    }

    /// [`Cluster::start`], with `settings` appended to its `postgresql.conf` and, if
    /// given, `pg_hba` as its whole `pg_hba.conf` (e.g. `ssl = on` and `hostssl` rules,
    /// for tests of TLS). Files the settings name must be readable by the server's user.
    pub fn start_with(settings: &str, pg_hba: Option<&str>) -> Result<Cluster, ClusterError> {
        let bin = server_bin().ok_or(ClusterError::NoBinaries)?;
        let as_postgres = crate::running_as_root();
        let dir_guard = tempfile::Builder::new()
            .prefix("ava-testpg-")
            .tempdir_in("/tmp")
            .map_err(|cause| ClusterError::Io {
                what: "creating a directory under /tmp".into(),
                cause,
            })?;
        let dir = dir_guard.path().to_path_buf();
        let data = dir.join("data");
        if as_postgres {
            run(
                "chown",
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&dir)
                    .stdin(Stdio::null()),
            )?;
        }

        let initdb = bin.join("initdb");
        run(
            "initdb",
            command(&initdb, as_postgres)
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
                .arg("--no-locale")
                .arg("--no-sync")
                .arg("--pgdata")
                .arg(&data)
                .current_dir(&dir),
        )?;

        // Written into the files initdb made, which keeps them owned by the server's user.
        let write = |file: &str, text: &str, append: bool| {
            std::fs::OpenOptions::new()
                .append(append)
                .write(true)
                .truncate(!append)
                .open(data.join(file))
                .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
                .map_err(|cause| ClusterError::Io {
                    what: format!("writing {file}"),
                    cause,
                })
        };
        write("postgresql.conf", &format!("\n{settings}\n"), true)?;
        if let Some(pg_hba) = pg_hba {
            write("pg_hba.conf", pg_hba, false)?;
        }

        let pg_ctl = bin.join("pg_ctl");
        let mut watchdog = spawn_watchdog(&dir, stop_command(&pg_ctl, &data, as_postgres))?;
        match start_server(&pg_ctl, &dir, &data, as_postgres) {
            Ok(port) => Ok(Cluster {
                url: format!("postgresql://postgres@127.0.0.1:{port}/postgres"),
                dir,
                data,
                pg_ctl,
                as_postgres,
                watchdog,
                _dir_guard: dir_guard,
            }),
            Err(e) => {
                let _ = watchdog.kill();
                let _ = watchdog.wait();
                Err(e)
            }
        }
    }

    /// The cluster's maintenance URL: `postgresql://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Restarts the server (fast shutdown: every connection is cut), blocking until it
    /// accepts connections again on the same port — for tests of what survives a
    /// server restart.
    pub fn restart(&self) -> Result<(), ClusterError> {
        let mut restart = command(&self.pg_ctl, self.as_postgres);
        // The server's output goes to its log: a pipe kept open by it would never end.
        restart
            .arg("restart")
            .args(["--mode", "fast", "--wait"])
            .arg("--pgdata")
            .arg(&self.data)
            .arg("--log")
            .arg(self.dir.join("server.log"));
        run("pg_ctl restart", &mut restart).map(drop)
    }

    /// The cluster's directory under `/tmp` (data directory, socket and server log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The watchdog's job is done here; stop it first so it cannot race us.
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let mut stop = stop_command(&self.pg_ctl, &self.data, self.as_postgres);
        if let Err(e) = run("pg_ctl stop", &mut stop) {
            eprintln!("ava-testpg: could not stop the throwaway cluster: {e}");
        }
        // `_dir_guard` removes the directory after this.
    }
}

/// Starts the server on a free port (a few tries, in case another process takes the port
/// first) and returns the port once it accepts connections.
fn start_server(
    pg_ctl: &Path,
    dir: &Path,
    data: &Path,
    as_postgres: bool,
) -> Result<u16, ClusterError> {
    let mut last_error = None;
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            dir.display()
        );
        let started = run(
            "pg_ctl start",
            command(pg_ctl, as_postgres)
                .arg("start")
                .arg("--wait")
                .args(["--timeout", "60"])
                .arg("--pgdata")
                .arg(data)
                .arg("--log")
                .arg(dir.join("server.log"))
                .args(["-o", &options])
                .current_dir(dir),
        );
        match started {
            Ok(_) => return Ok(port),
            Err(e) => {
                // A server that is still starting after the timeout must not linger.
                let _ = run("pg_ctl stop", &mut stop_command(pg_ctl, data, as_postgres));
                last_error = Some(e);
            }
        }
    }
    Err(last_error.expect("at least one start attempt"))
}

/// The `bin` directory of the newest PostgreSQL version that has both initdb and pg_ctl.
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(PG_LIB)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `program`, run as the `postgres` OS user when `as_postgres`.
fn command(program: &Path, as_postgres: bool) -> Command {
    let mut command = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.stdin(Stdio::null());
    command
}

fn stop_command(pg_ctl: &Path, data: &Path, as_postgres: bool) -> Command {
    let mut stop = command(pg_ctl, as_postgres);
    stop.arg("stop")
        .args(["--mode", "immediate"])
        .arg("--pgdata")
        .arg(data);
    stop
}

/// Runs `command` to completion; `Err` with its output unless it exits 0.
fn run(what: &str, command: &mut Command) -> Result<Output, ClusterError> {
    let output = command.output().map_err(|cause| ClusterError::Io {
        what: what.to_owned(),
        cause,
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(ClusterError::Command {
            what: what.to_owned(),
            status: output.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, ClusterError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|cause| ClusterError::Io {
            what: "finding a free port".into(),
            cause,
        })
}

/// Starts a shell that waits for this process to exit, then runs `stop` and removes `dir`.
/// It runs as the current user (so it may signal-probe this process even when the server
/// runs as `postgres`), in its own process group (so a Ctrl-C aimed at the tests does not
/// kill it before it has cleaned up), with no stdio (so no test runner waits on it).
fn spawn_watchdog(dir: &Path, stop: Command) -> Result<Child, ClusterError> {
    const SCRIPT: &str = r#"pid=$1; dir=$2; shift 2
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
"$@" >/dev/null 2>&1
rm -rf "$dir""#;
    let mut watchdog = Command::new("sh");
    watchdog
        .args(["-c", SCRIPT, "ava-testpg-watchdog"])
        .arg(std::process::id().to_string())
        .arg(dir)
        .arg(stop.get_program())
        .args(stop.get_args().collect::<Vec<&OsStr>>())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    watchdog.spawn().map_err(|cause| ClusterError::Io {
        what: "starting the cluster's watchdog".into(),
        cause,
    })
}
