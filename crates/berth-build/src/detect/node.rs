//! The generated Dockerfile of a Node package: install and build with its package manager,
//! drop the dev dependencies, run as the `node` user.

use serde_json::Value;

use super::{Generated, Source, Which, exec_cmd};
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
    if let Some((major, why)) = wanted_node(src, &package, out) {
        let image = format!("node:{major}-bookworm-slim");
        out.choose(Which::Build, image.clone(), &why);
        out.choose(Which::Run, image, &why);
    }
    let user = "1000:1000";
    let chown = out.chown(user);
    out.hint_app_dir("/app", user);

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
    out.build_args();
    out.line("COPY . .");
    if script("build") {
        out.line(format!("RUN {}", manager.build));
    }
    if has_dev_deps {
        out.line(format!("RUN {}", manager.prune));
    }
    out.line("");
    out.line(format!("FROM {run}"));
    out.line("ENV NODE_ENV=production");
    out.port("");
    out.line("# the node user of the official images");
    out.line("USER 1000:1000");
    out.line(start);
    out.line(format!("COPY --from=build {chown}/app /app"));
    out.line("WORKDIR /app");
    Ok(())
}

/// The app's start command, Procfile `web:`, else `npm start` when there is a start script,
/// else `node <main>`.
fn start_command(src: &Source<'_>, package: &Value, out: &mut Generated) -> String {
    if let Some(cmd) = out.chosen_start() {
        return cmd;
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

/// The Node major release of the default images.
const DEFAULT_NODE: u32 = 22;

/// Node's LTS code names, for `.nvmrc`'s `lts/<name>`.
const LTS: &[(&str, u32)] = &[("hydrogen", 18), ("iron", 20), ("jod", 22)];

/// The Node major release `engines.node` in package.json, else `.nvmrc`, asks for, with why.
fn wanted_node(src: &Source<'_>, package: &Value, out: &mut Generated) -> Option<(u32, String)> {
    if let Some(range) = package["engines"]["node"].as_str() {
        match major_of_range(range) {
            Some(major) => {
                return Some((
                    major,
                    format!("node {major} (engines.node `{range}` in package.json)"),
                ));
            }
            None => out.hint(format!(
                "engines.node `{range}` in package.json names no Node release: it is not used"
            )),
        }
    }
    let text = src.read(".nvmrc")?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let lower = line.to_ascii_lowercase();
    let major = if lower == "node" || lower == "lts/*" || lower == "stable" {
        DEFAULT_NODE
    } else if let Some(name) = lower.strip_prefix("lts/") {
        match LTS.iter().find(|(n, _)| *n == name) {
            Some((_, major)) => *major,
            None => {
                out.hint(format!(
                    ".nvmrc says `{line}`, an LTS name Berth does not know: it is not used"
                ));
                return None;
            }
        }
    } else {
        match lower
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
        {
            Some(major) => major,
            None => {
                out.hint(format!(
                    ".nvmrc says `{line}`, which is not a Node release: it is not used"
                ));
                return None;
            }
        }
    };
    Some((major, format!("node {major} (.nvmrc `{line}`)")))
}

/// The major release a semver range picks: the newest its alternatives allow, the default
/// release when the range is open-ended above it.
fn major_of_range(range: &str) -> Option<u32> {
    range
        .split("||")
        .filter_map(|alt| {
            let alt = alt.trim();
            if alt.is_empty() || alt == "*" || alt == "x" {
                return Some(DEFAULT_NODE);
            }
            let mut lower: Option<u32> = None;
            let mut upper: Option<u32> = None;
            let mut open = false;
            let words: Vec<String> = alt
                .replace(">= ", ">=")
                .replace("<= ", "<=")
                .replace("> ", ">")
                .replace("< ", "<")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            for word in &words {
                if word == "-" {
                    continue;
                }
                let ops = word.trim_start_matches(['>', '<', '=', '^', '~', 'v']);
                let major: u32 = ops.split('.').next()?.parse().ok()?;
                let op = &word[..word.len() - ops.len()];
                if op.starts_with('>') {
                    open = true;
                    lower = Some(major);
                } else if op == "<" {
                    let minor_zero = ops
                        .split('.')
                        .skip(1)
                        .all(|p| p.chars().all(|c| c == '0' || c == 'x'));
                    upper = Some(if minor_zero {
                        major.saturating_sub(1)
                    } else {
                        major
                    });
                } else if op == "<="
                    // The upper end of a hyphen range (`16 - 20`).
                    || (words.len() == 3 && words[1] == "-" && Some(word) == words.last())
                {
                    upper = Some(major);
                } else {
                    lower = Some(major);
                    upper.get_or_insert(major);
                }
            }
            match (lower, upper) {
                (_, Some(upper)) => Some(upper.max(lower.unwrap_or(0))),
                (Some(lower), None) if open => Some(DEFAULT_NODE.max(lower)),
                (Some(lower), None) => Some(lower),
                (None, None) => None,
            }
        })
        .max()
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
                hint: /app is owned by the app's user (1000:1000), so the app can write beside its code
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
                ENV NODE_ENV=production
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD ["npm", "start"]
                COPY --from=build --chown=1000:1000 /app /app
                WORKDIR /app
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
                hint: starting with the Procfile web command (line 2)
                hint: /app is owned by the app's user (1000:1000), so the app can write beside its code
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
                ENV NODE_ENV=production
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD exec node dist/server.js --port $PORT
                COPY --from=build --chown=1000:1000 /app /app
                WORKDIR /app
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
                hint: /app is owned by the app's user (1000:1000), so the app can write beside its code
                hint: generated a node Dockerfile: the app must listen on $PORT (8080)
                ---
                # generated by berth for a node app: commit a Dockerfile to replace it
                FROM node:22-bookworm-slim AS build
                WORKDIR /app
                COPY package.json ./
                RUN npm install
                COPY . .

                FROM node:22-bookworm-slim
                ENV NODE_ENV=production
                ENV PORT=8080
                EXPOSE 8080
                # the node user of the official images
                USER 1000:1000
                CMD ["node", "src/index.js"]
                COPY --from=build --chown=1000:1000 /app /app
                WORKDIR /app
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
            assert!(text.lines().any(|l| l == want), "{text}");
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

    #[test]
    fn node_ranges_pick_a_major() {
        let cases = [
            ("18", Some(18)),
            ("18.x", Some(18)),
            ("^20.11.1", Some(20)),
            ("~18.19", Some(18)),
            (">=18", Some(22)),
            (">= 24", Some(24)),
            (">=18 <21", Some(20)),
            (">=18 <20.5", Some(20)),
            ("<=20", Some(20)),
            ("16 - 20", Some(20)),
            ("^18 || ^20", Some(20)),
            ("*", Some(22)),
            ("lts", None),
        ];
        for (range, want) in cases {
            assert_eq!(super::major_of_range(range), want, "{range}");
        }
    }
}
