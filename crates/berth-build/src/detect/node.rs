//! The generated Dockerfile of a Node package: install and build with its package manager,
//! drop the dev dependencies, run as the `node` user.

use serde_json::Value;

use super::{Generated, Source, exec_cmd, shell_cmd};
use crate::BuildError;

/// A package manager and the commands the Dockerfile runs with it.
struct Manager {
    lockfile: Option<&'static str>,
    setup: Option<&'static str>,
    install: &'static str,
    build: &'static str,
    prune: &'static str,
}

const NPM_CI: Manager = Manager {
    lockfile: Some("package-lock.json"),
    setup: None,
    install: "npm ci",
    build: "npm run build",
    prune: "npm prune --omit=dev",
};
const NPM_SHRINKWRAP: Manager = Manager {
    lockfile: Some("npm-shrinkwrap.json"),
    ..NPM_CI
};
const YARN: Manager = Manager {
    lockfile: Some("yarn.lock"),
    setup: None,
    install: "yarn install --frozen-lockfile",
    build: "yarn run build",
    prune: "yarn install --frozen-lockfile --production --ignore-scripts --prefer-offline",
};
const PNPM: Manager = Manager {
    lockfile: Some("pnpm-lock.yaml"),
    setup: Some("corepack enable pnpm"),
    install: "pnpm install --frozen-lockfile",
    build: "pnpm run build",
    prune: "pnpm prune --prod",
};
const NPM_INSTALL: Manager = Manager {
    lockfile: None,
    install: "npm install",
    ..NPM_CI
};

pub(super) fn generate(src: &Source<'_>, out: &mut Generated) -> Result<(), BuildError> {
    let text = src.read("package.json").unwrap_or_default();
    let package: Value = serde_json::from_str(&text).map_err(|e| BuildError::CannotGenerate {
        runtime: "node".to_owned(),
        reason: format!("package.json is not valid JSON ({e})"),
    })?;
    let script = |name: &str| package["scripts"][name].as_str().is_some();
    let has_dev_deps = package["devDependencies"]
        .as_object()
        .is_some_and(|deps| !deps.is_empty());

    let manager = [NPM_CI, NPM_SHRINKWRAP, YARN, PNPM]
        .into_iter()
        .find(|m| m.lockfile.is_some_and(|l| src.has(l)))
        .unwrap_or(NPM_INSTALL);
    match manager.lockfile {
        Some(lockfile) => out.hint(format!(
            "installing with `{}` ({lockfile})",
            manager.install
        )),
        None => out.hint("no lockfile committed: installing with `npm install`"),
    }
    let start = start_command(src, &package, out);

    let (build, run) = (out.build.clone(), out.run.clone());
    out.line(format!("FROM {build} AS build"));
    out.line("WORKDIR /app");
    if let Some(setup) = manager.setup {
        out.line(format!("RUN {setup}"));
    }
    let manifests: Vec<&str> = ["package.json"]
        .into_iter()
        .chain(manager.lockfile)
        .chain([".npmrc"].into_iter().filter(|f| src.has(f)))
        .collect();
    out.line(format!("COPY {} ./", manifests.join(" ")));
    out.line(format!("RUN {}", manager.install));
    out.line("COPY . .");
    if script("build") {
        out.line(format!("RUN {}", manager.build));
    }
    if has_dev_deps {
        out.line(format!("RUN {}", manager.prune));
    }
    out.line("");
    out.line(format!("FROM {run}"));
    out.line("WORKDIR /app");
    out.line("ENV NODE_ENV=production");
    out.line("COPY --from=build /app /app");
    out.port("");
    out.line("# the node user of the official images");
    out.line("USER 1000:1000");
    out.line(start);
    Ok(())
}

