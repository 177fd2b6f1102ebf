//! The generated Dockerfile of a Cargo package: a release build in `rust`, run on Debian slim.

use super::{Generated, Source, Which, exec_cmd};
use crate::BuildError;

pub(super) fn generate(src: &Source<'_>, out: &mut Generated) -> Result<(), BuildError> {
    let manifest = Manifest::scan(&src.read("Cargo.toml").unwrap_or_default());
    let bin = binary(src, &manifest, out)?;
    let locked = if src.has("Cargo.lock") {
        " --locked"
    } else {
        ""
    };
    if locked.is_empty() {
        out.hint("no Cargo.lock committed: dependencies are resolved afresh on every build");
    }

    if let Some((channel, file)) = wanted_toolchain(src, out) {
        out.choose(
            Which::Build,
            format!("rust:{channel}-bookworm"),
            &format!("rust {channel} (from {file})"),
        );
    }
    let start = out
        .chosen_start()
        .unwrap_or_else(|| exec_cmd(&[&format!("/usr/local/bin/{bin}")]));

    let (build, run) = (out.build.clone(), out.run.clone());
    out.line(format!("FROM {build} AS build"));
    out.line("WORKDIR /src");
    if manifest.fetchable_alone() && !src.has(".cargo/config.toml") && !src.has(".cargo/config") {
        // Build the dependencies in their own layer, with a stand-in for the sources; then
        // forget the stand-in's own artifacts so the real sources always rebuild the package.
        if locked.is_empty() {
            out.line("COPY Cargo.toml ./");
        } else {
            out.line("COPY Cargo.toml Cargo.lock ./");
        }
        let package = manifest.package.clone().unwrap_or_default();
        let crate_name = package.replace('-', "_");
        out.line(format!(
            "RUN mkdir src && echo 'fn main() {{}}' > src/main.rs && cargo build --release{locked} && rm -rf src target/release/.fingerprint/{package}-* target/release/deps/{crate_name}-* target/release/{package}*"
        ));
    }
    out.build_args();
    out.line("COPY . .");
    out.line(format!("RUN cargo build --release{locked} --bin {bin}"));
    out.line("");
    out.line(format!("FROM {run}"));
    out.line(
        "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
    );
    out.port("");
    out.line("USER 10001:10001");
    out.line(start);
    out.line(format!(
        "COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}"
    ));
    Ok(())
}

/// The toolchain `rust-toolchain.toml` (or the older `rust-toolchain`) pins, when it is a
/// release (`1.82`, `1.82.0`) an official image has; `stable` is the default image.
fn wanted_toolchain(src: &Source<'_>, out: &mut Generated) -> Option<(String, &'static str)> {
    let (file, text) = ["rust-toolchain.toml", "rust-toolchain"]
        .into_iter()
        .find_map(|f| src.read(f).map(|t| (f, t)))?;
    let channel = text.lines().find_map(|raw| {
        let line = strip_comment(raw).trim();
        let (key, value) = line.split_once('=')?;
        (key.trim() == "channel")
            .then(|| unquote(value.trim()))
            .flatten()
    });
    // The older file may be just the channel on a line.
    let channel = channel.or_else(|| {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        (!line.contains(['=', '['])).then(|| line.to_owned())
    })?;
    if channel == "stable" {
        return None;
    }
    if super::python::is_release(&channel, 2) {
        return Some((channel, file));
    }
    out.hint(format!(
        "{file} asks for the `{channel}` toolchain, which no official rust image is tagged with: building with {} (set a build image that has it)",
        out.build
    ));
    None
}

/// The binary to run: the package's own (`src/main.rs`), else the first `[[bin]]`, else the
/// first `src/bin/` program.
fn binary(src: &Source<'_>, m: &Manifest, out: &mut Generated) -> Result<String, BuildError> {
    if let Some(package) = &m.package
        && src.has("src/main.rs")
    {
        return Ok(package.clone());
    }
    if let Some(bin) = m.bins.first() {
        out.hint(format!(
            "running the binary `{bin}` (the first [[bin]] of Cargo.toml)"
        ));
        return Ok(bin.clone());
    }
    let from_dir = src.files.iter().find_map(|f| {
        let rest = f.strip_prefix("src/bin/")?;
        rest.strip_suffix(".rs")
            .filter(|name| !name.contains('/'))
            .or_else(|| rest.strip_suffix("/main.rs"))
    });
    if let Some(bin) = from_dir {
        out.hint(format!("running the binary `{bin}` (from src/bin/)"));
        return Ok(bin.to_owned());
    }
    match &m.package {
        Some(package) => {
            out.hint(format!(
                "no src/main.rs, [[bin]] or src/bin/: assuming the binary is named `{package}`"
            ));
            Ok(package.clone())
        }
        None => Err(BuildError::CannotGenerate {
            runtime: "rust".to_owned(),
            reason: "Cargo.toml has no [package] (a workspace root?), so there is no binary to run"
                .to_owned(),
        }),
    }
}

/// What the Dockerfile needs from Cargo.toml, found by a line scan (tables, `name`, `path`,
/// `build`); enough for the manifests people write by hand.
#[derive(Debug, Default, PartialEq)]
struct Manifest {
    package: Option<String>,
    bins: Vec<String>,
    workspace: bool,
    /// `[lib]`, `[[bin]]`, `[[example]]`, `[[test]]` or `[[bench]]` tables.
    targets: bool,
    /// Any `path = …` (path dependencies, target paths).
    paths: bool,
    build_script: bool,
}

