//! The webhook relay of a server as a plan: its image built on the server `FROM scratch` out
//! of the static binary Berth carries (no registry involved), its container with the host's
//! Docker socket and the proxy's admin directory, and the control client every webhook
//! operation uses — a stream channel of the session to its unix socket.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use berth_docker::{Publish, ServiceSpec, labels};
use berth_model::Server;
use berth_relay_proto::client::{BoxStream, ControlClient, Dial};
use berth_relay_proto::proto;
use berth_ssh::{Forward, RemoteTarget};

use crate::NETWORK;
use crate::error::EngineError;
use crate::host::Host;
use crate::plan::Plan;
use crate::service::{
    PrepareTask, Readiness, ServiceImage, ServiceInstall, ServiceOnHost, install_service,
    plan_service,
};

/// How the relay should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayService {
    /// The loopback port of the server its HTTP listener is published on.
    pub listen_port: u16,
    pub body_limit: usize,
    pub rate_per_minute: u32,
    /// Mount the host's Docker socket (and the host's `/`, read-only): the relay samples,
    /// monitors and deploys unattended with it. Without it the relay takes webhooks only and
    /// cannot touch Docker at all.
    pub docker: bool,
    /// The Docker socket's group on the server (numeric): the relay joins it and gives its
    /// control socket to it, so a login user in the `docker` group may ask the relay too.
    /// `None`: root alone may.
    pub control_group: Option<u32>,
    /// Its log filter (`BERTH_RELAY_LOG`, e.g. `debug`); `None`: `info`.
    pub log: Option<String>,
    /// Seconds between its reconciles (`BERTH_RELAY_RECONCILE_EVERY`); `None`: its default.
    pub reconcile_every: Option<u64>,
}

/// The group (numeric id) of the Docker socket `socket` on `host`, if the server says.
pub async fn docker_socket_group(host: &Host, socket: &str) -> Option<u32> {
    let quoted = socket.replace('\'', "");
    match host
        .transport()
        .exec(&format!("stat -c %g '{quoted}'"))
        .await
    {
        Ok(out) if out.success() => String::from_utf8_lossy(&out.stdout).trim().parse().ok(),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!("cannot read the Docker socket's group: {e}");
            None
        }
    }
}

/// The server architectures Berth builds a relay for.
pub const RELAY_ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// `x86_64` / `aarch64` from what Docker reports (`amd64`, `x86_64`, `arm64` …).
fn normalize_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" | "amd64" => Some("x86_64"),
        "aarch64" | "arm64" => Some("aarch64"),
        _ => None,
    }
}

/// The architecture of the server's relay binary: `x86_64` or `aarch64`.
pub async fn relay_arch(host: &Host) -> Result<&'static str, EngineError> {
    let engine = host.docker().info().await?;
    normalize_arch(&engine.arch).ok_or_else(|| {
        EngineError::Invalid(format!(
            "Berth has no relay for {} servers (only {})",
            engine.arch,
            RELAY_ARCHES.join(" and ")
        ))
    })
}

/// Checks that `bytes` (read from `path`) is a static Linux executable for `arch`: a
/// `FROM scratch` image has no dynamic loader.
pub fn check_relay_binary(bytes: &[u8], arch: &str, path: &Path) -> Result<(), EngineError> {
    let bad = |why: &str| {
        EngineError::Invalid(format!(
            "{} cannot run in the relay container: {why}",
            path.display()
        ))
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(bad("it is not a Linux executable"));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(bad("it is not a 64-bit little-endian executable"));
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let machine = match u16_at(18) {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        _ => "another architecture",
    };
    if machine != arch {
        return Err(bad(&format!(
            "it is built for {machine}, the server is {arch}"
        )));
    }
    // No PT_INTERP program header: statically linked.
    let phoff = usize::try_from(u64_at(32)).unwrap_or(usize::MAX);
    let phentsize = usize::from(u16_at(54));
    let phnum = usize::from(u16_at(56));
    for i in 0..phnum {
        let at = phoff.saturating_add(i.saturating_mul(phentsize));
        if at.saturating_add(4) > bytes.len() {
            return Err(bad("its program headers are cut off"));
        }
        if u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) == 3 {
            return Err(bad(
                "it is dynamically linked (build it with scripts/build-relay.sh)",
            ));
        }
    }
    Ok(())
}

/// A short stable tag for a binary (FNV-1a; only tells builds apart).
fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The build context of the relay image: a Dockerfile and the binary.
fn image_context(binary: &[u8]) -> Result<Vec<u8>, EngineError> {
    let dockerfile = format!(
        "FROM scratch\nCOPY berth-relay /berth-relay\nEXPOSE {port}\n\
         HEALTHCHECK --interval=30s --timeout=5s CMD [\"/berth-relay\", \"healthcheck\"]\n\
         ENTRYPOINT [\"/berth-relay\"]\nCMD [\"serve\"]\n",
        port = proto::LISTEN_PORT
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
    };
    let io_err = |e: io::Error| EngineError::Task(format!("cannot pack the relay image: {e}"));
    add("Dockerfile", dockerfile.as_bytes(), 0o644).map_err(io_err)?;
    add("berth-relay", binary, 0o755).map_err(io_err)?;
    tar.into_inner().map_err(io_err)
}

