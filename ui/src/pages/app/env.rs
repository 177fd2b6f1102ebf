//! The Environment tab: the app's variables. Plain values are shown; secret ones are masked
//! until revealed (they live in the OS keychain, not in Berth's records). Changes apply when a
//! new container starts: on the next deploy or restart.

use std::collections::HashMap;

use berth_model::view::JobKind;
use berth_model::{EnvVar, validate_env_key};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::toast::use_toasts;
use crate::widgets::{Confirm, EmptyState, Loading, SectionTitle};

const MASK: &str = "••••••";

#[component]
pub fn EnvTab() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let vars = RwSignal::new(None::<Vec<EnvVar>>);
    let revealed = RwSignal::new(HashMap::<String, String>::new());
    let removing = RwSignal::new(None::<String>);
    // Set after a change, until the next restart or deploy.
    let changed = RwSignal::new(false);

    let key = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let secret = RwSignal::new(false);
    let build = RwSignal::new(false);
    let key_error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);

    let load = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::env_ls(&app).await {
                Ok(v) => {
                    vars.try_set(Some(v));
                }
                Err(e) => {
                    toasts.error(&e);
                    vars.try_update(|v| {
                        v.get_or_insert_with(Vec::new);
                    });
                }
            }
        });
    };
    load();
    crate::events::on_job_done(move |d| {
        if d.app == ctx.name()
            && d.ok
            && matches!(
                d.kind,
                JobKind::Deploy | JobKind::Restart | JobKind::Rollback
            )
        {
            changed.set(false);
        }
    });

    let save = move || {
        let k = key.get_untracked().trim().to_owned();
        if let Err(e) = validate_env_key(&k) {
            key_error.set(Some(e.to_string()));
            return;
        }
        key_error.set(None);
        let (v, s, b) = (
            value.get_untracked(),
            secret.get_untracked(),
            build.get_untracked(),
        );
        let app = ctx.name();
        saving.set(true);
        spawn_local(async move {
            match api::env_set(&app, &k, &v, s, b).await {
                Ok(()) => {
                    toasts.ok(format!("{k} saved"));
                    key.try_set(String::new());
                    value.try_set(String::new());
                    secret.try_set(false);
                    build.try_set(false);
                    revealed.try_update(|r| {
                        r.remove(&k);
                    });
                    changed.try_set(true);
                    ctx.edited.try_update(|n| *n += 1);
                    load();
                }
                Err(e) => toasts.error(&e),
            }
            saving.try_set(false);
        });
    };
    let reveal = move |k: String| {
        let app = ctx.name();
        spawn_local(async move {
            match api::env_reveal(&app, &k).await {
                Ok(Some(v)) => {
                    revealed.try_update(|r| {
                        r.insert(k, v);
                    });
                }
                Ok(None) => toasts.info(format!("{k} has no value in the keychain: set it again")),
                Err(e) => toasts.error(&e),
            }
        });
    };
    let edit = move |var: EnvVar| {
        key.set(var.key.clone());
        secret.set(var.secret);
        build.set(var.build);
        key_error.set(None);
        value.set(if var.secret {
            revealed
                .with_untracked(|r| r.get(&var.key).cloned())
                .unwrap_or_default()
        } else {
            var.value.unwrap_or_default()
        });
        focus_value();
    };

    let rows = move || {
        vars.get().map(|list| {
            if list.is_empty() {
                return view! {
                    <EmptyState
                        testid="empty-env"
                        title="No variables"
                        body="Add the settings your app reads from its environment: plain values, or secrets kept in the OS keychain."
                    />
                }
                .into_any();
            }
            view! {
                <div class="list env-list">
                    {list
                        .into_iter()
                        .map(|var| {
                            let k = var.key.clone();
                            let shown = {
                                let k = k.clone();
                                let plain = var.value.clone();
                                let secret = var.secret;
                                move || {
                                    if secret {
                                        revealed.with(|r| r.get(&k).cloned())
                                    } else {
                                        plain.clone()
                                    }
                                }
                            };
                            let is_revealed = {
                                let k = k.clone();
                                move || revealed.with(|r| r.contains_key(&k))
                            };
                            let value_view = {
                                let shown = shown.clone();
                                move || match shown() {
                                    Some(v) if v.is_empty() => {
                                        view! { <span class="muted">"(empty)"</span> }.into_any()
                                    }
                                    Some(v) => view! { <code class="env-value">{v}</code> }.into_any(),
                                    None => {
                                        view! { <code class="env-value masked">{MASK}</code> }.into_any()
                                    }
                                }
                            };
                            let secret_controls = var
                                .secret
                                .then(|| {
                                    let k = k.clone();
                                    let is_revealed = is_revealed.clone();
                                    let label_revealed = is_revealed.clone();
                                    view! {
                                        <button
                                            class="button small ghost"
                                            data-testid="env-reveal"
                                            on:click=move |_| {
                                                if is_revealed() {
                                                    revealed
                                                        .update(|r| {
                                                            r.remove(&k);
                                                        });
                                                } else {
                                                    reveal(k.clone());
                                                }
                                            }
                                        >
                                            {move || if label_revealed() { "Hide" } else { "Reveal" }}
                                        </button>
                                    }
                                });
                            let edit_var = var.clone();
                            let rm_key = k.clone();
                            view! {
                                <div class="list-row env-row" data-testid="env-row" data-key=k.clone()>
                                    <code class="env-key strong">{k.clone()}</code>
                                    <span class="env-val">
                                        {value_view}
                                        {var.secret.then(|| view! { <span class="pill" title="Kept in the OS keychain">"secret"</span> })}
                                        {var.build.then(|| view! { <span class="pill" data-testid="env-build-pill" title="Also passed to builds as a build arg">"build"</span> })}
                                    </span>
                                    <span class="env-actions">
                                        {secret_controls}
                                        <button
                                            class="button small ghost"
                                            data-testid="env-edit"
                                            on:click=move |_| edit(edit_var.clone())
                                        >
                                            "Edit"
                                        </button>
                                        <button
                                            class="button small ghost danger-text"
                                            data-testid="env-unset"
                                            on:click=move |_| removing.set(Some(rm_key.clone()))
                                        >
                                            "Delete"
                                        </button>
                                    </span>
                                </div>
                            }
                        })
                        .collect_view()}
                </div>
            }
            .into_any()
        })
    };

    view! {
        <section data-testid="env">
            {move || {
                let n = vars.with(|v| v.as_ref().map(Vec::len).filter(|n| *n > 0));
                view! { <SectionTitle title="Environment" count=n /> }
            }}
            <p class="page-note" data-testid="env-note">
                {move || {
                    if changed.get() {
                        "Saved. It is pending (the banner above shows it) until applied: Apply or Restart puts it in place with no downtime, or the next deploy does."
                    } else {
                        "Changes wait as pending changes until applied (a blue-green restart), or the next deploy. Variables of the app's project apply too; the app's own value of a key wins."
                    }
                }}
                <Show when=move || changed.get() && ctx.status.with(|s| s.as_ref().is_some_and(|s| s.deployment_id.is_some()))>
                    <button
                        class="button small"
                        data-testid="env-restart"
                        disabled=move || ctx.busy()
                        on:click=move |_| ctx.run(JobKind::Restart, None)
                    >
                        "Restart now"
                    </button>
                </Show>
            </p>
            {move || match vars.with(Option::is_some) {
                false => view! { <Loading rows=2 /> }.into_any(),
                true => rows().into_any(),
            }}
            <form
                class="env-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save();
                }
            >
                <label class="field">
                    <span class="field-label">"Key"</span>
                    <input
                        data-testid="env-key"
                        placeholder="DATABASE_URL"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || key.get()
                        on:input=move |ev| {
                            key.set(event_target_value(&ev));
                            key_error.set(None);
                        }
                    />
                </label>
                <label class="field grow">
                    <span class="field-label">"Value"</span>
                    <input
                        id="env-value"
                        data-testid="env-value"
                        autocomplete="off"
                        spellcheck="false"
                        type=move || if secret.get() { "password" } else { "text" }
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                </label>
                <label class="check" title="Stored in the OS keychain, never in Berth's records; masked here until revealed">
                    <input
                        type="checkbox"
                        data-testid="env-secret"
                        prop:checked=move || secret.get()
                        on:change=move |ev| secret.set(event_target_checked(&ev))
                    />
                    "Secret"
                </label>
                <label class="check" title="Also passed to builds as a build arg (NEXT_PUBLIC_*, VITE_* style frameworks bake it into their bundles); never a secret">
                    <input
                        type="checkbox"
                        data-testid="env-build"
                        prop:checked=move || build.get()
                        on:change=move |ev| build.set(event_target_checked(&ev))
                    />
                    "Build"
                </label>
                <button class="button primary" type="submit" data-testid="env-add" disabled=move || saving.get()>
                    "Save"
                </button>
            </form>
            <div class="form-foot">
                {move || match key_error.get() {
                    Some(e) => view! { <span class="field-error" data-testid="env-key-error">{e}</span> }.into_any(),
                    None => {
                        view! {
                            <span class="field-hint">
                                "Saving an existing key replaces its value. Secret values are stored in the OS keychain."
                            </span>
                        }
                            .into_any()
                    }
                }}
            </div>
            {move || {
                removing
                    .get()
                    .map(|k| {
                        let key_name = k.clone();
                        view! {
                            <Confirm
                                title=format!("Delete {k}?")
                                body="The variable is removed from the app's settings (and a secret from the keychain). Running containers keep it until the next deploy or restart."
                                confirm="Delete"
                                danger=true
                                on_answer=Callback::new(move |yes: bool| {
                                    removing.set(None);
                                    if !yes {
                                        return;
                                    }
                                    let k = key_name.clone();
                                    let app = ctx.name();
                                    spawn_local(async move {
                                        match api::env_unset(&app, &k).await {
                                            Ok(_) => {
                                                toasts.ok(format!("{k} deleted"));
                                                changed.try_set(true);
                                                ctx.edited.try_update(|n| *n += 1);
                                                load();
                                            }
                                            Err(e) => toasts.error(&e),
                                        }
                                    });
                                })
                            />
                        }
                    })
            }}
        </section>
    }
}

fn focus_value() {
    use wasm_bindgen::JsCast;
    let el = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("env-value"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(el) = el {
        let _ = el.focus();
    }
}
