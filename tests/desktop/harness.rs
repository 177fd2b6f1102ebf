//! A desktop app under test: Xvfb on a free display, a private D-Bus session bus (for
//! notifications and the keychain probe), `tauri-driver` on free ports launching the built
//! `berth-desktop` with a private data dir (file secrets), and a WebDriver client on it.
//!
//! Everything is started in its own process group and stopped on drop (the app and WebKit's
//! helper processes belong to tauri-driver's group), so nothing outlives a test, even one that
//! panics.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{Berth, free_port};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// How long the window gets to show something a test waits for.
const UI_TIMEOUT: Duration = Duration::from_secs(30);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The app under test (`BERTH_DESKTOP_BIN`, else `target/debug/berth-desktop`).
fn desktop_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_DESKTOP_BIN") {
        return PathBuf::from(p);
    }
    let bin = target_dir().join("debug/berth-desktop");
    assert!(
        bin.exists(),
        "{} not found: run scripts/build-ui.sh, then cargo build -p berth-desktop (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// `tauri-driver` (`TAURI_DRIVER`, else on PATH, else where scripts/setup.sh installs it:
/// `BERTH_TOOLS_DIR`, default `~/.cache/berth-tools`).
fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    if let Some(p) = which("tauri-driver") {
        return p;
    }
    let tools = std::env::var_os("BERTH_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("berth-tools"))
        })
        .unwrap_or_default();
    let p = tools.join("tauri-driver/bin/tauri-driver");
    assert!(
        p.is_file(),
        "tauri-driver not found: run scripts/setup.sh (or set TAURI_DRIVER)"
    );
    p
}

/// A child process in its own process group, ended (group and all) on drop.
struct Group {
    name: &'static str,
    child: Child,
}

