//! The relay executables Berth carries for servers of each architecture: static Linux ELF
//! files for x86_64 and aarch64, and the foreign one (cross-compiled) really runs — under
//! qemu-user — and answers its health check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{berth_bin, free_port, http_get};

/// `(e_machine, has a PT_INTERP segment)` of a 64-bit little-endian ELF file.
fn elf_facts(path: &Path) -> (u16, bool) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/build-relay.sh builds it)", path.display()));
    assert_eq!(
        &bytes[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    assert_eq!((bytes[4], bytes[5]), (2, 1), "64-bit little-endian");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    let interp = (0..phnum as usize).any(|n| {
        let at = phoff + n * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == 3
    });
    (u16_at(18), interp)
}

fn relay_for(arch: &str) -> PathBuf {
    berth_bin().with_file_name(format!("berth-relay-{arch}-linux"))
}

#[test]
fn relays_for_x86_64_and_aarch64_servers_are_static_executables() {
    for (arch, machine) in [("x86_64", 62), ("aarch64", 183)] {
        assert_eq!(
            elf_facts(&relay_for(arch)),
            (machine, false),
            "{arch}: machine {machine}, no dynamic loader"
        );
    }
}

#[test]
fn the_aarch64_relay_runs_and_answers_its_health_check() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut relay = Command::new("qemu-aarch64-static")
        .arg(relay_for("aarch64"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--control")
        .arg(dir.path().join("control.sock"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--trusted-proxies", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-aarch64-static (package qemu-user-static: scripts/setup.sh)");
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        if let Some(answer) = http_get(&format!("127.0.0.1:{port}"), "/healthz") {
            break Some(answer);
        }
        if Instant::now() > deadline || relay.try_wait().ok().flatten().is_some() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = relay.kill();
    let out = relay.wait_with_output().unwrap();
    let (status, _) = answer.unwrap_or_else(|| {
        panic!(
            "the aarch64 relay did not answer: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(status, 200);
}
