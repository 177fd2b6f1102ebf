//! End-to-end tests of the desktop app in a real window: the built `berth-desktop` under its
//! own Xvfb display and D-Bus session, driven through WebDriver (`tauri-driver` in front of
//! WebKitGTK's `WebKitWebDriver`), with the real `berth` CLI on the same data dir. Every screen
//! a test visits is saved as a PNG under `target/screenshots/`.
//!
//! Build first: `scripts/build-ui.sh`, `cargo build -p berth-desktop --bin berth-desktop`
//! and `cargo build --bin berth` (`scripts/test.sh` does all three).

// Test code: a panic with the value's location is the failure report we want.
#![allow(clippy::unwrap_used)]

mod app_page;
mod harness;
mod images;
mod scenario;
mod screens;
mod services;
mod smoke;
mod webhooks;
