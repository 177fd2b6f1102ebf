//! Stages of an image app (Docker Watcher's dev / rel / prod): which tags each takes, how many
//! run side by side, where they answer, and how a tag gets there (automatically, by promotion,
//! only with a yes).

use serde::{Deserialize, Serialize};

use crate::names::{InvalidName, validate_slug};

/// The subdomain pattern of a server's stages unless it sets its own: `{stage}` and `{app}`
/// are replaced; an instance adds `-{tag}`.
pub const DEFAULT_STAGE_PATTERN: &str = "stage-{stage}-{app}";

/// The most instances a stage may keep running side by side.
pub const MAX_INSTANCES: u32 = 10;

/// A stage of an image app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub app: String,
    pub name: String,
    /// Tag patterns (`dev-*`, `v*`; several separated by `,`): the tags the stage takes.
    pub tags: String,
    /// A new matching tag (webhook, polling) deploys without anyone asking.
    pub auto_deploy: bool,
    /// The newest healthy tags kept running side by side, each at its own subdomain.
    pub max_instances: u32,
    /// Promotion into this stage takes only tags that ran healthy in that stage.
    pub promote_from: Option<String>,
    /// Never deploys without the user's yes.
    pub confirm: bool,
    /// The stage's own name under the server's base domain instead of the pattern's
    /// (`web` for a production stage answering at web.<base>).
    pub subdomain: Option<String>,
    pub created_at: i64,
}

/// What `app stage add` and the window send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDraft {
    pub app: String,
    pub name: String,
    pub tags: String,
    pub auto_deploy: bool,
    pub max_instances: Option<u32>,
    pub promote_from: Option<String>,
    pub confirm: bool,
    pub subdomain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidStage {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error(
        "stage tag pattern `{0}` is not a tag pattern: tag characters (letters, digits, `_`, `.`, `-`) with `*` and `?`, several separated by `,`"
    )]
    Pattern(String),
    #[error("--max-instances must be 1 to {MAX_INSTANCES}, not {0}")]
    MaxInstances(u32),
    #[error("a stage cannot promote from itself")]
    PromoteFromItself,
    #[error(
        "a stage that needs confirmation (--confirm) cannot also deploy on its own (--auto-deploy): choose one"
    )]
    AutoAndConfirm,
    #[error("subdomain `{0}` is not a DNS label (lowercase letters, digits and `-`, up to 63)")]
    Subdomain(String),
}

impl StageDraft {
    pub fn validate(&self, created_at: i64) -> Result<Stage, InvalidStage> {
        validate_slug("stage", &self.name)?;
        let tags = self.tags.trim();
        if !valid_pattern(tags) {
            return Err(InvalidStage::Pattern(self.tags.clone()));
        }
        let max_instances = self.max_instances.unwrap_or(1);
        if !(1..=MAX_INSTANCES).contains(&max_instances) {
            return Err(InvalidStage::MaxInstances(max_instances));
        }
        let promote_from = self
            .promote_from
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(from) = promote_from {
            validate_slug("stage", from)?;
            if from == self.name {
                return Err(InvalidStage::PromoteFromItself);
            }
        }
        if self.confirm && self.auto_deploy {
            return Err(InvalidStage::AutoAndConfirm);
        }
        let subdomain = self
            .subdomain
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(sub) = subdomain
            && dns_label(sub, 63) != sub
        {
            return Err(InvalidStage::Subdomain(sub.to_owned()));
        }
        Ok(Stage {
            app: self.app.clone(),
            name: self.name.clone(),
            tags: tags.to_owned(),
            auto_deploy: self.auto_deploy,
            max_instances,
            promote_from: promote_from.map(str::to_owned),
            confirm: self.confirm,
            subdomain: subdomain.map(str::to_owned),
            created_at,
        })
    }
}

fn valid_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern.split(',').all(|p| {
            let p = p.trim();
            !p.is_empty()
                && p.len() <= 128
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-*?".contains(c))
        })
}

