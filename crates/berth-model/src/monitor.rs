//! After the deploy: the health monitor's settings and events (alerts), and the stats samples
//! the relay (or the desktop) keeps of apps and hosts.

use serde::{Deserialize, Serialize};

use crate::webhook::DeployNotice;

/// How the monitor watches an app once it is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    /// Seconds between health probes; 0: not monitored.
    pub interval_secs: u32,
    /// Consecutive failed probes before the container is restarted.
    pub unhealthy_after: u32,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            interval_secs: Monitor::DEFAULT_INTERVAL_SECS,
            unhealthy_after: Monitor::DEFAULT_UNHEALTHY_AFTER,
        }
    }
}

impl Monitor {
    pub const DEFAULT_INTERVAL_SECS: u32 = 30;
    pub const DEFAULT_UNHEALTHY_AFTER: u32 = 3;
    /// Restarts (the monitor's and Docker's) within [`Monitor::CRASH_WINDOW_MS`] that make a
    /// crash loop.
    pub const CRASH_RESTARTS: usize = 3;
    pub const CRASH_WINDOW_MS: i64 = 10 * 60 * 1000;

    pub fn enabled(&self) -> bool {
        self.interval_secs > 0
    }

    /// `30s` / `every 30s, unhealthy after 3` / `off`.
    pub fn describe(&self) -> String {
        if self.enabled() {
            format!(
                "every {}, restart after {} failed probes",
                span(u64::from(self.interval_secs)),
                self.unhealthy_after
            )
        } else {
            "off".to_owned()
        }
    }

    /// `--monitor-interval`: `30s`, `2m`, `1h`, a number of seconds, or `off`.
    pub fn parse_interval(input: &str) -> Result<u32, String> {
        let input = input.trim();
        if matches!(input, "off" | "0" | "0s") {
            return Ok(0);
        }
        let secs =
            parse_span_secs(input).map_err(|e| format!("monitor interval: {e} (or `off`)"))?;
        if secs > 24 * 3600 {
            return Err(format!(
                "monitor interval: `{input}` is more than a day; use at most 24h"
            ));
        }
        u32::try_from(secs).map_err(|_| format!("monitor interval: `{input}` is too long"))
    }

    /// `--unhealthy-after`: 1 to 100 probes.
    pub fn check_unhealthy_after(n: u32) -> Result<u32, String> {
        if (1..=100).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "--unhealthy-after must be between 1 and 100 failed probes, not {n}"
            ))
        }
    }
}

/// Seconds as a user writes them: `30s`, `2m`, `90s`, `1h`.
pub fn span(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `30s`, `5m`, `1h`, `7d` or a bare number of seconds → seconds (at least 1).
pub fn parse_span_secs(input: &str) -> Result<u64, String> {
    let input = input.trim();
    let (digits, unit) = match input.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => input.split_at(i),
        None => (input, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{input}` is not a duration like 30s, 5m, 1h or 7d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{input}` is not a duration like 30s, 5m, 1h or 7d"
            ));
        }
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("`{input}` is zero")),
        Some(s) => Ok(s),
        None => Err(format!("`{input}` is too long")),
    }
}

/// What the monitor (or Berth, about a server) noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// Its health probe failed the set number of times in a row.
    Unhealthy,
    /// The monitor restarted it.
    Restarted,
    /// It kept dying: the monitor stopped it and stopped restarting it.
    CrashLoop,
    /// It answers its health probe again.
    Recovered,
    /// A filesystem of the server is above 90 %.
    DiskFull,
    /// Berth could not reach the server.
    Unreachable,
    /// The relay found it drifted from what was deployed (its container stopped or removed
    /// behind Berth's back, a route gone) and put it back.
    Reconciled,
    /// The relay found it drifted and could not put it back.
    Drifted,
    /// A scheduled backup of it was taken (the record's id, size, target).
    BackedUp,
    /// A scheduled backup of it failed.
    BackupFailed,
    /// One of its cron jobs ran and exited 0.
    CronRan,
    /// One of its cron jobs failed (a non-zero exit, or it could not start).
    CronFailed,
}

