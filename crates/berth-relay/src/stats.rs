//! The stats history and the monitor's events: their own SQLite file (`stats.db`, apart from
//! the delivery queue: samples are many and losing the last few to a crash costs nothing).
//! Samples are kept at two resolutions — every sample for a day, 5-minute averages for 30
//! days — so the file stays bounded whatever runs (`cargo bench`-free: `scripts/bench.sh`
//! measures it after 30 simulated days).

use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_model::{Alert, AlertKind, ContainerSample, DiskUse, HostSample};
use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA: &str = r#"
-- tier 0: every sample; tier 1: 5-minute averages.
CREATE TABLE IF NOT EXISTS samples (
    app       TEXT NOT NULL,
    tier      INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    cpu       REAL NOT NULL,
    mem       INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    net_rx    INTEGER NOT NULL,
    net_tx    INTEGER NOT NULL,
    blk_read  INTEGER NOT NULL,
    blk_write INTEGER NOT NULL,
    restarts  INTEGER NOT NULL,
    -- Time first: rolling up and pruning are range scans; one app's window reads every app's
    -- rows of it (a few hundred thousand at most).
    PRIMARY KEY (tier, at, app)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS host_samples (
    tier      INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    cpu       REAL NOT NULL,
    load1     REAL NOT NULL,
    load5     REAL NOT NULL,
    load15    REAL NOT NULL,
    mem_used  INTEGER NOT NULL,
    mem_total INTEGER NOT NULL,
    disks     TEXT NOT NULL,
    PRIMARY KEY (tier, at)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS alerts (
    seq  INTEGER PRIMARY KEY,
    at   INTEGER NOT NULL,
    app  TEXT,
    kind TEXT NOT NULL,
    why  TEXT NOT NULL
) STRICT;

-- Up to when tier 0 has been averaged into tier 1.
CREATE TABLE IF NOT EXISTS rollup (
    what  TEXT NOT NULL PRIMARY KEY,
    until INTEGER NOT NULL
) STRICT;
"#;

use berth_model::monitor::window_step as step_for;
pub use berth_model::monitor::{COARSE_MS, COARSE_STEP_MS, FINE_MS};

/// Monitor events kept.
const KEEP_ALERTS: i64 = 5000;

#[derive(Debug, thiserror::Error)]
#[error("the stats history: {0}")]
pub struct StatsError(#[from] rusqlite::Error);

/// The stats file. Cheap to clone; each call runs on a blocking thread.
#[derive(Clone)]
pub struct Stats {
    conn: Arc<Mutex<Connection>>,
}

impl Stats {
    pub fn open(path: &Path) -> Result<Stats, StatsError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Stats {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StatsError> + Send + 'static,
    ) -> Result<T, StatsError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut c)
        })
        .await
        .unwrap_or_else(|e| {
            Err(StatsError(rusqlite::Error::ToSqlConversionFailure(
                Box::new(std::io::Error::other(e.to_string())),
            )))
        })
    }
}

/// For `scripts/bench.sh`: `days` of samples of `apps` apps every `sample_secs`, written into a
/// fresh stats file at `path` as the relay writes them (one transaction per turn, rolled up and
/// pruned every minute); the file's size afterwards, its WAL included, in bytes.
pub fn simulate_history(
    path: &Path,
    apps: usize,
    days: u32,
    sample_secs: u32,
) -> Result<u64, StatsError> {
    let stats = Stats::open(path)?;
    let mut c = stats
        .conn
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let step = i64::from(sample_secs.max(1)) * 1000;
    let end = 1_800_000_000_000_i64;
    let mut t = end - i64::from(days) * 86_400_000;
    let names: Vec<String> = (0..apps).map(|i| format!("app-{i:02}")).collect();
    let mut next_rollup = t;
    let mut n: u64 = 0;
    while t < end {
        let samples: Vec<(String, ContainerSample)> = names
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let wave = ((t / step + i as i64) % 97) as f64;
                (
                    a.clone(),
                    ContainerSample {
                        at: t,
                        cpu_pct: wave / 10.0,
                        mem_bytes: (40 << 20) + (wave as u64) * 4096,
                        mem_limit: 512 << 20,
                        net_rx: n * 1500,
                        net_tx: n * 900,
                        blk_read: n * 64,
                        blk_write: n * 128,
                        restarts: 0,
                    },
                )
            })
            .collect();
        let host = HostSample {
            at: t,
            cpu_pct: 12.5,
            load1: 0.4,
            load5: 0.3,
            load15: 0.2,
            mem_used: 3 << 30,
            mem_total: 8 << 30,
            disks: vec![DiskUse {
                mount: "/".into(),
                used: 40 << 30,
                total: 100 << 30,
            }],
        };
        record(&mut c, &samples, Some(&host))?;
        if t >= next_rollup {
            rollup(&mut c, t)?;
            next_rollup = t + 60_000;
        }
        t += step;
        n += 1;
    }
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(c);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    Ok(size(path) + size(Path::new(&wal)))
}

