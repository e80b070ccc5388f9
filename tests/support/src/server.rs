//! `edgescore serve` run as a child process and called over loopback by a
//! real HTTP client (ureq): one harness for every server test tier.
//!
//! [`Serve`] says how to start it (arguments, environment, working folder,
//! where its standard error goes); [`Serve::start`] waits for the URL the
//! server announces on its first line and returns a [`Server`], which
//! makes requests through its [`Client`] and, when dropped, stops the
//! server gracefully (SIGTERM, so it drains and removes a demo registry),
//! killing it if it has not exited within the grace period.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How to start `edgescore serve`. Builder methods take and return
/// `&mut Self`; [`Serve::start`] can be called again for a restart with
/// the same command line.
#[derive(Debug, Clone)]
pub struct Serve {
    binary: PathBuf,
    listen: String,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    stderr: Option<PathBuf>,
    grace: Duration,
}

impl Serve {
    /// `binary serve --listen 127.0.0.1:0`: a free port on loopback, the
    /// test's environment, its standard error inherited, a 10 s grace
    /// period. `binary` is the `edgescore` the test was built with
    /// (`env!("CARGO_BIN_EXE_edgescore")`).
    pub fn new(binary: impl AsRef<Path>) -> Self {
        Self {
            binary: binary.as_ref().to_owned(),
            listen: "127.0.0.1:0".to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
            stderr: None,
            grace: Duration::from_secs(10),
        }
    }

    /// Listens on `address` instead of a free port.
    pub fn listen(&mut self, address: &str) -> &mut Self {
        address.clone_into(&mut self.listen);
        self
    }

    /// Appends one argument after `serve --listen <address>`.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments after `serve --listen <address>`.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable of the server.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the server in `dir` (where a default alert log would appear).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.current_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Writes the server's standard error to `file` (created or truncated
    /// at each start) instead of the test's.
    pub fn stderr_to(&mut self, file: impl AsRef<Path>) -> &mut Self {
        self.stderr = Some(file.as_ref().to_owned());
        self
    }

    /// How long a dropped [`Server`] may take to drain after SIGTERM
    /// before it is killed.
    pub fn grace(&mut self, grace: Duration) -> &mut Self {
        self.grace = grace;
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["serve", "--listen", &self.listen])
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }

    /// Starts the server and waits for the URL it announces. Panics
    /// (failing the test) when it cannot be spawned or its first line is
    /// not `edgescore serving on <URL>`.
    pub fn start(&self) -> Server {
        let mut command = self.command();
        command.stdout(Stdio::piped());
        match &self.stderr {
            Some(file) => command.stderr(
                std::fs::File::create(file)
                    .unwrap_or_else(|e| panic!("cannot create {}: {e}", file.display())),
            ),
            None => command.stderr(Stdio::inherit()),
        };
        let mut child = command.spawn().expect("edgescore serve starts");
        let url = announced_url(&mut child);
        Server {
            child,
            client: Client::new(&url),
            url,
            grace: self.grace,
            exited: false,
        }
    }

    /// Runs a server that is expected to stop on its own (a refused
    /// configuration, a taken port) and returns how it ended, with its
    /// standard output and error.
    pub fn output(&self) -> Output {
        self.command().output().expect("edgescore serve runs")
    }
}

/// The URL from the server's first line, `edgescore serving on <URL>`.
/// `child` must have been spawned with a piped stdout.
fn announced_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reads the URL line");
    first
        .trim()
        .strip_prefix("edgescore serving on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned()
}

/// A running `edgescore serve`. Dropping it sends SIGTERM, then kills the
/// process if it has not exited within the grace period.
#[derive(Debug)]
pub struct Server {
    child: Child,
    url: String,
    client: Client,
    grace: Duration,
    exited: bool,
}

impl Server {
    /// The URL the server announced, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.url
    }

    /// `host:port`, for a raw socket.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The server's URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// See [`Client::request`].
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> (u16, String) {
        self.client.request(method, path, headers, body)
    }

    /// See [`Client::get`].
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.client.get(path)
    }

    /// See [`Client::post`].
    pub fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        self.client.post(path, body)
    }

    /// See [`Client::post_json`].
    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.client.post_json(path, body)
    }

    /// See [`Client::metrics`].
    pub fn metrics(&self) -> String {
        self.client.metrics()
    }

    /// Sends SIGTERM: the server stops accepting, drains and exits.
    pub fn terminate(&self) {
        assert!(
            signal("-TERM", self.child.id()),
            "kill -TERM {} failed",
            self.child.id()
        );
    }

    /// Kills the server (SIGKILL: no cleanup) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.wait();
    }

    /// Waits for the server to exit; its exit status.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("the server is reaped");
        self.exited = true;
        status
    }

    /// Resident memory now (`VmRSS` of `/proc/<pid>/status`).
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {status}"));
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited {
            return;
        }
        signal("-TERM", self.child.id());
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (`-TERM`) to `pid` with `kill(1)` (the workspace denies
/// the `unsafe` a direct `kill(2)` would need); whether it was sent.
fn signal(signal: &str, pid: u32) -> bool {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Requests to one server: status codes are answers, not errors, and a
/// request may take up to a minute.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.to_owned(),
            agent,
        }
    }

    /// The server's URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Status and body text of a request. A transport failure (the
    /// server closed the connection) is status 0 with the error as text,
    /// so a test can say which request it was.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> (u16, String) {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.into()).expect("request builds");
        match self.agent.run(request) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response
                    .body_mut()
                    .read_to_string()
                    .unwrap_or_else(|e| format!("unreadable body: {e}"));
                (status, text)
            }
            Err(e) => (0, format!("transport error: {e}")),
        }
    }

    /// `GET path`: status and JSON body (the text as a JSON string when it
    /// is not JSON).
    pub fn get(&self, path: &str) -> (u16, Value) {
        json_answer(self.request("GET", path, &[], Vec::new()))
    }

    /// `POST path` with `body` as `application/json` (sent as it is, so it
    /// may be malformed): status and JSON body.
    pub fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        json_answer(self.request("POST", path, &[("content-type", "application/json")], body))
    }

    /// `POST path` with `body` serialised: status and JSON body.
    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post(path, body.to_string())
    }

    /// The text of `GET /metrics`.
    pub fn metrics(&self) -> String {
        self.request("GET", "/metrics", &[], Vec::new()).1
    }
}

fn json_answer((status, text): (u16, String)) -> (u16, Value) {
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}
