//! The relay's queue and delivery history: one SQLite file in WAL mode with `synchronous=FULL`,
//! owned by one thread. Accepted deliveries are group-committed: every request waiting to be
//! recorded when a transaction starts goes into it, and each is answered only after the commit
//! (one fsync for the whole batch), so under load the throughput grows with the batch while
//! nothing is ever answered before it is on disk.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use berth_model::{Delivery, DeliveryStatus, Provider, Verdict, WebhookFilter, WebhookMode};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::{oneshot, watch};

use crate::proto::{Claim, DeployReport, HookSummary, RelayDeployment};

/// Most inserts committed in one transaction.
const MAX_BATCH: usize = 512;
/// Finished deliveries kept per app (and for unknown hooks); older ones are pruned. Queued
/// ones are never pruned, nor counted.
const KEEP_PER_APP: i64 = 2000;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS hooks (
    uuid     TEXT NOT NULL PRIMARY KEY,
    app      TEXT NOT NULL,
    provider TEXT NOT NULL,
    branch   TEXT NOT NULL,
    tags     TEXT,
    mode     TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS deliveries (
    id          INTEGER PRIMARY KEY,
    hook        TEXT NOT NULL,
    app         TEXT,
    provider    TEXT,
    delivery_id TEXT,
    received_at INTEGER NOT NULL,
    remote      TEXT NOT NULL,
    event       TEXT NOT NULL,
    git_ref     TEXT,
    commit_sha  TEXT,
    message     TEXT,
    verdict     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    status      TEXT NOT NULL,
    mode        TEXT,
    deployment  TEXT,
    handled_by  TEXT,
    lease_until INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER,
    result      TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_app ON deliveries (app, id);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, id);
-- What pruning walks: an app's finished deliveries, newest first.
CREATE INDEX IF NOT EXISTS deliveries_finished ON deliveries (app, id)
    WHERE status NOT IN ('pending', 'running');
-- A delivery id counts once per hook; rejected and duplicate records don't take it (a forger
-- must not be able to pre-empt a genuine delivery).
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_once ON deliveries (hook, delivery_id)
    WHERE verdict NOT IN ('rejected', 'duplicate');

-- Deployments the relay ran on its own (unattended), for Berth's history; `seq` orders them
-- for Berth's catch-up.
CREATE TABLE IF NOT EXISTS deployments (
    seq      INTEGER PRIMARY KEY,
    delivery INTEGER NOT NULL,
    app      TEXT NOT NULL,
    record   TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS deployments_app ON deployments (app, seq);

-- The body digest of every push a hook queued, never pruned with the deliveries: a captured
-- push re-sent under a new delivery id is a replay, however long ago it first came.
CREATE TABLE IF NOT EXISTS pushes_seen (
    hook     TEXT NOT NULL,
    digest   TEXT NOT NULL,
    delivery INTEGER NOT NULL,
    PRIMARY KEY (hook, digest)
) STRICT;

-- The relay's own settings that Berth gives it (the SHA-256 of the metrics token: not the token).
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- What polling an unattended image app's registry saw last: tag -> digest. The first look is
-- the baseline (a row with an empty tag marks it taken).
CREATE TABLE IF NOT EXISTS poll_seen (
    app    TEXT NOT NULL,
    tag    TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (app, tag)
) STRICT;
"#;

/// Unattended deployments kept per app for Berth to catch up on.
const KEEP_DEPLOYMENTS_PER_APP: i64 = 200;

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub hook: String,
    pub app: Option<String>,
    pub provider: Option<Provider>,
    pub mode: Option<WebhookMode>,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub remote: String,
    pub event: String,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub message: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    pub http_status: u16,
    /// The SHA-256 of a verified push's body ([`berth_hooks::body_digest`]).
    pub body_digest: Option<String>,
}

/// What was recorded: a duplicate delivery id turns the verdict into [`Verdict::Duplicate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    pub verdict: Verdict,
    pub reason: String,
    pub http_status: u16,
}

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("relay database: {what}: {source}")]
pub struct DbError {
    what: &'static str,
    #[source]
    source: rusqlite::Error,
}

