// The GPU walk of XGBoost trees (edgescore-models' gpu_forest): one
// invocation per row, every tree in model order, leaves added in f32.
//
// Comparisons are integer comparisons of order keys, never float ones: a
// shader compiler may assume floats are never NaN or infinite, integers
// leave it nothing to assume. A feature's key is computed here from its
// bits; thresholds arrive as keys.

struct Params {
    rows: u32,
    width: u32,
    trees: u32,
    base_margin_bits: u32,
}

@group(0) @binding(0) var<storage, read> nodes: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> roots: array<u32>;
// Feature by feature: value f of row r at f * rows + r.
@group(0) @binding(2) var<storage, read> features: array<u32>;
@group(0) @binding(3) var<storage, read_write> margins: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;
// Every categorical split's bitset (bit c % 32 of word c / 32).
@group(0) @binding(5) var<storage, read> category_words: array<u32>;


// The order key of a non-NaN float's bits: -0 shares +0's key.
fn order_key(bits: u32) -> u32 {
    let b = select(bits, 0u, bits == 0x80000000u);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// `x as u32` of a non-negative float's bits: truncated toward zero,
// saturating (infinity and 2^32 and above are u32::MAX).
fn code_of(bits: u32) -> u32 {
    let e = (bits >> 23u) & 0xffu;
    if (e < 127u) {
        return 0u;
    }
    let s = e - 127u;
    if (s >= 32u) {
        return 0xffffffffu;
    }
    let m = (bits & 0x7fffffu) | 0x800000u;
    if (s <= 23u) {
        return m >> (23u - s);
    }
    return m << (s - 23u);
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
    var sum = bitcast<f32>(params.base_margin_bits);
    for (var t = 0u; t < params.trees; t = t + 1u) {
        var i = roots[t];
        loop {
            let node = nodes[i];
            // A leaf's left child is one below its own index.
            if (node.z + 1u == i) {
                break;
            }
            let bits = features[(node.y & FEATURE_MASK) * params.rows + row];
            let missing = (bits & 0x7fffffffu) > 0x7f800000u;
            var left: bool;
            if ((node.y & CATEGORICAL) != 0u) {
                // A category in the set goes right; a negative code (not
                // -0) goes left; the set's first word and length stand in
                // the key's and the leaf's places.
                let negative = (bits & 0x80000000u) != 0u && bits != 0x80000000u;
                let member = !negative && in_set(node.x, node.w, code_of(bits & 0x7fffffffu));
                left = select(!member, (node.y & DEFAULT_LEFT) != 0u, missing);
            } else {
                left = select(order_key(bits) < node.x, (node.y & DEFAULT_LEFT) != 0u, missing);
            }
            i = select(node.z + 1u, node.z, left);
        }
        sum = sum + bitcast<f32>(nodes[i].w);
    }
    margins[row] = bitcast<u32>(sum);
}
