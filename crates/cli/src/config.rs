//! Where the target and the source are: flags, then the environment, then `./.env`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::{SourceArgs, TargetArgs};

/// The SQLite file searched for when `--sqlite` is not given, in order (as the plan's
/// original script did).
pub const DEFAULT_SQLITE: [&str; 2] = ["ava_database.db", "backend/ava_database.db"];

/// The target URL: `--database-url`, else `DATABASE_URL` from the environment, else
/// from `./.env` (read, never written; the environment wins over the file).
pub fn database_url(args: &TargetArgs) -> anyhow::Result<String> {
    if let Some(url) = &args.database_url {
        return Ok(url.clone());
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.trim().is_empty() {
            return Ok(url);
        }
    }
    let env_file = Path::new(".env");
    if env_file.is_file() {
        for item in dotenvy::from_path_iter(env_file).context("reading ./.env")? {
            let (key, value) = item.context("reading ./.env")?;
            if key == "DATABASE_URL" && !value.trim().is_empty() {
                return Ok(value);
            }
        }
    }
    bail!(
        "no target database: pass --database-url URL, or set DATABASE_URL in the environment \
         or in a .env file in this folder (for Supabase: Project Settings → Database → \
         Connection string, the direct or session-pooler one)"
    )
}

/// Connects to the target named by `args`.
pub async fn connect(args: &TargetArgs) -> anyhow::Result<ava_sink::Target> {
    Ok(ava_sink::connect(&database_url(args)?).await?)
}

/// The SQLite file: `--sqlite`, else the first of [`DEFAULT_SQLITE`] that exists.
pub fn sqlite_path(args: &SourceArgs) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.sqlite {
        return Ok(path.clone());
    }
    match DEFAULT_SQLITE
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    {
        Some(path) => Ok(path),
        None => bail!(
            "no SQLite file: neither ./{} nor ./{} exists here; pass --sqlite PATH",
            DEFAULT_SQLITE[0],
            DEFAULT_SQLITE[1]
        ),
    }
}
