//! Apps: what to build, how to run it and how to tell it is healthy.

use serde::{Deserialize, Serialize};

use crate::names::{InvalidName, validate_app_name, validate_env_key, validate_server_name};

/// Base images used by generated Dockerfiles. Unset fields fall back to the server's, then to
/// the built-in defaults of each runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImages {
    /// Image of the build stage (e.g. `golang:1.23-bookworm`).
    pub build: Option<String>,
    /// Image of the runtime stage (e.g. `debian:bookworm-slim`).
    pub run: Option<String>,
}

impl BaseImages {
    /// `self` where set, otherwise `fallback`.
    pub fn or(&self, fallback: &BaseImages) -> BaseImages {
        BaseImages {
            build: self.build.clone().or_else(|| fallback.build.clone()),
            run: self.run.clone().or_else(|| fallback.run.clone()),
        }
    }
}

/// CPU and memory limits of the app's container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
}

/// A volume mounted into the app's container: a named volume or an absolute path on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

impl Volume {
    /// Parses `SRC:DST[:ro]`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let parts: Vec<&str> = input.split(':').collect();
        let (source, target, read_only) = match parts.as_slice() {
            [s, t] => (*s, *t, false),
            [s, t, "ro"] => (*s, *t, true),
            [s, t, "rw"] => (*s, *t, false),
            _ => {
                return Err(format!(
                    "volume `{input}` must look like SRC:DST or SRC:DST:ro"
                ));
            }
        };
        if source.is_empty() || target.is_empty() {
            return Err(format!("volume `{input}` has an empty side"));
        }
        if !target.starts_with('/') {
            return Err(format!(
                "volume `{input}`: the container path `{target}` must be absolute"
            ));
        }
        let named = source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !source.starts_with('/') && !named {
            return Err(format!(
                "volume `{input}`: `{source}` is neither an absolute server path nor a volume name"
            ));
        }
        Ok(Volume {
            source: source.to_owned(),
            target: target.to_owned(),
            read_only,
        })
    }
}

impl std::fmt::Display for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.target)?;
        if self.read_only {
            f.write_str(":ro")?;
        }
        Ok(())
    }
}

/// How a new container is judged healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// HTTP path probed with GET; 2xx and 3xx are healthy.
    pub path: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub deadline_ms: u64,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: "/".to_owned(),
            interval_ms: 200,
            timeout_ms: 5_000,
            deadline_ms: 30_000,
        }
    }
}

/// One environment variable. Secret values are never stored here: `value` is `None` for them
/// in anything read back from the store, and the value lives in the secrets store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub key: String,
    pub value: Option<String>,
    pub secret: bool,
    /// Also passed to builds as a build arg (see [`App::build_env`]).
    #[serde(default)]
    pub build: bool,
    /// A secret's version: each `env set --secret` makes a new one, and the secrets store
    /// keeps the versions deployments ran with, so a rollback restores the value that ran.
    #[serde(default)]
    pub version: u32,
}

impl EnvVar {
    /// Parses `KEY=VALUE` (the value may be empty and may contain `=`).
    pub fn parse_pair(input: &str) -> Result<(String, String), String> {
        let (k, v) = input
            .split_once('=')
            .ok_or_else(|| format!("env `{input}` must look like KEY=VALUE"))?;
        validate_env_key(k).map_err(|e| e.to_string())?;
        Ok((k.to_owned(), v.to_owned()))
    }
}

