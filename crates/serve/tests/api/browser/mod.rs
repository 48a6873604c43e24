//! The dashboard (`GET /`) in a real headless Chromium, driven through chromedriver
//! (WebDriver, `fantoccini`), against a real server on seeded stores. Every selector is
//! from the dashboard's DOM contract; every check compares what the page shows with what
//! the JSON API answers for the same question, and waits by polling (never a bare sleep).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`); `.ci/run` installs them. `AVA_SCREENSHOTS_DIR` set: the
//! screenshot test saves a PNG of each page there.

use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ava_serve::{AppState, Tokens};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::*;

mod analytics;
mod customers;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition may take to hold.
const WAIT: Duration = Duration::from_secs(8);
/// How often it is checked.
const POLL: Duration = Duration::from_millis(50);
/// The call log's page size.
const PAGE_SIZE: usize = 25;

/// `chromedriver --port=…`, killed (with its browser) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        for (path, what) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")] {
            assert!(
                Path::new(path).exists(),
                "the browser tests need {what} at {path}: run `apt-get install chromium \
                 chromium-driver` (as root; .ci/run does it on a fresh machine)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {CHROMEDRIVER}: {e}; run `apt-get install chromium \
                     chromium-driver`"
                )
            });
        let mut driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("{CHROMEDRIVER} exited at start ({status}): is chromium-driver installed?");
            }
            assert!(
                Instant::now() < deadline,
                "{CHROMEDRIVER} did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }

    /// Ends a WebDriver session with a plain blocking `DELETE`, so that a test that
    /// panics still closes its browser.
    fn delete_session(&self, session: &str) {
        self.request("DELETE", &format!("/session/{session}"), "");
    }

    /// The browser's console since the last call (chromedriver's log extension), for
    /// the message of a failed wait.
    fn console(&self, session: &str) -> String {
        let answer = self.request(
            "POST",
            &format!("/session/{session}/se/log"),
            r#"{"type":"browser"}"#,
        );
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let Ok(log) = serde_json::from_str::<Value>(body) else {
            return answer;
        };
        log["value"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| format!("{} {}", l["level"], l["message"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// One blocking HTTP/1.1 request to chromedriver; the raw answer.
    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return String::new();
        }
        // Read the head, then as many bytes as it announces (chromedriver may keep the
        // connection open, so reading to the end would wait for the timeout).
        let mut answer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]);
                let length = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok());
                if length.is_none_or(|n| answer.len() - end - 4 >= n) {
                    break;
                }
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium session (and its chromedriver).
struct Browser {
    client: Client,
    session: Option<String>,
    driver: Driver,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = &self.session {
            self.driver.delete_session(session);
        }
    }
}

