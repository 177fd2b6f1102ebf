//! The hooks the relay answers for: their settings (in the database) and their secrets (in a
//! 0600 file beside it, never in the database or a log), held in memory for the request path.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use berth_model::{Provider, WebhookFilter, WebhookMode};

use crate::proto::{HookSpec, HookSummary};

/// A hook as the request path needs it.
pub struct Hook {
    pub app: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
    secret: Vec<u8>,
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
                Some(secret) => {
                    hooks.insert(s.uuid.clone(), Arc::new(hook(&s, secret)));
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
        next.insert(
            spec.uuid.clone(),
            Arc::new(hook(&summary(spec), &spec.secret)),
        );
        write_secrets(&self.secrets_path, &next)?;
        *hooks = next;
        Ok(replaced)
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

fn hook(s: &HookSummary, secret: &str) -> Hook {
    Hook {
        app: s.app.clone(),
        provider: s.provider,
        filter: s.filter.clone(),
        mode: s.mode,
        secret: secret.as_bytes().to_vec(),
    }
}

fn read_secrets(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
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
    let map: BTreeMap<&str, String> = hooks
        .iter()
        .map(|(uuid, h)| {
            (
                uuid.as_str(),
                String::from_utf8_lossy(&h.secret).into_owned(),
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
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
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
        }
    }

    #[test]
    fn secrets_survive_a_restart_in_a_private_file() {
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
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Registry::load(vec![summary(&spec("u2", "hello", ""))], &path).expect("load");
        assert_eq!(again.get("u2").expect("hook").secret(), b"rotated");
        assert!(again.get("u1").is_none());
    }
}
