//! Image apps: reading an image on its server before it becomes an app (what port it listens
//! on, how to check its health), for `app create --image` and Quick Deploy.

use berth_model::ImageRef;
use berth_model::view::ImageInspection;

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Pulls `reference` on `server` (the only server when empty) and says how it would run:
    /// the port and health path Berth infers, and from what. Bad references, unknown images or
    /// tags and registries that refuse the pull end in a specific error.
    pub async fn image_inspect(
        &self,
        server: &str,
        reference: &str,
    ) -> Result<ImageInspection, ApiError> {
        let image = ImageRef::parse(reference)?;
        let reference = image.to_string();
        let server = self.store.server(&self.server_or_only(server)?)?;
        let host = self.host(&server).await?;
        let creds = self.credentials_for_image(&reference)?;
        let facts = berth_engine::images::inspect_image(&host, &reference, creds.as_ref()).await?;
        let inferred = berth_engine::images::infer_run(&facts);
        let (port, port_from) = inferred
            .port
            .clone()
            .map_or((None, None), |(p, f)| (Some(p), Some(f)));
        let (health_path, health_from) = inferred
            .health_path
            .clone()
            .map_or((None, None), |(p, f)| (Some(p), Some(f)));
        Ok(ImageInspection {
            digest: facts.digest_in(&image.repository),
            reference,
            platform: facts.platform,
            port,
            port_from,
            health_path,
            health_from,
            env: inferred.env,
        })
    }

    /// `server`, or the only server there is when it is empty.
    pub(crate) fn server_or_only(&self, server: &str) -> Result<String, ApiError> {
        if !server.is_empty() {
            return Ok(server.to_owned());
        }
        let servers = self.store.servers()?;
        match servers.as_slice() {
            [only] => Ok(only.name.clone()),
            [] => Err(ApiError::Invalid(
                "no server yet: add one with `berth server add` (or `--local`)".to_owned(),
            )),
            _ => Err(ApiError::Invalid(
                "several servers exist: say which one with --server".to_owned(),
            )),
        }
    }
}
