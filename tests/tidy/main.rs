//! Tidy checks run as ordinary tests: the crate boundaries ARCHITECTURE.md promises, read from
//! the `Cargo.toml`s, the small conventions every source file follows, and the desktop's
//! contract: every shell command is one expression, and the UI's wrappers call exactly the
//! commands the shell registers, with the argument names it expects; and the CLI and the window
//! can do the same things (`parity`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod parity;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Crate name → the names of its normal (non-dev) dependencies, for the crates under
/// `crates/`.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let manifests = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("entry").path().join("Cargo.toml"));
    dependencies_of(manifests)
}

/// The same for the desktop's two crates, `src-tauri/` (berth-desktop) and `ui/` (berth-ui).
fn desktop_dependencies() -> BTreeMap<String, Vec<String>> {
    dependencies_of(["src-tauri", "ui"].map(|d| root().join(d).join("Cargo.toml")))
}

fn dependencies_of(manifests: impl IntoIterator<Item = PathBuf>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for manifest in manifests {
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
        ["berth-relay", "berth-store"],
        "only the store (the desktop's database) and the relay (its own queue) contain SQL"
    );
    assert_eq!(
        users_of(&deps, "keyring"),
        ["berth-secrets"],
        "only the secrets crate calls keyring"
    );
    assert_eq!(
        users_of(&deps, "russh"),
        ["berth-git", "berth-ssh"],
        "SSH: Berth's sessions to servers, and the relay's fetches with a deploy key"
    );
    assert_eq!(users_of(&deps, "openssh"), ["berth-ssh"]);
    assert_eq!(users_of(&deps, "bollard"), ["berth-docker"]);
    for cipher in ["chacha20poly1305", "x25519-dalek"] {
        assert_eq!(
            users_of(&deps, cipher),
            ["berth-age"],
            "backups are sealed and opened by berth-age alone"
        );
    }
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
    assert!(
        deps["berth-hooks"].iter().all(|d| [
            "berth-model",
            "serde",
            "serde_json",
            "thiserror",
            "hmac",
            "sha2",
            "subtle",
            "hex"
        ]
        .contains(&d.as_str())),
        "berth-hooks is pure: parsing and verification, no I/O ({:?})",
        deps["berth-hooks"]
    );
    for banned in ["berth-api", "berth-cli", "berth-store", "berth-secrets"] {
        assert!(
            !deps["berth-relay"].iter().any(|d| d == banned),
            "the relay runs on a server: it must not depend on {banned}"
        );
    }
    assert!(
        !deps["berth-api"].iter().any(|d| d == "berth-relay"),
        "berth-api speaks the relay's protocol (berth-relay-proto); it never links the daemon"
    );
    for driver in ["berth-api", "berth-relay"] {
        for host_crate in ["berth-docker", "berth-proxy", "berth-ssh"] {
            assert!(
                !deps[driver].iter().any(|d| d == host_crate),
                "{driver} drives the engine: every change to a server, and every read of one, \
                 goes through it, so {driver} never names {host_crate}"
            );
        }
    }
    let mut engine_sources = Vec::new();
    rust_files(&root().join("crates/berth-engine/src"), &mut engine_sources);
    for file in engine_sources {
        let text = std::fs::read_to_string(&file).expect("read engine source");
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("pub use"))
        {
            assert!(
                !["berth_docker", "berth_proxy", "berth_ssh"]
                    .iter()
                    .any(|c| line.contains(c)),
                "{}: the engine's surface is its own types; re-exporting `{}` would let berth-api \
                 name a host crate's type again",
                file.display(),
                line.trim()
            );
        }
    }
    assert!(
        deps["berth-relay-proto"]
            .iter()
            .all(|d| !d.starts_with("berth-") || d == "berth-model"),
        "the relay's protocol is messages and a client: no engine, Docker, SSH or store ({:?})",
        deps["berth-relay-proto"]
    );
    for banned in [
        "berth-model",
        "berth-ssh",
        "berth-docker",
        "berth-build",
        "berth-engine",
    ] {
        assert!(
            !deps["berth-git"].iter().any(|d| d == banned),
            "berth-git fetches commits and knows nothing of Berth's apps, servers or builds ({banned})"
        );
    }
    assert!(
        deps["berth-notify"]
            .iter()
            .all(|d| !d.starts_with("berth-") || d == "berth-model"),
        "berth-notify only posts results: no store, secrets, SSH or Docker ({:?})",
        deps["berth-notify"]
    );
    for c in [
        "berth-ssh",
        "berth-docker",
        "berth-build",
        "berth-store",
        "berth-secrets",
        "berth-git",
        "berth-notify",
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

/// Tests layer downward: every crate's own tests use the test kit, which knows no Berth crate,
/// so a crate's unit tests never build the relay, the engine or the e2e package.
/// The relay isolates a panic to the request or deploy it happened in (tokio tasks, the
/// database thread and the worker catch it); `panic = "abort"` would kill every deploy in
/// flight with it.
#[test]
fn the_relay_survives_a_panic() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let profile = manifest
        .split("[profile.relay]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [profile.relay] section");
    assert!(
        !profile.contains("\"abort\""),
        "the relay's profile must unwind on panic:\n{profile}"
    );
}

