//! Backups of services (and of any app's volumes): how each kind is dumped and restored,
//! where backups are kept, and the record each one leaves beside its file.
//!
//! A backup is one file in a target — the dump (or a tar of the data) compressed with zstd —
//! and a small JSON record next to it, written last: a backup whose record is missing or says
//! it failed is never one to restore. The records are the catalogue, so whoever made a backup
//! (a terminal, the window or the relay) every one of them lists it.

use serde::{Deserialize, Serialize};

use crate::names::{InvalidName, validate_server_name};
use crate::service::ServiceKind;

/// Where a target keeps its backups by default on a server.
pub const SERVER_BACKUP_DIR: &str = "/var/lib/berth/backups";

/// How a service's data is copied out and put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum BackupMethod {
    /// A command in the service's container writes the dump on stdout; another reads it back
    /// on stdin (`pg_dump -Fc` / `pg_restore`, `mysqldump` / `mysql`).
    Dump {
        dump: Vec<String>,
        restore: Vec<String>,
        /// What the file holds, for its name: `pgdump`, `sql`.
        format: String,
    },
    /// The files under `paths` in the container (its data directory, or every volume of a
    /// plain image or an app), copied as one tar of absolute paths while it is paused (after
    /// `flush`, when the kind has a way to write everything down first), put back with the
    /// container stopped and those directories emptied first.
    Files {
        paths: Vec<String>,
        flush: Option<Vec<String>>,
    },
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()]
}

impl BackupMethod {
    /// The kind's own method; `None` for a plain image without a data directory (its volumes
    /// are backed up as files, one by one).
    pub fn of(kind: ServiceKind) -> Option<BackupMethod> {
        Some(match kind {
            // -Z0: Berth compresses (zstd), faster and smaller than pg_dump's own gzip.
            ServiceKind::Postgres => BackupMethod::Dump {
                dump: sh(
                    "PGPASSWORD=\"$POSTGRES_PASSWORD\" exec pg_dump -Fc -Z0 -h 127.0.0.1 \
                     -U \"$POSTGRES_USER\" \"$POSTGRES_DB\"",
                ),
                restore: sh(
                    "PGPASSWORD=\"$POSTGRES_PASSWORD\" exec pg_restore --clean --if-exists \
                     --no-owner --exit-on-error --single-transaction -h 127.0.0.1 \
                     -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\"",
                ),
                format: "pgdump".to_owned(),
            },
            ServiceKind::Mysql | ServiceKind::Mariadb => BackupMethod::Dump {
                dump: sh(
                    "MYSQL_PWD=\"${MYSQL_ROOT_PASSWORD:-$MARIADB_ROOT_PASSWORD}\" exec \
                     $(command -v mariadb-dump || command -v mysqldump) -h 127.0.0.1 -uroot \
                     --single-transaction --routines --events --triggers --databases \
                     \"${MYSQL_DATABASE:-$MARIADB_DATABASE}\"",
                ),
                restore: sh(
                    "MYSQL_PWD=\"${MYSQL_ROOT_PASSWORD:-$MARIADB_ROOT_PASSWORD}\" exec \
                     $(command -v mariadb || command -v mysql) -h 127.0.0.1 -uroot",
                ),
                format: "sql".to_owned(),
            },
            // The RDB written by SAVE and the append-only files, as they are on disk.
            ServiceKind::Redis => BackupMethod::Files {
                paths: vec!["/data".to_owned()],
                flush: Some(sh(
                    "redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" SAVE | grep -q OK",
                )),
            },
            ServiceKind::Image => return None,
        })
    }

    /// The volumes of a plain image or an app, by their paths in the container: a tar of them,
    /// taken while the container is paused for a moment. `None` when it has none.
    pub fn of_volumes(volumes: &[crate::Volume]) -> Option<BackupMethod> {
        let mut paths: Vec<String> = volumes.iter().map(|v| v.target.clone()).collect();
        paths.sort();
        paths.dedup();
        (!paths.is_empty()).then_some(BackupMethod::Files { paths, flush: None })
    }

    /// What the backup file holds, for its name (`pgdump`, `sql`, `tar`).
    pub fn format(&self) -> &str {
        match self {
            BackupMethod::Dump { format, .. } => format,
            BackupMethod::Files { .. } => "tar",
        }
    }
}

/// A target that cannot be used as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTarget {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(
        "`{0}` is not a backup target: use `local[:/DIR]` (this machine), `ssh://SERVER/DIR` (a directory on one of your Berth servers) or `s3://BUCKET[/PREFIX]` (S3 or S3-compatible storage)"
    )]
    Location(String),
    #[error("the directory of a backup target must be an absolute path, not `{0}`")]
    Relative(String),
    #[error(
        "`{0}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit)"
    )]
    Bucket(String),
    #[error("the prefix `{0}` must not contain `..` or empty parts")]
    Prefix(String),
}

