//! Servers: the machines apps run on. Each card checks its server live (on arrival, then every
//! 30 s), shows its proxy, webhook relay and base domain, and can remove it; "Add server" connects to a new
//! one, asking the user to confirm an unknown SSH host key first.

use std::time::Duration;

use berth_model::view::{AddServerRequest, HostKeyInfo, RelayInstallRequest};
use berth_model::{
    DriftReport, ErrorDto, MetricsEndpoint, ProxyStatus, PruneReport, RelayStatus, Server,
    ServerCheck, TransportKind,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pages::proxy_install::ProxyInstallDialog;
use crate::pages::server_add::AddServerDialog;
use crate::toast::use_toasts;
use crate::widgets::{
    Badge, Confirm, EmptyState, ErrorState, Loaded, Loading, PageHeader, RefreshButton,
    server_address,
};
use crate::{api, format};

/// How often a shown card checks its server again.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// How often a card reads its host's samples again.
const HOST_EVERY: Duration = Duration::from_secs(60);

#[component]
pub fn Servers() -> impl IntoView {
    let toasts = use_toasts();
    let servers: Loaded<Vec<Server>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    // Not `fetch`: this also runs from callbacks outside the component (after an add or a
    // remove), where the toasts cannot be looked up.
    let load = move || {
        busy.set(true);
        spawn_local(async move {
            let answer = api::servers().await;
            if let Err(e) = &answer {
                toasts.error(e);
            }
            servers.set(Some(answer));
            busy.set(false);
        })
    };
    load();
    let adding = RwSignal::new(false);
    let on_added = Callback::new(move |(name, check): (String, ServerCheck)| {
        adding.set(false);
        toasts.ok(format!(
            "Server {name} added — Docker {}",
            check.docker_version
        ));
        load();
    });
    let changed = Callback::new(move |()| load());

    view! {
        <PageHeader title="Servers" subtitle="Machines with Docker that Berth deploys to">
            <RefreshButton busy=busy.into() on_click=load />
            <button class="button primary" data-testid="add-server" on:click=move |_| adding.set(true)>
                "Add server"
            </button>
        </PageHeader>
        {move || match servers.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-servers"
                        title="No servers yet — add one"
                        body="Any Linux machine with Docker that you can reach over SSH, or this computer's own Docker."
                    >
                        <button
                            class="button primary"
                            data-testid="add-server-empty"
                            on:click=move |_| adding.set(true)
                        >
                            "Add server"
                        </button>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <div class="cards server-cards">
                        {list
                            .into_iter()
                            .map(|s| view! { <ServerCard server=s on_changed=changed /> })
                            .collect_view()}
                    </div>
                }
                    .into_any()
            }
        }}
        <Show when=move || adding.get()>
            <AddServerDialog on_close=Callback::new(move |()| adding.set(false)) on_added />
        </Show>
    }
}

// --- one server ---

