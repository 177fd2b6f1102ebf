//! The Deploys tab: the last deploy's steps, build log and outcome (live while it runs), and
//! the history, where a row opens its stored build log and a healthy earlier deployment can
//! be rolled back to.

use berth_model::view::{JobDone, JobKind};
use berth_model::{DeployEvent, Deployment, DeploymentStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::log_view::{LogFeed, LogView};
use super::{AppCtx, use_app};
use crate::pipeline::{Pipeline, StepState, step_label};
use crate::toast::use_toasts;
use crate::widgets::{Badge, Confirm, EmptyState, ExternalLink, Loading, SectionTitle, now_ms};
use crate::{api, events, format};

/// How many deployments the history shows.
const HISTORY: usize = 20;

#[component]
pub fn DeploysTab() -> impl IntoView {
    let ctx = use_app();
    view! {
        <Show when=move || ctx.pipeline.with(Option::is_some)>
            <Progress />
        </Show>
        <History />
    }
}

/// The steps, the outcome and the build log of the last deploy.
#[component]
fn Progress() -> impl IntoView {
    let ctx = use_app();
    let title = move || match (ctx.busy(), ctx.outcome.get()) {
        (true, _) => "Deploying".to_owned(),
        (false, Some(d)) => format!("Last {}", d.kind.as_str()),
        (false, None) => "Last deploy".to_owned(),
    };
    view! {
        <section class="panel progress" data-testid="progress">
            <div class="panel-head">
                <h2 class="section-title">{title}</h2>
                {move || {
                    ctx.pipeline
                        .with(|p| p.as_ref().and_then(|p| p.deployment.clone()))
                        .map(|id| view! { <code class="muted small">{id}</code> })
                }}
            </div>
            <div class="progress-body">
                <div class="progress-steps">
                    {move || ctx.pipeline.get().map(|p| view! { <StepList pipeline=p /> })}
                    <Outcome />
                </div>
                <div class="progress-log">
                    <LogView
                        lines=ctx.build_log.lines
                        testid="build-log"
                        empty="Build output appears here."
                    />
                </div>
            </div>
        </section>
    }
}

/// The pipeline as a vertical list of steps.
#[component]
fn StepList(pipeline: Pipeline) -> impl IntoView {
    view! {
        <ol class="steps">
            {pipeline
                .steps
                .into_iter()
                .map(|r| {
                    let state = r.state.as_str();
                    let icon = match r.state {
                        StepState::Running => view! { <span class="spinner"></span> }.into_any(),
                        StepState::Ok => view! { <span class="step-icon">"✓"</span> }.into_any(),
                        StepState::Failed => view! { <span class="step-icon">"✕"</span> }.into_any(),
                        StepState::Cancelled => {
                            view! { <span class="step-icon">"⏹"</span> }.into_any()
                        }
                        StepState::Skipped => view! { <span class="step-icon">"–"</span> }.into_any(),
                        StepState::Pending => view! { <span class="step-icon">"○"</span> }.into_any(),
                    };
                    view! {
                        <li
                            class=format!("step {state}")
                            data-testid="step"
                            data-step=r.step.as_str()
                            data-state=state
                        >
                            {icon}
                            <span class="step-name">{step_label(r.step)}</span>
                            <span class="step-time">{r.duration_ms.map(format::duration)}</span>
                            {r.message.map(|m| view! { <div class="step-error">{m}</div> })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// The result line once the job has ended.
#[component]
fn Outcome() -> impl IntoView {
    let ctx = use_app();
    move || {
        ctx.outcome.get().map(|done: JobDone| {
            let took = format::duration(done.duration_ms);
            if done.ok {
                let link = done.url.clone().map(|u| {
                    let label = format::url_label(&u).to_owned();
                    view! { " at " <ExternalLink url=u label /> }
                });
                view! {
                    <div class="outcome ok" data-testid="outcome">
                        <strong>"Live"</strong>
                        {format!(" in {took}")}
                        {link}
                    </div>
                }
                .into_any()
            } else if done.cancelled {
                view! {
                    <div class="outcome warn" data-testid="outcome">
                        <strong>"Cancelled"</strong>
                        {format!(" after {took}; the previous version keeps serving")}
                    </div>
                }
                .into_any()
            } else {
                let step = done
                    .deployment
                    .as_ref()
                    .and_then(|d| d.failed_step)
                    .map(|s| format!(" at {}", step_label(s).to_lowercase()));
                view! {
                    <div class="outcome bad" data-testid="outcome">
                        <strong>{format!("Failed{}", step.unwrap_or_default())}</strong>
                        <div class="outcome-detail">{done.message}</div>
                    </div>
                }
                .into_any()
            }
        })
    }
}

/// The deployments, newest first.
#[component]
fn History() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let rows = RwSignal::new(None::<Vec<Deployment>>);
    let open = RwSignal::new(None::<String>);
    let rollback_to = RwSignal::new(None::<Deployment>);
    // What a rollback to it changes besides the image, fetched when one is asked for.
    let rollback_diff = RwSignal::new(None::<berth_model::SpecDiff>);
    Effect::new(move |_| {
        let Some(target) = rollback_to.with(|d| d.as_ref().map(|d| d.id.clone())) else {
            rollback_diff.set(None);
            return;
        };
        let app = ctx.name();
        spawn_local(async move {
            if let Ok((_, d)) = api::rollback_preview(&app, Some(&target)).await {
                rollback_diff.try_set(Some(d));
            }
        });
    });
    let now = RwSignal::new(now_ms());
    let load = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::deployments(&app, HISTORY).await {
                Ok(d) => {
                    // The time first: the list reads it untracked, and renders once.
                    now.try_set(now_ms());
                    rows.try_set(Some(d));
                }
                Err(e) => {
                    toasts.error(&e);
                    rows.try_update(|r| {
                        r.get_or_insert_with(Vec::new);
                    });
                }
            }
        });
    };
    load();
    events::on_job_done(move |d| {
        if d.app == ctx.name() {
            load();
        }
    });
    events::on_job_progress(move |p| {
        if p.app == ctx.name() && matches!(p.event, DeployEvent::Started { .. }) {
            load();
        }
    });

    let count = move || rows.with(|r| r.as_ref().map(Vec::len).filter(|n| *n > 0));
    view! {
        <section data-testid="history">
            {move || view! { <SectionTitle title="History" count=count() /> }}
            {move || match rows.get() {
                None => view! { <Loading rows=3 /> }.into_any(),
                Some(list) if list.is_empty() => {
                    view! {
                        <EmptyState
                            testid="empty-history"
                            title="Not deployed yet"
                            body="Deploy builds the branch's latest commit on the server and starts it; every deploy is listed here."
                        />
                    }
                        .into_any()
                }
                Some(list) => {
                    view! {
                        <div class="list history">
                            {list
                                .into_iter()
                                .map(|d| history_row(ctx, d, now.get_untracked(), open, rollback_to))
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
            {move || {
                rollback_to
                    .get()
                    .map(|d| {
                        let label = match (&d.digest, d.short_commit()) {
                            (Some(_), _) => format!("{} (pinned by digest)", d.version().unwrap_or_default()),
                            (None, Some(c)) => format!("commit {c}"),
                            (None, None) => format!("deployment {}", d.short_id()),
                        };
                        let id = d.id.clone();
                        let recorded = d.spec.is_some();
                        view! {
                            <Confirm
                                title=format!("Roll back {}?", ctx.name())
                                body=if recorded {
                                    format!(
                                        "Starts a new container from the image of {label} (no rebuild), with the settings, variables and domains it ran with, and switches traffic to it once healthy.",
                                    )
                                } else {
                                    format!(
                                        "Starts a new container from the image of {label} (no rebuild) and switches traffic to it once healthy. It was recorded before Berth kept what deployments ran with: today's settings apply.",
                                    )
                                }
                                confirm="Roll back"
                                on_answer=Callback::new(move |yes| {
                                    rollback_to.set(None);
                                    if yes {
                                        ctx.run(JobKind::Rollback, Some(id.clone()));
                                    }
                                })
                            >
                                {move || {
                                    rollback_diff
                                        .get()
                                        .filter(|d| !d.is_empty())
                                        .map(|d| {
                                            view! {
                                                <ul class="pending-diff" data-testid="rollback-diff">
                                                    {d
                                                        .changes
                                                        .into_iter()
                                                        .map(|c| view! { <li>{c.line()}</li> })
                                                        .collect::<Vec<_>>()}
                                                </ul>
                                            }
                                        })
                                }}
                            </Confirm>
                        }
                    })
            }}
        </section>
    }
}

fn history_row(
    ctx: AppCtx,
    d: Deployment,
    now: i64,
    open: RwSignal<Option<String>>,
    rollback_to: RwSignal<Option<Deployment>>,
) -> impl IntoView {
    let id = d.id.clone();
    let toggle_id = id.clone();
    let is_open = {
        let id = id.clone();
        move || open.with(|o| o.as_deref() == Some(id.as_str()))
    };
    let toggle = move || {
        open.update(|o| {
            *o = if o.as_deref() == Some(toggle_id.as_str()) {
                None
            } else {
                Some(toggle_id.clone())
            }
        })
    };
    let can_roll_back = d.status.was_healthy() && d.status != DeploymentStatus::Active;
    let what = match (&d.failed_step, &d.error) {
        (Some(step), _) => format!("failed at {}", step_label(*step).to_lowercase()),
        (None, Some(e)) => e.clone(),
        (None, None) => d.commit_message.clone().unwrap_or_default(),
    };
    let when = format::ago(now, d.started_at);
    let took = d.duration_ms().map(format::duration);
    let commit = d.version().unwrap_or_default();
    let deployment = d.clone();
    let row_open = is_open.clone();
    let row_toggle = toggle.clone();
    view! {
        <div class="history-item" class:open=is_open.clone()>
            <div
                class="list-row history-row"
                data-testid="deployment-row"
                data-id=id.clone()
                on:click=move |_| row_toggle()
            >
                <span class="h-status">
                    <Badge tone=format::deployment_tone(d.status) text=format::deployment_status(d.status) />
                </span>
                <span class="h-kind muted">{d.kind.as_str()}</span>
                <button
                    class="link h-what"
                    aria-expanded=move || row_open().to_string()
                    title="Show the build log and step timings"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        toggle();
                    }
                >
                    <code>{commit}</code>
                    <span class="ellipsis">{what}</span>
                </button>
                <span class="h-when muted small" title=format!("deployment {id}")>{when}</span>
                <span class="h-took muted small">{took}</span>
                <span class="h-action">
                    {can_roll_back
                        .then(|| {
                            let target = d.clone();
                            view! {
                                <button
                                    class="button small"
                                    data-testid="rollback"
                                    disabled=move || ctx.busy()
                                    on:click=move |ev| {
                                        ev.stop_propagation();
                                        rollback_to.set(Some(target.clone()));
                                    }
                                >
                                    "Roll back"
                                </button>
                            }
                        })}
                </span>
            </div>
            <Show when=is_open.clone()>
                <StoredDeploy deployment=deployment.clone() />
            </Show>
        </div>
    }
}

/// A past deployment opened in the history: its steps and its stored build log.
#[component]
fn StoredDeploy(deployment: Deployment) -> impl IntoView {
    let toasts = use_toasts();
    let feed = LogFeed::new();
    let loaded = RwSignal::new(false);
    let id = deployment.id.clone();
    spawn_local(async move {
        match api::build_log(&id).await {
            Ok(lines) => feed.replace(&lines),
            Err(e) => toasts.error(&e),
        }
        loaded.try_set(true);
    });
    let pipeline = Pipeline::of(&deployment);
    let source = deployment
        .source_deployment
        .clone()
        .map(|s| view! { <div class="muted small">{format!("Image of deployment {s}")}</div> });
    let error = deployment
        .error
        .clone()
        .map(|e| view! { <div class="step-error">{e}</div> });
    view! {
        <div class="history-detail" data-testid="deployment-detail">
            <div class="progress-steps">
                <StepList pipeline />
                {source}
                {error}
            </div>
            <div class="progress-log">
                {move || {
                    if loaded.get() {
                        view! {
                            <LogView
                                lines=feed.lines
                                testid="stored-build-log"
                                empty="No build output was recorded (rollbacks and restarts reuse an image)."
                                compact=true
                            />
                        }
                            .into_any()
                    } else {
                        view! { <Loading rows=2 /> }.into_any()
                    }
                }}
            </div>
        </div>
    }
}
