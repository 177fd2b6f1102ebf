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

/// An app's or a project's variables: which one a command is for.
enum Owner {
    App(String),
    Project(String),
}

impl Owner {
    /// With `--project`, every argument is the command's; without, the first names the app.
    fn split(
        project: Option<String>,
        mut args: Vec<String>,
    ) -> anyhow::Result<(Owner, Vec<String>)> {
        match project {
            Some(p) => Ok((Owner::Project(p), args)),
            None if args.len() < 2 => anyhow::bail!(
                "give the app, then what to change (`berth env set APP KEY=VALUE`), or --project PROJECT"
            ),
            None => {
                let app = args.remove(0);
                Ok((Owner::App(app), args))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Owner::App(a) => a.clone(),
            Owner::Project(p) => format!("project {p}"),
        }
    }
}

pub(crate) async fn env(berth: &Berth, cmd: EnvCmd) -> anyhow::Result<()> {
    match cmd {
        EnvCmd::Set {
            args,
            project,
            secret,
            build,
            apply,
        } => {
            if secret && build {
                anyhow::bail!(
                    "--secret and --build do not go together: a build arg stays readable in the image's history (`docker history`), so secrets are never passed to builds; read the secret at run time instead"
                );
            }
            let (owner, pairs) = Owner::split(project, args)?;
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
            let keys = parsed
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            match &owner {
                Owner::Project(p) => {
                    berth.project_env_set(p, &parsed, secret)?;
                    let members = berth.project(p)?.members;
                    eprintln!(
                        "set {keys} on project {p}{}",
                        if members.is_empty() {
                            String::new()
                        } else if apply {
                            format!("; applying to {}", members.join(", "))
                        } else {
                            format!(
                                "; pending for {} (`berth plan --project {p}`, `berth apply --project {p}`)",
                                members.join(", ")
                            )
                        }
                    );
                    for m in &members {
                        resync_warning(berth.webhook_resync(m).await);
                    }
                    if apply {
                        crate::pending::apply(berth, None, Some(p), true).await?;
                    }
                }
                Owner::App(app) => {
                    if build {
                        berth.env_set_build(app, &parsed)?;
                    } else {
                        berth.env_set(app, &parsed, secret)?;
                    }
                    eprintln!(
                        "set {keys}{} on {app}{}",
                        if build { " (passed to builds too)" } else { "" },
                        if apply {
                            String::new()
                        } else {
                            crate::pending::pending_hint(berth, app)
                        }
                    );
                    resync_warning(berth.webhook_resync(app).await);
                    if apply {
                        crate::pending::apply_now(berth, app).await?;
                    }
                }
            }
            Ok(())
        }
        EnvCmd::Unset {
            args,
            project,
            apply,
        } => {
            let (owner, keys) = match project {
                Some(p) => (Owner::Project(p), args),
                None => Owner::split(None, args)?,
            };
            for k in &keys {
                let existed = match &owner {
                    Owner::App(app) => berth.env_unset(app, k)?,
                    Owner::Project(p) => berth.project_env_unset(p, k)?,
                };
                if !existed {
                    eprintln!("{k} was not set on {}", owner.describe());
                }
            }
            match &owner {
                Owner::App(app) => {
                    resync_warning(berth.webhook_resync(app).await);
                    if apply {
                        crate::pending::apply_now(berth, app).await?;
                    }
                }
                Owner::Project(p) if apply => {
                    crate::pending::apply(berth, None, Some(p), true).await?;
                }
                Owner::Project(_) => {}
            }
            Ok(())
        }
        EnvCmd::Get { args, project, yes } => {
            let (owner, key) = match (project, args.as_slice()) {
                (Some(p), [key]) => (Owner::Project(p), key.clone()),
                (None, [app, key]) => (Owner::App(app.clone()), key.clone()),
                (Some(_), _) => anyhow::bail!("give one key: `berth env get --project P KEY`"),
                (None, _) => anyhow::bail!("give the app and the key: `berth env get APP KEY`"),
            };
            let secret = match &owner {
                Owner::App(app) => berth.env_ls(app)?,
                Owner::Project(p) => berth.project_env(p)?,
            }
            .iter()
            .any(|v| v.key == key && v.secret);
            // On a screen, a secret is shown only after a yes; into a pipe or a file (a
            // script reading it), as asked.
            if secret && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                crate::deploys::confirm(
                    yes,
                    &format!(
                        "show the value of secret {key} of {} here?",
                        owner.describe()
                    ),
                    "not shown",
                    "--yes",
                )?;
            }
            let value = match &owner {
                Owner::App(app) => berth.env_reveal(app, &key)?,
                Owner::Project(p) => berth.project_env_reveal(p, &key)?,
            };
            let value = value.with_context(|| {
                format!(
                    "{key} is not set on {} (or it is a secret the secrets store has no value for)",
                    owner.describe()
                )
            })?;
            println!("{value}");
            Ok(())
        }
        EnvCmd::Ls {
            app,
            project,
            resolved,
            json,
        } => {
            if let Some(p) = project {
                let vars = berth.project_env(&p)?;
                if json {
                    return print_json(&vars);
                }
                for e in &vars {
                    println!("{}", env_line(e));
                }
                return Ok(());
            }
            let Some(app) = app else {
                anyhow::bail!("give the app (`berth env ls APP`) or --project PROJECT");
            };
            if resolved {
                let vars = berth.env_resolved(&app)?;
                if json {
                    return print_json(&vars);
                }
                let rows: Vec<Vec<String>> = vars
                    .iter()
                    .map(|v| {
                        vec![
                            v.key.clone(),
                            if v.secret {
                                "******** (secret)".to_owned()
                            } else {
                                v.value.clone().unwrap_or_default()
                            },
                            match &v.overrides {
                                Some(p) => format!("app (over project {p})"),
                                None => v.from.describe(),
                            },
                        ]
                    })
                    .collect();
                crate::output::table(&["key", "value", "from"], &rows);
                return Ok(());
            }
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
