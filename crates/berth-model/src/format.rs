//! How times, durations, sizes and states read, the same in the CLI, the window, the tray and
//! notices. Pure functions (the clock is passed in), so they compile for the wasm UI too.

use crate::{AppState, DeploymentStatus};

/// "just now", "5 min ago", "3 h ago", "2 days ago" for a Unix-millisecond time.
pub fn ago(now_ms: i64, at_ms: i64) -> String {
    let secs = (now_ms - at_ms).max(0) / 1000;
    match secs {
        0..=44 => "just now".to_owned(),
        45..=89 => "1 min ago".to_owned(),
        90..=3_599 => format!("{} min ago", (secs + 30) / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        86_400..=172_799 => "yesterday".to_owned(),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// "850 ms", "3.2 s", "2 min 5 s".
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// The first 7 characters of a commit id.
pub fn short_commit(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// The word shown for an app's state.
pub fn app_state(state: AppState) -> &'static str {
    match state {
        AppState::Running => "Running",
        AppState::Stopped => "Stopped",
        AppState::Failed => "Failed",
        AppState::NeverDeployed => "Not deployed",
        AppState::Deploying => "Deploying",
    }
}

/// The CSS tone of a state badge: `ok`, `warn`, `bad`, `busy` or `idle`.
pub fn app_tone(state: AppState) -> &'static str {
    match state {
        AppState::Running => "ok",
        AppState::Stopped => "warn",
        AppState::Failed => "bad",
        AppState::Deploying => "busy",
        AppState::NeverDeployed => "idle",
    }
}

/// The word shown for a deployment's status.
pub fn deployment_status(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::InProgress => "In progress",
        DeploymentStatus::Active => "Live",
        DeploymentStatus::Superseded => "Replaced",
        DeploymentStatus::Failed => "Failed",
        DeploymentStatus::Cancelled => "Cancelled",
        DeploymentStatus::Interrupted => "Interrupted",
    }
}

/// The CSS tone of a deployment status.
pub fn deployment_tone(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::InProgress => "busy",
        DeploymentStatus::Active => "ok",
        DeploymentStatus::Superseded => "idle",
        DeploymentStatus::Failed => "bad",
        DeploymentStatus::Cancelled | DeploymentStatus::Interrupted => "warn",
    }
}

/// `https://hello.example.com/` → `hello.example.com`, for compact links.
pub fn url_label(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.strip_suffix('/').unwrap_or(rest)
}

/// A size in bytes with binary units: "512 B", "1.5 KiB", "7.6 GiB", "118 GiB". One decimal
/// below 10 of a unit, none above (a card has no room for more precision).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // 1023.96 KiB would print as "1024 KiB": show it as the next unit instead.
    if value >= 1023.5 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 9.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A measured time in milliseconds: "<1 ms", "12 ms", "1.3 s".
pub fn millis(ms: f64) -> String {
    if ms < 1.0 {
        "<1 ms".to_owned()
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// How full something is, `used / total` as a whole percentage (0 when the total is unknown).
pub fn percent_used(free: u64, total: u64) -> u8 {
    if total == 0 {
        return 0;
    }
    let used = total.saturating_sub(free) as f64 / total as f64;
    (used * 100.0).round().clamp(0.0, 100.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        let now = 1_000_000_000;
        let cases = [
            (0, "just now"),
            (50_000, "1 min ago"),
            (5 * 60_000, "5 min ago"),
            (3 * 3_600_000, "3 h ago"),
            (30 * 3_600_000, "yesterday"),
            (5 * 86_400_000, "5 days ago"),
        ];
        for (back, want) in cases {
            assert_eq!(ago(now, now - back), want, "{back} ms ago");
        }
        assert_eq!(
            ago(now, now + 5_000),
            "just now",
            "clock skew is not negative"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(3_240), "3.2 s");
        assert_eq!(duration(125_000), "2 min 5 s");
    }

    #[test]
    fn labels() {
        assert_eq!(url_label("https://hello.example.com/"), "hello.example.com");
        assert_eq!(url_label("http://127.0.0.1:3000"), "127.0.0.1:3000");
        assert_eq!(short_commit("0123456789abcdef"), "0123456");
        assert_eq!(short_commit("abc"), "abc");
    }

    #[test]
    fn sizes_read_naturally() {
        let cases = [
            (0, "0 B"),
            (512, "512 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (256 << 20, "256 MiB"),
            (8_192_000_000, "7.6 GiB"),
            (118 << 30, "118 GiB"),
            ((1 << 30) - 1, "1.0 GiB"),
            (2 << 40, "2.0 TiB"),
            (u64::MAX, "16384 PiB"),
        ];
        for (n, want) in cases {
            assert_eq!(bytes(n), want, "{n} bytes");
        }
    }

    #[test]
    fn measured_times() {
        assert_eq!(millis(0.3), "<1 ms");
        assert_eq!(millis(12.4), "12 ms");
        assert_eq!(millis(1_340.0), "1.3 s");
    }

    #[test]
    fn usage() {
        assert_eq!(percent_used(25, 100), 75);
        assert_eq!(percent_used(0, 100), 100);
        assert_eq!(percent_used(200, 100), 0, "more free than total is empty");
        assert_eq!(percent_used(0, 0), 0);
    }
}