/// A control-API request the database refuses.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no delivery #{0}")]
    NoDelivery(i64),
    #[error("delivery #{id} is {status}, not running: its result was already recorded")]
    NotRunning { id: i64, status: String },
    #[error("delivery #{id} is claimed by {owner}, not by {client}")]
    NotYours {
        id: i64,
        owner: String,
        client: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

fn db(what: &'static str) -> impl FnOnce(rusqlite::Error) -> DbError {
    move |source| DbError { what, source }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Msg {
    Insert(Box<NewDelivery>, oneshot::Sender<Result<Recorded, String>>),
    Run(Job),
}

/// The handle to the database thread. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    tx: mpsc::Sender<Msg>,
    last: watch::Receiver<i64>,
}

impl Db {
    /// Opens (or creates) the database and starts its thread.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut conn = Connection::open(path).map_err(db("open"))?;
        configure(&mut conn)?;
        let last_id: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM deliveries", [], |r| {
                r.get(0)
            })
            .map_err(db("read the newest delivery"))?;
        let (tx, rx) = mpsc::channel();
        let (last_tx, last) = watch::channel(last_id);
        std::thread::Builder::new()
            .name("berth-relay-db".to_owned())
            .spawn(move || serve(conn, rx, last_tx))
            .map_err(|e| DbError {
                what: "start the database thread",
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(Db { tx, last })
    }

    /// Records a request; returns once it is committed.
    pub async fn insert(&self, d: NewDelivery) -> Result<Recorded, String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Insert(Box::new(d), tx))
            .map_err(|_| "the database thread stopped".to_owned())?;
        rx.await
            .map_err(|_| "the database thread stopped".to_owned())?
    }

    /// Runs `f` on the database thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.tx
            .send(Msg::Run(job))
            .map_err(|_| "the database thread stopped".to_owned())?;
        rx.await
            .map_err(|_| "the database job did not finish (see the relay's log)".to_owned())
    }

    /// The newest delivery id, updated after every commit.
    pub fn last_delivery(&self) -> watch::Receiver<i64> {
        self.last.clone()
    }
}

fn configure(conn: &mut Connection) -> Result<(), DbError> {
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(db("set the busy timeout"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db("turn on WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "the relay database is not in WAL mode");
    }
    // FULL: a commit is on disk (the WAL fsynced) before the sender hears back.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db("set synchronous"))?;
    conn.execute_batch(SCHEMA)
        .map_err(db("create the schema"))?;
    Ok(())
}

fn serve(mut conn: Connection, rx: mpsc::Receiver<Msg>, last: watch::Sender<i64>) {
    let mut held: Option<Msg> = None;
    let mut since_prune = 0usize;
    // Apps with new deliveries since the last prune (`None`: unknown hooks).
    let mut touched: std::collections::HashSet<Option<String>> = Default::default();
    loop {
        let first = match held.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        match first {
            // A bug in one job must not stop the thread every request records through: the
            // job's caller gets an error, its transaction rolls back as it unwinds.
            Msg::Run(job) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)))
                    .is_err()
                {
                    tracing::error!("a database job panicked; the relay goes on");
                }
            }
            Msg::Insert(d, reply) => {
                let mut batch = vec![(d, reply)];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Msg::Insert(d, reply)) => batch.push((d, reply)),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                since_prune += batch.len();
                touched.extend(batch.iter().map(|(d, _)| d.app.clone()));
                let (items, replies): (Vec<Box<NewDelivery>>, Vec<_>) = batch.into_iter().unzip();
                let inserted = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    insert_batch(&mut conn, &items)
                })) {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err("recording the deliveries panicked".to_owned()),
                };
                match inserted {
                    Ok(recorded) => {
                        if let Some(max) = recorded.iter().map(|r| r.id).max() {
                            last.send_replace(max);
                        }
                        for (r, reply) in recorded.into_iter().zip(replies) {
                            let _ = reply.send(Ok(r));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "recording deliveries failed");
                        for reply in replies {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
                if since_prune >= 200 {
                    since_prune = 0;
                    for app in touched.drain() {
                        if let Err(e) = prune(&conn, app.as_deref()) {
                            tracing::warn!(error = %e, "pruning old deliveries failed");
                        }
                    }
                }
            }
        }
    }
}

fn insert_batch(
    conn: &mut Connection,
    items: &[Box<NewDelivery>],
) -> Result<Vec<Recorded>, DbError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin"))?;
    let mut out = Vec::with_capacity(items.len());
    for d in items {
        out.push(insert_one(&tx, d)?);
    }
    tx.commit().map_err(db("commit"))?;
    Ok(out)
}

const INSERT: &str = "INSERT INTO deliveries (hook, app, provider, delivery_id, received_at, remote, \
     event, git_ref, commit_sha, message, verdict, reason, http_status, status, mode) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT DO NOTHING";

