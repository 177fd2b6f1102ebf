//! The Logs tab: the running container's output, live. Follows from the last lines on, can
//! be paused (the stream stops) and searched; after a deploy, rollback, restart or start it
//! follows the new container. The stream is stopped when the tab closes.

use std::sync::{Arc, Mutex};

use berth_model::AppState;
use berth_model::view::{JobKind, LogEnd, LogLine};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::log_view::{LogFeed, LogView};
use super::use_app;
use crate::loglines::LineKind;
use crate::toast::use_toasts;
use crate::widgets::EmptyState;
use crate::{api, events};

/// How many earlier lines a new stream starts with.
const TAIL: usize = 200;
/// Lines kept while the stream's id is on its way (they can arrive before it).
const EARLY_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Live {
    Connecting,
    Following,
    Paused,
    /// The stream ended by itself: the container stopped, or following failed.
    Ended(Option<String>),
}

/// The stream being followed, shared with the event handlers and the async tasks (which can
/// outlive the component: no reactive values in here).
#[derive(Default)]
struct Stream {
    id: Option<String>,
    /// A `follow_logs` call is on its way; each call gets a new number, so a stale answer
    /// is recognised and its stream stopped.
    request: u64,
    waiting: bool,
    early: Vec<LogLine>,
    closed: bool,
}

type Shared = Arc<Mutex<Stream>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Stream> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn stop_stream(id: String) {
    spawn_local(async move {
        let _ = api::stop_logs(&id).await;
    });
}

#[component]
pub fn ContainerLog() -> impl IntoView {
    let ctx = use_app();
    // Nothing to follow when nothing was deployed or the app is stopped.
    let loggable = Memo::new(move |_| {
        !matches!(
            ctx.state(),
            None | Some(AppState::NeverDeployed) | Some(AppState::Stopped)
        )
    });
    move || {
        if loggable.get() {
            view! { <LiveLog /> }.into_any()
        } else {
            let stopped = ctx.state() == Some(AppState::Stopped);
            let (title, body) = if stopped {
                (
                    "The app is stopped",
                    "Start it to see its output here. Earlier output is in the container until the next deploy.",
                )
            } else {
                (
                    "No container yet",
                    "Deploy the app: its output (stdout and stderr) streams here live.",
                )
            };
            view! {
                <section data-testid="container-log-section">
                    <EmptyState testid="container-log" title body />
                </section>
            }
            .into_any()
        }
    }
}

