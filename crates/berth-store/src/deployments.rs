//! Deployments, the one active deployment of each app, and build logs.

use berth_model::{Deployment, DeploymentKind, DeploymentStatus, ProcessSpec, Step, StepTiming};
use rusqlite::{Connection, Row, Transaction, params};

use crate::error::{Fail, StoreError};
use crate::{Store, bad_column, exists, require_app, sql_limit};

const COLUMNS: &str = "id, app, kind, status, git_ref, commit_sha, commit_message, runtime, image, \
                       container, source_deployment, started_at, finished_at, failed_step, error, steps, digest, processes, spec";

/// Newest first; deployments started in the same millisecond in the order they were recorded.
const NEWEST_FIRST: &str = "ORDER BY started_at DESC, rowid DESC";

impl Store {
    /// Records a new deployment of an existing app.
    pub fn insert_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        if d.id.is_empty() {
            return Err(StoreError::Invalid("deployment id is empty".to_owned()));
        }
        self.write(|tx| insert(tx, d))
    }

    /// Records a deployment another driver ran to its end (the relay's unattended deploys), with
    /// its build output, in one transaction. A healthy one becomes the active deployment only
    /// if it started after the active one; otherwise — a newer deploy already replaced it — it
    /// is recorded as superseded. Returns `None` when the deployment was already recorded, else
    /// whether it became the active one.
    pub fn record_finished_deployment(
        &self,
        d: &Deployment,
        log: &[String],
    ) -> Result<Option<bool>, StoreError> {
        if d.id.is_empty() {
            return Err(StoreError::Invalid("deployment id is empty".to_owned()));
        }
        self.write(|tx| {
            require_app(tx, &d.app)?;
            if exists(tx, "deployments", "id", &d.id)? {
                return Ok(None);
            }
            let mut record = d.clone();
            let mut activated = false;
            if record.status == DeploymentStatus::Active {
                let active_started: Option<i64> = tx
                    .prepare_cached(
                        "SELECT started_at FROM deployments WHERE app = ?1 AND status = ?2",
                    )?
                    .query_map(params![d.app, DeploymentStatus::Active.as_str()], |r| {
                        r.get(0)
                    })?
                    .next()
                    .transpose()?;
                if active_started.is_none_or(|started| d.started_at > started) {
                    tx.prepare_cached(
                        "UPDATE deployments SET status = ?2 WHERE app = ?1 AND status = ?3",
                    )?
                    .execute([
                        d.app.as_str(),
                        DeploymentStatus::Superseded.as_str(),
                        DeploymentStatus::Active.as_str(),
                    ])?;
                    tx.prepare_cached("UPDATE apps SET stopped = 0 WHERE name = ?1")?
                        .execute([d.app.as_str()])?;
                    activated = true;
                } else {
                    record.status = DeploymentStatus::Superseded;
                }
            }
            insert(tx, &record)?;
            let mut stmt =
                tx.prepare_cached("INSERT INTO build_log (deployment, line) VALUES (?1, ?2)")?;
            for line in log {
                stmt.execute([d.id.as_str(), line.as_str()])?;
            }
            Ok(Some(activated))
        })
    }

    /// Replaces every field of deployment `d.id` except its app, which never changes.
    /// To make a deployment the active one, use [`Store::activate`].
    pub fn update_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        self.write(|tx| {
            let app = app_of(tx, &d.id)?;
            check_single_active(tx, &app, &d.id, d.status)?;
            tx.prepare_cached(
                "UPDATE deployments SET kind = ?2, status = ?3, git_ref = ?4, commit_sha = ?5,
                 commit_message = ?6, runtime = ?7, image = ?8, container = ?9,
                 source_deployment = ?10, started_at = ?11, finished_at = ?12, failed_step = ?13,
                 error = ?14, steps = ?15, digest = ?16, processes = ?17, spec = ?18
                 WHERE id = ?1",
            )?
            .execute(params![
                d.id,
                d.kind.as_str(),
                d.status.as_str(),
                d.git_ref,
                d.commit,
                d.commit_message,
                d.runtime,
                d.image,
                d.container,
                d.source_deployment,
                d.started_at,
                d.finished_at,
                d.failed_step.map(Step::as_str),
                d.error,
                steps_json(&d.steps)?,
                d.digest,
                processes_json(&d.processes)?,
                spec_json(d)?,
            ])?;
            Ok(())
        })
    }

    /// One deployment, by its id or a unique prefix of it (at least 4 digits: what people
    /// copy from a listing).
    pub fn deployment(&self, id: &str) -> Result<Deployment, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM deployments WHERE id = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query_map([id], deployment_from_row)?;
            if let Some(d) = rows.next() {
                return Ok(d?);
            }
            if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(StoreError::not_found("deployment", id).into());
            }
            let sql =
                format!("SELECT {COLUMNS} FROM deployments WHERE substr(id, 1, ?2) = ?1 LIMIT 2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let found = stmt
                .query_map(
                    params![id.to_ascii_lowercase(), id.len() as i64],
                    deployment_from_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            match found.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(StoreError::not_found("deployment", id).into()),
                _ => Err(StoreError::Invalid(format!(
                    "deployment `{id}` is ambiguous: give more of its id"
                ))
                .into()),
            }
        })
    }

    /// The app's latest `limit` deployments, newest first.
    pub fn deployments(&self, app: &str, limit: usize) -> Result<Vec<Deployment>, StoreError> {
        self.read(|conn| {
            require_app(conn, app)?;
            let sql =
                format!("SELECT {COLUMNS} FROM deployments WHERE app = ?1 {NEWEST_FIRST} LIMIT ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map(params![app, sql_limit(limit)], deployment_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// The deployment serving the app, if any.
    pub fn active_deployment(&self, app: &str) -> Result<Option<Deployment>, StoreError> {
        self.read(|conn| {
            require_app(conn, app)?;
            let sql = format!("SELECT {COLUMNS} FROM deployments WHERE app = ?1 AND status = ?2");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query_map(
                params![app, DeploymentStatus::Active.as_str()],
                deployment_from_row,
            )?;
            Ok(rows.next().transpose()?)
        })
    }

    /// Makes deployment `id` the active one of `app`, in one transaction: the previously active
    /// deployment becomes superseded, this one active, with `finished_at = now` unless it is
    /// already set. Activating the active deployment changes nothing. Failed and cancelled
    /// deployments cannot be activated.
    pub fn activate(&self, app: &str, id: &str, now: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, app)?;
            let status: Option<String> = tx
                .prepare_cached("SELECT status FROM deployments WHERE id = ?1 AND app = ?2")?
                .query_map([id, app], |r| r.get(0))?
                .next()
                .transpose()?;
            let Some(status) = status else {
                return Err(StoreError::not_found("deployment", id).into());
            };
            let status = DeploymentStatus::parse(&status)
                .ok_or_else(|| bad_column(0, format!("unknown deployment status `{status}`")))?;
            match status {
                DeploymentStatus::Active => return Ok(()),
                DeploymentStatus::InProgress | DeploymentStatus::Superseded => {}
                DeploymentStatus::Failed
                | DeploymentStatus::Cancelled
                | DeploymentStatus::Interrupted => {
                    return Err(StoreError::NotActivatable {
                        id: id.to_owned(),
                        status,
                    }
                    .into());
                }
            }
            tx.prepare_cached("UPDATE deployments SET status = ?2 WHERE app = ?1 AND status = ?3")?
                .execute([
                    app,
                    DeploymentStatus::Superseded.as_str(),
                    DeploymentStatus::Active.as_str(),
                ])?;
            tx.prepare_cached(
                "UPDATE deployments SET status = ?2, finished_at = COALESCE(finished_at, ?3)
                 WHERE id = ?1",
            )?
            .execute(params![id, DeploymentStatus::Active.as_str(), now])?;
            Ok(())
        })
    }

    /// The latest `limit` deployments of every app, newest first.
    pub fn recent_deployments(&self, limit: usize) -> Result<Vec<Deployment>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM deployments {NEWEST_FIRST} LIMIT ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map([sql_limit(limit)], deployment_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// Appends lines to a deployment's build log (one row per line, one transaction per call).
    pub fn append_build_log(&self, id: &str, lines: &[String]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            if !exists(tx, "deployments", "id", id)? {
                return Err(StoreError::not_found("deployment", id).into());
            }
            let mut stmt =
                tx.prepare_cached("INSERT INTO build_log (deployment, line) VALUES (?1, ?2)")?;
            for line in lines {
                stmt.execute([id, line])?;
            }
            Ok(())
        })
    }

    /// The build log of a deployment, in the order the lines were appended.
    pub fn build_log(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            if !exists(conn, "deployments", "id", id)? {
                return Err(StoreError::not_found("deployment", id).into());
            }
            let mut stmt = conn
                .prepare_cached("SELECT line FROM build_log WHERE deployment = ?1 ORDER BY id")?;
            let lines = stmt
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(lines)
        })
    }
}

