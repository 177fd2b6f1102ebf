//! The Metrics tab: CPU and memory over the last hour, day or week as the server's relay
//! sampled them, with restarts and the monitor's alerts marked; the latest figures; and the
//! health monitor's settings (`berth app set --monitor-interval --unhealthy-after`).

use berth_model::{Alert, App, AppStats, ErrorDto, Monitor};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::chart::{Chart, Mark, Series, Span, Unit};
use crate::widgets::{EmptyState, Loading, SectionTitle, now_ms};

/// The windows offered, with their `--since` names.
const WINDOWS: [(&str, i64); 3] = [
    ("1 h", 3_600_000),
    ("24 h", 24 * 3_600_000),
    ("7 d", 7 * 24 * 3_600_000),
];

/// How often an open tab reads the samples again.
const REFRESH_MS: u32 = 10_000;

fn marks(stats: &AppStats) -> Vec<Mark> {
    let mut out: Vec<Mark> = stats
        .alerts
        .iter()
        .map(|a: &Alert| Mark {
            at: a.at,
            label: a.kind.as_str().to_owned(),
            bad: !a.kind.is_good(),
        })
        .collect();
    // A restart Docker made (its count went up) that no alert names.
    for w in stats.samples.windows(2) {
        if w[1].restarts > w[0].restarts && !out.iter().any(|m| (m.at - w[1].at).abs() < 60_000) {
            out.push(Mark {
                at: w[1].at,
                label: "restart".to_owned(),
                bad: true,
            });
        }
    }
    out
}

#[component]
pub fn MetricsTab() -> impl IntoView {
    let ctx = use_app();
    let window = RwSignal::new(WINDOWS[0].1);
    let stats = RwSignal::new(None::<Result<AppStats, ErrorDto>>);
    let load = move || {
        let app = ctx.name();
        let since = window.get_untracked();
        spawn_local(async move {
            let answer = api::stats(&app, since).await;
            stats.try_set(Some(answer));
        });
    };
    load();
    if let Ok(timer) = set_interval_with_handle(
        load,
        std::time::Duration::from_millis(u64::from(REFRESH_MS)),
    ) {
        on_cleanup(move || timer.clear());
    }
    let span = Signal::derive(move || {
        let to = stats
            .with(|s| {
                s.as_ref()
                    .and_then(|s| s.as_ref().ok())
                    .and_then(|s| s.samples.last().map(|x| x.at))
            })
            .unwrap_or_else(now_ms)
            .max(now_ms());
        Span {
            from: to - window.get(),
            to,
        }
    });
    let ok = Memo::new(move |_| stats.with(|s| s.as_ref().and_then(|s| s.as_ref().ok()).cloned()));
    let cpu = Signal::derive(move || {
        ok.with(|s| {
            s.iter()
                .map(|s| Series {
                    label: "CPU".to_owned(),
                    color: "--accent",
                    points: s.samples.iter().map(|x| (x.at, x.cpu_pct)).collect(),
                })
                .collect()
        })
    });
    let mem = Signal::derive(move || {
        ok.with(|s| {
            s.iter()
                .map(|s| Series {
                    label: "Memory".to_owned(),
                    color: "--ok",
                    points: s
                        .samples
                        .iter()
                        .map(|x| (x.at, x.mem_bytes as f64))
                        .collect(),
                })
                .collect()
        })
    });
    let marked = Signal::derive(move || ok.with(|s| s.as_ref().map(marks).unwrap_or_default()));

    let picker = move || {
        WINDOWS
            .into_iter()
            .map(|(label, ms)| {
                view! {
                    <button
                        class="seg"
                        class:active=move || window.get() == ms
                        data-testid=format!("metrics-window-{}", label.replace(' ', ""))
                        on:click=move |_| {
                            window.set(ms);
                            load();
                        }
                    >
                        {label}
                    </button>
                }
            })
            .collect_view()
    };
    let body = move || {
        match stats.get() {
        None => view! { <Loading rows=2 /> }.into_any(),
        Some(Err(e)) => {
            view! {
                <EmptyState testid="metrics-unavailable" title="No stats for this app" body=e.message />
            }
                .into_any()
        }
        Some(Ok(s)) if s.samples.is_empty() => {
            view! {
                <EmptyState
                    testid="metrics-empty"
                    title="No samples yet"
                    body="The server's relay samples every running app every 10 seconds; the first ones appear shortly after a deploy."
                />
            }
                .into_any()
        }
        Some(Ok(s)) => {
            let last = s.samples.last().cloned();
            let figures = last.map(|x| {
                let fmt = berth_model::format::bytes;
                view! {
                    <div class="figures" data-testid="metrics-figures">
                        <div class="figure">
                            <span class="muted small">"CPU"</span>
                            <strong>{format!("{:.1} %", x.cpu_pct)}</strong>
                        </div>
                        <div class="figure">
                            <span class="muted small">"Memory"</span>
                            <strong data-testid="metrics-memory">{fmt(x.mem_bytes)}</strong>
                            <span class="muted small">{format!("of {}", fmt(x.mem_limit))}</span>
                        </div>
                        <div class="figure">
                            <span class="muted small">"Network in / out"</span>
                            <strong>{format!("{} / {}", fmt(x.net_rx), fmt(x.net_tx))}</strong>
                        </div>
                        <div class="figure">
                            <span class="muted small">"Restarts"</span>
                            <strong>{x.restarts}</strong>
                        </div>
                    </div>
                }
            });
            let alerts = s
                .alerts
                .iter()
                .rev()
                .take(5)
                .map(|a| {
                    view! {
                        <li class=if a.kind.is_good() { "alert good" } else { "alert bad" }>
                            <span class="muted small">{crate::format::ago(now_ms(), a.at)}</span>
                            " "
                            {a.summary()}
                        </li>
                    }
                })
                .collect_view();
            view! {
                {figures}
                <Chart title="CPU (% of one core)" unit=Unit::Percent span series=cpu marks=marked testid="chart-cpu" />
                <Chart title="Memory" unit=Unit::Bytes span series=mem marks=marked testid="chart-memory" />
                <ul class="alert-list" data-testid="metrics-alerts">{alerts}</ul>
                <p class="muted small" data-testid="metrics-source">
                    {if s.source == "relay" {
                        format!("One point per {} s, from {}'s relay.", s.step_secs, s.server)
                    } else {
                        format!(
                            "One point per {} s, taken by this app while it runs: {} has no relay to keep stats around the clock.",
                            s.step_secs,
                            s.server
                        )
                    }}
                </p>
            }
                .into_any()
        }
    }
    };
    view! {
        <div class="metrics">
            <div class="metrics-head">
                <SectionTitle title="Metrics" count=None />
                <div class="segmented" role="group" aria-label="Window">{picker}</div>
            </div>
            {body}
            <MonitorSettings />
        </div>
    }
}

