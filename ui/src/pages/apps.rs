//! Apps: every app with its live state, server, running commit, URLs and last deploy. The
//! list comes from the local records at once; each app's live state is then asked of its
//! server. A row opens the app's page; "New app" and "Edit" open the app form.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use berth_model::view::{AppSummary, Overview};
use berth_model::{App, AppState, AppStatus, DeployEvent, ErrorDto};
use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::app::{Page, use_nav};
use crate::pages::app_form::AppFormDialog;
use crate::toast::use_toasts;
use crate::widgets::{
    Badge, EmptyState, ErrorState, ExternalLink, Loaded, Loading, PageHeader, RefreshButton, now_ms,
};
use crate::{api, events, format};

/// How often the live states are asked again while the list is shown.
const STATUS_EVERY: Duration = Duration::from_secs(30);

type Live = RwSignal<HashMap<String, Result<AppStatus, ErrorDto>>>;

/// Which form is open.
#[derive(Debug, Clone, PartialEq)]
enum Editing {
    New,
    App(Box<App>),
}

#[component]
pub fn Apps() -> impl IntoView {
    let nav = use_nav();
    let toasts = use_toasts();
    let data: Loaded<Overview> = RwSignal::new(None);
    let live: Live = RwSignal::new(HashMap::new());
    let deploying = RwSignal::new(HashSet::<String>::new());
    let busy = RwSignal::new(false);
    let now = RwSignal::new(now_ms());

    let refresh_live = move |names: Vec<String>| {
        for name in names {
            spawn_local(async move {
                let answer = api::app_status(&name).await;
                live.update(|m| {
                    m.insert(name, answer);
                });
            });
        }
    };
    let load = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        // Not `fetch`: this runs from events too, where the toasts cannot be looked up.
        spawn_local(async move {
            // Services have a page of their own.
            let answer = api::overview().await.map(|mut o| {
                o.apps.retain(|a| a.service.is_none());
                o
            });
            if let Err(e) = &answer {
                toasts.error(e);
            }
            if let Ok(o) = &answer {
                deploying.set(
                    o.apps
                        .iter()
                        .filter(|a| a.state == AppState::Deploying)
                        .map(|a| a.name.clone())
                        .collect(),
                );
                refresh_live(o.apps.iter().map(|a| a.name.clone()).collect());
            }
            now.set(now_ms());
            data.set(Some(answer));
            busy.set(false);
        });
    };
    load();
    events::on_job_progress(move |p| {
        if !deploying.with_untracked(|d| d.contains(&p.app)) {
            deploying.update(|d| {
                d.insert(p.app.clone());
            });
        }
        if matches!(p.event, DeployEvent::Finished { .. }) {
            refresh_live(vec![p.app]);
        }
    });
    events::on_job_done(move |done| {
        deploying.update(|d| {
            d.remove(&done.app);
        });
        load();
    });
    let focus = window_event_listener(ev::focus, move |_| load());
    on_cleanup(move || focus.remove());
    // Only the live states: re-rendering the rows would take the keyboard focus away.
    let recheck = move || {
        if let Some(Ok(o)) = data.get_untracked() {
            refresh_live(o.apps.into_iter().map(|a| a.name).collect());
        }
    };
    if let Ok(timer) = set_interval_with_handle(recheck, STATUS_EVERY) {
        on_cleanup(move || timer.clear());
    }

    let quick = RwSignal::new(false);
    let editing = RwSignal::new(None::<Editing>);
    let edit = Callback::new(move |name: String| {
        spawn_local(async move {
            match api::app(&name).await {
                Ok(app) => editing.set(Some(Editing::App(Box::new(app)))),
                Err(e) => toasts.error(&e),
            }
        });
    });
    let done = Callback::new(move |saved: Option<App>| {
        editing.set(None);
        if saved.is_some() {
            load();
        }
    });

    view! {
        <PageHeader title="Apps" subtitle="Git repositories Berth builds and images it runs">
            <RefreshButton busy=busy.into() on_click=load />
            <button
                class="button"
                data-testid="quick-deploy"
                title="Run an image from a registry: Berth reads how it runs and fills the form"
                on:click=move |_| quick.set(true)
            >
                "Quick Deploy"
            </button>
            <button
                class="button primary"
                data-testid="new-app"
                on:click=move |_| editing.set(Some(Editing::New))
            >
                "New app"
            </button>
        </PageHeader>
        <Show when=move || quick.get()>
            <crate::pages::quick_deploy::QuickDeployDialog on_close=Callback::new(move |()| {
                quick.set(false);
                load();
            }) />
        </Show>
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(o)) if o.apps.is_empty() && o.servers.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-apps"
                        title="No apps yet"
                        body="Add a server first: apps are built and run on your servers."
                    >
                        <button class="button primary" on:click=move |_| nav.go(Page::Servers)>
                            "Add a server"
                        </button>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(o)) if o.apps.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-apps"
                        title="No apps yet"
                        body="An app is a git repository Berth builds on one of your servers and keeps running."
                    >
                        <button
                            class="button primary"
                            data-testid="new-app-empty"
                            on:click=move |_| editing.set(Some(Editing::New))
                        >
                            "New app"
                        </button>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(o)) => {
                let at = now.get_untracked();
                view! {
                    <div class="table apps-table" data-testid="apps" role="list">
                        <div class="row apps-row head">
                            <span>"App"</span>
                            <span>"State"</span>
                            <span>"Server"</span>
                            <span>"URL"</span>
                            <span>"Last deploy"</span>
                            <span></span>
                        </div>
                        {o
                            .apps
                            .into_iter()
                            .map(|a| app_row(a, live, deploying, at, edit))
                            .collect_view()}
                    </div>
                }
                    .into_any()
            }
        }}
        {move || {
            editing
                .get()
                .map(|e| {
                    let existing = match e {
                        Editing::New => None,
                        Editing::App(app) => Some(*app),
                    };
                    view! { <AppFormDialog existing on_done=done /> }
                })
        }}
    }
}

