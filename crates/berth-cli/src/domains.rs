//! `berth domain …`: the names an app answers to through its server's proxy.

use berth_api::Berth;

use crate::args::DomainCmd;
use crate::output::{Style, table};
use crate::print_json;

/// Whether a domain change of `app` waits for `berth apply`.
async fn pending_domain(berth: &Berth, app: &str) -> bool {
    berth
        .domain_ls(app)
        .await
        .is_ok_and(|l| l.iter().any(|d| d.pending.is_some()))
}

pub(crate) async fn domain(berth: &Berth, cmd: DomainCmd) -> anyhow::Result<()> {
    match cmd {
        DomainCmd::Add {
            app,
            domain,
            primary,
            apply,
        } => {
            let list = berth.domain_add(&app, &domain, primary, apply).await?;
            if let Some(d) = list
                .iter()
                .find(|d| d.domain == domain.to_ascii_lowercase())
            {
                if d.pending.is_some() {
                    eprintln!(
                        "{app} will answer to {}{} once applied: `berth plan {app}` shows it, `berth apply {app}` routes it (or add with --apply)",
                        d.url,
                        if primary { " (primary)" } else { "" },
                    );
                } else {
                    eprintln!(
                        "{} {app} answers to {}{}; point its DNS at the server",
                        Style::new().green("✓"),
                        d.url,
                        if d.primary { " (primary)" } else { "" }
                    );
                }
            }
            Ok(())
        }
        DomainCmd::Rm { app, domain, apply } => {
            berth.domain_rm(&app, &domain, apply).await?;
            if pending_domain(berth, &app).await {
                eprintln!(
                    "{domain} removed from {app}'s records; its route keeps it until `berth apply {app}`"
                );
            } else {
                eprintln!("{app} no longer answers to {domain}");
            }
            Ok(())
        }
        DomainCmd::Primary { app, domain, apply } => {
            berth.domain_primary(&app, &domain, apply).await?;
            if pending_domain(berth, &app).await {
                eprintln!("{domain} becomes the primary domain of {app} with `berth apply {app}`");
            } else {
                eprintln!("{domain} is now the primary domain of {app}");
            }
            Ok(())
        }
        DomainCmd::Ls { app, json } => {
            let list = berth.domain_ls(&app).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                eprintln!(
                    "{app} has no domains: `berth domain add {app} DOMAIN`, or a base domain on its server"
                );
                return Ok(());
            }
            let rows = list
                .iter()
                .map(|d| {
                    vec![
                        d.domain.clone(),
                        {
                            let role = match (d.primary, d.auto) {
                                (true, true) => "primary, automatic",
                                (true, false) => "primary",
                                (false, true) => "automatic",
                                _ => "",
                            };
                            match &d.pending {
                                Some(p) if role.is_empty() => format!("pending: {p}"),
                                Some(p) => format!("{role} (pending: {p})"),
                                None => role.to_owned(),
                            }
                        },
                        d.url.clone(),
                        d.tls.detail.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["domain", "", "url", "tls"], &rows);
            Ok(())
        }
    }
}
