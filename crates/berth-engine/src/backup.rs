//! Backups: a service's data copied out by its kind's own method (a dump streamed from a
//! command in its container, or its files copied while it is paused), compressed with zstd and
//! checksummed on the way, kept in a target with a JSON record beside it; restored by the
//! reverse path after the checksum is proven; verified by restoring into a throwaway container
//! of the same image.
//!
//! Nothing is held whole in memory: the stream goes through the compressor into a spool file
//! (the target's own directory for a local target), and from there to the target.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use berth_docker::{LogStream, labels};
use berth_model::{
    BackupMethod, BackupRecord, BackupResult, Location, ServiceKind, Verified,
    backup::beyond_retention,
};
use sha2::Digest;
use tokio::io::AsyncRead;

use crate::error::EngineError;
use crate::host::Host;

/// zstd's level for backups: fast (hundreds of MB/s per core) and a good ratio on dumps.
const ZSTD_LEVEL: i32 = 3;
/// The empty image holder containers are made from (nothing to pull, nothing runs).
const HOLDER_IMAGE: &str = "berth/backup-holder:1";
/// How much of a failing command's stderr a record keeps.
const STDERR_KEPT: usize = 4096;

fn failed(message: impl Into<String>) -> EngineError {
    EngineError::Backup(message.into())
}

