//! [`sign_artifact`]: writes or extends an artifact's signature bundle.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::artifact::{
    ArtifactError, Resource, detached_signature_path, directory_files, file_name, metadata,
    read_bundle, resources,
};
use crate::bundle::{self, KeySignature, PAYLOAD_TYPE, pae};
use crate::digest::{hex, sha256};
use crate::error::TrustError;
use crate::keys::SecretKey;
use crate::statement;
use crate::wasm::{
    SIGNATURE_SECTION, append_custom_section, fits_section, has_magic, split_signatures,
};

/// How to sign.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// A .wasm: put the signature in a custom section instead of a detached file.
    pub embed: bool,
}

/// What signing wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOutcome {
    /// The bundle written, or the .wasm itself when embedded.
    pub signature_file: PathBuf,
    /// All key ids now on the artifact (the new one last).
    pub signers: Vec<String>,
    /// The artifact had signatures over files that have changed since: they
    /// were void and are gone; only the new signature is on it now.
    pub replaced_stale: bool,
}

/// Signs the artifact at `path` (a directory or a file) with `key`.
///
/// Without `embed`, writes the detached bundle (`<dir>/model.sig`, or
/// `<file>.sig`); with it, the `.wasm` (the file, or a directory's only
/// file) is rewritten with the bundle in a `signature` custom section.
/// When the artifact already has a bundle whose statement still matches
/// its files, the signature is added to it (replacing one by the same key
/// id); when the files changed, the old signatures are void and the new
/// bundle holds only this one ([`SignOutcome::replaced_stale`]). Files
/// are replaced atomically (written beside, then renamed).
pub fn sign_artifact(
    path: &Path,
    key: &SecretKey,
    options: &SignOptions,
) -> Result<SignOutcome, TrustError> {
    let is_dir = metadata(path).map_err(TrustError::Artifact)?.is_dir();
    let subject = subject_name(path)?;
    let detached = detached_signature_path(path, is_dir);
    if !options.embed {
        let resources = resources(path).map_err(TrustError::Artifact)?;
        let existing = read_bundle(&detached).map_err(TrustError::Artifact)?;
        let signed = add_signature(existing.as_deref(), &detached, &subject, &resources, key)?;
        write_replacing(
            &detached,
            &bundle::encode(&signed.payload, &signed.signatures),
        )?;
        return Ok(signed.outcome(detached));
    }
    if read_bundle(&detached)
        .map_err(TrustError::Artifact)?
        .is_some()
    {
        return Err(TrustError::DetachedSignatureExists {
            path: path.to_owned(),
            detached,
        });
    }
    let cannot = |reason: &str| TrustError::CannotEmbed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let (wasm, name) = if is_dir {
        match &directory_files(path).map_err(TrustError::Artifact)?[..] {
            [(name, file)] if name.ends_with(".wasm") => (file.clone(), name.clone()),
            _ => {
                return Err(cannot(
                    "a directory carries an embedded signature only when its one file is a .wasm",
                ));
            }
        }
    } else {
        (
            path.to_owned(),
            file_name(path).map_err(TrustError::Artifact)?,
        )
    };
    let bytes = std::fs::read(&wasm).map_err(|source| TrustError::Read {
        path: wasm.clone(),
        source,
    })?;
    if !has_magic(&bytes) {
        return Err(cannot("it is not a WebAssembly module or component"));
    }
    let split = split_signatures(&bytes).map_err(|source| {
        TrustError::Artifact(ArtifactError::BadWasm {
            path: wasm.clone(),
            source,
        })
    })?;
    let resources = [Resource {
        name,
        sha256: hex(&sha256(&split.stripped)),
    }];
    let existing = split.signatures.first().map(Vec::as_slice);
    let signed = add_signature(existing, &wasm, &subject, &resources, key)?;
    let bundle = bundle::encode(&signed.payload, &signed.signatures);
    if !fits_section(bundle.len()) {
        return Err(cannot("the bundle is too large for a custom section"));
    }
    let mut out = split.stripped;
    append_custom_section(&mut out, SIGNATURE_SECTION, &bundle);
    write_replacing(&wasm, &out)?;
    Ok(signed.outcome(wasm))
}

/// A statement and its signatures, ready to encode.
struct Signed {
    payload: Vec<u8>,
    signatures: Vec<KeySignature>,
    replaced_stale: bool,
}

impl Signed {
    fn outcome(&self, signature_file: PathBuf) -> SignOutcome {
        SignOutcome {
            signature_file,
            signers: self.signatures.iter().map(|s| s.key_id.clone()).collect(),
            replaced_stale: self.replaced_stale,
        }
    }
}

/// The existing bundle (if any) with `key`'s signature added, or a new
/// bundle when there is none or its statement no longer matches `resources`.
fn add_signature(
    existing: Option<&[u8]>,
    bundle_path: &Path,
    subject: &str,
    resources: &[Resource],
    key: &SecretKey,
) -> Result<Signed, TrustError> {
    let bad = |reason: String| TrustError::ExistingBundle {
        path: bundle_path.to_owned(),
        reason,
    };
    let fresh = || (statement::encode(subject, resources), Vec::new());
    let (payload, mut signatures, replaced_stale) = match existing {
        None => {
            let (payload, signatures) = fresh();
            (payload, signatures, false)
        }
        Some(bytes) => {
            let parsed = bundle::decode(bytes).map_err(bad)?;
            let signed = statement::decode(&parsed.payload).map_err(bad)?;
            let mut current = resources.to_vec();
            current.sort_by(|a, b| a.name.cmp(&b.name));
            if signed == current {
                (parsed.payload, parsed.signatures, false)
            } else {
                let (payload, signatures) = fresh();
                (payload, signatures, !parsed.signatures.is_empty())
            }
        }
    };
    signatures.retain(|s| s.key_id != key.key_id());
    signatures.push(KeySignature {
        key_id: key.key_id().to_owned(),
        signature: key.sign(&pae(PAYLOAD_TYPE, &payload)),
    });
    Ok(Signed {
        payload,
        signatures,
        replaced_stale,
    })
}

/// The artifact's base name, for the statement's subject.
fn subject_name(path: &Path) -> Result<String, TrustError> {
    let full = path.canonicalize().map_err(|source| TrustError::Read {
        path: path.to_owned(),
        source,
    })?;
    match full.file_name() {
        Some(_) => file_name(&full).map_err(TrustError::Artifact),
        None => Ok("/".to_owned()),
    }
}

/// Replaces `path` with `bytes`: written and synced beside it under a
/// temporary name (`<path>.<pid>.signing`), then renamed over it.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), TrustError> {
    let write = |source| TrustError::Write {
        path: path.to_owned(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.signing", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            // A file replaced keeps its permissions (a bundle is new: the default).
            match std::fs::metadata(path) {
                Ok(old) => file.set_permissions(old.permissions())?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        // The temporary file is ours and useless now; a failure to remove it
        // changes nothing for the error reported.
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(write)
}
