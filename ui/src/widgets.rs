//! Small pieces every page uses: icons, the logo, state badges, section headers, loading,
//! empty and error states, links that open in the user's browser.

use berth_model::ErrorDto;
use leptos::prelude::*;
use leptos::task::spawn_local;

use wasm_bindgen::JsCast;

use crate::api;
use crate::toast::use_toasts;

/// Now, in Unix milliseconds (pages pass it to `format::ago`).
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Line icons (24×24, stroke `currentColor`).
#[derive(Debug, Clone, Copy)]
pub enum Icon {
    Overview,
    Server,
    App,
    Database,
    Project,
    Settings,
    Refresh,
    External,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Icon::Overview => "M4 4h7v7H4zM13 4h7v4h-7zM13 10h7v10h-7zM4 13h7v7H4z",
            Icon::Server => "M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01",
            Icon::App => "M12 3l8 4.5v9L12 21l-8-4.5v-9zM12 12l8-4.5M12 12v9M12 12L4 7.5",
            Icon::Database => {
                "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3"
            }
            Icon::Project => "M3 7h7l2 2h9v10H3zM3 7V5h6l2 2",
            Icon::Settings => "M4 7h10M18 7h2M4 17h2M10 17h10M16 5v4M8 15v4",
            Icon::Refresh => "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
            Icon::External => "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6",
        }
    }

    pub fn view(self) -> impl IntoView {
        view! {
            <svg
                class="icon"
                viewBox="0 0 24 24"
                fill="none"
                stroke="currentColor"
                stroke-width="1.8"
                stroke-linecap="round"
                stroke-linejoin="round"
                aria-hidden="true"
            >
                <path d=self.path() />
            </svg>
        }
    }
}

/// The Berth mark: an anchor in a rounded square (the same drawing as the app icon).
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 64 64" aria-hidden="true">
            <rect x="2" y="2" width="60" height="60" rx="14" fill="var(--accent)" />
            <g
                fill="none"
                stroke="#fff"
                stroke-width="5"
                stroke-linecap="round"
                stroke-linejoin="round"
            >
                <circle cx="32" cy="15" r="5" />
                <path d="M32 20v30M22 29h20M14 38c2 9 9 14 18 14s16-5 18-14M14 38l-3 4M14 38l5 2M50 38l3 4M50 38l-5 2" />
            </g>
        </svg>
    }
}

/// How a server's address reads: its SSH target, or "This computer's Docker".
pub fn server_address(address: &str) -> String {
    if address == "local" {
        "This computer's Docker".to_owned()
    } else {
        address.to_owned()
    }
}

/// A coloured state label; `tone` is `ok`, `warn`, `bad`, `busy` or `idle`.
#[component]
pub fn Badge(tone: &'static str, #[prop(into)] text: String) -> impl IntoView {
    view! {
        <span class=format!("badge {tone}")>
            <span class="dot"></span>
            {text}
        </span>
    }
}

/// A page title with optional actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div>
                <h1>{title}</h1>
                {subtitle.map(|s| view! { <p class="muted">{s}</p> })}
            </div>
            <div class="actions">{children.map(|c| c())}</div>
        </header>
    }
}

/// A refresh button that spins while `busy`.
#[component]
pub fn RefreshButton(busy: Signal<bool>, on_click: impl Fn() + 'static) -> impl IntoView {
    view! {
        <button
            class="button ghost"
            class:spinning=move || busy.get()
            data-testid="refresh"
            on:click=move |_| on_click()
        >
            {Icon::Refresh.view()}
            <span>"Refresh"</span>
        </button>
    }
}

/// A section title with a count.
#[component]
pub fn SectionTitle(#[prop(into)] title: String, count: Option<usize>) -> impl IntoView {
    view! {
        <h2 class="section-title">
            {title}
            {count.map(|n| view! { <span class="count">{n}</span> })}
        </h2>
    }
}

/// What a section shows when it has nothing yet: a sentence and the way forward.
#[component]
pub fn EmptyState(
    #[prop(into)] title: String,
    #[prop(into)] body: String,
    #[prop(into)] testid: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="empty" data-testid=testid>
            <div class="empty-title">{title}</div>
            <p class="muted">{body}</p>
            {children.map(|c| c())}
        </div>
    }
}

/// Placeholder rows while the first answer is on its way.
#[component]
pub fn Loading(#[prop(default = 3)] rows: usize) -> impl IntoView {
    view! {
        <div class="loading" data-testid="loading" aria-busy="true">
            {(0..rows).map(|_| view! { <div class="skeleton"></div> }).collect_view()}
        </div>
    }
}

/// A page that could not load: the error and a retry.
#[component]
pub fn ErrorState(error: ErrorDto, retry: impl Fn() + 'static) -> impl IntoView {
    view! {
        <div class="empty error-state" data-testid="error-state">
            <div class="empty-title">"Could not load this page"</div>
            <p>{error.message}</p>
            <p class="muted code">{error.code}</p>
            <button class="button" on:click=move |_| retry()>
                "Try again"
            </button>
        </div>
    }
}

/// A URL that opens in the user's browser (the window itself never navigates away).
#[component]
pub fn ExternalLink(#[prop(into)] url: String, #[prop(into)] label: String) -> impl IntoView {
    let toasts = use_toasts();
    let href = url.clone();
    view! {
        <a
            class="external"
            href=href
            title=url.clone()
            on:click=move |ev| {
                ev.prevent_default();
                let url = url.clone();
                spawn_local(async move {
                    if let Err(e) = api::open_url(&url).await {
                        toasts.error(&e);
                    }
                });
            }
        >
            {label}
            {Icon::External.view()}
        </a>
    }
}

