//! Supabase logins: a JWT issued by Supabase Auth, sent as `Authorization: Bearer <jwt>`
//! on the admin routes. Verified with `jsonwebtoken` (pure-Rust crypto): the signature
//! (HS256 with the project's JWT secret, RS256/ES256 with a key of the project's JWKS),
//! `exp` and `nbf` (with [`LEEWAY`]), the audience `authenticated`, and the role in
//! `app_metadata.role`, which must be one of [`ROLES`].
//!
//! A JWKS is a file or a URL (`https://`, or `http://` on loopback). A URL is fetched
//! once at start and again when a token names a key id the set does not hold — at most
//! once per [`REFETCH_EVERY`], so unknown ids cannot make the server hammer it.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Seconds of clock skew allowed on `exp` and `nbf`.
pub const LEEWAY: u64 = 30;
/// The audience Supabase gives a signed-in user's token.
pub const AUDIENCE: &str = "authenticated";
/// The `app_metadata.role`s that may read the admin API.
pub const ROLES: [&str; 2] = ["staff", "owner"];
/// How often a JWKS URL may be fetched again for an unknown key id.
pub const REFETCH_EVERY: Duration = Duration::from_secs(60);

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a valid token: 401 with this detail.
    Invalid(&'static str),
    /// A valid token without an admin role: 403 with this detail.
    Forbidden(&'static str),
}

/// Why the verifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot fetch the JWKS at {url}: {source}")]
    Fetch { url: String, source: reqwest::Error },
    #[error("the JWKS at {at} is not a JSON Web Key Set: {source}")]
    Parse {
        at: String,
        source: serde_json::Error,
    },
    #[error("the JWKS URL {0} must be https:// (http:// only on loopback)")]
    Insecure(String),
}

/// Where the public keys come from.
enum Source {
    File,
    Url {
        url: String,
        http: reqwest::Client,
        /// When the set was last fetched.
        fetched: tokio::sync::Mutex<Instant>,
    },
}

struct Jwks {
    source: Source,
    keys: RwLock<JwkSet>,
}

/// Checks Supabase JWTs.
pub struct Verifier {
    secret: Option<DecodingKey>,
    jwks: Option<Jwks>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("jwks", &self.jwks.as_ref().map(|j| j.keys().keys.len()))
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    app_metadata: Option<AppMetadata>,
}

#[derive(Deserialize)]
struct AppMetadata {
    #[serde(default)]
    role: Option<serde_json::Value>,
}

impl Verifier {
    /// A verifier for HS256 tokens signed with `secret` and/or RS256/ES256 tokens signed
    /// by a key of the JWKS at `jwks` (a file path or a URL, fetched now); `None` when
    /// neither is given.
    pub async fn new(
        secret: Option<&str>,
        jwks: Option<&str>,
    ) -> Result<Option<Verifier>, JwksError> {
        let secret = secret
            .filter(|s| !s.is_empty())
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        let jwks = match jwks.filter(|s| !s.is_empty()) {
            None => None,
            Some(at) if at.starts_with("https://") || at.starts_with("http://") => {
                if !secure(at) {
                    return Err(JwksError::Insecure(at.to_string()));
                }
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|source| JwksError::Fetch {
                        url: at.to_string(),
                        source,
                    })?;
                let keys = fetch(&http, at).await?;
                Some(Jwks {
                    source: Source::Url {
                        url: at.to_string(),
                        http,
                        fetched: tokio::sync::Mutex::new(Instant::now()),
                    },
                    keys: RwLock::new(keys),
                })
            }
            Some(path) => {
                let text = std::fs::read(path).map_err(|source| JwksError::Read {
                    path: path.into(),
                    source,
                })?;
                let keys = serde_json::from_slice(&text).map_err(|source| JwksError::Parse {
                    at: path.to_string(),
                    source,
                })?;
                Some(Jwks {
                    source: Source::File,
                    keys: RwLock::new(keys),
                })
            }
        };
        Ok((secret.is_some() || jwks.is_some()).then_some(Verifier { secret, jwks }))
    }

    /// Checks `token`: signature, expiry, audience and role.
    pub async fn check(&self, token: &str) -> Result<(), Refusal> {
        const BAD: Refusal = Refusal::Invalid("Invalid token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| BAD)?;
        let key = match header.alg {
            Algorithm::HS256 => self.secret.clone().ok_or(BAD)?,
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self.jwks.as_ref().ok_or(BAD)?;
                jwks.key(header.kid.as_deref()).await.ok_or(BAD)?
            }
            _ => return Err(BAD),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        // `nbf` when present (not required: Supabase's tokens carry none).
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Refusal::Invalid("Token expired"),
                ErrorKind::ImmatureSignature => Refusal::Invalid("Token not yet valid"),
                ErrorKind::InvalidAudience => Refusal::Invalid("Token not for this audience"),
                _ => BAD,
            })?
            .claims;
        let role = claims
            .app_metadata
            .and_then(|m| m.role)
            .and_then(|r| r.as_str().map(str::to_owned));
        if role.is_some_and(|r| ROLES.contains(&r.as_str())) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(
                "This account may not read the analytics (needs the staff or owner role)",
            ))
        }
    }
}

/// `https://`, or `http://` to a loopback host.
fn secure(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    reqwest::Url::parse(url).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<JwkSet, JwksError> {
    let fetch_error = |source| JwksError::Fetch {
        url: url.to_string(),
        source,
    };
    let body = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fetch_error)?
        .bytes()
        .await
        .map_err(fetch_error)?;
    serde_json::from_slice(&body).map_err(|source| JwksError::Parse {
        at: url.to_string(),
        source,
    })
}

impl Jwks {
    fn keys(&self) -> std::sync::RwLockReadGuard<'_, JwkSet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key `kid` names (no `kid`: the set's only key), fetching the set again for an
    /// unknown id when it comes from a URL and was not fetched in the last minute.
    async fn key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        if let Some(key) = self.find(kid) {
            return Some(key);
        }
        let Source::Url { url, http, fetched } = &self.source else {
            return None;
        };
        kid?;
        {
            let mut fetched = fetched.lock().await;
            // Someone else may have fetched it while this one waited.
            if let Some(key) = self.find(kid) {
                return Some(key);
            }
            if fetched.elapsed() < REFETCH_EVERY {
                return None;
            }
            *fetched = Instant::now();
            match fetch(http, url).await {
                Ok(keys) => *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys,
                Err(e) => tracing::warn!("{e}"),
            }
        }
        self.find(kid)
    }

    fn find(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let keys = self.keys();
        let jwk = match kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }?;
        DecodingKey::from_jwk(jwk).ok()
    }
}
