//! Create or edit an app: a dialog over the current page. What the user typed is turned into
//! an [`AppDraft`] by plain functions (tested natively below); the backend validates it again.

use std::collections::HashMap;

use berth_model::app::InvalidApp;
use berth_model::size::format_memory;
use berth_model::{
    App, AppDraft, EnvVar, ErrorDto, Server, Volume, parse_cpus, parse_memory, validate_app_name,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::app::{Page, use_nav};
use crate::toast::use_toasts;
use crate::widgets::{DialogError, Field, Modal};

/// The app form. `existing` is the app being edited, or `None` to create one; `on_done`
/// gets the saved app, or `None` when the user closed the dialog without saving. After a
/// create, the window goes to the new app's page.
#[component]
pub fn AppFormDialog(existing: Option<App>, on_done: Callback<Option<App>>) -> impl IntoView {
    let toasts = use_toasts();
    let nav = use_nav();
    let creating = existing.is_none();
    let title = match &existing {
        Some(app) => format!("Edit {}", app.name),
        None => "New app".to_owned(),
    };
    let f = FormSignals::new(existing.as_ref().map(AppForm::from_app).unwrap_or_default());
    let existing = StoredValue::new(existing);
    let errors = RwSignal::new(AppFormErrors::default());
    let error = RwSignal::new(None::<ErrorDto>);
    let busy = RwSignal::new(false);

    // The servers to choose from; with only one, it is chosen already.
    let servers = RwSignal::new(None::<Result<Vec<Server>, ErrorDto>>);
    spawn_local(async move {
        let answer = api::servers().await;
        if let Ok([only]) = answer.as_deref()
            && f.server.get_untracked().is_empty()
        {
            f.server.set(only.name.clone());
        }
        servers.set(Some(answer));
    });

    let save = move || {
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let draft = match app_draft(&f.get(), existing.get_value().as_ref()) {
            Ok(d) => {
                errors.set(AppFormErrors::default());
                d
            }
            Err(e) => {
                errors.set(*e);
                return;
            }
        };
        busy.set(true);
        spawn_local(async move {
            let answer = if creating {
                api::app_create(&draft).await
            } else {
                api::app_update(&draft).await
            };
            busy.set(false);
            match answer {
                Ok(app) => {
                    if creating {
                        toasts.ok(format!(
                            "App {} created — deploy it from its page",
                            app.name
                        ));
                    } else {
                        toasts.ok(format!(
                            "Settings of {} saved — pending until applied (the app page shows what changes)",
                            app.name
                        ));
                    }
                    let name = app.name.clone();
                    on_done.run(Some(app));
                    if creating {
                        nav.go(Page::App(name));
                    }
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let browse = move |_| {
        spawn_local(async move {
            match api::pick_folder("Choose the app's git repository").await {
                Ok(Some(path)) => f.git.set(path),
                Ok(None) => {}
                Err(e) => toasts.error(&e),
            }
        })
    };
    let close = Callback::new(move |()| {
        if !busy.get_untracked() {
            on_done.run(None);
        }
    });
    let err = move |field: fn(&AppFormErrors) -> &Option<String>| {
        Signal::derive(move || field(&errors.get()).clone())
    };

    let server_select = move || {
        let chosen = f.server;
        match servers.get() {
            None => view! {
                <select data-testid="app-server" disabled=true>
                    <option>"Loading…"</option>
                </select>
            }
            .into_any(),
            Some(Err(e)) => view! {
                <select data-testid="app-server" disabled=true>
                    <option>{format!("Cannot list servers: {}", e.message)}</option>
                </select>
            }
            .into_any(),
            Some(Ok(list)) => {
                let none_yet = list.is_empty();
                view! {
                    <select
                        data-testid="app-server"
                        disabled=!creating || none_yet
                        on:change=move |ev| chosen.set(event_target_value(&ev))
                    >
                        <option value="" disabled=true prop:selected=move || chosen.get().is_empty()>
                            {if none_yet { "No servers yet: add one first" } else { "Choose a server" }}
                        </option>
                        {list
                            .into_iter()
                            .map(|s| {
                                let value = s.name.clone();
                                let selected = s.name.clone();
                                view! {
                                    <option value=value prop:selected=move || chosen.get() == selected>
                                        {s.name.clone()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                }
                .into_any()
            }
        }
    };

    let footer = move || {
        view! {
            <button class="button" type="button" disabled=move || busy.get() on:click=move |_| close.run(())>
                "Cancel"
            </button>
            <button
                class="button primary"
                type="submit"
                form="app-form-fields"
                data-testid="app-save"
                disabled=move || busy.get()
            >
                {move || match (busy.get(), creating) {
                    (true, true) => "Creating…",
                    (true, false) => "Saving…",
                    (false, true) => "Create app",
                    (false, false) => "Save",
                }}
            </button>
        }
        .into_any()
    };

    view! {
        <Modal title testid="app-form" wide=true on_close=close footer=Box::new(footer)>
            <form
                id="app-form-fields"
                class="form-grid"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save();
                }
            >
                <Field
                    label="Name"
                    hint=if creating { "Lowercase letters, digits and -" } else { "The name cannot change" }
                    error=err(|e| &e.name)
                >
                    <input
                        data-testid="app-name"
                        placeholder="hello"
                        autocomplete="off"
                        spellcheck="false"
                        disabled=!creating
                        prop:value=move || f.name.get()
                        on:input=move |ev| f.name.set(event_target_value(&ev))
                    />
                </Field>
                <Field
                    label="Server"
                    hint=if creating { "Where it is built and runs" } else { "Moving an app to another server is not supported" }
                    error=err(|e| &e.server)
                >
                    {server_select}
                </Field>
                <div class="field span-2">
                    <span class="field-label">"Git source"</span>
                    <div class="input-row">
                        <input
                            data-testid="app-git"
                            aria-label="Git source"
                            placeholder="/home/me/src/hello or https://github.com/me/hello.git"
                            spellcheck="false"
                            prop:value=move || f.git.get()
                            on:input=move |ev| f.git.set(event_target_value(&ev))
                        />
                        <button class="button" type="button" data-testid="app-git-browse" on:click=browse>
                            "Browse…"
                        </button>
                    </div>
                    <span class="field-hint">"A repository on this computer, or a URL git can clone"</span>
                    {move || err(|e| &e.git).get().map(|e| view! { <span class="field-error">{e}</span> })}
                </div>
                <div class="span-2">
                    {text_field("Image", "app-image", "registry.example.com/team/app:1.0", Some("Or run an image instead of building git: it is pulled on the server, and an empty port or health path is read from it"), f.image, err(|e| &e.image))}
                </div>
                {text_field("Branch", "app-branch", "main", None, f.branch, err(|e| &e.branch))}
                {text_field("Dockerfile", "app-dockerfile", "auto-detect", Some("Empty: ./Dockerfile, or a detected runtime"), f.dockerfile, err(|e| &e.dockerfile))}
                {text_field("Container port", "app-port", "8080", Some("The port the app listens on inside its container"), f.port, err(|e| &e.port))}
                {text_field("Health check path", "app-health", "/", Some("Must answer 2xx or 3xx before traffic switches"), f.health, err(|e| &e.health))}
                <div class="span-2">
                    {text_field("Release command", "app-release", "none", Some("Run before each switch in a new container from the new image, e.g. bin/migrate; if it fails, the deploy fails and the old version serves on"), f.release_command, err(|e| &e.release_command))}
                </div>
                <div class="span-2">
                    {text_field("Start command", "app-start", "the Procfile's web line, or detected", Some("How the app starts, instead of the Procfile's web line, what Berth detects, or the image's CMD"), f.start_command, err(|e| &e.start_command))}
                </div>
                <div class="span-2">
                    <label class="check">
                        <input
                            type="checkbox"
                            data-testid="app-read-only-dir"
                            prop:checked=move || f.read_only_app_dir.get()
                            on:change=move |ev| f.read_only_app_dir.set(event_target_checked(&ev))
                        />
                        " Keep the app's folder read-only (owned by root, not by the user the app runs as)"
                    </label>
                </div>
                {text_field("CPUs", "app-cpus", "no limit", Some("For example 0.5 or 2"), f.cpus, err(|e| &e.cpus))}
                {text_field("Memory", "app-memory", "no limit", Some("For example 256m or 1g"), f.memory, err(|e| &e.memory))}
                <div class="span-2">
                    <Field
                        label="Volumes"
                        hint="One per line: a volume name or an absolute server path, then the path in the container (add :ro for read-only)"
                        error=err(|e| &e.volumes)
                    >
                        <textarea
                            data-testid="app-volumes"
                            rows=2
                            spellcheck="false"
                            placeholder="data:/var/lib/app\n/srv/uploads:/uploads:ro"
                            prop:value=move || f.volumes.get()
                            on:input=move |ev| f.volumes.set(event_target_value(&ev))
                        ></textarea>
                    </Field>
                </div>
                {creating
                    .then(|| {
                        view! {
                            <div class="span-2">
                                <Field
                                    label="Environment"
                                    hint="KEY=VALUE, one per line. Secret values (tokens, passwords) are set on the app's page, where they go to the keychain."
                                    error=err(|e| &e.env)
                                >
                                    <textarea
                                        data-testid="app-env"
                                        rows=3
                                        spellcheck="false"
                                        placeholder="RUST_LOG=info\nPUBLIC_URL=https://hello.example.com"
                                        prop:value=move || f.env.get()
                                        on:input=move |ev| f.env.set(event_target_value(&ev))
                                    ></textarea>
                                </Field>
                            </div>
                        }
                    })}
            </form>
            <DialogError error />
        </Modal>
    }
}

/// A one-line text field bound to `value`.
fn text_field(
    label: &'static str,
    testid: &'static str,
    placeholder: &'static str,
    hint: Option<&'static str>,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let input = view! {
        <input
            data-testid=testid
            placeholder=placeholder
            autocomplete="off"
            spellcheck="false"
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    };
    match hint {
        Some(hint) => view! { <Field label hint error>{input}</Field> }.into_any(),
        None => view! { <Field label error>{input}</Field> }.into_any(),
    }
}

/// One signal per field of the form.
#[derive(Clone, Copy)]
struct FormSignals {
    name: RwSignal<String>,
    server: RwSignal<String>,
    git: RwSignal<String>,
    image: RwSignal<String>,
    branch: RwSignal<String>,
    dockerfile: RwSignal<String>,
    port: RwSignal<String>,
    health: RwSignal<String>,
    cpus: RwSignal<String>,
    memory: RwSignal<String>,
    volumes: RwSignal<String>,
    env: RwSignal<String>,
    release_command: RwSignal<String>,
    start_command: RwSignal<String>,
    read_only_app_dir: RwSignal<bool>,
}

impl FormSignals {
    fn new(f: AppForm) -> FormSignals {
        FormSignals {
            name: RwSignal::new(f.name),
            server: RwSignal::new(f.server),
            git: RwSignal::new(f.git),
            image: RwSignal::new(f.image),
            branch: RwSignal::new(f.branch),
            dockerfile: RwSignal::new(f.dockerfile),
            port: RwSignal::new(f.port),
            health: RwSignal::new(f.health),
            cpus: RwSignal::new(f.cpus),
            memory: RwSignal::new(f.memory),
            volumes: RwSignal::new(f.volumes),
            env: RwSignal::new(f.env),
            release_command: RwSignal::new(f.release_command),
            start_command: RwSignal::new(f.start_command),
            read_only_app_dir: RwSignal::new(f.read_only_app_dir),
        }
    }

    fn get(&self) -> AppForm {
        AppForm {
            name: self.name.get_untracked(),
            server: self.server.get_untracked(),
            git: self.git.get_untracked(),
            image: self.image.get_untracked(),
            branch: self.branch.get_untracked(),
            dockerfile: self.dockerfile.get_untracked(),
            port: self.port.get_untracked(),
            health: self.health.get_untracked(),
            cpus: self.cpus.get_untracked(),
            memory: self.memory.get_untracked(),
            volumes: self.volumes.get_untracked(),
            env: self.env.get_untracked(),
            release_command: self.release_command.get_untracked(),
            start_command: self.start_command.get_untracked(),
            read_only_app_dir: self.read_only_app_dir.get_untracked(),
        }
    }
}

// --- the form as data ---

/// The app form as typed: every field is text, empty means "the default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppForm {
    pub name: String,
    pub server: String,
    pub git: String,
    /// An image to run instead of building git (`registry/repository:tag`).
    pub image: String,
    pub branch: String,
    pub dockerfile: String,
    pub port: String,
    pub health: String,
    pub cpus: String,
    pub memory: String,
    /// `SRC:DST[:ro]`, one per line.
    pub volumes: String,
    /// `KEY=VALUE`, one per line (creating only).
    pub env: String,
    /// A shell command run before each switch (empty: none).
    pub release_command: String,
    /// How the app starts (empty: the Procfile's web line, or what detection finds).
    pub start_command: String,
    /// The app's folder stays root's.
    pub read_only_app_dir: bool,
}

impl AppForm {
    /// The form showing `app` as it is, for editing.
    pub fn from_app(app: &App) -> AppForm {
        AppForm {
            name: app.name.clone(),
            server: app.server.clone(),
            git: app.git.clone(),
            image: app.image.clone().unwrap_or_default(),
            branch: app.branch.clone(),
            dockerfile: app.dockerfile.clone().unwrap_or_default(),
            port: app.port.to_string(),
            health: app.health.path.clone(),
            cpus: app.limits.cpus.map(|c| c.to_string()).unwrap_or_default(),
            memory: app
                .limits
                .memory_bytes
                .map(format_memory)
                .unwrap_or_default(),
            volumes: app
                .volumes
                .iter()
                .map(Volume::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            env: String::new(),
            release_command: app.release_command.clone().unwrap_or_default(),
            start_command: app.start_command.clone().unwrap_or_default(),
            read_only_app_dir: app.read_only_app_dir,
        }
    }
}

/// Fields of [`AppForm`] that cannot be accepted, with why; `other` is for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFormErrors {
    pub name: Option<String>,
    pub server: Option<String>,
    pub git: Option<String>,
    pub image: Option<String>,
    pub branch: Option<String>,
    pub dockerfile: Option<String>,
    pub port: Option<String>,
    pub health: Option<String>,
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub volumes: Option<String>,
    pub env: Option<String>,
    pub release_command: Option<String>,
    pub start_command: Option<String>,
    pub other: Option<String>,
}

/// A port as typed: empty is the default, otherwise 1–65535.
pub fn parse_port(input: &str) -> Result<Option<u16>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .map(Some)
        .ok_or_else(|| format!("port `{s}` must be a number between 1 and 65535"))
}

/// A memory limit as typed (`256m`, `1g`): empty is no limit.
pub fn parse_memory_limit(input: &str) -> Result<Option<u64>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    parse_memory(s).map(Some)
}

/// A CPU limit as typed (`0.5`, `2`): empty is no limit.
pub fn parse_cpu_limit(input: &str) -> Result<Option<f64>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    parse_cpus(s).map(Some)
}

/// The lines of a textarea that say something, with their line numbers (from 1).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Volumes, one `SRC:DST[:ro]` per line; blank lines and `#` comments are skipped.
pub fn parse_volumes(text: &str) -> Result<Vec<Volume>, String> {
    let mut volumes: Vec<Volume> = Vec::new();
    for (n, line) in lines(text) {
        let v = Volume::parse(line).map_err(|e| format!("line {n}: {e}"))?;
        if volumes.iter().any(|o| o.target == v.target) {
            return Err(format!(
                "line {n}: {} is mounted twice in the container",
                v.target
            ));
        }
        volumes.push(v);
    }
    Ok(volumes)
}

/// Environment variables, one `KEY=VALUE` per line; blank lines and `#` comments are
/// skipped. A value keeps its spaces after the `=`, only the line's ends are trimmed.
pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, line) in lines(text) {
        let (k, v) = EnvVar::parse_pair(line).map_err(|e| format!("line {n}: {e}"))?;
        if let Some(first) = seen.insert(k.clone(), n) {
            return Err(format!("{k} is set twice (lines {first} and {n})"));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// The value of a parsed field, or `None` with its error put in `slot`.
fn take<T>(slot: &mut Option<String>, parsed: Result<Option<T>, String>) -> Option<T> {
    parsed.unwrap_or_else(|e| {
        *slot = Some(e);
        None
    })
}

/// Turns the form into the draft `app_create`/`app_update` take. When editing, what the form
/// does not show (base images, timings) is carried over from `existing`, and the name and
/// server are the app's own.
pub fn app_draft(form: &AppForm, existing: Option<&App>) -> Result<AppDraft, Box<AppFormErrors>> {
    let mut errors = AppFormErrors::default();
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let (name, server) = match existing {
        Some(app) => (app.name.clone(), app.server.clone()),
        None => (form.name.trim().to_owned(), form.server.trim().to_owned()),
    };
    if existing.is_none() {
        errors.name = validate_app_name(&name).err().map(|e| e.to_string());
        if server.is_empty() {
            errors.server = Some("choose the server it runs on".to_owned());
        }
    }
    let port = take(&mut errors.port, parse_port(&form.port));
    let cpus = take(&mut errors.cpus, parse_cpu_limit(&form.cpus));
    let memory_bytes = take(&mut errors.memory, parse_memory_limit(&form.memory));
    let volumes = take(&mut errors.volumes, parse_volumes(&form.volumes).map(Some));
    let env = if existing.is_none() {
        take(&mut errors.env, parse_env(&form.env).map(Some))
    } else {
        None
    };
    let mut draft = AppDraft {
        name,
        server,
        git: form.git.trim().to_owned(),
        image: optional(&form.image),
        branch: optional(&form.branch),
        dockerfile: optional(&form.dockerfile),
        port,
        health_path: optional(&form.health),
        cpus,
        memory_bytes,
        volumes: volumes.unwrap_or_default(),
        env: env.unwrap_or_default(),
        // Editing, an empty field removes it; creating, it is simply not set.
        release_command: if existing.is_some() {
            Some(form.release_command.trim().to_owned())
        } else {
            optional(&form.release_command)
        },
        start_command: if existing.is_some() {
            Some(form.start_command.trim().to_owned())
        } else {
            optional(&form.start_command)
        },
        read_only_app_dir: if existing.is_some() {
            Some(form.read_only_app_dir)
        } else {
            form.read_only_app_dir.then_some(true)
        },
        ..AppDraft::default()
    };
    if let Some(app) = existing {
        draft.base_images = app.base_images.clone();
    }
    if draft.git.is_empty() && draft.image.is_none() {
        errors.git = Some(
            "give a path to a repository on this computer, or a URL (or an image below)".to_owned(),
        );
    }
    // The model's own checks, for what is left (branch, Dockerfile, health path).
    if errors == AppFormErrors::default()
        && let Err(e) = draft.validate(0)
    {
        let message = Some(e.to_string());
        match e {
            InvalidApp::Name(_) => errors.name = message,
            InvalidApp::NoGit | InvalidApp::GitAndImage => errors.git = message,
            InvalidApp::Image(_) => errors.image = message,
            InvalidApp::HealthPath(_) => errors.health = message,
            InvalidApp::Port => errors.port = message,
            InvalidApp::Branch(_) => errors.branch = message,
            InvalidApp::Dockerfile(_) => errors.dockerfile = message,
            InvalidApp::ReleaseCommand(_) => errors.release_command = message,
            InvalidApp::StartCommand(_) => errors.start_command = message,
            _ => errors.other = message,
        }
    }
    if errors == AppFormErrors::default() {
        Ok(draft)
    } else {
        Err(Box::new(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> AppForm {
        AppForm {
            name: " hello ".into(),
            server: "prod".into(),
            git: " /src/hello ".into(),
            ..AppForm::default()
        }
    }

    #[test]
    fn a_minimal_form_leaves_defaults_to_the_backend() {
        let d = app_draft(&form(), None).unwrap();
        assert_eq!(
            d,
            AppDraft {
                name: "hello".into(),
                server: "prod".into(),
                git: "/src/hello".into(),
                ..AppDraft::default()
            }
        );
    }

    #[test]
    fn every_field_reaches_the_draft() {
        let f = AppForm {
            branch: "release".into(),
            dockerfile: "deploy/Dockerfile".into(),
            port: "3000".into(),
            health: "/healthz".into(),
            cpus: "0.5".into(),
            memory: "256m".into(),
            volumes: "data:/var/lib/app\n\n# uploads\n/srv/up:/up:ro\n".into(),
            env: "RUST_LOG=info\nGREETING= hi there \n".into(),
            ..form()
        };
        let d = app_draft(&f, None).unwrap();
        assert_eq!(d.branch.as_deref(), Some("release"));
        assert_eq!(d.dockerfile.as_deref(), Some("deploy/Dockerfile"));
        assert_eq!(d.port, Some(3000));
        assert_eq!(d.health_path.as_deref(), Some("/healthz"));
        assert_eq!(d.cpus, Some(0.5));
        assert_eq!(d.memory_bytes, Some(256 << 20));
        let vols: Vec<String> = d.volumes.iter().map(Volume::to_string).collect();
        assert_eq!(vols, ["data:/var/lib/app", "/srv/up:/up:ro"]);
        assert_eq!(
            d.env,
            [
                ("RUST_LOG".to_owned(), "info".to_owned()),
                ("GREETING".to_owned(), " hi there".to_owned())
            ]
        );
    }

    #[test]
    fn bad_fields_are_named_each_in_its_place() {
        let f = AppForm {
            name: "my app".into(),
            server: String::new(),
            git: "  ".into(),
            port: "http".into(),
            cpus: "0".into(),
            memory: "lots".into(),
            volumes: "data".into(),
            env: "1X=y".into(),
            ..AppForm::default()
        };
        let e = app_draft(&f, None).unwrap_err();
        assert!(e.name.unwrap().contains("`my app`"));
        assert_eq!(e.server.as_deref(), Some("choose the server it runs on"));
        assert!(e.git.is_some());
        assert_eq!(
            e.port.as_deref(),
            Some("port `http` must be a number between 1 and 65535")
        );
        assert!(e.cpus.unwrap().contains("greater than 0"));
        assert!(e.memory.unwrap().contains("256m or 1g"));
        assert!(e.volumes.unwrap().starts_with("line 1: "));
        assert!(e.env.unwrap().starts_with("line 1: env key `1X`"));
    }

    #[test]
    fn the_model_checks_the_rest() {
        let f = AppForm {
            health: "healthz".into(),
            ..form()
        };
        assert_eq!(
            app_draft(&f, None).unwrap_err().health.as_deref(),
            Some("health path `healthz` must start with `/`")
        );
        let f = AppForm {
            branch: "a b".into(),
            ..form()
        };
        assert!(app_draft(&f, None).unwrap_err().branch.is_some());
        let f = AppForm {
            dockerfile: "../Dockerfile".into(),
            ..form()
        };
        assert!(app_draft(&f, None).unwrap_err().dockerfile.is_some());
    }

    #[test]
    fn an_image_instead_of_git() {
        let f = AppForm {
            git: String::new(),
            image: " 127.0.0.1:5000/acme/web:1.0 ".into(),
            ..form()
        };
        let d = app_draft(&f, None).unwrap();
        assert_eq!(d.image.as_deref(), Some("127.0.0.1:5000/acme/web:1.0"));
        assert_eq!(d.port, None, "left to what the image says");
        let both = AppForm {
            image: "acme/web".into(),
            ..form()
        };
        assert!(
            app_draft(&both, None)
                .unwrap_err()
                .git
                .unwrap()
                .contains("not both")
        );
        let bad = AppForm {
            image: "Acme/Web".into(),
            ..f
        };
        assert!(
            app_draft(&bad, None)
                .unwrap_err()
                .image
                .unwrap()
                .contains("lowercase")
        );
    }

    #[test]
    fn sizes_ports_and_lines() {
        assert_eq!(parse_port(""), Ok(None));
        assert_eq!(parse_port(" 80 "), Ok(Some(80)));
        assert!(parse_port("0").is_err());
        assert!(parse_port("70000").is_err());
        assert_eq!(parse_memory_limit(" "), Ok(None));
        assert_eq!(parse_memory_limit("1g"), Ok(Some(1 << 30)));
        assert_eq!(parse_memory_limit("512MiB"), Ok(Some(512 << 20)));
        assert!(parse_memory_limit("1m").is_err());
        assert_eq!(parse_cpu_limit(""), Ok(None));
        assert_eq!(parse_cpu_limit("2"), Ok(Some(2.0)));
        assert!(parse_volumes("a:/x\nb:/x").unwrap_err().contains("twice"));
        assert_eq!(
            parse_env("A=1\nB=2\nA=3").unwrap_err(),
            "A is set twice (lines 1 and 3)"
        );
        assert_eq!(
            parse_env("URL=https://x/?a=b").unwrap(),
            [("URL".to_owned(), "https://x/?a=b".to_owned())]
        );
    }

    #[test]
    fn the_start_command_and_the_folder_setting_are_shown_and_changed() {
        let mut app = app_draft(&form(), None).unwrap().validate(0).unwrap();
        app.start_command = Some("bin/serve".into());
        app.read_only_app_dir = true;
        let f = AppForm::from_app(&app);
        assert_eq!(f.start_command, "bin/serve");
        assert!(f.read_only_app_dir);
        let d = app_draft(
            &AppForm {
                start_command: String::new(),
                read_only_app_dir: false,
                ..f.clone()
            },
            Some(&app),
        )
        .unwrap();
        let edited = d.validate(0).unwrap();
        assert_eq!(edited.start_command, None, "an emptied field removes it");
        assert!(!edited.read_only_app_dir);
        let e = app_draft(
            &AppForm {
                start_command: "a\nb".into(),
                ..f
            },
            Some(&app),
        )
        .unwrap_err();
        assert!(e.start_command.is_some_and(|m| m.contains("one line")));
    }

    #[test]
    fn the_release_command_is_shown_changed_and_cleared() {
        let mut app = app_draft(&form(), None).unwrap().validate(0).unwrap();
        assert_eq!(app.release_command, None);
        app.release_command = Some("bin/migrate".into());
        let f = AppForm::from_app(&app);
        assert_eq!(f.release_command, "bin/migrate");
        let cleared = AppForm {
            release_command: "  ".into(),
            ..f.clone()
        };
        let d = app_draft(&cleared, Some(&app)).unwrap();
        assert_eq!(d.validate(0).unwrap().release_command, None);
        let two_lines = AppForm {
            release_command: "a\nb".into(),
            ..f
        };
        let e = app_draft(&two_lines, Some(&app)).unwrap_err();
        assert!(e.release_command.is_some_and(|m| m.contains("one line")));
    }

    #[test]
    fn editing_shows_the_app_and_keeps_what_the_form_does_not_show() {
        let mut app = AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            port: Some(3000),
            cpus: Some(1.5),
            memory_bytes: Some(1 << 30),
            volumes: vec![Volume::parse("data:/data:ro").unwrap()],
            ..AppDraft::default()
        }
        .validate(7)
        .unwrap();
        app.base_images.run = Some("debian:bookworm-slim".into());
        let f = AppForm::from_app(&app);
        assert_eq!(
            (f.port.as_str(), f.cpus.as_str(), f.memory.as_str()),
            ("3000", "1.5", "1g")
        );
        assert_eq!(f.volumes, "data:/data:ro");
        assert_eq!(f.branch, "main");

        // The form's name and server cannot move the app; env is not part of an edit.
        let edited = AppForm {
            name: "renamed".into(),
            server: "other".into(),
            port: "4000".into(),
            env: "X=1".into(),
            ..f
        };
        let d = app_draft(&edited, Some(&app)).unwrap();
        assert_eq!((d.name.as_str(), d.server.as_str()), ("hello", "prod"));
        assert_eq!(d.port, Some(4000));
        assert!(d.env.is_empty());
        assert_eq!(d.base_images, app.base_images);
        let saved = d.validate(app.created_at).unwrap();
        assert_eq!(
            App {
                port: 3000,
                ..saved
            },
            app,
            "an unchanged form saves the app as it was"
        );
    }
}
