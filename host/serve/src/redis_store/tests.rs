//! A Redis that stalls, is paused or restarts: a call fails as unavailable
//! instead of hanging, and a later one is served again. What the Redis
//! store shares with the embedded one is tested in tests/feature_store/.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// A guard against a call that hangs (waits on Redis with no timeout at
/// all), not a measure of speed: far past the timeouts these tests set, so
/// a loaded test machine that is slow to schedule a thread still passes.
const HANG: Duration = Duration::from_secs(30);

/// Timeouts that even a heavily loaded test machine keeps to when Redis
/// answers (the host timeout is the default 2 s).
fn options() -> RedisOptions {
    RedisOptions {
        timeout: Duration::from_millis(500),
        ..RedisOptions::default()
    }
}

fn count() -> Vec<Window> {
    vec![Window {
        name: "count".into(),
        aggregate: Aggregate::Count,
        seconds: 3600,
    }]
}

fn at(seconds: i64) -> Observation {
    Observation {
        timestamp_ms: seconds * 1000,
        value: 1.0,
        distinct_key: None,
    }
}

/// Whether `call` failed as unavailable, within [`HANG`].
fn fails_as_unavailable<R: std::fmt::Debug>(call: impl FnOnce() -> Result<R, StoreError>) {
    let started = Instant::now();
    let result = call();
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
}

/// A server that speaks just enough of Redis's protocol: it reads each
/// command and answers `+OK` while `answering`, and nothing otherwise.
struct Silent {
    url: String,
    answering: Arc<AtomicBool>,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("redis://{}/", listener.local_addr().expect("address"));
        let answering = Arc::new(AtomicBool::new(true));
        let flag = answering.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let flag = flag.clone();
                std::thread::spawn(move || Self::serve(stream, &flag));
            }
        });
        Self { url, answering }
    }

    /// Reads commands (arrays of bulk strings) until the client goes.
    fn serve(stream: TcpStream, answering: &AtomicBool) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let line = |reader: &mut BufReader<TcpStream>, prefix: char| -> std::io::Result<usize> {
            let mut text = String::new();
            reader.read_line(&mut text)?;
            text.trim_end()
                .strip_prefix(prefix)
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| std::io::ErrorKind::InvalidData.into())
        };
        loop {
            for _ in 0..line(&mut reader, '*')? {
                let mut argument = vec![0; line(&mut reader, '$')? + 2];
                std::io::Read::read_exact(&mut reader, &mut argument)?;
            }
            if answering.load(Ordering::SeqCst) {
                writer.write_all(b"+OK\r\n")?;
            }
        }
    }
}

#[test]
fn a_redis_that_stops_answering_fails_the_call_and_a_later_call_is_served() {
    let server = Silent::start();
    let store = RedisStore::connect_with(&server.url, options()).expect("connect");
    store.put("card", "c1", "x", 1.0).expect("answered");
    server.answering.store(false, Ordering::SeqCst);
    // What a component calls, and what only the host calls.
    fails_as_unavailable(|| store.lookup("card", "c1", &["x".into()]));
    fails_as_unavailable(|| store.put("card", "c1", "x", 1.0));
    server.answering.store(true, Ordering::SeqCst);
    store
        .put("card", "c1", "x", 1.0)
        .expect("the next call connects anew and is answered");
}

#[test]
fn no_redis_fails_as_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    fails_as_unavailable(|| RedisStore::connect(&format!("redis://127.0.0.1:{port}/")));
}

#[test]
fn the_default_timeout_is_below_the_default_call_deadline() {
    let deadline = edgescore_runtime::limits::Limits::default().call_deadline;
    assert!(RedisOptions::default().timeout < deadline);
}

/// A `redis-server` of our own on a free port, no persistence; killed on
/// drop.
struct Redis {
    child: Child,
    port: u16,
    url: String,
}

impl Redis {
    /// `None` when redis-server is not installed (and not required by
    /// EDGESCORE_REQUIRE_REDIS=1).
    fn start() -> Option<Self> {
        let required = std::env::var_os("EDGESCORE_REQUIRE_REDIS").is_some_and(|v| v == "1");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = match Self::spawn(port) {
            Ok(child) => child,
            Err(e) if !required => {
                eprintln!("skipping: cannot start redis-server ({e})");
                return None;
            }
            Err(e) => panic!("EDGESCORE_REQUIRE_REDIS=1 but redis-server does not start: {e}"),
        };
        let redis = Self {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        redis.wait_until_answering();
        Some(redis)
    }

    fn spawn(port: u16) -> std::io::Result<Child> {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
    }

    fn wait_until_answering(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while RedisStore::connect(&self.url).is_err() {
            assert!(Instant::now() < deadline, "redis-server does not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends the server `signal` (`STOP`, `CONT`).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}: {status}");
    }

    /// Kills the server and starts a new one on the same port.
    fn restart(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.child = Self::spawn(self.port).expect("restart");
        self.wait_until_answering();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Paused by SIGSTOP, Redis reads nothing: calls fail within the timeout;
/// resumed, it serves again (the observation that timed out may count
/// too, applied once Redis caught up).
#[test]
fn a_paused_redis_fails_calls_within_the_timeout_and_serves_once_resumed() {
    let Some(redis) = Redis::start() else { return };
    let store = RedisStore::connect_with(&redis.url, options()).expect("connect");
    let w = count();
    store.observe("card", "c", &at(1), &w).expect("observe");
    redis.signal("STOP");
    fails_as_unavailable(|| store.observe("card", "c", &at(2), &w));
    fails_as_unavailable(|| store.read("card", "c", 10_000, &w));
    redis.signal("CONT");
    let observed = store
        .observe("card", "c", &at(3), &w)
        .expect("served once resumed");
    assert!(
        matches!(observed.values[..], [Some(n)] if n >= 2.0),
        "{observed:?}"
    );
}

/// A restarted Redis: the call on the connection to the old process fails,
/// and the next connects anew.
#[test]
fn a_broken_connection_is_replaced_on_the_next_call() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let store = RedisStore::connect_with(&redis.url, options()).expect("connect");
    store.put("card", "c", "x", 1.0).expect("put");
    redis.restart();
    fails_as_unavailable(|| store.lookup("card", "c", &["x".into()]));
    store
        .put("card", "c", "x", 2.0)
        .expect("served by the new server");
    assert_eq!(
        store.lookup("card", "c", &["x".into()]).expect("lookup"),
        vec![Some(2.0)]
    );
}