/// What a page has loaded: `None` while loading, then the answer.
pub type Loaded<T> = RwSignal<Option<Result<T, ErrorDto>>>;

/// Runs `fut` and stores its answer in `into`; an error also goes to the toasts.
pub fn fetch<T, F>(into: Loaded<T>, fut: F)
where
    T: Send + Sync + 'static,
    F: std::future::Future<Output = Result<T, ErrorDto>> + 'static,
{
    let toasts = use_toasts();
    spawn_local(async move {
        let answer = fut.await;
        if let Err(e) = &answer {
            toasts.error(e);
        }
        into.set(Some(answer));
    });
}

/// A dialog over the page: a title, its body, and its buttons in the footer. Escape and a
/// click on the backdrop call `on_close`; the first field (or button) gets the focus, and Tab
/// stays inside the dialog while it is open.
#[component]
pub fn Modal(
    #[prop(into)] title: String,
    #[prop(into)] testid: String,
    on_close: Callback<()>,
    children: Children,
    #[prop(optional)] footer: Option<Children>,
    /// `wide` for forms with two columns.
    #[prop(optional)]
    wide: bool,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    // Focus the first field once the dialog is in the page.
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let first = el
                .query_selector("input:not([disabled]), select, textarea, button.primary")
                .ok()
                .flatten();
            if let Some(first) = first.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = first.focus();
            }
        }
    });
    let on_key = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.stop_propagation();
            on_close.run(());
        } else if ev.key() == "Tab" {
            trap_tab(&ev, dialog.get());
        }
    };
    view! {
        <div
            class="backdrop"
            on:mousedown=move |ev| {
                if ev.target() == ev.current_target() {
                    on_close.run(());
                }
            }
        >
            <div
                class="dialog"
                class:wide=wide
                role="dialog"
                aria-modal="true"
                aria-label=title
                data-testid=testid
                node_ref=dialog
                on:keydown=on_key
            >
                <div class="dialog-head">
                    <h2>{title.clone()}</h2>
                    <button class="icon-button" aria-label="Close" on:click=move |_| on_close.run(())>
                        "×"
                    </button>
                </div>
                <div class="dialog-body">{children()}</div>
                {footer.map(|f| view! { <div class="dialog-foot">{f()}</div> })}
            </div>
        </div>
    }
}

/// Keeps Tab and Shift+Tab cycling through the dialog's focusable elements.
fn trap_tab(ev: &web_sys::KeyboardEvent, dialog: Option<web_sys::HtmlDivElement>) {
    let Some(dialog) = dialog else { return };
    let Ok(list) = dialog.query_selector_all(
        "button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), a[href]",
    ) else {
        return;
    };
    let len = list.length();
    if len == 0 {
        return;
    }
    let focusable = |i: u32| {
        list.item(i)
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    };
    let active = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element());
    let first = focusable(0);
    let last = focusable(len - 1);
    let is = |el: &Option<web_sys::HtmlElement>| match (el, &active) {
        (Some(el), Some(active)) => {
            let el: &web_sys::Element = el;
            el == active
        }
        _ => false,
    };
    let target = if ev.shift_key() && is(&first) {
        last
    } else if !ev.shift_key() && is(&last) {
        first
    } else {
        None
    };
    if let Some(t) = target {
        ev.prevent_default();
        let _ = t.focus();
    }
}

/// A yes/no question before something that cannot be undone (remove, roll back). `confirm`
/// is the label of the button that does it; `danger` paints it red.
#[component]
pub fn Confirm(
    #[prop(into)] title: String,
    #[prop(into)] body: String,
    #[prop(into)] confirm: String,
    #[prop(optional)] danger: bool,
    on_answer: Callback<bool>,
    /// Options under the text (a checkbox that changes what confirming does).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <Modal
            title
            testid="confirm-dialog"
            on_close=Callback::new(move |()| on_answer.run(false))
            footer=Box::new(move || {
                view! {
                    <button class="button" data-testid="confirm-cancel" on:click=move |_| on_answer.run(false)>
                        "Cancel"
                    </button>
                    <button
                        class="button primary"
                        class:danger=danger
                        data-testid="confirm-ok"
                        on:click=move |_| on_answer.run(true)
                    >
                        {confirm.clone()}
                    </button>
                }
                    .into_any()
            })
        >
            <p>{body}</p>
            {children.map(|c| c())}
        </Modal>
    }
}

/// A labelled form field: the label above, the control, and a hint or an error below.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] error: Option<Signal<Option<String>>>,
    children: Children,
) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            {children()}
            {hint.map(|h| view! { <span class="field-hint">{h}</span> })}
            {move || {
                error
                    .and_then(|e| e.get())
                    .map(|e| view! { <span class="field-error">{e}</span> })
            }}
        </label>
    }
}

/// Why a dialog's last attempt failed, shown inside the dialog (nothing was changed): the
/// message a user can act on, with the error's code underneath.
#[component]
pub fn DialogError(#[prop(into)] error: Signal<Option<ErrorDto>>) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    // A long form scrolls: bring the error into sight when it appears.
    Effect::new(move |_| {
        if let Some(el) = node.get() {
            el.scroll_into_view_with_bool(false);
        }
    });
    move || {
        error.get().map(|e| {
            view! {
                <div class="dialog-error" role="alert" data-testid="dialog-error" node_ref=node>
                    <div>{e.message}</div>
                    <div class="code small">{e.code}</div>
                </div>
            }
        })
    }
}
