//! The Domains tab: the names the app answers to through its server's proxy (Caddy), with
//! their certificate state; add one (optionally as the primary) or remove one. Like every
//! edit of a deployed app, a change waits in the pending-changes banner until applied (each
//! row says what waits).

use berth_model::{DomainStatus, Server};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{Badge, Confirm, EmptyState, ExternalLink, Loading, SectionTitle};

#[component]
pub fn DomainsTab() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let nav = use_nav();
    let domains = RwSignal::new(None::<Vec<DomainStatus>>);
    let server = RwSignal::new(None::<Server>);
    let input = RwSignal::new(String::new());
    let primary = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let adding = RwSignal::new(false);
    let removing = RwSignal::new(None::<String>);

    let load = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::domain_ls(&app).await {
                Ok(d) => {
                    domains.try_set(Some(d));
                }
                Err(e) => {
                    toasts.error(&e);
                    domains.try_update(|d| {
                        d.get_or_insert_with(Vec::new);
                    });
                }
            }
        });
    };
    // Again after every edit, and when a job (an Apply) ends.
    Effect::new(move |_| {
        ctx.edited.track();
        if !ctx.busy() {
            load();
        }
    });
    // Whether the server has a proxy at all (domains need one).
    spawn_local(async move {
        let name = ctx
            .status
            .with_untracked(|s| s.as_ref().map(|s| s.server.clone()));
        if let (Some(name), Ok(list)) = (name, api::servers().await) {
            server.try_set(list.into_iter().find(|s| s.name == name));
        }
    });
    let no_proxy = move || server.with(|s| s.as_ref().is_some_and(|s| s.proxy.is_none()));
    let make_primary = Callback::new(move |d: String| {
        let app = ctx.name();
        spawn_local(async move {
            match api::domain_primary(&app, &d).await {
                Ok(()) => {
                    toasts.ok(format!("{d} becomes the primary domain when applied"));
                    ctx.edited.update(|n| *n += 1);
                }
                Err(e) => toasts.error(&e),
            }
        });
    });

    let add = move || {
        let name = input.get_untracked().trim().to_lowercase();
        if name.is_empty() {
            error.set(Some("type a domain name, like app.example.com".to_owned()));
            return;
        }
        let app = ctx.name();
        let as_primary = primary.get_untracked();
        adding.set(true);
        spawn_local(async move {
            match api::domain_add(&app, &name, as_primary).await {
                Ok(list) => {
                    let waits = list.iter().any(|d| d.domain == name && d.pending.is_some());
                    toasts.ok(if waits {
                        format!("{name} added: apply the pending changes to route it")
                    } else {
                        format!("{name} now routes to {app}")
                    });
                    domains.try_set(Some(list));
                    ctx.edited.try_update(|n| *n += 1);
                    input.try_set(String::new());
                    primary.try_set(false);
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message.clone()));
                    toasts.error(&e);
                }
            }
            adding.try_set(false);
        });
    };

    let rows = move || {
        domains.get().map(|list| {
            if list.is_empty() {
                return view! {
                    <EmptyState
                        testid="empty-domains"
                        title="No domains"
                        body="Add a domain that points at this server: the proxy routes it to the app and gets a certificate for it. A server base domain gives every app one automatically."
                    />
                }
                .into_any();
            }
            view! {
                <div class="list">
                    {list.into_iter().map(|d| domain_row(d, removing, make_primary)).collect_view()}
                </div>
            }
            .into_any()
        })
    };

    view! {
        <section data-testid="domains">
            {move || {
                let n = domains.with(|d| d.as_ref().map(Vec::len).filter(|n| *n > 0));
                view! { <SectionTitle title="Domains" count=n /> }
            }}
            <Show when=no_proxy>
                <div class="banner warn" data-testid="no-proxy">
                    <div>
                        <strong>{move || format!("Server {} has no proxy.", ctx.status.with(|s| s.as_ref().map(|s| s.server.clone()).unwrap_or_default()))}</strong>
                        " Domains are routed by Caddy on the server: install it from the Servers page first."
                    </div>
                    <button class="button" on:click=move |_| nav.go(Page::Servers)>
                        "Open Servers"
                    </button>
                </div>
            </Show>
            {move || match domains.with(Option::is_some) {
                false => view! { <Loading rows=2 /> }.into_any(),
                true => rows().into_any(),
            }}
            <form
                class="env-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    add();
                }
            >
                <label class="field grow">
                    <span class="field-label">"Domain"</span>
                    <input
                        data-testid="domain-input"
                        placeholder="app.example.com"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || input.get()
                        on:input=move |ev| {
                            input.set(event_target_value(&ev));
                            error.set(None);
                        }
                    />
                </label>
                <label class="check" title="The primary domain comes first: it is the app's main URL">
                    <input
                        type="checkbox"
                        data-testid="domain-primary"
                        prop:checked=move || primary.get()
                        on:change=move |ev| primary.set(event_target_checked(&ev))
                    />
                    "Primary"
                </label>
                <button class="button primary" type="submit" data-testid="domain-add" disabled=move || adding.get()>
                    {move || if adding.get() { "Adding…" } else { "Add" }}
                </button>
            </form>
            <div class="form-foot">
                {move || match error.get() {
                    Some(e) => view! { <span class="field-error" data-testid="domain-error">{e}</span> }.into_any(),
                    None => view! { <span class="field-hint">"Point the domain's DNS at the server first; the certificate is requested when it is added."</span> }.into_any(),
                }}
            </div>
            {move || {
                removing
                    .get()
                    .map(|name| {
                        let target = name.clone();
                        view! {
                            <Confirm
                                title=format!("Remove {name}?")
                                body="The proxy stops routing this domain to the app when the pending changes are applied."
                                confirm="Remove"
                                danger=true
                                on_answer=Callback::new(move |yes: bool| {
                                    removing.set(None);
                                    if !yes {
                                        return;
                                    }
                                    let (app, d) = (ctx.name(), target.clone());
                                    spawn_local(async move {
                                        match api::domain_rm(&app, &d).await {
                                            Ok(()) => {
                                                toasts.ok(format!("{d} removed"));
                                                ctx.edited.update(|n| *n += 1);
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

/// The badge tone of a certificate state.
fn tls_tone(state: &str) -> &'static str {
    match state {
        "issued" => "ok",
        "pending" => "busy",
        "error" => "bad",
        "off" => "idle",
        _ => "warn",
    }
}

fn tls_label(state: &str) -> String {
    match state {
        "issued" => "TLS issued".to_owned(),
        "pending" => "TLS pending".to_owned(),
        "error" => "TLS error".to_owned(),
        "off" => "HTTP only".to_owned(),
        "unknown" => "TLS unknown".to_owned(),
        other => format!("TLS {other}"),
    }
}

fn domain_row(
    d: DomainStatus,
    removing: RwSignal<Option<String>>,
    make_primary: Callback<String>,
) -> impl IntoView {
    let leaving = d.pending.as_deref() == Some("to remove");
    let why_not = if leaving {
        Some("Removed: the route drops it when the pending changes are applied")
    } else if d.auto {
        Some("The automatic domain follows the server's base domain: change it on the Servers page")
    } else if d.primary {
        Some("The primary domain cannot be removed: make another domain primary first")
    } else {
        None
    };
    let name = d.domain.clone();
    let primary_name = d.domain.clone();
    let can_be_primary = !d.auto && !d.primary && !leaving;
    view! {
        <div class="list-row domain-row" data-testid="domain-row" data-domain=d.domain.clone()>
            <span class="domain-name">
                <ExternalLink url=d.url.clone() label=d.domain.clone() />
                <span class="muted small">{d.tls.detail.clone()}</span>
            </span>
            {d.primary.then(|| view! { <span class="pill accent">"primary"</span> })}
            {d.auto.then(|| view! { <span class="pill">"automatic"</span> })}
            {d.pending.clone().map(|p| view! {
                <span class="pill warn" data-testid="domain-pending" title="Applied with the app's pending changes">
                    {format!("pending: {p}")}
                </span>
            })}
            <span class="grow"></span>
            <span class="tls" title=d.tls.detail.clone()>
                <Badge tone=tls_tone(&d.tls.state) text=tls_label(&d.tls.state) />
            </span>
            {can_be_primary.then(|| view! {
                <button
                    class="button small ghost"
                    data-testid="domain-make-primary"
                    title="Where the app answers first: its main URL"
                    on:click=move |_| make_primary.run(primary_name.clone())
                >
                    "Make primary"
                </button>
            })}
            <button
                class="button small ghost danger-text"
                data-testid="domain-rm"
                disabled=why_not.is_some()
                title=why_not.unwrap_or("Remove this domain")
                on:click=move |_| removing.set(Some(name.clone()))
            >
                "Remove"
            </button>
        </div>
    }
}
