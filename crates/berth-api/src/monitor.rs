//! After the deploy: what each server's relay watches (every app's monitor settings and the
//! notifiers routed to it, given whenever they change), the stats it keeps (`berth stats`,
//! `berth server stats`, the Metrics tab) and the events it recorded (`berth alerts`, the
//! Overview, the tray), fetched over the SSH session into Berth's own records.

use std::collections::HashMap;

use berth_engine::monitor::{self, Counters};
use berth_model::{Alert, AlertKind, App, AppStats, ContainerSample, Server, ServerStats};
use berth_relay_proto::proto::{MonitorConfig, MonitoredApp, NotifierSpec};
use berth_secrets::notifier_key;

use crate::Berth;
use crate::error::ApiError;

/// How often the desktop samples servers without a relay (as often as a relay does).
pub(crate) const DESKTOP_SAMPLE_EVERY_MS: i64 = 10_000;

impl Berth {
    /// The notifiers that hear about `app` (`None`: about a server — those routed to every
    /// app), with their URLs, for a relay.
    pub(crate) fn notifier_specs(&self, app: Option<&str>) -> Result<Vec<NotifierSpec>, ApiError> {
        let routed = app.map(|a| self.routed_app(a));
        let mut out = Vec::new();
        for n in self.store.notifiers()? {
            let hears = match (&n.app, &routed) {
                (None, _) => true,
                (Some(only), Some(app)) => only == app,
                (Some(_), None) => false,
            };
            if !hears {
                continue;
            }
            if let Some(url) = self.secrets().get(&notifier_key(n.id))? {
                out.push(NotifierSpec {
                    kind: n.kind,
                    url: url.expose().clone(),
                    events: n.events,
                });
            }
        }
        Ok(out)
    }

    /// What `server`'s relay watches: every app on it, and whom to tell.
    pub(crate) fn monitor_config(&self, server: &Server) -> Result<MonitorConfig, ApiError> {
        let mut apps = Vec::new();
        for app in self.store.apps()? {
            if app.server != server.name {
                continue;
            }
            apps.push(MonitoredApp {
                notifiers: self.notifier_specs(Some(&app.name))?,
                app: app.name.clone(),
                monitor: app.monitor,
                port: app.port,
                health_path: app.health.path.clone(),
                timeout_ms: app.health.timeout_ms,
                stop_grace_secs: app.stop_grace_secs,
                deadline_ms: app.health.deadline_ms,
                stopped: self.store.app_stopped(&app.name)?,
                route: self
                    .route_plan(&app, server)?
                    .and_then(|r| crate::unattended::relay_route(r).ok()),
                service: app.service,
            });
        }
        let mut backups = Vec::new();
        for schedule in self.store.backup_schedules()? {
            let Ok((service, kind, method)) = self.backup_subject(&schedule.service) else {
                continue;
            };
            if service.server != server.name {
                continue;
            }
            let target = self.schedule_target(&service, schedule.target.as_deref())?;
            backups.push(berth_relay_proto::proto::ScheduledBackup {
                service: schedule.service.clone(),
                kind,
                method: Some(method),
                cron: schedule.cron.clone(),
                keep: schedule.keep,
                path: target.path,
                target: target.name,
                sealed_to: target.sealed_to,
                s3: target.s3,
            });
        }
        Ok(MonitorConfig {
            server: server.name.clone(),
            apps,
            notifiers: self.notifier_specs(None)?,
            backups,
            crons: self
                .store
                .cron_jobs(None)?
                .into_iter()
                .filter(|j| {
                    self.store
                        .app(&j.app)
                        .is_ok_and(|a| a.server == server.name)
                })
                .collect(),
        })
    }

    /// Gives `server`'s relay (if it has one) what to watch now. A relay that cannot be
    /// reached is reported, not fatal: the change itself is done.
    pub async fn monitor_sync(&self, server: &str) -> Option<String> {
        let pushed = async {
            let server = self.store.server(server)?;
            if server.relay.is_none() {
                return Ok(());
            }
            let config = self.monitor_config(&server)?;
            self.relay_client(&server)
                .await?
                .put_monitor(&config)
                .await?;
            Ok::<_, ApiError>(())
        };
        match pushed.await {
            Ok(()) => None,
            Err(e) => {
                let warning = format!(
                    "the relay on {server} still watches with the old settings ({e}); they reach it with the next change or `berth server relay install {server}`"
                );
                tracing::warn!("{warning}");
                Some(warning)
            }
        }
    }

    /// Every server's relay gets what to watch again (the notifiers changed).
    pub async fn monitor_sync_all(&self) -> Vec<String> {
        let Ok(servers) = self.store.servers() else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        for s in servers.iter().filter(|s| s.relay.is_some()) {
            warnings.extend(self.monitor_sync(&s.name).await);
        }
        warnings
    }