fn io_failed(what: &str, e: io::Error) -> EngineError {
    failed(format!("{what}: {e}"))
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type SpoolFile = Hashing<io::BufWriter<std::fs::File>>;

/// What the compressed stream is written to: the file, or a sealer in front of it.
enum Sink {
    Plain(SpoolFile),
    Sealed(berth_age::Sealer<SpoolFile>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

/// The compressing (and, for a sealed target, encrypting), hashing spool a backup is written
/// into.
struct Spool {
    path: PathBuf,
    encoder: zstd::stream::write::Encoder<'static, Sink>,
    raw: u64,
}

impl Spool {
    fn create(path: PathBuf, seal: Option<&berth_age::Recipient>) -> Result<Spool, EngineError> {
        let file = std::fs::File::create(&path)
            .map_err(|e| io_failed(&format!("cannot write {}", path.display()), e))?;
        let hashing = Hashing {
            inner: io::BufWriter::with_capacity(256 * 1024, file),
            hash: sha2::Sha256::new(),
            bytes: 0,
        };
        let sink = match seal {
            Some(recipient) => Sink::Sealed(
                berth_age::Sealer::new(recipient, hashing)
                    .map_err(|e| io_failed("sealing the backup", e))?,
            ),
            None => Sink::Plain(hashing),
        };
        let encoder = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)
            .map_err(|e| io_failed("zstd", e))?;
        Ok(Spool {
            path,
            encoder,
            raw: 0,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.raw += bytes.len() as u64;
        self.encoder.write_all(bytes)
    }

    /// Ends the stream: the stored size and its SHA-256.
    fn finish(self) -> Result<(PathBuf, u64, u64, String), EngineError> {
        let sink = self
            .encoder
            .finish()
            .map_err(|e| io_failed("compressing the backup", e))?;
        let mut hashing = match sink {
            Sink::Plain(w) => w,
            Sink::Sealed(w) => w.finish().map_err(|e| io_failed("sealing the backup", e))?,
        };
        hashing
            .flush()
            .map_err(|e| io_failed("writing the backup", e))?;
        let sha = hex(&hashing.hash.finalize());
        Ok((self.path, self.raw, hashing.bytes, sha))
    }
}

/// Where backups of one target are kept, as the engine reaches it.
pub enum Store {
    /// A directory on this machine.
    Local(PathBuf),
    /// A directory on a server, reached through its Docker engine (a holder container with
    /// the directory mounted; files are copied in and out through the archive API). Files are
    /// removed by `rm` in a throwaway container of `tool`, an image on that server that has
    /// one (the service's own); without one, by `rm` over the SSH session.
    Server {
        host: Arc<Host>,
        path: String,
        tool: Option<String>,
    },
    /// A bucket of S3-compatible storage, under a prefix (`""`: its root).
    S3 {
        bucket: berth_s3::Bucket,
        prefix: String,
    },
}

fn s3_failed(e: berth_s3::S3Error) -> EngineError {
    failed(e.to_string())
}

impl Store {
    /// The store for `location`; `server_host` must be the host of a server location.
    pub fn new(location: &Location, server_host: Option<Arc<Host>>) -> Result<Store, EngineError> {
        match (location, server_host) {
            (Location::Local { path }, _) => Ok(Store::Local(PathBuf::from(path))),
            (Location::Server { path, .. }, Some(host)) => Ok(Store::Server {
                host,
                path: path.clone(),
                tool: None,
            }),
            (Location::Server { server, .. }, None) => Err(failed(format!(
                "the target's server {server} is not connected"
            ))),
            (Location::S3 { bucket, .. }, _) => Err(failed(format!(
                "the keys of bucket {bucket} were not given"
            ))),
        }
    }

    /// The store for an S3 location, signed with the given keys.
    pub fn s3(
        location: &Location,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Store, EngineError> {
        let Location::S3 {
            bucket,
            prefix,
            endpoint,
            region,
        } = location
        else {
            return Err(failed(format!("{location} is not in S3")));
        };
        let bucket = berth_s3::Bucket::new(
            endpoint.as_deref(),
            bucket,
            region,
            access_key_id,
            secret_access_key,
        )
        .map_err(s3_failed)?;
        Ok(Store::S3 {
            bucket,
            prefix: prefix.clone(),
        })
    }

    /// An S3 object's key for `name`.
    fn s3_key(prefix: &str, name: &str) -> String {
        match prefix.is_empty() {
            true => name.to_owned(),
            false => format!("{prefix}/{name}"),
        }
    }

    /// Removals on a server go through a throwaway container of `image` (one on that server
    /// with an `rm`).
    pub fn with_tool(mut self, image: Option<String>) -> Store {
        if let Store::Server { tool, .. } = &mut self {
            *tool = image;
        }
        self
    }

    /// The holder container for a server directory, made (with its empty image) on first use.
    async fn holder(host: &Host, path: &str) -> Result<String, EngineError> {
        // Named after the directory (readable in `docker ps -a`), unique by its whole path.
        let digest = sha2::Sha256::digest(path.as_bytes());
        let last: String = path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(40)
            .collect();
        let name = format!("berth-backups-{last}-{}", &hex(&digest)[..8]);
        let docker = host.docker();
        if docker.image_id(HOLDER_IMAGE).await?.is_none() {
            docker
                .import_empty_image(HOLDER_IMAGE, &["backups"])
                .await?;
        }
        let labels = HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), "backups".to_owned()),
        ]);
        docker
            .create_holder(
                &name,
                HOLDER_IMAGE,
                &[(path.to_owned(), "/backups".into())],
                &labels,
            )
            .await?;
        Ok(name)
    }

    /// Checks the target can be written: a small file written and read back.
    pub async fn check(&self) -> Result<(), EngineError> {
        let probe = b"berth backup target check\n";
        self.put_bytes(".berth-check", probe).await?;
        let back = self.get_bytes(".berth-check").await?;
        if back != probe {
            return Err(failed(
                "the target gave back something else than was written",
            ));
        }
        Ok(())
    }

    async fn put_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), EngineError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|e| {
                        io_failed(&format!("cannot create {}", parent.display()), e)
                    })?;
                }
                let partial = path.with_extension("partial");
                tokio::fs::write(&partial, bytes)
                    .await
                    .map_err(|e| io_failed(&format!("cannot write {}", path.display()), e))?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(|e| io_failed(&format!("cannot write {}", path.display()), e))
            }
            Store::Server { host, path, .. } => {
                let holder = Store::holder(host, path).await?;
                host.docker()
                    .upload_file(
                        &holder,
                        "/backups",
                        name,
                        bytes.len() as u64,
                        io::Cursor::new(bytes.to_vec()),
                    )
                    .await
                    .map_err(|e| {
                        failed(format!(
                            "cannot write {name} in {path} on {}: {e}",
                            host.name()
                        ))
                    })
            }
            Store::S3 { bucket, prefix } => bucket
                .put(
                    &Store::s3_key(prefix, name),
                    bytes::Bytes::copy_from_slice(bytes),
                )
                .await
                .map_err(s3_failed),
        }
    }

    async fn get_bytes(&self, name: &str) -> Result<Vec<u8>, EngineError> {
        use tokio::io::AsyncReadExt;
        let (_, mut reader) = self.get(name).await?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .await
            .map_err(|e| io_failed(name, e))?;
        Ok(out)
    }

    /// Copies the spooled file at `spool` to `name` (a local target's spool already is in
    /// its directory: renamed).
    async fn put_file(&self, spool: &Path, name: &str) -> Result<(), EngineError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                tokio::fs::rename(spool, &path)
                    .await
                    .map_err(|e| io_failed(&format!("cannot write {}", path.display()), e))
            }
            Store::Server { host, path, .. } => {
                let holder = Store::holder(host, path).await?;
                let file = tokio::fs::File::open(spool)
                    .await
                    .map_err(|e| io_failed("the spooled backup", e))?;
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| io_failed("the spooled backup", e))?
                    .len();
                let put = host
                    .docker()
                    .upload_file(&holder, "/backups", name, size, file)
                    .await;
                let _ = tokio::fs::remove_file(spool).await;
                put.map_err(|e| {
                    failed(format!(
                        "cannot write {name} in {path} on {}: {e}",
                        host.name()
                    ))
                })
            }
            Store::S3 { bucket, prefix } => {
                let put = bucket.put_file(&Store::s3_key(prefix, name), spool).await;
                let _ = tokio::fs::remove_file(spool).await;
                put.map_err(s3_failed)
            }
        }
    }

    /// The file `name`: its size and a reader of it.
    pub async fn get(
        &self,
        name: &str,
    ) -> Result<(u64, Box<dyn AsyncRead + Send + Unpin>), EngineError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| io_failed(&format!("cannot read {}", path.display()), e))?;
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| io_failed(&format!("cannot read {}", path.display()), e))?
                    .len();
                Ok((size, Box::new(file)))
            }
            Store::Server { host, path, .. } => {
                let holder = Store::holder(host, path).await?;
                let (size, reader) = host
                    .docker()
                    .download_file(&holder, &format!("/backups/{name}"))
                    .await
                    .map_err(|e| {
                        failed(format!(
                            "cannot read {name} in {path} on {}: {e}",
                            host.name()
                        ))
                    })?;
                Ok((size, Box::new(reader)))
            }
            Store::S3 { bucket, prefix } => bucket
                .get(&Store::s3_key(prefix, name))
                .await
                .map_err(s3_failed),
        }
    }

    /// The records of `service`'s backups, newest first.
    pub async fn records(&self, service: &str) -> Result<Vec<BackupRecord>, EngineError> {
        let mut out = Vec::new();
        match self {
            Store::Local(dir) => {
                let dir = dir.join(service).join("records");
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(io_failed(&format!("cannot read {}", dir.display()), e)),
                };
                while let Some(entry) = entries
                    .next_entry()
                    .await
                    .map_err(|e| io_failed(&format!("cannot read {}", dir.display()), e))?
                {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "json")
                        && let Ok(text) = tokio::fs::read(&path).await
                    {
                        match serde_json::from_slice::<BackupRecord>(&text) {
                            Ok(r) => out.push(r),
                            Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
                        }
                    }
                }
            }
            Store::Server { host, path, .. } => {
                let holder = Store::holder(host, path).await?;
                let tar = host
                    .docker()
                    .download(&holder, &format!("/backups/{service}/records"));
                out = read_records(tar).await.map_err(|e| {
                    failed(format!(
                        "cannot list {path}/{service} on {}: {e}",
                        host.name()
                    ))
                })?;
            }
            Store::S3 { bucket, prefix } => {
                let dir = Store::s3_key(prefix, &format!("{service}/records/"));
                for key in bucket.list(&dir).await.map_err(s3_failed)? {
                    if !key.ends_with(".json") {
                        continue;
                    }
                    let name = key.strip_prefix(&Store::s3_key(prefix, "")).unwrap_or(&key);
                    let text = self.get_bytes(name.trim_start_matches('/')).await?;
                    match serde_json::from_slice::<BackupRecord>(&text) {
                        Ok(r) => out.push(r),
                        Err(e) => tracing::warn!("skipping {key}: {e}"),
                    }
                }
            }
        }
        out.sort_by(BackupRecord::newest_first);
        Ok(out)
    }

    /// Removes a backup's file and record.
    async fn remove(&self, record: &BackupRecord) -> Result<(), EngineError> {
        let file = format!("{}/{}", record.service, record.file);
        let json = format!("{}/records/{}.json", record.service, record.id);
        match self {
            Store::Local(dir) => {
                for name in [&json, &file] {
                    match tokio::fs::remove_file(dir.join(name)).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_failed(&format!("cannot remove {name}"), e)),
                    }
                }
                Ok(())
            }
            Store::Server {
                host,
                path,
                tool: Some(image),
            } => {
                let name = format!("berth-backup-rm-{:08x}", rand::random::<u32>());
                let cmd = vec![
                    "rm".to_owned(),
                    "-f".to_owned(),
                    format!("/backups/{json}"),
                    format!("/backups/{file}"),
                ];
                let (code, output) = host
                    .docker()
                    .run_tool(&name, image, &[(path.clone(), "/backups".to_owned())], &cmd)
                    .await?;
                if code != 0 {
                    return Err(failed(format!(
                        "cannot remove backup {} on {}: {output}",
                        record.id,
                        host.name()
                    )));
                }
                Ok(())
            }
            Store::S3 { bucket, prefix } => {
                for name in [&json, &file] {
                    bucket
                        .delete(&Store::s3_key(prefix, name))
                        .await
                        .map_err(s3_failed)?;
                }
                Ok(())
            }
            Store::Server { host, path, .. } => {
                let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
                let command = format!(
                    "rm -f {} {}",
                    quote(&format!("{path}/{json}")),
                    quote(&format!("{path}/{file}"))
                );
                let out = host.transport().exec(&command).await?;
                if !out.success() {
                    return Err(failed(format!(
                        "cannot remove backup {} on {}: {}",
                        record.id,
                        host.name(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
                Ok(())
            }
        }
    }

    /// A spool file for a backup going to `name`: in the target's directory for a local
    /// target (renamed into place at the end), in `spool_dir` otherwise.
    async fn spool_path(&self, name: &str, spool_dir: &Path) -> Result<PathBuf, EngineError> {
        let dir = match self {
            Store::Local(dir) => dir.join(name).parent().map(Path::to_path_buf),
            Store::Server { .. } | Store::S3 { .. } => Some(spool_dir.to_path_buf()),
        }
        .unwrap_or_else(|| spool_dir.to_path_buf());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_failed(&format!("cannot create {}", dir.display()), e))?;
        let file = name.rsplit('/').next().unwrap_or(name);
        Ok(dir.join(format!(".{file}.partial")))
    }
}

/// The JSON records in a tar stream of a `records` directory (a missing directory: none).
async fn read_records(tar: berth_docker::ByteStream) -> Result<Vec<BackupRecord>, String> {
    use tokio::io::AsyncReadExt;
    let mut reader = tokio_util::io::StreamReader::new(tar);
    let mut out = Vec::new();
    loop {
        let mut header = [0u8; 512];
        match reader.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) => {
                let e = berth_docker::DockerError::from_io("records", e);
                return match e {
                    berth_docker::DockerError::NotFound { .. } => Ok(out),
                    berth_docker::DockerError::Transfer { .. } if out.is_empty() => Ok(out),
                    other => Err(other.to_string()),
                };
            }
        }
        if header.iter().all(|b| *b == 0) {
            return Ok(out);
        }
        let parsed = tar::Header::from_byte_slice(&header);
        let size = parsed.entry_size().map_err(|e| e.to_string())?;
        let padded = size.div_ceil(512) * 512;
        let is_json = parsed.entry_type().is_file()
            && parsed
                .path()
                .is_ok_and(|p| p.extension().is_some_and(|e| e == "json"));
        if is_json && size < 1024 * 1024 {
            let mut body = vec![0u8; padded as usize];
            reader
                .read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            body.truncate(size as usize);
            match serde_json::from_slice::<BackupRecord>(&body) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!("skipping a backup record: {e}"),
            }
        } else {
            let mut skip = (&mut reader).take(padded);
            tokio::io::copy(&mut skip, &mut tokio::io::sink())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
}

