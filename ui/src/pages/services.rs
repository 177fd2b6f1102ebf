//! Services: databases, caches and other images beside the apps. The list shows each with its
//! kind, where apps reach it and the apps linked to it; a row opens its page (the app page with
//! a service's tabs). "New service" creates one from a kind's presets and starts it.

use berth_model::view::JobKind;
use berth_model::{
    ErrorDto, Server, ServiceDraft, ServiceInfo, ServiceKind, parse_cpus, parse_memory,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{
    DialogError, EmptyState, ErrorState, Field, Loaded, Loading, Modal, PageHeader, RefreshButton,
};
use crate::{api, events};

#[component]
pub fn Services() -> impl IntoView {
    let nav = use_nav();
    let toasts = use_toasts();
    let data: Loaded<Vec<ServiceInfo>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let creating = RwSignal::new(false);

    let load = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let answer = api::services().await;
            if let Err(e) = &answer {
                toasts.error(e);
            }
            data.try_set(Some(answer));
            busy.try_set(false);
        });
    };
    load();
    events::on_job_done(move |done| {
        if matches!(done.kind, JobKind::Deploy | JobKind::Restart) {
            load();
        }
    });

    view! {
        <PageHeader title="Services" subtitle="Databases, caches and other images beside your apps">
            <RefreshButton busy=busy.into() on_click=load />
            <button
                class="button primary"
                data-testid="new-service"
                on:click=move |_| creating.set(true)
            >
                "New service"
            </button>
        </PageHeader>
        {move || match data.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! {
                    <EmptyState
                        testid="empty-services"
                        title="No services yet"
                        body="A Postgres, MySQL, MariaDB or Redis (or any image) on one of your servers: private to its apps, its credentials in your keychain, its data in a volume."
                    >
                        <button class="button primary" on:click=move |_| creating.set(true)>
                            "New service"
                        </button>
                    </EmptyState>
                }
                    .into_any()
            }
            Some(Ok(list)) => {
                view! {
                    <div class="table services-table" data-testid="services" role="list">
                        <div class="row services-row head">
                            <span>"Service"</span>
                            <span>"Kind"</span>
                            <span>"Server"</span>
                            <span>"Reach at"</span>
                            <span>"Linked apps"</span>
                        </div>
                        {list
                            .into_iter()
                            .map(|i| {
                                let s = i.service;
                                let name = s.name.clone();
                                let links = if i.links.is_empty() {
                                    "—".to_owned()
                                } else {
                                    i.links
                                        .iter()
                                        .map(|l| format!("{} ({})", l.app, l.var))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                };
                                view! {
                                    <button
                                        class="row services-row"
                                        role="listitem"
                                        data-testid="service-row"
                                        on:click=move |_| nav.go(Page::Service(name.clone()))
                                    >
                                        <span class="strong">{s.name.clone()}</span>
                                        <span>
                                            {s.service.map(|k| k.to_string()).unwrap_or_default()}
                                            <span class="muted small">
                                                {format!(" {}", s.image.clone().unwrap_or_default())}
                                            </span>
                                        </span>
                                        <span>{s.server.clone()}</span>
                                        <span>
                                            <code>{format!("{}:{}", s.name, s.port)}</code>
                                        </span>
                                        <span data-testid="service-row-links">{links}</span>
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                }
                    .into_any()
            }
        }}
        <Show when=move || creating.get()>
            <NewServiceDialog on_done=Callback::new(move |created: Option<String>| {
                creating.set(false);
                if let Some(name) = created {
                    nav.go(Page::Service(name));
                }
            }) />
        </Show>
    }
}

/// The kinds offered, with what the form says about each.
const KINDS: [(ServiceKind, &str); 5] = [
    (
        ServiceKind::Postgres,
        "PostgreSQL: the apps get DATABASE_URL",
    ),
    (ServiceKind::Mysql, "MySQL: the apps get DATABASE_URL"),
    (ServiceKind::Mariadb, "MariaDB: the apps get DATABASE_URL"),
    (ServiceKind::Redis, "Redis: the apps get REDIS_URL"),
    (ServiceKind::Image, "Any image: you say what the apps need"),
];

#[component]
fn NewServiceDialog(on_done: Callback<Option<String>>) -> impl IntoView {
    let toasts = use_toasts();
    let servers = RwSignal::new(Vec::<Server>::new());
    let name = RwSignal::new(String::new());
    let server = RwSignal::new(String::new());
    let kind = RwSignal::new(ServiceKind::Postgres);
    let version = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let memory = RwSignal::new(String::new());
    let cpus = RwSignal::new(String::new());
    let publish = RwSignal::new(String::new());
    let volume = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ErrorDto>);
    let saving = RwSignal::new(false);
    spawn_local(async move {
        if let Ok(list) = api::servers().await {
            if let Some(first) = list.first() {
                server.try_set(first.name.clone());
            }
            servers.try_set(list);
        }
    });
    let invalid = |message: String| ErrorDto {
        code: "invalid".to_owned(),
        message,
    };
    let submit = move |_| {
        let opt = |s: RwSignal<String>| {
            let v = s.get_untracked().trim().to_owned();
            (!v.is_empty()).then_some(v)
        };
        let draft = (|| {
            Ok::<_, ErrorDto>(ServiceDraft {
                name: name.get_untracked().trim().to_owned(),
                server: server.get_untracked(),
                kind: kind.get_untracked().as_str().to_owned(),
                version: opt(version),
                image: opt(image),
                port: match opt(port) {
                    Some(p) => Some(
                        p.parse()
                            .map_err(|_| invalid(format!("port `{p}` is not a number")))?,
                    ),
                    None => None,
                },
                cpus: opt(cpus)
                    .map(|c| parse_cpus(&c))
                    .transpose()
                    .map_err(invalid)?,
                memory_bytes: opt(memory)
                    .map(|m| parse_memory(&m))
                    .transpose()
                    .map_err(invalid)?,
                publish: opt(publish),
                volumes: opt(volume).into_iter().collect(),
                project: None,
            })
        })();
        let draft = match draft {
            Ok(d) => d,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        if let Err(e) = draft.validate(0) {
            error.set(Some(invalid(e.to_string())));
            return;
        }
        saving.set(true);
        error.set(None);
        spawn_local(async move {
            match api::service_create(&draft).await {
                Ok(created) => {
                    // Started as a job: its progress shows on its page.
                    if let Err(e) = api::deploy(&created.name, None).await {
                        toasts.error(&e);
                    }
                    on_done.run(Some(created.name));
                }
                Err(e) => {
                    error.try_set(Some(e));
                    saving.try_set(false);
                }
            }
        });
    };
    let is_image = move || kind.get() == ServiceKind::Image;
    view! {
        <Modal
            title="New service"
            testid="service-form"
            wide=true
            on_close=Callback::new(move |()| on_done.run(None))
            footer=Box::new(move || {
                view! {
                    <button class="button ghost" on:click=move |_| on_done.run(None)>
                        "Cancel"
                    </button>
                    <button
                        class="button primary"
                        data-testid="service-submit"
                        disabled=move || saving.get()
                        on:click=submit
                    >
                        {move || if saving.get() { "Pulling the image…" } else { "Create and start" }}
                    </button>
                }
                    .into_any()
            })
        >
            <div class="kind-presets" role="radiogroup" aria-label="Kind">
                {KINDS
                    .into_iter()
                    .map(|(k, says)| {
                        view! {
                            <button
                                class="preset"
                                class:active=move || kind.get() == k
                                role="radio"
                                aria-checked=move || (kind.get() == k).to_string()
                                data-testid=format!("kind-{}", k.as_str())
                                title=says
                                on:click=move |_| kind.set(k)
                            >
                                <span class="strong">{k.as_str()}</span>
                                <span class="muted small">
                                    {k.image(None).unwrap_or_else(|| "your image".to_owned())}
                                </span>
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <Field label="Name" hint="Apps on its server reach it by this name">
                <TextInput testid="service-name" value=name placeholder="db" />
            </Field>
            <Field label="Server">
                <select
                    data-testid="service-server"
                    prop:value=move || server.get()
                    on:change=move |ev| server.set(event_target_value(&ev))
                >
                    {move || {
                        servers
                            .get()
                            .into_iter()
                            .map(|s| {
                                let n = s.name.clone();
                                view! { <option value=n.clone()>{n.clone()}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </Field>
            <Show when=move || !is_image()>
                <Field label="Version" hint="The official image's tag (left empty: the kind's default)">
                    <input
                        data-testid="service-version"
                        placeholder=move || {
                            kind.get().image(None).unwrap_or_default()
                        }
                        prop:value=move || version.get()
                        on:input=move |ev| version.set(event_target_value(&ev))
                    />
                </Field>
            </Show>
            <Field
                label="Image"
                hint="Instead of the official one: a mirror, or any image for the kind `image`"
            >
                <TextInput testid="service-image" value=image placeholder="registry.example.com/acme/db:16" />
            </Field>
            <Show when=is_image>
                <Field label="Port" hint="Left empty: the image's EXPOSE">
                    <TextInput testid="service-port" value=port />
                </Field>
                <Field
                    label="Data volume"
                    hint="NAME:/PATH where the image keeps its data: kept across restarts, backed up as files"
                >
                    <TextInput testid="service-volume" value=volume placeholder="search-data:/meili_data" />
                </Field>
            </Show>
            <div class="field-row">
                <Field label="Memory" hint="512m, 1g">
                    <TextInput testid="service-memory" value=memory />
                </Field>
                <Field label="CPUs" hint="0.5, 2">
                    <TextInput testid="service-cpus" value=cpus />
                </Field>
            </div>
            <Field label="Publish" hint="127.0.0.1:PORT on the server (left empty: not published)">
                <TextInput testid="service-publish" value=publish />
            </Field>
            <DialogError error=error />
        </Modal>
    }
}

/// A text field of the form, bound to `value`.
#[component]
fn TextInput(
    testid: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    view! {
        <input
            data-testid=testid
            placeholder=placeholder
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}
