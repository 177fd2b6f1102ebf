//! Turning a (verified) request into an [`Event`]: the event header, the body's encoding, and
//! each provider's push payload; plus the delivery id and event name kept in records.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::text::{clean_line, first_line, sha256_hex, truncate_chars};
use crate::{Event, Headers, Provider, Push, Rejection};

const GITHUB_EVENT: &[&str] = &["X-GitHub-Event"];
const GITEA_EVENT: &[&str] = &["X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event"];
const GITLAB_EVENT: &[&str] = &["X-Gitlab-Event"];

/// Longest ref accepted from a body.
const MAX_REF: usize = 255;
/// Longest commit message line, pusher and repository name kept.
const MAX_TEXT: usize = 200;
/// Longest delivery id taken from a header.
const MAX_DELIVERY_ID: usize = 200;
/// Longest event name.
const MAX_EVENT: usize = 64;
/// Most characters of the request echoed in a message.
const MAX_ECHO: usize = 80;

/// Parses the request into an event. Call it after [`verify`](crate::verify): it trusts the
/// body's content, not its shape, and never panics.
///
/// Only push bodies are read: other events become [`Event::Other`] whatever their body.
/// A body sent as `application/x-www-form-urlencoded` (GitHub's and Gitea's "form" content
/// type) is read from its `payload` field.
pub fn parse(provider: Provider, headers: &dyn Headers, body: &[u8]) -> Result<Event, Rejection> {
    match provider {
        Provider::Github | Provider::Gitea => {
            let names = if provider == Provider::Github {
                GITHUB_EVENT
            } else {
                GITEA_EVENT
            };
            let event = required_event(provider, headers, names)?;
            match event.as_str() {
                "ping" if provider == Provider::Github => Ok(Event::Ping),
                "push" => hub_push(headers, body).map(Event::Push),
                "package" | "registry_package" => {
                    let body = payload(headers, body)?;
                    let image = if provider == Provider::Github {
                        crate::image::github_package(&body)?
                    } else {
                        crate::image::gitea_package(&body)?
                    };
                    Ok(image.map_or(Event::Other { event }, Event::Image))
                }
                _ => Ok(Event::Other { event }),
            }
        }
        Provider::Gitlab => {
            let event = required_event(provider, headers, GITLAB_EVENT)?;
            match event.as_str() {
                "push" | "tag_push" => gitlab_push(headers, body).map(Event::Push),
                // Instance-wide system hooks send pushes too; their kind is in the body.
                "system" => {
                    let kind: Kind = json(headers, body)?;
                    match kind.object_kind.as_deref() {
                        Some("push" | "tag_push") => gitlab_push(headers, body).map(Event::Push),
                        _ => Ok(Event::Other { event }),
                    }
                }
                _ => Ok(Event::Other { event }),
            }
        }
        Provider::Generic => generic(headers, body),
    }
}

