//! Secrets (key passphrases, secret env values) in the OS keychain or an explicit 0600 file. The only crate that calls keyring.
//!
//! A secret is a string under a key such as `env/<app>/<KEY>` ([`env_key`]) or
//! `ssh-passphrase/<server>` ([`passphrase_key`]). Values travel as [`Sensitive`], which never
//! prints them; no error or log line of this crate contains a value. A missing secret is
//! `Ok(None)`, deleting a missing one is `Ok(())`.
//!
//! Two backends: the OS keychain ([`Secrets::keyring`]: macOS Keychain, Windows Credential
//! Manager, Secret Service on Linux) and, where there is none (headless servers, CI), a JSON
//! file readable only by its owner ([`Secrets::file`]).

mod error;
mod file;
mod keychain;
mod sensitive;

use std::path::PathBuf;

pub use error::SecretsError;
pub use sensitive::Sensitive;

use file::SecretsFile;
use keychain::Keychain;

/// Where secrets are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The OS keychain.
    Keyring,
    /// A JSON map in a 0600 file.
    File(PathBuf),
}

/// The secrets store. `Send + Sync`; every call goes to the backend (nothing is cached).
pub struct Secrets {
    backend: Backend,
    imp: Imp,
}

enum Imp {
    Keychain(Keychain),
    File(SecretsFile),
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// Secrets in the OS keychain, as entries of `service` (e.g. `"berth"`). Whether a keychain
    /// is reachable shows at the first call ([`SecretsError::KeyringUnavailable`]).
    pub fn keyring(service: &str) -> Secrets {
        Secrets::from_keychain(Keychain::platform(service))
    }

    /// Secrets in a JSON file at `path`, created 0600 (its directory 0700 if it has to be
    /// created). Nothing is created until the first write.
    pub fn file(path: PathBuf) -> Secrets {
        Secrets {
            backend: Backend::File(path.clone()),
            imp: Imp::File(SecretsFile::new(path)),
        }
    }

