//! `berth plan`, `berth apply`, `berth discard`: pending changes of an app or a project; and
//! the setup as a file, `berth export` and `berth import`.

use anyhow::Context as _;
use berth_api::Berth;
use berth_model::{ChangeEffect, PendingChanges};

use crate::deploys::print_live;
use crate::output::print_event;
use crate::{ctrl_c_token, print_json};

/// Prints one app's pending changes: what differs, and what applying takes.
pub(crate) fn print_plan(p: &PendingChanges) {
    if let Some(note) = &p.note {
        eprintln!("{}: {note}", p.app);
        return;
    }
    if p.is_empty() {
        eprintln!("{}: nothing pending", p.app);
        return;
    }
    let n = p.diff.changes.len();
    eprintln!(
        "{}: {n} pending change{} against deployment {} — applying takes {}",
        p.app,
        if n == 1 { "" } else { "s" },
        p.deployment.as_deref().unwrap_or("-"),
        p.diff.effect.describe()
    );
    for c in &p.diff.changes {
        eprintln!("  {}", c.line());
    }
}

/// The app's plan, or the project's members' plans.
fn plans(
    berth: &Berth,
    app: Option<&str>,
    project: Option<&str>,
) -> anyhow::Result<Vec<PendingChanges>> {
    Ok(match (app, project) {
        (Some(app), _) => vec![berth.plan(app)?],
        (None, Some(p)) => berth.plan_project(p)?,
        (None, None) => anyhow::bail!("give the app, or --project PROJECT"),
    })
}

/// `berth plan [APP | --project P] [--json]`.
pub(crate) fn plan(
    berth: &Berth,
    app: Option<&str>,
    project: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let plans = plans(berth, app, project)?;
    if json {
        return match (app, plans.as_slice()) {
            (Some(_), [one]) => print_json(one),
            _ => print_json(&plans),
        };
    }
    if plans.is_empty() {
        eprintln!("project {} has no apps yet", project.unwrap_or_default());
    }
    for p in &plans {
        print_plan(p);
    }
    if plans.iter().any(|p| !p.is_empty()) {
        let target = match (app, project) {
            (Some(a), _) => a.to_owned(),
            (None, p) => format!("--project {}", p.unwrap_or_default()),
        };
        eprintln!("apply with `berth apply {target}`, or drop with `berth discard {target}`");
    }
    Ok(())
}

/// `berth apply [APP | --project P] [--yes]`: shows the plan, asks, applies.
pub(crate) async fn apply(
    berth: &Berth,
    app: Option<&str>,
    project: Option<&str>,
    yes: bool,
) -> anyhow::Result<()> {
    let plans = plans(berth, app, project)?;
    for p in &plans {
        print_plan(p);
    }
    if plans.iter().all(PendingChanges::is_empty) {
        return Ok(());
    }
    crate::deploys::confirm(yes, "apply?", "nothing applied", "--yes")?;
    match (app, project) {
        (Some(app), _) => apply_now(berth, app).await,
        (None, Some(p)) => {
            let applied = berth.apply_project(p, &print_event, ctrl_c_token()).await?;
            for (app, d) in &applied {
                match d {
                    Some(d) => print_live(berth, app, d).await?,
                    None => eprintln!("{app}: applied"),
                }
            }
            Ok(())
        }
        (None, None) => anyhow::bail!("give the app, or --project PROJECT"),
    }
}

/// Applies an app's pending changes without asking (`--apply` on an edit, after `apply`'s
/// question).
pub(crate) async fn apply_now(berth: &Berth, app: &str) -> anyhow::Result<()> {
    let plan = berth.plan(app)?;
    match berth.apply(app, &print_event, ctrl_c_token()).await? {
        Some(d) => print_live(berth, app, &d).await,
        None => {
            match plan.diff.effect {
                _ if plan.is_empty() => eprintln!("{app}: nothing pending"),
                ChangeEffect::Route => eprintln!("{app}: routes changed; nothing restarted"),
                _ => eprintln!("{app}: recorded; the next switch uses it"),
            }
            Ok(())
        }
    }
}

/// `berth discard [APP | --project P]`.
pub(crate) fn discard(
    berth: &Berth,
    app: Option<&str>,
    project: Option<&str>,
) -> anyhow::Result<()> {
    let dropped = match (app, project) {
        (Some(app), _) => vec![berth.discard(app)?],
        (None, Some(p)) => {
            let before = berth.plan_project(p)?;
            berth.discard_project(p)?;
            before
        }
        (None, None) => anyhow::bail!("give the app, or --project PROJECT"),
    };
    for p in &dropped {
        if p.is_empty() {
            eprintln!("{}: nothing pending", p.app);
        } else {
            eprintln!(
                "{}: discarded {}",
                p.app,
                p.diff
                    .changes
                    .iter()
                    .map(|c| c.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// `berth export [--project P] [-o FILE]`.
pub(crate) fn export(
    berth: &Berth,
    project: Option<&str>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let yaml = berth.export_setup(project)?;
    match output {
        Some(path) => {
            std::fs::write(path, &yaml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{yaml}"),
    }
    Ok(())
}

/// `berth import FILE [--dry-run] [--prune] [--json]`.
pub(crate) async fn import(
    berth: &Berth,
    file: &std::path::Path,
    dry_run: bool,
    prune: bool,
    json: bool,
) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let name = file.display().to_string();
    let report = berth
        .import_setup(&text, dry_run, prune)
        .await
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    if json {
        return print_json(&report);
    }
    if report.changes.is_empty() {
        eprintln!("{name}: nothing to change");
    }
    for c in &report.changes {
        eprintln!("  {c}");
    }
    if dry_run && !report.changes.is_empty() {
        eprintln!("dry run: nothing changed (import without --dry-run to make these changes)");
    } else if report.applied {
        eprintln!(
            "imported {name}: {} change(s); deployed apps show theirs with `berth plan APP`",
            report.changes.len()
        );
    }
    for s in &report.missing_secrets {
        let (owner, key) = s.rsplit_once(' ').unwrap_or((s.as_str(), ""));
        let target = match owner.split_once(' ') {
            Some(("project", p)) => format!("--project {p}"),
            Some((_, app)) => app.to_owned(),
            None => owner.to_owned(),
        };
        eprintln!(
            "secret {key} of {owner} has no value here: `berth env set {target} {key}=- --secret`"
        );
    }
    for n in &report.notes {
        eprintln!("{n}");
    }
    Ok(())
}

/// What an edit of `app` left: `; pending (…)` when it serves and something now differs,
/// `; it applies at the first deploy` when nothing serves yet.
pub(crate) fn pending_hint(berth: &Berth, app: &str) -> String {
    match berth.plan(app) {
        Ok(p) if p.deployment.is_none() => "; it applies at the first deploy".to_owned(),
        Ok(p) if !p.is_empty() => {
            format!("; pending (`berth plan {app}` shows it, `berth apply {app}` applies it)")
        }
        _ => String::new(),
    }
}
