//! Typed wrappers over the shell's commands: one async function per `#[tauri::command]` in
//! `src-tauri/src/commands.rs`, same name, arguments sent with Tauri's camelCase keys.
//!
//! `invoke` is imported with `catch`, so a command's `Err` (the shell's `{code, message}`)
//! arrives here as a value: every wrapper returns `Result<T, ErrorDto>` and never throws.
//! A reply that is not an `ErrorDto` (the shell itself failed, or the page runs outside
//! Tauri) becomes one with code `shell`.

use berth_model::view::ImageInspection;
use berth_model::view::{
    About, AddServerRequest, AuditEntry, HostKeyInfo, Overview, ProxyInstallRequest,
    RelayInstallRequest, SecretsInfo, WebhookEnableRequest,
};
use berth_model::{
    Alert, App, AppDraft, AppStats, AppStatus, BackupRecord, BackupSchedule, BackupTarget,
    Delivery, Deployment, DomainStatus, DriftReport, EnvVar, ErrorDto, ImageTag, ImportedApp,
    MetricsEndpoint, NoticeEvent, Notifier, NotifierKind, NotifierSaved, NotifierTested,
    ProxyStatus, PruneReport, Registry, RegistryDraft, RelayStatus, Server, ServerCheck,
    ServerStats, ServiceDraft, ServiceInfo, ServiceLink, Stage, StageDraft, Verified, WebhookInfo,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `window.__TAURI__.core.invoke` (present because the shell sets `withGlobalTauri`).
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// The error code for failures of the shell itself rather than of a Berth operation.
pub const SHELL_ERROR: &str = "shell";

fn shell_error(message: String) -> ErrorDto {
    ErrorDto {
        code: SHELL_ERROR.to_owned(),
        message,
    }
}

/// Turns whatever `invoke` rejected with into an `ErrorDto`.
fn rejected(cmd: &str, e: JsValue) -> ErrorDto {
    if let Ok(dto) = serde_wasm_bindgen::from_value::<ErrorDto>(e.clone()) {
        return dto;
    }
    if let Some(s) = e.as_string() {
        return shell_error(format!("{cmd}: {s}"));
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return shell_error(format!("{cmd}: {}", String::from(err.message())));
    }
    shell_error(format!("{cmd}: {e:?}"))
}

async fn invoke_raw(cmd: &str, args: impl Serialize) -> Result<JsValue, ErrorDto> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let args = args
        .serialize(&serializer)
        .map_err(|e| shell_error(format!("{cmd}: cannot encode the arguments: {e}")))?;
    tauri_invoke(cmd, args).await.map_err(|e| rejected(cmd, e))
}

/// Calls `cmd` with `args` (an object keyed by camelCase argument names).
async fn call<T: DeserializeOwned>(cmd: &str, args: impl Serialize) -> Result<T, ErrorDto> {
    let reply = invoke_raw(cmd, args).await?;
    serde_wasm_bindgen::from_value(reply)
        .map_err(|e| shell_error(format!("{cmd}: unexpected reply: {e}")))
}

/// Calls a command that returns nothing.
async fn call_unit(cmd: &str, args: impl Serialize) -> Result<(), ErrorDto> {
    invoke_raw(cmd, args).await.map(drop)
}

fn none() -> serde_json::Value {
    json!({})
}

// --- overview and servers ---

pub async fn overview() -> Result<Overview, ErrorDto> {
    call("overview", none()).await
}

pub async fn servers() -> Result<Vec<Server>, ErrorDto> {
    call("servers", none()).await
}

pub async fn server_check(name: &str) -> Result<ServerCheck, ErrorDto> {
    call("server_check", json!({ "name": name })).await
}

/// The host key the server presents, for the confirmation dialog before [`server_add`].
pub async fn host_key(req: &AddServerRequest) -> Result<HostKeyInfo, ErrorDto> {
    call("host_key", json!({ "req": req })).await
}

/// Adds a server; a new host key is trusted only if it is `req.trusted_fingerprint`.
pub async fn server_add(req: &AddServerRequest) -> Result<ServerCheck, ErrorDto> {
    call("server_add", json!({ "req": req })).await
}

