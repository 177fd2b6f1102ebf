//! Docker helpers for tests: the `FROM scratch` busybox base image (no registry is reachable)
//! and clean-up of everything a test's apps left behind, by label.

use std::process::Command;
use std::sync::Once;

use crate::run;

/// The local base image test apps build `FROM`.
pub const BUSYBOX: &str = "berth-test/busybox:latest";

static BASE: Once = Once::new();
static CADDY: Once = Once::new();

/// A local image with busybox's shell and Debian's `caddy` (plus the libraries `ldd` lists):
/// the run image for generated static-site Dockerfiles, and Caddy itself, without a registry.
pub const CADDY_SH: &str = "berth-test/caddy-sh:latest";

/// Builds [`CADDY_SH`] once per test process (not at all when it exists).
pub fn ensure_caddy_sh() {
    ensure_busybox();
    CADDY.call_once(|| {
        let exists = Command::new("docker")
            .args(["image", "inspect", CADDY_SH])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if exists {
            return;
        }
        let caddy = std::path::Path::new("/usr/bin/caddy");
        assert!(caddy.exists(), "caddy not found: run scripts/setup.sh (package caddy)");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let mut files = vec![caddy.to_path_buf()];
        let ldd = run(Command::new("ldd").arg(caddy));
        for word in ldd.split_whitespace() {
            if word.starts_with('/') {
                files.push(std::path::PathBuf::from(word));
            }
        }
        for f in files {
            let dest = root.join(f.strip_prefix("/").expect("absolute"));
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            // Copy the file the path points to (libraries are often symlinks).
            std::fs::copy(std::fs::canonicalize(&f).expect("canonicalize"), &dest).expect("copy");
        }
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {BUSYBOX}\nCOPY root/ /\nRUN mkdir -p /tmp /etc && chmod 1777 /tmp && echo 'nobody:x:65534:65534::/tmp:/bin/sh' > /etc/passwd\nENV HOME=/tmp XDG_DATA_HOME=/tmp/caddy/data XDG_CONFIG_HOME=/tmp/caddy/config\nLABEL berth.test=true\n"
            ),
        )
        .expect("write Dockerfile");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", CADDY_SH])
            .arg(dir.path()));
    });
}

/// Builds [`BUSYBOX`] from the host's static busybox, once per test process (and not at all
/// when it already exists).
pub fn ensure_busybox() {
    BASE.call_once(|| {
        let exists = Command::new("docker")
            .args(["image", "inspect", BUSYBOX])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if exists {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("busybox not found: run scripts/setup.sh (package busybox-static)");
        std::fs::copy(busybox, dir.path().join("busybox")).expect("copy busybox");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nLABEL berth.test=true\n",
        )
        .expect("write Dockerfile");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", BUSYBOX])
            .arg(dir.path()));
    });
}

/// Names of containers (running or not) of `app`.
pub fn containers_of(app: &str) -> Vec<String> {
    let out = run(Command::new("docker").args([
        "ps",
        "-a",
        "--filter",
        &format!("label=berth.app={app}"),
        "--format",
        "{{.Names}}",
    ]));
    out.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Tags of images of `app`.
pub fn images_of(app: &str) -> Vec<String> {
    let out = run(Command::new("docker").args([
        "images",
        "--filter",
        &format!("label=berth.app={app}"),
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]));
    out.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Removes every container and image of `app`.
pub fn remove_app(app: &str) {
    for c in containers_of(app) {
        let _ = Command::new("docker").args(["rm", "-f", &c]).output();
    }
    let ids = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("label=berth.app={app}"),
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
}

/// Removes an app's Docker objects when dropped, whatever the test's outcome.
pub struct AppGuard(pub String);

impl Drop for AppGuard {
    fn drop(&mut self) {
        remove_app(&self.0);
    }
}
