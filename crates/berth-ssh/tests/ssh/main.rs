//! berth-ssh against a real sshd (one per test, from the shared harness) and the real dockerd:
//! every behaviour is checked for both the embedded (russh) and the system (OpenSSH) transport.

// A test binary: an unwrap that fails is a failing test, with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_ssh::hostkey::{KnownHosts, fetch_host_key};
use berth_ssh::{
    Destination, Forward, LocalEndpoint, Passphrase, RemoteTarget, SshError, SshOptions, Transport,
};
use berth_testkit::Sshd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Embedded,
    System,
}

/// Runs `$name(Kind)` once per transport, as `$name::embedded` and `$name::system`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::within_a_minute(super::$name(super::Kind::Embedded)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn system() {
                super::within_a_minute(super::$name(super::Kind::System)).await
            }
        }
    )*};
}

both!(
    docker_ping,
    concurrent_connections_share_one_session,
    keep_alive_connection,
    tcp_target_with_half_close,
    exec_collects_output_and_status,
    unknown_host_key,
    changed_host_key,
    wrong_identity_file,
    passphrase_protected_key,
    missing_remote_socket,
    reconnects_after_sshd_restart,
    dropping_a_forward_removes_its_socket,
    unreachable_port,
    silent_server_times_out,
    closed_transport_refuses_work,
    runtime_dir_must_be_private,
);

/// The system transport's master outlives the command that started it: the next one to the
/// same server (same key, same known_hosts) runs over it — the same server-side connection, no
/// handshake — unless the pinned host key changed since, which starts anew and is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_command_reuses_the_live_master_while_the_pin_holds() {
    within_a_minute(async {
        let f = Fixture::new();
        f.pin().await;
        // The remote shell's parent is sshd's process for the connection.
        let connection = |t: Arc<dyn Transport>| async move {
            let out = t.exec("echo $PPID").await.unwrap();
            t.close().await;
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        // Each `berth` command has its own runtime dir; the master is shared anyway.
        let first = connection(f.connect(Kind::System).await).await;
        let other_process = private_dir();
        let mut opts = f.options();
        opts.runtime_dir = other_process.path().to_owned();
        let second = connection(connect(Kind::System, opts).await.unwrap()).await;
        assert_eq!(first, second, "the second command reused the master");

        // Another key pinned for the host since: the live master is not trusted.
        let (_other, key) = bare_dir();
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        f.known_hosts()
            .pin(
                "127.0.0.1",
                f.sshd.port,
                &berth_ssh::hostkey::HostKey::from_openssh(&public).unwrap(),
            )
            .unwrap();
        let err = connect_err(Kind::System, f.options()).await;
        assert!(matches!(err, SshError::HostKeyChanged { .. }), "{err:?}");
    })
    .await
}

async fn within_a_minute(test: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("test took longer than a minute")
}

/// A private sshd plus a 0700 dir holding Berth's known_hosts and runtime sockets.
struct Fixture {
    sshd: Sshd,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            sshd: Sshd::start(),
            dir: private_dir(),
        }
    }

    fn known_hosts(&self) -> KnownHosts {
        KnownHosts::new(self.dir.path().join("known_hosts"))
    }

    async fn pin(&self) {
        let key = fetch_host_key("127.0.0.1", self.sshd.port, Duration::from_secs(5))
            .await
            .unwrap();
        self.known_hosts()
            .pin("127.0.0.1", self.sshd.port, &key)
            .unwrap();
    }

    fn options(&self) -> SshOptions {
        options_for(self.dir.path(), self.sshd.port, &self.sshd.user_key)
    }

    async fn connect(&self, kind: Kind) -> Arc<dyn Transport> {
        connect(kind, self.options()).await.unwrap()
    }
}

/// root@127.0.0.1:PORT with `identity`, known_hosts and sockets in `dir`.
fn options_for(dir: &Path, port: u16, identity: &Path) -> SshOptions {
    let mut opts = SshOptions::new(
        Destination::new(Some("root"), "127.0.0.1", Some(port)),
        dir.join("known_hosts"),
        dir.to_owned(),
    );
    opts.identity = Some(identity.to_owned());
    opts.connect_timeout = Duration::from_secs(5);
    opts
}

/// A 0700 temp dir (tempfile's default follows the umask, usually 0755).
fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("bs")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

/// A dir for tests that need no sshd, with a throwaway identity file in it.
fn bare_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = private_dir();
    let key = keygen(dir.path(), "id", "");
    (dir, key)
}

async fn connect(kind: Kind, opts: SshOptions) -> Result<Arc<dyn Transport>, SshError> {
    match kind {
        Kind::Embedded => berth_ssh::connect_embedded(opts).await,
        Kind::System => berth_ssh::connect_system(opts).await,
    }
}

