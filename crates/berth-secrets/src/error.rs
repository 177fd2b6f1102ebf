//! What can go wrong with the secrets store. No message ever contains a secret value.

use std::path::PathBuf;

/// An error of the secrets store: names keys and files, never values.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// There is no usable OS keychain (no Secret Service on a headless Linux, a locked keychain).
    #[error(
        "the OS keychain is not available ({reason}): start a Secret Service (e.g. gnome-keyring) or run with `--secrets file` / BERTH_SECRETS=file to keep secrets in a 0600 file in the data dir"
    )]
    KeyringUnavailable { reason: String },

    /// The keychain answered, but refused or could not read this entry.
    #[error("the OS keychain failed on secret `{key}`: {reason}")]
    Keyring { key: String, reason: String },

    #[error("cannot use the secrets file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The secrets file is not a JSON object of strings. Only the position is reported: the
    /// parser's own message could quote a value.
    #[error(
        "the secrets file {} is not a JSON object of strings (line {line}, column {column}): fix it or move it away",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
    },

    /// A key the store refuses (empty, or outside the prefix of a `delete_prefix`).
    #[error("secret key `{key}` {reason}")]
    InvalidKey { key: String, reason: String },
}
