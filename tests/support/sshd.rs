//! A real OpenSSH server on a random loopback port, with its own host key and a generated
//! user key in `authorized_keys`. Stopped when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, run};

pub struct Sshd {
    child: Child,
    /// The address it listens on.
    pub addr: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Private key authorised for every user (`root` and any other test user).
    pub user_key: PathBuf,
    /// The server's host public key, as in a `.pub` file (`ssh-ed25519 AAAA… comment`).
    pub host_public_key: String,
}

fn keygen(path: &Path, kind: &str) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "berth-test", "-f"])
        .arg(path));
}

/// A temp dir with a fresh host key and user key.
fn new_keys() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("berth-sshd-")
        .tempdir()
        .expect("tempdir");
    keygen(&dir.path().join("host_ed25519"), "ed25519");
    keygen(&dir.path().join("id_ed25519"), "ed25519");
    dir
}

impl Sshd {
    /// Starts sshd with a fresh host key on a free loopback port.
    pub fn start() -> Sshd {
        Self::start_in(new_keys(), free_port(), "127.0.0.1")
    }

    /// Starts sshd with a fresh host key on a free port of `addr`.
    pub fn start_on(addr: &str) -> Sshd {
        Self::start_in(new_keys(), free_port(), addr)
    }

    /// Starts sshd listening on every address (containers reach it through their network's
    /// gateway: a git server for the relay).
    pub fn start_public() -> Sshd {
        Self::start_in(new_keys(), free_port(), "0.0.0.0")
    }

    /// Lets `public_key` (an OpenSSH public key line) log in too.
    pub fn authorize(&self, public_key: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .expect("open authorized_keys");
        writeln!(f, "{}", public_key.trim()).expect("append to authorized_keys");
    }

    /// Starts another sshd on the same port as `self` would use, with a *different* host key
    /// (for changed-host-key tests). `self` must have been dropped or stopped first.
    pub fn start_with_new_host_key(port: u16) -> Sshd {
        Self::start_in(new_keys(), port, "127.0.0.1")
    }

    /// The same server (address, port, namespace) come back with a *different* host key, as
    /// after a reinstall — or as an impostor would. Every session it served is dropped.
    pub fn with_new_host_key(mut self) -> Sshd {
        self.kill_sessions();
        self.stop();
        let addr = self.addr.clone();
        Self::start_in(new_keys(), self.port, &addr)
    }

    fn start_in(dir: tempfile::TempDir, port: u16, listen: &str) -> Sshd {
        let d = dir.path();
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        let config = format!(
            "Port {port}\n\
             ListenAddress {listen}\n\
             HostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             AllowStreamLocalForwarding yes\n\
             AllowTcpForwarding yes\n\
             MaxSessions 64\n\
             MaxStartups 64\n\
             LogLevel ERROR\n",
            d = d.display()
        );
        std::fs::File::create(d.join("sshd_config"))
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("write sshd_config");
        let child = spawn_sshd(d);
        let host_public_key = std::fs::read_to_string(d.join("host_ed25519.pub"))
            .expect("host key")
            .trim()
            .to_owned();
        let sshd = Sshd {
            child,
            addr: if listen == "0.0.0.0" {
                "127.0.0.1".to_owned()
            } else {
                listen.to_owned()
            },
            port,
            user_key: d.join("id_ed25519"),
            host_public_key,
            dir,
        };
        sshd.wait_until_listening();
        sshd
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect((self.addr.as_str(), self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "sshd did not listen on {}:{} within 10s",
            self.addr, self.port
        );
    }

    /// Simulates a server restart: kills sshd *and every session it serves* (as a reboot
    /// would — `stop` leaves established sessions running), then starts sshd again on the
    /// same port with the same host key and `authorized_keys`.
    pub fn restart(&mut self) {
        self.kill_sessions();
        self.stop();
        self.child = spawn_sshd(self.dir.path());
        self.wait_until_listening();
    }

    /// Kills the per-connection processes of this sshd, dropping every client connection.
    pub fn kill_sessions(&self) {
        let pids = descendants(self.child.id());
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-9")
                .args(pids.iter().map(u32::to_string))
                .status();
        }
    }

    /// The host key's SHA256 fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fn host_fingerprint(&self) -> String {
        let out = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.dir.path().join("host_ed25519.pub")));
        out.split_whitespace()
            .nth(1)
            .expect("fingerprint in ssh-keygen -l output")
            .to_owned()
    }

    /// `root@ADDR:PORT` (`127.0.0.1` unless it runs in another namespace).
    pub fn target(&self) -> String {
        self.target_for("root")
    }

    pub fn target_for(&self, user: &str) -> String {
        format!("{user}@{}:{}", self.addr, self.port)
    }

    /// Stops sshd now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_sshd(d: &Path) -> Child {
    std::fs::create_dir_all("/run/sshd").ok();
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd not found: run scripts/setup.sh (package openssh-server)");
    Command::new(sshd)
        // sshd's per-connection children outlive it while a client stays connected; they
        // must not hold the test's stdout/stderr open.
        .args(["-D", "-E"])
        .arg(d.join("sshd.log"))
        .arg("-f")
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd")
}

/// Every process below `root` (from `/proc`), children first found first.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A network namespace joined to this one by a veth pair: this side is `outer`, the
/// namespace's side `inner`. From inside it, this namespace's loopback is out of reach: a
/// client run there (see `Berth::set_netns`) reaches this side only at `outer`. Removed
/// (with the pair) when dropped.
pub struct Netns {
    pub name: String,
    veth: String,
    pub outer: String,
    pub inner: String,
}

impl Netns {
    pub fn create() -> Netns {
        let pid = std::process::id();
        let name = format!("berth-test-{pid}");
        let veth = format!("bt{pid}");
        // Leftovers of an earlier run of this pid.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &veth]).output();
        let (b, c) = ((pid / 64) % 256, (pid % 64) * 4);
        let outer = format!("10.211.{b}.{}", c + 1);
        let inner = format!("10.211.{b}.{}", c + 2);
        let peer = format!("{veth}n");
        let ns = Netns {
            name,
            veth,
            outer,
            inner,
        };
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ip(&["netns", "add", &ns.name]);
        ip(&[
            "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{}/30", ns.outer), "dev", &ns.veth]);
        ip(&["link", "set", &ns.veth, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.name.as_str(), "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{}/30", ns.inner), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
    }
}

/// A system user (no home, `/bin/sh`) in `groups`, for logins that are not root; the test
/// sshd authorises every user's key. Deleted on drop.
pub struct LoginUser(pub String);

impl LoginUser {
    pub fn create(groups: &[&str]) -> LoginUser {
        let name = crate::unique("berthu").replace('-', "");
        let mut cmd = Command::new("useradd");
        cmd.args(["--no-create-home", "--shell", "/bin/sh", "--password", "*"]);
        if !groups.is_empty() {
            cmd.arg("--groups").arg(groups.join(","));
        }
        run(cmd.arg(&name));
        LoginUser(name)
    }
}

impl Drop for LoginUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).output();
    }
}
