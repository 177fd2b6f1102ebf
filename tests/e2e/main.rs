//! End-to-end tests: the real `berth` binary against a real sshd (started per test on a
//! loopback port) and the machine's real dockerd. Build the binary first
//! (`cargo build --bin berth`; `scripts/test.sh` does).

// Test code: a panic with the value's location is the failure report we want.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod hostkeys;
mod images;
mod lifecycle;
mod monitor;
mod packages;
mod projects;
mod real_apps;
mod relays;
mod routing;
mod services;
mod transports;
mod webhooks;
