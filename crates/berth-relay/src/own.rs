//! `berth-relay own`: the one-shot task an install runs (as root, with only the capabilities
//! to change owners) before the relay starts, so the relay itself runs with none: its data
//! and its control socket's directory go to the relay's user and group, group-writable — the
//! relay runs as that user, or (unattended) as uid 0 in that group.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub const USAGE: &str = "usage: berth-relay own --uid UID --gid GID PATH…";

/// What one run changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Owned {
    pub entries: u64,
    pub changed: u64,
}

/// Parses `--uid N --gid N PATH…`.
pub fn parse(args: &[String]) -> Result<(u32, u32, Vec<String>), String> {
    let (mut uid, mut gid, mut paths) = (None, None, Vec::new());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |flag: &str| -> Result<u32, String> {
            let v = it.next().ok_or(format!("{flag} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match arg.as_str() {
            "--uid" => uid = Some(number("--uid")?),
            "--gid" => gid = Some(number("--gid")?),
            p if p.starts_with('/') => paths.push(p.to_owned()),
            other => return Err(format!("`{other}` is not an absolute path or a flag")),
        }
    }
    match (uid, gid, paths.is_empty()) {
        (Some(u), Some(g), false) => Ok((u, g, paths)),
        _ => Err("--uid, --gid and at least one path are needed".to_owned()),
    }
}

/// Gives `root` and everything under it to `uid:gid`: directories `0770`, files readable and
/// writable by owner and group and nothing for others. Symbolic links are not followed.
pub fn own(root: &Path, uid: u32, gid: u32) -> std::io::Result<Owned> {
    let mut owned = Owned::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        owned.entries += 1;
        let mut changed = false;
        if meta.uid() != uid || meta.gid() != gid {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            changed = true;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let want = if meta.is_dir() {
            0o770
        } else if meta.is_file() {
            (mode & 0o770) | 0o660
        } else {
            mode
        };
        if !meta.file_type().is_symlink() && mode != want {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(want))?;
            changed = true;
        }
        if changed {
            owned.changed += 1;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(owned)
}

/// The subcommand: every path, or the first error (exit 1).
pub fn run(args: &[String]) -> std::process::ExitCode {
    let (uid, gid, paths) = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth-relay own: {e}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    for path in paths {
        let path = Path::new(&path);
        if let Err(e) = std::fs::create_dir_all(path) {
            eprintln!("berth-relay own: cannot create {}: {e}", path.display());
            return std::process::ExitCode::FAILURE;
        }
        match own(path, uid, gid) {
            Ok(o) => println!(
                "{}: {} entries, {} changed, now {uid}:{gid}",
                path.display(),
                o.entries,
                o.changed
            ),
            Err(e) => {
                eprintln!("berth-relay own: {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_paths() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse(&args(&[
                "--uid", "65532", "--gid", "105", "/data", "/run/x"
            ])),
            Ok((65532, 105, vec!["/data".into(), "/run/x".into()]))
        );
        assert!(parse(&args(&["--uid", "1", "/data"])).is_err());
        assert!(parse(&args(&["--uid", "x", "--gid", "1", "/d"])).is_err());
        assert!(parse(&args(&["--uid", "1", "--gid", "1", "relative"])).is_err());
    }

    #[test]
    fn a_tree_becomes_group_writable_and_closed_to_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let file = sub.join("secrets.json");
        std::fs::write(&file, "{}").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let me = std::fs::metadata(dir.path()).expect("stat");
        let (uid, gid) = (me.uid(), me.gid());
        let first = own(dir.path(), uid, gid).expect("own");
        assert_eq!(first.entries, 3);
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!((mode(&sub), mode(&file)), (0o770, 0o660));
        // Again: nothing left to change.
        assert_eq!(own(dir.path(), uid, gid).expect("own").changed, 0);
    }
}
