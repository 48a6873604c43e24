//! TLS against real servers: the test server (this machine's PostgreSQL, `ssl = on` with
//! Debian's snakeoil certificate) and a throwaway cluster that accepts only TLS
//! (`hostssl`).

use ava_sink::{connect, ConnectError, SinkError, Target};
use ava_testpg::Cluster;

/// Debian's self-signed certificate, which the test servers present.
const SNAKEOIL_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
const SNAKEOIL_KEY: &str = "/etc/ssl/private/ssl-cert-snakeoil.key";

/// A CA that did not sign the snakeoil certificate.
fn wrong_ca() -> String {
    // Supabase's root, in ava-pg beside this crate.
    format!(
        "{}/../pg/certs/prod-ca-2021.crt",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `base` with `params` (`key=value&…`) added, in the spelling `base` has.
fn with_params(base: &str, params: &str) -> String {
    if base.starts_with("postgres://") || base.starts_with("postgresql://") {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}{params}")
    } else {
        format!("{base} {}", params.replace('&', " "))
    }
}

fn test_server(params: &str) -> String {
    with_params(ava_testpg::admin_url(), params)
}

/// Whether this session is encrypted, as the server sees it.
async fn encrypted(target: &Target) -> bool {
    target
        .client_ref()
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("reading pg_stat_ssl")
        .get(0)
}

async fn connect_ok(url: &str) -> Target {
    connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting with {url}: {e}"))
}

#[tokio::test]
async fn require_encrypts_the_session() {
    let target = connect_ok(&test_server("sslmode=require")).await;
    assert!(encrypted(&target).await);
}

#[tokio::test]
async fn a_loopback_server_is_encrypted_by_default_when_it_offers_tls() {
    let target = connect_ok(ava_testpg::admin_url()).await;
    assert!(
        encrypted(&target).await,
        "prefer did not use the server's TLS"
    );
    // More connections are made the same way.
    assert!(encrypted(&target.connect_another().await.unwrap()).await);
}

#[tokio::test]
async fn disable_is_plaintext() {
    let target = connect_ok(&test_server("sslmode=disable")).await;
    assert!(!encrypted(&target).await);
}

#[tokio::test]
async fn verify_ca_accepts_the_ca_given_in_sslrootcert() {
    let target = connect_ok(&test_server(&format!(
        "sslmode=verify-ca&sslrootcert={SNAKEOIL_CERT}"
    )))
    .await;
    assert!(encrypted(&target).await);
}

#[tokio::test]
async fn verify_ca_with_the_wrong_ca_says_what_to_do() {
    let url = test_server(&format!(
        "password=s3cret&sslmode=verify-ca&sslrootcert={}",
        wrong_ca()
    ));
    let e = connect(&url).await.err().expect("a wrong CA was accepted");
    assert!(
        matches!(e, SinkError::Connection(ConnectError::Certificate { .. })),
        "{e:?}"
    );
    let text = e.to_string();
    for wanted in [
        "127.0.0.1",
        "sslmode=verify-ca",
        "sslrootcert=/path/to/ca.crt",
        "sslmode=require",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing in: {text}");
    }
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn verify_ca_without_sslrootcert_trusts_only_supabase() {
    let e = connect(&test_server("sslmode=verify-ca"))
        .await
        .err()
        .expect("a certificate not signed by Supabase was accepted");
    assert!(
        matches!(e, SinkError::Connection(ConnectError::Certificate { .. })),
        "{e}"
    );
}

#[tokio::test]
async fn verify_full_also_checks_the_host_name() {
    // The snakeoil certificate names a host (DNS), never an IP address.
    let url = test_server(&format!(
        "sslmode=verify-full&sslrootcert={SNAKEOIL_CERT}&host=127.0.0.1"
    ));
    let e = connect(&url)
        .await
        .err()
        .expect("a certificate for another name was accepted");
    assert!(
        matches!(e, SinkError::Connection(ConnectError::Certificate { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("sslmode=verify-full"), "{e}");
}

#[test]
fn a_server_that_accepts_only_tls_refuses_disable_with_a_hint() {
    let settings =
        format!("ssl = on\nssl_cert_file = '{SNAKEOIL_CERT}'\nssl_key_file = '{SNAKEOIL_KEY}'\n");
    let cluster = Cluster::start_with(
        &settings,
        Some("local all all trust\nhostssl all all 127.0.0.1/32 trust\n"),
    )
    .unwrap_or_else(|e| panic!("starting a hostssl-only cluster: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let e = connect(&with_params(cluster.url(), "sslmode=disable"))
            .await
            .err()
            .expect("a hostssl-only server accepted plaintext");
        assert!(
            matches!(e, SinkError::Connection(ConnectError::TlsRequired { .. })),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("requires TLS"), "{text}");
        assert!(text.contains("drop sslmode=disable"), "{text}");

        // Without sslmode, a loopback server is asked for TLS and it works.
        let target = connect_ok(cluster.url()).await;
        assert!(encrypted(&target).await);
    });
}