/// The event name as the provider calls it, for records: `push`, `ping`, `tag_push`,
/// `pull_request`, `merge_request` … (GitLab's `Push Hook` becomes `push`); always `push` for
/// the generic provider; `unknown` when the header is missing or has nothing usable.
/// At most 64 characters of `[a-z0-9_.-]`.
pub fn event_name(provider: Provider, headers: &dyn Headers) -> String {
    let (names, gitlab) = match provider {
        Provider::Github => (GITHUB_EVENT, false),
        Provider::Gitea => (GITEA_EVENT, false),
        Provider::Gitlab => (GITLAB_EVENT, true),
        Provider::Generic => return "push".to_owned(),
    };
    names
        .iter()
        .find_map(|n| headers.get(n))
        .and_then(|raw| normalize_event(raw, gitlab))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The provider's id for this delivery, the same when it redelivers: GitHub's
/// `X-GitHub-Delivery`, Gitea's `X-Gitea-Delivery` (or Forgejo's), GitLab's
/// `X-Gitlab-Event-UUID` then `Idempotency-Key`, the generic `X-Berth-Delivery` then
/// `Idempotency-Key`. A header value counts when, trimmed, it is 1 to 200 printable ASCII
/// characters; without one the id is `sha256:<hex of the body>`, so a byte-identical
/// redelivery is still recognised.
pub fn delivery_id(provider: Provider, headers: &dyn Headers, body: &[u8]) -> String {
    let names: &[&str] = match provider {
        Provider::Github => &["X-GitHub-Delivery"],
        Provider::Gitea => &["X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gogs-Delivery"],
        Provider::Gitlab => &["X-Gitlab-Event-UUID", "Idempotency-Key"],
        Provider::Generic => &["X-Berth-Delivery", "Idempotency-Key"],
    };
    names
        .iter()
        .filter_map(|n| headers.get(n))
        .map(str::trim)
        .find(|v| {
            !v.is_empty()
                && v.len() <= MAX_DELIVERY_ID
                && v.bytes().all(|b| (0x20..=0x7e).contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sha256:{}", sha256_hex(body)))
}

/// What identifies a delivery's content: the SHA-256 of its body. A signature covers only the
/// body, so a captured delivery re-sent with a fresh delivery-id header has the same digest —
/// that is how a replay is told from a new push.
pub fn body_digest(body: &[u8]) -> String {
    sha256_hex(body)
}

fn normalize_event(raw: &str, gitlab: bool) -> Option<String> {
    let mut name: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    if gitlab && let Some(stem) = name.strip_suffix("_hook") {
        name = stem.to_owned();
    }
    name.truncate(MAX_EVENT); // ASCII only, so this cuts on a character boundary.
    (!name.is_empty()).then_some(name)
}

fn required_event(
    provider: Provider,
    headers: &dyn Headers,
    names: &[&'static str],
) -> Result<String, Rejection> {
    match names.first() {
        Some(first) if names.iter().all(|n| headers.get(n).is_none()) => {
            Err(Rejection::MissingEvent { header: first })
        }
        _ => Ok(event_name(provider, headers)),
    }
}

// ---------------------------------------------------------------------------------------------
// Body decoding

/// The JSON in the body, decoded from a form's `payload` field when it was sent as a form.
pub(crate) fn payload<'a>(
    headers: &dyn Headers,
    body: &'a [u8],
) -> Result<Cow<'a, [u8]>, Rejection> {
    let content_type = headers.get("Content-Type").unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        // `curl -d '{…}'` sends JSON under this type too.
        if body.trim_ascii_start().starts_with(b"{") {
            return Ok(Cow::Borrowed(body));
        }
        return form_field(body, b"payload")
            .map(Cow::Owned)
            .ok_or_else(|| Rejection::body("the form-encoded body has no `payload` field"));
    }
    let clearly_not_json = media.starts_with("multipart/")
        || media.starts_with("image/")
        || media.starts_with("audio/")
        || media.starts_with("video/")
        || media.ends_with("xml")
        || media == "text/html";
    if clearly_not_json {
        return Err(Rejection::UnsupportedContentType {
            content_type: clean_line(content_type, MAX_ECHO).unwrap_or_default(),
        });
    }
    Ok(Cow::Borrowed(body))
}

/// The first `name=value` field of an `application/x-www-form-urlencoded` body, decoded.
fn form_field(body: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (pair.get(..i)?, pair.get(i + 1..)?),
            None => (pair, &[][..]),
        };
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

/// Form decoding: `+` is a space, `%XX` a byte; a `%` not followed by two hex digits is kept.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => out.push(b' '),
            b'%' => match tail {
                [hi, lo, after @ ..] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    out.push(hex_value(*hi) << 4 | hex_value(*lo));
                    rest = after;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
    }
    out
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

pub(crate) fn json<T: DeserializeOwned>(
    headers: &dyn Headers,
    body: &[u8],
) -> Result<T, Rejection> {
    let payload = payload(headers, body)?;
    if payload.trim_ascii().is_empty() {
        return Err(Rejection::body(
            "the body is empty (expected a JSON push payload)",
        ));
    }
    serde_json::from_slice(&payload).map_err(json_error)
}

/// serde_json's message, with at most 80 characters of whatever of the input it quotes.
fn json_error(err: serde_json::Error) -> Rejection {
    use serde_json::error::Category;
    let what = match err.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Eof => "is cut short",
        Category::Data => "is not a push payload",
    };
    let full = err.to_string();
    let location = format!(" at line {} column {}", err.line(), err.column());
    let detail = full.strip_suffix(&location).unwrap_or(&full);
    let detail = clean_line(detail, MAX_ECHO).unwrap_or_default();
    let reason = if err.line() == 0 {
        format!("the body {what}: {detail}")
    } else {
        format!("the body {what}: {detail}{location}")
    };
    Rejection::MalformedBody { reason }
}

// ---------------------------------------------------------------------------------------------
// Fields

/// A `before`/`after`-style sha: all zeros means "no commit" (a created or deleted ref).
#[derive(Debug, PartialEq)]
enum Sha {
    Zero,
    Commit(String),
}

/// 40 (SHA-1) or 64 (SHA-256) hex digits, lowercased. An empty string counts as absent.
fn sha(field: &str, value: Option<&str>) -> Result<Option<Sha>, Rejection> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if !matches!(value.len(), 40 | 64) || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Rejection::body(format!(
            "`{field}` is not a commit sha (40 or 64 hex digits): `{}`",
            clean_line(value, MAX_ECHO).unwrap_or_default()
        )));
    }
    if value.bytes().all(|b| b == b'0') {
        Ok(Some(Sha::Zero))
    } else {
        Ok(Some(Sha::Commit(value.to_ascii_lowercase())))
    }
}

