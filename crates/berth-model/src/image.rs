//! Image references (`[registry/]repository[:tag][@digest]`), as Docker reads them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Docker Hub's registry host, for references that name none.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference. `repository` includes the registry host when one was given
/// (`127.0.0.1:5000/acme/web`, `ghcr.io/acme/web`, `nginx`), exactly as Docker's `RepoDigests`
/// name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("image `{input}` is not a valid image reference: {reason}")]
pub struct InvalidImage {
    pub input: String,
    pub reason: String,
}

impl ImageRef {
    pub const DEFAULT_TAG: &'static str = "latest";

    /// Parses `[host[:port]/]path[:tag][@sha256:…]`; the path is lowercase components of
    /// letters, digits and `.`, `_`, `-` separators.
    pub fn parse(input: &str) -> Result<ImageRef, InvalidImage> {
        let bad = |reason: &str| InvalidImage {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.contains("://") {
            return Err(bad(
                "give it without a scheme, like registry.example.com/team/app:1.0",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("a digest starts with sha256:"))?;
                if hex.len() != 64 || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                    return Err(bad("a sha256 digest is 64 lowercase hex digits"));
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|reason| bad(&reason))?;
        }
        let mut parts: Vec<&str> = repository.split('/').collect();
        let registry = (parts.len() > 1
            && (parts[0].contains(['.', ':']) || parts[0] == "localhost"))
            .then(|| parts.remove(0));
        if let Some(host) = registry
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad(&format!("`{host}` is not a registry host")));
        }
        for part in &parts {
            let ok = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(bad(&format!(
                    "`{part}` must be lowercase letters and digits, separated by `.`, `_` or `-`"
                )));
            }
        }
        Ok(ImageRef {
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The tag, `latest` when none was given.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(Self::DEFAULT_TAG)
    }

    /// `repository:tag` for another tag (no digest).
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.repository)
    }

    /// The registry host (`ghcr.io`, `127.0.0.1:5000`); Docker Hub's `docker.io` when the
    /// reference names none.
    pub fn registry_host(&self) -> &str {
        self.split_host().0
    }

    /// The repository's name inside its registry (`acme/web`; `library/nginx` on Docker Hub),
    /// as the registry's v2 API names it.
    pub fn path(&self) -> String {
        match self.split_host() {
            (DOCKER_HUB, path) if !path.contains('/') => format!("library/{path}"),
            (_, path) => path.to_owned(),
        }
    }

    fn split_host(&self) -> (&str, &str) {
        match self.repository.split_once('/') {
            Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (host, rest),
            _ => (DOCKER_HUB, &self.repository),
        }
    }

    /// `repository@digest`: what a deployment pins.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.repository)
    }
}

/// A tag: up to 128 of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag `{tag}` must be up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        ))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_tag_and_digest() {
        let r = ImageRef::parse("127.0.0.1:5000/acme/web:1.4.0").unwrap();
        assert_eq!(r.repository, "127.0.0.1:5000/acme/web");
        assert_eq!(r.tag.as_deref(), Some("1.4.0"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/acme/web:1.4.0");
        let r = ImageRef::parse("127.0.0.1:5000/acme/web").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag_or_latest()),
            ("127.0.0.1:5000/acme/web", "latest")
        );
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.with_tag("1.27"), "nginx:1.27");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("ghcr.io/acme/web:v1@{digest}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(digest.as_str()));
        assert_eq!(r.pinned(&digest), format!("ghcr.io/acme/web@{digest}"));
        assert_eq!(
            (r.registry_host(), r.path().as_str()),
            ("ghcr.io", "acme/web")
        );
        let hub = ImageRef::parse("nginx:1.27").unwrap();
        assert_eq!(
            (hub.registry_host(), hub.path().as_str()),
            ("docker.io", "library/nginx")
        );
        let local = ImageRef::parse("127.0.0.1:5000/web").unwrap();
        assert_eq!(
            (local.registry_host(), local.path().as_str()),
            ("127.0.0.1:5000", "web")
        );
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (input, says) in [
            ("", "empty"),
            ("https://ghcr.io/acme/web", "without a scheme"),
            ("Acme/Web", "lowercase"),
            ("acme/web:", "tag ``"),
            ("acme/web:-x", "not starting"),
            ("acme/web@sha256:xyz", "64 lowercase hex"),
            ("acme//web", "lowercase letters"),
            ("acme/web app", "lowercase letters"),
        ] {
            let err = ImageRef::parse(input).expect_err(input).to_string();
            assert!(err.contains(says), "{input}: {err}");
        }
    }
}
