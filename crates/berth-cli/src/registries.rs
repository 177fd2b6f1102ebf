//! `berth registry …`: logins to image registries, tested and browsed through a server.

use berth_api::Berth;
use berth_model::RegistryDraft;

use crate::args::RegistryCmd;
use crate::output::{Style, ago, table};
use crate::print_json;
use crate::secret_input::SecretInput;

pub(crate) async fn registry(berth: &Berth, cmd: RegistryCmd) -> anyhow::Result<()> {
    let style = Style::new();
    match cmd {
        RegistryCmd::Add {
            name,
            url,
            username,
            password_stdin,
        } => {
            let draft = RegistryDraft {
                name,
                url,
                username,
            };
            // Checked before a password is asked for.
            draft.validate(0).map_err(anyhow::Error::msg)?;
            let what = format!("password or token for {}", draft.username);
            let password = if password_stdin {
                SecretInput::piped_only(&what)?
            } else {
                SecretInput::new(1).read(&what)?
            };
            let r = berth.registry_add(&draft, &password).await?;
            println!(
                "registry {} added: {} as {} (password in {}); check it with `berth registry test {}`",
                style.bold(&r.name),
                r.host,
                r.username,
                berth.secrets_info().backend,
                r.name
            );
        }
        RegistryCmd::Poll { secs } => {
            if let Some(secs) = secs {
                // Relays poll for their unattended apps: they learn the new interval.
                for warning in berth.set_poll_interval(secs).await? {
                    eprintln!("warning: {warning}");
                }
            }
            match berth.poll_interval().as_secs() {
                0 => println!("registries are not polled (webhooks and `berth deploy` only)"),
                secs => println!(
                    "registries are polled every {secs} s (by `berth watch`, the desktop, and relays for unattended apps)"
                ),
            }
        }
        RegistryCmd::Ls { json } => {
            let list = berth.registries()?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!(
                    "no registries; add one with `berth registry add NAME --url HOST --username USER --password-stdin`"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.host.clone(),
                        r.username.clone(),
                        ago(r.created_at_ms),
                    ]
                })
                .collect();
            table(&["NAME", "HOST", "USERNAME", "ADDED"], &rows);
        }
        RegistryCmd::Rm { name } => {
            berth.registry_rm(&name)?;
            println!("registry {name} removed (and its password)");
        }
        RegistryCmd::Test { name, server } => {
            let server = berth
                .registry_test(&name, server.as_deref().unwrap_or_default())
                .await?;
            println!(
                "{} {server} logged in to registry {name}",
                style.green("ok")
            );
        }
        RegistryCmd::Tags {
            name,
            repository,
            server,
            json,
        } => {
            let tags = berth
                .registry_tags(&name, &repository, server.as_deref().unwrap_or_default())
                .await?;
            if json {
                return print_json(&tags);
            }
            if tags.is_empty() {
                println!("{repository} has no tags");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = tags
                .iter()
                .map(|t| {
                    vec![
                        t.tag.clone(),
                        t.created_ms.map(ago).unwrap_or_default(),
                        t.digest
                            .as_deref()
                            .map(|d| d.chars().take(19).collect())
                            .unwrap_or_default(),
                        t.platforms.join(" "),
                    ]
                })
                .collect();
            table(&["TAG", "BUILT", "DIGEST", "PLATFORMS"], &rows);
        }
    }
    Ok(())
}