/// What a backup is of, and how it is taken.
pub struct Subject<'a> {
    pub service: &'a str,
    pub kind: ServiceKind,
    /// The service's serving container.
    pub container: &'a str,
    pub method: BackupMethod,
}

/// Takes a backup of `subject` on `host` into `store`: the record, good or failed (a failed one
/// is kept too, so the history shows it; its partial file is removed). `spool_dir` is a
/// directory on this machine for the stream on its way to a remote target.
pub async fn create(
    host: &Host,
    subject: &Subject<'_>,
    store: &Store,
    spool_dir: &Path,
    trigger: &str,
    now_ms: i64,
    seal: Option<&berth_age::Recipient>,
) -> Result<BackupRecord, EngineError> {
    let started = Instant::now();
    let id = BackupRecord::new_id(now_ms, rand::random::<u32>());
    let format = subject.method.format().to_owned();
    // `.age`: opens with `age -d -i KEY`, then `zstd -d`, without Berth.
    let file = match seal {
        Some(_) => format!("{id}.{format}.zst.age"),
        None => format!("{id}.{format}.zst"),
    };
    let name = format!("{}/{file}", subject.service);
    let spool_path = store.spool_path(&name, spool_dir).await?;
    let mut record = BackupRecord {
        id: id.clone(),
        service: subject.service.to_owned(),
        server: host.name().to_owned(),
        kind: subject.kind,
        format,
        file,
        started_at: now_ms,
        duration_ms: 0,
        raw_bytes: 0,
        stored_bytes: 0,
        sha256: String::new(),
        result: BackupResult::Ok,
        trigger: trigger.to_owned(),
        sealed_to: seal.map(ToString::to_string),
    };
    let taken = take(host, subject, spool_path.clone(), seal).await;
    let taken = match taken {
        Ok(spool) => match store.put_file(&spool.0, &name).await {
            Ok(()) => Ok(spool),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match taken {
        Ok((_, raw, stored, sha)) => {
            record.raw_bytes = raw;
            record.stored_bytes = stored;
            record.sha256 = sha;
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&spool_path).await;
            record.result = BackupResult::Failed {
                error: e.to_string(),
            };
        }
    }
    let json = serde_json::to_vec_pretty(&record)
        .map_err(|e| failed(format!("the backup record: {e}")))?;
    store
        .put_bytes(&format!("{}/records/{id}.json", subject.service), &json)
        .await?;
    Ok(record)
}

/// Streams the data out of the container into a spool at `path`.
async fn take(
    host: &Host,
    subject: &Subject<'_>,
    path: PathBuf,
    seal: Option<&berth_age::Recipient>,
) -> Result<(PathBuf, u64, u64, String), EngineError> {
    let docker = host.docker();
    let mut spool = Spool::create(path, seal)?;
    match &subject.method {
        BackupMethod::Dump { dump, .. } => {
            let mut stderr = Vec::new();
            let code = {
                let mut on_output = |stream: LogStream, bytes: &[u8]| -> io::Result<()> {
                    match stream {
                        LogStream::Stdout => spool.put(bytes),
                        LogStream::Stderr => {
                            keep_tail(&mut stderr, bytes);
                            Ok(())
                        }
                    }
                };
                docker
                    .exec_piped(subject.container, dump, None, &mut on_output)
                    .await
            };
            let code = match code {
                Err(berth_docker::DockerError::ContainerNotRunning { .. }) => {
                    return Err(failed(format!(
                        "{} is not running: start it to back it up (`berth service start {}`)",
                        subject.service, subject.service
                    )));
                }
                other => other?,
            };
            if code != 0 {
                return Err(failed(format!(
                    "the dump command exited with {code}: {}",
                    String::from_utf8_lossy(&stderr).trim()
                )));
            }
        }
        BackupMethod::Files { paths, flush } => {
            if let Some(flush) = flush {
                let mut out = Vec::new();
                let mut on_output = |_: LogStream, bytes: &[u8]| -> io::Result<()> {
                    keep_tail(&mut out, bytes);
                    Ok(())
                };
                let code = docker
                    .exec_piped(subject.container, flush, None, &mut on_output)
                    .await?;
                if code != 0 {
                    return Err(failed(format!(
                        "writing {}'s data to disk failed ({code}): {}",
                        subject.service,
                        String::from_utf8_lossy(&out).trim()
                    )));
                }
            }
            docker.pause(subject.container, true).await?;
            let copied = copy_dirs(host, subject.container, paths, spool).await;
            // Unpaused whatever happened.
            let unpaused = docker.pause(subject.container, false).await;
            spool = copied?;
            unpaused?;
        }
    }
    spool.finish()
}

/// Copies the directories `paths` of `container` into `spool` as one tar of absolute paths
/// (unpacked at `/` to restore), on a blocking thread; the spool comes back.
async fn copy_dirs(
    host: &Host,
    container: &str,
    paths: &[String],
    spool: Spool,
) -> Result<Spool, EngineError> {
    let docker = host.docker();
    // Requests made here, read on the blocking thread (through the runtime's handle).
    let sources: Vec<(String, tokio_util::io::SyncIoBridge<_>)> = paths
        .iter()
        .map(|path| {
            let reader = tokio_util::io::StreamReader::new(docker.download(container, path));
            (path.clone(), tokio_util::io::SyncIoBridge::new(reader))
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(spool);
        for (path, reader) in sources {
            append_rooted(reader, &path, &mut builder)
                .map_err(|e| failed(format!("copying {path}: {e}")))?;
        }
        builder
            .into_inner()
            .map_err(|e| io_failed("writing the backup", e))
    })
    .await
    .map_err(|e| failed(format!("the copy stopped: {e}")))?
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends the tar Docker gives for the directory `path` (entries named from its last
/// component: `data/…`) to `out`, each entry named by its absolute path without the leading
/// `/` (`var/lib/data/…`; hard links likewise), so the tars of several directories make one
/// archive that unpacks at `/`. The number of entries.
fn append_rooted<R: io::Read, W: Write>(
    input: R,
    path: &str,
    out: &mut tar::Builder<W>,
) -> io::Result<u64> {
    let parent = Path::new(path)
        .parent()
        .map(|p| p.strip_prefix("/").unwrap_or(p).to_path_buf())
        .unwrap_or_default();
    let mut archive = tar::Archive::new(input);
    let mut entries = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = parent.join(entry.path()?);
        let mut header = entry.header().clone();
        header.set_size(entry.size());
        match header.entry_type() {
            tar::EntryType::Link => {
                let target = entry.link_name()?.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "a hard link without a target")
                })?;
                let target = parent.join(target);
                out.append_link(&mut header, &name, &target)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                out.append_link(&mut header, &name, &target)?;
            }
            _ => out.append_data(&mut header, &name, &mut entry)?,
        }
        entries += 1;
    }
    Ok(entries)
}

