//! The shell's life cycle: open the data dir (the same rules as the CLI), build the Tauri app
//! with its plugins, window and tray, forward background notices, keep running in the tray when
//! the window is closed. Nothing here blocks the UI thread: Berth is opened before the event
//! loop starts, and every API call runs on Tauri's async runtime or its blocking pool.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use berth_api::desktop::Desktop;
use berth_api::{ApiError, Berth, Config};
use berth_model::ErrorDto;
use tauri::{AppHandle, Manager, RunEvent, WindowEvent};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};
use tauri_plugin_opener::OpenerExt;
use tauri_plugin_window_state::StateFlags;

use crate::{commands, footprint, notices, tray};

/// How often the desktop looks again for a webhook relay to follow.
const WEBHOOK_RETRY: std::time::Duration = std::time::Duration::from_secs(5);
/// How often the relays are asked for what their monitors saw.
const ALERTS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// How often the records are read for deploys other processes finished.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// The main window's label (tauri.conf.json).
pub const MAIN_WINDOW: &str = "main";

fn open(app: Arc<OnceLock<AppHandle>>) -> Result<Arc<Desktop>, String> {
    // The CLI's rules: BERTH_DATA_DIR, BERTH_SECRETS, else the saved backend or the keychain.
    let config = Config::resolve("desktop", None, None).map_err(|e| e.to_string())?;
    let berth = Berth::open(config).map_err(|e: ApiError| e.to_string())?;
    // Notices come from jobs the window started, so the handle is always set by then.
    Ok(Desktop::new(berth, move |notice| {
        if let Some(app) = app.get() {
            notices::forward(app, notice);
        }
    }))
}

pub fn run() {
    let filter = std::env::var("BERTH_LOG").unwrap_or_else(|_| "warn".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    // Tauri's runtime, with the stack Berth's deploys need; it lives as long as the process.
    match berth_api::runtime(None) {
        Ok(runtime) => tauri::async_runtime::set(Box::leak(Box::new(runtime)).handle().clone()),
        Err(e) => tracing::warn!("cannot start Berth's async runtime, using Tauri's: {e}"),
    }

    let handle = Arc::new(OnceLock::new());
    let desktop = open(handle.clone());
    let opened = desktop.is_ok();

    let mut builder = tauri::Builder::default()
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // Size, position, maximized — never "hidden": the window always opens.
                .with_state_flags(StateFlags::all() - StateFlags::VISIBLE)
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init());
    let startup_error = match desktop {
        Ok(d) => {
            builder = builder.manage(d);
            None
        }
        Err(e) => Some(e),
    };
    let app = builder
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let _ = handle.set(app.handle().clone());
            if let Some(error) = startup_error {
                // Without its data dir Berth can do nothing: say why, then quit.
                tracing::error!("cannot open Berth's data: {error}");
                let quit = app.handle().clone();
                app.dialog()
                    .message(format!("Berth cannot open its data:\n\n{error}"))
                    .title("Berth")
                    .kind(MessageDialogKind::Error)
                    .show(move |_| quit.exit(1));
                return Ok(());
            }
            tray::build(app.handle())?;
            // Deploys finished by the CLI (or another window) notify too.
            let desktop = app.state::<Arc<Desktop>>().inner().clone();
            tauri::async_runtime::spawn(desktop.clone().watch_other_processes(WATCH_EVERY));
            // Pushes to apps with an (attended) webhook deploy while the app runs.
            tauri::async_runtime::spawn(desktop.clone().watch_webhooks(WEBHOOK_RETRY));
            // What the relays' monitors saw reaches the tray and the Overview.
            tauri::async_runtime::spawn(desktop.clone().watch_alerts(ALERTS_EVERY));
            // Servers without a relay get their apps sampled while the window or tray runs.
            tauri::async_runtime::spawn(desktop.watch_stats());
            // What starting up touched once goes back to the OS (see `footprint`).
            log_trim(footprint::trim_after(footprint::AFTER_START));
            Ok(())
        })
        .on_window_event(|window, event| match event {
            // Closing the window ends it, and WebKit's page process with it: in the tray Berth
            // (and its jobs) keep running on a fraction of the memory, the more so once what
            // the window used went back to the OS. The tray opens a new one.
            WindowEvent::Destroyed if window.label() == MAIN_WINDOW => {
                tracing::info!("window closed; Berth keeps running in the tray");
                log_trim(footprint::trim_when_quiet(footprint::SETTLE));
            }
            // The user went elsewhere: trim if they stay away. Coming back calls it off.
            WindowEvent::Focused(false) => {
                log_trim(footprint::trim_when_quiet(footprint::SETTLE));
            }
            WindowEvent::Focused(true) => footprint::activity(),
            _ => {}
        })
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("berth-desktop: cannot start: {e}");
            std::process::exit(1);
        });
    app.run(move |app, event| match event {
        // The last window closed: Berth stays in the tray. Only an explicit exit ("Quit
        // Berth", a fatal start-up error) carries a code and ends it.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit if opened => {
            // Close SSH sessions cleanly (OpenSSH control masters, forwarding sockets).
            let desktop = app.state::<Arc<Desktop>>().inner().clone();
            tauri::async_runtime::block_on(desktop.berth().close());
        }
        _ => {}
    });
}

