//! Prometheus metrics, served on the control socket: deliveries by provider, app and verdict,
//! deploys by app and status, and a histogram of deploy durations.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use berth_model::{Provider, Verdict};

/// Upper bounds (seconds) of the deploy-duration buckets.
const BUCKETS: [f64; 10] = [1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Default)]
struct Inner {
    deliveries: BTreeMap<(String, String, String), u64>,
    deploys: BTreeMap<(String, String), u64>,
    /// Per bucket (and +Inf last): count of durations ≤ bound.
    duration_buckets: [u64; BUCKETS.len() + 1],
    duration_sum: f64,
    duration_count: u64,
    rate_limited: u64,
    too_large: u64,
    /// Monitor events by app and kind.
    events: BTreeMap<(String, String), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn delivery(&self, provider: Option<Provider>, app: Option<&str>, verdict: Verdict) {
        let key = (
            provider.map_or("unknown", |p| p.as_str()).to_owned(),
            app.unwrap_or("").to_owned(),
            verdict.as_str().to_owned(),
        );
        *self.lock().deliveries.entry(key).or_default() += 1;
    }

    pub fn deploy(&self, app: &str, status: &str, duration_ms: u64) {
        let mut m = self.lock();
        *m.deploys
            .entry((app.to_owned(), status.to_owned()))
            .or_default() += 1;
        let secs = duration_ms as f64 / 1000.0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                m.duration_buckets[i] += 1;
            }
        }
        m.duration_buckets[BUCKETS.len()] += 1;
        m.duration_sum += secs;
        m.duration_count += 1;
    }

    pub fn monitor_event(&self, app: &str, kind: &str) {
        *self
            .lock()
            .events
            .entry((app.to_owned(), kind.to_owned()))
            .or_default() += 1;
    }

    pub fn rate_limited(&self) {
        self.lock().rate_limited += 1;
    }

    pub fn too_large(&self) {
        self.lock().too_large += 1;
    }

    /// The text exposition format.
    pub fn render(&self, pending: usize, hooks: usize) -> String {
        let m = self.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP berth_relay_deliveries_total Webhook requests by provider, app and verdict."
        );
        let _ = writeln!(out, "# TYPE berth_relay_deliveries_total counter");
        for ((provider, app, verdict), n) in &m.deliveries {
            let _ = writeln!(
                out,
                "berth_relay_deliveries_total{{provider=\"{}\",app=\"{}\",verdict=\"{}\"}} {n}",
                escape(provider),
                escape(app),
                escape(verdict)
            );
        }
        let _ = writeln!(
            out,
            "# HELP berth_relay_deploys_total Deploys of webhook deliveries by app and status."
        );
        let _ = writeln!(out, "# TYPE berth_relay_deploys_total counter");
        for ((app, status), n) in &m.deploys {
            let _ = writeln!(
                out,
                "berth_relay_deploys_total{{app=\"{}\",status=\"{}\"}} {n}",
                escape(app),
                escape(status)
            );
        }
        let _ = writeln!(
            out,
            "# HELP berth_relay_deploy_duration_seconds How long webhook deploys took."
        );
        let _ = writeln!(out, "# TYPE berth_relay_deploy_duration_seconds histogram");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "berth_relay_deploy_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                m.duration_buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "berth_relay_deploy_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            m.duration_buckets[BUCKETS.len()]
        );
        let _ = writeln!(
            out,
            "berth_relay_deploy_duration_seconds_sum {}",
            m.duration_sum
        );
        let _ = writeln!(
            out,
            "berth_relay_deploy_duration_seconds_count {}",
            m.duration_count
        );
        let _ = writeln!(
            out,
            "# HELP berth_relay_rate_limited_total Requests answered 429."
        );
        let _ = writeln!(out, "# TYPE berth_relay_rate_limited_total counter");
        let _ = writeln!(out, "berth_relay_rate_limited_total {}", m.rate_limited);
        let _ = writeln!(
            out,
            "# HELP berth_relay_too_large_total Requests answered 413."
        );
        let _ = writeln!(out, "# TYPE berth_relay_too_large_total counter");
        let _ = writeln!(out, "berth_relay_too_large_total {}", m.too_large);
        let _ = writeln!(
            out,
            "# HELP berth_relay_pending_deliveries Queued deliveries not yet deployed."
        );
        let _ = writeln!(out, "# TYPE berth_relay_pending_deliveries gauge");
        let _ = writeln!(out, "berth_relay_pending_deliveries {pending}");
        let _ = writeln!(
            out,
            "# HELP berth_relay_hooks Webhooks the relay answers for."
        );
        let _ = writeln!(out, "# TYPE berth_relay_hooks gauge");
        let _ = writeln!(out, "berth_relay_hooks {hooks}");
        let _ = writeln!(
            out,
            "# HELP berth_relay_monitor_events_total Monitor events by app and kind (unhealthy, restarted, crash-loop, recovered, disk-full)."
        );
        let _ = writeln!(out, "# TYPE berth_relay_monitor_events_total counter");
        for ((app, kind), n) in &m.events {
            let _ = writeln!(
                out,
                "berth_relay_monitor_events_total{{app=\"{}\",kind=\"{}\"}} {n}",
                escape(app),
                escape(kind)
            );
        }
        out
    }
}

/// The apps' latest figures and health, appended to the text exposition.
pub(crate) fn render_apps(out: &mut String, gauges: &BTreeMap<String, crate::watch::Gauge>) {
    let mut family = |name: &str,
                      help: &str,
                      kind: &str,
                      value: &dyn Fn(&crate::watch::Gauge) -> Option<String>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (app, g) in gauges {
            if let Some(v) = value(g) {
                let _ = writeln!(out, "{name}{{app=\"{}\"}} {v}", escape(app));
            }
        }
    };
    family(
        "berth_app_cpu_percent",
        "CPU use of the app's container at the last sample, in percent of one core.",
        "gauge",
        &|g| Some(format!("{:.2}", g.cpu_pct)),
    );
    family(
        "berth_app_memory_bytes",
        "Memory in use by the app's container at the last sample.",
        "gauge",
        &|g| Some(g.mem_bytes.to_string()),
    );
    family(
        "berth_app_restarts",
        "Restarts of the app's serving container (Docker's and the monitor's).",
        "gauge",
        &|g| Some(g.restarts.to_string()),
    );
    family(
        "berth_app_healthy",
        "The monitor's view: 1 healthy, 0 unhealthy, -1 stopped as a crash loop.",
        "gauge",
        &|g| g.health.map(|h| h.to_string()),
    );
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_the_histogram() {
        let m = Metrics::default();
        m.delivery(Some(Provider::Github), Some("hello"), Verdict::Queued);
        m.delivery(Some(Provider::Github), Some("hello"), Verdict::Queued);
        m.delivery(None, None, Verdict::Rejected);
        m.deploy("hello", "deployed", 4200);
        let text = m.render(0, 1);
        assert!(text.contains(
            "berth_relay_deliveries_total{provider=\"github\",app=\"hello\",verdict=\"queued\"} 2"
        ));
        assert!(text.contains(
            "berth_relay_deliveries_total{provider=\"unknown\",app=\"\",verdict=\"rejected\"} 1"
        ));
        assert!(text.contains("berth_relay_deploys_total{app=\"hello\",status=\"deployed\"} 1"));
        assert!(text.contains("berth_relay_deploy_duration_seconds_bucket{le=\"2.5\"} 0"));
        assert!(text.contains("berth_relay_deploy_duration_seconds_bucket{le=\"5\"} 1"));
        assert!(text.contains("berth_relay_deploy_duration_seconds_count 1"));
    }
}
