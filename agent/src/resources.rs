//! What this node offers: the CPUs this process may use, its memory, and
//! its NVIDIA GPUs (through NVML, loaded at run time), with the values of
//! the configuration taking precedence.

use std::ffi::OsStr;
use std::fs;

use corral_state::{Gpu, NodeResources};

/// The NVML library as the driver installs it (the unversioned name only
/// exists where the development package is installed).
pub const NVML_LIBRARY: &str = "libnvidia-ml.so.1";

/// What detection found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectedResources {
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: Vec<DetectedGpu>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectedGpu {
    pub index: u32,
    pub model: String,
    pub memory_mb: u64,
    pub uuid: String,
}

/// Values from the configuration that replace detected ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceOverrides {
    pub cpus: Option<u32>,
    pub memory_mb: Option<u64>,
    /// GPUs `0..count` (those detected keep their model).
    pub gpu_count: Option<u32>,
    /// The model of every GPU.
    pub gpu_model: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("cannot read the CPUs this process may use: {0}")]
    Affinity(std::io::Error),
    #[error("cannot read /proc/meminfo: {0}")]
    Meminfo(std::io::Error),
    #[error("/proc/meminfo has no MemTotal line")]
    NoMemTotal,
}

/// Detects CPUs, memory and GPUs (through [`NVML_LIBRARY`]).
pub fn detect() -> Result<DetectedResources, ResourceError> {
    detect_with(OsStr::new(NVML_LIBRARY))
}

/// [`detect`] with another NVML library (a path or a name `dlopen` finds).
pub fn detect_with(nvml_library: &OsStr) -> Result<DetectedResources, ResourceError> {
    Ok(DetectedResources {
        cpus: usable_cpus()?,
        memory_mb: memory_total_mb(
            &fs::read_to_string("/proc/meminfo").map_err(ResourceError::Meminfo)?,
        )?,
        gpus: detect_gpus(nvml_library),
    })
}

/// The node's resources: detected values, replaced by configured ones.
pub fn node_resources(
    detected: &DetectedResources,
    overrides: &ResourceOverrides,
) -> NodeResources {
    let gpu_count = overrides.gpu_count.unwrap_or(detected.gpus.len() as u32);
    let gpus = (0..gpu_count)
        .map(|index| Gpu {
            index,
            model: overrides.gpu_model.clone().unwrap_or_else(|| {
                detected
                    .gpus
                    .iter()
                    .find(|gpu| gpu.index == index)
                    .map(|gpu| gpu.model.clone())
                    .unwrap_or_default()
            }),
        })
        .collect();
    NodeResources {
        cpus: overrides.cpus.unwrap_or(detected.cpus),
        memory_mb: overrides.memory_mb.unwrap_or(detected.memory_mb),
        gpus,
    }
}

/// The CPUs this process may run on (its affinity mask, which a cgroup
/// cpuset or `taskset` narrows), not every CPU of the machine.
fn usable_cpus() -> Result<u32, ResourceError> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most
    // the size it is given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(ResourceError::Affinity(std::io::Error::last_os_error()));
        }
        Ok(libc::CPU_COUNT(&set) as u32)
    }
}

/// `MemTotal` of `/proc/meminfo` (kB) in MiB.
fn memory_total_mb(meminfo: &str) -> Result<u64, ResourceError> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .ok_or(ResourceError::NoMemTotal)
}

/// The GPUs NVML sees. Without NVML (no driver, no library) there are
/// none, said once at INFO: GPUs then come only from the configuration.
fn detect_gpus(nvml_library: &OsStr) -> Vec<DetectedGpu> {
    let nvml = match nvml_wrapper::Nvml::builder().lib_path(nvml_library).init() {
        Ok(nvml) => nvml,
        Err(error) => {
            tracing::info!(
                "no NVIDIA GPUs: NVML unavailable ({}); GPUs come only from the configuration",
                nvml_unavailable_reason(nvml_library, &error)
            );
            return Vec::new();
        }
    };
    let count = match nvml.device_count() {
        Ok(count) => count,
        Err(error) => {
            tracing::warn!("no NVIDIA GPUs: NVML cannot count devices: {error}");
            return Vec::new();
        }
    };
    let mut gpus = Vec::new();
    for index in 0..count {
        let device = match nvml.device_by_index(index) {
            Ok(device) => device,
            Err(error) => {
                tracing::warn!("GPU {index} skipped: NVML: {error}");
                continue;
            }
        };
        gpus.push(DetectedGpu {
            index,
            model: device.name().unwrap_or_default(),
            memory_mb: device
                .memory_info()
                .map(|memory| memory.total / (1024 * 1024))
                .unwrap_or(0),
            uuid: device.uuid().unwrap_or_default(),
        });
    }
    tracing::info!(count = gpus.len(), "NVIDIA GPUs found through NVML");
    gpus
}

fn nvml_unavailable_reason(library: &OsStr, error: &nvml_wrapper::error::NvmlError) -> String {
    use nvml_wrapper::error::NvmlError;
    let library = library.to_string_lossy();
    match error {
        NvmlError::LibloadingError(inner)
            if inner.to_string().contains("No such file")
                || inner.to_string().contains("cannot open") =>
        {
            format!("{library} not found")
        }
        NvmlError::DriverNotLoaded => {
            format!("{library} loaded but the NVIDIA driver is not running")
        }
        other => format!("{library}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_comes_from_memtotal_in_mib() {
        let meminfo = "MemTotal:       24568716 kB\nMemFree:         1000 kB\n";
        assert_eq!(memory_total_mb(meminfo).expect("parsed"), 23992);
        assert!(matches!(
            memory_total_mb("MemFree: 1 kB\n"),
            Err(ResourceError::NoMemTotal)
        ));
    }

    #[test]
    fn configuration_replaces_detected_values() {
        let detected = DetectedResources {
            cpus: 8,
            memory_mb: 16000,
            gpus: vec![DetectedGpu {
                index: 0,
                model: "NVIDIA A100".to_string(),
                memory_mb: 81920,
                uuid: "GPU-1".to_string(),
            }],
        };
        let kept = node_resources(&detected, &ResourceOverrides::default());
        assert_eq!((kept.cpus, kept.memory_mb, kept.gpus.len()), (8, 16000, 1));
        assert_eq!(kept.gpus[0].model, "NVIDIA A100");
        let overridden = node_resources(
            &detected,
            &ResourceOverrides {
                cpus: Some(4),
                memory_mb: Some(1000),
                gpu_count: Some(2),
                gpu_model: None,
            },
        );
        assert_eq!((overridden.cpus, overridden.memory_mb), (4, 1000));
        let models: Vec<_> = overridden
            .gpus
            .iter()
            .map(|g| (g.index, g.model.as_str()))
            .collect();
        assert_eq!(models, [(0, "NVIDIA A100"), (1, "")]);
        let renamed = node_resources(
            &DetectedResources::default(),
            &ResourceOverrides {
                gpu_count: Some(1),
                gpu_model: Some("tesla".to_string()),
                ..ResourceOverrides::default()
            },
        );
        assert_eq!(
            renamed.gpus,
            [Gpu {
                index: 0,
                model: "tesla".to_string()
            }]
        );
    }

    #[test]
    fn cpus_are_those_of_the_affinity_mask() {
        let cpus = usable_cpus().expect("affinity");
        assert!(cpus >= 1);
        let machine = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(cpus);
        assert!(cpus <= machine.max(cpus));
    }
}