fn keep_tail(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(bytes);
    if buf.len() > STDERR_KEPT {
        let cut = buf.len() - STDERR_KEPT;
        buf.drain(..cut);
    }
}

/// A backup to put back: its record, the target it is in, where it waits on this machine on
/// its way, and the key that opens it when it is sealed.
pub struct Source<'a> {
    pub store: &'a Store,
    pub record: &'a BackupRecord,
    pub spool_dir: &'a Path,
    pub key: Option<&'a berth_age::Identity>,
}

impl Source<'_> {
    /// The key to open the backup with (`None`: it is not sealed); a sealed backup without
    /// its key is refused before anything is downloaded.
    fn opener(&self) -> Result<Option<berth_age::Identity>, EngineError> {
        let Some(sealed_to) = &self.record.sealed_to else {
            return Ok(None);
        };
        match self.key {
            Some(key) if key.recipient().to_string() == *sealed_to => Ok(Some(key.clone())),
            Some(key) => Err(failed(format!(
                "backup {} is sealed to {sealed_to}; this machine's backup key is {}: import the key it was sealed with (`berth backup key import`)",
                self.record.id,
                key.recipient()
            ))),
            None => Err(failed(format!(
                "backup {} is sealed to {sealed_to} and this machine has no backup key: import it (`berth backup key import`)",
                self.record.id
            ))),
        }
    }
}

