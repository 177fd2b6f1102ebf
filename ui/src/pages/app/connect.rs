//! A service's Connect tab: where the apps on its server reach it, the apps linked to it (each
//! gets the connection string as a secret variable), a form to link another, and removing it.

use berth_model::{App, ServiceInfo};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{Confirm, EmptyState, Field, Loading, SectionTitle};

#[component]
pub fn ConnectTab() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let nav = use_nav();
    let info = RwSignal::new(None::<ServiceInfo>);
    let apps = RwSignal::new(Vec::<App>::new());
    let app = RwSignal::new(String::new());
    let var = RwSignal::new(String::new());
    let linking = RwSignal::new(false);
    let removing = RwSignal::new(false);
    let purge = RwSignal::new(false);

    let load = move || {
        let name = ctx.name();
        spawn_local(async move {
            match api::service(&name).await {
                Ok(i) => {
                    let server = i.service.server.clone();
                    info.try_set(Some(i));
                    if let Ok(all) = api::apps().await {
                        let on_server: Vec<App> = all
                            .into_iter()
                            .filter(|a| a.server == server && a.service.is_none())
                            .collect();
                        if app.get_untracked().is_empty()
                            && let Some(first) = on_server.first()
                        {
                            app.try_set(first.name.clone());
                        }
                        apps.try_set(on_server);
                    }
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    load();

    let link = move |_| {
        let (service, target) = (ctx.name(), app.get_untracked());
        let v = var.get_untracked();
        linking.set(true);
        spawn_local(async move {
            let v = v.trim();
            match api::service_link(&service, &target, (!v.is_empty()).then_some(v)).await {
                Ok(l) => {
                    toasts.ok(format!(
                        "{} gets {} as {} from its next deploy or restart",
                        l.app, l.service, l.var
                    ));
                    var.try_set(String::new());
                    load();
                }
                Err(e) => toasts.error(&e),
            }
            linking.try_set(false);
        });
    };
    let unlink = move |target: String, v: String| {
        let service = ctx.name();
        spawn_local(async move {
            match api::service_unlink(&service, &target, Some(&v)).await {
                Ok(_) => {
                    toasts.ok(format!("{target} no longer gets {v}"));
                    load();
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    move || {
        let Some(i) = info.get() else {
            return view! { <Loading rows=2 /> }.into_any();
        };
        let s = i.service.clone();
        let kind = s.service.map(|k| k.to_string()).unwrap_or_default();
        let default_var = s
            .service
            .and_then(|k| k.link_var())
            .unwrap_or("VARIABLE")
            .to_owned();
        let reach = format!("{}:{}", s.name, s.port);
        let published = match s.publish {
            Some(p) => format!("Published on the server's 127.0.0.1:{p}."),
            None => "Not published: only the apps on its server reach it.".to_owned(),
        };
        let volumes: Vec<String> = s.volumes.iter().map(ToString::to_string).collect();
        let links = i.links.clone();
        let linked = !links.is_empty();
        let server = s.server.clone();
        view! {
            <section class="card wide" data-testid="service-connect">
                <SectionTitle title="Where apps reach it" count=None />
                <div class="facts service-facts">
                    <span class="muted">"Kind"</span>
                    <span data-testid="service-kind">{kind}</span>
                    <span class="muted">"Image"</span>
                    <span>
                        <code>{s.image.clone().unwrap_or_default()}</code>
                    </span>
                    <span class="muted">"Address"</span>
                    <span>
                        <code data-testid="service-address">{reach}</code>
                        " on the berth network of "
                        <strong>{server}</strong>
                        ". "
                        {published}
                    </span>
                    <span class="muted">"Data"</span>
                    <span>
                        {if volumes.is_empty() {
                            "No volume (the image keeps nothing Berth knows of)".to_owned()
                        } else {
                            volumes.join(", ")
                        }}
                    </span>
                </div>
            </section>
            <section class="card wide">
                <SectionTitle title="Linked apps" count=Some(links.len()) />
                {if links.is_empty() {
                    view! {
                        <EmptyState
                            title="No app is linked yet"
                            body="Linking gives an app the connection string as a secret variable, from its next deploy or restart."
                            testid="no-links"
                        />
                    }
                        .into_any()
                } else {
                    view! {
                        <div class="list" data-testid="service-links">
                            {links
                                .into_iter()
                                .map(|l| {
                                    let (a, v) = (l.app.clone(), l.var.clone());
                                    view! {
                                        <div class="list-row" data-testid="service-link">
                                            <span class="strong">{l.app.clone()}</span>
                                            <code>{l.var.clone()}</code>
                                            <span class="muted small">"secret, from its next deploy or restart"</span>
                                            <span class="grow"></span>
                                            <button
                                                class="button small ghost danger-text"
                                                data-testid="unlink"
                                                on:click=move |_| unlink(a.clone(), v.clone())
                                            >
                                                "Unlink"
                                            </button>
                                        </div>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }}
                <div class="env-form" data-testid="link-form">
                    <Field label="App">
                        <select
                            data-testid="link-app"
                            prop:value=move || app.get()
                            on:change=move |ev| app.set(event_target_value(&ev))
                        >
                            {move || {
                                apps.get()
                                    .into_iter()
                                    .map(|a| {
                                        let n = a.name.clone();
                                        view! { <option value=n.clone()>{n.clone()}</option> }
                                    })
                                    .collect_view()
                            }}
                        </select>
                    </Field>
                    <Field label="As">
                        <input
                            data-testid="link-var"
                            placeholder=default_var
                            prop:value=move || var.get()
                            on:input=move |ev| var.set(event_target_value(&ev))
                        />
                    </Field>
                    <button
                        class="button primary"
                        data-testid="link-submit"
                        disabled=move || linking.get() || app.get().is_empty()
                        on:click=link
                    >
                        "Link"
                    </button>
                </div>
            </section>
            <section class="card wide">
                <SectionTitle title="Remove" count=None />
                <p class="muted">
                    "Removes its container and Berth's records of it. Its data volume stays on the server unless you remove it too."
                </p>
                <button
                    class="button danger-text"
                    data-testid="service-rm"
                    disabled=linked
                    title=if linked { "Unlink its apps first" } else { "" }
                    on:click=move |_| removing.set(true)
                >
                    "Remove service…"
                </button>
            </section>
            <Show when=move || removing.get()>
                <Confirm
                    title=format!("Remove {}?", ctx.name())
                    body=format!(
                        "Its container on {} is removed. Its data ({}) is kept unless you tick the box — then it is gone for good.",
                        s.server,
                        berth_model::data_volume(&s.name),
                    )
                    confirm="Remove"
                    danger=true
                    on_answer=Callback::new(move |yes| {
                        removing.set(false);
                        if yes {
                            let name = ctx.name();
                            let purge = purge.get_untracked();
                            spawn_local(async move {
                                match api::service_rm(&name, purge).await {
                                    Ok(()) => {
                                        toasts.ok(format!("{name} removed"));
                                        nav.go(Page::Services);
                                    }
                                    Err(e) => toasts.error(&e),
                                }
                            });
                        }
                    })
                >
                    <label class="check">
                        <input
                            type="checkbox"
                            data-testid="service-rm-purge"
                            prop:checked=move || purge.get()
                            on:change=move |ev| purge.set(event_target_checked(&ev))
                        />
                        " Also delete its data volume"
                    </label>
                </Confirm>
            </Show>
        }
            .into_any()
    }
}