impl Manifest {
    fn scan(text: &str) -> Manifest {
        let mut m = Manifest::default();
        let mut table = String::new();
        for raw in text.lines() {
            let line = strip_comment(raw).trim();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                table = name.trim().to_owned();
                m.targets |= ["bin", "example", "test", "bench"].contains(&table.as_str());
                if table == "bin" {
                    m.bins.push(String::new());
                }
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = name.trim().to_owned();
                m.targets |= table == "lib";
                m.workspace |= table == "workspace" || table.starts_with("workspace.");
                continue;
            }
            if has_key(line, "path") {
                m.paths = true;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), unquote(value.trim()));
            match (table.as_str(), key) {
                ("package", "name") => m.package = value,
                ("package", "build") => m.build_script = true,
                ("bin", "name") => {
                    if let (Some(last), Some(value)) = (m.bins.last_mut(), value) {
                        *last = value;
                    }
                }
                _ => {}
            }
        }
        m.bins.retain(|b| !b.is_empty());
        m
    }

    /// Whether `cargo fetch` can run with only Cargo.toml, Cargo.lock and a stand-in main.
    fn fetchable_alone(&self) -> bool {
        self.package.is_some()
            && !self.workspace
            && !self.targets
            && !self.paths
            && !self.build_script
    }
}

/// Whether `line` sets `key`, directly or inside an inline table.
fn has_key(line: &str, key: &str) -> bool {
    line.match_indices(key).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + key.len()..].trim_start();
        before.is_none_or(|c| c == '{' || c == ',' || c.is_whitespace()) && after.starts_with('=')
    })
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(value: &str) -> Option<String> {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, detect_with};
    use super::*;
    use berth_model::BaseImages;
    use expect_test::expect;

    const CARGO: &str = r#"[package]
name = "hello-web" # the binary
version = "0.1.0"
edition = "2024"

[dependencies]
serde = { version = "1", features = ["derive"] }
"#;

    #[test]
    fn package_with_lockfile() {
        check(
            &[
                ("Cargo.toml", CARGO),
                ("Cargo.lock", "# lock\n"),
                ("src/main.rs", "fn main() {}\n"),
            ],
            expect![[r#"
                runtime: rust
                hint: generated a rust Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a rust app: commit a Dockerfile to replace it
                FROM rust:1-bookworm AS build
                WORKDIR /src
                COPY Cargo.toml Cargo.lock ./
                RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release --locked && rm -rf src target/release/.fingerprint/hello-web-* target/release/deps/hello_web-* target/release/hello-web*
                COPY . .
                RUN cargo build --release --locked --bin hello-web

                FROM debian:bookworm-slim
                COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
                ENV PORT=8080
                EXPOSE 8080
                USER 10001:10001
                CMD ["/usr/local/bin/hello-web"]
                COPY --from=build /src/target/release/hello-web /usr/local/bin/hello-web
            "#]],
        );
    }

    #[test]
    fn bin_table_without_lockfile_or_fetch_layer() {
        check(
            &[
                (
                    "Cargo.toml",
                    "[package]\nname = \"tools\"\n\n[[bin]]\nname = \"server\"\npath = \"src/server.rs\"\n\n[[bin]]\nname = \"cli\"\n",
                ),
                ("src/server.rs", "fn main() {}\n"),
            ],
            expect![[r#"
                runtime: rust
                hint: running the binary `server` (the first [[bin]] of Cargo.toml)
                hint: no Cargo.lock committed: dependencies are resolved afresh on every build
                hint: generated a rust Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a rust app: commit a Dockerfile to replace it
                FROM rust:1-bookworm AS build
                WORKDIR /src
                COPY . .
                RUN cargo build --release --bin server

                FROM debian:bookworm-slim
                COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
                ENV PORT=8080
                EXPOSE 8080
                USER 10001:10001
                CMD ["/usr/local/bin/server"]
                COPY --from=build /src/target/release/server /usr/local/bin/server
            "#]],
        );
    }

    #[test]
    fn run_image_override() {
        let images = BaseImages {
            build: None,
            run: Some("gcr.io/distroless/cc-debian12".into()),
        };
        let got = detect_with(
            &[("Cargo.toml", CARGO), ("src/main.rs", "fn main() {}\n")],
            None,
            &images,
        )
        .unwrap();
        let text = got.dockerfile.unwrap();
        assert!(text.contains("FROM rust:1-bookworm AS build\n"), "{text}");
        assert!(
            text.contains("\nFROM gcr.io/distroless/cc-debian12\n"),
            "{text}"
        );
    }

    #[test]
    fn a_virtual_workspace_cannot_be_generated() {
        let err = detect_with(
            &[("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\n")],
            None,
            &BaseImages::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot generate a Dockerfile for this rust app: Cargo.toml has no [package] (a workspace root?), so there is no binary to run (add a Dockerfile, or point --dockerfile at one)"
        );
    }

    #[test]
    fn manifest_scan() {
        let m = Manifest::scan(CARGO);
        assert_eq!(m.package.as_deref(), Some("hello-web"));
        assert!(m.fetchable_alone());

        let m = Manifest::scan(
            "[package]\nname = 'a#b'\nbuild = \"gen.rs\"\n[dependencies]\nlocal = { path = \"../local\" }\n",
        );
        assert_eq!(m.package.as_deref(), Some("a#b"));
        assert!(m.build_script && m.paths && !m.fetchable_alone());

        let m = Manifest::scan(
            "[package]\nname = \"x\"\n[workspace.dependencies]\nfoo = \"1\"\n[lib]\n",
        );
        assert!(m.workspace && m.targets);

        let m = Manifest::scan(
            "[package]\nname = \"x\"\n[dependencies]\nxpath = \"1\"\nmy-path-thing = \"2\"\n",
        );
        assert!(!m.paths, "{m:?}");
    }
}
