//! Secrets (key passphrases, secret env values) in the OS keychain or an explicit 0600 file. The only crate that calls keyring.