#[test]
fn test_support_depends_on_no_berth_crate() {
    let kit = dependencies_of([root().join("tests/support/Cargo.toml")]);
    let kit_deps = &kit["berth-testkit"];
    assert!(
        kit_deps.iter().all(|d| !d.starts_with("berth-")),
        "berth-testkit must not depend on Berth's crates ({kit_deps:?})"
    );
    for entry in std::fs::read_dir(root().join("crates")).expect("crates/") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("Cargo.toml");
        assert!(
            !text.contains("berth-e2e"),
            "{}: a crate's tests use berth-testkit, never the e2e package",
            manifest.display()
        );
    }
}

#[test]
fn desktop_boundaries_hold() {
    let deps = desktop_dependencies();
    let berth = |c: &str| -> Vec<String> {
        deps[c]
            .iter()
            .filter(|d| d.starts_with("berth-"))
            .cloned()
            .collect()
    };
    assert!(
        deps["berth-desktop"].iter().any(|d| d == "tauri")
            && !deps["berth-desktop"]
                .iter()
                .any(|d| d.starts_with("leptos")),
        "src-tauri is the Tauri shell and knows no Leptos"
    );
    assert_eq!(
        berth("berth-desktop"),
        ["berth-api", "berth-model"],
        "the shell calls berth-api, like the CLI, and nothing lower"
    );
    assert!(
        deps["berth-ui"].iter().any(|d| d == "leptos")
            && !deps["berth-ui"].iter().any(|d| d.starts_with("tauri")),
        "ui is Leptos and reaches the shell only through invoke and events"
    );
    assert_eq!(
        berth("berth-ui"),
        ["berth-model"],
        "the UI shares only the DTOs: it never links the API, the store or the engine"
    );
}

/// A `#[tauri::command]` of `src-tauri/src/commands.rs`.
struct ShellCommand {
    name: String,
    /// Argument names as the UI sends them (camelCase), without Tauri's injected ones.
    args: Vec<String>,
    body: String,
}

/// The text between the bracket that opens at `open` and its match.
fn balanced(text: &str, open: usize) -> &str {
    let (o, c) = match text.as_bytes()[open] {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        other => panic!("not a bracket: {}", other as char),
    };
    let mut depth = 0;
    for (i, b) in text.bytes().enumerate().skip(open) {
        if b == o {
            depth += 1;
        } else if b == c {
            depth -= 1;
            if depth == 0 {
                return &text[open + 1..i];
            }
        }
    }
    panic!("unbalanced bracket at {open}")
}

