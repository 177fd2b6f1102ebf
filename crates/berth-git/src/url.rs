//! Git remote URLs: which transport, which host and path, and how to show one without secrets.

use crate::GitError;

/// Where a repository lives and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// `git://host[:port]/path`.
    Git {
        host: String,
        port: u16,
        path: String,
    },
    /// `http://` or `https://`.
    Http {
        tls: bool,
        host: String,
        port: u16,
        /// Path without a trailing `/`, e.g. `/org/repo.git` (may be empty).
        path: String,
        user: Option<String>,
        password: Option<String>,
    },
    /// `ssh://[user@]host[:port]/path` or `[user@]host:path`.
    Ssh {
        user: Option<String>,
        host: String,
        port: u16,
        /// What `git-upload-pack` is given: `/abs/path`, `relative/path` or `~/path`.
        path: String,
    },
}

impl Remote {
    pub(crate) fn parse(url: &str) -> Result<Remote, GitError> {
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_owned(),
        };
        let url = url.trim();
        if url.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let (userinfo, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let (user, password) = match userinfo {
                Some(u) => match u.split_once(':') {
                    Some((user, pass)) => (Some(percent_decode(user)), Some(percent_decode(pass))),
                    None => (Some(percent_decode(u)), None),
                },
                None => (None, None),
            };
            let user = user.filter(|u| !u.is_empty());
            let default_port = match scheme.as_str() {
                "git" => 9418,
                "http" => 80,
                "https" => 443,
                "ssh" | "git+ssh" | "ssh+git" => 22,
                "file" => return Err(invalid("local repositories (file://) are not supported")),
                _ => {
                    return Err(invalid(
                        "unsupported scheme; use git://, http://, https://, ssh:// or user@host:path",
                    ));
                }
            };
            let (host, port) = split_host_port(hostport, default_port).map_err(|r| invalid(&r))?;
            match scheme.as_str() {
                "git" => {
                    if path.len() < 2 {
                        return Err(invalid("the URL has no repository path"));
                    }
                    Ok(Remote::Git {
                        host,
                        port,
                        path: path.to_owned(),
                    })
                }
                "http" | "https" => {
                    let path = path.split(['?', '#']).next().unwrap_or_default();
                    Ok(Remote::Http {
                        tls: scheme == "https",
                        host,
                        port,
                        path: path.trim_end_matches('/').to_owned(),
                        user,
                        password,
                    })
                }
                _ => {
                    if password.is_some() {
                        return Err(invalid(
                            "ssh URLs cannot carry a password; use a deploy key",
                        ));
                    }
                    if path.len() < 2 {
                        return Err(invalid("the URL has no repository path"));
                    }
                    // `ssh://host/~/repo` and `ssh://host/~user/repo` are relative to a home.
                    let path = match path.strip_prefix("/~") {
                        Some(rest) => format!("~{rest}"),
                        None => path.to_owned(),
                    };
                    Ok(Remote::Ssh {
                        user,
                        host,
                        port,
                        path,
                    })
                }
            }
        } else {
            // scp-like `[user@]host:path`: the colon must come before any slash.
            let Some(colon) = url.find(':') else {
                return Err(invalid(
                    "expected a scheme (https://, ssh://, git://) or the form user@host:path",
                ));
            };
            if url[..colon].contains('/') {
                return Err(invalid("local repository paths are not supported"));
            }
            let (userhost, path) = (&url[..colon], &url[colon + 1..]);
            let (user, host) = match userhost.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_owned()), h),
                None => (None, userhost),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(invalid("the URL has no host"));
            }
            if path.is_empty() {
                return Err(invalid("the URL has no repository path"));
            }
            Ok(Remote::Ssh {
                user: user.filter(|u| !u.is_empty()),
                host: host.to_owned(),
                port: 22,
                path: path.to_owned(),
            })
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → (host without brackets, port).
fn split_host_port(hostport: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("unterminated `[` in the host".to_owned());
        };
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{p}` is not a valid port"))?,
    };
    Ok((host.to_owned(), port))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with any password or token removed, for display and logs.
///
/// For `http(s)://` the whole userinfo goes (`https://TOKEN@host/x.git` carries the token as the
/// user name); for other schemes only a `:password` part is dropped, so `ssh://git@host/x` stays
/// readable. scp-like `git@host:x` has no secret and is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let lower = scheme.to_ascii_lowercase();
    if lower == "http" || lower == "https" {
        format!("{scheme}://{host}{tail}")
    } else {
        let user = userinfo.split(':').next().unwrap_or_default();
        if user.is_empty() {
            format!("{scheme}://{host}{tail}")
        } else {
            format!("{scheme}://{user}@{host}{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Remote {
        Remote::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn parses_every_supported_form() {
        assert_eq!(
            parse("git://example.com/org/repo.git"),
            Remote::Git {
                host: "example.com".into(),
                port: 9418,
                path: "/org/repo.git".into()
            }
        );
        assert_eq!(
            parse("git://127.0.0.1:9999/repo"),
            Remote::Git {
                host: "127.0.0.1".into(),
                port: 9999,
                path: "/repo".into()
            }
        );
        assert_eq!(
            parse("https://x-access-token:s3cr%40t@github.com/org/repo.git/"),
            Remote::Http {
                tls: true,
                host: "github.com".into(),
                port: 443,
                path: "/org/repo.git".into(),
                user: Some("x-access-token".into()),
                password: Some("s3cr@t".into()),
            }
        );
        assert_eq!(
            parse("http://[::1]:8080/repo"),
            Remote::Http {
                tls: false,
                host: "::1".into(),
                port: 8080,
                path: "/repo".into(),
                user: None,
                password: None,
            }
        );
        assert_eq!(
            parse("ssh://git@127.0.0.1:2222/srv/repo.git"),
            Remote::Ssh {
                user: Some("git".into()),
                host: "127.0.0.1".into(),
                port: 2222,
                path: "/srv/repo.git".into()
            }
        );
        assert_eq!(
            parse("ssh://host/~/repo.git"),
            Remote::Ssh {
                user: None,
                host: "host".into(),
                port: 22,
                path: "~/repo.git".into()
            }
        );
        assert_eq!(
            parse("git@github.com:org/repo.git"),
            Remote::Ssh {
                user: Some("git".into()),
                host: "github.com".into(),
                port: 22,
                path: "org/repo.git".into()
            }
        );
    }

    #[test]
    fn rejects_what_it_cannot_fetch_with_a_reason() {
        for (url, reason) in [
            ("", "empty"),
            ("/srv/repo.git", "scheme"),
            ("./repo:x", "local repository"),
            ("file:///srv/repo.git", "file://"),
            ("ftp://host/repo", "unsupported scheme"),
            ("git://host", "no repository path"),
            ("https://host:99999/x", "not a valid port"),
            ("ssh://u:pw@host/x", "password"),
        ] {
            let err = Remote::parse(url).expect_err(url).to_string();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }

    #[test]
    fn redacts_tokens_and_passwords() {
        for (url, shown) in [
            (
                "https://ghp_token@github.com/org/x.git",
                "https://github.com/org/x.git",
            ),
            (
                "https://user:pass@host:8443/x.git?a=b",
                "https://host:8443/x.git?a=b",
            ),
            ("http://tok@host", "http://host"),
            ("ssh://git:pw@host/x", "ssh://git@host/x"),
            ("ssh://git@host/x", "ssh://git@host/x"),
            ("git@github.com:org/x.git", "git@github.com:org/x.git"),
            ("git://host/x", "git://host/x"),
            ("https://host/a@b", "https://host/a@b"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn invalid_url_errors_never_show_the_token() {
        let err = Remote::parse("https://tok3n@host:0/x").expect_err("port 0");
        assert!(!err.to_string().contains("tok3n"), "{err}");
    }
}
