//! The Procfile of Heroku-style apps: one `type: command` line per process type. `web` serves
//! HTTP, `release` runs once before a new version starts, any other type runs beside `web` as a
//! companion container of the same image (a worker).

use std::fmt;

use crate::BuildError;

/// One line of a Procfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The process type (`web`, `release`, `worker`, …).
    pub name: String,
    pub command: String,
    /// Its line in the Procfile (from 1), for messages that point at it.
    pub line: usize,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (Procfile line {})",
            self.name, self.command, self.line
        )
    }
}

/// A parsed Procfile: its process types in the order they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Procfile {
    pub processes: Vec<Process>,
}

/// The longest process type name taken (it becomes part of a container name).
pub const MAX_NAME: usize = 20;

impl Procfile {
    /// Parses a Procfile. Blank lines and `#` comments are skipped; anything else must be
    /// `type: command` with a lowercase type, each type once.
    pub fn parse(text: &str) -> Result<Procfile, BuildError> {
        let mut processes: Vec<Process> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let bad = |reason: String| BuildError::Procfile { line, reason };
            let Some((name, command)) = trimmed.split_once(':') else {
                return Err(bad(format!(
                    "`{trimmed}` is not `type: command` (e.g. `web: gunicorn app:app`)"
                )));
            };
            let name = name.trim();
            let command = command.trim();
            if name.contains(char::is_whitespace) {
                return Err(bad(format!(
                    "`{trimmed}` is not `type: command`: `{name}` is not one word (is the `:` after the process type missing?)"
                )));
            }
            check_name(name).map_err(&bad)?;
            if command.is_empty() {
                return Err(bad(format!("process type `{name}` has no command")));
            }
            if let Some(first) = processes.iter().find(|p| p.name == name) {
                return Err(bad(format!(
                    "process type `{name}` is already on line {}",
                    first.line
                )));
            }
            processes.push(Process {
                name: name.to_owned(),
                command: command.to_owned(),
                line,
            });
        }
        Ok(Procfile { processes })
    }

    pub fn get(&self, name: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.name == name)
    }

    /// The companion processes: every type but `web` and `release`.
    pub fn workers(&self) -> impl Iterator<Item = &Process> {
        self.processes
            .iter()
            .filter(|p| p.name != "web" && p.name != "release")
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() {
        return Err("a line starts with `:`: the process type is missing".to_owned());
    }
    if name.len() > MAX_NAME
        || !name.chars().all(ok_char)
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(format!(
            "process type `{name}` must start with a lowercase letter and have only lowercase letters, digits and `-` (at most {MAX_NAME})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_in_order_with_their_lines() {
        let p = Procfile::parse(
            "# heroku\nrelease: python -m app init-db\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\nworker:python worker.py\nmail-sender: bin/mail\n",
        )
        .unwrap();
        let got: Vec<String> = p.processes.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            got,
            [
                "release: python -m app init-db (Procfile line 2)",
                "web: gunicorn app:app --bind 0.0.0.0:$PORT (Procfile line 4)",
                "worker: python worker.py (Procfile line 5)",
                "mail-sender: bin/mail (Procfile line 6)",
            ]
        );
        let workers: Vec<&str> = p.workers().map(|w| w.name.as_str()).collect();
        assert_eq!(workers, ["worker", "mail-sender"]);
        assert_eq!(p.get("web").map(|w| w.line), Some(4));
    }

    #[test]
    fn bad_lines_are_named() {
        let cases = [
            (
                "web: ok\nworker python w.py\n",
                "Procfile line 2: `worker python w.py` is not `type: command` (e.g. `web: gunicorn app:app`)",
            ),
            (
                "web gunicorn app:app\n",
                "Procfile line 1: `web gunicorn app:app` is not `type: command`: `web gunicorn app` is not one word (is the `:` after the process type missing?)",
            ),
            (
                "web:\n",
                "Procfile line 1: process type `web` has no command",
            ),
            (
                "web: a\n\nweb: b\n",
                "Procfile line 3: process type `web` is already on line 1",
            ),
            (
                "Web: a\n",
                "Procfile line 1: process type `Web` must start with a lowercase letter and have only lowercase letters, digits and `-` (at most 20)",
            ),
            (
                ": a\n",
                "Procfile line 1: a line starts with `:`: the process type is missing",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                Procfile::parse(text).unwrap_err().to_string(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn commands_keep_their_colons() {
        let p = Procfile::parse("web: gunicorn app:app -b :$PORT\n").unwrap();
        assert_eq!(p.processes[0].command, "gunicorn app:app -b :$PORT");
    }
}
