//! Notifications in Settings: where results are announced besides this window — ntfy,
//! Slack-compatible webhooks, any URL that takes JSON — each routed to one app or every app and
//! to some kinds of notice (deploys, new images waiting, alerts). Added, tested, re-routed and
//! removed here as with `berth notify`.

use berth_model::{ErrorDto, NoticeEvent, Notifier, NotifierKind};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::toast::{Toasts, use_toasts};
use crate::widgets::{Confirm, DialogError, EmptyState, Loading, SectionTitle};

/// What the app select says for "every app".
const EVERY_APP: &str = "";

#[component]
pub fn Notifications() -> impl IntoView {
    let toasts = use_toasts();
    let list = RwSignal::new(None::<Vec<Notifier>>);
    let apps = RwSignal::new(Vec::<String>::new());
    let kind = RwSignal::new("ntfy".to_owned());
    let url = RwSignal::new(String::new());
    let app = RwSignal::new(EVERY_APP.to_owned());
    let events = RwSignal::new(Vec::<NoticeEvent>::new());
    let error = RwSignal::new(None::<ErrorDto>);
    let saving = RwSignal::new(false);
    let removing = RwSignal::new(None::<i64>);
    // The notifier whose routing is being changed, with the routing as edited.
    let editing = RwSignal::new(None::<(i64, String, Vec<NoticeEvent>)>);
    let tested = RwSignal::new(Vec::<(i64, Result<(), String>)>::new());

    let load = move || {
        spawn_local(async move {
            match api::notifiers().await {
                Ok(l) => {
                    list.try_set(Some(l));
                }
                Err(e) => {
                    toasts.error(&e);
                    list.try_set(Some(Vec::new()));
                }
            }
        });
    };
    load();
    spawn_local(async move {
        if let Ok(a) = api::apps().await {
            apps.try_set(a.into_iter().map(|a| a.name).collect());
        }
    });

    let add = move || {
        let kind = match kind.get_untracked().as_str() {
            "slack" => NotifierKind::Slack,
            "webhook" => NotifierKind::Webhook,
            _ => NotifierKind::Ntfy,
        };
        let target = url.get_untracked().trim().to_owned();
        let routed = app.get_untracked();
        let kinds = events.get_untracked();
        saving.set(true);
        spawn_local(async move {
            let routed = (!routed.is_empty()).then_some(routed);
            match api::notify_add(kind, &target, routed.as_deref(), &kinds).await {
                Ok(saved) => {
                    toasts.ok(format!(
                        "notifier {} added: {} ({})",
                        saved.notifier.id,
                        saved.notifier.url,
                        saved.notifier.routing()
                    ));
                    warn_all(toasts, saved.warnings);
                    url.try_set(String::new());
                    app.try_set(EVERY_APP.to_owned());
                    events.try_set(Vec::new());
                    error.try_set(None);
                    load();
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            saving.try_set(false);
        });
    };

    let test = move |id: i64| {
        spawn_local(async move {
            match api::notify_test(Some(id)).await {
                Ok(results) => tested.try_update(|t| {
                    t.retain(|(n, _)| *n != id);
                    for r in results {
                        t.push((r.notifier.id, r.error.map_or(Ok(()), Err)));
                    }
                }),
                Err(e) => {
                    toasts.error(&e);
                    None
                }
            };
        });
    };

    let save_route = move || {
        let Some((id, routed, kinds)) = editing.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let routed = (!routed.is_empty()).then_some(routed);
            match api::notify_route(id, routed.as_deref(), &kinds).await {
                Ok(saved) => {
                    toasts.ok(format!("notifier {id} hears {}", saved.notifier.routing()));
                    warn_all(toasts, saved.warnings);
                    editing.try_set(None);
                    load();
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    let row = move |n: Notifier| {
        let id = n.id;
        let answer = move || {
            tested.with(|t| {
                t.iter().find(|(i, _)| *i == id).map(|(_, a)| match a {
                    Ok(()) => view! { <span class="ok-text small" data-testid="notifier-test-result">"✓ test notice taken"</span> }.into_any(),
                    Err(e) => view! { <span class="danger-text small" data-testid="notifier-test-result">{e.clone()}</span> }.into_any(),
                })
            })
        };
        let (route_app, route_events) = (n.app.clone().unwrap_or_default(), n.events.clone());
        let is_editing = move || editing.with(|e| e.as_ref().is_some_and(|(i, _, _)| *i == id));
        view! {
            <div class="list-row" data-testid="notifier-row" data-notifier=id.to_string()>
                <span class="pill">{n.kind.to_string()}</span>
                <code>{n.url.clone()}</code>
                <span class="muted small" data-testid="notifier-routing">{n.routing()}</span>
                <span class="grow">{answer}</span>
                <button class="button small" data-testid="notifier-test" on:click=move |_| test(id)>
                    "Test"
                </button>
                <button
                    class="button small"
                    data-testid="notifier-route"
                    on:click=move |_| editing.set(Some((id, route_app.clone(), route_events.clone())))
                >
                    "Route…"
                </button>
                <button class="button small ghost danger-text" data-testid="notifier-rm" on:click=move |_| removing.set(Some(id))>
                    "Remove"
                </button>
            </div>
            <Show when=is_editing>
                <form
                    class="env-form route-edit"
                    data-testid="notifier-route-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        save_route();
                    }
                >
                    <AppSelect
                        apps=apps
                        testid="notifier-route-app"
                        value=Signal::derive(move || editing.with(|e| e.as_ref().map(|(_, a, _)| a.clone()).unwrap_or_default()))
                        on_change=Callback::new(move |a: String| editing.update(|e| {
                            if let Some((_, app, _)) = e {
                                *app = a;
                            }
                        }))
                    />
                    <EventChecks
                        prefix="notifier-route-event"
                        value=Signal::derive(move || editing.with(|e| e.as_ref().map(|(_, _, ev)| ev.clone()).unwrap_or_default()))
                        on_change=Callback::new(move |ev: Vec<NoticeEvent>| editing.update(|e| {
                            if let Some((_, _, events)) = e {
                                *events = ev;
                            }
                        }))
                    />
                    <button class="button primary small" type="submit" data-testid="notifier-route-save">"Save"</button>
                    <button class="button small ghost" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                </form>
            </Show>
        }
    };

    view! {
        <section data-testid="notifications">
            {move || {
                let n = list.with(|l| l.as_ref().map(Vec::len).filter(|n| *n > 0));
                view! { <SectionTitle title="Notifications" count=n /> }
            }}
            {move || match list.get() {
                None => view! { <Loading rows=1 /> }.into_any(),
                Some(l) if l.is_empty() => view! {
                    <EmptyState
                        testid="empty-notifiers"
                        title="No notifiers"
                        body="Deploy results show in this window. Add ntfy, a Slack-compatible webhook or any URL to hear them — and new images waiting, and alerts — anywhere, also from the server's relay while this window is closed."
                    />
                }
                    .into_any(),
                Some(l) => view! { <div class="list">{l.into_iter().map(row).collect_view()}</div> }.into_any(),
            }}
            <form
                class="env-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    add();
                }
            >
                <label class="field">
                    <span class="field-label">"Kind"</span>
                    <select data-testid="notifier-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="ntfy">"ntfy"</option>
                        <option value="slack">"Slack-compatible"</option>
                        <option value="webhook">"Webhook (JSON)"</option>
                    </select>
                </label>
                <label class="field grow">
                    <span class="field-label">"URL"</span>
                    <input
                        data-testid="notifier-url"
                        type="password"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="https://ntfy.sh/my-topic"
                        prop:value=move || url.get()
                        on:input=move |ev| url.set(event_target_value(&ev))
                    />
                </label>
                <AppSelect apps=apps testid="notifier-app" value=Signal::derive(move || app.get()) on_change=Callback::new(move |a| app.set(a)) />
                <EventChecks prefix="notifier-event" value=Signal::derive(move || events.get()) on_change=Callback::new(move |e| events.set(e)) />
                <button class="button primary" type="submit" data-testid="notifier-add" disabled=move || saving.get()>
                    {move || if saving.get() { "Adding…" } else { "Add" }}
                </button>
            </form>
            <div class="form-foot">
                <span class="field-hint">
                    "The URL is kept in the keychain (its path is often the token). Every deploy result — from here, the CLI, a webhook or the relay — goes to the notifiers routed to its app; none ticked means every kind."
                </span>
            </div>
            <DialogError error=error />
            {move || {
                removing
                    .get()
                    .map(|id| {
                        view! {
                            <Confirm
                                title=format!("Remove notifier {id}?")
                                body="Its URL is deleted from the keychain; the relays that announce with it are told."
                                confirm="Remove"
                                danger=true
                                on_answer=Callback::new(move |yes: bool| {
                                    removing.set(None);
                                    if !yes {
                                        return;
                                    }
                                    spawn_local(async move {
                                        match api::notify_rm(id).await {
                                            Ok(warnings) => {
                                                toasts.ok(format!("notifier {id} removed"));
                                                warn_all(toasts, warnings);
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

/// What did not reach a relay, one toast each.
fn warn_all(toasts: Toasts, warnings: Vec<String>) {
    for w in warnings {
        toasts.info(w);
    }
}

/// "Every app" or one app.
#[component]
fn AppSelect(
    apps: RwSignal<Vec<String>>,
    testid: &'static str,
    value: Signal<String>,
    on_change: Callback<String>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">"App"</span>
            <select data-testid=testid prop:value=move || value.get() on:change=move |ev| on_change.run(event_target_value(&ev))>
                <option value=EVERY_APP>"Every app"</option>
                {move || {
                    apps.get()
                        .into_iter()
                        .map(|a| view! { <option value=a.clone()>{a.clone()}</option> })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

/// One checkbox per kind of notice; none ticked: every kind.
#[component]
fn EventChecks(
    prefix: &'static str,
    value: Signal<Vec<NoticeEvent>>,
    on_change: Callback<Vec<NoticeEvent>>,
) -> impl IntoView {
    NoticeEvent::ALL
        .into_iter()
        .map(|e| {
            let label = match e {
                NoticeEvent::Deploy => "Deploys",
                NoticeEvent::Image => "New images",
                NoticeEvent::Alert => "Alerts",
            };
            view! {
                <label class="check">
                    <input
                        type="checkbox"
                        data-testid=format!("{prefix}-{}", e.as_str())
                        prop:checked=move || value.with(|v| v.contains(&e))
                        on:change=move |ev| {
                            let mut v = value.get_untracked();
                            v.retain(|x| *x != e);
                            if event_target_checked(&ev) {
                                v.push(e);
                            }
                            on_change.run(v);
                        }
                    />
                    {label}
                </label>
            }
        })
        .collect_view()
}