/// An app as Berth stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub name: String,
    pub server: String,
    /// The project it belongs to (its variables are the app's too; the app's own win).
    #[serde(default)]
    pub project: Option<String>,
    /// A local path to a git repository or a URL git can clone; empty for an image app.
    pub git: String,
    /// The branch deployed by default; empty for an image app.
    pub branch: String,
    /// An image app's image (`registry/repository:tag`; the tag is the one deployed by
    /// default). `None` for an app built from git.
    #[serde(default)]
    pub image: Option<String>,
    /// Dockerfile path inside the repository; `None` means `Dockerfile` if present, otherwise
    /// runtime detection.
    pub dockerfile: Option<String>,
    /// Port the app listens on inside the container.
    pub port: u16,
    pub health: HealthCheck,
    pub limits: Limits,
    pub volumes: Vec<Volume>,
    pub base_images: BaseImages,
    /// Seconds a stopping container gets between SIGTERM and SIGKILL.
    pub stop_grace_secs: u32,
    /// Seconds the previous container gets to finish in-flight requests after the route
    /// switched away from it, before it is stopped.
    #[serde(default = "default_drain")]
    pub drain_timeout_secs: u32,
    /// How the monitor watches it once deployed (on by default).
    #[serde(default)]
    pub monitor: crate::Monitor,
    /// A shell command run before each switch in a new container from the new image (its env,
    /// network and volumes): a migration. Failing fails the deploy; the old version serves on.
    #[serde(default)]
    pub release_command: Option<String>,
    /// A service's kind (`None`: a web app). A service is replaced by stopping the old
    /// container first, probed inside its container, never routed, reachable by its name on
    /// the server's `berth` network.
    #[serde(default)]
    pub service: Option<crate::ServiceKind>,
    /// A service published on the server's `127.0.0.1` at this port (`None`: not published).
    #[serde(default)]
    pub publish: Option<u16>,
    /// A shell command that starts the app instead of the Procfile's `web` line or what
    /// detection guesses (for an image or a repository's own Dockerfile: instead of its CMD).
    #[serde(default)]
    pub start_command: Option<String>,
    /// Keep the app's directory in a generated image owned by root, so the app cannot write
    /// into its own folder (by default its user owns it, as on Heroku).
    #[serde(default)]
    pub read_only_app_dir: bool,
    /// Env keys whose values are passed to builds as build args (`berth env set … --build`);
    /// never a secret's.
    #[serde(default)]
    pub build_env: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

fn default_drain() -> u32 {
    App::DEFAULT_DRAIN_TIMEOUT_SECS
}

impl App {
    pub const DEFAULT_PORT: u16 = 8080;
    pub const DEFAULT_BRANCH: &'static str = "main";
    pub const DEFAULT_STOP_GRACE_SECS: u32 = 10;
    pub const DEFAULT_DRAIN_TIMEOUT_SECS: u32 = 30;
}

/// What a user supplies to create (or edit) an app; validated into an [`App`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppDraft {
    pub name: String,
    pub server: String,
    /// The project it joins (`None`: none, or unchanged when editing).
    #[serde(default)]
    pub project: Option<String>,
    pub git: String,
    pub branch: Option<String>,
    /// An image to run instead of a git source to build (`registry/repository:tag`).
    #[serde(default)]
    pub image: Option<String>,
    pub dockerfile: Option<String>,
    pub port: Option<u16>,
    pub health_path: Option<String>,
    pub health_deadline_ms: Option<u64>,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub volumes: Vec<Volume>,
    pub base_images: BaseImages,
    pub stop_grace_secs: Option<u32>,
    pub drain_timeout_secs: Option<u32>,
    /// Seconds between the monitor's health probes (0: off).
    #[serde(default)]
    pub monitor_interval_secs: Option<u32>,
    /// Failed probes in a row before the monitor restarts the container.
    #[serde(default)]
    pub unhealthy_after: Option<u32>,
    /// Run before each switch (see [`App::release_command`]).
    #[serde(default)]
    pub release_command: Option<String>,
    /// See [`App::start_command`].
    #[serde(default)]
    pub start_command: Option<String>,
    /// See [`App::read_only_app_dir`].
    #[serde(default)]
    pub read_only_app_dir: Option<bool>,
    /// Plain `KEY=VALUE` pairs set at creation.
    pub env: Vec<(String, String)>,
}

/// `sh -c COMMAND`, with `exec` in front of a simple command so the program itself gets the
/// stop signal (a compound one keeps the shell).
pub fn shell_argv(command: &str) -> Vec<String> {
    let compound = ["&&", "||", ";", "|", "&"]
        .iter()
        .any(|op| command.contains(op));
    let line = if compound || command.starts_with("exec ") {
        command.to_owned()
    } else {
        format!("exec {command}")
    };
    vec!["/bin/sh".to_owned(), "-c".to_owned(), line]
}

