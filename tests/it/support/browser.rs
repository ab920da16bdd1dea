//! Headless Chromium driven through ChromeDriver's W3C WebDriver protocol (plain JSON over
//! HTTP on loopback), for the dashboard tests. scripts/test installs Debian's `chromium` and
//! `chromium-driver` when absent and exports their paths.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process with one browser session; both end when this is dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Child,
    _profile: tempfile::TempDir,
}

fn which(env: &str, names: &[&str]) -> String {
    if let Ok(path) = std::env::var(env)
        && !path.is_empty()
    {
        return path;
    }
    for name in names {
        for dir in ["/usr/bin", "/usr/local/bin"] {
            let path = format!("{dir}/{name}");
            if std::path::Path::new(&path).exists() {
                return path;
            }
        }
    }
    panic!(
        "{env} is not set and {names:?} is not installed: run the tests with scripts/test, which installs chromium and chromium-driver"
    );
}

impl Browser {
    /// Starts ChromeDriver on a free loopback port and opens a headless session.
    pub async fn start() -> Browser {
        let driver = which("TEST_CHROMEDRIVER", &["chromedriver"]);
        let chromium = which("TEST_CHROMIUM", &["chromium", "chromium-browser"]);
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-extensions", "--no-first-run",
                         "--disable-sync", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Browser {
            http,
            base: format!("{base}/session/{session}"),
            _driver: child,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = v["value"].get("error") {
            panic!("WebDriver {path}: {err} {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first element matching a CSS selector (waits up to 5 s for it).
    pub async fn find(&self, css: &str) -> String {
        let mut last = Value::Null;
        for _ in 0..50 {
            let v: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            last = v;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} on {}: {last}", self.url().await);
    }

    /// How many elements match.
    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Types into an element (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Chooses an option of a `<select>` by its value.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"))
            .await;
    }

    /// Clicks an element (a link or a submit button navigates; the call returns after).
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks something that loads another page (a link, a submit button) and waits until the
    /// old page is gone, so what follows reads the new one.
    pub async fn click_to_load(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        for _ in 0..100 {
            let v: Value = self
                .http
                .get(format!("{}/element/{old}/name", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["value"].get("error").is_some() {
                // Stale: the page was replaced. Wait for the new one to finish loading.
                self.find("body").await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} loaded no new page");
    }

    /// The visible text of the element.
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self
            .call(reqwest::Method::GET, "/screenshot", None)
            .await
            .as_str()
            .unwrap()
            .to_owned();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    /// Ends the session (the driver process goes with the struct).
    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