    /// `berth app set --monitor-interval --unhealthy-after`: the monitor's settings of `app`,
    /// given to its server's relay at once. The answer's warning says when the relay did not
    /// get them.
    pub async fn app_set_monitor(
        &self,
        app: &str,
        interval_secs: Option<u32>,
        unhealthy_after: Option<u32>,
    ) -> Result<(App, Option<String>), ApiError> {
        let mut a = self.store.app(app)?;
        if let Some(i) = interval_secs {
            if i > 24 * 3600 {
                return Err(ApiError::Invalid(format!(
                    "the monitor interval is {i} s; use at most a day"
                )));
            }
            a.monitor.interval_secs = i;
        }
        if let Some(n) = unhealthy_after {
            a.monitor.unhealthy_after =
                berth_model::Monitor::check_unhealthy_after(n).map_err(ApiError::Invalid)?;
        }
        self.store.update_app(&a)?;
        self.audit("app.monitor", &a.name, &a.monitor.describe());
        let warning = self.monitor_sync(&a.server).await;
        Ok((a, warning))
    }

    /// `berth app set --release-command`: the command run before each switch (empty: none),
    /// from the next deploy.
    pub fn app_set_release_command(&self, app: &str, cmd: &str) -> Result<App, ApiError> {
        let mut a = self.store.app(app)?;
        a.release_command =
            App::check_release_command(Some(cmd)).map_err(|e| ApiError::Invalid(e.to_string()))?;
        self.store.update_app(&a)?;
        self.audit(
            "app.release-command",
            &a.name,
            a.release_command.as_deref().unwrap_or("(none)"),
        );
        Ok(a)
    }

    /// `berth app set --start-command`: how the app starts instead of its Procfile's `web`
    /// line or what detection guesses (empty: none), from the next deploy.
    pub fn app_set_start_command(&self, app: &str, cmd: &str) -> Result<App, ApiError> {
        let mut a = self.store.app(app)?;
        a.start_command = App::check_command("start", Some(cmd)).map_err(ApiError::Invalid)?;
        self.store.update_app(&a)?;
        self.audit(
            "app.start-command",
            &a.name,
            a.start_command.as_deref().unwrap_or("(none)"),
        );
        Ok(a)
    }

    /// `berth app set --app-dir read-only|writable`: whether a generated image leaves the
    /// app's folder to root, from the next deploy.
    pub fn app_set_read_only_app_dir(&self, app: &str, read_only: bool) -> Result<App, ApiError> {
        let mut a = self.store.app(app)?;
        a.read_only_app_dir = read_only;
        self.store.update_app(&a)?;
        self.audit(
            "app.app-dir",
            &a.name,
            if read_only { "read-only" } else { "writable" },
        );
        Ok(a)
    }

    /// `berth stats APP --since`: the app's samples from its server's relay — or, on a server
    /// without one, those the desktop took while it ran.
    pub async fn stats(&self, app: &str, since_ms: i64) -> Result<AppStats, ApiError> {
        let a = self.store.app(app)?;
        let server = self.store.server(&a.server)?;
        if server.relay.is_none() {
            let now = self.now();
            let (step, samples) =
                self.store
                    .samples(app, since_ms, DESKTOP_SAMPLE_EVERY_MS, now)?;
            if samples.is_empty() {
                return Err(ApiError::Invalid(format!(
                    "no stats of {app}: {} has no relay to keep them while Berth is closed — install it with `berth server relay install {}`; without one, the desktop samples its apps while it is open",
                    server.name, server.name
                )));
            }
            let alerts = self
                .store
                .alerts(Some(app), 100)?
                .into_iter()
                .filter(|x| x.at >= now - since_ms)
                .collect();
            return Ok(AppStats {
                app: app.to_owned(),
                server: server.name.clone(),
                step_secs: u32::try_from(step / 1000).unwrap_or(u32::MAX),
                source: "desktop".to_owned(),
                samples,
                alerts,
            });
        }
        let client = self.relay_client(&server).await?;
        let mut stats = client.stats(app, since_ms).await?;
        stats.server = server.name.clone();
        for a in &mut stats.alerts {
            a.server = server.name.clone();
        }
        Ok(stats)
    }

