//! The per-app lock: two operations on one app (deploys, rollbacks, restarts, removal) never
//! interleave, across processes (CLI and desktop share the data dir).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::ApiError;

/// Held while an operation runs; released on drop (also if the process dies).
pub(crate) struct AppLock {
    _file: File,
}

impl AppLock {
    /// Takes the lock of `app` or fails at once, saying who holds it.
    pub(crate) fn acquire(data_dir: &Path, app: &str, what: &str) -> Result<AppLock, ApiError> {
        let dir = data_dir.join("locks");
        std::fs::create_dir_all(&dir).map_err(|source| ApiError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(format!("{app}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| ApiError::DataDir {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(ApiError::Busy {
                    app: app.to_owned(),
                    holder: if holder.is_empty() {
                        "another process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(ApiError::DataDir { path, source });
            }
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{what} by process {}", std::process::id());
        let _ = file.flush();
        Ok(AppLock { _file: file })
    }
}

/// Asks the process holding `app`'s lock to cancel what it runs (`berth cancel`, from any
/// process on the data dir): a request file it watches for. `false` when nothing holds the
/// lock (nothing runs).
pub(crate) fn request_cancel(data_dir: &Path, app: &str) -> Result<bool, ApiError> {
    match AppLock::acquire(data_dir, app, "a cancel check") {
        Ok(free) => {
            drop(free);
            Ok(false)
        }
        Err(ApiError::Busy { .. }) => {
            let path = cancel_path(data_dir, app);
            std::fs::write(&path, b"cancel\n")
                .map_err(|source| ApiError::DataDir { path, source })?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Whether someone asked to cancel what runs on `app` (the request is taken: removed).
pub(crate) fn take_cancel_request(data_dir: &Path, app: &str) -> bool {
    std::fs::remove_file(cancel_path(data_dir, app)).is_ok()
}

fn cancel_path(data_dir: &Path, app: &str) -> std::path::PathBuf {
    data_dir.join("locks").join(format!("{app}.cancel"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_description() {
        let dir = tempfile::tempdir().unwrap();
        let first = AppLock::acquire(dir.path(), "hello", "deploy").unwrap();
        let err = AppLock::acquire(dir.path(), "hello", "rollback")
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(msg.contains("app `hello`"), "{msg}");
        assert!(msg.contains("deploy by process"), "{msg}");
        // Other apps are independent.
        let _other = AppLock::acquire(dir.path(), "world", "deploy").unwrap();
        drop(first);
        AppLock::acquire(dir.path(), "hello", "rollback").unwrap();
    }

    #[test]
    fn a_cancel_request_reaches_only_a_running_operation() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            !request_cancel(dir.path(), "hello").unwrap(),
            "nothing runs"
        );
        let held = AppLock::acquire(dir.path(), "hello", "deploy").unwrap();
        assert!(request_cancel(dir.path(), "hello").unwrap());
        assert!(take_cancel_request(dir.path(), "hello"));
        assert!(!take_cancel_request(dir.path(), "hello"), "taken once");
        drop(held);
    }
}
