// What both walks share (prepended to walk.wgsl and walk64.wgsl). Each
// walk declares its own `category_words` binding, which `in_set` reads.

const FEATURE_MASK: u32 = 0x0fffffffu;
const DEFAULT_LEFT: u32 = 0x80000000u;
const CATEGORICAL: u32 = 0x40000000u;
const WORKGROUP: u32 = 64u;

// Whether `code` is in the set of `len` words starting at `first`.
fn in_set(first: u32, len: u32, code: u32) -> bool {
    let word = code / 32u;
    if (word >= len) {
        return false;
    }
    return ((category_words[first + word] >> (code % 32u)) & 1u) == 1u;
}