impl Browser {
    async fn start() -> Browser {
        let driver = Driver::start();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start {CHROMIUM}: {e}; run `apt-get install \
                     chromium chromium-driver`"
                )
            });
        let session = client.session_id().await.unwrap();
        Browser {
            client,
            session,
            driver,
        }
    }

    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until `ready` holds of its answer; the answer. Panics after
    /// [`WAIT`] naming `what` and the last answer.
    async fn wait_js(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_js_for(WAIT, what, script, args, ready).await
    }

    async fn wait_js_for(
        &self,
        wait: Duration,
        what: &str,
        script: &str,
        args: Vec<Value>,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let value = self
                .client
                .execute(script, args.clone())
                .await
                .unwrap_or(Value::Null);
            if ready(&value) {
                return value;
            }
            if Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let page = self.client.execute(PAGE_STATE, vec![]).await;
                let console = self
                    .session
                    .as_deref()
                    .map(|s| self.driver.console(s))
                    .unwrap_or_default();
                panic!(
                    "timed out after {wait:?} waiting for {what}; last seen: {value}; at {url:?}; \
                     the page: {page:?}; the console:\n{console}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` answers `expected`.
    async fn wait_eq(&self, what: &str, script: &str, args: Vec<Value>, expected: &Value) {
        self.wait_js(what, script, args, |v| v == expected).await;
    }

    /// Waits for an element matching `css` to be present.
    async fn wait_present(&self, css: &str) {
        self.wait_js(
            &format!("`{css}` present"),
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
            |v| v == &json!(true),
        )
        .await;
    }

    /// Waits for an element matching `css` to be present and visible.
    async fn wait_visible(&self, css: &str) {
        self.wait_js(
            &format!("`{css}` visible"),
            "const e = document.querySelector(arguments[0]); \
             return e !== null && e.checkVisibility();",
            vec![json!(css)],
            |v| v == &json!(true),
        )
        .await;
    }

    /// Waits for `css`, then clicks it the way a user does (WebDriver click).
    async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find `{css}`: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Waits until `css` is present and hidden (or gone).
    async fn wait_hidden(&self, css: &str) {
        self.wait_eq(
            &format!("`{css}` hidden"),
            "const e = document.querySelector(arguments[0]); \
             return e === null || !e.checkVisibility();",
            vec![json!(css)],
            &json!(true),
        )
        .await;
    }

    /// Waits until `css` is visible and `ready` holds of its text (`what` says what is
    /// awaited); the text.
    async fn wait_text(&self, css: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let text = self
            .wait_js(
                &format!("{css} {what}"),
                "const e = document.querySelector(arguments[0]); \
                 return e && e.checkVisibility() && e.textContent;",
                vec![json!(css)],
                |v| v.as_str().is_some_and(&ready),
            )
            .await;
        text.as_str().unwrap().to_string()
    }

    /// Waits until the form field `css` has the value `value`.
    async fn wait_value(&self, what: &str, css: &str, value: &str) {
        self.wait_eq(
            what,
            "const e = document.querySelector(arguments[0]); return e && e.value;",
            vec![json!(css)],
            &json!(value),
        )
        .await;
    }

    /// Waits until the page has a `main h2` saying `heading`.
    async fn wait_heading(&self, heading: &str) {
        self.wait_js(
            &format!("the heading {heading:?}"),
            "return [...document.querySelectorAll('main h2')].map(e => e.textContent);",
            vec![],
            |v| v.as_array().is_some_and(|a| a.contains(&json!(heading))),
        )
        .await;
    }

    /// Clears the input `css` and types `text` (no Enter).
    async fn fill(&self, css: &str, text: &str) {
        self.wait_visible(css).await;
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Clears the input `css` and types `text`, then Enter.
    async fn type_enter(&self, css: &str, text: &str) {
        self.fill(css, &format!("{text}{}", char::from(Key::Enter)))
            .await;
    }

    /// Chooses the option `value` of the select `css`.
    async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find `{css}`: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} in `{css}`: {e}"));
    }

    /// The page's URL.
    async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The hash part of the page's URL (without its `#`).
    async fn hash(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.fragment().unwrap_or("").to_string()
    }

    /// What the page keeps as its admin token for the tab (`null` when none).
    async fn stored_token(&self) -> Value {
        self.js("return sessionStorage.getItem('ava.adminToken');", vec![])
            .await
    }

    /// Asserts the page (`what`) is no wider than the window, and the window phone-sized.
    async fn assert_fits_phone(&self, what: &str) {
        let widths = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        assert!(inner <= 400, "the window is phone-sized: {widths}");
        assert!(
            scroll <= inner,
            "{what} overflows horizontally at phone width: scrollWidth {scroll} > innerWidth {inner}"
        );
    }

    /// The value of attribute `attr` on every element matching `css`, in order.
    async fn attrs(&self, css: &str, attr: &str) -> Value {
        self.js(ATTRS, vec![json!(css), json!(attr)]).await
    }

    /// Waits until attribute `attr` of the elements matching `css` reads `expected`
    /// (an array), in order.
    async fn wait_attrs(&self, what: &str, css: &str, attr: &str, expected: &Value) {
        self.wait_eq(what, ATTRS, vec![json!(css), json!(attr)], expected)
            .await;
    }

    /// The texts of every element matching `css`, in order.
    async fn texts(&self, css: &str) -> Vec<String> {
        let texts = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(texts).unwrap()
    }

    /// Sends a DevTools command to the page (chromedriver's `goog/cdp/execute`); its result.
    fn cdp(&self, command: &str, params: Value) -> Value {
        let session = self.session.as_deref().expect("a session");
        let answer = self.driver.request(
            "POST",
            &format!("/session/{session}/goog/cdp/execute"),
            &json!({"cmd": command, "params": params}).to_string(),
        );
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let reply: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {answer}"));
        assert!(
            reply["value"].get("error").is_none(),
            "{command} {params}: {reply}"
        );
        reply["value"].clone()
    }

    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("AVA_SCREENSHOTS_DIR") else {
            return;
        };
        // The heading a page focuses would show its focus ring in the picture.
        self.js("document.activeElement?.blur();", vec![]).await;
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

/// What a failed wait reports of the page: the alerts and the start of `main`.
const PAGE_STATE: &str = "const a = document.querySelector('#alerts'); \
    const m = document.querySelector('main'); \
    return {alerts: a && a.outerHTML.slice(0, 500), main: m && m.outerHTML.slice(0, 1500)};";

const ATTRS: &str =
    "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]));";

/// The overview's cards.
const METRICS: [&str; 8] = [
    "total_calls",
    "total_talk_time_hours",
    "avg_call_duration_minutes",
    "appointments_booked",
    "conversion_rate",
    "avg_satisfaction_score",
    "calls_escalated",
    "escalation_rate",
];

/// Whether the page's `data-value`s equal the API's numbers (as numbers: JSON's `0.0`
/// and JavaScript's `0` are the same value).
fn cards_match(cards: &Value, api: &Value) -> bool {
    METRICS.iter().all(|m| {
        let shown = cards[*m]
            .as_str()
            .and_then(|s| s.trim().parse::<f64>().ok());
        shown.is_some() && shown == api[*m].as_f64()
    })
}

const CARDS: &str = "const out = {}; \
    for (const e of document.querySelectorAll('[data-metric]')) \
        out[e.getAttribute('data-metric')] = e.getAttribute('data-value'); \
    return out;";

/// The ids of a list answer's items under `key`, as the page's `data-*-id` text.
fn ids(body: &Value, key: &str) -> Value {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .iter()
        .map(|c| json!(c["id"].as_i64().unwrap().to_string()))
        .collect()
}

/// `GET path?query` on `server`, asserting a 200; the body.
async fn api(server: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let url = reqwest::Url::parse_with_params(&format!("{}{path}", server.base), query).unwrap();
    let reply = server.send(server.http.get(url)).await;
    assert_eq!(reply.status, 200, "{path} {query:?}: {}", reply.text);
    reply.body
}

async fn overview(server: &Server, period: &str) -> Value {
    api(server, "/api/admin/metrics/overview", &[("period", period)]).await
}

/// Waits until the overview's cards show `expected` for the active period `period`.
async fn wait_cards(browser: &Browser, period: &str, expected: &Value) {
    browser
        .wait_present(&format!(
            "button[data-period=\"{period}\"][aria-pressed=\"true\"]"
        ))
        .await;
    browser
        .wait_js(
            &format!("the {period} cards to equal the API's {expected}"),
            CARDS,
            vec![],
            |cards| cards_match(cards, expected),
        )
        .await;
}

/// `calls` seeded calls (seed `seed`), a server without tokens on the copy `store` picks
/// (`Stores::pg_store` or `Stores::sqlite_store`), and a browser.
async fn open(
    calls: u64,
    seed: u64,
    store: fn(&Stores) -> ava_api::Store,
) -> (Stores, Server, Browser) {
    let stores = Stores::seeded(calls, seed).await;
    let server = Server::start(store(&stores), Tokens::open()).await;
    let browser = Browser::start().await;
    (stores, server, browser)
}

/// The first integer of `sql` on the Postgres copy.
async fn pg_id(stores: &Stores, sql: &str) -> i64 {
    let client = stores.pg.client().await;
    let row = client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.get(0)
}

#[tokio::test]
async fn overview_shows_the_apis_numbers_for_each_period() {
    // 2,500 calls spread over 10 days: today, the week and the month all differ.
    let (_stores, server, browser) = open(2_500, 41, Stores::pg_store).await;
    let periods = ["today", "week", "month"];
    let mut expected = Vec::new();
    for period in periods {
        expected.push(overview(&server, period).await);
    }
    let totals: Vec<&Value> = expected.iter().map(|e| &e["total_calls"]).collect();
    assert!(
        totals[0] != totals[1] && totals[1] != totals[2],
        "the seed should give three different periods: {totals:?}"
    );

    browser.goto(&format!("{}/", server.base)).await;
    // Default: today.
    wait_cards(&browser, "today", &expected[0]).await;
    browser.wait_present("main#main[aria-busy=\"false\"]").await;
    for link in [
        "#/",
        "#/trends",
        "#/calls",
        "#/analytics",
        "#/customers",
        "#/appointments",
    ] {
        browser
            .wait_present(&format!("nav#nav a[href=\"{link}\"]"))
            .await;
    }
    browser
        .wait_present("nav#nav a[href=\"#/\"][aria-current=\"page\"]")
        .await;
    let zone = browser.texts("#timezone").await;
    assert!(
        zone.len() == 1 && !zone[0].trim().is_empty(),
        "#timezone: {zone:?}"
    );

    for (period, expected) in [
        ("week", &expected[1]),
        ("month", &expected[2]),
        ("today", &expected[0]),
    ] {
        browser
            .click(&format!("button[data-period=\"{period}\"]"))
            .await;
        wait_cards(&browser, period, expected).await;
        let pressed = browser.attrs("button[data-period]", "aria-pressed").await;
        let active: Vec<_> = pressed
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.as_str() == Some("true"))
            .collect();
        assert_eq!(active.len(), 1, "one period pressed: {pressed}");
    }

    // The recent calls: the API's ten most recent, in its order, each linking to its call.
    let recent = api(&server, "/api/admin/calls", &[("page_size", "10")]).await;
    let recent_ids = ids(&recent, "calls");
    browser
        .wait_attrs(
            "the recent calls",
            "table#recent-calls tbody tr[data-call-id]",
            "data-call-id",
            &recent_ids,
        )
        .await;
    for id in recent_ids.as_array().unwrap() {
        let id = id.as_str().unwrap();
        browser
            .wait_present(&format!(
                "table#recent-calls tr[data-call-id=\"{id}\"] a[href=\"#/calls/{id}\"]"
            ))
            .await;
    }
}

