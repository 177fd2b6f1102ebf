//! Servers: where apps run.

use berth_model::{BaseImages, Server, SshTarget, TransportKind, validate_server_name};
use rusqlite::{Connection, Row, params};

use crate::error::{Fail, StoreError};
use crate::{Store, bad_column, exists};

const COLUMNS: &str = "name, transport, ssh_user, ssh_host, ssh_port, identity, docker_socket, \
                       base_build_image, base_run_image, created_at, base_domain, proxy, relay";

impl Store {
    /// Adds a server; [`StoreError::AlreadyExists`] if the name is taken.
    pub fn insert_server(&self, s: &Server) -> Result<(), StoreError> {
        validate_server_name(&s.name).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write(|tx| {
            if exists(tx, "servers", "name", &s.name)? {
                return Err(StoreError::already_exists("server", &s.name).into());
            }
            let sql = format!(
                "INSERT INTO servers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            );
            tx.prepare_cached(&sql)?.execute(params![
                s.name,
                s.transport.as_str(),
                s.ssh.as_ref().and_then(|t| t.user.as_deref()),
                s.ssh.as_ref().map(|t| t.host.as_str()),
                s.ssh.as_ref().and_then(|t| t.port),
                s.identity,
                s.docker_socket,
                s.base_images.build,
                s.base_images.run,
                s.created_at,
                s.base_domain,
                proxy_json(s)?,
                relay_json(s)?,
            ])?;
            Ok(())
        })
    }

    /// Replaces every field of the server named `s.name`.
    pub fn update_server(&self, s: &Server) -> Result<(), StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE servers SET transport = ?2, ssh_user = ?3, ssh_host = ?4, ssh_port = ?5,
                     identity = ?6, docker_socket = ?7, base_build_image = ?8, base_run_image = ?9,
                     created_at = ?10, base_domain = ?11, proxy = ?12, relay = ?13
                     WHERE name = ?1",
                )?
                .execute(params![
                    s.name,
                    s.transport.as_str(),
                    s.ssh.as_ref().and_then(|t| t.user.as_deref()),
                    s.ssh.as_ref().map(|t| t.host.as_str()),
                    s.ssh.as_ref().and_then(|t| t.port),
                    s.identity,
                    s.docker_socket,
                    s.base_images.build,
                    s.base_images.run,
                    s.created_at,
                    s.base_domain,
                    proxy_json(s)?,
                    relay_json(s)?,
                ])?;
            if changed == 0 {
                return Err(StoreError::not_found("server", &s.name).into());
            }
            Ok(())
        })
    }

    pub fn server(&self, name: &str) -> Result<Server, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM servers WHERE name = ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query_map([name], server_from_row)?;
            match rows.next() {
                Some(s) => Ok(s?),
                None => Err(StoreError::not_found("server", name).into()),
            }
        })
    }

    /// Every server, by name.
    pub fn servers(&self) -> Result<Vec<Server>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM servers ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let servers = stmt
                .query_map([], server_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(servers)
        })
    }

    /// Removes a server; [`StoreError::InUse`] while apps are configured on it.
    pub fn delete_server(&self, name: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let by = apps_on(tx, name)?;
            if !by.is_empty() {
                return Err(StoreError::InUse {
                    kind: "server",
                    name: name.to_owned(),
                    by,
                }
                .into());
            }
            let deleted = tx
                .prepare_cached("DELETE FROM servers WHERE name = ?1")?
                .execute([name])?;
            if deleted == 0 {
                return Err(StoreError::not_found("server", name).into());
            }
            Ok(())
        })
    }
}

fn apps_on(conn: &Connection, server: &str) -> Result<Vec<String>, Fail> {
    let mut stmt = conn.prepare_cached("SELECT name FROM apps WHERE server = ?1 ORDER BY name")?;
    let names = stmt
        .query_map([server], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

fn server_from_row(row: &Row<'_>) -> rusqlite::Result<Server> {
    let transport: String = row.get(1)?;
    let transport: TransportKind = transport.parse().map_err(|e| bad_column(1, e))?;
    let host: Option<String> = row.get(3)?;
    let ssh = match host {
        Some(host) => Some(SshTarget {
            user: row.get(2)?,
            host,
            port: row.get(4)?,
        }),
        None => None,
    };
    Ok(Server {
        name: row.get(0)?,
        transport,
        ssh,
        identity: row.get(5)?,
        docker_socket: row.get(6)?,
        base_images: BaseImages {
            build: row.get(7)?,
            run: row.get(8)?,
        },
        created_at: row.get(9)?,
        base_domain: row.get(10)?,
        proxy: {
            let text: Option<String> = row.get(11)?;
            match text {
                Some(t) => Some(
                    serde_json::from_str(&t).map_err(|e| bad_column(11, format!("proxy: {e}")))?,
                ),
                None => None,
            }
        },
        relay: {
            let text: Option<String> = row.get(12)?;
            match text {
                Some(t) => Some(
                    serde_json::from_str(&t).map_err(|e| bad_column(12, format!("relay: {e}")))?,
                ),
                None => None,
            }
        },
    })
}

fn relay_json(s: &Server) -> Result<Option<String>, Fail> {
    match &s.relay {
        Some(r) => Ok(Some(serde_json::to_string(r).map_err(|e| {
            StoreError::Invalid(format!("cannot record the relay of {}: {e}", s.name))
        })?)),
        None => Ok(None),
    }
}

fn proxy_json(s: &Server) -> Result<Option<String>, Fail> {
    match &s.proxy {
        Some(p) => Ok(Some(serde_json::to_string(p).map_err(|e| {
            StoreError::Invalid(format!("cannot record the proxy of {}: {e}", s.name))
        })?)),
        None => Ok(None),
    }
}
