//! Request bodies and headers shaped like the real providers' deliveries, for tests, the
//! benchmark, the fuzz seeds and the docs.
//!
//! The bodies come from templates in `fixtures/*.json` (valid JSON with `{{ref}}`, `{{commit}}`,
//! `{{message}}`, `{{title}}` and `{{before}}` placeholders inside strings), filled in here. A
//! commit of all zeros gives the body the provider sends when the ref is deleted.

use serde_json::Value;

use crate::{Provider, sign_gitea, sign_github};

const GITHUB_PUSH: &str = include_str!("../fixtures/github_push.json");
const GITHUB_PING: &str = include_str!("../fixtures/github_ping.json");
const GITLAB_PUSH: &str = include_str!("../fixtures/gitlab_push.json");
const GITLAB_TAG_PUSH: &str = include_str!("../fixtures/gitlab_tag_push.json");
const GITEA_PUSH: &str = include_str!("../fixtures/gitea_push.json");
const GENERIC_PUSH: &str = include_str!("../fixtures/generic_push.json");

/// GitHub's `push` event body.
pub fn github_push(git_ref: &str, commit: &str, message: &str) -> Vec<u8> {
    let mut body = render(GITHUB_PUSH, git_ref, commit, message);
    if is_zero(commit) {
        set(&mut body, "deleted", Value::Bool(true));
        set(&mut body, "head_commit", Value::Null);
        set(&mut body, "commits", Value::Array(Vec::new()));
    } else if git_ref.starts_with("refs/tags/") {
        // A tag push lists no commits, but names the tagged one as the head commit.
        set(&mut body, "commits", Value::Array(Vec::new()));
    }
    to_bytes(&body)
}

/// GitHub's `ping` event body, sent when a webhook is created.
pub fn github_ping() -> Vec<u8> {
    to_bytes(&render(GITHUB_PING, "", "", ""))
}

/// GitLab's `Push Hook` body, or its `Tag Push Hook` body for a `refs/tags/…` ref.
pub fn gitlab_push(git_ref: &str, commit: &str, message: &str) -> Vec<u8> {
    let template = if git_ref.starts_with("refs/tags/") {
        GITLAB_TAG_PUSH
    } else {
        GITLAB_PUSH
    };
    let mut body = render(template, git_ref, commit, message);
    if is_zero(commit) {
        set(&mut body, "checkout_sha", Value::Null);
        set(&mut body, "commits", Value::Array(Vec::new()));
        set(&mut body, "total_commits_count", Value::from(0));
    }
    to_bytes(&body)
}

/// Gitea's (and Forgejo's) `push` event body.
pub fn gitea_push(git_ref: &str, commit: &str, message: &str) -> Vec<u8> {
    let mut body = render(GITEA_PUSH, git_ref, commit, message);
    if is_zero(commit) {
        set(&mut body, "head_commit", Value::Null);
        set(&mut body, "commits", Value::Array(Vec::new()));
        set(&mut body, "total_commits", Value::from(0));
    }
    to_bytes(&body)
}

/// The generic provider's body: `{"ref": …, "commit": …}`.
pub fn generic_push(git_ref: &str, commit: &str) -> Vec<u8> {
    to_bytes(&render(GENERIC_PUSH, git_ref, commit, ""))
}

/// A CNCF distribution registry's notification of a manifest push of `repository:tag`
/// (`repository` without the host, which the envelope gives in `request.host`).
pub fn registry_push(host: &str, repository: &str, tag: &str, digest: &str) -> Vec<u8> {
    let body = serde_json::json!({"events": [
        {"id": "e1", "action": "push", "target": {
            "mediaType": "application/octet-stream", "repository": repository,
            "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}},
        {"id": "e2", "action": "push", "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "repository": repository, "tag": tag, "digest": digest,
            "url": format!("http://{host}/v2/{repository}/manifests/{digest}")},
         "request": {"host": host, "method": "PUT"}, "actor": {"name": "ci"}}
    ]});
    to_bytes(&body)
}

/// GitHub's `package` event for a container tag published to ghcr.io.
pub fn github_package(owner: &str, name: &str, tag: &str, digest: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "action": "published",
        "package": {"name": name, "namespace": owner, "package_type": "CONTAINER",
            "owner": {"login": owner},
            "package_version": {"version": digest,
                "container_metadata": {"tag": {"name": tag, "digest": digest}}},
            "registry": {"url": "https://ghcr.io", "vendor": "github"}},
        "sender": {"login": "octocat"}
    });
    to_bytes(&body)
}

/// Gitea's `package` event for a container tag pushed to `host`'s registry.
pub fn gitea_package(host: &str, owner: &str, name: &str, version: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "action": "created",
        "package": {"type": "container", "name": name, "version": version,
            "owner": {"login": owner},
            "html_url": format!("https://{host}/{owner}/-/packages/container/{name}/{version}")},
        "sender": {"login": owner}
    });
    to_bytes(&body)
}

/// The generic provider's image body: `{"image": "registry/org/app:tag"}`.
pub fn generic_image(reference: &str) -> Vec<u8> {
    to_bytes(&serde_json::json!({ "image": reference }))
}

