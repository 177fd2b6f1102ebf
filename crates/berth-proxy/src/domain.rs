//! Domain-name validation for route hosts. Caddy accepts any string as a host matcher (even
//! `bad..host`), so Berth checks names itself before they reach a config.

use std::net::IpAddr;

/// Why a string is not a domain Berth can route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidDomain {
    input: String,
    message: String,
}

impl InvalidDomain {
    fn new(input: &str, message: String) -> InvalidDomain {
        InvalidDomain {
            input: input.to_owned(),
            message,
        }
    }

    /// The string that was refused, as given.
    pub fn input(&self) -> &str {
        &self.input
    }
}

const BARE: &str = "give a bare domain like www.example.com, without https:// or a path";
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Checks that `input` is a domain name Caddy can route and get a certificate for, and returns
/// it normalized (surrounding whitespace and one trailing dot removed, lowercase).
///
/// Rules: ASCII only (internationalized names in punycode, `xn--…`); at most 253 characters;
/// at least two labels; labels of 1–63 letters, digits and `-`, not starting or ending with
/// `-`; a last label that is not all digits; optionally a leading `*.` wildcard label; no IP
/// addresses, ports, schemes or paths.
pub fn validate(input: &str) -> Result<String, InvalidDomain> {
    let trimmed = input.trim();
    let fail = |message: String| Err(InvalidDomain::new(input, message));
    if trimmed.is_empty() {
        return fail(format!("the domain is empty; {BARE}"));
    }
    let d = trimmed;
    let s = abbreviated(d);
    if !d.is_ascii() {
        return fail(format!(
            "domain `{s}` has non-ASCII characters; give internationalized names in punycode, like xn--bcher-kva.example for bücher.example"
        ));
    }
    if d.contains("://") {
        return fail(format!("domain `{s}` has a scheme; {BARE}"));
    }
    if d.contains(char::is_whitespace) {
        return fail(format!("domain `{s}` has a space; {BARE}"));
    }
    if d.contains(['/', '?', '#']) {
        return fail(format!("domain `{s}` has a path; {BARE}"));
    }
    if d.contains('@') {
        return fail(format!("domain `{s}` has a user name (`@`); {BARE}"));
    }
    let unbracketed = d.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() || is_ip_with_port(d) {
        return fail(format!(
            "`{s}` is an IP address; routes need a domain name (point a DNS record at the server and give that name)"
        ));
    }
    if d.contains(':') {
        return fail(format!(
            "domain `{s}` has a port; give a bare domain like www.example.com (the proxy serves it on its own http and https ports)"
        ));
    }
    let lower = d.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.len() > MAX_NAME {
        return fail(format!(
            "domain `{s}` is {} characters long; the limit is {MAX_NAME}",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    let (wildcard, rest) = match labels.split_first() {
        Some((&"*", rest)) => (true, rest),
        _ => (false, &labels[..]),
    };
    for (i, label) in rest.iter().enumerate() {
        if label.is_empty() {
            return fail(if i == 0 && !wildcard && name.starts_with('.') {
                format!("domain `{s}` starts with a dot")
            } else {
                format!("domain `{s}` has an empty label (two dots in a row)")
            });
        }
        if label.contains('*') {
            return fail(format!(
                "domain `{s}` has a `*` inside; a wildcard is only allowed as the whole first label, like *.example.com"
            ));
        }
        if label.len() > MAX_LABEL {
            return fail(format!(
                "label `{label}` of domain `{s}` is {} characters long; the limit is {MAX_LABEL}",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return fail(format!(
                "domain `{s}` has `{c}`; only letters, digits, `-` and dots between labels are allowed"
            ));
        }
        if label.starts_with('-') {
            return fail(format!("label `{label}` of domain `{s}` starts with `-`"));
        }
        if label.ends_with('-') {
            return fail(format!("label `{label}` of domain `{s}` ends with `-`"));
        }
    }
    if rest.len() < 2 {
        return fail(if wildcard {
            format!(
                "domain `{s}` has too few labels after the wildcard; give one like *.apps.example.com"
            )
        } else {
            format!(
                "domain `{s}` has a single label; give a fully qualified name like app.example.com"
            )
        });
    }
    if rest
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return fail(format!(
            "domain `{s}` ends in a numeric label; a top-level domain has a letter"
        ));
    }
    Ok(name.to_owned())
}

/// Long inputs are shown by their ends in messages.
fn abbreviated(s: &str) -> String {
    if s.chars().count() <= 80 {
        return s.to_owned();
    }
    let head: String = s.chars().take(40).collect();
    let tail: String = s
        .chars()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// `1.2.3.4:80` or `[::1]:80`.
fn is_ip_with_port(s: &str) -> bool {
    s.parse::<std::net::SocketAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(inputs: &[&str], expected: Expect) {
        let mut out = String::new();
        for input in inputs {
            let shown = if input.len() > 40 {
                format!("<{} chars>", input.len())
            } else {
                format!("{input:?}")
            };
            match validate(input) {
                Ok(d) => out.push_str(&format!("{shown} -> {d}\n")),
                Err(e) => {
                    assert_eq!(e.input(), *input);
                    let msg = e.to_string().replace(&"x".repeat(64), "x{64}");
                    out.push_str(&format!("{shown}\n    {msg}\n"))
                }
            }
        }
        expected.assert_eq(&out);
    }

    #[test]
    fn good_domains() {
        let long_ok = format!(
            "{}.{}.{}.example.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63)
        );
        assert_eq!(long_ok.len(), 203);
        check(
            &[
                "www.example.com",
                "a-b.example.co.uk",
                "*.apps.example.com",
                "www.example.com.",
                "WWW.Example.COM",
                "  app.example.com ",
                "xn--bcher-kva.example",
                "1.example.com",
                "a.test",
                &long_ok,
            ],
            expect![[r#"
                "www.example.com" -> www.example.com
                "a-b.example.co.uk" -> a-b.example.co.uk
                "*.apps.example.com" -> *.apps.example.com
                "www.example.com." -> www.example.com
                "WWW.Example.COM" -> www.example.com
                "  app.example.com " -> app.example.com
                "xn--bcher-kva.example" -> xn--bcher-kva.example
                "1.example.com" -> 1.example.com
                "a.test" -> a.test
                <203 chars> -> aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.example.com
            "#]],
        );
    }

    #[test]
    fn bad_domains() {
        let long_label = format!("{}.example.com", "x".repeat(64));
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        check(
            &[
                "",
                "ex ample.com",
                "a..example.com",
                ".example.com",
                "example.com..",
                &long_label,
                &long_name,
                "-app.example.com",
                "app-.example.com",
                "localhost",
                "1.2.3.4",
                "1.2.3.4:80",
                "::1",
                "[::1]",
                "example.com:8080",
                "https://example.com",
                "example.com/path",
                "a_b.example.com",
                "bücher.example",
                "example.123",
                "a.*.example.com",
                "*.com",
                "*",
                "user@example.com",
            ],
            expect![[r#"
                ""
                    the domain is empty; give a bare domain like www.example.com, without https:// or a path
                "ex ample.com"
                    domain `ex ample.com` has a space; give a bare domain like www.example.com, without https:// or a path
                "a..example.com"
                    domain `a..example.com` has an empty label (two dots in a row)
                ".example.com"
                    domain `.example.com` starts with a dot
                "example.com.."
                    domain `example.com..` has an empty label (two dots in a row)
                <76 chars>
                    label `x{64}` of domain `x{64}.example.com` is 64 characters long; the limit is 63
                <308 chars>
                    domain `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…aaaaaaaaaaaaaaaa.com` is 308 characters long; the limit is 253
                "-app.example.com"
                    label `-app` of domain `-app.example.com` starts with `-`
                "app-.example.com"
                    label `app-` of domain `app-.example.com` ends with `-`
                "localhost"
                    domain `localhost` has a single label; give a fully qualified name like app.example.com
                "1.2.3.4"
                    `1.2.3.4` is an IP address; routes need a domain name (point a DNS record at the server and give that name)
                "1.2.3.4:80"
                    `1.2.3.4:80` is an IP address; routes need a domain name (point a DNS record at the server and give that name)
                "::1"
                    `::1` is an IP address; routes need a domain name (point a DNS record at the server and give that name)
                "[::1]"
                    `[::1]` is an IP address; routes need a domain name (point a DNS record at the server and give that name)
                "example.com:8080"
                    domain `example.com:8080` has a port; give a bare domain like www.example.com (the proxy serves it on its own http and https ports)
                "https://example.com"
                    domain `https://example.com` has a scheme; give a bare domain like www.example.com, without https:// or a path
                "example.com/path"
                    domain `example.com/path` has a path; give a bare domain like www.example.com, without https:// or a path
                "a_b.example.com"
                    domain `a_b.example.com` has `_`; only letters, digits, `-` and dots between labels are allowed
                "bücher.example"
                    domain `bücher.example` has non-ASCII characters; give internationalized names in punycode, like xn--bcher-kva.example for bücher.example
                "example.123"
                    domain `example.123` ends in a numeric label; a top-level domain has a letter
                "a.*.example.com"
                    domain `a.*.example.com` has a `*` inside; a wildcard is only allowed as the whole first label, like *.example.com
                "*.com"
                    domain `*.com` has too few labels after the wildcard; give one like *.apps.example.com
                "*"
                    domain `*` has too few labels after the wildcard; give one like *.apps.example.com
                "user@example.com"
                    domain `user@example.com` has a user name (`@`); give a bare domain like www.example.com, without https:// or a path
            "#]],
        );
    }
}