/// Where backups are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Location {
    /// A directory on the machine running Berth (the laptop; never the relay's).
    Local { path: String },
    /// A directory on one of Berth's servers, written through its Docker engine.
    Server { server: String, path: String },
    /// A bucket of S3 or any S3-compatible storage, under `prefix` (`""`: the bucket's root).
    /// Its keys are in the keychain, under the target's name.
    S3 {
        bucket: String,
        prefix: String,
        /// The storage's URL (`https://s3.example.com`); `None`: AWS.
        #[serde(default)]
        endpoint: Option<String>,
        region: String,
    },
}

/// The region an S3 target is in unless told otherwise.
pub const S3_DEFAULT_REGION: &str = "us-east-1";

impl Location {
    /// `local`, `local:/DIR`, `ssh://SERVER/DIR` (`ssh://SERVER` alone: the server's
    /// [`SERVER_BACKUP_DIR`]). `default_local` is the directory `local` alone means.
    pub fn parse(input: &str, default_local: &str) -> Result<Location, InvalidTarget> {
        let input = input.trim();
        let absolute = |path: &str| -> Result<String, InvalidTarget> {
            let path = path.trim_end_matches('/');
            if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
                return Err(InvalidTarget::Relative(path.to_owned()));
            }
            Ok(path.to_owned())
        };
        if input == "local" {
            return Ok(Location::Local {
                path: default_local.to_owned(),
            });
        }
        if let Some(path) = input.strip_prefix("local:") {
            return Ok(Location::Local {
                path: absolute(path)?,
            });
        }
        if let Some(rest) = input.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let ok_char =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
            let edge =
                |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !(3..=63).contains(&bucket.len())
                || !bucket.chars().all(ok_char)
                || !edge(bucket.chars().next())
                || !edge(bucket.chars().last())
            {
                return Err(InvalidTarget::Bucket(bucket.to_owned()));
            }
            let prefix = prefix.trim_end_matches('/');
            if !prefix.is_empty() && prefix.split('/').any(|p| p.is_empty() || p == "..") {
                return Err(InvalidTarget::Prefix(prefix.to_owned()));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                endpoint: None,
                region: S3_DEFAULT_REGION.to_owned(),
            });
        }
        if let Some(rest) = input.strip_prefix("ssh://") {
            let (server, path) = match rest.split_once('/') {
                Some((server, path)) => (server, format!("/{path}")),
                None => (rest, SERVER_BACKUP_DIR.to_owned()),
            };
            validate_server_name(server)?;
            let path = if path == "/" {
                SERVER_BACKUP_DIR.to_owned()
            } else {
                absolute(&path)?
            };
            return Ok(Location::Server {
                server: server.to_owned(),
                path,
            });
        }
        Err(InvalidTarget::Location(input.to_owned()))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local { path } => write!(f, "local:{path}"),
            Location::Server { server, path } => write!(f, "ssh://{server}{path}"),
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                ..
            } => {
                write!(f, "s3://{bucket}")?;
                if !prefix.is_empty() {
                    write!(f, "/{prefix}")?;
                }
                match endpoint {
                    Some(url) => write!(f, " at {url}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// A named place to keep backups (`berth backup target add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupTarget {
    pub name: String,
    pub location: Location,
    /// The age recipient (`age1…`) every backup kept here is sealed to; `None`: kept as
    /// they are.
    #[serde(default)]
    pub sealed_to: Option<String>,
}

/// When a service is backed up by its server's relay, and how many good backups are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSchedule {
    pub service: String,
    pub cron: crate::cron::Cron,
    pub keep: u32,
    /// The target's name; `None`: the service's own server's [`SERVER_BACKUP_DIR`].
    pub target: Option<String>,
}

/// What `berth backup verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub id: String,
    /// What the kind's check said about the restored data (`3 tables`, `12 keys`).
    pub found: String,
    pub duration_ms: u64,
}

/// How a backup ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum BackupResult {
    Ok,
    Failed { error: String },
}

/// What a backup was, kept as JSON beside its file (`<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// `20261207T030000Z-1a2b3c`: sorts by time.
    pub id: String,
    pub service: String,
    pub server: String,
    pub kind: ServiceKind,
    /// `pgdump`, `sql`, `tar`.
    pub format: String,
    /// The file in the target's directory for the service (`<id>.<format>.zst`).
    pub file: String,
    pub started_at: i64,
    pub duration_ms: u64,
    /// Bytes as the service gave them, and as stored (compressed).
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// SHA-256 of the stored file, hex.
    pub sha256: String,
    #[serde(flatten)]
    pub result: BackupResult,
    /// Who made it: `manual`, `schedule`.
    pub trigger: String,
    /// The age recipient (`age1…`) its file is sealed to; `None`: not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_to: Option<String>,
}

impl BackupRecord {
    /// The order of a history, newest first: by when it started (to the millisecond — two
    /// backups of the same second have ids in random order), then by id.
    pub fn newest_first(a: &BackupRecord, b: &BackupRecord) -> std::cmp::Ordering {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.id.cmp(&a.id))
    }

    pub fn is_good(&self) -> bool {
        self.result == BackupResult::Ok
    }

    /// The id of a backup started at `ms` (Unix milliseconds), with `salt` to tell two of the
    /// same second apart.
    pub fn new_id(ms: i64, salt: u32) -> String {
        let t = crate::cron::Utc::of(ms);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:06x}",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            salt & 0xff_ffff
        )
    }
}

