//! The admin dashboard `ava serve` serves at `/`: one static page (`assets/index.html`,
//! `app.css` and plain ES modules under `assets/`, charts drawn as inline SVG) that reads
//! only the JSON API of the same server. No build step, no npm, nothing fetched from
//! elsewhere: the files are embedded in the binary with `include_dir`, so the page works
//! offline and is always the one built with the API it reads.
//!
//! [`routes`] answers `GET /` with `index.html` and `GET /assets/{*path}` with the file,
//! its `Content-Type`, an `ETag` (the xxh3 hash of its bytes) and `Cache-Control`
//! (`no-cache` for the page, an hour then revalidate for the rest), and `304 Not
//! Modified` to a matching `If-None-Match`. The routes are open: the page is static and
//! its data requests carry the admin token.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// The page: revalidated at every load, so a new build shows at once.
const INDEX: &str = "index.html";
const INDEX_CACHE: &str = "no-cache";
/// Everything else: kept an hour, then revalidated by its `ETag`.
const ASSET_CACHE: &str = "public, max-age=3600, must-revalidate";
/// The page may load only its own files and talk only to its own server.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /` and `GET /assets/{*path}`, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    file(INDEX, &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    file(&path, &headers)
}

/// The embedded file at `path` (relative to `assets/`), or 404 `{"detail":"Not Found"}`.
fn file(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = ASSETS.get_file(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"detail":"Not Found"}"#,
        )
            .into_response();
    };
    let body = file.contents();
    let tag = etag(body);
    let page = path == INDEX;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("hex is a valid header value"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if page { INDEX_CACHE } else { ASSET_CACHE }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    if matches(request, &tag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    (headers, body).into_response()
}

/// A strong `ETag`: the quoted hex of the xxh3 hash of the bytes.
fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body))
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare by their value,
/// as RFC 9110 says for this header.
fn matches(request: &HeaderMap, tag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

/// The media type by extension. JavaScript is `text/javascript` (module scripts are
/// always UTF-8); HTML and CSS name their charset.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use include_dir::DirEntry;
    use tower::ServiceExt;

    async fn get(uri: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(uri);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(&name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    async fn body(response: Response) -> String {
        String::from_utf8(
            to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    /// Every embedded file, with its path under `assets/`.
    fn all_files() -> Vec<&'static include_dir::File<'static>> {
        fn walk(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
            for entry in dir.entries() {
                match entry {
                    DirEntry::Dir(d) => walk(d, out),
                    DirEntry::File(f) => out.push(f),
                }
            }
        }
        let mut files = Vec::new();
        walk(&ASSETS, &mut files);
        files
    }

    #[tokio::test]
    async fn the_page_is_served_at_the_root_revalidated_every_time() {
        let response = get("/", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
        let tag = header(&response, header::ETAG).to_string();
        assert_eq!(tag, etag(ASSETS.get_file(INDEX).unwrap().contents()));
        assert!(header(&response, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
        let page = body(response).await;
        assert!(page.contains(r#"<nav id="nav""#), "{page}");
        assert!(page.contains(r#"src="/assets/app.js""#), "{page}");
    }

    #[tokio::test]
    async fn assets_have_their_type_a_tag_and_an_hour_of_cache() {
        for (uri, kind) in [
            ("/assets/app.js", "text/javascript"),
            ("/assets/js/api.js", "text/javascript"),
            ("/assets/app.css", "text/css; charset=utf-8"),
            ("/assets/index.html", "text/html; charset=utf-8"),
        ] {
            let response = get(uri, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            assert_eq!(header(&response, header::CONTENT_TYPE), kind, "{uri}");
            let cache = if uri.ends_with(".html") {
                INDEX_CACHE
            } else {
                ASSET_CACHE
            };
            assert_eq!(header(&response, header::CACHE_CONTROL), cache, "{uri}");
            let tag = header(&response, header::ETAG).to_string();
            let text = body(response).await;
            assert_eq!(tag, etag(text.as_bytes()), "{uri}");
        }
    }

    #[tokio::test]
    async fn a_matching_if_none_match_is_not_modified() {
        let tag = header(&get("/assets/app.css", None).await, header::ETAG).to_string();
        for sent in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"0000000000000000\", {tag}"),
            "*".to_string(),
        ] {
            let response = get("/assets/app.css", Some(&sent)).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{sent}");
            assert_eq!(header(&response, header::ETAG), tag);
            assert_eq!(header(&response, header::CACHE_CONTROL), ASSET_CACHE);
            assert!(body(response).await.is_empty());
        }
        let page_tag = header(&get("/", None).await, header::ETAG).to_string();
        let response = get("/", Some(&page_tag)).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&response, header::CACHE_CONTROL), INDEX_CACHE);
        // Another file's tag, or a stale one, gets the whole file.
        for stale in [page_tag.as_str(), "\"0000000000000000\""] {
            let response = get("/assets/app.css", Some(stale)).await;
            assert_eq!(response.status(), StatusCode::OK, "{stale}");
        }
    }

    #[tokio::test]
    async fn an_unknown_asset_is_a_json_404() {
        for uri in [
            "/assets/nope.js",
            "/assets/js",
            "/assets/../Cargo.toml",
            "/assets/js/../../src/lib.rs",
        ] {
            let response = get(uri, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(header(&response, header::CONTENT_TYPE), "application/json");
            assert_eq!(body(response).await, r#"{"detail":"Not Found"}"#);
        }
    }

    #[test]
    fn tags_follow_the_content() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
        assert_eq!(etag(b"").len(), 18);
    }

    #[test]
    fn every_asset_has_a_known_type_and_nothing_from_elsewhere() {
        let files = all_files();
        assert!(files.len() >= 4);
        for file in files {
            let path = file.path().to_str().unwrap();
            assert_ne!(content_type(path), "application/octet-stream", "{path}");
            let text = file.contents_utf8().unwrap_or("");
            for outside in ["http:", "https:", "//cdn", "@import"] {
                assert!(!text.contains(outside), "{path} mentions {outside}");
            }
        }
    }

    /// Every relative `import … from './x.js'` names an embedded module.
    #[test]
    fn module_imports_resolve() {
        for file in all_files() {
            let path = file.path().to_str().unwrap();
            if !path.ends_with(".js") {
                continue;
            }
            let dir = file.path().parent().unwrap();
            let text = file.contents_utf8().unwrap();
            for spec in text.split(" from '").skip(1) {
                let spec = &spec[..spec.find('\'').unwrap()];
                assert!(
                    spec.starts_with("./") || spec.starts_with("../"),
                    "{path}: {spec}"
                );
                let mut target = dir.to_path_buf();
                for part in spec.split('/') {
                    match part {
                        "." => {}
                        ".." => {
                            target.pop();
                        }
                        name => target.push(name),
                    }
                }
                assert!(
                    ASSETS.get_file(&target).is_some(),
                    "{path} imports {spec}, which is not embedded"
                );
            }
        }
    }
}
