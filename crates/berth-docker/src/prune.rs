//! What reclaiming disk on a server needs from Docker: every image with its size, the images
//! containers use, the build cache that nothing uses, and pruning that cache. `/system/df` and
//! `/build/prune` are read as plain JSON: their shape changed across API versions (Debian's
//! Docker 20.10 speaks 1.41) and only a few fields matter here.

use std::collections::HashSet;

use bollard::query_parameters::{ListContainersOptionsBuilder, ListImagesOptionsBuilder};
use bytes::Bytes;

use crate::client::DockerClient;
use crate::container::ImageInfo;
use crate::error::DockerError;

impl DockerClient {
    /// Every top-level image (tagged or dangling), newest first.
    pub async fn all_images(&self) -> Result<Vec<ImageInfo>, DockerError> {
        self.list_images(ListImagesOptionsBuilder::default().build())
            .await
    }

    /// The ids of the images containers (running or not) were created from.
    pub async fn images_in_use(&self) -> Result<HashSet<String>, DockerError> {
        let options = ListContainersOptionsBuilder::default().all(true).build();
        Ok(self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect())
    }

    /// Bytes of build cache no build uses (what pruning it frees).
    pub async fn build_cache_reclaimable(&self) -> Result<u64, DockerError> {
        let df = self.raw_json("GET", "/system/df").await?;
        let records = df
            .get("BuildCache")
            .and_then(|b| b.as_array())
            .cloned()
            .unwrap_or_default();
        Ok(records
            .iter()
            .filter(|r| {
                !r.get("InUse").and_then(|v| v.as_bool()).unwrap_or(false)
                    && !r.get("Shared").and_then(|v| v.as_bool()).unwrap_or(false)
            })
            .filter_map(|r| r.get("Size").and_then(|v| v.as_u64()))
            .sum())
    }

    /// Removes the build cache no build uses; the bytes freed.
    pub async fn prune_build_cache(&self) -> Result<u64, DockerError> {
        let answer = self.raw_json("POST", "/build/prune").await?;
        Ok(answer
            .get("SpaceReclaimed")
            .and_then(|v| v.as_u64())
            .unwrap_or(0))
    }

    /// One request to the Engine API, its JSON answer (an error status is an error).
    pub(crate) async fn raw_json(
        &self,
        method: &str,
        path: &str,
    ) -> Result<serde_json::Value, DockerError> {
        self.raw_json_within(method, path, std::time::Duration::from_secs(300))
            .await
    }

    pub(crate) async fn raw_json_within(
        &self,
        method: &str,
        path: &str,
        timeout: std::time::Duration,
    ) -> Result<serde_json::Value, DockerError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://docker/v{}{path}", self.api_version()))
            .body(bollard::body_full(Bytes::new()))
            .map_err(|e| DockerError::Protocol(e.to_string()))?;
        let (status, bytes) = self.send_raw(request, timeout).await?;
        if !status.is_success() {
            return Err(DockerError::Protocol(format!(
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| DockerError::Protocol(e.to_string()))
    }
}
