//! Settings: where Berth keeps its data and secrets (with the file fallback when no keychain
//! is available), the image registries it logs in to, the audit log of what was changed, by whom, and About (which build this is).

use berth_model::setup::ImportReport;
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
        <SetupFile />
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

/// Import and export: the whole setup as YAML (`berth export`/`berth import`): servers without
/// keys, projects, apps and services, variables (secrets as references), domains. Export shows
/// it to copy; import takes a pasted file, previews what changes, then makes the changes.
#[component]
fn SetupFile() -> impl IntoView {
    let toasts = use_toasts();
    let exported = RwSignal::new(None::<String>);
    let pasted = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<ImportReport>);
    let export = move |_| {
        spawn_local(async move {
            match api::export_setup().await {
                Ok(yaml) => {
                    exported.try_set(Some(yaml));
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    let import = move |dry_run: bool| {
        let text = pasted.get_untracked();
        spawn_local(async move {
            match api::import_setup(&text, dry_run).await {
                Ok(report) => {
                    if !dry_run {
                        toasts.ok(format!("Imported: {} change(s)", report.changes.len()));
                    }
                    preview.try_set(Some(report));
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    view! {
        <section data-testid="setup-file">
            <SectionTitle title="Import and export" count=None />
            <p class="page-note">
                "The whole setup as one YAML file (the same as berth export): servers without keys, projects, apps and services, variables with secrets as references only, domains. Import it on another machine, or keep it in git."
            </p>
            <button class="button" data-testid="export" on:click=export>
                "Export"
            </button>
            {move || {
                exported
                    .get()
                    .map(|yaml| {
                        view! {
                            <textarea class="setup-yaml mono" data-testid="export-yaml" readonly=true>
                                {yaml}
                            </textarea>
                        }
                    })
            }}
            <textarea
                class="setup-yaml mono"
                data-testid="import-yaml"
                placeholder="Paste a berth.yaml here to import it"
                prop:value=move || pasted.get()
                on:input=move |ev| {
                    pasted.set(event_target_value(&ev));
                    preview.set(None);
                }
            ></textarea>
            <div class="pending-actions">
                <button
                    class="button"
                    data-testid="import-preview"
                    disabled=move || pasted.with(String::is_empty)
                    on:click=move |_| import(true)
                >
                    "Preview"
                </button>
                <button
                    class="button primary"
                    data-testid="import-apply"
                    disabled=move || preview.with(|p| p.as_ref().is_none_or(|p| p.applied || p.changes.is_empty()))
                    on:click=move |_| import(false)
                >
                    "Import"
                </button>
            </div>
            {move || {
                preview
                    .get()
                    .map(|r| {
                        let lines = if r.changes.is_empty() {
                            vec!["Nothing to change".to_owned()]
                        } else {
                            r.changes.clone()
                        };
                        view! {
                            <ul class="pending-diff" data-testid="import-changes">
                                {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect::<Vec<_>>()}
                                {r
                                    .missing_secrets
                                    .iter()
                                    .map(|s| view! { <li class="muted">{format!("secret {s} needs its value here")}</li> })
                                    .collect::<Vec<_>>()}
                                {r
                                    .notes
                                    .iter()
                                    .map(|n| view! { <li class="muted">{n.clone()}</li> })
                                    .collect::<Vec<_>>()}
                            </ul>
                        }
                    })
            }}
        </section>
    }
}
