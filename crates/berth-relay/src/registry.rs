//! The hooks the relay answers for: their settings (in the database) and their secrets (in a
//! 0600 file beside it, never in the database or a log), held in memory for the request path.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use berth_model::{Provider, WebhookFilter, WebhookMode};

use crate::proto::{GitAuth, HookSpec, HookSummary, UnattendedSpec};

/// A hook as the request path needs it.
pub struct Hook {
    pub app: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
    secret: Vec<u8>,
    /// What an unattended deploy of the app needs.
    pub unattended: Option<Arc<UnattendedSpec>>,
}

/// One hook's entry in the secrets file (a bare string: a file from before unattended mode).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Stored {
    Full {
        secret: String,
        #[serde(default)]
        unattended: Option<Box<UnattendedSpec>>,
    },
    Plain(String),
}

impl Hook {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

/// Every hook, by uuid.
pub struct Registry {
    hooks: RwLock<HashMap<String, Arc<Hook>>>,
    secrets_path: PathBuf,
}

impl Registry {
    /// The hooks of `summaries` with their secrets from `secrets_path`; a hook without a secret
    /// is left out (it would verify nothing) and reported.
    pub fn load(summaries: Vec<HookSummary>, secrets_path: &Path) -> std::io::Result<Registry> {
        let secrets = read_secrets(secrets_path)?;
        let mut hooks = HashMap::new();
        for s in summaries {
            match secrets.get(&s.uuid) {
                Some(Stored::Plain(secret)) => {
                    hooks.insert(s.uuid.clone(), Arc::new(hook(&s, secret, None)));
                }
                Some(Stored::Full { secret, unattended }) => {
                    hooks.insert(
                        s.uuid.clone(),
                        Arc::new(hook(&s, secret, unattended.as_deref().cloned())),
                    );
                }
                None => tracing::warn!(app = %s.app, "hook has no secret; re-sync it from Berth"),
            }
        }
        Ok(Registry {
            hooks: RwLock::new(hooks),
            secrets_path: secrets_path.to_owned(),
        })
    }

    pub fn get(&self, uuid: &str) -> Option<Arc<Hook>> {
        self.hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uuid)
            .cloned()
    }

    pub fn count(&self) -> usize {
        self.hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Adds or replaces a hook; one app has one hook, so an older hook of the same app goes.
    /// The secrets file is written (atomically) before the change is visible.
    pub fn put(&self, spec: &HookSpec) -> std::io::Result<Vec<String>> {
        let mut hooks = self
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let replaced: Vec<String> = hooks
            .iter()
            .filter(|(uuid, h)| h.app == spec.app && **uuid != spec.uuid)
            .map(|(uuid, _)| uuid.clone())
            .collect();
        let mut next = hooks.clone();
        for uuid in &replaced {
            next.remove(uuid);
        }
        let mut unattended = spec.unattended.clone();
        // Berth sends no host key for the git server: keep the one pinned when the same deploy
        // key first fetched.
        if let Some(UnattendedSpec {
            git_auth:
                GitAuth::SshKey {
                    private_key,
                    host_key: host_key @ None,
                },
            ..
        }) = &mut unattended
            && let Some(old) = hooks.get(&spec.uuid).and_then(|h| h.unattended.clone())
            && let GitAuth::SshKey {
                private_key: old_key,
                host_key: Some(pinned),
            } = &old.git_auth
            && old_key == private_key
            && old.git_url
                == spec
                    .unattended
                    .as_ref()
                    .map(|u| u.git_url.clone())
                    .unwrap_or_default()
        {
            *host_key = Some(pinned.clone());
        }
        next.insert(
            spec.uuid.clone(),
            Arc::new(hook(&summary(spec), &spec.secret, unattended)),
        );
        write_secrets(&self.secrets_path, &next)?;
        *hooks = next;
        Ok(replaced)
    }

    /// Every hook that deploys unattended: (uuid, hook).
    pub fn unattended(&self) -> Vec<(String, Arc<Hook>)> {
        self.hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, h)| h.unattended.is_some())
            .map(|(u, h)| (u.clone(), h.clone()))
            .collect()
    }

    /// Pins the git server's SSH host key of an unattended hook, first seen by a fetch.
    pub fn pin_host_key(&self, uuid: &str, key: &str) -> std::io::Result<()> {
        let mut hooks = self
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(old) = hooks.get(uuid) else {
            return Ok(());
        };
        let Some(mut spec) = old.unattended.as_deref().cloned() else {
            return Ok(());
        };
        if let GitAuth::SshKey { host_key, .. } = &mut spec.git_auth {
            *host_key = Some(key.to_owned());
        }
        let updated = Hook {
            app: old.app.clone(),
            provider: old.provider,
            filter: old.filter.clone(),
            mode: old.mode,
            secret: old.secret.clone(),
            unattended: Some(Arc::new(spec)),
        };
        let mut next = hooks.clone();
        next.insert(uuid.to_owned(), Arc::new(updated));
        write_secrets(&self.secrets_path, &next)?;
        *hooks = next;
        Ok(())
    }

    pub fn remove(&self, uuid: &str) -> std::io::Result<bool> {
        let mut hooks = self
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !hooks.contains_key(uuid) {
            return Ok(false);
        }
        let mut next = hooks.clone();
        next.remove(uuid);
        write_secrets(&self.secrets_path, &next)?;
        *hooks = next;
        Ok(true)
    }
}

