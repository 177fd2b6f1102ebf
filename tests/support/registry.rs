//! A real image registry on a loopback port: Debian's `docker-registry` (the CNCF distribution
//! registry), which this machine's dockerd pushes to and pulls from over plain HTTP (Docker
//! allows that for 127.0.0.0/8). No registry on the internet is reachable here.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker::{BUSYBOX, ensure_busybox};
use crate::{free_port, http_get, run};

/// A running registry; stopped, with its storage, when dropped.
pub struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`: the registry host part of image references.
    pub addr: String,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (package docker-registry: scripts/setup.sh)");
        let registry = Registry {
            child,
            _dir: dir,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(&registry.addr, "/v2/").map(|(s, _)| s) != Some(200) {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    /// Pushes a web app image as `<addr>/<repository>:<tag>` — the test busybox serving `/`
    /// with `version` and `/healthz` on port 8080 (`EXPOSE 8080`, label
    /// `berth.health-path=/healthz`) — and removes it from this machine again, so a deploy
    /// has to pull it. Returns the reference.
    pub fn push_web(&self, repository: &str, tag: &str, version: &str) -> String {
        ensure_busybox();
        let reference = format!("{}/{repository}:{tag}", self.addr);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("www")).expect("www");
        std::fs::write(dir.path().join("www/index.html"), format!("{version}\n")).expect("page");
        std::fs::write(dir.path().join("www/healthz"), "ok\n").expect("healthz");
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {BUSYBOX}\nCOPY www /www\nEXPOSE 8080\nLABEL berth.health-path=/healthz berth.test=true\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
            ),
        )
        .expect("Dockerfile");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &reference])
            .arg(dir.path()));
        run(Command::new("docker").args(["push", "-q", &reference]));
        run(Command::new("docker").args(["rmi", &reference]));
        reference
    }

    /// Removes every image of `<addr>/<repository>` from this machine.
    pub fn remove_local(&self, repository: &str) {
        let repo = format!("{}/{repository}", self.addr);
        let ids = Command::new("docker")
            .args(["images", "-q", &repo])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("docker").args(["rmi", "-f", id]).output();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
