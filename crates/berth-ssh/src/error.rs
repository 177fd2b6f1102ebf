//! What can go wrong reaching a server, in words a user can act on.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Every error of this crate. Messages are lowercase, name the thing involved and, where
/// there is one, the fix. No variant ever holds a passphrase.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The TCP connection could not be made (refused, no route, name not resolved).
    #[error("cannot reach {addr}: {}", io_reason(source))]
    Unreachable { addr: String, source: io::Error },

    /// Nothing answered within the connect timeout.
    #[error("cannot reach {addr}: no answer within {} (is the host up and the port right?)", secs(*after))]
    Timeout { addr: String, after: Duration },

    /// The server's host key is not pinned yet.
    #[error(
        "the host key of {host} is not known yet; the server presents {fingerprint} — \
         check it on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) \
         before trusting it"
    )]
    HostKeyUnknown { host: String, fingerprint: String },

    /// The server presents a different key than the one pinned for it.
    #[error(
        "the host key of {host} has changed: berth pinned {pinned} but the server now presents \
         {presented}; this may be a man-in-the-middle attack, or the server was reinstalled — \
         if you know it was reinstalled, forget the old key with `berth server rm` and add \
         the server again"
    )]
    HostKeyChanged {
        host: String,
        pinned: String,
        presented: String,
    },

    /// The server accepted none of the keys offered.
    #[error("{}", auth_failed(user, host, tried))]
    AuthFailed {
        user: String,
        host: String,
        /// What was offered, e.g. `identity file ~/.ssh/x`, `ssh-agent (2 keys)`.
        tried: Vec<String>,
    },

    /// The identity file could not be read or is not a private key.
    #[error("cannot use identity file {}: {reason}", path.display())]
    IdentityFile { path: PathBuf, reason: String },

    /// The identity file is encrypted and no passphrase was given.
    #[error("identity file {} is encrypted: give its passphrase", path.display())]
    PassphraseRequired { path: PathBuf },

    /// The passphrase does not decrypt the identity file.
    #[error("wrong passphrase for identity file {}", path.display())]
    WrongPassphrase { path: PathBuf },

    /// The server would not open a channel to the target.
    #[error("the server refused to open {target}: {reason}")]
    ChannelRefused { target: String, reason: String },

    /// The SSH handshake failed after the TCP connection was made.
    #[error("ssh handshake with {addr} failed: {reason}")]
    Handshake { addr: String, reason: String },

    /// The system `ssh` client failed; `message` is the relevant part of its stderr.
    #[error("ssh failed: {message}")]
    SystemSsh { message: String },

    /// Berth's known_hosts file could not be read or written.
    #[error("cannot use known_hosts file {}: {reason}", path.display())]
    KnownHostsFile { path: PathBuf, reason: String },

    /// Something on this machine failed (binding a forwarding socket, running a command).
    #[error("cannot {action}: {}", io_reason(source))]
    Local { action: String, source: io::Error },

    /// The options cannot work (e.g. no user name and none in the environment).
    #[error("invalid ssh options: {reason}")]
    InvalidOptions { reason: String },

    /// The session is gone and could not be re-established, or it was closed.
    #[error("the ssh connection was lost")]
    Disconnected,
}

impl SshError {
    /// An `io::Error` carrying this error's message, for APIs that speak `io` (stream dialers).
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            SshError::Unreachable { source, .. } => source.kind(),
            SshError::Timeout { .. } => io::ErrorKind::TimedOut,
            SshError::ChannelRefused { .. } => io::ErrorKind::ConnectionRefused,
            SshError::Disconnected => io::ErrorKind::NotConnected,
            SshError::Local { source, .. } => source.kind(),
            SshError::HostKeyUnknown { .. }
            | SshError::HostKeyChanged { .. }
            | SshError::AuthFailed { .. }
            | SshError::PassphraseRequired { .. }
            | SshError::WrongPassphrase { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// `connection refused` rather than `Connection refused (os error 111)`.
pub(crate) fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    lowercase_first(text)
}

pub(crate) fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn auth_failed(user: &str, host: &str, tried: &[String]) -> String {
    if tried.is_empty() {
        format!(
            "{user}@{host} wants a key, but berth had none to offer: give an identity file, \
             start ssh-agent, or create ~/.ssh/id_ed25519"
        )
    } else {
        format!(
            "{user}@{host} accepted none of the keys berth offered (tried {}); add the public key \
             to ~/.ssh/authorized_keys of {user} on the server",
            tried.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let e = SshError::Unreachable {
            addr: "203.0.113.5:22".into(),
            source: io::Error::from_raw_os_error(111),
        };
        assert_eq!(
            e.to_string(),
            "cannot reach 203.0.113.5:22: connection refused"
        );
        let e = SshError::Timeout {
            addr: "203.0.113.5:22".into(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            e.to_string(),
            "cannot reach 203.0.113.5:22: no answer within 10 s (is the host up and the port right?)"
        );
        let e = SshError::AuthFailed {
            user: "root".into(),
            host: "prod:22".into(),
            tried: vec!["identity file ~/.ssh/x".into(), "ssh-agent (2 keys)".into()],
        };
        assert_eq!(
            e.to_string(),
            "root@prod:22 accepted none of the keys berth offered (tried identity file ~/.ssh/x, \
             ssh-agent (2 keys)); add the public key to ~/.ssh/authorized_keys of root on the server"
        );
        let e = SshError::HostKeyChanged {
            host: "prod:22".into(),
            pinned: "SHA256:aaa".into(),
            presented: "SHA256:bbb".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("SHA256:aaa") && text.contains("SHA256:bbb"),
            "{text}"
        );
        assert!(text.contains("man-in-the-middle") && text.contains("berth server rm"));
    }

    #[test]
    fn into_io_keeps_the_message() {
        let e = SshError::ChannelRefused {
            target: "unix socket /nope".into(),
            reason: "no such socket".into(),
        }
        .into_io();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            e.to_string(),
            "the server refused to open unix socket /nope: no such socket"
        );
    }
}
