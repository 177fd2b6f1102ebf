//! Attended webhook deploys: a front end connected to a server (the desktop, `berth watch`)
//! claims the deliveries its relay queued — the newest per app; older ones are superseded —
//! deploys each with the engine, keeps its claim alive while the deploy runs, reports the
//! result back to the relay and announces it to the notifiers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_engine::{DeployOutcome, Ended};
use berth_model::{Delivery, DeployNotice, Server};
use berth_relay_proto::client::ControlClient;
use berth_relay_proto::proto::ClaimRequest;
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::error::ApiError;

/// How long a claim holds without a heartbeat (then another client may take the delivery).
const LEASE: Duration = Duration::from_secs(120);
/// How often a running deploy renews its claim.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// One long-poll of the relay.
const WAIT: Duration = Duration::from_secs(25);

/// What happens while watching, for a front end to show.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Connected to the server's relay; `pending` deliveries were waiting.
    Connected { server: String, pending: usize },
    /// The relay could not be reached; retrying.
    Lost { server: String, error: String },
    /// Older queued deliveries of the app were not deployed: `by` is newer.
    Superseded {
        server: String,
        app: String,
        ids: Vec<i64>,
        by: i64,
    },
    /// A deploy for `delivery` started.
    Started {
        server: String,
        delivery: Box<Delivery>,
    },
    /// It ended; `delivery` is the relay's record with the result.
    Finished {
        server: String,
        delivery: Box<Delivery>,
        notice: Box<DeployNotice>,
    },
    /// A notifier did not take the result.
    NotifyFailed { notifier: String, error: String },
    /// The relay deployed an unattended app on its own (now in the history).
    Unattended {
        server: String,
        deployment: Box<berth_model::Deployment>,
    },
    /// Polling found a new image tag of `app`, and deployed it (or announced it).
    Polled {
        app: String,
        tag: String,
        ok: bool,
        result: String,
    },
    /// Polling `app`'s registry failed (tried again next time).
    PollFailed { app: String, error: String },
}

/// `berth watch`.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Only this server (default: every server with a relay).
    pub server: Option<String>,
    /// Process what is queued now, then return.
    pub once: bool,
    /// Who claims: `berth watch on laptop (pid 42)`.
    pub client: String,
    /// Poll image apps' registries this often for new tags (`None`: never).
    pub poll: Option<Duration>,
}

/// `berth watch on <hostname> (pid N)`.
pub fn client_name(program: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "this machine".to_owned());
    format!("{program} on {host} (pid {})", std::process::id())
}

type Observer = dyn Fn(WatchEvent) + Send + Sync;

