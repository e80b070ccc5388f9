//! The GPU backend: a model's trees uploaded once, rows streamed to a wgpu
//! compute shader (WGSL on Vulkan) in large chunks, raw margins computed
//! there in the library's order and precision and linked here with
//! edgescore's own `expf`/`exp`, so the scores are the native walk's bits.
//!
//! What runs on it ([`edgescore_models::Model::gpu_forest`]): XGBoost trees
//! (`walk.wgsl`: `f32` features and sums) and LightGBM trees (`walk64.wgsl`:
//! `f64` features and sums, on a device with 64-bit floats), neither with
//! categorical splits; any other model is refused with why. The adapter is
//! the best Vulkan device present: a discrete GPU over an integrated one
//! over a CPU implementation (Mesa's lavapipe, which CI runs the exactness
//! tests on).

mod device;
mod error;

use std::sync::{Arc, mpsc};

use edgescore_models::gpu_forest::{GpuForest, GpuForest64, GpuTrees};
use edgescore_models::{Model, ScoreError};
use wgpu::util::DeviceExt;

pub use device::{AdapterKind, GpuDevice};
pub use error::GpuError;

/// Invocations per workgroup (`@workgroup_size` in the shaders).
const WORKGROUP: u32 = 64;

/// Rows per chunk at most, whatever the device's buffer limits allow: a
/// chunk's features and sums are what is in flight on the device.
const MAX_CHUNK_ROWS: usize = 1 << 22;

/// What a walk needs beyond the nodes, roots and category sets, by precision.
#[derive(Debug)]
enum Precision {
    /// XGBoost: rows sent as `f32` bits, sums from the base margin.
    Float32 { base_margin: f32 },
    /// LightGBM: rows sent as `f64` bits, sums from zero; leaf values in
    /// their own buffer.
    Float64 {
        leaves: wgpu::Buffer,
        zero_threshold: f64,
    },
}

impl Precision {
    /// Bytes of one feature value (and of one sum) on the device.
    fn value_bytes(&self) -> usize {
        match self {
            Precision::Float32 { .. } => 4,
            Precision::Float64 { .. } => 8,
        }
    }
}

/// A model on the GPU: its trees uploaded, its pipeline compiled.
#[derive(Debug)]
pub struct GpuScorer {
    model: Model,
    device: Arc<GpuDevice>,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    nodes: wgpu::Buffer,
    roots: wgpu::Buffer,
    category_words: wgpu::Buffer,
    trees: u32,
    precision: Precision,
    width: usize,
    chunk_rows: usize,
    dispatch_width: u32,
}

impl GpuScorer {
    /// Uploads `model`'s trees to the best Vulkan adapter present. Refused
    /// when the model has no GPU walk or no adapter can run it.
    pub fn new(model: &Model) -> Result<Self, GpuError> {
        let trees = model.gpu_forest().map_err(GpuError::Unsupported)?;
        let device = GpuDevice::shared()?;
        Self::on(device, model.clone(), &trees)
    }

    fn on(device: Arc<GpuDevice>, model: Model, trees: &GpuTrees) -> Result<Self, GpuError> {
        let limit = device.max_binding_bytes();
        // A shader the device will not compile fails here, not on a call.
        let (nodes, roots, category_words, precision, pipeline, layout) =
            device.scoped(|| match trees {
                GpuTrees::Float32(forest) => Self::upload32(&device, forest, limit),
                GpuTrees::Float64(forest) => Self::upload64(&device, forest, limit),
            })?;
        let width = trees.num_features();
        let root_count = match trees {
            GpuTrees::Float32(f) => f.roots.len(),
            GpuTrees::Float64(f) => f.roots.len(),
        };
        let trees = u32::try_from(root_count)
            .map_err(|_| GpuError::Unsupported("more than 2^32 trees".into()))?;
        let row_bytes = (width.max(1) * precision.value_bytes()) as u64;
        // Within the binding limit, and every value's index within a u32.
        let chunk_rows = (limit / row_bytes)
            .min(MAX_CHUNK_ROWS as u64)
            .min(u64::from(u32::MAX) / width.max(1) as u64) as usize;
        if chunk_rows == 0 {
            return Err(GpuError::TooLarge {
                what: "one row",
                bytes: row_bytes,
                limit,
            });
        }
        let dispatch_width = device.max_workgroups_per_dimension();
        Ok(Self {
            model,
            device,
            pipeline,
            layout,
            nodes,
            roots,
            category_words,
            trees,
            precision,
            width,
            chunk_rows,
            dispatch_width,
        })
    }

    /// XGBoost's walk: nodes, roots, pipeline.
    fn upload32(device: &GpuDevice, forest: &GpuForest, limit: u64) -> Result<Uploaded, GpuError> {
        check_fits("the trees", forest.nodes.len() as u64 * 16, limit)?;
        let words: Vec<u32> = forest.nodes.iter().flatten().copied().collect();
        let (pipeline, layout) = device.walk_pipeline(
            "edgescore walk.wgsl",
            concat!(include_str!("common.wgsl"), include_str!("walk.wgsl")),
            1,
        );
        Ok((
            upload_nonempty(device, "edgescore trees", &words),
            upload_nonempty(device, "edgescore roots", &forest.roots),
            upload_nonempty(device, "edgescore category sets", &forest.category_words),
            Precision::Float32 {
                base_margin: forest.base_margin,
            },
            pipeline,
            layout,
        ))
    }