const ROW_IDS: &str = "table#calls-table tbody tr[data-call-id]";

/// Waits until a list page's `#NAME-total` (`list` is `calls` or `customers`) says `total`.
async fn wait_total(browser: &Browser, what: &str, list: &str, total: i64) {
    let css = format!("#{list}-total");
    browser
        .wait_eq(
            &format!("{what}: {css}"),
            "const e = document.querySelector(arguments[0]); \
             return e === null ? null : e.getAttribute('data-value');",
            vec![json!(css)],
            &json!(total.to_string()),
        )
        .await;
}

/// Waits until a list page's pager says it shows page `page` of `pages`.
async fn wait_page_info(browser: &Browser, page: impl Display, pages: impl Display) {
    browser
        .wait_eq(
            &format!("#page-info on page {page}"),
            "const e = document.querySelector('#page-info'); \
             return e === null ? null : e.textContent.trim().replace(/\\s+/g, ' ');",
            vec![],
            &json!(format!("Page {page} of {pages}")),
        )
        .await;
}

/// Four letters from inside the first plain ASCII word of five letters or more in
/// `names`, in capitals: a search that has to ignore case.
fn inner_capitals(names: &[String]) -> String {
    let word = names
        .iter()
        .flat_map(|n| n.split_whitespace())
        .find(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .unwrap_or_else(|| panic!("no plain ASCII name in {names:?}"));
    word[1..5].to_uppercase()
}

/// Waits until the call log shows `body` (an API answer): its total and its rows in order.
async fn wait_log(browser: &Browser, what: &str, body: &Value) {
    wait_total(browser, what, "calls", body["total"].as_i64().unwrap()).await;
    browser
        .wait_attrs(
            &format!("{what}: the rows"),
            ROW_IDS,
            "data-call-id",
            &ids(body, "calls"),
        )
        .await;
}

#[tokio::test]
async fn call_log_searches_pages_and_sorts_like_the_api() {
    let (stores, server, browser) = open(300, 42, Stores::pg_store).await;
    let size = PAGE_SIZE.to_string();
    let all = api(&server, "/api/admin/calls", &[("page_size", &size)]).await;
    let total = all["total"].as_i64().unwrap();

    browser.goto(&format!("{}/#/calls", server.base)).await;
    wait_log(&browser, "the first page", &all).await;
    browser.wait_present("label[for=\"search\"]").await;

    // Each row's score: the API's exactly in `data-value`, shown to two decimals at most.
    let scores = browser
        .js(
            "return [...document.querySelectorAll(arguments[0])] \
             .map(td => [td.getAttribute('data-value'), td.textContent]);",
            vec![json!(format!("{ROW_IDS} td.score"))],
        )
        .await;
    let scores = scores.as_array().unwrap();
    let calls = all["calls"].as_array().unwrap();
    assert_eq!(scores.len(), calls.len());
    for (shown, call) in scores.iter().zip(calls) {
        let (value, text) = (shown[0].as_str().unwrap(), shown[1].as_str().unwrap());
        match call["satisfaction_score"].as_f64() {
            None => assert_eq!((value, text), ("null", "—"), "{call}"),
            Some(score) => {
                assert_eq!(value.parse::<f64>().unwrap(), score, "{call}");
                let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 2, "{text:?} for {score}");
                let rounded: f64 = text.replace(',', "").parse().unwrap();
                assert!(
                    (rounded - score).abs() <= 0.005 + 1e-9,
                    "{text:?} for {score}"
                );
            }
        }
    }

    // Search by a phone fragment: the total drops to the API's; every phone has it.
    let phone = pg_texts(
        &stores,
        "select phone_number from call_sessions where phone_number is not null \
         and length(phone_number) >= 4 order by id limit 1",
    )
    .await
    .remove(0);
    let fragment = &phone[phone.len() - 4..];
    let found = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("search", fragment)],
    )
    .await;
    let found_total = found["total"].as_i64().unwrap();
    assert!(
        0 < found_total && found_total < total,
        "{fragment}: {found_total} of {total}"
    );
    browser.type_enter("input#search", fragment).await;
    wait_log(&browser, &format!("search {fragment:?}"), &found).await;
    for text in browser.texts(&format!("{ROW_IDS} td.phone")).await {
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        assert!(
            text.contains(fragment) || digits.contains(fragment),
            "a row's phone {text:?} lacks {fragment:?}"
        );
    }
    assert!(
        browser.hash().await.contains(&format!("search={fragment}")),
        "the search lives in the hash"
    );

    // Search by a customer-name fragment in upper case: the same total as the API's,
    // and each row's customer named as the API names it.
    let names = pg_texts(
        &stores,
        "select c.name from customers c where exists \
         (select 1 from call_sessions s where s.customer_id = c.id) order by c.id",
    )
    .await;
    let upper = inner_capitals(&names);
    let named = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("search", &upper)],
    )
    .await;
    let named_total = named["total"].as_i64().unwrap();
    assert!(named_total > 0, "{upper}: no calls");
    browser.type_enter("input#search", &upper).await;
    wait_total(&browser, &format!("search {upper:?}"), "calls", named_total).await;
    let shown = browser.texts(&format!("{ROW_IDS} td.customer")).await;
    let expected: Vec<String> = named["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(shown, expected, "the rows name their customers");
    assert!(
        shown.iter().any(|n| n.to_uppercase().contains(&upper)),
        "{shown:?}"
    );

    // "Download CSV": every call of the search, in the screen's order, as the export
    // route sends it (the file's bytes are caught as the page hands them to the browser).
    browser
        .js(
            "window.__csv = null; const make = URL.createObjectURL; \
             URL.createObjectURL = (blob) => { blob.text().then((t) => { window.__csv = t; }); \
             return make(blob); };",
            vec![],
        )
        .await;
    browser.click("button#download-csv").await;
    let downloaded = browser
        .wait_js("the downloaded CSV", "return window.__csv;", vec![], |v| {
            v.is_string()
        })
        .await;
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/admin/calls/export.csv", server.base),
        &[
            ("search", upper.as_str()),
            ("sort_by", "started_at"),
            ("sort_order", "desc"),
        ],
    )
    .unwrap();
    let exported = server.send(server.http.get(url)).await;
    assert_eq!(exported.status, 200, "{}", exported.text);
    assert_eq!(
        downloaded,
        json!(exported.text),
        "the download is the export"
    );
    assert_eq!(
        exported.text.matches("\r\n").count() as i64,
        named_total + 1,
        "a header and a record per call"
    );

    // Paging: back to everything, then next and previous.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    wait_log(&browser, "the first page again", &all).await;
    let pages = (total as usize).div_ceil(PAGE_SIZE);
    assert!(pages >= 3, "{total} calls");
    wait_page_info(&browser, 1, pages).await;
    assert_disabled(&browser, "button#prev-page", true).await;
    assert_disabled(&browser, "button#next-page", false).await;
    browser.click("button#next-page").await;
    let second = api(
        &server,
        "/api/admin/calls",
        &[("page_size", &size), ("page", "2")],
    )
    .await;
    wait_page_info(&browser, 2, pages).await;
    wait_log(&browser, "page 2", &second).await;
    assert_disabled(&browser, "button#prev-page", false).await;
    browser.click("button#prev-page").await;
    wait_page_info(&browser, 1, pages).await;
    wait_log(&browser, "page 1", &all).await;

    // Sorting: each click on a header's button orders the rows as the API does for that
    // sort, and says so in the header's aria-sort; a second click reverses.
    for column in ["duration_seconds", "satisfaction_score"] {
        let button = format!("button[data-sort=\"{column}\"]");
        let mut seen = Vec::new();
        for _ in 0..2 {
            browser.click(&button).await;
            let sort = browser
                .wait_js(
                    &format!("aria-sort on {column} after a click"),
                    "const b = document.querySelector(arguments[0]); \
                     return b && b.closest('th').getAttribute('aria-sort');",
                    vec![json!(button)],
                    |v| {
                        let v = v.as_str().unwrap_or("none");
                        v != "none" && seen.last().is_none_or(|last: &String| last != v)
                    },
                )
                .await;
            let sort = sort.as_str().unwrap().to_string();
            assert!(
                sort == "ascending" || sort == "descending",
                "aria-sort {sort:?}"
            );
            let order = if sort == "ascending" { "asc" } else { "desc" };
            let sorted = api(
                &server,
                "/api/admin/calls",
                &[
                    ("page_size", &size),
                    ("sort_by", column),
                    ("sort_order", order),
                ],
            )
            .await;
            wait_log(&browser, &format!("sorted by {column} {order}"), &sorted).await;
            let others = browser
                .js(
                    "return [...document.querySelectorAll('button[data-sort]')] \
                     .filter(b => b.getAttribute('data-sort') !== arguments[0]) \
                     .map(b => b.closest('th').getAttribute('aria-sort'));",
                    vec![json!(column)],
                )
                .await;
            assert!(
                others.as_array().unwrap().iter().all(|s| s == "none"),
                "the other headers are unsorted: {others}"
            );
            seen.push(sort);
        }
        assert_ne!(seen[0], seen[1], "a second click reverses {column}");
    }
}

