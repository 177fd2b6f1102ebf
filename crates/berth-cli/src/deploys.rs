//! Deploys and what follows them: deploy, rollback, restart, stop, start, status, logs, the
//! history, build logs and the audit log.

use std::io::Write;

use berth_api::Berth;
use tokio_util::sync::CancellationToken;

use crate::output::{Style, ago, duration_ms, print_event, table, timestamp};
use crate::{ctrl_c_token, print_json};

/// `berth deploy APP [--ref REF | --tag TAG] [--stage S] [--yes]`.
pub(crate) async fn deploy(
    berth: &Berth,
    app: &str,
    git_ref: Option<&str>,
    stage: Option<&str>,
    yes: bool,
) -> anyhow::Result<()> {
    let staged = stage.is_some() || !berth.stages(app)?.is_empty();
    // A deploy applies what is pending: say what first.
    let pending = berth.plan(app)?;
    if !pending.is_empty() {
        eprintln!("this deploy also applies what is pending:");
        crate::pending::print_plan(&pending);
    }
    if !staged {
        let d = berth
            .deploy(app, git_ref, &print_event, ctrl_c_token())
            .await?;
        return print_live(berth, app, &d).await;
    }
    let mut confirmed = yes;
    loop {
        let result = berth
            .deploy_stage(app, stage, git_ref, confirmed, &print_event, ctrl_c_token())
            .await;
        match result {
            Err(berth_api::ApiError::NeedsConfirmation { stage, what, .. })
                if !confirmed && ask(&format!("{what} to stage {stage} of {app}?"))? =>
            {
                confirmed = true;
            }
            Err(e) => return Err(e.into()),
            Ok(d) => return print_live(berth, &d.app, &d).await,
        }
    }
}

/// `berth promote APP --to STAGE [--tag T] [--yes]`.
pub(crate) async fn promote(
    berth: &Berth,
    app: &str,
    to: &str,
    tag: Option<&str>,
    yes: bool,
) -> anyhow::Result<()> {
    let mut confirmed = yes;
    loop {
        let result = berth
            .promote(app, to, tag, confirmed, &print_event, ctrl_c_token())
            .await;
        match result {
            Err(berth_api::ApiError::NeedsConfirmation { what, .. })
                if !confirmed && ask(&format!("{what} to {to} of {app}?"))? =>
            {
                confirmed = true;
            }
            Err(e) => return Err(e.into()),
            Ok(d) => return print_live(berth, &d.app, &d).await,
        }
    }
}

/// Asks a yes/no question on a terminal; `false` (no prompt) when stdin is not one.
pub(crate) fn ask(question: &str) -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// Goes on when `yes` was given or the user answers yes to `question`; else an error that
/// says `refused`, and without a terminal, how to confirm (`confirm_with`).
pub(crate) fn confirm(
    yes: bool,
    question: &str,
    refused: &str,
    confirm_with: &str,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if yes || ask(question)? {
        return Ok(());
    }
    anyhow::bail!(if std::io::stdin().is_terminal() {
        refused.to_owned()
    } else {
        format!("{refused}: confirm with {confirm_with} (stdin is not a terminal to ask on)")
    })
}

