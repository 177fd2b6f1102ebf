//! Human-readable rendering: tables, durations, relative times, step progress.

use std::io::{IsTerminal, Write};
use std::time::{Duration, UNIX_EPOCH};

use berth_api::{Clock, SystemClock};
use berth_model::{DeployEvent, StepOutcome};

/// Whether stderr is a terminal that takes colour.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

pub struct Style {
    on: bool,
}

impl Style {
    pub fn new() -> Style {
        Style { on: colour() }
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
}

/// `1.2 s`, `340 ms`, `2 min 5 s` (the shared formatter).
pub use berth_model::format::duration as duration_ms;

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`, from the one clock.
pub fn ago(at_ms: i64) -> String {
    berth_model::format::ago(SystemClock.now_ms(), at_ms)
}

/// RFC 3339 for JSON-ish human output.
pub fn timestamp(at_ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(at_ms.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Prints rows as left-aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let style = Style::new();
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i].saturating_sub(c.chars().count()) + 2;
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = std::io::stdout().lock();
    let head = line(headers.iter().map(|h| h.to_uppercase()).collect());
    let _ = writeln!(out, "{}", if style.on { style.dim(&head) } else { head });
    for row in rows {
        let _ = writeln!(out, "{}", line(row.clone()));
    }
}

/// Prints a deploy's progress to stderr as it happens.
pub fn print_event(event: &DeployEvent) {
    let s = Style::new();
    let mut err = std::io::stderr().lock();
    let _ = match event {
        DeployEvent::Started { deployment, app } => writeln!(
            err,
            "{} {} {}",
            s.bold("==>"),
            s.bold(&format!("{app}:")),
            s.dim(&format!("deployment {deployment}"))
        ),
        DeployEvent::StepStarted { step } => writeln!(err, "{} {step}", s.bold("-->")),
        DeployEvent::StepFinished {
            step,
            duration_ms: ms,
            outcome,
        } => match outcome {
            StepOutcome::Ok => writeln!(
                err,
                "    {} {step} {}",
                s.green("ok"),
                s.dim(&duration_ms(*ms))
            ),
            StepOutcome::Failed => writeln!(
                err,
                "    {} {step} {}",
                s.red("failed"),
                s.dim(&duration_ms(*ms))
            ),
            StepOutcome::Cancelled => {
                writeln!(
                    err,
                    "    {} {step} {}",
                    s.yellow("cancelled"),
                    s.dim(&duration_ms(*ms))
                )
            }
        },
        DeployEvent::BuildLine { line } => writeln!(err, "    {} {line}", s.dim("|")),
        DeployEvent::Info { message } => writeln!(err, "    {message}"),
        DeployEvent::Finished { .. } => Ok(()),
    };
}

/// An unattended relay that did not get the change.
pub(crate) fn resync_warning(warning: Option<String>) {
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
}
