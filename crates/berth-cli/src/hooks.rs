//! `berth server relay …`, `berth app webhook …`, `berth notify …` and `berth watch`: the
//! webhook commands.

use std::sync::Arc;

use berth_api::{Berth, RelayInstall, WatchEvent, WatchOptions, WebhookEnable};
use berth_model::{Delivery, DeliveryStatus, Verdict, WebhookInfo, WebhookMode};
use tokio_util::sync::CancellationToken;

use crate::args::{NotifyCmd, RelayCmd, WebhookCmd};
use crate::output::{Style, ago, table};
use crate::print_json;

pub async fn relay(berth: &Berth, cmd: RelayCmd) -> anyhow::Result<()> {
    match cmd {
        RelayCmd::Install {
            name,
            hooks_domain,
            listen_port,
            body_limit,
            rate_limit,
            json,
        } => {
            let st = berth
                .relay_install(
                    &name,
                    RelayInstall {
                        hooks_domain,
                        listen_port,
                        body_limit,
                        rate_per_minute: rate_limit,
                    },
                )
                .await?;
            if json {
                return print_json(&st);
            }
            eprintln!(
                "{} relay on {} installed: {} ({} hook(s))",
                Style::new().green("✓"),
                st.server,
                st.public_url.as_deref().unwrap_or(&st.loopback_url),
                st.hooks
            );
            if st.public_url.is_none() {
                eprintln!(
                    "  it answers only on the server's loopback; give it a public name with --hooks-domain (needs `berth server proxy install {}`)",
                    st.server
                );
            }
            Ok(())
        }
        RelayCmd::Status { name, json } => {
            let st = berth.relay_status(&name).await?;
            if json {
                return print_json(&st);
            }
            let s = Style::new();
            println!(
                "{}  {}",
                s.bold(&st.server),
                if st.answering {
                    s.green("relay answering")
                } else {
                    s.red("relay not answering")
                }
            );
            println!(
                "  container   berth-relay ({})",
                st.container.as_deref().unwrap_or("missing")
            );
            println!("  image       {}", st.image);
            if let Some(v) = &st.version {
                println!("  version     {v}");
            }
            println!(
                "  public      {}",
                st.public_url
                    .as_deref()
                    .unwrap_or("none (no --hooks-domain)")
            );
            println!("  loopback    {}", st.loopback_url);
            println!("  hooks       {} ({} unattended)", st.hooks, st.unattended);
            if st.answering && !st.docker {
                println!(
                    "  docker      {} (unattended deploys need it: reinstall the relay)",
                    s.yellow("no socket")
                );
            }
            println!("  pending     {}", st.pending);
            println!(
                "  limits      body {} bytes, {} requests/min per address",
                st.body_limit, st.rate_per_minute
            );
            if let Some(e) = &st.error {
                println!("  error       {e}");
            }
            Ok(())
        }
        RelayCmd::Deliveries { name, limit, json } => {
            let list = berth.relay_deliveries(&name, limit).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("the relay on {name} has received nothing yet");
                return Ok(());
            }
            print_deliveries(&list, true);
            Ok(())
        }
        RelayCmd::Metrics { name } => {
            print!("{}", berth.relay_metrics(&name).await?);
            Ok(())
        }
        RelayCmd::MetricsToken { name, rotate, json } => {
            let m = berth.relay_metrics_token(&name, rotate).await?;
            if json {
                return print_json(&m);
            }
            match &m.url {
                Some(url) => {
                    println!("url    {url}");
                    println!("token  {}", m.token);
                    println!();
                    println!("# prometheus.yml");
                    println!("scrape_configs:");
                    println!("  - job_name: berth-relay-{name}");
                    println!("    metrics_path: /metrics");
                    println!("    scheme: {}", url.split("://").next().unwrap_or("https"));
                    println!("    authorization: {{ credentials: {} }}", m.token);
                    println!(
                        "    static_configs: [{{ targets: [\"{}\"] }}]",
                        url.split("://")
                            .nth(1)
                            .and_then(|r| r.split('/').next())
                            .unwrap_or_default()
                    );
                }
                None => {
                    println!("token  {}", m.token);
                    eprintln!(
                        "the relay on {name} has no hooks domain: give it one (`berth server relay install {name} --hooks-domain hooks.example.com`) to scrape it from outside; over SSH, `berth server relay metrics {name}`"
                    );
                }
            }
            Ok(())
        }
    }
}

