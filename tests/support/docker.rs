//! Docker helpers for tests: the `FROM scratch` busybox base image (no registry is reachable)
//! and clean-up of everything a test's apps left behind, by label.

use std::process::Command;
use std::sync::Once;

use crate::run;

/// The local base image test apps build `FROM`.
pub const BUSYBOX: &str = "berth-test/busybox:latest";

static BASE: Once = Once::new();
static CADDY_ONCE: Once = Once::new();
static CADDY_SH_ONCE: Once = Once::new();

/// Caddy `FROM scratch`: Debian's `caddy` binary and the libraries `ldd` lists for it, with
/// an empty `/tmp`. What the routing tests pass to `server proxy install --image`.
pub const CADDY: &str = "berth-test/caddy:2";

/// [`BUSYBOX`] plus the same Caddy: a shell for generated Dockerfiles' `CMD` lines.
pub const CADDY_SH: &str = "berth-test/caddy-sh:latest";

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Builds [`BUSYBOX`] from the host's static busybox, once per test process (and not at all
/// when it already exists).
pub fn ensure_busybox() {
    BASE.call_once(|| {
        if image_exists(BUSYBOX) {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("busybox not found: run scripts/setup.sh (package busybox-static)");
        std::fs::copy(busybox, dir.path().join("busybox")).expect("copy busybox");
        build(
            BUSYBOX,
            dir.path(),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nLABEL berth.test=true\n",
        );
    });
}

/// A build context `root/` holding `/usr/bin/caddy`, its libraries and an empty `/tmp`.
fn caddy_context() -> tempfile::TempDir {
    let caddy = std::path::Path::new("/usr/bin/caddy");
    assert!(
        caddy.exists(),
        "caddy not found: run scripts/setup.sh (package caddy)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let mut files = vec![caddy.to_path_buf()];
    for word in run(Command::new("ldd").arg(caddy)).split_whitespace() {
        if word.starts_with('/') {
            files.push(std::path::PathBuf::from(word));
        }
    }
    for f in files {
        let dest = root.join(f.strip_prefix("/").expect("absolute"));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        // Copy what the path points to (libraries are often symlinks).
        std::fs::copy(std::fs::canonicalize(&f).expect("canonicalize"), &dest).expect("copy");
    }
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    }
    dir
}

fn build(image: &str, dir: &std::path::Path, dockerfile: &str) {
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("write Dockerfile");
    run(Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", image])
        .arg(dir));
}

/// Builds [`CADDY`] once per test process (not at all when it exists).
pub fn ensure_caddy() {
    CADDY_ONCE.call_once(|| {
        if image_exists(CADDY) {
            return;
        }
        let dir = caddy_context();
        build(
            CADDY,
            dir.path(),
            "FROM scratch\nCOPY root/ /\nENV HOME=/tmp XDG_DATA_HOME=/tmp/caddy/data XDG_CONFIG_HOME=/tmp/caddy/config\nLABEL berth.test=true\nCMD [\"caddy\", \"run\"]\n",
        );
    });
}

/// Builds [`CADDY_SH`] once per test process (not at all when it exists).
pub fn ensure_caddy_sh() {
    ensure_busybox();
    CADDY_SH_ONCE.call_once(|| {
        if image_exists(CADDY_SH) {
            return;
        }
        let dir = caddy_context();
        build(
            CADDY_SH,
            dir.path(),
            &format!(
                "FROM {BUSYBOX}\nCOPY root/ /\nENV HOME=/tmp XDG_DATA_HOME=/tmp/caddy/data XDG_CONFIG_HOME=/tmp/caddy/config\nLABEL berth.test=true\n"
            ),
        );
    });
}

/// Names of containers (running or not) of `app`.
/// `docker inspect -f FORMAT CONTAINER`, trimmed.
pub fn inspect(container: &str, format: &str) -> String {
    run(Command::new("docker").args(["inspect", "-f", format, container]))
        .trim()
        .to_owned()
}

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
    // Built images carry the app's label; an image app's pulled digests are tagged berth/<app>.
    let mut list = Vec::new();
    for filter in [
        format!("label=berth.app={app}"),
        format!("reference=berth/{app}"),
    ] {
        let out = run(Command::new("docker").args([
            "images",
            "--filter",
            &filter,
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]));
        for l in out.lines().filter(|l| !l.is_empty()) {
            if !list.iter().any(|known| known == l) {
                list.push(l.to_owned());
            }
        }
    }
    list
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
    // An image app's pins: untag them (the pulled image is its registry test's to remove).
    for tag in images_of(app) {
        let _ = Command::new("docker").args(["rmi", &tag]).output();
    }
}

/// Removes an app's Docker objects when dropped, whatever the test's outcome.
pub struct AppGuard(pub String);

impl Drop for AppGuard {
    fn drop(&mut self) {
        remove_app(&self.0);
    }
}

/// Removes a named volume when dropped (a service's data), whatever the test's outcome.
pub struct VolumeGuard(pub String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

/// Whether a named volume exists.
pub fn volume_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["volume", "inspect", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Removes, when dropped, every container whose name and every image whose `repo:tag`
/// contains `.0` (a test's unique name): an image app's stage instances and the images pulled
/// from a test registry, whatever the test's outcome.
pub struct NamedGuard(pub String);

impl Drop for NamedGuard {
    fn drop(&mut self) {
        let list = |args: &[&str]| {
            Command::new("docker")
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for c in list(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .filter(|n| n.contains(&self.0))
        {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        for i in list(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .lines()
            .filter(|n| n.contains(&self.0))
        {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

/// Removes the webhook relay: its container, data volume, control socket dir and images.
pub fn remove_relay() {
    let _ = Command::new("docker")
        .args(["rm", "-f", "berth-relay", "berth-relay-previous"])
        .output();
    let _ = Command::new("docker")
        .args(["volume", "rm", "-f", "berth-relay-data"])
        .output();
    let ids = Command::new("docker")
        .args(["images", "-q", "--filter", "label=berth.role=relay"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for id in ids.lines().filter(|l| !l.is_empty()) {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
    let _ = std::fs::remove_dir_all("/run/berth-relay");
}

/// The gateway address of a Docker network: how its containers reach this machine.
pub fn gateway(network: &str) -> String {
    crate::run(Command::new("docker").args([
        "network",
        "inspect",
        network,
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
    ]))
    .trim()
    .to_owned()
}
