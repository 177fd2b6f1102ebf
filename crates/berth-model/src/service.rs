//! Services: databases and caches (or any image) run beside the apps. A service is an app
//! whose source is an image and whose kind brings presets — the image, the port, where its
//! data lives, the credentials it is started with, a readiness probe run inside it, the
//! connection string an app is linked with. It is never routed, never published unless asked,
//! and replaced by stopping the old container first (one container owns its data at a time).

use serde::{Deserialize, Serialize};

use crate::app::{App, HealthCheck, Limits, Volume};
use crate::names::{InvalidName, validate_app_name, validate_env_key, validate_server_name};

/// What a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Postgres,
    Mysql,
    Mariadb,
    Redis,
    /// Any other image (Kamal's "accessory"): no credentials, no probe but "still running".
    Image,
}

/// A service that cannot be made as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidService {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(
        "there is no service kind `{0}`: use postgres, mysql, mariadb or redis — or --image IMAGE for any other image"
    )]
    Kind(String),
    #[error("a service of kind `image` needs --image IMAGE")]
    NoImage,
    #[error("version `{0}` is not an image tag (letters, digits, `.`, `-`, `_`)")]
    Version(String),
    #[error(transparent)]
    Image(#[from] crate::image::InvalidImage),
    #[error(
        "--publish `{0}` must look like 127.0.0.1:PORT (a service is published on the server's loopback only; reach it from your machine with an SSH tunnel)"
    )]
    Publish(String),
    #[error("port must be between 1 and 65535")]
    Port,
    #[error("{0}")]
    Volume(String),
}

impl ServiceKind {
    /// Every kind, as `service create --kind` takes them.
    pub const ALL: [ServiceKind; 5] = [
        ServiceKind::Postgres,
        ServiceKind::Mysql,
        ServiceKind::Mariadb,
        ServiceKind::Redis,
        ServiceKind::Image,
    ];

