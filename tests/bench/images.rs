//! Image apps: `berth deploy APP --tag T` (pull the tag on the server, pin its digest, start
//! the new container, switch once healthy, stop and remove the old one) against the bare docker
//! CLI steps for the same work (`docker pull`, `docker run`, poll health, `docker rm -f` of the
//! old container), with a real registry on a loopback port (Debian's `docker-registry`).
//!
//! Every tag holds different content and none is on this machine when its round starts, so
//! both sides pull the image's own layer from the registry (the busybox base layer they share
//! is already here for both).

use std::process::Command;
use std::time::Instant;

use berth_testkit::docker::remove_app;
use berth_testkit::{Berth, Registry, unique};

use crate::{bare_switch, berth_redeploy, lap, median, ms};

/// Removes what the part created on this machine when dropped, whatever its outcome: Berth's
/// containers and images of the app, the bare containers, then every pulled image of the
/// repository (by reference). The registry (process and storage) stops when it is dropped.
struct Leftovers<'a> {
    registry: &'a Registry,
    repository: String,
    app: String,
}

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        remove_app(&self.app);
        let bare = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=berth-bench.app={}", self.app),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in bare.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        self.registry.remove_local(&self.repository);
    }
}

/// Removes the local copy of `reference` (if any) and checks it is gone, so the next step has
/// to pull it. Outside the timing, the same for both sides.
fn make_cold(reference: &str) {
    let _ = Command::new("docker").args(["rmi", reference]).output();
    let present = Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(!present, "{reference} is still on this machine");
}

/// The bare steps: pull `reference`, run it, poll health, remove the previous container.
fn bare_deploy(app: &str, reference: &str, round: usize, previous: &mut Option<String>) -> f64 {
    let t = Instant::now();
    let mut since = Instant::now();
    berth_testkit::run(Command::new("docker").args(["pull", "-q", reference]));
    lap("pull", &mut since);
    bare_switch(
        app,
        format!("{app}-bare-{round}"),
        reference,
        previous,
        &mut since,
    );
    ms(t.elapsed())
}

pub fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let verbose = std::env::args().any(|a| a == "-v" || a == "--verbose");

    let registry = Registry::start();
    let app = unique("ibench");
    let repository = format!("bench/{app}");
    let _leftovers = Leftovers {
        registry: &registry,
        repository: repository.clone(),
        app: app.clone(),
    };
    // r0..rN for Berth, bare-r0..bare-rN for the bare steps: a different page in each, so no
    // two tags share their top layer. `push_web` removes each from this machine again.
    let berth_refs: Vec<String> = (0..=rounds)
        .map(|k| registry.push_web(&repository, &format!("r{k}"), &format!("berth r{k}")))
        .collect();
    let bare_refs: Vec<String> = (0..=rounds)
        .map(|k| registry.push_web(&repository, &format!("bare-r{k}"), &format!("bare r{k}")))
        .collect();

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    // Port and health check come from the image (EXPOSE 8080, label berth.health-path).
    b.ok(&["app", "create", &app, "--image", &berth_refs[0]]);
    // Warm-up, once each side.
    b.ok(&["deploy", &app]);
    let mut previous = None;
    make_cold(&bare_refs[0]);
    bare_deploy(&app, &bare_refs[0], 0, &mut previous);

    let (mut bare, mut berth) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let tag = format!("r{round}");
        make_cold(&berth_refs[round]);
        make_cold(&bare_refs[round]);
        // Alternate which side goes first, too.
        if round % 2 == 1 {
            bare.push(bare_deploy(&app, &bare_refs[round], round, &mut previous));
            berth.push(berth_redeploy(&b, &app, &["--tag", &tag]));
        } else {
            berth.push(berth_redeploy(&b, &app, &["--tag", &tag]));
            bare.push(bare_deploy(&app, &bare_refs[round], round, &mut previous));
        }
        if verbose {
            println!(
                "  round {round}: bare {:.0} ms, berth {:.0} ms",
                bare[round - 1],
                berth[round - 1]
            );
        }
    }
    if verbose {
        let last = &b
            .ok(&["deployments", &app, "--limit", "1", "--json"])
            .json()[0];
        let steps: Vec<String> = last["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{} {}", s["step"].as_str().unwrap(), s["duration_ms"]))
            .collect();
        println!("  last berth deploy: {}", steps.join(", "));
    }
    let serving = b.serving(&app);
    assert_eq!(serving, format!("berth r{rounds}"), "the last tag serves");
    if let Some(old) = previous {
        berth_testkit::run(Command::new("docker").args(["rm", "-f", &old]));
    }
    b.ok(&["app", "rm", &app, "--purge"]);

    let range = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        )
    };
    let ((bare_min, bare_max), (berth_min, berth_max)) = (range(&bare), range(&berth));
    let (bare, berth) = (median(bare), median(berth));
    println!(
        "\nDeploy of a new tag of an image app (busybox httpd, local registry on loopback, local server), median of {rounds}, alternated:"
    );
    println!(
        "  bare docker CLI steps (pull, run, poll health, rm -f old)  {bare:6.0} ms ({bare_min:.0}–{bare_max:.0})   1.00x"
    );
    println!(
        "  berth deploy --tag                                         {berth:6.0} ms ({berth_min:.0}–{berth_max:.0})   {:.2}x   (target ≤ 1.3x)",
        berth / bare
    );
}