/// The health monitor's settings, changed in place.
#[component]
fn MonitorSettings() -> impl IntoView {
    let ctx = use_app();
    let app = RwSignal::new(None::<App>);
    let interval = RwSignal::new(String::new());
    let after = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    {
        let name = ctx.name();
        spawn_local(async move {
            if let Ok(a) = api::app(&name).await {
                interval.try_set(if a.monitor.enabled() {
                    berth_model::monitor::span(u64::from(a.monitor.interval_secs))
                } else {
                    "off".to_owned()
                });
                after.try_set(a.monitor.unhealthy_after.to_string());
                app.try_set(Some(a));
            }
        });
    }
    let save = move || {
        let parsed = Monitor::parse_interval(&interval.get_untracked()).and_then(|i| {
            let n = after
                .get_untracked()
                .trim()
                .parse::<u32>()
                .map_err(|_| "failed probes: a number from 1 to 100".to_owned())?;
            Ok((i, Monitor::check_unhealthy_after(n)?))
        });
        let (i, n) = match parsed {
            Ok(v) => v,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        saving.set(true);
        let name = ctx.name();
        spawn_local(async move {
            match api::app_set_monitor(&name, Some(i), Some(n)).await {
                Ok((a, warning)) => {
                    ctx.toasts
                        .ok(format!("{}: monitor {}", a.name, a.monitor.describe()));
                    if let Some(w) = warning {
                        ctx.toasts.info(w);
                    }
                    app.try_set(Some(a));
                }
                Err(e) => {
                    error.try_set(Some(e.message.clone()));
                    ctx.toasts.error(&e);
                }
            }
            saving.try_set(false);
        });
    };
    view! {
        <div class="monitor-settings" data-testid="monitor-settings">
            <SectionTitle title="Health monitor" count=None />
            <p class="muted small">
                {move || {
                    app.get()
                        .map(|a| {
                            format!(
                                "GET {} on the berth network: {}. A crash loop (3 restarts in 10 min) is stopped and alerted.",
                                a.health.path,
                                a.monitor.describe()
                            )
                        })
                }}
            </p>
            <div class="input-row">
                <label class="small muted" for="monitor-interval">"Every"</label>
                <input
                    id="monitor-interval"
                    data-testid="monitor-interval"
                    prop:value=move || interval.get()
                    on:input=move |ev| interval.set(event_target_value(&ev))
                    placeholder="30s"
                />
                <label class="small muted" for="monitor-after">"restart after"</label>
                <input
                    id="monitor-after"
                    data-testid="monitor-after"
                    prop:value=move || after.get()
                    on:input=move |ev| after.set(event_target_value(&ev))
                    placeholder="3"
                />
                <span class="small muted">"failed probes"</span>
                <button
                    class="button small"
                    data-testid="monitor-save"
                    disabled=move || saving.get()
                    on:click=move |_| save()
                >
                    "Save"
                </button>
            </div>
            {move || error.get().map(|e| view! { <div class="field-error">{e}</div> })}
        </div>
    }
}