fn print_webhook(w: &WebhookInfo) {
    let s = Style::new();
    println!("{}  {} webhook, {}", s.bold(&w.app), w.provider, w.mode);
    println!("  url         {}", w.url);
    if w.url != w.loopback_url {
        println!("  loopback    {} (on {})", w.loopback_url, w.server);
    }
    match &w.secret {
        Some(secret) => println!("  secret      {secret}"),
        None => println!("  secret      {} (--reveal shows it)", w.secret_hint),
    }
    println!("  branch      {}", w.filter.branch);
    println!(
        "  tags        {}",
        w.filter.tags.as_deref().unwrap_or("not deployed")
    );
    println!(
        "  history     {}",
        if w.allow_force_push {
            "force-pushes deploy"
        } else {
            "a push must descend from the serving commit"
        }
    );
    if let Some(url) = &w.git_url {
        println!(
            "  source      {url} ({})",
            w.git_auth.as_deref().unwrap_or("none")
        );
    }
    if let Some(key) = &w.deploy_key {
        println!("  deploy key  {key}");
    }
}

fn paste_hint(w: &WebhookInfo) {
    let how = match w.provider {
        berth_model::Provider::Github => {
            "GitHub: Settings → Webhooks → Add webhook; Payload URL = url, Content type application/json, Secret = secret, just the push event"
        }
        berth_model::Provider::Gitlab => {
            "GitLab: Settings → Webhooks; URL = url, Secret token = secret, trigger Push events (and Tag push events if you deploy tags)"
        }
        berth_model::Provider::Gitea => {
            "Gitea/Forgejo: Settings → Webhooks → Add webhook → Gitea; Target URL = url, Secret = secret, trigger on Push events"
        }
        berth_model::Provider::Generic => {
            "POST to url with `Authorization: Bearer <secret>` and a JSON body like {\"ref\": \"refs/heads/main\", \"commit\": \"<sha>\"}"
        }
    };
    eprintln!("\n{how}");
    if w.mode == WebhookMode::Attended {
        eprintln!(
            "Deliveries deploy while the desktop app or `berth watch` is connected to {}; queued ones deploy when it comes back.",
            w.server
        );
    } else {
        eprintln!(
            "The relay on {} deploys each push on its own, fetching the commit from {}; results go to the notifiers and into this history when Berth next connects.",
            w.server,
            w.git_url.as_deref().unwrap_or("the app's git URL")
        );
        if w.deploy_key.is_some() {
            eprintln!(
                "Add the deploy key above to the repository (read-only): GitHub: Settings → Deploy keys; GitLab: Settings → Repository → Deploy keys; Gitea: Settings → Deploy Keys."
            );
        }
    }
}

fn verdict(s: &Style, d: &Delivery) -> String {
    let text = match (d.verdict, d.status) {
        (Verdict::Queued, st) => st.as_str().to_owned(),
        (v, _) => v.as_str().to_owned(),
    };
    match (d.verdict, d.status) {
        (Verdict::Queued, DeliveryStatus::Deployed) | (Verdict::Ping, _) => s.green(&text),
        (Verdict::Queued, DeliveryStatus::Failed)
        | (Verdict::Rejected, _)
        | (Verdict::Replay, _) => s.red(&text),
        (Verdict::Queued, DeliveryStatus::Pending | DeliveryStatus::Running) => s.yellow(&text),
        _ => s.dim(&text),
    }
}

/// The deliveries as a table; `with_app` adds which app each was for (`?`: no such hook).
fn print_deliveries(list: &[Delivery], with_app: bool) {
    let s = Style::new();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            let reason = match (&d.result, d.status) {
                (
                    Some(r),
                    DeliveryStatus::Deployed | DeliveryStatus::Failed | DeliveryStatus::Superseded,
                ) => r.clone(),
                _ => d.reason.clone(),
            };
            let mut row = vec![format!("#{}", d.id), ago(d.received_at)];
            if with_app {
                row.push(d.app.clone().unwrap_or_else(|| "?".to_owned()));
            }
            row.extend([
                d.event.clone(),
                d.git_ref
                    .as_deref()
                    .map(|r| r.trim_start_matches("refs/heads/").to_owned())
                    .unwrap_or_else(|| "-".to_owned()),
                d.commit
                    .as_deref()
                    .map(|c| c.get(..7).unwrap_or(c).to_owned())
                    .unwrap_or_else(|| "-".to_owned()),
                format!("{} {}", d.http_status, verdict(&s, d)),
                reason,
            ]);
            row
        })
        .collect();
    let mut headers = vec!["ID", "RECEIVED"];
    if with_app {
        headers.push("APP");
    }
    headers.extend(["EVENT", "REF", "COMMIT", "VERDICT", "WHY"]);
    table(&headers, &rows);
}