/// A field of an [`AppDraft`] that cannot be accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidApp {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error("git source is empty: give a path to a repository or a URL")]
    NoGit,
    #[error("an app is built from git or runs an image, not both: give --git or --image")]
    GitAndImage,
    #[error(transparent)]
    Image(#[from] crate::image::InvalidImage),
    #[error("health path `{0}` must start with `/`")]
    HealthPath(String),
    #[error("port must be between 1 and 65535")]
    Port,
    #[error("branch `{0}` is not a valid git branch name")]
    Branch(String),
    #[error("dockerfile path `{0}` must be relative to the repository and stay inside it")]
    Dockerfile(String),
    #[error(
        "git source `{0}` carries credentials: give the URL without them, and the token with `berth app webhook enable … --git-token -` (kept in the secrets store, never in Berth's records or git's command line)"
    )]
    GitCredentials(String),
    #[error("{0}")]
    Monitor(String),
    #[error("{0}")]
    ReleaseCommand(String),
    #[error("{0}")]
    StartCommand(String),
}

/// An `http(s)://user:token@host/…` URL shown without its credentials (`https://…@host/…`),
/// or `None` when the URL carries none.
fn credentials_hidden(git: &str) -> Option<String> {
    let lower = git.to_ascii_lowercase();
    let scheme_end = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return None;
    };
    let rest = &git[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (_, host) = rest[..authority_end].rsplit_once('@')?;
    Some(format!(
        "{}…@{host}{}",
        &git[..scheme_end],
        &rest[authority_end..]
    ))
}

impl AppDraft {
    /// A draft of `app` as it is (no env: variables have their own commands), to change a
    /// few fields of and validate again (`berth app set`).
    pub fn of(app: &App) -> AppDraft {
        AppDraft {
            name: app.name.clone(),
            server: app.server.clone(),
            project: Some(app.project.clone().unwrap_or_default()),
            git: app.git.clone(),
            branch: (!app.branch.is_empty()).then(|| app.branch.clone()),
            image: app.image.clone(),
            dockerfile: app.dockerfile.clone(),
            port: Some(app.port),
            health_path: Some(app.health.path.clone()),
            health_deadline_ms: Some(app.health.deadline_ms),
            cpus: app.limits.cpus,
            memory_bytes: app.limits.memory_bytes,
            volumes: app.volumes.clone(),
            base_images: app.base_images.clone(),
            stop_grace_secs: Some(app.stop_grace_secs),
            drain_timeout_secs: Some(app.drain_timeout_secs),
            monitor_interval_secs: Some(app.monitor.interval_secs),
            unhealthy_after: Some(app.monitor.unhealthy_after),
            release_command: Some(app.release_command.clone().unwrap_or_default()),
            start_command: Some(app.start_command.clone().unwrap_or_default()),
            read_only_app_dir: Some(app.read_only_app_dir),
            env: Vec::new(),
        }
    }

