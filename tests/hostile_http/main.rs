//! `edgescore serve` against hostile HTTP clients, run as a user runs it
//! and called over loopback (a real HTTP client; a raw socket where the
//! client must misbehave).
//!
//! Each request below once crashed the server, held gigabytes, or was
//! answered wrongly: shapes far larger than their data (or overflowing
//! `usize`), a body of 1.3 million empty rows, `Expect: 100-continue` with a
//! huge length. Each is now a 4xx naming what to fix; the server keeps
//! serving and stays small. With them: a taken port reported before the
//! registry is read, alert-log errors naming the file, no alert log until
//! an alert, a crashed demo server's folder removed by the next one, folders
//! that are not versions listed with why, and the listings
//! (`GET /v1/models`, `GET /v1/pipelines/<p>`).
//!
//! - `requests`: the hostile requests, against one server on a registry;
//! - `startup`: the demo registry after a crash, a taken port, the alert log.

mod requests;
mod startup;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_test_support::repo_root;
use edgescore_test_support::server::{Serve, Server};
use serde_json::Value;

/// `edgescore serve` on a free port, ten seconds to drain when dropped.
fn serve() -> Serve {
    Serve::new(env!("CARGO_BIN_EXE_edgescore"))
}

/// A V2 binary request: the JSON header, then `data`.
fn post_binary(server: &Server, path: &str, header: &Value, data: &[u8]) -> (u16, Value) {
    let header = header.to_string();
    let length = header.len().to_string();
    let mut body = header.into_bytes();
    body.extend_from_slice(data);
    let (status, text) = server.request(
        "POST",
        path,
        &[
            ("content-type", "application/octet-stream"),
            ("inference-header-content-length", &length),
        ],
        body,
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Sends a request's head with `Expect: 100-continue` on a raw socket and
/// returns what the server answers before any body is sent (up to the end
/// of its first final response, or of the connection). When the server
/// answers `100 Continue`, `body` follows and the final response is read.
fn expect_continue(addr: &str, path: &str, length: u64, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nexpect: 100-continue\r\n\r\n"
    )
    .expect("sends the head");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut sent_body = false;
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if !sent_body && text.starts_with("HTTP/1.1 100 Continue\r\n\r\n") {
            stream.write_all(body).expect("sends the body");
            sent_body = true;
        }
        // A complete final response: its head, then content-length bytes.
        let final_start = if text.starts_with("HTTP/1.1 100") {
            text.find("\r\n\r\n").map_or(usize::MAX, |i| i + 4)
        } else {
            0
        };
        if let Some(head) = text.get(final_start..)
            && let Some(end) = head.find("\r\n\r\n")
        {
            let length = head[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| head.len() >= end + 4 + n) {
                return text;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return text,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The quickstart model built as `fraud` version 1 into `<registry>/fraud/1`.
fn registry_with_fraud(registry: &Path) {
    let component = build_component(&BuildRequest {
        model: &repo_root().join("examples/quickstart/fraud_xgboost.json"),
        format: None,
        name: "fraud",
        version: "1",
    })
    .expect("builds");
    let folder = registry.join("fraud").join("1");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("model.wasm.tmp"), component).expect("write");
    std::fs::rename(folder.join("model.wasm.tmp"), folder.join("model.wasm")).expect("rename");
}

/// Asserts a 4xx status and an error message holding each of `says`.
#[track_caller]
fn check_refused(what: &str, (status, body): (u16, Value), expected: u16, says: &[&str]) {
    let error = body["error"].as_str().unwrap_or_default();
    assert_eq!(status, expected, "{what}: {body}");
    for part in says {
        assert!(error.contains(part), "{what}: '{part}' not in: {error}");
    }
}

/// A JSON array of `n` zeros.
fn zeros(n: usize) -> String {
    let mut text = String::with_capacity(2 * n + 2);
    text.push('[');
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push('0');
    }
    text.push(']');
    text
}

fn infer_body(shape: &str, data: &str) -> String {
    format!(
        r#"{{"inputs":[{{"name":"features","shape":{shape},"datatype":"FP32","data":{data}}}]}}"#
    )
}