/// A backup's file on this machine, its checksum proven, and the key that opens it.
struct Fetched {
    path: PathBuf,
    key: Option<berth_age::Identity>,
}

impl Fetched {
    async fn remove(&self) {
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// Downloads the source's file into its spool directory and proves its checksum: the
/// verified copy (compressed, sealed if it was). A file that does not match its record is
/// refused.
async fn fetch_verified(source: &Source<'_>) -> Result<Fetched, EngineError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let key = source.opener()?;
    let (store, record, spool_dir) = (source.store, source.record, source.spool_dir);
    if !record.is_good() {
        return Err(failed(format!(
            "backup {} failed when it was taken; it cannot be restored",
            record.id
        )));
    }
    let (_, mut reader) = store
        .get(&format!("{}/{}", record.service, record.file))
        .await?;
    tokio::fs::create_dir_all(spool_dir)
        .await
        .map_err(|e| io_failed(&format!("cannot create {}", spool_dir.display()), e))?;
    let path = spool_dir.join(format!(".restore-{}.zst", record.id));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| io_failed(&format!("cannot write {}", path.display()), e))?;
    let mut hash = sha2::Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| io_failed("reading the backup", e))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
        file.write_all(&buf[..n])
            .await
            .map_err(|e| io_failed("spooling the backup", e))?;
    }
    file.flush()
        .await
        .map_err(|e| io_failed("spooling the backup", e))?;
    let sha = hex(&hash.finalize());
    if sha != record.sha256 || size != record.stored_bytes {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(failed(format!(
            "backup {} is damaged: its file has {size} bytes with SHA-256 {sha}, its record says {} bytes with {} — nothing was restored",
            record.id, record.stored_bytes, record.sha256
        )));
    }
    Ok(Fetched { path, key })
}

