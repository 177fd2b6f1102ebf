//! Projects: a name that groups apps and services, with variables every member gets (an app's
//! own value of a key wins), and what a deployment ran with (`DeploySpec`), which rollbacks
//! restore and pending changes are measured against.

use serde::{Deserialize, Serialize};

use crate::app::{App, EnvVar, SpecDomain};

/// A group of apps and services (`berth project create shop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    /// The server a member goes to when it is created without `--server`.
    #[serde(default)]
    pub server: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A project with its members and variables (`berth project ls`, the window's sidebar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    pub project: Project,
    /// Its apps and services, by name.
    pub members: Vec<String>,
    /// Its variables (secret values never).
    pub env: Vec<EnvVar>,
}

/// Where a variable an app's containers get comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum EnvSource {
    /// The app's own variable.
    App,
    /// Its project's, shared by every member.
    Project { project: String },
}

impl EnvSource {
    /// `app`, `project shop`.
    pub fn describe(&self) -> String {
        match self {
            EnvSource::App => "app".to_owned(),
            EnvSource::Project { project } => format!("project {project}"),
        }
    }
}

/// One variable as the app's containers get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedVar {
    pub key: String,
    /// `None` for a secret (masked).
    pub value: Option<String>,
    pub secret: bool,
    /// Passed to builds too.
    #[serde(default)]
    pub build: bool,
    /// A secret's version (each `env set --secret` makes a new one).
    #[serde(default)]
    pub version: u32,
    pub from: EnvSource,
    /// The project whose value of the same key the app's own value hides.
    #[serde(default)]
    pub overrides: Option<String>,
}

/// The app's variables over its project's: every key once, the app's own value winning.
/// Sorted by key.
pub fn resolve_env(app: &[EnvVar], project: Option<(&str, &[EnvVar])>) -> Vec<ResolvedVar> {
    let mut out: Vec<ResolvedVar> = app
        .iter()
        .map(|v| ResolvedVar {
            key: v.key.clone(),
            value: v.value.clone(),
            secret: v.secret,
            build: v.build,
            version: v.version,
            from: EnvSource::App,
            overrides: None,
        })
        .collect();
    if let Some((name, vars)) = project {
        for v in vars {
            if let Some(own) = out.iter_mut().find(|o| o.key == v.key) {
                own.overrides = Some(name.to_owned());
                continue;
            }
            out.push(ResolvedVar {
                key: v.key.clone(),
                value: v.value.clone(),
                secret: v.secret,
                build: false,
                version: v.version,
                from: EnvSource::Project {
                    project: name.to_owned(),
                },
                overrides: None,
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Everything a deployment ran with, recorded when it started: the app's settings (limits,
/// port, volumes, health, commands …), its resolved variables — plain values, and for secrets
/// the version only — and its domains. A rollback restores it; `berth plan` diffs against the
/// serving one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploySpec {
    pub app: App,
    pub env: Vec<ResolvedVar>,
    pub domains: Vec<SpecDomain>,
}

/// One difference between two specs, as a user reads it: `memory: 256 MiB → 512 MiB`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecChange {
    /// What changed: `memory`, `env LOG_LEVEL`, `domain shop.example.com`.
    pub field: String,
    /// The value before (`None`: not set). A secret's value is never shown: `secret v2`.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl SpecChange {
    /// `memory: - → 512 MiB`.
    pub fn line(&self) -> String {
        format!(
            "{}: {} → {}",
            self.field,
            self.from.as_deref().unwrap_or("-"),
            self.to.as_deref().unwrap_or("-")
        )
    }
}

/// The smallest thing that puts a spec's changes in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChangeEffect {
    /// Nothing to do on the server (the records only: the monitor's settings, the drain time).
    #[default]
    Record,
    /// The proxy's routes change; the containers stay.
    Route,
    /// A new container from the same image, switched blue-green.
    Restart,
    /// A new image: built from the source or pulled, then switched blue-green.
    Redeploy,
}

impl ChangeEffect {
    pub fn describe(self) -> &'static str {
        match self {
            ChangeEffect::Record => "nothing to do on the server now: the next switch uses it",
            ChangeEffect::Route => "a route change: the running containers stay",
            ChangeEffect::Restart => "a blue-green restart from the serving image",
            ChangeEffect::Redeploy => "a redeploy: a new image, then a blue-green switch",
        }
    }
}

/// `from` → `to` as a list of changes and what applying them takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SpecDiff {
    pub changes: Vec<SpecChange>,
    pub effect: ChangeEffect,
}

impl SpecDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// An app's pending changes: what its records say now against what its serving deployment
/// runs with (`berth plan`, the window's banner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChanges {
    pub app: String,
    /// The serving deployment they are measured against (`None`: nothing serves yet).
    pub deployment: Option<String>,
    pub diff: SpecDiff,
    /// Why nothing could be compared (never deployed, deployed before Berth kept specs).
    #[serde(default)]
    pub note: Option<String>,
}