/// A ref as sent: non-empty, at most 255 bytes, without whitespace or control characters.
fn git_ref(field: &str, value: &str) -> Result<String, Rejection> {
    let ok = !value.is_empty()
        && value.len() <= MAX_REF
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(value.to_owned())
    } else if value.is_empty() {
        Err(Rejection::body(format!("`{field}` is empty")))
    } else {
        Err(Rejection::body(format!(
            "`{field}` is not a git ref: `{}`",
            truncate_chars(&value.escape_debug().to_string(), MAX_ECHO)
        )))
    }
}

pub(crate) fn text(value: Option<&str>) -> Option<String> {
    value.and_then(|v| clean_line(v, MAX_TEXT))
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct Kind {
    object_kind: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: Option<String>,
    username: Option<String>,
    name: Option<String>,
}

impl User {
    fn handle(&self) -> Option<&str> {
        self.login
            .as_deref()
            .or(self.username.as_deref())
            .or(self.name.as_deref())
            .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
}

/// The message of the commit with `id` in `commits`.
fn message_of(commits: Option<&[Commit]>, id: Option<&str>) -> Option<String> {
    let id = id?;
    commits?
        .iter()
        .find(|c| c.id.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(id)))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| first_line(m, MAX_TEXT))
}

// ---------------------------------------------------------------------------------------------
// GitHub and Gitea

/// GitHub's push payload; Gitea's and Forgejo's have the same fields.
#[derive(Deserialize)]
#[serde(expecting = "a push payload object")]
struct HubPush {
    #[serde(rename = "ref")]
    git_ref: String,
    after: Option<String>,
    deleted: Option<bool>,
    head_commit: Option<Commit>,
    commits: Option<Vec<Commit>>,
    pusher: Option<User>,
    sender: Option<User>,
    repository: Option<Repository>,
}

fn hub_push(headers: &dyn Headers, body: &[u8]) -> Result<Push, Rejection> {
    let p: HubPush = json(headers, body)?;
    let git_ref = git_ref("ref", &p.git_ref)?;
    let after = sha("after", p.after.as_deref())?;
    let deleted = p.deleted.unwrap_or(false) || after == Some(Sha::Zero);
    let commit = match after {
        _ if deleted => None,
        Some(Sha::Commit(c)) => Some(c),
        _ => {
            let head = p.head_commit.as_ref().and_then(|h| h.id.as_deref());
            match sha("head_commit.id", head)? {
                Some(Sha::Commit(c)) => Some(c),
                _ => None,
            }
        }
    };
    let message = message_of(p.commits.as_deref(), commit.as_deref()).or_else(|| {
        p.head_commit
            .as_ref()
            .and_then(|h| h.message.as_deref())
            .and_then(|m| first_line(m, MAX_TEXT))
    });
    let pusher = p.pusher.as_ref().and_then(User::handle);
    let pusher = pusher.or_else(|| p.sender.as_ref().and_then(User::handle));
    Ok(Push {
        git_ref,
        commit,
        deleted,
        message,
        pusher: text(pusher),
        repository: text(p.repository.as_ref().and_then(|r| r.full_name.as_deref())),
    })
}

