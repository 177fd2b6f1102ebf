//! `git://`: a TCP connection to git daemon, opened with a `git-upload-pack` request line.

use tokio::io::AsyncWriteExt;

use crate::{GitError, Job, Snapshot, pktline};

pub(crate) async fn fetch(
    job: &Job,
    host: &str,
    port: u16,
    path: &str,
) -> Result<Snapshot, GitError> {
    let tcp = super::connect_tcp(job, host, port).await?;
    let (reader, mut writer) = tcp.into_split();
    let host_param = if port == 9418 {
        host.to_owned()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let hello = pktline::encode(format!("git-upload-pack {path}\0host={host_param}\0").as_bytes());
    writer
        .write_all(&hello)
        .await
        .map_err(|e| job.io("sending the upload-pack request", e))?;
    super::converse(job, reader, &mut writer, None).await
}
