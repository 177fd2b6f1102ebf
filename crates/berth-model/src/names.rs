//! Validation of the names a user types: app names, server names, env keys.

use thiserror::Error;

/// Why a name was refused. The message is meant to be shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InvalidName {
    #[error("{kind} name is empty")]
    Empty { kind: &'static str },
    #[error("{kind} name `{name}` is longer than {max} characters")]
    TooLong {
        kind: &'static str,
        name: String,
        max: usize,
    },
    #[error(
        "{kind} name `{name}` may only contain lowercase letters a-z, digits 0-9 and `-` (found `{found}`)"
    )]
    BadChar {
        kind: &'static str,
        name: String,
        found: char,
    },
    #[error("{kind} name `{name}` must not start or end with `-`")]
    EdgeDash { kind: &'static str, name: String },
    #[error(
        "env key `{0}` must start with a letter or `_` and contain only letters, digits and `_`"
    )]
    EnvKey(String),
}

const MAX_NAME: usize = 40;

pub(crate) fn validate_slug(kind: &'static str, name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName::Empty { kind });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(InvalidName::BadChar {
            kind,
            name: name.to_owned(),
            found,
        });
    }
    if name.chars().count() > MAX_NAME {
        return Err(InvalidName::TooLong {
            kind,
            name: name.to_owned(),
            max: MAX_NAME,
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(InvalidName::EdgeDash {
            kind,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// App names become container names, image names and (later) subdomains:
/// `[a-z0-9-]{1,40}`, not starting or ending with `-`.
pub fn validate_app_name(name: &str) -> Result<(), InvalidName> {
    validate_slug("app", name)
}

/// Project names follow the same rule as app names.
pub fn validate_project_name(name: &str) -> Result<(), InvalidName> {
    validate_slug("project", name)
}

/// Server names follow the same rule as app names.
pub fn validate_server_name(name: &str) -> Result<(), InvalidName> {
    validate_slug("server", name)
}

/// Registry names (`ghcr`, `hub`) follow the same rule as app names.
pub fn validate_registry_name(name: &str) -> Result<(), InvalidName> {
    validate_slug("registry", name)
}

/// Environment variable keys: POSIX-ish `[A-Za-z_][A-Za-z0-9_]*`.
pub fn validate_env_key(key: &str) -> Result<(), InvalidName> {
    let mut chars = key.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(InvalidName::EnvKey(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for ok in ["a", "hello", "my-app-2", &"x".repeat(40)] {
            assert_eq!(validate_app_name(ok), Ok(()), "{ok}");
        }
        let msg = |n: &str| validate_app_name(n).unwrap_err().to_string();
        assert_eq!(msg(""), "app name is empty");
        assert_eq!(
            msg("my app"),
            "app name `my app` may only contain lowercase letters a-z, digits 0-9 and `-` (found ` `)"
        );
        assert_eq!(
            msg("Hello"),
            "app name `Hello` may only contain lowercase letters a-z, digits 0-9 and `-` (found `H`)"
        );
        assert_eq!(
            msg(&"x".repeat(41)),
            format!("app name `{}` is longer than 40 characters", "x".repeat(41))
        );
        assert_eq!(msg("-x"), "app name `-x` must not start or end with `-`");
        assert!(validate_app_name("a_b").is_err());
        assert!(validate_app_name("é").is_err());
    }

    #[test]
    fn env_keys() {
        for ok in ["A", "_X", "DATABASE_URL", "a1"] {
            assert_eq!(validate_env_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B"] {
            assert!(validate_env_key(bad).is_err(), "{bad}");
        }
    }
}
