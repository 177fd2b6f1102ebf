//! Backups of services and of apps' volumes: taken by the kind's own method (or a copy of the
//! volumes while the container is paused for a moment), kept in a target (a directory on one of
//! the servers — by default the service's own —, or on this machine), restored and verified.

use std::path::PathBuf;

use berth_engine::backup::{Source, Store as BackupStore, Subject};
use berth_model::{
    App, BackupMethod, BackupRecord, BackupSchedule, BackupTarget, Cron, Location, ServiceKind,
    Verified, validate_app_name,
};
use berth_secrets::{Sensitive, backup_key_key, backup_target_key};

use crate::Berth;
use crate::error::ApiError;
use crate::lock::AppLock;

/// What the target of a backup command is: a named one, or the service's server.
pub struct Resolved {
    pub target: String,
    pub location: Location,
    store: BackupStore,
    /// Who its backups are sealed to.
    seal: Option<berth_age::Recipient>,
}

/// How a target is added beside its location.
#[derive(Debug, Default)]
pub struct TargetOptions {
    /// Seal its backups with this machine's backup key.
    pub encrypt: bool,
    /// An S3-compatible storage's URL (`None`: AWS).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Sensitive<String>>,
}

/// An S3 target's access keys, as kept in the secrets store.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct S3Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Where a server's relay writes a scheduled backup.
pub(crate) struct ScheduleTarget {
    pub name: String,
    /// The directory on the server.
    pub path: String,
    /// The age recipient it seals to (the relay never holds the key that opens them).
    pub sealed_to: Option<String>,
    /// An S3 target, with its keys, instead of the directory.
    pub s3: Option<berth_relay_proto::proto::S3Access>,
}

/// What `backup restore` must be told before it overwrites a service's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// The user said yes (`--yes`, or answered the question).
    Yes,
    /// Nobody confirmed: refuse, saying what would be overwritten.
    No,
}

impl From<bool> for Confirm {
    /// A yes/no answer (a flag, a dialog's button).
    fn from(yes: bool) -> Confirm {
        if yes { Confirm::Yes } else { Confirm::No }
    }
}

/// `a postgres service`, `an app or plain-image service (its volumes)`.
fn what_it_is(kind: ServiceKind) -> String {
    match kind {
        ServiceKind::Image => "an app or plain-image service (its volumes)".to_owned(),
        kind => format!("a {kind} service"),
    }
}

impl Berth {
    /// Where `local` targets keep backups by default: beside Berth's data.
    pub(crate) fn local_backups(&self) -> PathBuf {
        self.data_dir().join("backups")
    }

    /// Where backups on their way to a server wait (compressed) on this machine.
    fn spool_dir(&self) -> PathBuf {
        self.data_dir().join("spool")
    }

    /// Parses and checks a new target — writes a small file into it and reads it back, so a
    /// target that cannot be written is refused now, not at 3 in the morning — and keeps it
    /// (an S3 target's keys in the secrets store).
    pub async fn backup_target_add(
        &self,
        name: &str,
        location: &str,
        options: TargetOptions,
    ) -> Result<BackupTarget, ApiError> {
        validate_app_name(name).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let default = self.local_backups();
        let mut location = Location::parse(location, &default.to_string_lossy())
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        if self.store.backup_target(name).is_ok() {
            return Err(ApiError::Invalid(format!(
                "backup target `{name}` exists: remove it first (`berth backup target rm {name}`)"
            )));
        }
        let keys = match &mut location {
            Location::S3 {
                endpoint, region, ..
            } => {
                *endpoint = options.endpoint.clone();
                if let Some(r) = &options.region {
                    *region = r.clone();
                }
                let (Some(id), Some(secret)) = (&options.access_key_id, &options.secret_access_key)
                else {
                    return Err(ApiError::Invalid(format!(
                        "an S3 target needs its access keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for `berth backup target add {name} …` (they are kept in the keychain)"
                    )));
                };
                Some(S3Keys {
                    access_key_id: id.clone(),
                    secret_access_key: secret.expose().clone(),
                })
            }
            _ if options.endpoint.is_some() || options.region.is_some() => {
                return Err(ApiError::Invalid(
                    "--endpoint and --region are for s3:// targets".to_owned(),
                ));
            }
            _ => None,
        };
        let store = match &keys {
            Some(k) => BackupStore::s3(&location, &k.access_key_id, &k.secret_access_key)?,
            None => self.open_store(name, &location).await?,
        };
        store.check().await.map_err(|e| {
            ApiError::Invalid(format!(
                "backup target `{name}` ({location}) cannot be written: {e}"
            ))
        })?;
        let sealed_to = match options.encrypt {
            true => Some(self.backup_key_or_new()?.recipient().to_string()),
            false => None,
        };
        if let Some(keys) = &keys {
            let json = serde_json::to_string(keys)
                .map_err(|e| ApiError::Invalid(format!("the target's keys: {e}")))?;
            self.secrets()
                .set(&backup_target_key(name), &Sensitive::new(json))?;
        }
        let target = BackupTarget {
            name: name.to_owned(),
            location,
            sealed_to,
        };
        self.store.add_backup_target(&target)?;
        self.audit("backup-target-add", name, &target.location.to_string());
        Ok(target)
    }

