//! Registries: name, host and username (the password is a secret, kept elsewhere).

use berth_model::Registry;
use rusqlite::{Row, params};

use crate::Store;
use crate::error::StoreError;

const COLUMNS: &str = "name, host, username, created_at";

fn registry_from_row(row: &Row<'_>) -> rusqlite::Result<Registry> {
    Ok(Registry {
        name: row.get(0)?,
        host: row.get(1)?,
        username: row.get(2)?,
        created_at_ms: row.get(3)?,
    })
}

impl Store {
    /// Every registry, by name.
    pub fn registries(&self) -> Result<Vec<Registry>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM registries ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let list = stmt
                .query_map([], registry_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(list)
        })
    }

    /// The registry called `name`.
    pub fn registry(&self, name: &str) -> Result<Registry, StoreError> {
        self.registries()?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| StoreError::NotFound {
                kind: "registry",
                name: name.to_owned(),
            })
    }

    /// The registry for images on `host`, if one was added.
    pub fn registry_for_host(&self, host: &str) -> Result<Option<Registry>, StoreError> {
        Ok(self.registries()?.into_iter().find(|r| r.host == host))
    }

    /// Adds a registry, or replaces the one with the same name (a new username or host).
    /// Another registry on the same host is refused: an image names its registry by host.
    pub fn put_registry(&self, r: &Registry) -> Result<(), StoreError> {
        self.write(|tx| {
            let other: Option<String> = tx
                .prepare_cached("SELECT name FROM registries WHERE host = ?1 AND name != ?2")?
                .query_map(params![r.host, r.name], |row| row.get(0))?
                .next()
                .transpose()?;
            if let Some(other) = other {
                return Err(StoreError::Invalid(format!(
                    "registry `{other}` is already {}: one registry per host (edit or remove `{other}`)",
                    r.host
                ))
                .into());
            }
            tx.prepare_cached(
                "INSERT INTO registries (name, host, username, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET host = excluded.host, username = excluded.username",
            )?
            .execute(params![r.name, r.host, r.username, r.created_at_ms])?;
            Ok(())
        })
    }

    /// Removes a registry; [`StoreError::NotFound`] if there is none by that name.
    pub fn remove_registry(&self, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM registries WHERE name = ?1")?
                .execute([name])?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    kind: "registry",
                    name: name.to_owned(),
                }
                .into());
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(name: &str, host: &str) -> Registry {
        Registry {
            name: name.into(),
            host: host.into(),
            username: "me".into(),
            created_at_ms: 1,
        }
    }

    #[test]
    fn registries_are_kept_by_name_one_per_host() {
        let store = Store::open_in_memory().unwrap();
        store.put_registry(&registry("ghcr", "ghcr.io")).unwrap();
        store
            .put_registry(&registry("local", "127.0.0.1:5000"))
            .unwrap();
        let err = store.put_registry(&registry("gh2", "ghcr.io")).unwrap_err();
        assert!(
            err.to_string().contains("`ghcr` is already ghcr.io"),
            "{err}"
        );
        let mut edited = registry("ghcr", "ghcr.io");
        edited.username = "bot".into();
        store.put_registry(&edited).unwrap();
        assert_eq!(store.registry("ghcr").unwrap().username, "bot");
        assert_eq!(
            store
                .registry_for_host("127.0.0.1:5000")
                .unwrap()
                .map(|r| r.name),
            Some("local".to_owned())
        );
        store.remove_registry("local").unwrap();
        let names: Vec<_> = store
            .registries()
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["ghcr"]);
        let err = store.remove_registry("local").unwrap_err().to_string();
        assert!(err.contains("berth registry ls"), "{err}");
    }
}