async fn connect_err(kind: Kind, opts: SshOptions) -> SshError {
    match connect(kind, opts).await {
        Ok(t) => panic!("connected to {} but expected an error", t.describe()),
        Err(e) => e,
    }
}

fn docker_sock() -> RemoteTarget {
    RemoteTarget::Unix("/var/run/docker.sock".into())
}

async fn dial(endpoint: &LocalEndpoint) -> std::io::Result<tokio::net::UnixStream> {
    match endpoint {
        LocalEndpoint::Unix(path) => tokio::net::UnixStream::connect(path).await,
        other => panic!("expected a unix endpoint, got {other}"),
    }
}

/// A minimal HTTP/1.1 client over any stream, able to send several requests on one
/// connection (it reads exactly `Content-Length` bytes of each body).
struct Http<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Http<S> {
    fn new(stream: S) -> Self {
        Http {
            stream,
            buf: Vec::new(),
        }
    }

    async fn get(&mut self, path: &str) -> (String, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .expect("a Content-Length header");
        while self.buf.len() < head_end + length {
            self.fill().await;
        }
        let body = String::from_utf8(self.buf[head_end..head_end + length].to_vec()).unwrap();
        self.buf.drain(..head_end + length);
        (head.lines().next().unwrap().to_owned(), body)
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

async fn ping_through(forward: &Forward) -> String {
    let stream = dial(forward.endpoint()).await.unwrap();
    let (status, body) = Http::new(stream).get("/_ping").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    body
}

// ---------------------------------------------------------------------------------------------

/// The Docker socket answers `/_ping` through the local endpoint and through `connect()`.
async fn docker_ping(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let expected = match kind {
        Kind::Embedded => format!("root@127.0.0.1:{} (embedded ssh)", f.sshd.port),
        Kind::System => format!("root@127.0.0.1:{} (system ssh)", f.sshd.port),
    };
    assert_eq!(t.describe(), expected);

    let forward = t.forward(docker_sock()).await.unwrap();
    let LocalEndpoint::Unix(path) = forward.endpoint() else {
        panic!("unix endpoint expected");
    };
    assert!(path.starts_with(f.dir.path()), "{}", path.display());
    assert_eq!(ping_through(&forward).await, "OK");

    let stream = forward.connect().await.unwrap();
    assert_eq!(Http::new(stream).get("/_ping").await.1, "OK");
    t.close().await;
}

/// 20 connections at once through one forward: all are channels of the one session.
async fn concurrent_connections_share_one_session(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let forward = Arc::new(t.forward(docker_sock()).await.unwrap());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let forward = forward.clone();
            tokio::spawn(async move { ping_through(&forward).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "OK");
    }
    // Still exactly one TCP connection to sshd: one session, many channels.
    assert_eq!(established_connections_to(f.sshd.port), 1);
    t.close().await;
}

/// Client-side established TCP connections to `127.0.0.1:port` (from /proc/net/tcp).
fn established_connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(2) == Some(&remote.as_str()) && cols.get(3) == Some(&"01")
        })
        .count()
}

/// Two requests on one kept-alive connection (what hyper's pool does).
async fn keep_alive_connection(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let forward = t.forward(docker_sock()).await.unwrap();
    let mut http = Http::new(dial(forward.endpoint()).await.unwrap());
    assert_eq!(http.get("/_ping").await.1, "OK");
    let (status, body) = http.get("/version").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("ApiVersion"), "{body}");
    assert_eq!(http.get("/_ping").await.1, "OK");
    t.close().await;
}

/// A TCP target: an echo server that answers only after the client half-closes, so the
/// client's EOF must travel through the channel and the reply must come back after it.
async fn tcp_target_with_half_close(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
            s.shutdown().await.unwrap();
        }
    });
    let t = f.connect(kind).await;
    let forward = t
        .forward(RemoteTarget::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
        .await
        .unwrap();
    let payload = vec![7u8; 300_000];
    let mut s = dial(forward.endpoint()).await.unwrap();
    s.write_all(&payload).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), payload.len());
    assert_eq!(back, payload);
    // The embedded probe opened (and closed) one connection already; the loop takes two.
    if kind == Kind::System {
        let mut s = forward.connect().await.unwrap();
        s.write_all(b"again").await.unwrap();
        s.shutdown().await.unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"again");
    }
    t.close().await;
    server.abort();
}

async fn exec_collects_output_and_status(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let out = t.exec("echo hi").await.unwrap();
    assert_eq!((out.status, out.stdout.as_slice()), (Some(0), &b"hi\n"[..]));
    let out = t.exec("echo oops >&2; exit 3").await.unwrap();
    assert_eq!(
        (out.status, out.stderr.as_slice()),
        (Some(3), &b"oops\n"[..])
    );
    assert!(out.stdout.is_empty());
    t.close().await;
}

