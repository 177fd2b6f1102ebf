//! The commands the UI invokes. Each is one expression: deserialize, call one function of
//! `berth-api` (the same API the CLI uses), convert the error to `{code, message}`. Names and
//! arguments are the contract `ui/src/api.rs` wraps (arguments arrive camelCase: `gitRef`).
//!
//! Every command is `async`, so none runs on the UI thread; synchronous API calls (SQLite, the
//! keychain) go through [`blocking`] so they do not hold up the async workers either.

use std::sync::Arc;

use berth_api::desktop::Desktop;
use berth_api::{AddServer, ApiError, AuditEntry};
use berth_model::setup::ImportReport;
use berth_model::view::ImageInspection;
use berth_model::view::{
    About, AddServerRequest, HostKeyInfo, JobKind, Overview, ProxyInstallRequest,
    RelayInstallRequest, SecretsInfo, WebhookEnableRequest,
};
use berth_model::{
    Alert, App, AppDraft, AppStats, AppStatus, BackupRecord, BackupSchedule, BackupTarget,
    Delivery, Deployment, DomainStatus, DriftReport, EnvVar, ErrorDto, ImageTag, ImportedApp,
    MetricsEndpoint, NoticeEvent, Notifier, NotifierKind, NotifierSaved, NotifierTested,
    PendingChanges, Project, ProjectInfo, ProxyStatus, PruneReport, Registry, RegistryDraft,
    RelayStatus, ResolvedVar, Server, ServerCheck, ServerStats, ServiceDraft, ServiceInfo,
    ServiceLink, SpecDiff, Stage, StageDraft, Verified, WebhookInfo,
};
use tauri::{AppHandle, State};

type Shell<'a> = State<'a, Arc<Desktop>>;
type Reply<T> = Result<T, ErrorDto>;

fn dto(e: ApiError) -> ErrorDto {
    e.to_dto()
}

/// Runs a synchronous API call on the blocking pool.
async fn blocking<T: Send + 'static>(
    d: &Arc<Desktop>,
    f: impl FnOnce(&Arc<Desktop>) -> Result<T, ApiError> + Send + 'static,
) -> Reply<T> {
    let d = d.clone();
    match tauri::async_runtime::spawn_blocking(move || f(&d)).await {
        Ok(result) => result.map_err(dto),
        Err(e) => Err(ErrorDto {
            code: "internal".to_owned(),
            message: format!("the operation stopped unexpectedly: {e}"),
        }),
    }
}

/// Every command, for `invoke_handler` (keep in step with `ui/src/api.rs`; the tidy test
/// checks that both list the same names).
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        overview,
        servers,
        server_check,
        host_key,
        server_add,
        server_reconnect,
        server_rm,
        server_prune,
        server_stats,
        stats,
        alerts,
        app_set_monitor,
        reconcile,
        server_import,
        relay_metrics_token,
        proxy_install,
        proxy_status,
        server_set_base_domain,
        apps,
        app,
        app_create,
        app_update,
        app_rm,
        services,
        service,
        service_create,
        service_link,
        service_unlink,
        service_rm,
        backups,
        backup_create,
        backup_restore,
        backup_verify,
        backup_schedule,
        backup_unschedule,
        backup_schedules,
        backup_targets,
        app_status,
        deploy,
        rollback,
        restart,
        start,
        stop,
        cancel,
        running,
        deployments,
        build_log,
        follow_logs,
        stop_logs,
        env_ls,
        env_set,
        env_unset,
        env_reveal,
        env_resolved,
        projects,
        project_create,
        project_rm,
        project_env_set,
        project_env_unset,
        rollback_preview,
        plan,
        apply,
        discard,
        export_setup,
        import_setup,
        domain_ls,
        domain_add,
        domain_rm,
        domain_primary,
        relay_install,
        relay_status,
        webhook_show,
        webhook_enable,
        webhook_disable,
        webhook_rotate_secret,
        webhook_rotate_deploy_key,
        webhook_deliveries,
        notifiers,
        notify_add,
        notify_route,
        notify_rm,
        notify_test,
        registries,
        registry_add,
        poll_interval,
        set_poll_interval,
        registry_rm,
        registry_test,
        registry_tags,
        image_inspect,
        app_tags,
        stages,
        stage_add,
        stage_rm,
        deploy_stage,
        promote,
        about,
        secrets_info,
        use_file_secrets,
        audit_log,
        hide_window,
        pick_file,
        pick_folder,
        open_url,
    ]
}

// --- overview and servers ---

