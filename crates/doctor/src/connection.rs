//! Where the URL points (a Supabase pooler, direct, local, other) and whether the
//! connection is encrypted.

use std::net::IpAddr;
use std::str::FromStr;

use crate::report::Checks;

/// Where the URL points, told from its host and port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `*.pooler.supabase.com:6543` (Supavisor) or `db.<ref>.supabase.co:6543` (the
    /// dedicated pooler): a server connection per transaction, so the session state
    /// migrate and sync rely on (advisory locks, settings) does not survive.
    TransactionPooler,
    /// `*.pooler.supabase.com:5432`.
    SessionPooler,
    /// `db.<ref>.supabase.co`, on any port but 6543.
    Direct,
    /// A loopback address, `localhost` or a Unix socket.
    Local,
    Other,
}

/// The kind of connection to `host` (a name, an address or a socket directory) at `port`.
pub fn kind(host: &str, port: u16) -> Kind {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if host.ends_with(".pooler.supabase.com") {
        return match port {
            6543 => Kind::TransactionPooler,
            5432 => Kind::SessionPooler,
            _ => Kind::Other,
        };
    }
    let direct = host
        .strip_prefix("db.")
        .and_then(|rest| rest.strip_suffix(".supabase.co"))
        .is_some_and(|project| !project.is_empty() && !project.contains('.'));
    if direct && port == 6543 {
        Kind::TransactionPooler
    } else if direct {
        Kind::Direct
    } else if host == "localhost"
        || host.starts_with('/')
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
    {
        Kind::Local
    } else {
        Kind::Other
    }
}

/// The kind of the URL's first host, and `host:port` for the report; `None` when the
/// URL does not parse (connecting then says why).
pub(crate) fn kind_of(url: &str) -> Option<(Kind, String)> {
    let config = ava_sink::ConnectParams::from_url(url).ok()?.config;
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(name) => name.clone(),
        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Some((kind(&host, port), format!("{host}:{port}")))
}

pub(crate) fn connection_kind(report: &mut Checks<'_>, kind: Kind, at: &str) {
    match kind {
        Kind::TransactionPooler => report.fail(
            "connection",
            format!("connection: Supabase transaction pooler ({at})"),
            "ava migrate and ava sync need one session throughout: use port 5432 on the same \
             host (the session pooler), or the direct connection db.<project>.supabase.co:5432",
        ),
        Kind::SessionPooler => report.fine(
            "connection",
            format!("connection: Supabase session pooler ({at})"),
        ),
        Kind::Direct => report.fine("connection", format!("connection: Supabase direct ({at})")),
        Kind::Local => report.fine("connection", format!("connection: local ({at})")),
        Kind::Other => report.fine("connection", format!("connection: other ({at})")),
    }
}

/// TLS as the server sees this connection.
pub(crate) async fn tls(report: &mut Checks<'_>, target: &ava_sink::Target, kind: Option<Kind>) {
    let row = target
        .client_ref()
        .query_opt(
            "select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await;
    let fix = "add sslmode=require to the URL (verify-full also checks the server's \
               certificate), and in Supabase switch on Database → SSL enforcement (\"Enforce \
               SSL on incoming connections\")";
    match row {
        Ok(Some(row)) if row.get::<_, bool>(0) => {
            let version: Option<String> = row.get(1);
            let cipher: Option<String> = row.get(2);
            let version = version.unwrap_or_default();
            let what = format!("TLS: {version} ({})", cipher.unwrap_or_default());
            if matches!(version.as_str(), "TLSv1.2" | "TLSv1.3") {
                report.fine("tls", what);
            } else {
                report.warn("tls", what, "the server should offer TLS 1.2 or newer");
            }
        }
        Ok(_) if kind == Some(Kind::Local) => report.fine(
            "tls",
            "TLS: not in use (a local connection: nothing leaves this machine)",
        ),
        Ok(_) => report.fail(
            "tls",
            "TLS: not in use: the password and the data cross the network in plain text",
            fix,
        ),
        Err(e) => report.warn(
            "tls",
            format!("TLS: {}", target.error("reading pg_stat_ssl", e)),
            fix,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{kind, kind_of, Kind};

    #[test]
    fn supabase_poolers_by_port() {
        let pooler = "aws-0-eu-central-1.pooler.supabase.com";
        assert_eq!(kind(pooler, 6543), Kind::TransactionPooler);
        assert_eq!(kind(pooler, 5432), Kind::SessionPooler);
        assert_eq!(
            kind("AWS-0-US-EAST-1.Pooler.Supabase.com.", 6543),
            Kind::TransactionPooler
        );
        assert_eq!(kind(pooler, 6000), Kind::Other);
        assert_eq!(kind("pooler.supabase.com.evil.example", 6543), Kind::Other);
    }

    #[test]
    fn supabase_direct() {
        assert_eq!(kind("db.abcdefghijklmnop.supabase.co", 5432), Kind::Direct);
        assert_eq!(kind("DB.abcdefghijklmnop.SUPABASE.CO", 5432), Kind::Direct);
        assert_eq!(kind("db..supabase.co", 5432), Kind::Other);
        assert_eq!(kind("db.a.b.supabase.co", 5432), Kind::Other);
        assert_eq!(kind("db.abc.supabase.co.evil.example", 5432), Kind::Other);
        assert_eq!(kind("abc.supabase.co", 5432), Kind::Other);
        // The dedicated pooler of the same host.
        assert_eq!(
            kind("db.abcdefghijklmnop.supabase.co", 6543),
            Kind::TransactionPooler
        );
    }

    #[test]
    fn loopback_and_sockets_are_local() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert_eq!(kind(host, 5432), Kind::Local, "{host}");
        }
        for host in [
            "10.0.0.5",
            "192.168.1.2",
            "example.com",
            "localhost.example.com",
        ] {
            assert_eq!(kind(host, 5432), Kind::Other, "{host}");
        }
    }

    #[test]
    fn kind_of_reads_the_first_host_and_port_of_any_spelling() {
        let at = kind_of;
        assert_eq!(
            at("postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"),
            Some((
                Kind::TransactionPooler,
                "aws-0-eu-central-1.pooler.supabase.com:6543".into()
            ))
        );
        assert_eq!(
            at("host=db.ref.supabase.co user=postgres password=pw dbname=postgres"),
            Some((Kind::Direct, "db.ref.supabase.co:5432".into()))
        );
        assert_eq!(
            at("postgresql://u@localhost/db"),
            Some((Kind::Local, "localhost:5432".into()))
        );
        assert_eq!(
            at("postgresql://u@db.ref.supabase.co:6543/postgres?sslmode=verify-full"),
            Some((Kind::TransactionPooler, "db.ref.supabase.co:6543".into()))
        );
        assert_eq!(at("postgresql://u:pw@h:54x2/db"), None);
    }
}