    /// One round of the desktop's own sampling, for servers without a relay (while the
    /// desktop runs): one stats reading of every running app's container, recorded.
    /// `previous` carries each container's last reading (for the CPU share since); the
    /// number of samples taken.
    pub(crate) async fn sample_without_relay(
        &self,
        previous: &mut HashMap<String, (i64, Counters)>,
    ) -> Result<usize, ApiError> {
        let apps = self.store.apps()?;
        let mut live = std::collections::HashSet::new();
        let mut taken = 0;
        for server in self
            .store
            .servers()?
            .into_iter()
            .filter(|s| s.relay.is_none())
        {
            let mine: std::collections::HashSet<&str> = apps
                .iter()
                .filter(|a| a.server == server.name)
                .map(|a| a.name.as_str())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let round = async {
                let host = self.host(&server).await?;
                let seen = monitor::app_containers(&host).await?;
                let running: Vec<(&String, &monitor::Seen)> = seen
                    .iter()
                    .filter(|(app, s)| s.running && mine.contains(app.as_str()))
                    .collect();
                let ids: Vec<&str> = running.iter().map(|(_, s)| s.id.as_str()).collect();
                let readings = monitor::counters_all(&host, &ids).await;
                let now = self.now();
                let mut samples = Vec::new();
                for ((app, s), reading) in running.into_iter().zip(readings) {
                    let Ok(c) = reading else { continue };
                    live.insert(s.id.clone());
                    let cpu_pct = match previous.get(&s.id) {
                        Some((at, prev)) => monitor::cpu_percent(prev, &c, now - at),
                        None => 0.0,
                    };
                    previous.insert(s.id.clone(), (now, c));
                    samples.push((
                        app.clone(),
                        ContainerSample {
                            at: now,
                            cpu_pct,
                            mem_bytes: c.mem_bytes,
                            mem_limit: c.mem_limit,
                            net_rx: c.net_rx,
                            net_tx: c.net_tx,
                            blk_read: c.blk_read,
                            blk_write: c.blk_write,
                            restarts: u32::try_from(s.restart_count).unwrap_or(0),
                        },
                    ));
                }
                self.store.add_samples(&samples, now)?;
                Ok::<_, ApiError>(samples.len())
            };
            match round.await {
                Ok(n) => taken += n,
                Err(e) => tracing::debug!(server = %server.name, "no samples this round: {e}"),
            }
        }
        previous.retain(|id, _| live.contains(id));
        Ok(taken)
    }

    /// `berth server stats NAME --since`: the host's samples, and what Docker's data takes.
    pub async fn server_stats(&self, server: &str, since_ms: i64) -> Result<ServerStats, ApiError> {
        let server = self.store.server(server)?;
        if server.relay.is_none() {
            return Err(ApiError::Invalid(format!(
                "{} has no relay to keep stats: install it with `berth server relay install {}`",
                server.name, server.name
            )));
        }
        let client = self.relay_client(&server).await?;
        let mut stats = client.host_stats(since_ms, true).await?;
        stats.server = server.name.clone();
        Ok(stats)
    }

    /// Fetches the monitor's new events from every reachable relay into Berth's records (a
    /// server that cannot be reached is an event of its own, once until it answers again).
    /// Returns the new ones, oldest first.
    pub async fn alerts_sync(&self) -> Result<Vec<Alert>, ApiError> {
        let mut new = Vec::new();
        for server in self.store.servers()? {
            if server.relay.is_none() {
                continue;
            }
            let fetched = async {
                let after = self.store.last_alert_seq(&server.name)?.max(0);
                let client = self.relay_client(&server).await?;
                let mut list = client.alerts(after).await?;
                for a in &mut list {
                    a.server = server.name.clone();
                }
                Ok::<_, ApiError>(list)
            };
            let key = format!("unreachable:{}", server.name);
            match tokio::time::timeout(std::time::Duration::from_secs(15), fetched).await {
                Ok(Ok(list)) => {
                    new.extend(self.store.add_alerts(&list)?);
                    self.store.delete_setting(&key)?;
                }
                Ok(Err(e)) => new.extend(self.unreachable(&server.name, &key, &e.to_string())?),
                Err(_) => {
                    new.extend(self.unreachable(&server.name, &key, "no answer within 15 s")?)
                }
            }
        }
        Ok(new)
    }

    /// Records (once, until it answers again) that `server` could not be reached.
    fn unreachable(&self, server: &str, key: &str, why: &str) -> Result<Option<Alert>, ApiError> {
        if self.store.setting(key)?.is_some() {
            return Ok(None);
        }
        let now = self.now();
        self.store.set_setting(key, &now.to_string())?;
        // Berth's own events take negative sequence numbers: the relay's count up from 1.
        let alert = Alert {
            id: -now,
            at: now,
            server: server.to_owned(),
            app: None,
            kind: AlertKind::Unreachable,
            why: why.to_owned(),
        };
        Ok(self.store.add_alerts(std::slice::from_ref(&alert))?.pop())
    }

    /// `berth alerts [--app]`: the monitor's events, newest first, after fetching new ones.
    /// A relay that cannot be reached leaves what was fetched before (and says so as an
    /// `unreachable` event).
    pub async fn alerts(&self, app: Option<&str>, limit: usize) -> Result<Vec<Alert>, ApiError> {
        if let Some(app) = app {
            self.store.app(app)?;
        }
        for a in self.alerts_sync().await? {
            if a.kind == AlertKind::Unreachable {
                self.notify_all(&a.notice()).await;
            }
        }
        Ok(self.store.alerts(app, limit)?)
    }
}
