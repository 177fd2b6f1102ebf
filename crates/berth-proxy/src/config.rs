//! The Caddy config Berth owns: how the proxy is set up (admin address, TLS, ports) and the
//! initial JSON a fresh Caddy starts from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::address::AdminAddress;
use crate::route::{Route, SERVER};

/// How Caddy gets certificates for app hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum TlsMode {
    /// Public certificates from Let's Encrypt over ACME; `email` is given to the CA for expiry
    /// notices.
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
    },
    /// Certificates from Caddy's own local CA (not trusted by browsers; for tests, intranets).
    Internal,
    /// Plain HTTP only.
    Off,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Auto { .. } => "auto",
            TlsMode::Internal => "internal",
            TlsMode::Off => "off",
        })
    }
}

/// The mode named `s` is not one of `auto`, `internal`, `off`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tls mode `{0}`; use auto, internal or off")]
pub struct UnknownTlsMode(pub String);

impl FromStr for TlsMode {
    type Err = UnknownTlsMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(TlsMode::Auto { email: None }),
            "internal" => Ok(TlsMode::Internal),
            "off" => Ok(TlsMode::Off),
            _ => Err(UnknownTlsMode(s.to_owned())),
        }
    }
}

/// How Berth's Caddy is set up on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySettings {
    pub admin: AdminAddress,
    pub tls: TlsMode,
    /// The port Caddy serves plain HTTP on (inside its container).
    pub http_port: u16,
    /// The port Caddy serves HTTPS on (inside its container); unused when TLS is off.
    pub https_port: u16,
}

