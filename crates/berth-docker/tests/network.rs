//! Against the real local dockerd: the shared network survives racing deploys.

#![cfg(unix)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use berth_docker::{BoxStream, Dialer, DockerClient};

/// The local Docker socket, dialed directly.
struct LocalSocket;

impl Dialer for LocalSocket {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(async {
            let stream = tokio::net::UnixStream::connect("/var/run/docker.sock").await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn describe(&self) -> String {
        "/var/run/docker.sock".to_owned()
    }
}

fn networks_named(name: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &format!("name=^{name}$")])
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Removes every network of the name, also when the test fails.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for id in networks_named(&self.0) {
            let _ = std::process::Command::new("docker")
                .args(["network", "rm", &id])
                .output();
        }
    }
}

#[tokio::test]
async fn racing_deploys_end_with_one_network_of_the_name() {
    let name = format!("berth-test-race-{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let docker = DockerClient::connect(Arc::new(LocalSocket))
        .await
        .expect("dockerd is running");

    // Eight deploys that all find the network missing at once.
    let racers = (0..8).map(|_| {
        let docker = docker.clone();
        let name = name.clone();
        tokio::spawn(async move { docker.ensure_network(&name).await })
    });
    for racer in racers {
        racer
            .await
            .expect("no panic")
            .expect("ensure_network succeeds");
    }
    assert_eq!(
        networks_named(&name).len(),
        1,
        "exactly one network is left"
    );

    // A host that already has twins (left by an older Berth) is healed on the next deploy,
    // keeping the oldest network.
    let first = networks_named(&name);
    // The docker CLI refuses a duplicate name, so the twin is made through the API, which
    // (before API 1.44) accepts it.
    let twin = raw_create(&name).await;
    assert_eq!(networks_named(&name).len(), 2, "the twin exists");
    docker
        .ensure_network(&name)
        .await
        .expect("ensure_network heals");
    let left = networks_named(&name);
    assert_eq!(left.len(), 1);
    assert_eq!(left, first, "the older network is kept");
    assert!(!twin.starts_with(&left[0]));
}

/// Creates a network through the Engine API, which does not check for duplicates unless asked.
async fn raw_create(name: &str) -> String {
    let docker = bollard::Docker::connect_with_unix_defaults()
        .expect("the local socket")
        .negotiate_version()
        .await
        .expect("dockerd is running");
    let request = bollard::models::NetworkCreateRequest {
        name: name.to_owned(),
        ..Default::default()
    };
    docker
        .create_network(request)
        .await
        .expect("the API creates the twin")
        .id
}