impl PendingChanges {
    /// Whether applying would do anything.
    pub fn is_empty(&self) -> bool {
        self.diff.is_empty()
    }
}

/// What changes from `from` (a deployment's spec) to `to` (the records now, or the spec a
/// rollback goes back to). Secrets show only that they changed.
pub fn diff_specs(from: &DeploySpec, to: &DeploySpec) -> SpecDiff {
    let mut d = Differ::default();
    let (a, b) = (&from.app, &to.app);
    let redeploy = ChangeEffect::Redeploy;
    let restart = ChangeEffect::Restart;
    let record = ChangeEffect::Record;
    d.field("git", redeploy, opt_str(&a.git), opt_str(&b.git));
    d.field("branch", redeploy, opt_str(&a.branch), opt_str(&b.branch));
    d.field("image", redeploy, a.image.clone(), b.image.clone());
    d.field(
        "dockerfile",
        redeploy,
        a.dockerfile.clone(),
        b.dockerfile.clone(),
    );
    d.field(
        "build image",
        redeploy,
        a.base_images.build.clone(),
        b.base_images.build.clone(),
    );
    d.field(
        "run image",
        redeploy,
        a.base_images.run.clone(),
        b.base_images.run.clone(),
    );
    d.field(
        "app folder",
        redeploy,
        Some(app_dir(a.read_only_app_dir)),
        Some(app_dir(b.read_only_app_dir)),
    );
    let builds = |s: &DeploySpec| -> Vec<String> {
        let mut keys = s.app.build_env.clone();
        keys.sort();
        keys
    };
    d.field(
        "build variables",
        redeploy,
        non_empty(builds(from).join(", ")),
        non_empty(builds(to).join(", ")),
    );
    d.field(
        "port",
        restart,
        Some(a.port.to_string()),
        Some(b.port.to_string()),
    );
    d.field(
        "health path",
        restart,
        Some(a.health.path.clone()),
        Some(b.health.path.clone()),
    );
    d.field(
        "health timeout",
        restart,
        Some(secs(a.health.deadline_ms)),
        Some(secs(b.health.deadline_ms)),
    );
    d.field(
        "cpus",
        restart,
        a.limits.cpus.map(|c| c.to_string()),
        b.limits.cpus.map(|c| c.to_string()),
    );
    d.field(
        "memory",
        restart,
        a.limits.memory_bytes.map(crate::format::bytes),
        b.limits.memory_bytes.map(crate::format::bytes),
    );
    d.field(
        "volumes",
        restart,
        non_empty(volumes(a)),
        non_empty(volumes(b)),
    );
    d.field(
        "start command",
        restart,
        a.start_command.clone(),
        b.start_command.clone(),
    );
    d.field(
        "release command",
        restart,
        a.release_command.clone(),
        b.release_command.clone(),
    );
    d.field(
        "published port",
        restart,
        a.publish.map(|p| p.to_string()),
        b.publish.map(|p| p.to_string()),
    );
    d.field(
        "stop grace",
        record,
        Some(format!("{} s", a.stop_grace_secs)),
        Some(format!("{} s", b.stop_grace_secs)),
    );
    d.field(
        "drain timeout",
        record,
        Some(format!("{} s", a.drain_timeout_secs)),
        Some(format!("{} s", b.drain_timeout_secs)),
    );
    // Variables: every key of either side, in order.
    let mut keys: Vec<&str> = from
        .env
        .iter()
        .chain(&to.env)
        .map(|v| v.key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let before = from.env.iter().find(|v| v.key == key);
        let after = to.env.iter().find(|v| v.key == key);
        // A build variable's value is in the image: changing it takes a build.
        let effect = if [before, after]
            .iter()
            .flatten()
            .any(|v| to.app.build_env.contains(&v.key) || from.app.build_env.contains(&v.key))
        {
            redeploy
        } else {
            restart
        };
        d.field(
            &format!("env {key}"),
            effect,
            before.map(shown_value),
            after.map(shown_value),
        );
    }
    let domains = |s: &DeploySpec| -> Vec<String> {
        let mut names: Vec<String> = s
            .domains
            .iter()
            .map(|d| {
                if d.primary {
                    format!("{} (primary)", d.name)
                } else {
                    d.name.clone()
                }
            })
            .collect();
        names.sort();
        names
    };
    d.field(
        "domains",
        ChangeEffect::Route,
        non_empty(domains(from).join(", ")),
        non_empty(domains(to).join(", ")),
    );
    d.diff
}

#[derive(Default)]
struct Differ {
    diff: SpecDiff,
}

impl Differ {
    fn field(
        &mut self,
        name: &str,
        effect: ChangeEffect,
        from: Option<String>,
        to: Option<String>,
    ) {
        if from == to {
            return;
        }
        self.diff.changes.push(SpecChange {
            field: name.to_owned(),
            from,
            to,
        });
        self.diff.effect = self.diff.effect.max(effect);
    }
}

