//! The OS keychain backend, through `keyring` (macOS Keychain, Windows Credential Manager,
//! Secret Service on Linux).

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

use crate::{SecretsError, Sensitive};

/// Entries are `(service, key)` pairs of the platform's store, or of an explicit credential
/// store (tests use keyring-core's in-memory mock store).
pub(crate) struct Keychain {
    service: String,
    store: Option<Arc<CredentialStore>>,
}

impl Keychain {
    pub(crate) fn platform(service: &str) -> Self {
        Keychain {
            service: service.to_owned(),
            store: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_store(service: &str, store: Arc<CredentialStore>) -> Self {
        Keychain {
            service: service.to_owned(),
            store: Some(store),
        }
    }

    fn entry(&self, key: &str) -> Result<Entry, SecretsError> {
        let built = match &self.store {
            Some(store) => store.build(&self.service, key, None),
            None => keyring::Entry::new(&self.service, key).map(|e| e.inner),
        };
        built.map_err(|e| to_error(key, e))
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<Sensitive<String>>, SecretsError> {
        match self.entry(key)?.get_password() {
            Ok(value) => Ok(Some(Sensitive::new(value))),
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(to_error(key, e)),
        }
    }

    pub(crate) fn set(&self, key: &str, value: &Sensitive<String>) -> Result<(), SecretsError> {
        self.entry(key)?
            .set_password(value.expose())
            .map_err(|e| to_error(key, e))
    }

    pub(crate) fn delete(&self, key: &str) -> Result<(), SecretsError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(Error::NoEntry) => Ok(()),
            Err(e) => Err(to_error(key, e)),
        }
    }
}

/// Turns a keyring error into ours without ever formatting data the error may carry (a
/// `BadEncoding` holds the raw secret, an `Ambiguous` the matching credentials).
fn to_error(key: &str, err: Error) -> SecretsError {
    let reason = match err {
        Error::NoDefaultStore => {
            return SecretsError::KeyringUnavailable {
                reason: match keyring::Entry::store_status() {
                    Err(e) => unavailable_reason(e),
                    Ok(()) => "no credential store is set up".to_owned(),
                },
            };
        }
        Error::PlatformFailure(e) | Error::NoStorageAccess(e) => {
            return SecretsError::KeyringUnavailable {
                reason: e.to_string(),
            };
        }
        Error::NoEntry => "it does not exist".to_owned(),
        Error::BadEncoding(_) => "its stored value is not valid UTF-8".to_owned(),
        Error::BadDataFormat(..) => "its stored value is malformed".to_owned(),
        Error::BadStoreFormat(why) => format!("the keychain itself is malformed: {why}"),
        Error::TooLong(attr, max) => {
            format!("its {attr} is longer than the keychain allows ({max})")
        }
        Error::Invalid(attr, why) => format!("its {attr} is invalid: {why}"),
        Error::Ambiguous(items) => format!(
            "{} keychain items match it: remove the duplicates with the system's keychain tool",
            items.len()
        ),
        Error::NotSupportedByStore(why) => format!("the keychain does not support this: {why}"),
        _ => "unexpected keychain error".to_owned(),
    };
    SecretsError::Keyring {
        key: key.to_owned(),
        reason,
    }
}

/// Why the platform store could not be set up (`keyring`'s one-time initialisation).
fn unavailable_reason(err: &Error) -> String {
    match err {
        Error::PlatformFailure(e) | Error::NoStorageAccess(e) => e.to_string(),
        Error::Invalid(attr, why) => format!("{attr} {why}"),
        Error::NotSupportedByStore(why) | Error::BadStoreFormat(why) => why.clone(),
        _ => "the credential store could not be set up".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use keyring_core::mock;

    use super::*;
    use crate::{Backend, Secrets, env_key};

    fn mock_secrets() -> (Secrets, Arc<CredentialStore>) {
        let store: Arc<CredentialStore> = mock::Store::new().unwrap();
        let secrets = Secrets::from_keychain(Keychain::with_store("berth-test", store.clone()));
        (secrets, store)
    }

    /// Makes the next call on `(berth-test, key)` fail with `err`.
    fn fail_next(store: &Arc<CredentialStore>, key: &str, err: Error) {
        let entry = store.build("berth-test", key, None).unwrap();
        let cred: &mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(err);
    }

    #[test]
    fn round_trip_through_the_keyring_api() {
        let (secrets, _store) = mock_secrets();
        assert!(matches!(secrets.backend(), Backend::Keyring));
        let key = env_key("hello", "DATABASE_URL");
        assert!(secrets.get(&key).unwrap().is_none());
        secrets
            .set(&key, &Sensitive::new("postgres://u:p@db/x".to_owned()))
            .unwrap();
        assert_eq!(
            secrets.get(&key).unwrap().unwrap().expose(),
            "postgres://u:p@db/x"
        );
        secrets.set(&key, &Sensitive::new("v2".to_owned())).unwrap();
        assert_eq!(secrets.get(&key).unwrap().unwrap().expose(), "v2");
        secrets.delete(&key).unwrap();
        assert!(secrets.get(&key).unwrap().is_none());
        // Deleting what is not there is fine.
        secrets.delete(&key).unwrap();
    }

    #[test]
    fn delete_prefix_deletes_the_known_keys() {
        let (secrets, _store) = mock_secrets();
        let keys = [env_key("hello", "A"), env_key("hello", "B")];
        let other = env_key("hello-2", "A");
        for k in keys.iter().chain([&other]) {
            secrets.set(k, &Sensitive::new("v".to_owned())).unwrap();
        }
        let mut known = keys.to_vec();
        known.push(env_key("hello", "NEVER_SET"));
        secrets.delete_prefix("env/hello/", &known).unwrap();
        for k in &keys {
            assert!(secrets.get(k).unwrap().is_none());
        }
        assert!(secrets.get(&other).unwrap().is_some());
    }

    #[test]
    fn keychain_errors_name_the_key_but_never_the_value() {
        let (secrets, store) = mock_secrets();
        let key = "ssh-passphrase/prod";
        let secret = "correct horse battery staple";
        secrets
            .set(key, &Sensitive::new(secret.to_owned()))
            .unwrap();

        fail_next(&store, key, Error::BadEncoding(secret.as_bytes().to_vec()));
        let err = secrets.get(key).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the OS keychain failed on secret `ssh-passphrase/prod`: its stored value is not valid UTF-8"
        );
        assert!(!format!("{err:?}").contains(secret));

        let dup = store.build("berth-test", key, None).unwrap();
        fail_next(&store, key, Error::Ambiguous(vec![dup]));
        let err = secrets.get(key).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(secret));
        assert!(
            err.to_string().contains("1 keychain items match it"),
            "{err}"
        );

        fail_next(
            &store,
            key,
            Error::NoStorageAccess("the keychain is locked".into()),
        );
        let err = secrets
            .set(key, &Sensitive::new("new".to_owned()))
            .unwrap_err();
        assert!(matches!(err, SecretsError::KeyringUnavailable { .. }));
        assert!(
            err.to_string().starts_with(
                "the OS keychain is not available (the keychain is locked): start a Secret Service"
            ),
            "{err}"
        );

        fail_next(&store, key, Error::PlatformFailure("dbus went away".into()));
        assert!(matches!(
            secrets.delete(key).unwrap_err(),
            SecretsError::KeyringUnavailable { .. }
        ));
        // The failures changed nothing.
        assert_eq!(secrets.get(key).unwrap().unwrap().expose(), secret);
    }
}
