//! Connections: slow clients are cut off and cost only their own
//! connection; SIGTERM drains the requests in flight.

use std::time::{Duration, Instant};

use crate::{Fixture, scored_by};

/// Reads whatever the server sends until it closes or `limit` passes.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> String {
    use std::io::Read as _;
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn slow_clients_are_cut_off_and_cost_only_their_own_connection() {
    use std::io::Write as _;
    let fixture = Fixture::start(
        "header_timeout_ms = 300\nbody_timeout_ms = 300\n",
        |_, _| {},
    );
    let server = &fixture.server;
    let address = server.addr().to_owned();

    // Headers that never finish: the connection is closed.
    let mut headers_only = std::net::TcpStream::connect(&address).expect("connect");
    headers_only
        .write_all(b"POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    // A body that never finishes: 408 with a JSON error.
    let mut slow_body = std::net::TcpStream::connect(&address).expect("connect");
    slow_body
        .write_all(b"POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"rows\"")
        .expect("write");

    // Meanwhile everyone else is served.
    let (status, body) = scored_by(server, None, 10.0);
    assert_eq!(status, 200, "{body}");

    let started = Instant::now();
    let answer = read_until_closed(&mut headers_only, Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a client that never finished its headers was kept for {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let answer = read_until_closed(&mut slow_body, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"kind\":\"timeout\""), "{answer}");
}

#[test]
fn sigterm_drains_in_flight_requests() {
    use std::io::Write as _;
    let mut fixture = Fixture::start("", |_, _| {});
    let server = &mut fixture.server;
    let address = server.addr().to_owned();
    let body = br#"{"rows": [{"amount": 950.0}]}"#;
    // A request in flight: headers and half the body sent.
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    write!(
        stream,
        "POST /v1/models/fraud/score HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("headers");
    stream.write_all(&body[..10]).expect("half the body");
    std::thread::sleep(Duration::from_millis(200));
    server.terminate();
    std::thread::sleep(Duration::from_millis(200));
    // The server is draining: it still finishes this request.
    stream.write_all(&body[10..]).expect("the rest of the body");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"version\":1"), "{answer}");
    // And then it exits cleanly, refusing new connections.
    let exit = server.wait();
    assert!(exit.success(), "{exit:?}");
    assert!(std::net::TcpStream::connect(&address).is_err());
}
