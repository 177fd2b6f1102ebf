//! What watching apps needs from Docker: one stats reading of a container (`one-shot`, no
//! second sample: the caller keeps the previous reading for CPU deltas), restarting a
//! container in place, and what Docker's data takes on disk. Read as plain JSON, like
//! `/system/df` in `prune`: only a few fields matter and their shapes vary across versions.

use std::time::Duration;

use bollard::query_parameters::RestartContainerOptionsBuilder;
use serde_json::Value;

use crate::client::DockerClient;
use crate::error::DockerError;

/// One reading of a container's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsReading {
    /// Nanoseconds of CPU the container used, in total.
    pub cpu_total_ns: u64,
    /// Nanoseconds of CPU the host used, in total (all cores), when Docker reports it.
    pub system_ns: u64,
    pub online_cpus: u32,
    /// Memory in use, page cache excluded (what `docker stats` shows).
    pub mem_bytes: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
}

/// What Docker's data takes on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub images: u64,
    /// Unused images' own layers (what removing them could give back).
    pub images_reclaimable: u64,
    pub containers: u64,
    pub volumes: u64,
    pub build_cache: u64,
    pub build_cache_reclaimable: u64,
}

fn u(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return 0,
        }
    }
    cur.as_u64().unwrap_or(0)
}

/// The reading in Docker's stats JSON.
pub fn parse_stats(v: &Value) -> StatsReading {
    let (mut rx, mut tx) = (0, 0);
    if let Some(nets) = v.get("networks").and_then(Value::as_object) {
        for n in nets.values() {
            rx += u(n, &["rx_bytes"]);
            tx += u(n, &["tx_bytes"]);
        }
    }
    let (mut read, mut write) = (0, 0);
    if let Some(ops) = v
        .pointer("/blkio_stats/io_service_bytes_recursive")
        .and_then(Value::as_array)
    {
        for op in ops {
            let value = u(op, &["value"]);
            match op
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(o) if o == "read" => read += value,
                Some(o) if o == "write" => write += value,
                _ => {}
            }
        }
    }
    // cgroup v1 reports the page cache in `stats.cache`, v2 in `stats.inactive_file`.
    let usage = u(v, &["memory_stats", "usage"]);
    let cache = match v.pointer("/memory_stats/stats/inactive_file") {
        Some(c) => c.as_u64().unwrap_or(0),
        None => u(v, &["memory_stats", "stats", "cache"]),
    };
    let online = u(v, &["cpu_stats", "online_cpus"]);
    let per_cpu = v
        .pointer("/cpu_stats/cpu_usage/percpu_usage")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    StatsReading {
        cpu_total_ns: u(v, &["cpu_stats", "cpu_usage", "total_usage"]),
        system_ns: u(v, &["cpu_stats", "system_cpu_usage"]),
        online_cpus: u32::try_from(if online > 0 { online } else { per_cpu as u64 })
            .unwrap_or(1)
            .max(1),
        mem_bytes: usage.saturating_sub(cache),
        mem_limit: u(v, &["memory_stats", "limit"]),
        net_rx: rx,
        net_tx: tx,
        blk_read: read,
        blk_write: write,
    }
}

/// What `/system/df` says.
pub fn parse_disk_usage(df: &Value) -> DiskUsage {
    let list = |key: &str| {
        df.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut d = DiskUsage {
        images: u(df, &["LayersSize"]),
        ..DiskUsage::default()
    };
    for i in list("Images") {
        if i.get("Containers").and_then(Value::as_i64).unwrap_or(0) == 0 {
            let size = u(&i, &["Size"]);
            d.images_reclaimable += size.saturating_sub(u(&i, &["SharedSize"]));
        }
    }
    d.containers = list("Containers").iter().map(|c| u(c, &["SizeRw"])).sum();
    d.volumes = list("Volumes")
        .iter()
        .map(|v| {
            // -1: not computed.
            v.pointer("/UsageData/Size")
                .and_then(Value::as_i64)
                .map_or(0, |s| u64::try_from(s).unwrap_or(0))
        })
        .sum();
    for b in list("BuildCache") {
        let size = u(&b, &["Size"]);
        d.build_cache += size;
        let busy = b.get("InUse").and_then(Value::as_bool).unwrap_or(false)
            || b.get("Shared").and_then(Value::as_bool).unwrap_or(false);
        if !busy {
            d.build_cache_reclaimable += size;
        }
    }
    d
}

impl DockerClient {
    /// One reading of `container`'s counters, without Docker's second sample.
    pub async fn stats_once(&self, container: &str) -> Result<StatsReading, DockerError> {
        let v = self
            .raw_json_within(
                "GET",
                &format!("/containers/{container}/stats?stream=false&one-shot=true"),
                Duration::from_secs(10),
            )
            .await?;
        Ok(parse_stats(&v))
    }

    /// Restarts a container in place: SIGTERM, SIGKILL after `grace_secs`, start.
    pub async fn restart_container(&self, name: &str, grace_secs: u32) -> Result<(), DockerError> {
        let options = RestartContainerOptionsBuilder::default()
            .t(i32::try_from(grace_secs).unwrap_or(i32::MAX))
            .build();
        self.docker
            .restart_container(name, Some(options))
            .await
            .map_err(|e| self.err(e))
    }

    /// What images, containers, volumes and the build cache take.
    pub async fn disk_usage(&self) -> Result<DiskUsage, DockerError> {
        Ok(parse_disk_usage(&self.raw_json("GET", "/system/df").await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_v2_reading_leaves_the_page_cache_out() {
        let v = serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 5_000_000_000u64}, "system_cpu_usage": 90_000_000_000u64, "online_cpus": 2},
            "memory_stats": {"usage": 50_000_000u64, "limit": 1_000_000_000u64, "stats": {"inactive_file": 10_000_000u64}},
            "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 50}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 7}, {"op": "write", "value": 9}, {"op": "Read", "value": 1}]}
        });
        let r = parse_stats(&v);
        assert_eq!(r.mem_bytes, 40_000_000);
        assert_eq!(r.mem_limit, 1_000_000_000);
        assert_eq!((r.net_rx, r.net_tx), (101, 52));
        assert_eq!((r.blk_read, r.blk_write), (8, 9));
        assert_eq!(r.online_cpus, 2);
        assert_eq!(r.cpu_total_ns, 5_000_000_000);
    }

    #[test]
    fn disk_usage_counts_what_is_unused_as_reclaimable() {
        let df = serde_json::json!({
            "LayersSize": 1000,
            "Images": [{"Size": 600, "SharedSize": 100, "Containers": 0}, {"Size": 400, "SharedSize": 0, "Containers": 1}],
            "Containers": [{"SizeRw": 5}, {"SizeRw": 7}],
            "Volumes": [{"UsageData": {"Size": 30}}, {"UsageData": {"Size": -1}}],
            "BuildCache": [{"Size": 20, "InUse": false, "Shared": false}, {"Size": 3, "InUse": true}]
        });
        let d = parse_disk_usage(&df);
        assert_eq!(
            d,
            DiskUsage {
                images: 1000,
                images_reclaimable: 500,
                containers: 12,
                volumes: 30,
                build_cache: 23,
                build_cache_reclaimable: 20,
            }
        );
    }
}
