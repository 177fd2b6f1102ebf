//! Projects: apps and services grouped, each with variables every member gets (a member's own
//! value of a key wins). A card per project lists its members (a click opens one; × takes
//! one out), moves an app in, lists its variables (secrets masked) with a form to add one,
//! and removes the project once it is empty; "New project" makes one.

use berth_model::{AppDraft, ProjectInfo};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{Confirm, EmptyState, ErrorState, Loaded, Loading, PageHeader, RefreshButton};

/// Puts app `app` into `project` (`""`: out of any); pending for a deployed app, like every
/// setting.
async fn move_app(app: &str, project: &str) -> Result<(), berth_model::ErrorDto> {
    let current = api::app(app).await?;
    let mut draft = AppDraft::of(&current);
    draft.project = Some(project.to_owned());
    api::app_update(&draft).await.map(|_| ())
}

#[component]
pub fn Projects() -> impl IntoView {
    let toasts = use_toasts();
    let data: Loaded<Vec<ProjectInfo>> = RwSignal::new(None);
    // Every app's name, to move one into a project.
    let apps = RwSignal::new(Vec::<String>::new());
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
            if let Ok(list) = api::apps().await {
                apps.try_set(
                    list.into_iter()
                        .filter(|a| a.service.is_none())
                        .map(|a| a.name)
                        .collect(),
                );
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
                            .map(|p| {
                                let others: Vec<String> = apps
                                    .get_untracked()
                                    .into_iter()
                                    .filter(|a| !p.members.contains(a))
                                    .collect();
                                view! { <ProjectCard info=p others=others reload=Callback::new(move |()| load()) /> }
                            })
                            .collect::<Vec<_>>()}
                    </div>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn ProjectCard(info: ProjectInfo, others: Vec<String>, reload: Callback<()>) -> impl IntoView {
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
    let take_out = move |app: String, from: String| {
        spawn_local(async move {
            match move_app(&app, "").await {
                Ok(()) => {
                    toasts.ok(format!("{app} is out of {from}; its containers lose the project's variables once applied"));
                    reload.run(());
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    let members = info
        .members
        .iter()
        .map(|m| {
            let m = m.clone();
            let target = m.clone();
            let leaving = m.clone();
            let from = project.clone();
            view! {
                <li class="member-row">
                    <button
                        class="link"
                        data-testid="project-member"
                        on:click=move |_| nav.go(Page::App(target.clone()))
                    >
                        {m}
                    </button>
                    <button
                        class="button small ghost"
                        data-testid="project-member-out"
                        title="Take it out of the project (it keeps its own variables)"
                        on:click=move |_| take_out(leaving.clone(), from.clone())
                    >
                        "×"
                    </button>
                </li>
            }
        })
        .collect::<Vec<_>>();
    let chosen = RwSignal::new(String::new());
    let move_in = {
        let project = project.clone();
        move || {
            let (app, p) = (chosen.get_untracked(), project.clone());
            if app.is_empty() {
                return;
            }
            spawn_local(async move {
                match move_app(&app, &p).await {
                    Ok(()) => {
                        toasts.ok(format!("{app} moved into {p}; its containers get the project's variables once applied"));
                        reload.run(());
                    }
                    Err(e) => toasts.error(&e),
                }
            });
        }
    };
    let has_members = !info.members.is_empty();
    let removing = RwSignal::new(false);
    let remove_title = format!("Remove project {project}?");
    let remove = {
        let project = project.clone();
        Callback::new(move |yes: bool| {
            removing.set(false);
            if !yes {
                return;
            }
            let p = project.clone();
            spawn_local(async move {
                match api::project_rm(&p).await {
                    Ok(()) => {
                        toasts.ok(format!("Project {p} removed"));
                        reload.run(());
                    }
                    Err(e) => toasts.error(&e),
                }
            });
        })
    };
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
            <div class="card-title">
                <h3>{project.clone()}</h3>
                <button
                    class="button small ghost danger-text"
                    data-testid="project-rm"
                    disabled=has_members
                    title=if has_members { "Take its apps and services out first" } else { "Remove this project" }
                    on:click=move |_| removing.set(true)
                >
                    "Remove"
                </button>
            </div>
            <Show when=move || removing.get()>
                <Confirm
                    title=remove_title.clone()
                    body="Its variables go with it (its members are already out)."
                    confirm="Remove"
                    danger=true
                    on_answer=remove
                />
            </Show>
            {info.project.server.map(|s| view! { <p class="muted">{format!("New members go to {s}")}</p> })}
            <h4>"Apps and services"</h4>
            {if members.is_empty() {
                view! { <p class="muted">"None yet: --project on app or service create"</p> }.into_any()
            } else {
                view! { <ul class="plain">{members}</ul> }.into_any()
            }}
            {(!others.is_empty()).then(|| {
                let options = others
                    .iter()
                    .map(|a| view! { <option value=a.clone()>{a.clone()}</option> })
                    .collect::<Vec<_>>();
                view! {
                    <form
                        class="env-form"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            move_in();
                        }
                    >
                        <select
                            data-testid="project-move-app"
                            on:change=move |ev| chosen.set(event_target_value(&ev))
                        >
                            <option value="">"Move an app in…"</option>
                            {options}
                        </select>
                        <button class="button" data-testid="project-move" type="submit">
                            "Move in"
                        </button>
                    </form>
                }
            })}
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
