//! One app: its live status, a deploy button and the deploy's progress as it streams in.
//! (History, logs, environment and domains are the next sections to build here.)

use berth_model::view::JobProgress;
use berth_model::{AppStatus, DeployEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::toast::use_toasts;
use crate::widgets::{Badge, ErrorState, ExternalLink, Loaded, Loading, PageHeader, fetch};
use crate::{api, events, format};

#[component]
pub fn AppPage(name: String) -> impl IntoView {
    let toasts = use_toasts();
    let status: Loaded<AppStatus> = RwSignal::new(None);
    let progress = RwSignal::new(Vec::<String>::new());
    let deploying = RwSignal::new(false);
    let app = StoredValue::new(name.clone());
    let load = move || {
        fetch(
            status,
            async move { api::app_status(&app.get_value()).await },
        )
    };
    load();

    events::on_job_progress(move |p: JobProgress| {
        if p.app != app.get_value() {
            return;
        }
        deploying.set(true);
        if let Some(line) = progress_line(&p.event) {
            progress.update(|l| l.push(line));
        }
    });
    events::on_job_done(move |d| {
        if d.app == app.get_value() {
            deploying.set(false);
            load();
        }
    });

    let deploy = move |_| {
        progress.set(Vec::new());
        deploying.set(true);
        spawn_local(async move {
            if let Err(e) = api::deploy(&app.get_value(), None).await {
                deploying.set(false);
                toasts.error(&e);
            }
        });
    };
    let cancel = move |_| {
        spawn_local(async move {
            if let Err(e) = api::cancel(&app.get_value()).await {
                toasts.error(&e);
            }
        });
    };

    view! {
        <PageHeader title=name.clone() subtitle="App">
            <button class="button" disabled=move || !deploying.get() on:click=cancel>
                "Cancel"
            </button>
            <button class="button primary" disabled=move || deploying.get() on:click=deploy>
                {move || if deploying.get() { "Deploying…" } else { "Deploy" }}
            </button>
        </PageHeader>
        {move || match status.get() {
            None => view! { <Loading rows=2 /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(st)) => {
                view! {
                    <div class="card wide">
                        <div class="card-title">
                            <Badge tone=format::app_tone(st.state) text=format::app_state(st.state) />
                            <span class="muted">{format!("on {}", st.server)}</span>
                        </div>
                        <div class="kv">
                            <span class="muted">"Commit"</span>
                            <code>{st.commit.as_deref().map(format::short_commit).unwrap_or("—").to_owned()}</code>
                            <span class="muted">"Container"</span>
                            <span>{st.container.unwrap_or_else(|| "—".to_owned())}</span>
                            <span class="muted">"URLs"</span>
                            <span>
                                {st.urls.is_empty().then_some("—")}
                                {st
                                    .urls
                                    .into_iter()
                                    .map(|u| {
                                        let label = format::url_label(&u).to_owned();
                                        view! { <ExternalLink url=u label /> }
                                    })
                                    .collect_view()}
                            </span>
                        </div>
                    </div>
                }
                    .into_any()
            }
        }}
        {move || {
            let lines = progress.get();
            (!lines.is_empty())
                .then(|| {
                    view! {
                        <pre class="log" data-testid="progress">
                            {lines.join("\n")}
                        </pre>
                    }
                })
        }}
    }
}

/// One line of the progress log for an event.
fn progress_line(e: &DeployEvent) -> Option<String> {
    Some(match e {
        DeployEvent::Started { deployment, .. } => format!("deployment {deployment}"),
        DeployEvent::StepStarted { step } => format!("▸ {step}"),
        DeployEvent::StepFinished {
            step,
            duration_ms,
            outcome,
        } => format!("  {step} {outcome:?} in {}", format::duration(*duration_ms)).to_lowercase(),
        DeployEvent::BuildLine { line } => format!("  │ {line}"),
        DeployEvent::Info { message } => format!("  {message}"),
        DeployEvent::Finished { status, .. } => format::deployment_status(*status).to_owned(),
    })
}
