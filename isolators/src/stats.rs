//! What isolators report: Mesos `ResourceStatistics` (field names as in Mesos's JSON, so `ucr stats --json`
//! and the agent's `GET_CONTAINERS` read like Mesos's) and a `Limitation` (why a container had to die).

use serde::{Deserialize, Serialize};

/// Mesos `ResourceStatistics`. Absent fields are not measured by any enabled isolator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceStatistics {
    pub timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_user_time_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_system_time_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_nr_periods: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_nr_throttled: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus_throttled_time_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_total_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_total_memsw_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_soft_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_cache_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_swap_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_mapped_file_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_file_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_anon_bytes: Option<u64>,
    /// The `disk` resource, when `disk/du` measures the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_limit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_used_bytes: Option<u64>,
    /// One for each persistent volume with a size, then one for the `disk` resource (what
    /// `disk_limit_bytes` and `disk_used_bytes` say), as Mesos's `disk/du` reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disk_statistics: Vec<DiskStatistics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_errors: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_rx_dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_errors: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_tx_dropped: Option<u64>,
}

/// Mesos `DiskStatistics`: the use of one disk resource against its size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskStatistics {
    /// The persistent volume's (none for the `disk` resource's sandbox and root filesystem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    pub limit_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
}

/// Mesos `Resource.DiskInfo.Persistence`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Persistence {
    pub id: String,
}

/// One resource named in a limitation, as Mesos's `Resource` (`{"name":"mem","type":"SCALAR","scalar":{..}}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitedResource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scalar: Scalar,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scalar {
    pub value: f64,
}

impl LimitedResource {
    pub fn scalar(name: &str, value: f64) -> Self {
        LimitedResource {
            name: name.to_string(),
            kind: "SCALAR".into(),
            scalar: Scalar { value },
        }
    }
}

/// Mesos `ContainerLimitation`: the container exceeded what it may use and is destroyed for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limitation {
    /// e.g. `REASON_CONTAINER_LIMITATION_MEMORY`.
    pub reason: String,
    pub message: String,
    pub resources: Vec<LimitedResource>,
}
