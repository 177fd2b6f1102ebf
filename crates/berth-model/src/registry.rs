//! Image registries Berth pulls from with credentials, and the tags they hold.

use serde::{Deserialize, Serialize};

use crate::names::{InvalidName, validate_registry_name};

/// A registry with its login. The password (a token, usually) lives in the secrets store under
/// `registry/<name>`, never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub name: String,
    /// The host as image references name it: `ghcr.io`, `registry.example.com:5000`.
    pub host: String,
    pub username: String,
    pub created_at_ms: i64,
}

/// What `registry add` and the Settings form send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDraft {
    pub name: String,
    /// `ghcr.io`, `https://ghcr.io/`, `127.0.0.1:5000`: a scheme and a trailing `/` are dropped.
    pub url: String,
    pub username: String,
}

/// Why a registry draft was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRegistry {
    #[error(transparent)]
    Name(#[from] InvalidName),
    #[error("registry URL `{0}` is not a host[:port] (like ghcr.io or registry.example.com:5000)")]
    Url(String),
    #[error("give the registry's username (--username)")]
    NoUsername,
}

impl RegistryDraft {
    /// Checks the draft and gives the registry it describes.
    pub fn validate(&self, created_at_ms: i64) -> Result<Registry, InvalidRegistry> {
        validate_registry_name(&self.name)?;
        let host = registry_host(&self.url)?;
        let username = self.username.trim();
        if username.is_empty() {
            return Err(InvalidRegistry::NoUsername);
        }
        Ok(Registry {
            name: self.name.clone(),
            host,
            username: username.to_owned(),
            created_at_ms,
        })
    }
}

/// `https://GHCR.io/` → `ghcr.io`: the host part of image references, lowercase.
pub fn registry_host(url: &str) -> Result<String, InvalidRegistry> {
    let bad = || InvalidRegistry::Url(url.to_owned());
    let s = url.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.strip_suffix('/').unwrap_or(s).to_ascii_lowercase();
    let (name, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (s.as_str(), None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if name_ok && port_ok {
        Ok(s)
    } else {
        Err(bad())
    }
}

/// One tag of a repository, as `registry tags` lists it (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTag {
    pub tag: String,
    /// The manifest digest the tag points to now.
    pub digest: Option<String>,
    /// When the image was built (its config's `created`), ms since the epoch.
    pub created_ms: Option<i64>,
    /// `linux/amd64`, or several for a multi-platform image.
    pub platforms: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_hosts() {
        for (url, host) in [
            ("ghcr.io", "ghcr.io"),
            ("https://GHCR.io/", "ghcr.io"),
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("registry.example.com:5000/", "registry.example.com:5000"),
        ] {
            assert_eq!(registry_host(url).unwrap(), host, "{url}");
        }
        for url in ["", "ghcr.io/acme", "ghcr.io:x", "a b", "host:0", "https://"] {
            assert!(registry_host(url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_draft_needs_a_name_a_host_and_a_user() {
        let draft = RegistryDraft {
            name: "ghcr".into(),
            url: "https://ghcr.io".into(),
            username: " me ".into(),
        };
        let r = draft.validate(7).unwrap();
        assert_eq!((r.host.as_str(), r.username.as_str()), ("ghcr.io", "me"));
        let no_user = RegistryDraft {
            username: String::new(),
            ..draft.clone()
        };
        assert_eq!(no_user.validate(0), Err(InvalidRegistry::NoUsername));
        let bad_name = RegistryDraft {
            name: "My Registry".into(),
            ..draft
        };
        assert!(
            bad_name
                .validate(0)
                .unwrap_err()
                .to_string()
                .contains("registry")
        );
    }
}
