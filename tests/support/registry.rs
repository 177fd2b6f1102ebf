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
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`: the registry host part of image references.
    pub addr: String,
    /// The login pushes use (a docker CLI config of this registry's own).
    login: Option<(String, String)>,
}

impl Registry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that wants `user`/`password` (htpasswd, bcrypt) for every request.
    pub fn start_with_login(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    /// A registry that wants a login, listening on every address of this machine too: a
    /// container (the relay's, polling) reaches it at the host's address on its network, while
    /// image references keep naming `127.0.0.1:PORT`.
    pub fn start_for_containers(user: &str, password: &str) -> Registry {
        Registry::start_on(Some((user, password)), true)
    }

    fn start_with(login: Option<(&str, &str)>) -> Registry {
        Registry::start_on(login, false)
    }

    fn start_on(login: Option<(&str, &str)>, everywhere: bool) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let listen = if everywhere {
            format!(":{port}")
        } else {
            addr.clone()
        };
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {listen}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = login {
            let htpasswd = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (package apache2-utils: scripts/setup.sh)");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(&htpasswd, &out.stdout).expect("htpasswd file");
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, yaml).expect("registry config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (package docker-registry: scripts/setup.sh)");
        let registry = Registry {
            child,
            dir,
            addr,
            login: login.map(|(u, p)| (u.to_owned(), p.to_owned())),
        };
        if let Some((user, password)) = login {
            std::fs::create_dir(registry.docker_config()).expect("docker config dir");
            let deadline = Instant::now() + Duration::from_secs(20);
            while http_get(&registry.addr, "/v2/").is_none() {
                assert!(Instant::now() < deadline, "the registry did not start");
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut child = registry
                .docker()
                .args(["login", "-u", user, "--password-stdin", &registry.addr])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("docker login");
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(password.as_bytes())
                .expect("password");
            assert!(
                child.wait().expect("docker login").success(),
                "docker login failed"
            );
            return registry;
        }
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
                "FROM {BUSYBOX}\nCOPY www /www\nEXPOSE 8080\nLABEL berth.health-path=/healthz berth.test=true berth.env.GREETING=hello\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
            ),
        )
        .expect("Dockerfile");
        run(Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &reference])
            .arg(dir.path()));
        run(self.docker().args(["push", "-q", &reference]));
        run(Command::new("docker").args(["rmi", &reference]));
        reference
    }

    /// Pushes the local image `image` as `<addr>/<repository>:<tag>` and untags that reference
    /// here again (the image itself stays: the next test reuses it), so Berth pulls it.
    /// Returns the reference.
    pub fn push_local(&self, image: &str, repository: &str, tag: &str) -> String {
        let reference = format!("{}/{repository}:{tag}", self.addr);
        run(Command::new("docker").args(["tag", image, &reference]));
        run(self.docker().args(["push", "-q", &reference]));
        run(Command::new("docker").args(["rmi", &reference]));
        reference
    }

    fn docker_config(&self) -> std::path::PathBuf {
        self.dir.path().join("docker-config")
    }

    /// The docker CLI, logged in to this registry when it wants a login.
    fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        if self.login.is_some() {
            c.env("DOCKER_CONFIG", self.docker_config());
        }
        c
    }

    /// Pushes `<addr>/<repository>:<tag>` as an image built for `arch` (`arm64`) only — a
    /// hand-made manifest, config and empty layer through the registry's API, since this
    /// machine's Docker builds for its own architecture. Returns the reference.
    pub fn push_for_arch(&self, repository: &str, tag: &str, arch: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let layer = dir.path().join("layer.tar");
        std::fs::write(&layer, [0u8; 1024]).expect("layer"); // an empty tar
        let layer_digest = sha256_file(&layer);
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"architecture":"{arch}","os":"linux","config":{{"ExposedPorts":{{"8080/tcp":{{}}}}}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
            ),
        )
        .expect("config");
        let config_digest = sha256_file(&config);
        for (file, digest) in [(&layer, &layer_digest), (&config, &config_digest)] {
            let out = self
                .curl()
                .args(["-s", "-D", "-", "-o", "/dev/null", "-X", "POST"])
                .arg(format!(
                    "http://{}/v2/{repository}/blobs/uploads/",
                    self.addr
                ))
                .output()
                .expect("curl (scripts/setup.sh installs it)");
            let headers = String::from_utf8_lossy(&out.stdout).into_owned();
            let location = headers
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("location")
                        .then(|| v.trim().to_owned())
                })
                .expect("an upload location");
            let location = if location.starts_with("http") {
                location
            } else {
                format!("http://{}{location}", self.addr)
            };
            let sep = if location.contains('?') { '&' } else { '?' };
            run(self
                .curl()
                .args([
                    "-sf",
                    "-X",
                    "PUT",
                    "-H",
                    "Content-Type: application/octet-stream",
                ])
                .arg("--data-binary")
                .arg(format!("@{}", file.display()))
                .arg(format!("{location}{sep}digest={digest}")));
        }
        let config_size = std::fs::metadata(&config).map(|m| m.len()).unwrap_or(0);
        let manifest = dir.path().join("manifest.json");
        std::fs::write(
            &manifest,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":1024}}]}}"#
            ),
        )
        .expect("manifest");
        run(self
            .curl()
            .args([
                "-sf",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/vnd.oci.image.manifest.v1+json",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", manifest.display()))
            .arg(format!(
                "http://{}/v2/{repository}/manifests/{tag}",
                self.addr
            )));
        format!("{}/{repository}:{tag}", self.addr)
    }

    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        if let Some((user, password)) = &self.login {
            c.arg("-u").arg(format!("{user}:{password}"));
        }
        c
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

/// `sha256:<hex>` of a file's bytes.
fn sha256_file(path: &std::path::Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    format!(
        "sha256:{}",
        out.split_whitespace().next().unwrap_or_default()
    )
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