    pub fn parse(input: &str) -> Result<Self, InvalidService> {
        let lower = input.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "postgres" | "postgresql" | "pg" => ServiceKind::Postgres,
            "mysql" => ServiceKind::Mysql,
            "mariadb" => ServiceKind::Mariadb,
            "redis" => ServiceKind::Redis,
            "image" => ServiceKind::Image,
            _ => return Err(InvalidService::Kind(input.trim().to_owned())),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "postgres",
            ServiceKind::Mysql => "mysql",
            ServiceKind::Mariadb => "mariadb",
            ServiceKind::Redis => "redis",
            ServiceKind::Image => "image",
        }
    }

    /// The official image's repository and the major version Berth starts with.
    fn official(self) -> Option<(&'static str, &'static str)> {
        match self {
            ServiceKind::Postgres => Some(("postgres", "16")),
            ServiceKind::Mysql => Some(("mysql", "8.4")),
            ServiceKind::Mariadb => Some(("mariadb", "11")),
            ServiceKind::Redis => Some(("redis", "7")),
            ServiceKind::Image => None,
        }
    }

    /// The image run for `version` (the kind's default one when `None`).
    pub fn image(self, version: Option<&str>) -> Option<String> {
        let (repo, default) = self.official()?;
        Some(format!("{repo}:{}", version.unwrap_or(default)))
    }

    /// The port it listens on inside its container.
    pub fn port(self) -> Option<u16> {
        match self {
            ServiceKind::Postgres => Some(5432),
            ServiceKind::Mysql | ServiceKind::Mariadb => Some(3306),
            ServiceKind::Redis => Some(6379),
            ServiceKind::Image => None,
        }
    }

    /// Where its data lives in the container (a named volume is mounted there).
    pub fn data_dir(self) -> Option<&'static str> {
        match self {
            ServiceKind::Postgres => Some("/var/lib/postgresql/data"),
            ServiceKind::Mysql | ServiceKind::Mariadb => Some("/var/lib/mysql"),
            ServiceKind::Redis => Some("/data"),
            ServiceKind::Image => None,
        }
    }

    /// The database (and user) name a service called `service` gets: `-` becomes `_`; one
    /// that would begin with `pg_` (a prefix PostgreSQL keeps for its own roles) or a digit
    /// gets `app_` in front; at most 32 characters (MySQL's limit for user names).
    pub fn db_name(service: &str) -> String {
        let mut name = service.replace('-', "_");
        if name.starts_with("pg_") || name.starts_with(|c: char| c.is_ascii_digit()) {
            name.insert_str(0, "app_");
        }
        name.truncate(32);
        name
    }

    /// The env a new service of this kind starts with: `(key, value, secret)`. `db` is the
    /// database (and user) name, the passwords generated by the caller.
    pub fn credentials(self, db: &str, password: &str, root: &str) -> Vec<(String, String, bool)> {
        let v = |k: &str, v: &str, secret| (k.to_owned(), v.to_owned(), secret);
        match self {
            ServiceKind::Postgres => vec![
                v("POSTGRES_USER", db, false),
                v("POSTGRES_DB", db, false),
                v("POSTGRES_PASSWORD", password, true),
            ],
            ServiceKind::Mysql => vec![
                v("MYSQL_DATABASE", db, false),
                v("MYSQL_USER", db, false),
                v("MYSQL_PASSWORD", password, true),
                v("MYSQL_ROOT_PASSWORD", root, true),
            ],
            ServiceKind::Mariadb => vec![
                v("MARIADB_DATABASE", db, false),
                v("MARIADB_USER", db, false),
                v("MARIADB_PASSWORD", password, true),
                v("MARIADB_ROOT_PASSWORD", root, true),
            ],
            ServiceKind::Redis => vec![v("REDIS_PASSWORD", password, true)],
            ServiceKind::Image => Vec::new(),
        }
    }

    /// The command its container runs instead of the image's, when the kind needs one (Redis
    /// takes its password only on the command line: from the env, through a shell, so it is
    /// never in the container's recorded command).
    pub fn command(self) -> Option<Vec<String>> {
        match self {
            ServiceKind::Redis => Some(vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "exec docker-entrypoint.sh redis-server --appendonly yes --requirepass \"$REDIS_PASSWORD\""
                    .to_owned(),
            ]),
            _ => None,
        }
    }

    /// The readiness probe run inside the container: ready when it exits 0. It checks over
    /// TCP, so a database still initialising on its private socket is not taken for ready.
    pub fn probe(self) -> Option<Vec<String>> {
        let script = match self {
            ServiceKind::Postgres => {
                "pg_isready -q -h 127.0.0.1 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\""
            }
            ServiceKind::Mysql => {
                "mysqladmin ping --silent -h 127.0.0.1 -u root -p\"$MYSQL_ROOT_PASSWORD\""
            }
            ServiceKind::Mariadb => {
                "mariadb-admin ping --silent -h 127.0.0.1 -u root -p\"$MARIADB_ROOT_PASSWORD\""
            }
            ServiceKind::Redis => {
                "redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" ping | grep -q PONG"
            }
            ServiceKind::Image => return None,
        };
        Some(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()])
    }

    /// The variable a linked app gets by default.
    pub fn link_var(self) -> Option<&'static str> {
        match self {
            ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Mariadb => {
                Some("DATABASE_URL")
            }
            ServiceKind::Redis => Some("REDIS_URL"),
            ServiceKind::Image => None,
        }
    }

    /// The connection string for an app on the same network, from the service's env
    /// (`get(key)`, secrets included); `None` for a kind without one or a missing value.
    pub fn url(
        self,
        host: &str,
        port: u16,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Option<String> {
        Some(match self {
            ServiceKind::Postgres => format!(
                "postgres://{}:{}@{host}:{port}/{}",
                get("POSTGRES_USER")?,
                get("POSTGRES_PASSWORD")?,
                get("POSTGRES_DB")?
            ),
            ServiceKind::Mysql => format!(
                "mysql://{}:{}@{host}:{port}/{}",
                get("MYSQL_USER")?,
                get("MYSQL_PASSWORD")?,
                get("MYSQL_DATABASE")?
            ),
            ServiceKind::Mariadb => format!(
                "mysql://{}:{}@{host}:{port}/{}",
                get("MARIADB_USER")?,
                get("MARIADB_PASSWORD")?,
                get("MARIADB_DATABASE")?
            ),
            // The `default` user named: redis-cli 7.0 sends an empty one as a user name.
            ServiceKind::Redis => {
                format!("redis://default:{}@{host}:{port}/0", get("REDIS_PASSWORD")?)
            }
            ServiceKind::Image => return None,
        })
    }
}

impl std::fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user supplies to create a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceDraft {
    pub name: String,
    pub server: String,
    /// `postgres`, `mysql`, `mariadb`, `redis`; `image` (or empty with `image` given) for any
    /// other image.
    pub kind: String,
    /// The kind's image tag (`16`, `8.4`); its default when `None`.
    #[serde(default)]
    pub version: Option<String>,
    /// The image to run instead of the kind's official one (a mirror, a fork, any image).
    #[serde(default)]
    pub image: Option<String>,
    /// The port of an `image` service (a kind knows its own).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// `127.0.0.1:PORT`: publish it on the server's loopback at PORT.
    #[serde(default)]
    pub publish: Option<String>,
    /// More volumes, `SRC:DST[:ro]` (a plain image's data: Berth does not know where it
    /// keeps it). A kind's data directory gets its named volume anyway.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The project it joins.
    #[serde(default)]
    pub project: Option<String>,
}

