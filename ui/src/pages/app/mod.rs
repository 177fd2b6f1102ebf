//! One app: its live state, where it runs and its actions in the header; below, seven tabs —
//! Deploys (the running deploy's steps and build log, and the history), Logs (the container's
//! output, live), Environment, Domains, Webhook (deploy on a push, every delivery) and Stages
//! (an image app's stages and the instances running in each).
//!
//! The page keeps what a deploy shows (steps, build log, outcome) itself, so switching tabs
//! loses nothing; each tab loads its own data when it opens.

mod backups;
mod connect;
mod container_log;
mod deploys;
mod domains;
mod env;
mod log_view;
mod metrics;
mod stages;
mod webhook;

use berth_model::view::{JobDone, JobKind, JobProgress};
use berth_model::{App, AppState, AppStatus, DeployEvent, ErrorDto};
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::loglines::LineKind;
use crate::pages::app_form::AppFormDialog;
use crate::pipeline::Pipeline;
use crate::toast::{Toasts, use_toasts};
use crate::widgets::{Badge, Confirm, ErrorState, ExternalLink, Loading};
use crate::{api, events, format};

use log_view::LogFeed;

/// The tabs of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Deploys,
    /// A service's: where apps reach it, and the apps linked to it.
    Connect,
    /// A service's (or an app's volumes') backups: now, history, restore, verify, schedule.
    Backups,
    Logs,
    Metrics,
    Env,
    Domains,
    Webhook,
    Stages,
}

impl Tab {
    const ALL: [Tab; 8] = [
        Tab::Deploys,
        Tab::Logs,
        Tab::Metrics,
        Tab::Env,
        Tab::Domains,
        Tab::Webhook,
        Tab::Stages,
        Tab::Backups,
    ];

    /// A service's tabs: no domains, webhook or stages; how to connect instead.
    const SERVICE: [Tab; 6] = [
        Tab::Connect,
        Tab::Backups,
        Tab::Deploys,
        Tab::Logs,
        Tab::Metrics,
        Tab::Env,
    ];

    fn id(self) -> &'static str {
        match self {
            Tab::Connect => "connect",
            Tab::Backups => "backups",
            Tab::Deploys => "deploys",
            Tab::Logs => "logs",
            Tab::Metrics => "metrics",
            Tab::Env => "env",
            Tab::Domains => "domains",
            Tab::Webhook => "webhook",
            Tab::Stages => "stages",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Connect => "Connect",
            Tab::Backups => "Backups",
            Tab::Deploys => "Deploys",
            Tab::Logs => "Logs",
            Tab::Metrics => "Metrics",
            Tab::Env => "Environment",
            Tab::Domains => "Domains",
            Tab::Webhook => "Webhook",
            Tab::Stages => "Stages",
        }
    }
}

/// The job running on this app, as far as the page knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Started here, or seen through its progress events.
    Known(JobKind),
    /// Running when the page opened (`api::running`): its kind is not known.
    Unknown,
}

/// What the page's parts share (context).
#[derive(Clone, Copy)]
struct AppCtx {
    name: StoredValue<String>,
    /// A service (its own tabs and words) rather than an app.
    service: bool,
    status: RwSignal<Option<AppStatus>>,
    job: RwSignal<Option<Job>>,
    /// The last deploy's steps: shown from its start until the next one.
    pipeline: RwSignal<Option<Pipeline>>,
    build_log: LogFeed,
    /// How the last deploy ended.
    outcome: RwSignal<Option<JobDone>>,
    tab: RwSignal<Tab>,
    toasts: Toasts,
    /// Bumped by an edit (a variable set or unset) so the pending-changes banner looks again.
    edited: RwSignal<u32>,
}

impl AppCtx {
    fn name(&self) -> String {
        self.name.get_value()
    }

