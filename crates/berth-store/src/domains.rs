//! Domains of apps: one owner per name across every server, at most one primary per app.

use berth_model::Domain;
use rusqlite::{Connection, Row, params};

use crate::error::{Fail, StoreError};
use crate::{Store, require_app};

const COLUMNS: &str = "name, app, is_primary, created_at";

fn domain_from_row(row: &Row<'_>) -> rusqlite::Result<Domain> {
    Ok(Domain {
        name: row.get(0)?,
        app: row.get(1)?,
        primary: row.get::<_, i64>(2)? == 1,
        created_at: row.get(3)?,
    })
}

fn owner(conn: &Connection, name: &str) -> Result<Option<String>, Fail> {
    let mut stmt = conn.prepare_cached("SELECT app FROM domains WHERE name = ?1")?;
    let mut rows = stmt.query_map([name], |r| r.get::<_, String>(0))?;
    Ok(rows.next().transpose()?)
}

impl Store {
    /// The domains of `app`: primary first, then by name.
    pub fn domains(&self, app: &str) -> Result<Vec<Domain>, StoreError> {
        self.read(|conn| {
            require_app(conn, app)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM domains WHERE app = ?1 ORDER BY is_primary DESC, name"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map([app], domain_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// Every stored domain, by name.
    pub fn all_domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM domains ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map([], domain_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// The app a domain belongs to.
    pub fn domain_owner(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| owner(conn, name))
    }

    /// Adds a domain; [`StoreError::DomainTaken`] if any app has it. A primary domain replaces
    /// the app's previous primary.
    pub fn add_domain(&self, d: &Domain) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, &d.app)?;
            if let Some(app) = owner(tx, &d.name)? {
                return Err(StoreError::DomainTaken {
                    domain: d.name.clone(),
                    app,
                }
                .into());
            }
            if d.primary {
                tx.prepare_cached("UPDATE domains SET is_primary = 0 WHERE app = ?1")?
                    .execute([&d.app])?;
            }
            tx.prepare_cached(
                "INSERT INTO domains (name, app, is_primary, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![d.name, d.app, i64::from(d.primary), d.created_at])?;
            Ok(())
        })
    }

    /// Makes `name` the app's primary domain (`None`: no stored domain is primary).
    pub fn set_primary_domain(&self, app: &str, name: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            require_app(tx, app)?;
            if let Some(name) = name
                && owner(tx, name)?.as_deref() != Some(app)
            {
                return Err(StoreError::not_found("domain", name).into());
            }
            tx.prepare_cached("UPDATE domains SET is_primary = 0 WHERE app = ?1")?
                .execute([app])?;
            if let Some(name) = name {
                tx.prepare_cached("UPDATE domains SET is_primary = 1 WHERE name = ?1")?
                    .execute([name])?;
            }
            Ok(())
        })
    }

    /// Removes a domain of `app`; returns whether it existed.
    pub fn remove_domain(&self, app: &str, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            require_app(tx, app)?;
            let n = tx
                .prepare_cached("DELETE FROM domains WHERE app = ?1 AND name = ?2")?
                .execute([app, name])?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use berth_model::{AppDraft, BaseImages, Server, TransportKind};

    use super::*;

    fn store_with_apps() -> Store {
        let store = Store::open_in_memory().unwrap();
        store
            .insert_server(&Server {
                name: "prod".into(),
                transport: TransportKind::Local,
                ssh: None,
                identity: None,
                docker_socket: "/var/run/docker.sock".into(),
                base_images: BaseImages::default(),
                base_domain: Some("apps.example.com".into()),
                proxy: None,
                relay: None,
                created_at: 1,
            })
            .unwrap();
        for name in ["web", "api"] {
            let app = AppDraft {
                name: name.into(),
                server: "prod".into(),
                git: "/src".into(),
                ..AppDraft::default()
            }
            .validate(1)
            .unwrap();
            store.insert_app(&app).unwrap();
        }
        store
    }

    fn domain(app: &str, name: &str, primary: bool) -> Domain {
        Domain {
            app: app.into(),
            name: name.into(),
            primary,
            created_at: 2,
        }
    }

    #[test]
    fn a_domain_has_one_owner_and_an_app_one_primary() {
        let store = store_with_apps();
        store
            .add_domain(&domain("web", "www.example.com", true))
            .unwrap();
        store
            .add_domain(&domain("web", "example.com", false))
            .unwrap();
        let err = store
            .add_domain(&domain("api", "www.example.com", false))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "domain `www.example.com` is already used by app `web`"
        );
        store
            .add_domain(&domain("web", "shop.example.com", true))
            .unwrap();
        let names: Vec<(String, bool)> = store
            .domains("web")
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.primary))
            .collect();
        assert_eq!(
            names,
            [
                ("shop.example.com".to_owned(), true),
                ("example.com".to_owned(), false),
                ("www.example.com".to_owned(), false)
            ]
        );
        store
            .set_primary_domain("web", Some("example.com"))
            .unwrap();
        assert_eq!(store.domains("web").unwrap()[0].name, "example.com");
        assert!(
            store
                .set_primary_domain("api", Some("example.com"))
                .is_err()
        );
        assert_eq!(
            store.domain_owner("example.com").unwrap().as_deref(),
            Some("web")
        );
        assert!(store.remove_domain("web", "example.com").unwrap());
        assert!(!store.remove_domain("web", "example.com").unwrap());
        store.delete_app("web").unwrap();
        assert!(
            store.all_domains().unwrap().is_empty(),
            "deleting an app frees its domains"
        );
    }

    #[test]
    fn proxy_settings_and_base_domain_round_trip() {
        let store = store_with_apps();
        let mut s = store.server("prod").unwrap();
        assert_eq!(s.base_domain.as_deref(), Some("apps.example.com"));
        s.proxy = Some(berth_model::ProxyConfig {
            mode: berth_model::ProxyMode::Managed {
                image: "caddy:2".into(),
                http_port: 80,
                https_port: 443,
            },
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            tls: berth_model::TlsSetting::Auto {
                email: Some("ops@example.com".into()),
            },
            http_server: "berth".into(),
            installed_at: 3,
        });
        store.update_server(&s).unwrap();
        assert_eq!(store.server("prod").unwrap(), s);
        assert_eq!(store.app("web").unwrap().drain_timeout_secs, 30);
    }
}
