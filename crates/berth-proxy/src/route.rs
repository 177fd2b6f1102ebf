//! One app's route in Caddy's config: its id, the hosts it answers and the upstream it proxies
//! to, with the JSON shape Berth writes and reads back.

use serde_json::{Value, json};

use crate::domain;
use crate::error::ProxyError;

/// The http server name in configs Berth owns.
pub const SERVER: &str = "berth";

/// The `@id` of an app's route: `berth-app-<app>`.
pub fn route_id(app: &str) -> String {
    format!("berth-app-{app}")
}

/// A route Berth manages: requests for `hosts` go to `upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: String,
    pub hosts: Vec<String>,
    /// Caddy's `dial` address: `host:port` (a container name on the berth network, or an IP).
    pub upstream: String,
}

impl Route {
    pub fn new(id: impl Into<String>, hosts: Vec<String>, upstream: impl Into<String>) -> Route {
        Route {
            id: id.into(),
            hosts,
            upstream: upstream.into(),
        }
    }

    /// The route as Caddy's JSON.
    pub fn to_json(&self) -> Value {
        self.json_draining(&[])
    }

    /// The route's JSON with earlier upstreams kept *after* the serving one, under Caddy's
    /// `first` selection policy: they get no new requests, but Caddy keeps counting the
    /// requests in flight to them (it forgets an upstream's counter as soon as no route
    /// mentions it), which is what [`crate::Caddy::drain`] watches.
    pub(crate) fn json_draining(&self, draining: &[String]) -> Value {
        let mut upstreams = vec![json!({ "dial": self.upstream })];
        upstreams.extend(
            draining
                .iter()
                .filter(|d| **d != self.upstream)
                .map(|d| json!({ "dial": d })),
        );
        let mut handler = json!({
            "handler": "reverse_proxy",
            "upstreams": upstreams,
        });
        if upstreams_len(&handler) > 1 {
            handler["load_balancing"] = json!({ "selection_policy": { "policy": "first" } });
        }
        json!({
            "@id": self.id,
            "match": [{ "host": self.hosts }],
            "handle": [handler],
            "terminal": true,
        })
    }

