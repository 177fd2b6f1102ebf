//! `berth backup …`: backups of services, and where they are kept; `berth cron …`: commands
//! the relay runs on schedule.

use berth_api::{Berth, Confirm, TargetOptions};
use berth_model::format::{bytes, duration};
use berth_model::{BackupRecord, BackupResult};

use crate::args::{BackupCmd, BackupKeyCmd, BackupTargetCmd, CronCmd};
use crate::output::{Style, table};
use crate::print_json;

fn result(r: &BackupRecord) -> String {
    match &r.result {
        BackupResult::Ok => "ok".to_owned(),
        BackupResult::Failed { error } => {
            let first = error.lines().next().unwrap_or_default();
            format!("failed: {first}")
        }
    }
}

pub(crate) async fn backup(berth: &Berth, cmd: BackupCmd) -> anyhow::Result<()> {
    let s = Style::new();
    match cmd {
        BackupCmd::Create {
            service,
            to,
            keep,
            json,
        } => {
            if !json {
                eprintln!("backing up {service}…");
            }
            let (record, removed) = berth.backup_create(&service, to.as_deref(), keep).await?;
            if json {
                return print_json(&serde_json::json!({
                    "backup": record,
                    "removed": removed,
                }));
            }
            eprintln!(
                "{} backup {} of {service}: {} ({} before compression) in {}, sha256 {}",
                s.green("✓"),
                record.id,
                bytes(record.stored_bytes),
                bytes(record.raw_bytes),
                duration(record.duration_ms),
                &record.sha256[..12.min(record.sha256.len())]
            );
            if !removed.is_empty() {
                eprintln!("removed beyond --keep: {}", removed.join(", "));
            }
            Ok(())
        }
        BackupCmd::Ls {
            service,
            target,
            json,
        } => {
            let records = berth.backups(&service, target.as_deref()).await?;
            if json {
                return print_json(&records);
            }
            if records.is_empty() {
                eprintln!("no backups of {service} there yet: `berth backup create {service}`");
                return Ok(());
            }
            let rows = records
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        berth_model::format::ago(now_ms(), r.started_at),
                        if r.is_good() {
                            bytes(r.stored_bytes)
                        } else {
                            "-".to_owned()
                        },
                        duration(r.duration_ms),
                        r.trigger.clone(),
                        if r.sealed_to.is_some() { "sealed" } else { "-" }.to_owned(),
                        result(r),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &["ID", "TAKEN", "SIZE", "TOOK", "BY", "ENCRYPTED", "RESULT"],
                &rows,
            );
            Ok(())
        }
        BackupCmd::Restore {
            service,
            backup,
            target,
            into,
            yes,
        } => {
            let into_name = into.clone().unwrap_or_else(|| service.clone());
            let confirm = if yes
                || crate::deploys::ask(&format!(
                    "Overwrite the data of {into_name} with backup {backup} of {service}?"
                ))? {
                Confirm::Yes
            } else {
                Confirm::No
            };
            eprintln!("restoring {backup} of {service} into {into_name}…");
            let record = berth
                .backup_restore(
                    &service,
                    &backup,
                    target.as_deref(),
                    into.as_deref(),
                    confirm,
                )
                .await?;
            eprintln!(
                "{} {into_name} holds backup {} of {service} again (checksum proven before it was restored)",
                s.green("✓"),
                record.id
            );
            Ok(())
        }
        BackupCmd::Verify {
            service,
            backup,
            target,
            json,
        } => {
            if !json {
                eprintln!("restoring {backup} of {service} into a throwaway container…");
            }
            let verified = berth
                .backup_verify(&service, &backup, target.as_deref())
                .await?;
            if json {
                return print_json(&verified);
            }
            eprintln!(
                "{} backup {} of {service} restores: checksum ok, {} ({})",
                s.green("✓"),
                verified.id,
                if verified.found.is_empty() {
                    "restored".to_owned()
                } else {
                    verified.found.clone()
                },
                duration(verified.duration_ms)
            );
            Ok(())
        }
        BackupCmd::Schedule {
            service,
            cron,
            keep,
            to,
        } => {
            let (schedule, warning) = berth
                .backup_schedule(&service, &cron, keep, to.as_deref())
                .await?;
            eprintln!(
                "{} {service} is backed up by its server's relay at `{}` (UTC), keeping {keep}{}",
                s.green("✓"),
                schedule.cron,
                next_run(&schedule.cron)
            );
            if let Some(w) = warning {
                eprintln!("{} {w}", s.yellow("!"));
            }
            Ok(())
        }
        BackupCmd::Unschedule { service } => {
            let warning = berth.backup_unschedule(&service).await?;
            eprintln!("{service} is no longer backed up on schedule (its backups stay)");
            if let Some(w) = warning {
                eprintln!("{} {w}", s.yellow("!"));
            }
            Ok(())
        }
        BackupCmd::Schedules { json } => {
            let schedules = berth.backup_schedules()?;
            if json {
                return print_json(&schedules);
            }
            if schedules.is_empty() {
                eprintln!(
                    "no scheduled backups: `berth backup schedule SERVICE --cron '0 3 * * *' --keep 7`"
                );
                return Ok(());
            }
            let rows = schedules
                .iter()
                .map(|sc| {
                    vec![
                        sc.service.clone(),
                        sc.cron.to_string(),
                        sc.keep.to_string(),
                        sc.target
                            .clone()
                            .unwrap_or_else(|| "(its server)".to_owned()),
                        sc.cron
                            .next_after(now_ms())
                            .map(utc)
                            .unwrap_or_else(|| "never".to_owned()),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["SERVICE", "CRON (UTC)", "KEEP", "TARGET", "NEXT"], &rows);
            Ok(())
        }
        BackupCmd::Target(BackupTargetCmd::Add {
            name,
            location,
            encrypt,
            endpoint,
            region,
            access_key_id,
        }) => {
            let s3 = location.trim().starts_with("s3://");
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let options = TargetOptions {
                encrypt,
                endpoint,
                region,
                access_key_id: access_key_id
                    .or_else(|| s3.then(|| env("AWS_ACCESS_KEY_ID")).flatten()),
                secret_access_key: s3
                    .then(|| env("AWS_SECRET_ACCESS_KEY"))
                    .flatten()
                    .map(berth_api::Sensitive::new),
            };
            let target = berth.backup_target_add(&name, &location, options).await?;
            eprintln!(
                "{} backup target {name}: {} (written and read back)",
                s.green("✓"),
                target.location
            );
            if let Some(recipient) = &target.sealed_to {
                eprintln!(
                    "  its backups are sealed to {recipient}: keep the key that opens them somewhere safe (`berth backup key export`)"
                );
            }
            Ok(())
        }
        BackupCmd::Key(BackupKeyCmd::Show) => {
            println!("{}", berth.backup_key_recipient()?);
            Ok(())
        }
        BackupCmd::Key(BackupKeyCmd::Export) => {
            let secret = berth.backup_key_export()?;
            eprintln!(
                "the secret key that opens your sealed backups: keep it safe (a password manager), never in the backups' own place"
            );
            println!("{}", secret.expose());
            Ok(())
        }
        BackupCmd::Key(BackupKeyCmd::Import { replace }) => {
            let mut secret = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut secret)?;
            let recipient = berth.backup_key_import(&secret, replace)?;
            eprintln!(
                "{} backup key {recipient} kept in the keychain",
                s.green("✓")
            );
            Ok(())
        }
        BackupCmd::Target(BackupTargetCmd::Ls { json }) => {
            let targets = berth.backup_targets()?;
            if json {
                return print_json(&targets);
            }
            if targets.is_empty() {
                eprintln!(
                    "no backup targets: backups go to each service's own server (/var/lib/berth/backups); add another with `berth backup target add NAME ssh://SERVER/DIR`"
                );
                return Ok(());
            }
            let rows = targets
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.location.to_string(),
                        match &t.sealed_to {
                            Some(r) => format!("sealed to {}…", &r[..12.min(r.len())]),
                            None => "no".to_owned(),
                        },
                    ]
                })
                .collect::<Vec<_>>();
            table(&["NAME", "LOCATION", "ENCRYPTED"], &rows);
            Ok(())
        }
        BackupCmd::Target(BackupTargetCmd::Rm { name }) => {
            berth.backup_target_rm(&name)?;
            eprintln!("backup target {name} forgotten (its backups stay where they are)");
            Ok(())
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-12-08 03:00 UTC`.
fn utc(ms: i64) -> String {
    let t = berth_model::cron::Utc::of(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

fn next_run(cron: &berth_model::Cron) -> String {
    cron.next_after(now_ms())
        .map(|at| format!(" (next: {})", utc(at)))
        .unwrap_or_default()
}

pub(crate) async fn cron(berth: &Berth, cmd: CronCmd) -> anyhow::Result<()> {
    let s = Style::new();
    match cmd {
        CronCmd::Add {
            app,
            name,
            schedule,
            command,
        } => {
            let (job, warning) = berth.cron_add(&app, &name, &schedule, &command).await?;
            eprintln!(
                "{} {app}'s `{name}` runs at `{}` (UTC) on its server's relay{}",
                s.green("✓"),
                job.schedule,
                next_run(&job.schedule)
            );
            if let Some(w) = warning {
                eprintln!("{} {w}", s.yellow("!"));
            }
            Ok(())
        }
        CronCmd::Ls { app, json } => {
            let jobs = berth.cron_jobs(app.as_deref())?;
            if json {
                return print_json(&jobs);
            }
            if jobs.is_empty() {
                eprintln!(
                    "no cron jobs: `berth cron add APP NAME --schedule '0 2 * * *' -- COMMAND`"
                );
                return Ok(());
            }
            let rows = jobs
                .iter()
                .map(|j| {
                    vec![
                        j.app.clone(),
                        j.name.clone(),
                        j.schedule.to_string(),
                        j.schedule
                            .next_after(now_ms())
                            .map(utc)
                            .unwrap_or_else(|| "never".to_owned()),
                        j.command.join(" "),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["APP", "NAME", "SCHEDULE (UTC)", "NEXT", "COMMAND"], &rows);
            Ok(())
        }
        CronCmd::Rm { app, name } => {
            let warning = berth.cron_rm(&app, &name).await?;
            eprintln!("{app}'s cron job `{name}` removed");
            if let Some(w) = warning {
                eprintln!("{} {w}", s.yellow("!"));
            }
            Ok(())
        }
    }
}
