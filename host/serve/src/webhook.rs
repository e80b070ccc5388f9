//! The alert webhook client: an `http://` or `https://` URL checked when the
//! server starts, and the agent that posts to it. HTTPS verifies the
//! server against Mozilla's roots, or only against the certificates of
//! `alert_webhook_ca` (a PEM file) for a webhook behind a private CA.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Where alerts are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// Trust only these roots (PEM certificates) instead of Mozilla's.
    pub ca_file: Option<PathBuf>,
}

/// Why the webhook settings cannot be used (refused at startup).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "alert webhook '{0}' is not an http:// or https:// URL with a host (e.g. https://hooks.example.com/fraud)"
    )]
    BadUrl(String),
    #[error("alert webhook CA file {path}: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("alert webhook CA file is set, but the webhook '{0}' is plain http")]
    CaWithoutTls(String),
}

/// Checks `config` and builds the agent that posts to it: 5 s per attempt,
/// non-2xx answers are failures (so they are retried).
pub fn agent(config: &WebhookConfig) -> Result<ureq::Agent, WebhookError> {
    let url = config.url.as_str();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| WebhookError::BadUrl(url.to_owned()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || host.contains(char::is_whitespace) {
        return Err(WebhookError::BadUrl(url.to_owned()));
    }
    let mut tls = TlsConfig::builder();
    if let Some(path) = &config.ca_file {
        if url.starts_with("http://") {
            return Err(WebhookError::CaWithoutTls(url.to_owned()));
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&read_certificates(path)?));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(true)
        .tls_config(tls.build())
        .build()
        .into())
}

/// Every certificate in the PEM file at `path` (at least one).
fn read_certificates(path: &Path) -> Result<Vec<Certificate<'static>>, WebhookError> {
    let bad = |reason: String| WebhookError::BadCa {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        // Keys and other items have no place in a trust file: skipped.
        if let PemItem::Certificate(c) = item.map_err(|e| bad(format!("not valid PEM: {e}")))? {
            certificates.push(c);
        }
    }
    if certificates.is_empty() {
        return Err(bad(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        ));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<ureq::Agent, WebhookError> {
        agent(&WebhookConfig {
            url: url.into(),
            ca_file: None,
        })
    }

    #[test]
    fn only_http_and_https_urls_with_a_host() {
        assert!(check("https://hooks.example.com/fraud").is_ok());
        assert!(check("http://127.0.0.1:9000").is_ok());
        for bad in [
            "hooks.example.com",
            "ftp://x",
            "https://",
            "https:///path",
            "http://:80/",
        ] {
            let e = check(bad).expect_err(bad).to_string();
            assert!(e.contains("not an http:// or https:// URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here").expect("write");
        let e = agent(&WebhookConfig {
            url: "https://localhost/".into(),
            ca_file: Some(empty),
        })
        .expect_err("refused")
        .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = agent(&WebhookConfig {
            url: "http://localhost/".into(),
            ca_file: Some(dir.path().join("missing.pem")),
        })
        .expect_err("refused")
        .to_string();
        assert!(e.contains("plain http"), "{e}");
    }
}
