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
}