/// The settings of a spec, without its secret.
pub fn summary(spec: &HookSpec) -> HookSummary {
    HookSummary {
        uuid: spec.uuid.clone(),
        app: spec.app.clone(),
        provider: spec.provider,
        filter: spec.filter.clone(),
        mode: spec.mode,
    }
}

fn hook(s: &HookSummary, secret: &str, unattended: Option<UnattendedSpec>) -> Hook {
    Hook {
        app: s.app.clone(),
        provider: s.provider,
        filter: s.filter.clone(),
        mode: s.mode,
        secret: secret.as_bytes().to_vec(),
        unattended: unattended.map(Arc::new),
    }
}

fn read_secrets(path: &Path) -> std::io::Result<BTreeMap<String, Stored>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a secrets file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

/// Writes a 0600 temp file, fsyncs it, renames it over the old one.
fn write_secrets(path: &Path, hooks: &HashMap<String, Arc<Hook>>) -> std::io::Result<()> {
    let map: BTreeMap<&str, Stored> = hooks
        .iter()
        .map(|(uuid, h)| {
            (
                uuid.as_str(),
                Stored::Full {
                    secret: String::from_utf8_lossy(&h.secret).into_owned(),
                    unattended: h.unattended.as_deref().cloned().map(Box::new),
                },
            )
        })
        .collect();
    let json = serde_json::to_vec(&map).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The relay and its group only: it runs as a non-root user, or (unattended) as uid 0
        // in the same group, and reads what the other wrote.
        options.mode(0o660);
    }
    let mut file = options.open(&tmp)?;
    // Whatever the umask: the group (see `own`) reads and writes it too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o660))?;
    }
    file.write_all(&json)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(uuid: &str, app: &str, secret: &str) -> HookSpec {
        HookSpec {
            uuid: uuid.into(),
            app: app.into(),
            provider: Provider::Github,
            filter: WebhookFilter {
                branch: "main".into(),
                tags: None,
            },
            mode: WebhookMode::Attended,
            secret: secret.into(),
            unattended: None,
        }
    }

    #[test]
    fn secrets_survive_a_restart_in_a_file_of_the_relay_and_its_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.json");
        let reg = Registry::load(vec![], &path).expect("load");
        reg.put(&spec("u1", "hello", "s3cret")).expect("put");
        let replaced = reg.put(&spec("u2", "hello", "rotated")).expect("put");
        assert_eq!(replaced, ["u1"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o660);
        }
        let again = Registry::load(vec![summary(&spec("u2", "hello", ""))], &path).expect("load");
        assert_eq!(again.get("u2").expect("hook").secret(), b"rotated");
        assert!(again.get("u1").is_none());
    }

    #[test]
    fn a_secrets_file_from_before_unattended_mode_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, r#"{"u1":"old-secret"}"#).expect("write");
        let reg = Registry::load(vec![summary(&spec("u1", "hello", ""))], &path).expect("load");
        let hook = reg.get("u1").expect("hook");
        assert_eq!(hook.secret(), b"old-secret");
        assert!(hook.unattended.is_none());
    }
}
