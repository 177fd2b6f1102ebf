//! The relay's settings: flags, each with a `BERTH_RELAY_*` env var; no config file.

use std::path::PathBuf;

use crate::proto;

pub const USAGE: &str = "usage: berth-relay [serve] [--listen ADDR] [--control PATH] [--data DIR]
                   [--body-limit BYTES] [--rate-limit PER_MINUTE] [--docker SOCKET]
                   [--trusted-proxies LIST] [--max-connections N] [--control-group GID]
                   [--sample-every SECS] [--host-root DIR]
       berth-relay healthcheck [ADDR]
       berth-relay own --uid UID --gid GID PATH…  (as root, before serving: give PATHs to UID:GID)
       berth-relay version

  --listen      public address (BERTH_RELAY_LISTEN, default 0.0.0.0:9080)
  --control     control socket (BERTH_RELAY_CONTROL, default /run/berth-relay/control.sock)
  --control-group
                group (numeric) of the control socket, which is 0660: the Docker socket's, so a
                login user who may use Docker may ask the relay (BERTH_RELAY_CONTROL_GROUP,
                default: the relay's own)
  --data        data directory (BERTH_RELAY_DATA, default /data)
  --body-limit  largest webhook body in bytes (BERTH_RELAY_BODY_LIMIT, default 26214400: GitHub's 25 MB cap)
  --rate-limit  requests per minute per client address, 0 for none (BERTH_RELAY_RATE_LIMIT, default 120)
  --docker      Docker socket for unattended deploys (BERTH_RELAY_DOCKER, default /var/run/docker.sock)
  --trusted-proxies
                whose X-Forwarded-For names the client: comma-separated addresses, host names
                (resolved every 30 s) and `gateway` (this container's default gateway: the host,
                where an adopted Caddy runs); `none` trusts no one (BERTH_RELAY_TRUSTED_PROXIES,
                default berth-proxy,gateway)
  --max-connections
                public connections served at once; more wait to be accepted
                (BERTH_RELAY_MAX_CONNECTIONS, default 512)
  --sample-every
                seconds between stats samples of the apps and the host, 0 for none
                (BERTH_RELAY_SAMPLE_EVERY, default 10)
  --host-root   where the host's / is mounted (read-only), for its disks
                (BERTH_RELAY_HOST_ROOT, default /host)
  --reconcile-every
                seconds between looks for apps drifted from what was deployed (a container
                stopped or removed behind Berth's back, a route gone), put back when seen twice
                in a row; 0 for none (BERTH_RELAY_RECONCILE_EVERY, default 60)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: String,
    pub control: PathBuf,
    pub data: PathBuf,
    pub body_limit: usize,
    pub rate_per_minute: u32,
    /// The host's Docker socket, mounted in: unattended deploys run against it.
    pub docker: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed: addresses, host names, `gateway`.
    pub trusted_proxies: Vec<String>,
    /// Public connections served at once.
    pub max_connections: usize,
    /// The control socket's group (numeric), else the process's.
    pub control_group: Option<u32>,
    /// Seconds between stats samples (0: none).
    pub sample_every: u64,
    /// Where the host's `/` is mounted (its filesystems' use is read there).
    pub host_root: PathBuf,
    /// Seconds between reconciles (0: none).
    pub reconcile_every: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: format!("0.0.0.0:{}", proto::LISTEN_PORT),
            control: PathBuf::from(proto::CONTROL_SOCKET),
            data: PathBuf::from("/data"),
            body_limit: berth_model::RelayConfig::DEFAULT_BODY_LIMIT,
            rate_per_minute: 120,
            docker: PathBuf::from("/var/run/docker.sock"),
            trusted_proxies: vec!["berth-proxy".to_owned(), "gateway".to_owned()],
            max_connections: 512,
            control_group: None,
            sample_every: 10,
            host_root: PathBuf::from("/host"),
            reconcile_every: 60,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("unknown argument `{0}`")]
    Unknown(String),
    #[error("{flag} needs a value")]
    Missing { flag: String },
    #[error("{flag}: `{value}` is not a number")]
    NotANumber { flag: String, value: String },
}

impl Settings {
    /// Env vars first, flags over them.
    pub fn from_args(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut s = Settings::default();
        let set = |s: &mut Settings, flag: &str, value: String| -> Result<(), SettingsError> {
            let number = |v: &str| {
                v.parse::<u64>().map_err(|_| SettingsError::NotANumber {
                    flag: flag.to_owned(),
                    value: v.to_owned(),
                })
            };
            match flag {
                "--listen" => s.listen = value,
                "--control" => s.control = PathBuf::from(value),
                "--data" => s.data = PathBuf::from(value),
                "--docker" => s.docker = PathBuf::from(value),
                "--body-limit" => {
                    s.body_limit = usize::try_from(number(&value)?).unwrap_or(usize::MAX)
                }
                "--rate-limit" => {
                    s.rate_per_minute = u32::try_from(number(&value)?).unwrap_or(u32::MAX)
                }
                "--trusted-proxies" => {
                    s.trusted_proxies = value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty() && *p != "none")
                        .map(str::to_owned)
                        .collect()
                }
                "--control-group" => {
                    s.control_group = Some(u32::try_from(number(&value)?).map_err(|_| {
                        SettingsError::NotANumber {
                            flag: flag.to_owned(),
                            value: value.clone(),
                        }
                    })?)
                }
                "--max-connections" => {
                    s.max_connections = usize::try_from(number(&value)?)
                        .unwrap_or(usize::MAX)
                        .max(1)
                }
                "--sample-every" => s.sample_every = number(&value)?,
                "--host-root" => s.host_root = PathBuf::from(value),
                "--reconcile-every" => s.reconcile_every = number(&value)?,
                other => return Err(SettingsError::Unknown(other.to_owned())),
            }
            Ok(())
        };
        for (flag, var) in [
            ("--listen", "BERTH_RELAY_LISTEN"),
            ("--control", "BERTH_RELAY_CONTROL"),
            ("--data", "BERTH_RELAY_DATA"),
            ("--body-limit", "BERTH_RELAY_BODY_LIMIT"),
            ("--rate-limit", "BERTH_RELAY_RATE_LIMIT"),
            ("--docker", "BERTH_RELAY_DOCKER"),
            ("--trusted-proxies", "BERTH_RELAY_TRUSTED_PROXIES"),
            ("--max-connections", "BERTH_RELAY_MAX_CONNECTIONS"),
            ("--control-group", "BERTH_RELAY_CONTROL_GROUP"),
            ("--sample-every", "BERTH_RELAY_SAMPLE_EVERY"),
            ("--host-root", "BERTH_RELAY_HOST_ROOT"),
            ("--reconcile-every", "BERTH_RELAY_RECONCILE_EVERY"),
        ] {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                set(&mut s, flag, v)?;
            }
        }
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "serve" {
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_owned())),
                None => (arg.as_str(), None),
            };
            if !flag.starts_with("--") {
                return Err(SettingsError::Unknown(arg.clone()));
            }
            let value = match inline {
                Some(v) => v,
                None => it.next().cloned().ok_or_else(|| SettingsError::Missing {
                    flag: flag.to_owned(),
                })?,
            };
            set(&mut s, flag, value)?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_env() {
        let args: Vec<String> = ["serve", "--rate-limit", "0", "--data=/tmp/r"]
            .map(String::from)
            .to_vec();
        let s = Settings::from_args(&args, |k| {
            (k == "BERTH_RELAY_RATE_LIMIT" || k == "BERTH_RELAY_BODY_LIMIT").then(|| "5".to_owned())
        })
        .expect("settings");
        assert_eq!(s.rate_per_minute, 0);
        assert_eq!(s.body_limit, 5);
        assert_eq!(s.data, PathBuf::from("/tmp/r"));
        assert_eq!(s.control_group, None);
        let group = Settings::from_args(&["--control-group=105".into()], |_| None);
        assert_eq!(group.map(|s| s.control_group), Ok(Some(105)));
        assert_eq!(
            Settings::from_args(&["--control-group".into(), "docker".into()], |_| None),
            Err(SettingsError::NotANumber {
                flag: "--control-group".into(),
                value: "docker".into()
            })
        );
        assert_eq!(
            Settings::from_args(&["--bogus".into(), "1".into()], |_| None),
            Err(SettingsError::Unknown("--bogus".into()))
        );
        assert_eq!(
            Settings::from_args(&["--listen".into()], |_| None),
            Err(SettingsError::Missing {
                flag: "--listen".into()
            })
        );
    }
}