    fn from_keychain(keychain: Keychain) -> Secrets {
        Secrets {
            backend: Backend::Keyring,
            imp: Imp::Keychain(keychain),
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The secret under `key`, `None` if there is none.
    pub fn get(&self, key: &str) -> Result<Option<Sensitive<String>>, SecretsError> {
        check_key(key)?;
        let value = match &self.imp {
            Imp::Keychain(k) => k.get(key),
            Imp::File(f) => f.get(key),
        }?;
        tracing::trace!(key, found = value.is_some(), "read secret");
        Ok(value)
    }

    /// Stores (or replaces) the secret under `key`.
    pub fn set(&self, key: &str, value: &Sensitive<String>) -> Result<(), SecretsError> {
        check_key(key)?;
        match &self.imp {
            Imp::Keychain(k) => k.set(key, value),
            Imp::File(f) => f.set(key, value),
        }?;
        tracing::debug!(key, "stored secret");
        Ok(())
    }

    /// Removes the secret under `key`; a missing one is not an error.
    pub fn delete(&self, key: &str) -> Result<(), SecretsError> {
        check_key(key)?;
        match &self.imp {
            Imp::Keychain(k) => k.delete(key),
            Imp::File(f) => f.delete(key),
        }?;
        tracing::debug!(key, "deleted secret");
        Ok(())
    }

    /// Removes every secret whose key starts with `prefix` (e.g. `env/hello/`, see
    /// [`env_prefix`]). A keychain cannot list its entries, so the caller passes the full keys
    /// it knows of (e.g. built with [`env_key`]); the keychain deletes those, the file backend
    /// deletes every key under the prefix. A known key outside the prefix, or an empty prefix,
    /// is refused before anything is deleted.
    pub fn delete_prefix(&self, prefix: &str, known_keys: &[String]) -> Result<(), SecretsError> {
        if prefix.is_empty() {
            return Err(SecretsError::InvalidKey {
                key: String::new(),
                reason: "prefix is empty: it would delete every secret".to_owned(),
            });
        }
        if let Some(outside) = known_keys.iter().find(|k| !k.starts_with(prefix)) {
            return Err(SecretsError::InvalidKey {
                key: outside.clone(),
                reason: format!("does not start with `{prefix}`"),
            });
        }
        match &self.imp {
            Imp::Keychain(k) => {
                for key in known_keys {
                    k.delete(key)?;
                }
            }
            Imp::File(f) => f.delete_prefix(prefix)?,
        }
        tracing::debug!(prefix, "deleted secrets under prefix");
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), SecretsError> {
    if key.is_empty() {
        return Err(SecretsError::InvalidKey {
            key: String::new(),
            reason: "is empty".to_owned(),
        });
    }
    Ok(())
}

/// The key of a secret env var: `env/<app>/<KEY>`.
pub fn env_key(app: &str, key: &str) -> String {
    format!("env/{app}/{key}")
}

/// The key of one version of a secret env var: [`env_key`] for version 0 (a secret set before
/// Berth kept versions), `env/<app>/<KEY>@<version>` for later ones.
pub fn env_key_at(app: &str, key: &str, version: u32) -> String {
    versioned(env_key(app, key), version)
}

/// The key of one version of a project's secret variable: `project-env/<project>/<KEY>@<version>`.
pub fn project_env_key(project: &str, key: &str, version: u32) -> String {
    versioned(format!("{}{key}", project_env_prefix(project)), version)
}

/// The prefix of every secret variable of `project` (for [`Secrets::delete_prefix`]).
pub fn project_env_prefix(project: &str) -> String {
    format!("project-env/{project}/")
}

fn versioned(key: String, version: u32) -> String {
    if version == 0 {
        key
    } else {
        format!("{key}@{version}")
    }
}

/// The prefix of every secret env var of `app`: `env/<app>/` (for [`Secrets::delete_prefix`]).
pub fn env_prefix(app: &str) -> String {
    format!("env/{app}/")
}

/// The key of the passphrase of the SSH key used for `server`: `ssh-passphrase/<server>`.
pub fn passphrase_key(server: &str) -> String {
    format!("ssh-passphrase/{server}")
}

/// The key of an app's webhook secret: `webhook/<app>`.
pub fn webhook_key(app: &str) -> String {
    format!("webhook/{app}")
}

/// The key of a notifier's URL (it often carries a token): `notifier/<id>`.
pub fn notifier_key(id: i64) -> String {
    format!("notifier/{id}")
}

/// The key of the token an unattended relay fetches an app's https source with:
/// `git-token/<app>` (JSON: user and token).
pub fn git_token_key(app: &str) -> String {
    format!("git-token/{app}")
}

/// The key of a registry's password or token: `registry/<name>`.
pub fn registry_key(name: &str) -> String {
    format!("registry/{name}")
}

/// The bearer token a server's relay wants for `GET /metrics` on its public side.
pub fn metrics_token_key(server: &str) -> String {
    format!("relay-metrics/{server}")
}

/// The key of this machine's backup key (an age identity, `AGE-SECRET-KEY-1…`): `backup-key`.
pub fn backup_key_key() -> String {
    "backup-key".to_owned()
}

/// The key of an S3 backup target's access keys (JSON: `access_key_id`,
/// `secret_access_key`): `backup-target/<name>`.
pub fn backup_target_key(name: &str) -> String {
    format!("backup-target/{name}")
}

/// The key of an app's SSH deploy key (JSON: private and public half): `deploy-key/<app>`.
pub fn deploy_key_key(app: &str) -> String {
    format!("deploy-key/{app}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Secrets>();
        check::<Sensitive<String>>();
    }

    #[test]
    fn keys() {
        assert_eq!(env_key("hello", "DATABASE_URL"), "env/hello/DATABASE_URL");
        assert!(env_key("hello", "A").starts_with(&env_prefix("hello")));
        assert!(!env_key("hello-2", "A").starts_with(&env_prefix("hello")));
        assert_eq!(passphrase_key("prod"), "ssh-passphrase/prod");
    }
}