/// Changes how Berth reaches server `name` (SSH target, identity file, SSH client); checked
/// before it is kept. A new host key is trusted only if it is `req.trusted_fingerprint`.
pub async fn server_reconnect(name: &str, req: &AddServerRequest) -> Result<ServerCheck, ErrorDto> {
    call("server_reconnect", json!({ "name": name, "req": req })).await
}

/// Reclaims disk on `name` (with `dry_run`: says what it would).
pub async fn server_prune(name: &str, dry_run: bool) -> Result<PruneReport, ErrorDto> {
    call("server_prune", json!({ "name": name, "dryRun": dry_run })).await
}

/// `server`'s host samples over the last `since_ms`, and Docker's disk use.
pub async fn server_stats(name: &str, since_ms: i64) -> Result<ServerStats, ErrorDto> {
    call("server_stats", json!({ "name": name, "sinceMs": since_ms })).await
}

/// `app`'s samples over the last `since_ms`, with the alerts in that window.
pub async fn stats(app: &str, since_ms: i64) -> Result<AppStats, ErrorDto> {
    call("stats", json!({ "app": app, "sinceMs": since_ms })).await
}

/// The monitor's events, newest first (fetched from the relays first).
pub async fn alerts(app: Option<&str>, limit: usize) -> Result<Vec<Alert>, ErrorDto> {
    call("alerts", json!({ "app": app, "limit": limit })).await
}

/// The monitor's settings of `app`; the warning says when its relay did not get them.
pub async fn app_set_monitor(
    app: &str,
    interval_secs: Option<u32>,
    unhealthy_after: Option<u32>,
) -> Result<(App, Option<String>), ErrorDto> {
    call(
        "app_set_monitor",
        json!({ "app": app, "intervalSecs": interval_secs, "unhealthyAfter": unhealthy_after }),
    )
    .await
}

/// Drift between Berth's records and `server` (every server when `None`); `fix` fixes it.
pub async fn reconcile(server: Option<&str>, fix: bool) -> Result<Vec<DriftReport>, ErrorDto> {
    call("reconcile", json!({ "server": server, "fix": fix })).await
}

/// Rebuilds Berth's records of `name`'s apps from its containers' labels.
pub async fn server_import(name: &str) -> Result<Vec<ImportedApp>, ErrorDto> {
    call("server_import", json!({ "name": name })).await
}

/// The URL and bearer token a Prometheus scrapes `server`'s relay with (`rotate`: a new one).
pub async fn relay_metrics_token(server: &str, rotate: bool) -> Result<MetricsEndpoint, ErrorDto> {
    call(
        "relay_metrics_token",
        json!({ "server": server, "rotate": rotate }),
    )
    .await
}

pub async fn server_rm(name: &str, purge: bool) -> Result<(), ErrorDto> {
    call_unit("server_rm", json!({ "name": name, "purge": purge })).await
}

pub async fn proxy_install(
    server: &str,
    req: &ProxyInstallRequest,
) -> Result<ProxyStatus, ErrorDto> {
    call("proxy_install", json!({ "server": server, "req": req })).await
}

pub async fn proxy_status(server: &str) -> Result<ProxyStatus, ErrorDto> {
    call("proxy_status", json!({ "server": server })).await
}

/// Sets (or with `None`, clears) the server's base domain.
pub async fn server_set_base_domain(server: &str, base: Option<&str>) -> Result<Server, ErrorDto> {
    call(
        "server_set_base_domain",
        json!({ "server": server, "base": base }),
    )
    .await
}

// --- apps ---

pub async fn apps() -> Result<Vec<App>, ErrorDto> {
    call("apps", none()).await
}

pub async fn app(name: &str) -> Result<App, ErrorDto> {
    call("app", json!({ "name": name })).await
}

pub async fn app_create(draft: &AppDraft) -> Result<App, ErrorDto> {
    call("app_create", json!({ "draft": draft })).await
}

pub async fn app_update(draft: &AppDraft) -> Result<App, ErrorDto> {
    call("app_update", json!({ "draft": draft })).await
}

pub async fn app_rm(name: &str, purge: bool) -> Result<(), ErrorDto> {
    call_unit("app_rm", json!({ "name": name, "purge": purge })).await
}

// --- services ---

pub async fn services() -> Result<Vec<ServiceInfo>, ErrorDto> {
    call("services", none()).await
}

pub async fn service(name: &str) -> Result<ServiceInfo, ErrorDto> {
    call("service", json!({ "name": name })).await
}

