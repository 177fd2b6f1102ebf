//! Projects and their variables (secret values excluded, like apps').

use berth_model::{EnvVar, Project, validate_project_name};
use rusqlite::params;

use crate::apps::EnvOwner;
use crate::error::StoreError;
use crate::{Store, exists};

impl Store {
    /// Adds a project. [`StoreError::AlreadyExists`] if the name is taken,
    /// [`StoreError::NotFound`] if its server does not exist.
    pub fn insert_project(&self, p: &Project) -> Result<(), StoreError> {
        validate_project_name(&p.name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write(|tx| {
            if exists(tx, "projects", "name", &p.name)? {
                return Err(StoreError::already_exists("project", &p.name).into());
            }
            if let Some(s) = &p.server
                && !exists(tx, "servers", "name", s)?
            {
                return Err(StoreError::not_found("server", s).into());
            }
            tx.prepare_cached(
                "INSERT INTO projects (name, server, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![p.name, p.server, p.created_at])?;
            Ok(())
        })
    }

    /// Changes a project's server (its name stays).
    pub fn update_project(&self, p: &Project) -> Result<(), StoreError> {
        self.write(|tx| {
            if let Some(s) = &p.server
                && !exists(tx, "servers", "name", s)?
            {
                return Err(StoreError::not_found("server", s).into());
            }
            let changed = tx
                .prepare_cached("UPDATE projects SET server = ?2 WHERE name = ?1")?
                .execute(params![p.name, p.server])?;
            if changed == 0 {
                return Err(StoreError::not_found("project", &p.name).into());
            }
            Ok(())
        })
    }

    pub fn project(&self, name: &str) -> Result<Project, StoreError> {
        self.projects()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::not_found("project", name))
    }

    /// Every project, by name.
    pub fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT name, server, created_at FROM projects ORDER BY name")?;
            let projects = stmt
                .query_map([], |r| {
                    Ok(Project {
                        name: r.get(0)?,
                        server: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(projects)
        })
    }

    /// The names of a project's apps and services.
    pub fn project_members(&self, name: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT name FROM apps WHERE project = ?1 ORDER BY name")?;
            let names = stmt
                .query_map([name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(names)
        })
    }

    /// Removes a project and its variables; refused while apps belong to it.
    pub fn delete_project(&self, name: &str) -> Result<(), StoreError> {
        let members = self.project_members(name)?;
        if !members.is_empty() {
            return Err(StoreError::InUse {
                kind: "project",
                name: name.to_owned(),
                by: members,
            });
        }
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM project_env WHERE project = ?1")?
                .execute([name])?;
            let deleted = tx
                .prepare_cached("DELETE FROM projects WHERE name = ?1")?
                .execute([name])?;
            if deleted == 0 {
                return Err(StoreError::not_found("project", name).into());
            }
            Ok(())
        })
    }

    /// Adds or replaces a plain variable of a project.
    pub fn set_project_env(&self, project: &str, key: &str, value: &str) -> Result<(), StoreError> {
        self.set_owned_env(EnvOwner::Project(project), key, Some(value), false, 0)
    }

    /// Records that `key` of `project` is a secret whose value is `version` in the secrets
    /// store.
    pub fn set_project_secret(
        &self,
        project: &str,
        key: &str,
        version: u32,
    ) -> Result<(), StoreError> {
        self.set_owned_env(EnvOwner::Project(project), key, None, true, version)
    }

    /// Removes a project's variable; returns whether it existed.
    pub fn unset_project_env(&self, project: &str, key: &str) -> Result<bool, StoreError> {
        self.unset_owned_env(EnvOwner::Project(project), key)
    }

    /// A project's variables by key; `value` is `None` for secrets.
    pub fn project_env(&self, project: &str) -> Result<Vec<EnvVar>, StoreError> {
        self.owned_env(EnvOwner::Project(project))
    }
}
