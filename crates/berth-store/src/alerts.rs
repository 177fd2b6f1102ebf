//! The monitor's events as Berth last fetched them from each relay, and Berth's own (a server
//! it could not reach).

use berth_model::{Alert, AlertKind};
use rusqlite::params;

use crate::{Store, StoreError, bad_column, sql_limit};

impl Store {
    /// Records alerts (one server's, by their sequence number: a second copy is ignored).
    /// Returns the ones that were new.
    pub fn add_alerts(&self, alerts: &[Alert]) -> Result<Vec<Alert>, StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts (server, seq, at, app, kind, why)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut new = Vec::new();
            for a in alerts {
                if stmt.execute(params![a.server, a.id, a.at, a.app, a.kind.as_str(), a.why])? > 0 {
                    new.push(a.clone());
                }
            }
            Ok(new)
        })
    }

    /// The newest relay sequence number recorded for `server` (0: none).
    pub fn last_alert_seq(&self, server: &str) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM alerts WHERE server = ?1")?
                .query_row([server], |r| r.get(0))?)
        })
    }

    /// Alerts newest first: of one app (`app`), or every one; at most `limit`.
    pub fn alerts(&self, app: Option<&str>, limit: usize) -> Result<Vec<Alert>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT server, seq, at, app, kind, why FROM alerts
                 WHERE ?1 IS NULL OR app = ?1 ORDER BY at DESC, seq DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![app, sql_limit(limit)], |r| {
                    let kind: String = r.get(4)?;
                    Ok(Alert {
                        server: r.get(0)?,
                        id: r.get(1)?,
                        at: r.get(2)?,
                        app: r.get(3)?,
                        kind: AlertKind::parse(&kind)
                            .ok_or_else(|| bad_column(4, format!("alert kind `{kind}`")))?,
                        why: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// Forgets a removed server's alerts.
    pub fn forget_alerts(&self, server: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM alerts WHERE server = ?1")?
                .execute([server])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(seq: i64, app: Option<&str>, kind: AlertKind) -> Alert {
        Alert {
            id: seq,
            at: 1000 + seq,
            server: "prod".into(),
            app: app.map(str::to_owned),
            kind,
            why: "why".into(),
        }
    }

    #[test]
    fn alerts_are_kept_once_and_read_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("b.db")).unwrap();
        let first = vec![
            alert(1, Some("web"), AlertKind::Unhealthy),
            alert(2, Some("web"), AlertKind::Restarted),
        ];
        assert_eq!(store.add_alerts(&first).unwrap().len(), 2);
        let again = vec![
            alert(2, Some("web"), AlertKind::Restarted),
            alert(3, None, AlertKind::DiskFull),
        ];
        assert_eq!(store.add_alerts(&again).unwrap(), vec![again[1].clone()]);
        assert_eq!(store.last_alert_seq("prod").unwrap(), 3);
        assert_eq!(store.last_alert_seq("other").unwrap(), 0);
        let web = store.alerts(Some("web"), 10).unwrap();
        assert_eq!(
            web.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [AlertKind::Restarted, AlertKind::Unhealthy]
        );
        assert_eq!(store.alerts(None, 1).unwrap()[0].kind, AlertKind::DiskFull);
        store.forget_alerts("prod").unwrap();
        assert!(store.alerts(None, 10).unwrap().is_empty());
    }
}