#[tauri::command]
async fn overview(d: Shell<'_>) -> Reply<Overview> {
    blocking(&d, |d| d.overview()).await
}

#[tauri::command]
async fn servers(d: Shell<'_>) -> Reply<Vec<Server>> {
    blocking(&d, |d| d.berth().servers()).await
}

#[tauri::command]
async fn server_check(d: Shell<'_>, name: String) -> Reply<ServerCheck> {
    d.berth().server_check(&name).await.map_err(dto)
}

#[tauri::command]
async fn host_key(d: Shell<'_>, req: AddServerRequest) -> Reply<HostKeyInfo> {
    d.berth()
        .probe_host_key(&AddServer::from_request(&req).map_err(dto)?)
        .await
        .map_err(dto)
}

/// The fingerprint the user confirmed arrives in `req.trusted_fingerprint`; nothing else is
/// trusted (no prompt can be answered from here).
#[tauri::command]
async fn server_add(d: Shell<'_>, req: AddServerRequest) -> Reply<ServerCheck> {
    d.berth()
        .server_add(AddServer::from_request(&req).map_err(dto)?, &|_| false)
        .await
        .map_err(dto)
}

/// Like [`server_add`]: only the fingerprint the user confirmed is trusted.
#[tauri::command]
async fn server_reconnect(d: Shell<'_>, name: String, req: AddServerRequest) -> Reply<ServerCheck> {
    d.berth()
        .server_reconnect(&name, AddServer::from_request(&req).map_err(dto)?, &|_| {
            false
        })
        .await
        .map_err(dto)
}

#[tauri::command]
async fn server_prune(d: Shell<'_>, name: String, dry_run: bool) -> Reply<PruneReport> {
    d.berth().server_prune(&name, dry_run).await.map_err(dto)
}

#[tauri::command]
async fn server_stats(d: Shell<'_>, name: String, since_ms: i64) -> Reply<ServerStats> {
    d.berth().server_stats(&name, since_ms).await.map_err(dto)
}

#[tauri::command]
async fn stats(d: Shell<'_>, app: String, since_ms: i64) -> Reply<AppStats> {
    d.berth().stats(&app, since_ms).await.map_err(dto)
}

#[tauri::command]
async fn alerts(d: Shell<'_>, app: Option<String>, limit: usize) -> Reply<Vec<Alert>> {
    d.berth().alerts(app.as_deref(), limit).await.map_err(dto)
}