    /// Every backup target.
    pub fn backup_targets(&self) -> Result<Vec<BackupTarget>, ApiError> {
        Ok(self.store.backup_targets()?)
    }

    /// Forgets a target (and its keys); the backups in it stay where they are.
    pub fn backup_target_rm(&self, name: &str) -> Result<(), ApiError> {
        if !self.store.remove_backup_target(name)? {
            return Err(ApiError::Invalid(format!(
                "there is no backup target `{name}` (`berth backup target ls`)"
            )));
        }
        self.secrets().delete(&backup_target_key(name))?;
        self.audit("backup-target-rm", name, "");
        Ok(())
    }

    /// An S3 target's keys, from the secrets store.
    pub(crate) fn s3_keys(&self, name: &str) -> Result<S3Keys, ApiError> {
        let json = self.secrets().get(&backup_target_key(name))?.ok_or_else(|| {
            ApiError::Invalid(format!(
                "the keys of backup target {name} are not in this machine's keychain: add it again (`berth backup target rm {name}`, then `add`)"
            ))
        })?;
        serde_json::from_str(json.expose())
            .map_err(|e| ApiError::Invalid(format!("the keys of backup target {name}: {e}")))
    }

    async fn open_store(&self, name: &str, location: &Location) -> Result<BackupStore, ApiError> {
        let host = match location {
            Location::Server { server, .. } => {
                let server = self.store.server(server)?;
                Some(self.host(&server).await?)
            }
            Location::S3 { .. } => {
                let keys = self.s3_keys(name)?;
                return Ok(BackupStore::s3(
                    location,
                    &keys.access_key_id,
                    &keys.secret_access_key,
                )?);
            }
            Location::Local { .. } => None,
        };
        Ok(BackupStore::new(location, host)?)
    }

    /// The target `to` names, or the service's own server's backup directory.
    pub async fn backup_target_for(
        &self,
        service: &App,
        to: Option<&str>,
    ) -> Result<Resolved, ApiError> {
        let (target, location, sealed_to) = match to {
            Some(name) => {
                let t = self.store.backup_target(name)?;
                (t.name, t.location, t.sealed_to)
            }
            None => (
                format!("{} (the service's server)", service.server),
                Location::Server {
                    server: service.server.clone(),
                    path: berth_model::backup::SERVER_BACKUP_DIR.to_owned(),
                },
                None,
            ),
        };
        let seal = sealed_to
            .as_deref()
            .map(berth_age::Recipient::parse)
            .transpose()
            .map_err(|e| ApiError::Invalid(format!("backup target {target}: {e}")))?;
        let store = self.open_store(&target, &location).await?;
        Ok(Resolved {
            target,
            location,
            store,
            seal,
        })
    }

