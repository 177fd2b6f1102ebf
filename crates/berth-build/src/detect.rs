//! Runtime detection: which Dockerfile builds a commit, and the generated one when the
//! repository has none.
//!
//! Detection looks only at the commit (its file list and the contents of a few files), never at
//! a work tree, so the same commit always gets the same Dockerfile.

use std::collections::BTreeSet;
use std::fmt;

use berth_model::BaseImages;

use crate::BuildError;
use crate::git::{Commit, Repo};
use crate::procfile::Procfile;

mod go;
mod node;
mod python;
mod rust;
mod site;

/// How a commit is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// The repository's own Dockerfile, at `path` from the root.
    Dockerfile {
        path: String,
    },
    Go,
    Node,
    Python,
    Rust,
    /// A static site served by Caddy.
    Static,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Dockerfile { .. } => "dockerfile",
            Runtime::Go => "go",
            Runtime::Node => "node",
            Runtime::Python => "python",
            Runtime::Rust => "rust",
            Runtime::Static => "static",
        })
    }
}

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub runtime: Runtime,
    /// The generated Dockerfile when the repository has none to use.
    pub dockerfile: Option<String>,
    /// What detection decided, for the build log (e.g. "using Procfile web command").
    pub hints: Vec<String>,
    /// The commit's Procfile (empty without one): its `release` runs before the switch, its
    /// other types but `web` run beside the app.
    pub procfile: Procfile,
}

/// What the app says about how it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The app's Dockerfile path (`None`: a root `Dockerfile`, else a generated one).
    pub dockerfile: Option<String>,
    /// The port the app listens on.
    pub port: u16,
    /// Base images of generated Dockerfiles; unset ones come from the runtime's version and
    /// [`default_images`].
    pub images: BaseImages,
    /// The app's start command, instead of the Procfile's `web` and what detection guesses.
    pub start_command: Option<String>,
    /// Leave the app's directory owned by root (the app cannot write into its own folder).
    pub read_only_app_dir: bool,
    /// Env keys passed to the build as build args (declared with `ARG` in generated files).
    pub build_args: Vec<String>,
}

impl Default for Options {
    /// An app's defaults: port 8080, the runtime's images.
    fn default() -> Self {
        Options {
            dockerfile: None,
            port: berth_model::App::DEFAULT_PORT,
            images: BaseImages::default(),
            start_command: None,
            read_only_app_dir: false,
            build_args: Vec::new(),
        }
    }
}

impl Options {
    /// The options of `app`, with `images` (the app's, over the server's).
    pub fn of(app: &berth_model::App, images: &BaseImages) -> Options {
        Options {
            dockerfile: app.dockerfile.clone(),
            port: app.port,
            images: images.clone(),
            start_command: app.start_command.clone(),
            read_only_app_dir: app.read_only_app_dir,
            build_args: app.build_env.clone(),
        }
    }
}

/// What detection looks for, in order, when nothing says which Dockerfile to use.
const LOOKED_FOR: &[&str] = &[
    "Dockerfile",
    "go.mod",
    "Cargo.toml",
    "package.json",
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "index.html",
    "public/index.html",
    "dist/index.html",
    "build/index.html",
];

