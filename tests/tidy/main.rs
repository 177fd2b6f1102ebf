//! Tidy checks run as ordinary tests: the crate boundaries ARCHITECTURE.md promises, read from
//! the `Cargo.toml`s, and the small conventions every source file follows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Crate name → the names of its normal (non-dev) dependencies.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).expect("crates/") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .expect("package name")
            .to_owned();
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line.ends_with("dependencies]") && !line.contains("dev-dependencies");
                continue;
            }
            if in_deps && let Some((dep, _)) = line.split_once(['=', '.']) {
                let dep = dep.trim();
                if !dep.is_empty() && !dep.starts_with('#') {
                    deps.push(dep.to_owned());
                }
            }
        }
        out.insert(name, deps);
    }
    out
}

fn users_of(deps: &BTreeMap<String, Vec<String>>, dep: &str) -> Vec<String> {
    deps.iter()
        .filter(|(_, d)| d.iter().any(|x| x == dep))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn crate_boundaries_hold() {
    let deps = dependencies();
    assert_eq!(
        users_of(&deps, "rusqlite"),
        ["berth-store"],
        "only the store contains SQL"
    );
    assert_eq!(
        users_of(&deps, "keyring"),
        ["berth-secrets"],
        "only the secrets crate calls keyring"
    );
    assert_eq!(users_of(&deps, "russh"), ["berth-ssh"]);
    assert_eq!(users_of(&deps, "openssh"), ["berth-ssh"]);
    assert_eq!(users_of(&deps, "bollard"), ["berth-docker"]);
    assert!(users_of(&deps, "clap").iter().all(|c| c == "berth-cli"));
    assert!(
        users_of(&deps, "anyhow").iter().all(|c| c == "berth-cli"),
        "anyhow only at the edges"
    );
    for c in deps.keys() {
        assert!(
            !deps[c]
                .iter()
                .any(|d| d.starts_with("tauri") || d.starts_with("leptos")),
            "{c}: only src-tauri/ and ui/ know tauri and leptos"
        );
    }
    let model: Vec<&str> = deps["berth-model"].iter().map(String::as_str).collect();
    assert_eq!(
        model,
        ["serde", "thiserror"],
        "berth-model stays plain (it compiles to wasm)"
    );
    for c in [
        "berth-ssh",
        "berth-docker",
        "berth-build",
        "berth-store",
        "berth-secrets",
    ] {
        for banned in ["berth-engine", "berth-api", "berth-cli"] {
            assert!(
                !deps[c].iter().any(|d| d == banned),
                "{c} must not depend on {banned}"
            );
        }
    }
    assert!(
        !deps["berth-ssh"]
            .iter()
            .any(|d| d == "berth-docker" || d == "bollard"),
        "berth-ssh knows nothing about Docker"
    );
    assert!(
        !deps["berth-docker"].iter().any(|d| d == "berth-ssh"),
        "berth-docker knows nothing about SSH"
    );
    assert!(
        !deps["berth-engine"]
            .iter()
            .any(|d| d == "berth-store" || d == "berth-secrets" || d == "berth-api"),
        "the engine reports through DeploySink; it never touches the store or the secrets"
    );
    assert_eq!(
        users_of(&deps, "berth-api"),
        ["berth-cli"],
        "front ends call berth-api; lower crates never do"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` line: {missing:#?}"
    );
}

#[test]
fn processes_start_in_known_places() {
    // Spawning programs is confined: git in berth-build's gitcmd, ssh in berth-ssh, the local
    // transport's `sh`, and the CLI's terminal. Anything else is a new dependency on the host.
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    let allowed = ["berth-build/src/gitcmd.rs", "berth-ssh/src/"];
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let path = f.display().to_string();
            !allowed.iter().any(|a| path.contains(a))
                && !path.contains("/tests/")
                && !path.contains("testing.rs")
        })
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .contains("Command::new(")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "processes started outside their module: {offenders:#?}"
    );
}
