//! Registries Berth pulls from with credentials: kept by name (the host and username in the
//! store, the password or token in the secrets store), tested and browsed through a server.

use berth_engine::registry::RegistryCredentials;
use berth_model::{ImageRef, ImageTag, Registry, RegistryDraft};
use berth_secrets::{Sensitive, registry_key};

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Adds a registry, or replaces the login of the one with that name. The password is
    /// stored in the secrets store (the keychain by default), never in the database; relays
    /// that pull for unattended apps get the new login (one that cannot be reached is logged).
    pub async fn registry_add(
        &self,
        draft: &RegistryDraft,
        password: &str,
    ) -> Result<Registry, ApiError> {
        let registry = draft
            .validate(self.now())
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        if password.trim().is_empty() {
            return Err(ApiError::Invalid(
                "the registry's password or token is empty (give it on stdin with --password-stdin)"
                    .to_owned(),
            ));
        }
        let existing = self
            .store
            .registries()?
            .into_iter()
            .find(|r| r.name == registry.name);
        let registry = Registry {
            created_at_ms: existing.map_or(registry.created_at_ms, |r| r.created_at_ms),
            ..registry
        };
        self.store.put_registry(&registry)?;
        self.secrets().set(
            &registry_key(&registry.name),
            &Sensitive::new(password.trim().to_owned()),
        )?;
        self.audit(
            "registry.add",
            &registry.name,
            &format!("{} as {}", registry.host, registry.username),
        );
        self.webhook_resync_all().await;
        Ok(registry)
    }

    /// Every registry, by name.
    pub fn registries(&self) -> Result<Vec<Registry>, ApiError> {
        Ok(self.store.registries()?)
    }

    /// Removes a registry and its password. Refused while an image app pulls from it.
    pub fn registry_rm(&self, name: &str) -> Result<(), ApiError> {
        let registry = self.store.registry(name)?;
        let users: Vec<String> = self
            .store
            .apps()?
            .into_iter()
            .filter(|a| {
                a.image
                    .as_deref()
                    .and_then(|i| ImageRef::parse(i).ok())
                    .is_some_and(|i| i.registry_host() == registry.host)
            })
            .map(|a| a.name)
            .collect();
        if !users.is_empty() {
            return Err(berth_store::StoreError::InUse {
                kind: "registry",
                name: name.to_owned(),
                by: users,
            }
            .into());
        }
        self.store.remove_registry(name)?;
        self.secrets().delete(&registry_key(name))?;
        self.audit("registry.rm", name, &registry.host);
        Ok(())
    }

    /// Logs in to the registry through `server`'s Docker (the only server when empty): what a
    /// pull there will do. Nothing is stored on the server.
    pub async fn registry_test(&self, name: &str, server: &str) -> Result<String, ApiError> {
        let registry = self.store.registry(name)?;
        let creds = self.registry_credentials(&registry)?;
        let server = self.store.server(&self.server_or_only(server)?)?;
        let host = self.host(&server).await?;
        berth_engine::registry::check_login(&host, &creds).await?;
        Ok(server.name)
    }

    /// The tags of `repository` (`acme/web`, or a reference on the registry's host), newest
    /// first, from the registry's API reached through `server` (the only server when empty).
    pub async fn registry_tags(
        &self,
        name: &str,
        repository: &str,
        server: &str,
    ) -> Result<Vec<ImageTag>, ApiError> {
        let registry = self.store.registry(name)?;
        let creds = self.registry_credentials(&registry)?;
        let image = ImageRef::parse(&self.registry_reference(name, repository)?)?;
        let server = self.store.server(&self.server_or_only(server)?)?;
        let host = self.host(&server).await?;
        Ok(
            berth_engine::registry::tags(&host, &registry.host, &image.path(), Some(&creds))
                .await?,
        )
    }

    /// The tags of an image app's repository, newest first, read through its server (with
    /// the login of the registry added for its host, if any): what "Deploy new version" lists.
    pub async fn app_tags(&self, app: &str) -> Result<Vec<ImageTag>, ApiError> {
        let app = self.store.app(app)?;
        let image = ImageRef::parse(app.image.as_deref().ok_or_else(|| {
            ApiError::Invalid(format!(
                "app `{}` is built from git: it has no image tags",
                app.name
            ))
        })?)?;
        let creds = self.credentials_for_image(&image.repository)?;
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        Ok(berth_engine::registry::tags(
            &host,
            image.registry_host(),
            &image.path(),
            creds.as_ref(),
        )
        .await?)
    }

    /// `image` on registry `name`: `acme/web:1.4` becomes `ghcr.io/acme/web:1.4`; a reference
    /// that names another registry host is refused.
    pub fn registry_reference(&self, name: &str, image: &str) -> Result<String, ApiError> {
        let registry = self.store.registry(name)?;
        let parsed = ImageRef::parse(image)?;
        let named_host = image.trim().split('/').next().unwrap_or_default();
        if parsed.repository.contains('/')
            && (named_host.contains(['.', ':']) || named_host == "localhost")
        {
            if parsed.registry_host() != registry.host {
                return Err(ApiError::Invalid(format!(
                    "image {image} is on {}, but registry `{name}` is {}",
                    parsed.registry_host(),
                    registry.host
                )));
            }
            return Ok(parsed.to_string());
        }
        Ok(ImageRef::parse(&format!("{}/{}", registry.host, image.trim()))?.to_string())
    }

    /// The login for pulling `reference`: that of the registry on its host, if one was added.
    pub(crate) fn credentials_for_image(
        &self,
        reference: &str,
    ) -> Result<Option<RegistryCredentials>, ApiError> {
        let image = ImageRef::parse(reference)?;
        match self.store.registry_for_host(image.registry_host())? {
            Some(registry) => Ok(Some(self.registry_credentials(&registry)?)),
            None => Ok(None),
        }
    }

    fn registry_credentials(&self, registry: &Registry) -> Result<RegistryCredentials, ApiError> {
        let password = self
            .secrets()
            .get(&registry_key(&registry.name))?
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "registry `{}` has no password in the secrets store: add it again with `berth registry add {} --url {} --username {} --password-stdin`",
                    registry.name, registry.name, registry.host, registry.username
                ))
            })?;
        Ok(RegistryCredentials {
            host: registry.host.clone(),
            username: registry.username.clone(),
            password: password.expose().to_owned(),
        })
    }
}
