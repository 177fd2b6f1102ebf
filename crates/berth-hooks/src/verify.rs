//! Checking that a request comes from whoever holds the webhook's secret: HMAC signatures
//! (GitHub, Gitea) and bearer tokens (GitLab, generic), all compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Headers, Provider, Rejection};

pub(crate) const GITHUB_SIGNATURE: &str = "X-Hub-Signature-256";
pub(crate) const GITEA_SIGNATURE: &str = "X-Gitea-Signature";
const FORGEJO_SIGNATURE: &str = "X-Forgejo-Signature";
pub(crate) const GITLAB_TOKEN: &str = "X-Gitlab-Token";
pub(crate) const AUTHORIZATION: &str = "Authorization";

/// Verifies the request's signature or token against `secret`, in constant time.
///
/// An empty secret never verifies. Signatures are over the raw body, exactly as received
/// (including a form-encoded one). Tokens are compared byte for byte, so a secret meant for a
/// token header must be text.
pub fn verify(
    provider: Provider,
    secret: &[u8],
    headers: &dyn Headers,
    body: &[u8],
) -> Result<(), Rejection> {
    match provider {
        Provider::Github => {
            let header = GITHUB_SIGNATURE;
            let value = headers.get(header).ok_or_else(|| {
                missing(provider, headers, Rejection::MissingSignature { header })
            })?;
            let hex = value
                .trim()
                .strip_prefix("sha256=")
                .ok_or(Rejection::MalformedSignature { header })?;
            check_signature(secret, body, header, hex)
        }
        Provider::Gitea => {
            let (header, value) = [GITEA_SIGNATURE, FORGEJO_SIGNATURE]
                .into_iter()
                .find_map(|h| headers.get(h).map(|v| (h, v)))
                .ok_or_else(|| {
                    missing(
                        provider,
                        headers,
                        Rejection::MissingSignature {
                            header: GITEA_SIGNATURE,
                        },
                    )
                })?;
            check_signature(secret, body, header, value.trim())
        }
        Provider::Gitlab => {
            let header = GITLAB_TOKEN;
            let token = headers
                .get(header)
                .ok_or_else(|| missing(provider, headers, Rejection::MissingToken { header }))?;
            check_token(secret, token)
        }
        Provider::Generic => {
            let header = AUTHORIZATION;
            let value = headers
                .get(header)
                .ok_or_else(|| missing(provider, headers, Rejection::MissingToken { header }))?;
            let token = bearer_token(value).ok_or(Rejection::MalformedToken { header })?;
            check_token(secret, token)
        }
    }
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`: `sha256=<hex>`.
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", sign_gitea(secret, body))
}

/// The `X-Gitea-Signature` value Gitea and Forgejo send for `body`: `<hex>`.
pub fn sign_gitea(secret: &[u8], body: &[u8]) -> String {
    mac(secret, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

fn mac(secret: &[u8], body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
    mac.update(body);
    Some(mac)
}

/// `hex` must be 64 hex digits (either case) of HMAC-SHA256 over `body` keyed with `secret`.
fn check_signature(
    secret: &[u8],
    body: &[u8],
    header: &'static str,
    hex: &str,
) -> Result<(), Rejection> {
    if hex.len() != 64 {
        return Err(Rejection::MalformedSignature { header });
    }
    let given = hex::decode(hex).map_err(|_| Rejection::MalformedSignature { header })?;
    if secret.is_empty() {
        return Err(Rejection::BadSignature);
    }
    let mac = mac(secret, body).ok_or(Rejection::BadSignature)?;
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given)
        .map_err(|_| Rejection::BadSignature)
}

/// Compares digests rather than the strings, so neither the secret's length nor the position of
/// the first differing byte shows in the timing.
fn check_token(secret: &[u8], token: &str) -> Result<(), Rejection> {
    let given = Sha256::digest(token.as_bytes());
    let expected = Sha256::digest(secret);
    let same: bool = given.as_slice().ct_eq(expected.as_slice()).into();
    if same && !secret.is_empty() {
        Ok(())
    } else {
        Err(Rejection::BadToken)
    }
}

/// The credentials of `Bearer <token>` (scheme in any case, spaces after it skipped).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}

/// When the expected header is missing but the request carries another provider's headers,
/// say so: the hook was most likely set up with the wrong provider.
fn missing(expected: Provider, headers: &dyn Headers, otherwise: Rejection) -> Rejection {
    match detect(headers) {
        Some(detected) if detected != expected => Rejection::WrongProvider { expected, detected },
        _ => otherwise,
    }
}

/// Which provider a request's headers look like it comes from. Gitea is tested first because
/// it also sends GitHub's headers for compatibility.
fn detect(headers: &dyn Headers) -> Option<Provider> {
    let has = |names: &[&str]| names.iter().any(|n| headers.get(n).is_some());
    if has(&[
        "X-Gitea-Event",
        "X-Forgejo-Event",
        GITEA_SIGNATURE,
        FORGEJO_SIGNATURE,
    ]) {
        Some(Provider::Gitea)
    } else if has(&["X-Gitlab-Event", GITLAB_TOKEN]) {
        Some(Provider::Gitlab)
    } else if has(&["X-GitHub-Event", GITHUB_SIGNATURE]) {
        Some(Provider::Github)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signature_matches_the_documented_example() {
        // From GitHub's "Validating webhook deliveries" page.
        assert_eq!(
            sign_github(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            sign_gitea(b"It's a Secret to Everybody", b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc def"), Some("abc def"));
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("Basic YWJj"), None);
        assert_eq!(bearer_token("Beärer abc"), None);
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let sig = sign_gitea(b"s", b"body").to_uppercase();
        let headers = [("X-Gitea-Signature", sig.as_str())];
        assert_eq!(verify(Provider::Gitea, b"s", &headers, b"body"), Ok(()));
    }

    #[test]
    fn forgejo_header_is_accepted() {
        let sig = sign_gitea(b"s", b"body");
        let headers = [("X-Forgejo-Signature", sig.as_str())];
        assert_eq!(verify(Provider::Gitea, b"s", &headers, b"body"), Ok(()));
    }

    #[test]
    fn wrong_provider_is_named() {
        let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "s")];
        let err = verify(Provider::Github, b"s", &headers, b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "this looks like a gitlab delivery but the hook expects github \
             (set the hook's provider to gitlab)"
        );
        assert_eq!(err.status(), 401);
    }
}
