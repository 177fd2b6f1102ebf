//! Secrets come in through a prompt or stdin, never the command line (shell history and
//! `/proc/*/cmdline` keep what is typed there): a secret given as `-` is asked for without
//! echo on a terminal, or read from stdin when it is piped.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};

/// Where the values given as `-` come from, read once.
pub(crate) struct SecretInput {
    /// Piped stdin, split into lines when more than one value is read.
    piped: Option<Vec<String>>,
    wanted: usize,
}

impl SecretInput {
    /// For `wanted` values given as `-`.
    pub(crate) fn new(wanted: usize) -> SecretInput {
        SecretInput {
            piped: None,
            wanted,
        }
    }

    /// All of stdin as the value of `what` (`--password-stdin`), less its last newline.
    pub(crate) fn piped_only(what: &str) -> anyhow::Result<String> {
        let mut all = String::new();
        std::io::stdin()
            .read_to_string(&mut all)
            .with_context(|| format!("cannot read {what} from stdin"))?;
        let value = all.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            bail!("{what} is empty: pipe it in (`echo \"$TOKEN\" | berth registry add …`)");
        }
        Ok(value.to_owned())
    }

    /// The value of `what` (`API_TOKEN`, `the git token`): asked for on a terminal, else the
    /// next line of stdin (all of stdin, less its last newline, when only one value is read —
    /// a PEM key keeps its lines).
    pub(crate) fn read(&mut self, what: &str) -> anyhow::Result<String> {
        if std::io::stdin().is_terminal() {
            let v = rpassword::prompt_password(format!("{what}: "))
                .with_context(|| format!("cannot read {what} from the terminal"))?;
            if v.is_empty() {
                bail!("{what} is empty");
            }
            return Ok(v);
        }
        if self.piped.is_none() {
            let mut all = String::new();
            std::io::stdin()
                .read_to_string(&mut all)
                .with_context(|| format!("cannot read {what} from stdin"))?;
            let all = all.strip_suffix('\n').unwrap_or(&all);
            let all = all.strip_suffix('\r').unwrap_or(all);
            let mut values: Vec<String> = if self.wanted > 1 {
                all.lines().map(str::to_owned).collect()
            } else {
                vec![all.to_owned()]
            };
            values.reverse();
            self.piped = Some(values);
        }
        match self.piped.as_mut().and_then(Vec::pop) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => bail!(
                "{what} is given as `-` but stdin has no value for it: pipe it in, or run on a terminal to be asked"
            ),
        }
    }
}

/// The refusal for a secret written on the command line.
pub(crate) fn on_argv(what: &str, instead: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} is a secret: on the command line it would stay in your shell history and in /proc; give it as `{instead}` to be asked for it (or pipe it on stdin)"
    )
}