/// Stores a new service (its image pulled on the server first); start it with [`deploy`].
pub async fn service_create(draft: &ServiceDraft) -> Result<App, ErrorDto> {
    call("service_create", json!({ "draft": draft })).await
}

pub async fn service_link(
    service: &str,
    app: &str,
    var: Option<&str>,
) -> Result<ServiceLink, ErrorDto> {
    call(
        "service_link",
        json!({ "service": service, "app": app, "var": var }),
    )
    .await
}

pub async fn service_unlink(
    service: &str,
    app: &str,
    var: Option<&str>,
) -> Result<Vec<ServiceLink>, ErrorDto> {
    call(
        "service_unlink",
        json!({ "service": service, "app": app, "var": var }),
    )
    .await
}

pub async fn service_rm(name: &str, purge: bool) -> Result<(), ErrorDto> {
    call_unit("service_rm", json!({ "name": name, "purge": purge })).await
}

// --- backups ---

/// A service's backups in `target` (default: its server's), newest first.
pub async fn backups(service: &str, target: Option<&str>) -> Result<Vec<BackupRecord>, ErrorDto> {
    call("backups", json!({ "service": service, "target": target })).await
}

pub async fn backup_create(service: &str, to: Option<&str>) -> Result<BackupRecord, ErrorDto> {
    call(
        "backup_create",
        json!({ "service": service, "to": to, "keep": null }),
    )
    .await
}

/// Overwrites the service's data with backup `id` (asked in the window first).
pub async fn backup_restore(
    service: &str,
    id: &str,
    from: Option<&str>,
) -> Result<BackupRecord, ErrorDto> {
    call(
        "backup_restore",
        json!({ "service": service, "id": id, "from": from, "yes": true }),
    )
    .await
}

pub async fn backup_verify(
    service: &str,
    id: &str,
    from: Option<&str>,
) -> Result<Verified, ErrorDto> {
    call(
        "backup_verify",
        json!({ "service": service, "id": id, "from": from }),
    )
    .await
}

/// The schedule set, and a warning when the relay could not be told yet.
pub async fn backup_schedule(
    service: &str,
    cron: &str,
    keep: u32,
    to: Option<&str>,
) -> Result<(BackupSchedule, Option<String>), ErrorDto> {
    call(
        "backup_schedule",
        json!({ "service": service, "cron": cron, "keep": keep, "to": to }),
    )
    .await
}

pub async fn backup_unschedule(service: &str) -> Result<Option<String>, ErrorDto> {
    call("backup_unschedule", json!({ "service": service })).await
}

pub async fn backup_schedules() -> Result<Vec<BackupSchedule>, ErrorDto> {
    call("backup_schedules", none()).await
}

pub async fn backup_targets() -> Result<Vec<BackupTarget>, ErrorDto> {
    call("backup_targets", none()).await
}

/// The live state of an app (asks its server).
pub async fn app_status(name: &str) -> Result<AppStatus, ErrorDto> {
    call("app_status", json!({ "name": name })).await
}

// --- background jobs: they return at once; progress and the end arrive as events ---

pub async fn deploy(app: &str, git_ref: Option<&str>) -> Result<(), ErrorDto> {
    call_unit("deploy", json!({ "app": app, "gitRef": git_ref })).await
}

/// Rolls back to deployment `to`, or to the previous healthy one.
pub async fn rollback(app: &str, to: Option<&str>) -> Result<(), ErrorDto> {
    call_unit("rollback", json!({ "app": app, "to": to })).await
}

/// Starts putting the app's pending changes in place (a job, like a deploy).
pub async fn apply(app: &str) -> Result<(), ErrorDto> {
    call_unit("apply", json!({ "app": app })).await
}

/// The app's pending changes against its serving deployment.
pub async fn plan(app: &str) -> Result<berth_model::PendingChanges, ErrorDto> {
    call("plan", json!({ "app": app })).await
}

/// Sets the app's records back to what serves; returns what was dropped.
pub async fn discard(app: &str) -> Result<berth_model::PendingChanges, ErrorDto> {
    call("discard", json!({ "app": app })).await
}

