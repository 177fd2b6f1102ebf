//! Integration tests of the secrets store: the file backend, redaction, and the OS keychain on
//! a machine that may have none.

// Fixture helpers are not `#[test]` functions, which clippy's allow-unwrap-in-tests misses.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_secrets::{
    Backend, Secrets, SecretsError, Sensitive, env_key, env_prefix, passphrase_key,
};

fn secret(v: &str) -> Sensitive<String> {
    Sensitive::new(v.to_owned())
}

fn get(s: &Secrets, key: &str) -> Option<String> {
    s.get(key).unwrap().map(Sensitive::into_inner)
}

fn file_map(path: &Path) -> BTreeMap<String, String> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `<dir>/data/secrets.json`, whose directory does not exist yet.
fn fresh(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("secrets.json")
}

#[test]
fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh(&dir);
    let s = Secrets::file(path.clone());
    assert_eq!(s.backend(), &Backend::File(path.clone()));

    // Reading and deleting before anything was written create nothing.
    assert_eq!(get(&s, "env/hello/A"), None);
    s.delete("env/hello/A").unwrap();
    s.delete_prefix("env/hello/", &[]).unwrap();
    assert!(!path.parent().unwrap().exists());

    s.set(&env_key("hello", "A"), &secret("one")).unwrap();
    s.set(&passphrase_key("prod"), &secret("pass phrase with spaces"))
        .unwrap();
    s.set(&env_key("hello", "EMPTY"), &secret("")).unwrap();
    s.set(&env_key("hello", "A"), &secret("two")).unwrap();
    assert_eq!(get(&s, "env/hello/A").as_deref(), Some("two"));
    assert_eq!(get(&s, "env/hello/EMPTY").as_deref(), Some(""));
    assert_eq!(
        get(&s, "ssh-passphrase/prod").as_deref(),
        Some("pass phrase with spaces")
    );

    // Another handle on the same file sees the same secrets.
    let other = Secrets::file(path.clone());
    assert_eq!(get(&other, "env/hello/A").as_deref(), Some("two"));

    s.delete("env/hello/A").unwrap();
    s.delete("env/hello/A").unwrap();
    assert_eq!(get(&other, "env/hello/A"), None);
    assert_eq!(
        file_map(&path).keys().collect::<Vec<_>>(),
        ["env/hello/EMPTY", "ssh-passphrase/prod"]
    );
}

#[cfg(unix)]
#[test]
fn file_is_private_from_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("secrets.json");
    let s = Secrets::file(path.clone());
    s.set("k", &secret("v")).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("a/b/secrets.json.lock")), 0o600);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&dir.path().join("a")), 0o700);

    // A file someone opened up is private again after the next write.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(get(&s, "k").as_deref(), Some("v"));
    s.set("k2", &secret("v2")).unwrap();
    assert_eq!(mode(&path), 0o600);

    // An existing directory is left as it is.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Secrets::file(shared.path().join("secrets.json"))
        .set("k", &secret("v"))
        .unwrap();
    assert_eq!(mode(shared.path()), 0o755);
    assert_eq!(mode(&shared.path().join("secrets.json")), 0o600);
}

#[test]
fn writes_replace_the_file_atomically() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = fresh(&dir);
    let s = Secrets::file(path.clone());
    s.set("k", &secret("old")).unwrap();

    // A reader that opened the file before a write keeps reading the complete old version:
    // the write went to a new file that was renamed over this one.
    let mut before = std::fs::File::open(&path).unwrap();
    s.set("k", &secret("new")).unwrap();
    let mut old = String::new();
    before.read_to_string(&mut old).unwrap();
    let old: BTreeMap<String, String> = serde_json::from_str(&old).unwrap();
    assert_eq!(old["k"], "old");
    assert_eq!(file_map(&path)["k"], "new");

    // No temp file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["secrets.json", "secrets.json.lock"]);
}

