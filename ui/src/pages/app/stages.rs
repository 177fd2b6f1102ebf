//! The Stages tab of an image app: each stage with the tags it takes and how they get there,
//! its instances (tag, digest, state, URL; stop, start, remove each), "Deploy new version"
//! listing the registry's tags the stage takes, promotion from the stage it promotes from, and
//! a form to add a stage.

use berth_model::stage::glob_match;
use berth_model::view::JobKind;
use berth_model::{ErrorDto, ImageTag, InstanceStatus, StageDraft, StageStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{AppCtx, Job, Tab, use_app};
use crate::pipeline::Pipeline;
use crate::widgets::{Badge, Confirm, DialogError, EmptyState, ExternalLink, SectionTitle};
use crate::{api, events};

/// Does one of `patterns` (`dev-*, v*`) take `tag`?
fn takes(patterns: &str, tag: &str) -> bool {
    patterns.split(',').any(|p| glob_match(p.trim(), tag))
}

/// What a click asked for, waiting for the user's yes.
#[derive(Debug, Clone, PartialEq)]
enum Ask {
    Deploy {
        stage: String,
        tag: String,
    },
    Promote {
        to: String,
        from: String,
        tag: Option<String>,
    },
    Remove {
        instance: String,
    },
}

/// Starts a stage job (deploy or promotion) and shows its steps on the Deploys tab.
fn start(ctx: AppCtx, kind: JobKind, stage: String, tag: Option<String>) {
    if ctx.job.get_untracked().is_some() {
        return;
    }
    ctx.job.set(Some(Job::Known(kind)));
    ctx.pipeline.set(Some(Pipeline::new()));
    ctx.build_log.clear();
    ctx.outcome.set(None);
    ctx.tab.set(Tab::Deploys);
    let app = ctx.name();
    spawn_local(async move {
        let started = match kind {
            JobKind::Promote => api::promote(&app, &stage, tag.as_deref()).await,
            _ => api::deploy_stage(&app, &stage, tag.as_deref().unwrap_or_default()).await,
        };
        if let Err(e) = started {
            ctx.job.try_set(None);
            ctx.pipeline.try_set(None);
            ctx.toasts.error(&e);
        }
    });
}

#[component]
pub fn StagesTab() -> impl IntoView {
    let ctx = use_app();
    let is_image = Memo::new(move |_| {
        ctx.status.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.source_image.is_some() || !s.stages.is_empty())
        })
    });
    let image_app = RwSignal::new(None::<bool>);
    let tags = RwSignal::new(None::<Result<Vec<ImageTag>, ErrorDto>>);
    let ask = RwSignal::new(None::<Ask>);
    let load_tags = move || {
        let app = ctx.name();
        spawn_local(async move {
            tags.try_set(Some(api::app_tags(&app).await));
        });
    };
    spawn_local(async move {
        if let Ok(app) = api::app(&ctx.name()).await {
            let image = app.image.is_some();
            image_app.try_set(Some(image));
            if image {
                load_tags();
            }
        }
    });
    // An instance's own job (stop, start, remove) ends under its name: reload the page's status.
    events::on_job_done(move |done| {
        let ours = ctx.status.with_untracked(|s| {
            s.as_ref().is_some_and(|s| {
                s.stages
                    .iter()
                    .any(|st| st.instances.iter().any(|i| i.app == done.app))
            })
        });
        if ours {
            super::reload_status(ctx);
        }
    });
    let stages = move || {
        ctx.status
            .with(|s| s.as_ref().map(|s| s.stages.clone()).unwrap_or_default())
    };

    let answer = Callback::new(move |yes: bool| {
        let asked = ask.get_untracked();
        ask.set(None);
        if !yes {
            return;
        }
        match asked {
            Some(Ask::Deploy { stage, tag }) => start(ctx, JobKind::StageDeploy, stage, Some(tag)),
            Some(Ask::Promote { to, tag, .. }) => start(ctx, JobKind::Promote, to, tag),
            Some(Ask::Remove { instance }) => spawn_local(async move {
                match api::app_rm(&instance, true).await {
                    Ok(()) => {
                        ctx.toasts.ok(format!("{instance} removed"));
                        super::reload_status(ctx);
                    }
                    Err(e) => ctx.toasts.error(&e),
                }
            }),
            None => {}
        }
    });

    view! {
        <section data-testid="stages">
            {move || match image_app.get() {
                Some(false) => view! {
                    <EmptyState
                        testid="stages-git"
                        title="Stages are for image apps"
                        body="A stage runs several tags of an image side by side, each at its own subdomain (dev, rel, prod). This app builds from git: create an image app (Apps → Quick Deploy) to use them."
                    />
                }
                    .into_any(),
                _ => {
                    let list = stages();
                    let n = Some(list.len()).filter(|n| *n > 0);
                    view! {
                        <SectionTitle title="Stages" count=n />
                        {list.is_empty().then(|| view! {
                            <EmptyState
                                testid="empty-stages"
                                title="No stages"
                                body="Without stages the app runs one version. Add a stage to run the tags matching its pattern side by side, each at its own subdomain; promote what ran healthy from one stage to the next."
                            />
                        })}
                        {list
                            .into_iter()
                            .map(|s| view! { <StageCard stage=s tags=tags ask=ask /> })
                            .collect_view()}
                    }
                        .into_any()
                }
            }}
            <Show when=move || is_image.get() || image_app.get() == Some(true)>
                <AddStage on_added=Callback::new(move |()| {
                    super::reload_status(ctx);
                    load_tags();
                }) />
            </Show>
            {move || {
                ask.get()
                    .map(|a| {
                        let (title, body, confirm, danger) = match &a {
                            Ask::Deploy { stage, tag } => (
                                format!("Deploy {tag} to {stage}?"),
                                format!("Stage {stage} deploys only with confirmation. {tag} is pulled on the server and runs as a new instance once healthy."),
                                "Deploy".to_owned(),
                                false,
                            ),
                            Ask::Promote { to, from, tag } => (
                                format!("Promote {} to {to}?", tag.clone().unwrap_or_else(|| format!("the newest healthy tag of {from}"))),
                                format!("The image that ran healthy in {from} runs in {to}, by its digest (even if its tag was pushed again since)."),
                                "Promote".to_owned(),
                                false,
                            ),
                            Ask::Remove { instance } => (
                                format!("Remove {instance}?"),
                                "Its route, container and images are removed; the stage's other instances keep serving.".to_owned(),
                                "Remove".to_owned(),
                                true,
                            ),
                        };
                        view! { <Confirm title body confirm danger on_answer=answer /> }
                    })
            }}
        </section>
    }
}

