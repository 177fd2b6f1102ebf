//! Where Caddy's admin API listens: a unix socket or a loopback TCP port, in the forms Berth
//! accepts from users and the forms Caddy and HTTP want.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ProxyError;

/// The address of Caddy's admin endpoint, as seen from the host Caddy runs on.
///
/// TCP addresses are loopback only: the admin API has no authentication, so it must never be
/// reachable from beyond the host (Berth reaches it through the SSH session).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AdminAddress {
    /// An absolute path of a unix socket.
    Unix(String),
    /// A loopback host (`localhost`, `127.0.0.0/8`, `::1`) and port.
    Tcp { host: String, port: u16 },
}

const HINT: &str = "use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019";

impl AdminAddress {
    /// Parses `unix:/p`, `unix//p` (Caddy's form), `unix:///p`, `127.0.0.1:2019`,
    /// `localhost:2019` or `[::1]:2019`. Refuses relative socket paths, missing ports and
    /// non-loopback hosts.
    pub fn parse(s: &str) -> Result<AdminAddress, ProxyError> {
        let input = s.trim();
        let invalid = |why: &str| {
            ProxyError::InvalidAddress(format!("caddy admin address `{input}` {why}; {HINT}"))
        };
        if input.is_empty() {
            return Err(ProxyError::InvalidAddress(format!(
                "the caddy admin address is empty; {HINT}"
            )));
        }
        let path = if let Some(rest) = input.strip_prefix("unix:") {
            // `unix:/p` or the URL-like `unix:///p`.
            Some(if rest.starts_with("///") {
                &rest[2..]
            } else {
                rest
            })
        } else {
            input.strip_prefix("unix/")
        };
        if let Some(path) = path {
            if !path.starts_with('/') {
                return Err(invalid("has a relative socket path; give an absolute one"));
            }
            if path.len() < 2 || path.ends_with('/') {
                return Err(invalid("does not name a socket file"));
            }
            if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid("has a space or control character in its path"));
            }
            return Ok(AdminAddress::Unix(path.to_owned()));
        }
        if input.contains("://") {
            return Err(invalid("has a scheme"));
        }
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let Some((host, port)) = rest.split_once("]:") else {
                return Err(invalid("has no port"));
            };
            (host, port)
        } else {
            let Some((host, port)) = input.rsplit_once(':') else {
                return Err(invalid("has no port"));
            };
            if host.contains(':') {
                return Err(invalid(
                    "is an IPv6 address without brackets; write it like [::1]:2019",
                ));
            }
            (host, port)
        };
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(invalid("has an invalid port")),
        };
        if host.is_empty() {
            return Err(invalid(
                "listens on every interface; the admin API must only listen on loopback",
            ));
        }
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(invalid(
                "is not a loopback address; the admin API has no authentication and must only listen on 127.0.0.1, ::1 or localhost",
            ));
        }
        Ok(AdminAddress::Tcp {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The HTTP `Host` header Caddy's admin API accepts on this address: empty for a unix
    /// socket, `host:port` of the listen address for TCP.
    pub fn host_header(&self) -> String {
        match self {
            AdminAddress::Unix(_) => String::new(),
            AdminAddress::Tcp { .. } => self.host_port(),
        }
    }

    /// The address as Caddy's `admin.listen` wants it: `unix//path` or `host:port`.
    pub fn caddy_listen(&self) -> String {
        match self {
            AdminAddress::Unix(path) => format!("unix/{path}"),
            AdminAddress::Tcp { .. } => self.host_port(),
        }
    }

    fn host_port(&self) -> String {
        match self {
            AdminAddress::Unix(path) => path.clone(),
            AdminAddress::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            AdminAddress::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

impl fmt::Display for AdminAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminAddress::Unix(path) => write!(f, "unix:{path}"),
            AdminAddress::Tcp { .. } => f.write_str(&self.host_port()),
        }
    }
}

impl FromStr for AdminAddress {
    type Err = ProxyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminAddress::parse(s)
    }
}

