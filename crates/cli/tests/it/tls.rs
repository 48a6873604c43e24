//! TLS and the connection's kind: `ava migrate` and `ava sync` refuse Supabase's
//! transaction-mode pooler before connecting (so no server is needed here).

use crate::support::{ava_in, Out};

#[test]
fn migrate_and_sync_refuse_the_transaction_pooler_naming_the_session_url() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("source.db");
    let url = "postgresql://postgres.abcdefgh:s3cret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres";
    for command in ["migrate", "sync"] {
        let out = Out::of(ava_in(dir.path()).args([
            command,
            "--sqlite",
            sqlite.to_str().unwrap(),
            "--database-url",
            url,
        ]))
        .code(1)
        .stderr_has(&[
            "transaction-mode pooler (port 6543)",
            "postgresql://postgres.abcdefgh:***@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
        ]);
        assert!(!out.stderr.contains("s3cret"), "{out}");
    }
}