#[tauri::command]
async fn app_set_monitor(
    d: Shell<'_>,
    app: String,
    interval_secs: Option<u32>,
    unhealthy_after: Option<u32>,
) -> Reply<(App, Option<String>)> {
    d.berth()
        .app_set_monitor(&app, interval_secs, unhealthy_after)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn reconcile(d: Shell<'_>, server: Option<String>, fix: bool) -> Reply<Vec<DriftReport>> {
    d.berth()
        .reconcile(server.as_deref(), fix)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn server_import(d: Shell<'_>, name: String) -> Reply<Vec<ImportedApp>> {
    d.berth().server_import(&name).await.map_err(dto)
}

#[tauri::command]
async fn relay_metrics_token(d: Shell<'_>, server: String, rotate: bool) -> Reply<MetricsEndpoint> {
    d.berth()
        .relay_metrics_token(&server, rotate)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn server_rm(d: Shell<'_>, name: String, purge: bool) -> Reply<()> {
    d.berth().server_rm(&name, purge).await.map_err(dto)
}

#[tauri::command]
async fn proxy_install(
    d: Shell<'_>,
    server: String,
    req: ProxyInstallRequest,
) -> Reply<ProxyStatus> {
    d.berth()
        .proxy_install(&server, req.into())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn proxy_status(d: Shell<'_>, server: String) -> Reply<ProxyStatus> {
    d.berth().proxy_status(&server).await.map_err(dto)
}

#[tauri::command]
async fn server_set_base_domain(
    d: Shell<'_>,
    server: String,
    base: Option<String>,
) -> Reply<Server> {
    d.berth()
        .server_set_base_domain(&server, base.as_deref())
        .await
        .map_err(dto)
}

// --- apps ---

#[tauri::command]
async fn apps(d: Shell<'_>) -> Reply<Vec<App>> {
    blocking(&d, |d| d.berth().apps()).await
}

#[tauri::command]
async fn app(d: Shell<'_>, name: String) -> Reply<App> {
    blocking(&d, move |d| d.berth().app(&name)).await
}

#[tauri::command]
async fn app_create(d: Shell<'_>, draft: AppDraft) -> Reply<App> {
    d.berth().app_create(draft).await.map_err(dto)
}

#[tauri::command]
async fn app_update(d: Shell<'_>, draft: AppDraft) -> Reply<App> {
    d.berth().app_update(draft).await.map_err(dto)
}

#[tauri::command]
async fn app_rm(d: Shell<'_>, name: String, purge: bool) -> Reply<()> {
    d.berth().app_rm(&name, purge).await.map_err(dto)
}

#[tauri::command]
async fn services(d: Shell<'_>) -> Reply<Vec<ServiceInfo>> {
    blocking(&d, |d| d.berth().services()).await
}

#[tauri::command]
async fn service(d: Shell<'_>, name: String) -> Reply<ServiceInfo> {
    blocking(&d, move |d| d.berth().service(&name)).await
}

#[tauri::command]
async fn service_create(d: Shell<'_>, draft: ServiceDraft) -> Reply<App> {
    d.berth().service_create(draft).await.map_err(dto)
}

#[tauri::command]
async fn service_link(
    d: Shell<'_>,
    service: String,
    app: String,
    var: Option<String>,
) -> Reply<ServiceLink> {
    blocking(&d, move |d| {
        d.berth().service_link(&service, &app, var.as_deref())
    })
    .await
}

#[tauri::command]
async fn service_unlink(
    d: Shell<'_>,
    service: String,
    app: String,
    var: Option<String>,
) -> Reply<Vec<ServiceLink>> {
    blocking(&d, move |d| {
        d.berth().service_unlink(&service, &app, var.as_deref())
    })
    .await
}

#[tauri::command]
async fn service_rm(d: Shell<'_>, name: String, purge: bool) -> Reply<()> {
    d.berth().service_rm(&name, purge).await.map_err(dto)
}

#[tauri::command]
async fn backups(
    d: Shell<'_>,
    service: String,
    target: Option<String>,
) -> Reply<Vec<BackupRecord>> {
    d.berth()
        .backups(&service, target.as_deref())
        .await
        .map_err(dto)
}

/// The backup taken (and what retention removed: not shown in the window).
#[tauri::command]
async fn backup_create(
    d: Shell<'_>,
    service: String,
    to: Option<String>,
    keep: Option<usize>,
) -> Reply<BackupRecord> {
    d.berth()
        .backup_create(&service, to.as_deref(), keep)
        .await
        .map(|(r, _)| r)
        .map_err(dto)
}

/// The window asks first (naming what is overwritten); `yes` is its answer.
#[tauri::command]
async fn backup_restore(
    d: Shell<'_>,
    service: String,
    id: String,
    from: Option<String>,
    yes: bool,
) -> Reply<BackupRecord> {
    d.berth()
        .backup_restore(&service, &id, from.as_deref(), None, yes.into())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn backup_verify(
    d: Shell<'_>,
    service: String,
    id: String,
    from: Option<String>,
) -> Reply<Verified> {
    d.berth()
        .backup_verify(&service, &id, from.as_deref())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn backup_schedule(
    d: Shell<'_>,
    service: String,
    cron: String,
    keep: u32,
    to: Option<String>,
) -> Reply<(BackupSchedule, Option<String>)> {
    d.berth()
        .backup_schedule(&service, &cron, keep, to.as_deref())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn backup_unschedule(d: Shell<'_>, service: String) -> Reply<Option<String>> {
    d.berth().backup_unschedule(&service).await.map_err(dto)
}

#[tauri::command]
async fn backup_schedules(d: Shell<'_>) -> Reply<Vec<BackupSchedule>> {
    blocking(&d, |d| d.berth().backup_schedules()).await
}

#[tauri::command]
async fn backup_targets(d: Shell<'_>) -> Reply<Vec<BackupTarget>> {
    blocking(&d, |d| d.berth().backup_targets()).await
}

#[tauri::command]
async fn app_status(d: Shell<'_>, name: String) -> Reply<AppStatus> {
    d.berth().status(&name).await.map_err(dto)
}

// --- background jobs: they return once started; progress and the end arrive as events ---

#[tauri::command]
async fn deploy(d: Shell<'_>, app: String, git_ref: Option<String>) -> Reply<()> {
    blocking(&d, move |d| {
        d.start_job(&app, JobKind::Deploy, git_ref, None)
    })
    .await
}

#[tauri::command]
async fn rollback(d: Shell<'_>, app: String, to: Option<String>) -> Reply<()> {
    blocking(&d, move |d| d.start_job(&app, JobKind::Rollback, None, to)).await
}

#[tauri::command]
async fn restart(d: Shell<'_>, app: String) -> Reply<()> {
    blocking(&d, move |d| d.start_job(&app, JobKind::Restart, None, None)).await
}

#[tauri::command]
async fn start(d: Shell<'_>, app: String) -> Reply<()> {
    blocking(&d, move |d| d.start_job(&app, JobKind::Start, None, None)).await
}

#[tauri::command]
async fn stop(d: Shell<'_>, app: String) -> Reply<()> {
    blocking(&d, move |d| d.start_job(&app, JobKind::Stop, None, None)).await
}

#[tauri::command]
async fn cancel(d: Shell<'_>, app: String) -> Reply<bool> {
    d.cancel_anywhere(&app).await.map_err(dto)
}

#[tauri::command]
async fn running(d: Shell<'_>) -> Reply<Vec<String>> {
    Ok(d.running())
}

// --- history and logs ---

#[tauri::command]
async fn deployments(d: Shell<'_>, app: String, limit: usize) -> Reply<Vec<Deployment>> {
    blocking(&d, move |d| d.berth().deployments(&app, limit)).await
}

#[tauri::command]
async fn build_log(d: Shell<'_>, id: String) -> Reply<Vec<String>> {
    blocking(&d, move |d| d.berth().build_log(&id)).await
}

#[tauri::command]
async fn follow_logs(d: Shell<'_>, app: String, tail: usize) -> Reply<String> {
    blocking(&d, move |d| d.follow_logs(&app, tail)).await
}

// `Desktop::stop_logs` returns nothing; the reply is just "done".
#[allow(clippy::unit_arg)]
#[tauri::command]
async fn stop_logs(d: Shell<'_>, stream: String) -> Reply<()> {
    Ok(d.stop_logs(&stream))
}

// --- environment ---

#[tauri::command]
async fn env_ls(d: Shell<'_>, app: String) -> Reply<Vec<EnvVar>> {
    blocking(&d, move |d| d.berth().env_ls(&app)).await
}

#[tauri::command]
async fn env_set(
    d: Shell<'_>,
    app: String,
    key: String,
    value: String,
    secret: bool,
    build: Option<bool>,
) -> Reply<()> {
    blocking(&d, move |d| {
        d.berth()
            .env_set_any(&app, &[(key, value)], secret, build.unwrap_or(false))
    })
    .await
}

#[tauri::command]
async fn env_unset(d: Shell<'_>, app: String, key: String) -> Reply<bool> {
    blocking(&d, move |d| d.berth().env_unset(&app, &key)).await
}

#[tauri::command]
async fn env_reveal(d: Shell<'_>, app: String, key: String) -> Reply<Option<String>> {
    blocking(&d, move |d| d.berth().env_reveal(&app, &key)).await
}

#[tauri::command]
async fn env_resolved(d: Shell<'_>, app: String) -> Reply<Vec<ResolvedVar>> {
    blocking(&d, move |d| d.berth().env_resolved(&app)).await
}

// --- projects ---

#[tauri::command]
async fn projects(d: Shell<'_>) -> Reply<Vec<ProjectInfo>> {
    blocking(&d, |d| d.berth().projects()).await
}

#[tauri::command]
async fn project_create(d: Shell<'_>, name: String, server: Option<String>) -> Reply<Project> {
    blocking(&d, move |d| {
        d.berth().project_create(&name, server.as_deref())
    })
    .await
}

#[tauri::command]
async fn project_rm(d: Shell<'_>, name: String) -> Reply<()> {
    blocking(&d, move |d| d.berth().project_rm(&name)).await
}

#[tauri::command]
async fn project_env_set(
    d: Shell<'_>,
    project: String,
    key: String,
    value: String,
    secret: bool,
) -> Reply<()> {
    blocking(&d, move |d| {
        d.berth().project_env_set(&project, &[(key, value)], secret)
    })
    .await
}

#[tauri::command]
async fn project_env_unset(d: Shell<'_>, project: String, key: String) -> Reply<bool> {
    blocking(&d, move |d| d.berth().project_env_unset(&project, &key)).await
}

#[tauri::command]
async fn rollback_preview(
    d: Shell<'_>,
    app: String,
    to: Option<String>,
) -> Reply<(Deployment, SpecDiff)> {
    blocking(&d, move |d| d.berth().rollback_preview(&app, to.as_deref())).await
}

#[tauri::command]
async fn plan(d: Shell<'_>, app: String) -> Reply<PendingChanges> {
    blocking(&d, move |d| d.berth().plan(&app)).await
}

#[tauri::command]
async fn apply(d: Shell<'_>, app: String) -> Reply<()> {
    blocking(&d, move |d| d.start_job(&app, JobKind::Apply, None, None)).await
}

#[tauri::command]
async fn discard(d: Shell<'_>, app: String) -> Reply<PendingChanges> {
    blocking(&d, move |d| d.berth().discard(&app)).await
}

#[tauri::command]
async fn export_setup(d: Shell<'_>, project: Option<String>) -> Reply<String> {
    blocking(&d, move |d| d.berth().export_setup(project.as_deref())).await
}

#[tauri::command]
async fn import_setup(d: Shell<'_>, text: String, dry_run: bool) -> Reply<ImportReport> {
    d.berth()
        .import_setup(&text, dry_run, false)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn webhook_rotate_deploy_key(d: Shell<'_>, app: String) -> Reply<WebhookInfo> {
    d.berth().webhook_rotate_deploy_key(&app).await.map_err(dto)
}

// --- domains ---

#[tauri::command]
async fn domain_primary(d: Shell<'_>, app: String, domain: String, apply: bool) -> Reply<()> {
    d.berth()
        .domain_primary(&app, &domain, apply)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn domain_ls(d: Shell<'_>, app: String) -> Reply<Vec<DomainStatus>> {
    d.berth().domain_ls(&app).await.map_err(dto)
}

#[tauri::command]
async fn domain_add(
    d: Shell<'_>,
    app: String,
    domain: String,
    primary: bool,
    apply: bool,
) -> Reply<Vec<DomainStatus>> {
    d.berth()
        .domain_add(&app, &domain, primary, apply)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn domain_rm(d: Shell<'_>, app: String, domain: String, apply: bool) -> Reply<()> {
    d.berth().domain_rm(&app, &domain, apply).await.map_err(dto)
}

// --- webhooks ---

#[tauri::command]
async fn relay_install(
    d: Shell<'_>,
    server: String,
    req: RelayInstallRequest,
) -> Reply<RelayStatus> {
    d.berth()
        .relay_install(&server, req.into())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn relay_status(d: Shell<'_>, server: String) -> Reply<RelayStatus> {
    d.berth().relay_status(&server).await.map_err(dto)
}

#[tauri::command]
async fn webhook_show(d: Shell<'_>, app: String, reveal: bool) -> Reply<WebhookInfo> {
    blocking(&d, move |d| d.berth().webhook_show(&app, reveal)).await
}

#[tauri::command]
async fn webhook_enable(
    d: Shell<'_>,
    app: String,
    req: WebhookEnableRequest,
) -> Reply<WebhookInfo> {
    d.berth()
        .webhook_enable(&app, req.into())
        .await
        .map_err(dto)
}

#[tauri::command]
async fn webhook_disable(d: Shell<'_>, app: String) -> Reply<()> {
    d.berth().webhook_disable(&app).await.map_err(dto)
}

#[tauri::command]
async fn webhook_rotate_secret(d: Shell<'_>, app: String) -> Reply<WebhookInfo> {
    d.berth().webhook_rotate_secret(&app).await.map_err(dto)
}

#[tauri::command]
async fn webhook_deliveries(d: Shell<'_>, app: String, limit: usize) -> Reply<Vec<Delivery>> {
    d.berth().webhook_deliveries(&app, limit).await.map_err(dto)
}

// --- notifiers ---

#[tauri::command]
async fn notifiers(d: Shell<'_>) -> Reply<Vec<Notifier>> {
    blocking(&d, |d| d.berth().notifiers()).await
}

#[tauri::command]
async fn notify_add(
    d: Shell<'_>,
    kind: NotifierKind,
    url: String,
    app: Option<String>,
    events: Vec<NoticeEvent>,
) -> Reply<NotifierSaved> {
    d.berth()
        .notify_add(kind, &url, app.as_deref(), &events)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn notify_route(
    d: Shell<'_>,
    id: i64,
    app: Option<String>,
    events: Vec<NoticeEvent>,
) -> Reply<NotifierSaved> {
    d.berth()
        .notify_route(id, app.as_deref(), &events)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn notify_rm(d: Shell<'_>, id: i64) -> Reply<Vec<String>> {
    d.berth().notify_rm(id).await.map_err(dto)
}

#[tauri::command]
async fn notify_test(d: Shell<'_>, id: Option<i64>) -> Reply<Vec<NotifierTested>> {
    Ok(d.berth().notify_test(id).await)
}

// --- image apps: registries, inspection, stages ---

#[tauri::command]
async fn registries(d: Shell<'_>) -> Reply<Vec<Registry>> {
    blocking(&d, |d| d.berth().registries()).await
}

#[tauri::command]
async fn registry_add(d: Shell<'_>, draft: RegistryDraft, password: String) -> Reply<Registry> {
    d.berth().registry_add(&draft, &password).await.map_err(dto)
}

#[tauri::command]
async fn poll_interval(d: Shell<'_>) -> Reply<u64> {
    Ok(d.berth().poll_interval().as_secs())
}

#[tauri::command]
async fn set_poll_interval(d: Shell<'_>, secs: u64) -> Reply<Vec<String>> {
    d.berth().set_poll_interval(secs).await.map_err(dto)
}

#[tauri::command]
async fn registry_rm(d: Shell<'_>, name: String) -> Reply<()> {
    blocking(&d, move |d| d.berth().registry_rm(&name)).await
}

#[tauri::command]
async fn registry_test(d: Shell<'_>, name: String, server: String) -> Reply<String> {
    d.berth().registry_test(&name, &server).await.map_err(dto)
}

#[tauri::command]
async fn registry_tags(
    d: Shell<'_>,
    name: String,
    repository: String,
    server: String,
) -> Reply<Vec<ImageTag>> {
    d.berth()
        .registry_tags(&name, &repository, &server)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn image_inspect(d: Shell<'_>, server: String, reference: String) -> Reply<ImageInspection> {
    d.berth()
        .image_inspect(&server, &reference)
        .await
        .map_err(dto)
}

#[tauri::command]
async fn app_tags(d: Shell<'_>, app: String) -> Reply<Vec<ImageTag>> {
    d.berth().app_tags(&app).await.map_err(dto)
}

#[tauri::command]
async fn stages(d: Shell<'_>, app: String) -> Reply<Vec<Stage>> {
    blocking(&d, move |d| d.berth().stages(&app)).await
}

#[tauri::command]
async fn stage_add(d: Shell<'_>, draft: StageDraft) -> Reply<Stage> {
    d.berth().stage_add(&draft).await.map_err(dto)
}

#[tauri::command]
async fn stage_rm(d: Shell<'_>, app: String, stage: String) -> Reply<()> {
    d.berth().stage_rm(&app, &stage).await.map_err(dto)
}

/// Deploys `tag` into `stage` (a job; the window confirmed a `--confirm` stage first).
#[tauri::command]
async fn deploy_stage(d: Shell<'_>, app: String, stage: String, tag: String) -> Reply<()> {
    blocking(&d, move |d| {
        d.start_job(&app, JobKind::StageDeploy, Some(tag), Some(stage))
    })
    .await
}

/// Promotes `tag` (or the newest healthy one) into `to` (a job; confirmed in the window).
#[tauri::command]
async fn promote(d: Shell<'_>, app: String, to: String, tag: Option<String>) -> Reply<()> {
    blocking(&d, move |d| {
        d.start_job(&app, JobKind::Promote, tag, Some(to))
    })
    .await
}

// --- settings ---

#[tauri::command]
fn about() -> About {
    berth_api::about()
}

#[tauri::command]
async fn secrets_info(d: Shell<'_>) -> Reply<SecretsInfo> {
    blocking(&d, |d| Ok(d.berth().secrets_info())).await
}

#[tauri::command]
async fn use_file_secrets(d: Shell<'_>) -> Reply<SecretsInfo> {
    blocking(&d, |d| d.berth().use_file_secrets()).await
}

#[tauri::command]
async fn audit_log(d: Shell<'_>, limit: usize) -> Reply<Vec<AuditEntry>> {
    blocking(&d, move |d| d.berth().audit_log(limit)).await
}

// --- the shell's own: OS dialogs and the browser ---

#[tauri::command]
async fn hide_window(app: AppHandle) -> Reply<()> {
    crate::shell::hide_window(&app)
}

#[tauri::command]
async fn pick_file(app: AppHandle, title: String) -> Reply<Option<String>> {
    crate::shell::pick_file(&app, title).await
}

#[tauri::command]
async fn pick_folder(app: AppHandle, title: String) -> Reply<Option<String>> {
    crate::shell::pick_folder(&app, title).await
}

#[tauri::command]
async fn open_url(app: AppHandle, url: String) -> Reply<()> {
    crate::shell::open_url(&app, &url)
}
