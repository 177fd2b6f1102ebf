//! SQLite state of the desktop: servers, apps, deployments, env vars, audit log. The only crate with SQL.
//!
//! One [`Store`] wraps one connection to one database file. The desktop app and the CLI open
//! the same file at once: the database runs in WAL mode with a 10 s busy timeout, and every
//! write is an immediate transaction, so concurrent writers wait for each other instead of
//! failing. Time is always passed in (unix milliseconds), never read here. Secret env values
//! never reach this crate: a secret env var is stored as its key and a flag.

mod alerts;
mod apps;
mod audit;
mod backups;
mod deployments;
mod domains;
mod error;
mod projects;
mod registries;
mod samples;
mod schema;
mod servers;
mod services;
mod stages;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use audit::AuditEntry;
pub use error::StoreError;

use error::Fail;

/// How long a writer waits for another process's write to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The state database. `Send + Sync`: share it behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    /// For error messages; `:memory:` for an in-memory store.
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, creating its parent directories, and brings
    /// its schema up to date. A database written by a newer Berth is refused untouched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|e| Fail::from(e).at(path))?;
        Store::init(conn, path.to_owned())
    }

    /// A private database that lives as long as the `Store` (tests, dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| Fail::from(e).at(&path))?;
        Store::init(conn, path)
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        configure(&mut conn).map_err(|e| e.at(&path))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The connection. A panic while it was held leaves no open transaction behind (dropping
    /// a `Transaction` rolls it back), so a poisoned lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection (reads).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Fail>) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn).map_err(|e| e.at(&self.path))
    }

    /// Runs `f` in an immediate transaction and commits if it succeeds. Taking the write lock
    /// up front means a concurrent writer makes us wait (busy timeout), never fail half-way.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let run = || -> Result<T, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| e.at(&self.path))
    }
}

fn configure(conn: &mut Connection) -> Result<(), Fail> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Overwrite deleted content with zeros, so a value that was once stored and then removed
    // (an unset env var, a deleted app) does not linger in free pages.
    conn.pragma_update(None, "secure_delete", true)?;
    schema::check_not_too_new(schema::user_version(conn)?)?;
    let mode = enable_wal(conn)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        tracing::warn!(
            journal_mode = %mode,
            "the state database could not switch to WAL mode; concurrent use may fail"
        );
    }
    // Safe with WAL: a crash may lose the last commits, never corrupt the database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    schema::migrate(conn)
}

/// Switches the database to WAL mode and returns the journal mode now in effect.
///
/// Two connections converting a new file at once can deadlock on the lock upgrade; SQLite then
/// answers `SQLITE_BUSY` at once instead of calling the busy handler. Retry for as long as the
/// busy timeout would have waited.
fn enable_wal(conn: &Connection) -> Result<String, Fail> {
    const PAUSE: Duration = Duration::from_millis(20);
    let attempts = BUSY_TIMEOUT.as_millis() / PAUSE.as_millis();
    let mut attempt = 0;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(e)
                if attempt < attempts
                    && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                attempt += 1;
                std::thread::sleep(PAUSE);
            }
            result => return Ok(result?),
        }
    }
}

/// `limit` as an SQL `LIMIT`.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A column whose text this binary cannot read back (an unknown enum name, bad JSON, …).
fn bad_column(idx: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, why.into())
}

/// A `u64` field as an SQLite INTEGER.
fn u64_to_sql(value: u64, what: &str) -> Result<i64, Fail> {
    i64::try_from(value)
        .map_err(|_| StoreError::Invalid(format!("{what} {value} is too large to store")).into())
}

/// An INTEGER column read back as a `u64`.
fn u64_from_sql(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// Whether a row with `key` exists in `table` (`table` and `column` are constants of ours).
fn exists(conn: &Connection, table: &str, column: &str, key: &str) -> Result<bool, Fail> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = ?1)");
    Ok(conn.prepare_cached(&sql)?.query_row([key], |r| r.get(0))?)
}

fn require_app(conn: &Connection, app: &str) -> Result<(), Fail> {
    if exists(conn, "apps", "name", app)? {
        Ok(())
    } else {
        Err(StoreError::not_found("app", app).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }

    #[test]
    fn migrations_are_valid_sql() {
        let store = Store::open_in_memory().unwrap();
        let version = store.read(schema::user_version).unwrap();
        assert_eq!(version, schema::supported());
    }
}
