//! Environment variables: plain values in the store, secret values only in the secrets store.

use berth_model::{EnvSource, EnvVar, ResolvedVar, resolve_env, validate_env_key};
use berth_secrets::{Sensitive, env_key_at, project_env_key};
use berth_store::Store;

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Sets variables of `app`. Secret values go to the secrets store (the OS keychain by
    /// default) and only the key is recorded. They take effect on the next deploy or restart.
    pub fn env_set(
        &self,
        app: &str,
        pairs: &[(String, String)],
        secret: bool,
    ) -> Result<(), ApiError> {
        let a = self.store.app(app)?;
        for (k, _) in pairs {
            validate_env_key(k)?;
            if secret && a.build_env.contains(k) {
                return Err(ApiError::Invalid(format!(
                    "{k} is passed to {app}'s builds (it was set with --build), and a secret never is: build args stay readable in the image's history (`docker history`). Unset it first (`berth env unset {app} {k}`), or keep it a plain variable"
                )));
            }
        }
        for (k, v) in pairs {
            self.put_var(VarOwner::App(app), k, v, secret)?;
        }
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        self.audit(
            "env.set",
            app,
            &format!(
                "{}{}",
                keys.join(" "),
                if secret { " (secret)" } else { "" }
            ),
        );
        Ok(())
    }

    /// Removes a variable; returns whether it existed.
    pub fn env_unset(&self, app: &str, key: &str) -> Result<bool, ApiError> {
        let mut a = self.store.app(app)?;
        if a.build_env.iter().any(|k| k == key) {
            a.build_env.retain(|k| k != key);
            self.store.update_app(&a)?;
        }
        let existed = self.drop_var(VarOwner::App(app), key)?;
        if existed {
            self.audit("env.unset", app, key);
        }
        Ok(existed)
    }

    /// Sets variables: secret ones into the keychain, build ones also passed to builds
    /// ([`Berth::env_set_build`]); a secret is never a build variable.
    pub fn env_set_any(
        &self,
        app: &str,
        pairs: &[(String, String)],
        secret: bool,
        build: bool,
    ) -> Result<(), ApiError> {
        match (secret, build) {
            (true, true) => Err(ApiError::Invalid(
                "a secret is never passed to builds: a build arg stays readable in the image's history (`docker history`); read the secret at run time instead".to_owned(),
            )),
            (false, true) => self.env_set_build(app, pairs),
            (_, false) => self.env_set(app, pairs, secret),
        }
    }

    /// `berth env set APP K=V --build`: plain variables whose values are also passed to the
    /// app's builds as build args (declared with `ARG` in generated Dockerfiles), from the
    /// next deploy. A secret cannot be: build args stay readable in the image's history.
    pub fn env_set_build(&self, app: &str, pairs: &[(String, String)]) -> Result<(), ApiError> {
        let mut a = self.store.app(app)?;
        let env = self.store.env(app)?;
        for (k, _) in pairs {
            validate_env_key(k)?;
            if env.iter().any(|e| &e.key == k && e.secret) {
                return Err(ApiError::Invalid(format!(
                    "{k} is a secret of {app}, and secrets are not passed to builds: build args stay readable in the image's history (`docker history`). Read it at run time instead, or set a plain value with `berth env set {app} {k}=… --build` after `berth env unset {app} {k}`"
                )));
            }
        }
        self.env_set(app, pairs, false)?;
        for (k, _) in pairs {
            if !a.build_env.contains(k) {
                a.build_env.push(k.clone());
            }
        }
        self.store.update_app(&a)?;
        Ok(())
    }

    /// The app's variables by key; secret ones without their value.
    pub fn env_ls(&self, app: &str) -> Result<Vec<EnvVar>, ApiError> {
        let a = self.store.app(app)?;
        let mut vars = self.store.env(app)?;
        for v in &mut vars {
            v.build = a.build_env.contains(&v.key);
        }
        Ok(vars)
    }

    /// The value of a variable, a secret one included (the desktop's "show" button, `berth
    /// env get`); `None` when the app has no such variable.
    pub fn env_reveal(&self, app: &str, key: &str) -> Result<Option<String>, ApiError> {
        self.reveal_var(VarOwner::App(app), key)
    }

    /// What the app's containers get: its own variables over its project's, each with where
    /// it comes from (`berth env ls APP --resolved`). Secret values are masked.
    pub fn env_resolved(&self, app: &str) -> Result<Vec<ResolvedVar>, ApiError> {
        let a = self.store.app(app)?;
        let own = self.env_ls(app)?;
        let project = match &a.project {
            Some(p) => Some((p.as_str(), self.store.project_env(p)?)),
            None => None,
        };
        Ok(resolve_env(
            &own,
            project.as_ref().map(|(p, vars)| (*p, vars.as_slice())),
        ))
    }

    /// Sets one variable of an app or a project. A secret's value goes to the secrets store
    /// as a new version (the versions deployments ran with stay for rollbacks; one nothing
    /// ran with is dropped); a plain value replaces a secret's versions alike.
    pub(crate) fn put_var(
        &self,
        owner: VarOwner<'_>,
        key: &str,
        value: &str,
        secret: bool,
    ) -> Result<(), ApiError> {
        let before = owner.vars(&self.store)?.into_iter().find(|e| e.key == key);
        if secret {
            let used = self.secret_versions_used(owner, key)?;
            let version = used
                .iter()
                .copied()
                .chain(before.as_ref().filter(|b| b.secret).map(|b| b.version))
                .max()
                .map_or(1, |v| v + 1);
            self.secrets().set(
                &owner.secret_key(key, version),
                &Sensitive::new(value.to_owned()),
            )?;
            owner.record_secret(&self.store, key, version)?;
        } else {
            owner.record_plain(&self.store, key, value)?;
        }
        if let Some(old) = before.filter(|b| b.secret) {
            self.forget_secret_version(owner, key, old.version)?;
        }
        Ok(())
    }

    /// Removes a variable of an app or a project; returns whether it existed.
    pub(crate) fn drop_var(&self, owner: VarOwner<'_>, key: &str) -> Result<bool, ApiError> {
        let before = owner.vars(&self.store)?.into_iter().find(|e| e.key == key);
        let existed = owner.unset(&self.store, key)?;
        if let Some(old) = before.filter(|b| b.secret) {
            self.forget_secret_version(owner, key, old.version)?;
        }
        Ok(existed)
    }

    /// A variable's value, a secret's read from the secrets store at its current version.
    pub(crate) fn reveal_var(
        &self,
        owner: VarOwner<'_>,
        key: &str,
    ) -> Result<Option<String>, ApiError> {
        let Some(var) = owner.vars(&self.store)?.into_iter().find(|e| e.key == key) else {
            return Ok(None);
        };
        if !var.secret {
            return Ok(var.value);
        }
        Ok(self
            .secrets()
            .get(&owner.secret_key(key, var.version))?
            .map(|s| s.expose().clone()))
    }

    /// Drops one version of a secret from the secrets store unless a recorded deployment ran
    /// with it (a rollback to that deployment needs it).
    fn forget_secret_version(
        &self,
        owner: VarOwner<'_>,
        key: &str,
        version: u32,
    ) -> Result<(), ApiError> {
        if self.secret_versions_used(owner, key)?.contains(&version) {
            return Ok(());
        }
        self.secrets().delete(&owner.secret_key(key, version))?;
        Ok(())
    }

    /// The versions of a secret that recorded deployments ran with.
    fn secret_versions_used(&self, owner: VarOwner<'_>, key: &str) -> Result<Vec<u32>, ApiError> {
        let source = owner.source();
        let mut used = Vec::new();
        for d in self.store.recent_deployments(usize::MAX >> 1)? {
            let Some(spec) = &d.spec else { continue };
            // A stage's instance runs with its app's variables.
            let ran_as = match self.store.instance(&d.app) {
                Ok(Some(i)) => i.app,
                _ => d.app.clone(),
            };
            for v in &spec.env {
                let same_owner = match (&owner, &v.from) {
                    (VarOwner::App(app), EnvSource::App) => *app == ran_as,
                    (VarOwner::Project(_), from) => *from == source,
                    _ => false,
                };
                if same_owner && v.key == key && v.secret {
                    used.push(v.version);
                }
            }
        }
        Ok(used)
    }
}