impl Group {
    fn spawn(name: &'static str, cmd: &mut Command) -> Group {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Group { name, child }
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Whether anything of the group is still alive.
    fn alive(&self) -> bool {
        Command::new("kill")
            .args(["-0", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let _ = self.child.try_wait();
            if !self.alive() {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("{} did not stop on SIGTERM: killing it", self.name);
                self.signal("-KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }
}

/// The colour scheme the window asks for (`prefers-color-scheme` follows GTK's theme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

/// The desktop app in a window, with a WebDriver client on it.
pub struct DesktopApp {
    /// The data dir the app uses, and the CLI on the same one.
    pub berth: Berth,
    pub client: Client,
    test: String,
    display: String,
    // Dropped in order: the app first, the display last.
    _driver: Group,
    _tray: Option<Group>,
    _dbus: Group,
    _xvfb: Group,
    _home: tempfile::TempDir,
}

impl DesktopApp {
    /// Starts the app for the test `test` (names its screenshots).
    pub async fn launch(test: &str) -> DesktopApp {
        Self::launch_with(test, Theme::Light).await
    }

    pub async fn launch_with(test: &str, theme: Theme) -> DesktopApp {
        Self::start(test, theme, Berth::new(), true).await
    }

    /// Starts the app with no secrets backend chosen (no `BERTH_SECRETS`): it finds no keychain
    /// service on its own D-Bus session and offers the file fallback, as on a fresh desktop.
    pub async fn launch_without_a_keychain(test: &str) -> DesktopApp {
        Self::start_as(test, Theme::Light, Berth::new(), true, false).await
    }

    /// Starts the app again on the data dir of an earlier run ([`DesktopApp::quit_keeping_data`]).
    pub async fn launch_on(test: &str, berth: Berth) -> DesktopApp {
        Self::start(test, Theme::Light, berth, true).await
    }

    /// Starts the app with WebKit set up as it ships (no accelerated compositing): for the
    /// benchmark, and the test of what it loads. WebDriver's screenshots hang in this mode on
    /// Xvfb, so none can be taken.
    pub async fn launch_as_shipped(test: &str) -> DesktopApp {
        Self::start(test, Theme::Light, Berth::new(), false).await
    }

    async fn start(test: &str, theme: Theme, berth: Berth, screenshots: bool) -> DesktopApp {
        Self::start_as(test, theme, berth, screenshots, true).await
    }

    async fn start_as(
        test: &str,
        theme: Theme,
        berth: Berth,
        screenshots: bool,
        file_secrets: bool,
    ) -> DesktopApp {
        let home = tempfile::Builder::new()
            .prefix("berth-desktop-")
            .tempdir()
            .unwrap();
        let dir = |name: &str| {
            let p = home.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let (config, data, cache, runtime) =
            (dir("config"), dir("share"), dir("cache"), dir("run"));
        set_mode_700(&runtime);

        // Xvfb picks a free display and tells us which (-displayfd 1: on its stdout).
        let mut xvfb = Group::spawn(
            "Xvfb",
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut line = String::new();
        BufReader::new(xvfb.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb did not report a display");

        let bus = home.path().join("bus");
        let bus_address = format!("unix:path={}", bus.display());
        let dbus = Group::spawn(
            "dbus-daemon",
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={bus_address}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_until("the D-Bus session bus", || bus.exists());

        // A tray host (XEmbed), when installed, so the tray icon and its menu can be seen.
        let tray = which("trayer").map(|trayer| {
            Group::spawn(
                "trayer",
                Command::new(trayer)
                    .args([
                        "--edge",
                        "top",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                    ])
                    .args(["--height", "28", "--transparent", "true", "--alpha", "0"])
                    .env("DISPLAY", &display)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )
        });

        let (port, native_port) = (free_port(), free_port());
        let log = std::fs::File::create(home.path().join("driver.log")).unwrap();
        let mut driver = Command::new(tauri_driver());
        driver
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
            .env("BERTH_DATA_DIR", berth.data.path())
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("GDK_BACKEND", "x11")
            .env(
                "GTK_THEME",
                match theme {
                    Theme::Light => "Adwaita",
                    Theme::Dark => "Adwaita:dark",
                },
            )
            .env("NO_AT_BRIDGE", "1")
            // The app's log (its notifications among it) goes to driver.log: `app_log`.
            // (`BERTH_TEST_APP_LOG` overrides the filter, e.g. `debug,tao=warn,wry=warn`.)
            .env(
                "BERTH_LOG",
                std::env::var("BERTH_TEST_APP_LOG")
                    .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
            )
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if file_secrets {
            driver.env("BERTH_SECRETS", "file");
        } else {
            driver.env_remove("BERTH_SECRETS");
        }
        if screenshots {
            // The app turns WebKit's accelerated compositing off on Linux; WebKitWebDriver's
            // screenshots hang without it (on Xvfb), so the tests keep it on.
            driver.env("WEBKIT_DISABLE_COMPOSITING_MODE", "0");
        }
        let driver = Group::spawn("tauri-driver", &mut driver);
        // tauri-driver starts WebKitWebDriver on the native port; both must listen before a
        // session can be asked for (on a busy machine WebKitWebDriver takes a while).
        wait_until("tauri-driver", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        wait_until("WebKitWebDriver", || {
            std::net::TcpStream::connect(("127.0.0.1", native_port)).is_ok()
        });

        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": desktop_bin() }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                let log =
                    std::fs::read_to_string(home.path().join("driver.log")).unwrap_or_default();
                panic!(
                    "cannot start the app through tauri-driver: {e}\n--- tauri-driver log\n{log}"
                )
            });

        DesktopApp {
            berth,
            client,
            test: test.to_owned(),
            display,
            _driver: driver,
            _tray: tray,
            _dbus: dbus,
            _xvfb: xvfb,
            _home: home,
        }
    }

    /// The first element matching `css`, once it is there.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("`{css}` never appeared: {e}"))
    }

    /// Waits until the element matching `css` contains `text`; returns its whole text.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> String {
        self.wait_for_text_within(css, text, UI_TIMEOUT).await
    }

    /// [`Self::wait_for_text`] with its own limit (a deploy pulls and starts an image, and
    /// takes longer on a busy machine than the window takes to answer).
    pub async fn wait_for_text_within(&self, css: &str, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = el.text().await
            {
                if t.contains(text) {
                    return t;
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never showed {text:?}; last text: {last:?}")
    }

    /// Clicks `css` after dismissing the toasts (they sit over the bottom right of the page)
    /// and scrolling it to the middle of the view.
    #[allow(dead_code)]
    pub async fn click_clear(&self, css: &str) {
        self.client
            .execute(
                "document.querySelectorAll('[data-testid=toast] .icon-button').forEach(b => b.click())",
                vec![],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let el = self.wait_for(css).await;
        self.client
            .execute(
                "arguments[0].scrollIntoView({ block: 'center' })",
                vec![serde_json::to_value(&el).unwrap()],
            )
            .await
            .unwrap();
        if let Err(e) = el.click().await {
            self.screenshot("click-failed").await;
            panic!("cannot click `{css}`: {e:?}");
        }
    }

    /// Replaces the value of the input matching `css` with `text`, as typed (real key
    /// presses, so the page gets its `input` events; an empty `text` types and erases a space).
    #[allow(dead_code)] // not every test binary fills forms
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("cannot clear `{css}`: {e}"));
        let keys = if text.is_empty() { " \u{E003}" } else { text };
        el.send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// Chooses the option with `value` in the `<select>` matching `css`.
    #[allow(dead_code)]
    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("cannot choose {value:?} in `{css}`: {e}"));
    }

    /// What the app (and tauri-driver) printed so far, with `BERTH_LOG=info`: among it one
    /// `notification: …` line per OS notification sent.
    #[allow(dead_code)]
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self._home.path().join("driver.log")).unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Calls a shell command the way the UI does and returns what it resolved or rejected
    /// with, as `{"ok": …}` or `{"err": …}`.
    pub async fn invoke(&self, cmd: &str, args: serde_json::Value) -> serde_json::Value {
        let script = "const [cmd, args] = arguments; \
             return window.__TAURI__.core.invoke(cmd, args) \
               .then(ok => ({ ok: ok === undefined ? null : ok }), err => ({ err }));";
        self.client
            .execute(script, vec![cmd.into(), args])
            .await
            .unwrap_or_else(|e| panic!("invoke {cmd}: {e}"))
    }

    /// Saves the window (WebDriver) and the whole X screen (window frame, tray) as
    /// `target/screenshots/<test>-<name>.png` and `…-<name>-screen.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        // A hung WebDriver call must fail the test, not hang the run.
        let window = tokio::time::timeout(UI_TIMEOUT, self.client.screenshot())
            .await
            .unwrap_or_else(|_| panic!("WebDriver's screenshot `{name}` did not return"))
            .unwrap();
        std::fs::write(dir.join(format!("{}-{name}.png", self.test)), window).unwrap();
        let screen = dir.join(format!("{}-{name}-screen.png", self.test));
        let status = Command::new("import")
            .args(["-window", "root"])
            .arg(&screen)
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "import -window root failed");
    }

    /// Opens the tray icon's menu, saves the screen as `…-<name>-screen.png`, closes the menu.
    /// Returns false (and saves nothing) when no tray host runs.
    pub async fn screenshot_tray_menu(&self, name: &str) -> bool {
        let Some((x, y)) = self.tray_icon_position() else {
            return false;
        };
        self.xdotool(&["mousemove", &x.to_string(), &y.to_string(), "click", "1"]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Hover "Recent deploys" (the menu's second row, below-left of the icon) to open it.
        let (rx, ry) = (x - 100, y + 54);
        self.xdotool(&["mousemove", &rx.to_string(), &ry.to_string()]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let dir = target_dir().join("screenshots");
        let screen = dir.join(format!("{}-{name}-screen.png", self.test));
        let ok = Command::new("import")
            .args(["-window", "root"])
            .arg(&screen)
            .env("DISPLAY", &self.display)
            .status()
            .is_ok_and(|s| s.success());
        self.xdotool(&["key", "Escape"]);
        ok
    }

    /// Chooses "Open Berth" (the first row) in the tray icon's menu. Returns false when no
    /// tray host runs.
    pub async fn open_from_tray(&self) -> bool {
        let Some((x, y)) = self.tray_icon_position() else {
            return false;
        };
        self.xdotool(&["mousemove", &x.to_string(), &y.to_string(), "click", "1"]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        self.xdotool(&["key", "Down", "Return"]);
        true
    }

    /// Whether a visible top-level window is titled `title`.
    pub fn window_titled(&self, title: &str) -> bool {
        !self
            .xdotool(&["search", "--onlyvisible", "--name", &format!("^{title}$")])
            .trim()
            .is_empty()
    }

    /// The centre of the tray host's widest window (where the icon sits).
    fn tray_icon_position(&self) -> Option<(i32, i32)> {
        let ids = self.xdotool(&["search", "--class", "trayer"]);
        ids.split_whitespace()
            .filter_map(|id| {
                let out = self.xdotool(&["getwindowgeometry", "--shell", id]);
                let field = |k: &str| -> Option<i32> {
                    out.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .and_then(|v| v.parse().ok())
                };
                Some((
                    field("X=")?,
                    field("Y=")?,
                    field("WIDTH=")?,
                    field("HEIGHT=")?,
                ))
            })
            .filter(|&(_, _, w, h)| w > 16 && h > 16)
            .max_by_key(|&(_, _, w, _)| w)
            .map(|(x, y, w, h)| (x + w / 2, y + h / 2))
    }

    fn xdotool(&self, args: &[&str]) -> String {
        Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The `berth-desktop` process tauri-driver (through WebKitWebDriver) started.
    pub fn app_pid(&self) -> Option<u32> {
        descendants(self._driver.child.id(), false)
            .into_iter()
            .find(|&pid| comm(pid) == "berth-desktop")
    }

    /// The app's processes: `berth-desktop` and every process below it (WebKit's).
    pub fn app_processes(&self) -> Vec<u32> {
        self.app_pid()
            .map(|root| descendants(root, true))
            .unwrap_or_default()
    }

    /// The command names of the app's processes.
    pub fn app_process_names(&self) -> Vec<String> {
        self.app_processes().into_iter().map(comm).collect()
    }

    /// Whether WebKit's web (page) process of the window runs.
    pub fn has_web_process(&self) -> bool {
        self.app_process_names()
            .iter()
            .any(|c| c == "WebKitWebProces")
    }

    /// Presses Ctrl+W in the window. The window closes while WebDriver waits for its answer,
    /// so the answer is an error and is ignored.
    pub async fn close_window(&self) {
        if let Ok(body) = self.client.find(Locator::Css("body")).await {
            let _ = body.send_keys("\u{E009}w\u{E000}").await;
        }
    }

    /// Ends the WebDriver session; dropping the value then stops everything else.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }

    /// Quits, and hands back the data dir (to launch again on it).
    pub async fn quit_keeping_data(self) -> Berth {
        let DesktopApp { berth, client, .. } = self;
        let _ = client.close().await;
        berth
    }
}

/// `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn set_mode_700(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// A process's command name (at most 15 characters: `WebKitWebProces`).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Every process below `root` (and `root` itself when `include_root`).
fn descendants(root: u32, include_root: bool) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    if include_root {
        out.push(root);
    }
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            out.push(c);
            stack.push(c);
        }
    }
    out
}

/// `/proc/PID/stat` after the command name: field 0 is the state, 1 the parent, 19 the start
/// time in clock ticks since boot.
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}