    /// Reads a route back from Caddy's JSON; fails for routes not in the shape Berth writes.
    pub fn from_json(value: &Value) -> Result<Route, ProxyError> {
        let id = value
            .get("@id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let foreign = |what: &str| {
            let which = if id.is_empty() {
                "a route".to_owned()
            } else {
                format!("route `{id}`")
            };
            ProxyError::Protocol(format!(
                "{which} is not in the shape Berth writes ({what}); was it edited by hand?"
            ))
        };
        if id.is_empty() {
            return Err(foreign("it has no @id"));
        }
        let hosts = match value.pointer("/match/0/host").and_then(Value::as_array) {
            Some(hosts) if value["match"].as_array().is_some_and(|m| m.len() == 1) => hosts
                .iter()
                .map(|h| h.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| foreign("a host is not a string"))?,
            _ => return Err(foreign("it does not match on hosts alone")),
        };
        let handle = value
            .get("handle")
            .and_then(Value::as_array)
            .ok_or_else(|| foreign("it has no handlers"))?;
        let [handler] = handle.as_slice() else {
            return Err(foreign("it does not have exactly one handler"));
        };
        if handler.get("handler").and_then(Value::as_str) != Some("reverse_proxy") {
            return Err(foreign("its handler is not reverse_proxy"));
        }
        let dials = handler
            .get("upstreams")
            .and_then(Value::as_array)
            .map(|ups| {
                ups.iter()
                    .map(|u| u.get("dial").and_then(Value::as_str).map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default()
            .ok_or_else(|| foreign("an upstream has no dial address"))?;
        // Upstreams after the first are draining (see `json_draining`).
        let Some(upstream) = dials.into_iter().next() else {
            return Err(foreign("it has no upstream"));
        };
        Ok(Route {
            id,
            hosts,
            upstream,
        })
    }

    /// Checks the id, hosts and upstreams, and returns the route with normalized hosts.
    pub fn validated(&self) -> Result<Route, ProxyError> {
        validate_id(&self.id)?;
        if self.hosts.is_empty() {
            return Err(ProxyError::InvalidRoute(format!(
                "route `{}` has no hosts; give at least one domain",
                self.id
            )));
        }
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for host in &self.hosts {
            let host = domain::validate(host)?;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        validate_dial(&self.id, &self.upstream)?;
        Ok(Route {
            id: self.id.clone(),
            hosts,
            upstream: self.upstream.clone(),
        })
    }
}

fn upstreams_len(handler: &Value) -> usize {
    handler["upstreams"].as_array().map_or(0, Vec::len)
}

/// The dial addresses of a route's first handler, serving one first.
pub(crate) fn dials(route: &Value) -> Vec<String> {
    route
        .pointer("/handle/0/upstreams")
        .and_then(Value::as_array)
        .map(|ups| {
            ups.iter()
                .filter_map(|u| u.get("dial").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Route ids end up in admin URLs (`/id/<id>`), so they stay URL-safe.
pub(crate) fn validate_id(id: &str) -> Result<(), ProxyError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ProxyError::InvalidRoute(format!(
            "route id `{id}` is invalid; use 1-128 letters, digits, `-`, `_` or `.`"
        )))
    }
}

/// A dial address is `host:port`: a container name, a domain, an IPv4 address or `[IPv6]`.
fn validate_dial(id: &str, dial: &str) -> Result<(), ProxyError> {
    let invalid = |why: &str| {
        Err(ProxyError::InvalidRoute(format!(
            "upstream `{dial}` of route `{id}` {why}; give host:port, like berth-web-1a2b3c:8080"
        )))
    };
    let (host, port) = if let Some(rest) = dial.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((h, p)) if h.parse::<std::net::Ipv6Addr>().is_ok() => (h, p),
            _ => return invalid("is not a valid [IPv6]:port"),
        }
    } else {
        match dial.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => return invalid("has no port"),
        }
    };
    if !dial.starts_with('[') {
        if host.is_empty() {
            return invalid("has no host");
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return invalid("has characters a host name cannot have");
        }
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => invalid("has an invalid port"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn json_shape_and_round_trip() {
        let route = Route::new(
            route_id("web"),
            vec!["a.example.com".into(), "b.example.com".into()],
            "berth-web-1a2b:8080",
        );
        let json = route.to_json();
        expect![[r#"
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
                    "a.example.com",
                    "b.example.com"
                  ]
                }
              ],
              "terminal": true
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&json).expect("json"));
        assert_eq!(Route::from_json(&json).expect("parse"), route);

        let json = route.json_draining(&["berth-web-0000:8080".into()]);
        expect![[r#"[{"handler":"reverse_proxy","load_balancing":{"selection_policy":{"policy":"first"}},"upstreams":[{"dial":"berth-web-1a2b:8080"},{"dial":"berth-web-0000:8080"}]}]"#]]
        .assert_eq(&serde_json::to_string(&json["handle"]).expect("json"));
        assert_eq!(Route::from_json(&json).expect("parse"), route);
        assert_eq!(dials(&json), ["berth-web-1a2b:8080", "berth-web-0000:8080"]);
    }

    #[test]
    fn foreign_routes_are_reported() {
        let cases = [
            serde_json::json!({"handle": []}),
            serde_json::json!({"@id": "x", "handle": [{"handler": "file_server"}], "match": [{"host": ["a.b"]}]}),
            serde_json::json!({"@id": "x", "handle": [{"handler": "reverse_proxy", "upstreams": []}], "match": [{"host": ["a.b"]}]}),
            serde_json::json!({"@id": "x", "handle": [{"handler": "reverse_proxy"}], "match": [{"path": ["/"]}]}),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| Route::from_json(c).expect_err("foreign").to_string())
            .collect();
        expect![[r#"
            [
                "unexpected answer from caddy: a route is not in the shape Berth writes (it has no @id); was it edited by hand?",
                "unexpected answer from caddy: route `x` is not in the shape Berth writes (its handler is not reverse_proxy); was it edited by hand?",
                "unexpected answer from caddy: route `x` is not in the shape Berth writes (it has no upstream); was it edited by hand?",
                "unexpected answer from caddy: route `x` is not in the shape Berth writes (it does not match on hosts alone); was it edited by hand?",
            ]
        "#]]
        .assert_debug_eq(&out);
    }

    #[test]
    fn validation() {
        let ok = Route::new(
            "berth-app-web",
            vec!["WWW.Example.com.".into(), "www.example.com".into()],
            "berth-web-1:80",
        );
        assert_eq!(ok.validated().expect("valid").hosts, ["www.example.com"]);
        let cases = [
            Route::new("bad id", vec!["a.example.com".into()], "x:80"),
            Route::new("r", vec![], "x:80"),
            Route::new("r", vec!["bad..host".into()], "x:80"),
            Route::new("r", vec!["a.example.com".into()], "bad host:x:y"),
            Route::new("r", vec!["a.example.com".into()], "web"),
            Route::new("r", vec!["a.example.com".into()], "web:0"),
            Route::new("r", vec!["a.example.com".into()], "[::1:80"),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| c.validated().expect_err("invalid").to_string())
            .collect();
        expect![[r#"
            [
                "route id `bad id` is invalid; use 1-128 letters, digits, `-`, `_` or `.`",
                "route `r` has no hosts; give at least one domain",
                "domain `bad..host` has an empty label (two dots in a row)",
                "upstream `bad host:x:y` of route `r` has characters a host name cannot have; give host:port, like berth-web-1a2b3c:8080",
                "upstream `web` of route `r` has no port; give host:port, like berth-web-1a2b3c:8080",
                "upstream `web:0` of route `r` has an invalid port; give host:port, like berth-web-1a2b3c:8080",
                "upstream `[::1:80` of route `r` is not a valid [IPv6]:port; give host:port, like berth-web-1a2b3c:8080",
            ]
        "#]]
        .assert_debug_eq(&out);
        Route::new("r", vec!["a.example.com".into()], "[::1]:80")
            .validated()
            .expect("v6");
        Route::new("r", vec!["a.example.com".into()], "10.1.2.3:80")
            .validated()
            .expect("v4");
    }
}
