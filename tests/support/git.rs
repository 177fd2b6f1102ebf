//! Fixture git repositories for tests, made with the real `git`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// A git repository in a temp dir, removed on drop.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args([
            "-c",
            "user.name=Berth Test",
            "-c",
            "user.email=test@berth.local",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ]);
    c
}

impl Repo {
    /// An empty repository on branch `main`.
    pub fn new() -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("berth-repo-")
            .tempdir()
            .expect("tempdir");
        run(git(dir.path()).args(["init", "-q"]));
        Repo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Writes `files` (path, contents) and commits them all with `message`.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, contents) in files {
            let p: PathBuf = self.path().join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&p, contents).expect("write file");
        }
        run(git(self.path()).args(["add", "-A"]));
        run(git(self.path()).args(["commit", "-q", "-m", message]));
        self.head()
    }

    /// Deletes `path` and commits.
    pub fn remove(&self, path: &str, message: &str) -> String {
        run(git(self.path()).args(["rm", "-q", path]));
        run(git(self.path()).args(["commit", "-q", "-m", message]));
        self.head()
    }

    pub fn head(&self) -> String {
        run(git(self.path()).args(["rev-parse", "HEAD"]))
            .trim()
            .to_owned()
    }
}

impl Default for Repo {
    fn default() -> Self {
        Self::new()
    }
}

/// The sample app in `tests/e2e/apps/<name>` (a real app's layout: a Flask app, a Node app),
/// committed as it is to a new repository.
pub fn sample_app(name: &str) -> Repo {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read the sample app")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .expect("inside")
                    .display()
                    .to_string();
                out.push((rel, std::fs::read_to_string(&path).expect("a text file")));
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../e2e/apps")
        .join(name);
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files);
    let repo = Repo::new();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    repo.commit(&refs, "the sample app as it is");
    repo
}

/// A web app on the test busybox image: serves `/www` on port 8080 with `httpd`, writes the
/// `GREETING` env var to `/greeting.txt`, and answers `/healthz`.
pub fn web_app(version: &str) -> Repo {
    let repo = Repo::new();
    repo.commit_version(version);
    repo
}

/// The files of [`web_app`] at `version`.
pub fn web_files(version: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Dockerfile",
            format!(
                "FROM {}\nCOPY www /www\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"echo \\\"$GREETING\\\" > /www/greeting.txt; echo serving {version}; exec httpd -f -vv -p 8080 -h /www\"]\n",
                crate::docker::BUSYBOX
            ),
        ),
        ("www/index.html", format!("hello {version}\n")),
        ("www/healthz", "ok\n".to_owned()),
    ]
}

impl Repo {
    /// Commits a version of the [`web_app`] that builds but exits at once (status 3): its
    /// deploy fails at the health check, after building an image of its own.
    pub fn commit_crashing(&self, version: &str) -> String {
        let dockerfile = format!(
            "FROM {}\nCOPY www /www\nCMD [\"sh\", \"-c\", \"echo crashing {version}; exit 3\"]\n",
            crate::docker::BUSYBOX
        );
        let page = format!("broken {version}\n");
        self.commit(
            &[("Dockerfile", &dockerfile), ("www/index.html", &page)],
            &format!("web app {version}, crashing"),
        )
    }

    /// Commits a version of the [`web_app`] that serves until `/www/crash` exists in its
    /// container, then exits (status 3) — and at once on every restart after that: healthy
    /// at its deploy, a crash loop on demand (`docker exec C touch /www/crash`).
    pub fn commit_fragile(&self, version: &str) -> String {
        let dockerfile = format!(
            "FROM {}\nCOPY www /www\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; if [ -e /www/crash ]; then echo crashing; exit 3; fi; httpd -f -p 8080 -h /www & while [ ! -e /www/crash ]; do sleep 1; done; echo crash; exit 3\"]\n",
            crate::docker::BUSYBOX
        );
        let page = format!("fragile {version}\n");
        self.commit(
            &[
                ("Dockerfile", &dockerfile),
                ("www/index.html", &page),
                ("www/healthz", "ok\n"),
            ],
            &format!("web app {version}, fragile"),
        )
    }