#[test]
fn concurrent_writers_do_not_lose_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh(&dir);
    const THREADS: usize = 4;
    const KEYS: usize = 40;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            // A handle per thread, as two processes would have.
            let s = Secrets::file(path.clone());
            std::thread::spawn(move || {
                for i in 0..KEYS {
                    s.set(&format!("t{t}/k{i}"), &secret(&format!("v{t}.{i}")))
                        .unwrap();
                    if i % 4 == 0 {
                        s.delete(&format!("t{t}/k{i}")).unwrap();
                    }
                    // Readers never see a half-written file.
                    s.get("t0/k1").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let map = file_map(&path);
    assert_eq!(map.len(), THREADS * (KEYS - KEYS / 4));
    for t in 0..THREADS {
        for i in (0..KEYS).filter(|i| i % 4 != 0) {
            assert_eq!(map[&format!("t{t}/k{i}")], format!("v{t}.{i}"));
        }
    }
}

#[test]
fn delete_prefix_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Secrets::file(fresh(&dir));
    for k in [
        env_key("hello", "A"),
        env_key("hello", "B"),
        env_key("hello-2", "A"),
        passphrase_key("prod"),
    ] {
        s.set(&k, &secret("v")).unwrap();
    }
    // The file backend can list its keys: a key the caller forgot goes too.
    s.delete_prefix(&env_prefix("hello"), &[env_key("hello", "A")])
        .unwrap();
    assert_eq!(get(&s, &env_key("hello", "A")), None);
    assert_eq!(get(&s, &env_key("hello", "B")), None);
    assert!(get(&s, &env_key("hello-2", "A")).is_some());
    assert!(get(&s, &passphrase_key("prod")).is_some());

    // Bad input changes nothing.
    let err = s
        .delete_prefix("env/hello-2/", &[passphrase_key("prod")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret key `ssh-passphrase/prod` does not start with `env/hello-2/`"
    );
    let err = s.delete_prefix("", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret key `` prefix is empty: it would delete every secret"
    );
    assert!(get(&s, &env_key("hello-2", "A")).is_some());
    assert!(get(&s, &passphrase_key("prod")).is_some());
}

#[test]
fn values_appear_in_the_file_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh(&dir);
    let s = Secrets::file(path.clone());
    let value = "s3cr3t-9f2c4e";
    s.set("env/hello/TOKEN", &secret(value)).unwrap();

    assert_eq!(file_map(&path)["env/hello/TOKEN"], value);
    let got = s.get("env/hello/TOKEN").unwrap().unwrap();
    assert_eq!(got.expose(), value);
    for shown in [
        format!("{got:?}"),
        format!("{got}"),
        format!("{:?}", Some(got.clone())),
        format!("{s:?}"),
    ] {
        assert!(!shown.contains(value), "{shown}");
    }
    assert_eq!(format!("{got:?}"), "<redacted>");
    assert_eq!(format!("{got}"), "<redacted>");
}

#[test]
fn a_corrupt_file_is_reported_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.json");
    std::fs::write(&path, "{\n  \"A\": \"hunter2\",\n  \"B\": 31337\n}\n").unwrap();
    let s = Secrets::file(path.clone());
    let err = s.get("A").unwrap_err();
    assert!(
        matches!(err, SecretsError::Corrupt { line: 3, .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("31337"),
        "{shown}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the secrets file {} is not a JSON object of strings (line 3, column 12): fix it or move it away",
            path.display()
        )
    );
    // A write refuses too, rather than dropping what it cannot read.
    assert!(matches!(
        s.set("C", &secret("v")).unwrap_err(),
        SecretsError::Corrupt { .. }
    ));
    assert!(std::fs::read_to_string(&path).unwrap().contains("31337"));
}

#[test]
fn empty_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Secrets::file(fresh(&dir));
    assert_eq!(
        s.set("", &secret("v")).unwrap_err().to_string(),
        "secret key `` is empty"
    );
    assert!(s.get("").is_err());
    assert!(s.delete("").is_err());
}

#[test]
fn sensitive_is_redacted_and_cloneable() {
    #[derive(Debug, Clone)]
    #[allow(dead_code)]
    struct Login {
        user: String,
        password: Sensitive<String>,
    }
    let login = Login {
        user: "root".into(),
        password: Sensitive::from("hunter2".to_owned()),
    };
    let copy = login.clone();
    assert_eq!(
        format!("{copy:?}"),
        r#"Login { user: "root", password: <redacted> }"#
    );
    assert_eq!(copy.password.expose(), "hunter2");
    assert_eq!(Sensitive::new(42).to_string(), "<redacted>");
}

/// This machine is headless: the keychain is either missing (a clear error telling the user
/// what to do) or, if a Secret Service happens to run, working. Never a panic or a hang.
#[test]
fn keyring_backend_without_a_keychain_says_what_to_do() {
    let s = Secrets::keyring("berth-test");
    assert_eq!(s.backend(), &Backend::Keyring);
    let started = std::time::Instant::now();
    match s.get("berth-test/probe") {
        Ok(_) => eprintln!("a keychain is available here"),
        Err(err @ SecretsError::KeyringUnavailable { .. }) => {
            let msg = err.to_string();
            eprintln!("{msg}");
            assert!(
                msg.starts_with("the OS keychain is not available ("),
                "{msg}"
            );
            assert!(
                msg.ends_with(
                    "): start a Secret Service (e.g. gnome-keyring) or run with `--secrets file` / BERTH_SECRETS=file to keep secrets in a 0600 file in the data dir"
                ),
                "{msg}"
            );
            // Writes fail the same way, without the value.
            let err = s.set("berth-test/probe", &secret("hunter2")).unwrap_err();
            assert!(matches!(err, SecretsError::KeyringUnavailable { .. }));
            assert!(!format!("{err} {err:?}").contains("hunter2"));
        }
        Err(other) => panic!("unexpected keychain error: {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