    /// Checks every field and builds the app, filling defaults. `now` is unix milliseconds.
    pub fn validate(&self, now: i64) -> Result<App, InvalidApp> {
        validate_app_name(&self.name)?;
        validate_server_name(&self.server)?;
        let image = match self.image.as_deref().map(str::trim) {
            Some(image) if !image.is_empty() => {
                if !self.git.trim().is_empty() {
                    return Err(InvalidApp::GitAndImage);
                }
                Some(crate::image::ImageRef::parse(image)?.to_string())
            }
            _ => None,
        };
        if image.is_none() && self.git.trim().is_empty() {
            return Err(InvalidApp::NoGit);
        }
        if let Some(shown) = credentials_hidden(self.git.trim()) {
            return Err(InvalidApp::GitCredentials(shown));
        }
        for (k, _) in &self.env {
            validate_env_key(k)?;
        }
        let health_path = self.health_path.clone().unwrap_or_else(|| "/".to_owned());
        if !health_path.starts_with('/') || health_path.contains(char::is_whitespace) {
            return Err(InvalidApp::HealthPath(health_path));
        }
        let port = self.port.unwrap_or(App::DEFAULT_PORT);
        if port == 0 {
            return Err(InvalidApp::Port);
        }
        let branch = match (&image, &self.branch) {
            (Some(_), _) => String::new(),
            (None, Some(b)) => b.clone(),
            (None, None) => App::DEFAULT_BRANCH.to_owned(),
        };
        let bad_branch = branch.is_empty()
            || branch.starts_with('-')
            || branch.contains("..")
            || branch.contains(|c: char| c.is_whitespace() || "~^:?*[\\".contains(c));
        if image.is_none() && bad_branch {
            return Err(InvalidApp::Branch(branch));
        }
        if let Some(df) = &self.dockerfile
            && (df.is_empty() || df.starts_with('/') || df.split('/').any(|p| p == ".."))
        {
            return Err(InvalidApp::Dockerfile(df.clone()));
        }
        let mut health = HealthCheck {
            path: health_path,
            ..HealthCheck::default()
        };
        if let Some(d) = self.health_deadline_ms {
            health.deadline_ms = d;
        }
        let mut monitor = crate::Monitor::default();
        if let Some(i) = self.monitor_interval_secs {
            if i > 24 * 3600 {
                return Err(InvalidApp::Monitor(format!(
                    "the monitor interval is {i} s; use at most a day"
                )));
            }
            monitor.interval_secs = i;
        }
        if let Some(n) = self.unhealthy_after {
            monitor.unhealthy_after =
                crate::Monitor::check_unhealthy_after(n).map_err(InvalidApp::Monitor)?;
        }
        let project = self.project.clone().filter(|p| !p.is_empty());
        if let Some(p) = &project {
            crate::names::validate_project_name(p)?;
        }
        Ok(App {
            name: self.name.clone(),
            server: self.server.clone(),
            project,
            git: self.git.trim().to_owned(),
            branch,
            dockerfile: if image.is_some() {
                None
            } else {
                self.dockerfile.clone()
            },
            image,
            port,
            health,
            limits: Limits {
                cpus: self.cpus,
                memory_bytes: self.memory_bytes,
            },
            volumes: self.volumes.clone(),
            base_images: self.base_images.clone(),
            stop_grace_secs: self.stop_grace_secs.unwrap_or(App::DEFAULT_STOP_GRACE_SECS),
            drain_timeout_secs: self
                .drain_timeout_secs
                .unwrap_or(App::DEFAULT_DRAIN_TIMEOUT_SECS),
            monitor,
            release_command: App::check_release_command(self.release_command.as_deref())?,
            service: None,
            publish: None,
            start_command: App::check_command("start", self.start_command.as_deref())
                .map_err(InvalidApp::StartCommand)?,
            read_only_app_dir: self.read_only_app_dir.unwrap_or(false),
            build_env: Vec::new(),
            created_at: now,
        })
    }
}

impl App {
    /// The longest release command taken.
    pub const MAX_RELEASE_COMMAND: usize = 2000;

    /// A release command as kept: trimmed, `None` when empty; one that is too long or spans
    /// lines is refused.
    pub fn check_release_command(cmd: Option<&str>) -> Result<Option<String>, InvalidApp> {
        App::check_command("release", cmd).map_err(InvalidApp::ReleaseCommand)
    }

    /// How the app's container starts when its start command is set: `sh -c`, with `exec` in
    /// front of a simple command so the app itself gets the stop signal.
    pub fn start_argv(&self) -> Option<Vec<String>> {
        self.start_command.as_deref().map(shell_argv)
    }

