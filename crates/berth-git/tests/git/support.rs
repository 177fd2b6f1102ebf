//! Test fixtures: a repository built with the real git, and git http-backend behind a tiny
//! HTTP server on a loopback port, stopped when dropped. `git daemon` and sshd come from the
//! project's test kit (`berth-testkit`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use berth_testkit::free_port;
pub use berth_testkit::git::GitDaemon;

/// Runs git in `dir` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// About 1.2 MiB of text that compresses poorly enough to matter.
pub fn big_text() -> Vec<u8> {
    let mut out = String::new();
    let mut x: u64 = 7;
    while out.len() < 1_200_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(&format!("row {:016x}\n", x >> 8));
    }
    out.into_bytes()
}

/// `srv/repo.git` (bare) served by every server, and `srv/empty.git`.
///
/// History of `main`: "first commit" (README, run.sh +x, link → README.md, big.bin,
/// sub/deeper/x.txt, a submodule entry), then "second commit" (big.bin changed in the middle,
/// README changed). Tag `v1.0` (annotated) and `light` (lightweight) point at the first
/// commit; branch `side` has a commit that `main` cannot reach.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub first: String,
    pub second: String,
    pub side: String,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("berth-git-test-")
            .tempdir()
            .expect("tempdir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("sub/deeper")).expect("mkdir");
        let w = work.as_path();
        git(w, &["init", "-q", "-b", "main"]);
        std::fs::write(w.join("README.md"), "# demo v1\n").expect("write");
        std::fs::write(w.join("run.sh"), "#!/bin/sh\necho hi\n").expect("write");
        std::fs::set_permissions(
            w.join("run.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        std::fs::write(w.join("sub/deeper/x.txt"), "deep\n").expect("write");
        std::fs::write(w.join("big.bin"), big_text()).expect("write");
        std::os::unix::fs::symlink("README.md", w.join("link")).expect("symlink");
        git(w, &["add", "."]);
        git(
            w,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                "160000,1111111111111111111111111111111111111111,vendor/lib",
            ],
        );
        git(w, &["commit", "-q", "-m", "first commit"]);
        let first = git(w, &["rev-parse", "HEAD"]);
        git(w, &["tag", "-a", "v1.0", "-m", "release 1.0"]);
        git(w, &["tag", "light"]);

        let mut big = big_text();
        big[600_000..600_008].copy_from_slice(b"CHANGED!");
        std::fs::write(w.join("big.bin"), big).expect("write");
        std::fs::write(w.join("README.md"), "# demo v2\n").expect("write");
        git(w, &["commit", "-q", "-am", "second commit\n\nwith a body"]);
        let second = git(w, &["rev-parse", "HEAD"]);

        git(w, &["checkout", "-q", "-b", "side", &first]);
        std::fs::write(w.join("side.txt"), "side\n").expect("write");
        git(w, &["add", "side.txt"]);
        git(w, &["commit", "-q", "-m", "side commit"]);
        let side = git(w, &["rev-parse", "HEAD"]);
        git(w, &["checkout", "-q", "main"]);

        let srv = dir.path().join("srv");
        std::fs::create_dir_all(&srv).expect("mkdir srv");
        git(
            dir.path(),
            &["clone", "-q", "--bare", "work", "srv/repo.git"],
        );
        git(dir.path(), &["init", "-q", "--bare", "srv/empty.git"]);
        Fixture {
            dir,
            first,
            second,
            side,
        }
    }

    /// The directory every server exports.
    pub fn srv(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    /// Adds `count` empty commits on top of `main` (in the served repository).
    pub fn extend_main(&self, count: usize) -> String {
        let w = self.dir.path().join("work");
        for i in 0..count {
            git(
                &w,
                &[
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    &format!("filler {i}"),
                ],
            );
        }
        git(&w, &["push", "-q", "../srv/repo.git", "main"]);
        git(&w, &["rev-parse", "HEAD"])
    }
}

/// A minimal HTTP/1.1 server running `git http-backend` (CGI) per request, optionally
/// requiring one exact `Authorization` header.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The `Authorization` header of every request received (None when absent).
    pub seen_auth: Arc<Mutex<Vec<Option<String>>>>,
}

impl HttpServer {
    pub fn start(root: &Path, required_auth: Option<String>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen_auth = Arc::new(Mutex::new(Vec::new()));
        let exec_path = git(root, &["--exec-path"]);
        let backend = [
            PathBuf::from(exec_path).join("git-http-backend"),
            PathBuf::from("/usr/lib/git-core/git-http-backend"),
        ]
        .into_iter()
        .find(|p| p.exists())
        .expect("git-http-backend not found");
        let thread = {
            let (stop, seen_auth, root) = (stop.clone(), seen_auth.clone(), root.to_owned());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    if let Err(e) =
                        serve(conn, &root, &backend, required_auth.as_deref(), &seen_auth)
                    {
                        eprintln!("test http server: {e}");
                    }
                }
            })
        };
        HttpServer {
            port,
            stop,
            thread: Some(thread),
            seen_auth,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    conn: TcpStream,
    root: &Path,
    backend: &Path,
    required_auth: Option<&str>,
    seen_auth: &Mutex<Vec<Option<String>>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let auth = header("authorization");
    seen_auth.lock().expect("lock").push(auth.clone());
    let mut conn = conn;
    if let Some(required) = required_auth
        && auth.as_deref() != Some(required)
    {
        let msg = b"authentication required\n";
        write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            msg.len()
        )?;
        conn.write_all(msg)?;
        return Ok(());
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut child = Command::new(backend)
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .env("REQUEST_METHOD", &method)
        .env("QUERY_STRING", query)
        .env("PATH_INFO", path)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", length.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&body)?;
    }
    let out = child.wait_with_output()?;
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        })
        .unwrap_or((out.stdout.len(), 0));
    let head = String::from_utf8_lossy(&out.stdout[..split.0]).into_owned();
    let cgi_body = &out.stdout[(split.0 + split.1).min(out.stdout.len())..];
    let mut status = "200 OK".to_owned();
    let mut response_headers = String::new();
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("status") {
                status = v.trim().to_owned();
            } else {
                response_headers.push_str(&format!("{}: {}\r\n", k.trim(), v.trim()));
            }
        }
    }
    write!(
        conn,
        "HTTP/1.1 {status}\r\n{response_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        cgi_body.len()
    )?;
    conn.write_all(cgi_body)?;
    conn.flush()
}

/// `SHA256:…` of a public key file, from `ssh-keygen -lf`.
pub fn fingerprint_of(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(path)
        .output()
        .expect("ssh-keygen -l");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_owned()
}