fn insert_one(tx: &rusqlite::Transaction<'_>, d: &NewDelivery) -> Result<Recorded, DbError> {
    // A queued push whose signed body this hook queued before: someone re-sent a captured
    // delivery under a new id. Recorded, answered 2xx, never deployed.
    // (A redelivery with the same id is a duplicate, below.)
    if d.verdict == Verdict::Queued
        && let Some(digest) = &d.body_digest
        && !seen_id(tx, d)?
    {
        let first: Option<i64> = tx
            .query_row(
                "SELECT delivery FROM pushes_seen WHERE hook = ?1 AND digest = ?2",
                params![d.hook, digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("look for the push"))?;
        if let Some(first) = first {
            let replay = NewDelivery {
                verdict: Verdict::Replay,
                reason: format!(
                    "the same signed push was delivered before as #{first}: a replay under a new delivery id; not deployed"
                ),
                http_status: 200,
                body_digest: None,
                ..d.clone()
            };
            return insert_one(tx, &replay);
        }
    }
    let status = if d.verdict == Verdict::Queued {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Done
    };
    let mut stmt = tx.prepare_cached(INSERT).map_err(db("prepare"))?;
    let mut write = |verdict: Verdict, reason: &str, http: u16, status: DeliveryStatus| {
        stmt.execute(params![
            d.hook,
            d.app,
            d.provider.map(|p| p.as_str()),
            d.delivery_id,
            d.received_at,
            d.remote,
            d.event,
            d.git_ref,
            d.commit,
            d.message,
            verdict.as_str(),
            reason,
            http,
            status.as_str(),
            d.mode.map(|m| m.as_str()),
        ])
        .map_err(db("record a delivery"))
    };
    if write(d.verdict, &d.reason, d.http_status, status)? == 1 {
        let id = tx.last_insert_rowid();
        if d.verdict == Verdict::Queued
            && let Some(digest) = &d.body_digest
        {
            tx.prepare_cached(
                "INSERT INTO pushes_seen (hook, digest, delivery) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![d.hook, digest, id]))
            .map_err(db("remember the push"))?;
        }
        return Ok(Recorded {
            id,
            verdict: d.verdict,
            reason: d.reason.clone(),
            http_status: d.http_status,
        });
    }
    // The delivery id was seen before: record the repeat, process nothing.
    let first: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, verdict FROM deliveries WHERE hook = ?1 AND delivery_id = ?2 \
             AND verdict NOT IN ('rejected', 'duplicate')",
            params![d.hook, d.delivery_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("find the first delivery"))?;
    let reason = match first {
        Some((id, verdict)) => format!(
            "delivery id {} was already received as #{id} ({verdict}); not processed again",
            d.delivery_id.as_deref().unwrap_or("?")
        ),
        None => "delivery id was already received; not processed again".to_owned(),
    };
    write(Verdict::Duplicate, &reason, 200, DeliveryStatus::Done)?;
    Ok(Recorded {
        id: tx.last_insert_rowid(),
        verdict: Verdict::Duplicate,
        reason,
        http_status: 200,
    })
}

/// Whether this hook already took `d`'s delivery id.
fn seen_id(tx: &rusqlite::Transaction<'_>, d: &NewDelivery) -> Result<bool, DbError> {
    tx.query_row(
        "SELECT 1 FROM deliveries WHERE hook = ?1 AND delivery_id = ?2 \
         AND verdict NOT IN ('rejected', 'duplicate')",
        params![d.hook, d.delivery_id],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .map_err(db("look for the delivery id"))
}

/// Deletes the finished deliveries of `app` beyond the newest [`KEEP_PER_APP`]. Walks the
/// partial index of finished deliveries, so it costs the same however long the queue is.
fn prune(conn: &Connection, app: Option<&str>) -> Result<(), DbError> {
    conn.prepare_cached(
        "DELETE FROM deliveries WHERE app IS ?1 AND status NOT IN ('pending', 'running')
         AND id < (SELECT id FROM deliveries WHERE app IS ?1
                   AND status NOT IN ('pending', 'running')
                   ORDER BY id DESC LIMIT 1 OFFSET ?2 - 1)",
    )
    .and_then(|mut stmt| stmt.execute(params![app, KEEP_PER_APP]))
    .map_err(db("prune"))?;
    Ok(())
}

// ---- hooks ----

pub fn put_hook(conn: &Connection, h: &HookSummary) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO hooks (uuid, app, provider, branch, tags, mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (uuid) DO UPDATE SET app = ?2, provider = ?3, branch = ?4, tags = ?5, mode = ?6",
        params![
            h.uuid,
            h.app,
            h.provider.as_str(),
            h.filter.branch,
            h.filter.tags,
            h.mode.as_str()
        ],
    )
    .map_err(db("save a hook"))?;
    Ok(())
}

pub fn delete_hook(conn: &Connection, uuid: &str) -> Result<bool, DbError> {
    // What polling saw of its app goes with it (a new hook starts from a new baseline).
    conn.execute(
        "DELETE FROM poll_seen WHERE app IN (SELECT app FROM hooks WHERE uuid = ?1)",
        [uuid],
    )
    .map_err(db("delete a hook"))?;
    let n = conn
        .execute("DELETE FROM hooks WHERE uuid = ?1", [uuid])
        .map_err(db("delete a hook"))?;
    Ok(n > 0)
}

pub fn hooks(conn: &Connection) -> Result<Vec<HookSummary>, DbError> {
    let mut stmt = conn
        .prepare("SELECT uuid, app, provider, branch, tags, mode FROM hooks ORDER BY app")
        .map_err(db("list hooks"))?;
    let rows = stmt
        .query_map([], |r| {
            let provider: String = r.get(2)?;
            let mode: String = r.get(5)?;
            Ok(HookSummary {
                uuid: r.get(0)?,
                app: r.get(1)?,
                provider: provider.parse().unwrap_or(Provider::Generic),
                filter: WebhookFilter {
                    branch: r.get(3)?,
                    tags: r.get(4)?,
                },
                mode: mode.parse().unwrap_or_default(),
            })
        })
        .map_err(db("list hooks"))?;
    rows.collect::<Result<_, _>>().map_err(db("list hooks"))
}

// ---- deliveries ----

const COLUMNS: &str = "id, app, provider, delivery_id, received_at, remote, event, git_ref, \
     commit_sha, message, verdict, reason, http_status, status, deployment, handled_by, \
     finished_at, duration_ms, result";

fn delivery(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let provider: Option<String> = r.get(2)?;
    let verdict: String = r.get(10)?;
    let status: String = r.get(13)?;
    let duration: Option<i64> = r.get(17)?;
    Ok(Delivery {
        id: r.get(0)?,
        app: r.get(1)?,
        provider: provider.and_then(|p| p.parse().ok()),
        delivery_id: r.get(3)?,
        received_at: r.get(4)?,
        remote: r.get(5)?,
        event: r.get(6)?,
        git_ref: r.get(7)?,
        commit: r.get(8)?,
        message: r.get(9)?,
        verdict: verdict.parse().unwrap_or(Verdict::Rejected),
        reason: r.get(11)?,
        http_status: r.get(12)?,
        status: status.parse().unwrap_or(DeliveryStatus::Done),
        deployment: r.get(14)?,
        handled_by: r.get(15)?,
        finished_at: r.get(16)?,
        duration_ms: duration.and_then(|d| u64::try_from(d).ok()),
        result: r.get(18)?,
    })
}

/// Newest first; `app: None` lists every app's (and unknown hooks').
pub fn deliveries(
    conn: &Connection,
    app: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Delivery>, DbError> {
    let limit = i64::try_from(limit.min(1000)).unwrap_or(1000);
    let before = before.unwrap_or(i64::MAX);
    let sql = match app {
        Some(_) => format!(
            "SELECT {COLUMNS} FROM deliveries WHERE app = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        ),
        None => format!(
            "SELECT {COLUMNS} FROM deliveries WHERE ?1 IS NULL AND id < ?2 ORDER BY id DESC LIMIT ?3"
        ),
    };
    let mut stmt = conn.prepare(&sql).map_err(db("list deliveries"))?;
    let rows = stmt
        .query_map(params![app, before, limit], delivery)
        .map_err(db("list deliveries"))?;
    rows.collect::<Result<_, _>>()
        .map_err(db("list deliveries"))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Delivery>, DbError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1"),
        [id],
        delivery,
    )
    .optional()
    .map_err(db("read a delivery"))
}

pub fn pending_count(conn: &Connection) -> Result<usize, DbError> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .map_err(db("count pending deliveries"))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Claims, for every app with attended deliveries waiting, the newest one (the one to deploy)
/// and marks the older ones superseded. An app whose deploy is running under a live lease is
/// left alone; a lease that ran out (its client went away) makes the delivery claimable again.
pub fn claim(
    conn: &mut Connection,
    client: &str,
    lease_ms: u64,
    now: i64,
    mode: WebhookMode,
) -> Result<Vec<Claim>, DbError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db("begin a claim"))?;
    let busy: Vec<String> = {
        let mut stmt = tx
            .prepare(
                "SELECT DISTINCT app FROM deliveries WHERE status = 'running' AND lease_until > ?1",
            )
            .map_err(db("find running deploys"))?;
        stmt.query_map([now], |r| r.get(0))
            .map_err(db("find running deploys"))?
            .collect::<Result<_, _>>()
            .map_err(db("find running deploys"))?
    };
    let candidates: Vec<(i64, String, Option<String>)> = {
        let mut stmt = tx
            .prepare(
                "SELECT id, app, git_ref FROM deliveries WHERE app IS NOT NULL AND mode = ?2 AND
                 (status = 'pending' OR (status = 'running' AND lease_until <= ?1))
                 ORDER BY id",
            )
            .map_err(db("find queued deliveries"))?;
        stmt.query_map(params![now, mode.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(db("find queued deliveries"))?
        .collect::<Result<_, _>>()
        .map_err(db("find queued deliveries"))?
    };
    // A newer git push supersedes older ones of its app; an image push only an older push of
    // the same image and tag (each tag may become an instance of its own).
    let mut per_app: std::collections::BTreeMap<(String, String), Vec<i64>> = Default::default();
    for (id, app, git_ref) in candidates {
        if !busy.contains(&app) {
            let image = git_ref
                .filter(|r| !r.starts_with("refs/"))
                .unwrap_or_default();
            per_app.entry((app, image)).or_default().push(id);
        }
    }
    let lease_until = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX / 2));
    let mut claims = Vec::new();
    for ids in per_app.values() {
        let Some((&newest, older)) = ids.split_last() else {
            continue;
        };
        for id in older {
            tx.execute(
                "UPDATE deliveries SET status = 'superseded', finished_at = ?2,
                 result = 'a newer push (#' || ?3 || ') was deployed instead' WHERE id = ?1",
                params![id, now, newest],
            )
            .map_err(db("supersede a delivery"))?;
        }
        tx.execute(
            "UPDATE deliveries SET status = 'running', handled_by = ?2, lease_until = ?3 WHERE id = ?1",
            params![newest, client, lease_until],
        )
        .map_err(db("claim a delivery"))?;
        if let Some(delivery) = get(&tx, newest)? {
            claims.push(Claim {
                delivery,
                superseded: older.to_vec(),
            });
        }
    }
    tx.commit().map_err(db("commit a claim"))?;
    // In the order they arrived (image pushes of several tags are several claims).
    claims.sort_by_key(|c| c.delivery.id);
    Ok(claims)
}

fn owned_running(conn: &Connection, id: i64, client: &str) -> Result<(), Refusal> {
    let row: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT status, handled_by FROM deliveries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("read a delivery"))?;
    match row {
        None => Err(Refusal::NoDelivery(id)),
        Some((status, _)) if status != "running" => Err(Refusal::NotRunning { id, status }),
        Some((_, owner)) if owner.as_deref() != Some(client) => Err(Refusal::NotYours {
            id,
            owner: owner.unwrap_or_default(),
            client: client.to_owned(),
        }),
        Some(_) => Ok(()),
    }
}

