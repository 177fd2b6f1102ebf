//! The command line as data: every subcommand, flag and environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Berth: deploy git apps to your own Docker servers over SSH.
#[derive(Debug, Parser)]
#[command(name = "berth", version = berth_api::VERSION_LINE, about, propagate_version = true)]
pub struct Cli {
    /// Where Berth keeps its state (SQLite, known_hosts). Default: the OS app-data dir.
    #[arg(long, global = true, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where secrets live: the OS keychain, or a 0600 file in the data dir (headless, CI).
    /// Default: the backend chosen in the desktop app for this data dir, else the keychain.
    #[arg(long, global = true, env = "BERTH_SECRETS", value_parser = ["keyring", "file"])]
    pub secrets: Option<String>,

    /// More log output (repeat for more). Also BERTH_LOG=debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, check and remove servers.
    #[command(subcommand)]
    Server(ServerCmd),
    /// Create, list, show and remove apps.
    #[command(subcommand)]
    App(AppCmd),
    /// Group apps and services into projects whose variables every member gets.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Databases, caches and other images beside the apps: create, link to apps, stop, start,
    /// remove.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Back up a service (its kind's own method, compressed and checksummed), list, restore
    /// and verify backups, and manage where they are kept.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// Commands the server's relay runs on a schedule, each in a fresh container made like the
    /// app's serving one.
    #[command(subcommand)]
    Cron(CronCmd),
    /// Build a commit and switch to it once healthy.
    Deploy {
        app: String,
        /// Branch, tag or commit to deploy (default: the app's branch); for an image app, the
        /// image tag to pull (default: the app's tag).
        #[arg(long = "ref", visible_alias = "tag", value_name = "REF")]
        git_ref: Option<String>,
        /// An image app's stage to deploy the tag into (default: the one stage whose
        /// patterns take the tag).
        #[arg(long)]
        stage: Option<String>,
        /// Confirm a deploy into a stage that asks for it (`--confirm`) without a prompt.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Deploy a tag that ran healthy in the stage another stage promotes from, by the digest
    /// that ran (default: the newest such tag).
    Promote {
        app: String,
        /// The stage to promote into.
        #[arg(long)]
        to: String,
        #[arg(long)]
        tag: Option<String>,
        /// Confirm without a prompt.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// What is serving, where, and how the last deploy went.
    Status {
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Output of the app's active container.
    Logs {
        app: String,
        /// Number of lines from the end.
        #[arg(long, short = 'n', default_value_t = 100)]
        tail: usize,
        /// Keep streaming new output.
        #[arg(long, short)]
        follow: bool,
    },
    /// Run a command in the app's serving container; exits with the command's exit code.
    #[command(
        after_help = "Examples:\n  berth exec web -- rails db:migrate\n  berth exec web -it -- sh"
    )]
    Exec {
        app: String,
        /// Keep stdin open and type into the command (with -t: `-it`).
        #[arg(short, long)]
        interactive: bool,
        /// Give the command a terminal (resized with yours).
        #[arg(short, long)]
        tty: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        cmd: Vec<String>,
    },
    /// Run a command in a fresh container made like the app's serving one (its image, env,
    /// network, limits and volumes; no port), removed afterwards; exits with its exit code.
    #[command(after_help = "Example: berth run web -- bin/cleanup --dry-run")]
    Run {
        app: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        cmd: Vec<String>,
    },
    /// Deployment history, newest first.
    Deployments {
        app: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The stored deploy log of a deployment (build output; a failed app's last output).
    BuildLog { deployment: String },
    /// Go back to an earlier healthy deployment (no rebuild): its image and everything it ran
    /// with — settings, variables (secrets at the versions it ran with), domains. Shows what
    /// changes and asks first.
    Rollback {
        app: String,
        /// A specific earlier deployment to go back to.
        #[arg(long, value_name = "DEPLOYMENT")]
        to: Option<String>,
        /// Roll back without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Write the setup as YAML: servers (no keys), projects, apps and services with their
    /// settings, variables (secrets as references, never values) and domains.
    Export {
        /// Only this project: its apps and services, and their servers.
        #[arg(long)]
        project: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Read a setup file (`berth export`'s): shows what changes, then creates what is missing
    /// and updates what differs (changes to deployed apps wait as pending changes). Nothing
    /// is removed unless --prune.
    Import {
        /// The file (`-`: standard input).
        file: PathBuf,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also remove apps, services, projects, variables and domains the file leaves out.
        #[arg(long)]
        prune: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pending changes: what an app's settings, variables and domains say now against what
    /// its serving deployment runs with, and what applying them takes.
    Plan {
        /// The app (leave out with --project).
        app: Option<String>,
        /// Every app and service of the project.
        #[arg(long, value_name = "PROJECT", conflicts_with = "app")]
        project: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Put pending changes in place with the least that does it: a route change, a blue-green
    /// restart from the serving image, or a redeploy. A failure leaves what serves as it was
    /// and the changes pending.
    Apply {
        app: Option<String>,
        #[arg(long, value_name = "PROJECT", conflicts_with = "app")]
        project: Option<String>,
        /// Apply without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Set the records back to what the serving deployment runs with (pending changes gone).
    Discard {
        app: Option<String>,
        #[arg(long, value_name = "PROJECT", conflicts_with = "app")]
        project: Option<String>,
    },
    /// Cancel the deploy, rollback or restart of an app that runs elsewhere (the window,
    /// another terminal, the server's relay) as Ctrl-C would: the previous version keeps
    /// serving.
    Cancel { app: String },
    /// Stop the app's container (it stays stopped until start, restart or deploy).
    Stop { app: String },
    /// Start the app's container again and wait until it is healthy.
    Start { app: String },
    /// Replace the container with a fresh one (same image, current env and limits), blue-green.
    Restart { app: String },
    /// Environment variables.
    #[command(subcommand)]
    Env(EnvCmd),
    /// Image registries Berth pulls from with a login (kept in the keychain).
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// Domains an app answers to through its server's proxy.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Where deploy results from webhooks are announced (ntfy, Slack, any URL).
    #[command(subcommand)]
    Notify(NotifyCmd),
    /// Compare what Berth recorded with what the servers run: a serving container gone or
    /// stopped, containers no deployment owns, routes missing or stale, deploys left in
    /// progress. With --fix, fix each the way a deploy would.
    Reconcile {
        /// Only this server (default: every server).
        #[arg(long)]
        server: Option<String>,
        /// Fix what was found (a gone container is deployed again from its recorded image).
        #[arg(long)]
        fix: bool,
        #[arg(long)]
        json: bool,
    },
    /// Stay connected to the servers' relays and deploy each webhook delivery as it arrives
    /// (and the backlog first); one line per result. Ctrl-C stops.
    Watch {
        /// Only this server (default: every server with a relay).
        #[arg(long)]
        server: Option<String>,
        /// Deploy what is queued now, then exit.
        #[arg(long)]
        once: bool,
        /// Poll image apps' registries for new tags every SECS (0: never; default 300, the
        /// desktop's interval). An app's first poll is its baseline; with --once, one poll.
        #[arg(long, value_name = "SECS")]
        poll: Option<u64>,
    },
    /// An app's CPU, memory, network, block I/O and restarts over time, as its server's
    /// relay sampled them (every 10 s for a day, 5-minute averages for 30 days).
    Stats {
        app: String,
        /// How far back: 1h (default), 24h, 7d, up to 30d.
        #[arg(long, default_value = "1h")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// What the health monitor saw, newest first: unhealthy, restarted, crash loop,
    /// recovered, disk full, server unreachable.
    Alerts {
        /// Only this app's.
        #[arg(long)]
        app: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every mutating action, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Back up a service or an app now: PostgreSQL with pg_dump (custom format), MySQL/MariaDB
    /// with mysqldump, Redis its RDB and append-only files (saved, copied while paused); a
    /// plain-image service or an app, its volumes (copied while it is paused for a moment).
    #[command(
        after_help = "Examples:\n  berth backup create db\n  berth backup create db --to offsite --keep 7\n  berth backup create web        # an app's volumes"
    )]
    Create {
        /// A service, or an app with volumes.
        service: String,
        /// The target to keep it in (default: the service's own server, /var/lib/berth/backups).
        #[arg(long, value_name = "TARGET")]
        to: Option<String>,
        /// Then remove the good backups beyond the N newest (never the newest good one).
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// List a service's (or an app's) backups, newest first: when, size, how long, result.
    Ls {
        service: String,
        /// The target to list (default: the service's own server).
        #[arg(long = "in", value_name = "TARGET")]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Put a backup's data back (checksum proven first): into the service itself, which asks
    /// for confirmation (or --yes), or into another service of the same kind (--into). Files
    /// are put back with the container stopped and its volumes emptied first.
    Restore {
        service: String,
        /// A backup id (or a unique start of one), or `latest`.
        backup: String,
        #[arg(long = "from", value_name = "TARGET")]
        target: Option<String>,
        /// Another service of the same kind (or app) to restore into (a copy to look at).
        #[arg(long, value_name = "SERVICE")]
        into: Option<String>,
        /// Overwrite without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Restore a backup into a throwaway container of the same image, check what it holds,
    /// and remove it: proof that it restores. The service is not touched. (An app's files are
    /// unpacked into a copy that is never started, and counted.)
    Verify {
        service: String,
        /// A backup id (or a unique start of one), or `latest`.
        backup: String,
        #[arg(long = "from", value_name = "TARGET")]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Have the server's relay back a service (or an app's volumes) up on a schedule (the
    /// laptop can be closed),
    /// keeping the newest N good backups. Times are UTC.
    #[command(
        after_help = "Examples:\n  berth backup schedule db --cron '0 3 * * *' --keep 7\n  berth backup schedule db --cron '@hourly' --keep 24 --to disk2"
    )]
    Schedule {
        service: String,
        /// minute hour day-of-month month day-of-week (UTC), or @hourly, @daily, @weekly.
        #[arg(long)]
        cron: String,
        #[arg(long, default_value_t = 7)]
        keep: u32,
        /// A target on the service's server (default: its /var/lib/berth/backups).
        #[arg(long, value_name = "TARGET")]
        to: Option<String>,
    },
    /// Stop a service's scheduled backups (its backups stay).
    Unschedule { service: String },
    /// List the backup schedules, with when each runs next.
    Schedules {
        #[arg(long)]
        json: bool,
    },
    /// Where backups are kept.
    #[command(subcommand)]
    Target(BackupTargetCmd),
    /// The key encrypted targets seal backups with (age, kept in the keychain).
    #[command(subcommand)]
    Key(BackupKeyCmd),
}

#[derive(Debug, Subcommand)]
pub enum BackupKeyCmd {
    /// The public half (age1…): what backups are sealed to. Made if there is none yet.
    Show,
    /// Print the secret half (AGE-SECRET-KEY-1…) to keep somewhere safe or to import on a
    /// teammate's machine: sealed backups open only with it. `age -d -i KEYFILE` opens them
    /// without Berth too.
    Export,
    /// Keep a secret key (read from stdin: the key, or a key file by age-keygen) as this
    /// machine's backup key.
    Import {
        /// Replace a different key already here (backups sealed to it stop opening here).
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CronCmd {
    /// Run COMMAND whenever the schedule matches (UTC), by the app's server's relay, in a fresh
    /// container made like the serving one (image, env, network, limits, volumes), removed
    /// after; each run an event of the app (`berth alerts`) told to its notifiers.
    #[command(
        after_help = "Examples:\n  berth cron add web nightly --schedule '0 2 * * *' -- bin/cleanup\n  berth cron add web sweep --schedule '*/15 * * * *' -- sh -c 'rake sweep'"
    )]
    Add {
        app: String,
        name: String,
        /// minute hour day-of-month month day-of-week (UTC), or @hourly, @daily, @weekly.
        #[arg(long)]
        schedule: String,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List cron jobs (of one app), with when each runs next.
    Ls {
        app: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a cron job.
    Rm { app: String, name: String },
}

#[derive(Debug, Subcommand)]
pub enum BackupTargetCmd {
    /// Add a place to keep backups; it is written to and read back first.
    #[command(
        after_help = "Locations:\n  local                  Berth's data directory on this machine (backups/)\n  local:/DIR             a directory on this machine\n  ssh://SERVER/DIR       a directory on one of your Berth servers (ssh://SERVER alone: /var/lib/berth/backups)\n  s3://BUCKET[/PREFIX]   S3 or S3-compatible storage (--endpoint URL; keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n\nExamples:\n  berth backup target add offsite ssh://backup-box/srv/backups --encrypt\n  berth backup target add laptop local\n  AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… berth backup target add s3 s3://acme-backups/berth --endpoint https://s3.eu-central-003.backblazeb2.com --encrypt"
    )]
    Add {
        name: String,
        location: String,
        /// Seal every backup kept here with this machine's backup key (age; made and kept in
        /// the keychain if there is none yet — export it: `berth backup key export`).
        #[arg(long)]
        encrypt: bool,
        /// s3:// targets: the storage's URL when it is not AWS (MinIO, Garage, R2, B2, …).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// s3:// targets: the bucket's region (default us-east-1).
        #[arg(long)]
        region: Option<String>,
        /// s3:// targets: the access key id (default: $AWS_ACCESS_KEY_ID); the secret is read
        /// from $AWS_SECRET_ACCESS_KEY. Both are kept in the keychain.
        #[arg(long, value_name = "ID")]
        access_key_id: Option<String>,
    },
    /// List the targets.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Forget a target (the backups in it stay where they are).
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create a service and start it: a named volume for its data, credentials generated into
    /// the keychain, reachable by its name from the apps on its server only (never published
    /// unless --publish), ready when its kind's own probe passes.
    #[command(
        // `--version` is the image's tag here, not Berth's.
        disable_version_flag = true,
        after_help = "Examples:\n  berth service create db --kind postgres --version 16 --memory 512m\n  berth service create cache --kind redis\n  berth service create search --image getmeili/meilisearch:v1.8 --port 7700 --volume search-data:/meili_data"
    )]
    Create(Box<ServiceCreate>),
    /// List services, with the apps linked to each.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// A service: kind, image, where apps reach it, links, credentials' keys, what serves.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Give an app the service's connection string as a secret variable (from its next deploy
    /// or restart).
    Link {
        service: String,
        #[arg(long)]
        app: String,
        /// The variable's name (default: DATABASE_URL for databases, REDIS_URL for Redis).
        #[arg(long = "as", value_name = "VAR")]
        var: Option<String>,
    },
    /// Take a link away (and the app's variable with it).
    Unlink {
        service: String,
        #[arg(long)]
        app: String,
        #[arg(long = "as", value_name = "VAR")]
        var: Option<String>,
    },
    /// Stop the service (it stays stopped until start or restart).
    Stop { name: String },
    /// Start it again and wait until it is ready.
    Start { name: String },
    /// Replace its container with a fresh one (same image, current env): stopped first, so
    /// its data has one owner; the old one starts again if the new one is not ready.
    Restart { name: String },
    /// Its output.
    Logs {
        name: String,
        #[arg(long, short = 'n', default_value_t = 100)]
        tail: usize,
        #[arg(long, short)]
        follow: bool,
    },
    /// Remove the service (refused while apps are linked to it). Its data volume stays unless
    /// --purge.
    Rm {
        name: String,
        /// Also remove its data volume and images: its data is gone.
        #[arg(long)]
        purge: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServiceCreate {
    pub name: String,
    /// The server (may be left out when there is only one, or the project names one).
    #[arg(long)]
    pub server: Option<String>,
    /// The project it belongs to.
    #[arg(long)]
    pub project: Option<String>,
    /// postgres, mysql, mariadb or redis (left out with --image: any other image).
    #[arg(long)]
    pub kind: Option<String>,
    /// The kind's image tag (default: postgres 16, mysql 8.4, mariadb 11, redis 7).
    #[arg(long, value_name = "TAG")]
    pub version: Option<String>,
    /// The image to run instead of the kind's official one (a mirror, or any image).
    #[arg(long)]
    pub image: Option<String>,
    /// The port an --image service listens on (default: the image's EXPOSE).
    #[arg(long)]
    pub port: Option<u16>,
    /// Memory limit (512m, 1g).
    #[arg(long)]
    pub memory: Option<String>,
    /// CPU limit (0.5, 2).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Publish it on the server's loopback: 127.0.0.1:PORT (reach it through an SSH tunnel).
    #[arg(long, value_name = "127.0.0.1:PORT")]
    pub publish: Option<String>,
    /// SRC:DST[:ro], where a plain image keeps its data (repeatable): SRC a named volume or an
    /// absolute path on the server. Backed up as files (`berth backup create`).
    #[arg(long = "volume", value_name = "SRC:DST")]
    pub volumes: Vec<String>,
    /// Store it without starting it.
    #[arg(long)]
    pub no_start: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCmd {
    /// Add a registry's login (or replace it): the password or token is read from stdin or
    /// asked for, and kept in the keychain.
    Add {
        name: String,
        /// The registry: ghcr.io, registry.example.com:5000, https://… (scheme dropped).
        #[arg(long)]
        url: String,
        #[arg(long)]
        username: String,
        /// Read the password or token from stdin (else it is asked for on a terminal).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List registries.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Remove a registry and its password (refused while an image app pulls from it).
    Rm { name: String },
    /// Log in through the server's Docker, as a pull there would: ok, or why not.
    Test {
        name: String,
        /// Server to test from (may be left out when there is only one).
        #[arg(long)]
        server: Option<String>,
    },
    /// How often registries are looked at for new tags of image apps — by `berth watch` and
    /// the desktop, and by the relays of apps with an unattended webhook (0: never). Without
    /// SECS, the current interval.
    Poll { secs: Option<u64> },
    /// A repository's tags, newest first (the registry's API, reached from the server).
    Tags {
        name: String,
        /// `acme/web`, or an image reference on this registry.
        repository: String,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// Connect to a server, confirm its host key, check Docker and remember it.
    Add(Box<ServerAdd>),
    /// List servers.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Docker version, API version, latency, free memory and disk. Without a name, every
    /// server at once (a table).
    Check {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rebuild Berth's records of the server's apps from its containers' labels (after the data
    /// dir was lost, or on a teammate's machine): apps, domains, plain env values, the serving
    /// deployment. Secret values are listed to be set again, never guessed.
    Import {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Reclaim disk: Berth's images no rollback can reach (removed apps', those beyond what
    /// retention keeps), dangling images and unused build cache. Never an image a rollback
    /// needs, never one that is not Berth's.
    Prune {
        name: String,
        /// Say what would go; remove nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// The host's CPU, load, memory and disks over time (kept by its relay), and what
    /// Docker's images, containers, volumes and build cache take.
    Stats {
        name: String,
        /// How far back: 1h (default), 24h, 7d, up to 30d.
        #[arg(long, default_value = "1h")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// The server's Caddy proxy: domains, automatic TLS, zero-downtime switches.
    #[command(subcommand)]
    Proxy(ProxyCmd),
    /// The server's webhook relay: the public endpoint git hosts deliver pushes to.
    #[command(subcommand)]
    Relay(RelayCmd),
    /// Change a server's settings.
    Set {
        name: String,
        /// Every app on the server answers to <app>.<base-domain> ("" clears it).
        #[arg(long, value_name = "DOMAIN")]
        base_domain: Option<String>,
        /// Subdomains of image apps' stages: `{stage}` and `{app}` replaced, an instance adds
        /// `-<tag>` (default stage-{stage}-{app}; "" puts it back).
        #[arg(long, value_name = "PATTERN")]
        stage_pattern: Option<String>,
        /// Default build-stage base image for generated Dockerfiles of apps on this server
        /// (an app's own --build-image wins). An empty value clears it.
        #[arg(long, value_name = "IMAGE")]
        build_image: Option<String>,
        /// Default runtime base image for generated Dockerfiles ("" clears it).
        #[arg(long, value_name = "IMAGE")]
        run_image: Option<String>,
        /// Reach it at another SSH target, USER@HOST[:PORT] (checked before it is kept: host
        /// key, Docker).
        #[arg(long, value_name = "USER@HOST[:PORT]")]
        ssh: Option<String>,
        /// Log in with another identity file ("" : the agent and ssh's defaults).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// Connect with the other SSH client: system or embedded.
        #[arg(long, value_parser = ["system", "embedded"])]
        transport: Option<String>,
        /// Trust a host key seen for the first time without asking (scripts).
        #[arg(long)]
        accept_new: bool,
    },
    /// Forget a server (no app may use it). Nothing on it is touched unless --purge.
    Rm {
        name: String,
        /// Also take Berth's services off the server: the proxy Berth runs (with its
        /// certificates) and the webhook relay (with its image and deliveries). A Caddy you
        /// adopted keeps running; only Berth's routes leave it.
        #[arg(long)]
        purge: bool,
    },
}

/// The system OpenSSH transport needs unix sockets; Windows uses the embedded client.
const DEFAULT_TRANSPORT: &str = if cfg!(unix) { "system" } else { "embedded" };

#[derive(Debug, Args)]
pub struct ServerAdd {
    pub name: String,
    /// USER@HOST[:PORT], or a Host alias from ~/.ssh/config (system transport).
    #[arg(
        long,
        value_name = "USER@HOST[:PORT]",
        conflicts_with = "local",
        required_unless_present = "local"
    )]
    pub ssh: Option<String>,
    /// This machine's own Docker socket, no SSH.
    #[arg(long)]
    pub local: bool,
    /// Private key file (its passphrase, if any, is kept in the keychain).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// `system`: the ssh binary (~/.ssh/config, agent, ProxyJump); `embedded`: built-in client.
    #[arg(long, default_value = DEFAULT_TRANSPORT, value_parser = ["system", "embedded"])]
    pub transport: String,
    /// Trust an unknown host key without asking (like OpenSSH's StrictHostKeyChecking=accept-new).
    #[arg(long)]
    pub accept_new: bool,
    /// Path of the Docker socket on the server.
    #[arg(long, value_name = "PATH")]
    pub docker_socket: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCmd {
    /// Run Caddy as the container `berth-proxy` (or adopt an existing Caddy with --admin).
    Install(Box<ProxyInstallArgs>),
    /// Whether the proxy runs and answers, and the routes Berth keeps in it.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ProxyInstallArgs {
    pub name: String,
    /// Caddy image (it must be on the server or pullable from its registry).
    #[arg(long, default_value = "caddy:2")]
    pub image: String,
    /// Account email for the ACME CA (Let's Encrypt), for --tls auto.
    #[arg(long, value_name = "EMAIL")]
    pub acme_email: Option<String>,
    /// Public HTTP port on the server.
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// Public HTTPS port on the server.
    #[arg(long, default_value_t = 443)]
    pub https_port: u16,
    /// auto: certificates from ACME; internal: Caddy's own CA; off: plain HTTP.
    #[arg(long, default_value = "auto", value_parser = ["auto", "internal", "off"])]
    pub tls: String,
    /// Adopt the Caddy already running on the server at this admin endpoint
    /// (unix:/path or 127.0.0.1:2019) instead of running one.
    #[arg(long, value_name = "ENDPOINT")]
    pub admin: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RelayCmd {
    /// Build the relay image on the server and run it as the container `berth-relay`.
    Install {
        name: String,
        /// Public name for webhooks, routed (with TLS) by the server's proxy.
        #[arg(long, value_name = "DOMAIN")]
        hooks_domain: Option<String>,
        /// The relay's port on the server's loopback.
        #[arg(long, default_value_t = 9080)]
        listen_port: u16,
        /// Largest webhook body accepted, in bytes (bigger ones get 413; GitHub sends up to
        /// 25 MB).
        #[arg(long, default_value_t = berth_model::RelayConfig::DEFAULT_BODY_LIMIT)]
        body_limit: usize,
        /// Requests per minute per client address (429 beyond); 0 turns the limit off.
        #[arg(long, default_value_t = 120)]
        rate_limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Whether the relay answers, its hooks and queue.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Every request the relay received, for every app — also those to unknown hook URLs
    /// (a URL pasted wrong, a disabled webhook).
    Deliveries {
        name: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The relay's Prometheus metrics, read over SSH.
    Metrics { name: String },
    /// Publish the relay's metrics on its hooks domain (`/metrics`) for a Prometheus to scrape:
    /// prints the URL and the bearer token it wants (made on first use).
    MetricsToken {
        name: String,
        /// A new token; the old one stops working.
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Give the app a webhook URL and secret to paste into the git host.
    Enable {
        app: String,
        #[arg(long, value_parser = ["github", "gitlab", "gitea", "generic"])]
        provider: String,
        /// Branch (or pattern like `release/*`) whose pushes deploy; default: the app's branch.
        #[arg(long)]
        branch: Option<String>,
        /// Tag pattern (like `v*`) whose pushes deploy; tag pushes are skipped without one.
        #[arg(long, value_name = "PATTERN")]
        tags: Option<String>,
        /// Let the relay deploy on its own, without the desktop or `berth watch`: it fetches
        /// the pushed commit from the app's git URL (https with --git-token, ssh with a deploy
        /// key Berth makes and shows, or git://).
        #[arg(long)]
        unattended: bool,
        /// Unattended over https: a token with read access to the repository — `-` to be asked
        /// for it (or pipe it on stdin), or the env var BERTH_GIT_TOKEN; never its value on the
        /// command line. An empty value forgets it.
        #[arg(
            long,
            env = "BERTH_GIT_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN"
        )]
        git_token: Option<String>,
        /// The user the token is sent as (default: the URL's user, else `x-access-token`;
        /// GitLab deploy tokens need their own user name).
        #[arg(long, value_name = "USER", requires = "git_token")]
        git_user: Option<String>,
        /// Let a push deploy a commit that does not descend from the one serving (history
        /// rewritten by a force-push). Without it such a push is refused and recorded with the
        /// reason; `berth deploy APP --ref COMMIT` still deploys anything by hand.
        #[arg(long)]
        allow_force_push: bool,
        #[arg(long)]
        json: bool,
    },
    /// The webhook's URL and settings (--reveal: its secret too).
    Show {
        app: String,
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every delivery the relay received for the app: time, event, branch, commit, verdict, why.
    Deliveries {
        app: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Remove the webhook (its URL answers 404 from now on).
    Disable { app: String },
    /// A new secret for the same URL (the old one stops working at once).
    RotateSecret {
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// A new deploy key for fetching a private repository over SSH (add its public half to
    /// the git host, then remove the old one there).
    RotateDeployKey {
        app: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Add a notifier: `ntfy`, `slack` (any Slack-compatible incoming webhook) or `webhook`
    /// (the result as JSON). Its URL is a secret (its path is the token): give `-` to be asked
    /// for it, or pipe it on stdin.
    Add {
        #[arg(value_parser = ["ntfy", "slack", "webhook"])]
        kind: String,
        #[arg(value_name = "-")]
        url: String,
        /// Only this app's notices (a staged app's include its instances'); default: every app.
        #[arg(long)]
        app: Option<String>,
        /// Only these kinds: deploy (every deploy, rollback, restart result), image (a new tag
        /// waiting for a yes), alert; comma-separated. Default: every kind.
        #[arg(long, value_name = "LIST")]
        events: Option<String>,
    },
    /// Change which notices a notifier hears.
    Route {
        id: i64,
        /// Only this app's notices.
        #[arg(long, conflicts_with = "all_apps")]
        app: Option<String>,
        /// Every app's notices.
        #[arg(long)]
        all_apps: bool,
        /// Only these kinds (deploy, image, alert; comma-separated).
        #[arg(long, value_name = "LIST", conflicts_with = "all_events")]
        events: Option<String>,
        /// Every kind.
        #[arg(long)]
        all_events: bool,
    },
    /// The notifiers (URLs shortened: they often carry a token) and what each hears.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Remove a notifier.
    Rm { id: i64 },
    /// Send a test notice to every notifier (or one), whatever it is routed to.
    Test { id: Option<i64> },
}

#[derive(Debug, Subcommand)]
pub enum DomainCmd {
    /// Add a domain (point its DNS at the server). A deployed app's route takes it with
    /// `berth apply` (it is a pending change), or at once with --apply.
    Add {
        app: String,
        domain: String,
        /// Make it the app's primary domain.
        #[arg(long)]
        primary: bool,
        /// Route it now (with the app's other pending domain changes).
        #[arg(long)]
        apply: bool,
    },
    /// Remove a domain (not the primary one); pending until `berth apply`, or --apply.
    Rm {
        app: String,
        domain: String,
        /// Unroute it now.
        #[arg(long)]
        apply: bool,
    },
    /// Make one of the app's domains its primary one (where it answers first); pending
    /// until `berth apply`, or --apply.
    Primary {
        app: String,
        domain: String,
        /// Route it so now.
        #[arg(long)]
        apply: bool,
    },
    /// The app's domains with their certificate state.
    Ls {
        app: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create an app from a git repository (--git) or an image in a registry (--image).
    Create(Box<AppCreate>),
    /// List apps.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Change an app's settings: every one `app create` takes. They apply from the next
    /// deploy or restart (the monitor's at once, on a server with a relay).
    #[command(
        after_help = "Examples:\n  berth app set web --memory 512m --port 3000 --health-path /up\n  berth app set web --volume data:/data --rm-volume /cache\n  berth app set web --project shop"
    )]
    Set(Box<AppSet>),
    /// An app's settings.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove an app's containers and records (--purge: also its images and named volumes).
    Rm {
        name: String,
        #[arg(long)]
        purge: bool,
    },
    /// Deploy on `git push`: the app's webhook on its server's relay.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// An image app's stages (dev, rel, prod): which tags each takes, how many run side by
    /// side, how tags get there.
    #[command(subcommand)]
    Stage(StageCmd),
}

#[derive(Debug, Subcommand)]
pub enum StageCmd {
    /// Add a stage (or change the one with that name).
    Add {
        app: String,
        name: String,
        /// Tag patterns the stage takes: `dev-*`, `v*` (`*`, `?`; several separated by `,`).
        #[arg(long)]
        tags: String,
        /// Deploy a new matching tag (webhook, polling) without asking.
        #[arg(long)]
        auto_deploy: bool,
        /// Keep this many newest healthy tags running side by side, each at its own subdomain.
        #[arg(long, default_value_t = 1)]
        max_instances: u32,
        /// Promotion takes only tags that ran healthy in this stage (`berth promote`).
        #[arg(long, value_name = "STAGE")]
        promote_from: Option<String>,
        /// Never deploy without the user's yes.
        #[arg(long)]
        confirm: bool,
        /// The stage's own name under the server's base domain instead of the pattern's.
        #[arg(long, value_name = "LABEL")]
        subdomain: Option<String>,
    },
    /// An app's stages.
    Ls {
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a stage and its instances (containers, routes, images).
    Rm { app: String, name: String },
}

#[derive(Debug, Args)]
pub struct AppSet {
    pub app: String,
    /// Move it into a project (`''`: out of its project).
    #[arg(long)]
    pub project: Option<String>,
    /// Build from this git repository (path or URL) instead.
    #[arg(long, value_name = "PATH_OR_URL", conflicts_with = "image")]
    pub git: Option<String>,
    /// Run this image instead (`registry/repository:tag`); it is pulled on the server first.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The branch deployed by default.
    #[arg(long)]
    pub branch: Option<String>,
    /// Dockerfile path in the repository (`''`: Dockerfile if present, else detection).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<String>,
    /// Port the app listens on in the container.
    #[arg(long)]
    pub port: Option<u16>,
    /// Path probed with GET after start; 2xx/3xx is healthy.
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
    /// Seconds the new container has to become healthy.
    #[arg(long, value_name = "SECS")]
    pub health_timeout: Option<u64>,
    /// Seconds the previous version gets to finish in-flight requests after the switch.
    #[arg(long, value_name = "SECS")]
    pub drain_timeout: Option<u32>,
    /// Seconds a stopping container gets between SIGTERM and SIGKILL.
    #[arg(long, value_name = "SECS")]
    pub stop_grace: Option<u32>,
    /// CPU limit, e.g. 0.5 (`none`: no limit).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory limit, e.g. 256m or 1g (`none`: no limit).
    #[arg(long)]
    pub memory: Option<String>,
    /// SRC:DST[:ro] (repeatable): adds a volume, or replaces the one mounted at DST.
    #[arg(long = "volume", value_name = "SRC:DST")]
    pub volumes: Vec<String>,
    /// Stop mounting the volume at DST (repeatable; its data stays on the server).
    #[arg(long = "rm-volume", value_name = "DST")]
    pub rm_volumes: Vec<String>,
    /// Build-stage base image for generated Dockerfiles (`''`: the server's default).
    #[arg(long, value_name = "IMAGE")]
    pub build_image: Option<String>,
    /// Runtime base image for generated Dockerfiles (`''`: the server's default).
    #[arg(long, value_name = "IMAGE")]
    pub run_image: Option<String>,
    /// How often the monitor probes the health path: 30s, 2m, or `off`.
    #[arg(long, value_name = "INTERVAL")]
    pub monitor_interval: Option<String>,
    /// Failed probes in a row before the monitor restarts the container.
    #[arg(long, value_name = "N")]
    pub unhealthy_after: Option<u32>,
    /// A shell command run before each switch in a new container from the new image
    /// (e.g. `bin/migrate`); failing fails the deploy. `''` removes it.
    #[arg(long, value_name = "COMMAND")]
    pub release_command: Option<String>,
    /// The shell command that starts the app, instead of its Procfile's `web` line, what
    /// detection guesses, or its image's CMD. `''` removes it.
    #[arg(long, value_name = "COMMAND")]
    pub start_command: Option<String>,
    /// Who owns the app's folder in a generated image: `writable` (its user, the
    /// default) or `read-only` (root).
    #[arg(long, value_name = "MODE", value_parser = ["writable", "read-only"])]
    pub app_dir: Option<String>,
    /// Apply at once (`berth apply`) instead of leaving the change pending.
    #[arg(long)]
    pub apply: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppCreate {
    pub name: String,
    /// Server to run on (may be left out when there is only one, or the project names one).
    #[arg(long)]
    pub server: Option<String>,
    /// The project it belongs to (its variables are the app's too).
    #[arg(long)]
    pub project: Option<String>,
    /// Path to a git repository, or a URL git can clone.
    #[arg(long, value_name = "PATH_OR_URL", required_unless_present = "image")]
    pub git: Option<String>,
    /// Run this image instead of building git: `registry/repository:tag` (the tag is the one
    /// `berth deploy` pulls by default). It is pulled on the server now; a port or health path
    /// not given is read from it (label berth.port / berth.health-path, EXPOSE, HEALTHCHECK).
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["git", "branch", "dockerfile"])]
    pub image: Option<String>,
    /// The registry the image is on (`berth registry add`): `--image acme/web:1.4` then
    /// means that registry's acme/web. Without it, the registry added for the image's host
    /// (if any) gives the login.
    #[arg(long, value_name = "NAME", requires = "image")]
    pub registry: Option<String>,
    /// Branch deployed by default (default: main).
    #[arg(long)]
    pub branch: Option<String>,
    /// Dockerfile path in the repository (default: Dockerfile, else runtime detection).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<String>,
    /// Port the app listens on in the container (default: 8080, or what the image says).
    #[arg(long)]
    pub port: Option<u16>,
    /// Path probed with GET after start; 2xx/3xx is healthy (default: /, or what the image
    /// says).
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
    /// Seconds the new container has to become healthy.
    #[arg(long, value_name = "SECS")]
    pub health_timeout: Option<u64>,
    /// Seconds the previous version gets to finish in-flight requests after the switch
    /// (default 30).
    #[arg(long, value_name = "SECS")]
    pub drain_timeout: Option<u32>,
    /// How often the monitor probes the health path once deployed: 30s (default), 2m, or
    /// `off`.
    #[arg(long, value_name = "INTERVAL")]
    pub monitor_interval: Option<String>,
    /// Failed probes in a row before the monitor restarts the container (default 3).
    #[arg(long, value_name = "N")]
    pub unhealthy_after: Option<u32>,
    /// A shell command run before each switch in a new container from the new image (its
    /// env, network and volumes), e.g. `bin/migrate`; failing fails the deploy.
    #[arg(long, value_name = "COMMAND")]
    pub release_command: Option<String>,
    /// The shell command that starts the app, instead of its Procfile's `web` line, what
    /// detection guesses, or its image's CMD.
    #[arg(long, value_name = "COMMAND")]
    pub start_command: Option<String>,
    /// Leave the app's folder in a generated image to root: the app cannot write beside its
    /// code (by default the user it runs as owns it).
    #[arg(long)]
    pub read_only_app_dir: bool,
    /// CPU limit, e.g. 0.5.
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory limit, e.g. 256m or 1g.
    #[arg(long)]
    pub memory: Option<String>,
    /// KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// SRC:DST[:ro], SRC a named volume or an absolute path on the server (repeatable).
    #[arg(long = "volume", value_name = "SRC:DST")]
    pub volumes: Vec<String>,
    /// Build-stage base image for generated Dockerfiles.
    #[arg(long, value_name = "IMAGE")]
    pub build_image: Option<String>,
    /// Runtime base image for generated Dockerfiles.
    #[arg(long, value_name = "IMAGE")]
    pub run_image: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Set variables of an app, or of a project with --project (every member gets those; a
    /// member's own value wins). They take effect on the next deploy or restart.
    #[command(
        after_help = "Examples:\n  berth env set web LOG_LEVEL=debug\n  berth env set --project shop LOG_LEVEL=info\n  berth env set web API_KEY=- --secret"
    )]
    Set {
        /// The app, then KEY=VALUE pairs (with --project: pairs only). With --secret,
        /// `KEY=-`: the value is asked for (or read from stdin), never written on the
        /// command line.
        #[arg(value_name = "APP KEY=VALUE", required = true)]
        args: Vec<String>,
        /// Set the project's variables instead of an app's.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Keep the values in the keychain; only the keys are recorded.
        #[arg(long)]
        secret: bool,
        /// Also pass the values to the app's builds as build args (NEXT_PUBLIC_*, VITE_*
        /// style frameworks bake them into bundles). Never for secrets; apps only.
        #[arg(long, conflicts_with = "project")]
        build: bool,
        /// Apply at once (`berth apply`) instead of leaving the change pending.
        #[arg(long)]
        apply: bool,
    },
    /// Remove variables of an app (or of a project with --project).
    Unset {
        /// The app, then keys (with --project: keys only).
        #[arg(value_name = "APP KEY", required = true)]
        args: Vec<String>,
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Apply at once (`berth apply`) instead of leaving the change pending.
        #[arg(long)]
        apply: bool,
    },
    /// List variables (secret values are masked): an app's own, with --resolved what its
    /// containers get (its project's too, and where each comes from), or a project's.
    Ls {
        /// The app (leave out with --project).
        app: Option<String>,
        #[arg(long, value_name = "PROJECT", conflicts_with_all = ["app", "resolved"])]
        project: Option<String>,
        /// Every variable the app's containers get, with where it comes from.
        #[arg(long)]
        resolved: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print one variable's value, a secret one included (the window's "show"): on a
    /// terminal a secret's value is shown only after a yes (printed into a pipe or a file,
    /// it is not asked about).
    Get {
        /// The app, then the key (with --project: the key only).
        #[arg(value_name = "APP KEY", required = true, num_args = 1..=2)]
        args: Vec<String>,
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Show a secret on the terminal without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a project (`--server`: where members go when created without one).
    Create {
        name: String,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Projects with their members and variables.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// One project: its server, members and variables.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a project and its variables (refused while apps or services belong to it).
    Rm { name: String },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    /// Every subcommand's arguments fit together (clap checks names, ids and flags only when
    /// a command is parsed: this parses them all).
    #[test]
    fn every_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