#[component]
fn ServerCard(server: Server, on_changed: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let name = StoredValue::new(server.name.clone());
    let check = RwSignal::new(None::<Result<ServerCheck, ErrorDto>>);
    let checking = RwSignal::new(false);
    let run_check = move || {
        if checking.get_untracked() {
            return;
        }
        checking.set(true);
        spawn_local(async move {
            let answer = api::server_check(&name.get_value()).await;
            check.set(Some(answer));
            checking.set(false);
        });
    };
    run_check();
    if let Ok(timer) = set_interval_with_handle(run_check, CHECK_EVERY) {
        on_cleanup(move || timer.clear());
    }

    // A re-check keeps the last answer on screen; only the first shows "Checking…".
    let status = move || match check.get() {
        Some(Ok(_)) => view! { <Badge tone="ok" text="Connected" /> }.into_any(),
        Some(Err(_)) => view! { <Badge tone="bad" text="Unreachable" /> }.into_any(),
        None => view! { <Badge tone="busy" text="Checking…" /> }.into_any(),
    };

    // Reclaiming disk: `Some(None)` while the dry run runs, then what it would free.
    let reclaim = RwSignal::new(None::<Option<PruneReport>>);
    // Drift: `Some(None)` while it is looked for, then what was found.
    let drift = RwSignal::new(None::<Option<Vec<DriftReport>>>);
    let removing = RwSignal::new(false);
    let purge = RwSignal::new(false);
    let remove = Callback::new(move |yes: bool| {
        removing.set(false);
        if !yes {
            return;
        }
        let purge = purge.get_untracked();
        spawn_local(async move {
            let name = name.get_value();
            match api::server_rm(&name, purge).await {
                Ok(()) => {
                    toasts.ok(if purge {
                        format!("Server {name} removed, and Berth's proxy and relay taken off it")
                    } else {
                        format!("Server {name} removed")
                    });
                    on_changed.run(());
                }
                Err(e) => toasts.error(&e),
            }
        });
    });

    let address = server_address(&server.address());
    let identity = server.identity.clone();
    view! {
        <div class="card server-card" data-testid="server-card" data-server=server.name.clone()>
            <div class="card-title">
                <span class="server-name ellipsis" title=server.name.clone()>
                    <span class="strong">{server.name.clone()}</span>
                </span>
                <span class="card-badges">
                    {(server.transport != TransportKind::Local)
                        .then(|| {
                            view! {
                                <span class="pill" title="The SSH client Berth uses for this server">
                                    {server.transport.as_str()}
                                </span>
                            }
                        })}
                    <span data-testid="server-status">{status}</span>
                </span>
            </div>
            <div class="muted ellipsis" title=address.clone()>
                {address.clone()}
            </div>
            {identity
                .map(|i| {
                    view! {
                        <div class="muted small ellipsis" title=i.clone()>
                            {format!("Key {i}")}
                        </div>
                    }
                })}
            {move || match check.get() {
                Some(Ok(c)) => view! { <CheckFacts check=c /> }.into_any(),
                Some(Err(e)) => {
                    view! {
                        <div class="card-error" data-testid="server-error">
                            <div>{e.message}</div>
                            <div class="code small muted">{e.code}</div>
                        </div>
                    }
                        .into_any()
                }
                None => view! { <div class="facts-skeleton skeleton"></div> }.into_any(),
            }}
            {server.relay.is_some().then(|| view! { <HostSection server=name.get_value() /> })}
            <ProxySection server=name.get_value() />
            <RelaySection server=name.get_value() installed=server.relay.is_some() />
            {(server.transport != TransportKind::Local).then(|| view! { <Connection server=server.clone() on_changed=on_changed /> })}
            <BaseDomain server=name.get_value() initial=server.base_domain.clone() />
            <Reclaim server=name.get_value() preview=reclaim />
            <DriftSection server=name.get_value() found=drift />
            <div class="card-foot card-actions">
                <button
                    class="button small"
                    data-testid="server-recheck"
                    disabled=move || checking.get()
                    on:click=move |_| run_check()
                >
                    {move || if checking.get() { "Checking…" } else { "Check now" }}
                </button>
                <button
                    class="button small"
                    data-testid="server-reclaim"
                    title="Berth's images no rollback can reach, dangling images, unused build cache"
                    on:click=move |_| {
                        reclaim.set(Some(None));
                        spawn_local(async move {
                            match api::server_prune(&name.get_value(), true).await {
                                Ok(r) => {
                                    reclaim.try_set(Some(Some(r)));
                                }
                                Err(e) => {
                                    toasts.error(&e);
                                    reclaim.try_set(None);
                                }
                            }
                        });
                    }
                >
                    "Reclaim disk…"
                </button>
                <button
                    class="button small"
                    data-testid="server-drift"
                    title="Compare what Berth recorded with what the server runs"
                    on:click=move |_| {
                        drift.set(Some(None));
                        spawn_local(async move {
                            match api::reconcile(Some(&name.get_value()), false).await {
                                Ok(d) => {
                                    drift.try_set(Some(Some(d)));
                                }
                                Err(e) => {
                                    toasts.error(&e);
                                    drift.try_set(None);
                                }
                            }
                        });
                    }
                >
                    "Drift…"
                </button>
                <button
                    class="button small"
                    data-testid="server-import"
                    title="Rebuild Berth's records of this server's apps from its containers' labels"
                    on:click=move |_| {
                        spawn_local(async move {
                            match api::server_import(&name.get_value()).await {
                                Ok(list) => {
                                    let done: Vec<_> = list.iter().filter(|i| i.skipped.is_none()).collect();
                                    toasts.ok(format!(
                                        "{} app(s) imported from {}{}",
                                        done.len(),
                                        name.get_value(),
                                        if list.len() > done.len() {
                                            format!(", {} skipped (already known, or not importable)", list.len() - done.len())
                                        } else {
                                            String::new()
                                        }
                                    ));
                                    for i in done.iter().filter(|i| !i.missing_secrets.is_empty()) {
                                        toasts.info(format!(
                                            "{}: set the secret values again — {}",
                                            i.app,
                                            i.missing_secrets.join(", ")
                                        ));
                                    }
                                    on_changed.run(());
                                }
                                Err(e) => toasts.error(&e),
                            }
                        });
                    }
                >
                    "Import apps"
                </button>
                <span class="grow"></span>
                <button
                    class="button small ghost danger-text"
                    data-testid="server-remove"
                    on:click=move |_| {
                        purge.set(false);
                        removing.set(true);
                    }
                >
                    "Remove"
                </button>
            </div>
        </div>
        <Show when=move || removing.get()>
            <Confirm
                title=format!("Remove {}?", name.get_value())
                body="Berth forgets this server, its pinned host key and its stored passphrase. A server that still has apps cannot be removed: remove its apps first."
                confirm="Remove server"
                danger=true
                on_answer=remove
            >
                <label class="check" title="Without this, nothing on the server is touched: the proxy and the relay keep running there">
                    <input
                        type="checkbox"
                        data-testid="server-remove-purge"
                        prop:checked=move || purge.get()
                        on:change=move |ev| purge.set(event_target_checked(&ev))
                    />
                    " Also take Berth's proxy (with its certificates) and webhook relay off the server"
                </label>
            </Confirm>
        </Show>
    }
}

