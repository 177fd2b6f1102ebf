//! What a user can do in the window they can do in the CLI, and the reverse: every command of
//! the `berth` binary (its help, walked) and every command the desktop shell registers is in
//! this table — with its counterpart, or with why it has none.

use std::collections::BTreeSet;
use std::process::Command;

use crate::shell_commands;

/// A CLI command and the window commands that do the same.
const PAIRS: &[(&str, &[&str])] = &[
    ("server add", &["server_add", "host_key"]),
    ("server ls", &["servers", "overview"]),
    ("server check", &["server_check"]),
    ("server import", &["server_import"]),
    ("server prune", &["server_prune"]),
    ("server stats", &["server_stats"]),
    ("server proxy install", &["proxy_install"]),
    ("server proxy status", &["proxy_status"]),
    ("server relay install", &["relay_install"]),
    ("server relay status", &["relay_status"]),
    ("server relay metrics-token", &["relay_metrics_token"]),
    (
        "server set",
        &["server_set_base_domain", "server_reconnect"],
    ),
    ("server rm", &["server_rm"]),
    ("app create", &["app_create", "image_inspect"]),
    ("app ls", &["apps"]),
    ("app set", &["app_update", "app_set_monitor"]),
    ("app show", &["app"]),
    ("app rm", &["app_rm"]),
    ("app webhook enable", &["webhook_enable"]),
    ("app webhook show", &["webhook_show"]),
    ("app webhook deliveries", &["webhook_deliveries"]),
    ("app webhook disable", &["webhook_disable"]),
    ("app webhook rotate-secret", &["webhook_rotate_secret"]),
    (
        "app webhook rotate-deploy-key",
        &["webhook_rotate_deploy_key"],
    ),
    ("app stage add", &["stage_add"]),
    ("app stage ls", &["stages"]),
    ("app stage rm", &["stage_rm"]),
    ("project create", &["project_create"]),
    ("project ls", &["projects"]),
    ("project show", &["projects"]),
    ("project rm", &["project_rm"]),
    ("service create", &["service_create"]),
    ("service ls", &["services"]),
    ("service show", &["service"]),
    ("service link", &["service_link"]),
    ("service unlink", &["service_unlink"]),
    ("service stop", &["stop"]),
    ("service start", &["start"]),
    ("service restart", &["restart"]),
    ("service logs", &["follow_logs", "stop_logs"]),
    ("service rm", &["service_rm"]),
    ("backup create", &["backup_create"]),
    ("backup ls", &["backups"]),
    ("backup restore", &["backup_restore"]),
    ("backup verify", &["backup_verify"]),
    ("backup schedule", &["backup_schedule"]),
    ("backup unschedule", &["backup_unschedule"]),
    ("backup schedules", &["backup_schedules"]),
    ("backup target ls", &["backup_targets"]),
    ("deploy", &["deploy", "deploy_stage"]),
    ("promote", &["promote"]),
    ("status", &["app_status"]),
    ("logs", &["follow_logs", "stop_logs"]),
    ("deployments", &["deployments"]),
    ("build-log", &["build_log"]),
    ("rollback", &["rollback", "rollback_preview"]),
    ("export", &["export_setup"]),
    ("import", &["import_setup"]),
    ("plan", &["plan"]),
    ("apply", &["apply"]),
    ("discard", &["discard"]),
    ("cancel", &["cancel", "running"]),
    ("stop", &["stop"]),
    ("start", &["start"]),
    ("restart", &["restart"]),
    ("env set", &["env_set", "project_env_set"]),
    ("env unset", &["env_unset", "project_env_unset"]),
    ("env ls", &["env_ls", "env_resolved"]),
    ("env get", &["env_reveal"]),
    ("registry add", &["registry_add"]),
    ("registry ls", &["registries"]),
    ("registry rm", &["registry_rm"]),
    ("registry test", &["registry_test"]),
    ("registry poll", &["poll_interval", "set_poll_interval"]),
    ("registry tags", &["registry_tags", "app_tags"]),
    ("domain add", &["domain_add"]),
    ("domain rm", &["domain_rm"]),
    ("domain primary", &["domain_primary"]),
    ("domain ls", &["domain_ls"]),
    ("notify add", &["notify_add"]),
    ("notify route", &["notify_route"]),
    ("notify ls", &["notifiers"]),
    ("notify rm", &["notify_rm"]),
    ("notify test", &["notify_test"]),
    ("reconcile", &["reconcile"]),
    ("stats", &["stats"]),
    ("alerts", &["alerts"]),
    ("audit", &["audit_log"]),
];

