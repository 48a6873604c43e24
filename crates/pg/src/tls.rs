//! TLS on every Postgres connection, through rustls (with the `ring` provider).
//!
//! The URL's `sslmode` and `sslrootcert` are read here, as libpq reads them, and taken out
//! before the rest goes to `tokio_postgres::Config` (which knows only disable, prefer and
//! require, and no root certificates):
//!
//! | sslmode       | on the wire | the server's certificate                         |
//! |---------------|-------------|--------------------------------------------------|
//! | `disable`     | plaintext   | —                                                |
//! | `prefer`      | TLS if the server offers it, else plaintext | not checked      |
//! | `require`     | TLS         | not checked (encrypted, but anyone may answer)   |
//! | `verify-ca`   | TLS         | signed by a root, any host name                  |
//! | `verify-full` | TLS         | signed by a root, and issued for the host name   |
//!
//! Without `sslmode`: `prefer` when every host is loopback (127.0.0.0/8, ::1, localhost)
//! or a Unix socket, `require` otherwise. So a remote server is reached in plaintext only
//! when the URL says `sslmode=disable` (or `sslmode=prefer` and the server has no TLS).
//!
//! The roots of `verify-ca` and `verify-full` are the PEM file `sslrootcert` names, else
//! Supabase's two root CAs (2021 and 2025), built into the binary: no system roots.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode as WireMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ConnectError;

/// Supabase's root CAs, the default roots of `verify-ca` and `verify-full`.
const SUPABASE_ROOTS: [&[u8]; 2] = [
    include_bytes!("../certs/prod-ca-2021.crt"),
    include_bytes!("../certs/prod-ca-2025.crt"),
];

