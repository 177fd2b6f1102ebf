//! Names the commit this build came from, for `berth --version` and the window's About:
//! `BERTH_COMMIT` when set (a build from a source tarball, a packager), else `git rev-parse`,
//! else `unknown`.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=BERTH_COMMIT");
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let from_env = std::env::var("BERTH_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let commit = match (from_env, &dir) {
        (Some(c), _) => c,
        (None, Some(dir)) => {
            // Rebuild when HEAD moves: HEAD itself, the branch it names, packed refs.
            if let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) {
                let git_dir = Path::new(&git_dir);
                let mut watch = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
                if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
                    watch.push(git_dir.join(branch));
                }
                // A path that does not exist would make Cargo run this on every build.
                for path in watch.iter().filter(|p| p.exists()) {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
            git(dir, &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
        (None, None) => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
}