    /// What can be backed up under `name`, and how: a service by its kind's own method; a
    /// plain-image service or an app by a copy of its volumes (kind `image`).
    pub(crate) fn backup_subject(
        &self,
        name: &str,
    ) -> Result<(App, ServiceKind, BackupMethod), ApiError> {
        let app = self.store.app(name)?;
        let kind = app.service.unwrap_or(ServiceKind::Image);
        let method = BackupMethod::of(kind)
            .or_else(|| BackupMethod::of_volumes(&app.volumes))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "{name} has no volumes: nothing of it lives on the server to back up (give it one with `berth app set {name} --volume {name}-data:/data`)"
                ))
            })?;
        Ok((app, kind, method))
    }

    /// Takes a backup of `service` now into `to` (default: its server's backup directory);
    /// with `keep`, then removes what is beyond the `keep` newest good ones. The record says
    /// how it went — a failed backup is an error, and is kept in the history as failed.
    pub async fn backup_create(
        &self,
        service: &str,
        to: Option<&str>,
        keep: Option<usize>,
    ) -> Result<(BackupRecord, Vec<String>), ApiError> {
        let (app, kind, method) = self.backup_subject(service)?;
        let resolved = self.backup_target_for(&app, to).await?;
        let (host, container) = self.active_container(&app).await?;
        let _lock = AppLock::acquire(self.data_dir(), service, "a backup")?;
        let subject = Subject {
            service,
            kind,
            container: &container,
            method,
        };
        let record = berth_engine::backup::create(
            &host,
            &subject,
            &resolved.store,
            &self.spool_dir(),
            "manual",
            self.now(),
            resolved.seal.as_ref(),
        )
        .await?;
        self.audit(
            "backup",
            service,
            &format!(
                "{} to {} ({:?})",
                record.id, resolved.location, record.result
            ),
        );
        if let berth_model::BackupResult::Failed { error } = &record.result {
            return Err(ApiError::Invalid(format!(
                "the backup of {service} failed (recorded as {}): {error}",
                record.id
            )));
        }
        let removed = match keep {
            Some(keep) => {
                // Removals run `rm` in the service's own image when the target is on its server.
                let tool = match &resolved.location {
                    Location::Server { server, .. } if *server == app.server => host
                        .docker()
                        .inspect_container(&container)
                        .await
                        .ok()
                        .flatten()
                        .map(|c| c.image),
                    _ => None,
                };
                let store = resolved.store.with_tool(tool);
                berth_engine::backup::apply_retention(&store, service, keep).await?
            }
            None => Vec::new(),
        };
        Ok((record, removed))
    }

    /// The backups of `service` in `to` (default: its server's), newest first.
    pub async fn backups(
        &self,
        service: &str,
        to: Option<&str>,
    ) -> Result<Vec<BackupRecord>, ApiError> {
        let (app, _, _) = self.backup_subject(service)?;
        let resolved = self.backup_target_for(&app, to).await?;
        Ok(resolved.store.records(service).await?)
    }

    /// Restores backup `id` (`latest`: the newest good one) of `service` into `into` (default:
    /// the service itself, which needs `confirm`). The checksum is proven first; a damaged
    /// backup changes nothing.
    pub async fn backup_restore(
        &self,
        service: &str,
        id: &str,
        from: Option<&str>,
        into: Option<&str>,
        confirm: Confirm,
    ) -> Result<BackupRecord, ApiError> {
        let (app, kind, _) = self.backup_subject(service)?;
        let resolved = self.backup_target_for(&app, from).await?;
        let record = berth_engine::backup::find(&resolved.store, service, id).await?;
        let into_name = into.unwrap_or(service);
        // Put back the way the receiving end keeps its data (its own volumes emptied first).
        let (into_app, into_kind, method) = self.backup_subject(into_name)?;
        if into_kind != kind {
            return Err(ApiError::Invalid(format!(
                "{into_name} is {}; backup {} is of {service}, {}",
                what_it_is(into_kind),
                record.id,
                what_it_is(kind)
            )));
        }
        if confirm == Confirm::No {
            let data = match &method {
                BackupMethod::Files { paths, .. } if into_kind == ServiceKind::Image => {
                    format!("the files in {} of {into_name}", paths.join(", "))
                }
                _ => format!("the data of {into_name} ({into_kind})"),
            };
            return Err(ApiError::Invalid(format!(
                "restoring backup {} (taken {}) overwrites {data} on {}: pass --yes to go ahead",
                record.id,
                berth_model::format::ago(self.now(), record.started_at),
                into_app.server
            )));
        }
        let (host, container) = self.active_container(&into_app).await?;
        let _lock = AppLock::acquire(self.data_dir(), into_name, "a restore")?;
        let key = self.backup_key()?;
        let source = Source {
            store: &resolved.store,
            record: &record,
            spool_dir: &self.spool_dir(),
            key: key.as_ref(),
        };
        berth_engine::backup::restore(&host, &container, kind, &method, &source).await?;
        self.audit(
            "restore",
            into_name,
            &format!(
                "backup {} of {service} from {}",
                record.id, resolved.location
            ),
        );
        Ok(record)
    }

    /// Restores backup `id` of `service` into a throwaway container of the same image and
    /// runs the kind's check there; the service is not touched.
    pub async fn backup_verify(
        &self,
        service: &str,
        id: &str,
        from: Option<&str>,
    ) -> Result<Verified, ApiError> {
        let (app, kind, method) = self.backup_subject(service)?;
        let resolved = self.backup_target_for(&app, from).await?;
        let record = berth_engine::backup::find(&resolved.store, service, id).await?;
        let (host, container) = self.active_container(&app).await?;
        let key = self.backup_key()?;
        let source = Source {
            store: &resolved.store,
            record: &record,
            spool_dir: &self.spool_dir(),
            key: key.as_ref(),
        };
        let verified =
            berth_engine::backup::verify(&host, &container, kind, &method, &source).await?;
        Ok(verified)
    }

    /// The name and server directory of a scheduled backup's target: the relay of the
    /// service's server writes only there.
    pub(crate) fn schedule_target(
        &self,
        service: &App,
        to: Option<&str>,
    ) -> Result<ScheduleTarget, ApiError> {
        let Some(name) = to else {
            return Ok(ScheduleTarget {
                name: format!("{} (the service's server)", service.server),
                path: berth_model::backup::SERVER_BACKUP_DIR.to_owned(),
                sealed_to: None,
                s3: None,
            });
        };
        let target = self.store.backup_target(name)?;
        match target.location {
            Location::Server { server, path } if server == service.server => Ok(ScheduleTarget {
                name: target.name,
                path,
                sealed_to: target.sealed_to,
                s3: None,
            }),
            location @ Location::S3 { .. } => {
                let keys = self.s3_keys(name)?;
                Ok(ScheduleTarget {
                    name: target.name,
                    path: String::new(),
                    sealed_to: target.sealed_to,
                    s3: Some(berth_relay_proto::proto::S3Access {
                        location,
                        access_key_id: keys.access_key_id,
                        secret_access_key: keys.secret_access_key,
                    }),
                })
            }
            other => Err(ApiError::Invalid(format!(
                "target {name} is {other}: scheduled backups of {} are taken by the relay on {}, which writes only to a directory on {} (a target ssh://{}/DIR) or to S3 (s3://BUCKET); take backups elsewhere with `berth backup create`",
                service.name, service.server, service.server, service.server
            ))),
        }
    }

    /// Has `service` backed up by its server's relay whenever `cron` matches (UTC), keeping
    /// the `keep` newest good backups in `to` (a directory on that server; default its
    /// backup directory). A warning when the relay could not be told yet.
    pub async fn backup_schedule(
        &self,
        service: &str,
        cron: &str,
        keep: u32,
        to: Option<&str>,
    ) -> Result<(BackupSchedule, Option<String>), ApiError> {
        let (app, _, _) = self.backup_subject(service)?;
        let cron = Cron::parse(cron).map_err(|e| ApiError::Invalid(e.to_string()))?;
        if keep == 0 {
            return Err(ApiError::Invalid(
                "--keep must be at least 1: retention never removes the newest good backup"
                    .to_owned(),
            ));
        }
        self.schedule_target(&app, to)?;
        let server = self.store.server(&app.server)?;
        if server.relay.is_none() {
            return Err(ApiError::Invalid(format!(
                "scheduled backups are taken by the relay on {0} (your machine may be asleep): install it first with `berth server relay install {0}`",
                app.server
            )));
        }
        let schedule = BackupSchedule {
            service: service.to_owned(),
            cron,
            keep,
            target: to.map(str::to_owned),
        };
        self.store.put_backup_schedule(&schedule)?;
        self.audit(
            "backup-schedule",
            service,
            &format!("{} keep {} to {}", schedule.cron, keep, to.unwrap_or("-")),
        );
        let warning = self.monitor_sync(&app.server).await;
        Ok((schedule, warning))
    }

    /// Stops scheduled backups of `service` (its backups stay).
    pub async fn backup_unschedule(&self, service: &str) -> Result<Option<String>, ApiError> {
        let app = self.store.app(service)?;
        if !self.store.remove_backup_schedule(service)? {
            return Err(ApiError::Invalid(format!(
                "{service} has no backup schedule (`berth backup schedules`)"
            )));
        }
        self.audit("backup-unschedule", service, "");
        Ok(self.monitor_sync(&app.server).await)
    }

    /// Every backup schedule.
    pub fn backup_schedules(&self) -> Result<Vec<BackupSchedule>, ApiError> {
        Ok(self.store.backup_schedules()?)
    }

    /// This machine's backup key (it opens the backups of sealed targets), if it has one.
    pub fn backup_key(&self) -> Result<Option<berth_age::Identity>, ApiError> {
        let Some(secret) = self.secrets().get(&backup_key_key())? else {
            return Ok(None);
        };
        let key = berth_age::Identity::parse(secret.expose()).map_err(|e| {
            ApiError::Invalid(format!(
                "the backup key in the keychain is unreadable ({e}): import it again (`berth backup key import --replace`)"
            ))
        })?;
        Ok(Some(key))
    }

    /// This machine's backup key, made (and kept in the keychain) if it has none yet.
    fn backup_key_or_new(&self) -> Result<berth_age::Identity, ApiError> {
        if let Some(key) = self.backup_key()? {
            return Ok(key);
        }
        let key = berth_age::Identity::generate();
        self.secrets()
            .set(&backup_key_key(), &Sensitive::new(key.to_secret_string()))?;
        self.audit("backup-key-new", "", &key.recipient().to_string());
        Ok(key)
    }

    /// The public half of this machine's backup key (`age1…`), made if there is none: what
    /// sealed targets seal to.
    pub fn backup_key_recipient(&self) -> Result<String, ApiError> {
        Ok(self.backup_key_or_new()?.recipient().to_string())
    }

    /// The secret half, to keep somewhere safe (a password manager) or give to a teammate's
    /// Berth: without it, sealed backups cannot be opened.
    pub fn backup_key_export(&self) -> Result<Sensitive<String>, ApiError> {
        let key = self.backup_key()?.ok_or_else(|| {
            ApiError::Invalid(
                "this machine has no backup key yet (it is made by `berth backup target add … --encrypt`)"
                    .to_owned(),
            )
        })?;
        self.audit("backup-key-export", "", &key.recipient().to_string());
        Ok(Sensitive::new(key.to_secret_string()))
    }

    /// Keeps `secret` (an age identity, or a key file) as this machine's backup key. A
    /// different key already here is replaced only with `replace`: backups sealed to it would
    /// no longer open here.
    pub fn backup_key_import(&self, secret: &str, replace: bool) -> Result<String, ApiError> {
        let key =
            berth_age::Identity::parse(secret).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let recipient = key.recipient().to_string();
        if let Some(old) = self.backup_key()?
            && old.recipient().to_string() != recipient
            && !replace
        {
            return Err(ApiError::Invalid(format!(
                "this machine already has another backup key ({}): backups sealed to it would no longer open here — pass --replace if that is what you want (export it first: `berth backup key export`)",
                old.recipient()
            )));
        }
        self.secrets()
            .set(&backup_key_key(), &Sensitive::new(key.to_secret_string()))?;
        self.audit("backup-key-import", "", &recipient);
        Ok(recipient)
    }
}