pub async fn webhook(berth: &Berth, cmd: WebhookCmd) -> anyhow::Result<()> {
    match cmd {
        WebhookCmd::Enable {
            app,
            provider,
            branch,
            tags,
            unattended,
            git_token,
            git_user,
            allow_force_push,
            json,
        } => {
            let git_token = match git_token {
                Some(t) if t == "-" => {
                    Some(crate::secret_input::SecretInput::new(1).read("the git token")?)
                }
                // From BERTH_GIT_TOKEN (not the command line), or empty: forget it.
                Some(t)
                    if t.is_empty()
                        || std::env::var("BERTH_GIT_TOKEN").ok().as_ref() == Some(&t) =>
                {
                    Some(t)
                }
                Some(_) => {
                    return Err(crate::secret_input::on_argv(
                        "the git token",
                        "--git-token -",
                    ));
                }
                None => None,
            };
            let w = berth
                .webhook_enable(
                    &app,
                    WebhookEnable {
                        provider: provider.parse().map_err(anyhow::Error::msg)?,
                        branch,
                        tags,
                        mode: if unattended {
                            WebhookMode::Unattended
                        } else {
                            WebhookMode::Attended
                        },
                        git_token: git_token.map(berth_api::Sensitive::new),
                        git_user,
                        allow_force_push,
                    },
                )
                .await?;
            if json {
                return print_json(&w);
            }
            print_webhook(&w);
            paste_hint(&w);
            Ok(())
        }
        WebhookCmd::Show { app, reveal, json } => {
            let w = berth.webhook_show(&app, reveal)?;
            if json {
                return print_json(&w);
            }
            print_webhook(&w);
            Ok(())
        }
        WebhookCmd::Deliveries { app, limit, json } => {
            let list = berth.webhook_deliveries(&app, limit).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!(
                    "no deliveries yet for {app}: push to the repository, or use the git host's \"test delivery\" button"
                );
                return Ok(());
            }
            print_deliveries(&list, false);
            Ok(())
        }
        WebhookCmd::Disable { app } => {
            berth.webhook_disable(&app).await?;
            eprintln!("webhook of {app} disabled: its URL answers 404 from now on");
            Ok(())
        }
        WebhookCmd::RotateSecret { app, json } => {
            let w = berth.webhook_rotate_secret(&app).await?;
            if json {
                return print_json(&w);
            }
            print_webhook(&w);
            eprintln!("\nthe old secret no longer verifies: paste the new one into the git host");
            Ok(())
        }
        WebhookCmd::RotateDeployKey { app, json } => {
            let w = berth.webhook_rotate_deploy_key(&app).await?;
            if json {
                return print_json(&w);
            }
            print_webhook(&w);
            eprintln!(
                "\nadd the new deploy key to the git host (read access), then remove the old one there"
            );
            Ok(())
        }
    }
}

pub async fn notify(berth: &Berth, cmd: NotifyCmd) -> anyhow::Result<()> {
    match cmd {
        NotifyCmd::Add {
            kind,
            url,
            app,
            events,
        } => {
            let events = berth_model::NoticeEvent::parse_list(events.as_deref().unwrap_or(""))
                .map_err(anyhow::Error::msg)?;
            // Its path or query is the token (a Slack webhook, an ntfy topic).
            if url != "-" {
                return Err(crate::secret_input::on_argv(
                    "a notifier URL",
                    &format!("berth notify add {kind} -"),
                ));
            }
            let url = crate::secret_input::SecretInput::new(1).read("the notifier URL")?;
            let saved = berth
                .notify_add(
                    kind.parse().map_err(anyhow::Error::msg)?,
                    &url,
                    app.as_deref(),
                    &events,
                )
                .await?;
            let n = saved.notifier;
            eprintln!(
                "notifier {} added: {} {} ({})",
                n.id,
                n.kind,
                n.url,
                n.routing()
            );
            for w in saved.warnings {
                crate::output::resync_warning(Some(w));
            }
            Ok(())
        }
        NotifyCmd::Route {
            id,
            app,
            all_apps,
            events,
            all_events,
        } => {
            let current = berth
                .notifiers()?
                .into_iter()
                .find(|n| n.id == id)
                .ok_or_else(|| {
                    anyhow::anyhow!("there is no notifier {id} (see `berth notify ls`)")
                })?;
            let app = match (app, all_apps) {
                (Some(a), _) => Some(a),
                (None, true) => None,
                (None, false) => current.app,
            };
            let events = match (events, all_events) {
                (Some(e), _) => {
                    berth_model::NoticeEvent::parse_list(&e).map_err(anyhow::Error::msg)?
                }
                (None, true) => Vec::new(),
                (None, false) => current.events,
            };
            let saved = berth.notify_route(id, app.as_deref(), &events).await?;
            eprintln!("notifier {id} hears {}", saved.notifier.routing());
            for w in saved.warnings {
                crate::output::resync_warning(Some(w));
            }
            Ok(())
        }
        NotifyCmd::Ls { json } => {
            let list = berth.notifiers()?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no notifiers: add one with `berth notify add ntfy|slack|webhook URL`");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|n| {
                    vec![
                        n.id.to_string(),
                        n.kind.to_string(),
                        n.url.clone(),
                        n.routing(),
                    ]
                })
                .collect();
            table(&["ID", "KIND", "URL", "HEARS"], &rows);
            Ok(())
        }
        NotifyCmd::Rm { id } => {
            let warnings = berth.notify_rm(id).await?;
            eprintln!("notifier {id} removed");
            for w in warnings {
                crate::output::resync_warning(Some(w));
            }
            Ok(())
        }
        NotifyCmd::Test { id } => {
            let results = berth.notify_test(id).await;
            if let (true, Some(id)) = (results.is_empty(), id) {
                anyhow::bail!("there is no notifier {id} (see `berth notify ls`)");
            }
            if results.is_empty() {
                anyhow::bail!(
                    "no notifiers: add one with `berth notify add ntfy|slack|webhook URL`"
                );
            }
            let mut failed = 0;
            for t in results {
                let n = t.notifier;
                match t.error {
                    None => eprintln!("✓ {} {} {}", n.id, n.kind, n.url),
                    Some(e) => {
                        failed += 1;
                        eprintln!("✗ {} {} {}: {e}", n.id, n.kind, n.url);
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} notifier(s) did not take the test notice");
            }
            Ok(())
        }
    }
}

