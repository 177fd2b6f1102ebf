//! The `.deb` a user installs: `scripts/package.sh` packages the binaries this run built, and
//! the package goes into a clean Debian 12 (made with debootstrap, `scripts/test-images.sh`)
//! with `apt-get install ./berth_….deb`. From the installed files only, `berth` names its
//! build, the desktop app's libraries resolve, and `server add --local` + `relay install` put
//! a working relay on this machine's dockerd.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testkit::{berth_bin, free_port, http_get, run};

use crate::webhooks::RelayGuard;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// What runs inside the clean Debian container, as root, like a user at a terminal.
const INSIDE: &str = r#"set -eu
apt-get update -qq
apt-get install -y -qq --no-install-recommends /pkg/berth.deb >/tmp/apt.log 2>&1 \
  || { tail -n 30 /tmp/apt.log; exit 1; }
echo "== version"; berth --version
echo "== files"
ls /usr/lib/berth
test -f /usr/share/applications/berth.desktop && echo "desktop entry"
test -f /usr/share/icons/hicolor/128x128/apps/berth.png && echo "icon"
echo "== ldd"; ldd /usr/bin/berth-desktop | grep -c "not found" || true
echo "== add"; berth server add here --local
echo "== install"; berth server relay install here --listen-port "$PORT"
echo "== status"; berth server relay status here
# A server architecture Berth has no relay for is refused before anything changes.
rm /usr/lib/berth/berth-relay-x86_64-linux
echo "== missing"; berth server relay install here --listen-port "$PORT" 2>&1 && exit 1
echo "== end"
"#;

/// The text between `== name` and the next `==` line of the container's output.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let start = out
        .find(&format!("== {name}\n"))
        .unwrap_or_else(|| panic!("no {name} section in:\n{out}"));
    let rest = &out[start + name.len() + 4..];
    &rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)]
}

#[test]
fn the_deb_installs_on_clean_debian_and_installs_a_relay_from_its_own_files() {
    let root = workspace();
    // Package what this run built: the debug binaries and both relays (quick compression).
    let out = tempfile::tempdir().unwrap();
    let deb = run(Command::new(root.join("scripts/package.sh"))
        .args(["--profile", "debug", "--no-build", "--fast"])
        .env("BERTH_PACKAGE_OUT", out.path())
        .env(
            "CARGO_TARGET_DIR",
            berth_bin().parent().unwrap().parent().unwrap(),
        ));
    let deb = PathBuf::from(deb.trim());
    let info = run(Command::new("dpkg-deb").arg("--field").arg(&deb));
    assert!(info.contains("Package: berth"), "{info}");
    for dep in ["libwebkit2gtk-4.1-0", "libayatana-appindicator3-1", "git"] {
        assert!(info.contains(dep), "Depends lacks {dep}: {info}");
    }

    let image = run(Command::new(root.join("scripts/test-images.sh")).arg("debian"));
    let image = image.trim();
    let _guard = RelayGuard::take();
    let port = free_port();
    let container = berth_testkit::unique("berth-pkg");
    let output = Command::new("docker")
        .args(["run", "--rm", "--name", &container])
        .args(["--label", "berth.test=true"])
        .arg("-v")
        .arg(format!("{}:/pkg/berth.deb:ro", deb.display()))
        // This machine is the server: its Docker socket, and the directory the relay's control
        // socket appears in (a `--local` server shares the filesystem by definition).
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args(["-v", "/run/berth-relay:/run/berth-relay"])
        .args(["-e", &format!("PORT={port}")])
        .args([image, "bash", "-c", INSIDE])
        .output()
        .expect("docker run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "in the clean Debian:\n{text}");

    let version = section(&text, "version");
    assert!(
        version.starts_with(&format!("berth {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let ours = run(Command::new(berth_bin()).arg("--version"));
    assert_eq!(version.trim(), ours.trim(), "the package holds this build");
    let files = section(&text, "files");
    for f in [
        "berth-relay-aarch64-linux",
        "berth-relay-x86_64-linux",
        "desktop entry",
        "icon",
    ] {
        assert!(files.contains(f), "{f} not installed:\n{files}");
    }
    assert_eq!(
        section(&text, "ldd").trim(),
        "0",
        "berth-desktop's libraries all resolve"
    );
    assert!(section(&text, "status").contains("running"), "{text}");
    let missing = section(&text, "missing");
    assert!(
        missing.contains("the relay binary for x86_64 servers is missing")
            && missing.contains("/usr/lib/berth/berth-relay-x86_64-linux"),
        "{missing}"
    );

    // The relay it installed answers on this machine, and the refused reinstall left it alone.
    let (status, _) = http_get(&format!("127.0.0.1:{port}"), "/healthz")
        .unwrap_or_else(|| panic!("the relay does not answer on {port}:\n{text}"));
    assert_eq!(status, 200);
}
