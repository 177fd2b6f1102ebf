//! The schema as an ordered list of migrations; `PRAGMA user_version` counts the applied ones.
//!
//! Never edit a migration that has shipped: append a new one. Timestamps are INTEGER unix
//! milliseconds; lists (volumes, step timings) are JSON text; enums are their kebab-case names.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Fail, StoreError};

/// Migration `i` takes the database from `user_version = i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE servers (
    name             TEXT NOT NULL PRIMARY KEY,
    transport        TEXT NOT NULL,
    ssh_user         TEXT,
    ssh_host         TEXT,
    ssh_port         INTEGER,
    identity         TEXT,
    docker_socket    TEXT NOT NULL,
    base_build_image TEXT,
    base_run_image   TEXT,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE apps (
    name               TEXT NOT NULL PRIMARY KEY,
    server             TEXT NOT NULL REFERENCES servers (name) ON DELETE RESTRICT,
    git                TEXT NOT NULL,
    branch             TEXT NOT NULL,
    dockerfile         TEXT,
    port               INTEGER NOT NULL,
    health_path        TEXT NOT NULL,
    health_interval_ms INTEGER NOT NULL,
    health_timeout_ms  INTEGER NOT NULL,
    health_deadline_ms INTEGER NOT NULL,
    cpus               REAL,
    memory_bytes       INTEGER,
    volumes            TEXT NOT NULL,
    base_build_image   TEXT,
    base_run_image     TEXT,
    stop_grace_secs    INTEGER NOT NULL,
    -- The desired state the user chose: 1 = keep it stopped.
    stopped            INTEGER NOT NULL DEFAULT 0 CHECK (stopped IN (0, 1)),
    created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX apps_server ON apps (server);

-- Secret values live in the OS keychain: a secret row has no value, enforced here too.
CREATE TABLE env_vars (
    app    TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT,
    secret INTEGER NOT NULL CHECK (secret IN (0, 1)),
    PRIMARY KEY (app, key),
    CHECK ((secret = 1 AND value IS NULL) OR (secret = 0 AND value IS NOT NULL))
) STRICT, WITHOUT ROWID;

CREATE TABLE deployments (
    id                TEXT NOT NULL PRIMARY KEY,
    app               TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    git_ref           TEXT NOT NULL,
    commit_sha        TEXT,
    commit_message    TEXT,
    runtime           TEXT,
    image             TEXT,
    container         TEXT,
    source_deployment TEXT,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    failed_step       TEXT,
    error             TEXT,
    steps             TEXT NOT NULL
) STRICT;
CREATE INDEX deployments_app_started ON deployments (app, started_at);
CREATE INDEX deployments_started ON deployments (started_at);
-- At most one active deployment per app.
CREATE UNIQUE INDEX deployments_one_active ON deployments (app) WHERE status = 'active';

-- One row per line; `id` grows with every append, so it orders the lines of a deployment.
CREATE TABLE build_log (
    id         INTEGER PRIMARY KEY,
    deployment TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    line       TEXT NOT NULL
) STRICT;
CREATE INDEX build_log_deployment ON build_log (deployment, id);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // 2: routing — a server's proxy and base domain, an app's drain timeout, domains.
    r#"
ALTER TABLE servers ADD COLUMN base_domain TEXT;
-- JSON of berth_model::ProxyConfig; NULL until a proxy is installed or adopted.
ALTER TABLE servers ADD COLUMN proxy TEXT;
ALTER TABLE apps ADD COLUMN drain_timeout_secs INTEGER NOT NULL DEFAULT 30;

-- A domain belongs to one app across all servers: a name resolves to one place.
CREATE TABLE domains (
    name       TEXT NOT NULL PRIMARY KEY,
    app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    is_primary INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX domains_app ON domains (app);
CREATE UNIQUE INDEX domains_one_primary ON domains (app) WHERE is_primary = 1;
"#,
    // 3: webhooks — a server's relay, an app's webhook, notifiers.
    r#"
-- JSON of berth_model::RelayConfig; NULL until the relay is installed.
ALTER TABLE servers ADD COLUMN relay TEXT;

-- The secret lives in the keychain (`webhook:<app>`), never here.
CREATE TABLE webhooks (
    app        TEXT NOT NULL PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
    uuid       TEXT NOT NULL UNIQUE,
    provider   TEXT NOT NULL,
    branch     TEXT NOT NULL,
    tags       TEXT,
    mode       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The URL lives in the keychain (`notifier:<id>`: it often carries a token); `shown` is the
-- URL with its path and query cut.
CREATE TABLE notifiers (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    shown      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
"#,
    // 4: a webhook may let pushes rewrite history (deploy commits that do not descend from
    // the serving one).
    r#"
ALTER TABLE webhooks ADD COLUMN allow_force_push INTEGER NOT NULL DEFAULT 0;
"#,
    // 5: image apps — an app may run an image instead of building git; a deployment of one
    // pins the digest it pulled.
    r#"
ALTER TABLE apps ADD COLUMN image TEXT;
ALTER TABLE deployments ADD COLUMN digest TEXT;
"#,
    // 6: registries Berth pulls from with credentials (the password is in the keychain,
    // `registry/<name>`); one per host, so an image names its registry.
    r#"
CREATE TABLE registries (
    name       TEXT NOT NULL PRIMARY KEY,
    host       TEXT NOT NULL UNIQUE,
    username   TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // 7: stages of image apps, and their instances: each instance is an app record of its
    // own (its deployments, container, route) running one tag of one stage.
    r#"
CREATE TABLE stages (
    app           TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    tags          TEXT NOT NULL,
    auto_deploy   INTEGER NOT NULL DEFAULT 0,
    max_instances INTEGER NOT NULL DEFAULT 1,
    promote_from  TEXT,
    confirm       INTEGER NOT NULL DEFAULT 0,
    subdomain     TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (app, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE stage_instances (
    instance   TEXT NOT NULL PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
    app        TEXT NOT NULL,
    stage      TEXT NOT NULL,
    tag        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (app, stage, tag),
    FOREIGN KEY (app, stage) REFERENCES stages (app, name)
) STRICT, WITHOUT ROWID;

-- Every tag (by digest) that ran healthy in a stage, kept after its instance is gone:
-- promotion takes only these.
CREATE TABLE stage_healthy (
    app    TEXT NOT NULL,
    stage  TEXT NOT NULL,
    tag    TEXT NOT NULL,
    digest TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (app, stage, tag, digest),
    FOREIGN KEY (app, stage) REFERENCES stages (app, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
"#,
    // 8: notifiers are routed: one app's notices only (NULL: every app's), some kinds only
    // (comma-separated `deploy,image,alert`; empty: every kind).
    r#"
ALTER TABLE notifiers ADD COLUMN app TEXT;
ALTER TABLE notifiers ADD COLUMN events TEXT NOT NULL DEFAULT '';
"#,
    // 9: the health monitor's settings per app, and its events (the relays' and Berth's own)
    // as Berth last fetched them.
    r#"
ALTER TABLE apps ADD COLUMN monitor_interval_secs INTEGER NOT NULL DEFAULT 30;
ALTER TABLE apps ADD COLUMN unhealthy_after INTEGER NOT NULL DEFAULT 3;
CREATE TABLE alerts (
    server TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    app    TEXT,
    kind   TEXT NOT NULL,
    why    TEXT NOT NULL,
    PRIMARY KEY (server, seq)
) STRICT;
CREATE INDEX alerts_at ON alerts (at);
"#,
    // 10: apps' stats samples the desktop takes of servers without a relay, while it runs
    // (kept a day).
    r#"
CREATE TABLE samples (
    at        INTEGER NOT NULL,
    app       TEXT NOT NULL,
    cpu       REAL NOT NULL,
    mem       INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    net_rx    INTEGER NOT NULL,
    net_tx    INTEGER NOT NULL,
    blk_read  INTEGER NOT NULL,
    blk_write INTEGER NOT NULL,
    restarts  INTEGER NOT NULL,
    PRIMARY KEY (app, at)
) STRICT, WITHOUT ROWID;
"#,
    // 11: a release command per app (a migration run before each switch).
    r#"
ALTER TABLE apps ADD COLUMN release_command TEXT;
"#,
    // 12: services (an app with a kind; published on the server's loopback only if asked) and
    // the apps linked to them (each gets the connection string as a secret variable).
    r#"
ALTER TABLE apps ADD COLUMN service TEXT;
ALTER TABLE apps ADD COLUMN publish_port INTEGER;
CREATE TABLE service_links (
    service TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    app     TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    var     TEXT NOT NULL,
    PRIMARY KEY (service, app, var)
) STRICT, WITHOUT ROWID;
CREATE INDEX service_links_app ON service_links (app);
"#,
    // 13: named places backups are kept (the backups themselves live there, each with its
    // record), when each service is backed up by its server's relay, and apps' cron jobs.
    r#"
CREATE TABLE backup_targets (
    name     TEXT PRIMARY KEY,
    location TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE backup_schedules (
    service TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
    cron    TEXT NOT NULL,
    keep    INTEGER NOT NULL,
    target  TEXT
) STRICT, WITHOUT ROWID;
CREATE TABLE cron_jobs (
    app      TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    schedule TEXT NOT NULL,
    command  TEXT NOT NULL,
    PRIMARY KEY (app, name)
) STRICT, WITHOUT ROWID;
"#,
    // 14: a target that seals its backups to an age recipient (the key stays in the keychain).
    r#"
ALTER TABLE backup_targets ADD COLUMN sealed_to TEXT;
"#,
    // 15: how generated images start and who owns the app's folder; env passed to builds;
    // the processes a deployment ran beside its web container.
    r#"
ALTER TABLE apps ADD COLUMN start_command TEXT;
ALTER TABLE apps ADD COLUMN read_only_app_dir INTEGER NOT NULL DEFAULT 0 CHECK (read_only_app_dir IN (0, 1));
ALTER TABLE apps ADD COLUMN build_env TEXT NOT NULL DEFAULT '[]';
ALTER TABLE deployments ADD COLUMN processes TEXT NOT NULL DEFAULT '[]';
"#,
    // 16: projects (apps grouped, with variables every member gets), secrets' versions (the
    // keychain keeps each version a deployment ran with), and what each deployment ran with.
    r#"
CREATE TABLE projects (
    name       TEXT PRIMARY KEY,
    server     TEXT REFERENCES servers (name) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE project_env (
    project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT,
    secret  INTEGER NOT NULL CHECK (secret IN (0, 1)),
    version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project, key),
    CHECK ((secret = 1 AND value IS NULL) OR (secret = 0 AND value IS NOT NULL))
) STRICT, WITHOUT ROWID;
ALTER TABLE apps ADD COLUMN project TEXT REFERENCES projects (name);
ALTER TABLE env_vars ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN spec TEXT;
"#,
];

/// The schema version this binary writes.
pub(crate) fn supported() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64, Fail> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses a database written by a newer Berth, before anything touches it.
pub(crate) fn check_not_too_new(found: i64) -> Result<(), Fail> {
    if found > supported() || found < 0 {
        return Err(StoreError::TooNew {
            found,
            supported: supported(),
        }
        .into());
    }
    Ok(())
}

/// Applies the missing migrations in one immediate transaction, so two processes opening the
/// same file at once never both migrate it.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Fail> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    check_not_too_new(found)?;
    let applied = usize::try_from(found).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tracing::debug!(version = i + 1, "migrating the state database");
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.commit()?;
    Ok(())
}