/// Where an earlier deployment goes back to, and what a rollback to it changes.
pub async fn rollback_preview(
    app: &str,
    to: Option<&str>,
) -> Result<(berth_model::Deployment, berth_model::SpecDiff), ErrorDto> {
    call("rollback_preview", json!({ "app": app, "to": to })).await
}

pub async fn projects() -> Result<Vec<berth_model::ProjectInfo>, ErrorDto> {
    call("projects", json!({})).await
}

pub async fn project_create(
    name: &str,
    server: Option<&str>,
) -> Result<berth_model::Project, ErrorDto> {
    call("project_create", json!({ "name": name, "server": server })).await
}

pub async fn project_rm(name: &str) -> Result<(), ErrorDto> {
    call_unit("project_rm", json!({ "name": name })).await
}

pub async fn project_env_set(
    project: &str,
    key: &str,
    value: &str,
    secret: bool,
) -> Result<(), ErrorDto> {
    call_unit(
        "project_env_set",
        json!({ "project": project, "key": key, "value": value, "secret": secret }),
    )
    .await
}

pub async fn project_env_unset(project: &str, key: &str) -> Result<bool, ErrorDto> {
    call(
        "project_env_unset",
        json!({ "project": project, "key": key }),
    )
    .await
}

/// What the app's containers get: its variables over its project's, with where each is from.
pub async fn env_resolved(app: &str) -> Result<Vec<berth_model::ResolvedVar>, ErrorDto> {
    call("env_resolved", json!({ "app": app })).await
}

/// The whole setup as YAML (`berth export`).
pub async fn export_setup() -> Result<String, ErrorDto> {
    call("export_setup", json!({ "project": null })).await
}

/// Reads a setup file: with `dry_run`, only what it would change.
pub async fn import_setup(
    text: &str,
    dry_run: bool,
) -> Result<berth_model::setup::ImportReport, ErrorDto> {
    call("import_setup", json!({ "text": text, "dryRun": dry_run })).await
}

pub async fn restart(app: &str) -> Result<(), ErrorDto> {
    call_unit("restart", json!({ "app": app })).await
}

pub async fn start(app: &str) -> Result<(), ErrorDto> {
    call_unit("start", json!({ "app": app })).await
}

pub async fn stop(app: &str) -> Result<(), ErrorDto> {
    call_unit("stop", json!({ "app": app })).await
}

/// Cancels the job running on `app`; false if there was none.
pub async fn cancel(app: &str) -> Result<bool, ErrorDto> {
    call("cancel", json!({ "app": app })).await
}

/// Apps with a job running in the desktop process.
pub async fn running() -> Result<Vec<String>, ErrorDto> {
    call("running", none()).await
}

// --- history and logs ---

pub async fn deployments(app: &str, limit: usize) -> Result<Vec<Deployment>, ErrorDto> {
    call("deployments", json!({ "app": app, "limit": limit })).await
}

pub async fn build_log(id: &str) -> Result<Vec<String>, ErrorDto> {
    call("build_log", json!({ "id": id })).await
}

/// Starts following the app's output; lines arrive as `log-line` events with the returned
/// stream id until [`stop_logs`] (or a `log-end` event).
pub async fn follow_logs(app: &str, tail: usize) -> Result<String, ErrorDto> {
    call("follow_logs", json!({ "app": app, "tail": tail })).await
}

pub async fn stop_logs(stream: &str) -> Result<(), ErrorDto> {
    call_unit("stop_logs", json!({ "stream": stream })).await
}

// --- environment ---

pub async fn env_ls(app: &str) -> Result<Vec<EnvVar>, ErrorDto> {
    call("env_ls", json!({ "app": app })).await
}

/// Sets one variable; a secret value goes to the keychain only; a build one is also passed to
/// builds.
pub async fn env_set(
    app: &str,
    key: &str,
    value: &str,
    secret: bool,
    build: bool,
) -> Result<(), ErrorDto> {
    call_unit(
        "env_set",
        json!({ "app": app, "key": key, "value": value, "secret": secret, "build": build }),
    )
    .await
}

pub async fn env_unset(app: &str, key: &str) -> Result<bool, ErrorDto> {
    call("env_unset", json!({ "app": app, "key": key })).await
}

/// A secret variable's value, on demand.
pub async fn env_reveal(app: &str, key: &str) -> Result<Option<String>, ErrorDto> {
    call("env_reveal", json!({ "app": app, "key": key })).await
}