/// Records one turn's samples.
pub fn record(
    conn: &mut Connection,
    apps: &[(String, ContainerSample)],
    host: Option<&HostSample>,
) -> Result<(), StatsError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO samples
             (app, tier, at, cpu, mem, mem_limit, net_rx, net_tx, blk_read, blk_write, restarts)
             VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (app, s) in apps {
            stmt.execute(params![
                app,
                s.at,
                s.cpu_pct,
                sql(s.mem_bytes),
                sql(s.mem_limit),
                sql(s.net_rx),
                sql(s.net_tx),
                sql(s.blk_read),
                sql(s.blk_write),
                s.restarts,
            ])?;
        }
        if let Some(h) = host {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO host_samples
                 (tier, at, cpu, load1, load5, load15, mem_used, mem_total, disks)
                 VALUES (0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                h.at,
                h.cpu_pct,
                h.load1,
                h.load5,
                h.load15,
                sql(h.mem_used),
                sql(h.mem_total),
                serde_json::to_string(&h.disks).unwrap_or_else(|_| "[]".into()),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Averages finished 5-minute buckets of tier 0 into tier 1 and drops what is past keeping.
pub fn rollup(conn: &mut Connection, now: i64) -> Result<(), StatsError> {
    let bucket_now = now - now.rem_euclid(COARSE_STEP_MS);
    let tx = conn.transaction()?;
    let until: Option<i64> = tx
        .query_row("SELECT until FROM rollup WHERE what = 'samples'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let from = until.unwrap_or(bucket_now - FINE_MS);
    if from < bucket_now {
        tx.execute(
            "INSERT OR REPLACE INTO samples
             (app, tier, at, cpu, mem, mem_limit, net_rx, net_tx, blk_read, blk_write, restarts)
             SELECT app, 1, (at / ?3) * ?3, avg(cpu), CAST(avg(mem) AS INTEGER), max(mem_limit),
                    max(net_rx), max(net_tx), max(blk_read), max(blk_write), max(restarts)
             FROM samples WHERE tier = 0 AND at >= ?1 AND at < ?2
             GROUP BY app, at / ?3",
            params![from, bucket_now, COARSE_STEP_MS],
        )?;
        // The bare `disks` column comes from the row of the one max(): the bucket's last.
        tx.execute(
            "INSERT OR REPLACE INTO host_samples
             (tier, at, cpu, load1, load5, load15, mem_used, mem_total, disks)
             SELECT 1, b, cpu, l1, l5, l15, mu, mt, disks FROM (
                 SELECT (at / ?3) * ?3 AS b, avg(cpu) AS cpu, avg(load1) AS l1,
                        avg(load5) AS l5, avg(load15) AS l15,
                        CAST(avg(mem_used) AS INTEGER) AS mu,
                        CAST(avg(mem_total) AS INTEGER) AS mt, disks, max(at)
                 FROM host_samples WHERE tier = 0 AND at >= ?1 AND at < ?2
                 GROUP BY at / ?3)",
            params![from, bucket_now, COARSE_STEP_MS],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO rollup (what, until) VALUES ('samples', ?1)",
            [bucket_now],
        )?;
    }
    tx.execute(
        "DELETE FROM samples WHERE tier = 0 AND at < ?1",
        [now - FINE_MS],
    )?;
    tx.execute(
        "DELETE FROM samples WHERE tier = 1 AND at < ?1",
        [now - COARSE_MS],
    )?;
    tx.execute(
        "DELETE FROM host_samples WHERE (tier = 0 AND at < ?1) OR (tier = 1 AND at < ?2)",
        [now - FINE_MS, now - COARSE_MS],
    )?;
    tx.execute(
        "DELETE FROM alerts WHERE seq <= (SELECT max(seq) FROM alerts) - ?1",
        [KEEP_ALERTS],
    )?;
    tx.commit()?;
    Ok(())
}

/// An app's samples over the last `since_ms`, averaged to at most ~360 points.
pub fn app_samples(
    conn: &Connection,
    app: &str,
    since_ms: i64,
    sample_ms: i64,
    now: i64,
) -> Result<(i64, Vec<ContainerSample>), StatsError> {
    let (step, coarse) = step_for(since_ms, sample_ms);
    let mut stmt = conn.prepare_cached(
        "SELECT (at / ?3) * ?3 AS b, avg(cpu), CAST(avg(mem) AS INTEGER), max(mem_limit),
                max(net_rx), max(net_tx), max(blk_read), max(blk_write), max(restarts)
         FROM samples
         WHERE app = ?1 AND at >= ?2
           AND (tier = ?4 OR (?4 = 1 AND tier = 0
                AND at >= COALESCE((SELECT until FROM rollup WHERE what = 'samples'), 0)))
         GROUP BY b ORDER BY b",
    )?;
    let rows = stmt
        .query_map(params![app, now - since_ms, step, i64::from(coarse)], |r| {
            Ok(ContainerSample {
                at: r.get(0)?,
                cpu_pct: r.get(1)?,
                mem_bytes: unsql(r.get(2)?),
                mem_limit: unsql(r.get(3)?),
                net_rx: unsql(r.get(4)?),
                net_tx: unsql(r.get(5)?),
                blk_read: unsql(r.get(6)?),
                blk_write: unsql(r.get(7)?),
                restarts: u32::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((step, rows))
}

/// The host's samples over the last `since_ms`, like [`app_samples`].
pub fn host_samples(
    conn: &Connection,
    since_ms: i64,
    sample_ms: i64,
    now: i64,
) -> Result<(i64, Vec<HostSample>), StatsError> {
    let (step, coarse) = step_for(since_ms, sample_ms);
    let mut stmt = conn.prepare_cached(
        "SELECT (at / ?2) * ?2 AS b, avg(cpu), avg(load1), avg(load5), avg(load15),
                CAST(avg(mem_used) AS INTEGER), CAST(avg(mem_total) AS INTEGER), disks, max(at)
         FROM host_samples
         WHERE at >= ?1
           AND (tier = ?3 OR (?3 = 1 AND tier = 0
                AND at >= COALESCE((SELECT until FROM rollup WHERE what = 'samples'), 0)))
         GROUP BY b ORDER BY b",
    )?;
    let rows = stmt
        .query_map(params![now - since_ms, step, i64::from(coarse)], |r| {
            let disks: String = r.get(7)?;
            Ok(HostSample {
                at: r.get(0)?,
                cpu_pct: r.get(1)?,
                load1: r.get(2)?,
                load5: r.get(3)?,
                load15: r.get(4)?,
                mem_used: unsql(r.get(5)?),
                mem_total: unsql(r.get(6)?),
                disks: serde_json::from_str::<Vec<DiskUse>>(&disks).unwrap_or_default(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((step, rows))
}

/// Records a monitor event; its sequence number.
pub fn add_alert(
    conn: &mut Connection,
    at: i64,
    app: Option<&str>,
    kind: AlertKind,
    why: &str,
) -> Result<i64, StatsError> {
    conn.prepare_cached("INSERT INTO alerts (at, app, kind, why) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![at, app, kind.as_str(), why])?;
    Ok(conn.last_insert_rowid())
}

/// Events after `after`, oldest first, as `server`'s.
pub fn alerts_after(
    conn: &Connection,
    server: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<Alert>, StatsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, app, kind, why FROM alerts WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(
            params![after, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let kind: String = r.get(3)?;
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, kind, r.get(4)?))
            },
        )?
        .collect::<Result<Vec<(i64, i64, Option<String>, String, String)>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at, app, kind, why)| {
            Some(Alert {
                id,
                at,
                server: server.to_owned(),
                app,
                kind: AlertKind::parse(&kind)?,
                why,
            })
        })
        .collect())
}

/// Alerts of `app` (or all) between `from` and now, for marking charts.
pub fn alerts_since(
    conn: &Connection,
    server: &str,
    app: Option<&str>,
    from: i64,
) -> Result<Vec<Alert>, StatsError> {
    Ok(alerts_after(conn, server, 0, usize::MAX)?
        .into_iter()
        .filter(|a| a.at >= from && (app.is_none() || a.app.as_deref() == app))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, mem: u64) -> ContainerSample {
        ContainerSample {
            at,
            cpu_pct: 10.0,
            mem_bytes: mem,
            mem_limit: 1 << 30,
            net_rx: at as u64,
            net_tx: 0,
            blk_read: 0,
            blk_write: 0,
            restarts: 0,
        }
    }

    fn host(at: i64) -> HostSample {
        HostSample {
            at,
            cpu_pct: 5.0,
            load1: 0.5,
            load5: 0.4,
            load15: 0.3,
            mem_used: 100,
            mem_total: 1000,
            disks: vec![DiskUse {
                mount: "/".into(),
                used: at as u64,
                total: 1 << 40,
            }],
        }
    }

    #[test]
    fn a_day_of_samples_becomes_five_minute_averages_and_old_ones_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Stats::open(&dir.path().join("stats.db")).expect("open");
        let mut c = stats.conn.lock().expect("lock");
        let start = 1_700_000_000_000 - 1_700_000_000_000 % COARSE_STEP_MS;
        // Two days of 10 s samples of two apps, rolled up every 5 minutes.
        let mut t = start;
        while t < start + 2 * FINE_MS {
            record(
                &mut c,
                &[
                    ("web".into(), sample(t, 100)),
                    ("api".into(), sample(t, 300)),
                ],
                Some(&host(t)),
            )
            .expect("record");
            t += 10_000;
            if t % COARSE_STEP_MS == 0 {
                rollup(&mut c, t).expect("rollup");
            }
        }
        let now = t;
        let fine: i64 = c
            .query_row("SELECT count(*) FROM samples WHERE tier = 0", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(fine, 2 * 8640, "a day of 10 s samples per app");
        let (step, hour) = app_samples(&c, "web", 3_600_000, 10_000, now).expect("hour");
        assert_eq!((step, hour.len()), (10_000, 360));
        assert_eq!(hour[0].mem_bytes, 100);
        let (step, week) = app_samples(&c, "api", 7 * FINE_MS, 10_000, now).expect("week");
        assert_eq!(step, 1_800_000);
        // Two days of data at 30-minute steps.
        assert!((95..=97).contains(&week.len()), "{}", week.len());
        assert!(week.iter().all(|s| s.mem_bytes == 300));
        let (_, hosts) = host_samples(&c, 7 * FINE_MS, 10_000, now).expect("host");
        assert!((95..=97).contains(&hosts.len()), "{}", hosts.len());
        assert_eq!(hosts[0].disks.len(), 1);
        // A month later only the averages of the last 30 days remain.
        rollup(&mut c, now + COARSE_MS).expect("rollup");
        let left: i64 = c
            .query_row("SELECT count(*) FROM samples", [], |r| r.get(0))
            .expect("count");
        assert!(left < 2 * 10, "{left}");
    }

    #[test]
    fn alerts_come_back_in_order_after_a_mark() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stats = Stats::open(&dir.path().join("stats.db")).expect("open");
        let mut c = stats.conn.lock().expect("lock");
        let a = add_alert(&mut c, 1, Some("web"), AlertKind::Unhealthy, "x").expect("add");
        add_alert(&mut c, 2, Some("web"), AlertKind::Restarted, "y").expect("add");
        add_alert(&mut c, 3, None, AlertKind::DiskFull, "z").expect("add");
        let after = alerts_after(&c, "prod", a, 10).expect("after");
        assert_eq!(
            after.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [AlertKind::Restarted, AlertKind::DiskFull]
        );
        assert_eq!(after[1].server, "prod");
        assert_eq!(
            alerts_since(&c, "prod", Some("web"), 2)
                .expect("since")
                .len(),
            1
        );
    }
}