/// Extends the lease of a running deploy.
pub fn heartbeat(
    conn: &Connection,
    id: i64,
    client: &str,
    lease_ms: u64,
    now: i64,
) -> Result<(), Refusal> {
    owned_running(conn, id, client)?;
    let until = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX / 2));
    conn.execute(
        "UPDATE deliveries SET lease_until = ?2 WHERE id = ?1",
        params![id, until],
    )
    .map_err(db("extend a lease"))?;
    Ok(())
}

/// Records how a claimed deploy ended.
pub fn report(
    conn: &Connection,
    id: i64,
    report: &DeployReport,
    now: i64,
) -> Result<Delivery, Refusal> {
    owned_running(conn, id, &report.client)?;
    let status = match report.status {
        DeliveryStatus::Deployed => DeliveryStatus::Deployed,
        // Handled without a deploy (an image tag for a stage that deploys on request).
        DeliveryStatus::Done => DeliveryStatus::Done,
        _ => DeliveryStatus::Failed,
    };
    conn.execute(
        "UPDATE deliveries SET status = ?2, deployment = ?3, finished_at = ?4, duration_ms = ?5,
         result = ?6, lease_until = NULL WHERE id = ?1",
        params![
            id,
            status.as_str(),
            report.deployment,
            now,
            i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            report.result
        ],
    )
    .map_err(db("record a result"))?;
    get(conn, id)?.ok_or(Refusal::NoDelivery(id))
}