#[component]
fn StageCard(
    stage: StageStatus,
    tags: RwSignal<Option<Result<Vec<ImageTag>, ErrorDto>>>,
    ask: RwSignal<Option<Ask>>,
) -> impl IntoView {
    let ctx = use_app();
    let name = stage.name.clone();
    let patterns = stage.tags.clone();
    let selected = RwSignal::new(String::new());
    let matching = Memo::new(move |_| match tags.get() {
        Some(Ok(t)) => t
            .into_iter()
            .filter(|t| takes(&patterns, &t.tag))
            .map(|t| t.tag)
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    });
    let tags_note = move || match tags.get() {
        None => "Reading the registry's tags…".to_owned(),
        Some(Err(e)) => format!("Cannot list the registry's tags: {}", e.message),
        Some(Ok(_)) => String::new(),
    };
    let confirm = stage.confirm;
    let deploy_name = name.clone();
    let deploy = move |_| {
        let tag = selected.get_untracked();
        let tag = if tag.is_empty() {
            matching
                .get_untracked()
                .first()
                .cloned()
                .unwrap_or_default()
        } else {
            tag
        };
        if tag.is_empty() {
            return;
        }
        if confirm {
            ask.set(Some(Ask::Deploy {
                stage: deploy_name.clone(),
                tag,
            }));
        } else {
            start(ctx, JobKind::StageDeploy, deploy_name.clone(), Some(tag));
        }
    };
    let promote = stage.promote_from.clone().map(|from| {
        let to = name.clone();
        let newest_in_from = move || {
            ctx.status.with_untracked(|s| {
                s.as_ref().and_then(|s| {
                    s.stages
                        .iter()
                        .find(|st| st.name == from)
                        .and_then(|st| st.instances.iter().find(|i| i.state == "running"))
                        .map(|i| i.tag.clone())
                })
            })
        };
        let from_label = stage.promote_from.clone().unwrap_or_default();
        let from_ask = from_label.clone();
        view! {
            <button
                class="button"
                data-testid="stage-promote"
                disabled=move || ctx.busy()
                title=format!("Run the newest tag that is healthy in {from_label} here, by its digest")
                on:click=move |_| {
                    ask.set(Some(Ask::Promote { to: to.clone(), from: from_ask.clone(), tag: newest_in_from() }))
                }
            >
                {format!("Promote from {}", stage.promote_from.clone().unwrap_or_default())}
            </button>
        }
    });
    let mut pills = vec![
        format!("tags {}", stage.tags),
        format!("up to {}", stage.max_instances),
    ];
    if stage.auto_deploy {
        pills.push("deploys new tags".into());
    }
    if stage.confirm {
        pills.push("asks first".into());
    }
    view! {
        <div class="card wide stage-card" data-testid="stage" data-stage=name.clone()>
            <div class="list-row">
                <span class="strong">{name.clone()}</span>
                {pills.into_iter().map(|p| view! { <span class="pill">{p}</span> }).collect_view()}
                <span class="grow"></span>
                {stage.url.clone().map(|u| view! { <ExternalLink url=u.clone() label=u /> })}
            </div>
            {if stage.instances.is_empty() {
                view! { <p class="muted small" data-testid="no-instances">"Nothing runs in this stage yet."</p> }.into_any()
            } else {
                view! {
                    <div class="list">
                        {stage.instances.clone().into_iter().map(|i| instance_row(ctx, i, ask)).collect_view()}
                    </div>
                }
                    .into_any()
            }}
            <div class="env-form">
                <label class="field grow">
                    <span class="field-label">"Deploy new version"</span>
                    <select
                        data-testid="stage-tag-select"
                        prop:value=move || selected.get()
                        on:change=move |ev| selected.set(event_target_value(&ev))
                    >
                        {move || {
                            matching
                                .get()
                                .into_iter()
                                .map(|t| view! { <option value=t.clone()>{t.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                    <span class="field-hint">{tags_note}</span>
                </label>
                <button
                    class="button primary"
                    data-testid="stage-deploy"
                    disabled=move || ctx.busy() || matching.with(Vec::is_empty)
                    on:click=deploy
                >
                    "Deploy"
                </button>
                {promote}
            </div>
        </div>
    }
}

fn instance_row(ctx: AppCtx, i: InstanceStatus, ask: RwSignal<Option<Ask>>) -> impl IntoView {
    let tone = match i.state.as_str() {
        "running" => "ok",
        "stopped" => "idle",
        "deploying" => "busy",
        _ => "bad",
    };
    let running = i.state == "running";
    let (stop_app, start_app, rm_app) = (i.app.clone(), i.app.clone(), i.app.clone());
    let act = move |app: String, stop: bool| {
        spawn_local(async move {
            let r = if stop {
                api::stop(&app).await
            } else {
                api::start(&app).await
            };
            if let Err(e) = r {
                ctx.toasts.error(&e);
            }
        });
    };
    let digest = i
        .digest
        .as_deref()
        .map(|d| d.chars().take(19).collect::<String>())
        .unwrap_or_default();
    view! {
        <div class="list-row" data-testid="instance" data-tag=i.tag.clone() data-state=i.state.clone()>
            <code class="strong">{i.tag.clone()}</code>
            <code class="muted small" title=i.digest.clone().unwrap_or_default()>{digest}</code>
            <Badge tone=tone text=i.state.clone() />
            <span class="grow ellipsis">
                {i.urls.first().cloned().map(|u| view! { <ExternalLink url=u.clone() label=u /> })}
            </span>
            {if running {
                view! {
                    <button class="button small" data-testid="instance-stop" on:click=move |_| act(stop_app.clone(), true)>
                        "Stop"
                    </button>
                }
                    .into_any()
            } else {
                view! {
                    <button class="button small" data-testid="instance-start" on:click=move |_| act(start_app.clone(), false)>
                        "Start"
                    </button>
                }
                    .into_any()
            }}
            <button
                class="button small ghost danger-text"
                data-testid="instance-rm"
                on:click=move |_| ask.set(Some(Ask::Remove { instance: rm_app.clone() }))
            >
                "Remove"
            </button>
        </div>
    }
}

/// A form that adds a stage (or changes one of the same name).
#[component]
fn AddStage(on_added: Callback<()>) -> impl IntoView {
    let ctx = use_app();
    let name = RwSignal::new(String::new());
    let patterns = RwSignal::new(String::new());
    let max = RwSignal::new("1".to_owned());
    let auto = RwSignal::new(false);
    let confirm = RwSignal::new(false);
    let from = RwSignal::new(String::new());
    let subdomain = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ErrorDto>);
    let saving = RwSignal::new(false);
    let stage_names = move || {
        ctx.status.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.stages
                        .iter()
                        .map(|st| st.name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let add = move || {
        let max_instances = match max.get_untracked().trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                error.set(Some(ErrorDto {
                    code: "invalid".into(),
                    message: "how many instances: a number from 1 to 10".into(),
                }));
                return;
            }
        };
        let draft = StageDraft {
            app: ctx.name(),
            name: name.get_untracked().trim().to_owned(),
            tags: patterns.get_untracked(),
            auto_deploy: auto.get_untracked(),
            max_instances,
            promote_from: Some(from.get_untracked()).filter(|f| !f.is_empty()),
            confirm: confirm.get_untracked(),
            subdomain: Some(subdomain.get_untracked()).filter(|s| !s.trim().is_empty()),
        };
        saving.set(true);
        spawn_local(async move {
            match api::stage_add(&draft).await {
                Ok(s) => {
                    ctx.toasts.ok(format!("stage {} takes {}", s.name, s.tags));
                    for f in [name, patterns, from, subdomain] {
                        f.try_set(String::new());
                    }
                    max.try_set("1".into());
                    auto.try_set(false);
                    confirm.try_set(false);
                    error.try_set(None);
                    on_added.run(());
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            saving.try_set(false);
        });
    };
    view! {
        <form
            class="env-form"
            data-testid="stage-form"
            on:submit=move |ev| {
                ev.prevent_default();
                add();
            }
        >
            <label class="field">
                <span class="field-label">"Stage"</span>
                <input data-testid="stage-name" placeholder="dev" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </label>
            <label class="field grow">
                <span class="field-label">"Tags"</span>
                <input data-testid="stage-tags" placeholder="dev-*" spellcheck="false" prop:value=move || patterns.get() on:input=move |ev| patterns.set(event_target_value(&ev)) />
            </label>
            <label class="field">
                <span class="field-label">"Side by side"</span>
                <input data-testid="stage-max" inputmode="numeric" prop:value=move || max.get() on:input=move |ev| max.set(event_target_value(&ev)) />
            </label>
            <label class="field">
                <span class="field-label">"Promote from"</span>
                <select data-testid="stage-from" prop:value=move || from.get() on:change=move |ev| from.set(event_target_value(&ev))>
                    <option value="">"—"</option>
                    {move || stage_names().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
            <label class="field">
                <span class="field-label">"Subdomain"</span>
                <input data-testid="stage-subdomain" placeholder="(pattern)" prop:value=move || subdomain.get() on:input=move |ev| subdomain.set(event_target_value(&ev)) />
            </label>
            <label class="check">
                <input type="checkbox" data-testid="stage-auto" prop:checked=move || auto.get() on:change=move |ev| auto.set(event_target_checked(&ev)) />
                "Deploy new tags"
            </label>
            <label class="check">
                <input type="checkbox" data-testid="stage-confirm" prop:checked=move || confirm.get() on:change=move |ev| confirm.set(event_target_checked(&ev)) />
                "Ask first"
            </label>
            <button class="button primary" type="submit" data-testid="stage-add" disabled=move || saving.get()>
                "Add stage"
            </button>
        </form>
        <DialogError error=error />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_list_the_tags_their_patterns_take() {
        assert!(takes("dev-*", "dev-4f2a"));
        assert!(takes("dev-*, v*", "v1.2"));
        assert!(!takes("v*", "dev-1"));
    }
}
