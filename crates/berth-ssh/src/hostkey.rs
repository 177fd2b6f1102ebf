//! Host keys: fetching a server's key, and Berth's own known_hosts file (OpenSSH format, so
//! the system `ssh` reads the same pins with `UserKnownHostsFile`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};

use crate::SshError;
#[cfg(unix)]
use crate::{Destination, error::io_reason};

/// A server's public host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
    /// `SHA256:…`, exactly as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519 AAAA…` (no comment), as in a `.pub` or known_hosts line.
    pub openssh: String,
}

impl HostKey {
    pub(crate) fn from_public_key(key: &PublicKey) -> HostKey {
        let bare = PublicKey::new(key.key_data().clone(), "");
        let openssh = bare.to_openssh().unwrap_or_else(|_| {
            // Only unsupported key encodings fail here; keep something comparable.
            format!("{} <unencodable>", key.algorithm().as_str())
        });
        HostKey {
            algorithm: key.algorithm().as_str().to_owned(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            openssh: openssh.trim().to_owned(),
        }
    }

    pub(crate) fn from_server_key(key: &PublicKeyOrCertificate) -> HostKey {
        match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => HostKey::from_public_key(key),
            // A host certificate is judged by the key it certifies: pinning is per key.
            PublicKeyOrCertificate::Certificate(cert) => {
                HostKey::from_public_key(&PublicKey::new(cert.public_key().clone(), ""))
            }
        }
    }

    /// Parses `ALGORITHM BASE64 [COMMENT]` (a `.pub` file or the key part of a known_hosts
    /// line).
    pub fn from_openssh(text: &str) -> Result<HostKey, String> {
        let mut fields = text.split_whitespace();
        let (Some(alg), Some(b64)) = (fields.next(), fields.next()) else {
            return Err(format!("`{text}` is not `ALGORITHM BASE64`"));
        };
        let key = PublicKey::from_openssh(&format!("{alg} {b64}"))
            .map_err(|e| format!("`{alg} {b64}` is not a public key this client reads ({e})"))?;
        Ok(HostKey::from_public_key(&key))
    }

    fn key_blob(&self) -> Option<&str> {
        self.openssh.split_whitespace().nth(1)
    }
}

/// `host:port`, or `[v6]:port`.
pub(crate) fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The known_hosts name of `host:port`: `host` for port 22, else `[host]:port` (what OpenSSH
/// looks up). Host names are lowercased, as OpenSSH does.
pub(crate) fn host_token(host: &str, port: u16) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// What a known_hosts file says about a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key is pinned for this host.
    Trusted,
    /// Nothing is pinned for this host.
    Unknown,
    /// Another key is pinned for this host.
    Changed { pinned: HostKey },
}

/// Berth's known_hosts file. Reads plain OpenSSH entries (`host[,host…] ALGORITHM BASE64`);
/// hashed entries (`|1|…`), wildcard patterns and `@cert-authority`/`@revoked` lines are kept
/// when rewriting but never match — Berth writes only plain entries.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
}

/// Serialises read-modify-write cycles of known_hosts files within this process.
static FILE_LOCK: Mutex<()> = Mutex::new(());

struct Entry<'a> {
    hosts: Vec<&'a str>,
    key: &'a str,
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('@') {
        return None;
    }
    let (hosts, key) = trimmed.split_once(char::is_whitespace)?;
    let key = key.trim();
    if key.split_whitespace().count() < 2 {
        return None;
    }
    Some(Entry {
        hosts: hosts.split(',').collect(),
        key,
    })
}

fn same_key(pinned: &HostKey, presented: &HostKey) -> bool {
    pinned.algorithm == presented.algorithm && pinned.key_blob() == presented.key_blob()
}

impl KnownHosts {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KnownHosts { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file_error(&self, reason: impl Into<String>) -> SshError {
        SshError::KnownHostsFile {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read(&self) -> Result<String, SshError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(self.file_error(crate::error::io_reason(&e))),
        }
    }

    /// The keys pinned for `host:port`, in file order.
    pub fn pinned(&self, host: &str, port: u16) -> Result<Vec<HostKey>, SshError> {
        let token = host_token(host, port);
        let text = self.read()?;
        Ok(text
            .lines()
            .filter_map(parse_line)
            .filter(|e| e.hosts.iter().any(|h| h.eq_ignore_ascii_case(&token)))
            .filter_map(|e| HostKey::from_openssh(e.key).ok())
            .collect())
    }

