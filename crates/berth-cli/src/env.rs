//! `berth env …`: an app's environment variables, secret ones in the secrets store.

use anyhow::Context;
use berth_api::Berth;

use crate::args::EnvCmd;
use crate::output::resync_warning;
use crate::print_json;
use berth_model::EnvVar;

pub(crate) fn env_line(e: &EnvVar) -> String {
    if e.secret {
        format!("{}=******** (secret)", e.key)
    } else {
        format!("{}={}", e.key, e.value.clone().unwrap_or_default())
    }
}

pub(crate) async fn env(berth: &Berth, cmd: EnvCmd) -> anyhow::Result<()> {
    match cmd {
        EnvCmd::Set {
            app,
            pairs,
            secret,
            build,
        } => {
            if secret && build {
                anyhow::bail!(
                    "--secret and --build do not go together: a build arg stays readable in the image's history (`docker history`), so secrets are never passed to builds; read the secret at run time instead"
                );
            }
            let mut parsed = Vec::new();
            for p in &pairs {
                parsed.push(EnvVar::parse_pair(p).map_err(anyhow::Error::msg)?);
            }
            if secret {
                let asked = parsed.iter().filter(|(_, v)| v == "-").count();
                let mut input = crate::secret_input::SecretInput::new(asked);
                for (key, value) in &mut parsed {
                    if value == "-" {
                        *value = input.read(key)?;
                    } else {
                        return Err(crate::secret_input::on_argv(
                            &format!("the value of {key}"),
                            &format!("{key}=-"),
                        ));
                    }
                }
            }
            if build {
                berth.env_set_build(&app, &parsed)?;
            } else {
                berth.env_set(&app, &parsed, secret)?;
            }
            eprintln!(
                "set {}{} on {app}; it takes effect on the next deploy or `berth restart {app}`",
                parsed
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if build { " (passed to builds too)" } else { "" }
            );
            resync_warning(berth.webhook_resync(&app).await);
            Ok(())
        }
        EnvCmd::Unset { app, keys } => {
            for k in &keys {
                if !berth.env_unset(&app, k)? {
                    eprintln!("{k} was not set on {app}");
                }
            }
            resync_warning(berth.webhook_resync(&app).await);
            Ok(())
        }
        EnvCmd::Get { app, key } => {
            let var = berth
                .env_ls(&app)?
                .into_iter()
                .find(|v| v.key == key)
                .with_context(|| format!("{key} is not set on {app}"))?;
            let value = if var.secret {
                berth.env_reveal(&app, &key)?.with_context(|| {
                    format!("{key} is a secret of {app}, but the secrets store has no value for it")
                })?
            } else {
                var.value.unwrap_or_default()
            };
            println!("{value}");
            Ok(())
        }
        EnvCmd::Ls { app, json } => {
            let vars = berth.env_ls(&app)?;
            if json {
                return print_json(&vars);
            }
            for e in &vars {
                if e.build {
                    println!("{}  (build)", env_line(e));
                } else {
                    println!("{}", env_line(e));
                }
            }
            Ok(())
        }
    }
}