fn opt_str(s: &str) -> Option<String> {
    non_empty(s.to_owned())
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn app_dir(read_only: bool) -> String {
    if read_only { "read-only" } else { "writable" }.to_owned()
}

fn secs(ms: u64) -> String {
    format!("{} s", ms / 1000)
}

fn volumes(app: &App) -> String {
    app.volumes
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A variable's value as a diff shows it: plain values as they are, secrets by version only,
/// with where it comes from when that is not the app.
fn shown_value(v: &ResolvedVar) -> String {
    let value = if v.secret {
        format!("secret v{}", v.version)
    } else {
        v.value.clone().unwrap_or_default()
    };
    match &v.from {
        EnvSource::App => value,
        from => format!("{value} ({})", from.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppDraft, Volume};

    fn var(key: &str, value: &str) -> EnvVar {
        EnvVar {
            key: key.into(),
            value: Some(value.into()),
            secret: false,
            build: false,
            version: 0,
        }
    }

    fn secret(key: &str, version: u32) -> EnvVar {
        EnvVar {
            key: key.into(),
            value: None,
            secret: true,
            build: false,
            version,
        }
    }

    #[test]
    fn the_apps_own_value_wins_over_its_projects() {
        let app = [var("LOG_LEVEL", "debug")];
        let project = [var("LOG_LEVEL", "info"), secret("API_KEY", 2)];
        let env = resolve_env(&app, Some(("shop", &project)));
        assert_eq!(env.len(), 2);
        assert_eq!(env[0].key, "API_KEY");
        assert_eq!(
            env[0].from,
            EnvSource::Project {
                project: "shop".into()
            }
        );
        assert_eq!(env[0].value, None);
        assert_eq!(env[0].version, 2);
        assert_eq!(env[1].value.as_deref(), Some("debug"));
        assert_eq!(env[1].from, EnvSource::App);
        assert_eq!(env[1].overrides.as_deref(), Some("shop"));
    }

    fn spec() -> DeploySpec {
        let app = AppDraft {
            name: "web".into(),
            server: "prod".into(),
            git: "/src/web".into(),
            ..AppDraft::default()
        }
        .validate(0)
        .unwrap();
        DeploySpec {
            app,
            env: resolve_env(&[var("A", "1"), secret("TOKEN", 1)], None),
            domains: vec![SpecDomain {
                name: "web.example.com".into(),
                primary: true,
            }],
        }
    }

    #[test]
    fn no_change_is_an_empty_diff() {
        let d = diff_specs(&spec(), &spec());
        assert!(d.is_empty());
        assert_eq!(d.effect, ChangeEffect::Record);
    }

    #[test]
    fn a_diff_names_each_change_and_never_a_secrets_value() {
        let from = spec();
        let mut to = spec();
        to.app.limits.memory_bytes = Some(512 << 20);
        to.app.volumes.push(Volume::parse("data:/data").unwrap());
        to.env = resolve_env(&[var("A", "2"), secret("TOKEN", 2)], None);
        let d = diff_specs(&from, &to);
        let shown: Vec<String> = d.changes.iter().map(SpecChange::line).collect();
        assert_eq!(
            shown,
            [
                "memory: - → 512 MiB",
                "volumes: - → data:/data",
                "env A: 1 → 2",
                "env TOKEN: secret v1 → secret v2",
            ]
        );
        assert_eq!(d.effect, ChangeEffect::Restart);
    }

    #[test]
    fn the_biggest_change_decides_the_effect() {
        let from = spec();
        let mut to = spec();
        to.domains.push(SpecDomain {
            name: "www.example.com".into(),
            primary: false,
        });
        assert_eq!(diff_specs(&from, &to).effect, ChangeEffect::Route);
        to.app.branch = "release".into();
        assert_eq!(diff_specs(&from, &to).effect, ChangeEffect::Redeploy);
        let mut drain_only = spec();
        drain_only.app.drain_timeout_secs = 5;
        let d = diff_specs(&from, &drain_only);
        assert_eq!(d.effect, ChangeEffect::Record);
        assert_eq!(d.changes[0].line(), "drain timeout: 30 s → 5 s");
        // The monitor's settings apply at once: never pending.
        let mut monitor_only = spec();
        monitor_only.app.monitor.interval_secs = 0;
        assert!(diff_specs(&from, &monitor_only).is_empty());
    }

    #[test]
    fn a_build_variable_takes_a_build() {
        let from = spec();
        let mut to = spec();
        to.app.build_env = vec!["A".into()];
        to.env = resolve_env(&[var("A", "2"), secret("TOKEN", 1)], None);
        assert_eq!(diff_specs(&from, &to).effect, ChangeEffect::Redeploy);
    }
}
