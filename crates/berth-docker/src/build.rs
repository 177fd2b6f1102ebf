//! Image builds through the engine's `/build` API, with the output split into lines.

use std::collections::{HashMap, VecDeque};
use std::io;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::client::DockerClient;
use crate::error::DockerError;

/// How many lines of the failing step's output an error keeps.
const FAILED_STEP_LINES: usize = 30;

/// One line of build output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildLine(pub String);

/// A finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    pub image_id: String,
}

/// Turns the engine's JSON progress messages into lines and remembers the current step.
#[derive(Default)]
struct LineSplitter {
    partial: String,
    step: Option<String>,
    step_output: VecDeque<String>,
}

impl LineSplitter {
    fn push(&mut self, chunk: &str, out: &mut Vec<String>) {
        self.partial.push_str(chunk);
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            self.record(&line);
            out.push(line);
        }
    }

    fn finish(&mut self, out: &mut Vec<String>) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.record(&line);
            out.push(line);
        }
    }

    fn record(&mut self, line: &str) {
        if line.starts_with("Step ") && line.contains(" : ") {
            self.step = Some(line.to_owned());
            self.step_output.clear();
        } else if !line.trim().is_empty() && !line.starts_with(" ---> ") {
            if self.step_output.len() == FAILED_STEP_LINES {
                self.step_output.pop_front();
            }
            self.step_output.push_back(line.to_owned());
        }
    }
}

impl DockerClient {
    /// Builds the image `tag` from a streamed tar `context`, calling `on_line` for every line
    /// of build output as it arrives. A failing step ends in [`DockerError::Build`] with that
    /// step and its output. `build_args` are the Dockerfile's `ARG` values.
    pub async fn build_image<S>(
        &self,
        tag: &str,
        dockerfile: &str,
        (labels, build_args): (&HashMap<String, String>, &HashMap<String, String>),
        context: S,
        mut on_line: impl FnMut(&str),
    ) -> Result<BuildOutcome, DockerError>
    where
        S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    {
        let options = bollard::query_parameters::BuildImageOptionsBuilder::default()
            .dockerfile(dockerfile)
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(labels)
            .buildargs(build_args)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_try_stream(context)));
        let mut splitter = LineSplitter::default();
        let mut image_id = None;
        let mut lines = Vec::new();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    splitter.finish(&mut lines);
                    lines.drain(..).for_each(|l| on_line(&l));
                    return Err(self.build_error(&splitter, error));
                }
                Err(e) => return Err(self.err(e)),
            };
            if let Some(text) = &info.stream {
                splitter.push(text, &mut lines);
            }
            if let Some(status) = &info.status
                && info.progress_detail.is_none()
            {
                let line = match &info.id {
                    Some(id) => format!("{id}: {status}\n"),
                    None => format!("{status}\n"),
                };
                splitter.push(&line, &mut lines);
            }
            lines.drain(..).for_each(|l| on_line(&l));
            if let Some(detail) = info.error_detail {
                splitter.finish(&mut lines);
                lines.drain(..).for_each(|l| on_line(&l));
                let message = detail
                    .message
                    .unwrap_or_else(|| "the build failed".to_owned());
                return Err(self.build_error(&splitter, message));
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        splitter.finish(&mut lines);
        lines.drain(..).for_each(|l| on_line(&l));
        let image_id = match image_id {
            Some(id) => id,
            None => self.image_id(tag).await?.ok_or_else(|| {
                DockerError::Protocol(format!("the build finished but image `{tag}` is missing"))
            })?,
        };
        Ok(BuildOutcome { image_id })
    }

    fn build_error(&self, splitter: &LineSplitter, message: String) -> DockerError {
        DockerError::Build {
            message: message.trim().to_owned(),
            step: splitter.step.clone(),
            output: splitter.step_output.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_chunks_into_lines_and_tracks_the_step() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.push("Step 1/2 : FROM x\n ---> abc\nStep 2/2 : RUN ma", &mut out);
        s.push("ke\nbuilding...\r\nerr", &mut out);
        s.finish(&mut out);
        assert_eq!(
            out,
            [
                "Step 1/2 : FROM x",
                " ---> abc",
                "Step 2/2 : RUN make",
                "building...",
                "err"
            ]
        );
        assert_eq!(s.step.as_deref(), Some("Step 2/2 : RUN make"));
        assert_eq!(Vec::from(s.step_output.clone()), ["building...", "err"]);
    }
}
