//! `edgescore audit verify` on a log the library wrote.

use edgescore_trust::{AuditAction, AuditLog, AuditRecord};

use super::*;

#[test]
fn an_intact_log_verifies_and_an_edited_line_is_named() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let path = scratch.path().join("audit.jsonl");
    let log = AuditLog::open(&path).expect("opened");
    for version in 1..=3 {
        let record = AuditRecord {
            actor: "ops".to_owned(),
            action: AuditAction::Load,
            model: Some("fraud".to_owned()),
            version: Some(version),
            details: serde_json::json!({"signers": ["release"]}),
        };
        log.append(&record).expect("appended");
    }
    drop(log);
    let out = succeeded(
        "audit verify",
        &edgescore(&["audit", "verify", path_str(&path)]),
    );
    assert!(
        out.contains("3 entries") && out.contains("head sha256 "),
        "{out}"
    );

    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replacen("\"version\":2", "\"version\":7", 1)).expect("written");
    let err = refused(
        "audit verify an edited log",
        &edgescore(&["audit", "verify", path_str(&path)]),
    );
    assert!(err.contains("line 3"), "{err}");
}
