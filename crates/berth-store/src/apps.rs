//! Apps, their desired running state and their env vars (secret values excluded).

use berth_model::{
    App, BaseImages, EnvVar, HealthCheck, Limits, ServiceKind, Volume, validate_app_name,
    validate_env_key,
};
use rusqlite::{Row, Transaction, params};

use crate::error::{Fail, StoreError};
use crate::{Store, bad_column, exists, require_app, u64_from_sql, u64_to_sql};

const COLUMNS: &str = "name, server, git, branch, dockerfile, port, health_path, \
                       health_interval_ms, health_timeout_ms, health_deadline_ms, cpus, memory_bytes, \
                       volumes, base_build_image, base_run_image, stop_grace_secs, created_at, \
                       drain_timeout_secs, image, monitor_interval_secs, unhealthy_after, \
                       release_command, service, publish_port, start_command, \
                       read_only_app_dir, build_env, project";

impl Store {
    /// Adds an app. [`StoreError::AlreadyExists`] if the name is taken, [`StoreError::NotFound`]
    /// if its server does not exist.
    pub fn insert_app(&self, a: &App) -> Result<(), StoreError> {
        validate_app_name(&a.name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write(|tx| {
            if exists(tx, "apps", "name", &a.name)? {
                return Err(StoreError::already_exists("app", &a.name).into());
            }
            write_app(tx, a, true)
        })
    }

    /// Replaces every field of the app named `a.name` (its stopped flag is kept).
    pub fn update_app(&self, a: &App) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, &a.name)?;
            write_app(tx, a, false)
        })
    }

    pub fn app(&self, name: &str) -> Result<App, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM apps WHERE name = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query_map([name], app_from_row)?;
            match rows.next() {
                Some(a) => Ok(a?),
                None => Err(StoreError::not_found("app", name).into()),
            }
        })
    }

    /// Every app, by name.
    pub fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM apps ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let apps = stmt
                .query_map([], app_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(apps)
        })
    }

    /// Removes an app with its env vars, deployments and build logs.
    pub fn delete_app(&self, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, name)?;
            // The foreign keys cascade too; deleting explicitly keeps this independent of them.
            tx.prepare_cached(
                "DELETE FROM build_log WHERE deployment IN (SELECT id FROM deployments WHERE app = ?1)",
            )?
            .execute([name])?;
            tx.prepare_cached("DELETE FROM deployments WHERE app = ?1")?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM env_vars WHERE app = ?1")?
                .execute([name])?;
            for sql in [
                "DELETE FROM stage_instances WHERE instance = ?1 OR app = ?1",
                "DELETE FROM stage_healthy WHERE app = ?1",
                "DELETE FROM stages WHERE app = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([name])?;
            }
            tx.prepare_cached("DELETE FROM apps WHERE name = ?1")?
                .execute([name])?;
            Ok(())
        })
    }

    /// Records whether the user wants the app stopped (`berth stop`) or running.
    pub fn set_app_stopped(&self, app: &str, stopped: bool) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE apps SET stopped = ?2 WHERE name = ?1")?
                .execute(params![app, stopped])?;
            if changed == 0 {
                return Err(StoreError::not_found("app", app).into());
            }
            Ok(())
        })
    }

    /// Whether the user wants the app stopped.
    pub fn app_stopped(&self, app: &str) -> Result<bool, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT stopped FROM apps WHERE name = ?1")?;
            let mut rows = stmt.query_map([app], |r| r.get(0))?;
            match rows.next() {
                Some(s) => Ok(s?),
                None => Err(StoreError::not_found("app", app).into()),
            }
        })
    }

    /// Adds or replaces an env var. A plain var needs a value; a secret var must come without
    /// one (its value belongs in the secrets store), and only its key and flag are stored
    /// (version 0: the secrets store's unversioned entry).
    pub fn set_env(
        &self,
        app: &str,
        key: &str,
        value: Option<&str>,
        secret: bool,
    ) -> Result<(), StoreError> {
        self.set_owned_env(EnvOwner::App(app), key, value, secret, 0)
    }

    /// Records that `key` of `app` is a secret whose current value is `version` in the secrets
    /// store.
    pub fn set_secret_env(&self, app: &str, key: &str, version: u32) -> Result<(), StoreError> {
        self.set_owned_env(EnvOwner::App(app), key, None, true, version)
    }

    /// Removes an env var; returns whether it existed.
    pub fn unset_env(&self, app: &str, key: &str) -> Result<bool, StoreError> {
        self.unset_owned_env(EnvOwner::App(app), key)
    }

    /// The app's env vars by key; `value` is `None` for secrets.
    pub fn env(&self, app: &str) -> Result<Vec<EnvVar>, StoreError> {
        self.owned_env(EnvOwner::App(app))
    }

    pub(crate) fn set_owned_env(
        &self,
        owner: EnvOwner<'_>,
        key: &str,
        value: Option<&str>,
        secret: bool,
        version: u32,
    ) -> Result<(), StoreError> {
        validate_env_key(key).map_err(|e| StoreError::Invalid(e.to_string()))?;
        match (value, secret) {
            (Some(_), true) => {
                return Err(StoreError::Invalid(format!(
                    "env `{key}` is secret: its value belongs in the secrets store, not the state database"
                )));
            }
            (None, false) => {
                return Err(StoreError::Invalid(format!(
                    "env `{key}` is not secret and needs a value"
                )));
            }
            _ => {}
        }
        let (table, column) = owner.table();
        self.write(|tx| {
            owner.require(tx)?;
            tx.prepare_cached(&format!(
                "INSERT INTO {table} ({column}, key, value, secret, version) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT ({column}, key) DO UPDATE SET value = excluded.value,
                 secret = excluded.secret, version = excluded.version"
            ))?
            .execute(params![owner.name(), key, value, secret, version])?;
            Ok(())
        })
    }

    pub(crate) fn unset_owned_env(
        &self,
        owner: EnvOwner<'_>,
        key: &str,
    ) -> Result<bool, StoreError> {
        let (table, column) = owner.table();
        self.write(|tx| {
            owner.require(tx)?;
            let deleted = tx
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE {column} = ?1 AND key = ?2"
                ))?
                .execute([owner.name(), key])?;
            Ok(deleted > 0)
        })
    }

    pub(crate) fn owned_env(&self, owner: EnvOwner<'_>) -> Result<Vec<EnvVar>, StoreError> {
        let (table, column) = owner.table();
        self.read(|conn| {
            owner.require(conn)?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT key, value, secret, version FROM {table} WHERE {column} = ?1 ORDER BY key"
            ))?;
            let vars = stmt
                .query_map([owner.name()], |r| {
                    let secret: bool = r.get(2)?;
                    Ok(EnvVar {
                        key: r.get(0)?,
                        // Never hand out a value for a secret, whatever the row holds.
                        value: if secret { None } else { r.get(1)? },
                        secret,
                        build: false,
                        version: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(vars)
        })
    }
}

/// Whose variables: an app's or a project's.
#[derive(Clone, Copy)]
pub(crate) enum EnvOwner<'a> {
    App(&'a str),
    Project(&'a str),
}

impl EnvOwner<'_> {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            EnvOwner::App(_) => ("env_vars", "app"),
            EnvOwner::Project(_) => ("project_env", "project"),
        }
    }

    fn name(&self) -> &str {
        match self {
            EnvOwner::App(n) | EnvOwner::Project(n) => n,
        }
    }

    fn require(self, conn: &rusqlite::Connection) -> Result<(), Fail> {
        match self {
            EnvOwner::App(app) => require_app(conn, app),
            EnvOwner::Project(p) => {
                if exists(conn, "projects", "name", p)? {
                    Ok(())
                } else {
                    Err(StoreError::not_found("project", p).into())
                }
            }
        }
    }
}