impl Stage {
    /// Does `tag` match one of the stage's patterns?
    pub fn takes(&self, tag: &str) -> bool {
        self.tags.split(',').any(|p| glob_match(p.trim(), tag))
    }

    /// The stage's own subdomain label: its `subdomain`, else the server's pattern.
    pub fn subdomain_label(&self, pattern: &str) -> String {
        match &self.subdomain {
            Some(s) => s.clone(),
            None => self.pattern_label(pattern),
        }
    }

    /// The server's pattern filled in for this stage, as a DNS label.
    fn pattern_label(&self, pattern: &str) -> String {
        dns_label(
            &pattern
                .replace("{stage}", &self.name)
                .replace("{app}", &self.app),
            63,
        )
    }

    /// The label of the instance running `tag`: the stage's pattern label plus the tag,
    /// made DNS-safe (dots become dashes, lowercase) and cut to 63.
    pub fn instance_label(&self, pattern: &str, tag: &str) -> String {
        dns_label(&format!("{}-{tag}", self.pattern_label(pattern)), 63)
    }
}

/// What a new tag of an image app (a webhook's push, polling) leads to — the same answer for
/// `berth watch`, the desktop and the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagDecision {
    /// Deploy it: into this stage (`None`: the app has no stages, it is the app's own tag).
    Deploy(Option<String>),
    /// A stage takes it but deploys only when asked: what to tell the user.
    Wait(String),
    /// Nothing takes it.
    Ignore,
}

/// What a new `tag` of `app` leads to: an auto-deploy stage that takes it deploys it; stages
/// that take it but wait for a yes announce it; without stages only the app's own tag
/// (`own_tag`, one that moved) deploys.
pub fn decide_tag(app: &str, stages: &[Stage], own_tag: &str, tag: &str) -> TagDecision {
    if stages.is_empty() {
        return if tag == own_tag {
            TagDecision::Deploy(None)
        } else {
            TagDecision::Ignore
        };
    }
    let taking: Vec<&Stage> = stages.iter().filter(|s| s.takes(tag)).collect();
    if let Some(auto) = taking.iter().find(|s| s.auto_deploy) {
        return TagDecision::Deploy(Some(auto.name.clone()));
    }
    let Some(first) = taking.first() else {
        return TagDecision::Ignore;
    };
    let names: Vec<&str> = taking.iter().map(|s| s.name.as_str()).collect();
    TagDecision::Wait(format!(
        "tag {tag} for stage {} (deploys on request): `berth deploy {app} --stage {} --tag {tag}`",
        names.join(", "),
        first.name
    ))
}

/// `*` any run of characters, `?` one character; everything else literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `V1.2.0_rc` → `v1-2-0-rc`: lowercase letters, digits and single dashes, no dash at either
/// end, at most `max` long.
pub fn dns_label(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_owned()
}

/// An image app's instance: the app record (named by its subdomain label) that runs one tag
/// of one stage, with its own deployments, container and route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInstance {
    /// The instance's own app name (`stage-dev-web-dev-4f2a`).
    pub instance: String,
    pub app: String,
    pub stage: String,
    pub tag: String,
    pub created_at: i64,
}

/// A stage as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStatus {
    pub name: String,
    pub tags: String,
    pub auto_deploy: bool,
    pub max_instances: u32,
    pub promote_from: Option<String>,
    pub confirm: bool,
    /// The stage's own URL (it follows the newest instance), when the server has a base domain.
    pub url: Option<String>,
    /// Newest first.
    pub instances: Vec<InstanceStatus>,
}

