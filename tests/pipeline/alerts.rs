//! Alerts reach an https webhook trusted through `--alert-webhook-ca`,
//! never one whose CA is not trusted.

use std::time::{Duration, Instant};

use edgescore_test_support::server::Serve;
use serde_json::{Value, json};

use crate::{path, score, start};

/// A webhook behind a private CA: with `--alert-webhook-ca` naming that CA,
/// a blocked transaction's alert arrives over https; with another CA the
/// server refuses to trust the webhook, and the alert is retried (counted),
/// never delivered in clear. A CA file without a certificate stops the
/// server at startup with the reason.
#[test]
fn alerts_reach_an_https_webhook_verified_against_a_private_ca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (webhook_ca, webhook_url, received) = https_webhook();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, webhook_ca).expect("write CA");
    let blocked = json!({"transactions": [{
        "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0,
        "merchant_id": "m40511", "merchant_category": "electronics", "channel": "online",
        "country": "NG", "home_country": "US", "device_id": "x91"}]});

    {
        let server = start(&[
            "--alert-log",
            path(&tmp.path().join("alerts.jsonl")),
            "--alert-webhook",
            &webhook_url,
            "--alert-webhook-ca",
            path(&ca_file),
        ]);
        let answer = score(&server, &blocked);
        assert_eq!(answer["results"][0]["decision"], "block", "{answer}");
        let alert = received
            .recv_timeout(Duration::from_secs(20))
            .expect("the alert reaches the webhook");
        let alert: Value = serde_json::from_str(&alert).expect("JSON alert");
        assert_eq!(alert["decision"], "block", "{alert}");
        assert_eq!(alert["pipeline"], "fraud", "{alert}");
        assert_eq!(alert["transaction"]["card_id"], "c00042", "{alert}");
    }

    // Another CA: the webhook's certificate is not trusted.
    let (other_ca, _, _) = https_webhook();
    let other_file = tmp.path().join("other.pem");
    std::fs::write(&other_file, other_ca).expect("write CA");
    {
        let server = start(&[
            "--alert-log",
            path(&tmp.path().join("alerts2.jsonl")),
            "--alert-webhook",
            &webhook_url,
            "--alert-webhook-ca",
            path(&other_file),
        ]);
        score(&server, &blocked);
        let deadline = Instant::now() + Duration::from_secs(20);
        let metric = |metrics: &str, name: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
        };
        loop {
            let metrics = server.metrics();
            assert_eq!(
                metric(&metrics, "edgescore_alert_webhook_delivered_total "),
                0,
                "an untrusted webhook got the alert"
            );
            if metric(&metrics, "edgescore_alert_webhook_retries_total ") > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "no retry counted:\n{metrics}");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(received.try_recv().is_err(), "nothing reached the webhook");
    }

    let empty = tmp.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").expect("write");
    let refused = Serve::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["--alert-webhook", &webhook_url, "--alert-webhook-ca"])
        .arg(&empty)
        .output();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no PEM certificate"), "{stderr}");
}

/// An https server on loopback with a certificate for `localhost` from a
/// fresh CA: returns the CA (PEM), the URL, and the bodies it receives.
fn https_webhook() -> (String, String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    use std::sync::Arc;

    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca =
        rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("key"))
            .expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let config = Arc::new(config);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let connection = rustls::ServerConnection::new(config.clone()).expect("connection");
            let mut tls = rustls::StreamOwned::new(connection, stream);
            // Headers, then a body of content-length bytes.
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let Some(length) = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
            else {
                continue; // the handshake failed, or no body
            };
            let mut body = vec![0u8; length];
            if tls.read_exact(&mut body).is_err() {
                continue;
            }
            let _ =
                tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tls.flush();
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (ca.pem(), format!("https://localhost:{port}/hook"), rx)
}
