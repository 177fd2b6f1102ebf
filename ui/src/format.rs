//! How times, durations and states read on screen. Pure functions (the clock is passed in),
//! unit-tested natively.

use berth_model::{AppState, DeploymentStatus};

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
    }
}

/// The CSS tone of a deployment status.
pub fn deployment_tone(status: DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::InProgress => "busy",
        DeploymentStatus::Active => "ok",
        DeploymentStatus::Superseded => "idle",
        DeploymentStatus::Failed => "bad",
        DeploymentStatus::Cancelled => "warn",
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
}
