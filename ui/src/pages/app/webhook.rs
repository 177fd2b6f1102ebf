//! The Webhook tab: deploy on `git push`. Without a webhook, a form to enable one (provider,
//! branch, tag pattern); with one, the URL and secret to paste into the git host, and every
//! delivery the server's relay received — its verdict and why, and how its deploy ended —
//! refreshed while the tab is open.

use berth_model::view::WebhookEnableRequest;
use berth_model::{Delivery, DeliveryStatus, Provider, Verdict, WebhookInfo};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::app::{Page, use_nav};
use crate::format::{ago, short_commit};
use crate::toast::use_toasts;
use crate::widgets::{Badge, Confirm, EmptyState, Loading, SectionTitle, now_ms};

/// How often the deliveries are read again while the tab is open.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// What the tab knows about the app's webhook.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Loading,
    /// No webhook yet; `relay_missing` when the server has no relay to give it to.
    Off {
        relay_missing: Option<String>,
    },
    On(Box<WebhookInfo>),
}

/// The badge of a delivery: its verdict, or for a queued one how its deploy went.
pub fn delivery_badge(d: &Delivery) -> (&'static str, String) {
    match (d.verdict, d.status) {
        (Verdict::Queued, DeliveryStatus::Deployed) => ("ok", "deployed".to_owned()),
        (Verdict::Queued, DeliveryStatus::Failed) => ("bad", "deploy failed".to_owned()),
        (Verdict::Queued, DeliveryStatus::Running) => ("busy", "deploying".to_owned()),
        (Verdict::Queued, DeliveryStatus::Pending) => ("busy", "queued".to_owned()),
        (Verdict::Queued, DeliveryStatus::Superseded) => ("idle", "superseded".to_owned()),
        (Verdict::Queued, DeliveryStatus::Done) => ("idle", "queued".to_owned()),
        (Verdict::Rejected, _) => ("bad", format!("rejected {}", d.http_status)),
        // Someone re-sent a captured push: nothing was deployed, but it is worth a look.
        (Verdict::Replay, _) => ("bad", "replay".to_owned()),
        (Verdict::Ping, _) => ("ok", "ping".to_owned()),
        (v, _) => ("idle", v.as_str().to_owned()),
    }
}

/// Why: the deploy's result once there is one (where it is live, or what failed, and who
/// ran it), else the relay's reason.
pub fn delivery_why(d: &Delivery) -> String {
    let by = d
        .handled_by
        .as_deref()
        .map(|h| format!(" by {h}"))
        .unwrap_or_default();
    let took = d
        .duration_ms
        .map(|ms| format!(" in {}", crate::format::duration(ms)))
        .unwrap_or_default();
    match (&d.result, d.status) {
        (Some(r), DeliveryStatus::Deployed) => format!("live at {r} — deployed{by}{took}"),
        (Some(r), DeliveryStatus::Failed) => format!("{r} (deploy{by}{took})"),
        (Some(r), DeliveryStatus::Superseded) => r.clone(),
        (_, DeliveryStatus::Running) => format!("{}; deploying{by}", d.reason),
        (_, DeliveryStatus::Pending) if d.reason.contains("unattended") => d.reason.clone(),
        (_, DeliveryStatus::Pending) => {
            format!("{}; waits for the desktop app or `berth watch`", d.reason)
        }
        _ => d.reason.clone(),
    }
}

fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::Github => "GitHub",
        Provider::Gitlab => "GitLab",
        Provider::Gitea => "Gitea / Forgejo",
        Provider::Generic => "Generic (Bearer token)",
    }
}

fn paste_hint(p: Provider) -> &'static str {
    match p {
        Provider::Github => {
            "GitHub → Settings → Webhooks → Add webhook: Payload URL and Secret below, content type application/json, just the push event."
        }
        Provider::Gitlab => {
            "GitLab → Settings → Webhooks: URL below, the secret as Secret token, Push events (and Tag push events if you deploy tags)."
        }
        Provider::Gitea => {
            "Gitea / Forgejo → Settings → Webhooks → Add webhook → Gitea: Target URL and Secret below, Push events."
        }
        Provider::Generic => {
            "POST to the URL with `Authorization: Bearer <secret>` and a JSON body like {\"ref\": \"refs/heads/main\", \"commit\": \"<sha>\"}."
        }
    }
}

