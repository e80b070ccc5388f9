//! The top-level sections of a WebAssembly module or component, read far
//! enough to find, remove and append custom sections: the embedded
//! signature lives in a custom section named [`SIGNATURE_SECTION`].
//!
//! Both binary formats start with the magic `\0asm` and a 4-byte version,
//! then sections of `id: u8, size: LEB128 u32, contents`; a custom section
//! has id 0 in both, and its contents start with its name (a LEB128 length
//! and the bytes). Custom sections may stand anywhere and carry no
//! semantics, so removing or appending one leaves a valid binary valid.
//! Only top-level sections are read: the modules nested in a component are
//! opaque bytes here. Every read is bounds-checked: the bytes are hostile.

/// The custom section's name, as wasmsign2 names its own.
pub(crate) const SIGNATURE_SECTION: &str = "signature";

const MAGIC: &[u8; 4] = b"\0asm";
const HEADER_LEN: usize = 8;
const CUSTOM_SECTION_ID: u8 = 0;

/// Why bytes are not a WebAssembly binary whose sections can be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    #[error("it does not start with the WebAssembly magic bytes")]
    NotWasm,
    #[error("a section at byte {offset} runs past the end of the file")]
    Truncated { offset: usize },
    #[error("a section size at byte {offset} is not a valid LEB128 u32")]
    BadLeb { offset: usize },
}

/// A module or component with its `signature` custom sections taken out.
#[derive(Debug)]
pub(crate) struct Split {
    /// The binary without any `signature` custom section: what a signature covers.
    pub(crate) stripped: Vec<u8>,
    /// The contents (after the name) of each `signature` section, in order.
    pub(crate) signatures: Vec<Vec<u8>>,
}

/// Whether `bytes` start as a WebAssembly binary does.
pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Splits `bytes` into the binary without its `signature` custom sections
/// and those sections' contents.
pub(crate) fn split_signatures(bytes: &[u8]) -> Result<Split, WasmError> {
    if !has_magic(bytes) || bytes.len() < HEADER_LEN {
        return Err(WasmError::NotWasm);
    }
    let mut stripped = Vec::with_capacity(bytes.len());
    stripped.extend_from_slice(&bytes[..HEADER_LEN]);
    let mut signatures = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        let (size, after_size) = read_leb_u32(bytes, at + 1)?;
        let end = after_size
            .checked_add(size as usize)
            .filter(|&end| end <= bytes.len())
            .ok_or(WasmError::Truncated { offset: start })?;
        let contents = &bytes[after_size..end];
        match signature_data(id, contents, after_size)? {
            Some(data) => signatures.push(data.to_vec()),
            None => stripped.extend_from_slice(&bytes[start..end]),
        }
        at = end;
    }
    Ok(Split {
        stripped,
        signatures,
    })
}

/// The data of a custom section named `signature`, or `None` for any other section.
fn signature_data(id: u8, contents: &[u8], offset: usize) -> Result<Option<&[u8]>, WasmError> {
    if id != CUSTOM_SECTION_ID {
        return Ok(None);
    }
    let (name_len, name_start) =
        read_leb_u32(contents, 0).map_err(|_| WasmError::BadLeb { offset })?;
    let name_end = name_start
        .checked_add(name_len as usize)
        .filter(|&end| end <= contents.len())
        .ok_or(WasmError::Truncated { offset })?;
    if &contents[name_start..name_end] == SIGNATURE_SECTION.as_bytes() {
        Ok(Some(&contents[name_end..]))
    } else {
        Ok(None)
    }
}

/// Appends a custom section `name` holding `data` to the binary `bytes`.
pub(crate) fn append_custom_section(bytes: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut contents = Vec::with_capacity(name.len() + data.len() + 5);
    write_leb_u32(&mut contents, name.len());
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(data);
    bytes.push(CUSTOM_SECTION_ID);
    write_leb_u32(bytes, contents.len());
    bytes.extend_from_slice(&contents);
}

/// Whether a section of `len` bytes can be written (a u32 size).
pub(crate) fn fits_section(len: usize) -> bool {
    len < u32::MAX as usize - 64
}

/// Reads an unsigned LEB128 u32 at `at`: the value and the offset after it.
fn read_leb_u32(bytes: &[u8], at: usize) -> Result<(u32, usize), WasmError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let offset = at + i;
        let byte = *bytes
            .get(offset)
            .ok_or(WasmError::Truncated { offset: at })?;
        let bits = u32::from(byte & 0x7f);
        // The fifth byte holds only the top 4 bits of a u32.
        if i == 4 && (byte & 0x80 != 0 || bits > 0x0f) {
            return Err(WasmError::BadLeb { offset: at });
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, offset + 1));
        }
    }
    Err(WasmError::BadLeb { offset: at })
}

/// Writes `value` (below 2^32, see [`fits_section`]) as an unsigned LEB128.
fn write_leb_u32(out: &mut Vec<u8>, value: usize) {
    let mut value = value as u64;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty core module: the header alone.
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn leb128_round_trips_at_the_edges() {
        for value in [0usize, 1, 127, 128, 16_383, 16_384, u32::MAX as usize] {
            let mut bytes = Vec::new();
            write_leb_u32(&mut bytes, value);
            assert_eq!(read_leb_u32(&bytes, 0), Ok((value as u32, bytes.len())));
        }
        assert!(read_leb_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f], 0).is_err());
        assert!(read_leb_u32(&[0x80, 0x80], 0).is_err());
    }

    #[test]
    fn appended_signature_sections_are_found_and_stripped() {
        let mut bytes = EMPTY_MODULE.to_vec();
        append_custom_section(&mut bytes, "name", b"kept");
        let unsigned = bytes.clone();
        append_custom_section(&mut bytes, SIGNATURE_SECTION, b"one");
        append_custom_section(&mut bytes, SIGNATURE_SECTION, b"two");
        let split = split_signatures(&bytes).expect("sections read");
        assert_eq!(split.stripped, unsigned);
        assert_eq!(split.signatures, vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn truncated_and_foreign_bytes_are_errors_not_panics() {
        assert!(matches!(split_signatures(b"\0as"), Err(WasmError::NotWasm)));
        let mut bytes = EMPTY_MODULE.to_vec();
        append_custom_section(&mut bytes, SIGNATURE_SECTION, b"data");
        for cut in 0..bytes.len() {
            let _ = split_signatures(&bytes[..cut]);
        }
        bytes[9] = 0xff;
        assert!(split_signatures(&bytes).is_err());
    }
}