/// libpq's `sslmode`, all five that matter (`allow` is not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, ConnectError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(ConnectError::BadSslMode(value.to_owned())),
        })
    }

    /// The default for `hosts`: `prefer` if all of them are this machine, else `require`.
    pub fn default_for(hosts: &[Host]) -> SslMode {
        if hosts.iter().all(is_loopback) {
            SslMode::Prefer
        } else {
            SslMode::Require
        }
    }

    fn wire(self) -> WireMode {
        match self {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            name.eq_ignore_ascii_case("localhost")
                || IpAddr::from_str(name).is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// How to connect to a database URL: the driver's configuration (with `ssl_mode` set)
/// and the TLS connector for it. The one place both the sink and the API's pool get
/// theirs.
#[derive(Clone)]
pub struct ConnectParams {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    /// The `sslmode` in force (the URL's, or the default for its hosts).
    pub sslmode: SslMode,
}

impl ConnectParams {
    /// Reads `url` (a `postgres[ql]://` URL or a `key=value` string), its `sslmode` and
    /// `sslrootcert` included, and builds the TLS connector that mode asks for.
    pub fn from_url(url: &str) -> Result<ConnectParams, ConnectError> {
        let (mut config, split) = parse(url)?;
        let sslmode = match &split.sslmode {
            Some(value) => SslMode::parse(value)?,
            None => SslMode::default_for(config.get_hosts()),
        };
        config.ssl_mode(sslmode.wire());
        keep_alive(&mut config);
        let tls = MakeRustlsConnect::new(client_config(sslmode, split.sslrootcert.as_deref())?);
        Ok(ConnectParams {
            config,
            tls,
            sslmode,
        })
    }

    /// The hosts, as they are named in messages.
    pub fn hosts(&self) -> String {
        self.config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The error of a failed connection, saying what to do where that is known: a
    /// certificate that does not verify, a server that wants TLS when the URL says
    /// `sslmode=disable`.
    pub fn connect_error(&self, url: String, cause: tokio_postgres::Error) -> ConnectError {
        if let Some(problem) = certificate_problem(&cause) {
            let hint = match problem {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "Connect by a host name the certificate is issued for, or use \
                     sslmode=verify-ca to check only that a trusted CA signed it"
                }
                _ => {
                    "Give the CA that signed it with sslrootcert=/path/to/ca.crt in the URL \
                     (without it, only Supabase's own CAs are trusted), or use sslmode=require \
                     to encrypt without checking the certificate"
                }
            };
            return ConnectError::Certificate {
                url,
                host: self.hosts(),
                sslmode: self.sslmode,
                hint,
                cause,
            };
        }
        let refused_plaintext = cause.as_db_error().is_some_and(|db| {
            *db.code() == tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("no encryption")
        });
        if refused_plaintext && self.sslmode == SslMode::Disable {
            return ConnectError::TlsRequired { url, cause };
        }
        ConnectError::Connect { url, source: cause }
    }
}

/// The driver's configuration of `url` (without `sslmode` and `sslrootcert`: its
/// `ssl_mode` is not set yet) and those two.
pub(crate) fn parse(url: &str) -> Result<(tokio_postgres::Config, SslParams), ConnectError> {
    let split = split_ssl_params(url)?;
    let config = tokio_postgres::Config::from_str(&split.rest).map_err(ConnectError::BadUrl)?;
    Ok((config, split))
}

/// Why rustls refused the server's certificate, if that is somewhere in `e`'s causes.
fn certificate_problem(e: &tokio_postgres::Error) -> Option<&CertificateError> {
    let mut cause = std::error::Error::source(e);
    while let Some(err) = cause {
        let rustls_error = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error {
            return Some(problem);
        }
        cause = err.source();
    }
    None
}

/// A URL or `key=value` string without its `sslmode` and `sslrootcert`, and their values
/// (the last of each, as the driver reads every other key).
pub(crate) struct SslParams {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

fn split_ssl_params(url: &str) -> Result<SslParams, ConnectError> {
    let mut out = SslParams {
        rest: String::new(),
        sslmode: None,
        sslrootcert: None,
    };
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            out.sslmode = Some(value);
            true
        }
        "sslrootcert" => {
            out.sslrootcert = Some(value);
            true
        }
        _ => false,
    };
    let rest = match ["postgresql://", "postgres://"]
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix).map(|tail| (prefix, tail)))
    {
        Some((prefix, tail)) => {
            // As the driver reads a URL: the user info runs to the first '@', the
            // parameters start at the first '?' after it.
            let after_creds = tail.find('@').map_or(0, |at| at + 1);
            match tail[after_creds..].find('?') {
                None => url.to_owned(),
                Some(q) => {
                    let (head, query) = tail.split_at(after_creds + q);
                    let kept: Vec<&str> = query[1..]
                        .split('&')
                        .filter(|pair| {
                            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                            !take(&decode(key), decode(value))
                        })
                        .collect();
                    let mut rest = format!("{prefix}{head}");
                    if !kept.is_empty() {
                        rest.push('?');
                        rest.push_str(&kept.join("&"));
                    }
                    rest
                }
            }
        }
        None => {
            let kept: Vec<&str> = key_values(url)?
                .into_iter()
                .filter(|(key, value, _)| !take(key, value.clone()))
                .map(|(_, _, text)| text)
                .collect();
            kept.join(" ")
        }
    };
    out.rest = rest;
    Ok(out)
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The `key = value` pairs of a libpq connection string as the driver reads them: each
/// key, its unescaped value and the pair's own text.
fn key_values(s: &str) -> Result<Vec<(&str, String, &str)>, ConnectError> {
    let bad = |why: &str| ConnectError::BadSslParams(why.to_owned());
    let mut pairs = Vec::new();
    let mut it = s.char_indices().peekable();
    let skip_ws = |it: &mut std::iter::Peekable<std::str::CharIndices>| {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut it);
        let Some(&(start, _)) = it.peek() else { break };
        while it
            .next_if(|&(_, c)| !c.is_whitespace() && c != '=')
            .is_some()
        {}
        let key_end = it.peek().map_or(s.len(), |&(i, _)| i);
        let key = &s[start..key_end];
        skip_ws(&mut it);
        if it.next_if(|&(_, c)| c == '=').is_none() {
            return Err(bad("a key without `=`"));
        }
        skip_ws(&mut it);
        let mut value = String::new();
        let quoted = it.next_if(|&(_, c)| c == '\'').is_some();
        let mut closed = !quoted;
        while let Some((_, c)) = it.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = it.next() {
                        value.push(escaped);
                    }
                }
                '\'' if quoted => {
                    closed = true;
                    break;
                }
                c if !quoted && c.is_whitespace() => break,
                c => value.push(c),
            }
        }
        if !closed {
            return Err(bad("an unterminated quoted value"));
        }
        let end = it.peek().map_or(s.len(), |&(i, _)| i);
        pairs.push((key, value, s[start..end].trim_end()));
    }
    Ok(pairs)
}