/// One line per event.
fn print_watch(event: WatchEvent) {
    let s = Style::new();
    match event {
        WatchEvent::Connected { server, pending } => eprintln!(
            "{} connected to the relay on {server}{}",
            s.dim("·"),
            if pending > 0 {
                format!(", {pending} delivery(ies) waiting")
            } else {
                String::new()
            }
        ),
        WatchEvent::Lost { server, error } => {
            eprintln!("{} relay on {server}: {error}; retrying", s.yellow("!"))
        }
        WatchEvent::Superseded { app, ids, by, .. } => eprintln!(
            "{} {app}: deliveries {} superseded by #{by} (only the newest push deploys)",
            s.dim("·"),
            ids.iter()
                .map(|i| format!("#{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        WatchEvent::Started { server, delivery } => eprintln!(
            "{} {} #{} {} {} on {server}: deploying",
            s.dim("·"),
            delivery.app.as_deref().unwrap_or("?"),
            delivery.id,
            delivery.git_ref.as_deref().unwrap_or(""),
            delivery
                .commit
                .as_deref()
                .map(|c| c.get(..7).unwrap_or(c))
                .unwrap_or("")
        ),
        WatchEvent::Finished {
            delivery, notice, ..
        } => {
            let mark = if notice.status == "deployed" {
                s.green("✓")
            } else {
                s.red("✗")
            };
            println!("{mark} #{} {}", delivery.id, notice.summary());
        }
        WatchEvent::NotifyFailed { notifier, error } => {
            eprintln!("{} notifier {notifier}: {error}", s.yellow("!"))
        }
        WatchEvent::Polled {
            app,
            tag,
            ok,
            result,
        } => println!(
            "{} {app}: new tag {tag} (polling): {result}",
            if ok { s.green("✓") } else { s.red("✗") }
        ),
        WatchEvent::PollFailed { app, error } => {
            eprintln!("{} polling the registry of {app}: {error}", s.yellow("!"))
        }
        WatchEvent::Unattended { server, deployment } => {
            let d = &deployment;
            let ok = d.status.was_healthy();
            println!(
                "{} {} {} {} by the relay on {server}{}",
                if ok { s.green("✓") } else { s.red("✗") },
                d.app,
                d.short_commit().unwrap_or("-"),
                if ok { "deployed" } else { "failed" },
                d.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
}

pub async fn watch(
    berth: Arc<Berth>,
    server: Option<String>,
    once: bool,
    poll: Option<u64>,
) -> anyhow::Result<()> {
    let every = poll.map_or_else(|| berth.poll_interval(), std::time::Duration::from_secs);
    let cancel = CancellationToken::new();
    if !once {
        let c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: a deploy in progress is cancelled cleanly");
                c.cancel();
            }
        });
        eprintln!("watching for webhook deliveries (Ctrl-C stops)");
    }
    berth
        .watch(
            WatchOptions {
                server,
                once,
                client: berth_api::client_name("berth watch"),
                poll: (!every.is_zero()).then_some(every),
            },
            cancel,
            Arc::new(print_watch),
        )
        .await?;
    Ok(())
}
