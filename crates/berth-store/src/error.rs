//! What can go wrong with the state database, in words a user can act on.

use std::path::PathBuf;

use berth_model::DeploymentStatus;

/// An error of the store. Messages are lowercase and say what to do next.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `kind` is `"server"`, `"app"` or `"deployment"`.
    #[error("{kind} `{name}` not found{}", list_hint(kind))]
    NotFound { kind: &'static str, name: String },

    #[error("{kind} `{name}` already exists")]
    AlreadyExists { kind: &'static str, name: String },

    /// A server cannot be removed while apps run on it; `by` names those apps.
    #[error("{kind} `{name}` is used by {}", used_by(by))]
    InUse {
        kind: &'static str,
        name: String,
        by: Vec<String>,
    },

    /// A deployment was written as `active` while another one of the same app is active.
    #[error(
        "app `{app}` already has an active deployment `{active}`: use activate to switch to deployment `{id}`"
    )]
    AlreadyActive {
        app: String,
        active: String,
        id: String,
    },

    /// Only an in-progress or a once-healthy deployment can become the active one.
    #[error("deployment `{id}` is {status} and cannot become the active deployment")]
    NotActivatable {
        id: String,
        status: DeploymentStatus,
    },

    /// The domain already belongs to an app (possibly this one).
    #[error("domain `{domain}` is already used by app `{app}`")]
    DomainTaken { domain: String, app: String },

    /// Input the store refuses to write (an invalid name, a value for a secret env var, …).
    #[error("{0}")]
    Invalid(String),

    /// The database was migrated by a newer Berth than this one.
    #[error(
        "the state database was written by a newer berth (schema version {found}, this berth knows up to {supported}): upgrade berth"
    )]
    TooNew { found: i64, supported: i64 },

    #[error("cannot use the state database {}: {source}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// The directory of the database file could not be created.
    #[error("cannot create the directory {} of the state database: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list_hint(kind: &str) -> &'static str {
    match kind {
        "app" => " (see `berth app ls`)",
        "server" => " (see `berth server ls`)",
        "registry" => " (see `berth registry ls`)",
        "project" => " (see `berth project ls`)",
        _ => "",
    }
}

fn used_by(by: &[String]) -> String {
    match by {
        [one] => format!("app {one}: remove it first"),
        many => format!("apps {}: remove them first", many.join(", ")),
    }
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, name: &str) -> Self {
        StoreError::NotFound {
            kind,
            name: name.to_owned(),
        }
    }

    pub(crate) fn already_exists(kind: &'static str, name: &str) -> Self {
        StoreError::AlreadyExists {
            kind,
            name: name.to_owned(),
        }
    }
}

/// The error type of the store's internals: a SQLite error still missing the database path, or
/// a finished [`StoreError`]. [`crate::Store`] adds the path at the boundary.
#[derive(Debug)]
pub(crate) enum Fail {
    Db(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    pub(crate) fn at(self, path: &std::path::Path) -> StoreError {
        match self {
            Fail::Db(source) => StoreError::Database {
                path: path.to_owned(),
                source,
            },
            Fail::Store(e) => e,
        }
    }
}
