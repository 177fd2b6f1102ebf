//! Prometheus metrics, served on the control socket (and, with a token, on the hooks domain):
//! deliveries by provider, app and verdict, deploys by app, status and trigger (the relay's own
//! and those Berth reports) with a histogram of their durations per app, monitor events and the
//! apps' gauges.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use berth_model::{Provider, Verdict};

/// Upper bounds (seconds) of the deploy-duration buckets.
const BUCKETS: [f64; 10] = [1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// Deploy durations of one app.
#[derive(Default)]
struct Histogram {
    /// Per bucket (and +Inf last): count of durations ≤ bound.
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    deliveries: BTreeMap<(String, String, String), u64>,
    /// By app, status and trigger.
    deploys: BTreeMap<(String, String, String), u64>,
    durations: BTreeMap<String, Histogram>,
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

    pub fn deploy(&self, app: &str, status: &str, trigger: &str, duration_ms: u64) {
        let mut m = self.lock();
        *m.deploys
            .entry((app.to_owned(), status.to_owned(), trigger.to_owned()))
            .or_default() += 1;
        let secs = duration_ms as f64 / 1000.0;
        let h = m.durations.entry(app.to_owned()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.buckets[BUCKETS.len()] += 1;
        h.sum += secs;
        h.count += 1;
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
            "# HELP berth_relay_deploys_total Deploys on this server by app, status and trigger (deploy, rollback, restart, webhook, unattended), since the relay started."
        );
        let _ = writeln!(out, "# TYPE berth_relay_deploys_total counter");
        for ((app, status, trigger), n) in &m.deploys {
            let _ = writeln!(
                out,
                "berth_relay_deploys_total{{app=\"{}\",status=\"{}\",trigger=\"{}\"}} {n}",
                escape(app),
                escape(status),
                escape(trigger)
            );
        }
        let _ = writeln!(
            out,
            "# HELP berth_relay_deploy_duration_seconds How long deploys on this server took, by app."
        );
        let _ = writeln!(out, "# TYPE berth_relay_deploy_duration_seconds histogram");
        for (app, h) in &m.durations {
            let app = escape(app);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "berth_relay_deploy_duration_seconds_bucket{{app=\"{app}\",le=\"{bound}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "berth_relay_deploy_duration_seconds_bucket{{app=\"{app}\",le=\"+Inf\"}} {}",
                h.buckets[BUCKETS.len()]
            );
            let _ = writeln!(
                out,
                "berth_relay_deploy_duration_seconds_sum{{app=\"{app}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "berth_relay_deploy_duration_seconds_count{{app=\"{app}\"}} {}",
                h.count
            );
        }
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
            "# HELP berth_relay_monitor_events_total Monitor events by app and kind (unhealthy, restarted, crash-loop, recovered, reconciled, drifted, disk-full)."
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
        m.deploy("hello", "deployed", "webhook", 4200);
        m.deploy("hello", "failed", "rollback", 700);
        m.deploy("other", "deployed", "unattended", 90_000);
        let text = m.render(0, 1);
        assert!(text.contains(
            "berth_relay_deliveries_total{provider=\"github\",app=\"hello\",verdict=\"queued\"} 2"
        ));
        assert!(text.contains(
            "berth_relay_deliveries_total{provider=\"unknown\",app=\"\",verdict=\"rejected\"} 1"
        ));
        for line in [
            "berth_relay_deploys_total{app=\"hello\",status=\"deployed\",trigger=\"webhook\"} 1",
            "berth_relay_deploys_total{app=\"hello\",status=\"failed\",trigger=\"rollback\"} 1",
            "berth_relay_deploy_duration_seconds_bucket{app=\"hello\",le=\"1\"} 1",
            "berth_relay_deploy_duration_seconds_bucket{app=\"hello\",le=\"5\"} 2",
            "berth_relay_deploy_duration_seconds_count{app=\"hello\"} 2",
            "berth_relay_deploy_duration_seconds_bucket{app=\"other\",le=\"60\"} 0",
            "berth_relay_deploy_duration_seconds_bucket{app=\"other\",le=\"120\"} 1",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }
}
