//! What background notices become: window events for the UI (`job-progress`, `job-done`,
//! `log-line`, `log-end`), an OS notification for every job result, and a fresh "Recent
//! deploys" menu in the tray.

use berth_api::desktop::Notice;
use berth_model::view::{JobDone, JobKind, LogEnd};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;

use crate::tray;

/// Event names (`ui/src/events.rs` listens to the same).
pub const JOB_PROGRESS: &str = "job-progress";
pub const JOB_DONE: &str = "job-done";
pub const LOG_LINE: &str = "log-line";
pub const LOG_END: &str = "log-end";
pub const ALERT: &str = "alert";

pub fn forward(app: &AppHandle, notice: Notice) {
    match notice {
        Notice::Progress(p) => emit(app, JOB_PROGRESS, &p),
        Notice::Done(done) => {
            emit(app, JOB_DONE, &*done);
            notify(app, &done);
            tray::refresh(app);
        }
        Notice::Log(line) => emit(app, LOG_LINE, &line),
        Notice::Alert(alert) => {
            emit(app, ALERT, &alert);
            show(app, &alert.summary());
        }
        Notice::LogEnd {
            stream,
            app: name,
            error,
        } => emit(
            app,
            LOG_END,
            &LogEnd {
                stream,
                app: name,
                error,
            },
        ),
    }
}

fn emit<T: Serialize + Clone>(app: &AppHandle, event: &str, payload: &T) {
    if let Err(e) = app.emit(event, payload.clone()) {
        tracing::warn!("cannot send {event} to the window: {e}");
    }
}

fn notify(app: &AppHandle, done: &JobDone) {
    show(app, &notification_text(done));
}

/// An OS notification from Berth.
fn show(app: &AppHandle, text: &str) {
    let text = shorten(text, 240);
    tracing::info!("notification: {text}");
    if let Err(e) = app
        .notification()
        .builder()
        .title("Berth")
        .body(text)
        .show()
    {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// One line for the OS notification of a job's end:
/// `hello deployed — live at https://… in 3.2 s`,
/// `hello: deploy failed at health-check — <the error's first line>`.
pub fn notification_text(done: &JobDone) -> String {
    let app = &done.app;
    let kind = done.kind.as_str();
    if done.ok {
        let took = berth_model::format::duration(done.duration_ms);
        let did = match done.kind {
            JobKind::Deploy => "deployed",
            JobKind::Rollback => "rolled back",
            JobKind::Restart => "restarted",
            JobKind::Start => "started",
            JobKind::Stop => return format!("{app} stopped"),
            JobKind::StageDeploy => "deployed to its stage",
            JobKind::Promote => "promoted",
            JobKind::Apply => "updated",
        };
        return match &done.url {
            Some(url) => format!("{app} {did} — live at {url} in {took}"),
            None => format!("{app} {did} in {took}"),
        };
    }
    if done.cancelled {
        return format!("{app}: {kind} cancelled — the previous version keeps serving");
    }
    let recorded = done.deployment.as_ref();
    let step = recorded.and_then(|d| d.failed_step);
    let error = recorded
        .and_then(|d| d.error.as_deref())
        .unwrap_or(&done.message);
    let first_line = shorten(error.lines().next().unwrap_or("").trim(), MAX_ERROR_CHARS);
    match step {
        Some(step) => format!("{app}: {kind} failed at {step} — {first_line}"),
        None => format!("{app}: {kind} failed — {first_line}"),
    }
}

/// Notifications are glanced at: the details are in the window.
const MAX_ERROR_CHARS: usize = 160;

/// `text`, cut at a word boundary to at most `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{Deployment, DeploymentKind, DeploymentStatus, Step};

    fn done(kind: JobKind, ok: bool) -> JobDone {
        JobDone {
            app: "hello".to_owned(),
            kind,
            ok,
            cancelled: false,
            message: "deploy of hello failed at step setup: app `hello` is busy".to_owned(),
            deployment: None,
            url: None,
            duration_ms: 3_240,
        }
    }

    fn failed_at(step: Step, error: &str) -> Deployment {
        Deployment {
            status: DeploymentStatus::Failed,
            finished_at: Some(3_240),
            failed_step: Some(step),
            error: Some(error.to_owned()),
            ..Deployment::start(
                "0a1b2c3d".to_owned(),
                "hello",
                DeploymentKind::Deploy,
                "main".to_owned(),
                0,
            )
        }
    }

    #[test]
    fn success_says_where_and_how_long() {
        let mut d = done(JobKind::Deploy, true);
        d.url = Some("https://hello.example.com".to_owned());
        assert_eq!(
            notification_text(&d),
            "hello deployed — live at https://hello.example.com in 3.2 s"
        );
        d.kind = JobKind::Rollback;
        d.url = None;
        d.duration_ms = 125_000;
        assert_eq!(notification_text(&d), "hello rolled back in 2 min 5 s");
        d.kind = JobKind::Stop;
        assert_eq!(notification_text(&d), "hello stopped");
    }

    #[test]
    fn failure_names_the_step_and_the_first_line() {
        let mut d = done(JobKind::Deploy, false);
        d.deployment = Some(failed_at(
            Step::HealthCheck,
            "GET /healthz answered 500\nafter 30 s of retries",
        ));
        assert_eq!(
            notification_text(&d),
            "hello: deploy failed at health-check — GET /healthz answered 500"
        );
        let long = format!(
            "GET /nope on port 9999 did not answer{}",
            " and again".repeat(30)
        );
        d.deployment = Some(failed_at(Step::HealthCheck, &long));
        let text = notification_text(&d);
        assert!(text.ends_with("again…"), "{text}");
        assert!(text.chars().count() < 220, "{text}");
        d.deployment = None;
        assert_eq!(
            notification_text(&d),
            "hello: deploy failed — deploy of hello failed at step setup: app `hello` is busy"
        );
        d.cancelled = true;
        assert_eq!(
            notification_text(&d),
            "hello: deploy cancelled — the previous version keeps serving"
        );
    }
}