/// Gives back the claims `client` held when it stopped (the relay's own unattended deploys
/// after a restart: nobody is running them any more).
pub fn release_claims(conn: &Connection, client: &str) -> Result<usize, DbError> {
    conn.execute(
        "UPDATE deliveries SET status = 'pending', handled_by = NULL, lease_until = NULL
         WHERE status = 'running' AND handled_by = ?1",
        [client],
    )
    .map_err(db("release claims"))
}

// ---- settings ----

pub fn setting(conn: &Connection, key: &str) -> Result<Option<String>, DbError> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
    .map_err(db("read a setting"))
}

/// Sets (or, with `None`, removes) a setting.
pub fn set_setting(conn: &Connection, key: &str, value: Option<&str>) -> Result<(), DbError> {
    match value {
        Some(v) => conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![key, v],
        ),
        None => conn.execute("DELETE FROM settings WHERE key = ?1", [key]),
    }
    .map_err(db("write a setting"))?;
    Ok(())
}

// ---- registry polling ----

/// What polling saw of `app`'s registry (tag → digest); `None` before the baseline.
pub fn poll_seen(
    conn: &Connection,
    app: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>, DbError> {
    let mut stmt = conn
        .prepare("SELECT tag, digest FROM poll_seen WHERE app = ?1")
        .map_err(db("read what polling saw"))?;
    let rows: Vec<(String, String)> = stmt
        .query_map([app], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db("read what polling saw"))?
        .collect::<Result<_, _>>()
        .map_err(db("read what polling saw"))?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter().filter(|(t, _)| !t.is_empty()).collect(),
    ))
}