/// The contents of the verified spool at `path`, opened with `key` when it is sealed and
/// decompressed.
fn open_spool(path: &Path, key: Option<&berth_age::Identity>) -> io::Result<Box<dyn io::Read>> {
    let file = io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let compressed: Box<dyn io::Read> = match key {
        Some(key) => Box::new(
            berth_age::Opener::new(key, file)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        ),
        None => Box::new(file),
    };
    Ok(Box::new(zstd::stream::read::Decoder::new(compressed)?))
}

/// A reader of the decompressed contents of the verified spool at `path` (opened and
/// decompressed on a blocking thread, handed over through a small pipe).
fn decompressed(fetched: &Fetched) -> impl AsyncRead + Send + Unpin + 'static {
    let (path, key) = (fetched.path.clone(), fetched.key.clone());
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    tokio::task::spawn_blocking(move || {
        let mut writer = tokio_util::io::SyncIoBridge::new(writer);
        let copied = open_spool(&path, key.as_ref()).and_then(|mut contents| {
            io::copy(&mut contents, &mut writer)?;
            writer.shutdown()
        });
        if let Err(e) = copied {
            tracing::warn!("decompressing {}: {e}", path.display());
        }
    });
    reader
}

/// Puts `record`'s data back into `container` (the service's serving one, or a throwaway one):
/// a dump is fed to the kind's restore command; files are copied back with the container
/// stopped, then it is started again. The checksum is proven first: a damaged backup changes
/// nothing.
pub async fn restore(
    host: &Host,
    container: &str,
    kind: ServiceKind,
    method: &BackupMethod,
    source: &Source<'_>,
) -> Result<(), EngineError> {
    let spool = fetch_verified(source).await?;
    let done = restore_spool(host, container, method, &spool).await;
    spool.remove().await;
    done?;
    if matches!(method, BackupMethod::Files { .. }) {
        // Started again on the restored files: ready when its probe passes.
        let cancel = tokio_util::sync::CancellationToken::new();
        crate::health::wait_probe(
            host,
            container,
            kind.probe().as_deref(),
            500,
            120_000,
            &cancel,
        )
        .await?;
    }
    Ok(())
}

async fn restore_spool(
    host: &Host,
    container: &str,
    method: &BackupMethod,
    spool: &Fetched,
) -> Result<(), EngineError> {
    let docker = host.docker();
    match method {
        BackupMethod::Dump { restore, .. } => {
            let mut output = Vec::new();
            let mut on_output = |_: LogStream, bytes: &[u8]| -> io::Result<()> {
                keep_tail(&mut output, bytes);
                Ok(())
            };
            let input: Box<dyn AsyncRead + Send + Unpin> = Box::new(decompressed(spool));
            let code = docker
                .exec_piped(container, restore, Some(input), &mut on_output)
                .await?;
            if code != 0 {
                return Err(failed(format!(
                    "the restore command exited with {code}: {}",
                    String::from_utf8_lossy(&output).trim()
                )));
            }
        }
        BackupMethod::Files { paths, .. } => {
            docker.stop_container(container, 30).await?;
            empty_dirs(host, container, paths).await;
            let copied = upload_spool(host, container, spool).await;
            // Started again whatever happened: the old data if the copy failed early.
            let started = docker.start_container(container).await;
            copied?;
            started?;
        }
    }
    Ok(())
}

/// Unpacks the verified tar spool at `/` of `container`.
async fn upload_spool(host: &Host, container: &str, spool: &Fetched) -> Result<(), EngineError> {
    let reader = decompressed(spool);
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
    host.docker()
        .upload_tar(container, "/", Box::pin(stream))
        .await?;
    Ok(())
}