/// The headers `provider` sends with `body`: event, delivery id, signature or token,
/// content type and user agent. `event` is `push`, `tag_push` or `ping` (GitHub and Gitea name a
/// tag push `push`; GitLab calls them `Push Hook` and `Tag Push Hook`). Token providers send
/// the secret as text.
pub fn headers(
    provider: Provider,
    event: &str,
    delivery: &str,
    secret: &[u8],
    body: &[u8],
) -> Vec<(String, String)> {
    let hub_event = if event == "tag_push" { "push" } else { event };
    let pairs: Vec<(&str, String)> = match provider {
        Provider::Github => vec![
            ("Content-Type", "application/json".into()),
            ("User-Agent", "GitHub-Hookshot/8a3f1c2".into()),
            ("X-GitHub-Delivery", delivery.into()),
            ("X-GitHub-Event", hub_event.into()),
            ("X-GitHub-Hook-ID", "512837495".into()),
            ("X-GitHub-Hook-Installation-Target-ID", "186853002".into()),
            (
                "X-GitHub-Hook-Installation-Target-Type",
                "repository".into(),
            ),
            ("X-Hub-Signature-256", sign_github(secret, body)),
        ],
        Provider::Gitlab => vec![
            ("Content-Type", "application/json".into()),
            ("User-Agent", "GitLab/17.6.0".into()),
            ("X-Gitlab-Event", gitlab_event(event)),
            ("X-Gitlab-Event-UUID", delivery.into()),
            (
                "X-Gitlab-Webhook-UUID",
                "4a1c3e9e-1f2b-4bb0-8d0a-2f6f2f0c6b7d".into(),
            ),
            ("X-Gitlab-Instance", "https://gitlab.example.com".into()),
            ("Idempotency-Key", delivery.into()),
            (
                "X-Gitlab-Token",
                String::from_utf8_lossy(secret).into_owned(),
            ),
        ],
        // Gitea also sends Gogs' and GitHub's headers, for compatibility.
        Provider::Gitea => vec![
            ("Content-Type", "application/json".into()),
            ("User-Agent", "Go-http-client/1.1".into()),
            ("X-Gitea-Delivery", delivery.into()),
            ("X-Gitea-Event", hub_event.into()),
            ("X-Gitea-Event-Type", hub_event.into()),
            ("X-Gitea-Signature", sign_gitea(secret, body)),
            ("X-Gogs-Delivery", delivery.into()),
            ("X-Gogs-Event", hub_event.into()),
            ("X-Gogs-Signature", sign_gitea(secret, body)),
            ("X-GitHub-Delivery", delivery.into()),
            ("X-GitHub-Event", hub_event.into()),
            ("X-Hub-Signature-256", sign_github(secret, body)),
        ],
        Provider::Generic => vec![
            ("Content-Type", "application/json".into()),
            ("User-Agent", "curl/8.11.0".into()),
            (
                "Authorization",
                format!("Bearer {}", String::from_utf8_lossy(secret)),
            ),
            ("X-Berth-Delivery", delivery.into()),
        ],
    };
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// `push` → `Push Hook`, `tag_push` → `Tag Push Hook`, `merge_request` → `Merge Request Hook`.
fn gitlab_event(event: &str) -> String {
    let words: Vec<String> = event
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    format!("{} Hook", words.join(" "))
}

fn is_zero(commit: &str) -> bool {
    !commit.is_empty() && commit.bytes().all(|b| b == b'0')
}

/// The template with its placeholders filled in. `before` is a fixed sha as long as `commit`.
fn render(template: &str, git_ref: &str, commit: &str, message: &str) -> Value {
    let before = if commit.len() == 64 {
        "5f2c1b7e".repeat(8)
    } else {
        "9049f1265b7d61be4a8904a9a27120d2064dab3b".to_owned()
    };
    let title = message.lines().next().unwrap_or("");
    let fill = [
        ("{{ref}}", git_ref),
        ("{{commit}}", commit),
        ("{{message}}", message),
        ("{{title}}", title),
        ("{{before}}", before.as_str()),
    ];
    // The templates are checked by the tests; a broken one gives `null`.
    let mut value = serde_json::from_str(template).unwrap_or(Value::Null);
    substitute(&mut value, &fill);
    value
}

fn substitute(value: &mut Value, fill: &[(&str, &str)]) {
    match value {
        Value::String(s) if s.contains("{{") => {
            for (placeholder, with) in fill {
                if s.contains(placeholder) {
                    *s = s.replace(placeholder, with);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, fill)),
        Value::Object(fields) => fields.values_mut().for_each(|v| substitute(v, fill)),
        _ => {}
    }
}

fn set(body: &mut Value, key: &str, value: Value) {
    if let Some(fields) = body.as_object_mut() {
        fields.insert(key.to_owned(), value);
    }
}

fn to_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_json_objects_without_leftover_placeholders() {
        let sha = "a".repeat(40);
        let bodies = [
            github_push("refs/heads/main", &sha, "m"),
            github_ping(),
            gitlab_push("refs/heads/main", &sha, "m"),
            gitlab_push("refs/tags/v1", &sha, "m"),
            gitea_push("refs/heads/main", &sha, "m"),
            generic_push("refs/heads/main", &sha),
        ];
        for body in bodies {
            let text = String::from_utf8_lossy(&body);
            assert!(text.starts_with('{'), "{text}");
            assert!(!text.contains("{{"), "{text}");
        }
    }

    #[test]
    fn messages_are_escaped() {
        let body = github_push("refs/heads/main", &"a".repeat(40), "say \"hi\"\n\n\\o/");
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["head_commit"]["message"], "say \"hi\"\n\n\\o/");
    }

    #[test]
    fn gitlab_event_names() {
        assert_eq!(gitlab_event("push"), "Push Hook");
        assert_eq!(gitlab_event("tag_push"), "Tag Push Hook");
        assert_eq!(gitlab_event("merge_request"), "Merge Request Hook");
    }
}
