//! What runs on a schedule: each service Berth gave a backup schedule is backed up by its
//! kind's method when its cron expression matches (UTC), into a directory on this server,
//! through the same engine code `berth backup create` runs, then retention keeps the newest
//! good ones; each cron job runs its command in a fresh container made like the app's serving
//! one (`berth run`'s engine code). Each result is an event of the app (`berth alerts`), told to
//! its notifiers. The laptop can be closed: backups' records sit beside them, where
//! `berth backup ls` reads them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_engine::Host;
use berth_engine::backup::{Store, Subject};
use berth_model::{AlertKind, BackupMethod, BackupResult};

use crate::Relay;
use crate::proto::{MonitorConfig, ScheduledBackup};

/// How often the schedule is looked at (every minute is seen at least once).
const TICK: Duration = Duration::from_secs(15);
/// How long a scheduled backup holds the service's lock at most.
const LEASE: Duration = Duration::from_secs(6 * 3600);
pub(crate) const OWNER: &str = "relay-backups";

/// Runs until `stopped`.
pub(crate) async fn run(relay: Arc<Relay>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut host: Option<Arc<Host>> = None;
    // Per service: the minute (Unix minutes) it was last started for.
    let mut last: HashMap<String, i64> = HashMap::new();
    loop {
        let config = relay.monitor_config();
        let now = crate::now_ms();
        let minute = now.div_euclid(60_000);
        for schedule in &config.backups {
            if last.get(&schedule.service) == Some(&minute) || !schedule.cron.matches(now) {
                continue;
            }
            last.insert(schedule.service.clone(), minute);
            if host.is_none() {
                host = open(&relay).await;
            }
            let Some(h) = host.clone() else { continue };
            take(&relay, &h, schedule, &config).await;
        }
        for job in &config.crons {
            let key = format!("cron:{}/{}", job.app, job.name);
            if last.get(&key) == Some(&minute) || !job.schedule.matches(now) {
                continue;
            }
            last.insert(key, minute);
            if host.is_none() {
                host = open(&relay).await;
            }
            let Some(h) = host.clone() else { continue };
            // Each job on its own task: a long one does not hold back the others.
            let (relay, config, job) = (relay.clone(), config.clone(), job.clone());
            tokio::spawn(async move { cron(&relay, &h, &job, &config).await });
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn open(relay: &Relay) -> Option<Arc<Host>> {
    let socket = &relay.settings.docker;
    match Host::open_local("this server", &socket.display().to_string()).await {
        Ok(h) => Some(Arc::new(h)),
        Err(e) => {
            tracing::warn!("scheduled backups cannot reach Docker: {e}");
            None
        }
    }
}

/// One scheduled backup, its retention, and the event that tells how it went.
async fn take(relay: &Relay, host: &Arc<Host>, s: &ScheduledBackup, config: &MonitorConfig) {
    let notifiers = config
        .apps
        .iter()
        .find(|a| a.app == s.service)
        .map(|a| a.notifiers.clone())
        .unwrap_or_default();
    let outcome = backup(relay, host, s).await;
    let (kind, why) = match outcome {
        Ok(message) => (AlertKind::BackedUp, message),
        Err(message) => (AlertKind::BackupFailed, message),
    };
    crate::watch::raise(
        relay,
        Some(&s.service),
        kind,
        why,
        &notifiers,
        &config.server,
    )
    .await;
}

async fn backup(relay: &Relay, host: &Arc<Host>, s: &ScheduledBackup) -> Result<String, String> {
    let method = s
        .method
        .clone()
        .or_else(|| BackupMethod::of(s.kind))
        .ok_or_else(|| format!("{} has no volumes to back up", s.service))?;
    let seal = s
        .sealed_to
        .as_deref()
        .map(berth_age::Recipient::parse)
        .transpose()
        .map_err(|e| format!("target {}: {e}", s.target))?;
    let serving = berth_engine::observe::serving_deployment(host, &s.service, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} has no running container to back up", s.service))?;
    let (serving, image) = (serving.container.unwrap_or_default(), serving.image);
    relay
        .locks
        .take(&s.service, OWNER, "a scheduled backup", LEASE)
        .map_err(|holder| format!("skipped: {holder} was running"))?;
    let store = match &s.s3 {
        Some(s3) => Store::s3(&s3.location, &s3.access_key_id, &s3.secret_access_key)
            .map_err(|e| e.to_string())?,
        None => Store::Server {
            host: host.clone(),
            path: s.path.clone(),
            tool: image,
        },
    };
    let subject = Subject {
        service: &s.service,
        kind: s.kind,
        container: &serving,
        method,
    };
    let spool = relay.settings.data.join("spool");
    let taken = berth_engine::backup::create(
        host,
        &subject,
        &store,
        &spool,
        "schedule",
        crate::now_ms(),
        seal.as_ref(),
    )
    .await;
    let result = match taken {
        Ok(record) => match &record.result {
            BackupResult::Ok => {
                let removed =
                    berth_engine::backup::apply_retention(&store, &s.service, s.keep as usize)
                        .await;
                let removed = match removed {
                    Ok(ids) if ids.is_empty() => String::new(),
                    Ok(ids) => format!("; {} older removed (keeping {})", ids.len(), s.keep),
                    Err(e) => format!("; retention failed: {e}"),
                };
                Ok(format!(
                    "backup {} into {} ({}, {} bytes){removed}",
                    record.id, s.target, s.path, record.stored_bytes
                ))
            }
            BackupResult::Failed { error } => Err(format!("backup {}: {error}", record.id)),
        },
        Err(e) => Err(e.to_string()),
    };
    relay.locks.release(&s.service, OWNER);
    result
}

/// How much of a cron job's output its event keeps.
const OUTPUT_KEPT: usize = 2000;

/// One run of a cron job, and the event that tells how it went.
async fn cron(relay: &Relay, host: &Arc<Host>, job: &berth_model::CronJob, config: &MonitorConfig) {
    let notifiers = config
        .apps
        .iter()
        .find(|a| a.app == job.app)
        .map(|a| a.notifiers.clone())
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let mut output = Vec::new();
    let ran = async {
        let serving = berth_engine::observe::serving_deployment(host, &job.app, None)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|d| d.container)
            .ok_or_else(|| format!("{} has no running container to run it like", job.app))?;
        let mut on_output = |_: berth_engine::exec::OutputStream, bytes: &[u8]| {
            output.extend_from_slice(bytes);
            if output.len() > OUTPUT_KEPT {
                let cut = output.len() - OUTPUT_KEPT;
                output.drain(..cut);
            }
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        berth_engine::exec::run(
            host,
            &serving,
            &job.app,
            &job.command,
            &mut on_output,
            &cancel,
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    let tail = String::from_utf8_lossy(&output).trim().to_owned();
    let took = berth_model::format::duration(
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    let (kind, why) = match ran {
        Ok(0) => (
            AlertKind::CronRan,
            format!("`{}` exited 0 in {took}{}", job.name, shown(&tail)),
        ),
        Ok(code) => (
            AlertKind::CronFailed,
            format!("`{}` exited {code} in {took}{}", job.name, shown(&tail)),
        ),
        Err(e) => (
            AlertKind::CronFailed,
            format!("`{}` did not run: {e}", job.name),
        ),
    };
    crate::watch::raise(relay, Some(&job.app), kind, why, &notifiers, &config.server).await;
}

fn shown(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("; output: {output}")
    }
}
