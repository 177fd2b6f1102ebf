//! Quick Deploy: paste an image reference, Berth pulls and reads it on the chosen server, and
//! a form comes back filled in from the image (name, port, health path, each saying where it
//! came from); Deploy creates the app for next time and deploys it.

use berth_model::view::ImageInspection;
use berth_model::{AppDraft, ErrorDto, ImageRef, Server};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{DialogError, Field, Modal};

/// A name for an app running `reference`: its repository's last part, as an app name.
pub fn suggested_name(reference: &str) -> String {
    let Ok(image) = ImageRef::parse(reference) else {
        return String::new();
    };
    let last = image.repository.rsplit('/').next().unwrap_or_default();
    berth_model::stage::dns_label(last, 40)
}

#[component]
pub fn QuickDeployDialog(on_close: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let nav = use_nav();
    let servers = RwSignal::new(Vec::<Server>::new());
    let server = RwSignal::new(String::new());
    let image = RwSignal::new(String::new());
    let seen = RwSignal::new(None::<ImageInspection>);
    let name = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let health = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ErrorDto>);
    let busy = RwSignal::new(None::<&'static str>);

    spawn_local(async move {
        if let Ok(list) = api::servers().await {
            if let Some(first) = list.first() {
                server.try_set(first.name.clone());
            }
            servers.try_set(list);
        }
    });

    let inspect = move || {
        let reference = image.get_untracked().trim().to_owned();
        if reference.is_empty() {
            error.set(Some(ErrorDto {
                code: "invalid".into(),
                message: "paste an image reference, like registry.example.com/team/app:1.0".into(),
            }));
            return;
        }
        busy.set(Some("Pulling and reading the image…"));
        error.set(None);
        let on = server.get_untracked();
        spawn_local(async move {
            match api::image_inspect(&on, &reference).await {
                Ok(i) => {
                    name.try_set(suggested_name(&i.reference));
                    port.try_set(i.port.map(|p| p.to_string()).unwrap_or_default());
                    health.try_set(i.health_path.clone().unwrap_or_default());
                    seen.try_set(Some(i));
                }
                Err(e) => {
                    seen.try_set(None);
                    error.try_set(Some(e));
                }
            }
            busy.try_set(None);
        });
    };

    let deploy = move || {
        let Some(i) = seen.get_untracked() else {
            return;
        };
        let port_value = port.get_untracked();
        let port_value = port_value.trim();
        let parsed_port = if port_value.is_empty() {
            None
        } else {
            match port_value.parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    error.set(Some(ErrorDto {
                        code: "invalid".into(),
                        message: format!("port `{port_value}` is not a port number (1–65535)"),
                    }));
                    return;
                }
            }
        };
        let health_value = health.get_untracked().trim().to_owned();
        let draft = AppDraft {
            name: name.get_untracked().trim().to_owned(),
            server: server.get_untracked(),
            image: Some(i.reference.clone()),
            port: parsed_port,
            health_path: (!health_value.is_empty()).then_some(health_value),
            env: i.env.clone(),
            ..AppDraft::default()
        };
        busy.set(Some("Creating and deploying…"));
        error.set(None);
        spawn_local(async move {
            let created = api::app_create(&draft).await;
            let result = match created {
                Ok(app) => api::deploy(&app.name, None).await.map(|()| app.name),
                Err(e) => Err(e),
            };
            busy.try_set(None);
            match result {
                Ok(app) => {
                    toasts.info(format!("{app} created: deploying {}", i.reference));
                    on_close.run(());
                    nav.go(Page::App(app));
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };

    let facts = move || {
        seen.get().map(|i| {
            let from = |source: Option<String>| {
                source.map_or_else(|| "the default: the image says nothing".to_owned(), |s| format!("from {s}"))
            };
            view! {
                <div class="card wide" data-testid="qd-facts">
                    <div class="kv">
                        <span class="muted">"Image"</span>
                        <code>{i.reference.clone()}</code>
                        <span class="muted">"Digest"</span>
                        <code class="ellipsis">{i.digest.clone().unwrap_or_else(|| "no registry digest".into())}</code>
                        <span class="muted">"Platform"</span>
                        <span>{i.platform.clone()}</span>
                        <span class="muted">"Port"</span>
                        <span data-testid="qd-port-from">
                            {format!("{} ({})", i.port.map_or("8080".to_owned(), |p| p.to_string()), from(i.port_from.clone()))}
                        </span>
                        <span class="muted">"Health check"</span>
                        <span data-testid="qd-health-from">
                            {format!("GET {} ({})", i.health_path.clone().unwrap_or_else(|| "/".into()), from(i.health_from.clone()))}
                        </span>
                        {(!i.env.is_empty()).then(|| view! {
                            <span class="muted">"Environment"</span>
                            <span data-testid="qd-env">
                                {i.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")}
                                " (from the image's berth.env labels)"
                            </span>
                        })}
                    </div>
                </div>
            }
        })
    };

    view! {
        <Modal
            title="Quick Deploy"
            testid="quick-deploy-dialog"
            wide=true
            on_close=on_close
            footer=Box::new(move || {
                view! {
                    <span class="muted small grow">{move || busy.get().unwrap_or_default()}</span>
                    <button class="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                    {move || match seen.with(Option::is_some) {
                        false => view! {
                            <button
                                class="button primary"
                                data-testid="qd-inspect"
                                disabled=move || busy.get().is_some()
                                on:click=move |_| inspect()
                            >
                                "Read the image"
                            </button>
                        }
                            .into_any(),
                        true => view! {
                            <button
                                class="button primary"
                                data-testid="qd-deploy"
                                disabled=move || busy.get().is_some()
                                on:click=move |_| deploy()
                            >
                                "Deploy"
                            </button>
                        }
                            .into_any(),
                    }}
                }
                    .into_any()
            })
        >
            <p class="muted">
                "The image is pulled on the server (with the login of a registry added in Settings) and read: what it says about its port and health check fills the form."
            </p>
            <div class="form-grid">
                <Field label="Image" hint="registry/repository:tag">
                    <input
                        data-testid="qd-image"
                        placeholder="ghcr.io/acme/web:1.4.0"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || image.get()
                        on:input=move |ev| {
                            image.set(event_target_value(&ev));
                            seen.set(None);
                            error.set(None);
                        }
                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                            if ev.key() == "Enter" && seen.get_untracked().is_none() {
                                ev.prevent_default();
                                inspect();
                            }
                        }
                    />
                </Field>
                <Field label="Server">
                    <select
                        data-testid="qd-server"
                        prop:value=move || server.get()
                        on:change=move |ev| {
                            server.set(event_target_value(&ev));
                            seen.set(None);
                        }
                    >
                        {move || {
                            servers
                                .get()
                                .into_iter()
                                .map(|s| view! { <option value=s.name.clone()>{s.name.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                </Field>
            </div>
            {facts}
            <Show when=move || seen.with(Option::is_some)>
                <div class="form-grid">
                    <Field label="App name" hint="lowercase letters, digits and -">
                        <input
                            data-testid="qd-name"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                    </Field>
                    <Field label="Port">
                        <input
                            data-testid="qd-port"
                            inputmode="numeric"
                            placeholder="8080"
                            prop:value=move || port.get()
                            on:input=move |ev| port.set(event_target_value(&ev))
                        />
                    </Field>
                    <Field label="Health check path">
                        <input
                            data-testid="qd-health"
                            placeholder="/"
                            prop:value=move || health.get()
                            on:input=move |ev| health.set(event_target_value(&ev))
                        />
                    </Field>
                </div>
            </Show>
            <DialogError error=error />
        </Modal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_repository() {
        assert_eq!(suggested_name("ghcr.io/acme/web-api:1.4"), "web-api");
        assert_eq!(suggested_name("127.0.0.1:5000/acme/my_app"), "my-app");
        assert_eq!(suggested_name("not an image"), "");
    }
}