impl AlertKind {
    pub const ALL: [AlertKind; 12] = [
        AlertKind::Unhealthy,
        AlertKind::Restarted,
        AlertKind::CrashLoop,
        AlertKind::Recovered,
        AlertKind::DiskFull,
        AlertKind::Unreachable,
        AlertKind::Reconciled,
        AlertKind::Drifted,
        AlertKind::BackedUp,
        AlertKind::BackupFailed,
        AlertKind::CronRan,
        AlertKind::CronFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Unhealthy => "unhealthy",
            AlertKind::Restarted => "restarted",
            AlertKind::CrashLoop => "crash-loop",
            AlertKind::Recovered => "recovered",
            AlertKind::DiskFull => "disk-full",
            AlertKind::Unreachable => "unreachable",
            AlertKind::Reconciled => "reconciled",
            AlertKind::Drifted => "drifted",
            AlertKind::BackedUp => "backed-up",
            AlertKind::BackupFailed => "backup-failed",
            AlertKind::CronRan => "cron-ran",
            AlertKind::CronFailed => "cron-failed",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `web was restarted: why`.
    pub fn sentence(self, subject: &str, why: &str) -> String {
        let what = match self {
            AlertKind::Unhealthy => "is unhealthy",
            AlertKind::Restarted => "was restarted",
            AlertKind::CrashLoop => "is crash-looping and was stopped",
            AlertKind::Recovered => "recovered",
            AlertKind::DiskFull => "is running out of disk",
            AlertKind::Unreachable => "is unreachable",
            AlertKind::Reconciled => "was put back as deployed",
            AlertKind::Drifted => "drifted and could not be put back",
            AlertKind::BackedUp => "was backed up",
            AlertKind::BackupFailed => "could not be backed up",
            AlertKind::CronRan => "ran a cron job",
            AlertKind::CronFailed => "had a cron job fail",
        };
        format!("{subject} {what}: {why}")
    }

    /// Good news (shown and sent without alarm).
    pub fn is_good(self) -> bool {
        matches!(
            self,
            AlertKind::Recovered | AlertKind::Reconciled | AlertKind::BackedUp | AlertKind::CronRan
        )
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One monitor event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The relay's sequence number (Berth's own: negative).
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub server: String,
    /// `None`: about the server.
    pub app: Option<String>,
    pub kind: AlertKind,
    /// What was seen: `GET /healthz: no answer within 5 s (3 times)`.
    pub why: String,
}

impl Alert {
    /// `web was restarted: …` / `prod is running out of disk: …`.
    pub fn summary(&self) -> String {
        self.kind
            .sentence(self.app.as_deref().unwrap_or(&self.server), &self.why)
    }

    /// What notifiers are told.
    pub fn notice(&self) -> DeployNotice {
        DeployNotice {
            app: self.app.clone().unwrap_or_else(|| self.server.clone()),
            server: self.server.clone(),
            status: self.kind.as_str().to_owned(),
            deployment: None,
            commit: None,
            duration_ms: None,
            url: None,
            failed_step: None,
            error: Some(self.why.clone()),
            trigger: match self.kind {
                AlertKind::Reconciled | AlertKind::Drifted => "the relay's reconcile",
                AlertKind::BackedUp | AlertKind::BackupFailed => "a scheduled backup",
                AlertKind::CronRan | AlertKind::CronFailed => "a cron job",
                _ => "the monitor",
            }
            .to_owned(),
        }
    }
}

/// One stats sample of an app's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSample {
    /// Unix milliseconds.
    pub at: i64,
    /// Share of one core, in percent (200 = two cores busy).
    pub cpu_pct: f64,
    pub mem_bytes: u64,
    /// The container's memory limit, or the host's memory when it has none.
    pub mem_limit: u64,
    /// Totals since the container started.
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    /// Restarts of the serving container so far.
    pub restarts: u32,
}

/// An app's stats over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStats {
    pub app: String,
    pub server: String,
    /// Seconds between samples (10 within a day, 300 beyond).
    pub step_secs: u32,
    /// Where the samples come from: `relay` or `desktop`.
    pub source: String,
    pub samples: Vec<ContainerSample>,
    /// Alerts in the window (marked on charts).
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

/// One filesystem of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUse {
    pub mount: String,
    pub used: u64,
    pub total: u64,
}