/// The config a fresh Caddy starts from: the admin endpoint, the `berth` http server with
/// `routes`, and the TLS issuer.
///
/// With TLS on, the `berth` server listens on the HTTPS port only, and Caddy's automatic HTTPS
/// puts its own server on the HTTP port that redirects to HTTPS and answers ACME HTTP
/// challenges. (A server listening on both ports gets Caddy's redirects appended *after*
/// Berth's terminal routes, so app hosts would be proxied in clear text.) With TLS off the
/// server listens on the HTTP port and automatic HTTPS is disabled.
pub fn initial_config(settings: &ProxySettings, routes: &[Route]) -> Value {
    let routes: Vec<Value> = routes.iter().map(Route::to_json).collect();
    let mut server = Map::new();
    let mut http = Map::new();
    if settings.http_port != 80 {
        http.insert("http_port".into(), json!(settings.http_port));
    }
    if settings.https_port != 443 {
        http.insert("https_port".into(), json!(settings.https_port));
    }
    match settings.tls {
        TlsMode::Off => {
            server.insert("listen".into(), json!([format!(":{}", settings.http_port)]));
            server.insert("automatic_https".into(), json!({ "disable": true }));
        }
        TlsMode::Auto { .. } | TlsMode::Internal => {
            server.insert(
                "listen".into(),
                json!([format!(":{}", settings.https_port)]),
            );
        }
    }
    server.insert("routes".into(), Value::Array(routes));
    http.insert("servers".into(), json!({ SERVER: server }));

    let mut apps = Map::new();
    apps.insert("http".into(), Value::Object(http));
    match &settings.tls {
        TlsMode::Off => {}
        TlsMode::Auto { email } => {
            let mut acme = json!({ "module": "acme" });
            if let Some(email) = email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                acme["email"] = json!(email);
            }
            apps.insert(
                "tls".into(),
                json!({ "automation": { "policies": [{ "issuers": [acme] }] } }),
            );
        }
        TlsMode::Internal => {
            apps.insert(
                "tls".into(),
                json!({ "automation": { "policies": [{ "issuers": [{ "module": "internal" }] }] } }),
            );
            // Caddy would otherwise try to add its root to the system trust store of the
            // machine (or container) it runs in.
            apps.insert(
                "pki".into(),
                json!({ "certificate_authorities": { "local": { "install_trust": false } } }),
            );
        }
    }
    json!({
        "admin": { "listen": settings.admin.caddy_listen() },
        "apps": apps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(tls: TlsMode, http_port: u16, https_port: u16, expected: Expect) {
        let settings = ProxySettings {
            admin: AdminAddress::parse("unix:/run/berth-proxy/admin.sock").expect("address"),
            tls,
            http_port,
            https_port,
        };
        let routes = [Route::new(
            "berth-app-web",
            vec!["www.example.com".into()],
            "berth-web-1a2b:8080",
        )];
        let config = initial_config(&settings, &routes);
        expected.assert_eq(&serde_json::to_string_pretty(&config).expect("json"));
    }

    #[test]
    fn off() {
        check(
            TlsMode::Off,
            80,
            443,
            expect![[r#"
            {
              "admin": {
                "listen": "unix//run/berth-proxy/admin.sock"
              },
              "apps": {
                "http": {
                  "servers": {
                    "berth": {
                      "automatic_https": {
                        "disable": true
                      },
                      "listen": [
                        ":80"
                      ],
                      "routes": [
                        {
                          "@id": "berth-app-web",
                          "handle": [
                            {
                              "handler": "reverse_proxy",
                              "upstreams": [
                                {
                                  "dial": "berth-web-1a2b:8080"
                                }
                              ]
                            }
                          ],
                          "match": [
                            {
                              "host": [
                                "www.example.com"
                              ]
                            }
                          ],
                          "terminal": true
                        }
                      ]
                    }
                  }
                }
              }
            }"#]],
        );
    }

    #[test]
    fn internal() {
        check(
            TlsMode::Internal,
            80,
            443,
            expect![[r#"
            {
              "admin": {
                "listen": "unix//run/berth-proxy/admin.sock"
              },
              "apps": {
                "http": {
                  "servers": {
                    "berth": {
                      "listen": [
                        ":443"
                      ],
                      "routes": [
                        {
                          "@id": "berth-app-web",
                          "handle": [
                            {
                              "handler": "reverse_proxy",
                              "upstreams": [
                                {
                                  "dial": "berth-web-1a2b:8080"
                                }
                              ]
                            }
                          ],
                          "match": [
                            {
                              "host": [
                                "www.example.com"
                              ]
                            }
                          ],
                          "terminal": true
                        }
                      ]
                    }
                  }
                },
                "pki": {
                  "certificate_authorities": {
                    "local": {
                      "install_trust": false
                    }
                  }
                },
                "tls": {
                  "automation": {
                    "policies": [
                      {
                        "issuers": [
                          {
                            "module": "internal"
                          }
                        ]
                      }
                    ]
                  }
                }
              }
            }"#]],
        );
    }

    #[test]
    fn auto_with_email() {
        check(
            TlsMode::Auto {
                email: Some("ops@example.com".into()),
            },
            80,
            443,
            expect![[r#"
                {
                  "admin": {
                    "listen": "unix//run/berth-proxy/admin.sock"
                  },
                  "apps": {
                    "http": {
                      "servers": {
                        "berth": {
                          "listen": [
                            ":443"
                          ],
                          "routes": [
                            {
                              "@id": "berth-app-web",
                              "handle": [
                                {
                                  "handler": "reverse_proxy",
                                  "upstreams": [
                                    {
                                      "dial": "berth-web-1a2b:8080"
                                    }
                                  ]
                                }
                              ],
                              "match": [
                                {
                                  "host": [
                                    "www.example.com"
                                  ]
                                }
                              ],
                              "terminal": true
                            }
                          ]
                        }
                      }
                    },
                    "tls": {
                      "automation": {
                        "policies": [
                          {
                            "issuers": [
                              {
                                "email": "ops@example.com",
                                "module": "acme"
                              }
                            ]
                          }
                        ]
                      }
                    }
                  }
                }"#]],
        );
    }

    #[test]
    fn auto_without_email_on_custom_ports() {
        check(
            TlsMode::Auto { email: None },
            8080,
            8443,
            expect![[r#"
            {
              "admin": {
                "listen": "unix//run/berth-proxy/admin.sock"
              },
              "apps": {
                "http": {
                  "http_port": 8080,
                  "https_port": 8443,
                  "servers": {
                    "berth": {
                      "listen": [
                        ":8443"
                      ],
                      "routes": [
                        {
                          "@id": "berth-app-web",
                          "handle": [
                            {
                              "handler": "reverse_proxy",
                              "upstreams": [
                                {
                                  "dial": "berth-web-1a2b:8080"
                                }
                              ]
                            }
                          ],
                          "match": [
                            {
                              "host": [
                                "www.example.com"
                              ]
                            }
                          ],
                          "terminal": true
                        }
                      ]
                    }
                  }
                },
                "tls": {
                  "automation": {
                    "policies": [
                      {
                        "issuers": [
                          {
                            "module": "acme"
                          }
                        ]
                      }
                    ]
                  }
                }
              }
            }"#]],
        );
    }

    #[test]
    fn tls_mode_text_and_serde() {
        for s in ["auto", "internal", "off"] {
            assert_eq!(s.parse::<TlsMode>().expect("mode").to_string(), s);
        }
        expect!["unknown tls mode `acme`; use auto, internal or off"]
            .assert_eq(&"acme".parse::<TlsMode>().expect_err("unknown").to_string());
        let modes = [
            TlsMode::Auto {
                email: Some("a@b.c".into()),
            },
            TlsMode::Auto { email: None },
            TlsMode::Internal,
            TlsMode::Off,
        ];
        let json = serde_json::to_string(&modes).expect("json");
        expect![[r#"[{"mode":"auto","email":"a@b.c"},{"mode":"auto"},{"mode":"internal"},{"mode":"off"}]"#]].assert_eq(&json);
        assert_eq!(
            serde_json::from_str::<Vec<TlsMode>>(&json).expect("de"),
            modes
        );
    }
}