/// Procfile `web:`, else `npm start` when there is a start script, else `node <main>`.
fn start_command(src: &Source<'_>, package: &Value, out: &mut Generated) -> String {
    if let Some(web) = src.procfile_web() {
        out.hint("using the Procfile web command");
        return shell_cmd(&web);
    }
    if package["scripts"]["start"].as_str().is_some() {
        return exec_cmd(&["npm", "start"]);
    }
    let main = package["main"]
        .as_str()
        .map(|m| m.trim_start_matches("./").to_owned())
        .or_else(|| {
            ["index.js", "server.js", "app.js", "main.js"]
                .into_iter()
                .find(|f| src.has(f))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "index.js".to_owned());
    out.hint(format!(
        "no start script in package.json: running `node {main}`"
    ));
    exec_cmd(&["node", &main])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, detect_files};
    use expect_test::expect;

    const PACKAGE: &str = r#"{
  "name": "web",
  "scripts": { "start": "node server.js", "build": "vite build" },
  "dependencies": { "express": "^4" },
  "devDependencies": { "vite": "^5" }
}"#;

    #[test]
    fn npm_with_lockfile_build_and_start() {
        check(
            &[
                ("package.json", PACKAGE),
                ("package-lock.json", "{}"),
                (".npmrc", "registry=https://registry.example\n"),
                ("server.js", ""),
            ],
            expect![[r#"
                runtime: node
                hint: installing with `npm ci` (package-lock.json)
                hint: generated a node Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a node app: commit a Dockerfile to replace it
                FROM node:22-bookworm-slim AS build
                WORKDIR /app
                COPY package.json package-lock.json .npmrc ./
                RUN npm ci
                COPY . .
                RUN npm run build
                RUN npm prune --omit=dev

                FROM node:22-bookworm-slim
                WORKDIR /app
                ENV NODE_ENV=production
                COPY --from=build /app /app
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD ["npm", "start"]
            "#]],
        );
    }

    #[test]
    fn yarn_with_procfile() {
        check(
            &[
                ("package.json", PACKAGE),
                ("yarn.lock", ""),
                (
                    "Procfile",
                    "release: yarn migrate\nweb: node dist/server.js --port $PORT\n",
                ),
            ],
            expect![[r#"
                runtime: node
                hint: installing with `yarn install --frozen-lockfile` (yarn.lock)
                hint: using the Procfile web command
                hint: generated a node Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a node app: commit a Dockerfile to replace it
                FROM node:22-bookworm-slim AS build
                WORKDIR /app
                COPY package.json yarn.lock ./
                RUN yarn install --frozen-lockfile
                COPY . .
                RUN yarn run build
                RUN yarn install --frozen-lockfile --production --ignore-scripts --prefer-offline

                FROM node:22-bookworm-slim
                WORKDIR /app
                ENV NODE_ENV=production
                COPY --from=build /app /app
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD exec node dist/server.js --port $PORT
            "#]],
        );
    }

    #[test]
    fn pnpm() {
        let got = detect_files(&[("package.json", PACKAGE), ("pnpm-lock.yaml", "")]).unwrap();
        let text = got.dockerfile.unwrap();
        assert!(
            text.contains("RUN corepack enable pnpm\nCOPY package.json pnpm-lock.yaml ./\nRUN pnpm install --frozen-lockfile\nCOPY . .\nRUN pnpm run build\nRUN pnpm prune --prod\n"),
            "{text}"
        );
    }

    #[test]
    fn no_lockfile_no_scripts() {
        check(
            &[
                (
                    "package.json",
                    r#"{"name": "api", "main": "./src/index.js"}"#,
                ),
                ("src/index.js", ""),
            ],
            expect![[r#"
                runtime: node
                hint: no lockfile committed: installing with `npm install`
                hint: no start script in package.json: running `node src/index.js`
                hint: generated a node Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a node app: commit a Dockerfile to replace it
                FROM node:22-bookworm-slim AS build
                WORKDIR /app
                COPY package.json ./
                RUN npm install
                COPY . .

                FROM node:22-bookworm-slim
                WORKDIR /app
                ENV NODE_ENV=production
                COPY --from=build /app /app
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD ["node", "src/index.js"]
            "#]],
        );
    }

    #[test]
    fn entry_point_fallbacks() {
        let cases = [
            (
                vec![("package.json", "{}"), ("server.js", "")],
                r#"CMD ["node", "server.js"]"#,
            ),
            (vec![("package.json", "{}")], r#"CMD ["node", "index.js"]"#),
        ];
        for (files, want) in cases {
            let text = detect_files(&files).unwrap().dockerfile.unwrap();
            assert!(text.trim_end().ends_with(want), "{text}");
        }
    }

    #[test]
    fn invalid_package_json_is_a_clear_error() {
        let err = detect_files(&[("package.json", "{ nope")]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "cannot generate a Dockerfile for this node app: package.json is not valid JSON ("
            ),
            "{err}"
        );
    }
}