/// Empties the directories `paths` of the stopped `container` before its files are put back,
/// so what was written since the backup does not stay beside it: `rm` in a throwaway
/// container of its own image with its volumes. An image without a shell cannot: the files
/// are then only overwritten (said in the log).
async fn empty_dirs(host: &Host, container: &str, paths: &[String]) {
    let docker = host.docker();
    let image = match docker.inspect_container(container).await {
        Ok(Some(c)) => c.image,
        _ => return,
    };
    let mut cmd = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        "for d; do [ -d \"$d\" ] || continue; find \"$d\" -mindepth 1 -maxdepth 1 \
         -exec rm -rf {} + || exit 1; done"
            .to_owned(),
        "sh".to_owned(),
    ];
    cmd.extend(paths.iter().cloned());
    let name = format!(
        "berth-empty-{container}-{:06x}",
        rand::random::<u32>() & 0xff_ffff
    );
    match docker
        .run_tool_on_volumes_of(&name, container, &image, &cmd)
        .await
    {
        Ok((0, _)) => {}
        Ok((code, out)) => tracing::warn!(
            "could not empty {} of {container} before restoring ({code}): {out}; its files are overwritten",
            paths.join(", ")
        ),
        Err(e) => tracing::warn!(
            "could not empty {} of {container} before restoring: {e}; its files are overwritten",
            paths.join(", ")
        ),
    }
}

/// The records of `service` in `store`, and which of them retention at `keep` removes; those
/// are removed.
pub async fn apply_retention(
    store: &Store,
    service: &str,
    keep: usize,
) -> Result<Vec<String>, EngineError> {
    let records = store.records(service).await?;
    let gone = beyond_retention(&records, keep);
    for id in &gone {
        if let Some(record) = records.iter().find(|r| &r.id == id) {
            store.remove(record).await?;
        }
    }
    Ok(gone)
}

/// One record of `service` in `store` by id (or a unique prefix of it; `latest`: the newest
/// good one).
pub async fn find(store: &Store, service: &str, id: &str) -> Result<BackupRecord, EngineError> {
    let records = store.records(service).await?;
    if id == "latest" {
        return records
            .into_iter()
            .find(BackupRecord::is_good)
            .ok_or_else(|| failed(format!("{service} has no good backup in this target")));
    }
    let mut matching = records.into_iter().filter(|r| r.id.starts_with(id));
    match (matching.next(), matching.next()) {
        (Some(r), None) => Ok(r),
        (Some(_), Some(_)) => Err(failed(format!(
            "`{id}` matches more than one backup of {service}: give more of its id"
        ))),
        (None, _) => Err(failed(format!(
            "{service} has no backup `{id}` in this target (`berth backup ls {service}`)"
        ))),
    }
}

/// What the tar spool holds: `12 files, 3.4 MB`.
async fn count_files(spool: &Fetched) -> Result<String, EngineError> {
    let (path, key) = (spool.path.clone(), spool.key.clone());
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(open_spool(&path, key.as_ref())?);
        let (mut files, mut bytes) = (0u64, 0u64);
        for entry in archive.entries()? {
            let entry = entry?;
            if entry.header().entry_type().is_file() {
                files += 1;
                bytes += entry.size();
            }
        }
        Ok::<_, io::Error>(format!(
            "{files} files, {}",
            berth_model::format::bytes(bytes)
        ))
    })
    .await
    .map_err(|e| failed(format!("counting the files stopped: {e}")))?
    .map_err(|e| io_failed("reading the backup", e))
}

/// A command printing what restored data holds, for each kind that has one.
fn check_command(kind: ServiceKind) -> Option<Vec<String>> {
    let script = match kind {
        ServiceKind::Postgres => {
            "PGPASSWORD=\"$POSTGRES_PASSWORD\" psql -tA -h 127.0.0.1 -U \"$POSTGRES_USER\" \
             -d \"$POSTGRES_DB\" -c \"select count(*) || ' tables' from pg_catalog.pg_tables \
             where schemaname not in ('pg_catalog', 'information_schema')\""
        }
        ServiceKind::Mysql | ServiceKind::Mariadb => {
            "MYSQL_PWD=\"${MYSQL_ROOT_PASSWORD:-$MARIADB_ROOT_PASSWORD}\" \
             $(command -v mariadb || command -v mysql) -N -h 127.0.0.1 -uroot -e \
             \"select concat(count(*), ' tables') from information_schema.tables where \
             table_schema = '${MYSQL_DATABASE:-$MARIADB_DATABASE}'\""
        }
        ServiceKind::Redis => {
            "echo \"$(redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" DBSIZE) keys\""
        }
        ServiceKind::Image => return None,
    };
    Some(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()])
}

