//! Shared harness for Berth's end-to-end tests: a real sshd on a loopback port with generated
//! keys, the `berth` binary with a private data dir, fixture git repos and Docker clean-up.
//!
//! Everything a test starts or creates here is stopped or removed when the value is dropped,
//! so a second run on the same machine starts from the same state.

pub mod docker;
pub mod git;
pub mod sshd;

pub use sshd::Sshd;

/// Runs a command and returns its stdout, panicking with its stderr if it failed.
pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}