/// Decides how to build a commit. `files` are every path of the commit and `read` gives the
/// contents of one of them.
///
/// In order: the app's explicit dockerfile (which must exist), a root `Dockerfile`, then
/// `go.mod`, `Cargo.toml`, `package.json`, `requirements.txt` / `pyproject.toml` / `Pipfile`,
/// and an `index.html` at the root or in `public/`, `dist/` or `build/`. A Procfile is read in
/// every case (a bad line fails detection, naming it).
pub fn detect(
    files: &[String],
    read: &dyn Fn(&str) -> Option<String>,
    options: &Options,
) -> Result<Detected, BuildError> {
    let src = Source::new(files, read);
    let procfile = match src.read("Procfile") {
        Some(text) => Procfile::parse(&text)?,
        None => Procfile::default(),
    };
    let own = if let Some(path) = &options.dockerfile {
        let path = path.trim_start_matches("./");
        if !src.has(path) {
            return Err(BuildError::DockerfileMissing {
                path: path.to_owned(),
            });
        }
        Some((path, format!("using {path} (set on the app)")))
    } else if src.has("Dockerfile") {
        Some(("Dockerfile", "using the repository's Dockerfile".into()))
    } else {
        None
    };
    if let Some((path, hint)) = own {
        let mut hints = vec![hint];
        if let Some(web) = procfile.get("web") {
            hints.push(format!(
                "the Procfile's web line (line {}) is not used: the Dockerfile decides how the app starts (or set a start command on the app)",
                web.line
            ));
        }
        return Ok(Detected {
            runtime: Runtime::Dockerfile {
                path: path.to_owned(),
            },
            dockerfile: None,
            hints,
            procfile,
        });
    }
    let runtime = if src.has("go.mod") {
        Runtime::Go
    } else if src.has("Cargo.toml") {
        Runtime::Rust
    } else if src.has("package.json") {
        Runtime::Node
    } else if ["requirements.txt", "pyproject.toml", "Pipfile"]
        .iter()
        .any(|f| src.has(f))
    {
        Runtime::Python
    } else if site::root(&src).is_some() {
        Runtime::Static
    } else {
        return Err(BuildError::NothingToBuild {
            looked_for: LOOKED_FOR.iter().map(|s| (*s).to_owned()).collect(),
        });
    };
    let mut out = Generated::new(&runtime, options, &procfile);
    match runtime {
        Runtime::Go => go::generate(&src, &mut out)?,
        Runtime::Rust => rust::generate(&src, &mut out)?,
        Runtime::Node => node::generate(&src, &mut out)?,
        Runtime::Python => python::generate(&src, &mut out)?,
        Runtime::Static => site::generate(&src, &mut out)?,
        Runtime::Dockerfile { .. } => {}
    }
    let port = options.port;
    out.hints.push(if runtime == Runtime::Static {
        format!("generated a static site Dockerfile: caddy serves it on port {port}")
    } else {
        format!("generated a {runtime} Dockerfile: the app must listen on $PORT ({port})")
    });
    Ok(Detected {
        runtime,
        dockerfile: Some(out.text),
        hints: out.hints,
        procfile,
    })
}