// --- domains ---

pub async fn domain_ls(app: &str) -> Result<Vec<DomainStatus>, ErrorDto> {
    call("domain_ls", json!({ "app": app })).await
}

/// Adds a domain; a deployed app's route takes it when its pending changes are applied.
pub async fn domain_add(
    app: &str,
    domain: &str,
    primary: bool,
) -> Result<Vec<DomainStatus>, ErrorDto> {
    call(
        "domain_add",
        json!({ "app": app, "domain": domain, "primary": primary, "apply": false }),
    )
    .await
}

/// Removes a domain (pending, like every edit, until applied).
pub async fn domain_rm(app: &str, domain: &str) -> Result<(), ErrorDto> {
    call_unit(
        "domain_rm",
        json!({ "app": app, "domain": domain, "apply": false }),
    )
    .await
}

// --- webhooks ---

pub async fn relay_install(
    server: &str,
    req: &RelayInstallRequest,
) -> Result<RelayStatus, ErrorDto> {
    call("relay_install", json!({ "server": server, "req": req })).await
}

pub async fn relay_status(server: &str) -> Result<RelayStatus, ErrorDto> {
    call("relay_status", json!({ "server": server })).await
}

/// The app's webhook (`webhook-not-enabled` when it has none); its secret with `reveal`.
pub async fn webhook_show(app: &str, reveal: bool) -> Result<WebhookInfo, ErrorDto> {
    call("webhook_show", json!({ "app": app, "reveal": reveal })).await
}

pub async fn webhook_enable(
    app: &str,
    req: &WebhookEnableRequest,
) -> Result<WebhookInfo, ErrorDto> {
    call("webhook_enable", json!({ "app": app, "req": req })).await
}

pub async fn webhook_disable(app: &str) -> Result<(), ErrorDto> {
    call_unit("webhook_disable", json!({ "app": app })).await
}

/// A new deploy key for the app's unattended fetches over SSH (the relay gets it at once).
pub async fn webhook_rotate_deploy_key(app: &str) -> Result<WebhookInfo, ErrorDto> {
    call("webhook_rotate_deploy_key", json!({ "app": app })).await
}

/// Makes one of the app's domains its primary one (pending until applied).
pub async fn domain_primary(app: &str, domain: &str) -> Result<(), ErrorDto> {
    call_unit(
        "domain_primary",
        json!({ "app": app, "domain": domain, "apply": false }),
    )
    .await
}

pub async fn webhook_rotate_secret(app: &str) -> Result<WebhookInfo, ErrorDto> {
    call("webhook_rotate_secret", json!({ "app": app })).await
}

/// Newest first.
pub async fn webhook_deliveries(app: &str, limit: usize) -> Result<Vec<Delivery>, ErrorDto> {
    call("webhook_deliveries", json!({ "app": app, "limit": limit })).await
}

// --- settings ---

// --- notifiers ---

pub async fn notifiers() -> Result<Vec<Notifier>, ErrorDto> {
    call("notifiers", none()).await
}

/// Adds a notifier routed to `app` (`None`: every app) and `events` (empty: every kind).
pub async fn notify_add(
    kind: NotifierKind,
    url: &str,
    app: Option<&str>,
    events: &[NoticeEvent],
) -> Result<NotifierSaved, ErrorDto> {
    call(
        "notify_add",
        json!({ "kind": kind, "url": url, "app": app, "events": events }),
    )
    .await
}

pub async fn notify_route(
    id: i64,
    app: Option<&str>,
    events: &[NoticeEvent],
) -> Result<NotifierSaved, ErrorDto> {
    call(
        "notify_route",
        json!({ "id": id, "app": app, "events": events }),
    )
    .await
}

/// What did not reach a relay.
pub async fn notify_rm(id: i64) -> Result<Vec<String>, ErrorDto> {
    call("notify_rm", json!({ "id": id })).await
}

/// A test notice to every notifier (or `id`), whatever it is routed to.
pub async fn notify_test(id: Option<i64>) -> Result<Vec<NotifierTested>, ErrorDto> {
    call("notify_test", json!({ "id": id })).await
}

// --- image apps: registries, inspection, stages ---

pub async fn registries() -> Result<Vec<Registry>, ErrorDto> {
    call("registries", none()).await
}