/// Records tags polling saw (the baseline's marker with them).
pub fn set_poll_seen(
    conn: &Connection,
    app: &str,
    seen: &[(String, String)],
) -> Result<(), DbError> {
    conn.execute(
        "INSERT OR REPLACE INTO poll_seen (app, tag, digest) VALUES (?1, '', '')",
        [app],
    )
    .map_err(db("record what polling saw"))?;
    for (tag, digest) in seen {
        conn.execute(
            "INSERT OR REPLACE INTO poll_seen (app, tag, digest) VALUES (?1, ?2, ?3)",
            params![app, tag, digest],
        )
        .map_err(db("record what polling saw"))?;
    }
    Ok(())
}

// ---- unattended deployments ----

/// Records a deployment the relay ran; keeps the newest per app.
pub fn put_deployment(conn: &Connection, d: &RelayDeployment) -> Result<i64, DbError> {
    let record = serde_json::to_string(d).unwrap_or_default();
    conn.execute(
        "INSERT INTO deployments (delivery, app, record) VALUES (?1, ?2, ?3)",
        params![d.delivery, d.deployment.app, record],
    )
    .map_err(db("record a deployment"))?;
    let seq = conn.last_insert_rowid();
    conn.execute(
        "DELETE FROM deployments WHERE app = ?1 AND seq <= (
             SELECT seq FROM deployments WHERE app = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        params![d.deployment.app, KEEP_DEPLOYMENTS_PER_APP],
    )
    .map_err(db("prune deployments"))?;
    Ok(seq)
}

