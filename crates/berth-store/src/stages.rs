//! Stages of image apps and their instances (each an app record of its own).

use berth_model::{Stage, StageInstance};
use rusqlite::{Row, params};

use crate::error::StoreError;
use crate::{Store, require_app};

const STAGE_COLUMNS: &str =
    "app, name, tags, auto_deploy, max_instances, promote_from, confirm, subdomain, created_at";

fn stage_from_row(row: &Row<'_>) -> rusqlite::Result<Stage> {
    Ok(Stage {
        app: row.get(0)?,
        name: row.get(1)?,
        tags: row.get(2)?,
        auto_deploy: row.get::<_, i64>(3)? == 1,
        max_instances: row.get(4)?,
        promote_from: row.get(5)?,
        confirm: row.get::<_, i64>(6)? == 1,
        subdomain: row.get(7)?,
        created_at: row.get(8)?,
    })
}

fn instance_from_row(row: &Row<'_>) -> rusqlite::Result<StageInstance> {
    Ok(StageInstance {
        instance: row.get(0)?,
        app: row.get(1)?,
        stage: row.get(2)?,
        tag: row.get(3)?,
        created_at: row.get(4)?,
    })
}

impl Store {
    /// The stages of `app`, by name.
    pub fn stages(&self, app: &str) -> Result<Vec<Stage>, StoreError> {
        self.read(|conn| {
            require_app(conn, app)?;
            let sql = format!("SELECT {STAGE_COLUMNS} FROM stages WHERE app = ?1 ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map([app], stage_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// Stage `name` of `app`.
    pub fn stage(&self, app: &str, name: &str) -> Result<Stage, StoreError> {
        self.stages(app)?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| StoreError::NotFound {
                kind: "stage",
                name: format!("{name} of app {app}"),
            })
    }

    /// Adds a stage or replaces the one with its name.
    pub fn put_stage(&self, s: &Stage) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, &s.app)?;
            tx.prepare_cached(&format!(
                "INSERT INTO stages ({STAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (app, name) DO UPDATE SET tags = excluded.tags,
                   auto_deploy = excluded.auto_deploy, max_instances = excluded.max_instances,
                   promote_from = excluded.promote_from, confirm = excluded.confirm,
                   subdomain = excluded.subdomain"
            ))?
            .execute(params![
                s.app,
                s.name,
                s.tags,
                i64::from(s.auto_deploy),
                s.max_instances,
                s.promote_from,
                i64::from(s.confirm),
                s.subdomain,
                s.created_at
            ])?;
            Ok(())
        })
    }

    /// Removes a stage (its instances' app records must be gone first).
    pub fn remove_stage(&self, app: &str, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM stages WHERE app = ?1 AND name = ?2")?
                .execute([app, name])?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    kind: "stage",
                    name: format!("{name} of app {app}"),
                }
                .into());
            }
            Ok(())
        })
    }

    /// Records that app record `i.instance` (already inserted) runs `i.tag` in `i.stage`.
    pub fn insert_instance(&self, i: &StageInstance) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, &i.instance)?;
            tx.prepare_cached(
                "INSERT INTO stage_instances (instance, app, stage, tag, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![i.instance, i.app, i.stage, i.tag, i.created_at])?;
            Ok(())
        })
    }

    /// The instances of `app` (every stage), oldest first.
    pub fn instances(&self, app: &str) -> Result<Vec<StageInstance>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT instance, app, stage, tag, created_at FROM stage_instances
                 WHERE app = ?1 ORDER BY created_at, instance",
            )?;
            let list = stmt
                .query_map([app], instance_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// What app record `name` is an instance of, if it is one.
    pub fn instance(&self, name: &str) -> Result<Option<StageInstance>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT instance, app, stage, tag, created_at FROM stage_instances
                 WHERE instance = ?1",
            )?;
            Ok(stmt
                .query_map([name], instance_from_row)?
                .next()
                .transpose()?)
        })
    }

    /// Records that `tag` (pulled as `digest`) ran healthy in `stage` of `app` at `at`.
    pub fn record_healthy(
        &self,
        app: &str,
        stage: &str,
        tag: &str,
        digest: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO stage_healthy (app, stage, tag, digest, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (app, stage, tag, digest) DO UPDATE SET at = excluded.at",
            )?
            .execute(params![app, stage, tag, digest, at])?;
            Ok(())
        })
    }

    /// The tags that ran healthy in `stage` of `app`, newest first: (tag, digest, at).
    pub fn healthy_tags(
        &self,
        app: &str,
        stage: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tag, digest, at FROM stage_healthy WHERE app = ?1 AND stage = ?2
                 ORDER BY at DESC, tag",
            )?;
            let list = stmt
                .query_map([app, stage], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }
}