async fn assert_disabled(browser: &Browser, css: &str, disabled: bool) {
    browser
        .wait_eq(
            &format!("{css} disabled = {disabled}"),
            "const e = document.querySelector(arguments[0]); return e && e.disabled;",
            vec![json!(css)],
            &json!(disabled),
        )
        .await;
}

#[tokio::test]
async fn call_detail_shows_its_transcript_and_events() {
    let (stores, server, browser) = open(300, 43, Stores::pg_store).await;
    // A call with a customer, events and a JSON transcript of several turns.
    let id = pg_id(
        &stores,
        "select s.id from call_sessions s where s.customer_id is not null \
         and exists (select 1 from call_events e where e.call_session_id = s.id) \
         and s.transcript like '[%' order by s.id limit 1",
    )
    .await;
    let detail = api(&server, &format!("/api/admin/calls/{id}"), &[]).await;
    let turns: Vec<&str> = detail["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["speaker"].as_str().unwrap_or(""))
        .collect();
    let events: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(turns.len() > 1 && !events.is_empty(), "call {id}: {detail}");

    // Reached from the log by its row's link.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let first = browser.attrs(ROW_IDS, "data-call-id").await[0]
        .as_str()
        .unwrap()
        .to_string();
    browser
        .click(&format!(
            "tr[data-call-id=\"{first}\"] a[href=\"#/calls/{first}\"]"
        ))
        .await;
    browser
        .wait_present("section#call-detail dl#call-meta")
        .await;

    browser.goto(&format!("{}/#/calls/{id}", server.base)).await;
    browser
        .wait_attrs(
            "the transcript's turns, in order",
            "ol#transcript li.turn",
            "data-speaker",
            &json!(turns),
        )
        .await;
    browser
        .wait_attrs(
            "the events, in order",
            "ol#events li.event",
            "data-event-type",
            &json!(events),
        )
        .await;
    let pres = browser.texts("ol#events li.event pre").await;
    assert_eq!(pres.len(), events.len(), "one pre per event");
    for (pre, event) in pres.iter().zip(detail["events"].as_array().unwrap()) {
        let shown: Value = serde_json::from_str(pre)
            .unwrap_or_else(|e| panic!("an event's pre is not JSON ({e}): {pre:?}"));
        assert_eq!(shown, event["data"], "an event's data");
    }
    let customer = detail["customer"]["id"].as_i64().unwrap();
    browser
        .wait_present(&format!(
            "#customer-card a[href=\"#/customers/{customer}\"]"
        ))
        .await;

    // An unknown call: the API's detail.
    browser
        .goto(&format!("{}/#/calls/99999999", server.base))
        .await;
    browser
        .wait_js(
            "#not-found with the API's detail",
            "const e = document.querySelector('#not-found'); return e && e.textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("Call not found")),
        )
        .await;
}

#[tokio::test]
async fn token_prompt_takes_the_admin_token() {
    const ADMIN: &str = "browser-admin-secret";
    let stores = Stores::seeded(300, 44).await;
    let server = Server::start(
        stores.pg_store(),
        Tokens {
            admin: Some(ADMIN.into()),
            ingest: None,
            ..Tokens::default()
        },
    )
    .await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", server.base)).await;
    browser.wait_visible("form#login").await;
    browser
        .wait_present("form#login label[for=\"token\"]")
        .await;
    browser
        .wait_present("form#login input#token[type=\"password\"]")
        .await;

    browser.type_enter("input#token", "not-the-token").await;
    wait_login_error(&browser, "wrong token").await;
    browser.wait_visible("form#login").await;

    browser.fill("input#token", ADMIN).await;
    browser.click("button#login-submit").await;
    let expected = api_with(&server, "/api/admin/metrics/overview?period=today", ADMIN).await;
    wait_cards(&browser, "today", &expected).await;
    browser.wait_hidden("form#login").await;
    let url = browser.url().await;
    assert!(!url.contains(ADMIN), "the token is in the URL: {url}");
    let stored = browser.stored_token().await;
    assert_eq!(stored, json!(ADMIN), "the token in sessionStorage");

    // Another page of the same tab needs no prompt.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let url = browser.url().await;
    assert!(!url.contains(ADMIN), "the token is in the URL: {url}");
}

async fn api_with(server: &Server, path: &str, token: &str) -> Value {
    let reply = server.get_with(path, token).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.body
}

/// A server that can be stopped for good (its keep-alive connections closed too), and
/// started again on the same address.
struct Stoppable {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stoppable {
    async fn start(state: AppState, addr: SocketAddr) -> Stoppable {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ava_serve::run(listener, state, async {
            let _ = stopped.await;
        }));
        Stoppable {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = &mut self.task;
        if tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for Stoppable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn unreachable_api_shows_an_error_and_retries() {
    let stores = Stores::seeded(300, 45).await;
    let state = AppState::new(stores.pg_store(), Tokens::open());
    let server = Stoppable::start(state.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = server.addr;
    let base = format!("http://{addr}");
    let reference = Server::start(stores.pg_store(), Tokens::open()).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    wait_cards(&browser, "today", &overview(&reference, "today").await).await;

    server.stop().await;
    browser.click("button[data-period=\"week\"]").await;
    browser
        .wait_text("#api-error", "saying cannot reach", |t| {
            t.to_lowercase().contains("cannot reach")
        })
        .await;
    browser.wait_visible("#api-error button#retry").await;

    // Back on the same address: retry loads the page again.
    let _server = Stoppable::start(state, addr).await;
    browser.click("button#retry").await;
    wait_cards(&browser, "week", &overview(&reference, "week").await).await;
    browser.wait_hidden("#api-error").await;
}

#[tokio::test]
async fn live_refresh_shows_a_new_call_without_a_reload() {
    let (_stores, server, browser) = open(300, 46, Stores::pg_store).await;
    // The log searched for the new call's phone, so that it is on the first page
    // whatever the time of day (the seed has calls later today than now).
    let phone = "+15550107788";
    let search = &phone[5..];
    let before = api(&server, "/api/admin/calls", &[("search", search)]).await;
    assert_eq!(before["total"], 0, "{search} is not in the seed: {before}");
    browser
        .goto(&format!(
            "{}/?refresh=500#/calls?search={search}",
            server.base
        ))
        .await;
    wait_total(&browser, "the search", "calls", 0).await;
    browser.wait_present("main#main .empty").await;
    browser.js("window.__avaNoReload = true;", vec![]).await;

    let id = start_and_end(&server, "browser-live-1", phone).await;
    browser
        .wait_js(
            "the new call in the searched log",
            "return [document.querySelector(arguments[0]) !== null, \
                     document.querySelector('#calls-total')?.getAttribute('data-value')];",
            vec![json!(format!("{ROW_IDS}[data-call-id=\"{id}\"]"))],
            |v| v == &json!([true, "1"]),
        )
        .await;

    // The whole log, as `/?refresh=500#/calls` shows it: another call, and the total
    // and first page follow.
    browser
        .goto(&format!("{}/?refresh=500#/calls", server.base))
        .await;
    let now = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    wait_log(&browser, "the whole log", &now).await;
    start_and_end(&server, "browser-live-2", "+15550107789").await;
    let after = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    assert_eq!(after["total"], now["total"].as_i64().unwrap() + 1);
    wait_log(&browser, "the whole log after a call", &after).await;
    assert_eq!(
        browser
            .js("return window.__avaNoReload === true;", vec![])
            .await,
        json!(true),
        "the page was reloaded"
    );
}

/// Starts and ends a call through the write API (open: no ingest token); its id.
async fn start_and_end(server: &Server, session: &str, phone: &str) -> i64 {
    let started = server
        .post(
            "/api/calls",
            &json!({"session_id": session, "phone_number": phone}),
            None,
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let ended = server
        .post(
            &format!("/api/calls/{session}/end"),
            &json!({
                "transcript": [{"speaker": "caller", "text": "Hi", "timestamp": null}],
                "function_calls": [],
                "sentiment": "positive",
                "satisfaction_score": 9,
            }),
            None,
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    started.body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn customer_page_and_appointment_filters_render_rows() {
    let (stores, server, browser) = open(300, 47, Stores::pg_store).await;

    let customer = pg_id(
        &stores,
        "select c.id from customers c \
         where exists (select 1 from appointments a where a.customer_id = c.id) \
         and exists (select 1 from call_sessions s where s.customer_id = c.id) \
         order by c.id limit 1",
    )
    .await;
    let history = api(&server, &format!("/api/customers/{customer}/history"), &[]).await;
    let (booked, calls) = (
        history["appointments"].as_array().unwrap().len(),
        history["calls"].as_array().unwrap().len(),
    );
    browser
        .goto(&format!("{}/#/customers/{customer}", server.base))
        .await;
    browser.wait_present("section#customer-page").await;
    let count = "return document.querySelectorAll(arguments[0]).length;";
    browser
        .wait_eq(
            "the customer's appointments",
            count,
            vec![json!("table#customer-appointments tbody tr")],
            &json!(booked),
        )
        .await;
    browser
        .wait_eq(
            "the customer's calls",
            count,
            vec![json!("table#customer-calls tbody tr")],
            &json!(calls),
        )
        .await;
    for call in history["calls"].as_array().unwrap() {
        let id = call["id"].as_i64().unwrap();
        browser
            .wait_present(&format!("table#customer-calls a[href=\"#/calls/{id}\"]"))
            .await;
    }
    let name = history["customer"]["name"].as_str().unwrap();
    browser
        .wait_js(
            "the customer's name",
            "return document.querySelector('section#customer-page').textContent;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains(name)),
        )
        .await;

    // Appointments: all, then by status, then by dates.
    let rows = "table#appointments-table tbody tr[data-appointment-id]";
    let all = api(&server, "/api/appointments", &[]).await;
    browser
        .goto(&format!("{}/#/appointments", server.base))
        .await;
    for css in [
        "label[for=\"from\"]",
        "input#from[type=\"date\"]",
        "label[for=\"to\"]",
        "input#to[type=\"date\"]",
        "label[for=\"status\"]",
        "select#status option[value=\"\"]",
    ] {
        browser.wait_present(css).await;
    }
    browser
        .wait_attrs(
            "every appointment",
            rows,
            "data-appointment-id",
            &ids(&all, "appointments"),
        )
        .await;
    let statuses = browser.attrs("select#status option", "value").await;
    for status in [
        "scheduled",
        "completed",
        "cancelled",
        "rescheduled",
        "no_show",
    ] {
        assert!(
            statuses.as_array().unwrap().contains(&json!(status)),
            "{status} in {statuses}"
        );
    }
    let completed = api(&server, "/api/appointments", &[("status", "completed")]).await;
    assert!(!completed["appointments"].as_array().unwrap().is_empty());
    browser.select("select#status", "completed").await;
    browser
        .wait_attrs(
            "the completed appointments",
            rows,
            "data-appointment-id",
            &ids(&completed, "appointments"),
        )
        .await;

    // A date range: whichever way the page reads its ends (local days, inclusive or
    // not), it shows every appointment well inside and none well outside.
    let dates: Vec<String> = all["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "completed")
        .map(|a| a["appointment_datetime"].as_str().unwrap()[..10].to_string())
        .collect();
    let (from, to) = (
        dates[dates.len() * 3 / 4].clone(),
        dates[dates.len() / 4].clone(),
    );
    let day = |d: &str, by: i64| {
        (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() + chrono::Duration::days(by))
            .to_string()
    };
    let inner = completed_between(&server, &day(&from, 1), &day(&to, 0)).await;
    let outer = completed_between(&server, &day(&from, -1), &day(&to, 2)).await;
    assert!(!inner.as_array().unwrap().is_empty(), "{from}..{to}");
    browser
        .js(
            "for (const [id, v] of [['from', arguments[0]], ['to', arguments[1]]]) { \
                 const e = document.getElementById(id); e.value = v; \
                 e.dispatchEvent(new Event('input', {bubbles: true})); \
                 e.dispatchEvent(new Event('change', {bubbles: true})); }",
            vec![json!(from), json!(to)],
        )
        .await;
    browser
        .wait_js(
            &format!("the completed appointments from {from} to {to}"),
            ATTRS,
            vec![json!(rows), json!("data-appointment-id")],
            |shown| {
                let shown = shown.as_array().cloned().unwrap_or_default();
                let (inner, outer) = (inner.as_array().unwrap(), outer.as_array().unwrap());
                inner.iter().all(|i| shown.contains(i)) && shown.iter().all(|s| outer.contains(s))
            },
        )
        .await;
}

/// The ids of the completed appointments from `from` to `to` (dates) by the API.
async fn completed_between(server: &Server, from: &str, to: &str) -> Value {
    let body = api(
        server,
        "/api/appointments",
        &[
            ("status", "completed"),
            ("start_date", from),
            ("end_date", to),
        ],
    )
    .await;
    ids(&body, "appointments")
}

#[tokio::test]
async fn phone_width_overview_fits() {
    let (_stores, server, browser) = open(300, 48, Stores::pg_store).await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto(&format!("{}/", server.base)).await;
    wait_cards(&browser, "today", &overview(&server, "today").await).await;
    for metric in METRICS {
        browser
            .wait_visible(&format!("[data-metric=\"{metric}\"]"))
            .await;
    }
    browser.assert_fits_phone("the overview").await;
}

#[tokio::test]
async fn sqlite_store_serves_the_same_dashboard() {
    let (_stores, server, browser) = open(300, 49, Stores::sqlite_store).await;
    browser.goto(&format!("{}/", server.base)).await;
    wait_cards(&browser, "today", &overview(&server, "today").await).await;
    browser.click("button[data-period=\"week\"]").await;
    wait_cards(&browser, "week", &overview(&server, "week").await).await;
    let page = api(&server, "/api/admin/calls", &[("page_size", "25")]).await;
    browser.click("nav#nav a[href=\"#/calls\"]").await;
    wait_log(&browser, "the log on SQLite", &page).await;
}

/// Visits every page; with `AVA_SCREENSHOTS_DIR` set, saves a PNG of each there.
#[tokio::test]
async fn every_page_renders_and_screenshots() {
    // 7,500 calls: 30 days, so the trends fill their default range.
    let (stores, server, browser) = open(7_500, 50, Stores::pg_store).await;
    let call = pg_id(
        &stores,
        "select s.id from call_sessions s where s.customer_id is not null \
         and exists (select 1 from call_events e where e.call_session_id = s.id) \
         and s.transcript like '[%' order by s.id desc limit 1",
    )
    .await;
    let customer = pg_id(
        &stores,
        "select s.customer_id from call_sessions s where s.customer_id is not null \
         group by s.customer_id order by count(*) desc, s.customer_id limit 1",
    )
    .await;
    let daily = api(&server, "/api/admin/analytics/daily", &[("days", "30")]).await;
    let days: Vec<String> = daily["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap()[..10].to_string())
        .collect();
    assert!(days.len() >= 28, "{daily}");
    let base = &server.base;
    let trends: &[&str] = &[
        "button[data-days=\"30\"][aria-pressed=\"true\"]",
        "svg#chart-volume title",
        "svg#chart-rates title",
        "table.sr-only",
    ];
    for (path, ready, name) in [
        (
            "#/".to_string(),
            &[
                "[data-metric=\"total_calls\"][data-value]",
                "table#recent-calls tbody tr",
            ][..],
            "overview.png",
        ),
        ("#/trends".to_string(), trends, "trends.png"),
        ("#/calls".to_string(), &[ROW_IDS][..], "calls.png"),
        (
            format!("#/calls/{call}"),
            &["ol#transcript li.turn", "ol#events li.event"][..],
            "call.png",
        ),
        (
            format!("#/customers/{customer}"),
            &["section#customer-page", "table#customer-calls tbody tr"][..],
            "customer.png",
        ),
        (
            "#/appointments".to_string(),
            &["table#appointments-table tbody tr[data-appointment-id]"][..],
            "appointments.png",
        ),
        (
            "#/analytics?period=week&tz=America/Los_Angeles".to_string(),
            &[
                "#peak-box[data-tz=\"America/Los_Angeles\"] #peak-hours td[data-value]",
                "#outcomes tr[data-outcome]",
                "#services tr[data-service]",
                "svg#chart-timeseries .mark",
            ][..],
            "analytics.png",
        ),
        (
            "#/customers".to_string(),
            &["table#customers-table tbody tr[data-customer-id]"][..],
            "customers.png",
        ),
    ] {
        // The analytics in one picture: the heatmap, the chart and the outcomes.
        let tall = name == "analytics.png";
        if tall {
            browser.client.set_window_size(1280, 1640).await.unwrap();
        }
        browser.goto(&format!("{base}/{path}")).await;
        for css in ready {
            browser.wait_present(css).await;
        }
        browser.wait_present("main#main[aria-busy=\"false\"]").await;
        if path == "#/trends" {
            // Every day of the API's series has its marks in both charts.
            for chart in ["svg#chart-volume", "svg#chart-rates"] {
                browser
                    .wait_js(
                        &format!("{chart}: a mark for each of the API's days"),
                        ATTRS,
                        vec![json!(format!("{chart} [data-date]")), json!("data-date")],
                        |marks| {
                            let marks = marks.as_array().cloned().unwrap_or_default();
                            days.iter().all(|d| marks.contains(&json!(d)))
                        },
                    )
                    .await;
            }
        }
        browser.screenshot(name).await;
        if tall {
            browser.client.set_window_size(1280, 900).await.unwrap();
        }
    }
}

/// First paint of `/` with 100,000 calls in Postgres (run with `--ignored`).
#[tokio::test]
#[ignore = "seeds 100,000 calls (about a minute)"]
async fn first_paint_at_100k_calls() {
    let (_stores, server, browser) = open(100_000, 51, Stores::pg_store).await;
    browser.goto(&format!("{}/", server.base)).await;
    let paint = browser
        .wait_js(
            "first-contentful-paint",
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return p ? p.startTime : null;",
            vec![],
            |v| v.is_number(),
        )
        .await
        .as_f64()
        .unwrap();
    let cards = overview(&server, "today").await;
    wait_cards(&browser, "today", &cards).await;
    let shown = browser.js("return performance.now();", vec![]).await;
    println!(
        "first contentful paint of / at 100,000 calls: {paint:.0} ms \
         (the cards showed the API's numbers by {:.0} ms, polled)",
        shown.as_f64().unwrap()
    );
    assert!(paint < 1000.0, "first contentful paint took {paint} ms");
}

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

/// A stand-in for Supabase Auth (the external service the dashboard signs in with, not
/// part of ava) on a loopback port: `POST /auth/v1/token?grant_type=password` with the
/// `apikey` header and `{email, password}` answers an HS256 access token (audience
/// `authenticated`, an hour long, `app_metadata.role` as configured per user) or 400
/// `invalid_grant`; it answers CORS preflights and allows any origin, as Supabase does.
struct FakeSupabase {
    url: String,
    /// Sign-in requests (not preflights) answered so far.
    sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSupabase {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct FakeSupabaseState {
    anon_key: &'static str,
    secret: &'static str,
    /// email → (password, `app_metadata.role`).
    users: std::sync::Arc<Vec<(&'static str, &'static str, Option<&'static str>)>>,
    sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeSupabase {
    async fn start(
        anon_key: &'static str,
        secret: &'static str,
        users: Vec<(&'static str, &'static str, Option<&'static str>)>,
    ) -> FakeSupabase {
        use axum::http::{header, HeaderName, Method};
        use tower_http::cors::{AllowOrigin, CorsLayer};

        let sign_ins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let state = FakeSupabaseState {
            anon_key,
            secret,
            users: std::sync::Arc::new(users),
            sign_ins: sign_ins.clone(),
        };
        let app = axum::Router::new()
            .route("/auth/v1/token", axum::routing::post(fake_token))
            .with_state(state)
            .layer(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::any())
                    .allow_methods([Method::POST, Method::OPTIONS])
                    .allow_headers([
                        HeaderName::from_static("apikey"),
                        header::CONTENT_TYPE,
                        header::AUTHORIZATION,
                    ]),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSupabase {
            url,
            sign_ins,
            task,
        }
    }

    /// Signs in as the page does; the access token, or the refusal's status and body.
    async fn sign_in(
        &self,
        anon_key: &str,
        email: &str,
        password: &str,
    ) -> Result<String, (u16, Value)> {
        let response = reqwest::Client::new()
            .post(format!("{}/auth/v1/token?grant_type=password", self.url))
            .header("apikey", anon_key)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match body["access_token"].as_str() {
            Some(token) if status == 200 => Ok(token.to_string()),
            _ => Err((status, body)),
        }
    }
}

#[derive(serde::Deserialize)]
struct GrantQuery {
    grant_type: Option<String>,
}

async fn fake_token(
    axum::extract::State(state): axum::extract::State<FakeSupabaseState>,
    axum::extract::Query(query): axum::extract::Query<GrantQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    state
        .sign_ins
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(state.anon_key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Invalid API key"})),
        );
    }
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant",
                "error_description": "Invalid login credentials",
            })),
        )
    };
    if query.grant_type.as_deref() != Some("password") {
        return invalid();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return invalid();
    };
    let (email, password) = (body["email"].as_str(), body["password"].as_str());
    let Some((email, _, role)) = state
        .users
        .iter()
        .find(|(e, p, _)| Some(*e) == email && Some(*p) == password)
    else {
        return invalid();
    };
    let now = chrono::Utc::now().timestamp();
    let mut app_metadata = json!({"provider": "email", "providers": ["email"]});
    if let Some(role) = role {
        app_metadata["role"] = json!(role);
    }
    let claims = json!({
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "sub": format!("00000000-0000-4000-8000-{:012}", email.len()),
        "email": email,
        "role": "authenticated",
        "app_metadata": app_metadata,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(state.secret.as_bytes()),
    )
    .unwrap();
    (
        StatusCode::OK,
        axum::Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
        })),
    )
}

/// Waits until `#login-error` is visible and its text contains `part` (any case).
async fn wait_login_error(browser: &Browser, part: &str) -> String {
    browser
        .wait_text("#login-error", &format!("saying {part:?}"), |t| {
            t.to_lowercase().contains(&part.to_lowercase())
        })
        .await
}

/// The dashboard's Supabase sign-in, against a stand-in for Supabase Auth and a server
/// configured as `ava serve --jwt-secret … --supabase-url … --supabase-anon-key …`: the
/// form offers email and password; wrong credentials, and an account without the staff
/// or owner role (the API's 403), are said on the form; a staff login shows the overview.
#[tokio::test]
async fn supabase_sign_in_takes_a_staff_account() {
    const SECRET: &str = "browser-supabase-jwt-secret-of-at-least-32-chars";
    const ANON: &str = "browser-anon-key";
    const STAFF: (&str, &str) = ("staff@example.com", "staff-password-1");
    const NOBODY: (&str, &str) = ("visitor@example.com", "visitor-password-1");
    let supabase = FakeSupabase::start(
        ANON,
        SECRET,
        vec![
            (STAFF.0, STAFF.1, Some("staff")),
            (NOBODY.0, NOBODY.1, None),
        ],
    )
    .await;

    // The stand-in behaves as Supabase Auth does for a page on another origin.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/auth/v1/token?grant_type=password", supabase.url),
        )
        .header("Origin", "http://127.0.0.1:1")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "apikey,content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in ["apikey", "content-type", "authorization"] {
        assert!(allowed.contains(h), "{h} not allowed: {allowed}");
    }
    assert_eq!(
        supabase
            .sign_in("not-the-anon-key", STAFF.0, STAFF.1)
            .await
            .unwrap_err()
            .0,
        401
    );
    let (status, body) = supabase.sign_in(ANON, STAFF.0, "wrong").await.unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid login credentials"})
    );

    let stores = Stores::seeded(300, 46).await;
    let state = served_state(
        stores.pg_store(),
        ServeFlags {
            jwt_secret: Some(SECRET.into()),
            supabase_url: Some(supabase.url.clone()),
            supabase_anon_key: Some(ANON.into()),
            ..ServeFlags::default()
        },
    )
    .await;
    let server = Server::start_with(state).await;

    // What the API answers each account's token.
    let staff_token = supabase.sign_in(ANON, STAFF.0, STAFF.1).await.unwrap();
    let expected = api_with(
        &server,
        "/api/admin/metrics/overview?period=today",
        &staff_token,
    )
    .await;
    let nobody_token = supabase.sign_in(ANON, NOBODY.0, NOBODY.1).await.unwrap();
    let refused = server
        .get_with("/api/admin/analytics/daily?days=1", &nobody_token)
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let refusal = refused.body["detail"].as_str().unwrap().to_string();
    let before = supabase.sign_ins.load(std::sync::atomic::Ordering::SeqCst);

    let browser = Browser::start().await;
    browser.goto(&format!("{}/", server.base)).await;
    browser.wait_visible("form#login").await;
    browser.wait_visible("form#login input#email").await;
    browser
        .wait_visible("form#login input#password[type=\"password\"]")
        .await;
    browser.wait_visible("form#login input#token").await;

    // A wrong password: Supabase's refusal, on the form.
    browser.fill("input#email", STAFF.0).await;
    browser.fill("input#password", "not-the-password").await;
    browser.click("button#login-submit").await;
    let said = wait_login_error(&browser, "Invalid login credentials").await;
    assert!(!said.contains(STAFF.1), "{said}");
    browser.wait_visible("form#login").await;
    let stored = browser.stored_token().await;
    assert_eq!(stored, Value::Null, "a refused sign-in left a token");

    // A real account without the staff or owner role: the API's 403, on the form.
    browser.fill("input#email", NOBODY.0).await;
    browser.fill("input#password", NOBODY.1).await;
    browser.click("button#login-submit").await;
    wait_login_error(&browser, &refusal).await;
    let said = wait_login_error(&browser, "may not").await;
    assert!(said.contains("staff or owner"), "{said}");
    browser.wait_visible("form#login").await;
    browser
        .wait_visible("button#login-submit:not([disabled])")
        .await;
    let stored = browser.stored_token().await;
    assert_eq!(stored, Value::Null, "a forbidden sign-in left its token");
    assert_eq!(
        browser
            .js(
                "return document.querySelectorAll('[data-metric]').length;",
                vec![]
            )
            .await,
        json!(0)
    );

    // The staff account: the overview, with the API's numbers.
    browser.fill("input#email", STAFF.0).await;
    browser.fill("input#password", STAFF.1).await;
    browser.click("button#login-submit").await;
    wait_cards(&browser, "today", &expected).await;
    browser.wait_hidden("form#login").await;
    let stored = browser.stored_token().await;
    let stored = stored.as_str().expect("the access token kept for the tab");
    assert_eq!(stored.split('.').count(), 3, "not a JWT: {stored}");
    let url = browser.url().await;
    for secret in [stored, STAFF.1, NOBODY.1, staff_token.as_str()] {
        assert!(!url.contains(secret), "a secret is in the URL: {url}");
    }
    // The page signed in three times, through the stand-in.
    assert_eq!(
        supabase.sign_ins.load(std::sync::atomic::Ordering::SeqCst) - before,
        3
    );

    // Another page of the same tab needs no sign-in.
    browser.goto(&format!("{}/#/calls", server.base)).await;
    browser.wait_present(ROW_IDS).await;
    let url = browser.url().await;
    assert!(!url.contains(stored), "the token is in the URL: {url}");
}
