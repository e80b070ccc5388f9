//! The Vulkan device the walk runs on: chosen, opened with the limits the
//! adapter offers, and its errors caught per call ([`GpuDevice::scoped`]:
//! wgpu's error scopes are per thread, so one call's error never fails
//! another). wgpu's default for an error no scope caught is to panic; here
//! it is recorded and fails the next wait instead.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wgpu::util::DeviceExt;

use crate::error::GpuError;

/// How long one chunk may take on the device before the call fails.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(120);

/// What kind of device an adapter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    DiscreteGpu,
    IntegratedGpu,
    VirtualGpu,
    /// A CPU implementation (Mesa's lavapipe): exact, not fast.
    Cpu,
    Other,
}

impl AdapterKind {
    fn of(device_type: wgpu::DeviceType) -> Self {
        match device_type {
            wgpu::DeviceType::DiscreteGpu => Self::DiscreteGpu,
            wgpu::DeviceType::IntegratedGpu => Self::IntegratedGpu,
            wgpu::DeviceType::VirtualGpu => Self::VirtualGpu,
            wgpu::DeviceType::Cpu => Self::Cpu,
            wgpu::DeviceType::Other => Self::Other,
        }
    }

    /// Lower is preferred.
    fn rank(self) -> u8 {
        match self {
            Self::DiscreteGpu => 0,
            Self::IntegratedGpu => 1,
            Self::VirtualGpu => 2,
            Self::Other => 3,
            Self::Cpu => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::DiscreteGpu => "discrete GPU",
            Self::IntegratedGpu => "integrated GPU",
            Self::VirtualGpu => "virtual GPU",
            Self::Cpu => "CPU (software Vulkan)",
            Self::Other => "other",
        }
    }
}

/// The process's device, opened by the first scorer that needs it.
static SHARED: Mutex<Option<Arc<GpuDevice>>> = Mutex::new(None);

/// An opened device and its queue.
#[derive(Debug)]
pub struct GpuDevice {
    device: wgpu::Device,
    queue: wgpu::Queue,
    name: String,
    kind: AdapterKind,
    limits: wgpu::Limits,
    /// Whether shaders may use `f64` (LightGBM's walk needs it).
    float64: bool,
    /// The first error the device reported that no call has taken yet.
    failure: Arc<Mutex<Option<String>>>,
}

impl GpuDevice {
    /// The process's one device, opened on first use and kept for the
    /// process's life: every scorer (every model version, every thread)
    /// shares it. Opening and closing Vulkan devices from several threads
    /// at once crashed NVIDIA's driver (a segmentation fault on an H200,
    /// 580.159), and a device per version costs driver state for nothing.
    /// A failure to open is not kept: the next call tries again.
    pub fn shared() -> Result<Arc<Self>, GpuError> {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(device) = shared.as_ref() {
            return Ok(device.clone());
        }
        let device = Arc::new(Self::open()?);
        *shared = Some(device.clone());
        Ok(device)
    }

    /// Opens the best Vulkan adapter present (discrete, integrated,
    /// virtual, then a CPU implementation).
    fn open() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
        let adapter = adapters
            .into_iter()
            .min_by_key(|a| AdapterKind::of(a.get_info().device_type).rank())
            .ok_or_else(|| {
                GpuError::NoAdapter(
                    "Vulkan lists no adapter (no Vulkan loader or driver is installed)".into(),
                )
            })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let float64 = adapter.features().contains(wgpu::Features::SHADER_F64);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("edgescore"),
            required_features: if float64 {
                wgpu::Features::SHADER_F64
            } else {
                wgpu::Features::empty()
            },
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::NoAdapter(format!("{} refused a device: {e}", info.name)))?;
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        let recorded = failure.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut slot) = recorded.lock() {
                slot.get_or_insert_with(|| error.to_string());
            }
        }));
        Ok(Self {
            name: format!("{} ({}, {})", info.name, info.driver, info.driver_info),
            kind: AdapterKind::of(info.device_type),
            device,
            queue,
            limits,
            float64,
            failure,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> AdapterKind {
        self.kind
    }

    /// Whether the device runs `f64` shaders.
    pub fn has_float64(&self) -> bool {
        self.float64
    }

    pub(crate) fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub(crate) fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The largest storage buffer one binding may hold.
    pub(crate) fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    pub(crate) fn max_workgroups_per_dimension(&self) -> u32 {
        self.limits.max_compute_workgroups_per_dimension
    }

    /// A read-only storage buffer holding `words`.
    pub(crate) fn upload(&self, label: &str, words: &[u32]) -> wgpu::Buffer {
        self.upload_bytes(label, &crate::words_as_bytes(words))
    }

    /// A read-only storage buffer holding `bytes`.
    pub(crate) fn upload_bytes(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE,
            })
    }

    /// A walk's pipeline and its bind group layout: `source`'s `walk`
    /// entry point over bindings 0-4 (nodes, roots, features, sums,
    /// parameters) and `extra` read-only storage bindings from 5 on.
    pub(crate) fn walk_pipeline(
        &self,
        label: &str,
        source: &'static str,
        extra: u32,
    ) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![
            storage(0, true),
            storage(1, true),
            storage(2, true),
            storage(3, false),
            wgpu::BindGroupLayoutEntry {
                binding: 4,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
        ];
        entries.extend((5..5 + extra).map(|binding| storage(binding, true)));
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &entries,
            });
        let pipeline_layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("edgescore walk"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("edgescore walk"),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some("walk"),
                compilation_options: Default::default(),
                cache: None,
            });
        (pipeline, layout)
    }

    /// Runs `work` with every device error it causes (out of memory,
    /// validation, internal) caught and returned as its own `GpuError`:
    /// error scopes belong to the calling thread, so concurrent calls do
    /// not see each other's errors.
    pub(crate) fn scoped<T>(
        &self,
        work: impl FnOnce() -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        let out_of_memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let result = work();
        // Popped in the reverse order of pushing, each one.
        let errors = [
            pollster::block_on(internal.pop()),
            pollster::block_on(validation.pop()),
            pollster::block_on(out_of_memory.pop()),
        ];
        match errors.into_iter().flatten().next() {
            Some(error) => Err(GpuError::Device(error.to_string())),
            None => result,
        }
    }

    /// Waits for the work submitted so far; an error no scope caught since
    /// the last call fails this one.
    pub(crate) fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: Some(CHUNK_TIMEOUT),
            })
            .map_err(|e| GpuError::Device(e.to_string()))?;
        match self.failure.lock().ok().and_then(|mut slot| slot.take()) {
            Some(error) => Err(GpuError::Device(error)),
            None => Ok(()),
        }
    }
}