/// Whose variables: an app's (a stage's instance uses its app's) or a project's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VarOwner<'a> {
    App(&'a str),
    Project(&'a str),
}

impl VarOwner<'_> {
    pub(crate) fn vars(self, store: &Store) -> Result<Vec<EnvVar>, ApiError> {
        Ok(match self {
            VarOwner::App(a) => store.env(a)?,
            VarOwner::Project(p) => store.project_env(p)?,
        })
    }

    pub(crate) fn secret_key(self, key: &str, version: u32) -> String {
        match self {
            VarOwner::App(a) => env_key_at(a, key, version),
            VarOwner::Project(p) => project_env_key(p, key, version),
        }
    }

    pub(crate) fn record_secret(
        self,
        store: &Store,
        key: &str,
        version: u32,
    ) -> Result<(), ApiError> {
        match self {
            VarOwner::App(a) => store.set_secret_env(a, key, version)?,
            VarOwner::Project(p) => store.set_project_secret(p, key, version)?,
        }
        Ok(())
    }

    /// A secret the setup file names whose value this machine does not have: recorded as a
    /// secret without a value (a deploy says to set it).
    pub(crate) fn record_missing_secret(self, store: &Store, key: &str) -> Result<(), ApiError> {
        self.record_secret(store, key, 0)
    }

    pub(crate) fn record_plain(
        self,
        store: &Store,
        key: &str,
        value: &str,
    ) -> Result<(), ApiError> {
        match self {
            VarOwner::App(a) => store.set_env(a, key, Some(value), false)?,
            VarOwner::Project(p) => store.set_project_env(p, key, value)?,
        }
        Ok(())
    }

    pub(crate) fn unset(self, store: &Store, key: &str) -> Result<bool, ApiError> {
        Ok(match self {
            VarOwner::App(a) => store.unset_env(a, key)?,
            VarOwner::Project(p) => store.unset_project_env(p, key)?,
        })
    }

    fn source(self) -> EnvSource {
        match self {
            VarOwner::App(_) => EnvSource::App,
            VarOwner::Project(p) => EnvSource::Project {
                project: p.to_owned(),
            },
        }
    }
}
