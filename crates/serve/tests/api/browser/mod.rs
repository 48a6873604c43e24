//! The dashboard (`GET /`) in a real headless Chromium, driven through chromedriver
//! (WebDriver, `fantoccini`), against a real server on seeded stores. Every selector is
//! from the dashboard's DOM contract; every check compares what the page shows with what
//! the JSON API answers for the same question, and waits by polling (never a bare sleep).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`); `.ci/run` installs them. `AVA_SCREENSHOTS_DIR` set: the
//! screenshot test saves a PNG of each page there.

use ava_serve::Tokens;

use crate::support::*;
use harness::*;

mod analytics;
mod call_detail;
mod calls;
mod customers;
mod every_page;
mod harness;
mod login;
mod overview;

/// The harness itself: chromedriver, headless Chromium and the server (no dashboard).
#[tokio::test]
async fn browser_reaches_the_server() {
    let (_dir, store) = {
        let dir = tempfile::tempdir().unwrap();
        let store = ava_api::store::SqliteStore::open(&dir.path().join("ava.db"), 2).unwrap();
        (dir, ava_api::Store::Sqlite(store))
    };
    let server = Server::start(store, Tokens::open()).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/health", server.base)).await;
    browser
        .wait_js(
            "the health answer",
            "return document.body.textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("\"healthy\"")),
        )
        .await;
}
