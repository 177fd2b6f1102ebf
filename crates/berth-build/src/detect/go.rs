//! The generated Dockerfile of a Go module: a static binary built in `golang`, run on distroless.

use std::collections::BTreeSet;

use super::{Generated, Source, Which, exec_cmd};
use crate::BuildError;

pub(super) const DEFAULT_BUILD_IMAGE: &str = "golang:1.25-bookworm";

pub(super) fn generate(src: &Source<'_>, out: &mut Generated) -> Result<(), BuildError> {
    let go_mod = src.read("go.mod").unwrap_or_default();
    // Since Go 1.21 the `go` line is the least toolchain the module builds with, and the
    // official images pin GOTOOLCHAIN=local: build with that release. Older lines only set the
    // language version, which any newer Go builds.
    match wanted_go(&go_mod) {
        Some((major, minor)) if (major, minor) >= (1, 21) => out.choose(
            Which::Build,
            format!("golang:{major}.{minor}-bookworm"),
            &format!("go {major}.{minor} (from go.mod)"),
        ),
        Some((major, minor)) => out.hint(format!(
            "go.mod says go {major}.{minor}, older than 1.21 (a language version, not a toolchain): building with {}",
            out.build
        )),
        None => {}
    }
    let start = match out.chosen_start() {
        Some(cmd) if out.run_override.is_none() => {
            return Err(BuildError::CannotGenerate {
                runtime: "go".to_owned(),
                reason: format!(
                    "a start command runs with /bin/sh, which the default run image {} does not have; set a run image with a shell (e.g. --run-image debian:bookworm-slim), or leave the start command to the binary ({cmd})",
                    out.run
                ),
            });
        }
        Some(cmd) => cmd,
        None => exec_cmd(&["/app"]),
    };
    let package = main_package(src, out);

    let (build, run) = (out.build.clone(), out.run.clone());
    out.line(format!("FROM {build} AS build"));
    out.line("WORKDIR /src");
    if src.has("go.sum") {
        out.line("COPY go.mod go.sum ./");
    } else {
        out.line("COPY go.mod ./");
    }
    if src.has("vendor/modules.txt") {
        out.hint("using the vendor directory");
    } else {
        out.line("RUN go mod download");
    }
    out.build_args();
    out.line("COPY . .");
    out.line(format!(
        "RUN CGO_ENABLED=0 go build -trimpath -o /out/app {package}"
    ));
    out.line("");
    out.line(format!("FROM {run}"));
    out.port("");
    out.line("# nonroot in distroless images");
    out.line("USER 65532:65532");
    out.line(start);
    out.line("COPY --from=build /out/app /app");
    Ok(())
}

/// The highest Go release named by the `go` and `toolchain` directives.
fn wanted_go(go_mod: &str) -> Option<(u32, u32)> {
    go_mod
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let version = line
                .strip_prefix("go ")
                .or_else(|| line.strip_prefix("toolchain go"))?;
            let mut parts = version.trim().split(['.', 'r', 'b', ' ']);
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .max()
}

/// `./cmd/<x>` when exactly one directory under `cmd/` holds a main package, else `.`.
fn main_package(src: &Source<'_>, out: &mut Generated) -> String {
    let dirs: BTreeSet<&str> = src
        .files
        .iter()
        .filter_map(|f| {
            let rest = f.strip_prefix("cmd/")?;
            let (dir, file) = rest.split_once('/')?;
            (!file.contains('/')).then_some(dir)
        })
        .collect();
    let mains: Vec<&str> = dirs
        .into_iter()
        .filter(|dir| {
            src.children(&format!("cmd/{dir}")).iter().any(|file| {
                file.ends_with(".go")
                    && !file.ends_with("_test.go")
                    && src.read(file).is_some_and(|text| is_main(&text))
            })
        })
        .collect();
    match mains.as_slice() {
        [one] => {
            out.hint(format!("building ./cmd/{one}"));
            format!("./cmd/{one}")
        }
        [] => ".".to_owned(),
        several => {
            out.hint(format!(
                "several commands under cmd/ ({}): building the root package; add a Dockerfile to choose one",
                several.join(", ")
            ));
            ".".to_owned()
        }
    }
}

