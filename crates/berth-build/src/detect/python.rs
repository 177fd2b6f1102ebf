//! The generated Dockerfile of a Python app: dependencies with pip (or pipenv), then the
//! source, served by gunicorn or uvicorn when the app depends on one.

use super::{Generated, Source, shell_cmd};
use crate::BuildError;

pub(super) fn generate(src: &Source<'_>, out: &mut Generated) -> Result<(), BuildError> {
    let run = out.run.clone();
    out.line(format!("FROM {run}"));
    out.line(
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    );
    out.line("WORKDIR /app");
    let deps = if src.has("requirements.txt") {
        out.line("COPY requirements.txt ./");
        out.line("RUN pip install -r requirements.txt");
        out.line("COPY . .");
        src.read("requirements.txt")
    } else if src.has("Pipfile") {
        if src.has("Pipfile.lock") {
            out.line("COPY Pipfile Pipfile.lock ./");
            out.line("RUN pip install pipenv && pipenv install --system --deploy");
        } else {
            out.hint("no Pipfile.lock committed: dependencies are resolved afresh on every build");
            out.line("COPY Pipfile ./");
            out.line("RUN pip install pipenv && pipenv install --system --skip-lock");
        }
        out.line("COPY . .");
        src.read("Pipfile")
    } else {
        // A pyproject package needs its sources to install.
        out.line("COPY . .");
        out.line("RUN pip install .");
        src.read("pyproject.toml")
    };
    let start = start_command(src, &deps.unwrap_or_default(), out)?;
    out.port("");
    out.line("USER 10001:10001");
    out.line(start);
    Ok(())
}

/// Procfile `web:`, else gunicorn or uvicorn on the guessed module, else `python main.py`.
fn start_command(src: &Source<'_>, deps: &str, out: &mut Generated) -> Result<String, BuildError> {
    if let Some(web) = src.procfile_web() {
        out.hint("using the Procfile web command");
        return Ok(shell_cmd(&web));
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
                hint: serving `app:app` with gunicorn
                hint: generated a python Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a python app: commit a Dockerfile to replace it
                FROM python:3.12-slim
                ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
                WORKDIR /app
                COPY requirements.txt ./
                RUN pip install -r requirements.txt
                COPY . .
                ENV PORT=8080
                EXPOSE 8080
                USER 10001:10001
                CMD exec gunicorn --bind 0.0.0.0:$PORT app:app
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
                hint: serving `main:app` with uvicorn
                hint: generated a python Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a python app: commit a Dockerfile to replace it
                FROM python:3.12-slim
                ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
                WORKDIR /app
                COPY . .
                RUN pip install .
                ENV PORT=8080
                EXPOSE 8080
                USER 10001:10001
                CMD exec uvicorn --host 0.0.0.0 --port $PORT main:app
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
            hint: using the Procfile web command
            hint: generated a python Dockerfile: the app must listen on $PORT (8080)
            ---
            # generated by berth for a python app: commit a Dockerfile to replace it
            FROM python:3.13-slim
            ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
            WORKDIR /app
            COPY Pipfile Pipfile.lock ./
            RUN pip install pipenv && pipenv install --system --deploy
            COPY . .
            ENV PORT=8080
            EXPOSE 8080
            USER 10001:10001
            CMD exec python manage.py runserver 0.0.0.0:$PORT
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
            assert!(text.trim_end().ends_with(want), "{files:?}\n{text}");
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
