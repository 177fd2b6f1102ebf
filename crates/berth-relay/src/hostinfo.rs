//! The host's CPU, load, memory and disks, read inside the relay's container: `/proc/stat`,
//! `/proc/loadavg` and `/proc/meminfo` are the host's own (they are not namespaced), and the
//! host's filesystems are those mounted under the read-only host root (`/host`).

use std::path::Path;

use berth_model::{DiskUse, HostSample};

/// The CPU counters of `/proc/stat`'s first line: busy and total jiffies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

pub fn parse_cpu(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// Busy share of all cores between two readings, 0–100.
pub fn cpu_percent(prev: CpuTimes, now: CpuTimes) -> f64 {
    let total = now.total.saturating_sub(prev.total);
    if total == 0 {
        return 0.0;
    }
    now.busy.saturating_sub(prev.busy) as f64 * 100.0 / total as f64
}

/// `MemTotal` and what is in use (`MemTotal - MemAvailable`), in bytes.
pub fn parse_meminfo(meminfo: &str) -> (u64, u64) {
    let field = |name: &str| {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let total = field("MemTotal:");
    let available = field("MemAvailable:");
    (total, total.saturating_sub(available))
}

pub fn parse_loadavg(loadavg: &str) -> (f64, f64, f64) {
    let v: Vec<f64> = loadavg
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        v.first().copied().unwrap_or(0.0),
        v.get(1).copied().unwrap_or(0.0),
        v.get(2).copied().unwrap_or(0.0),
    )
}

/// Filesystems that hold data (not proc, tmpfs, overlay layers, …).
const DISK_TYPES: [&str; 9] = [
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "exfat",
];

/// The host's data filesystems under `root` in a mount table (`/proc/self/mounts`): where
/// each is mounted on the host, and where to measure it here. One per device.
pub fn host_mounts(mounts: &str, root: &str) -> Vec<(String, String)> {
    let root = root.trim_end_matches('/');
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(dev), Some(at), Some(kind)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let at = at.replace("\\040", " ");
        let on_host = match at.strip_prefix(root) {
            Some("") => "/".to_owned(),
            Some(rest) if rest.starts_with('/') => rest.to_owned(),
            _ => continue,
        };
        if !DISK_TYPES.contains(&kind) || !seen.insert(dev.to_owned()) {
            continue;
        }
        out.push((on_host, at));
    }
    out
}

#[cfg(unix)]
fn statvfs(path: &str) -> Option<(u64, u64)> {
    let c = std::ffi::CString::new(path).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable memory of the
    // struct's size; statvfs(3) only writes into it.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    #[allow(unsafe_code)]
    let st = unsafe { st.assume_init() };
    // The field types differ across platforms (u32 on some): widen them all.
    #[allow(clippy::unnecessary_cast)]
    let (frsize, blocks, bfree, bavail) = (
        st.f_frsize as u64,
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
    );
    // Like df: used, and used + what users may still write (the blocks reserved for root
    // are not room an app can fill).
    let used = blocks.saturating_sub(bfree) * frsize;
    Some((used, used + bavail * frsize))
}

#[cfg(not(unix))]
fn statvfs(_path: &str) -> Option<(u64, u64)> {
    None
}

/// Reads the host now. `prev`: the last CPU reading (for the CPU share since).
pub fn sample(host_root: &Path, prev: &mut Option<CpuTimes>, at: i64) -> HostSample {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = parse_cpu(&read("/proc/stat"));
    let cpu_pct = match (*prev, cpu) {
        (Some(a), Some(b)) => cpu_percent(a, b),
        _ => 0.0,
    };
    *prev = cpu;
    let (mem_total, mem_used) = parse_meminfo(&read("/proc/meminfo"));
    let (load1, load5, load15) = parse_loadavg(&read("/proc/loadavg"));
    let root = host_root.display().to_string();
    let mut disks: Vec<DiskUse> = host_mounts(&read("/proc/self/mounts"), &root)
        .into_iter()
        .filter_map(|(mount, here)| {
            let (used, total) = statvfs(&here)?;
            (total > 0).then_some(DiskUse { mount, used, total })
        })
        .collect();
    if disks.is_empty() {
        // No host root mounted (a relay run by hand): the filesystem of its data at least.
        if let Some((used, total)) = statvfs("/data").or_else(|| statvfs("/")) {
            disks.push(DiskUse {
                mount: "/".to_owned(),
                used,
                total,
            });
        }
    }
    HostSample {
        at,
        cpu_pct,
        load1,
        load5,
        load15,
        mem_used,
        mem_total,
        disks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_read_as_the_host_uses_them() {
        let a = parse_cpu("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").expect("cpu");
        let b = parse_cpu("cpu  200 0 200 1500 100 0 0 0 0 0\n").expect("cpu");
        assert_eq!(
            a,
            CpuTimes {
                busy: 200,
                total: 1000
            }
        );
        assert!((cpu_percent(a, b) - 20.0).abs() < 1e-9);
        let (total, used) =
            parse_meminfo("MemTotal:       2048 kB\nMemFree: 100 kB\nMemAvailable:   1024 kB\n");
        assert_eq!((total, used), (2048 * 1024, 1024 * 1024));
        assert_eq!(
            parse_loadavg("0.50 0.25 0.10 1/234 5678\n"),
            (0.5, 0.25, 0.1)
        );
    }

    #[test]
    fn the_hosts_disks_are_its_data_filesystems_once_each() {
        let mounts = "overlay / overlay rw 0 0\n\
                      /dev/vda1 /host ext4 ro 0 0\n\
                      proc /host/proc proc rw 0 0\n\
                      /dev/vdb /host/srv/my\\040data xfs ro 0 0\n\
                      /dev/vda1 /host/var/lib/docker ext4 ro 0 0\n\
                      /dev/vdc /hostile ext4 ro 0 0\n\
                      /dev/vda1 /data ext4 rw 0 0\n";
        assert_eq!(
            host_mounts(mounts, "/host"),
            [
                ("/".to_owned(), "/host".to_owned()),
                ("/srv/my data".to_owned(), "/host/srv/my data".to_owned()),
            ]
        );
    }
}