/// Deployments recorded after `after`, oldest first.
pub fn deployments_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<RelayDeployment>, DbError> {
    let limit = i64::try_from(limit.min(1000)).unwrap_or(1000);
    let mut stmt = conn
        .prepare("SELECT seq, record FROM deployments WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .map_err(db("list deployments"))?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db("list deployments"))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, record) = row.map_err(db("list deployments"))?;
        match serde_json::from_str::<RelayDeployment>(&record) {
            Ok(mut d) => {
                d.seq = seq;
                out.push(d);
            }
            Err(e) => tracing::warn!(seq, "unreadable deployment record: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(hook: &str, app: &str, id: &str, verdict: Verdict) -> NewDelivery {
        NewDelivery {
            hook: hook.into(),
            app: Some(app.into()),
            provider: Some(Provider::Github),
            mode: Some(WebhookMode::Attended),
            delivery_id: Some(id.into()),
            received_at: 1,
            remote: "203.0.113.9".into(),
            event: "push".into(),
            git_ref: Some("refs/heads/main".into()),
            commit: Some("a".repeat(40)),
            message: None,
            verdict,
            reason: "push to main".into(),
            http_status: 202,
            body_digest: None,
        }
    }

    fn temp_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("relay.db")).expect("open");
        (dir, db)
    }

    /// A captured push re-sent with a new delivery id (the signature covers only the body) is
    /// recorded as a replay and queues nothing; the same id again is a duplicate, as before.
    #[tokio::test]
    async fn a_replayed_push_is_recorded_and_not_queued() {
        let (_dir, db) = temp_db();
        let push = |id: &str, digest: &str| NewDelivery {
            body_digest: Some(digest.to_owned()),
            ..new("h1", "hello", id, Verdict::Queued)
        };
        let first = db.insert(push("gh-1", "d1")).await.expect("insert");
        assert_eq!(first.verdict, Verdict::Queued);
        let replay = db.insert(push("gh-forged", "d1")).await.expect("insert");
        assert_eq!(replay.verdict, Verdict::Replay);
        assert_eq!(replay.http_status, 200);
        assert!(
            replay.reason.contains(&format!("#{}", first.id)),
            "{}",
            replay.reason
        );
        let redelivered = db.insert(push("gh-1", "d1")).await.expect("insert");
        assert_eq!(redelivered.verdict, Verdict::Duplicate);
        let next = db.insert(push("gh-2", "d2")).await.expect("insert");
        assert_eq!(next.verdict, Verdict::Queued);
        // Only the genuine pushes wait for a deploy.
        let pending: i64 = db
            .run(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .expect("run")
            .expect("count");
        assert_eq!(pending, 2);
    }

    /// A bug in one job fails that job; the thread every request records through goes on.
    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_database() {
        let (_dir, db) = temp_db();
        let err = db
            .run(|_| -> i64 { panic!("a bug in one job") })
            .await
            .expect_err("the job failed");
        assert!(err.contains("did not finish"), "{err}");
        let recorded = db
            .insert(new("h1", "hello", "d-1", Verdict::Queued))
            .await
            .expect("the thread still records");
        assert_eq!(recorded.verdict, Verdict::Queued);
    }

    #[tokio::test]
    async fn a_delivery_id_is_processed_once_and_forgeries_do_not_take_it() {
        let (_dir, db) = temp_db();
        let forged = db
            .insert(new("h1", "hello", "d-1", Verdict::Rejected))
            .await
            .expect("insert");
        assert_eq!(forged.verdict, Verdict::Rejected);
        let first = db
            .insert(new("h1", "hello", "d-1", Verdict::Queued))
            .await
            .expect("insert");
        assert_eq!(first.verdict, Verdict::Queued);
        let again = db
            .insert(new("h1", "hello", "d-1", Verdict::Queued))
            .await
            .expect("insert");
        assert_eq!(again.verdict, Verdict::Duplicate);
        assert_eq!(
            again.reason,
            format!(
                "delivery id d-1 was already received as #{} (queued); not processed again",
                first.id
            )
        );
        // Another hook may use the same id.
        let other = db
            .insert(new("h2", "web", "d-1", Verdict::Queued))
            .await
            .expect("insert");
        assert_eq!(other.verdict, Verdict::Queued);
        assert_eq!(*db.last_delivery().borrow(), other.id);
    }

    #[tokio::test]
    async fn image_pushes_of_different_tags_are_claimed_each_in_order() {
        let (_dir, db) = temp_db();
        for (id, reference) in [
            ("a", "reg/acme/web:dev-2"),
            ("b", "reg/acme/web:dev-1"),
            ("c", "reg/acme/web:dev-2"),
        ] {
            let mut d = new("h1", "web", id, Verdict::Queued);
            d.git_ref = Some(reference.into());
            d.commit = None;
            db.insert(d).await.expect("insert");
        }
        let claims = db
            .run(|c| claim(c, "me", 60_000, 100, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        let got: Vec<_> = claims
            .iter()
            .map(|c| (c.delivery.id, c.superseded.clone()))
            .collect();
        assert_eq!(
            got,
            [(2, vec![]), (3, vec![1])],
            "dev-1, then the newer dev-2 push"
        );
    }

    #[tokio::test]
    async fn claims_take_the_newest_per_app_and_supersede_the_rest() {
        let (_dir, db) = temp_db();
        for id in ["a", "b", "c"] {
            db.insert(new("h1", "hello", id, Verdict::Queued))
                .await
                .expect("insert");
        }
        db.insert(new("h1", "hello", "skip", Verdict::Skipped))
            .await
            .expect("insert");
        let claims = db
            .run(|c| claim(c, "me", 60_000, 100, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].delivery.id, 3);
        assert_eq!(claims[0].superseded, [1, 2]);
        // Nothing more while it runs, not even for another client.
        let again = db
            .run(|c| claim(c, "other", 60_000, 200, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        assert!(again.is_empty());
        // Someone else cannot report it; the owner can, once.
        let report_as = |client: &str| DeployReport {
            status: DeliveryStatus::Deployed,
            deployment: Some("d1".into()),
            duration_ms: 1200,
            result: "http://hello.test".into(),
            client: client.into(),
        };
        let r = report_as("other");
        let err = db
            .run(move |c| report(c, 3, &r, 300).map(|_| ()))
            .await
            .expect("run")
            .expect_err("not theirs");
        assert_eq!(
            err.to_string(),
            "delivery #3 is claimed by me, not by other"
        );
        let r = report_as("me");
        let done = db
            .run(move |c| report(c, 3, &r, 300))
            .await
            .expect("run")
            .expect("report");
        assert_eq!(done.status, DeliveryStatus::Deployed);
        let r = report_as("me");
        let twice = db
            .run(move |c| report(c, 3, &r, 400).map(|_| ()))
            .await
            .expect("run")
            .expect_err("twice");
        assert_eq!(
            twice.to_string(),
            "delivery #3 is deployed, not running: its result was already recorded"
        );
    }

    #[test]
    fn pruning_keeps_the_newest_finished_deliveries_and_every_queued_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("r.db")).expect("open");
        configure(&mut conn).expect("schema");
        let mut items = Vec::new();
        for i in 0..(KEEP_PER_APP + 10) {
            let verdict = if i < 5 {
                Verdict::Queued
            } else {
                Verdict::Skipped
            };
            items.push(Box::new(new("h1", "hello", &format!("d{i}"), verdict)));
        }
        insert_batch(&mut conn, &items).expect("insert");
        prune(&conn, Some("hello")).expect("prune");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("count") };
        assert_eq!(
            count("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"),
            5
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM deliveries WHERE status = 'done'"),
            KEEP_PER_APP
        );
        // The oldest finished ones went.
        assert_eq!(
            count("SELECT MIN(id) FROM deliveries WHERE status = 'done'"),
            11
        );
    }

    #[tokio::test]
    async fn an_expired_lease_is_claimable_again() {
        let (_dir, db) = temp_db();
        db.insert(new("h1", "hello", "a", Verdict::Queued))
            .await
            .expect("insert");
        let first = db
            .run(|c| claim(c, "gone", 1000, 100, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        assert_eq!(first.len(), 1);
        let later = db
            .run(|c| claim(c, "me", 1000, 5000, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].delivery.handled_by.as_deref(), Some("me"));
    }

    #[tokio::test]
    async fn the_relays_own_claims_go_back_to_the_queue_after_a_restart() {
        let (_dir, db) = temp_db();
        let mut d = new("h1", "hello", "a", Verdict::Queued);
        d.mode = Some(WebhookMode::Unattended);
        db.insert(d).await.expect("insert");
        let taken = db
            .run(|c| claim(c, "relay", 60_000, 100, WebhookMode::Unattended))
            .await
            .expect("run")
            .expect("claim");
        assert_eq!(taken.len(), 1);
        // Attended clients never see unattended deliveries.
        let other = db
            .run(|c| claim(c, "desktop", 60_000, 200, WebhookMode::Attended))
            .await
            .expect("run")
            .expect("claim");
        assert!(other.is_empty());
        let released = db
            .run(|c| release_claims(c, "relay"))
            .await
            .expect("run")
            .expect("release");
        assert_eq!(released, 1);
        let again = db
            .run(|c| claim(c, "relay", 60_000, 300, WebhookMode::Unattended))
            .await
            .expect("run")
            .expect("claim");
        assert_eq!(
            again.len(),
            1,
            "the lease had not run out, yet it is claimable"
        );
    }

    #[tokio::test]
    async fn deployments_come_back_in_order_after_a_mark() {
        let (_dir, db) = temp_db();
        let record = |id: &str| RelayDeployment {
            seq: 0,
            delivery: 1,
            deployment: berth_model::Deployment::start(
                id.into(),
                "hello",
                berth_model::DeploymentKind::Deploy,
                "main".into(),
                1,
            ),
            log: vec!["built".into()],
            instance: None,
            removed: Vec::new(),
        };
        let first = db
            .run(move |c| put_deployment(c, &record("d1")))
            .await
            .expect("run")
            .expect("put");
        db.run(move |c| put_deployment(c, &record("d2")))
            .await
            .expect("run")
            .expect("put");
        let all = db
            .run(|c| deployments_after(c, 0, 10))
            .await
            .expect("run")
            .expect("list");
        let ids: Vec<&str> = all.iter().map(|d| d.deployment.id.as_str()).collect();
        assert_eq!(ids, ["d1", "d2"]);
        assert_eq!(all[0].seq, first);
        let rest = db
            .run(move |c| deployments_after(c, first, 10))
            .await
            .expect("run")
            .expect("list");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].deployment.id, "d2");
        assert_eq!(rest[0].log, ["built"]);
    }
}
