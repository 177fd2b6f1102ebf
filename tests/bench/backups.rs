//! Backups of a large PostgreSQL database (default 1 GB of table data; `BENCH_DB_MB`) on a
//! server reached over SSH (sshd on loopback), into a directory on this machine: `berth backup
//! create` and `berth backup restore` against the same work by hand — `ssh SERVER docker exec
//! DB pg_dump -Fc > FILE` (pg_dump's own compression) and `pg_dump -Fc -Z0 | zstd -3` (the
//! compression Berth uses), and `ssh … pg_restore < FILE` — alternated round by round, with
//! Berth's peak memory (the CLI process's VmHWM) while it streams.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, NamedGuard, VolumeGuard};
use berth_testkit::{Berth, Registry, Sshd, unique};

use crate::median;

/// Runs `cmd` to the end, polling its peak resident memory: (seconds, peak MiB).
fn timed_with_peak(mut cmd: Command) -> (f64, f64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = t.elapsed().as_secs_f64();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "{err}");
    (secs, peak_kib as f64 / 1024.0)
}

/// Runs a shell pipeline: seconds.
fn timed_sh(script: &str) -> f64 {
    let t = Instant::now();
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn size_mb(path: &std::path::Path) -> f64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
}

pub fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let db_mb: u64 = std::env::var("BENCH_DB_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);

    let pg = berth_testkit::test_image("postgres");
    let registry = Registry::start();
    let repo = format!("berth-bench/{}", unique("pg"));
    let _pulled = NamedGuard(repo.clone());
    let reference = registry.push_local(&pg, &repo, "15");
    let sshd = Sshd::start();
    let key = sshd.user_key.display().to_string();
    let b = Berth::new();
    b.ok(&[
        "server",
        "add",
        "prod",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--accept-new",
    ]);
    let db = unique("bigpg");
    let _guards = (
        AppGuard(db.clone()),
        VolumeGuard(berth_model::data_volume(&db)),
    );
    b.ok(&[
        "service", "create", &db, "--server", "prod", "--kind", "postgres", "--image", &reference,
    ]);
    let psql = |sql: &str| {
        b.ok(&[
            "exec",
            &db,
            "--",
            "sh",
            "-c",
            &format!("psql -q -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c \"{sql}\""),
        ])
    };
    // Rows of ~109 bytes on disk with their overhead: text that compresses like real data
    // (hex digests), an integer and a timestamp.
    let rows = db_mb * 1_000_000 / 109;
    let t = Instant::now();
    psql(&format!(
        "CREATE TABLE events AS SELECT i AS id, md5(i::text) AS a, md5((i * 7)::text) AS b, now() - (i || ' seconds')::interval AS at FROM generate_series(1, {rows}) AS i"
    ));
    let size = b
        .ok(&[
            "exec",
            &db,
            "--",
            "sh",
            "-c",
            "psql -tA -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c \"SELECT pg_total_relation_size('events')\"",
        ])
        .stdout;
    let table_mb = size.trim().parse::<f64>().unwrap_or(0.0) / 1e6;
    eprintln!(
        "backups: {rows} rows, {table_mb:.0} MB on disk, made in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("target");
    b.ok(&[
        "backup",
        "target",
        "add",
        "here",
        &format!("local:{}", target.display()),
    ]);
    b.ok(&[
        "backup",
        "target",
        "add",
        "sealed",
        &format!("local:{}", dir.path().join("sealed").display()),
        "--encrypt",
    ]);
    let container = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=berth.app={db}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    // The by-hand commands, as scripts the server runs (it is this machine, over sshd).
    let script = |name: &str, body: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("script");
        path.display().to_string()
    };
    let pg_env = "PGPASSWORD=\"$POSTGRES_PASSWORD\" exec";
    let login = "-h 127.0.0.1 -U \"$POSTGRES_USER\"";
    let dump_gz = script(
        "dump-gz.sh",
        format!(
            "exec docker exec {container} sh -c '{pg_env} pg_dump -Fc {login} \"$POSTGRES_DB\"'\n"
        ),
    );
    let dump_raw = script(
        "dump-raw.sh",
        format!(
            "exec docker exec {container} sh -c '{pg_env} pg_dump -Fc -Z0 {login} \"$POSTGRES_DB\"'\n"
        ),
    );
    let restore = script(
        "restore.sh",
        format!(
            "exec docker exec -i {container} sh -c '{pg_env} pg_restore --clean --if-exists --no-owner --single-transaction {login} -d \"$POSTGRES_DB\"'\n"
        ),
    );
    let ssh = format!(
        "ssh -q -i {key} -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1",
        sshd.port
    );
    let by_hand_gz = dir.path().join("by-hand.pgdump");
    let by_hand_zst = dir.path().join("by-hand.pgdump.zst");
    let restore_by_hand = format!("zstd -dc {} | {ssh} sh {restore}", by_hand_zst.display());

    let (mut gz, mut zst, mut berth, mut peaks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sealed = Vec::new();
    let (mut restore_hand, mut restore_berth, mut restore_peaks) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut stored = 0.0;
    for round in 0..rounds {
        let mut berth_create = || {
            let cmd = b.cmd(&["backup", "create", &db, "--to", "here", "--keep", "1"]);
            let (secs, peak) = timed_with_peak(cmd);
            berth.push(secs);
            peaks.push(peak);
            let cmd = b.cmd(&["backup", "create", &db, "--to", "sealed", "--keep", "1"]);
            let (secs, peak) = timed_with_peak(cmd);
            sealed.push(secs);
            peaks.push(peak);
        };
        let mut hand = || {
            gz.push(timed_sh(&format!(
                "{ssh} sh {dump_gz} > {}",
                by_hand_gz.display()
            )));
            zst.push(timed_sh(&format!(
                "{ssh} sh {dump_raw} | zstd -q -3 > {}",
                by_hand_zst.display()
            )));
        };
        if round % 2 == 0 {
            hand();
            berth_create();
        } else {
            berth_create();
            hand();
        }
        let listed = b
            .ok(&["backup", "ls", &db, "--in", "here", "--json"])
            .json();
        stored = listed[0]["stored_bytes"].as_f64().unwrap_or(0.0) / 1e6;
        let mut berth_restore = || {
            let cmd = b.cmd(&[
                "backup", "restore", &db, "latest", "--from", "here", "--yes",
            ]);
            let (secs, peak) = timed_with_peak(cmd);
            restore_berth.push(secs);
            restore_peaks.push(peak);
        };
        if round % 2 == 0 {
            restore_hand.push(timed_sh(&restore_by_hand));
            berth_restore();
        } else {
            berth_restore();
            restore_hand.push(timed_sh(&restore_by_hand));
        }
    }
    let mb = |secs: f64| table_mb / secs;
    let (gz, zst, berth, sealed) = (median(gz), median(zst), median(berth), median(sealed));
    let (restore_hand, restore_berth) = (median(restore_hand), median(restore_berth));
    let best = gz.min(zst);
    println!();
    println!(
        "backups: a {table_mb:.0} MB PostgreSQL table over SSH to this machine, median of {rounds}"
    );
    println!(
        "  {:<44} {:>8} {:>10} {:>10}",
        "", "seconds", "MB/s", "file MB"
    );
    println!(
        "  {:<44} {gz:>8.1} {:>10.1} {:>10.0}",
        "by hand: ssh … pg_dump -Fc > file",
        mb(gz),
        size_mb(&by_hand_gz)
    );
    println!(
        "  {:<44} {zst:>8.1} {:>10.1} {:>10.0}",
        "by hand: ssh … pg_dump -Fc -Z0 | zstd -3",
        mb(zst),
        size_mb(&by_hand_zst)
    );
    println!(
        "  {:<44} {berth:>8.1} {:>10.1} {:>10.0}",
        "berth backup create (zstd -3, SHA-256)",
        mb(berth),
        stored
    );
    println!(
        "  {:<44} {sealed:>8.1} {:>10.1}",
        "berth backup create, encrypted target (age)",
        mb(sealed)
    );
    println!(
        "  {:<44} {restore_hand:>8.1} {:>10.1}",
        "by hand: zstd -d | ssh … pg_restore",
        mb(restore_hand)
    );
    println!(
        "  {:<44} {restore_berth:>8.1} {:>10.1}",
        "berth backup restore (checksum first)",
        mb(restore_berth)
    );
    println!(
        "  berth / fastest by hand: backup {:.2}x ({:.2}x encrypted), restore {:.2}x (target ≤ 1.2x)",
        berth / best,
        sealed / best,
        restore_berth / restore_hand
    );
    println!(
        "  berth's peak memory: backup {:.0} MiB, restore {:.0} MiB (target ≤ 64 MiB)",
        peaks.iter().copied().fold(0.0, f64::max),
        restore_peaks.iter().copied().fold(0.0, f64::max)
    );
    b.ok(&["service", "rm", &db, "--purge"]);
}