/// `berth rollback APP [--to ID] [--yes]`: says where it goes back to and what changes (the
/// image and every setting, variable and domain that differs), asks, then rolls back.
pub(crate) async fn rollback(
    berth: &Berth,
    app: &str,
    to: Option<&str>,
    yes: bool,
) -> anyhow::Result<()> {
    let (target, diff) = berth.rollback_preview(app, to)?;
    let what = match (&target.commit, &target.image) {
        (Some(c), _) => format!(
            "{} {}",
            target.git_ref,
            berth_model::format::short_commit(c)
        ),
        (None, Some(image)) => image.clone(),
        (None, None) => target.git_ref.clone(),
    };
    eprintln!(
        "{app} goes back to deployment {} ({what}, {})",
        target.id,
        crate::output::ago(target.started_at)
    );
    if target.spec.is_none() {
        eprintln!(
            "  it was recorded before Berth kept what deployments ran with: its image comes back, with today's settings and variables"
        );
    } else if diff.is_empty() {
        eprintln!("  its image; settings, variables and domains are as they are now");
    } else {
        eprintln!("  its image, and what it ran with:");
        for c in &diff.changes {
            eprintln!("    {}", c.line());
        }
    }
    confirm(
        yes,
        &format!("roll {app} back?"),
        "not rolled back",
        &format!("`berth rollback {app} --yes`"),
    )?;
    let cancel = ctrl_c_token();
    let d = berth
        .rollback(app, Some(&target.id), &print_event, cancel)
        .await?;
    if target.spec.is_some() && !diff.is_empty() {
        eprintln!(
            "restored {} of deployment {}",
            diff.changes
                .iter()
                .map(|c| c.field.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            target.id
        );
    }
    print_live(berth, app, &d).await
}

/// `berth restart APP`.
pub(crate) async fn restart(berth: &Berth, app: &str) -> anyhow::Result<()> {
    let cancel = ctrl_c_token();
    let d = berth.restart(app, &print_event, cancel).await?;
    print_live(berth, app, &d).await
}

/// `berth cancel APP`.
pub(crate) async fn cancel(berth: &Berth, app: &str) -> anyhow::Result<()> {
    if berth.cancel(app).await? {
        eprintln!("cancelled what ran on {app}; the previous version keeps serving");
    } else {
        eprintln!("nothing runs on {app} to cancel");
    }
    Ok(())
}

/// `berth stop APP`.
pub(crate) async fn stop(berth: &Berth, app: &str) -> anyhow::Result<()> {
    berth.stop(app).await?;
    eprintln!("{app} stopped");
    Ok(())
}

/// `berth start APP`.
pub(crate) async fn start(berth: &Berth, app: &str) -> anyhow::Result<()> {
    berth.start(app, ctrl_c_token()).await?;
    let st = berth.status(app).await?;
    eprintln!(
        "{app} started and healthy{}",
        st.endpoint.map(|e| format!(" at {e}")).unwrap_or_default()
    );
    Ok(())
}

/// `berth status APP [--json]`.
pub(crate) async fn status(berth: &Berth, app: &str, json: bool) -> anyhow::Result<()> {
    let st = berth.status(app).await?;
    if json {
        return print_json(&st);
    }
    let s = Style::new();
    let state = match st.state {
        berth_model::AppState::Running => s.green(st.state.as_str()),
        berth_model::AppState::Failed => s.red(st.state.as_str()),
        _ => s.yellow(st.state.as_str()),
    };
    println!("{}  {state}", s.bold(&st.app));
    println!("  server      {}", st.server);
    if let Some(d) = &st.deployment_id {
        println!(
            "  deployment  {d}{}",
            st.deployed_at
                .map(|t| format!(" ({})", ago(t)))
                .unwrap_or_default()
        );
    }
    if let Some(c) = &st.commit {
        println!("  commit      {}", &c[..c.len().min(12)]);
    }
    if let Some(i) = &st.source_image {
        println!(
            "  image       {i}{}",
            st.digest
                .as_deref()
                .map(|d| format!(" ({})", &d[..d.len().min(19)]))
                .unwrap_or_default()
        );
    }
    if let Some(c) = &st.container {
        println!(
            "  container   {c}{}",
            st.container_status
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &st.endpoint {
        println!("  endpoint    {e}");
    }
    for w in &st.workers {
        println!(
            "  {:<11} {} ({}): {}",
            w.process,
            w.container,
            w.status.as_deref().unwrap_or("gone"),
            w.command
        );
    }
    for d in &st.domains {
        println!(
            "  url         {}{}  tls: {}",
            d.url,
            if d.primary { " (primary)" } else { "" },
            d.tls.detail
        );
    }
    for stage in &st.stages {
        println!(
            "  stage       {} (tags {}, up to {}{}{}{}){}",
            s.bold(&stage.name),
            stage.tags,
            stage.max_instances,
            if stage.auto_deploy {
                ", auto-deploy"
            } else {
                ""
            },
            if stage.confirm { ", confirm" } else { "" },
            stage
                .promote_from
                .as_deref()
                .map(|f| format!(", from {f}"))
                .unwrap_or_default(),
            stage
                .url
                .as_deref()
                .map(|u| format!("  {u}"))
                .unwrap_or_default()
        );
        for i in &stage.instances {
            println!(
                "    {} {}  {}  {}{}",
                i.tag,
                i.digest
                    .as_deref()
                    .map(|d| &d[..d.len().min(19)])
                    .unwrap_or("-"),
                i.state,
                i.app,
                i.urls.first().map(|u| format!("  {u}")).unwrap_or_default()
            );
        }
    }
    if let Some(last) = &st.last_deploy
        && Some(&last.id) != st.deployment_id.as_ref()
    {
        println!(
            "  last deploy {} {} ({}){}",
            berth_model::deploy::short_id(&last.id),
            last.status,
            ago(last.started_at),
            last.error
                .as_ref()
                .map(|e| format!(": {}", e.lines().next().unwrap_or("")))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `berth logs APP [--tail N] [--follow]`.
pub(crate) async fn logs(
    berth: &Berth,
    app: &str,
    tail: usize,
    follow: bool,
) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c.cancel();
        }
    });
    let print = |line: &berth_api::OutputLine| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", line.text);
        let _ = out.flush();
    };
    berth.logs(app, Some(tail), follow, cancel, &print).await?;
    Ok(())
}

/// `berth exec APP -- CMD…` (in the serving container) and `berth run APP -- CMD…` (in a fresh
/// one, `fresh`): the command's output as it comes (stdout to stdout, stderr to stderr), and
/// its exit code as Berth's.
pub(crate) async fn exec(
    berth: &Berth,
    app: &str,
    cmd: &[String],
    fresh: bool,
) -> anyhow::Result<std::process::ExitCode> {
    let mut write = |stream: berth_api::OutputStream, bytes: &[u8]| {
        let _ = match stream {
            berth_api::OutputStream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            berth_api::OutputStream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(bytes).and_then(|()| err.flush())
            }
        };
    };
    let code = if fresh {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                c.cancel();
            }
        });
        berth.run_task(app, cmd, &mut write, cancel).await?
    } else {
        berth.exec(app, cmd, None, &mut write).await?
    };
    // Exit codes are 0–255; a signal's death (-1 unknown) is a failure all the same.
    Ok(std::process::ExitCode::from(
        u8::try_from(code).unwrap_or(1),
    ))
}

