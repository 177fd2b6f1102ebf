//! Projects: apps and services grouped, with variables every member gets (an app's own value
//! of a key wins).

use berth_model::{EnvVar, Project, ProjectInfo, validate_env_key, validate_project_name};

use crate::Berth;
use crate::env::VarOwner;
use crate::error::ApiError;

impl Berth {
    /// `berth project create NAME [--server S]`: the server is where members go when they are
    /// created without `--server`.
    pub fn project_create(&self, name: &str, server: Option<&str>) -> Result<Project, ApiError> {
        validate_project_name(name)?;
        let server = server.map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = server {
            self.store.server(s)?;
        }
        let project = Project {
            name: name.to_owned(),
            server: server.map(str::to_owned),
            created_at: self.now(),
        };
        self.store.insert_project(&project)?;
        self.audit(
            "project.create",
            name,
            &server.map(|s| format!("server {s}")).unwrap_or_default(),
        );
        Ok(project)
    }

    /// Every project with its members and variables.
    pub fn projects(&self) -> Result<Vec<ProjectInfo>, ApiError> {
        self.store
            .projects()?
            .into_iter()
            .map(|p| self.project_info(p))
            .collect()
    }

    /// One project with its members and variables.
    pub fn project(&self, name: &str) -> Result<ProjectInfo, ApiError> {
        let p = self.store.project(name)?;
        self.project_info(p)
    }

    fn project_info(&self, project: Project) -> Result<ProjectInfo, ApiError> {
        Ok(ProjectInfo {
            members: self.store.project_members(&project.name)?,
            env: self.store.project_env(&project.name)?,
            project,
        })
    }

    /// Removes a project and its variables (their secrets too); refused while apps or
    /// services belong to it.
    pub fn project_rm(&self, name: &str) -> Result<(), ApiError> {
        let secrets: Vec<EnvVar> = self
            .store
            .project_env(name)?
            .into_iter()
            .filter(|v| v.secret)
            .collect();
        self.store.delete_project(name)?;
        for v in secrets {
            let key = VarOwner::Project(name).secret_key(&v.key, v.version);
            if let Err(e) = self.secrets().delete(&key) {
                tracing::warn!("could not delete a secret of project {name}: {e}");
            }
        }
        self.audit("project.rm", name, "");
        Ok(())
    }

    /// `berth env set --project P K=V… [--secret]`: variables every member of the project
    /// gets from its next deploy or restart (a member's own value of a key wins).
    pub fn project_env_set(
        &self,
        project: &str,
        pairs: &[(String, String)],
        secret: bool,
    ) -> Result<(), ApiError> {
        self.store.project(project)?;
        for (k, _) in pairs {
            validate_env_key(k)?;
        }
        for (k, v) in pairs {
            self.put_var(VarOwner::Project(project), k, v, secret)?;
        }
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        self.audit(
            "project.env.set",
            project,
            &format!(
                "{}{}",
                keys.join(" "),
                if secret { " (secret)" } else { "" }
            ),
        );
        Ok(())
    }

    /// Removes a project's variable; returns whether it existed.
    pub fn project_env_unset(&self, project: &str, key: &str) -> Result<bool, ApiError> {
        let existed = self.drop_var(VarOwner::Project(project), key)?;
        if existed {
            self.audit("project.env.unset", project, key);
        }
        Ok(existed)
    }

    /// A project's variables by key; secret ones without their value.
    pub fn project_env(&self, project: &str) -> Result<Vec<EnvVar>, ApiError> {
        Ok(self.store.project_env(project)?)
    }

    /// One of a project's variables, a secret one's value included.
    pub fn project_env_reveal(&self, project: &str, key: &str) -> Result<Option<String>, ApiError> {
        self.store.project(project)?;
        self.reveal_var(VarOwner::Project(project), key)
    }

    /// The server an app or service created in `project` without `--server` goes to: the
    /// project's, else the only one.
    pub(crate) fn server_for(
        &self,
        server: &str,
        project: Option<&str>,
    ) -> Result<String, ApiError> {
        if server.is_empty()
            && let Some(p) = project
            && let Some(s) = self.store.project(p)?.server
        {
            return Ok(s);
        }
        self.server_or_only(server)
    }
}
