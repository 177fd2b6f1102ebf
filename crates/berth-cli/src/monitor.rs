//! `berth stats`, `berth server stats`, `berth alerts`: what the relays kept after the deploy.

use berth_api::Berth;
use berth_model::format::bytes;
use berth_model::monitor::parse_since;

use crate::output::{Style, ago, table, timestamp};
use crate::print_json;

/// `2026-12-06 20:30:10` (UTC).
fn when(at: i64) -> String {
    timestamp(at)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

pub(crate) async fn stats(berth: &Berth, app: &str, since: &str, json: bool) -> anyhow::Result<()> {
    let since_ms = parse_since(since).map_err(anyhow::Error::msg)?;
    let s = berth.stats(app, since_ms).await?;
    if json {
        return print_json(&s);
    }
    if s.samples.is_empty() {
        eprintln!(
            "no samples of {app} in the last {since} yet (the relay samples every running app every 10 s)"
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = s
        .samples
        .iter()
        .map(|x| {
            vec![
                when(x.at),
                format!("{:.1} %", x.cpu_pct),
                format!("{} / {}", bytes(x.mem_bytes), bytes(x.mem_limit)),
                format!("{} / {}", bytes(x.net_rx), bytes(x.net_tx)),
                format!("{} / {}", bytes(x.blk_read), bytes(x.blk_write)),
                x.restarts.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "TIME (UTC)",
            "CPU",
            "MEMORY / LIMIT",
            "NET RX / TX",
            "BLOCK R / W",
            "RESTARTS",
        ],
        &rows,
    );
    eprintln!(
        "{} sample(s), one per {} s, from {}'s relay",
        s.samples.len(),
        s.step_secs,
        s.server
    );
    for a in &s.alerts {
        eprintln!("  {} {}", when(a.at), a.summary());
    }
    Ok(())
}

pub(crate) async fn server_stats(
    berth: &Berth,
    name: &str,
    since: &str,
    json: bool,
) -> anyhow::Result<()> {
    let since_ms = parse_since(since).map_err(anyhow::Error::msg)?;
    let s = berth.server_stats(name, since_ms).await?;
    if json {
        return print_json(&s);
    }
    let style = Style::new();
    if let Some(last) = s.samples.last() {
        println!("{} (as of {})", style.bold(&s.server), ago(last.at));
        println!(
            "  cpu      {:.1} %   load {:.2} {:.2} {:.2}",
            last.cpu_pct, last.load1, last.load5, last.load15
        );
        println!(
            "  memory   {} of {}",
            bytes(last.mem_used),
            bytes(last.mem_total)
        );
        for d in &last.disks {
            println!(
                "  disk     {}  {} of {} ({:.0} %)",
                d.mount,
                bytes(d.used),
                bytes(d.total),
                d.percent()
            );
        }
    } else {
        println!(
            "{}: no samples in the last {since} yet",
            style.bold(&s.server)
        );
    }
    if let Some(d) = &s.docker {
        println!(
            "  docker   images {}, containers {}, volumes {}, build cache {}; reclaimable {} (`berth server prune {}`)",
            bytes(d.images),
            bytes(d.containers),
            bytes(d.volumes),
            bytes(d.build_cache),
            bytes(d.reclaimable),
            s.server
        );
    }
    if s.samples.len() > 1 {
        let rows: Vec<Vec<String>> = s
            .samples
            .iter()
            .map(|x| {
                let worst = x.disks.iter().map(|d| d.percent()).fold(0.0_f64, f64::max);
                vec![
                    when(x.at),
                    format!("{:.1} %", x.cpu_pct),
                    format!("{:.2}", x.load1),
                    format!("{} / {}", bytes(x.mem_used), bytes(x.mem_total)),
                    format!("{worst:.0} %"),
                ]
            })
            .collect();
        println!();
        table(
            &["TIME (UTC)", "CPU", "LOAD", "MEMORY", "FULLEST DISK"],
            &rows,
        );
        eprintln!("{} sample(s), one per {} s", s.samples.len(), s.step_secs);
    }
    Ok(())
}

pub(crate) async fn alerts(
    berth: &Berth,
    app: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let list = berth.alerts(app, limit).await?;
    if json {
        return print_json(&list);
    }
    if list.is_empty() {
        eprintln!("no alerts: the monitor has seen nothing wrong");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                when(a.at),
                a.server.clone(),
                a.app.clone().unwrap_or_else(|| "-".into()),
                a.kind.to_string(),
                a.why.clone(),
            ]
        })
        .collect();
    table(&["TIME (UTC)", "SERVER", "APP", "WHAT", "WHY"], &rows);
    Ok(())
}