/// Where the relay sees the host's `/` (read-only).
pub const HOST_ROOT: &str = "/host";

/// What installing the relay out of `binary` on `server` means: its image (tagged with
/// Berth's version and the binary's digest, so an upgrade is a new image) and its container.
pub fn relay_install(
    server: &Server,
    want: &RelayService,
    binary: &[u8],
) -> Result<ServiceInstall, EngineError> {
    let image = format!(
        "{}:{}-{}",
        proto::IMAGE_REPO,
        env!("CARGO_PKG_VERSION"),
        &digest(binary)[..12]
    );
    let mut binds = vec![
        format!("{}:/data", proto::DATA_VOLUME),
        format!("{dir}:{dir}", dir = proto::CONTROL_DIR),
    ];
    // Monitoring and unattended deploys: the host's Docker socket, the directory of the
    // managed Caddy's admin socket (present or not yet), and the host's filesystem read-only
    // (its disks' use; whoever has the Docker socket could read it anyway).
    if want.docker {
        binds.push(format!("{}:/var/run/docker.sock", server.docker_socket));
        binds.push(format!("{dir}:{dir}", dir = crate::proxy::ADMIN_DIR));
        binds.push(format!("/:{HOST_ROOT}:ro"));
    }
    // The image and the container carry the same labels.
    let relay_labels = HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::ROLE.to_owned(), "relay".to_owned()),
    ]);
    // Its user owns its data and socket directory; its group is the Docker socket's (when
    // known), so it reaches Docker without a capability and a docker-group login reaches it.
    let gid = want.control_group.unwrap_or(proto::RUN_AS_UID);
    let uid = if want.docker { 0 } else { proto::RUN_AS_UID };
    let prepare = PrepareTask {
        what: format!(
            "give the relay's data and socket directory to {}:{gid}",
            proto::RUN_AS_UID
        ),
        spec: ServiceSpec {
            name: format!("{}-prepare", proto::CONTAINER),
            image: image.clone(),
            cmd: vec![
                "own".into(),
                "--uid".into(),
                proto::RUN_AS_UID.to_string(),
                "--gid".into(),
                gid.to_string(),
                "/data".into(),
                proto::CONTROL_DIR.into(),
            ],
            env: vec![],
            labels: relay_labels.clone(),
            network: NETWORK.to_owned(),
            publish: vec![],
            binds: vec![
                format!("{}:/data", proto::DATA_VOLUME),
                format!("{dir}:{dir}", dir = proto::CONTROL_DIR),
            ],
            // Root with only the capabilities to change owners and modes, for one command.
            confined: true,
            sysctls: Default::default(),
            user: Some("0:0".to_owned()),
            cap_add: vec!["CHOWN".into(), "FOWNER".into(), "DAC_READ_SEARCH".into()],
            one_shot: true,
        },
    };
    Ok(ServiceInstall {
        what: "the relay".to_owned(),
        spec: ServiceSpec {
            name: proto::CONTAINER.to_owned(),
            image,
            cmd: {
                let mut cmd = vec![
                    "serve".into(),
                    "--body-limit".into(),
                    want.body_limit.to_string(),
                    "--rate-limit".into(),
                    want.rate_per_minute.to_string(),
                ];
                if let Some(gid) = want.control_group {
                    cmd.extend(["--control-group".into(), gid.to_string()]);
                }
                cmd
            },
            env: want
                .log
                .iter()
                .map(|l| format!("BERTH_RELAY_LOG={l}"))
                .chain(
                    want.reconcile_every
                        .map(|s| format!("BERTH_RELAY_RECONCILE_EVERY={s}")),
                )
                .collect(),
            labels: relay_labels.clone(),
            network: NETWORK.to_owned(),
            publish: vec![Publish {
                container_port: proto::LISTEN_PORT,
                host_ip: "127.0.0.1".to_owned(),
                host_port: want.listen_port,
            }],
            binds,
            // It parses what anyone on the internet sends: no capability, no new privilege,
            // nothing writable but its data and its control socket's directory.
            confined: true,
            sysctls: Default::default(),
            user: Some(format!("{uid}:{gid}")),
            cap_add: Vec::new(),
            one_shot: false,
        },
        image: ServiceImage::Build {
            labels: relay_labels,
            context: image_context(binary)?,
        },
        prepare: vec![prepare],
        files: vec![],
        ready: Readiness::Http {
            socket: proto::CONTROL_SOCKET.to_owned(),
            path: "/v1/info".to_owned(),
        },
        start_hint: format!(
            "is port {} free on {}'s loopback?",
            want.listen_port, server.name
        ),
    })
}

