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
    shell::run();
}
