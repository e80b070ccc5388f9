//! How much linear memory a component's instance holds before its first
//! call: the largest initial size among its core modules' memories. A
//! pre-initialised scorer's memory image holds its whole model, so a large
//! forest can need more than the memory cap; this says so before wasmtime
//! refuses it in its own words.

/// The largest initial memory, in bytes, of any core module inside the
/// component (0 when none declares one). Fails on malformed bytes.
pub(crate) fn largest_initial_memory(component: &[u8]) -> Result<u64, String> {
    let mut largest = 0u64;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| format!("malformed component: {e}"))?;
        if let wasmparser::Payload::MemorySection(section) = payload {
            for memory in section {
                let memory = memory.map_err(|e| format!("malformed memory section: {e}"))?;
                let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                largest = largest.max(memory.initial.saturating_mul(page));
            }
        }
    }
    Ok(largest)
}
