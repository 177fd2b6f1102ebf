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
/// and an `index.html` at the root or in `public/`, `dist/` or `build/`. `images` overrides the
/// base images of generated Dockerfiles; unset ones come from [`default_images`].
pub fn detect(
    files: &[String],
    read: &dyn Fn(&str) -> Option<String>,
    app_dockerfile: Option<&str>,
    port: u16,
    images: &BaseImages,
) -> Result<Detected, BuildError> {
    let src = Source::new(files, read);
    if let Some(path) = app_dockerfile {
        let path = path.trim_start_matches("./");
        if !src.has(path) {
            return Err(BuildError::DockerfileMissing {
                path: path.to_owned(),
            });
        }
        return Ok(dockerfile(path, format!("using {path} (set on the app)")));
    }
    if src.has("Dockerfile") {
        return Ok(dockerfile(
            "Dockerfile",
            "using the repository's Dockerfile".into(),
        ));
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
    let mut out = Generated::new(&runtime, port, images);
    match runtime {
        Runtime::Go => go::generate(&src, &mut out)?,
        Runtime::Rust => rust::generate(&src, &mut out)?,
        Runtime::Node => node::generate(&src, &mut out)?,
        Runtime::Python => python::generate(&src, &mut out)?,
        Runtime::Static => site::generate(&src, &mut out)?,
        Runtime::Dockerfile { .. } => {}
    }
    out.hints.push(if runtime == Runtime::Static {
        format!("generated a static site Dockerfile: caddy serves it on port {port}")
    } else {
        format!("generated a {runtime} Dockerfile: the app must listen on $PORT ({port})")
    });
    Ok(Detected {
        runtime,
        dockerfile: Some(out.text),
        hints: out.hints,
    })
}

/// [`detect`] on a commit of a repository.
pub fn detect_at(
    repo: &Repo,
    commit: &Commit,
    app_dockerfile: Option<&str>,
    port: u16,
    images: &BaseImages,
) -> Result<Detected, BuildError> {
    let files = repo.list_files(commit)?;
    // Reading a handful of small manifests: a git failure here would already have failed
    // `list_files`, so a read error counts as "not there".
    let read = |path: &str| {
        repo.read_file(commit, path)
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    detect(&files, &read, app_dockerfile, port, images)
}

fn dockerfile(path: &str, hint: String) -> Detected {
    Detected {
        runtime: Runtime::Dockerfile {
            path: path.to_owned(),
        },
        dockerfile: None,
        hints: vec![hint],
    }
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

    /// The `web:` command of a Procfile, if there is one.
    pub(crate) fn procfile_web(&self) -> Option<String> {
        let text = self.read("Procfile")?;
        text.lines().find_map(|line| {
            let (name, command) = line.split_once(':')?;
            let command = command.trim();
            (name.trim() == "web" && !command.is_empty()).then(|| command.to_owned())
        })
    }
}

/// A generated Dockerfile being written, with the images and port it uses.
pub(crate) struct Generated {
    pub(crate) text: String,
    pub(crate) hints: Vec<String>,
    pub(crate) port: u16,
    /// The app's build image override, if any (the runtime's default is in `build`).
    pub(crate) build_override: Option<String>,
    pub(crate) build: String,
    pub(crate) run: String,
}

impl Generated {
    fn new(runtime: &Runtime, port: u16, images: &BaseImages) -> Self {
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
            port,
            build_override: images.build.clone(),
            build: merged.build.unwrap_or_default(),
            run: merged.run.unwrap_or_default(),
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
        detect_at(&repo, &commit, app_dockerfile, 8080, images)
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
            let got = detect(&files_with_main, &read, None, 8080, &BaseImages::default());
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
}
