//! The audit log: appended entries chain; every tampering but cutting the
//! end is found at its line.

use std::sync::Arc;

use edgescore_trust::{
    AuditAction, AuditError, AuditLog, AuditRecord, AuditViolation, verify_audit_log,
};
use serde_json::json;

use super::*;

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        actor: "ops".to_owned(),
        action: if n.is_multiple_of(2) {
            AuditAction::Load
        } else {
            AuditAction::Swap
        },
        model: Some("fraud".to_owned()),
        version: Some(n),
        details: json!({"n": n, "note": "line\nbreak"}),
    }
}

/// A log of `n` entries; its lines.
fn log_of(scratch: &Scratch, n: u64) -> (PathBuf, Vec<String>) {
    let path = scratch.path("audit.jsonl");
    let log = AuditLog::open(&path).expect("opened");
    for i in 1..=n {
        assert_eq!(log.append(&record(i)).expect("appended"), i);
    }
    drop(log);
    let text = std::fs::read_to_string(&path).expect("read");
    (path, text.lines().map(str::to_owned).collect())
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("written");
}

#[test]
fn appended_entries_chain_and_verify() {
    let scratch = Scratch::new();
    let (path, lines) = log_of(&scratch, 5);
    assert_eq!(lines.len(), 5);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["action"], "swap");
    assert_eq!(first["model"], "fraud");
    let at = first["at"].as_str().expect("a time");
    assert!(
        at.ends_with('Z') && at.len() == "2026-01-01T00:00:00.000Z".len(),
        "{at}"
    );
    let summary = verify_audit_log(&path).expect("valid");
    assert_eq!(summary.entries, 5);
    assert_eq!(summary.torn_tail_bytes, 0);

    // Reopened, the chain goes on; a record without model and version leaves them out.
    let log = AuditLog::open(&path).expect("reopened");
    let startup = AuditRecord {
        actor: "server".to_owned(),
        action: AuditAction::Startup,
        model: None,
        version: None,
        details: json!({}),
    };
    assert_eq!(log.append(&startup).expect("appended"), 6);
    drop(log);
    let text = std::fs::read_to_string(&path).expect("read");
    let last = text.lines().last().expect("a line");
    assert!(
        !last.contains("\"model\"") && !last.contains("\"version\""),
        "{last}"
    );
    let summary = verify_audit_log(&path).expect("valid");
    assert_eq!(summary.entries, 6);
    assert_ne!(summary.head_sha256, "0".repeat(64));
}

#[test]
fn tampering_is_found_at_its_line() {
    let scratch = Scratch::new();
    let (path, lines) = log_of(&scratch, 5);
    let edited = {
        let mut l = lines.clone();
        l[1] = l[1].replace("\"ops\"", "\"eve\"");
        l
    };
    let removed = {
        let mut l = lines.clone();
        l.remove(2);
        l
    };
    let reordered = {
        let mut l = lines.clone();
        l.swap(1, 2);
        l
    };
    let first_removed = lines[1..].to_vec();
    let garbage = {
        let mut l = lines.clone();
        l[3] = "not json".to_owned();
        l
    };
    let cases = [
        (edited, 3, "prev"),
        (removed, 3, "seq 4"),
        (reordered, 2, "seq 3"),
        (first_removed, 1, "seq 2"),
        (garbage, 4, "not an audit entry"),
    ];
    for (tampered, line, words) in cases {
        write_lines(&path, &tampered);
        let violation = verify_audit_log(&path).expect_err("tampering found");
        assert_eq!(violation.line(), Some(line), "{violation}");
        let message = violation.to_string();
        assert!(message.contains(&format!("line {line}")), "{message}");
        assert!(message.contains(words), "{message}");
    }
    // An edit whose seq and prev are kept still breaks the next line.
    let mut forged = lines.clone();
    forged[0] = forged[0].replace("\"version\":1", "\"version\":9");
    write_lines(&path, &forged);
    let violation = verify_audit_log(&path).expect_err("found");
    assert!(
        matches!(violation, AuditViolation::Chain { line: 2, .. }),
        "{violation}"
    );
}

#[test]
fn cutting_the_end_is_found_only_against_a_recorded_head() {
    let scratch = Scratch::new();
    let (path, lines) = log_of(&scratch, 4);
    let head = verify_audit_log(&path).expect("valid").head_sha256;
    write_lines(&path, &lines[..3]);
    let summary = verify_audit_log(&path).expect("a shorter chain is valid");
    assert_eq!(summary.entries, 3);
    assert_ne!(summary.head_sha256, head, "the recorded head tells");
}

#[test]
fn a_torn_last_line_is_cut_on_open() {
    let scratch = Scratch::new();
    let (path, lines) = log_of(&scratch, 3);
    let mut text = lines.join("\n");
    text.push('\n');
    text.push_str("{\"seq\":4,\"at\":\"2026-");
    std::fs::write(&path, &text).expect("written");
    let summary = verify_audit_log(&path).expect("a torn tail is no violation");
    assert_eq!((summary.entries, summary.torn_tail_bytes), (3, 20));

    let log = AuditLog::open(&path).expect("opened");
    assert_eq!(log.torn_tail_bytes(), 20);
    assert_eq!(log.append(&record(4)).expect("appended"), 4);
    drop(log);
    assert_eq!(verify_audit_log(&path).expect("valid").entries, 4);
}

#[test]
fn a_log_is_refused_when_held_or_when_its_last_line_is_not_an_entry() {
    let scratch = Scratch::new();
    let (path, mut lines) = log_of(&scratch, 2);
    let held = AuditLog::open(&path).expect("opened");
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Locked { .. })
    ));
    drop(held);
    lines.push("garbage".to_owned());
    write_lines(&path, &lines);
    let error = AuditLog::open(&path).expect_err("refused");
    assert!(matches!(error, AuditError::LastLine { .. }), "{error}");
}

#[test]
fn appends_from_many_threads_keep_one_chain() {
    fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<AuditLog>();
    let scratch = Scratch::new();
    let path = scratch.path("audit.jsonl");
    let log = Arc::new(AuditLog::open(&path).expect("opened"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..25 {
                    log.append(&record(t * 100 + i)).expect("appended");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread ends");
    }
    assert_eq!(log.path(), path);
    assert_eq!(verify_audit_log(&path).expect("valid").entries, 100);
}