/// rustls' configuration for `sslmode` (with the `ring` provider).
fn client_config(
    sslmode: SslMode,
    sslrootcert: Option<&str>,
) -> Result<ClientConfig, ConnectError> {
    let mut provider = rustls::crypto::ring::default_provider();
    // PostgreSQL before 18 offers only P-256 for the key exchange (its `ssl_ecdh_curve`
    // defaults to prime256v1), so a first key share for X25519 is answered with a
    // HelloRetryRequest: one more round trip for every connection, which far from the
    // server costs the distance. P-256 first; the others stay offered.
    provider
        .kx_groups
        .sort_by_key(|group| group.name() != rustls::NamedGroup::secp256r1);
    let provider = Arc::new(provider);
    let verifier: Arc<dyn ServerCertVerifier> = match sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(EncryptOnly {
            provider: provider.clone(),
        }),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(sslrootcert)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| ConnectError::RootCert {
                    path: sslrootcert.unwrap_or("<built-in Supabase CAs>").to_owned(),
                    reason: e.to_string(),
                })?;
            if sslmode == SslMode::VerifyCa {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The roots: the certificates of the PEM file `sslrootcert`, else Supabase's.
fn roots(sslrootcert: Option<&str>) -> Result<RootCertStore, ConnectError> {
    let certs: Vec<CertificateDer<'static>> = match sslrootcert {
        Some(path) => {
            let bad = |reason: String| ConnectError::RootCert {
                path: path.to_owned(),
                reason,
            };
            CertificateDer::pem_file_iter(Path::new(path))
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?
        }
        None => SUPABASE_ROOTS
            .iter()
            .map(|pem| CertificateDer::from_pem_slice(pem))
            .collect::<Result<_, _>>()
            .expect("the built-in Supabase CAs are valid PEM"),
    };
    let mut store = RootCertStore::empty();
    let (_, unusable) = store.add_parsable_certificates(certs);
    if store.is_empty() {
        return Err(ConnectError::RootCert {
            path: sslrootcert.unwrap_or("<built-in Supabase CAs>").to_owned(),
            reason: format!("no usable certificate in it ({unusable} unusable)"),
        });
    }
    Ok(store)
}