/// One running (or failed) instance of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Its app name, for `berth logs`, `stop`, `start`.
    pub app: String,
    pub tag: String,
    pub digest: Option<String>,
    /// `running`, `stopped`, `failed`, `deploying`, …
    pub state: String,
    pub urls: Vec<String>,
    pub deployed_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, tags: &str) -> Stage {
        StageDraft {
            app: "web".into(),
            name: name.into(),
            tags: tags.into(),
            ..StageDraft::default()
        }
        .validate(0)
        .unwrap()
    }

    #[test]
    fn a_new_tag_deploys_waits_or_is_ignored() {
        let dev = Stage {
            auto_deploy: true,
            ..stage("dev", "dev-*")
        };
        let prod = stage("prod", "v*");
        let stages = [dev, prod];
        assert_eq!(
            decide_tag("web", &stages, "1", "dev-2"),
            TagDecision::Deploy(Some("dev".into()))
        );
        assert_eq!(
            decide_tag("web", &stages, "1", "v2"),
            TagDecision::Wait(
                "tag v2 for stage prod (deploys on request): `berth deploy web --stage prod --tag v2`"
                    .into()
            )
        );
        assert_eq!(
            decide_tag("web", &stages, "1", "latest"),
            TagDecision::Ignore
        );
        // Without stages only the app's own tag (moved to a new image) deploys.
        assert_eq!(decide_tag("web", &[], "1", "1"), TagDecision::Deploy(None));
        assert_eq!(decide_tag("web", &[], "1", "2"), TagDecision::Ignore);
    }

    #[test]
    fn patterns_pick_tags() {
        let dev = stage("dev", "dev-*");
        assert!(dev.takes("dev-4f2a") && !dev.takes("v1.0") && !dev.takes("xdev-1"));
        let rel = stage("rel", "v*.*.*, rc-?");
        assert!(
            rel.takes("v1.2.0") && rel.takes("rc-1") && !rel.takes("rc-10") && !rel.takes("v1")
        );
        assert!(glob_match("*", "") && glob_match("a*b*c", "aXbYbc") && !glob_match("a*b", "ac"));
    }

    #[test]
    fn subdomains_follow_the_pattern_and_are_dns_safe() {
        let dev = stage("dev", "dev-*");
        assert_eq!(dev.subdomain_label(DEFAULT_STAGE_PATTERN), "stage-dev-web");
        assert_eq!(
            dev.instance_label(DEFAULT_STAGE_PATTERN, "dev-4f2a"),
            "stage-dev-web-dev-4f2a"
        );
        assert_eq!(
            dev.instance_label(DEFAULT_STAGE_PATTERN, "V1.2.0_RC"),
            "stage-dev-web-v1-2-0-rc"
        );
        assert_eq!(dev.instance_label("{app}-{stage}", "1.0"), "web-dev-1-0");
        let long = dev.instance_label(DEFAULT_STAGE_PATTERN, &"a".repeat(100));
        assert_eq!(long.len(), 63);
        let mut prod = stage("prod", "v*");
        prod.subdomain = Some("web".into());
        assert_eq!(prod.subdomain_label(DEFAULT_STAGE_PATTERN), "web");
    }

    #[test]
    fn bad_stages_say_what_is_wrong() {
        let draft = StageDraft {
            app: "web".into(),
            name: "dev".into(),
            tags: "dev-*".into(),
            ..StageDraft::default()
        };
        for (bad, says) in [
            (
                StageDraft {
                    tags: "dev/*".into(),
                    ..draft.clone()
                },
                "not a tag pattern",
            ),
            (
                StageDraft {
                    tags: " ".into(),
                    ..draft.clone()
                },
                "not a tag pattern",
            ),
            (
                StageDraft {
                    max_instances: Some(0),
                    ..draft.clone()
                },
                "1 to 10",
            ),
            (
                StageDraft {
                    promote_from: Some("dev".into()),
                    ..draft.clone()
                },
                "itself",
            ),
            (
                StageDraft {
                    confirm: true,
                    auto_deploy: true,
                    ..draft.clone()
                },
                "choose one",
            ),
            (
                StageDraft {
                    subdomain: Some("Web.x".into()),
                    ..draft.clone()
                },
                "DNS label",
            ),
            (
                StageDraft {
                    name: "Dev Stage".into(),
                    ..draft.clone()
                },
                "stage",
            ),
        ] {
            let err = bad.validate(0).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