async fn unknown_host_key(kind: Kind) {
    let f = Fixture::new();
    let err = connect_err(kind, f.options()).await;
    match &err {
        SshError::HostKeyUnknown { host, fingerprint } => {
            assert_eq!(fingerprint, &f.sshd.host_fingerprint());
            assert_eq!(host, &format!("127.0.0.1:{}", f.sshd.port));
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    assert!(err.to_string().contains(&f.sshd.host_fingerprint()));
}

async fn changed_host_key(kind: Kind) {
    let mut f = Fixture::new();
    f.pin().await;
    let old = f.sshd.host_fingerprint();
    f.sshd.stop();
    f.sshd = Sshd::start_with_new_host_key(f.sshd.port);
    let new = f.sshd.host_fingerprint();
    assert_ne!(old, new);
    let err = connect_err(kind, f.options()).await;
    match &err {
        SshError::HostKeyChanged {
            pinned, presented, ..
        } => assert_eq!((pinned, presented), (&old, &new)),
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&old) && text.contains(&new), "{text}");
    assert!(
        text.contains("man-in-the-middle") && text.contains("berth server rm"),
        "{text}"
    );
}

fn keygen(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    berth_testkit::run(
        std::process::Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-C",
                "berth-test",
                "-N",
                passphrase,
                "-f",
            ])
            .arg(&path),
    );
    path
}

async fn wrong_identity_file(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let mut opts = f.options();
    opts.identity = Some(keygen(f.dir.path(), "stranger", ""));
    match connect_err(kind, opts).await {
        SshError::AuthFailed { user, tried, .. } => {
            assert_eq!(user, "root");
            assert!(
                tried[0].starts_with("identity file ") && tried[0].ends_with("stranger"),
                "{tried:?}"
            );
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    // A file that is not a key at all is reported as such.
    let mut opts = f.options();
    opts.identity = Some(f.dir.path().join("known_hosts"));
    assert!(matches!(
        connect_err(kind, opts).await,
        SshError::IdentityFile { .. }
    ));
}

async fn passphrase_protected_key(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let key = keygen(f.dir.path(), "locked", "secret");
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let authorized = f.sshd.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&public);
    std::fs::write(&authorized, keys).unwrap();

    let with = |passphrase: Option<&str>| {
        let mut opts = f.options();
        opts.identity = Some(key.clone());
        opts.passphrase = passphrase.map(Passphrase::new);
        opts
    };
    let t = connect(kind, with(Some("secret"))).await.unwrap();
    assert_eq!(t.exec("echo ok").await.unwrap().stdout, b"ok\n");
    t.close().await;

    assert!(matches!(
        connect_err(kind, with(None)).await,
        SshError::PassphraseRequired { .. }
    ));
    let err = connect_err(kind, with(Some("not-the-secret"))).await;
    assert!(matches!(err, SshError::WrongPassphrase { .. }), "{err:?}");
    assert!(!format!("{err:?} {err}").contains("not-the-secret"));
}

/// Embedded: `forward()` itself fails with ChannelRefused (it probes one channel).
/// System: ssh opens the channel per connection, so the forward is created and each
/// connection through it ends at once (EOF) instead.
async fn missing_remote_socket(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let target = RemoteTarget::Unix("/nonexistent/berth.sock".into());
    match kind {
        Kind::Embedded => match t.forward(target).await {
            Err(SshError::ChannelRefused { target, reason }) => {
                assert_eq!(target, "unix socket /nonexistent/berth.sock");
                assert!(reason.contains("does not exist"), "{reason}");
            }
            other => panic!("expected ChannelRefused, got {other:?}"),
        },
        Kind::System => {
            let forward = t.forward(target).await.unwrap();
            let mut s = dial(forward.endpoint()).await.unwrap();
            let _ = s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let mut buf = Vec::new();
            let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
                .await
                .expect("the connection should end at once")
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
    }
    // The session is unharmed.
    assert_eq!(t.exec("echo still").await.unwrap().stdout, b"still\n");
    t.close().await;
}

/// sshd dies with every session and comes back with the same host key: `check()` reconnects
/// and the same forward works again.
async fn reconnects_after_sshd_restart(kind: Kind) {
    let mut f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let forward = t.forward(docker_sock()).await.unwrap();
    assert_eq!(ping_through(&forward).await, "OK");

    f.sshd.restart();
    t.check().await.unwrap();
    assert_eq!(ping_through(&forward).await, "OK");
    assert_eq!(t.exec("echo back").await.unwrap().stdout, b"back\n");

    // Without an explicit check, the next connection notices and reconnects by itself.
    f.sshd.restart();
    let stream = forward.connect().await.unwrap();
    assert_eq!(Http::new(stream).get("/_ping").await.1, "OK");
    assert_eq!(ping_through(&forward).await, "OK");
    t.close().await;
}

async fn dropping_a_forward_removes_its_socket(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    let forward = t.forward(docker_sock()).await.unwrap();
    let LocalEndpoint::Unix(path) = forward.endpoint().clone() else {
        panic!("unix endpoint expected");
    };
    assert!(path.exists());
    drop(forward);
    assert!(!path.exists());
    assert!(tokio::net::UnixStream::connect(&path).await.is_err());
    // No socket of any kind is left behind (the system transport also had ssh's own).
    let sockets: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sock"))
        .collect();
    assert!(sockets.is_empty(), "{sockets:?}");
    t.close().await;
}

async fn unreachable_port(kind: Kind) {
    let (dir, key) = bare_dir();
    let port = berth_testkit::free_port();
    let opts = options_for(dir.path(), port, &key);
    let err = connect_err(kind, opts).await;
    assert_eq!(
        err.to_string(),
        format!("cannot reach 127.0.0.1:{port}: connection refused")
    );
    assert!(matches!(err, SshError::Unreachable { .. }));
}

/// A server that accepts TCP but never speaks SSH.
async fn silent_server_times_out(kind: Kind) {
    let (dir, key) = bare_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            open.push(s);
        }
    });
    let mut opts = options_for(dir.path(), port, &key);
    opts.connect_timeout = Duration::from_millis(700);
    let started = std::time::Instant::now();
    let err = connect_err(kind, opts).await;
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();
}

