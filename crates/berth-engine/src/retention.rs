//! The one image-retention rule, for every driver (the desktop, the CLI and the relay): keep the
//! serving deployment's image and those of the last [`KEEP_IMAGES`] healthy deployments, so
//! `rollback` never needs a rebuild. A failed or cancelled deployment keeps nothing: the runner
//! removes the image it built (see `run.rs`), so what Docker holds for an app is always images
//! that served.

use berth_model::Deployment;

/// How many earlier healthy deployments keep their image for rollback.
pub const KEEP_IMAGES: usize = 5;

/// The images to keep when pruning an app's images: `serving` first, then the images of the
/// newest healthy deployments in `history` (newest first) until [`KEEP_IMAGES`] distinct ones
/// besides the serving one are kept. Deployments that never became healthy count for nothing,
/// however many there are.
pub fn kept_images<'a>(
    serving: Option<&str>,
    history: impl IntoIterator<Item = &'a Deployment>,
) -> Vec<String> {
    kept(
        serving,
        history
            .into_iter()
            .filter(|d| d.status.was_healthy())
            .filter_map(|d| d.image.as_deref()),
    )
}

/// [`kept_images`] for a driver that knows no history but what Docker holds (the relay):
/// every image an app has on the host served once (failed runs remove theirs), so the newest
/// of them are the newest healthy ones.
pub fn kept_images_on_host<'a>(
    serving: Option<&str>,
    images_newest_first: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    kept(serving, images_newest_first.into_iter())
}

fn kept<'a>(serving: Option<&str>, healthy: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut keep: Vec<String> = serving.map(str::to_owned).into_iter().collect();
    let limit = keep.len() + KEEP_IMAGES;
    for image in healthy {
        if keep.len() == limit {
            break;
        }
        if !keep.iter().any(|k| k == image) {
            keep.push(image.to_owned());
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use berth_model::{DeploymentKind, DeploymentStatus};

    use super::*;

    fn d(id: &str, status: DeploymentStatus, image: &str) -> Deployment {
        Deployment {
            status,
            image: Some(image.to_owned()),
            ..Deployment::start(
                id.to_owned(),
                "web",
                DeploymentKind::Deploy,
                "main".into(),
                0,
            )
        }
    }

    #[test]
    fn failed_deployments_never_push_a_healthy_image_out() {
        use DeploymentStatus::{Active, Failed, Superseded};
        let mut history: Vec<Deployment> = (1..=6)
            .map(|i| d(&format!("f{i}"), Failed, &format!("berth/web:f{i}")))
            .collect();
        history.push(d("b", Active, "berth/web:b"));
        history.push(d("a", Superseded, "berth/web:a"));
        let keep = kept_images(Some("berth/web:b"), &history);
        assert_eq!(keep, ["berth/web:b", "berth/web:a"]);
    }

    #[test]
    fn the_serving_image_and_five_healthy_ones_are_kept_once_each() {
        use DeploymentStatus::Superseded;
        let mut history = vec![d("r", Superseded, "berth/web:1")]; // a rollback to 1
        history.extend((1..=8).map(|i| d(&format!("{i}"), Superseded, &format!("berth/web:{i}"))));
        let keep = kept_images(Some("berth/web:9"), &history);
        assert_eq!(
            keep,
            [
                "berth/web:9",
                "berth/web:1",
                "berth/web:2",
                "berth/web:3",
                "berth/web:4",
                "berth/web:5"
            ]
        );
    }

    #[test]
    fn on_the_host_the_newest_images_are_the_healthy_ones() {
        let images = ["berth/web:c", "berth/web:b", "berth/web:a"];
        assert_eq!(
            kept_images_on_host(Some("berth/web:b"), images),
            ["berth/web:b", "berth/web:c", "berth/web:a"]
        );
        assert_eq!(kept_images_on_host(None, []), Vec::<String>::new());
    }
}
