//! The apps linked to services (a service itself is an app with a kind: `apps.rs`).

use berth_model::ServiceLink;
use rusqlite::params;

use crate::error::StoreError;
use crate::{Store, require_app};

impl Store {
    /// Records that `link.app` gets `link.service`'s connection string as `link.var`
    /// (replacing nothing: a second variable for the same pair is a second link).
    pub fn add_link(&self, link: &ServiceLink) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, &link.service)?;
            require_app(tx, &link.app)?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO service_links (service, app, var) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![link.service, link.app, link.var])?;
            Ok(())
        })
    }

    /// Forgets a link; returns whether it existed.
    pub fn remove_link(&self, link: &ServiceLink) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM service_links WHERE service = ?1 AND app = ?2 AND var = ?3",
                )?
                .execute(params![link.service, link.app, link.var])?;
            Ok(n > 0)
        })
    }

    /// The links of a service (`Some(service)`), or every link, by service, app and variable.
    pub fn links(&self, service: Option<&str>) -> Result<Vec<ServiceLink>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT service, app, var FROM service_links
                 WHERE ?1 IS NULL OR service = ?1 ORDER BY service, app, var",
            )?;
            let links = stmt
                .query_map([service], |r| {
                    Ok(ServiceLink {
                        service: r.get(0)?,
                        app: r.get(1)?,
                        var: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(links)
        })
    }
}
