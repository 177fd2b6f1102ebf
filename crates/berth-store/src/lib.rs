//! SQLite state of the desktop: servers, apps, deployments, env vars, audit log. The only crate with SQL.