    /// Rewrites `main` as a force-push would: back to `base`, then a new version of the
    /// [`web_app`] on top — a commit that does not descend from what came after `base`.
    pub fn rewrite_main(&self, base: &str, version: &str) -> String {
        run(git(self.path()).args(["reset", "-q", "--hard", base]));
        self.commit_version(version)
    }

    /// Commits a new version of the [`web_app`] files.
    pub fn commit_version(&self, version: &str) -> String {
        let files = web_files(version);
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
        self.commit(&refs, &format!("web app {version}"))
    }
}

/// `git daemon` serving repositories read-only over `git://`; killed on drop.
pub struct GitDaemon {
    child: std::process::Child,
    pub port: u16,
    /// The one repository of [`GitDaemon::serve`].
    name: Option<String>,
}

impl GitDaemon {
    /// Serves `repo` on every address of this machine (a container reaches it through its
    /// network's gateway): [`GitDaemon::url`].
    pub fn serve(repo: &Repo) -> GitDaemon {
        let path = repo.path();
        let base = path.parent().expect("the repository has a parent dir");
        let name = path
            .file_name()
            .expect("the repository has a name")
            .to_string_lossy()
            .into_owned();
        let mut daemon = Self::start(base, path, "0.0.0.0");
        daemon.name = Some(name);
        daemon
    }

    /// Serves every repository below `base` on loopback: [`GitDaemon::url_of`].
    pub fn serve_dir(base: &Path) -> GitDaemon {
        Self::start(base, base, "127.0.0.1")
    }

    fn start(base: &Path, exported: &Path, listen: &str) -> GitDaemon {
        let port = crate::free_port();
        // The daemon itself, not the `git daemon` wrapper: killing the wrapper would leave
        // its child serving.
        let exec_path = run(Command::new("git").arg("--exec-path"));
        let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                &format!("--listen={listen}"),
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
            ])
            .arg(exported)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start git daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        GitDaemon {
            child,
            port,
            name: None,
        }
    }

    /// `git://HOST:PORT/<repo>` of [`GitDaemon::serve`].
    pub fn url(&self, host: &str) -> String {
        self.url_of(host, self.name.as_deref().expect("serving one repository"))
    }

    /// `git://HOST:PORT/<repo>`.
    pub fn url_of(&self, host: &str, repo: &str) -> String {
        format!("git://{host}:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sample app (`tests/e2e/apps/<sample>`) created as a Berth app on a server over SSH, its
/// `data` named volume mounted at `mount`; not deployed. Its containers, images and volume
/// are removed when it is dropped.
pub struct SampleApp {
    pub berth: crate::Berth,
    pub name: String,
    pub repo: Repo,
    _guards: (
        crate::docker::AppGuard,
        crate::docker::VolumeGuard,
        crate::Sshd,
    ),
}

impl SampleApp {
    pub fn create(sample: &str, prefix: &str, mount: &str) -> SampleApp {
        let sshd = crate::Sshd::start();
        let berth = crate::Berth::new();
        berth.add_ssh_server("prod", &sshd);
        let name = crate::unique(prefix);
        let volume = format!("{name}-data");
        let guards = (
            crate::docker::AppGuard(name.clone()),
            crate::docker::VolumeGuard(volume.clone()),
            sshd,
        );
        let repo = sample_app(sample);
        berth.ok(&[
            "app",
            "create",
            &name,
            "--git",
            &repo.path_str(),
            "--volume",
            &format!("{volume}:{mount}"),
            "--health-timeout",
            "60",
        ]);
        SampleApp {
            berth,
            name,
            repo,
            _guards: guards,
        }
    }
}
