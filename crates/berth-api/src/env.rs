//! Environment variables: plain values in the store, secret values only in the secrets store.

use berth_model::{EnvVar, validate_env_key};
use berth_secrets::{Sensitive, env_key};

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
            if secret {
                self.secrets()
                    .set(&env_key(app, k), &Sensitive::new(v.clone()))?;
                self.store.set_env(app, k, None, true)?;
            } else {
                let was_secret = self.store.env(app)?.iter().any(|e| &e.key == k && e.secret);
                self.store.set_env(app, k, Some(v), false)?;
                if was_secret {
                    self.secrets().delete(&env_key(app, k))?;
                }
            }
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
        let was_secret = self
            .store
            .env(app)?
            .iter()
            .any(|e| e.key == key && e.secret);
        let existed = self.store.unset_env(app, key)?;
        if was_secret {
            self.secrets().delete(&env_key(app, key))?;
        }
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

    /// The value of a secret variable, revealed on demand (the desktop's "show" button).
    pub fn env_reveal(&self, app: &str, key: &str) -> Result<Option<String>, ApiError> {
        self.store.app(app)?;
        Ok(self
            .secrets()
            .get(&env_key(app, key))?
            .map(|s| s.expose().clone()))
    }
}
