//! Image pushes: a registry's notification (the CNCF distribution registry's `events`
//! envelope, sent with the generic provider's bearer token), GitHub's `package` /
//! `registry_package` and Gitea's `package` events, and a generic `{"image": "…"}`.

use serde::Deserialize;

use crate::error::Rejection;
use crate::headers::Headers;
use crate::parse::{json, text};
use crate::{Event, ImagePush};

/// `registry/org/app[:tag]` → (repository, tag), `latest` when no tag is named; `None` when it
/// is not an image reference.
fn split_reference(reference: &str) -> Option<(String, String)> {
    let r = berth_model::ImageRef::parse(reference).ok()?;
    if r.digest.is_some() && r.tag.is_none() {
        return None;
    }
    let tag = r.tag_or_latest().to_owned();
    Some((r.repository, tag))
}

#[derive(Deserialize)]
struct GenericImage {
    image: Option<String>,
    events: Option<Vec<RegistryEvent>>,
    pusher: Option<String>,
}

#[derive(Deserialize)]
struct RegistryEvent {
    action: Option<String>,
    target: Option<Target>,
    request: Option<RegistryRequest>,
    actor: Option<Actor>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    repository: Option<String>,
    tag: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct RegistryRequest {
    host: Option<String>,
}

#[derive(Deserialize)]
struct Actor {
    name: Option<String>,
}

/// A generic body that is about an image: `{"image": …}` or a registry's `{"events": […]}`.
/// `None` for any other body (a git push, a ping), which the generic parser reads.
pub(crate) fn generic_image(
    headers: &dyn Headers,
    body: &[u8],
) -> Result<Option<Event>, Rejection> {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    if !has(b"\"image\"") && !has(b"\"events\"") {
        return Ok(None);
    }
    let b: GenericImage = json(headers, body)?;
    if let Some(image) = &b.image {
        let (repository, tag) = split_reference(image).ok_or_else(|| {
            Rejection::body(
                "`image` must be an image reference like registry.example.com/org/app:1.4",
            )
        })?;
        return Ok(Some(Event::Image(ImagePush {
            repository,
            tag,
            digest: None,
            pusher: text(b.pusher.as_deref()),
        })));
    }
    let Some(events) = b.events else {
        return Ok(None);
    };
    // The last manifest pushed with a tag (blob pushes and pulls are other events).
    let push = events.iter().rev().find_map(|e| {
        let target = e.target.as_ref()?;
        let manifest = target
            .media_type
            .as_deref()
            .is_none_or(|m| m.contains("manifest") || m.contains("index"));
        if e.action.as_deref() != Some("push") || !manifest {
            return None;
        }
        let tag = target.tag.clone().filter(|t| !t.is_empty())?;
        let repository = target.repository.clone().filter(|r| !r.is_empty())?;
        let repository = match e.request.as_ref().and_then(|r| r.host.clone()) {
            Some(host) if !host.is_empty() => format!("{host}/{repository}"),
            _ => repository,
        };
        let (repository, tag) = split_reference(&format!("{repository}:{tag}"))?;
        Some(ImagePush {
            repository,
            tag,
            digest: target.digest.clone(),
            pusher: e.actor.as_ref().and_then(|a| text(a.name.as_deref())),
        })
    });
    Ok(Some(match push {
        Some(p) => Event::Image(p),
        None => Event::Other {
            event: "registry".to_owned(),
        },
    }))
}

#[derive(Deserialize)]
struct GithubBody {
    action: Option<String>,
    package: Option<GithubPackage>,
    registry_package: Option<GithubPackage>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct GithubPackage {
    name: Option<String>,
    namespace: Option<String>,
    package_type: Option<String>,
    owner: Option<Login>,
    package_version: Option<GithubVersion>,
    registry: Option<GithubRegistry>,
}

#[derive(Deserialize)]
struct GithubVersion {
    container_metadata: Option<ContainerMetadata>,
}

#[derive(Deserialize)]
struct ContainerMetadata {
    tag: Option<GithubTag>,
}

#[derive(Deserialize)]
struct GithubTag {
    name: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct GithubRegistry {
    url: Option<String>,
}

#[derive(Deserialize)]
struct Login {
    login: Option<String>,
}

/// A container published to GitHub's registry; `None` for other packages and actions.
pub(crate) fn github_package(body: &[u8]) -> Result<Option<ImagePush>, Rejection> {
    let b: GithubBody = serde_json::from_slice(body)
        .map_err(|e| Rejection::body(format!("package event is not JSON: {e}")))?;
    let Some(p) = b.package.or(b.registry_package) else {
        return Ok(None);
    };
    let container = p
        .package_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("container") || t.eq_ignore_ascii_case("docker"));
    let published = matches!(b.action.as_deref(), Some("published" | "updated"));
    if !container || !published {
        return Ok(None);
    }
    let Some(tag) = p
        .package_version
        .as_ref()
        .and_then(|v| v.container_metadata.as_ref())
        .and_then(|m| m.tag.as_ref())
    else {
        return Ok(None);
    };
    let Some(name) = tag.name.clone().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let owner = p
        .namespace
        .or_else(|| p.owner.and_then(|o| o.login))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = p
        .registry
        .and_then(|r| r.url)
        .map(|u| host_of_url(&u))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ghcr.io".to_owned());
    let package = p.name.unwrap_or_default().to_ascii_lowercase();
    let (repository, tag_name) = split_reference(&format!("{host}/{owner}/{package}:{name}"))
        .ok_or_else(|| Rejection::body("the package event names no valid image"))?;
    Ok(Some(ImagePush {
        repository,
        tag: tag_name,
        digest: tag.digest.clone(),
        pusher: b.sender.and_then(|s| text(s.login.as_deref())),
    }))
}

#[derive(Deserialize)]
struct GiteaBody {
    action: Option<String>,
    package: Option<GiteaPackage>,
    sender: Option<Login>,
}

#[derive(Deserialize)]
struct GiteaPackage {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    version: Option<String>,
    owner: Option<Login>,
    html_url: Option<String>,
}

/// A container tag pushed to Gitea's (or Forgejo's) registry; `None` for other packages,
/// deletions, and the digest-named versions Gitea records for each manifest.
pub(crate) fn gitea_package(body: &[u8]) -> Result<Option<ImagePush>, Rejection> {
    let b: GiteaBody = serde_json::from_slice(body)
        .map_err(|e| Rejection::body(format!("package event is not JSON: {e}")))?;
    let Some(p) = b.package else {
        return Ok(None);
    };
    if p.kind.as_deref() != Some("container") || b.action.as_deref() != Some("created") {
        return Ok(None);
    }
    let Some(version) = p
        .version
        .filter(|v| !v.is_empty() && !v.starts_with("sha256:"))
    else {
        return Ok(None);
    };
    let host = p.html_url.as_deref().map(host_of_url).unwrap_or_default();
    let owner = p
        .owner
        .and_then(|o| o.login)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = p.name.unwrap_or_default().to_ascii_lowercase();
    let full = if host.is_empty() {
        format!("{owner}/{name}:{version}")
    } else {
        format!("{host}/{owner}/{name}:{version}")
    };
    let (repository, tag) = split_reference(&full)
        .ok_or_else(|| Rejection::body("the package event names no valid image"))?;
    Ok(Some(ImagePush {
        repository,
        tag,
        digest: None,
        pusher: b.sender.and_then(|s| text(s.login.as_deref())),
    }))
}

/// `https://host:port/path` → `host:port`.
fn host_of_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}