async fn closed_transport_refuses_work(kind: Kind) {
    let f = Fixture::new();
    f.pin().await;
    let t = f.connect(kind).await;
    t.close().await;
    assert!(matches!(t.exec("true").await, Err(SshError::Disconnected)));
    assert!(matches!(t.check().await, Err(SshError::Disconnected)));
    assert!(matches!(
        t.forward(docker_sock()).await,
        Err(SshError::Disconnected)
    ));
}

/// Anyone who can open a socket in the runtime dir reaches the server's Docker daemon.
async fn runtime_dir_must_be_private(kind: Kind) {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key) = bare_dir();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut opts = options_for(dir.path(), berth_testkit::free_port(), &key);
    opts.runtime_dir = open.clone();
    let err = connect_err(kind, opts).await;
    assert_eq!(
        err.to_string(),
        format!(
            "invalid ssh options: runtime dir {} is open to other users (mode 755); it must be 0700",
            open.display()
        )
    );
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fetched_fingerprint_is_ssh_keygens() {
    let sshd = Sshd::start();
    let key = fetch_host_key("127.0.0.1", sshd.port, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(key.fingerprint, sshd.host_fingerprint());
    assert_eq!(key.algorithm, "ssh-ed25519");
    let public: Vec<&str> = sshd.host_public_key.split_whitespace().take(2).collect();
    assert_eq!(key.openssh, public.join(" "));
}

/// The file KnownHosts writes is what OpenSSH itself reads, with strict checking.
#[tokio::test]
async fn pinned_file_satisfies_system_ssh() {
    let f = Fixture::new();
    f.pin().await;
    let ssh = |known_hosts: &Path| {
        std::process::Command::new("ssh")
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
            ])
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .arg("-i")
            .arg(&f.sshd.user_key)
            .args([
                "-p",
                &f.sshd.port.to_string(),
                "root@127.0.0.1",
                "echo",
                "via-ssh",
            ])
            .output()
            .unwrap()
    };
    let out = ssh(&f.dir.path().join("known_hosts"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"via-ssh\n");

    f.known_hosts().forget("127.0.0.1", f.sshd.port).unwrap();
    let out = ssh(&f.dir.path().join("known_hosts"));
    assert!(!out.status.success());
}

#[cfg(unix)]
#[tokio::test]
async fn resolve_system_reports_what_ssh_would_use() {
    let dest = berth_ssh::hostkey::resolve_system(&Destination::new(
        Some("deploy"),
        "127.0.0.1",
        Some(2200),
    ))
    .await
    .unwrap();
    assert_eq!(
        dest,
        Destination::new(Some("deploy"), "127.0.0.1", Some(2200))
    );
    let dest = berth_ssh::hostkey::resolve_system(&Destination::new(None, "127.0.0.1", None))
        .await
        .unwrap();
    assert_eq!(dest.port, Some(22));
    assert!(dest.user.is_some());
}