/// How long a service gets to become ready at a deploy (a first start initialises its data).
pub const SERVICE_READY_DEADLINE_MS: u64 = 120_000;

impl ServiceDraft {
    /// The kind asked for: `image` when only an image is given.
    pub fn kind(&self) -> Result<ServiceKind, InvalidService> {
        if self.kind.trim().is_empty() {
            return match &self.image {
                Some(i) if !i.trim().is_empty() => Ok(ServiceKind::Image),
                _ => Err(InvalidService::Kind(String::new())),
            };
        }
        ServiceKind::parse(&self.kind)
    }

    /// Checks every field and builds the service's app record (its env is the caller's:
    /// [`ServiceKind::credentials`]). `now` is unix milliseconds.
    pub fn validate(&self, now: i64) -> Result<App, InvalidService> {
        validate_app_name(&self.name)?;
        validate_server_name(&self.server)?;
        let kind = self.kind()?;
        if let Some(v) = &self.version
            && (v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)))
        {
            return Err(InvalidService::Version(v.clone()));
        }
        let image = match self.image.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => crate::image::ImageRef::parse(i)?.to_string(),
            _ => kind
                .image(self.version.as_deref())
                .ok_or(InvalidService::NoImage)?,
        };
        let port = match (self.port, kind.port()) {
            (Some(0), _) => return Err(InvalidService::Port),
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => App::DEFAULT_PORT,
        };
        let publish = self.publish.as_deref().map(parse_publish).transpose()?;
        let mut volumes: Vec<Volume> = kind
            .data_dir()
            .map(|dir| Volume {
                source: data_volume(&self.name),
                target: dir.to_owned(),
                read_only: false,
            })
            .into_iter()
            .collect();
        for v in &self.volumes {
            let v = Volume::parse(v).map_err(InvalidService::Volume)?;
            if volumes.iter().any(|o| o.target == v.target) {
                return Err(InvalidService::Volume(format!(
                    "{} is mounted twice",
                    v.target
                )));
            }
            volumes.push(v);
        }
        if let Some(p) = &self.project {
            crate::names::validate_project_name(p)?;
        }
        Ok(App {
            name: self.name.clone(),
            server: self.server.clone(),
            project: self.project.clone(),
            git: String::new(),
            branch: String::new(),
            image: Some(image),
            dockerfile: None,
            port,
            health: HealthCheck {
                path: "/".to_owned(),
                interval_ms: 500,
                timeout_ms: 5_000,
                deadline_ms: SERVICE_READY_DEADLINE_MS,
            },
            limits: Limits {
                cpus: self.cpus,
                memory_bytes: self.memory_bytes,
            },
            volumes,
            base_images: Default::default(),
            stop_grace_secs: 30,
            drain_timeout_secs: 0,
            // The relay's monitor probes over HTTP: not a database's way.
            monitor: crate::Monitor {
                interval_secs: 0,
                ..crate::Monitor::default()
            },
            release_command: None,
            service: Some(kind),
            publish,
            start_command: None,
            read_only_app_dir: false,
            build_env: Vec::new(),
            created_at: now,
        })
    }
}

/// `berth-<service>-data`: the named volume a service keeps its data in.
pub fn data_volume(service: &str) -> String {
    format!("berth-{service}-data")
}

/// `127.0.0.1:PORT` (or a bare `PORT`) → PORT.
fn parse_publish(input: &str) -> Result<u16, InvalidService> {
    let bad = || InvalidService::Publish(input.to_owned());
    let port = match input.trim().rsplit_once(':') {
        Some(("127.0.0.1" | "localhost", port)) => port,
        Some(_) => return Err(bad()),
        None => input.trim(),
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad()),
    }
}

/// An app's link to a service: it gets the service's connection string as secret `var`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLink {
    pub service: String,
    pub app: String,
    pub var: String,
}

/// A service with the apps linked to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub service: App,
    pub links: Vec<ServiceLink>,
}

