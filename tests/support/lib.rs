//! Shared harness for Berth's end-to-end tests: a real sshd on a loopback port with generated
//! keys, the `berth` binary with a private data dir, fixture git repos and Docker clean-up.
//!
//! Everything a test starts or creates here is stopped or removed when the value is dropped,
//! so a second run on the same machine starts from the same state.

pub mod docker;
pub mod git;
pub mod registry;
pub mod s3;
pub mod sshd;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub use registry::Registry;
pub use s3::S3Server;
pub use sshd::{LoginUser, Netns, Sshd};

/// Runs a command and returns its stdout, panicking with its stderr if it failed.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
/// A test image built from Debian's packages by `scripts/test-images.sh NAME` (`postgres`),
/// once per machine (keyed by its recipe); its tag.
pub fn test_image(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    run(Command::new(root.join("scripts/test-images.sh")).arg(name))
        .trim()
        .to_owned()
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A short random suffix for names that must not collide between parallel tests.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{:06x}",
        (nanos ^ std::process::id().rotate_left(13)) & 0xff_ffff
    )
}

/// The `berth` binary under test (`BERTH_BIN`, else `target/debug/berth`).
pub fn berth_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let bin = target.join("debug/berth");
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build --bin berth` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A private Berth data dir (file secrets) and a way to run `berth` against it.
pub struct Berth {
    pub data: tempfile::TempDir,
    env: Vec<(String, String)>,
    netns: Option<String>,
}

/// What a finished `berth` run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Berth {
    /// `server add NAME` for `sshd` over the embedded client, trusting its key (`--accept-new`).
    pub fn add_ssh_server(&self, name: &str, sshd: &Sshd) -> Run {
        let key = sshd.user_key.display().to_string();
        self.ok(&[
            "server",
            "add",
            name,
            "--ssh",
            &sshd.target(),
            "--identity",
            &key,
            "--transport",
            "embedded",
            "--accept-new",
        ])
    }

    pub fn new() -> Berth {
        Berth::with_data_prefix("berth-data-")
    }

    /// A data dir whose path has spaces, like macOS's `~/Library/Application Support/…`.
    pub fn with_spaces() -> Berth {
        Berth::with_data_prefix("Application Support berth-")
    }

    fn with_data_prefix(prefix: &str) -> Berth {
        Berth {
            data: tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .expect("tempdir"),
            env: Vec::new(),
            netns: None,
        }
    }

    /// A `berth` command with this data dir, file secrets, no colour, no terminal.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.as_str()]).arg(berth_bin());
                c
            }
            None => Command::new(berth_bin()),
        };
        c.args(args)
            .env("BERTH_DATA_DIR", self.data.path())
            .env("BERTH_SECRETS", "file")
            .env("NO_COLOR", "1")
            .env_remove("BERTH_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Runs `berth ARGS` in a terminal of `rows`×`cols` (util-linux `script`), typing `input`;
    /// what the terminal showed and the exit code.
    pub fn in_terminal(&self, args: &[&str], rows: u16, cols: u16, input: &str) -> Run {
        use std::io::Write;
        let inner = self.cmd(args);
        let quote =
            |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
        let mut line = format!(
            "stty rows {rows} cols {cols}; exec {}",
            quote(inner.get_program())
        );
        for a in inner.get_args() {
            line.push(' ');
            line.push_str(&quote(a));
        }
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env_remove("BERTH_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        let mut child = c.spawn().expect("script (util-linux) runs");
        let mut stdin = child.stdin.take().expect("stdin");
        // Typed once the command has had a moment to start; kept open until it ends.
        std::thread::sleep(std::time::Duration::from_millis(1500));
        stdin.write_all(input.as_bytes()).expect("typed");
        let out = child.wait_with_output().expect("script ends");
        drop(stdin);
        Run::from(out)
    }

    /// Runs every later command inside the network namespace `netns` (`ip netns exec`).
    pub fn set_netns(&mut self, netns: &Netns) {
        self.netns = Some(netns.name.clone());
    }

    /// Sets `key=value` for every later command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.cmd(args)
                .output()
                .unwrap_or_else(|e| panic!("could not run berth {args:?}: {e}")),
        )
    }

    /// Runs `berth ARGS` with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(
            cmd.output()
                .unwrap_or_else(|e| panic!("could not run berth {args:?}: {e}")),
        )
    }

    /// Runs `berth ARGS` with `input` on its stdin (a secret given as `-`).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run berth {args:?}: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.as_bytes());
        }
        Run::from(
            child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("could not run berth {args:?}: {e}")),
        )
    }

    /// `run_with_input`, panicking with its output unless it exits 0.
    pub fn ok_with_input(&self, args: &[&str], input: &str) -> Run {
        succeeded(args, self.run_with_input(args, input))
    }

    /// Runs `berth ARGS`, panicking with its output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        succeeded(args, self.run(args))
    }

    /// What app `app`'s active container answers on `/`, through its published loopback port
    /// (`status --json`'s endpoint); the app must be running.
    pub fn serving(&self, app: &str) -> String {
        let st = self.ok(&["status", app, "--json"]).json();
        assert_eq!(st["state"], "running", "{st:#}");
        let endpoint = st["endpoint"].as_str().unwrap_or_default().to_owned();
        http_get(&endpoint, "/")
            .map(|(_, body)| body.trim().to_owned())
            .unwrap_or_default()
    }

    /// Runs `berth ARGS`, panicking unless it fails; returns its output.
    pub fn fails(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_ne!(
            r.code,
            Some(0),
            "berth {args:?} unexpectedly succeeded:\n--- stdout\n{}\n--- stderr\n{}",
            r.stdout,
            r.stderr
        );
        r
    }
}

/// `r`, after checking that `berth ARGS` exited 0 (else a panic with its output).
fn succeeded(args: &[&str], r: Run) -> Run {
    assert_eq!(
        r.code,
        Some(0),
        "berth {args:?} failed:\n--- stdout\n{}\n--- stderr\n{}",
        r.stdout,
        r.stderr
    );
    r
}

impl Default for Berth {
    fn default() -> Self {
        Self::new()
    }
}

/// GET `http://ADDR/PATH` with a plain TCP request; `None` if it cannot connect.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    http_get_host(addr, "test", path)
}

/// GET `http://ADDR/PATH` with the given `Host` header (a request through a proxy).
pub fn http_get_host(addr: &str, host: &str, path: &str) -> Option<(u16, String)> {
    http_get_with(addr, host, path, &[])
}

/// [`http_get_host`] with more request headers.
pub fn http_get_with(
    addr: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// POSTs `body` to `http://ADDR/PATH` with the `Host` header and `headers`; the status and
/// body of the answer. The body is sent even if the server answers early (a 413), and the
/// answer read anyway.
pub fn http_post(
    addr: &str,
    host: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// An HTTP endpoint on `addr` (`0.0.0.0`: containers reach it through their gateway) that
/// answers 200 to every request and hands over each body: a notifier's receiving end.
pub fn notification_sink_on(addr: &str) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind((addr, 0)).expect("bind the notification sink");
    let port = listener.local_addr().expect("its address").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let Ok(read_side) = s.try_clone() else {
                continue;
            };
            let mut reader = std::io::BufReader::new(read_side);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (port, rx)
}