/// CLI commands the window does not have, and why.
const CLI_ONLY: &[(&str, &str)] = &[
    (
        "server relay deliveries",
        "every request to a relay, unknown hook URLs too, is a diagnosis for a terminal; the window shows each app's deliveries",
    ),
    (
        "server relay metrics",
        "Prometheus text, for a terminal or a scraper",
    ),
    (
        "backup target add",
        "takes S3 keys from the environment or stdin, which a form would have to hold",
    ),
    ("backup target rm", "with `backup target add`"),
    (
        "backup key show",
        "the backup key's halves go to a terminal or a file, never a window",
    ),
    ("backup key export", "as `backup key show`"),
    ("backup key import", "as `backup key show`"),
    ("cron add", "a command line for a command line"),
    ("cron ls", "with `cron add`"),
    ("cron rm", "with `cron add`"),
    ("exec", "a terminal's command: its stdin and tty"),
    ("run", "a terminal's command: its stdin and output"),
    (
        "watch",
        "the window does it while it is open: deliveries deploy, registries are polled",
    ),
];

/// Window commands the CLI does not have, and why.
const WINDOW_ONLY: &[(&str, &str)] = &[
    ("about", "`berth --version`"),
    (
        "secrets_info",
        "the CLI chooses with --secrets / BERTH_SECRETS and says where secrets are kept",
    ),
    ("use_file_secrets", "as `secrets_info`"),
    ("hide_window", "the window's own"),
    ("pick_file", "a file dialog: the CLI takes paths"),
    ("pick_folder", "a folder dialog: the CLI takes paths"),
    ("open_url", "opens a browser: the CLI prints URLs"),
];

/// Every leaf command of the built `berth`, from its help: `server add`, `deploy`, …
fn cli_commands() -> BTreeSet<String> {
    fn walk(prefix: &[String], out: &mut BTreeSet<String>) {
        let bin = berth_testkit::berth_bin();
        let help = Command::new(&bin)
            .args(prefix)
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e} (cargo build --bin berth)", bin.display()));
        let text = String::from_utf8_lossy(&help.stdout);
        let mut in_commands = false;
        let mut subs = Vec::new();
        for line in text.lines() {
            if line == "Commands:" {
                in_commands = true;
                continue;
            }
            if !line.starts_with(' ') {
                in_commands = false;
            }
            // A command's own line is indented two spaces; its wrapped help more.
            if in_commands
                && line.starts_with("  ")
                && line[2..].starts_with(|c: char| c.is_ascii_lowercase())
                && let Some(name) = line.split_whitespace().next()
                && name != "help"
            {
                subs.push(name.to_owned());
            }
        }
        if subs.is_empty() {
            out.insert(prefix.join(" "));
        }
        for s in subs {
            let mut next = prefix.to_vec();
            next.push(s);
            walk(&next, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&[], &mut out);
    out
}

#[test]
fn every_command_has_its_counterpart_in_the_other_front_end() {
    let cli = cli_commands();
    assert!(cli.len() > 60, "found {} CLI commands: {cli:?}", cli.len());
    let listed: BTreeSet<String> = PAIRS
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(CLI_ONLY.iter().map(|(c, _)| c.to_string()))
        .collect();
    assert_eq!(
        cli.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "CLI commands without a window counterpart: add it to the window, or to CLI_ONLY with why"
    );
    assert_eq!(
        listed.difference(&cli).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "commands in the table the CLI no longer has"
    );
    let window: BTreeSet<String> = shell_commands().into_iter().map(|c| c.name).collect();
    let paired: BTreeSet<String> = PAIRS
        .iter()
        .flat_map(|(_, w)| w.iter().map(|s| s.to_string()))
        .chain(WINDOW_ONLY.iter().map(|(w, _)| w.to_string()))
        .collect();
    assert_eq!(
        window.difference(&paired).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "window commands without a CLI counterpart: add one, or add it to WINDOW_ONLY with why"
    );
    assert_eq!(
        paired.difference(&window).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "window commands in the table the shell no longer registers"
    );
}
