//! The server against its own description: schemathesis (PyPI, `st`) generates
//! requests from `/openapi.json` — valid ones, which must be taken, and invalid ones,
//! which must be refused with a 4xx — and checks every answer against the document
//! (status, content type, schema, headers), on each store. Every check runs; the
//! budget is bounded (`--max-examples`) and the seed fixed, so CI is repeatable
//! (`AVA_SCHEMATHESIS_SEED` picks another).
//!
//! The stateful phase is off: its links are inferred from the response schemas, and
//! it feeds a call's `customer_id`, which may be `null`, into `/api/customers/{id}` as
//! `None` — a request the document itself does not allow.

use std::process::Command;

use ava_api::Store;
use ava_serve::Tokens;

use crate::support::*;

/// One token for both route groups, so one header reaches every route.
const TOKEN: &str = "conformance-token";

async fn conforms(store: Store, name: &str) {
    let tokens = Tokens {
        admin: Some(TOKEN.into()),
        ingest: Some(TOKEN.into()),
        ..Tokens::default()
    };
    let server = Server::start(store, tokens).await;
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schemathesis/schemathesis.toml"
    );
    let seed = std::env::var("AVA_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    let work = tempfile::tempdir().unwrap();
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("st")
            .current_dir(work.path())
            .args(["--config-file", config, "run"])
            .arg(format!("{base}/openapi.json"))
            .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "40", "--seed", &seed])
            .args(["--request-timeout", "20"])
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!(
            "cannot run schemathesis's `st` ({e}): `pip install schemathesis==4.32.5` \
             (.ci/run does it on a fresh machine)"
        )
    });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name}: schemathesis failed\n{report}"
    );
    assert!(report.contains("21 selected"), "{name}: {report}");
}

#[tokio::test]
async fn every_check_passes_on_postgres() {
    let stores = Stores::seeded(150, 31).await;
    conforms(stores.pg_store(), "postgres").await;
}

#[tokio::test]
async fn every_check_passes_on_sqlite() {
    let stores = Stores::seeded(150, 31).await;
    conforms(stores.sqlite_store(), "sqlite").await;
}