/// `berth exec APP -it -- CMD…`: the command in a terminal — this one, in raw mode, typed into
/// and resized with it — and its exit code as Berth's.
#[cfg(unix)]
pub(crate) async fn exec_tty(
    berth: &Berth,
    app: &str,
    cmd: &[String],
) -> anyhow::Result<std::process::ExitCode> {
    use std::io::{IsTerminal, Read};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "-it needs a terminal, and stdin is not one: run it from a terminal, or drop -it to run `{}` without one",
            cmd.join(" ")
        );
    }
    let (typed, input) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let (resized, sizes) = tokio::sync::mpsc::channel::<(u16, u16)>(8);
    if let Some(size) = terminal_size() {
        let _ = resized.try_send(size);
    }
    // Each size change (SIGWINCH) is passed on.
    if let Ok(mut winch) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    {
        tokio::spawn(async move {
            while winch.recv().await.is_some() {
                if let Some(size) = terminal_size()
                    && resized.send(size).await.is_err()
                {
                    break;
                }
            }
        });
    }
    let raw = RawMode::enter()?;
    // Keystrokes are read on a thread of their own (a blocked read of stdin must not hold up
    // the runtime when the command ends).
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || typed.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut write = |_stream: berth_api::OutputStream, bytes: &[u8]| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes).and_then(|()| out.flush());
    };
    let terminal = berth_api::Terminal { input, sizes };
    let code = berth.exec(app, cmd, Some(terminal), &mut write).await;
    drop(raw);
    Ok(std::process::ExitCode::from(
        u8::try_from(code?).unwrap_or(1),
    ))
}