    /// Is `key` the one pinned for `host:port`?
    pub fn check(&self, host: &str, port: u16, key: &HostKey) -> Result<Verdict, SshError> {
        let pinned = self.pinned(host, port)?;
        if pinned.iter().any(|p| same_key(p, key)) {
            return Ok(Verdict::Trusted);
        }
        // Prefer reporting the pinned key of the same algorithm, if there is one.
        let first = pinned
            .iter()
            .find(|p| p.algorithm == key.algorithm)
            .or_else(|| pinned.first());
        Ok(match first {
            Some(p) => Verdict::Changed { pinned: p.clone() },
            None => Verdict::Unknown,
        })
    }

    /// Pins `key` for `host:port`, replacing whatever was pinned for it before.
    pub fn pin(&self, host: &str, port: u16, key: &HostKey) -> Result<(), SshError> {
        let parsed = HostKey::from_openssh(&key.openssh).map_err(|e| self.file_error(e))?;
        let token = host_token(host, port);
        self.rewrite(&token, Some(format!("{token} {}", parsed.openssh)))
    }

    /// Removes every key pinned for `host:port`.
    pub fn forget(&self, host: &str, port: u16) -> Result<(), SshError> {
        self.rewrite(&host_token(host, port), None)
    }

    /// The lock file beside known_hosts that serialises rewrites across processes (the CLI and
    /// the desktop pinning at once would otherwise lose one of the pins).
    pub fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Takes the cross-process lock (released when the file closes).
    fn lock_file(&self) -> Result<std::fs::File, SshError> {
        let err = |e: std::io::Error| self.file_error(crate::error::io_reason(&e));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(self.lock_path()).map_err(err)?;
        file.lock().map_err(err)?;
        Ok(file)
    }