/// Splits at commas and semicolons outside brackets.
fn top_level(text: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, ch) in text.char_indices() {
        match ch {
            '(' | '{' | '[' | '<' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            '>' if !text[..i].ends_with('-') => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn shell_commands() -> Vec<ShellCommand> {
    let text = std::fs::read_to_string(root().join("src-tauri/src/commands.rs"))
        .expect("src-tauri/src/commands.rs");
    let mut out = Vec::new();
    for (at, _) in text.match_indices("#[tauri::command]") {
        let rest = &text[at..];
        let fn_at = rest.find("fn ").expect("fn after #[tauri::command]") + 3;
        let name: String = rest[fn_at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let params_at = fn_at + rest[fn_at..].find('(').expect("(");
        let args = top_level(balanced(rest, params_at), ',')
            .into_iter()
            .filter_map(|p| p.split_once(':'))
            .filter(|(_, ty)| {
                let ty = ty.trim();
                !["Shell<", "State<", "AppHandle", "Window", "Webview"]
                    .iter()
                    .any(|t| ty.starts_with(t))
            })
            .map(|(n, _)| camel_case(n.trim()))
            .collect();
        let body_at = params_at + rest[params_at..].find('{').expect("body");
        let body = balanced(rest, body_at).to_owned();
        out.push(ShellCommand { name, args, body });
    }
    out
}

/// Command → argument keys, as `ui/src/api.rs` calls them.
fn ui_calls() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(root().join("ui/src/api.rs")).expect("ui/src/api.rs");
    let mut out = BTreeMap::new();
    for pat in ["call(", "call_unit("] {
        for (at, _) in text.match_indices(pat) {
            let open = at + pat.len() - 1;
            let call = balanced(&text, open);
            let preceded_by_ident = text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let Some(quoted) = call.trim_start().strip_prefix('"') else {
                continue; // the definition, not a call
            };
            if preceded_by_ident {
                continue;
            }
            let name = quoted.split('"').next().expect("name").to_owned();
            let mut keys: Vec<String> = call
                .match_indices("\":")
                .map(|(end, _)| {
                    let key_start = call[..end].rfind('"').expect("key quote") + 1;
                    call[key_start..end].to_owned()
                })
                .collect();
            keys.sort();
            out.insert(name, keys);
        }
    }
    out
}

#[test]
fn shell_commands_are_one_call_into_the_api() {
    let commands = shell_commands();
    assert!(commands.len() > 30, "found {} commands", commands.len());
    for c in &commands {
        let statements = top_level(&c.body, ';');
        assert_eq!(
            statements.len(),
            1,
            "command `{}` must be one expression (a call into berth-api), not:\n{}",
            c.name,
            c.body
        );
    }
}

#[test]
fn the_ui_calls_exactly_the_shell_commands() {
    let shell: BTreeMap<String, Vec<String>> = shell_commands()
        .into_iter()
        .map(|c| {
            let mut args = c.args;
            args.sort();
            (c.name, args)
        })
        .collect();
    let registered =
        std::fs::read_to_string(root().join("src-tauri/src/commands.rs")).expect("commands.rs");
    let handler_at = registered
        .find("generate_handler![")
        .expect("generate_handler!");
    let handler = &registered[handler_at..];
    let handler = &handler[..handler.find(']').expect("]")];
    for name in shell.keys() {
        assert!(
            handler.contains(&format!(" {name},")),
            "command `{name}` is not in generate_handler!"
        );
    }
    let ui = ui_calls();
    assert_eq!(
        ui.keys().collect::<Vec<_>>(),
        shell.keys().collect::<Vec<_>>(),
        "ui/src/api.rs must wrap every command of src-tauri/src/commands.rs, and only those"
    );
    for (name, args) in &shell {
        assert_eq!(
            &ui[name], args,
            "`{name}`: ui/src/api.rs sends these argument keys, the shell expects those (camelCase)"
        );
    }
}

#[test]
fn the_ui_listens_to_the_events_the_shell_emits() {
    let consts = |path: &str| -> Vec<String> {
        let text = std::fs::read_to_string(root().join(path)).expect(path);
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \""))
            .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    let shell = consts("src-tauri/src/notices.rs");
    assert_eq!(shell.len(), 5, "{shell:?}");
    assert_eq!(shell, consts("ui/src/events.rs"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n == "target" || n == "node_modules" || n == "dist" || n == "gen")
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
    for dir in ["crates", "tests", "src-tauri", "ui"] {
        rust_files(&root().join(dir), &mut files);
    }
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
