//! Registry logins: the `WWW-Authenticate` challenge of a 401, Basic credentials, the token
//! request of the bearer flow, and `Link` pagination.

use base64::Engine as _;

use crate::Login;
use crate::http::Url;

/// What a registry asked for in its 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses `Basic realm="x"` or `Bearer realm="https://…",service="…",scope="…"`.
    pub(crate) fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    }
}

/// `a="x,y", b=z` → [(a, x,y), (b, z)].
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_owned(), &quoted[end + 1..]),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_owned(), &after[end..]),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.push((name, value));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

pub(crate) fn basic(login: &Login) -> String {
    let raw = format!("{}:{}", login.username, login.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The token request: the realm with `service` and `scope` in its query.
pub(crate) fn token_url(realm: &str, service: Option<&str>, scope: &str) -> Option<Url> {
    let mut url = Url::parse(realm)?;
    let mut query = Vec::new();
    if let Some(service) = service {
        query.push(format!("service={}", encode(service)));
    }
    if !scope.is_empty() {
        query.push(format!("scope={}", encode(scope)));
    }
    if !query.is_empty() {
        let sep = if url.target.contains('?') { '&' } else { '?' };
        url.target = format!("{}{sep}{}", url.target, query.join("&"));
    }
    Some(url)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `</v2/acme/web/tags/list?last=x&n=1000>; rel="next"` → the path.
pub(crate) fn next_link(header: &str) -> Option<String> {
    header
        .split(',')
        .find_map(|part| {
            let (target, params) = part.split_once(';')?;
            params.contains("rel=\"next\"").then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
        .filter(|t| t.starts_with('/'))
}

/// A token service's answer (Docker Hub says `token`, others `access_token`).
#[derive(serde::Deserialize)]
pub(crate) struct Token {
    pub(crate) token: Option<String>,
    pub(crate) access_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            Challenge::parse("Basic realm=\"berth-test\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:acme/web:pull\""
            ),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:acme/web:pull".into()),
            })
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=\"x\""), None, "no realm");
    }

    #[test]
    fn token_urls_carry_service_and_scope() {
        let url = token_url(
            "https://auth.docker.io/token",
            Some("registry.docker.io"),
            "repository:library/nginx:pull",
        )
        .unwrap();
        assert_eq!(
            url.target,
            "/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull"
        );
    }

    #[test]
    fn pagination_follows_next() {
        assert_eq!(
            next_link("</v2/acme/web/tags/list?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("/v2/acme/web/tags/list?last=b&n=2")
        );
        assert_eq!(next_link("<https://evil/x>; rel=\"next\""), None);
    }
}
