//! The generated Dockerfile of a Python app: dependencies with pip (or pipenv), then the
//! source, served by gunicorn or uvicorn when the app depends on one.

use super::{Generated, Source, Which, shell_cmd};
use crate::BuildError;

pub(super) fn generate(src: &Source<'_>, out: &mut Generated) -> Result<(), BuildError> {
    if let Some((version, file)) = wanted_python(src, out) {
        out.choose(
            Which::Run,
            format!("python:{version}-slim"),
            &format!("python {version} (from {file})"),
        );
    }
    let run = out.run.clone();
    let user = "10001:10001";
    let chown = out.chown(user);
    out.hint_app_dir("/app", user);
    let manifest = ["requirements.txt", "Pipfile", "pyproject.toml"]
        .into_iter()
        .find(|f| src.has(f))
        .and_then(|f| src.read(f))
        .unwrap_or_default();
    let start = start_command(src, &manifest, out)?;
    // How the app runs, said before the source is copied: after a change to the source alone,
    // only the layers from the copy on are built again.
    let run_as = |out: &mut Generated, user_too: bool| {
        out.port("");
        if user_too {
            out.line(format!("USER {user}"));
        }
        out.line(start.clone());
        out.line("# the source last: a change to it alone reuses every layer above");
    };
    out.line(format!("FROM {run}"));
    out.line(
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    );
    // Dependencies first, from the manifest alone, so a change to the source alone reuses
    // their layer. The COPY that creates /app gives it to the app's user.
    if src.has("requirements.txt") {
        out.line(format!("COPY {chown}requirements.txt /app/"));
        out.line("WORKDIR /app");
        out.line("RUN pip install -r requirements.txt");
        out.build_args();
        run_as(out, true);
        out.line(format!("COPY {chown}. ."));
    } else if src.has("Pipfile") {
        if src.has("Pipfile.lock") {
            out.line(format!("COPY {chown}Pipfile Pipfile.lock /app/"));
            out.line("WORKDIR /app");
            out.line("RUN pip install pipenv && pipenv install --system --deploy");
        } else {
            out.hint("no Pipfile.lock committed: dependencies are resolved afresh on every build");
            out.line(format!("COPY {chown}Pipfile /app/"));
            out.line("WORKDIR /app");
            out.line("RUN pip install pipenv && pipenv install --system --skip-lock");
        }
        out.build_args();
        run_as(out, true);
        out.line(format!("COPY {chown}. ."));
    } else {
        match project_dependencies(&manifest) {
            Some(deps) if !deps.is_empty() => {
                // The package itself needs its sources; its dependencies do not.
                let quoted: Vec<String> = deps.iter().map(|d| shell_quote(d)).collect();
                out.line(format!("RUN pip install {}", quoted.join(" ")));
                out.build_args();
                run_as(out, false);
                out.line(format!("COPY {chown}. /app/"));
                out.line("WORKDIR /app");
                out.line("RUN pip install --no-deps .");
            }
            _ => {
                out.hint("pyproject.toml lists no [project] dependencies: they are installed with the package, after the source is copied");
                out.build_args();
                run_as(out, false);
                out.line(format!("COPY {chown}. /app/"));
                out.line("WORKDIR /app");
                out.line("RUN pip install .");
            }
        }
        out.line(format!("USER {user}"));
    }
    Ok(())
}

/// The Python release a file pins: `.python-version` (pyenv, uv), else `runtime.txt`
/// (`python-3.12.4`, Heroku's), with the file that said so.
fn wanted_python(src: &Source<'_>, out: &mut Generated) -> Option<(String, &'static str)> {
    for file in [".python-version", "runtime.txt"] {
        let Some(text) = src.read(file) else { continue };
        let Some(line) = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
        else {
            continue;
        };
        let version = if file == "runtime.txt" {
            line.strip_prefix("python-").unwrap_or(line)
        } else {
            line
        };
        if is_release(version, 2) {
            return Some((version.to_owned(), file));
        }
        out.hint(format!(
            "{file} says `{line}`, which is not a CPython release like 3.12 or 3.12.4: it is not used"
        ));
    }
    None
}

/// `3.12` or `3.12.4`: numbers joined by dots, at least `parts` of them, at most three.
pub(super) fn is_release(version: &str, parts: usize) -> bool {
    let n = version.split('.').count();
    (parts..=3).contains(&n)
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The `dependencies` array of pyproject's `[project]` table (`None` when there is none or it
/// is not a plain list of strings).
fn project_dependencies(text: &str) -> Option<Vec<String>> {
    let mut in_project = false;
    let mut array: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(text) = array.as_mut() {
            text.push_str(line);
            text.push('\n');
            match strings_of(text) {
                Array::Open => continue,
                Array::Closed(list) => return Some(list),
                Array::NotStrings => return None,
            }
        }
        if line.starts_with('[') {
            in_project = line == "[project]";
            continue;
        }
        let Some(rest) = line
            .strip_prefix("dependencies")
            .filter(|_| in_project)
            .and_then(|rest| rest.trim_start().strip_prefix('='))
        else {
            continue;
        };
        let text = format!("{}\n", rest.trim_start());
        match strings_of(&text) {
            Array::Open => array = Some(text),
            Array::Closed(list) => return Some(list),
            Array::NotStrings => return None,
        }
    }
    None
}