/// [`detect`] on a commit of a repository.
pub fn detect_at(repo: &Repo, commit: &Commit, options: &Options) -> Result<Detected, BuildError> {
    let files = repo.list_files(commit)?;
    // Reading a handful of small manifests: a git failure here would already have failed
    // `list_files`, so a read error counts as "not there".
    let read = |path: &str| {
        repo.read_file(commit, path)
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    detect(&files, &read, options)
}

/// The built-in base images of a runtime's generated Dockerfile. Single-stage runtimes
/// (python, static) only have a run image.
pub fn default_images(runtime: &Runtime) -> BaseImages {
    let (build, run) = match runtime {
        Runtime::Dockerfile { .. } => (None, None),
        Runtime::Go => (
            Some(go::DEFAULT_BUILD_IMAGE),
            Some("gcr.io/distroless/static-debian12"),
        ),
        Runtime::Node => (Some("node:22-bookworm-slim"), Some("node:22-bookworm-slim")),
        Runtime::Python => (None, Some("python:3.12-slim")),
        Runtime::Rust => (Some("rust:1-bookworm"), Some("debian:bookworm-slim")),
        Runtime::Static => (None, Some("caddy:2-alpine")),
    };
    BaseImages {
        build: build.map(str::to_owned),
        run: run.map(str::to_owned),
    }
}

/// The files of a commit, as detection sees them.
pub(crate) struct Source<'a> {
    files: BTreeSet<&'a str>,
    read: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Source<'a> {
    fn new(files: &'a [String], read: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Source {
            files: files.iter().map(String::as_str).collect(),
            read,
        }
    }

    pub(crate) fn has(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    pub(crate) fn read(&self, path: &str) -> Option<String> {
        if self.has(path) {
            (self.read)(path)
        } else {
            None
        }
    }

    /// The paths of the files directly inside `dir` (no trailing '/'), in order.
    pub(crate) fn children(&self, dir: &str) -> Vec<&'a str> {
        let prefix = format!("{dir}/");
        self.files
            .iter()
            .filter(|f| {
                f.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .copied()
            .collect()
    }
}

/// A generated Dockerfile being written, with the images and port it uses.
pub(crate) struct Generated {
    pub(crate) text: String,
    pub(crate) hints: Vec<String>,
    pub(crate) port: u16,
    /// The app's build image override, if any (the runtime's default is in `build`).
    pub(crate) build_override: Option<String>,
    /// The app's run image override, if any (the runtime's default is in `run`).
    pub(crate) run_override: Option<String>,
    pub(crate) build: String,
    pub(crate) run: String,
    start_command: Option<String>,
    web: Option<crate::procfile::Process>,
    read_only_app_dir: bool,
    build_args: Vec<String>,
}

impl Generated {
    fn new(runtime: &Runtime, options: &Options, procfile: &Procfile) -> Self {
        let images = &options.images;
        let defaults = default_images(runtime);
        let merged = images.or(&defaults);
        let mut hints = Vec::new();
        if defaults.build.is_none()
            && let Some(build) = &images.build
        {
            hints.push(format!(
                "the build image `{build}` is not used: {runtime} apps are built in one stage on the run image"
            ));
        }
        let article = if matches!(runtime, Runtime::Static) {
            "a static site".to_owned()
        } else {
            format!("a {runtime} app")
        };
        Generated {
            text: format!(
                "# generated by berth for {article}: commit a Dockerfile to replace it\n"
            ),
            hints,
            port: options.port,
            build_override: images.build.clone(),
            run_override: images.run.clone(),
            build: merged.build.unwrap_or_default(),
            run: merged.run.unwrap_or_default(),
            start_command: options.start_command.clone(),
            web: procfile.get("web").cloned(),
            read_only_app_dir: options.read_only_app_dir,
            build_args: options.build_args.clone(),
        }
    }

    /// Appends one line.
    pub(crate) fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// `ENV PORT` and `EXPOSE`, with extra variables set alongside.
    pub(crate) fn port(&mut self, extra_env: &str) {
        let port = self.port;
        self.line(format!("ENV PORT={port}{extra_env}"));
        self.line(format!("EXPOSE {port}"));
    }

    pub(crate) fn hint(&mut self, hint: impl Into<String>) {
        self.hints.push(hint.into());
    }

    /// The `--chown=` of the `COPY` that puts the app into its directory: the app's user owns
    /// its folder (it may write beside its code, as on Heroku), unless the app asked for a
    /// read-only one. The `COPY` must be what creates the directory.
    pub(crate) fn chown(&self, user: &str) -> String {
        if self.read_only_app_dir {
            String::new()
        } else {
            format!("--chown={user} ")
        }
    }

    /// Says whose the app's directory is, once per Dockerfile.
    pub(crate) fn hint_app_dir(&mut self, dir: &str, user: &str) {
        if self.read_only_app_dir {
            self.hint(format!(
                "{dir} stays owned by root (the app's directory is read-only): the app runs as {user}"
            ));
        } else {
            self.hint(format!(
                "{dir} is owned by the app's user ({user}), so the app can write beside its code"
            ));
        }
    }

    /// `ARG` lines for the build-time env, so `RUN` steps after them see the values.
    pub(crate) fn build_args(&mut self) {
        if self.build_args.is_empty() {
            return;
        }
        let keys = self.build_args.join(" ");
        self.line(format!("ARG {keys}"));
        self.hint(format!("build-time env: {keys}"));
    }

    /// The start command the app chose: its own start command, else the Procfile's `web`
    /// line; `None` leaves it to the runtime.
    pub(crate) fn chosen_start(&mut self) -> Option<String> {
        if let Some(cmd) = self.start_command.clone() {
            self.hint("starting with the app's start command");
            if let Some(web) = &self.web {
                self.hints.push(format!(
                    "the Procfile's web line (line {}) is not used: the app's start command wins",
                    web.line
                ));
            }
            return Some(shell_cmd(&cmd));
        }
        let web = self.web.clone()?;
        self.hint(format!(
            "starting with the Procfile web command (line {})",
            web.line
        ));
        Some(shell_cmd(&web.command))
    }

    /// Picks the image tag of the version a file asks for, unless the app set the image: `which`
    /// is the build or the run image, `image` the tag for that version, `why` where the
    /// version came from (for the build log).
    pub(crate) fn choose(&mut self, which: Which, image: String, why: &str) {
        let (current, overridden) = match which {
            Which::Build => (&mut self.build, self.build_override.is_some()),
            Which::Run => (&mut self.run, self.run_override.is_some()),
        };
        if overridden {
            let set = current.clone();
            self.hint(format!(
                "{why}; the app's {} image `{set}` is used as set",
                which.word()
            ));
        } else {
            *current = image.clone();
            self.hint(format!("{why}: {} on {image}", which.verb()));
        }
    }
}

/// The build or the run image of a generated Dockerfile.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Which {
    Build,
    Run,
}

impl Which {
    fn word(self) -> &'static str {
        match self {
            Which::Build => "build",
            Which::Run => "run",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Which::Build => "building",
            Which::Run => "running",
        }
    }
}

