//! The desktop issue's figures: time from launch to the first interactive screen, and the
//! resident memory of the running app — every process of it, WebKit's web and network
//! processes included — idle after each screen has been opened once.
//!
//! The app runs under Xvfb, driven through WebDriver by the same harness as the desktop tests
//! (`tests/desktop/harness.rs`). Launch time is measured from the kernel's start time of the
//! `berth-desktop` process to the moment the Overview has painted its data (the UI stamps
//! `data-interactive-at` on `<html>`), so WebDriver's own start-up is not counted.
//! Memory is reported three ways, summed over the processes: RSS (every resident page, shared
//! libraries included, counted once per process that maps them), PSS (shared pages split
//! between the processes sharing them) and private (pages no other process shares: what
//! quitting Berth gives back for sure).

use std::time::Duration;

use berth_testkit::docker::{AppGuard, ensure_busybox};
use berth_testkit::{git, unique};

#[allow(dead_code, clippy::unwrap_used)]
#[path = "../desktop/harness.rs"]
mod harness;

use harness::DesktopApp;

/// How long the app is left alone before memory is read.
const SETTLE: Duration = Duration::from_secs(4);
/// Launches timed (`BENCH_LAUNCHES`, default 5).
fn launches() -> usize {
    std::env::var("BENCH_LAUNCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

pub async fn run() {
    println!("\n== desktop app ==");
    if let Some(bin) = std::env::var_os("BERTH_DESKTOP_BIN") {
        println!("binary: {}", std::path::Path::new(&bin).display());
    }

    // --- launch → first interactive screen --------------------------------------------------
    let mut launch = Vec::new();
    let launches = launches();
    for _ in 0..launches {
        let app = DesktopApp::launch_as_shipped("bench-launch").await;
        app.wait_for("[data-testid=empty-servers]").await;
        launch.push(launch_ms(&app).await);
        app.quit().await;
    }
    println!(
        "launch → first interactive screen: median {:.0} ms (min {:.0}, max {:.0}; {launches} launches, empty data dir)",
        crate::median(launch.clone()),
        launch.iter().copied().fold(f64::INFINITY, f64::min),
        launch.iter().copied().fold(0.0, f64::max),
    );

    // --- idle memory after each screen ------------------------------------------------------
    ensure_busybox();
    let app = DesktopApp::launch_as_shipped("bench-memory").await;
    let name = unique("bench-desk");
    let _guard = AppGuard(name.clone());
    let repo = git::web_app("v1");
    let b = &app.berth;
    b.ok(&["server", "add", "local", "--local"]);
    b.ok(&[
        "app",
        "create",
        &name,
        "--server",
        "local",
        "--git",
        &repo.path_str(),
        "--port",
        "8080",
        "--health-path",
        "/healthz",
    ]);
    b.ok(&["deploy", &name]);
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=server-card]", "local")
        .await;
    let with_data = launch_ms(&app).await;

    println!("\nidle memory of all the app's processes, {SETTLE:?} after opening each screen:");
    println!(
        "{:<30} {:>8} {:>8} {:>8}   processes",
        "after opening", "RSS MB", "PSS MB", "private"
    );
    let screens: [(&str, &str, &str); 5] = [
        (
            "Overview",
            "[data-testid=nav-overview]",
            "[data-testid=server-card]",
        ),
        (
            "Servers",
            "[data-testid=nav-servers]",
            "[data-testid=server-card]",
        ),
        ("Apps", "[data-testid=nav-apps]", "[data-testid=app-row]"),
        (
            "Settings",
            "[data-testid=nav-settings]",
            "[data-testid=secrets]",
        ),
        (
            "Overview again",
            "[data-testid=nav-overview]",
            "[data-testid=server-card]",
        ),
    ];
    for (i, (label, nav, shown)) in screens.into_iter().enumerate() {
        app.click(nav).await;
        app.wait_for(shown).await;
        if i == 2 {
            // The app's own page, from the Apps screen.
            report("Apps", &app).await;
            app.click(&format!("[data-testid=app-row][data-app=\"{name}\"]"))
                .await;
            app.wait_for("[data-testid=deploy]").await;
            report(&format!("App page ({name})"), &app).await;
            continue;
        }
        report(label, &app).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle = report("idle 10 s more", &app).await;

    // Closed to the tray: the window, and WebKit's page process with it, are gone, and what
    // they used has gone back to the OS (the app trims a few seconds after the window closed).
    app.close_window().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let tray = report("closed to the tray, 10 s later", &app).await;

    println!("\nidle, target ≤ 150 MB (launch with data: {with_data:.0} ms):");
    for (state, m) in [("window open", &idle), ("in the tray", &tray)] {
        println!(
            "  {state:<12} RSS {:>6.1} MB  PSS {:>6.1} MB  private {:>6.1} MB",
            m.rss_mb, m.pss_mb, m.private_mb
        );
        for (comm, [rss, pss, private]) in &m.by_process {
            println!(
                "    {comm:<22} RSS {rss:>6.1} MB  PSS {pss:>6.1} MB  private {private:>6.1} MB"
            );
        }
    }
    b.ok(&["app", "rm", &name, "--purge"]);
    app.quit().await;
}

/// The UI's `data-interactive-at` minus the app process's start time, in milliseconds.
async fn launch_ms(app: &DesktopApp) -> f64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let interactive: f64 = loop {
        let stamp = app
            .client
            .execute(
                "return document.documentElement.getAttribute('data-interactive-at')",
                vec![],
            )
            .await
            .unwrap();
        if let Some(ms) = stamp.as_str().and_then(|s| s.parse().ok()) {
            break ms;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the UI never stamped data-interactive-at (it does once the Overview has painted)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pid = app.app_pid().expect("berth-desktop is running");
    interactive - process_start_epoch_ms(pid)
}

#[derive(Debug, Default)]
struct Memory {
    rss_mb: f64,
    pss_mb: f64,
    private_mb: f64,
    by_process: Vec<(String, [f64; 3])>,
}

async fn report(label: &str, app: &DesktopApp) -> Memory {
    tokio::time::sleep(SETTLE).await;
    let m = memory(app);
    println!(
        "{label:<30} {:>8.1} {:>8.1} {:>8.1}   {}",
        m.rss_mb,
        m.pss_mb,
        m.private_mb,
        m.by_process
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    m
}

fn memory(app: &DesktopApp) -> Memory {
    let mut m = Memory::default();
    for pid in app.app_processes() {
        let comm = harness::comm(pid);
        let rss = status_kb(pid, "VmRSS:") / 1024.0;
        let pss = smaps_kb(pid, "Pss:") / 1024.0;
        let private = (smaps_kb(pid, "Private_Clean:") + smaps_kb(pid, "Private_Dirty:")) / 1024.0;
        m.rss_mb += rss;
        m.pss_mb += pss;
        m.private_mb += private;
        m.by_process.push((comm, [rss, pss, private]));
    }
    m
}

fn process_start_epoch_ms(pid: u32) -> f64 {
    let ticks: f64 = harness::stat_fields(pid)
        .and_then(|f| f.get(19)?.parse().ok())
        .expect("start time of the process");
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/uptime");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default();
    now - (uptime - ticks / hz) * 1000.0
}

fn status_kb(pid: u32, key: &str) -> f64 {
    proc_kb(&format!("/proc/{pid}/status"), key)
}

fn smaps_kb(pid: u32, key: &str) -> f64 {
    proc_kb(&format!("/proc/{pid}/smaps_rollup"), key)
}

fn proc_kb(path: &str, key: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0.0)
}
