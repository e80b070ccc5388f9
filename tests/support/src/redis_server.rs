//! A `redis-server` of a test's own: a free port, no persistence, killed
//! when dropped. CI installs it and sets `EDGESCORE_REQUIRE_REDIS=1`, so
//! the tests that need it cannot skip there; elsewhere they skip with a
//! message when it is missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    /// `redis://127.0.0.1:<port>/` (append a database number to pick one).
    pub url: String,
    pub port: u16,
}

impl RedisServer {
    /// `None` when redis-server is not installed (and not required).
    pub fn start() -> Option<Self> {
        let required = std::env::var_os("EDGESCORE_REQUIRE_REDIS").is_some_and(|v| v == "1");
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = match Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if !required => {
                eprintln!(
                    "skipping: cannot start redis-server ({e}); set EDGESCORE_REQUIRE_REDIS=1 to fail instead"
                );
                return None;
            }
            Err(e) => panic!("EDGESCORE_REQUIRE_REDIS=1 but redis-server does not start: {e}"),
        };
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// Whether it answers PING.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
