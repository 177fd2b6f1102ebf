//! The file backend: a JSON object `{key: value}` in a 0600 file, for machines without a keychain.
//!
//! Writers take an exclusive lock on a sibling `<file>.lock`, read the map, change it and
//! replace the file atomically (write a 0600 temp file, fsync, rename), so two processes never
//! lose each other's writes and readers never see a half-written file. Readers need no lock.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::{SecretsError, Sensitive};

type Map = BTreeMap<String, String>;

pub(crate) struct SecretsFile {
    path: PathBuf,
}

impl SecretsFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        SecretsFile { path }
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Sensitive<String>>, SecretsError> {
        let mut map = self.read()?;
        Ok(map.remove(key).map(Sensitive::new))
    }

    pub(crate) fn set(&self, key: &str, value: &Sensitive<String>) -> Result<(), SecretsError> {
        self.update(|map| {
            map.insert(key.to_owned(), value.expose().clone());
            true
        })
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), SecretsError> {
        if !self.path.exists() {
            return Ok(());
        }
        self.update(|map| map.remove(key).is_some())
    }

    /// Deletes every key that starts with `prefix`, in one write.
    pub(crate) fn delete_prefix(&self, prefix: &str) -> Result<(), SecretsError> {
        if !self.path.exists() {
            return Ok(());
        }
        self.update(|map| {
            let before = map.len();
            map.retain(|k, _| !k.starts_with(prefix));
            map.len() != before
        })
    }

    /// Read, change, write back under the lock; `change` says whether it changed anything.
    fn update(&self, change: impl FnOnce(&mut Map) -> bool) -> Result<(), SecretsError> {
        self.create_parent()?;
        let _lock = self.lock()?;
        let mut map = self.read()?;
        if change(&mut map) {
            self.replace(&map)?;
        }
        Ok(())
    }

    fn read(&self) -> Result<Map, SecretsError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(self.io_error(&self.path, e)),
        };
        warn_if_shared(&self.path, &file);
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| self.io_error(&self.path, e))?;
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        serde_json::from_str(&text).map_err(|e| SecretsError::Corrupt {
            path: self.path.clone(),
            line: e.line(),
            column: e.column(),
        })
    }

    /// Writes `map` to a fresh 0600 temp file beside the secrets file and renames it over.
    fn replace(&self, map: &Map) -> Result<(), SecretsError> {
        let mut json = serde_json::to_vec_pretty(map)
            .map_err(|e| self.io_error(&self.path, std::io::Error::other(e)))?;
        json.push(b'\n');
        let tmp = self.sibling(".tmp");
        // A temp file left by a crash: we hold the lock, so nobody else is writing it.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.io_error(&tmp, e)),
        }
        let written = (|| {
            let mut file = private_options().write(true).create_new(true).open(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io_error(&tmp, e));
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error(&self.path, e)
        })?;
        sync_dir(self.path.parent());
        Ok(())
    }

    /// An exclusive lock on `<file>.lock`, released when the returned file is dropped.
    fn lock(&self) -> Result<File, SecretsError> {
        let path = self.sibling(".lock");
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| self.io_error(&path, e))?;
        file.lock().map_err(|e| self.io_error(&path, e))?;
        Ok(file)
    }

    /// Creates the directory of the file (0700 on unix) if it does not exist yet. An existing
    /// directory is left as it is.
    fn create_parent(&self) -> Result<(), SecretsError> {
        let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(());
        };
        if dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| self.io_error(dir, e))
    }

    /// `<file><suffix>` in the same directory (so a rename stays on one filesystem).
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    }

    fn io_error(&self, path: &Path, source: std::io::Error) -> SecretsError {
        SecretsError::File {
            path: path.to_owned(),
            source,
        }
    }
}

/// Options that create files readable by their owner only, from the first byte on.
fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Makes a rename durable (unix); a failure only weakens durability, so it is ignored.
fn sync_dir(dir: Option<&Path>) {
    #[cfg(unix)]
    if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The next write replaces the file with a 0600 one; until then, say that it is exposed.
fn warn_if_shared(path: &Path, file: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = file.metadata() {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the secrets file is readable by other users: run `chmod 600` on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
}
