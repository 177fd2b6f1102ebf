//! Stats samples the desktop takes of apps on servers without a relay, while it runs (a
//! relay keeps its own, for longer). Kept a day; read averaged to a chart's width.

use berth_model::ContainerSample;
use berth_model::monitor::{FINE_MS, window_step};
use rusqlite::params;

use crate::{Store, StoreError};

fn sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Records one round of samples and forgets those older than a day before `now`.
    pub fn add_samples(
        &self,
        samples: &[(String, ContainerSample)],
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO samples
                 (at, app, cpu, mem, mem_limit, net_rx, net_tx, blk_read, blk_write, restarts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (app, s) in samples {
                stmt.execute(params![
                    s.at,
                    app,
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
            tx.prepare_cached("DELETE FROM samples WHERE at < ?1")?
                .execute([now - FINE_MS])?;
            Ok(())
        })
    }

    /// `app`'s samples over the last `since_ms` before `now`, averaged to at most ~360
    /// points; the step (ms) with them.
    pub fn samples(
        &self,
        app: &str,
        since_ms: i64,
        sample_ms: i64,
        now: i64,
    ) -> Result<(i64, Vec<ContainerSample>), StoreError> {
        let (step, _) = window_step(since_ms.min(FINE_MS), sample_ms);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT (at / ?3) * ?3 AS b, avg(cpu), CAST(avg(mem) AS INTEGER), max(mem_limit),
                        max(net_rx), max(net_tx), max(blk_read), max(blk_write), max(restarts)
                 FROM samples WHERE app = ?1 AND at >= ?2 GROUP BY b ORDER BY b",
            )?;
            let rows = stmt
                .query_map(params![app, now - since_ms, step], |r| {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, mem: u64) -> ContainerSample {
        ContainerSample {
            at,
            cpu_pct: 1.0,
            mem_bytes: mem,
            mem_limit: 1 << 30,
            net_rx: 0,
            net_tx: 0,
            blk_read: 0,
            blk_write: 0,
            restarts: 0,
        }
    }

    #[test]
    fn a_day_of_the_desktops_samples_is_kept_and_read_back_averaged() {
        let store = Store::open_in_memory().unwrap();
        let now = 10 * FINE_MS;
        let old = vec![("web".to_owned(), sample(now - 2 * FINE_MS, 5))];
        store.add_samples(&old, now - 2 * FINE_MS).unwrap();
        let fresh: Vec<(String, ContainerSample)> = (0..6)
            .map(|i| {
                (
                    "web".to_owned(),
                    sample(now - 60_000 + i * 10_000, 100 + i as u64),
                )
            })
            .collect();
        store.add_samples(&fresh, now).unwrap();
        let (step, hour) = store.samples("web", 3_600_000, 10_000, now).unwrap();
        assert_eq!(step, 10_000);
        assert_eq!(hour.len(), 6);
        let (_, week) = store.samples("web", 7 * FINE_MS, 10_000, now).unwrap();
        assert!(
            week.iter().all(|s| s.mem_bytes >= 100),
            "the old one is gone: {week:?}"
        );
        assert!(
            store
                .samples("api", 3_600_000, 10_000, now)
                .unwrap()
                .1
                .is_empty()
        );
    }
}
