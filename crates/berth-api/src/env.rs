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
        self.store.app(app)?;
        for (k, _) in pairs {
            validate_env_key(k)?;
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
        self.store.app(app)?;
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

    /// The app's variables by key; secret ones without their value.
    pub fn env_ls(&self, app: &str) -> Result<Vec<EnvVar>, ApiError> {
        self.store.app(app)?;
        Ok(self.store.env(app)?)
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