    /// A `what` (release, start) command as kept: trimmed, `None` when empty; one that is too
    /// long or spans lines is refused with why.
    pub fn check_command(what: &str, cmd: Option<&str>) -> Result<Option<String>, String> {
        let Some(cmd) = cmd.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        if cmd.len() > App::MAX_RELEASE_COMMAND {
            return Err(format!(
                "the {what} command is {} characters; keep it under {} (put a longer one in a script in the image)",
                cmd.len(),
                App::MAX_RELEASE_COMMAND
            ));
        }
        if cmd.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "the {what} command must be one line (chain steps with `&&`, or put them in a script in the image)"
            ));
        }
        Ok(Some(cmd.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AppDraft {
        AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            ..AppDraft::default()
        }
    }

    #[test]
    fn defaults_fill_in() {
        let app = draft().validate(7).unwrap();
        assert_eq!(app.port, 8080);
        assert_eq!(app.branch, "main");
        assert_eq!(app.health.path, "/");
        assert_eq!(app.health.interval_ms, 200);
        assert_eq!(app.health.deadline_ms, 30_000);
        assert_eq!(app.created_at, 7);
    }

    #[test]
    fn an_app_builds_git_or_runs_an_image() {
        let image = AppDraft {
            git: String::new(),
            image: Some(" 127.0.0.1:5000/acme/web:1.0 ".into()),
            dockerfile: Some("Dockerfile".into()),
            ..draft()
        }
        .validate(0)
        .unwrap();
        assert_eq!(image.image.as_deref(), Some("127.0.0.1:5000/acme/web:1.0"));
        assert_eq!((image.git.as_str(), image.branch.as_str()), ("", ""));
        assert_eq!(image.dockerfile, None, "nothing is built");
        let both = AppDraft {
            image: Some("acme/web".into()),
            ..draft()
        };
        assert_eq!(both.validate(0), Err(InvalidApp::GitAndImage));
        let neither = AppDraft {
            git: String::new(),
            image: Some(" ".into()),
            ..draft()
        };
        assert_eq!(neither.validate(0), Err(InvalidApp::NoGit));
        let bad = AppDraft {
            git: String::new(),
            image: Some("https://ghcr.io/acme/web".into()),
            ..draft()
        };
        assert!(matches!(bad.validate(0), Err(InvalidApp::Image(_))));
    }

    #[test]
    fn a_git_url_with_credentials_is_refused_without_repeating_them() {
        let mut d = draft();
        d.git = "https://berth:ghp_s3cret@github.com/acme/web.git".into();
        let err = d.validate(0).unwrap_err().to_string();
        assert!(err.contains("https://…@github.com/acme/web.git"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("--git-token"), "{err}");
        d.git = "http://ghp_s3cret@10.0.0.5:3000/acme/web".into();
        assert!(d.validate(0).is_err());
        for fine in [
            "https://github.com/acme/web.git",
            "ssh://git@github.com/acme/web.git",
            "git@github.com:acme/web.git",
            "/src/hello",
        ] {
            d.git = fine.into();
            assert!(d.validate(0).is_ok(), "{fine}");
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let mut d = draft();
        d.name = "my app".into();
        assert!(d.validate(0).unwrap_err().to_string().contains("`my app`"));
        let mut d = draft();
        d.health_path = Some("healthz".into());
        assert_eq!(
            d.validate(0).unwrap_err().to_string(),
            "health path `healthz` must start with `/`"
        );
        let mut d = draft();
        d.dockerfile = Some("../Dockerfile".into());
        assert!(d.validate(0).is_err());
        let mut d = draft();
        d.branch = Some("a b".into());
        assert!(d.validate(0).is_err());
        let mut d = draft();
        d.env = vec![("1X".into(), "v".into())];
        assert!(d.validate(0).is_err());
    }

    #[test]
    fn volumes() {
        let v = Volume::parse("data:/var/lib/app").unwrap();
        assert_eq!((v.source.as_str(), v.read_only), ("data", false));
        assert!(Volume::parse("/srv/x:/x:ro").unwrap().read_only);
        assert!(Volume::parse("data").is_err());
        assert!(Volume::parse("data:relative").is_err());
        assert!(Volume::parse("./rel:/x").is_err());
        assert_eq!(Volume::parse("/a:/b:ro").unwrap().to_string(), "/a:/b:ro");
    }

    #[test]
    fn env_pairs() {
        assert_eq!(
            EnvVar::parse_pair("A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert!(EnvVar::parse_pair("A").is_err());
        assert!(EnvVar::parse_pair("1=x").is_err());
    }
}

/// What every container of a deployment carries as its `berth.spec` label: the app's settings
/// as Berth recorded them when it deployed — no secret value, no env value at all (those are in
/// the container's environment; secret ones are never read back) — so the server alone can
/// rebuild Berth's records (`server import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecLabel {
    pub app: App,
    /// Its domains, the primary one flagged.
    pub domains: Vec<SpecDomain>,
    /// Its env keys, secret ones flagged.
    pub env: Vec<SpecEnv>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDomain {
    pub name: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecEnv {
    pub key: String,
    pub secret: bool,
}

/// What `server import` brought back of one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedApp {
    pub app: String,
    /// The serving deployment recorded as active.
    pub deployment: Option<String>,
    pub image: Option<String>,
    /// Secret env keys whose values must be set again (`berth env set APP KEY=- --secret`).
    pub missing_secrets: Vec<String>,
    /// Why it was not imported (already known, a stage instance, a label it lacks).
    pub skipped: Option<String>,
}
