//! The app-facing API: the one surface the CLI, the desktop shell and the relay call.
//!
//! [`Berth`] opens the data dir (SQLite store, Berth's own `known_hosts`), the secrets store
//! and, on demand, one connection per server; its methods validate input, take the per-app
//! lock, drive the engine and record everything (deployments, build logs, audit log). Results
//! are `berth-model` DTOs; errors are [`ApiError`], which carries a stable `code` for front
//! ends.

mod about;
mod apps;
mod backups;
mod config;
mod cron;
mod deploy;
pub mod desktop;
mod env;
mod error;
mod images;
mod lock;
mod monitor;
mod notify;
mod pending;
mod poll;
mod projects;
mod reconcile;
mod registries;
mod relay;
mod routing;
mod servers;
mod services;
mod setup;
mod setup_attached;
mod stages;
mod status;
mod unattended;
mod watch;
mod webhooks;

pub use about::{COMMIT, VERSION, VERSION_LINE, about};
pub use backups::{Confirm, TargetOptions};
pub use berth_engine::exec::OutputStream;
pub use berth_engine::observe::OutputLine;
pub use berth_engine::{Clock, EngineError, SystemClock, runtime};
pub use berth_secrets::Sensitive;
pub use berth_store::AuditEntry;
pub use config::{Config, SecretsChoice, default_data_dir};
pub use deploy::DeployObserver;
pub use error::ApiError;
pub use relay::RelayInstall;
pub use routing::ProxyInstall;
pub use servers::{AddServer, HostKeyPrompt};
pub use status::Terminal;
pub use watch::{WatchEvent, WatchOptions, client_name};
pub use webhooks::WebhookEnable;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_engine::Host;
use berth_secrets::Secrets;
use berth_store::Store;

/// An open Berth data dir: the entry point of every front end.
pub struct Berth {
    config: Config,
    store: Store,
    /// Swappable: the desktop can fall back to the file backend when no keychain exists.
    secrets: std::sync::RwLock<Arc<Secrets>>,
    clock: Arc<dyn Clock>,
    /// One connection per server, opened on first use and kept for the life of this value.
    hosts: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<Host>>>>>,
    /// A 0700 directory for this process's forwarding sockets; removed on drop.
    runtime_dir: tempfile::TempDir,
}

impl Berth {
    /// Opens (creating if needed) the data dir described by `config`.
    pub fn open(config: Config) -> Result<Berth, ApiError> {
        Self::open_with_clock(config, Arc::new(SystemClock))
    }

    /// Like [`Berth::open`] with a given clock (tests).
    pub fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Berth, ApiError> {
        config.ensure_data_dir()?;
        let store = Store::open(&config.data_dir.join("berth.db"))?;
        let choice = match config.secrets {
            Some(explicit) => explicit,
            None if store.setting(SECRETS_SETTING)?.as_deref() == Some("file") => {
                SecretsChoice::File
            }
            None => SecretsChoice::Keyring,
        };
        let secrets = std::sync::RwLock::new(Arc::new(secrets_for(&config.data_dir, choice)));
        let runtime_dir = config::runtime_dir()?;
        Ok(Berth {
            config,
            store,
            secrets,
            clock,
            hosts: tokio::sync::Mutex::new(HashMap::new()),
            runtime_dir,
        })
    }

    /// The secrets store in use.
    pub(crate) fn secrets(&self) -> Arc<Secrets> {
        match self.secrets.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Switches the secrets backend for this process (the desktop's "keep secrets in a file"
    /// fallback when no keychain service runs). Secrets already stored stay where they are.
    pub fn set_secrets_backend(&self, choice: SecretsChoice) {
        let new = Arc::new(secrets_for(&self.config.data_dir, choice));
        match self.secrets.write() {
            Ok(mut s) => *s = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Switches to the file backend and remembers the choice in the data dir, so the desktop
    /// and the CLI open the same data with it from now on (an explicit choice still wins).
    pub fn use_file_secrets(&self) -> Result<berth_model::view::SecretsInfo, ApiError> {
        self.set_secrets_backend(SecretsChoice::File);
        self.store.set_setting(SECRETS_SETTING, "file")?;
        self.audit("secrets.backend", "file", "");
        Ok(self.secrets_info())
    }

    /// Which backend holds secrets and whether it works here.
    pub fn secrets_info(&self) -> berth_model::view::SecretsInfo {
        let secrets = self.secrets();
        let (backend, file) = match secrets.backend() {
            berth_secrets::Backend::Keyring => ("keyring", None),
            berth_secrets::Backend::File(p) => ("file", Some(p.display().to_string())),
        };
        let probe = secrets.get("probe/availability");
        berth_model::view::SecretsInfo {
            backend: backend.to_owned(),
            available: probe.is_ok(),
            message: probe.err().map(|e| e.to_string()),
            file,
            data_dir: self.config.data_dir.display().to_string(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Where the file secrets backend keeps secrets, when it is in use.
    pub fn secrets_file(&self) -> Option<PathBuf> {
        match self.secrets().backend() {
            berth_secrets::Backend::File(p) => Some(p.clone()),
            berth_secrets::Backend::Keyring => None,
        }
    }

    fn known_hosts_path(&self) -> PathBuf {
        self.config.data_dir.join("known_hosts")
    }

    /// What every session to a server needs on this machine.
    fn connect_paths(&self) -> berth_engine::ConnectPaths {
        berth_engine::ConnectPaths {
            known_hosts: self.known_hosts_path(),
            runtime_dir: self.runtime_dir.path().to_path_buf(),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn audit(&self, action: &str, target: &str, detail: &str) {
        let entry = berth_store::AuditEntry {
            at: self.now(),
            actor: self.config.actor.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        if let Err(e) = self.store.audit(&entry) {
            tracing::warn!("could not write the audit log: {e}");
        }
    }

    /// The audit log, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<berth_store::AuditEntry>, ApiError> {
        Ok(self.store.audit_log(limit)?)
    }

    /// Closes every open server connection.
    pub async fn close(&self) {
        let cells: Vec<_> = self.hosts.lock().await.drain().map(|(_, h)| h).collect();
        for cell in cells {
            if let Some(host) = cell.get() {
                host.close().await;
            }
        }
    }
}

/// The setting that remembers the secrets backend chosen in the window.
const SECRETS_SETTING: &str = "secrets.backend";

fn secrets_for(data_dir: &Path, choice: SecretsChoice) -> Secrets {
    match choice {
        SecretsChoice::Keyring => Secrets::keyring("berth"),
        SecretsChoice::File => Secrets::file(data_dir.join("secrets.json")),
    }
}

/// A new short id (deployments, log streams): 8 lowercase hex characters.
pub(crate) fn new_id() -> String {
    berth_engine::new_deployment_id()
}
