//! A log box shared by the build log, stored build logs and the container log: ANSI colours,
//! search highlights, and a tail that follows new lines until the user scrolls up (then a
//! "Jump to latest" pill brings it back).

use std::time::Duration;

use leptos::prelude::*;

use crate::loglines::{self, Line, LineKind, LogLines};

/// Lines arriving in bursts (a build prints hundreds at once) are added together, at most
/// this often, so the view updates once per batch.
const FLUSH_EVERY: Duration = Duration::from_millis(80);

/// How close to the bottom (in pixels) still counts as "at the bottom".
const AT_BOTTOM: i32 = 24;

/// A log's lines plus the lines waiting to be added.
#[derive(Clone, Copy)]
pub struct LogFeed {
    pub lines: RwSignal<LogLines>,
    pending: StoredValue<Vec<(String, LineKind)>>,
    scheduled: StoredValue<bool>,
}

impl Default for LogFeed {
    fn default() -> Self {
        LogFeed::new()
    }
}

impl LogFeed {
    pub fn new() -> LogFeed {
        LogFeed {
            lines: RwSignal::new(LogLines::new(loglines::DEFAULT_CAP)),
            pending: StoredValue::new(Vec::new()),
            scheduled: StoredValue::new(false),
        }
    }

    /// Queues a line; the view gets it with the next batch.
    pub fn push(&self, text: impl Into<String>, kind: LineKind) {
        let text = text.into();
        if self
            .pending
            .try_update_value(|p| p.push((text, kind)))
            .is_none()
        {
            return;
        }
        if self.scheduled.try_get_value() == Some(false) {
            self.scheduled.set_value(true);
            let this = *self;
            set_timeout(move || this.flush(), FLUSH_EVERY);
        }
    }

    fn flush(&self) {
        let Some(batch) = self.pending.try_update_value(std::mem::take) else {
            return;
        };
        self.scheduled.try_set_value(false);
        if batch.is_empty() {
            return;
        }
        self.lines.try_update(|l| {
            for (text, kind) in &batch {
                l.push(text, *kind);
            }
        });
    }

    /// Replaces everything with `lines` at once.
    pub fn replace(&self, lines: &[String]) {
        self.pending.try_update_value(Vec::clear);
        self.lines.try_update(|l| {
            l.clear();
            for text in lines {
                l.push(text, LineKind::Out);
            }
        });
    }

    pub fn clear(&self) {
        self.replace(&[]);
    }
}

/// The log box. `query` filters the lines and highlights its matches; `empty` is what an
/// empty log says.
#[component]
pub fn LogView(
    lines: RwSignal<LogLines>,
    #[prop(into)] testid: String,
    #[prop(optional, into)] query: Option<Signal<String>>,
    #[prop(into)] empty: String,
    /// A shorter box (for stored logs inside the history).
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let query = query.unwrap_or_else(|| Signal::stored(String::new()));
    let following = RwSignal::new(true);
    let scroller = NodeRef::<leptos::html::Div>::new();

    let to_bottom = move || {
        request_animation_frame(move || {
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    };
    // New lines (or a new search) while following: stay at the bottom.
    Effect::new(move |_| {
        lines.track();
        query.track();
        if following.get_untracked() {
            to_bottom();
        }
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            let at_bottom = gap <= AT_BOTTOM;
            if following.get_untracked() != at_bottom {
                following.set(at_bottom);
            }
        }
    };
    let shown = Memo::new(move |_| {
        let q = query.get();
        lines.with(|l| l.filtered(q.trim()))
    });
    let dropped = move || lines.with(|l| l.dropped());

    view! {
        <div class="log-wrap" class:compact=compact>
            <div class="log-box" node_ref=scroller on:scroll=on_scroll data-testid=testid>
                {move || {
                    (dropped() > 0)
                        .then(|| {
                            view! {
                                <div class="log-line note">
                                    {format!("… {} earlier lines not kept", dropped())}
                                </div>
                            }
                        })
                }}
                <For
                    each=move || shown.get()
                    key=|line| line.id
                    children=move |line| line_view(line, query)
                />
                {move || {
                    shown
                        .with(Vec::is_empty)
                        .then(|| {
                            let text = if query.with(|q| q.trim().is_empty()) {
                                empty.clone()
                            } else {
                                "No lines match.".to_owned()
                            };
                            view! { <div class="log-empty">{text}</div> }
                        })
                }}
            </div>
            <Show when=move || !following.get()>
                <button
                    class="log-follow"
                    data-testid="log-follow"
                    on:click=move |_| {
                        following.set(true);
                        to_bottom();
                    }
                >
                    "↓ Jump to latest"
                </button>
            </Show>
        </div>
    }
}

fn line_view(line: std::sync::Arc<Line>, query: Signal<String>) -> impl IntoView {
    let class = match line.kind {
        LineKind::Out => "log-line",
        LineKind::Err => "log-line err",
        LineKind::Note => "log-line note",
    };
    view! {
        <div class=class>
            {move || {
                let q = query.get();
                let hits = loglines::find_all(&line.text, q.trim());
                loglines::highlight(&line.spans, &hits)
                    .into_iter()
                    .map(|piece| {
                        let classes = piece.span.style.classes();
                        let inline = piece.span.style.inline();
                        let text = piece.span.text;
                        let styled = if classes.is_empty() && inline.is_empty() {
                            text.into_any()
                        } else {
                            view! {
                                <span
                                    class=(!classes.is_empty()).then_some(classes)
                                    style=(!inline.is_empty()).then_some(inline)
                                >
                                    {text}
                                </span>
                            }
                                .into_any()
                        };
                        if piece.hit {
                            view! { <mark class="log-hit">{styled}</mark> }.into_any()
                        } else {
                            styled
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