/// A TOML array of strings read so far.
enum Array {
    Open,
    Closed(Vec<String>),
    NotStrings,
}

/// Reads `[ "a", 'b', # comment … ]`.
fn strings_of(text: &str) -> Array {
    let Some(mut rest) = text.strip_prefix('[') else {
        return Array::NotStrings;
    };
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let Some(first) = rest.chars().next() else {
            return Array::Open;
        };
        match first {
            ']' => return Array::Closed(out),
            '#' => rest = rest.split_once('\n').map_or("", |(_, after)| after),
            '"' | '\'' => {
                let body = &rest[1..];
                let Some(end) = body.find(first) else {
                    return Array::NotStrings;
                };
                out.push(body[..end].to_owned());
                rest = &body[end + 1..];
            }
            _ => return Array::NotStrings,
        }
    }
}

/// `word` in single quotes for sh.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// App's start command, Procfile `web:`, else gunicorn or uvicorn on the guessed module, else
/// `python main.py`.
fn start_command(src: &Source<'_>, deps: &str, out: &mut Generated) -> Result<String, BuildError> {
    if let Some(cmd) = out.chosen_start() {
        return Ok(cmd);
    }
    if depends_on(deps, "gunicorn") {
        if let Some(project) = django_project(src) {
            out.hint(format!(
                "serving the Django project `{project}` with gunicorn"
            ));
            return Ok(shell_cmd(&format!(
                "gunicorn --bind 0.0.0.0:$PORT {project}.wsgi"
            )));
        }
        if let Some(module) = ["app", "main", "wsgi"]
            .into_iter()
            .find(|m| src.has(&format!("{m}.py")))
        {
            out.hint(format!("serving `{module}:app` with gunicorn"));
            return Ok(shell_cmd(&format!(
                "gunicorn --bind 0.0.0.0:$PORT {module}:app"
            )));
        }
    }
    if depends_on(deps, "uvicorn")
        && let Some(module) = ["main", "app"]
            .into_iter()
            .find(|m| src.has(&format!("{m}.py")))
    {
        out.hint(format!("serving `{module}:app` with uvicorn"));
        return Ok(shell_cmd(&format!(
            "uvicorn --host 0.0.0.0 --port $PORT {module}:app"
        )));
    }
    if let Some(script) = ["main.py", "app.py"].into_iter().find(|f| src.has(f)) {
        out.hint(format!("running `python {script}`"));
        return Ok(shell_cmd(&format!("python {script}")));
    }
    Err(BuildError::CannotGenerate {
        runtime: "python".to_owned(),
        reason: "no start command found (looked for a Procfile `web:` line, gunicorn or uvicorn with app.py/main.py, main.py, app.py); add a Procfile with `web: <command>`"
            .to_owned(),
    })
}