/// Runs a pending trim on the async runtime and logs what it gave back.
fn log_trim(trim: impl Future<Output = Option<footprint::Trimmed>> + Send + 'static) {
    tauri::async_runtime::spawn(async move {
        if let Some(t) = trim.await {
            tracing::info!(
                "gave idle memory back to the OS: resident {} MB -> {} MB",
                t.before >> 20,
                t.after >> 20
            );
        }
    });
}

/// Shows, unminimizes and focuses the main window, opening a new one (as configured, at the
/// size and place the last one had) when it was closed.
pub fn show_window(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(w) => w,
        None => match open_window(app) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("cannot open Berth's window: {e}");
                return;
            }
        },
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// A new main window from `tauri.conf.json`.
fn open_window(app: &AppHandle) -> tauri::Result<tauri::WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .unwrap_or_default();
    tauri::WebviewWindowBuilder::from_config(app, &config)?.build()
}

/// Closes the main window (Ctrl+W / Cmd+W, like its close button): Berth stays in the tray.
pub fn hide_window(app: &AppHandle) -> Result<(), ErrorDto> {
    let Some(w) = app.get_webview_window(MAIN_WINDOW) else {
        return Ok(());
    };
    w.close().map_err(|e| ErrorDto {
        code: "shell".to_owned(),
        message: format!("cannot close the window: {e}"),
    })
}

/// The OS file picker (the identity file of a server); `None` when the user cancelled.
pub async fn pick_file(app: &AppHandle, title: String) -> Result<Option<String>, ErrorDto> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title(title).pick_file(move |path| {
        let _ = tx.send(path);
    });
    let picked = rx.await.ok().flatten();
    Ok(picked.map(|p| p.to_string()))
}

/// The OS folder picker (the git repository of an app); `None` when the user cancelled.
pub async fn pick_folder(app: &AppHandle, title: String) -> Result<Option<String>, ErrorDto> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .pick_folder(move |path| {
            let _ = tx.send(path);
        });
    let picked = rx.await.ok().flatten();
    Ok(picked.map(|p| p.to_string()))
}

/// Opens an `http(s)` URL in the user's browser; anything else is refused.
pub fn open_url(app: &AppHandle, url: &str) -> Result<(), ErrorDto> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ErrorDto {
            code: "invalid".to_owned(),
            message: format!("only http and https addresses can be opened, not `{url}`"),
        });
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| ErrorDto {
            code: "shell".to_owned(),
            message: format!("cannot open {url}: {e}"),
        })
}