pub async fn registry_add(draft: &RegistryDraft, password: &str) -> Result<Registry, ErrorDto> {
    call(
        "registry_add",
        json!({ "draft": draft, "password": password }),
    )
    .await
}

/// How often registries are looked at for new tags, in seconds (0: never).
pub async fn poll_interval() -> Result<u64, ErrorDto> {
    call("poll_interval", none()).await
}

/// Sets it; what did not reach a relay (its unattended apps poll there).
pub async fn set_poll_interval(secs: u64) -> Result<Vec<String>, ErrorDto> {
    call("set_poll_interval", json!({ "secs": secs })).await
}

pub async fn registry_rm(name: &str) -> Result<(), ErrorDto> {
    call_unit("registry_rm", json!({ "name": name })).await
}

/// Logs in through `server`'s Docker (`""`: the only server); the server's name.
pub async fn registry_test(name: &str, server: &str) -> Result<String, ErrorDto> {
    call("registry_test", json!({ "name": name, "server": server })).await
}

pub async fn registry_tags(
    name: &str,
    repository: &str,
    server: &str,
) -> Result<Vec<ImageTag>, ErrorDto> {
    call(
        "registry_tags",
        json!({ "name": name, "repository": repository, "server": server }),
    )
    .await
}

/// Pulls `reference` on `server` and reads how it runs (Quick Deploy).
pub async fn image_inspect(server: &str, reference: &str) -> Result<ImageInspection, ErrorDto> {
    call(
        "image_inspect",
        json!({ "server": server, "reference": reference }),
    )
    .await
}

pub async fn app_tags(app: &str) -> Result<Vec<ImageTag>, ErrorDto> {
    call("app_tags", json!({ "app": app })).await
}

pub async fn stages(app: &str) -> Result<Vec<Stage>, ErrorDto> {
    call("stages", json!({ "app": app })).await
}

pub async fn stage_add(draft: &StageDraft) -> Result<Stage, ErrorDto> {
    call("stage_add", json!({ "draft": draft })).await
}

pub async fn stage_rm(app: &str, stage: &str) -> Result<(), ErrorDto> {
    call_unit("stage_rm", json!({ "app": app, "stage": stage })).await
}

/// Starts deploying `tag` into `stage` (a job).
pub async fn deploy_stage(app: &str, stage: &str, tag: &str) -> Result<(), ErrorDto> {
    call_unit(
        "deploy_stage",
        json!({ "app": app, "stage": stage, "tag": tag }),
    )
    .await
}

/// Starts promoting `tag` (or the newest healthy one) into `to` (a job).
pub async fn promote(app: &str, to: &str, tag: Option<&str>) -> Result<(), ErrorDto> {
    call_unit("promote", json!({ "app": app, "to": to, "tag": tag })).await
}

/// Which Berth this is: version, commit, platform, relay executables found.
pub async fn about() -> Result<About, ErrorDto> {
    call("about", none()).await
}

/// Where secrets are kept and whether that works here.
pub async fn secrets_info() -> Result<SecretsInfo, ErrorDto> {
    call("secrets_info", none()).await
}

/// The explicit fallback when no keychain service is available: a 0600 file in the data dir.
pub async fn use_file_secrets() -> Result<SecretsInfo, ErrorDto> {
    call("use_file_secrets", none()).await
}

pub async fn audit_log(limit: usize) -> Result<Vec<AuditEntry>, ErrorDto> {
    call("audit_log", json!({ "limit": limit })).await
}

// --- the shell's own ---

/// Hides the window; Berth keeps running in the tray.
pub async fn hide_window() -> Result<(), ErrorDto> {
    call_unit("hide_window", none()).await
}

/// The OS file picker (for an identity file); `None` when the user cancelled.
pub async fn pick_file(title: &str) -> Result<Option<String>, ErrorDto> {
    call("pick_file", json!({ "title": title })).await
}

/// The OS folder picker (for an app's git repository); `None` when the user cancelled.
pub async fn pick_folder(title: &str) -> Result<Option<String>, ErrorDto> {
    call("pick_folder", json!({ "title": title })).await
}

/// Opens an `http(s)` URL in the user's browser.
pub async fn open_url(url: &str) -> Result<(), ErrorDto> {
    call_unit("open_url", json!({ "url": url })).await
}