fn app_of(conn: &Connection, id: &str) -> Result<String, Fail> {
    let app: Option<String> = conn
        .prepare_cached("SELECT app FROM deployments WHERE id = ?1")?
        .query_map([id], |r| r.get(0))?
        .next()
        .transpose()?;
    app.ok_or_else(|| StoreError::not_found("deployment", id).into())
}

/// Refuses to write `id` as active while another deployment of `app` is (the partial unique
/// index would refuse it too, with a less helpful message).
fn insert(tx: &Transaction<'_>, d: &Deployment) -> Result<(), Fail> {
    require_app(tx, &d.app)?;
    if exists(tx, "deployments", "id", &d.id)? {
        return Err(StoreError::already_exists("deployment", &d.id).into());
    }
    check_single_active(tx, &d.app, &d.id, d.status)?;
    let sql = format!(
        "INSERT INTO deployments ({COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    );
    tx.prepare_cached(&sql)?.execute(params![
        d.id,
        d.app,
        d.kind.as_str(),
        d.status.as_str(),
        d.git_ref,
        d.commit,
        d.commit_message,
        d.runtime,
        d.image,
        d.container,
        d.source_deployment,
        d.started_at,
        d.finished_at,
        d.failed_step.map(Step::as_str),
        d.error,
        steps_json(&d.steps)?,
        d.digest,
        processes_json(&d.processes)?,
        spec_json(d)?,
    ])?;
    Ok(())
}

fn check_single_active(
    tx: &Transaction<'_>,
    app: &str,
    id: &str,
    status: DeploymentStatus,
) -> Result<(), Fail> {
    if status != DeploymentStatus::Active {
        return Ok(());
    }
    let active: Option<String> = tx
        .prepare_cached("SELECT id FROM deployments WHERE app = ?1 AND status = ?2 AND id != ?3")?
        .query_map([app, DeploymentStatus::Active.as_str(), id], |r| r.get(0))?
        .next()
        .transpose()?;
    match active {
        Some(active) => Err(StoreError::AlreadyActive {
            app: app.to_owned(),
            active,
            id: id.to_owned(),
        }
        .into()),
        None => Ok(()),
    }
}

fn steps_json(steps: &[StepTiming]) -> Result<String, Fail> {
    serde_json::to_string(steps)
        .map_err(|e| StoreError::Invalid(format!("deployment steps: {e}")).into())
}

fn processes_json(processes: &[ProcessSpec]) -> Result<String, Fail> {
    serde_json::to_string(processes)
        .map_err(|e| StoreError::Invalid(format!("deployment processes: {e}")).into())
}

fn spec_json(d: &Deployment) -> Result<Option<String>, Fail> {
    d.spec
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Invalid(format!("deployment spec: {e}")).into())
}