fn write_app(tx: &Transaction<'_>, a: &App, insert: bool) -> Result<(), Fail> {
    if !exists(tx, "servers", "name", &a.server)? {
        return Err(StoreError::not_found("server", &a.server).into());
    }
    if let Some(p) = &a.project
        && !exists(tx, "projects", "name", p)?
    {
        return Err(StoreError::not_found("project", p).into());
    }
    let volumes = serde_json::to_string(&a.volumes)
        .map_err(|e| StoreError::Invalid(format!("volumes of app `{}`: {e}", a.name)))?;
    let memory = a
        .limits
        .memory_bytes
        .map(|m| u64_to_sql(m, "memory limit"))
        .transpose()?;
    let build_env = serde_json::to_string(&a.build_env)
        .map_err(|e| StoreError::Invalid(format!("build env keys: {e}")))?;
    let sql = if insert {
        format!(
            "INSERT INTO apps ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
        )
    } else {
        "UPDATE apps SET server = ?2, git = ?3, branch = ?4, dockerfile = ?5, port = ?6,
         health_path = ?7, health_interval_ms = ?8, health_timeout_ms = ?9,
         health_deadline_ms = ?10, cpus = ?11, memory_bytes = ?12, volumes = ?13,
         base_build_image = ?14, base_run_image = ?15, stop_grace_secs = ?16, created_at = ?17,
         drain_timeout_secs = ?18, image = ?19, monitor_interval_secs = ?20,
         unhealthy_after = ?21, release_command = ?22, service = ?23, publish_port = ?24,
         start_command = ?25, read_only_app_dir = ?26, build_env = ?27, project = ?28
         WHERE name = ?1"
            .to_owned()
    };
    tx.prepare_cached(&sql)?.execute(params![
        a.name,
        a.server,
        a.git,
        a.branch,
        a.dockerfile,
        a.port,
        a.health.path,
        u64_to_sql(a.health.interval_ms, "health interval")?,
        u64_to_sql(a.health.timeout_ms, "health timeout")?,
        u64_to_sql(a.health.deadline_ms, "health deadline")?,
        a.limits.cpus,
        memory,
        volumes,
        a.base_images.build,
        a.base_images.run,
        a.stop_grace_secs,
        a.created_at,
        a.drain_timeout_secs,
        a.image,
        a.monitor.interval_secs,
        a.monitor.unhealthy_after,
        a.release_command,
        a.service.map(|k| k.as_str()),
        a.publish,
        a.start_command,
        a.read_only_app_dir,
        build_env,
        a.project,
    ])?;
    Ok(())
}

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<App> {
    let volumes: String = row.get(12)?;
    let volumes: Vec<Volume> =
        serde_json::from_str(&volumes).map_err(|e| bad_column(12, format!("volumes: {e}")))?;
    let memory: Option<i64> = row.get(11)?;
    let memory_bytes = match memory {
        Some(m) => {
            Some(u64::try_from(m).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(11, m))?)
        }
        None => None,
    };
    Ok(App {
        name: row.get(0)?,
        server: row.get(1)?,
        git: row.get(2)?,
        branch: row.get(3)?,
        dockerfile: row.get(4)?,
        port: row.get(5)?,
        health: HealthCheck {
            path: row.get(6)?,
            interval_ms: u64_from_sql(row, 7)?,
            timeout_ms: u64_from_sql(row, 8)?,
            deadline_ms: u64_from_sql(row, 9)?,
        },
        limits: Limits {
            cpus: row.get(10)?,
            memory_bytes,
        },
        volumes,
        base_images: BaseImages {
            build: row.get(13)?,
            run: row.get(14)?,
        },
        stop_grace_secs: row.get(15)?,
        created_at: row.get(16)?,
        drain_timeout_secs: row.get(17)?,
        image: row.get(18)?,
        monitor: berth_model::Monitor {
            interval_secs: row.get(19)?,
            unhealthy_after: row.get(20)?,
        },
        release_command: row.get(21)?,
        service: match row.get::<_, Option<String>>(22)? {
            Some(kind) => Some(
                ServiceKind::parse(&kind).map_err(|e| bad_column(22, format!("service: {e}")))?,
            ),
            None => None,
        },
        publish: row.get(23)?,
        start_command: row.get(24)?,
        read_only_app_dir: row.get(25)?,
        build_env: {
            let text: String = row.get(26)?;
            serde_json::from_str(&text).map_err(|e| bad_column(26, format!("build_env: {e}")))?
        },
        project: row.get(27)?,
    })
}
