//! A service's Backups tab: run one now, the history (when, size, how long, result — a failed
//! one listed as failed), restore with a confirmation that names what is overwritten, verify
//! into a throwaway copy, and the schedule its server's relay keeps.

use berth_model::format;
use berth_model::{BackupRecord, BackupResult, BackupSchedule, BackupTarget};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::use_app;
use crate::api;
use crate::toast::use_toasts;
use crate::widgets::{Badge, Confirm, EmptyState, Field, Loading, SectionTitle, now_ms};

#[component]
pub fn BackupsTab() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let records = RwSignal::new(None::<Vec<BackupRecord>>);
    let targets = RwSignal::new(Vec::<BackupTarget>::new());
    // The target shown and written to: empty for the service's own server.
    let target = RwSignal::new(String::new());
    let schedule = RwSignal::new(None::<BackupSchedule>);
    let cron = RwSignal::new("0 3 * * *".to_owned());
    let keep = RwSignal::new("7".to_owned());
    let working = RwSignal::new(false);
    let restoring = RwSignal::new(None::<BackupRecord>);
    let chosen = move || {
        let t = target.get_untracked();
        (!t.is_empty()).then_some(t)
    };

    let load = move || {
        let name = ctx.name();
        let t = chosen();
        spawn_local(async move {
            match api::backups(&name, t.as_deref()).await {
                Ok(list) => {
                    records.try_set(Some(list));
                }
                Err(e) => {
                    records.try_set(Some(Vec::new()));
                    toasts.error(&e);
                }
            }
            if let Ok(all) = api::backup_schedules().await {
                let mine = all.into_iter().find(|s| s.service == name);
                if let Some(s) = &mine {
                    cron.try_set(s.cron.to_string());
                    keep.try_set(s.keep.to_string());
                }
                schedule.try_set(mine);
            }
        });
    };
    spawn_local(async move {
        if let Ok(list) = api::backup_targets().await {
            targets.try_set(list);
        }
    });
    load();

    let back_up = move |_| {
        let name = ctx.name();
        let t = chosen();
        working.set(true);
        spawn_local(async move {
            match api::backup_create(&name, t.as_deref()).await {
                Ok(r) => toasts.ok(format!(
                    "backup {} of {name}: {} in {}",
                    r.id,
                    format::bytes(r.stored_bytes),
                    format::duration(r.duration_ms)
                )),
                Err(e) => toasts.error(&e),
            }
            working.try_set(false);
            load();
        });
    };
    let verify = move |id: String| {
        let name = ctx.name();
        let t = chosen();
        working.set(true);
        spawn_local(async move {
            match api::backup_verify(&name, &id, t.as_deref()).await {
                Ok(v) => toasts.ok(format!(
                    "backup {} restores: checksum ok, {} (in a throwaway copy, {})",
                    v.id,
                    if v.found.is_empty() {
                        "restored"
                    } else {
                        &v.found
                    },
                    format::duration(v.duration_ms)
                )),
                Err(e) => toasts.error(&e),
            }
            working.try_set(false);
        });
    };
    let save_schedule = move |_| {
        let name = ctx.name();
        let t = chosen();
        let (c, k) = (cron.get_untracked(), keep.get_untracked());
        spawn_local(async move {
            let Ok(k) = k.trim().parse::<u32>() else {
                toasts.info("Keep must be a number of backups (at least 1)");
                return;
            };
            match api::backup_schedule(&name, &c, k, t.as_deref()).await {
                Ok((s, warning)) => {
                    toasts.ok(format!(
                        "{name} is backed up by its server's relay at `{}` (UTC), keeping {}",
                        s.cron, s.keep
                    ));
                    if let Some(w) = warning {
                        toasts.info(&w);
                    }
                    load();
                }
                Err(e) => toasts.error(&e),
            }
        });
    };
    let unschedule = move |_| {
        let name = ctx.name();
        spawn_local(async move {
            match api::backup_unschedule(&name).await {
                Ok(_) => {
                    toasts.ok(format!("{name} is no longer backed up on schedule"));
                    load();
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    view! {
        <section class="card wide" data-testid="service-backups">
            <SectionTitle title="Backups" count=None />
            <div class="env-form">
                <Field label="Kept in">
                    <select
                        data-testid="backup-target"
                        prop:value=move || target.get()
                        on:change=move |ev| {
                            target.set(event_target_value(&ev));
                            records.set(None);
                            load();
                        }
                    >
                        <option value="">"its server (default)"</option>
                        {move || {
                            targets
                                .get()
                                .into_iter()
                                .map(|t| {
                                    let sealed = if t.sealed_to.is_some() { " (encrypted)" } else { "" };
                                    let label = format!("{} — {}{sealed}", t.name, t.location);
                                    view! { <option value=t.name.clone()>{label}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </Field>
                <button
                    class="button primary"
                    data-testid="backup-now"
                    disabled=move || working.get()
                    on:click=back_up
                >
                    {move || if working.get() { "Working…" } else { "Back up now" }}
                </button>
            </div>
            {move || match records.get() {
                None => view! { <Loading rows=2 /> }.into_any(),
                Some(list) if list.is_empty() => {
                    view! {
                        <EmptyState
                            title="No backups here yet"
                            body="A backup is the kind's own dump (pg_dump, mysqldump, Redis's saved files) or a copy of the volumes, compressed, checksummed (and sealed, for an encrypted target), with a record beside it."
                            testid="no-backups"
                        />
                    }
                        .into_any()
                }
                Some(list) => {
                    let now = now_ms();
                    view! {
                        <div class="list" data-testid="backup-list">
                            {list
                                .into_iter()
                                .map(|r| {
                                    let good = r.is_good();
                                    let (tone, text, why) = match &r.result {
                                        BackupResult::Ok => ("ok", "ok", String::new()),
                                        BackupResult::Failed { error } => ("bad", "failed", error.clone()),
                                    };
                                    let (for_restore, for_verify) = (r.clone(), r.id.clone());
                                    view! {
                                        <div class="list-row" data-testid="backup-row" data-id=r.id.clone()>
                                            <Badge tone text />
                                            <code title=format!("sha256 {}", r.sha256)>{r.id.clone()}</code>
                                            <span class="muted small">{format::ago(now, r.started_at)}</span>
                                            <span class="small">
                                                {if good { format::bytes(r.stored_bytes) } else { why }}
                                            </span>
                                            <span class="muted small">{format::duration(r.duration_ms)}</span>
                                            <span class="muted small">{r.trigger.clone()}</span>
                                            {r
                                                .sealed_to
                                                .clone()
                                                .map(|to| {
                                                    view! {
                                                        <span
                                                            class="badge muted"
                                                            data-testid="backup-sealed"
                                                            title=format!("encrypted to {to}")
                                                        >
                                                            "sealed"
                                                        </span>
                                                    }
                                                })}
                                            <span class="grow"></span>
                                            {good
                                                .then(|| {
                                                    view! {
                                                        <button
                                                            class="button small"
                                                            data-testid="backup-verify"
                                                            disabled=move || working.get()
                                                            on:click=move |_| verify(for_verify.clone())
                                                        >
                                                            "Verify"
                                                        </button>
                                                        <button
                                                            class="button small danger-text"
                                                            data-testid="backup-restore"
                                                            disabled=move || working.get()
                                                            on:click=move |_| restoring.set(Some(for_restore.clone()))
                                                        >
                                                            "Restore…"
                                                        </button>
                                                    }
                                                })}
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
        <section class="card wide" data-testid="backup-schedule">
            <SectionTitle title="Schedule" count=None />
            <p class="muted" data-testid="backup-schedule-state">
                {move || match schedule.get() {
                    Some(s) => format!(
                        "Backed up by its server's relay at `{}` (UTC), keeping the {} newest good backups{} — also while this machine sleeps.",
                        s.cron,
                        s.keep,
                        s.target.map(|t| format!(" in {t}")).unwrap_or_default()
                    ),
                    None => "Not backed up on schedule. Its server's relay can do it while this machine sleeps (minute hour day month weekday, UTC).".to_owned(),
                }}
            </p>
            <div class="env-form">
                <Field label="Cron (UTC)">
                    <input
                        data-testid="backup-cron"
                        placeholder="0 3 * * *"
                        prop:value=move || cron.get()
                        on:input=move |ev| cron.set(event_target_value(&ev))
                    />
                </Field>
                <Field label="Keep">
                    <input
                        data-testid="backup-keep"
                        inputmode="numeric"
                        prop:value=move || keep.get()
                        on:input=move |ev| keep.set(event_target_value(&ev))
                    />
                </Field>
                <button class="button primary" data-testid="backup-schedule-save" on:click=save_schedule>
                    "Save schedule"
                </button>
                <Show when=move || schedule.get().is_some()>
                    <button class="button ghost" data-testid="backup-unschedule" on:click=unschedule>
                        "Stop"
                    </button>
                </Show>
            </div>
        </section>
        {move || {
            restoring
                .get()
                .map(|r| {
                    let name = ctx.name();
                    let body = format!(
                        "The data of {name} is replaced by backup {} (taken {}, {}). Whatever was written to {name} since then is lost. The backup's checksum is proven before anything is touched.",
                        r.id,
                        format::ago(now_ms(), r.started_at),
                        format::bytes(r.stored_bytes),
                    );
                    let id = r.id.clone();
                    view! {
                        <Confirm
                            title=format!("Overwrite {name} with backup {}?", r.id)
                            body
                            confirm="Restore"
                            danger=true
                            on_answer=Callback::new(move |yes| {
                                restoring.set(None);
                                if yes {
                                    let (name, id, t) = (ctx.name(), id.clone(), chosen());
                                    working.set(true);
                                    spawn_local(async move {
                                        match api::backup_restore(&name, &id, t.as_deref()).await {
                                            Ok(r) => toasts.ok(format!("{name} holds backup {} again", r.id)),
                                            Err(e) => toasts.error(&e),
                                        }
                                        working.try_set(false);
                                    });
                                }
                            })
                        />
                    }
                })
        }}
    }
}