    /// LightGBM's walk: nodes, roots, leaves, pipeline; refused on a device
    /// without 64-bit floats.
    fn upload64(
        device: &GpuDevice,
        forest: &GpuForest64,
        limit: u64,
    ) -> Result<Uploaded, GpuError> {
        if !device.has_float64() {
            return Err(GpuError::Unsupported(format!(
                "LightGBM's walk adds in float64, and {} has no 64-bit floats in shaders; score this model natively",
                device.name()
            )));
        }
        check_fits("the trees", forest.nodes.len() as u64 * 32, limit)?;
        let words: Vec<u32> = forest.nodes.iter().flatten().copied().collect();
        // A model of no trees still binds one (unread) leaf.
        let leaves: Vec<u8> = if forest.leaves.is_empty() {
            vec![0; 8]
        } else {
            forest.leaves.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        let (pipeline, layout) = device.walk_pipeline(
            "edgescore walk64.wgsl",
            concat!(include_str!("common.wgsl"), include_str!("walk64.wgsl")),
            2,
        );
        Ok((
            upload_nonempty(device, "edgescore trees", &words),
            upload_nonempty(device, "edgescore roots", &forest.roots),
            upload_nonempty(device, "edgescore category sets", &forest.category_words),
            Precision::Float64 {
                leaves: device.upload_bytes("edgescore leaves", &leaves),
                zero_threshold: forest.zero_threshold,
            },
            pipeline,
            layout,
        ))
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
        if self.width == 0 || !rows.len().is_multiple_of(self.width) {
            return Err(GpuError::Input(ScoreError::Shape {
                values: rows.len(),
                features: self.width,
            }));
        }
        let mut out = Vec::with_capacity(rows.len() / self.width.max(1));
        for chunk in rows.chunks(self.chunk_rows * self.width) {
            self.device
                .scoped(|| self.walk_chunk_into(chunk, &mut out))?;
        }
        Ok(out)
    }

    /// One chunk of rows through the walk, its sums appended to `out`.
    fn walk_chunk_into(&self, chunk: &[f64], out: &mut Vec<f64>) -> Result<(), GpuError> {
        let rows = chunk.len() / self.width;
        let sums = self.walk_chunk(&self.device_values(chunk), rows)?;
        match self.precision {
            Precision::Float32 { .. } => out.extend(
                sums.chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            ),
            Precision::Float64 { .. } => out.extend(
                sums.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            ),
        }
        Ok(())
    }

    /// A chunk's values as the device reads them: feature by feature
    /// (column-major, so that neighbouring invocations, neighbouring rows,
    /// read neighbouring words), each cast as the library casts it (XGBoost
    /// to `f32`), little-endian.
    fn device_values(&self, chunk: &[f64]) -> Vec<u8> {
        let rows = chunk.len() / self.width;
        let size = self.precision.value_bytes();
        let mut bytes = vec![0u8; chunk.len() * size];
        for (r, row) in chunk.chunks_exact(self.width).enumerate() {
            for (f, &x) in row.iter().enumerate() {
                let at = (f * rows + r) * size;
                match self.precision {
                    Precision::Float32 { .. } => {
                        bytes[at..at + 4].copy_from_slice(&(x as f32).to_le_bytes());
                    }
                    Precision::Float64 { .. } => {
                        bytes[at..at + 8].copy_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
        bytes
    }

    /// One chunk of `rows` rows (their values' bytes, little-endian)
    /// through the shader: the sums' bytes.
    fn walk_chunk(&self, features: &[u8], rows: usize) -> Result<Vec<u8>, GpuError> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        let job = self.prepare(features, rows);
        let mut encoder = self.encoder();
        self.encode_walk(&mut encoder, &job);
        encoder.copy_buffer_to_buffer(&job.sums, 0, &job.readback, 0, job.out_bytes);
        self.device.queue().submit([encoder.finish()]);

        let (sender, receiver) = mpsc::channel();
        job.readback
            .map_async(wgpu::MapMode::Read, .., move |result| {
                let _ = sender.send(result);
            });
        self.device.wait()?;
        receiver
            .recv()
            .map_err(|_| GpuError::Device("the sums were never mapped".into()))?
            .map_err(|e| GpuError::Device(format!("reading the sums back: {e}")))?;
        let view = job
            .readback
            .get_mapped_range(..)
            .map_err(|e| GpuError::Device(format!("reading the sums back: {e}")))?;
        let bytes = view.to_vec();
        drop(view);
        job.readback.unmap();
        Ok(bytes)
    }

    /// Rows per second of the walk alone, its rows already on the device:
    /// the first chunk of `rows` uploaded once, walked once untimed, then
    /// `repeats` walks in one submission, waited for. (What a resident
    /// batch costs; [`GpuScorer::score`] also pays the upload, the
    /// conversion and the read back.)
    pub fn resident_rows_per_s(&self, rows: &[f64], repeats: usize) -> Result<f64, GpuError> {
        let count = (rows.len() / self.width.max(1)).min(self.chunk_rows);
        if count == 0 {
            return Ok(0.0);
        }
        let bytes = self.device_values(&rows[..count * self.width]);
        self.device.scoped(|| {
            let job = self.prepare(&bytes, count);
            let run = |times: usize| -> Result<std::time::Duration, GpuError> {
                let mut encoder = self.encoder();
                for _ in 0..times {
                    self.encode_walk(&mut encoder, &job);
                }
                let start = std::time::Instant::now();
                self.device.queue().submit([encoder.finish()]);
                self.device.wait()?;
                Ok(start.elapsed())
            };
            run(1)?;
            let took = run(repeats.max(1))?;
            Ok((count * repeats.max(1)) as f64 / took.as_secs_f64())
        })
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("edgescore walk"),
            })
    }

    /// One walk of `job`'s rows, as a compute pass in `encoder`.
    fn encode_walk(&self, encoder: &mut wgpu::CommandEncoder, job: &ChunkJob) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("edgescore walk"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &job.bind, &[]);
        pass.dispatch_workgroups(job.groups.0, job.groups.1, 1);
    }

    /// The device side of one chunk: its rows uploaded, its sums and read
    /// back buffers, its parameters, all bound.
    fn prepare(&self, features: &[u8], rows: usize) -> ChunkJob {
        let device = self.device.device();
        let features = self.device.upload_bytes("edgescore rows", features);
        let out_bytes = (rows * self.precision.value_bytes()) as u64;
        let sums = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgescore sums"),
            size: out_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("edgescore sums readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let header = [rows as u32, self.width as u32, self.trees];
        let params: Vec<u32> = match &self.precision {
            Precision::Float32 { base_margin } => {
                [header.as_slice(), &[base_margin.to_bits()]].concat()
            }
            Precision::Float64 { zero_threshold, .. } => {
                let bits = zero_threshold.to_bits();
                [
                    header.as_slice(),
                    &[(bits >> 32) as u32, bits as u32, 0, 0, 0],
                ]
                .concat()
            }
        };
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("edgescore walk params"),
            contents: &words_as_bytes(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![
            entry(0, &self.nodes),
            entry(1, &self.roots),
            entry(2, &features),
            entry(3, &sums),
            entry(4, &params),
        ];
        match &self.precision {
            Precision::Float32 { .. } => entries.push(entry(5, &self.category_words)),
            Precision::Float64 { leaves, .. } => {
                entries.push(entry(5, leaves));
                entries.push(entry(6, &self.category_words));
            }
        }
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("edgescore walk"),
            layout: &self.layout,
            entries: &entries,
        });
        let groups = (rows as u32).div_ceil(WORKGROUP);
        ChunkJob {
            bind,
            sums,
            readback,
            out_bytes,
            groups: dispatch_shape(groups, self.dispatch_width),
        }
    }
}

/// One chunk's device side, ready to walk.
struct ChunkJob {
    bind: wgpu::BindGroup,
    sums: wgpu::Buffer,
    readback: wgpu::Buffer,
    out_bytes: u64,
    /// Workgroups along x and y.
    groups: (u32, u32),
}

/// What uploading a walk's trees gives: nodes, roots, category sets,
/// what the precision needs, the pipeline and its layout.
type Uploaded = (
    wgpu::Buffer,
    wgpu::Buffer,
    wgpu::Buffer,
    Precision,
    wgpu::ComputePipeline,
    wgpu::BindGroupLayout,
);

fn check_fits(what: &'static str, bytes: u64, limit: u64) -> Result<(), GpuError> {
    if bytes > limit {
        return Err(GpuError::TooLarge { what, bytes, limit });
    }
    Ok(())
}

/// A storage buffer of `words`. One may not be empty: no words (a model of
/// no trees, no category sets) get one unused word.
fn upload_nonempty(device: &GpuDevice, label: &str, words: &[u32]) -> wgpu::Buffer {
    if words.is_empty() {
        device.upload(label, &[0])
    } else {
        device.upload(label, words)
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
        for (groups, width) in [
            (1, 65_535),
            (65_535, 65_535),
            (65_536, 65_535),
            (7, 2),
            (16, 3),
        ] {
            let (x, y) = dispatch_shape(groups, width);
            assert!(x <= width && y <= 65_535, "{groups}/{width}: {x}x{y}");
            assert!(
                u64::from(x) * u64::from(y) >= u64::from(groups),
                "{groups}/{width}: {x}x{y}"
            );
        }
        assert_eq!(dispatch_shape(65_536, 65_535), (65_535, 2));
    }
}
