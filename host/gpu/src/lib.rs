//! The GPU backend: a model's trees uploaded once, rows streamed to a wgpu
//! compute shader (`walk.wgsl`, WGSL on Vulkan) in large chunks, raw margins
//! computed there in XGBoost's order and linked here with edgescore's own
//! `expf`, so the scores are the native walk's bits.
//!
//! What runs on it: XGBoost trees without categorical splits
//! ([`edgescore_models::Model::gpu_forest`]); any other model is refused with
//! why. The adapter is the best Vulkan device present: a discrete GPU over
//! an integrated one over a CPU implementation (Mesa's lavapipe, which CI
//! runs the exactness tests on).

mod device;
mod error;

use std::sync::mpsc;

use edgescore_models::gpu_forest::GpuForest;
use edgescore_models::{Model, ScoreError};
use wgpu::util::DeviceExt;

pub use device::{AdapterKind, GpuDevice};
pub use error::GpuError;

/// Invocations per workgroup (`@workgroup_size` in `walk.wgsl`).
const WORKGROUP: u32 = 64;

/// Rows per chunk at most, whatever the device's buffer limits allow: a
/// chunk's features and margins are what is in flight on the device.
const MAX_CHUNK_ROWS: usize = 1 << 22;

/// A model on the GPU: its trees uploaded, its pipeline compiled.
#[derive(Debug)]
pub struct GpuScorer {
    model: Model,
    device: GpuDevice,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    nodes: wgpu::Buffer,
    roots: wgpu::Buffer,
    trees: u32,
    base_margin: f32,
    width: usize,
    chunk_rows: usize,
    dispatch_width: u32,
}

impl GpuScorer {
    /// Uploads `model`'s trees to the best Vulkan adapter present. Refused
    /// when the model has no GPU walk or no adapter can run it.
    pub fn new(model: &Model) -> Result<Self, GpuError> {
        let forest = model.gpu_forest().map_err(GpuError::Unsupported)?;
        let device = GpuDevice::open()?;
        Self::on(device, model.clone(), &forest)
    }

    fn on(device: GpuDevice, model: Model, forest: &GpuForest) -> Result<Self, GpuError> {
        let width = forest.num_features;
        let trees = u32::try_from(forest.roots.len())
            .map_err(|_| GpuError::Unsupported("more than 2^32 trees".into()))?;
        let limit = device.max_binding_bytes();
        let node_bytes = forest.nodes.len() as u64 * 16;
        if node_bytes > limit {
            return Err(GpuError::TooLarge {
                what: "the trees",
                bytes: node_bytes,
                limit,
            });
        }
        let row_bytes = (width.max(1) * 4) as u64;
        let chunk_rows = (limit / row_bytes).min(MAX_CHUNK_ROWS as u64) as usize;
        if chunk_rows == 0 {
            return Err(GpuError::TooLarge {
                what: "one row",
                bytes: row_bytes,
                limit,
            });
        }
        let words: Vec<u32> = forest.nodes.iter().flatten().copied().collect();
        let nodes = device.upload("edgescore trees", &words);
        // A storage buffer may not be empty: a model of no trees gets one
        // unused root.
        let roots = if forest.roots.is_empty() {
            device.upload("edgescore roots", &[0])
        } else {
            device.upload("edgescore roots", &forest.roots)
        };
        let (pipeline, layout) = device.walk_pipeline();
        let device_dispatch_width = device.max_workgroups_per_dimension();
        Ok(Self {
            model,
            device,
            pipeline,
            layout,
            nodes,
            roots,
            trees,
            base_margin: forest.base_margin,
            width,
            chunk_rows,
            dispatch_width: device_dispatch_width,
        })
    }

    /// This scorer with chunks of at most `rows` rows (at least one): bounds
    /// the device memory one call holds, and lets tests cross chunk
    /// boundaries with few rows.
    pub fn with_chunk_rows(mut self, rows: usize) -> Self {
        self.chunk_rows = rows.clamp(1, self.chunk_rows);
        self
    }

    /// This scorer dispatching at most `groups` workgroups along a
    /// dimension (at least one; never more than the device allows), so that
    /// tests reach the two-dimensional dispatch that millions of rows need.
    pub fn with_dispatch_width(mut self, groups: u32) -> Self {
        self.dispatch_width = groups.clamp(1, self.dispatch_width);
        self
    }

