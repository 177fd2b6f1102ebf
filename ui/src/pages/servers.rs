//! Servers: the machines apps run on, with a live check of each. (Adding, removing and the
//! proxy settings are the next screens to build on this one.)

use berth_model::{Server, ServerCheck, TransportKind};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::toast::use_toasts;
use crate::widgets::{EmptyState, ErrorState, Loaded, Loading, PageHeader, fetch, server_address};

#[component]
pub fn Servers() -> impl IntoView {
    let servers: Loaded<Vec<Server>> = RwSignal::new(None);
    let load = move || fetch(servers, api::servers());
    load();
    view! {
        <PageHeader title="Servers" subtitle="Machines with Docker that Berth deploys to" />
        {move || match servers.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-servers"
                        title="No servers yet — add one"
                        body="Adding a server from this window is coming. Meanwhile, from a terminal:"
                    >
                        <code class="command">"berth server add NAME --ssh USER@HOST"</code>
                        <code class="command">"berth server add NAME --local"</code>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <div class="cards">{list.into_iter().map(|s| view! { <ServerCard server=s /> }).collect_view()}</div>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn ServerCard(server: Server) -> impl IntoView {
    let toasts = use_toasts();
    let check = RwSignal::new(None::<ServerCheck>);
    let checking = RwSignal::new(false);
    let name = server.name.clone();
    let run_check = move |_| {
        let name = name.clone();
        checking.set(true);
        spawn_local(async move {
            match api::server_check(&name).await {
                Ok(c) => check.set(Some(c)),
                Err(e) => toasts.error(&e),
            }
            checking.set(false);
        });
    };
    view! {
        <div class="card" data-testid="server-card">
            <div class="card-title">
                <span class="strong">{server.name.clone()}</span>
                {(server.transport != TransportKind::Local)
                    .then(|| view! { <span class="pill">{server.transport.as_str()}</span> })}
            </div>
            <div class="muted">{server_address(&server.address())}</div>
            {move || {
                check
                    .get()
                    .map(|c| {
                        view! {
                            <div class="small">
                                {format!(
                                    "Docker {} · {} CPUs · {:.0} ms round trip",
                                    c.docker_version,
                                    c.cpus,
                                    c.latency_ms,
                                )}
                            </div>
                        }
                    })
            }}
            <div class="card-foot">
                <button class="button small" disabled=move || checking.get() on:click=run_check>
                    {move || if checking.get() { "Checking…" } else { "Check" }}
                </button>
            </div>
        </div>
    }
}
