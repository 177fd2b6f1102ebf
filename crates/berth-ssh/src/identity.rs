//! Private keys on this machine: loading an identity file with its passphrase, and the
//! default `~/.ssh/id_*` keys.

use std::path::{Path, PathBuf};

use russh::keys::PrivateKey;

use crate::{Passphrase, SshError, error::io_reason};

/// The home directory, from the environment.
pub(crate) fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// `~/.ssh/x` instead of `/home/me/.ssh/x`, for messages.
pub(crate) fn tilde(path: &Path) -> String {
    if let Some(home) = home_dir()
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return Path::new("~").join(rest).display().to_string();
    }
    path.display().to_string()
}

/// The local user name, which OpenSSH also logs in as when no user is given.
pub(crate) fn local_user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .into_iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.is_empty())
}

/// Does this private key file need a passphrase?
pub(crate) fn is_encrypted(text: &str) -> bool {
    match PrivateKey::from_openssh(text) {
        Ok(key) => key.is_encrypted(),
        // PEM (PKCS#1/#8) files say so in their header.
        Err(_) => text.contains("ENCRYPTED"),
    }
}

/// Reads and, if needed, decrypts an identity file. Decryption (bcrypt) is slow on purpose,
/// so this runs on the blocking pool.
pub(crate) async fn load(
    path: &Path,
    passphrase: Option<&Passphrase>,
) -> Result<PrivateKey, SshError> {
    let path = path.to_owned();
    let passphrase = passphrase.cloned();
    let join_path = path.clone();
    tokio::task::spawn_blocking(move || load_blocking(&path, passphrase.as_ref()))
        .await
        .map_err(|e| SshError::IdentityFile {
            path: join_path,
            reason: format!("decrypting it failed ({e})"),
        })?
}

fn load_blocking(path: &Path, passphrase: Option<&Passphrase>) -> Result<PrivateKey, SshError> {
    decode(path, &read_text(path)?, passphrase)
}

/// The contents of a key file, or an error saying why there are none.
pub(crate) fn read_text(path: &Path) -> Result<String, SshError> {
    std::fs::read_to_string(path).map_err(|e| SshError::IdentityFile {
        path: path.to_owned(),
        reason: if e.kind() == std::io::ErrorKind::InvalidData {
            "it is not a text key file".to_owned()
        } else {
            io_reason(&e)
        },
    })
}

pub(crate) fn decode(
    path: &Path,
    text: &str,
    passphrase: Option<&Passphrase>,
) -> Result<PrivateKey, SshError> {
    let encrypted = is_encrypted(text);
    match russh::keys::decode_secret_key(text, passphrase.map(Passphrase::expose)) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(SshError::PassphraseRequired {
            path: path.to_owned(),
        }),
        Err(_) if encrypted && passphrase.is_some() => Err(SshError::WrongPassphrase {
            path: path.to_owned(),
        }),
        Err(_) if encrypted => Err(SshError::PassphraseRequired {
            path: path.to_owned(),
        }),
        Err(e) => Err(SshError::IdentityFile {
            path: path.to_owned(),
            reason: format!(
                "it is not a private key berth can read ({})",
                crate::error::lowercase_first(&e.to_string())
            ),
        }),
    }
}

/// `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`: the keys OpenSSH tries by default.
pub(crate) fn default_key_paths() -> Vec<PathBuf> {
    let Some(home) = home_dir() else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .into_iter()
        .map(|name| home.join(".ssh").join(name))
        .collect()
}

/// The default keys that exist and need no passphrase (encrypted ones are skipped: without
/// an identity file there is no passphrase to use).
pub(crate) async fn default_keys() -> Vec<(PathBuf, PrivateKey)> {
    let mut keys = Vec::new();
    for path in default_key_paths() {
        let Ok(text) = tokio::fs::read_to_string(&path).await else {
            continue;
        };
        if is_encrypted(&text) {
            tracing::debug!(path = %path.display(), "skipping encrypted default key");
            continue;
        }
        match russh::keys::decode_secret_key(&text, None) {
            Ok(key) => keys.push((path, key)),
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "skipping default key"),
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keygen(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
        let path = dir.join(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-C", "test", "-N", passphrase, "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    }

    #[tokio::test]
    async fn identity_files_are_decoded_or_explained() {
        let dir = tempfile::tempdir().unwrap();
        let plain = keygen(dir.path(), "plain", "");
        let locked = keygen(dir.path(), "locked", "secret");

        assert!(load(&plain, None).await.is_ok());
        // A passphrase for an unencrypted key is ignored.
        assert!(load(&plain, Some(&Passphrase::new("x"))).await.is_ok());

        assert!(matches!(
            load(&locked, None).await,
            Err(SshError::PassphraseRequired { .. })
        ));
        let wrong = load(&locked, Some(&Passphrase::new("nope"))).await;
        assert!(matches!(wrong, Err(SshError::WrongPassphrase { .. })));
        assert!(!format!("{wrong:?}").contains("nope"));
        assert!(
            load(&locked, Some(&Passphrase::new("secret")))
                .await
                .is_ok()
        );

        let public = dir.path().join("plain.pub");
        let err = load(&public, None).await.unwrap_err();
        assert!(err.to_string().contains("not a private key"), "{err}");
        let err = load(&dir.path().join("missing"), None).await.unwrap_err();
        assert!(
            err.to_string().ends_with("no such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn passphrase_is_redacted() {
        let p = Passphrase::new("hunter2");
        assert_eq!(format!("{p:?}"), "<redacted>");
    }

    #[test]
    fn default_keys_are_openssh_order() {
        let names: Vec<String> = default_key_paths()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        if home_dir().is_some() {
            assert_eq!(names, ["id_ed25519", "id_ecdsa", "id_rsa"]);
        }
    }
}
