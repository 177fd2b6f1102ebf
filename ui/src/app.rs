//! The window's frame: the sidebar, the page being shown, the keychain banner and the toasts.
//! Pages live in `pages/`; navigation is a signal in context (no URLs: the shell serves one page).

use berth_model::ErrorDto;
use berth_model::view::SecretsInfo;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pages;
use crate::toast::{ToastList, Toasts};
use crate::widgets::{Icon, Logo};
use crate::{api, events, format};

/// What the main area shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Overview,
    Servers,
    Apps,
    /// One app's page.
    App(String),
    Services,
    /// One service's page (the app page with a service's tabs).
    Service(String),
    /// Apps and services grouped, with their shared variables.
    Projects,
    Settings,
}

impl Page {
    /// The sidebar entry this page belongs to.
    fn section(&self) -> Page {
        match self {
            Page::App(_) => Page::Apps,
            Page::Service(_) => Page::Services,
            other => other.clone(),
        }
    }
}

/// Navigation, provided as context.
#[derive(Clone, Copy)]
pub struct Nav(RwSignal<Page>);

impl Nav {
    pub fn go(&self, page: Page) {
        self.0.set(page);
    }

    pub fn page(&self) -> Page {
        self.0.get()
    }
}

pub fn use_nav() -> Nav {
    expect_context::<Nav>()
}

#[component]
pub fn App() -> impl IntoView {
    let nav = Nav(RwSignal::new(Page::Overview));
    provide_context(nav);
    let toasts = Toasts::provide();
    events::on_job_done(move |done| {
        if done.ok {
            let took = format::duration(done.duration_ms);
            toasts.ok(format!("{} ({took})", done.message));
        } else if done.cancelled {
            toasts.info(done.message);
        } else {
            toasts.error(&ErrorDto {
                code: format!("{} failed", done.kind.as_str()),
                message: done.message,
            });
        }
    });
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if let Some(action) = shortcut(&ev.key(), ev.ctrl_key() || ev.meta_key(), ev.alt_key()) {
            ev.prevent_default();
            match action {
                Shortcut::Go(page) => nav.go(page),
                Shortcut::HideWindow => spawn_local(async move {
                    if let Err(e) = api::hide_window().await {
                        toasts.error(&e);
                    }
                }),
            }
        }
    });
    on_cleanup(move || keys.remove());
    view! {
        <div class="shell">
            <Sidebar />
            <main class="content">
                <KeychainBanner />
                {move || match nav.page() {
                    Page::Overview => view! { <pages::overview::Overview /> }.into_any(),
                    Page::Servers => view! { <pages::servers::Servers /> }.into_any(),
                    Page::Apps => view! { <pages::apps::Apps /> }.into_any(),
                    Page::App(name) => view! { <pages::app::AppPage name /> }.into_any(),
                    Page::Services => view! { <pages::services::Services /> }.into_any(),
                    Page::Service(name) => {
                        view! { <pages::app::AppPage name service=true /> }.into_any()
                    }
                    Page::Projects => view! { <pages::projects::Projects /> }.into_any(),
                    Page::Settings => view! { <pages::settings::Settings /> }.into_any(),
                }}
            </main>
            <ToastList />
        </div>
    }
}

/// What a keyboard shortcut does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shortcut {
    Go(Page),
    HideWindow,
}

/// The window's shortcuts, with Ctrl (Cmd on macOS): 1 Overview, 2 Servers, 3 Apps,
/// 4 Services, `,` Settings, W closes the window (Berth stays in the tray).
fn shortcut(key: &str, ctrl_or_cmd: bool, alt: bool) -> Option<Shortcut> {
    if !ctrl_or_cmd || alt {
        return None;
    }
    Some(match key {
        "1" => Shortcut::Go(Page::Overview),
        "2" => Shortcut::Go(Page::Servers),
        "3" => Shortcut::Go(Page::Apps),
        "4" => Shortcut::Go(Page::Services),
        "," => Shortcut::Go(Page::Settings),
        "w" | "W" => Shortcut::HideWindow,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_need_ctrl_or_cmd() {
        assert_eq!(
            shortcut("2", true, false),
            Some(Shortcut::Go(Page::Servers))
        );
        assert_eq!(shortcut("w", true, false), Some(Shortcut::HideWindow));
        assert_eq!(
            shortcut("w", false, false),
            None,
            "typing a w is not a shortcut"
        );
        assert_eq!(shortcut("1", true, true), None);
        assert_eq!(shortcut("x", true, false), None);
    }
}

#[component]
fn Sidebar() -> impl IntoView {
    let nav = use_nav();
    let item = move |page: Page, label: &'static str, icon: Icon| {
        let target = page.clone();
        let current = move || nav.page().section() == page;
        view! {
            <button
                class="nav-item"
                class:active=current.clone()
                aria-current=move || current().then_some("page")
                data-testid=format!("nav-{}", label.to_lowercase())
                on:click=move |_| nav.go(target.clone())
            >
                {icon.view()}
                <span>{label}</span>
            </button>
        }
    };
    view! {
        <nav class="sidebar">
            <div class="brand">
                <Logo />
                <span class="brand-name">"Berth"</span>
            </div>
            {item(Page::Overview, "Overview", Icon::Overview)}
            {item(Page::Servers, "Servers", Icon::Server)}
            {item(Page::Apps, "Apps", Icon::App)}
            {item(Page::Services, "Services", Icon::Database)}
            {item(Page::Projects, "Projects", Icon::Project)}
            <div class="sidebar-spacer"></div>
            {item(Page::Settings, "Settings", Icon::Settings)}
        </nav>
    }
}

/// Shown on every page when the OS keychain cannot be used: says why, and offers the explicit
/// file fallback.
#[component]
fn KeychainBanner() -> impl IntoView {
    let toasts = crate::toast::use_toasts();
    let info = RwSignal::new(None::<SecretsInfo>);
    spawn_local(async move {
        match api::secrets_info().await {
            Ok(i) => info.set(Some(i)),
            Err(e) => toasts.error(&e),
        }
    });
    let use_file = move |_| {
        spawn_local(async move {
            match api::use_file_secrets().await {
                Ok(i) => {
                    toasts.ok(format!(
                        "Secrets are now kept in {}",
                        i.file.clone().unwrap_or_default()
                    ));
                    info.set(Some(i));
                }
                Err(e) => toasts.error(&e),
            }
        })
    };
    move || {
        info.get().filter(|i| !i.available).map(|i| {
            view! {
                <div class="banner warn" data-testid="keychain-banner">
                    <div>
                        <strong>"No keychain service is available."</strong>
                        " Berth keeps key passphrases and secret env values only in the OS keychain, so it cannot store them right now. "
                        <span class="muted">{i.message.unwrap_or_default()}</span>
                    </div>
                    <button class="button" on:click=use_file>
                        "Keep secrets in a file instead"
                    </button>
                </div>
            }
        })
    }
}
