//! Toasts: short messages in the corner for results and errors. Every `Err` a screen gets
//! from a command can end up here, so a failure is always visible and never a crash.

use std::time::Duration;

use berth_model::ErrorDto;
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Bad,
    Info,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "toast ok",
            Tone::Bad => "toast bad",
            Tone::Info => "toast info",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Toast {
    id: u64,
    tone: Tone,
    title: String,
    detail: Option<String>,
}

/// The toast list, provided as context by the shell.
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

/// How long a toast stays unless dismissed; errors stay longer.
const SHOW_FOR: Duration = Duration::from_secs(6);
const SHOW_ERRORS_FOR: Duration = Duration::from_secs(12);

impl Toasts {
    pub fn provide() -> Toasts {
        let t = Toasts {
            list: RwSignal::new(Vec::new()),
            next: StoredValue::new(0),
        };
        provide_context(t);
        WINDOW_TOASTS.with(|w| w.set(Some(t)));
        t
    }

    /// A command's failure: its message, with the code underneath.
    pub fn error(&self, e: &ErrorDto) {
        self.push(Tone::Bad, e.message.clone(), Some(e.code.clone()));
    }

    pub fn ok(&self, title: impl Into<String>) {
        self.push(Tone::Ok, title.into(), None);
    }

    pub fn info(&self, title: impl Into<String>) {
        self.push(Tone::Info, title.into(), None);
    }

    fn push(&self, tone: Tone, title: String, detail: Option<String>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| {
            l.push(Toast {
                id,
                tone,
                title,
                detail,
            });
            // Keep the corner readable.
            if l.len() > 4 {
                l.remove(0);
            }
        });
        let this = *self;
        let wait = if tone == Tone::Bad {
            SHOW_ERRORS_FOR
        } else {
            SHOW_FOR
        };
        set_timeout(move || this.dismiss(id), wait);
    }

    fn dismiss(&self, id: u64) {
        self.list.update(|l| l.retain(|t| t.id != id));
    }
}

thread_local! {
    /// The window's toasts, for code that runs outside any component (event callbacks,
    /// spawned tasks, timers), where the context cannot be read.
    static WINDOW_TOASTS: std::cell::Cell<Option<Toasts>> = const { std::cell::Cell::new(None) };
}

/// The toasts of the window, newest last. Works anywhere once the frame has provided them,
/// including in callbacks that run outside a component.
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>()
        .or_else(|| WINDOW_TOASTS.with(std::cell::Cell::get))
        .expect("the frame provides the toasts before any page renders")
}

#[component]
pub fn ToastList() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" role="status" aria-live="polite">
            {move || {
                toasts
                    .list
                    .get()
                    .into_iter()
                    .map(|t| {
                        let id = t.id;
                        view! {
                            <div class=t.tone.class() data-testid="toast">
                                <div class="toast-text">
                                    <div class="toast-title">{t.title}</div>
                                    {t.detail.map(|d| view! { <div class="toast-detail">{d}</div> })}
                                </div>
                                <button
                                    class="icon-button"
                                    title="Dismiss"
                                    on:click=move |_| toasts.dismiss(id)
                                >
                                    "×"
                                </button>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
