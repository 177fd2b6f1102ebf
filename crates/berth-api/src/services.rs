//! Services: databases, caches and other images run beside the apps, on the server's `berth`
//! network. A service is stored as an app with a kind (so it deploys, restarts, logs, stops
//! and rolls back like one); this is what is particular to it — creating one with generated
//! credentials, and linking apps to it.

use berth_model::{App, ServiceDraft, ServiceInfo, ServiceKind, ServiceLink};

use crate::Berth;
use crate::env::VarOwner;
use crate::error::ApiError;

/// Length of a generated password: letters and digits only, so it needs no escaping in a
/// connection string (about 190 bits).
const PASSWORD_LEN: usize = 32;

fn password() -> String {
    use rand::Rng as _;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

impl Berth {
    /// Checks a new service, makes sure its image can be had on the server (an unknown image
    /// or tag stores nothing), and stores it with credentials generated into the secrets
    /// store. It is not started: deploy it (`berth service create` does, at once).
    pub async fn service_create(&self, mut draft: ServiceDraft) -> Result<App, ApiError> {
        if draft.project.as_deref() == Some("") {
            draft.project = None;
        }
        if let Some(p) = &draft.project {
            self.store.project(p)?;
        }
        draft.server = self.server_for(&draft.server, draft.project.as_deref())?;
        let mut service = draft.validate(self.now())?;
        self.refuse_taken_name(&service.name)?;
        self.store.server(&service.server)?;
        let kind = service.service.unwrap_or(ServiceKind::Image);
        let image = service.image.clone().unwrap_or_default();
        let seen = self.image_inspect(&service.server, &image).await?;
        if kind == ServiceKind::Image && draft.port.is_none() {
            service.port = seen.port.unwrap_or(App::DEFAULT_PORT);
        }
        let detail = format!("service {kind} on {} image {image}", service.server);
        let service = self.store_new_app(service, &[], &detail)?;
        let db = ServiceKind::db_name(&service.name);
        let credentials = kind.credentials(&db, &password(), &password());
        for (key, value, secret) in credentials {
            self.put_var(VarOwner::App(&service.name), &key, &value, secret)?;
        }
        Ok(service)
    }

    /// Every service, with the apps linked to it.
    pub fn services(&self) -> Result<Vec<ServiceInfo>, ApiError> {
        let links = self.store.links(None)?;
        Ok(self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.service.is_some())
            .map(|service| ServiceInfo {
                links: links
                    .iter()
                    .filter(|l| l.service == service.name)
                    .cloned()
                    .collect(),
                service,
            })
            .collect())
    }

    /// One service, with the apps linked to it; an app that is not a service is refused.
    pub fn service(&self, name: &str) -> Result<ServiceInfo, ApiError> {
        let service = self.store.app(name)?;
        if service.service.is_none() {
            return Err(ApiError::Invalid(format!(
                "`{name}` is an app, not a service (`berth service ls` lists the services)"
            )));
        }
        Ok(ServiceInfo {
            links: self.store.links(Some(name))?,
            service,
        })
    }

    /// Gives `app` the service's connection string as the secret variable `var` (the kind's
    /// own name, `DATABASE_URL` or `REDIS_URL`, when `None`). The app sees it from its next
    /// deploy or restart.
    pub fn service_link(
        &self,
        service: &str,
        app: &str,
        var: Option<&str>,
    ) -> Result<ServiceLink, ApiError> {
        let info = self.service(service)?;
        let service = info.service;
        let target = self.store.app(app)?;
        if target.name == service.name {
            return Err(ApiError::Invalid(format!(
                "a service is not linked to itself: name the app that uses `{}`",
                service.name
            )));
        }
        if target.server != service.server {
            return Err(ApiError::Invalid(format!(
                "`{}` runs on {} and `{}` on {}: an app reaches only the services on its own server",
                target.name, target.server, service.name, service.server
            )));
        }
        let kind = service.service.unwrap_or(ServiceKind::Image);
        let var = match var.or(kind.link_var()) {
            Some(v) => v.to_owned(),
            None => {
                return Err(ApiError::Invalid(format!(
                    "`{}` runs an image Berth knows no connection string for: set what the app needs with `berth env set {} KEY=VALUE` (the service answers at {}:{})",
                    service.name, target.name, service.name, service.port
                )));
            }
        };
        ServiceLink::check_var(&var)?;
        let url = self.service_url(&service, kind)?.ok_or_else(|| {
            ApiError::Invalid(format!(
                "`{}` is missing its credentials: create it again",
                service.name
            ))
        })?;
        self.env_set(&target.name, &[(var.clone(), url)], true)?;
        let link = ServiceLink {
            service: service.name.clone(),
            app: target.name.clone(),
            var,
        };
        self.store.add_link(&link)?;
        self.audit(
            "service.link",
            &service.name,
            &format!("{} as {}", link.app, link.var),
        );
        Ok(link)
    }

    /// Takes a link away: the app's variable goes with it (from its next deploy or restart).
    /// Returns whether there was one.
    pub fn service_unlink(
        &self,
        service: &str,
        app: &str,
        var: Option<&str>,
    ) -> Result<Vec<ServiceLink>, ApiError> {
        let info = self.service(service)?;
        let gone: Vec<ServiceLink> = info
            .links
            .into_iter()
            .filter(|l| l.app == app && var.is_none_or(|v| v == l.var))
            .collect();
        for link in &gone {
            self.env_unset(&link.app, &link.var)?;
            self.store.remove_link(link)?;
            self.audit(
                "service.unlink",
                &link.service,
                &format!("{} as {}", link.app, link.var),
            );
        }
        Ok(gone)
    }

    /// Removes a service like an app (`purge`: its data volume too). Refused while apps are
    /// linked to it: their connection string would point at nothing.
    pub async fn service_rm(&self, name: &str, purge: bool) -> Result<(), ApiError> {
        let info = self.service(name)?;
        if !info.links.is_empty() {
            let linked: Vec<String> = info
                .links
                .iter()
                .map(|l| format!("{} ({})", l.app, l.var))
                .collect();
            return Err(ApiError::Invalid(format!(
                "`{name}` is linked to {}: `berth service unlink {name} --app APP` first",
                linked.join(", ")
            )));
        }
        self.app_rm(name, purge).await
    }

    /// The connection string of `service` for an app on its network.
    fn service_url(&self, service: &App, kind: ServiceKind) -> Result<Option<String>, ApiError> {
        let env = self.store.env(&service.name)?;
        let mut values = Vec::new();
        for var in env {
            if let Some(v) = self.reveal_var(VarOwner::App(&service.name), &var.key)? {
                values.push((var.key, v));
            }
        }
        let get = |k: &str| {
            values
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        Ok(kind.url(&service.name, service.port, &get))
    }
}
