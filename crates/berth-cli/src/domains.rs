//! `berth domain …`: the names an app answers to through its server's proxy.

use berth_api::Berth;

use crate::args::DomainCmd;
use crate::output::{Style, table};
use crate::print_json;

pub(crate) async fn domain(berth: &Berth, cmd: DomainCmd) -> anyhow::Result<()> {
    match cmd {
        DomainCmd::Add {
            app,
            domain,
            primary,
        } => {
            let list = berth.domain_add(&app, &domain, primary).await?;
            if let Some(d) = list
                .iter()
                .find(|d| d.domain == domain.to_ascii_lowercase())
            {
                eprintln!(
                    "{} {app} answers to {}{}; point its DNS at the server",
                    Style::new().green("✓"),
                    d.url,
                    if d.primary { " (primary)" } else { "" }
                );
            }
            Ok(())
        }
        DomainCmd::Rm { app, domain } => {
            berth.domain_rm(&app, &domain).await?;
            eprintln!("{app} no longer answers to {domain}");
            Ok(())
        }
        DomainCmd::Primary { app, domain } => {
            berth.domain_primary(&app, &domain).await?;
            eprintln!("{domain} is now the primary domain of {app}");
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
                        match (d.primary, d.auto) {
                            (true, true) => "primary, automatic".to_owned(),
                            (true, false) => "primary".to_owned(),
                            (false, true) => "automatic".to_owned(),
                            _ => String::new(),
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
