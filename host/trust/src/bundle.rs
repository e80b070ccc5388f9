//! The signature bundle: a Sigstore bundle v0.3 whose DSSE envelope holds
//! the statement and its Ed25519 signatures, as the OpenSSF Model Signing
//! spec shapes it (with a public key hint instead of a certificate).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type of an in-toto statement.
pub(crate) const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// More signatures than this is not a bundle anyone wrote.
const MAX_SIGNATURES: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    #[serde(default)]
    verification_material: Option<VerificationMaterial>,
    dsse_envelope: Envelope,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    public_key: KeyHint,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyHint {
    hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EnvelopeSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// One signature of the envelope.
#[derive(Debug, Clone)]
pub(crate) struct KeySignature {
    /// The key id it names (empty when the bundle names none).
    pub(crate) key_id: String,
    /// The Ed25519 signature over the PAE of the payload.
    pub(crate) signature: [u8; 64],
}

/// A bundle, decoded and checked for shape (not for signatures).
#[derive(Debug)]
pub(crate) struct ParsedBundle {
    /// The statement's exact bytes, as signed.
    pub(crate) payload: Vec<u8>,
    pub(crate) signatures: Vec<KeySignature>,
}

/// DSSE's pre-authentication encoding of `payload`:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Reads a bundle: JSON of the shape above, the in-toto payload type, the
/// payload and every signature in standard base64, each signature 64 bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<ParsedBundle, String> {
    let bundle: Bundle =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not a bundle: {e}"))?;
    if bundle.media_type != MEDIA_TYPE {
        return Err(format!("its mediaType is not {MEDIA_TYPE}"));
    }
    let envelope = bundle.dsse_envelope;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(format!(
            "its payloadType is {:?}, not {PAYLOAD_TYPE:?}",
            envelope.payload_type
        ));
    }
    let payload = STANDARD
        .decode(&envelope.payload)
        .map_err(|e| format!("its payload is not base64: {e}"))?;
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(format!(
            "it holds {} signatures, more than {MAX_SIGNATURES}",
            envelope.signatures.len()
        ));
    }
    let signatures = envelope
        .signatures
        .into_iter()
        .map(|s| {
            let signature = STANDARD
                .decode(&s.sig)
                .ok()
                .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    format!(
                        "the signature by {:?} is not the base64 of 64 bytes",
                        s.keyid
                    )
                })?;
            Ok(KeySignature {
                key_id: s.keyid,
                signature,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(ParsedBundle {
        payload,
        signatures,
    })
}

/// The bundle JSON (pretty, with a final newline) of `payload` and `signatures`.
pub(crate) fn encode(payload: &[u8], signatures: &[KeySignature]) -> Vec<u8> {
    let bundle = Bundle {
        media_type: MEDIA_TYPE.to_owned(),
        verification_material: signatures.first().map(|s| VerificationMaterial {
            public_key: KeyHint {
                hint: s.key_id.clone(),
            },
        }),
        dsse_envelope: Envelope {
            payload: STANDARD.encode(payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: signatures
                .iter()
                .map(|s| EnvelopeSignature {
                    keyid: s.key_id.clone(),
                    sig: STANDARD.encode(s.signature),
                })
                .collect(),
        },
    };
    // A struct of strings always serializes.
    let mut bytes = serde_json::to_vec_pretty(&bundle).expect("a bundle of strings serializes");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