impl ServiceLink {
    pub fn check_var(var: &str) -> Result<(), InvalidName> {
        validate_env_key(var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(kind: &str) -> ServiceDraft {
        ServiceDraft {
            name: "db".into(),
            server: "prod".into(),
            kind: kind.into(),
            ..ServiceDraft::default()
        }
    }

    #[test]
    fn a_kind_brings_its_image_port_volume_and_no_monitor_probe() {
        let app = draft("postgres").validate(1).unwrap();
        assert_eq!(app.image.as_deref(), Some("postgres:16"));
        assert_eq!(app.port, 5432);
        assert_eq!(
            app.volumes[0].to_string(),
            "berth-db-data:/var/lib/postgresql/data"
        );
        assert_eq!(app.service, Some(ServiceKind::Postgres));
        assert_eq!(app.monitor.interval_secs, 0);
        assert_eq!(app.publish, None);
        let pinned = ServiceDraft {
            version: Some("15".into()),
            ..draft("PostgreSQL")
        };
        assert_eq!(
            pinned.validate(1).unwrap().image.as_deref(),
            Some("postgres:15")
        );
        let own = ServiceDraft {
            image: Some("127.0.0.1:5000/pg:test".into()),
            publish: Some("127.0.0.1:15432".into()),
            ..draft("postgres")
        };
        let own = own.validate(1).unwrap();
        assert_eq!(own.image.as_deref(), Some("127.0.0.1:5000/pg:test"));
        assert_eq!(own.publish, Some(15432));
    }

    #[test]
    fn bad_kinds_images_and_publishing_are_refused_with_what_to_do() {
        let e = draft("mongo").validate(1).unwrap_err().to_string();
        assert!(
            e.contains("no service kind `mongo`") && e.contains("--image"),
            "{e}"
        );
        assert_eq!(draft("image").validate(1), Err(InvalidService::NoImage));
        let e = ServiceDraft {
            publish: Some("0.0.0.0:5432".into()),
            ..draft("redis")
        }
        .validate(1)
        .unwrap_err()
        .to_string();
        assert!(e.contains("127.0.0.1:PORT"), "{e}");
        let e = ServiceDraft {
            version: Some("16; rm -rf /".into()),
            ..draft("postgres")
        }
        .validate(1)
        .unwrap_err();
        assert!(matches!(e, InvalidService::Version(_)));
        assert!(matches!(
            ServiceDraft {
                name: "my db".into(),
                ..draft("redis")
            }
            .validate(1),
            Err(InvalidService::Name(_))
        ));
    }

    #[test]
    fn an_image_alone_is_an_image_service() {
        let d = ServiceDraft {
            kind: String::new(),
            image: Some("registry.example/acme/search:2".into()),
            port: Some(7700),
            ..draft("")
        };
        let app = d.validate(1).unwrap();
        assert_eq!(app.service, Some(ServiceKind::Image));
        assert_eq!(app.port, 7700);
        assert!(app.volumes.is_empty());
        // Its data where the image keeps it, in a named volume the user names.
        let with = ServiceDraft {
            volumes: vec!["search-data:/meili_data".into()],
            ..d.clone()
        };
        assert_eq!(
            with.validate(1).unwrap().volumes[0].to_string(),
            "search-data:/meili_data"
        );
        let twice = ServiceDraft {
            volumes: vec!["other:/var/lib/postgresql/data".into()],
            ..draft("postgres")
        };
        assert!(matches!(twice.validate(1), Err(InvalidService::Volume(_))));
        let bad = ServiceDraft {
            volumes: vec!["data".into()],
            ..d
        };
        assert!(matches!(bad.validate(1), Err(InvalidService::Volume(_))));
    }

    #[test]
    fn connection_strings_come_from_the_services_env() {
        let env = |k: &str| {
            Some(
                match k {
                    "POSTGRES_USER" | "POSTGRES_DB" => "shop",
                    "POSTGRES_PASSWORD" | "REDIS_PASSWORD" => "s3cr3t",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        assert_eq!(
            ServiceKind::Postgres.url("db", 5432, &env).as_deref(),
            Some("postgres://shop:s3cr3t@db:5432/shop")
        );
        assert_eq!(
            ServiceKind::Redis.url("cache", 6379, &env).as_deref(),
            Some("redis://default:s3cr3t@cache:6379/0")
        );
        assert_eq!(ServiceKind::Mysql.url("db", 3306, &env), None);
        assert_eq!(ServiceKind::db_name("shop-db"), "shop_db");
        assert_eq!(ServiceKind::db_name("pg-main"), "app_pg_main");
        assert_eq!(ServiceKind::db_name("2024-archive"), "app_2024_archive");
        assert_eq!(ServiceKind::db_name(&"a".repeat(40)).len(), 32);
        let creds = ServiceKind::Mysql.credentials("shop", "pw", "root");
        assert!(
            creds
                .iter()
                .any(|(k, v, s)| k == "MYSQL_ROOT_PASSWORD" && v == "root" && *s)
        );
    }
}
