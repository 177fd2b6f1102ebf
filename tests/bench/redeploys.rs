//! Redeploys of an app with real dependencies: the Flask sample (`tests/e2e/apps/notes-py`:
//! flask and gunicorn from PyPI, a release step and a worker) deployed from git with the
//! generated Dockerfile. A redeploy after a one-line change to its source against a redeploy
//! of the same commit, alternated round by round: the generated Dockerfile installs the
//! dependencies before it copies the source, so the change reuses that layer and costs only the
//! layers after it (target ≤ 1.2×). The first, cold deploy (dependencies downloaded) is printed
//! for scale.

use berth_testkit::{git, test_image};

use crate::{berth_redeploy, median};

pub fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    test_image("python");
    let sample = git::SampleApp::create("notes-py", "bench-notes", "/app/instance");
    let (b, app, repo) = (&sample.berth, sample.name.clone(), &sample.repo);
    let cold = berth_redeploy(b, &app, &[]);
    let source = std::fs::read_to_string(repo.path().join("app.py")).expect("app.py");
    let (mut same, mut changed) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always follows the other.
        if round % 2 == 0 {
            same.push(berth_redeploy(b, &app, &[]));
        }
        repo.commit(
            &[(
                "app.py",
                &source.replace("notes v1", &format!("notes v1.{round}")),
            )],
            "a one-line change",
        );
        changed.push(berth_redeploy(b, &app, &[]));
        if round % 2 == 1 {
            same.push(berth_redeploy(b, &app, &[]));
        }
    }
    let (same, changed) = (median(same), median(changed));
    println!("Redeploys of a Flask app with real dependencies (flask, gunicorn), {rounds} rounds");
    println!(
        "  first deploy (dependencies downloaded)   {:>8.0} ms",
        cold
    );
    println!(
        "  redeploy, no change                      {:>8.0} ms",
        same
    );
    println!(
        "  redeploy after a one-line change         {:>8.0} ms  ({:.2}x, target <= 1.2x)\n",
        changed,
        changed / same
    );
}