/// What a row shows, from the records and, once it answered, the app's server.
#[derive(Debug, Clone, PartialEq)]
struct RowState {
    state: AppState,
    commit: Option<String>,
    message: Option<String>,
    urls: Vec<String>,
    /// Why the live state is unknown.
    unknown: Option<String>,
}

fn row_state(
    a: &AppSummary,
    live: Option<&Result<AppStatus, ErrorDto>>,
    deploying: bool,
) -> RowState {
    let mut row = RowState {
        state: a.state,
        commit: a.commit.clone(),
        message: a.commit_message.clone(),
        urls: a.url.iter().cloned().collect(),
        unknown: None,
    };
    match live {
        Some(Ok(s)) => {
            row.state = s.state;
            if s.commit != a.commit {
                row.message = None;
            }
            row.commit = s.commit.clone();
            if !s.urls.is_empty() {
                row.urls = s.urls.clone();
            }
        }
        Some(Err(e)) => row.unknown = Some(e.message.clone()),
        None => {}
    }
    if deploying {
        row.state = AppState::Deploying;
    }
    row
}

fn app_row(
    a: AppSummary,
    live: Live,
    deploying: RwSignal<HashSet<String>>,
    now: i64,
    edit: Callback<String>,
) -> impl IntoView {
    let nav = use_nav();
    let name = StoredValue::new(a.name.clone());
    let summary = StoredValue::new(a.clone());
    let row = Memo::new(move |_| {
        let name = name.get_value();
        let is_deploying = deploying.with(|d| d.contains(&name));
        live.with(|m| summary.with_value(|a| row_state(a, m.get(&name), is_deploying)))
    });
    let open = move || nav.go(Page::App(name.get_value()));
    let last = match &a.last_deploy {
        Some(d) => {
            let when = format::ago(now, d.finished_at.unwrap_or(d.started_at));
            let failed = matches!(
                d.status,
                berth_model::DeploymentStatus::Failed | berth_model::DeploymentStatus::Cancelled
            );
            view! {
                <span class="last-deploy">
                    <span>{when}</span>
                    {failed
                        .then(|| {
                            view! {
                                <Badge
                                    tone=format::deployment_tone(d.status)
                                    text=format::deployment_status(d.status)
                                />
                            }
                        })}
                </span>
            }
            .into_any()
        }
        None => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    view! {
        <div
            class="row apps-row clickable"
            role="listitem"
            tabindex="0"
            data-testid="app-row"
            data-app=a.name.clone()
            aria-label=format!("Open {}", a.name)
            on:click=move |_| open()
            on:keydown=move |ev| {
                if ev.key() == "Enter" && ev.target() == ev.current_target() {
                    ev.prevent_default();
                    open();
                }
            }
        >
            <span class="app-cell">
                <span class="strong ellipsis" title=a.name.clone()>
                    {a.name.clone()}
                </span>
                {move || {
                    let r = row.get();
                    r.commit
                        .map(|c| {
                            let short = format::short_commit(&c).to_owned();
                            let message = r.message.unwrap_or_default();
                            let title = message.clone();
                            view! {
                                <span class="muted small ellipsis commit-line" title=title>
                                    <code>{short}</code>
                                    " "
                                    {message}
                                </span>
                            }
                        })
                }}
            </span>
            <span data-testid="app-state">
                {move || {
                    let r = row.get();
                    let badge = view! {
                        <Badge tone=format::app_tone(r.state) text=format::app_state(r.state) />
                    };
                    match r.unknown {
                        Some(why) => {
                            view! {
                                <span class="state-cell" title=why>
                                    {badge}
                                    <span class="muted small">"last known"</span>
                                </span>
                            }
                                .into_any()
                        }
                        None => badge.into_any(),
                    }
                }}
            </span>
            <span class="muted ellipsis" title=a.server.clone()>
                {a.server.clone()}
            </span>
            <span class="urls" on:click=|ev| ev.stop_propagation()>
                {move || {
                    let urls = row.get().urls;
                    if urls.is_empty() {
                        view! { <span class="muted">"—"</span> }.into_any()
                    } else {
                        urls.into_iter()
                            .map(|u| {
                                let label = format::url_label(&u).to_owned();
                                view! { <ExternalLink url=u label /> }
                            })
                            .collect_view()
                            .into_any()
                    }
                }}
            </span>
            <span>{last}</span>
            <span class="row-actions">
                <button
                    class="button small ghost"
                    data-testid="app-edit"
                    title="Edit settings"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        edit.run(name.get_value());
                    }
                >
                    "Edit"
                </button>
            </span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> AppSummary {
        AppSummary {
            name: "hello".into(),
            server: "prod".into(),
            state: AppState::Running,
            commit: Some("aaaaaaa111".into()),
            commit_message: Some("first".into()),
            url: Some("https://hello.example.com".into()),
            last_deploy: None,
            service: None,
        }
    }

    fn status(state: AppState, commit: &str) -> AppStatus {
        AppStatus {
            app: "hello".into(),
            server: "prod".into(),
            state,
            deployment_id: None,
            commit: Some(commit.into()),
            image: None,
            source_image: None,
            tag: None,
            digest: None,
            stages: Vec::new(),
            container: None,
            endpoint: None,
            container_status: None,
            exit_code: None,
            deployed_at: None,
            urls: vec![
                "https://hello.example.com".into(),
                "https://www.hello.com".into(),
            ],
            domains: Vec::new(),
            workers: Vec::new(),
            last_deploy: None,
        }
    }

    #[test]
    fn records_until_the_server_answers() {
        let r = row_state(&summary(), None, false);
        assert_eq!(r.state, AppState::Running);
        assert_eq!(r.message.as_deref(), Some("first"));
        assert_eq!(r.urls, ["https://hello.example.com"]);
    }

    #[test]
    fn the_live_state_wins() {
        let live = Ok(status(AppState::Failed, "aaaaaaa111"));
        let r = row_state(&summary(), Some(&live), false);
        assert_eq!(r.state, AppState::Failed);
        assert_eq!(r.message.as_deref(), Some("first"));
        assert_eq!(r.urls.len(), 2);
        // Another commit runs than the records say: their message would be wrong.
        let live = Ok(status(AppState::Running, "bbbbbbb222"));
        let r = row_state(&summary(), Some(&live), false);
        assert_eq!((r.commit.as_deref(), r.message), (Some("bbbbbbb222"), None));
    }

    #[test]
    fn a_running_job_and_an_unreachable_server() {
        let live = Ok(status(AppState::Running, "aaaaaaa111"));
        assert_eq!(
            row_state(&summary(), Some(&live), true).state,
            AppState::Deploying
        );
        let live = Err(ErrorDto {
            code: "unreachable".into(),
            message: "cannot reach prod".into(),
        });
        let r = row_state(&summary(), Some(&live), false);
        assert_eq!(r.state, AppState::Running);
        assert_eq!(r.unknown.as_deref(), Some("cannot reach prod"));
    }
}
