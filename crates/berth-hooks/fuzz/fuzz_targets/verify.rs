//! Fuzz target: a request signed (or sent with the token) the way its provider does verifies
//! with the same secret, and no longer verifies once a byte of the body (for signatures), the
//! signature or the secret changes.
//!
//! Input: the first byte picks the provider (mod 4), the second the secret's length (mod 64),
//! then the secret, then the body.

#![no_main]

use berth_hooks::{Provider, Rejection, fixtures, sign_gitea, sign_github, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, length, rest @ ..] = data else {
        return;
    };
    let provider = Provider::ALL[usize::from(*selector) % Provider::ALL.len()];
    let length = usize::from(*length % 64).min(rest.len());
    let (secret, body) = rest.split_at(length);

    assert_eq!(
        sign_github(secret, body),
        format!("sha256={}", sign_gitea(secret, body))
    );

    let headers = fixtures::headers(provider, "push", "delivery", secret, body);
    let result = verify(provider, secret, &headers, body);
    if secret.is_empty() {
        assert!(result.is_err(), "an empty secret verified");
        return;
    }
    let signed = matches!(provider, Provider::Github | Provider::Gitea);
    // Tokens travel as header text; `Bearer` is followed by spaces, which are skipped.
    let sendable = match std::str::from_utf8(secret) {
        Ok(text) => provider != Provider::Generic || !text.starts_with(' '),
        Err(_) => false,
    };
    if signed || sendable {
        assert_eq!(result, Ok(()), "{provider} did not verify its own request");
    }

    // Another secret never verifies.
    if signed || sendable {
        let mut other = secret.to_vec();
        other[0] ^= 0x01;
        assert!(verify(provider, &other, &headers, body).is_err());
    }

    if signed {
        // Any change to the body breaks the signature.
        if !body.is_empty() {
            let mut tampered = body.to_vec();
            let at = usize::from(*selector) % tampered.len();
            tampered[at] ^= 0x80;
            assert_eq!(
                verify(provider, secret, &headers, &tampered),
                Err(Rejection::BadSignature)
            );
        }
        // So does any change to the signature's hex digits.
        let mut headers = headers;
        for (name, value) in &mut headers {
            if name == "X-Hub-Signature-256" || name == "X-Gitea-Signature" {
                let flipped = if value.ends_with('0') { '1' } else { '0' };
                value.pop();
                value.push(flipped);
            }
        }
        assert_eq!(
            verify(provider, secret, &headers, body),
            Err(Rejection::BadSignature)
        );
    }
});