impl Berth {
    /// Runs attended deliveries until `cancel` (or, with `once`, until the backlog is done).
    pub async fn watch(
        &self,
        opts: WatchOptions,
        cancel: CancellationToken,
        on: Arc<Observer>,
    ) -> Result<(), ApiError> {
        let servers: Vec<Server> = match &opts.server {
            Some(name) => {
                let s = self.store.server(name)?;
                if s.relay.is_none() {
                    return Err(ApiError::RelayNotInstalled { server: s.name });
                }
                vec![s]
            }
            None => self
                .store
                .servers()?
                .into_iter()
                .filter(|s| s.relay.is_some())
                .collect(),
        };
        let polls = opts.poll.is_some() && self.apps()?.iter().any(|a| a.image.is_some());
        if servers.is_empty() && !polls {
            return Err(ApiError::Invalid(
                "no server has a webhook relay: install one with `berth server relay install SERVER` (image apps' registries are polled without one)"
                    .to_owned(),
            ));
        }
        if opts.once {
            for s in &servers {
                let client = self.relay_client(s).await?;
                let pending = client.info().await?.pending;
                on(WatchEvent::Connected {
                    server: s.name.clone(),
                    pending,
                });
                self.catch_up(s, &client, &mut HashMap::new(), on.as_ref())
                    .await?;
                self.process_deliveries(s, &client, &opts.client, &cancel, on.as_ref())
                    .await?;
            }
            if opts.poll.is_some() {
                self.poll_images(&cancel, on.as_ref()).await;
            }
            return Ok(());
        }
        let polling = async {
            let Some(every) = opts.poll else {
                return;
            };
            while !cancel.is_cancelled() {
                self.poll_images(&cancel, on.as_ref()).await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        };
        let relays = futures_util::future::join_all(
            servers
                .into_iter()
                .map(|s| self.watch_server(s, &opts.client, &cancel, on.clone())),
        );
        tokio::join!(relays, polling);
        Ok(())
    }

    async fn watch_server(
        &self,
        server: Server,
        client_name: &str,
        cancel: &CancellationToken,
        on: Arc<Observer>,
    ) {
        let mut backoff = Duration::from_secs(1);
        // What each unattended app's relay spec was when last given (to give it again when
        // env, domains or notifiers changed here).
        let mut pushed: HashMap<String, String> = HashMap::new();
        while !cancel.is_cancelled() {
            let round = async {
                let client = self.relay_client(&server).await?;
                let info = client.info().await?;
                on(WatchEvent::Connected {
                    server: server.name.clone(),
                    pending: info.pending,
                });
                let mut seen = info.last_delivery;
                pushed.clear();
                loop {
                    self.catch_up(&server, &client, &mut pushed, on.as_ref())
                        .await?;
                    self.process_deliveries(&server, &client, client_name, cancel, on.as_ref())
                        .await?;
                    let newest = tokio::select! {
                        r = client.wait(seen, WAIT) => r?,
                        _ = cancel.cancelled() => return Ok::<_, ApiError>(()),
                    };
                    seen = seen.max(newest);
                }
            };
            match round.await {
                Ok(()) => return,
                Err(e) => {
                    on(WatchEvent::Lost {
                        server: server.name.clone(),
                        error: e.to_string(),
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = cancel.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Unattended apps: their deployments by the relay into the history, and their current
    /// spec to the relay when it changed since `pushed`.
    async fn catch_up(
        &self,
        server: &Server,
        client: &ControlClient,
        pushed: &mut HashMap<String, String>,
        on: &Observer,
    ) -> Result<(), ApiError> {
        // The stored server: its sync mark moves.
        let server = self.store.server(&server.name)?;
        for r in self.sync_relay_deployments(&server, client).await? {
            on(WatchEvent::Unattended {
                server: server.name.clone(),
                deployment: Box::new(r.deployment),
            });
        }
        for w in self.store.webhooks()? {
            if w.mode != berth_model::WebhookMode::Unattended {
                continue;
            }
            let Ok(app) = self.store.app(&w.app) else {
                continue;
            };
            if app.server != server.name {
                continue;
            }
            let spec = match self.hook_spec(&w) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(app = %w.app, "cannot build the relay's spec: {e}");
                    continue;
                }
            };
            let fingerprint = serde_json::to_string(&spec).unwrap_or_default();
            if pushed.get(&w.app) == Some(&fingerprint) {
                continue;
            }
            client.put_hook(&spec).await?;
            pushed.insert(w.app.clone(), fingerprint);
        }
        Ok(())
    }

    /// Claims and deploys what `server`'s relay has queued now; returns the finished records.
    pub(crate) async fn process_deliveries(
        &self,
        server: &Server,
        client: &ControlClient,
        client_name: &str,
        cancel: &CancellationToken,
        on: &Observer,
    ) -> Result<Vec<Delivery>, ApiError> {
        let claims = client
            .claim(&ClaimRequest {
                client: client_name.to_owned(),
                lease_ms: LEASE.as_millis() as u64,
            })
            .await?;
        let mut done = Vec::new();
        for claim in claims {
            let d = claim.delivery;
            let app = d.app.clone().unwrap_or_default();
            if !claim.superseded.is_empty() {
                on(WatchEvent::Superseded {
                    server: server.name.clone(),
                    app: app.clone(),
                    ids: claim.superseded.clone(),
                    by: d.id,
                });
            }
            on(WatchEvent::Started {
                server: server.name.clone(),
                delivery: Box::new(d.clone()),
            });
            let finished = self
                .deploy_delivery(server, client, client_name, &d, cancel, on)
                .await?;
            done.push(finished);
        }
        Ok(done)
    }

    async fn deploy_delivery(
        &self,
        server: &Server,
        client: &ControlClient,
        client_name: &str,
        d: &Delivery,
        cancel: &CancellationToken,
        on: &Observer,
    ) -> Result<Delivery, ApiError> {
        let app = d.app.clone().unwrap_or_default();
        let mut git_ref = d
            .commit
            .clone()
            .or_else(|| d.git_ref.clone())
            .unwrap_or_default();
        // An image push: its tag, deployed unless the stage taking it waits to be asked.
        if let Some(reference) = d.git_ref.as_deref().filter(|r| !r.starts_with("refs/")) {
            let tag = berth_model::ImageRef::parse(reference)
                .map(|r| r.tag_or_latest().to_owned())
                .unwrap_or_default();
            if let Some(waiting) = self.waiting_stage(&app, &tag)? {
                return self
                    .report_waiting(server, client, client_name, d, &tag, &waiting, on)
                    .await;
            }
            git_ref = tag;
        }
        let started = Instant::now();
        let heartbeat = {
            let client = client.clone();
            let req = ClaimRequest {
                client: client_name.to_owned(),
                lease_ms: LEASE.as_millis() as u64,
            };
            let id = d.id;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    if let Err(e) = client.heartbeat(id, &req).await {
                        tracing::warn!(id, "could not renew the claim: {e}");
                    }
                }
            })
        };
        // Announced below, with the delivery as its trigger.
        let result = crate::deploy::caller_announces(self.deploy_pushed(
            &app,
            &git_ref,
            &|_| {},
            cancel.child_token(),
        ))
        .await;
        heartbeat.abort();
        let duration_ms = started.elapsed().as_millis() as u64;
        let (deployment, commit, ended) = match &result {
            Ok(deployment) => (
                Some(deployment.id.clone()),
                deployment.commit.clone().or_else(|| d.commit.clone()),
                Ended::Live {
                    // A stage's instance is an app of its own: its URL.
                    url: match self.status(&deployment.app).await {
                        Ok(s) => s.urls.first().cloned().or(s.endpoint),
                        Err(_) => None,
                    },
                },
            ),
            Err(ApiError::DeployFailed {
                deployment,
                step,
                message,
                ..
            }) => (
                Some(deployment.clone()),
                d.commit.clone(),
                Ended::Failed {
                    step: Some(step.map_or("setup", |s| s.as_str()).to_owned()),
                    error: message.clone(),
                },
            ),
            Err(e @ ApiError::DeployCancelled { deployment, .. }) => (
                Some(deployment.clone()),
                d.commit.clone(),
                Ended::Failed {
                    step: None,
                    error: e.to_string(),
                },
            ),
            Err(e) => (
                None,
                d.commit.clone(),
                Ended::Failed {
                    step: Some("setup".to_owned()),
                    error: e.to_string(),
                },
            ),
        };
        let outcome = DeployOutcome {
            app: app.clone(),
            server: server.name.clone(),
            trigger: d.trigger(),
            duration_ms,
            deployment,
            commit,
            ended,
            by: None,
        };
        let report = outcome.report(client_name);
        let notice = outcome.notice();
        let recorded = client.report(d.id, &report).await?;
        self.announce(&notice, on).await;
        on(WatchEvent::Finished {
            server: server.name.clone(),
            delivery: Box::new(recorded.clone()),
            notice: Box::new(notice),
        });
        Ok(recorded)
    }

    /// The stage taking image tag `tag` of `app` when it deploys only on request (with the
    /// command that does it); `None` when the push deploys now.
    pub(crate) fn waiting_stage(&self, app: &str, tag: &str) -> Result<Option<String>, ApiError> {
        let stages = self.store.stages(app)?;
        Ok(
            match berth_model::stage::decide_tag(app, &stages, "", tag) {
                berth_model::stage::TagDecision::Wait(waiting) => Some(waiting),
                _ => None,
            },
        )
    }

    /// Reports an image push that waits for the user, and announces it.
    #[allow(clippy::too_many_arguments)]
    async fn report_waiting(
        &self,
        server: &Server,
        client: &ControlClient,
        client_name: &str,
        d: &Delivery,
        tag: &str,
        waiting: &str,
        on: &Observer,
    ) -> Result<Delivery, ApiError> {
        let app = d.app.clone().unwrap_or_default();
        let report = berth_relay_proto::proto::DeployReport {
            status: berth_model::DeliveryStatus::Done,
            deployment: None,
            duration_ms: 0,
            result: format!("waiting: {waiting}"),
            client: client_name.to_owned(),
        };
        let recorded = client.report(d.id, &report).await?;
        let notice = DeployNotice::available(
            &app,
            &server.name,
            waiting,
            format!("image tag {tag} pushed"),
        );
        self.announce(&notice, on).await;
        on(WatchEvent::Finished {
            server: server.name.clone(),
            delivery: Box::new(recorded.clone()),
            notice: Box::new(notice),
        });
        Ok(recorded)
    }

    /// Sends `notice` to every notifier; a notifier that did not take it is reported.
    pub(crate) async fn announce(
        &self,
        notice: &DeployNotice,
        on: &(dyn Fn(WatchEvent) + Send + Sync),
    ) {
        for (n, r) in self.notify_all(notice).await {
            if let Err(error) = r {
                on(WatchEvent::NotifyFailed {
                    notifier: format!("{} {}", n.kind, n.url),
                    error,
                });
            }
        }
    }
}
