//! `ava serve`: which store, which address, which tokens; then the server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::config;
use crate::TargetArgs;

#[derive(Args)]
pub struct ServeArgs {
    /// Serve Postgres at this URL [default: $DATABASE_URL, or DATABASE_URL in ./.env;
    /// with none, the SQLite file is served]
    #[arg(long, value_name = "URL", conflicts_with = "sqlite")]
    database_url: Option<String>,
    /// Serve this SQLite file (created with the app's schema if it does not exist; an
    /// existing one is checked as `ava migrate` checks it, and every page, before
    /// anything writes to it) [default: ./ava_database.db when no database URL is set]
    #[arg(long, value_name = "PATH")]
    sqlite: Option<PathBuf>,
    /// Address to listen on
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Serve every route without any token — for a trial on this machine only: refused
    /// with any token set, and on an address that is not loopback. Without it, both
    /// route groups must be guarded (ADMIN_API_TOKEN or Supabase logins, and
    /// INGEST_API_TOKEN), or the server does not start
    #[arg(long)]
    insecure_open: bool,
    /// Bearer token for the admin routes (the dashboard's reads)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ADMIN_API_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// Bearer token for the write routes (the voice service)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "INGEST_API_TOKEN",
        hide_env_values = true
    )]
    ingest_token: Option<String>,
    /// Also let Supabase logins read the admin routes: the project's JWT secret, which
    /// verifies HS256 tokens
    #[arg(
        long,
        value_name = "SECRET",
        env = "SUPABASE_JWT_SECRET",
        hide_env_values = true
    )]
    jwt_secret: Option<String>,
    /// Also let Supabase logins read the admin routes: the project's JWKS (RS256/ES256
    /// public keys), a file or an https:// URL (fetched at start, and again for an
    /// unknown key id at most once a minute)
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "SUPABASE_JWKS",
        hide_env_values = true
    )]
    jwks: Option<String>,
    /// The Supabase project the dashboard offers email and password sign-in with
    #[arg(long, value_name = "URL", env = "SUPABASE_URL", hide_env_values = true)]
    supabase_url: Option<String>,
    /// The project's anon (public) key, sent by the dashboard's sign-in
    /// (public by design, still not echoed by --help)
    #[arg(
        long,
        value_name = "KEY",
        env = "SUPABASE_ANON_KEY",
        hide_env_values = true
    )]
    supabase_anon_key: Option<String>,
    /// Origins allowed to call /api/* from a browser (CORS), comma-separated; none: no
    /// CORS headers
    #[arg(
        long,
        value_name = "ORIGIN,...",
        env = "AVA_CORS_ORIGINS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    cors_origin: Vec<String>,
    /// The time zone of the analytics when a request names none (its `tz`): an IANA
    /// name such as America/Los_Angeles, for the clinic's own hours and midnights
    #[arg(long, value_name = "ZONE", env = "AVA_TIMEZONE", default_value = "UTC",
          value_parser = parse_time_zone)]
    timezone: chrono_tz::Tz,
    /// Connections in the Postgres pool (or read connections to the SQLite file), 1 to
    /// 1000
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    connections: u16,
    /// How long an admin answer is kept and served again, in milliseconds, 0 to
    /// 3600000 (an hour); any write through this server empties the cache at once. 0
    /// turns it off
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    cache_ttl_ms: u64,
    /// The most memory the answer cache may hold, in MiB (keys and answers), 1 to
    /// 4096; an answer larger than a sixteenth of it is served but not kept
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    cache_mb: u64,
}

/// The server's log: one line per request on stderr, colours only on a terminal;
/// `RUST_LOG` sets the level (default `info`).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    init_logging();
    let jwt = ava_serve::jwt::Verifier::new(args.jwt_secret.as_deref(), args.jwks.as_deref())
        .await?
        .map(std::sync::Arc::new);
    let tokens = ava_serve::Tokens {
        admin: args.admin_token.filter(|t| !t.is_empty()),
        ingest: args.ingest_token.filter(|t| !t.is_empty()),
        jwt,
        open: args.insecure_open,
    };
    let cors = ava_serve::cors_origins(&args.cors_origin)?;
    // Before anything is opened (a SQLite file would be created): every route group
    // guarded, or open on purpose on loopback.
    ava_serve::check_addr(args.addr, &tokens)?;
    let url = match (&args.database_url, &args.sqlite) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(_)) => None,
        (None, None) => config::database_url(&TargetArgs { database_url: None }).ok(),
    };
    let store = match url {
        Some(url) => ava_api::Store::Postgres(ava_api::store::PgStore::new(
            &url,
            usize::from(args.connections),
            "ava serve",
        )?),
        None => {
            let path = args
                .sqlite
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SQLITE[0]));
            // Every error names the file; a refused one is the line `ava migrate` prints.
            ava_api::Store::Sqlite(ava_api::store::SqliteStore::open(
                &path,
                usize::from(args.connections),
            )?)
        }
    };
    let mut state = ava_serve::AppState::new(store, tokens);
    state.cache = ava_serve::cache::Cache::new(
        std::time::Duration::from_millis(args.cache_ttl_ms),
        args.cache_mb << 20,
    );
    state.cors = cors.into();
    state.timezone = args.timezone;
    state.supabase = std::sync::Arc::new(ava_serve::Supabase {
        supabase_url: args.supabase_url.filter(|u| !u.is_empty()),
        supabase_anon_key: args.supabase_anon_key.filter(|k| !k.is_empty()),
    });
    ava_serve::serve(args.addr, state).await?;
    Ok(crate::exit::OK)
}

/// `--timezone` / `AVA_TIMEZONE`: the API's own rule for a `tz`.
fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    ava_api::request::time_zone(name)
}
