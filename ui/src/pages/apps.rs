//! Apps: every app with its server and source; a row opens the app's page. (The create form
//! is the next screen to build here.)

use berth_model::App;
use leptos::prelude::*;

use crate::api;
use crate::app::{Page, use_nav};
use crate::widgets::{EmptyState, ErrorState, Loaded, Loading, PageHeader, fetch};

#[component]
pub fn Apps() -> impl IntoView {
    let nav = use_nav();
    let apps: Loaded<Vec<App>> = RwSignal::new(None);
    let load = move || fetch(apps, api::apps());
    load();
    view! {
        <PageHeader title="Apps" subtitle="Git repositories Berth builds and runs" />
        {move || match apps.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-apps"
                        title="No apps yet — create one"
                        body="Creating an app from this window is coming. Meanwhile, from a terminal:"
                    >
                        <code class="command">"berth app create NAME --server SERVER --git PATH"</code>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <div class="table" data-testid="apps">
                        <div class="row head three">
                            <span>"App"</span>
                            <span>"Server"</span>
                            <span>"Source"</span>
                        </div>
                        {list
                            .into_iter()
                            .map(|a| {
                                let name = a.name.clone();
                                view! {
                                    <div class="row three">
                                        <span>
                                            <button
                                                class="link strong"
                                                on:click=move |_| nav.go(Page::App(name.clone()))
                                            >
                                                {a.name.clone()}
                                            </button>
                                        </span>
                                        <span class="muted">{a.server}</span>
                                        <span class="muted ellipsis">
                                            {format!("{} @ {}", a.git, a.branch)}
                                        </span>
                                    </div>
                                }
                            })
                            .collect_view()}
                    </div>
                }
                    .into_any()
            }
        }}
    }
}
