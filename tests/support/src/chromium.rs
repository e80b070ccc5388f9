//! Debian's Chromium, headless, driven by chromedriver over WebDriver: the
//! real browser the browser tests run pages in.
//!
//! [`Chromium::missing`] says what a machine lacks (the test then skips,
//! unless `EDGESCORE_REQUIRE_CHROMIUM=1`, as `.ci/run` sets);
//! [`Chromium::start`] opens a session with a fresh profile, which ends
//! (and chromedriver with it) when the value is dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium session.
#[derive(Debug)]
pub struct Chromium {
    driver: Child,
    url: String,
    session: String,
    agent: ureq::Agent,
    /// The browser's version, as the session reports it.
    pub version: String,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// What is missing to run Chromium here (`None`: nothing).
    pub fn missing() -> Option<String> {
        if !Path::new(CHROMIUM).is_file() {
            return Some(format!("no {CHROMIUM} (Debian's chromium)"));
        }
        let driver = Command::new("chromedriver").arg("--version").output();
        if !driver.is_ok_and(|o| o.status.success()) {
            return Some("no chromedriver (Debian's chromium-driver)".into());
        }
        None
    }

    /// Whether a test that lacks what it needs must fail rather than skip.
    pub fn required() -> bool {
        std::env::var_os("EDGESCORE_REQUIRE_CHROMIUM").is_some_and(|v| v == "1")
    }

    /// chromedriver on a free port, and a headless session with a fresh
    /// profile and the browser's console log kept; scripts may run 240 s.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        let profile = tempfile::tempdir().expect("profile");
        let mut chromium = Self {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            version: String::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while chromium.get("/status")["value"]["ready"] != true {
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let session = chromium.post(
            "/session",
            &json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": { "browser": "ALL" },
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                        format!("--user-data-dir={}", chromium._profile.path().display()),
                    ],
                },
            }}}),
        );
        chromium.session = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        chromium.version = session["value"]["capabilities"]["browserVersion"]
            .as_str()
            .unwrap_or("chromium")
            .to_owned();
        chromium.command("timeouts", &json!({ "script": 240_000 }));
        chromium
    }

    /// Opens `url` and waits for it to load.
    pub fn open(&self, url: &str) {
        self.command("url", &json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments[..]` are `args`, the last
    /// one the callback to call with the answer) and returns its answer.
    pub fn execute_async(&self, script: &str, args: &Value) -> Value {
        let answer = self.command("execute/async", &json!({ "script": script, "args": args }));
        answer["value"].clone()
    }

    /// Runs `script` (a function body returning a value) and returns it.
    pub fn execute(&self, script: &str, args: &Value) -> Value {
        let answer = self.command("execute/sync", &json!({ "script": script, "args": args }));
        answer["value"].clone()
    }

    /// The browser console's entries since last asked (`level`, `message`).
    pub fn console(&self) -> Vec<Value> {
        let log = self.command("se/log", &json!({ "type": "browser" }));
        log["value"].as_array().cloned().unwrap_or_default()
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let answer = self.get(&format!("/session/{}/screenshot", self.session));
        let data = answer["value"].as_str().expect("a screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG")
    }

    fn command(&self, what: &str, body: &Value) -> Value {
        self.post(&format!("/session/{}/{what}", self.session), body)
    }

    fn get(&self, path: &str) -> Value {
        self.agent
            .get(&format!("{}{path}", self.url))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json().ok())
            .unwrap_or(Value::Null)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let mut response = self
            .agent
            .post(&format!("{}{path}", self.url))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        response.body_mut().read_json().expect("a JSON answer")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.url, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