impl Serialize for AdminAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AdminAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        AdminAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(inputs: &[&str], expected: Expect) {
        let mut out = String::new();
        for input in inputs {
            let line = match AdminAddress::parse(input) {
                Ok(a) => format!(
                    "{input:<28} -> {a}  host={:?} listen={}",
                    a.host_header(),
                    a.caddy_listen()
                ),
                Err(e) => format!("{input:<28} !! {e}"),
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
        expected.assert_eq(&out);
    }

    #[test]
    fn accepted_forms() {
        check(
            &[
                "unix:/run/berth-proxy/admin.sock",
                "unix//run/berth-proxy/admin.sock",
                "unix:///run/berth-proxy/admin.sock",
                "127.0.0.1:2019",
                "127.0.0.2:2019",
                "localhost:2019",
                "LocalHost:2019",
                "[::1]:2019",
                " 127.0.0.1:2019 ",
            ],
            expect![[r#"
                unix:/run/berth-proxy/admin.sock -> unix:/run/berth-proxy/admin.sock  host="" listen=unix//run/berth-proxy/admin.sock
                unix//run/berth-proxy/admin.sock -> unix:/run/berth-proxy/admin.sock  host="" listen=unix//run/berth-proxy/admin.sock
                unix:///run/berth-proxy/admin.sock -> unix:/run/berth-proxy/admin.sock  host="" listen=unix//run/berth-proxy/admin.sock
                127.0.0.1:2019               -> 127.0.0.1:2019  host="127.0.0.1:2019" listen=127.0.0.1:2019
                127.0.0.2:2019               -> 127.0.0.2:2019  host="127.0.0.2:2019" listen=127.0.0.2:2019
                localhost:2019               -> localhost:2019  host="localhost:2019" listen=localhost:2019
                LocalHost:2019               -> localhost:2019  host="localhost:2019" listen=localhost:2019
                [::1]:2019                   -> [::1]:2019  host="[::1]:2019" listen=[::1]:2019
                 127.0.0.1:2019              -> 127.0.0.1:2019  host="127.0.0.1:2019" listen=127.0.0.1:2019
            "#]],
        );
    }

    #[test]
    fn refused_forms() {
        check(
            &[
                "",
                "unix:admin.sock",
                "unix://admin.sock",
                "unix:/",
                "unix:/run/",
                "0.0.0.0:2019",
                ":2019",
                "10.0.0.5:2019",
                "[::]:2019",
                "example.com:2019",
                "localhost",
                "127.0.0.1:0",
                "127.0.0.1:99999",
                "::1:2019",
                "http://127.0.0.1:2019",
            ],
            expect![[r#"
                                             !! the caddy admin address is empty; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                unix:admin.sock              !! caddy admin address `unix:admin.sock` has a relative socket path; give an absolute one; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                unix://admin.sock            -> unix://admin.sock  host="" listen=unix///admin.sock
                unix:/                       !! caddy admin address `unix:/` does not name a socket file; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                unix:/run/                   !! caddy admin address `unix:/run/` does not name a socket file; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                0.0.0.0:2019                 !! caddy admin address `0.0.0.0:2019` is not a loopback address; the admin API has no authentication and must only listen on 127.0.0.1, ::1 or localhost; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                :2019                        !! caddy admin address `:2019` listens on every interface; the admin API must only listen on loopback; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                10.0.0.5:2019                !! caddy admin address `10.0.0.5:2019` is not a loopback address; the admin API has no authentication and must only listen on 127.0.0.1, ::1 or localhost; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                [::]:2019                    !! caddy admin address `[::]:2019` is not a loopback address; the admin API has no authentication and must only listen on 127.0.0.1, ::1 or localhost; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                example.com:2019             !! caddy admin address `example.com:2019` is not a loopback address; the admin API has no authentication and must only listen on 127.0.0.1, ::1 or localhost; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                localhost                    !! caddy admin address `localhost` has no port; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                127.0.0.1:0                  !! caddy admin address `127.0.0.1:0` has an invalid port; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                127.0.0.1:99999              !! caddy admin address `127.0.0.1:99999` has an invalid port; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                ::1:2019                     !! caddy admin address `::1:2019` is an IPv6 address without brackets; write it like [::1]:2019; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
                http://127.0.0.1:2019        !! caddy admin address `http://127.0.0.1:2019` has a scheme; use a unix socket like unix:/run/berth-proxy/admin.sock or a loopback port like 127.0.0.1:2019
            "#]],
        );
    }

    #[test]
    fn serde_round_trip() {
        let a = AdminAddress::parse("unix//run/b/admin.sock").expect("parse");
        let json = serde_json::to_string(&a).expect("ser");
        assert_eq!(json, r#""unix:/run/b/admin.sock""#);
        assert_eq!(serde_json::from_str::<AdminAddress>(&json).expect("de"), a);
        assert!(serde_json::from_str::<AdminAddress>(r#""0.0.0.0:2019""#).is_err());
    }
}
