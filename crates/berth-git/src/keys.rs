//! Deploy keys: generating an ed25519 key pair, and the SHA256 fingerprints errors show.

use ring::rand::SecureRandom as _;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};
use zeroize::Zeroize as _;

use crate::GitError;

/// A new ed25519 deploy key: (private key in OpenSSH PEM format, public key line
/// "ssh-ed25519 AAAA... <comment>").
pub fn generate_deploy_key(comment: &str) -> Result<(String, String), GitError> {
    let failed = |reason: String| GitError::KeyGeneration { reason };
    let mut seed = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| failed("the system random number generator failed".to_owned()))?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    seed.zeroize();
    let mut key = PrivateKey::from(keypair);
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| failed(format!("encoding the private key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| failed(format!("encoding the public key: {e}")))?;
    Ok((private.to_string(), public))
}

/// A public key as an OpenSSH line without a comment (`ssh-ed25519 AAAA…`).
pub(crate) fn public_line(key: &PublicKey) -> String {
    PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .unwrap_or_else(|_| format!("{} <unencodable key>", key.algorithm()))
}

/// `SHA256:…` as `ssh-keygen -l` prints it.
pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_openssh_and_match() {
        let (private, public) =
            generate_deploy_key("berth deploy").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "{private}"
        );
        assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
        assert!(public.ends_with(" berth deploy"), "{public}");
        let decoded =
            russh::keys::decode_secret_key(&private, None).unwrap_or_else(|e| panic!("{e}"));
        let parsed = PublicKey::from_openssh(&public).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.public_key().key_data(), parsed.key_data());
        assert!(fingerprint(&parsed).starts_with("SHA256:"));
        assert_eq!(
            public_line(&parsed),
            public.trim_end_matches(" berth deploy")
        );
        let (other, _) = generate_deploy_key("x").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(private, other);
    }
}