// ---------------------------------------------------------------------------------------------
// GitLab

#[derive(Deserialize)]
#[serde(expecting = "a push payload object")]
struct GitlabPush {
    #[serde(rename = "ref")]
    git_ref: String,
    after: Option<String>,
    checkout_sha: Option<String>,
    /// A tag push's annotation.
    message: Option<String>,
    commits: Option<Vec<Commit>>,
    user_username: Option<String>,
    user_name: Option<String>,
    project: Option<GitlabProject>,
}

#[derive(Deserialize)]
struct GitlabProject {
    path_with_namespace: Option<String>,
}

fn gitlab_push(headers: &dyn Headers, body: &[u8]) -> Result<Push, Rejection> {
    let p: GitlabPush = json(headers, body)?;
    let git_ref = git_ref("ref", &p.git_ref)?;
    let after = sha("after", p.after.as_deref())?;
    let checkout = sha("checkout_sha", p.checkout_sha.as_deref())?;
    let deleted = after == Some(Sha::Zero);
    let commit = match (checkout, after) {
        _ if deleted => None,
        (Some(Sha::Commit(c)), _) | (_, Some(Sha::Commit(c))) => Some(c),
        _ => None,
    };
    // Commits are oldest first; a tag push has none, but may have an annotation.
    let message = message_of(p.commits.as_deref(), commit.as_deref())
        .or_else(|| {
            p.commits
                .as_deref()
                .and_then(<[Commit]>::last)
                .and_then(|c| c.message.as_deref())
                .and_then(|m| first_line(m, MAX_TEXT))
        })
        .or_else(|| p.message.as_deref().and_then(|m| first_line(m, MAX_TEXT)));
    Ok(Push {
        git_ref,
        commit,
        deleted,
        message,
        pusher: text(p.user_username.as_deref().or(p.user_name.as_deref())),
        repository: text(
            p.project
                .as_ref()
                .and_then(|p| p.path_with_namespace.as_deref()),
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Generic

/// `{"ref": "refs/heads/main"}`, `{"branch": "main"}` or `{"tag": "v1"}`, with an optional
/// `commit` (or `after`), `message`, `pusher` and `repository`; or `{"ping": true}`.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct GenericBody {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    branch: Option<String>,
    tag: Option<String>,
    commit: Option<String>,
    after: Option<String>,
    message: Option<String>,
    pusher: Option<String>,
    repository: Option<String>,
    ping: Option<bool>,
}

const GENERIC_NEEDS_REF: &str = "generic body needs `ref`, `branch` or `tag`";

fn generic(headers: &dyn Headers, body: &[u8]) -> Result<Event, Rejection> {
    if body.trim_ascii().is_empty() {
        return Err(Rejection::body(GENERIC_NEEDS_REF));
    }
    if let Some(event) = crate::image::generic_image(headers, body)? {
        return Ok(event);
    }
    let b: GenericBody = json(headers, body)?;
    if b.ping == Some(true) {
        return Ok(Event::Ping);
    }
    let full = match (&b.git_ref, &b.branch, &b.tag) {
        (Some(r), None, None) if r.starts_with("refs/") => r.clone(),
        (Some(r), None, None) => nonempty_name("ref", r, "refs/heads/")?,
        (None, Some(branch), None) => nonempty_name("branch", branch, "refs/heads/")?,
        (None, None, Some(tag)) => nonempty_name("tag", tag, "refs/tags/")?,
        (None, None, None) => return Err(Rejection::body(GENERIC_NEEDS_REF)),
        _ => return Err(Rejection::body("give only one of `ref`, `branch` or `tag`")),
    };
    let git_ref = git_ref("ref", &full)?;
    let (field, value) = match (&b.commit, &b.after) {
        (Some(c), _) => ("commit", Some(c.as_str())),
        (None, a) => ("after", a.as_deref()),
    };
    let (commit, deleted) = match sha(field, value)? {
        Some(Sha::Commit(c)) => (Some(c), false),
        Some(Sha::Zero) => (None, true),
        None => (None, false),
    };
    Ok(Event::Push(Push {
        git_ref,
        commit,
        deleted,
        message: b.message.as_deref().and_then(|m| first_line(m, MAX_TEXT)),
        pusher: text(b.pusher.as_deref()),
        repository: text(b.repository.as_deref()),
    }))
}

/// `prefix` + `name`, unless `name` already starts with `prefix`.
fn nonempty_name(field: &str, name: &str, prefix: &str) -> Result<String, Rejection> {
    let name = name.strip_prefix(prefix).unwrap_or(name);
    if name.is_empty() {
        return Err(Rejection::body(format!("`{field}` is empty")));
    }
    Ok(format!("{prefix}{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(percent_decode(b"a+b%20c%7B%7d%"), b"a b c{}%");
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
        assert_eq!(
            form_field(b"x=1&payload=%7B%22a%22%3A1%7D&payload=2", b"payload"),
            Some(b"{\"a\":1}".to_vec())
        );
        assert_eq!(form_field(b"pay%6Coad=1", b"payload"), Some(b"1".to_vec()));
        assert_eq!(form_field(b"payload", b"payload"), Some(Vec::new()));
        assert_eq!(form_field(b"other=1", b"payload"), None);
    }

    #[test]
    fn event_names() {
        let cases = [
            (Provider::Github, "X-GitHub-Event", "push", "push"),
            (
                Provider::Github,
                "X-GitHub-Event",
                "pull_request",
                "pull_request",
            ),
            (Provider::Gitlab, "X-Gitlab-Event", "Push Hook", "push"),
            (
                Provider::Gitlab,
                "X-Gitlab-Event",
                "Tag Push Hook",
                "tag_push",
            ),
            (
                Provider::Gitlab,
                "X-Gitlab-Event",
                "Merge Request Hook",
                "merge_request",
            ),
            (Provider::Gitlab, "X-Gitlab-Event", "System Hook", "system"),
            (Provider::Gitea, "X-Gitea-Event", "create", "create"),
            (Provider::Gitea, "X-Forgejo-Event", "push", "push"),
            (Provider::Github, "X-GitHub-Event", " \u{1b}[31m\n", "31m"),
            (Provider::Github, "X-GitHub-Event", "☃", "unknown"),
            (Provider::Github, "X-Other", "push", "unknown"),
            (Provider::Generic, "X-Other", "whatever", "push"),
        ];
        for (provider, header, value, expected) in cases {
            let headers = [(header, value)];
            assert_eq!(
                event_name(provider, &headers),
                expected,
                "{header}: {value}"
            );
        }
        let long = "a".repeat(100);
        assert_eq!(
            event_name(Provider::Github, &[("X-GitHub-Event", long.as_str())]).len(),
            64
        );
    }

    #[test]
    fn json_errors_are_short() {
        let long = "x".repeat(10_000);
        let body = format!(
            r#"{{"ref": "refs/heads/main", "after": {{"{long}": 1}}, "deleted": "{long}"}}"#
        );
        let headers = [("X-GitHub-Event", "push")];
        let err = parse(Provider::Github, &headers, body.as_bytes()).unwrap_err();
        let message = err.to_string();
        assert!(message.len() < 200, "{message}");
        assert!(
            message
                .starts_with("malformed body: the body is not a push payload: invalid type: map"),
            "{message}"
        );

        let err = parse(Provider::Github, &headers, b"{\"ref\": ").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed body: the body is cut short: EOF while parsing a value at line 1 column 8"
        );
        let err = parse(Provider::Github, &headers, b"<xml/>").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed body: the body is not valid JSON: expected value at line 1 column 1"
        );
        let err = parse(Provider::Github, &headers, b"\"x\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed body: the body is not a push payload: invalid type: string \"x\", expected a push payload object at line 1 column 3"
        );
    }
}