/// `CMD` for a shell command line (so `$PORT` expands), exec'd so the app gets the signals
/// unless it is a compound command.
pub(crate) fn shell_cmd(command: &str) -> String {
    let compound = ["&&", "||", ";", "|", "&"]
        .iter()
        .any(|op| command.contains(op));
    if compound || command.starts_with("exec ") {
        format!("CMD {command}")
    } else {
        format!("CMD exec {command}")
    }
}

/// `CMD ["a", "b"]` in exec form.
pub(crate) fn exec_cmd(args: &[&str]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| serde_json::Value::from(*a).to_string())
        .collect();
    format!("CMD [{}]", quoted.join(", "))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::Fixture;
    use expect_test::{Expect, expect};

    /// Commits `files` to a fresh repository and detects with the app's defaults.
    pub(crate) fn detect_files(files: &[(&str, &str)]) -> Result<Detected, BuildError> {
        detect_with(files, None, &BaseImages::default())
    }

    pub(crate) fn detect_with(
        files: &[(&str, &str)],
        app_dockerfile: Option<&str>,
        images: &BaseImages,
    ) -> Result<Detected, BuildError> {
        let fx = Fixture::with_files(files);
        let cache = tempfile::tempdir().unwrap();
        let repo = crate::git::open(fx.path_str(), cache.path()).unwrap();
        let commit = repo.resolve("main").unwrap();
        let options = Options {
            dockerfile: app_dockerfile.map(str::to_owned),
            images: images.clone(),
            ..Options::default()
        };
        detect_at(&repo, &commit, &options)
    }

    /// Renders what a user sees: runtime, hints, then the Dockerfile.
    pub(crate) fn render(detected: &Detected) -> String {
        let mut out = format!("runtime: {}\n", detected.runtime);
        for hint in &detected.hints {
            out.push_str(&format!("hint: {hint}\n"));
        }
        if let Some(text) = &detected.dockerfile {
            out.push_str("---\n");
            out.push_str(text);
        }
        out
    }

    pub(crate) fn check(files: &[(&str, &str)], expect: Expect) {
        expect.assert_eq(&render(&detect_files(files).unwrap()));
    }

    #[test]
    fn an_explicit_dockerfile_must_exist() {
        let files = [
            ("deploy/Dockerfile", "FROM scratch\n"),
            ("go.mod", "module x\n"),
        ];
        let got = detect_with(&files, Some("./deploy/Dockerfile"), &BaseImages::default()).unwrap();
        assert_eq!(
            got.runtime,
            Runtime::Dockerfile {
                path: "deploy/Dockerfile".into()
            }
        );
        assert_eq!(got.dockerfile, None);

        let err = detect_with(&files, Some("Dockerfile.prod"), &BaseImages::default()).unwrap_err();
        assert!(
            matches!(err, BuildError::DockerfileMissing { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "dockerfile `Dockerfile.prod` is not in the commit (check the path, or commit the file)"
        );
        // A directory is not a Dockerfile.
        let err = detect_with(&files, Some("deploy"), &BaseImages::default()).unwrap_err();
        assert!(
            matches!(err, BuildError::DockerfileMissing { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn detection_order() {
        let cases: &[(&[&str], &str)] = &[
            (&["Dockerfile", "go.mod", "package.json"], "dockerfile"),
            (&["go.mod", "Cargo.toml", "package.json"], "go"),
            (&["Cargo.toml", "package.json", "index.html"], "rust"),
            (
                &["package.json", "requirements.txt", "public/index.html"],
                "node",
            ),
            (&["requirements.txt", "index.html"], "python"),
            (&["pyproject.toml"], "python"),
            (&["Pipfile"], "python"),
            (&["index.html"], "static"),
            (&["build/index.html"], "static"),
            (&["docs/index.html", "README.md"], "none"),
            (&["src/go.mod", "web/package.json"], "none"),
        ];
        let manifest = |name: &str| match name {
            "go.mod" => "module example.com/x\n",
            "Cargo.toml" => "[package]\nname = \"x\"\n",
            "package.json" => "{}",
            "requirements.txt" | "pyproject.toml" | "Pipfile" => "",
            _ => "x",
        };
        for (names, want) in cases {
            let files: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
            let files_with_main: Vec<String> = files
                .iter()
                .cloned()
                .chain(["main.py".to_owned()])
                .collect();
            let read = |p: &str| Some(manifest(p.rsplit('/').next().unwrap()).to_owned());
            let got = detect(&files_with_main, &read, &Options::default());
            let got = match got {
                Ok(d) => d.runtime.to_string(),
                Err(BuildError::NothingToBuild { .. }) => "none".to_owned(),
                Err(e) => panic!("{names:?}: {e}"),
            };
            assert_eq!(&got, want, "{names:?}");
        }
    }

    #[test]
    fn nothing_to_build_says_what_was_looked_for() {
        let err =
            detect_files(&[("README.md", "hi\n"), ("src/main.c", "int main;\n")]).unwrap_err();
        expect![[r#"nothing to build: the commit has none of Dockerfile, go.mod, Cargo.toml, package.json, requirements.txt, pyproject.toml, Pipfile, index.html, public/index.html, dist/index.html, build/index.html (add a Dockerfile, or point --dockerfile at one)"#]]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn a_root_dockerfile_is_used_as_is() {
        check(
            &[("Dockerfile", "FROM scratch\n"), ("package.json", "{}")],
            expect![[r#"
                runtime: dockerfile
                hint: using the repository's Dockerfile
            "#]],
        );
    }

    #[test]
    fn shell_commands_are_execd_when_simple() {
        let cases = [
            ("node server.js", "CMD exec node server.js"),
            ("exec node server.js", "CMD exec node server.js"),
            (
                "npm run migrate && npm start",
                "CMD npm run migrate && npm start",
            ),
            ("a | b", "CMD a | b"),
        ];
        for (cmd, want) in cases {
            assert_eq!(shell_cmd(cmd), want);
        }
        assert_eq!(
            exec_cmd(&["node", "a \"b\".js"]),
            r#"CMD ["node", "a \"b\".js"]"#
        );
    }

    #[test]
    fn default_images_per_runtime() {
        let all = [
            Runtime::Dockerfile {
                path: "Dockerfile".into(),
            },
            Runtime::Go,
            Runtime::Node,
            Runtime::Python,
            Runtime::Rust,
            Runtime::Static,
        ];
        let table: String = all
            .iter()
            .map(|r| {
                let i = default_images(r);
                format!(
                    "{r}: build={} run={}\n",
                    i.build.as_deref().unwrap_or("-"),
                    i.run.as_deref().unwrap_or("-")
                )
            })
            .collect();
        expect![[r#"
            dockerfile: build=- run=-
            go: build=golang:1.25-bookworm run=gcr.io/distroless/static-debian12
            node: build=node:22-bookworm-slim run=node:22-bookworm-slim
            python: build=- run=python:3.12-slim
            rust: build=rust:1-bookworm run=debian:bookworm-slim
            static: build=- run=caddy:2-alpine
        "#]]
        .assert_eq(&table);
    }

    fn detect_opts(files: &[(&str, &str)], options: &Options) -> Result<Detected, BuildError> {
        let fx = Fixture::with_files(files);
        let cache = tempfile::tempdir().unwrap();
        let repo = crate::git::open(fx.path_str(), cache.path()).unwrap();
        let commit = repo.resolve("main").unwrap();
        detect_at(&repo, &commit, options)
    }

    #[test]
    fn pinned_runtime_versions_choose_the_image_and_say_why() {
        /// The commit's files, a line of the Dockerfile, a line of the log.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[
                    ("requirements.txt", ""),
                    ("main.py", ""),
                    (".python-version", "3.11\n"),
                ],
                "FROM python:3.11-slim",
                "python 3.11 (from .python-version): running on python:3.11-slim",
            ),
            (
                &[
                    ("requirements.txt", ""),
                    ("main.py", ""),
                    ("runtime.txt", "python-3.10.14\n"),
                ],
                "FROM python:3.10.14-slim",
                "python 3.10.14 (from runtime.txt): running on python:3.10.14-slim",
            ),
            (
                &[("package.json", r#"{"engines": {"node": ">=18 <21"}}"#)],
                "FROM node:20-bookworm-slim AS build",
                "node 20 (engines.node `>=18 <21` in package.json): building on node:20-bookworm-slim",
            ),
            (
                &[("package.json", "{}"), (".nvmrc", "v18.19.0\n")],
                "FROM node:18-bookworm-slim\n",
                "node 18 (.nvmrc `v18.19.0`): running on node:18-bookworm-slim",
            ),
            (
                &[
                    ("go.mod", "module x\n\ngo 1.22.3\n"),
                    ("main.go", "package main\n"),
                ],
                "FROM golang:1.22-bookworm AS build",
                "go 1.22 (from go.mod): building on golang:1.22-bookworm",
            ),
            (
                &[
                    ("Cargo.toml", "[package]\nname = \"x\"\n"),
                    ("src/main.rs", ""),
                    (
                        "rust-toolchain.toml",
                        "[toolchain]\nchannel = \"1.82\" # pinned\n",
                    ),
                ],
                "FROM rust:1.82-bookworm AS build",
                "rust 1.82 (from rust-toolchain.toml): building on rust:1.82-bookworm",
            ),
        ];
        for (files, line, hint) in cases {
            let got = detect_files(files).unwrap();
            let text = got.dockerfile.unwrap();
            assert!(text.contains(line), "{files:?}\n{text}");
            assert!(
                got.hints.iter().any(|h| h == hint),
                "{files:?}\n{:?}",
                got.hints
            );
        }
        // The app's own image wins, and the log says so.
        let options = Options {
            images: BaseImages {
                build: None,
                run: Some("registry.example/py:custom".into()),
            },
            ..Options::default()
        };
        let got = detect_opts(
            &[
                ("requirements.txt", ""),
                ("main.py", ""),
                (".python-version", "3.11\n"),
            ],
            &options,
        )
        .unwrap();
        assert!(
            got.dockerfile
                .unwrap()
                .contains("FROM registry.example/py:custom")
        );
        assert!(got.hints.contains(&"python 3.11 (from .python-version); the app's run image `registry.example/py:custom` is used as set".to_owned()), "{:?}", got.hints);
        // What is not a version is named, not guessed from.
        let got = detect_files(&[
            ("requirements.txt", ""),
            ("main.py", ""),
            (".python-version", "pypy3.10\n"),
        ])
        .unwrap();
        assert!(got.dockerfile.unwrap().contains("FROM python:3.12-slim"));
        assert!(
            got.hints
                .iter()
                .any(|h| h.starts_with(".python-version says `pypy3.10`")),
            "{:?}",
            got.hints
        );
    }

    #[test]
    fn start_command_read_only_dir_and_build_args() {
        let options = Options {
            start_command: Some("python -m shop serve".into()),
            read_only_app_dir: true,
            build_args: vec!["SITE_NAME".into(), "VITE_API".into()],
            ..Options::default()
        };
        let got = detect_opts(
            &[
                ("requirements.txt", "gunicorn\n"),
                ("app.py", ""),
                ("Procfile", "web: gunicorn app:app\n"),
            ],
            &options,
        )
        .unwrap();
        expect![[r#"
            runtime: python
            hint: /app stays owned by root (the app's directory is read-only): the app runs as 10001:10001
            hint: starting with the app's start command
            hint: the Procfile's web line (line 1) is not used: the app's start command wins
            hint: build-time env: SITE_NAME VITE_API
            hint: generated a python Dockerfile: the app must listen on $PORT (8080)
            ---
            # generated by berth for a python app: commit a Dockerfile to replace it
            FROM python:3.12-slim
            ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
            COPY requirements.txt /app/
            WORKDIR /app
            RUN pip install -r requirements.txt
            ARG SITE_NAME VITE_API
            ENV PORT=8080
            EXPOSE 8080
            USER 10001:10001
            CMD exec python -m shop serve
            # the source last: a change to it alone reuses every layer above
            COPY . .
        "#]]
        .assert_eq(&render(&got));
        // Go's default run image has no shell to run a start command with.
        let options = Options {
            start_command: Some("/app --serve".into()),
            ..Options::default()
        };
        let err = detect_opts(
            &[("go.mod", "module x\n"), ("main.go", "package main\n")],
            &options,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not have; set a run image with a shell"),
            "{err}"
        );
    }

    #[test]
    fn a_procfile_is_read_for_every_runtime_and_a_bad_line_is_named() {
        let got = detect_files(&[
            ("Dockerfile", "FROM scratch\n"),
            (
                "Procfile",
                "web: ./serve\nrelease: ./migrate\nworker: ./work\n",
            ),
        ])
        .unwrap();
        assert_eq!(got.procfile.get("release").unwrap().command, "./migrate");
        assert_eq!(got.procfile.workers().count(), 1);
        assert!(
            got.hints.iter().any(|h| h.starts_with(
                "the Procfile's web line (line 1) is not used: the Dockerfile decides"
            )),
            "{:?}",
            got.hints
        );
        let err = detect_files(&[
            ("requirements.txt", ""),
            ("main.py", ""),
            ("Procfile", "web: a\nworker\n"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Procfile line 2: `worker` is not `type: command` (e.g. `web: gunicorn app:app`)"
        );
    }
}