/// `require` and `prefer`: any certificate is accepted (as libpq does), but the
/// handshake's signatures are still checked against it, so the session is encrypted to
/// whoever holds that certificate's key.
#[derive(Debug)]
struct EncryptOnly {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a root, the host name is not checked. The
/// WebPKI verifier checks the chain before the name, so a name error means the chain
/// was good.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Refuses a URL to Supabase's transaction-mode pooler (port 6543 of a Supabase host):
/// it hands each transaction to any server connection, which breaks the session state
/// `ava migrate` and `ava sync` rely on (advisory locks, `statement_timeout`, COPY).
/// Checked before connecting; the error names the session-mode URL (port 5432).
pub fn refuse_transaction_pooler(url: &str) -> Result<(), ConnectError> {
    // A URL that does not parse is no pooler's: connecting says what is wrong with it.
    let Ok((config, _)) = parse(url) else {
        return Ok(());
    };
    let ports = config.get_ports();
    let pooled = config.get_hosts().iter().enumerate().any(|(i, host)| {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        matches!(host, Host::Tcp(name) if port == 6543 && is_supabase(name))
    });
    if !pooled {
        return Ok(());
    }
    let mut session = tokio_postgres::Config::new();
    for host in config.get_hosts() {
        match host {
            Host::Tcp(name) => session.host(name).port(5432),
            Host::Unix(path) => session.host_path(path).port(5432),
        };
    }
    if let Some(user) = config.get_user() {
        session.user(user);
    }
    if let Some(password) = config.get_password() {
        session.password(password);
    }
    if let Some(db) = config.get_dbname() {
        session.dbname(db);
    }
    Err(ConnectError::TransactionPooler {
        url: crate::redact_config(&config),
        session_url: crate::redact_config(&session),
    })
}

fn is_supabase(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.ends_with(".supabase.com") || host.ends_with(".supabase.co")
}

/// How soon a vanished peer is noticed: TCP keepalive probes after [`KEEPALIVE_IDLE`]
/// of silence, every `KEEPALIVE_INTERVAL`, `KEEPALIVE_RETRIES` times — about a
/// minute — and unacknowledged data given up after `USER_TIMEOUT`. Without them a
/// Supabase connection whose network dropped would hang for the kernel's two hours.
pub const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(20);
pub const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
pub const KEEPALIVE_RETRIES: u32 = 4;
pub const USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sets ava's keepalive on `config`, unless the URL chose its own (`keepalives_idle`
/// differing from the driver's two-hour default, or `keepalives=0`).
fn keep_alive(config: &mut tokio_postgres::Config) {
    let untouched = config.get_keepalives()
        && config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60);
    if untouched {
        config
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(USER_TIMEOUT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(url: &str) -> SslMode {
        ConnectParams::from_url(url).unwrap().sslmode
    }

    #[test]
    fn default_sslmode_is_prefer_on_this_machine_and_require_elsewhere() {
        for url in [
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://postgres@127.0.0.2/postgres",
            "postgresql://postgres@localhost/postgres",
            "postgresql://postgres@[::1]:5432/postgres",
            "host=/var/run/postgresql user=postgres",
            "postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/postgres",
            "host=localhost,127.0.0.1 user=postgres",
        ] {
            assert_eq!(mode(url), SslMode::Prefer, "{url}");
        }
        for url in [
            "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres",
            "postgresql://postgres@10.0.0.5/postgres",
            "host=db.example.com user=postgres",
            "host=localhost,db.example.com user=postgres",
        ] {
            assert_eq!(mode(url), SslMode::Require, "{url}");
        }
    }

    #[test]
    fn sslmode_and_sslrootcert_are_read_from_urls_and_key_values() {
        let params = ConnectParams::from_url(
            "postgresql://u:p%3Fw@db.example.com/postgres?application_name=x&sslmode=verify-full&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(params.sslmode, SslMode::VerifyFull);
        assert_eq!(params.config.get_ssl_mode(), WireMode::Require);
        assert_eq!(params.config.get_application_name(), Some("x"));
        assert_eq!(
            params.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        assert_eq!(params.config.get_password(), Some(&b"p?w"[..]));

        let split = split_ssl_params(
            "postgresql://u:a?b@h/db?sslrootcert=%2Ftmp%2Fca.pem&sslmode=verify-ca",
        )
        .unwrap();
        assert_eq!(split.rest, "postgresql://u:a?b@h/db");
        assert_eq!(split.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(split.sslrootcert.as_deref(), Some("/tmp/ca.pem"));

        let split = split_ssl_params(
            "host=h sslmode = 'verify-full' password='s3 c\\'ret' sslrootcert=/a\\ b.pem dbname=d",
        )
        .unwrap();
        assert_eq!(split.rest, "host=h password='s3 c\\'ret' dbname=d");
        assert_eq!(split.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(split.sslrootcert.as_deref(), Some("/a b.pem"));

        assert_eq!(
            mode("postgresql://u@db.example.com/db?sslmode=disable"),
            SslMode::Disable
        );
        assert_eq!(mode("host=127.0.0.1 sslmode=require"), SslMode::Require);
        assert!(matches!(
            ConnectParams::from_url("postgresql://u@h/db?sslmode=allow"),
            Err(ConnectError::BadSslMode(m)) if m == "allow"
        ));
    }

    #[test]
    fn a_missing_root_file_is_named() {
        let Err(e) = ConnectParams::from_url(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        ) else {
            panic!("a missing sslrootcert was accepted");
        };
        assert!(e.to_string().contains("/nonexistent/ca.crt"), "{e}");
    }

    #[test]
    fn the_built_in_supabase_roots_load() {
        assert_eq!(roots(None).unwrap().len(), 2);
    }

    #[test]
    fn the_transaction_pooler_is_refused_with_the_session_url() {
        let e = refuse_transaction_pooler(
            "postgresql://postgres.abcd:s3cret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(
                "postgresql://postgres.abcd:***@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"
            ),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        for url in [
            "postgresql://postgres.abcd:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
            "postgresql://postgres:pw@db.abcd.supabase.co:5432/postgres",
            "postgresql://postgres@127.0.0.1:6543/postgres",
        ] {
            refuse_transaction_pooler(url).unwrap();
        }
        refuse_transaction_pooler("host=db.abcd.supabase.co port=6543 user=postgres").unwrap_err();
    }
}