fn is_main(source: &str) -> bool {
    source.lines().any(|line| {
        line.trim_start()
            .strip_prefix("package ")
            .is_some_and(|rest| rest.split_whitespace().next() == Some("main"))
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, detect_with, render};
    use super::*;
    use berth_model::BaseImages;
    use expect_test::expect;

    const MAIN: &str = "package main\n\nfunc main() {}\n";

    #[test]
    fn root_package() {
        check(
            &[
                ("go.mod", "module example.com/hello\n\ngo 1.22\n"),
                ("go.sum", ""),
                ("main.go", MAIN),
            ],
            expect![[r#"
                runtime: go
                hint: go 1.22 (from go.mod): building on golang:1.22-bookworm
                hint: generated a go Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a go app: commit a Dockerfile to replace it
                FROM golang:1.22-bookworm AS build
                WORKDIR /src
                COPY go.mod go.sum ./
                RUN go mod download
                COPY . .
                RUN CGO_ENABLED=0 go build -trimpath -o /out/app .

                FROM gcr.io/distroless/static-debian12
                ENV PORT=8080
                EXPOSE 8080
                # nonroot in distroless images
                USER 65532:65532
                CMD ["/app"]
                COPY --from=build /out/app /app
            "#]],
        );
    }

    #[test]
    fn one_command_under_cmd() {
        check(
            &[
                ("go.mod", "module example.com/hello\n\ngo 1.26.1\n"),
                ("cmd/server/main.go", MAIN),
                ("cmd/server/main_test.go", "package main\n"),
                ("cmd/README.md", "commands\n"),
                ("cmd/lib/lib.go", "package lib\n"),
                ("internal/x/x.go", "package x\n"),
                ("vendor/modules.txt", "# nothing\n"),
            ],
            expect![[r#"
                runtime: go
                hint: go 1.26 (from go.mod): building on golang:1.26-bookworm
                hint: building ./cmd/server
                hint: using the vendor directory
                hint: generated a go Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a go app: commit a Dockerfile to replace it
                FROM golang:1.26-bookworm AS build
                WORKDIR /src
                COPY go.mod ./
                COPY . .
                RUN CGO_ENABLED=0 go build -trimpath -o /out/app ./cmd/server

                FROM gcr.io/distroless/static-debian12
                ENV PORT=8080
                EXPOSE 8080
                # nonroot in distroless images
                USER 65532:65532
                CMD ["/app"]
                COPY --from=build /out/app /app
            "#]],
        );
    }

    #[test]
    fn several_commands_build_the_root() {
        let got = detect_with(
            &[
                ("go.mod", "module m\n"),
                ("main.go", MAIN),
                ("cmd/api/main.go", MAIN),
                ("cmd/worker/main.go", MAIN),
            ],
            None,
            &BaseImages::default(),
        )
        .unwrap();
        let text = render(&got);
        assert!(
            text.contains(
                "hint: several commands under cmd/ (api, worker): building the root package"
            ),
            "{text}"
        );
        assert!(
            text.contains("go build -trimpath -o /out/app .\n"),
            "{text}"
        );
    }

    #[test]
    fn image_overrides_win() {
        let images = BaseImages {
            build: Some("registry.local/golang:1.21".into()),
            run: Some("alpine:3.20".into()),
        };
        let got = detect_with(
            &[("go.mod", "module m\n\ngo 1.30\n"), ("main.go", MAIN)],
            None,
            &images,
        )
        .unwrap();
        let text = got.dockerfile.unwrap();
        assert!(
            text.contains("FROM registry.local/golang:1.21 AS build\n"),
            "{text}"
        );
        assert!(text.contains("\nFROM alpine:3.20\n"), "{text}");
        assert!(!got.hints.iter().any(|h| h.contains("asks for")));
    }

    #[test]
    fn go_versions() {
        let cases = [
            ("go 1.22\n", Some((1, 22))),
            ("go 1.21.0\ntoolchain go1.23.4\n", Some((1, 23))),
            ("go 1.24rc1\n", Some((1, 24))),
            ("module x\n", None),
            ("go bad\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(wanted_go(text), want, "{text}");
        }
    }
}
