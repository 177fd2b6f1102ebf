//! A real S3-compatible server for the backup tests: s3s-fs (installed once per machine by
//! `scripts/s3-server.sh`) on a loopback port, over a temporary directory, checking every
//! request's signature against one access key.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, run, unique};

/// A running S3 server with one bucket; stopped, with its storage, when dropped.
pub struct S3Server {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://ADDR:PORT`.
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl S3Server {
    /// On loopback.
    pub fn start() -> S3Server {
        S3Server::start_on("127.0.0.1")
    }

    /// Listening on `addr` only: a Docker network's gateway ([`crate::docker::gateway`]) is
    /// reached both from this machine and from the containers on that network (the relay's).
    pub fn start_on(addr: &str) -> S3Server {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let binary = run(&mut Command::new(root.join("scripts/s3-server.sh")))
            .trim()
            .to_owned();
        let dir = tempfile::tempdir().expect("tempdir");
        let bucket = unique("backups");
        std::fs::create_dir(dir.path().join(&bucket)).expect("bucket dir");
        let port = free_port();
        let access_key_id = unique("AKIDBERTH").to_uppercase().replace('-', "");
        let secret_access_key = format!("{}{}", unique("secret"), unique("key"));
        let child = Command::new(&binary)
            .args(["--host", addr, "--port", &port.to_string()])
            .args([
                "--access-key",
                &access_key_id,
                "--secret-key",
                &secret_access_key,
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((addr, port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server {
            child,
            dir,
            endpoint: format!("http://{addr}:{port}"),
            bucket,
            access_key_id,
            secret_access_key,
        }
    }

    /// The files the server keeps under `key_prefix` of the bucket (its objects), by key.
    pub fn keys(&self, key_prefix: &str) -> Vec<String> {
        let base = self.dir.path().join(&self.bucket);
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&base) {
                    let key = rel.to_string_lossy().into_owned();
                    if key.starts_with(key_prefix) {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