#[component]
fn LiveLog() -> impl IntoView {
    let ctx = use_app();
    let toasts = use_toasts();
    let feed = LogFeed::new();
    let live = RwSignal::new(Live::Connecting);
    let query = RwSignal::new(String::new());
    let stream: Shared = Arc::new(Mutex::new(Stream::default()));

    let follow = {
        let stream = stream.clone();
        move || {
            let request = {
                let mut s = lock(&stream);
                if s.closed {
                    return;
                }
                if let Some(old) = s.id.take() {
                    stop_stream(old);
                }
                s.request += 1;
                s.waiting = true;
                s.early.clear();
                s.request
            };
            feed.clear();
            live.set(Live::Connecting);
            let stream = stream.clone();
            let app = ctx.name();
            spawn_local(async move {
                let answer = api::follow_logs(&app, TAIL).await;
                let mut s = lock(&stream);
                if s.request != request {
                    // A newer request (or the component's end) replaced this one.
                    if let Ok(id) = answer {
                        stop_stream(id);
                    }
                    return;
                }
                s.waiting = false;
                match answer {
                    Ok(id) if s.closed => stop_stream(id),
                    Ok(id) => {
                        for l in s.early.drain(..).filter(|l| l.stream == id) {
                            let kind = kind_of(&l);
                            feed.push(l.text, kind);
                        }
                        s.id = Some(id);
                        live.try_set(Live::Following);
                    }
                    Err(e) => {
                        toasts.error(&e);
                        live.try_set(Live::Ended(Some(e.message)));
                    }
                }
            });
        }
    };
    let follow = StoredValue::new_local(follow);
    let start = move || {
        follow.try_with_value(|f| f());
    };

    let on_line = {
        let stream = stream.clone();
        move |l: LogLine| {
            if l.app != ctx.name() {
                return;
            }
            let mut s = lock(&stream);
            if s.id.as_deref() == Some(l.stream.as_str()) {
                let kind = kind_of(&l);
                feed.push(l.text, kind);
            } else if s.waiting && s.early.len() < EARLY_MAX {
                s.early.push(l);
            }
        }
    };
    let on_end = {
        let stream = stream.clone();
        move |end: LogEnd| {
            let mut s = lock(&stream);
            if s.id.as_deref() != Some(end.stream.as_str()) {
                return;
            }
            s.id = None;
            let note = match &end.error {
                Some(e) => format!("— the log stream failed: {e}"),
                None => "— the container stopped; the log stream ended".to_owned(),
            };
            feed.push(note, LineKind::Note);
            live.set(Live::Ended(end.error));
        }
    };
    // Follow once the listeners are in place: the first lines come at once.
    events::on_logs(on_line, on_end, start);
    // A new container after a job: follow it.
    events::on_job_done(move |d| {
        if d.app == ctx.name()
            && d.ok
            && matches!(
                d.kind,
                JobKind::Deploy | JobKind::Rollback | JobKind::Restart | JobKind::Start
            )
            && live.get_untracked() != Live::Paused
        {
            start();
        }
    });
    {
        let stream = stream.clone();
        on_cleanup(move || {
            let mut s = lock(&stream);
            s.closed = true;
            s.request += 1;
            if let Some(id) = s.id.take() {
                stop_stream(id);
            }
        });
    }

    let pause = {
        let stream = stream.clone();
        move |_| {
            if matches!(live.get_untracked(), Live::Paused | Live::Ended(_)) {
                start();
            } else {
                let mut s = lock(&stream);
                s.request += 1;
                s.waiting = false;
                if let Some(id) = s.id.take() {
                    stop_stream(id);
                }
                live.set(Live::Paused);
            }
        }
    };

    let matches = move || {
        let q = query.get();
        let q = q.trim();
        (!q.is_empty()).then(|| {
            let n = feed.lines.with(|l| l.count_matches(q));
            match n {
                0 => "no matches".to_owned(),
                1 => "1 match".to_owned(),
                n => format!("{n} matches"),
            }
        })
    };
    let status = move || match live.get() {
        Live::Connecting => ("busy", "Connecting…".to_owned()),
        Live::Following => ("ok", "Live".to_owned()),
        Live::Paused => ("idle", "Paused".to_owned()),
        Live::Ended(None) => ("warn", "Ended".to_owned()),
        Live::Ended(Some(_)) => ("bad", "Failed".to_owned()),
    };

    view! {
        <section class="panel" data-testid="container-log-section">
            <div class="log-toolbar">
                <span class=move || format!("live-dot {}", status().0) data-testid="log-status">
                    {move || status().1}
                </span>
                <div class="search">
                    <input
                        type="search"
                        placeholder="Search the log"
                        aria-label="Search the log"
                        data-testid="log-search"
                        prop:value=move || query.get()
                        on:input=move |ev| query.set(event_target_value(&ev))
                    />
                    <span class="muted small" data-testid="log-matches">
                        {matches}
                    </span>
                </div>
                <button class="button small" data-testid="log-pause" on:click=pause>
                    {move || match live.get() {
                        Live::Paused => "Resume",
                        Live::Ended(_) => "Reconnect",
                        _ => "Pause",
                    }}
                </button>
            </div>
            <LogView
                lines=feed.lines
                testid="container-log"
                query=Signal::derive(move || query.get())
                empty="No output yet. Lines the app prints appear here as they come."
            />
        </section>
    }
}

fn kind_of(l: &LogLine) -> LineKind {
    if l.stderr {
        LineKind::Err
    } else {
        LineKind::Out
    }
}
