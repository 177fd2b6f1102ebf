//! The audit log of mutating actions, and small key/value settings.

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, sql_limit};

/// One mutating action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at: i64,
    /// Who acted: `"cli"`, `"desktop"`, `"relay"`.
    pub actor: String,
    /// What was done, `noun.verb`: `"app.create"`, `"env.set"`.
    pub action: String,
    /// What it was done to (an app or server name, a deployment id).
    pub target: String,
    /// Free text for humans; never a secret value.
    pub detail: String,
}

impl Store {
    /// Appends an entry to the audit log.
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(rusqlite::params![
                entry.at,
                entry.actor,
                entry.action,
                entry.target,
                entry.detail
            ])?;
            Ok(())
        })
    }

    /// The latest `limit` entries, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, actor, action, target, detail FROM audit_log
                 ORDER BY at DESC, id DESC LIMIT ?1",
            )?;
            let entries = stmt
                .query_map([sql_limit(limit)], |r| {
                    Ok(AuditEntry {
                        at: r.get(0)?,
                        actor: r.get(1)?,
                        action: r.get(2)?,
                        target: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(entries)
        })
    }

    /// A setting (e.g. `default-server`), `None` if it was never set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
            let value = stmt.query_map([key], |r| r.get(0))?.next().transpose()?;
            Ok(value)
        })
    }

    /// Sets (or replaces) a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
            Ok(())
        })
    }

    /// Forgets a setting (absent afterwards, as if never set).
    pub fn delete_setting(&self, key: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM settings WHERE key = ?1")?
                .execute([key])?;
            Ok(())
        })
    }
}