/// Restores `record` into a throwaway container made like the service's `serving` one (same
/// image and env, its own empty data), runs the kind's check there and removes it: proof the
/// backup restores, without touching the service.
pub async fn verify(
    host: &Host,
    serving: &str,
    subject_kind: ServiceKind,
    method: &BackupMethod,
    source: &Source<'_>,
) -> Result<Verified, EngineError> {
    let started = Instant::now();
    let record = source.record;
    let spool = fetch_verified(source).await?;
    let docker = host.docker();
    let Some(mut spec) = docker.container_spec(serving).await? else {
        spool.remove().await;
        return Err(failed(format!(
            "{} has no container on {} to make a throwaway copy of: deploy it first",
            record.service,
            host.name()
        )));
    };
    let name = format!(
        "berth-verify-{}-{:06x}",
        record.service,
        rand::random::<u32>() & 0xff_ffff
    );
    spec.name = name.clone();
    // Its own empty data (the image's anonymous volume), nothing published, no alias, not
    // one of the app's containers.
    spec.volumes.clear();
    spec.alias = None;
    spec.publish = berth_docker::PortPublish::Private;
    spec.labels = HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::ROLE.to_owned(), "backup-verify".to_owned()),
    ]);
    let probe = subject_kind.probe();
    let cancel = tokio_util::sync::CancellationToken::new();
    let run = async {
        docker.create_container(&spec).await?;
        if subject_kind == ServiceKind::Image {
            // Plain files: unpacked into the copy, which never starts (an app's copy could
            // do its work twice), and counted.
            upload_spool(host, &name, &spool).await?;
            return count_files(&spool).await;
        }
        docker.start_container(&name).await?;
        crate::health::wait_probe(host, &name, probe.as_deref(), 500, 120_000, &cancel).await?;
        restore_spool(host, &name, method, &spool).await?;
        if matches!(method, BackupMethod::Files { .. }) {
            crate::health::wait_probe(host, &name, probe.as_deref(), 500, 120_000, &cancel).await?;
        }
        let mut found = String::new();
        if let Some(check) = check_command(subject_kind) {
            let mut out = Vec::new();
            let mut on_output = |stream: LogStream, bytes: &[u8]| -> io::Result<()> {
                if stream == LogStream::Stdout {
                    keep_tail(&mut out, bytes);
                }
                Ok(())
            };
            let code = docker
                .exec_piped(&name, &check, None, &mut on_output)
                .await?;
            if code != 0 {
                return Err(failed(format!(
                    "the restored copy did not pass the check (exit {code})"
                )));
            }
            found = String::from_utf8_lossy(&out).trim().to_owned();
        }
        Ok::<_, EngineError>(found)
    }
    .await;
    spool.remove().await;
    if let Err(e) = docker.remove_container_with_volumes(&name).await {
        tracing::warn!("could not remove the throwaway container {name}: {e}");
    }
    Ok(Verified {
        id: record.id.clone(),
        found: run?,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar like the one Docker gives for `/data`: entries named from `data/`.
    fn docker_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o750);
        dir.set_size(0);
        b.append_data(&mut dir, "data/", io::empty()).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_mode(0o640);
        file.set_uid(999);
        file.set_size(5);
        b.append_data(&mut file, "data/a.txt", &b"hello"[..])
            .unwrap();
        let long = format!("data/{}/deep.txt", "x".repeat(120));
        b.append_data(&mut file, &long, &b"world"[..]).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Link);
        link.set_mode(0o640);
        link.set_size(0);
        b.append_link(&mut link, "data/hard", "data/a.txt").unwrap();
        let mut sym = tar::Header::new_gnu();
        sym.set_entry_type(tar::EntryType::Symlink);
        sym.set_mode(0o777);
        sym.set_size(0);
        b.append_link(&mut sym, "data/sym", "a.txt").unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn directories_are_copied_under_their_absolute_paths() {
        let mut out = tar::Builder::new(Vec::new());
        let n = append_rooted(&docker_tar()[..], "/var/lib/data", &mut out).unwrap();
        assert_eq!(n, 5);
        // A second directory in the same archive.
        append_rooted(&docker_tar()[..], "/data", &mut out).unwrap();
        let bytes = out.into_inner().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            let mut body = String::new();
            io::Read::read_to_string(&mut entry, &mut body).unwrap();
            let mode = entry.header().mode().unwrap();
            seen.push((path, link, body, mode));
        }
        let long = format!("var/lib/data/{}/deep.txt", "x".repeat(120));
        assert_eq!(seen.len(), 10);
        assert_eq!(seen[0].0, "var/lib/data/");
        assert_eq!(seen[0].3, 0o750);
        assert_eq!(
            seen[1],
            ("var/lib/data/a.txt".into(), None, "hello".into(), 0o640)
        );
        assert_eq!(seen[2].0, long);
        assert_eq!(seen[2].2, "world");
        // Hard links name their target inside the archive: moved too; symlinks are not.
        assert_eq!(seen[3].1.as_deref(), Some("var/lib/data/a.txt"));
        assert_eq!(seen[4].1.as_deref(), Some("a.txt"));
        // A directory at the root keeps its names.
        assert_eq!(seen[6].0, "data/a.txt");
        assert_eq!(seen[8].1.as_deref(), Some("data/a.txt"));
    }
}
