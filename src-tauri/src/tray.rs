//! The tray icon and its menu: Open Berth, Recent deploys ▸ (each with its status), Quit.
//! The recent list is rebuilt after every job and at start-up, off the UI thread.

use std::sync::Arc;

use berth_api::Clock;
use berth_api::desktop::Desktop;
use berth_model::{Deployment, DeploymentStatus};
use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

use crate::shell::show_window;

const TRAY_ID: &str = "berth";
const OPEN: &str = "open";
const QUIT: &str = "quit";
/// How many deploys the submenu lists.
const RECENT: usize = 8;

/// Monochrome: white for Linux and Windows panels, a template image macOS tints itself.
#[cfg(target_os = "macos")]
const TRAY_PNG: &[u8] = include_bytes!("../../icons/tray-template.png");
#[cfg(not(target_os = "macos"))]
const TRAY_PNG: &[u8] = include_bytes!("../../icons/tray.png");

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(TRAY_PNG)?)
        .icon_as_template(cfg!(target_os = "macos"))
        .tooltip("Berth")
        .menu(&menu(app, None)?)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            QUIT => app.exit(0),
            // "Open Berth" and every recent deploy bring the window back.
            _ => show_window(app),
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        })
        .build(app)?;
    refresh(app);
    Ok(())
}

/// Rebuilds the "Recent deploys" submenu from the records, off the UI thread.
pub fn refresh(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let desktop = app.state::<Arc<Desktop>>().inner().clone();
        let recent = match desktop.overview() {
            Ok(o) => o.recent,
            Err(e) => {
                tracing::warn!("cannot list recent deploys for the tray: {e}");
                return;
            }
        };
        let result = menu(&app, Some(&recent)).and_then(|m| match app.tray_by_id(TRAY_ID) {
            Some(tray) => tray.set_menu(Some(m)),
            None => Ok(()),
        });
        if let Err(e) = result {
            tracing::warn!("cannot update the tray menu: {e}");
        }
    });
}

/// The tray menu; `recent` is `None` until the records were read.
fn menu(app: &AppHandle, recent: Option<&[Deployment]>) -> tauri::Result<Menu<Wry>> {
    let now = berth_api::SystemClock.now_ms();
    let mut items: Vec<MenuItem<Wry>> = Vec::new();
    match recent {
        None => items.push(MenuItem::new(app, "Loading…", false, None::<&str>)?),
        Some([]) => items.push(MenuItem::new(app, "No deploys yet", false, None::<&str>)?),
        Some(list) => {
            for d in list.iter().take(RECENT) {
                items.push(MenuItem::with_id(
                    app,
                    format!("recent:{}", d.id),
                    recent_label(d, now),
                    true,
                    None::<&str>,
                )?);
            }
        }
    }
    let refs: Vec<&dyn IsMenuItem<Wry>> = items.iter().map(|i| i as &dyn IsMenuItem<Wry>).collect();
    let submenu = Submenu::with_items(app, "Recent deploys", true, &refs)?;
    Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, OPEN, "Open Berth", true, None::<&str>)?,
            &submenu,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit Berth", true, None::<&str>)?,
        ],
    )
}

/// `✓ hello  deploy 1a2b3c4 · live · 5 min ago`.
pub fn recent_label(d: &Deployment, now_ms: i64) -> String {
    let (mark, status) = match d.status {
        DeploymentStatus::Active => ("✓", "live".to_owned()),
        DeploymentStatus::Superseded => ("○", "replaced".to_owned()),
        DeploymentStatus::InProgress => ("…", "in progress".to_owned()),
        DeploymentStatus::Cancelled => ("⊘", "cancelled".to_owned()),
        DeploymentStatus::Interrupted => ("⊘", "interrupted".to_owned()),
        DeploymentStatus::Failed => (
            "✗",
            match d.failed_step {
                Some(step) => format!("failed at {step}"),
                None => "failed".to_owned(),
            },
        ),
    };
    let commit = d.version().map(|v| format!(" {v}")).unwrap_or_default();
    let when = berth_model::format::ago(now_ms, d.finished_at.unwrap_or(d.started_at));
    format!(
        "{mark} {}  {}{commit} · {status} · {when}",
        d.app,
        d.kind.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{DeploymentKind, Step};

    #[test]
    fn labels_show_status_commit_and_age() {
        let mut d = Deployment {
            id: "0a1b2c3d".to_owned(),
            app: "hello".to_owned(),
            kind: DeploymentKind::Deploy,
            status: DeploymentStatus::Active,
            git_ref: "main".to_owned(),
            commit: Some("1a2b3c4d5e6f".to_owned()),
            commit_message: None,
            runtime: None,
            image: None,
            digest: None,
            container: None,
            source_deployment: None,
            started_at: 0,
            finished_at: Some(1_000),
            failed_step: None,
            error: None,
            steps: Vec::new(),
            processes: Vec::new(),
            spec: None,
        };
        let now = 5 * 60_000 + 1_000;
        assert_eq!(
            recent_label(&d, now),
            "✓ hello  deploy 1a2b3c4 · live · 5 min ago"
        );
        d.status = DeploymentStatus::Failed;
        d.failed_step = Some(Step::Build);
        d.commit = None;
        assert_eq!(
            recent_label(&d, now),
            "✗ hello  deploy · failed at build · 5 min ago"
        );
    }
}
