//! SHA-256 of files and bytes, and its lowercase hex form.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub(crate) type Sha256Digest = [u8; 32];

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256::digest(bytes).into()
}

/// The SHA-256 of the file at `path`, read in blocks (a model can be large).
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<Sha256Digest> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&block[..n]);
    }
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `text` is a SHA-256 in lowercase hex (64 digits), as written here.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_the_empty_digest_is_the_known_one() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_sha256_hex(&hex(&sha256(b"x"))));
        assert!(!is_sha256_hex("E3B0"));
    }
}
