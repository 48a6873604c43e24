//! `ava demo`: the whole job on local defaults, end to end.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use crate::{config, exit, TargetArgs};

/// The local server `ava demo` uses when no target is configured.
const LOCAL_ADMIN_URL: &str = "postgresql://postgres@127.0.0.1:5432/postgres";
/// The database `ava demo` (re)creates on the local server.
const DEMO_DB: &str = "ava_demo";

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the demo SQLite file (created if missing; an existing file is reused).
    #[arg(long, value_name = "DIR", default_value = "ava-demo")]
    dir: PathBuf,
    /// Calls in the demo file (about 8 rows per call).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    calls: u64,
    /// Target [default: $DATABASE_URL or ./.env; else the local server on 127.0.0.1:5432,
    /// where the database ava_demo is dropped and created afresh]
    #[command(flatten)]
    target: TargetArgs,
    /// Where to serve the dashboard on the migrated data afterwards (loopback only: the
    /// demo sets no tokens)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8000")]
    addr: std::net::SocketAddr,
    /// Stop after verifying instead of serving the dashboard
    #[arg(long)]
    no_serve: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let sqlite = args.dir.join("ava_database.db");
    if sqlite.exists() {
        println!("1/4 reusing {}", sqlite.display());
    } else {
        println!("1/4 seeding {} with {} calls", sqlite.display(), args.calls);
        crate::seed(&sqlite, args.calls, 1, None)?;
    }

    let url = match config::database_url(&args.target) {
        Ok(url) => url,
        Err(_) => fresh_local_database().await?,
    };
    let mut target = ava_sink::connect(&url).await?;
    println!("2/4 pushing the schema to {}", target.url());
    let report = ava_migrations::push(target.client(), false)
        .await
        .with_context(|| format!("db push to {}", target.url()))?;
    crate::report::push(&report, target.url());

    println!("3/4 migrating");
    let opts = ava_migrate::Options {
        sqlite: sqlite.clone(),
        batch_size: ava_migrate::DEFAULT_BATCH_SIZE,
        dry_run: false,
        force: false,
        resume: false,
        rejects: None,
        settle: Default::default(),
    };
    let code = crate::migrate(&mut target, &opts).await?;
    if code != exit::OK {
        return Ok(code);
    }
    println!("4/4 verifying");
    let code = crate::verify(
        &mut target,
        &sqlite,
        &ava_verify::Excluded::default(),
        false,
    )
    .await?;
    println!();
    println!("Where to look:");
    println!("  SQLite source:   {}", sqlite.display());
    println!("  Postgres target: {}", target.url());
    println!(
        "  psql '{}' -c 'select outcome, count(*) from call_sessions group by 1'",
        target.url()
    );
    println!(
        "  ava verify --sqlite {} --database-url '{}'",
        sqlite.display(),
        target.url()
    );
    if args.no_serve || code != exit::OK {
        return Ok(code);
    }
    // A trial on this machine: open, so the browser needs no token (loopback only).
    let tokens = ava_serve::Tokens::open();
    ava_serve::check_addr(args.addr, &tokens)?;
    println!();
    println!(
        "The dashboard on the migrated data: http://{}/   (Ctrl-C to stop)",
        args.addr
    );
    crate::serve::init_logging();
    let store = ava_api::Store::Postgres(ava_api::store::PgStore::new(&url, 8, "ava demo")?);
    ava_serve::serve(args.addr, ava_serve::AppState::new(store, tokens)).await?;
    Ok(code)
}

/// Drops and creates [`DEMO_DB`] on the local server; its URL.
async fn fresh_local_database() -> anyhow::Result<String> {
    let mut admin = match ava_sink::connect(LOCAL_ADMIN_URL).await {
        Ok(t) => t,
        Err(e) => bail!(
            "no target: DATABASE_URL is not set and the local server does not answer ({e}).\n\
             Start it (on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
             or pass --database-url URL"
        ),
    };
    let client = admin.client();
    for sql in [
        format!("DROP DATABASE IF EXISTS {DEMO_DB} WITH (FORCE)"),
        format!("CREATE DATABASE {DEMO_DB}"),
    ] {
        client
            .batch_execute(&sql)
            .await
            .with_context(|| format!("recreating the database {DEMO_DB} on {LOCAL_ADMIN_URL}"))?;
    }
    Ok(format!("postgresql://postgres@127.0.0.1:5432/{DEMO_DB}"))
}
