//! Settings: where Berth keeps its data and secrets (with the file fallback when no keychain
//! is available), the image registries it logs in to, the audit log of what was changed, by whom, and About (which build this is).

use berth_model::view::{About, AuditEntry, SecretsInfo};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::toast::use_toasts;
use crate::widgets::{ErrorState, Loaded, Loading, PageHeader, SectionTitle, fetch, now_ms};
use crate::{api, format};

#[component]
pub fn Settings() -> impl IntoView {
    let toasts = use_toasts();
    let secrets: Loaded<SecretsInfo> = RwSignal::new(None);
    let audit: Loaded<Vec<AuditEntry>> = RwSignal::new(None);
    let about: Loaded<About> = RwSignal::new(None);
    let load = move || {
        fetch(secrets, api::secrets_info());
        fetch(audit, api::audit_log(30));
        fetch(about, api::about());
    };
    load();
    let use_file = move |_| {
        spawn_local(async move {
            match api::use_file_secrets().await {
                Ok(i) => secrets.set(Some(Ok(i))),
                Err(e) => toasts.error(&e),
            }
        })
    };
    view! {
        <PageHeader title="Settings" />
        <section>
            <SectionTitle title="Data and secrets" count=None />
            {move || match secrets.get() {
                None => view! { <Loading rows=2 /> }.into_any(),
                Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
                Some(Ok(i)) => {
                    let where_secrets = match (&*i.backend, &i.file) {
                        ("file", Some(f)) => format!("In a file readable only by you: {f}"),
                        _ => "In the OS keychain (service \u{201c}berth\u{201d})".to_owned(),
                    };
                    view! {
                        <div class="card wide" data-testid="secrets">
                            <div class="kv">
                                <span class="muted">"Data"</span>
                                <code>{i.data_dir}</code>
                                <span class="muted">"Secrets"</span>
                                <span>{where_secrets}</span>
                                <span class="muted">"Status"</span>
                                <span>
                                    {if i.available {
                                        "Working".to_owned()
                                    } else {
                                        format!("Not available: {}", i.message.unwrap_or_default())
                                    }}
                                </span>
                            </div>
                            {(!i.available && i.backend == "keyring")
                                .then(|| {
                                    view! {
                                        <button class="button" on:click=use_file>
                                            "Keep secrets in a file instead"
                                        </button>
                                    }
                                })}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
        <crate::pages::notifications::Notifications />
        <crate::pages::registries::Registries />
        <section>
            <SectionTitle title="Audit log" count=None />
            {move || match audit.get() {
                None => view! { <Loading rows=3 /> }.into_any(),
                Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
                Some(Ok(entries)) if entries.is_empty() => {
                    view! { <p class="muted">"Nothing has been changed yet."</p> }.into_any()
                }
                Some(Ok(entries)) => {
                    let now = now_ms();
                    view! {
                        <div class="list">
                            {entries
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <div class="list-row">
                                            <span class="muted small">{format::ago(now, e.at)}</span>
                                            <span class="pill">{e.actor}</span>
                                            <code>{e.action}</code>
                                            <span class="strong">{e.target}</span>
                                            <span class="muted ellipsis grow">{e.detail}</span>
                                        </div>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
        <section>
            <SectionTitle title="About" count=None />
            {move || match about.get() {
                None => view! { <Loading rows=1 /> }.into_any(),
                Some(Err(e)) => view! { <ErrorState error=e retry=load /> }.into_any(),
                Some(Ok(a)) => view! { <AboutCard about=a /> }.into_any(),
            }}
        </section>
    }
}

/// The build: version, commit, platform, and the server architectures it can install a relay
/// on.
#[component]
fn AboutCard(about: About) -> impl IntoView {
    let relays = if about.relay_arches.is_empty() {
        "None found: `berth server relay install` needs the berth-relay executables".to_owned()
    } else {
        format!("{} servers", about.relay_arches.join(" and "))
    };
    view! {
        <div class="card wide" data-testid="about">
            <div class="kv">
                <span class="muted">"Version"</span>
                <span class="strong" data-testid="about-version">
                    {format!("Berth {}", about.version)}
                </span>
                <span class="muted">"Commit"</span>
                <code data-testid="about-commit">{about.commit}</code>
                <span class="muted">"Platform"</span>
                <span>{about.platform}</span>
                <span class="muted">"Relays"</span>
                <span>{relays}</span>
            </div>
        </div>
    }
}