/// Which backups retention removes: good ones beyond the `keep` newest, and failed ones older
/// than the newest good one (a failure since then stays: it says something is wrong); never
/// the newest good one. `records` in any order; ids returned, newest first.
pub fn beyond_retention(records: &[BackupRecord], keep: usize) -> Vec<String> {
    let mut sorted: Vec<&BackupRecord> = records.iter().collect();
    sorted.sort_by(|a, b| BackupRecord::newest_first(a, b));
    let keep = keep.max(1);
    let mut good = 0;
    let mut remove = Vec::new();
    for r in sorted {
        if r.is_good() {
            good += 1;
            if good > keep {
                remove.push(r.id.clone());
            }
        } else if good > 0 {
            remove.push(r.id.clone());
        }
    }
    remove
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, ok: bool) -> BackupRecord {
        BackupRecord {
            id: id.to_owned(),
            service: "db".into(),
            server: "prod".into(),
            kind: ServiceKind::Postgres,
            format: "pgdump".into(),
            file: format!("{id}.pgdump.zst"),
            started_at: 0,
            duration_ms: 0,
            raw_bytes: 0,
            stored_bytes: 0,
            sha256: String::new(),
            result: if ok {
                BackupResult::Ok
            } else {
                BackupResult::Failed {
                    error: "boom".into(),
                }
            },
            trigger: "manual".into(),
            sealed_to: None,
        }
    }

    #[test]
    fn targets_parse_or_say_what_is_wrong() {
        let home = "/home/me/.local/share/berth/backups";
        assert_eq!(
            Location::parse("local", home),
            Ok(Location::Local { path: home.into() })
        );
        assert_eq!(
            Location::parse("ssh://prod/srv/backups/", home),
            Ok(Location::Server {
                server: "prod".into(),
                path: "/srv/backups".into()
            })
        );
        assert_eq!(
            Location::parse("ssh://prod", home).map(|l| l.to_string()),
            Ok("ssh://prod/var/lib/berth/backups".into())
        );
        assert_eq!(
            Location::parse("local:backups", home),
            Err(InvalidTarget::Relative("backups".into()))
        );
        assert_eq!(
            Location::parse("ssh://prod/srv/../etc", home),
            Err(InvalidTarget::Relative("/srv/../etc".into()))
        );
        assert_eq!(
            Location::parse("s3://backups-1/berth/prod/", home),
            Ok(Location::S3 {
                bucket: "backups-1".into(),
                prefix: "berth/prod".into(),
                endpoint: None,
                region: "us-east-1".into()
            })
        );
        assert_eq!(
            Location::parse("s3://b", home),
            Err(InvalidTarget::Bucket("b".into()))
        );
        assert_eq!(
            Location::parse("s3://Backups", home),
            Err(InvalidTarget::Bucket("Backups".into()))
        );
        assert_eq!(
            Location::parse("s3://bucket/a//b", home),
            Err(InvalidTarget::Prefix("a//b".into()))
        );
        assert!(matches!(
            Location::parse("ftp://x", home),
            Err(InvalidTarget::Location(_))
        ));
        assert!(matches!(
            Location::parse("ssh://bad name/x", home),
            Err(InvalidTarget::Name(_))
        ));
    }

    #[test]
    fn ids_sort_by_time() {
        assert_eq!(
            BackupRecord::new_id(1_796_612_400_000, 0xabc),
            "20261207T030000Z-000abc"
        );
        assert!(BackupRecord::new_id(1_000, 1) < BackupRecord::new_id(2_000, 0));
    }

    #[test]
    fn retention_never_removes_the_newest_good_backup() {
        let records = vec![
            record("1", true),
            record("2", true),
            record("3", false),
            record("4", true),
            record("5", false),
        ];
        // keep 2: the two newest good (4, 2) stay; the failed 5 is newer than them and stays;
        // 3 (failed, older than a good one) and 1 go.
        let mut gone = beyond_retention(&records, 2);
        gone.sort();
        assert_eq!(gone, vec!["1", "3"]);
        // Only failures: nothing good to protect, nothing removed.
        assert!(beyond_retention(&[record("1", false), record("2", false)], 1).is_empty());
        // keep 0 still keeps the newest good one.
        assert_eq!(beyond_retention(&records, 0), vec!["3", "2", "1"]);
        // Two of the same second: their ids' random tails say nothing; when they started does.
        let mut older = record("20261207T030000Z-ffffff", true);
        older.started_at = 1_000;
        let mut newer = record("20261207T030000Z-000001", true);
        newer.started_at = 1_400;
        assert_eq!(
            beyond_retention(&[older, newer], 1),
            vec!["20261207T030000Z-ffffff"]
        );
    }
}