    /// The adapter the trees run on, as its driver names it.
    pub fn adapter(&self) -> &str {
        self.device.name()
    }

    /// What kind of device that is (a CPU implementation's timings are not
    /// a GPU's).
    pub fn adapter_kind(&self) -> AdapterKind {
        self.device.kind()
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Scores row-major `rows` (NaN for missing): the same bits as
    /// [`Model::score`].
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, GpuError> {
        let mut out = self.raw_scores(rows)?;
        self.model.apply_link(&mut out);
        Ok(out)
    }

    /// The raw margins ([`Model::raw_scores`]), computed on the device.
    pub fn raw_scores(&self, rows: &[f64]) -> Result<Vec<f64>, GpuError> {
        if self.width == 0 || rows.len() % self.width != 0 {
            return Err(GpuError::Input(ScoreError::Shape {
                values: rows.len(),
                features: self.width,
            }));
        }
        let mut out = Vec::with_capacity(rows.len() / self.width.max(1));
        for chunk in rows.chunks(self.chunk_rows * self.width) {
            // Cast as XGBoost casts its input, sent as bits.
            let bits: Vec<u32> = chunk.iter().map(|&x| (x as f32).to_bits()).collect();
            let margins = self.walk_chunk(&bits)?;
            out.extend(margins.into_iter().map(|m| f64::from(f32::from_bits(m))));
        }
        Ok(out)
    }

    /// One chunk through the shader: its margins' bits.
    fn walk_chunk(&self, bits: &[u32]) -> Result<Vec<u32>, GpuError> {
        let rows = bits.len() / self.width;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let device = self.device.device();
        let features = self.device.upload("edgescore rows", bits);
        let out_bytes = (rows * 4) as u64;
        let margins = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgescore margins"),
            size: out_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgescore margins readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("edgescore walk params"),
            contents: &words_as_bytes(&[
                rows as u32,
                self.width as u32,
                self.trees,
                self.base_margin.to_bits(),
            ]),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("edgescore walk"),
            layout: &self.layout,
            entries: &[
                entry(0, &self.nodes),
                entry(1, &self.roots),
                entry(2, &features),
                entry(3, &margins),
                entry(4, &params),
            ],
        });
        let groups = (rows as u32).div_ceil(WORKGROUP);
        let (x, y) = dispatch_shape(groups, self.dispatch_width);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("edgescore walk"),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("edgescore walk"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        encoder.copy_buffer_to_buffer(&margins, 0, &readback, 0, out_bytes);
        self.device.queue().submit([encoder.finish()]);

        let (sender, receiver) = mpsc::channel();
        readback.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        self.device.wait()?;
        receiver
            .recv()
            .map_err(|_| GpuError::Device("the margins were never mapped".into()))?
            .map_err(|e| GpuError::Device(format!("reading the margins back: {e}")))?;
        let view = readback
            .get_mapped_range(..)
            .map_err(|e| GpuError::Device(format!("reading the margins back: {e}")))?;
        let margins = view
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        drop(view);
        readback.unmap();
        Ok(margins)
    }
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

/// Workgroups laid out as `x` by `y`, `x` at most `width`: `x * y >=
/// groups`, and the shader skips rows past the end. (With `width` the
/// device's per-dimension limit, a chunk's `y` is 1 or 2.)
fn dispatch_shape(groups: u32, width: u32) -> (u32, u32) {
    let x = groups.clamp(1, width.max(1));
    (x, groups.div_ceil(x).max(1))
}

/// Little-endian bytes of `words` (what the device reads).
pub(crate) fn words_as_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::dispatch_shape;

    #[test]
    fn dispatch_shapes_cover_every_workgroup_within_the_width() {
        for (groups, width) in [(1, 65_535), (65_535, 65_535), (65_536, 65_535), (7, 2), (16, 3)] {
            let (x, y) = dispatch_shape(groups, width);
            assert!(x <= width && y <= 65_535, "{groups}/{width}: {x}x{y}");
            assert!(u64::from(x) * u64::from(y) >= u64::from(groups), "{groups}/{width}: {x}x{y}");
        }
        assert_eq!(dispatch_shape(65_536, 65_535), (65_535, 2));
    }
}