/// Plans installing the relay (see [`relay_install`]) on a server that has `on_host` of it.
pub fn plan_relay(
    server: &Server,
    want: &RelayService,
    binary: &[u8],
    on_host: ServiceOnHost,
) -> Result<Plan, EngineError> {
    Ok(plan_service(&relay_install(server, want, binary)?, on_host))
}

/// Installs or upgrades the relay on `host` from `binary`; returns the image it runs. Its
/// deliveries (a named volume) are kept.
pub async fn install_relay(
    host: &Host,
    server: &Server,
    want: &RelayService,
    binary: &[u8],
) -> Result<String, EngineError> {
    let install = relay_install(server, want, binary)?;
    install_service(host, &install).await?;
    Ok(install.spec.image)
}

struct ForwardDial {
    forward: Arc<Forward>,
    describe: String,
}

impl Dial for ForwardDial {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(async move { Ok(Box::new(self.forward.connect().await?) as BoxStream) })
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// The control client of the relay on `host`, over its session.
pub async fn relay_control(host: &Host) -> Result<ControlClient, EngineError> {
    let forward = host
        .transport()
        .forward(RemoteTarget::Unix(proto::CONTROL_SOCKET.to_owned()))
        .await?;
    Ok(ControlClient::new(Arc::new(ForwardDial {
        forward: Arc::new(forward),
        describe: format!("the webhook relay on {}", host.name()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_executables_for_the_servers_arch_go_into_the_image() {
        let me = std::env::current_exe().expect("exe");
        let bytes = std::fs::read(&me).expect("read");
        // Test binaries are dynamically linked.
        let err = check_relay_binary(&bytes, std::env::consts::ARCH, Path::new("/x/relay"))
            .expect_err("dynamic");
        assert!(err.to_string().contains("dynamically linked"), "{err}");
        let err = check_relay_binary(b"#!/bin/sh\necho hi\n", "x86_64", Path::new("/x/relay"))
            .expect_err("script");
        assert_eq!(
            err.to_string(),
            "/x/relay cannot run in the relay container: it is not a Linux executable"
        );
        assert_eq!(normalize_arch("amd64"), Some("x86_64"));
        assert_eq!(normalize_arch("arm64"), Some("aarch64"));
        assert_eq!(normalize_arch("s390x"), None);
    }

    #[test]
    fn the_relay_gets_docker_and_the_host_read_only_only_when_asked() {
        let server = crate::fixtures::server();
        let mut want = RelayService {
            listen_port: 9080,
            body_limit: 1 << 20,
            rate_per_minute: 120,
            docker: false,
            control_group: None,
            log: None,
            reconcile_every: None,
        };
        let attended = relay_install(&server, &want, b"\x7fELF").expect("install");
        assert!(attended.spec.confined);
        assert!(
            !attended
                .spec
                .binds
                .iter()
                .any(|b| b.contains("docker.sock")),
            "{:?}",
            attended.spec.binds
        );
        want.docker = true;
        let unattended = relay_install(&server, &want, b"\x7fELF").expect("install");
        assert!(
            unattended
                .spec
                .binds
                .contains(&"/var/run/docker.sock:/var/run/docker.sock".to_owned())
                && unattended.spec.binds.contains(&"/:/host:ro".to_owned()),
            "{:?}",
            unattended.spec.binds
        );
        // The Docker socket's group may ask the relay: its process runs in it and names it.
        // With Docker (unattended) it runs as uid 0 — Caddy's admin socket answers root alone.
        want.control_group = Some(105);
        let grouped = relay_install(&server, &want, b"\x7fELF").expect("install");
        assert_eq!(grouped.spec.user.as_deref(), Some("0:105"));
        want.docker = false;
        let attended = relay_install(&server, &want, b"\x7fELF").expect("install");
        assert_eq!(attended.spec.user.as_deref(), Some("65532:105"));
        assert_eq!(attended.spec.cap_add, Vec::<String>::new());
        assert_eq!(
            attended.prepare[0].spec.cmd[..5],
            ["own", "--uid", "65532", "--gid", "105"]
        );
        let plan = plan_relay(
            &server,
            &want,
            b"\x7fELF",
            ServiceOnHost {
                image_present: true,
                container: true,
                aside: false,
            },
        )
        .expect("plan")
        .to_string();
        // The old relay is stopped before its files change hands, and kept until the new one
        // answers.
        let lines: Vec<&str> = plan
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
            .collect();
        assert_eq!(
            lines,
            [
                "ensure", "stop", "give", "create", "start", "wait", "remove"
            ],
            "{plan}"
        );
        assert!(
            plan.contains(
                "give the relay's data and socket directory to 65532:105 (once, from berth/relay:"
            ) && plan.contains("as 0:0, with only CHOWN FOWNER DAC_READ_SEARCH)")
                && plan.contains("as 65532:105"),
            "{plan}"
        );
        assert!(
            grouped
                .spec
                .cmd
                .ends_with(&["--control-group".to_owned(), "105".to_owned()]),
            "{:?}",
            grouped.spec.cmd
        );
    }
}
