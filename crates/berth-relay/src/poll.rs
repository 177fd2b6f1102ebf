//! Polling, unattended: for registries that cannot call a webhook, the relay lists each
//! unattended image app's repository every `poll_secs` (Berth's setting) and queues a tag it
//! has not seen — or one that now points elsewhere — as a delivery of the app's hook, so the
//! worker deploys or announces it like a webhook's push. The first look is the baseline.
//!
//! The registry is dialled from the relay's container: a registry on the server's loopback
//! is reached at the host's address on the container's network (it must listen there too).

use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_engine::registry::{BoxStream, Connect};
use berth_model::stage::{TagDecision, decide_tag};
use berth_model::{ImageRef, Verdict, WebhookMode};

use crate::proto::{ImageSpec, UnattendedSpec};
use crate::registry::Hook;
use crate::{Relay, db};

/// How often the loop looks whether an app is due.
const TICK: Duration = Duration::from_secs(1);

/// Runs until `stopped`.
pub(crate) async fn run(relay: Arc<Relay>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut last: std::collections::HashMap<String, Instant> = Default::default();
    loop {
        for (uuid, hook) in relay.registry.unattended() {
            let Some(spec) = hook.unattended.clone() else {
                continue;
            };
            let Some(image) = &spec.image else {
                continue;
            };
            if image.poll_secs == 0
                || last
                    .get(&hook.app)
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(image.poll_secs))
            {
                continue;
            }
            last.insert(hook.app.clone(), Instant::now());
            if let Err(e) = poll(&relay, &uuid, &hook, &spec, image).await {
                tracing::warn!(app = %hook.app, "cannot poll the registry: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Looks at one app's repository once; queues what is new.
async fn poll(
    relay: &Arc<Relay>,
    uuid: &str,
    hook: &Hook,
    spec: &UnattendedSpec,
    image: &ImageSpec,
) -> Result<(), String> {
    let own = ImageRef::parse(spec.app.image.as_deref().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let creds = crate::images::credentials(image);
    let tags = berth_engine::registry::tags_via(
        Arc::new(FromContainer),
        own.registry_host(),
        &own.path(),
        creds.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let now: Vec<(String, String)> = tags
        .iter()
        .map(|t| (t.tag.clone(), t.digest.clone().unwrap_or_default()))
        .collect();
    let app = hook.app.clone();
    let seen = {
        let app = app.clone();
        relay
            .db
            .run(move |c| db::poll_seen(c, &app))
            .await?
            .map_err(|e| e.to_string())?
    };
    let Some(seen) = seen else {
        // The first look is the baseline: what is there already is not news.
        relay
            .db
            .run(move |c| db::set_poll_seen(c, &app, &now))
            .await?
            .map_err(|e| e.to_string())?;
        tracing::info!(app = %hook.app, tags = tags.len(), "registry polling: baseline taken");
        return Ok(());
    };
    // Oldest first, so the newest is queued last.
    for (tag, digest) in now.iter().rev() {
        if seen.get(tag) == Some(digest) {
            continue;
        }
        let fresh = vec![(tag.clone(), digest.clone())];
        let app = app.clone();
        relay
            .db
            .run(move |c| db::set_poll_seen(c, &app, &fresh))
            .await?
            .map_err(|e| e.to_string())?;
        let stages = image.stages.as_slice();
        if decide_tag(&hook.app, stages, own.tag_or_latest(), tag) == TagDecision::Ignore {
            continue;
        }
        let reference = own.with_tag(tag);
        tracing::info!(app = %hook.app, %reference, "registry polling: new tag");
        let record = db::NewDelivery {
            hook: uuid.to_owned(),
            app: Some(hook.app.clone()),
            provider: Some(hook.provider),
            mode: Some(WebhookMode::Unattended),
            delivery_id: Some(format!("poll:{tag}@{digest}")),
            received_at: crate::now_ms(),
            remote: "registry polling".to_owned(),
            event: "poll".to_owned(),
            git_ref: Some(reference),
            commit: None,
            message: (!digest.is_empty()).then(|| format!("digest {digest}")),
            verdict: Verdict::Queued,
            reason: format!("new tag {tag} found by polling; unattended: the relay takes it"),
            http_status: 202,
            body_digest: None,
        };
        relay.db.insert(record).await?;
    }
    Ok(())
}

/// Streams from the relay's container; loopback means the host.
struct FromContainer;

impl Connect for FromContainer {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>> {
        Box::pin(async move {
            let loopback = host == "localhost"
                || host
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            let target = match (loopback, default_gateway()) {
                (true, Some(gateway)) => gateway.to_string(),
                _ => host.to_owned(),
            };
            let stream = tokio::net::TcpStream::connect((target.as_str(), port)).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn describe(&self) -> String {
        "from the relay's container".to_owned()
    }
}

/// The container's default gateway: the host, on the container's network.
fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    gateway_in(&table)
}

/// The default route's gateway in a `/proc/net/route` table (little-endian hex).
fn gateway_in(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "00000000", gateway, ..] => {
                let raw = u32::from_str_radix(gateway, 16).ok()?;
                Some(Ipv4Addr::from(raw.to_le_bytes()))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_gateway_is_read_from_the_route_table() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\n\
                     eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        assert_eq!(gateway_in(table), Some(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(gateway_in("Iface\tDestination\n"), None);
    }
}
