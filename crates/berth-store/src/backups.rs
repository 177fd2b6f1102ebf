//! Backup targets: named places backups are kept. The backups themselves are not here — each
//! lives in its target with its record, so every machine (and the relay) sees the same history.

use berth_model::{BackupSchedule, BackupTarget, Cron, CronJob, Location};
use rusqlite::params;

use crate::Store;
use crate::error::StoreError;

impl Store {
    /// Every backup target, by name.
    pub fn backup_targets(&self) -> Result<Vec<BackupTarget>, StoreError> {
        let rows: Vec<(String, String, Option<String>)> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, location, sealed_to FROM backup_targets ORDER BY name",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(name, location, sealed_to)| {
                let location: Location = serde_json::from_str(&location).map_err(|e| {
                    StoreError::Invalid(format!("backup target {name} is unreadable: {e}"))
                })?;
                Ok(BackupTarget {
                    name,
                    location,
                    sealed_to,
                })
            })
            .collect()
    }

    /// The backup target called `name`.
    pub fn backup_target(&self, name: &str) -> Result<BackupTarget, StoreError> {
        self.backup_targets()?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| StoreError::NotFound {
                kind: "backup target",
                name: name.to_owned(),
            })
    }

    /// Adds a backup target; a name in use is refused.
    pub fn add_backup_target(&self, target: &BackupTarget) -> Result<(), StoreError> {
        let location = serde_json::to_string(&target.location)
            .map_err(|e| StoreError::Invalid(format!("backup target: {e}")))?;
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO backup_targets (name, location, sealed_to) \
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![target.name, location, target.sealed_to])?;
            if n == 0 {
                return Err(StoreError::AlreadyExists {
                    kind: "backup target",
                    name: target.name.clone(),
                }
                .into());
            }
            Ok(())
        })
    }

    /// Forgets a backup target (its backups stay where they are); whether it existed.
    pub fn remove_backup_target(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM backup_targets WHERE name = ?1")?
                .execute([name])?;
            Ok(n > 0)
        })
    }
}

impl Store {
    /// Every backup schedule, by service.
    pub fn backup_schedules(&self) -> Result<Vec<BackupSchedule>, StoreError> {
        let rows: Vec<(String, String, i64, Option<String>)> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT service, cron, keep, target FROM backup_schedules ORDER BY service",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(service, cron, keep, target)| {
                let cron = Cron::parse(&cron).map_err(|e| {
                    StoreError::Invalid(format!("the backup schedule of {service}: {e}"))
                })?;
                Ok(BackupSchedule {
                    service,
                    cron,
                    keep: u32::try_from(keep).unwrap_or(1),
                    target,
                })
            })
            .collect()
    }

    /// Sets (or replaces) a service's backup schedule.
    pub fn put_backup_schedule(&self, s: &BackupSchedule) -> Result<(), StoreError> {
        self.write(|tx| {
            crate::require_app(tx, &s.service)?;
            tx.prepare_cached(
                "INSERT INTO backup_schedules (service, cron, keep, target) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (service) DO UPDATE SET cron = ?2, keep = ?3, target = ?4",
            )?
            .execute(params![
                s.service,
                s.cron.as_str(),
                i64::from(s.keep),
                s.target
            ])?;
            Ok(())
        })
    }

    /// Removes a service's backup schedule; whether it had one.
    pub fn remove_backup_schedule(&self, service: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM backup_schedules WHERE service = ?1")?
                .execute([service])?;
            Ok(n > 0)
        })
    }
}

impl Store {
    /// Every cron job (of `app`, or of all apps), by app and name.
    pub fn cron_jobs(&self, app: Option<&str>) -> Result<Vec<CronJob>, StoreError> {
        let rows: Vec<(String, String, String, String)> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT app, name, schedule, command FROM cron_jobs
                 WHERE ?1 IS NULL OR app = ?1 ORDER BY app, name",
            )?;
            let rows = stmt
                .query_map([app], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(app, name, schedule, command)| {
                let bad = |e: String| StoreError::Invalid(format!("cron job {app}/{name}: {e}"));
                Ok(CronJob {
                    schedule: Cron::parse(&schedule).map_err(|e| bad(e.to_string()))?,
                    command: serde_json::from_str(&command).map_err(|e| bad(e.to_string()))?,
                    app,
                    name,
                })
            })
            .collect()
    }

    /// Adds a cron job; a name the app already uses is refused.
    pub fn add_cron_job(&self, job: &CronJob) -> Result<(), StoreError> {
        let command = serde_json::to_string(&job.command)
            .map_err(|e| StoreError::Invalid(format!("cron job: {e}")))?;
        self.write(|tx| {
            crate::require_app(tx, &job.app)?;
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO cron_jobs (app, name, schedule, command)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![job.app, job.name, job.schedule.as_str(), command])?;
            if n == 0 {
                return Err(StoreError::AlreadyExists {
                    kind: "cron job",
                    name: format!("{}/{}", job.app, job.name),
                }
                .into());
            }
            Ok(())
        })
    }

    /// Removes a cron job; whether it existed.
    pub fn remove_cron_job(&self, app: &str, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM cron_jobs WHERE app = ?1 AND name = ?2")?
                .execute([app, name])?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_kept_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("berth.db")).expect("store");
        let t = BackupTarget {
            name: "offsite".into(),
            location: Location::Server {
                server: "box".into(),
                path: "/srv/backups".into(),
            },
            sealed_to: Some("age1recipient".into()),
        };
        store.add_backup_target(&t).expect("add");
        assert!(matches!(
            store.add_backup_target(&t),
            Err(StoreError::AlreadyExists { .. })
        ));
        assert_eq!(store.backup_target("offsite").expect("get"), t);
        assert!(store.remove_backup_target("offsite").expect("rm"));
        assert!(store.backup_targets().expect("list").is_empty());
    }
}