#[component]
pub fn WebhookTab() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let nav = use_nav();
    let state = RwSignal::new(State::Loading);
    let deliveries = RwSignal::new(None::<Vec<Delivery>>);
    let now = RwSignal::new(now_ms());
    let provider = RwSignal::new(Provider::Github);
    let branch = RwSignal::new(String::new());
    let tags = RwSignal::new(String::new());
    let unattended = RwSignal::new(false);
    let allow_force_push = RwSignal::new(false);
    let git_token = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let confirm = RwSignal::new(None::<&'static str>);
    let deliveries_error = RwSignal::new(None::<String>);

    let load_deliveries = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::webhook_deliveries(&app, 50).await {
                Ok(list) => {
                    deliveries.try_set(Some(list));
                    deliveries_error.try_set(None);
                }
                Err(e) => {
                    deliveries.try_update(|d| {
                        d.get_or_insert_with(Vec::new);
                    });
                    deliveries_error.try_set(Some(e.message));
                }
            }
            now.try_set(now_ms());
        });
    };
    let load = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::webhook_show(&app, false).await {
                Ok(w) => {
                    state.try_set(State::On(Box::new(w)));
                    load_deliveries();
                }
                Err(e) if e.code == "webhook-not-enabled" => {
                    let relay_missing = match api::app(&app).await {
                        Ok(a) => match api::servers().await {
                            Ok(list) => list
                                .into_iter()
                                .find(|s| s.name == a.server)
                                .filter(|s| s.relay.is_none())
                                .map(|s| s.name),
                            Err(_) => None,
                        },
                        Err(_) => None,
                    };
                    state.try_set(State::Off { relay_missing });
                }
                Err(e) => {
                    toasts.error(&e);
                    state.try_set(State::Off {
                        relay_missing: None,
                    });
                }
            }
        });
    };
    load();
    if let Ok(timer) = set_interval_with_handle(
        move || {
            if matches!(state.get_untracked(), State::On(_)) {
                load_deliveries();
            }
        },
        REFRESH,
    ) {
        on_cleanup(move || timer.clear());
    }

    let enable = move || {
        let app = ctx.name();
        let req = WebhookEnableRequest {
            provider: provider.get_untracked(),
            branch: Some(branch.get_untracked().trim().to_owned()).filter(|b| !b.is_empty()),
            tags: Some(tags.get_untracked().trim().to_owned()).filter(|t| !t.is_empty()),
            unattended: unattended.get_untracked(),
            git_token: Some(git_token.get_untracked().trim().to_owned())
                .filter(|t| !t.is_empty() && unattended.get_untracked()),
            allow_force_push: allow_force_push.get_untracked(),
        };
        busy.set(true);
        spawn_local(async move {
            match api::webhook_enable(&app, &req).await {
                Ok(w) => {
                    toasts.ok(format!(
                        "webhook of {app} enabled: paste its URL and secret into the git host"
                    ));
                    state.try_set(State::On(Box::new(w)));
                    error.try_set(None);
                    git_token.try_set(String::new());
                    load_deliveries();
                }
                Err(e) => {
                    error.try_set(Some(e.message.clone()));
                    toasts.error(&e);
                }
            }
            busy.try_set(false);
        });
    };

    let reveal = move || {
        let app = ctx.name();
        spawn_local(async move {
            match api::webhook_show(&app, true).await {
                Ok(w) => {
                    state.try_set(State::On(Box::new(w)));
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    let answer = move |yes: bool| {
        let what = confirm.get_untracked();
        confirm.set(None);
        if !yes {
            return;
        }
        let app = ctx.name();
        spawn_local(async move {
            match what {
                Some("rotate") => match api::webhook_rotate_secret(&app).await {
                    Ok(w) => {
                        toasts.ok("new secret: paste it into the git host");
                        state.try_set(State::On(Box::new(w)));
                    }
                    Err(e) => toasts.error(&e),
                },
                Some("rotate-key") => {
                    match api::webhook_rotate_deploy_key(&app).await {
                        Ok(w) => {
                            toasts.ok("new deploy key: add it to the git host, then remove the old one there");
                            state.try_set(State::On(Box::new(w)));
                        }
                        Err(e) => toasts.error(&e),
                    }
                }
                Some("disable") => match api::webhook_disable(&app).await {
                    Ok(()) => {
                        toasts.ok(format!("webhook of {app} disabled"));
                        deliveries.try_set(None);
                        state.try_set(State::Off {
                            relay_missing: None,
                        });
                    }
                    Err(e) => toasts.error(&e),
                },
                _ => {}
            }
        });
    };

    let off_view = move |relay_missing: Option<String>| {
        view! {
            <section data-testid="webhook-off">
                <SectionTitle title="Deploy on git push" count=None />
                {relay_missing.map(|server| view! {
                    <div class="banner warn" data-testid="no-relay">
                        <div>
                            <strong>{format!("Server {server} has no webhook relay.")}</strong>
                            {format!(" Install it with `berth server relay install {server}`: the relay receives the git host's webhooks on the server.")}
                        </div>
                        <button class="button" on:click=move |_| nav.go(Page::Servers)>"Open Servers"</button>
                    </div>
                })}
                <EmptyState
                    testid="empty-webhook"
                    title="No webhook"
                    body="Give the app a webhook URL and secret for GitHub, GitLab or Gitea: each push to its branch is deployed by this app (while it runs) or by `berth watch`, and every delivery is listed here with what happened and why."
                />
                <form class="env-form" on:submit=move |ev| { ev.prevent_default(); enable(); }>
                    <label class="field">
                        <span class="field-label">"Provider"</span>
                        <select
                            data-testid="webhook-provider"
                            on:change=move |ev| {
                                if let Ok(p) = event_target_value(&ev).parse() {
                                    provider.set(p);
                                }
                            }
                        >
                            {Provider::ALL.into_iter().map(|p| view! {
                                <option value=p.as_str() selected=move || provider.get() == p>{provider_label(p)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <label class="field grow">
                        <span class="field-label">"Branch"</span>
                        <input
                            data-testid="webhook-branch"
                            placeholder="the app's branch"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || branch.get()
                            on:input=move |ev| branch.set(event_target_value(&ev))
                        />
                    </label>
                    <label class="field">
                        <span class="field-label">"Tags"</span>
                        <input
                            data-testid="webhook-tags"
                            placeholder="e.g. v* (optional)"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || tags.get()
                            on:input=move |ev| tags.set(event_target_value(&ev))
                        />
                    </label>
                    <button class="button primary" type="submit" data-testid="webhook-enable" disabled=move || busy.get()>
                        {move || if busy.get() { "Enabling…" } else { "Enable" }}
                    </button>
                </form>
                <div class="env-form">
                    <label class="check" title="The relay fetches each pushed commit from the app's git URL and deploys it on the server, with no desktop or `berth watch` running.">
                        <input
                            type="checkbox"
                            data-testid="webhook-unattended"
                            prop:checked=move || unattended.get()
                            on:change=move |ev| unattended.set(event_target_checked(&ev))
                        />
                        " Unattended: the server's relay deploys on its own"
                    </label>
                    <label class="check" title="Off: a push whose commit does not descend from the one serving (history rewritten, or an old push sent again) is refused and listed with the reason; deploy such a commit by hand.">
                        <input
                            type="checkbox"
                            data-testid="webhook-force-push"
                            prop:checked=move || allow_force_push.get()
                            on:change=move |ev| allow_force_push.set(event_target_checked(&ev))
                        />
                        " Force-pushes deploy"
                    </label>
                    <Show when=move || unattended.get()>
                        <label class="field grow">
                            <span class="field-label">"Token (https sources)"</span>
                            <input
                                type="password"
                                data-testid="webhook-git-token"
                                placeholder="read-only access token (optional for public repositories)"
                                autocomplete="off"
                                prop:value=move || git_token.get()
                                on:input=move |ev| git_token.set(event_target_value(&ev))
                            />
                        </label>
                    </Show>
                </div>
                <div class="form-foot">
                    {move || match error.get() {
                        Some(e) => view! { <span class="field-error" data-testid="webhook-error">{e}</span> }.into_any(),
                        None => view! { <span class="field-hint">"Branch accepts patterns like release/*; tag pushes deploy only with a tag pattern."</span> }.into_any(),
                    }}
                </div>
            </section>
        }
    };

    let on_view = move |w: Box<WebhookInfo>| {
        let secret_shown = w.secret.clone();
        view! {
            <section data-testid="webhook-on">
                <SectionTitle title="Deploy on git push" count=None />
                <div class="kv" data-testid="webhook-info">
                    <span class="muted">"Provider"</span>
                    <span>{provider_label(w.provider)}</span>
                    <span class="muted">"URL"</span>
                    <code class="selectable" data-testid="webhook-url">{w.url.clone()}</code>
                    <span class="muted">"Secret"</span>
                    <span>
                        {match secret_shown {
                            Some(s) => view! { <code class="selectable" data-testid="webhook-secret">{s}</code> }.into_any(),
                            None => view! {
                                <code>{w.secret_hint.clone()}</code>
                                " "
                                <button class="button small ghost" data-testid="webhook-reveal" on:click=move |_| reveal()>"Reveal"</button>
                            }.into_any(),
                        }}
                    </span>
                    <span class="muted">"Deploys"</span>
                    <span>
                        {format!("pushes to {}", w.filter.branch)}
                        {w.filter.tags.clone().map(|t| format!(", tags matching {t}"))}
                        {if w.allow_force_push {
                            ", force-pushes too"
                        } else {
                            " that descend from the serving commit"
                        }}
                    </span>
                    <span class="muted">"Mode"</span>
                    <span data-testid="webhook-mode">
                        {match w.mode {
                            berth_model::WebhookMode::Attended => "attended: this app or `berth watch` deploys each push".to_owned(),
                            berth_model::WebhookMode::Unattended => format!(
                                "unattended: the relay on {} deploys on its own",
                                w.server
                            ),
                        }}
                    </span>
                    {w.git_url.clone().map(|u| view! {
                        <span class="muted">"Source"</span>
                        <span><code class="selectable">{u}</code>{match w.git_auth.as_deref() {
                            Some("token") => " (with the token)",
                            Some("deploy key") => " (with the deploy key below)",
                            _ => " (no credentials)",
                        }}</span>
                    })}
                    {w.deploy_key.clone().map(|k| view! {
                        <span class="muted">"Deploy key"</span>
                        <code class="selectable wrap" data-testid="webhook-deploy-key">{k}</code>
                    })}
                </div>
                <p class="field-hint">{paste_hint(w.provider)}</p>
                {w.deploy_key.is_some().then(|| view! {
                    <p class="field-hint">"Add the deploy key to the repository, read-only (GitHub: Settings → Deploy keys)."</p>
                })}
                <div class="webhook-actions">
                    <button class="button small" data-testid="webhook-rotate" on:click=move |_| confirm.set(Some("rotate"))>"New secret"</button>
                    {w.deploy_key.is_some().then(|| view! {
                        <button class="button small" data-testid="webhook-rotate-key" on:click=move |_| confirm.set(Some("rotate-key"))>"New deploy key"</button>
                    })}
                    <button class="button small ghost danger-text" data-testid="webhook-disable" on:click=move |_| confirm.set(Some("disable"))>"Disable"</button>
                </div>
            </section>
            <section data-testid="deliveries">
                {move || {
                    let n = deliveries.with(|d| d.as_ref().map(Vec::len).filter(|n| *n > 0));
                    view! { <SectionTitle title="Deliveries" count=n /> }
                }}
                {move || deliveries_error.get().map(|e| view! {
                    <div class="banner warn" data-testid="deliveries-error"><div>{e}</div></div>
                })}
                {move || match deliveries.get() {
                    None => view! { <Loading rows=3 /> }.into_any(),
                    Some(list) if list.is_empty() => view! {
                        <EmptyState
                            testid="empty-deliveries"
                            title="No deliveries yet"
                            body="Push to the repository, or use the git host's test delivery button: every request the relay receives shows up here, also the rejected ones."
                        />
                    }.into_any(),
                    Some(list) => {
                        let now = now.get();
                        view! {
                            <div class="list">
                                {list.into_iter().map(|d| delivery_row(d, now)).collect_view()}
                            </div>
                        }.into_any()
                    }
                }}
            </section>
        }
    };

    view! {
        <div data-testid="webhook">
            {move || match state.get() {
                State::Loading => view! { <Loading rows=2 /> }.into_any(),
                State::Off { relay_missing } => off_view(relay_missing).into_any(),
                State::On(w) => on_view(w).into_any(),
            }}
            {move || confirm.get().map(|what| {
                let (title, body, button) = match what {
                    "rotate" => ("Replace the secret?", "The current secret stops working at once: paste the new one into the git host.", "New secret"),
                    "rotate-key" => ("Replace the deploy key?", "The relay fetches with the new key from now on: add it to the git host (read-only), then remove the old one there.", "New deploy key"),
                    _ => ("Disable the webhook?", "Its URL answers 404 from now on; pushes no longer deploy.", "Disable"),
                };
                view! {
                    <Confirm title=title body=body confirm=button danger=true on_answer=Callback::new(answer) />
                }
            })}
        </div>
    }
}

fn delivery_row(d: Delivery, now: i64) -> impl IntoView {
    let (tone, text) = delivery_badge(&d);
    let why = delivery_why(&d);
    let git_ref = d
        .git_ref
        .as_deref()
        .map(|r| r.trim_start_matches("refs/heads/").to_owned())
        .unwrap_or_else(|| "—".to_owned());
    let commit = d
        .commit
        .as_deref()
        .map(|c| short_commit(c).to_owned())
        .unwrap_or_default();
    view! {
        <div class="list-row delivery-row" data-testid="delivery-row" data-verdict=d.verdict.as_str()>
            <div class="delivery-main">
                <div class="delivery-head">
                    <span class="muted small mono">{format!("#{}", d.id)}</span>
                    <span class="small" title=d.remote.clone()>{ago(now, d.received_at)}</span>
                    <span class="small">{d.event.clone()}</span>
                    <span class="small mono">{git_ref}</span>
                    <span class="small mono muted">{commit}</span>
                    <span class="grow"></span>
                    <Badge tone=tone text=text />
                </div>
                <div class="small muted delivery-why" data-testid="delivery-why">{why}</div>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(verdict: Verdict, status: DeliveryStatus) -> Delivery {
        Delivery {
            id: 1,
            app: Some("hello".into()),
            provider: Some(Provider::Github),
            delivery_id: None,
            received_at: 0,
            remote: "203.0.113.5".into(),
            event: "push".into(),
            git_ref: Some("refs/heads/main".into()),
            commit: None,
            message: None,
            verdict,
            reason: "push to main".into(),
            http_status: 401,
            status,
            deployment: None,
            handled_by: None,
            finished_at: None,
            duration_ms: None,
            result: Some("http://hello.test".into()),
        }
    }

    #[test]
    fn badges_say_how_it_ended() {
        let d = delivery(Verdict::Queued, DeliveryStatus::Deployed);
        assert_eq!(delivery_badge(&d), ("ok", "deployed".to_owned()));
        assert_eq!(delivery_why(&d), "live at http://hello.test — deployed");
        let d = delivery(Verdict::Rejected, DeliveryStatus::Done);
        assert_eq!(delivery_badge(&d), ("bad", "rejected 401".to_owned()));
        assert_eq!(delivery_why(&d), "push to main");
        let d = delivery(Verdict::Queued, DeliveryStatus::Pending);
        assert_eq!(delivery_badge(&d).1, "queued");
    }
}