/// Whether a requirements file / Pipfile / pyproject names the distribution `name`.
fn depends_on(manifest: &str, name: &str) -> bool {
    let text = manifest.to_ascii_lowercase();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// `<project>` when `manage.py` sits next to exactly one `<project>/wsgi.py`.
fn django_project<'a>(src: &Source<'a>) -> Option<&'a str> {
    if !src.has("manage.py") {
        return None;
    }
    let mut projects = src
        .files
        .iter()
        .filter_map(|f| f.strip_suffix("/wsgi.py").filter(|dir| !dir.contains('/')));
    let project = projects.next()?;
    projects.next().is_none().then_some(project)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, detect_files, detect_with};
    use super::*;
    use berth_model::BaseImages;
    use expect_test::expect;

    #[test]
    fn requirements_with_gunicorn() {
        check(
            &[
                (
                    "requirements.txt",
                    "Flask==3.0\nGunicorn[gevent]>=21 # server\n",
                ),
                ("app.py", "app = object()\n"),
            ],
            expect![[r#"
                runtime: python
                hint: /app is owned by the app's user (10001:10001), so the app can write beside its code
                hint: serving `app:app` with gunicorn
                hint: generated a python Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a python app: commit a Dockerfile to replace it
                FROM python:3.12-slim
                ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
                COPY --chown=10001:10001 requirements.txt /app/
                WORKDIR /app
                RUN pip install -r requirements.txt
                ENV PORT=8080
                EXPOSE 8080
                USER 10001:10001
                CMD exec gunicorn --bind 0.0.0.0:$PORT app:app
                # the source last: a change to it alone reuses every layer above
                COPY --chown=10001:10001 . .
            "#]],
        );
    }

    #[test]
    fn pyproject_with_uvicorn() {
        check(
            &[
                (
                    "pyproject.toml",
                    "[project]\nname = \"api\"\ndependencies = [\"fastapi\", \"uvicorn[standard]\"]\n",
                ),
                ("main.py", "app = None\n"),
            ],
            expect![[r#"
                runtime: python
                hint: /app is owned by the app's user (10001:10001), so the app can write beside its code
                hint: serving `main:app` with uvicorn
                hint: generated a python Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a python app: commit a Dockerfile to replace it
                FROM python:3.12-slim
                ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
                RUN pip install 'fastapi' 'uvicorn[standard]'
                ENV PORT=8080
                EXPOSE 8080
                CMD exec uvicorn --host 0.0.0.0 --port $PORT main:app
                # the source last: a change to it alone reuses every layer above
                COPY --chown=10001:10001 . /app/
                WORKDIR /app
                RUN pip install --no-deps .
                USER 10001:10001
            "#]],
        );
    }

    #[test]
    fn pipfile_with_procfile_and_image_override() {
        let images = BaseImages {
            build: Some("python:3.11".into()),
            run: Some("python:3.13-slim".into()),
        };
        let got = detect_with(
            &[
                ("Pipfile", "[packages]\ndjango = \"*\"\n"),
                ("Pipfile.lock", "{}"),
                (
                    "Procfile",
                    "web: python manage.py runserver 0.0.0.0:$PORT\n",
                ),
            ],
            None,
            &images,
        )
        .unwrap();
        expect![[r#"
            runtime: python
            hint: the build image `python:3.11` is not used: python apps are built in one stage on the run image
            hint: /app is owned by the app's user (10001:10001), so the app can write beside its code
            hint: starting with the Procfile web command (line 1)
            hint: generated a python Dockerfile: the app must listen on $PORT (8080)
            ---
            # generated by berth for a python app: commit a Dockerfile to replace it
            FROM python:3.13-slim
            ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
            COPY --chown=10001:10001 Pipfile Pipfile.lock /app/
            WORKDIR /app
            RUN pip install pipenv && pipenv install --system --deploy
            ENV PORT=8080
            EXPOSE 8080
            USER 10001:10001
            CMD exec python manage.py runserver 0.0.0.0:$PORT
            # the source last: a change to it alone reuses every layer above
            COPY --chown=10001:10001 . .
        "#]]
        .assert_eq(&super::super::tests::render(&got));
    }

    #[test]
    fn start_commands() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("requirements.txt", "gunicorn\ndjango\n"),
                    ("manage.py", ""),
                    ("shop/wsgi.py", ""),
                    ("shop/settings.py", ""),
                ],
                "CMD exec gunicorn --bind 0.0.0.0:$PORT shop.wsgi",
            ),
            (
                &[("requirements.txt", "gunicorn==22\n"), ("wsgi.py", "")],
                "CMD exec gunicorn --bind 0.0.0.0:$PORT wsgi:app",
            ),
            (
                &[
                    ("requirements.txt", "gunicorn\n"),
                    ("main.py", ""),
                    ("app.py", ""),
                ],
                "CMD exec gunicorn --bind 0.0.0.0:$PORT app:app",
            ),
            (
                &[
                    ("requirements.txt", "gunicorn-extras\nflask\n"),
                    ("app.py", ""),
                ],
                "CMD exec python app.py",
            ),
            (
                &[("requirements.txt", ""), ("main.py", "")],
                "CMD exec python main.py",
            ),
        ];
        for (files, want) in cases {
            let text = detect_files(files).unwrap().dockerfile.unwrap();
            assert!(text.lines().any(|l| l == *want), "{files:?}\n{text}");
        }
    }

    #[test]
    fn no_start_command_is_a_clear_error() {
        let err = detect_files(&[("requirements.txt", "flask\n"), ("server.py", "")]).unwrap_err();
        assert!(matches!(err, BuildError::CannotGenerate { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("add a Procfile with `web: <command>`"),
            "{err}"
        );
    }

    #[test]
    fn dependency_names() {
        let cases = [
            ("gunicorn", true),
            ("Gunicorn==21.2", true),
            ("gunicorn[gevent]", true),
            ("\"gunicorn>=20\",", true),
            ("gunicorn = \"*\"", true),
            ("gunicorn-extras", false),
            ("django-gunicorn", false),
            ("# no server", false),
        ];
        for (text, want) in cases {
            assert_eq!(depends_on(text, "gunicorn"), want, "{text}");
        }
    }
}