/// Without a Unix terminal to put in raw mode, `-it` is not offered.
#[cfg(not(unix))]
pub(crate) async fn exec_tty(
    _berth: &Berth,
    _app: &str,
    cmd: &[String],
) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!(
        "-it is not available on this system yet: drop -it to run `{}` without a terminal",
        cmd.join(" ")
    )
}

/// The terminal's size (rows, columns), if stdout is one.
#[cfg(unix)]
fn terminal_size() -> Option<(u16, u16)> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .filter(|w| w.ws_row > 0 && w.ws_col > 0)
        .map(|w| (w.ws_row, w.ws_col))
}

/// The terminal in raw mode (keys go through as typed, nothing echoed locally) until dropped.
#[cfg(unix)]
struct RawMode {
    saved: rustix::termios::Termios,
}

#[cfg(unix)]
impl RawMode {
    fn enter() -> anyhow::Result<RawMode> {
        use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
        let saved = tcgetattr(std::io::stdin())
            .map_err(|e| anyhow::anyhow!("cannot read the terminal's settings: {e}"))?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(std::io::stdin(), OptionalActions::Now, &raw)
            .map_err(|e| anyhow::anyhow!("cannot put the terminal in raw mode: {e}"))?;
        Ok(RawMode { saved })
    }
}

#[cfg(unix)]
impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// `berth deployments APP [--json]`.
pub(crate) async fn deployments(
    berth: &Berth,
    app: &str,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    berth.catch_up_unattended(app).await;
    let list = berth.deployments(app, limit)?;
    if json {
        return print_json(&list);
    }
    if list.is_empty() {
        eprintln!("{app} has no deployments yet: run `berth deploy {app}`");
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|d| {
            vec![
                d.short_id().to_owned(),
                d.kind.as_str().to_owned(),
                d.status.as_str().to_owned(),
                d.version().unwrap_or_else(|| "-".to_owned()),
                d.duration_ms()
                    .map(duration_ms)
                    .unwrap_or_else(|| "-".into()),
                ago(d.started_at),
                d.failed_step
                    .map(|s| format!("failed at {s}"))
                    .or_else(|| d.commit_message.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &["id", "kind", "status", "version", "took", "started", "note"],
        &rows,
    );
    Ok(())
}

/// `berth build-log DEPLOYMENT`.
pub(crate) fn build_log(berth: &Berth, deployment: &str) -> anyhow::Result<()> {
    for line in berth.build_log(deployment)? {
        println!("{line}");
    }
    Ok(())
}

/// `berth audit [--json]`.
pub(crate) fn audit(berth: &Berth, limit: usize, json: bool) -> anyhow::Result<()> {
    let log = berth.audit_log(limit)?;
    if json {
        let v: Vec<serde_json::Value> = log
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at": e.at, "actor": e.actor, "action": e.action,
                    "target": e.target, "detail": e.detail,
                })
            })
            .collect();
        return print_json(&v);
    }
    let rows = log
        .iter()
        .map(|e| {
            vec![
                timestamp(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.clone(),
            ]
        })
        .collect::<Vec<_>>();
    table(&["at", "by", "action", "target", "detail"], &rows);
    Ok(())
}

pub(crate) async fn print_live(
    berth: &Berth,
    app: &str,
    d: &berth_model::Deployment,
) -> anyhow::Result<()> {
    let s = Style::new();
    let endpoint = berth
        .status(app)
        .await
        .ok()
        .and_then(|st| st.endpoint)
        .map(|e| format!(" at {e}"))
        .unwrap_or_default();
    eprintln!(
        "{} {} is live: deployment {}{}{} in {}",
        s.green("✓"),
        s.bold(app),
        d.short_id(),
        d.short_commit()
            .map(|c| format!(" (commit {c})"))
            .unwrap_or_default(),
        endpoint,
        d.duration_ms().map(duration_ms).unwrap_or_default()
    );
    Ok(())
}