    fn rewrite(&self, token: &str, append: Option<String>) -> Result<(), SshError> {
        let _guard = FILE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _file_lock = self.lock_file()?;
        let text = self.read()?;
        let mut out = String::with_capacity(text.len() + 128);
        for line in text.lines() {
            match parse_line(line) {
                Some(entry) if entry.hosts.iter().any(|h| h.eq_ignore_ascii_case(token)) => {
                    let rest: Vec<&str> = entry
                        .hosts
                        .iter()
                        .copied()
                        .filter(|h| !h.eq_ignore_ascii_case(token))
                        .collect();
                    if !rest.is_empty() {
                        out.push_str(&rest.join(","));
                        out.push(' ');
                        out.push_str(entry.key);
                        out.push('\n');
                    }
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        if let Some(line) = &append {
            out.push_str(line);
            out.push('\n');
        }
        if append.is_none() && out == text {
            return Ok(());
        }
        self.write_atomically(&out)
    }

    fn write_atomically(&self, text: &str) -> Result<(), SshError> {
        let err = |e: std::io::Error| self.file_error(crate::error::io_reason(&e));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let result = options
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(err)
    }
}

/// A russh handler that records the presented host key and rejects it.
struct KeyCatcher {
    seen: Arc<Mutex<Option<HostKey>>>,
}

impl russh::client::Handler for KeyCatcher {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = HostKey::from_server_key(server_public_key);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(key);
        }
        Ok(false)
    }
}

/// Connects to `host:port`, captures the host key the server presents, rejects it and
/// disconnects. Nothing is authenticated, nothing is trusted.
pub async fn fetch_host_key(host: &str, port: u16, timeout: Duration) -> Result<HostKey, SshError> {
    fetch_host_key_preferring(host, port, timeout, &[]).await
}

/// Like [`fetch_host_key`], asking first for the algorithms in `prefer` (the ones already
/// pinned), so a server with several host keys presents the pinned kind.
pub(crate) async fn fetch_host_key_preferring(
    host: &str,
    port: u16,
    timeout: Duration,
    prefer: &[HostKey],
) -> Result<HostKey, SshError> {
    let addr = display_addr(host, port);
    let tcp = crate::embedded::tcp_connect(host, port, timeout).await?;
    let seen = Arc::new(Mutex::new(None));
    let config = russh::client::Config {
        preferred: crate::embedded::preferred_for(prefer),
        ..Default::default()
    };
    let handler = KeyCatcher { seen: seen.clone() };
    let result = tokio::time::timeout(
        timeout,
        russh::client::connect_stream(Arc::new(config), tcp, handler),
    )
    .await;
    let captured = seen.lock().ok().and_then(|mut s| s.take());
    match (captured, result) {
        (Some(key), _) => Ok(key),
        (None, Err(_)) => Err(SshError::Timeout {
            addr,
            after: timeout,
        }),
        (None, Ok(Ok(_handle))) => Err(SshError::Handshake {
            addr,
            reason: "the server sent no host key".into(),
        }),
        (None, Ok(Err(e))) => Err(SshError::Handshake {
            addr,
            reason: crate::error::lowercase_first(&e.to_string()),
        }),
    }
}

/// What `ssh -G` says about a destination.
#[cfg(unix)]
#[derive(Debug, Clone, Default)]
pub(crate) struct SystemConfig {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    /// `HostKeyAlias`, which replaces the host name in known_hosts lookups.
    pub host_key_alias: Option<String>,
    /// `ProxyJump`/`ProxyCommand` is set: the server cannot be dialled directly.
    pub proxied: bool,
}

#[cfg(unix)]
pub(crate) fn parse_ssh_g(output: &str) -> Result<SystemConfig, String> {
    let mut cfg = SystemConfig::default();
    let mut port = None;
    for line in output.lines() {
        let Some((key, value)) = line.trim().split_once(' ') else {
            continue;
        };
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "hostname" => cfg.hostname = value.to_owned(),
            "port" => port = value.parse::<u16>().ok(),
            "user" => cfg.user = value.to_owned(),
            "hostkeyalias" if value != "none" => cfg.host_key_alias = Some(value.to_owned()),
            "proxyjump" | "proxycommand" if value != "none" => cfg.proxied = true,
            _ => {}
        }
    }
    if cfg.hostname.is_empty() {
        return Err("`ssh -G` printed no hostname".into());
    }
    cfg.port = port.ok_or("`ssh -G` printed no port")?;
    Ok(cfg)
}

/// The ssh_config file the system transport uses instead of `~/.ssh/config`
/// (`BERTH_SSH_CONFIG`, passed to ssh as `-F`): a project's own hosts, or a test's. OpenSSH
/// hands it to a ProxyJump's ssh too.
#[cfg(unix)]
pub(crate) fn user_config() -> Option<PathBuf> {
    std::env::var_os("BERTH_SSH_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `ssh [-F FILE] [OPTIONS] [-p PORT] [-l USER] -- HOST`, the way Berth names a destination to
/// the system ssh (options before the destination: a host never reaches argv as an option).
#[cfg(unix)]
fn ssh_for(dest: &Destination, options: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("ssh");
    if let Some(config) = user_config() {
        cmd.arg("-F").arg(config);
    }
    cmd.args(options);
    if let Some(port) = dest.port {
        cmd.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &dest.user {
        cmd.arg("-l").arg(user);
    }
    cmd.arg("--").arg(&dest.host);
    cmd.stdin(std::process::Stdio::null());
    cmd
}

#[cfg(unix)]
pub(crate) async fn system_config(dest: &Destination) -> Result<SystemConfig, SshError> {
    let out = ssh_for(dest, &["-G"])
        .output()
        .await
        .map_err(|e| SshError::SystemSsh {
            message: format!("cannot run `ssh -G`: {}", io_reason(&e)),
        })?;
    if !out.status.success() {
        return Err(SshError::SystemSsh {
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    parse_ssh_g(&String::from_utf8_lossy(&out.stdout))
        .map_err(|message| SshError::SystemSsh { message })
}

#[cfg(unix)]
impl SystemConfig {
    /// The name the system ssh looks the server's host key up under, as `(host, port)` for
    /// [`KnownHosts`]: a `HostKeyAlias` verbatim (port 22 writes no port), else the
    /// `HostName` and port.
    pub(crate) fn key_name(&self) -> (String, u16) {
        match &self.host_key_alias {
            Some(alias) => (alias.clone(), 22),
            None => (self.hostname.clone(), self.port),
        }
    }
}

/// The host name, port and user `~/.ssh/config` maps `dest` to (`ssh -G`).
#[cfg(unix)]
pub async fn resolve_system(dest: &Destination) -> Result<Destination, SshError> {
    let cfg = system_config(dest).await?;
    Ok(Destination {
        user: Some(cfg.user).filter(|u| !u.is_empty()),
        host: cfg.hostname,
        port: Some(cfg.port),
    })
}

/// Where the system ssh keeps `dest`'s host key in a known_hosts file, `(host, port)`: the
/// `HostKeyAlias` if the config sets one, else the host name and port it maps `dest` to.
#[cfg(unix)]
pub async fn system_key_name(dest: &Destination) -> Result<(String, u16), SshError> {
    Ok(system_config(dest).await?.key_name())
}

/// The host key the server `dest` presents to the system ssh, with the name ssh looks it up
/// under (see [`system_key_name`]). A server behind `ProxyJump`/`ProxyCommand` is reached
/// the way ssh reaches it — through the jump, which ssh authenticates as the user's config
/// says — and only the key is taken: nothing is authenticated on the server itself. A server
/// with several host keys is asked for the kind `known_hosts` pins for it.
#[cfg(unix)]
pub async fn fetch_system_host_key(
    dest: &Destination,
    timeout: Duration,
    known_hosts: &KnownHosts,
) -> Result<(String, u16, HostKey), SshError> {
    let cfg = system_config(dest).await?;
    let (name, port) = cfg.key_name();
    let prefer = known_hosts.pinned(&name, port)?;
    if !cfg.proxied {
        let key = fetch_host_key_preferring(&cfg.hostname, cfg.port, timeout, &prefer).await?;
        return Ok((name, port, key));
    }
    let dir = tempfile::tempdir().map_err(|e| SshError::SystemSsh {
        message: format!("cannot make a temporary directory: {}", io_reason(&e)),
    })?;
    let seen = dir.path().join("known_hosts");
    let seen_opt = format!(
        "UserKnownHostsFile={}",
        crate::system::config_path(&seen).display()
    );
    let timeout_opt = format!("ConnectTimeout={}", timeout.as_secs().max(1));
    let mut algorithms: Vec<&str> = prefer.iter().map(|k| k.algorithm.as_str()).collect();
    algorithms.dedup();
    let prefer_opt = format!("HostKeyAlgorithms=^{}", algorithms.join(","));
    let mut options = vec![
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        &seen_opt,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "HashKnownHosts=no",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        &timeout_opt,
        // Only the key: no way to log in is tried, no master is used or made.
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "KbdInteractiveAuthentication=no",
        "-o",
        "HostbasedAuthentication=no",
        "-o",
        "GSSAPIAuthentication=no",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
    ];
    if !algorithms.is_empty() {
        options.extend(["-o", prefer_opt.as_str()]);
    }
    let mut cmd = ssh_for(dest, &options);
    cmd.arg("true").kill_on_drop(true);
    let out = tokio::time::timeout(timeout * 2, cmd.output())
        .await
        .map_err(|_| SshError::Timeout {
            addr: display_addr(&cfg.hostname, cfg.port),
            after: timeout * 2,
        })?
        .map_err(|e| SshError::SystemSsh {
            message: format!("cannot run ssh: {}", io_reason(&e)),
        })?;
    let written = std::fs::read_to_string(&seen).unwrap_or_default();
    let key = written.lines().find_map(|line| {
        let (_name, key) = line.trim().split_once(' ')?;
        HostKey::from_openssh(key).ok()
    });
    match key {
        Some(key) => Ok((name, port, key)),
        None => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let addr = display_addr(&cfg.hostname, cfg.port);
            Err(
                crate::system::map_stderr(&stderr, &addr, timeout).unwrap_or_else(|_| {
                    SshError::SystemSsh {
                        message: format!(
                            "no host key came back from {addr} through its proxy: {}",
                            stderr.trim()
                        ),
                    }
                }),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII24/RcXt1wds8Jw7U97lsQDacE6S3+gj43E1V35MQ84";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJarIbkTqGinr8ZBNJt9iGy4dkdfbnPLYyT54/gE93KN";

    fn key(text: &str) -> HostKey {
        HostKey::from_openssh(text).unwrap()
    }

    fn file() -> (tempfile::TempDir, KnownHosts) {
        let dir = tempfile::tempdir().unwrap();
        let kh = KnownHosts::new(dir.path().join("sub/known_hosts"));
        (dir, kh)
    }

    #[test]
    fn tokens_follow_openssh() {
        assert_eq!(host_token("Example.COM", 22), "example.com");
        assert_eq!(host_token("10.0.0.1", 2222), "[10.0.0.1]:2222");
        assert_eq!(host_token("::1", 2222), "[::1]:2222");
        assert_eq!(host_token("[::1]", 22), "::1");
        assert_eq!(display_addr("::1", 22), "[::1]:22");
    }

    #[test]
    fn pin_check_forget() {
        let (_dir, kh) = file();
        let a = key(ED);
        assert_eq!(kh.check("h", 2222, &a).unwrap(), Verdict::Unknown);
        kh.pin("h", 2222, &a).unwrap();
        assert_eq!(kh.check("h", 2222, &a).unwrap(), Verdict::Trusted);
        // Another port of the same host is another entry.
        assert_eq!(kh.check("h", 22, &a).unwrap(), Verdict::Unknown);
        assert_eq!(
            std::fs::read_to_string(kh.path()).unwrap(),
            format!("[h]:2222 {ED}\n")
        );
        kh.forget("h", 2222).unwrap();
        assert_eq!(kh.check("h", 2222, &a).unwrap(), Verdict::Unknown);
        // Forgetting what is not there is fine.
        kh.forget("h", 2222).unwrap();
    }

    /// Another process (the desktop while the CLI pins) holds the lock: a pin waits for it
    /// instead of rewriting the file from under it.
    #[test]
    fn a_pin_waits_for_another_process_s_rewrite() {
        let (_dir, kh) = file();
        kh.pin("first", 22, &key(ED)).unwrap();
        let held = std::fs::OpenOptions::new()
            .write(true)
            .open(kh.lock_path())
            .unwrap();
        held.lock().unwrap();
        let other = kh.clone();
        let pinning = std::thread::spawn(move || other.pin("second", 22, &key(ED2)));
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!pinning.is_finished(), "the pin did not wait for the lock");
        // What the other process writes meanwhile survives the waiting pin.
        std::fs::write(kh.path(), format!("first {ED}\nthird {ED}\n")).unwrap();
        drop(held);
        pinning.join().unwrap().unwrap();
        let text = std::fs::read_to_string(kh.path()).unwrap();
        assert_eq!(text, format!("first {ED}\nthird {ED}\nsecond {ED2}\n"));
    }

    #[test]
    fn changed_key_names_the_pinned_one_and_pin_replaces_it() {
        let (_dir, kh) = file();
        let (a, b) = (key(ED), key(ED2));
        kh.pin("h", 22, &a).unwrap();
        kh.pin("other", 22, &b).unwrap();
        assert_eq!(
            kh.check("h", 22, &b).unwrap(),
            Verdict::Changed { pinned: a.clone() }
        );
        kh.pin("h", 22, &b).unwrap();
        assert_eq!(kh.check("h", 22, &b).unwrap(), Verdict::Trusted);
        assert_eq!(
            std::fs::read_to_string(kh.path()).unwrap(),
            format!("other {ED2}\nh {ED2}\n")
        );
    }

    #[test]
    fn foreign_lines_survive_and_shared_lines_are_split() {
        let (_dir, kh) = file();
        std::fs::create_dir_all(kh.path().parent().unwrap()).unwrap();
        let original = format!(
            "# a comment\n|1|abc=|def= {ED}\nh,alias {ED}\n@cert-authority *.example.com {ED2}\n"
        );
        std::fs::write(kh.path(), &original).unwrap();
        assert_eq!(kh.check("alias", 22, &key(ED)).unwrap(), Verdict::Trusted);
        assert_eq!(kh.check("H", 22, &key(ED)).unwrap(), Verdict::Trusted);
        kh.forget("h", 22).unwrap();
        assert_eq!(
            std::fs::read_to_string(kh.path()).unwrap(),
            format!(
                "# a comment\n|1|abc=|def= {ED}\nalias {ED}\n@cert-authority *.example.com {ED2}\n"
            )
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(kh.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn host_key_from_openssh_matches_ssh_keygen_format() {
        let k = key(&format!("{ED} some comment"));
        assert_eq!(k.algorithm, "ssh-ed25519");
        assert_eq!(k.openssh, ED);
        // `ssh-keygen -lf` of that key.
        assert_eq!(
            k.fingerprint,
            "SHA256:nqMF4uQmoR9AwGaVdEezwd3yyJubL1TxTAvUNDg/4SQ"
        );
        assert!(HostKey::from_openssh("ssh-ed25519").is_err());
        assert!(HostKey::from_openssh("ssh-ed25519 bm90IGEga2V5").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn ssh_g_output_is_parsed() {
        let cfg = parse_ssh_g(
            "user deploy\nhostname 10.0.0.7\nport 2200\nproxyjump none\nhostkeyalias none\n",
        )
        .unwrap();
        assert_eq!(
            (cfg.user.as_str(), cfg.hostname.as_str(), cfg.port),
            ("deploy", "10.0.0.7", 2200)
        );
        assert!(!cfg.proxied && cfg.host_key_alias.is_none());
        let cfg = parse_ssh_g("hostname h\nport 22\nproxyjump bastion\n").unwrap();
        assert!(cfg.proxied);
    }
}
