//! The in-toto statement a bundle signs: the artifact's files and their
//! SHA-256, in the OpenSSF Model Signing `files` serialization.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::artifact::Resource;
use crate::digest::{hex, is_sha256_hex};

const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// More files than this is not a model version.
const MAX_RESOURCES: usize = 100_000;

#[derive(Debug, Serialize, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Predicate,
}

#[derive(Debug, Serialize, Deserialize)]
struct Subject {
    name: String,
    digest: SubjectDigest,
}

#[derive(Debug, Serialize, Deserialize)]
struct SubjectDigest {
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Predicate {
    serialization: Serialization,
    resources: Vec<ResourceEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Serialization {
    method: String,
    hash_type: String,
    allow_symlinks: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct ResourceEntry {
    name: String,
    algorithm: String,
    digest: String,
}

/// The statement JSON for `resources` (sorted here by name), the subject
/// named `subject_name` (the artifact's base name).
pub(crate) fn encode(subject_name: &str, resources: &[Resource]) -> Vec<u8> {
    let mut resources = resources.to_vec();
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    let statement = Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: vec![Subject {
            name: subject_name.to_owned(),
            digest: SubjectDigest {
                sha256: root_digest(&resources),
            },
        }],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: Predicate {
            serialization: Serialization {
                method: "files".to_owned(),
                hash_type: "sha256".to_owned(),
                allow_symlinks: false,
            },
            resources: resources
                .into_iter()
                .map(|r| ResourceEntry {
                    name: r.name,
                    algorithm: "sha256".to_owned(),
                    digest: r.sha256,
                })
                .collect(),
        },
    };
    // A struct of strings, vectors and a bool always serializes.
    serde_json::to_vec(&statement).expect("a statement of strings serializes")
}

/// The files and digests a statement lists, sorted by name, once the
/// statement is checked to be one: the types, the `files` serialization
/// with SHA-256, unique names, 64-digit lowercase hex digests, and one
/// subject whose digest is the root digest of the resources.
pub(crate) fn decode(payload: &[u8]) -> Result<Vec<Resource>, String> {
    let statement: Statement =
        serde_json::from_slice(payload).map_err(|e| format!("the statement is not valid: {e}"))?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(format!("the statement's _type is not {STATEMENT_TYPE}"));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(format!("the predicateType is not {PREDICATE_TYPE}"));
    }
    let serialization = &statement.predicate.serialization;
    if serialization.method != "files" || serialization.hash_type != "sha256" {
        return Err("the serialization is not the method \"files\" with sha256".to_owned());
    }
    let entries = statement.predicate.resources;
    if entries.is_empty() || entries.len() > MAX_RESOURCES {
        return Err(format!("the statement lists {} files", entries.len()));
    }
    let mut names = BTreeSet::new();
    let mut resources = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.algorithm != "sha256" || !is_sha256_hex(&entry.digest) {
            return Err(format!(
                "the digest of {:?} is not a sha256 in lowercase hex",
                entry.name
            ));
        }
        if !names.insert(entry.name.clone()) {
            return Err(format!("the file {:?} is listed twice", entry.name));
        }
        resources.push(Resource {
            name: entry.name,
            sha256: entry.digest,
        });
    }
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    match &statement.subject[..] {
        [subject] if subject.digest.sha256 == root_digest(&resources) => Ok(resources),
        [_] => Err("the subject's digest is not the digest of the files listed".to_owned()),
        _ => Err("the statement does not have exactly one subject".to_owned()),
    }
}

/// The subject's digest: SHA-256 over `<name>\0<hex digest>\n` of each
/// resource, in name order (`resources` is sorted by name).
fn root_digest(resources: &[Resource]) -> String {
    let mut hasher = Sha256::new();
    for resource in resources {
        hasher.update(resource.name.as_bytes());
        hasher.update([0]);
        hasher.update(resource.sha256.as_bytes());
        hasher.update([b'\n']);
    }
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(name: &str, byte: u8) -> Resource {
        Resource {
            name: name.to_owned(),
            sha256: hex(&[byte; 32]),
        }
    }

    #[test]
    fn a_statement_round_trips_sorted() {
        let files = [resource("model.wasm", 1), resource("a/b.toml", 2)];
        let decoded = decode(&encode("3", &files)).expect("decodes");
        assert_eq!(decoded, vec![files[1].clone(), files[0].clone()]);
    }

    #[test]
    fn an_inconsistent_subject_is_refused() {
        let payload = encode("3", &[resource("model.wasm", 1)]);
        let text = String::from_utf8(payload).expect("utf-8");
        let other = hex(&[1; 32]).replacen("01", "02", 1);
        let tampered = text.replace(&hex(&[1; 32]), &other);
        assert!(decode(tampered.as_bytes()).is_err());
    }
}
