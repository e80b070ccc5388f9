// The GPU walk of LightGBM trees (edgescore-models' gpu_forest,
// GpuForest64): one invocation per row, every tree in model order, leaves
// added in f64 from zero.
//
// LightGBM's NumericalDecision, in integers: a value is read as 0 when it
// is NaN or |x| <= kZeroThreshold; NaN is missing when the node's missing
// type is NaN, zero (so NaN too) when it is Zero; a missing value follows
// the node's default, any other goes left when value <= threshold, compared
// as 64-bit order keys (high word, then low word).

struct Params {
    rows: u32,
    width: u32,
    trees: u32,
    zero_hi: u32,
    zero_lo: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Two per node: [key high, key low, feature | flags, left], [right, 0, 0, 0].
@group(0) @binding(0) var<storage, read> nodes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> roots: array<u32>;
// Each value's f64 bits as (low word, high word), feature by feature:
// value f of row r at f * rows + r.
@group(0) @binding(2) var<storage, read> features: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> sums: array<f64>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> leaves: array<f64>;
// Every categorical split's bitset (bit c % 32 of word c / 32).
@group(0) @binding(6) var<storage, read> category_words: array<u32>;

const NAN_MISSING: u32 = 0x20000000u;
const ZERO_MISSING: u32 = 0x10000000u;

fn at_most(a_hi: u32, a_lo: u32, b_hi: u32, b_lo: u32) -> bool {
    return a_hi < b_hi || (a_hi == b_hi && a_lo <= b_lo);
}

// The order key (high, low) of a non-NaN double's bits; -0 shares +0's key.
fn order_key(hi: u32, lo: u32) -> vec2<u32> {
    let negative_zero = hi == 0x80000000u && lo == 0u;
    let h = select(hi, 0u, negative_zero);
    if ((h & 0x80000000u) != 0u) {
        return vec2<u32>(~h, ~lo);
    }
    return vec2<u32>(h | 0x80000000u, lo);
}

// LightGBM's CategoricalDecision on a non-NaN double's bits (high, low):
// the code is `x as i32` (truncated toward zero); a negative code goes
// right; codes of 2^24 and above are in no set (the model's sets are
// shorter: checked when it was uploaded); a code in the set goes left.
fn category_left(hi: u32, lo: u32, first: u32, len: u32) -> bool {
    let magnitude = hi & 0x7fffffffu;
    let e = magnitude >> 20u;
    if (e < 1023u) {
        return in_set(first, len, 0u);
    }
    if ((hi & 0x80000000u) != 0u) {
        return false;
    }
    let s = e - 1023u;
    if (s >= 24u) {
        return false;
    }
    let top = magnitude & 0xfffffu;
    var code = (1u << s);
    if (s <= 20u) {
        code = code | (top >> (20u - s));
    } else {
        code = code | (top << (s - 20u)) | (lo >> (52u - s));
    }
    return in_set(first, len, code);
}

@compute @workgroup_size(64)
fn walk(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row = id.x + id.y * groups.x * WORKGROUP;
    if (row >= params.rows) {
        return;
    }
    var sum = f64(0.0);
    for (var t = 0u; t < params.trees; t = t + 1u) {
        var i = roots[t];
        loop {
            let a = nodes[2u * i];
            let b = nodes[2u * i + 1u];
            let right = b.x;
            // A leaf's children are both itself.
            if (a.w == i && right == i) {
                break;
            }
            let v = features[(a.z & FEATURE_MASK) * params.rows + row];
            let magnitude = v.y & 0x7fffffffu;
            let nan = magnitude > 0x7ff00000u || (magnitude == 0x7ff00000u && v.x != 0u);
            if ((a.z & CATEGORICAL) != 0u) {
                // NaN goes right; the set's first word and length are b.y, b.z.
                let left = !nan && category_left(v.y, v.x, b.y, b.z);
                i = select(right, a.w, left);
                continue;
            }
            let zero = nan || at_most(magnitude, v.x, params.zero_hi, params.zero_lo);
            let key = select(order_key(v.y, v.x), vec2<u32>(0x80000000u, 0u), zero);
            let missing = (nan && (a.z & NAN_MISSING) != 0u) || (zero && (a.z & ZERO_MISSING) != 0u);
            let by_value = at_most(key.x, key.y, a.x, a.y);
            let left = select(by_value, (a.z & DEFAULT_LEFT) != 0u, missing);
            i = select(right, a.w, left);
        }
        sum = sum + leaves[i];
    }
    sums[row] = sum;
}