fn deployment_from_row(row: &Row<'_>) -> rusqlite::Result<Deployment> {
    let kind: String = row.get(2)?;
    let kind = DeploymentKind::parse(&kind)
        .ok_or_else(|| bad_column(2, format!("unknown deployment kind `{kind}`")))?;
    let status: String = row.get(3)?;
    let status = DeploymentStatus::parse(&status)
        .ok_or_else(|| bad_column(3, format!("unknown deployment status `{status}`")))?;
    let failed_step: Option<String> = row.get(13)?;
    let failed_step = match failed_step {
        Some(s) => {
            Some(Step::parse(&s).ok_or_else(|| bad_column(13, format!("unknown step `{s}`")))?)
        }
        None => None,
    };
    let steps: String = row.get(15)?;
    let steps: Vec<StepTiming> =
        serde_json::from_str(&steps).map_err(|e| bad_column(15, format!("steps: {e}")))?;
    Ok(Deployment {
        id: row.get(0)?,
        app: row.get(1)?,
        kind,
        status,
        git_ref: row.get(4)?,
        commit: row.get(5)?,
        commit_message: row.get(6)?,
        runtime: row.get(7)?,
        image: row.get(8)?,
        digest: row.get(16)?,
        container: row.get(9)?,
        source_deployment: row.get(10)?,
        started_at: row.get(11)?,
        finished_at: row.get(12)?,
        failed_step,
        error: row.get(14)?,
        steps,
        processes: {
            let text: String = row.get(17)?;
            serde_json::from_str(&text).map_err(|e| bad_column(17, format!("processes: {e}")))?
        },
        spec: match row.get::<_, Option<String>>(18)? {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| bad_column(18, format!("spec: {e}")))?,
            ),
            None => None,
        },
    })
}
