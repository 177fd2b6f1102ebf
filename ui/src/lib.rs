//! Berth's desktop UI: a Leptos (client-side rendered) app compiled to wasm32 and served by
//! the Tauri shell. It reaches the backend only through [`api`] (typed `invoke` wrappers, one
//! per shell command) and [`events`] (typed `listen`); it never talks to a host.

pub mod ansi;
pub mod api;
pub mod app;
pub mod chart;
pub mod events;
pub mod format;
pub mod loglines;
pub mod pages;
pub mod pipeline;
pub mod toast;
pub mod widgets;

/// Mounts the app on the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
