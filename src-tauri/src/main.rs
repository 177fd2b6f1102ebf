//! `berth-desktop`: Berth's desktop app. A thin Tauri shell around `berth-api` — the window
//! (the Leptos UI in `ui/dist`, embedded), one command per API call, the tray with recent
//! deploys, and an OS notification for every job result. Closing the window keeps the app in
//! the tray, so deploys that end later still notify; "Quit Berth" in the tray exits.

// A GUI app on Windows: no console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod notices;
mod shell;
mod tray;

fn main() {
    #[cfg(target_os = "linux")]
    lean_webkit();
    shell::run();
}

/// WebKitGTK's accelerated compositing costs about 150 MB in the web process (GL buffers, and
/// Mesa's software renderer where there is no GPU) and buys nothing for a UI of text, tables
/// and logs; without it the window draws the same. A value the user set wins.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lean_webkit() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(VAR).is_none() {
        // SAFETY: the first statement of `main`, before any other thread exists, so nothing
        // reads the environment concurrently.
        unsafe { std::env::set_var(VAR, "1") };
    }
}
