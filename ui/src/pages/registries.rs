//! Registries in Settings: the logins Berth pulls images with (the password or token goes to
//! the keychain), each testable through a server's Docker, with a browser of a repository's
//! tags, newest first.

use berth_model::{ErrorDto, ImageTag, Registry, RegistryDraft};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::toast::use_toasts;
use crate::widgets::{Confirm, DialogError, EmptyState, Loading, SectionTitle, now_ms};
use crate::{api, format};

#[component]
pub fn Registries() -> impl IntoView {
    let toasts = use_toasts();
    let list = RwSignal::new(None::<Vec<Registry>>);
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ErrorDto>);
    let saving = RwSignal::new(false);
    let removing = RwSignal::new(None::<String>);
    // Per registry: the last test's answer, and the open tag browser.
    let tested = RwSignal::new(Vec::<(String, Result<String, String>)>::new());
    let browsing = RwSignal::new(None::<String>);

    // How often registries are polled for new tags (seconds, 0: never).
    let poll = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(secs) = api::poll_interval().await {
            poll.try_set(secs.to_string());
        }
    });
    let save_poll = move || {
        let Ok(secs) = poll.get_untracked().trim().parse::<u64>() else {
            toasts.error(&ErrorDto {
                code: "invalid".into(),
                message: "the polling interval is a number of seconds (0: never)".into(),
            });
            return;
        };
        spawn_local(async move {
            match api::set_poll_interval(secs).await {
                Ok(warnings) => {
                    toasts.ok(match secs {
                        0 => "registries are not polled".to_owned(),
                        s => format!("registries are polled every {s} s"),
                    });
                    for w in warnings {
                        toasts.info(w);
                    }
                }
                Err(e) => toasts.error(&e),
            }
        });
    };

    let load = move || {
        spawn_local(async move {
            match api::registries().await {
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

    let add = move || {
        let draft = RegistryDraft {
            name: name.get_untracked().trim().to_owned(),
            url: url.get_untracked().trim().to_owned(),
            username: user.get_untracked().trim().to_owned(),
        };
        let secret = password.get_untracked();
        saving.set(true);
        spawn_local(async move {
            match api::registry_add(&draft, &secret).await {
                Ok(r) => {
                    toasts.ok(format!(
                        "registry {} saved ({} as {})",
                        r.name, r.host, r.username
                    ));
                    for s in [name, url, user, password] {
                        s.try_set(String::new());
                    }
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

    let test = move |registry: String| {
        spawn_local(async move {
            let answer = match api::registry_test(&registry, "").await {
                Ok(server) => Ok(format!("{server} logged in")),
                Err(e) => Err(e.message),
            };
            tested.try_update(|t| {
                t.retain(|(n, _)| n != &registry);
                t.push((registry.clone(), answer));
            });
        });
    };

    let row = move |r: Registry| {
        let (n1, n2, n3) = (r.name.clone(), r.name.clone(), r.name.clone());
        let n4 = r.name.clone();
        let answer = move || {
            tested.with(|t| {
                t.iter()
                    .find(|(n, _)| n == &n4)
                    .map(|(_, a)| match a {
                        Ok(ok) => view! { <span class="ok-text small" data-testid="registry-test-result">{format!("✓ {ok}")}</span> }.into_any(),
                        Err(e) => view! { <span class="danger-text small" data-testid="registry-test-result">{e.clone()}</span> }.into_any(),
                    })
            })
        };
        view! {
            <div class="list-row" data-testid="registry-row" data-registry=r.name.clone()>
                <span class="strong">{r.name.clone()}</span>
                <code>{r.host.clone()}</code>
                <span class="muted">{format!("as {}", r.username)}</span>
                <span class="muted small">{format!("added {}", format::ago(now_ms(), r.created_at_ms))}</span>
                <span class="grow">{answer}</span>
                <button class="button small" data-testid="registry-test" on:click=move |_| test(n1.clone())>
                    "Test"
                </button>
                <button class="button small" data-testid="registry-tags" on:click=move |_| browsing.set(Some(n2.clone()))>
                    "Tags"
                </button>
                <button class="button small ghost danger-text" data-testid="registry-rm" on:click=move |_| removing.set(Some(n3.clone()))>
                    "Remove"
                </button>
            </div>
        }
    };

    view! {
        <section data-testid="registries">
            {move || {
                let n = list.with(|l| l.as_ref().map(Vec::len).filter(|n| *n > 0));
                view! { <SectionTitle title="Registries" count=n /> }
            }}
            {move || match list.get() {
                None => view! { <Loading rows=1 /> }.into_any(),
                Some(l) if l.is_empty() => view! {
                    <EmptyState
                        testid="empty-registries"
                        title="No registries"
                        body="Public images need none. For a private registry add its login: Berth passes it to the server's Docker with each pull and never stores it there."
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
                    <span class="field-label">"Name"</span>
                    <input data-testid="registry-name" placeholder="ghcr" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label class="field grow">
                    <span class="field-label">"Registry"</span>
                    <input data-testid="registry-url" placeholder="ghcr.io" spellcheck="false" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
                </label>
                <label class="field">
                    <span class="field-label">"Username"</span>
                    <input data-testid="registry-user" autocomplete="off" prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev)) />
                </label>
                <label class="field">
                    <span class="field-label">"Password or token"</span>
                    <input data-testid="registry-password" type="password" autocomplete="off" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                </label>
                <button class="button primary" type="submit" data-testid="registry-add" disabled=move || saving.get()>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
            </form>
            <div class="form-foot">
                <span class="field-hint">"Saving a registry with an existing name replaces its login."</span>
            </div>
            <form
                class="env-form"
                data-testid="poll-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save_poll();
                }
            >
                <label class="field">
                    <span class="field-label">"Look for new tags every (seconds)"</span>
                    <input data-testid="poll-secs" inputmode="numeric" prop:value=move || poll.get() on:input=move |ev| poll.set(event_target_value(&ev)) />
                </label>
                <button class="button" type="submit" data-testid="poll-save">"Save"</button>
            </form>
            <div class="form-foot">
                <span class="field-hint">"For registries that cannot call a webhook: the desktop and berth watch look this often, and so does the server's relay for apps with an unattended webhook. 0 turns polling off."</span>
            </div>
            <DialogError error=error />
            {move || browsing.get().map(|r| view! { <TagBrowser registry=r on_close=Callback::new(move |()| browsing.set(None)) /> })}
            {move || {
                removing
                    .get()
                    .map(|r| {
                        let target = r.clone();
                        view! {
                            <Confirm
                                title=format!("Remove registry {r}?")
                                body="Its login is deleted from the keychain. Image apps on it must be removed first."
                                confirm="Remove"
                                danger=true
                                on_answer=Callback::new(move |yes: bool| {
                                    removing.set(None);
                                    if !yes {
                                        return;
                                    }
                                    let r = target.clone();
                                    spawn_local(async move {
                                        match api::registry_rm(&r).await {
                                            Ok(()) => {
                                                toasts.ok(format!("registry {r} removed"));
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

/// A repository's tags on a registry, newest build first.
#[component]
fn TagBrowser(registry: String, on_close: Callback<()>) -> impl IntoView {
    let repository = RwSignal::new(String::new());
    let tags = RwSignal::new(None::<Result<Vec<ImageTag>, ErrorDto>>);
    let loading = RwSignal::new(false);
    let reg = StoredValue::new(registry.clone());
    let list = move || {
        let repo = repository.get_untracked().trim().to_owned();
        if repo.is_empty() {
            return;
        }
        loading.set(true);
        spawn_local(async move {
            let r = api::registry_tags(&reg.get_value(), &repo, "").await;
            tags.try_set(Some(r));
            loading.try_set(false);
        });
    };
    view! {
        <div class="card wide" data-testid="tag-browser">
            <form
                class="env-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    list();
                }
            >
                <label class="field grow">
                    <span class="field-label">{format!("Repository on {registry}")}</span>
                    <input data-testid="tags-repository" placeholder="acme/web" spellcheck="false" prop:value=move || repository.get() on:input=move |ev| repository.set(event_target_value(&ev)) />
                </label>
                <button class="button primary" type="submit" data-testid="tags-list" disabled=move || loading.get()>
                    {move || if loading.get() { "Listing…" } else { "List tags" }}
                </button>
                <button class="button" type="button" on:click=move |_| on_close.run(())>"Close"</button>
            </form>
            {move || match tags.get() {
                None => ().into_any(),
                Some(Err(e)) => view! { <p class="danger-text" data-testid="tags-error">{e.message}</p> }.into_any(),
                Some(Ok(t)) if t.is_empty() => view! { <p class="muted">"No tags."</p> }.into_any(),
                Some(Ok(t)) => {
                    let now = now_ms();
                    view! {
                        <div class="list">
                            {t
                                .into_iter()
                                .map(|t| {
                                    view! {
                                        <div class="list-row" data-testid="tag-row" data-tag=t.tag.clone()>
                                            <code class="strong">{t.tag.clone()}</code>
                                            <span class="muted small">{t.created_ms.map(|c| format!("built {}", format::ago(now, c))).unwrap_or_default()}</span>
                                            <code class="muted small ellipsis grow">{t.digest.clone().unwrap_or_default()}</code>
                                            <span class="pill">{t.platforms.join(" ")}</span>
                                        </div>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
