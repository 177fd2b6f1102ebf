//! `berth-desktop`: Berth's desktop app. A thin Tauri shell around `berth-api` — the window
//! (the Leptos UI in `ui/dist`, embedded), one command per API call, the tray with recent
//! deploys, and an OS notification for every job result. Closing the window keeps the app in
//! the tray, so deploys that end later still notify; "Quit Berth" in the tray exits.

// A GUI app on Windows: no console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod footprint;
mod notices;
mod shell;
mod tray;

fn main() {
    #[cfg(target_os = "linux")]
    lean_webkit();
    shell::run();
}

/// What WebKitGTK does by default that a UI of text, tables and logs does not need, turned off
/// (a value the user set wins):
/// - accelerated compositing, about 150 MB in the web process (GL buffers, and Mesa's software
///   renderer where there is no GPU); without it the window draws the same;
/// - then, with nothing drawn by GL in this process, probing GL at all: GTK's check for GLX,
///   WebKit's DMA-BUF renderer and its search for the GPU's render node each initialise EGL
///   here, which loads the whole GL driver (Mesa links LLVM: about 45 MB resident) into the
///   app for nothing. WebKit is told the render node (the first `/dev/dri/renderD*`, or none)
///   instead of probing for it.
///
/// Who turns compositing back on (`WEBKIT_DISABLE_COMPOSITING_MODE=0`) gets WebKit's defaults.
#[cfg(target_os = "linux")]
fn lean_webkit() {
    let compositing_off = default_env("WEBKIT_DISABLE_COMPOSITING_MODE", "1") != "0";
    if !compositing_off {
        return;
    }
    default_env("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    default_env("GDK_GL", "disable");
    default_env("WEBKIT_WEB_RENDER_DEVICE_FILE", &render_node());
}

/// The GPU's first DRM render node, or `/dev/null` where there is none (WebKit then renders on
/// the CPU, as it would have after probing).
#[cfg(target_os = "linux")]
fn render_node() -> String {
    std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().to_string_lossy().into_owned())
        .filter(|p| p.starts_with("/dev/dri/renderD"))
        .min()
        .unwrap_or_else(|| "/dev/null".to_owned())
}

/// Sets `var` to `value` unless the user set it; returns the value in force.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn default_env(var: &str, value: &str) -> String {
    match std::env::var(var) {
        Ok(set) if !set.is_empty() => set,
        _ => {
            // SAFETY: called only from `main` before anything else runs, so no other thread
            // exists to read the environment concurrently.
            unsafe { std::env::set_var(var, value) };
            value.to_owned()
        }
    }
}
