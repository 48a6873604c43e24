//! The harness of the browser tests: chromedriver and a headless Chromium session
//! ([`Browser`], with its waits, reads and actions), the API asked the same questions
//! ([`api`], [`overview`]), a seeded server and a browser in one call ([`open`]), and
//! the checks more than one page's tests make (the overview's cards, the lists'
//! totals, pagers and rows).

use std::fmt::Display;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ava_serve::Tokens;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition may take to hold.
const WAIT: Duration = Duration::from_secs(8);
/// How often it is checked.
const POLL: Duration = Duration::from_millis(50);
/// The call log's page size.
pub(super) const PAGE_SIZE: usize = 25;

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
pub(super) struct Browser {
    pub(super) client: Client,
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
    pub(super) async fn start() -> Browser {
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

    pub(super) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub(super) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until `ready` holds of its answer; the answer. Panics after
    /// [`WAIT`] naming `what` and the last answer.
    pub(super) async fn wait_js(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_js_for(WAIT, what, script, args, ready).await
    }

    pub(super) async fn wait_js_for(
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
    pub(super) async fn wait_eq(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        expected: &Value,
    ) {
        self.wait_js(what, script, args, |v| v == expected).await;
    }

    /// Waits for an element matching `css` to be present.
    pub(super) async fn wait_present(&self, css: &str) {
        self.wait_js(
            &format!("`{css}` present"),
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
            |v| v == &json!(true),
        )
        .await;
    }

    /// Waits for an element matching `css` to be present and visible.
    pub(super) async fn wait_visible(&self, css: &str) {
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
    pub(super) async fn click(&self, css: &str) {
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
    pub(super) async fn wait_hidden(&self, css: &str) {
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
    pub(super) async fn wait_text(
        &self,
        css: &str,
        what: &str,
        ready: impl Fn(&str) -> bool,
    ) -> String {
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
    pub(super) async fn wait_value(&self, what: &str, css: &str, value: &str) {
        self.wait_eq(
            what,
            "const e = document.querySelector(arguments[0]); return e && e.value;",
            vec![json!(css)],
            &json!(value),
        )
        .await;
    }

    /// Waits until the page has a `main h2` saying `heading`.
    pub(super) async fn wait_heading(&self, heading: &str) {
        self.wait_js(
            &format!("the heading {heading:?}"),
            "return [...document.querySelectorAll('main h2')].map(e => e.textContent);",
            vec![],
            |v| v.as_array().is_some_and(|a| a.contains(&json!(heading))),
        )
        .await;
    }

    /// Clears the input `css` and types `text` (no Enter).
    pub(super) async fn fill(&self, css: &str, text: &str) {
        self.wait_visible(css).await;
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Clears the input `css` and types `text`, then Enter.
    pub(super) async fn type_enter(&self, css: &str, text: &str) {
        self.fill(css, &format!("{text}{}", char::from(Key::Enter)))
            .await;
    }

    /// Chooses the option `value` of the select `css`.
    pub(super) async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find `{css}`: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} in `{css}`: {e}"));
    }

    /// The page's URL.
    pub(super) async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The hash part of the page's URL (without its `#`).
    pub(super) async fn hash(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.fragment().unwrap_or("").to_string()
    }

    /// What the page keeps as its admin token for the tab (`null` when none).
    pub(super) async fn stored_token(&self) -> Value {
        self.js("return sessionStorage.getItem('ava.adminToken');", vec![])
            .await
    }

    /// Asserts the page (`what`) is no wider than the window, and the window phone-sized.
    pub(super) async fn assert_fits_phone(&self, what: &str) {
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
    pub(super) async fn attrs(&self, css: &str, attr: &str) -> Value {
        self.js(ATTRS, vec![json!(css), json!(attr)]).await
    }

    /// Waits until attribute `attr` of the elements matching `css` reads `expected`
    /// (an array), in order.
    pub(super) async fn wait_attrs(&self, what: &str, css: &str, attr: &str, expected: &Value) {
        self.wait_eq(what, ATTRS, vec![json!(css), json!(attr)], expected)
            .await;
    }

    /// The texts of every element matching `css`, in order.
    pub(super) async fn texts(&self, css: &str) -> Vec<String> {
        let texts = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(texts).unwrap()
    }

    /// Sends a DevTools command to the page (chromedriver's `goog/cdp/execute`); its result.
    pub(super) fn cdp(&self, command: &str, params: Value) -> Value {
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

    pub(super) async fn screenshot(&self, name: &str) {
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

pub(super) const ATTRS: &str =
    "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]));";

/// The overview's cards.
pub(super) const METRICS: [&str; 8] = [
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
pub(super) fn ids(body: &Value, key: &str) -> Value {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .iter()
        .map(|c| json!(c["id"].as_i64().unwrap().to_string()))
        .collect()
}

/// `GET path?query` on `server`, asserting a 200; the body.
pub(super) async fn api(server: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let url = reqwest::Url::parse_with_params(&format!("{}{path}", server.base), query).unwrap();
    let reply = server.send(server.http.get(url)).await;
    assert_eq!(reply.status, 200, "{path} {query:?}: {}", reply.text);
    reply.body
}

pub(super) async fn overview(server: &Server, period: &str) -> Value {
    api(server, "/api/admin/metrics/overview", &[("period", period)]).await
}

/// Waits until the overview's cards show `expected` for the active period `period`.
pub(super) async fn wait_cards(browser: &Browser, period: &str, expected: &Value) {
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
pub(super) async fn open(
    calls: u64,
    seed: u64,
    store: fn(&Stores) -> ava_api::Store,
) -> (Stores, Server, Browser) {
    let stores = Stores::seeded(calls, seed).await;
    let server = Server::start(store(&stores), Tokens::open()).await;
    let browser = Browser::start().await;
    (stores, server, browser)
}

/// A call with a customer, events and a JSON transcript: the first by id (`order` `asc`)
/// or the last (`desc`).
pub(super) async fn full_call(stores: &Stores, order: &str) -> i64 {
    let sql = format!(
        "select s.id from call_sessions s where s.customer_id is not null \
         and exists (select 1 from call_events e where e.call_session_id = s.id) \
         and s.transcript like '[%' order by s.id {order} limit 1"
    );
    pg_id(stores, &sql).await
}

/// The first integer of `sql` on the Postgres copy.
pub(super) async fn pg_id(stores: &Stores, sql: &str) -> i64 {
    let client = stores.pg.client().await;
    let row = client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.get(0)
}

pub(super) const ROW_IDS: &str = "table#calls-table tbody tr[data-call-id]";

/// Waits until a list page's `#NAME-total` (`list` is `calls` or `customers`) says `total`.
pub(super) async fn wait_total(browser: &Browser, what: &str, list: &str, total: i64) {
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
pub(super) async fn wait_page_info(browser: &Browser, page: impl Display, pages: impl Display) {
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
pub(super) fn inner_capitals(names: &[String]) -> String {
    let word = names
        .iter()
        .flat_map(|n| n.split_whitespace())
        .find(|w| w.len() >= 5 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .unwrap_or_else(|| panic!("no plain ASCII name in {names:?}"));
    word[1..5].to_uppercase()
}

/// Waits until the call log shows `body` (an API answer): its total and its rows in order.
pub(super) async fn wait_log(browser: &Browser, what: &str, body: &Value) {
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

pub(super) async fn assert_disabled(browser: &Browser, css: &str, disabled: bool) {
    browser
        .wait_eq(
            &format!("{css} disabled = {disabled}"),
            "const e = document.querySelector(arguments[0]); return e && e.disabled;",
            vec![json!(css)],
            &json!(disabled),
        )
        .await;
}
