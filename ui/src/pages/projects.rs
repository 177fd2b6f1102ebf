//! Projects: apps and services grouped, each with variables every member gets (a member's own
//! value of a key wins). A card per project lists its members (a click opens one) and its
//! variables (secrets masked), with a form to add one; "New project" makes one.

use berth_model::ProjectInfo;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{EmptyState, ErrorState, Loaded, Loading, PageHeader, RefreshButton};

#[component]
pub fn Projects() -> impl IntoView {
    let toasts = use_toasts();
    let data: Loaded<Vec<ProjectInfo>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let load = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let answer = api::projects().await;
            if let Err(e) = &answer {
                toasts.error(e);
            }
            data.try_set(Some(answer));
            busy.try_set(false);
        });
    };
    load();
    let create = move || {
        let n = name.get_untracked().trim().to_owned();
        spawn_local(async move {
            match api::project_create(&n, None).await {
                Ok(_) => {
                    toasts.ok(format!("Project {n} created"));
                    name.try_set(String::new());
                    load();
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    view! {
        <PageHeader title="Projects" subtitle="Apps and services grouped, with variables they share">
            <RefreshButton busy=busy.into() on_click=load />
        </PageHeader>
        <form
            class="inline-form"
            data-testid="project-form"
            on:submit=move |ev| {
                ev.prevent_default();
                create();
            }
        >
            <input
                data-testid="project-name"
                placeholder="shop"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <button class="button primary" data-testid="project-create" type="submit">
                "New project"
            </button>
        </form>
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-projects"
                        title="No projects yet"
                        body="A project groups apps and services (berth app create … --project NAME) and gives them variables they all get: LOG_LEVEL once for the whole shop, an app's own value still winning."
                    />
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <div class="cards" data-testid="projects">
                        {list
                            .into_iter()
                            .map(|p| view! { <ProjectCard info=p reload=Callback::new(move |()| load()) /> })
                            .collect::<Vec<_>>()}
                    </div>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn ProjectCard(info: ProjectInfo, reload: Callback<()>) -> impl IntoView {
    let nav = use_nav();
    let toasts = use_toasts();
    let project = info.project.name.clone();
    let key = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let secret = RwSignal::new(false);
    let save = {
        let project = project.clone();
        move || {
            let (p, k, v, s) = (
                project.clone(),
                key.get_untracked().trim().to_owned(),
                value.get_untracked(),
                secret.get_untracked(),
            );
            spawn_local(async move {
                match api::project_env_set(&p, &k, &v, s).await {
                    Ok(()) => {
                        toasts.ok(format!("{k} saved: pending for the apps of {p}"));
                        reload.run(());
                    }
                    Err(e) => toasts.error(&e),
                }
            });
        }
    };
    let members = info
        .members
        .iter()
        .map(|m| {
            let m = m.clone();
            let target = m.clone();
            view! {
                <li>
                    <button
                        class="link"
                        data-testid="project-member"
                        on:click=move |_| nav.go(Page::App(target.clone()))
                    >
                        {m}
                    </button>
                </li>
            }
        })
        .collect::<Vec<_>>();
    let vars = info
        .env
        .iter()
        .map(|v| {
            view! {
                <li data-testid="project-env-row" data-key=v.key.clone()>
                    <code>{v.key.clone()}</code>
                    " = "
                    {if v.secret {
                        "•••••• (secret)".to_owned()
                    } else {
                        v.value.clone().unwrap_or_default()
                    }}
                </li>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <div class="card project" data-testid="project" data-name=project.clone()>
            <h3>{project.clone()}</h3>
            {info.project.server.map(|s| view! { <p class="muted">{format!("New members go to {s}")}</p> })}
            <h4>"Apps and services"</h4>
            {if members.is_empty() {
                view! { <p class="muted">"None yet: --project on app or service create"</p> }.into_any()
            } else {
                view! { <ul class="plain">{members}</ul> }.into_any()
            }}
            <h4>"Variables every member gets"</h4>
            <ul class="plain" data-testid="project-env">{vars}</ul>
            <form
                class="env-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save();
                }
            >
                <input
                    data-testid="project-env-key"
                    placeholder="LOG_LEVEL"
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
                <input
                    data-testid="project-env-value"
                    placeholder="info"
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
                <label class="check">
                    <input
                        type="checkbox"
                        data-testid="project-env-secret"
                        prop:checked=move || secret.get()
                        on:change=move |ev| secret.set(event_target_checked(&ev))
                    />
                    "Secret"
                </label>
                <button class="button" data-testid="project-env-add" type="submit">
                    "Add"
                </button>
            </form>
        </div>
    }
}
