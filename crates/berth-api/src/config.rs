//! Where Berth keeps its state: the data dir, the secrets backend, the runtime dir.

use std::path::PathBuf;

use crate::error::ApiError;

/// Which secrets backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsChoice {
    /// The OS keychain (default).
    Keyring,
    /// A 0600 JSON file in the data dir, for headless machines and CI.
    File,
}

impl std::str::FromStr for SecretsChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keyring" => Ok(SecretsChoice::Keyring),
            "file" => Ok(SecretsChoice::File),
            other => Err(format!(
                "unknown secrets backend `{other}` (use keyring or file)"
            )),
        }
    }
}

/// How to open Berth: the same rules for every front end ([`Config::resolve`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the SQLite store and Berth's own known_hosts.
    pub data_dir: PathBuf,
    /// The secrets backend when chosen explicitly (a flag, `BERTH_SECRETS`). `None`: the one
    /// saved in the data dir (chosen in the window, [`crate::Berth::use_file_secrets`]), else
    /// the OS keychain.
    pub secrets: Option<SecretsChoice>,
    /// Who is acting, for the audit log (`cli`, `desktop`).
    pub actor: String,
}

/// The OS's app-data dir for Berth (`~/.local/share/berth` on Linux,
/// `~/Library/Application Support/dev.berth.Berth` on macOS, `%APPDATA%\berth\Berth\data` on
/// Windows).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "berth", "Berth").map(|d| d.data_dir().to_path_buf())
}

impl Config {
    /// Where Berth's state is and how secrets are kept, the same for the CLI and the desktop:
    /// the data dir given (`--data-dir`), else `BERTH_DATA_DIR`, else the OS app-data dir; the
    /// secrets backend given (`--secrets`), else `BERTH_SECRETS`, else — when Berth opens — the
    /// backend saved in the data dir, else the keychain.
    pub fn resolve(
        actor: &str,
        data_dir: Option<PathBuf>,
        secrets: Option<&str>,
    ) -> Result<Config, ApiError> {
        let data_dir = match data_dir.or_else(|| env_value("BERTH_DATA_DIR").map(PathBuf::from)) {
            Some(d) => d,
            None => default_data_dir().ok_or_else(|| {
                ApiError::Invalid(
                    "cannot find the OS app-data dir; pass --data-dir or set BERTH_DATA_DIR"
                        .to_owned(),
                )
            })?,
        };
        let secrets = match secrets
            .map(str::to_owned)
            .or_else(|| env_value("BERTH_SECRETS"))
        {
            Some(s) => Some(s.parse::<SecretsChoice>().map_err(ApiError::Invalid)?),
            None => None,
        };
        Ok(Config {
            data_dir,
            secrets,
            actor: actor.to_owned(),
        })
    }

    pub(crate) fn ensure_data_dir(&self) -> Result<(), ApiError> {
        let dir = &self.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| ApiError::DataDir {
            path: dir.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o700);
            std::fs::set_permissions(dir, perms).map_err(|source| ApiError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// A variable's value, unless it is unset or empty.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A fresh 0700 directory for this process's forwarding sockets, kept short so unix socket
/// paths stay under the OS limit (`$XDG_RUNTIME_DIR` when set, else the temp dir).
pub(crate) fn runtime_dir() -> Result<tempfile::TempDir, ApiError> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("berth-")
        .tempdir_in(&base)
        .map_err(|source| ApiError::DataDir {
            path: base.clone(),
            source,
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(
            |source| ApiError::DataDir {
                path: dir.path().to_path_buf(),
                source,
            },
        )?;
    }
    Ok(dir)
}