/// What differs between Berth's records and the server, and the button that fixes it.
#[component]
fn DriftSection(
    server: String,
    found: RwSignal<Option<Option<Vec<DriftReport>>>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let fixing = RwSignal::new(false);
    let fix = move || {
        fixing.set(true);
        spawn_local(async move {
            match api::reconcile(Some(&server.get_value()), true).await {
                Ok(done) => {
                    let bad = done.iter().filter(|d| d.fixed == Some(false)).count();
                    if bad == 0 {
                        toasts.ok(format!(
                            "{}: {} drift(s) fixed",
                            server.get_value(),
                            done.len()
                        ));
                        found.try_set(None);
                    } else {
                        toasts.error(&ErrorDto {
                            code: "reconcile".into(),
                            message: format!("{bad} drift(s) could not be fixed"),
                        });
                        found.try_set(Some(Some(done)));
                    }
                }
                Err(e) => toasts.error(&e),
            }
            fixing.try_set(false);
        });
    };
    move || {
        found.get().map(|f| match f {
            None => view! {
                <div class="card-section" data-testid="server-drift-list">
                    <span class="muted">"Comparing with Berth's records…"</span>
                </div>
            }
            .into_any(),
            Some(drifts) => {
                let none = drifts.is_empty();
                view! {
                    <div class="card-section" data-testid="server-drift-list">
                        <div class="card-section-title">"Drift"</div>
                        {if none {
                            view! { <span class="small" data-testid="drift-none">"None: every app runs as Berth recorded it."</span> }.into_any()
                        } else {
                            view! {
                                <div class="list">
                                    {drifts
                                        .into_iter()
                                        .map(|d| {
                                            view! {
                                                <div class="list-row" data-testid="drift-row" data-kind=d.kind.clone()>
                                                    <span class="pill">{d.kind.clone()}</span>
                                                    <span class="grow small">
                                                        <span class="strong">{d.app.clone()}</span>
                                                        {format!(": {}", d.problem)}
                                                        <br />
                                                        <span class="muted">{format!("Fix: {}", d.fix)}</span>
                                                        {d.error.map(|e| view! { <br /><span class="danger-text">{e}</span> })}
                                                    </span>
                                                </div>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            }
                            .into_any()
                        }}
                        <div class="card-foot">
                            <button
                                class="button small primary"
                                data-testid="server-drift-fix"
                                disabled=move || none || fixing.get()
                                on:click=move |_| fix()
                            >
                                {move || if fixing.get() { "Fixing…" } else { "Fix all" }}
                            </button>
                            <button class="button small ghost" on:click=move |_| found.set(None)>
                                "Close"
                            </button>
                        </div>
                    </div>
                }
                .into_any()
            }
        })
    }
}

/// What reclaiming disk would free (a dry run), and the button that frees it.
#[component]
fn Reclaim(server: String, preview: RwSignal<Option<Option<PruneReport>>>) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let running = RwSignal::new(false);
    let prune = move || {
        running.set(true);
        spawn_local(async move {
            match api::server_prune(&server.get_value(), false).await {
                Ok(r) => {
                    toasts.ok(format!(
                        "{}: {} image(s) removed, {} freed",
                        r.server,
                        r.images.len(),
                        format::bytes(r.bytes())
                    ));
                    preview.try_set(None);
                }
                Err(e) => toasts.error(&e),
            }
            running.try_set(false);
        });
    };
    move || {
        preview.get().map(|p| match p {
            None => view! {
                <div class="card-section" data-testid="server-reclaim-preview">
                    <span class="muted">"Looking for what can go…"</span>
                </div>
            }
            .into_any(),
            Some(r) => {
                let nothing = r.images.is_empty() && r.build_cache_bytes == 0;
                let kept = r.kept;
                let total = format::bytes(r.bytes());
                let cache = r.build_cache_bytes;
                view! {
                    <div class="card-section" data-testid="server-reclaim-preview">
                        <div class="card-section-title">"Reclaim disk"</div>
                        <span class="small" data-testid="reclaim-total">
                            {if nothing {
                                "Nothing to free.".to_owned()
                            } else {
                                format!("Would free {total}.")
                            }}
                        </span>
                        {(!nothing)
                            .then(|| {
                                view! {
                                    <div class="list">
                                        {r
                                            .images
                                            .into_iter()
                                            .map(|i| {
                                                view! {
                                                    <div class="list-row" data-testid="reclaim-image">
                                                        <code class="ellipsis">{i.image}</code>
                                                        <span class="muted small grow">{i.why}</span>
                                                        <span class="nowrap">{format::bytes(i.bytes)}</span>
                                                    </div>
                                                }
                                            })
                                            .collect_view()}
                                        {(cache > 0)
                                            .then(|| {
                                                view! {
                                                    <div class="list-row">
                                                        <span class="grow">"Build cache no build uses"</span>
                                                        <span class="nowrap">{format::bytes(cache)}</span>
                                                    </div>
                                                }
                                            })}
                                    </div>
                                }
                            })}
                        <p class="field-hint">
                            {if kept == 0 {
                                "Images a rollback can reach, a container uses, or a deploy may be about to use always stay.".to_owned()
                            } else {
                                format!(
                                    "{kept} image(s) stay: a rollback can reach them, a container uses them, or a deploy may be about to."
                                )
                            }}
                        </p>
                        <div class="card-foot">
                            <button
                                class="button small primary"
                                data-testid="server-reclaim-go"
                                disabled=move || nothing || running.get()
                                on:click=move |_| prune()
                            >
                                {move || if running.get() { "Freeing…" } else { "Free it" }}
                            </button>
                            <button class="button small ghost" on:click=move |_| preview.set(None)>
                                "Close"
                            </button>
                        </div>
                    </div>
                }
                .into_any()
            }
        })
    }
}

/// What a successful check found: Docker, CPUs, memory, disk, latency.
#[component]
fn CheckFacts(check: ServerCheck) -> impl IntoView {
    let memory = check
        .mem_available_bytes
        .map(|free| (free, check.mem_total_bytes));
    let disk = check.disk_free_bytes.zip(check.disk_total_bytes);
    let meter = |label: &'static str, free_total: Option<(u64, u64)>, fallback: String| {
        let body = match free_total {
            Some((free, total)) => {
                let used = format::percent_used(free, total);
                let tone = match used {
                    90.. => "meter bad",
                    75.. => "meter warn",
                    _ => "meter",
                };
                view! {
                    <span class="meter-line">
                        <span class=tone title=format!("{used}% used")>
                            <span class="meter-fill" style=format!("width: {used}%")></span>
                        </span>
                        <span class="nowrap">
                            {format!("{} free of {}", format::bytes(free), format::bytes(total))}
                        </span>
                    </span>
                }
                .into_any()
            }
            None => view! { <span>{fallback}</span> }.into_any(),
        };
        view! {
            <span class="muted">{label}</span>
            {body}
        }
    };
    view! {
        <div class="kv facts" data-testid="server-facts">
            <span class="muted">"Docker"</span>
            <span>
                {check.docker_version.clone()}
                <span class="muted small">{format!(" · API {}", check.api_version)}</span>
            </span>
            <span class="muted">"System"</span>
            <span class="ellipsis" title=format!("{} · {}", check.os, check.arch)>
                {format!("{} · {}", check.os, check.arch)}
            </span>
            <span class="muted">"CPUs"</span>
            <span>
                {check.cpus}
                <span class="muted small">
                    {format!(" · {} containers running", check.containers_running)}
                </span>
            </span>
            {meter("Memory", memory, format!("{} total", format::bytes(check.mem_total_bytes)))}
            {meter("Disk", disk, "unknown".to_owned())}
            <span class="muted">"Latency"</span>
            <span>
                {format::millis(check.latency_ms)}
                <span class="muted small">
                    {format!(" · connected in {}", format::millis(check.connect_ms))}
                </span>
            </span>
        </div>
    }
}

/// The server's Caddy: installed (mode, TLS, ports, health, routes) or an offer to install one.
/// The host over the last hour as its relay sampled it: CPU and memory, each disk, and what
/// Docker's data takes (refreshed with the card).
#[component]
fn HostSection(server: String) -> impl IntoView {
    use crate::chart::{Chart, Series, Span, Unit};
    let stats = RwSignal::new(None::<Result<berth_model::ServerStats, ErrorDto>>);
    let name = StoredValue::new(server);
    let load = move || {
        spawn_local(async move {
            let answer = api::server_stats(&name.get_value(), 3_600_000).await;
            stats.try_set(Some(answer));
        });
    };
    load();
    if let Ok(timer) = set_interval_with_handle(load, HOST_EVERY) {
        on_cleanup(move || timer.clear());
    }
    let ok = Memo::new(move |_| stats.with(|s| s.as_ref().and_then(|s| s.as_ref().ok()).cloned()));
    let span = Signal::derive(move || {
        let to = crate::widgets::now_ms();
        Span {
            from: to - 3_600_000,
            to,
        }
    });
    let series = Signal::derive(move || {
        ok.with(|s| {
            let Some(s) = s else { return Vec::new() };
            vec![
                Series {
                    label: "CPU".to_owned(),
                    color: "--accent",
                    points: s.samples.iter().map(|x| (x.at, x.cpu_pct)).collect(),
                },
                Series {
                    label: "Memory".to_owned(),
                    color: "--ok",
                    points: s
                        .samples
                        .iter()
                        .filter(|x| x.mem_total > 0)
                        .map(|x| (x.at, x.mem_used as f64 * 100.0 / x.mem_total as f64))
                        .collect(),
                },
            ]
        })
    });
    let no_marks = Signal::derive(Vec::new);
    let fmt = berth_model::format::bytes;
    view! {
        <div class="card-section" data-testid="server-host">
            {move || match stats.get() {
                None => view! { <div class="facts-skeleton skeleton"></div> }.into_any(),
                Some(Err(e)) => view! { <div class="muted small">{e.message}</div> }.into_any(),
                Some(Ok(s)) => {
                    let last = s.samples.last().cloned();
                    let disks = last
                        .as_ref()
                        .map(|l| {
                            l.disks
                                .iter()
                                .map(|d| {
                                    let pct = d.percent();
                                    let full = pct >= 90.0;
                                    view! {
                                        <div class="small" data-testid="server-disk">
                                            <div class="disk-row">
                                                <span>{format!("Disk {}", d.mount)}</span>
                                                <span class="muted">
                                                    {format!("{} of {} ({pct:.0} %)", fmt(d.used), fmt(d.total))}
                                                </span>
                                            </div>
                                            <div class="disk-bar" class:full=full>
                                                <span style=format!("width: {pct:.0}%")></span>
                                            </div>
                                        </div>
                                    }
                                })
                                .collect_view()
                        });
                    let load = last.as_ref().map(|l| {
                        format!(
                            "Load {:.2} {:.2} {:.2} · memory {} of {}",
                            l.load1,
                            l.load5,
                            l.load15,
                            fmt(l.mem_used),
                            fmt(l.mem_total)
                        )
                    });
                    let docker = s.docker.map(|d| {
                        format!(
                            "Docker: images {}, containers {}, volumes {}, build cache {} — {} reclaimable",
                            fmt(d.images),
                            fmt(d.containers),
                            fmt(d.volumes),
                            fmt(d.build_cache),
                            fmt(d.reclaimable)
                        )
                    });
                    view! {
                        <Chart
                            title="Host (last hour, %)"
                            unit=Unit::Percent
                            span
                            series
                            marks=no_marks
                            testid="chart-host"
                        />
                        {load.map(|l| view! { <div class="muted small">{l}</div> })}
                        {disks}
                        {docker.map(|d| view! { <div class="muted small" data-testid="server-docker-disk">{d}</div> })}
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

#[component]
fn ProxySection(server: String) -> impl IntoView {
    let server = StoredValue::new(server);
    let status: Loaded<ProxyStatus> = RwSignal::new(None);
    let load = move || {
        // Not `fetch`: a card's proxy failing is shown in the card, not as a toast per card.
        spawn_local(async move {
            let answer = api::proxy_status(&server.get_value()).await;
            status.set(Some(answer));
        })
    };
    load();
    let installing = RwSignal::new(false);
    let installed = Callback::new(move |st: ProxyStatus| {
        installing.set(false);
        status.set(Some(Ok(st)));
    });
    view! {
        <div class="card-section" data-testid="server-proxy">
            <div class="card-section-title">"Proxy"</div>
            {move || match status.get() {
                None => view! { <span class="muted small">"Looking at the proxy…"</span> }.into_any(),
                Some(Err(e)) => {
                    view! { <span class="small bad-text">{format!("Unknown: {}", e.message)}</span> }
                        .into_any()
                }
                Some(Ok(p)) if !p.installed => {
                    view! {
                        <div class="proxy-line">
                            <span class="muted small">
                                "No proxy: apps answer only on the server's loopback."
                            </span>
                            <button
                                class="button small"
                                data-testid="proxy-install"
                                on:click=move |_| installing.set(true)
                            >
                                "Install proxy"
                            </button>
                        </div>
                    }
                        .into_any()
                }
                Some(Ok(p)) => proxy_facts(p).into_any(),
            }}
        </div>
        <Show when=move || installing.get()>
            <ProxyInstallDialog
                server=server.get_value()
                on_close=Callback::new(move |()| installing.set(false))
                on_installed=installed
            />
        </Show>
    }
}

fn proxy_facts(p: ProxyStatus) -> impl IntoView {
    let mode = p.mode.clone().unwrap_or_default();
    let (tone, health) = if p.reachable {
        ("ok", format!("Caddy, {mode}"))
    } else {
        ("bad", format!("Caddy, {mode}: not answering"))
    };
    let mut details = Vec::new();
    if let Some(tls) = &p.tls {
        details.push(format!("TLS {tls}"));
    }
    if let (Some(http), Some(https)) = (p.http_port, p.https_port) {
        details.push(format!("ports {http}/{https}"));
    }
    if let Some(c) = &p.container_status {
        details.push(format!("container {c}"));
    }
    details.push(match p.routes.len() {
        1 => "1 route".to_owned(),
        n => format!("{n} routes"),
    });
    view! {
        <div class="proxy-line">
            <Badge tone text=health />
            <span class="muted small">{details.join(" · ")}</span>
        </div>
        {p.error.map(|e| view! { <div class="small bad-text">{e}</div> })}
    }
}

/// The server's webhook relay: its state, or a small form to install it (an optional hooks
/// domain, routed by the proxy, and its loopback port).
#[component]
fn RelaySection(server: String, installed: bool) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let status: Loaded<RelayStatus> = RwSignal::new(None);
    let load = move || {
        spawn_local(async move {
            let answer = api::relay_status(&server.get_value()).await;
            status.set(Some(answer));
        })
    };
    if installed {
        load();
    }
    let installing = RwSignal::new(false);
    let domain = RwSignal::new(String::new());
    let port = RwSignal::new("9080".to_owned());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let install = move || {
        let Some(listen_port) = port
            .get_untracked()
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
        else {
            error.set(Some(
                "the port must be a number between 1 and 65535".to_owned(),
            ));
            return;
        };
        let req = RelayInstallRequest {
            hooks_domain: Some(domain.get_untracked().trim().to_lowercase())
                .filter(|d| !d.is_empty()),
            listen_port,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let name = server.get_value();
            match api::relay_install(&name, &req).await {
                Ok(st) => {
                    toasts.ok(format!("Webhook relay running on {name}"));
                    installing.set(false);
                    status.set(Some(Ok(st)));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="card-section" data-testid="server-relay">
            <div class="card-section-title">"Webhook relay"</div>
            {move || match status.get() {
                None if installing.get() => view! {
                    <form class="relay-form" on:submit=move |ev| { ev.prevent_default(); install(); }>
                        <input
                            data-testid="relay-domain"
                            placeholder="hooks.example.com (optional)"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || domain.get()
                            on:input=move |ev| domain.set(event_target_value(&ev))
                        />
                        <input
                            class="port"
                            data-testid="relay-port"
                            title="Its port on the server's loopback"
                            prop:value=move || port.get()
                            on:input=move |ev| port.set(event_target_value(&ev))
                        />
                        <button class="button small primary" type="submit" data-testid="relay-install-submit" disabled=move || busy.get()>
                            {move || if busy.get() { "Installing…" } else { "Install" }}
                        </button>
                    </form>
                    {move || error.get().map(|e| view! { <div class="small bad-text" data-testid="relay-error">{e}</div> })}
                }.into_any(),
                None if !installed => view! {
                    <div class="proxy-line">
                        <span class="muted small">"No relay: pushes to git cannot deploy apps on this server."</span>
                        <button class="button small" data-testid="relay-install" on:click=move |_| installing.set(true)>
                            "Install relay"
                        </button>
                    </div>
                }.into_any(),
                None => view! { <span class="muted small">"Looking at the relay…"</span> }.into_any(),
                Some(Err(e)) => view! { <span class="small bad-text">{format!("Unknown: {}", e.message)}</span> }.into_any(),
                Some(Ok(r)) => view! { {relay_facts(r)} <ScrapeToken server=server.get_value() /> }.into_any(),
            }}
        </div>
    }
}

/// The relay's metrics for a Prometheus: the URL and the bearer token, shown on request.
#[component]
fn ScrapeToken(server: String) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let shown = RwSignal::new(None::<MetricsEndpoint>);
    let fetch_token = move |rotate: bool| {
        spawn_local(async move {
            match api::relay_metrics_token(&server.get_value(), rotate).await {
                Ok(m) => {
                    if rotate {
                        toasts.ok("A new metrics token: the old one no longer works");
                    }
                    shown.try_set(Some(m));
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    move || {
        match shown.get() {
        None => view! {
            <div class="proxy-line">
                <button class="button small ghost" data-testid="relay-metrics-token" on:click=move |_| fetch_token(false)>
                    "Metrics for Prometheus…"
                </button>
            </div>
        }
        .into_any(),
        Some(m) => view! {
            <div class="kv small" data-testid="relay-metrics">
                <span class="muted">"URL"</span>
                <code>{m.url.clone().unwrap_or_else(|| "no hooks domain: over SSH only".to_owned())}</code>
                <span class="muted">"Bearer token"</span>
                <code style="word-break: break-all" data-testid="relay-metrics-value">{m.token.clone()}</code>
            </div>
            <div class="proxy-line">
                <button class="button small ghost" data-testid="relay-metrics-rotate" on:click=move |_| fetch_token(true)>
                    "New token"
                </button>
                <button class="button small ghost" on:click=move |_| shown.set(None)>"Hide"</button>
            </div>
        }
        .into_any(),
    }
    }
}

fn relay_facts(r: RelayStatus) -> impl IntoView {
    let (tone, health) = if r.answering {
        ("ok", "Relay answering".to_owned())
    } else {
        ("bad", "Relay not answering".to_owned())
    };
    let mut details = vec![
        r.public_url
            .clone()
            .unwrap_or_else(|| format!("loopback only ({})", r.loopback_url)),
    ];
    details.push(match r.hooks {
        1 => "1 webhook".to_owned(),
        n => format!("{n} webhooks"),
    });
    if r.unattended > 0 {
        details.push(format!("{} unattended", r.unattended));
    }
    if r.pending > 0 {
        details.push(format!("{} waiting", r.pending));
    }
    let no_docker = r.answering && !r.docker;
    view! {
        <div class="proxy-line" data-testid="relay-facts">
            <Badge tone text=health />
            <span class="muted small">{details.join(" · ")}</span>
        </div>
        {r.error.map(|e| view! { <div class="small bad-text">{e}</div> })}
        {no_docker.then(|| view! {
            <div class="small warn-text">"No Docker socket in the relay: unattended webhooks need it — install the relay again."</div>
        })}
    }
}

/// The base domain (`<app>.<base>` for every app), editable in place.
#[component]
fn Connection(server: Server, on_changed: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let name = StoredValue::new(server.name.clone());
    let editing = RwSignal::new(false);
    let ssh = RwSignal::new(
        server
            .ssh
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    let identity = RwSignal::new(server.identity.clone().unwrap_or_default());
    let transport = RwSignal::new(server.transport);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // A host key not seen before, shown for the user to compare before it is trusted.
    let unknown_key = RwSignal::new(None::<HostKeyInfo>);
    let shown = format!(
        "{} via {}{}",
        server
            .ssh
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        server.transport.as_str(),
        server
            .identity
            .as_deref()
            .map(|i| format!(", key {i}"))
            .unwrap_or_default()
    );
    let request = move || AddServerRequest {
        name: name.get_value(),
        ssh: Some(ssh.get_untracked().trim().to_owned()).filter(|s| !s.is_empty()),
        transport: Some(transport.get_untracked()),
        // Empty: no identity file (ssh-agent).
        identity: Some(identity.get_untracked().trim().to_owned()),
        passphrase: None,
        docker_socket: None,
        trusted_fingerprint: unknown_key.get_untracked().map(|k| k.fingerprint),
    };
    let save = move || {
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let req = request();
        busy.set(true);
        spawn_local(async move {
            let go = match (&req.trusted_fingerprint, api::host_key(&req).await) {
                (Some(_), _) => true,
                (None, Ok(info)) if info.known => true,
                (None, Ok(info)) => {
                    match &info.pinned {
                        Some(pinned) => error.set(Some(format!(
                            "{} presents another host key than the one pinned ({pinned}): refused",
                            info.host
                        ))),
                        None => unknown_key.set(Some(info)),
                    }
                    false
                }
                (None, Err(e)) => {
                    error.set(Some(e.message));
                    false
                }
            };
            if go {
                match api::server_reconnect(&req.name, &req).await {
                    Ok(_) => {
                        toasts.ok(format!("{} connects the new way", req.name));
                        editing.set(false);
                        unknown_key.set(None);
                        on_changed.run(());
                    }
                    Err(e) => error.set(Some(e.message)),
                }
            }
            busy.set(false);
        });
    };
    view! {
        <div class="card-section" data-testid="server-connection">
            <div class="card-section-title">"Connection"</div>
            {move || {
                if !editing.get() {
                    let shown = shown.clone();
                    return view! {
                        <div class="proxy-line">
                            <span class="ellipsis" title=shown.clone()><code>{shown.clone()}</code></span>
                            <button
                                class="button small ghost"
                                data-testid="connection-edit"
                                on:click=move |_| {
                                    error.set(None);
                                    unknown_key.set(None);
                                    editing.set(true);
                                }
                            >
                                "Change"
                            </button>
                        </div>
                    }
                        .into_any();
                }
                view! {
                    <form
                        class="stack"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            save();
                        }
                    >
                        <label class="field">
                            <span class="field-label">"SSH"</span>
                            <input
                                data-testid="connection-ssh"
                                placeholder="user@host:22"
                                prop:value=move || ssh.get()
                                on:input=move |ev| {
                                    ssh.set(event_target_value(&ev));
                                    unknown_key.set(None);
                                }
                            />
                        </label>
                        <label class="field">
                            <span class="field-label">"Identity file"</span>
                            <input
                                data-testid="connection-identity"
                                placeholder="empty: ssh-agent"
                                prop:value=move || identity.get()
                                on:input=move |ev| identity.set(event_target_value(&ev))
                            />
                        </label>
                        <label class="field">
                            <span class="field-label">"SSH client"</span>
                            <select
                                data-testid="connection-transport"
                                on:change=move |ev| {
                                    transport.set(if event_target_value(&ev) == "system" {
                                        TransportKind::System
                                    } else {
                                        TransportKind::Embedded
                                    });
                                }
                            >
                                <option value="embedded" selected=move || transport.get() == TransportKind::Embedded>"Built in"</option>
                                <option value="system" selected=move || transport.get() == TransportKind::System>"System OpenSSH"</option>
                            </select>
                        </label>
                        {move || unknown_key.get().map(|k| view! {
                            <div class="banner warn" data-testid="connection-host-key">
                                <div>
                                    {format!("{} presents a host key Berth has not seen: ", k.host)}
                                    <code class="fingerprint">{k.fingerprint.clone()}</code>
                                    {format!(" ({}). Compare it with `ssh-keygen -lf {}` on the server; save again to trust it.", k.algorithm, crate::pages::server_add::host_key_file(&k.algorithm))}
                                </div>
                            </div>
                        })}
                        {move || error.get().map(|e| view! { <div class="field-error" data-testid="connection-error">{e}</div> })}
                        <div class="card-actions">
                            <button class="button small ghost" type="button" on:click=move |_| editing.set(false)>
                                "Cancel"
                            </button>
                            <button class="button small primary" type="submit" data-testid="connection-save" disabled=move || busy.get()>
                                {move || match (busy.get(), unknown_key.with(Option::is_some)) {
                                    (true, _) => "Checking…",
                                    (false, true) => "Trust and save",
                                    (false, false) => "Save",
                                }}
                            </button>
                        </div>
                        <div class="field-hint">"Berth connects the new way and checks Docker before it keeps the change."</div>
                    </form>
                }
                    .into_any()
            }}
        </div>
    }
}

#[component]
fn BaseDomain(server: String, initial: Option<String>) -> impl IntoView {
    let toasts = use_toasts();
    let server = StoredValue::new(server);
    let base = RwSignal::new(initial);
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let start = move |_| {
        draft.set(base.get_untracked().unwrap_or_default());
        error.set(None);
        editing.set(true);
    };
    let save = move || {
        if saving.get_untracked() {
            return;
        }
        let value = draft.get_untracked().trim().to_owned();
        saving.set(true);
        spawn_local(async move {
            let name = server.get_value();
            let wanted = (!value.is_empty()).then_some(value.as_str());
            match api::server_set_base_domain(&name, wanted).await {
                Ok(s) => {
                    match &s.base_domain {
                        Some(b) => toasts.ok(format!("Apps on {name} now get <app>.{b}")),
                        None => toasts.ok(format!("Base domain of {name} cleared")),
                    }
                    base.set(s.base_domain);
                    editing.set(false);
                }
                Err(e) => error.set(Some(e.message)),
            }
            saving.set(false);
        });
    };
    view! {
        <div class="card-section" data-testid="server-base-domain">
            <div class="card-section-title">"Base domain"</div>
            {move || {
                if editing.get() {
                    view! {
                        <form
                            class="inline-edit"
                            on:submit=move |ev| {
                                ev.prevent_default();
                                save();
                            }
                        >
                            <input
                                data-testid="base-domain-input"
                                placeholder="apps.example.com"
                                prop:value=move || draft.get()
                                on:input=move |ev| draft.set(event_target_value(&ev))
                                on:keydown=move |ev| {
                                    if ev.key() == "Escape" {
                                        editing.set(false);
                                    }
                                }
                            />
                            <button
                                class="button small primary"
                                type="submit"
                                data-testid="base-domain-save"
                                disabled=move || saving.get()
                            >
                                {move || if saving.get() { "Saving…" } else { "Save" }}
                            </button>
                            <button
                                class="button small ghost"
                                type="button"
                                on:click=move |_| editing.set(false)
                            >
                                "Cancel"
                            </button>
                        </form>
                        {move || error.get().map(|e| view! { <div class="field-error">{e}</div> })}
                        <div class="field-hint">"Leave empty to clear. Point *.domain at the server in DNS."</div>
                    }
                        .into_any()
                } else {
                    view! {
                        <div class="proxy-line">
                            {move || match base.get() {
                                Some(b) => {
                                    view! {
                                        <span class="ellipsis" title=format!("apps get <app>.{b}")>
                                            <code>{format!("*.{b}")}</code>
                                        </span>
                                    }
                                        .into_any()
                                }
                                None => view! { <span class="muted small">"None"</span> }.into_any(),
                            }}
                            <button
                                class="button small ghost"
                                data-testid="base-domain-edit"
                                on:click=start
                            >
                                {move || if base.get().is_some() { "Change" } else { "Set" }}
                            </button>
                        </div>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