    fn tabs(&self) -> &'static [Tab] {
        if self.service {
            &Tab::SERVICE
        } else {
            &Tab::ALL
        }
    }

    fn busy(&self) -> bool {
        self.job.get().is_some()
    }

    fn state(&self) -> Option<AppState> {
        self.status.with(|s| s.as_ref().map(|s| s.state))
    }

    /// Starts a background job; its end arrives as a `job-done` event (and a toast).
    /// `target`: the deployment a rollback goes back to, or the ref (tag) a deploy takes.
    fn run(&self, kind: JobKind, target: Option<String>) {
        let this = *self;
        if this.job.get_untracked().is_some() {
            return;
        }
        this.job.set(Some(Job::Known(kind)));
        if shows_pipeline(kind) {
            this.pipeline.set(Some(Pipeline::new()));
            this.build_log.clear();
            this.outcome.set(None);
            this.tab.set(Tab::Deploys);
        }
        let app = this.name();
        spawn_local(async move {
            let started = match kind {
                JobKind::Deploy => api::deploy(&app, target.as_deref()).await,
                JobKind::Rollback => api::rollback(&app, target.as_deref()).await,
                JobKind::Restart => api::restart(&app).await,
                JobKind::Start => api::start(&app).await,
                JobKind::Stop => api::stop(&app).await,
                JobKind::Apply => api::apply(&app).await,
                // Started from the Stages tab, with their tag and stage.
                JobKind::StageDeploy | JobKind::Promote => Ok(()),
            };
            if let Err(e) = started {
                this.job.try_set(None);
                if shows_pipeline(kind) {
                    this.pipeline.try_set(None);
                }
                this.toasts.error(&e);
            }
        });
    }
}

/// Jobs that run the deploy pipeline (and so have steps to show).
fn shows_pipeline(kind: JobKind) -> bool {
    matches!(
        kind,
        JobKind::Deploy
            | JobKind::Rollback
            | JobKind::Restart
            | JobKind::StageDeploy
            | JobKind::Promote
            | JobKind::Apply
    )
}

fn use_app() -> AppCtx {
    expect_context::<AppCtx>()
}