impl DiskUse {
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / self.total as f64
        }
    }
}

/// One stats sample of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSample {
    pub at: i64,
    /// All cores together, 0–100.
    pub cpu_pct: f64,
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    pub mem_used: u64,
    pub mem_total: u64,
    pub disks: Vec<DiskUse>,
}

/// What Docker's data takes on a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerDisk {
    pub images: u64,
    pub containers: u64,
    pub volumes: u64,
    pub build_cache: u64,
    /// What `berth server prune` could give back at most (unused images, build cache).
    pub reclaimable: u64,
}

/// A host's stats over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    pub server: String,
    pub step_secs: u32,
    pub source: String,
    pub samples: Vec<HostSample>,
    pub docker: Option<DockerDisk>,
}

/// Every sample is kept this long…
pub const FINE_MS: i64 = 24 * 3600 * 1000;
/// …and 5-minute averages this long.
pub const COARSE_MS: i64 = 30 * 24 * 3600 * 1000;
pub const COARSE_STEP_MS: i64 = 5 * 60 * 1000;
/// Points a window is averaged down to (a chart's width, not a table's).
pub const POINTS: i64 = 360;

/// The step (ms) a window of `since_ms` is read at — a whole number of the samples' own step
/// (`sample_ms`, or the 5-minute averages' beyond a day) giving at most [`POINTS`] points —,
/// and whether it reads the 5-minute averages.
pub fn window_step(since_ms: i64, sample_ms: i64) -> (i64, bool) {
    let coarse = since_ms > FINE_MS;
    let base = if coarse {
        COARSE_STEP_MS
    } else {
        sample_ms.max(1000)
    };
    let want = since_ms / POINTS;
    let step = if want <= base {
        base
    } else {
        (want + base - 1) / base * base
    };
    (step, coarse)
}

/// `--since 1h|24h|7d`: how far back, in milliseconds (at most 30 days: what is kept).
pub fn parse_since(input: &str) -> Result<i64, String> {
    let secs = parse_span_secs(input).map_err(|e| format!("--since: {e}"))?;
    if secs > 30 * 86_400 {
        return Err(format!(
            "--since: `{input}` is beyond the 30 days samples are kept"
        ));
    }
    Ok(i64::try_from(secs * 1000).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_windows_read_like_a_user_writes_them() {
        assert_eq!(Monitor::parse_interval("30s"), Ok(30));
        assert_eq!(Monitor::parse_interval("2m"), Ok(120));
        assert_eq!(Monitor::parse_interval("45"), Ok(45));
        assert_eq!(Monitor::parse_interval("off"), Ok(0));
        assert!(Monitor::parse_interval("2 weeks").is_err());
        assert!(Monitor::parse_interval("2d").unwrap_err().contains("24h"));
        assert_eq!(parse_since("1h"), Ok(3_600_000));
        assert_eq!(parse_since("7d"), Ok(7 * 86_400_000));
        assert!(parse_since("90d").unwrap_err().contains("30 days"));
        assert!(parse_since("0s").is_err());
        assert!(Monitor::check_unhealthy_after(0).is_err());
        assert_eq!(
            Monitor::default().describe(),
            "every 30s, restart after 3 failed probes"
        );
    }

    #[test]
    fn windows_are_read_at_a_chart_sized_step() {
        assert_eq!(window_step(3_600_000, 10_000), (10_000, false));
        assert_eq!(window_step(FINE_MS, 10_000), (240_000, false));
        assert_eq!(window_step(7 * FINE_MS, 10_000), (1_800_000, true));
    }

    #[test]
    fn an_alert_is_an_alert_notice() {
        let a = Alert {
            id: 1,
            at: 0,
            server: "prod".into(),
            app: Some("web".into()),
            kind: AlertKind::CrashLoop,
            why: "3 restarts in 10 min".into(),
        };
        assert_eq!(a.notice().event(), crate::NoticeEvent::Alert);
        assert_eq!(
            a.summary(),
            "web is crash-looping and was stopped: 3 restarts in 10 min"
        );
        assert_eq!(AlertKind::parse("crash-loop"), Some(AlertKind::CrashLoop));
    }
}