#[component]
pub fn AppPage(name: String, #[prop(optional)] service: bool) -> impl IntoView {
    let toasts = use_toasts();
    let ctx = AppCtx {
        name: StoredValue::new(name.clone()),
        service,
        status: RwSignal::new(None),
        job: RwSignal::new(None),
        pipeline: RwSignal::new(None),
        build_log: LogFeed::new(),
        outcome: RwSignal::new(None),
        tab: RwSignal::new(if service { Tab::Connect } else { Tab::Deploys }),
        toasts,
        edited: RwSignal::new(0),
    };
    provide_context(ctx);
    let failed = RwSignal::new(None::<ErrorDto>);
    let loading = RwSignal::new(false);

    let load = move || {
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        spawn_local(async move {
            match api::app_status(&ctx.name()).await {
                Ok(st) => {
                    ctx.status.try_set(Some(st));
                    failed.try_set(None);
                }
                Err(e) => {
                    toasts.error(&e);
                    failed.try_set(Some(e));
                }
            }
            loading.try_set(false);
        });
    };
    load();
    // A job started elsewhere (another window, the tray) still shows as running.
    spawn_local(async move {
        if let Ok(running) = api::running().await
            && running.contains(&ctx.name())
            && ctx.job.try_get_untracked() == Some(None)
        {
            ctx.job.try_set(Some(Job::Unknown));
        }
    });

    events::on_job_progress(move |p: JobProgress| {
        if p.app != ctx.name() {
            return;
        }
        if ctx.job.get_untracked().is_none_or(|j| j == Job::Unknown) {
            ctx.job.set(Some(Job::Known(p.kind)));
        }
        if !shows_pipeline(p.kind) {
            return;
        }
        match &p.event {
            DeployEvent::Started { .. } => {
                ctx.build_log.clear();
                ctx.outcome.set(None);
            }
            DeployEvent::BuildLine { line } => ctx.build_log.push(line.clone(), LineKind::Out),
            DeployEvent::Info { message } => ctx.build_log.push(message.clone(), LineKind::Note),
            _ => {}
        }
        ctx.pipeline
            .update(|pl| pl.get_or_insert_with(Pipeline::new).apply(&p.event));
    });
    events::on_job_done(move |done: JobDone| {
        if done.app != ctx.name() {
            return;
        }
        ctx.job.set(None);
        if shows_pipeline(done.kind) {
            // Events can be missed (the job began before the page opened): the record knows.
            let ended = ctx
                .pipeline
                .with_untracked(|p| p.as_ref().is_some_and(|p| p.ended.is_some()));
            if !ended && let Some(d) = &done.deployment {
                ctx.pipeline.set(Some(Pipeline::of(d)));
            }
            ctx.outcome.set(Some(done));
        }
        load();
    });
    let focus = window_event_listener(ev::focus, move |_| load());
    on_cleanup(move || focus.remove());

    // What the body shows changes only between loading, failed and loaded: a reload of the
    // status must not rebuild the tabs (and lose their state).
    let shown = Memo::new(move |_| (ctx.status.with(Option::is_some), failed.get()));
    view! {
        <Header />
        <PendingBanner />
        {move || match shown.get() {
            (false, None) => view! { <Loading rows=3 /> }.into_any(),
            (false, Some(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            (true, _) => view! { <Tabs /> }.into_any(),
        }}
    }
}

/// The app's pending changes (its records against what its serving deployment runs with):
/// how many, what applying takes, the diff on demand, Apply and Discard.
#[component]
fn PendingBanner() -> impl IntoView {
    let ctx = use_app();
    let pending = RwSignal::new(None::<berth_model::PendingChanges>);
    let open = RwSignal::new(false);
    Effect::new(move |_| {
        // Again after every status load (a job ended, the window came back) and every edit.
        ctx.status.track();
        ctx.edited.track();
        let app = ctx.name();
        spawn_local(async move {
            if let Ok(p) = api::plan(&app).await {
                pending.try_set(Some(p));
            }
        });
    });
    let discard = move |_| {
        let app = ctx.name();
        spawn_local(async move {
            match api::discard(&app).await {
                Ok(_) => {
                    ctx.toasts.ok("Pending changes discarded");
                    ctx.edited.update(|n| *n += 1);
                }
                Err(e) => ctx.toasts.error(&e),
            }
        });
    };
    move || {
        let p = pending.get().filter(|p| !p.is_empty())?;
        let n = p.diff.changes.len();
        let changes = p
            .diff
            .changes
            .iter()
            .map(|c| {
                view! {
                    <li data-testid="pending-change">
                        <code>{c.field.clone()}</code>
                        " "
                        <span class="muted">{c.from.clone().unwrap_or_else(|| "–".into())}</span>
                        " → "
                        <strong>{c.to.clone().unwrap_or_else(|| "–".into())}</strong>
                    </li>
                }
            })
            .collect::<Vec<_>>();
        Some(view! {
            <div class="banner warn pending" data-testid="pending-banner">
                <div class="pending-text">
                    <strong>
                        {format!("{n} pending change{}", if n == 1 { "" } else { "s" })}
                    </strong>
                    {format!(" — applying takes {}.", p.diff.effect.describe())}
                    <button
                        class="link"
                        data-testid="pending-toggle"
                        on:click=move |_| open.update(|o| *o = !*o)
                    >
                        {move || if open.get() { "Hide" } else { "Show what changes" }}
                    </button>
                    <ul class="pending-diff" data-testid="pending-diff" hidden=move || !open.get()>
                        {changes}
                    </ul>
                </div>
                <div class="pending-actions">
                    <button
                        class="button"
                        data-testid="pending-discard"
                        disabled=move || ctx.busy()
                        on:click=discard
                    >
                        "Discard"
                    </button>
                    <button
                        class="button primary"
                        data-testid="pending-apply"
                        disabled=move || ctx.busy()
                        on:click=move |_| ctx.run(JobKind::Apply, None)
                    >
                        "Apply"
                    </button>
                </div>
            </div>
        })
    }
}

/// Name, state, where it runs, and the actions.
#[component]
fn Header() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let confirm_stop = RwSignal::new(false);
    let editing = RwSignal::new(None::<App>);
    let asking_ref = RwSignal::new(false);
    let chosen_ref = RwSignal::new(String::new());
    let confirm_delete = RwSignal::new(false);
    let purge = RwSignal::new(false);
    let nav = crate::app::use_nav();

    let badge = move || {
        let (tone, text) = match (ctx.job.get(), ctx.state()) {
            (Some(job), _) => ("busy", job_label(job)),
            (None, Some(state)) => (format::app_tone(state), format::app_state(state)),
            (None, None) => ("idle", "…"),
        };
        view! { <Badge tone text /> }
    };
    let meta = move || {
        ctx.status.get().map(|st| {
            let commit = st.commit.clone().map(|c| {
                view! {
                    <span class="meta-item" title=c.clone()>
                        "Commit "
                        <code>{format::short_commit(&c).to_owned()}</code>
                    </span>
                }
            });
            // An image app: the registry image and tag, the digest it runs on hover.
            let image = st.source_image.clone().map(|i| {
                view! {
                    <span
                        class="meta-item"
                        data-testid="app-image"
                        title=st.digest.clone().unwrap_or_default()
                    >
                        "Image "
                        <code>{i}</code>
                    </span>
                }
            });
            let urls = st
                .urls
                .iter()
                .map(|u| {
                    let label = format::url_label(u).to_owned();
                    view! {
                        <span class="meta-item">
                            <ExternalLink url=u.clone() label />
                        </span>
                    }
                })
                .collect_view();
            let endpoint = (st.urls.is_empty())
                .then(|| st.endpoint.clone())
                .flatten()
                .map(|e| {
                    view! {
                        <span class="meta-item" title="Published on the server's loopback">
                            <code>{e}</code>
                        </span>
                    }
                });
            // Processes beside the web container (a Procfile's workers) and how they are.
            let workers = st
                .workers
                .iter()
                .map(|w| {
                    let state = w.status.clone().unwrap_or_else(|| "gone".to_owned());
                    let tone = if w.running { "ok" } else { "bad" };
                    view! {
                        <span
                            class="meta-item"
                            data-testid="app-worker"
                            title=format!("{} · {}", w.command, w.container)
                        >
                            <code>{w.process.clone()}</code>
                            " "
                            <span class=format!("badge {tone}")>
                                <span class="dot"></span>
                                {state}
                            </span>
                        </span>
                    }
                })
                .collect_view();
            view! {
                <span class="meta-item">"on " <strong>{st.server.clone()}</strong></span>
                {urls}
                {endpoint}
                {commit}
                {image}
                {workers}
            }
        })
    };
    let deployed = move || {
        ctx.status
            .with(|s| s.as_ref().is_some_and(|s| s.deployment_id.is_some()))
    };
    let open_edit = move |_| {
        let app = ctx.name();
        spawn_local(async move {
            match api::app(&app).await {
                Ok(a) => {
                    editing.try_set(Some(a));
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    view! {
        <header class="page-header app-header">
            <div class="app-title">
                <div class="app-title-row">
                    <h1>{ctx.name()}</h1>
                    <span data-testid="app-state">{badge}</span>
                </div>
                <div class="app-meta muted">{meta}</div>
            </div>
            <div class="actions">
                <button
                    class="button primary"
                    data-testid="deploy"
                    disabled=move || ctx.busy()
                    on:click=move |_| ctx.run(JobKind::Deploy, None)
                >
                    {move || {
                        match (ctx.job.get() == Some(Job::Known(JobKind::Deploy)), ctx.service) {
                            (true, false) => "Deploying…",
                            (false, false) => "Deploy",
                            (true, true) => "Starting…",
                            (false, true) if deployed() => "Pull and restart",
                            (false, true) => "Start",
                        }
                    }}
                </button>
                <button
                    class="button"
                    data-testid="cancel"
                    disabled=move || !ctx.busy() && ctx.state() != Some(AppState::Deploying)
                    title="Stop the running job; the current version keeps serving"
                    on:click=move |_| {
                        let app = ctx.name();
                        spawn_local(async move {
                            match api::cancel(&app).await {
                                Ok(true) => {}
                                Ok(false) => toasts.info("Nothing to cancel: the job has ended"),
                                Err(e) => toasts.error(&e),
                            }
                        });
                    }
                >
                    "Cancel"
                </button>
                <button
                    class="button"
                    data-testid="restart"
                    disabled=move || ctx.busy() || !deployed()
                    title="A fresh container from the same image with the current settings, without downtime"
                    on:click=move |_| ctx.run(JobKind::Restart, None)
                >
                    "Restart"
                </button>
                {move || match ctx.state() {
                    Some(AppState::Running) => {
                        view! {
                            <button
                                class="button"
                                data-testid="stop"
                                disabled=move || ctx.busy()
                                on:click=move |_| confirm_stop.set(true)
                            >
                                "Stop"
                            </button>
                        }
                            .into_any()
                    }
                    Some(AppState::Stopped | AppState::Failed) if deployed() => {
                        view! {
                            <button
                                class="button"
                                data-testid="start"
                                disabled=move || ctx.busy()
                                on:click=move |_| ctx.run(JobKind::Start, None)
                            >
                                "Start"
                            </button>
                        }
                            .into_any()
                    }
                    _ => ().into_any(),
                }}
                <Show when=move || !ctx.service>
                    <button
                        class="button ghost"
                        data-testid="deploy-ref"
                        disabled=move || ctx.busy()
                        title="Deploy a branch, tag or commit (an image app: a tag)"
                        on:click=move |_| asking_ref.set(true)
                    >
                        "Deploy…"
                    </button>
                    <button class="button ghost" data-testid="edit-app" on:click=open_edit>
                        "Edit"
                    </button>
                    <button
                        class="button ghost danger"
                        data-testid="delete-app"
                        disabled=move || ctx.busy()
                        on:click=move |_| confirm_delete.set(true)
                    >
                        "Delete"
                    </button>
                </Show>
            </div>
        </header>
        <Show when=move || asking_ref.get()>
            <crate::widgets::Modal
                title=format!("Deploy {}", ctx.name())
                testid="deploy-ref-dialog"
                on_close=Callback::new(move |()| asking_ref.set(false))
                footer=Box::new(move || {
                    view! {
                        <button class="button" on:click=move |_| asking_ref.set(false)>
                            "Cancel"
                        </button>
                        <button
                            class="button primary"
                            data-testid="deploy-ref-ok"
                            disabled=move || chosen_ref.with(|r| r.trim().is_empty())
                            on:click=move |_| {
                                asking_ref.set(false);
                                ctx.run(JobKind::Deploy, Some(chosen_ref.get_untracked().trim().to_owned()));
                            }
                        >
                            "Deploy"
                        </button>
                    }
                        .into_any()
                })
            >
                <label class="field">
                    <span class="field-label">"Branch, tag or commit"</span>
                    <input
                        data-testid="deploy-ref-input"
                        placeholder="main, v1.4.2, 3f2a9c1 — an image app: its tag"
                        prop:value=move || chosen_ref.get()
                        on:input=move |ev| chosen_ref.set(event_target_value(&ev))
                    />
                </label>
            </crate::widgets::Modal>
        </Show>
        <Show when=move || confirm_delete.get()>
            <Confirm
                title=format!("Delete {}?", ctx.name())
                body="Its containers, route and records go (its deployments, variables and domains). Its images and named volumes stay unless you tick below."
                confirm="Delete"
                danger=true
                on_answer=Callback::new(move |yes: bool| {
                    confirm_delete.set(false);
                    if !yes {
                        return;
                    }
                    let (app, purge) = (ctx.name(), purge.get_untracked());
                    spawn_local(async move {
                        match api::app_rm(&app, purge).await {
                            Ok(()) => {
                                toasts.ok(format!("{app} deleted"));
                                nav.go(crate::app::Page::Apps);
                            }
                            Err(e) => toasts.error(&e),
                        }
                    });
                })
            >
                <label class="check">
                    <input
                        type="checkbox"
                        data-testid="delete-purge"
                        prop:checked=move || purge.get()
                        on:change=move |ev| purge.set(event_target_checked(&ev))
                    />
                    "Also remove its images and named volumes (their data is gone)"
                </label>
            </Confirm>
        </Show>
        <Show when=move || confirm_stop.get()>
            <Confirm
                title=format!("Stop {}?", ctx.name())
                body=if ctx.service {
                    "The apps linked to it lose their connection until you start it again (also across server reboots)."
                } else {
                    "The app stops serving until you start it again (also across server reboots)."
                }
                confirm="Stop"
                danger=true
                on_answer=Callback::new(move |yes| {
                    confirm_stop.set(false);
                    if yes {
                        ctx.run(JobKind::Stop, None);
                    }
                })
            />
        </Show>
        {move || {
            editing
                .get()
                .map(|app| {
                    view! {
                        <AppFormDialog
                            existing=Some(app)
                            on_done=Callback::new(move |saved: Option<App>| {
                                editing.set(None);
                                if saved.is_some() {
                                    reload_status(ctx);
                                }
                            })
                        />
                    }
                })
        }}
    }
}

/// What the badge says while a job runs.
fn job_label(job: Job) -> &'static str {
    match job {
        Job::Known(JobKind::Deploy) | Job::Unknown => format::app_state(AppState::Deploying),
        Job::Known(JobKind::Rollback) => "Rolling back",
        Job::Known(JobKind::Restart) => "Restarting",
        Job::Known(JobKind::Start) => "Starting",
        Job::Known(JobKind::Stop) => "Stopping",
        Job::Known(JobKind::StageDeploy) => "Deploying to a stage",
        Job::Known(JobKind::Promote) => "Promoting",
        Job::Known(JobKind::Apply) => "Applying changes",
    }
}

fn reload_status(ctx: AppCtx) {
    let toasts = ctx.toasts;
    spawn_local(async move {
        match api::app_status(&ctx.name()).await {
            Ok(st) => {
                ctx.status.try_set(Some(st));
            }
            Err(e) => toasts.error(&e),
        }
    });
}

/// The tab bar and the open tab. Arrow keys move between tabs (WAI-ARIA tabs pattern).
#[component]
fn Tabs() -> impl IntoView {
    let ctx = use_app();
    let tabs = ctx.tabs();
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let i = tabs
            .iter()
            .position(|t| *t == ctx.tab.get_untracked())
            .unwrap_or(0);
        let n = tabs.len();
        let next = match ev.key().as_str() {
            "ArrowRight" => (i + 1) % n,
            "ArrowLeft" => (i + n - 1) % n,
            "Home" => 0,
            "End" => n - 1,
            _ => return,
        };
        ev.prevent_default();
        ctx.tab.set(tabs[next]);
        focus_tab(tabs[next]);
    };
    view! {
        <div class="tabs" role="tablist" aria-label="App sections" on:keydown=on_key>
            {tabs
                .iter()
                .copied()
                .map(|t| {
                    let selected = move || ctx.tab.get() == t;
                    view! {
                        <button
                            class="tab"
                            class:active=selected
                            role="tab"
                            id=format!("tab-{}", t.id())
                            aria-selected=move || selected().to_string()
                            aria-controls="tab-panel"
                            tabindex=move || if selected() { "0" } else { "-1" }
                            data-testid=format!("tab-{}", t.id())
                            on:click=move |_| ctx.tab.set(t)
                        >
                            {t.label()}
                            {(t == Tab::Deploys)
                                .then(|| {
                                    view! {
                                        <Show when=move || ctx.busy()>
                                            <span class="tab-spinner" aria-hidden="true"></span>
                                        </Show>
                                    }
                                })}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        <div
            class="tab-panel"
            id="tab-panel"
            role="tabpanel"
            aria-labelledby=move || format!("tab-{}", ctx.tab.get().id())
        >
            {move || match ctx.tab.get() {
                Tab::Deploys => view! { <deploys::DeploysTab /> }.into_any(),
                Tab::Connect => view! { <connect::ConnectTab /> }.into_any(),
                Tab::Backups => view! { <backups::BackupsTab /> }.into_any(),
                Tab::Logs => view! { <container_log::ContainerLog /> }.into_any(),
                Tab::Metrics => view! { <metrics::MetricsTab /> }.into_any(),
                Tab::Env => view! { <env::EnvTab /> }.into_any(),
                Tab::Domains => view! { <domains::DomainsTab /> }.into_any(),
                Tab::Webhook => view! { <webhook::WebhookTab /> }.into_any(),
                Tab::Stages => view! { <stages::StagesTab /> }.into_any(),
            }}
        </div>
    }
}

fn focus_tab(tab: Tab) {
    use wasm_bindgen::JsCast;
    let el = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&format!("tab-{}", tab.id())))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(el) = el {
        let _ = el.focus();
    }
}
