//! Which pushes deploy: the branch/tag filter, its glob patterns, and checking the patterns a
//! user types.

use crate::{Push, WebhookFilter};

/// Longest branch name or pattern accepted from a user.
const MAX_PATTERN: usize = 200;

/// Whether `push` should deploy under `filter`.
///
/// `Ok` says why it deploys (`push to main`, `tag v1.2 matches v*`); `Err` says why it does
/// not, in words a user can act on. A push that deploys always has a commit.
pub fn decide(push: &Push, filter: &WebhookFilter) -> Result<String, String> {
    if push.deleted {
        return Err(match (push.branch(), push.tag()) {
            (Some(branch), _) => format!("branch {branch} was deleted"),
            (_, Some(tag)) => format!("tag {tag} was deleted"),
            _ => format!("{} was deleted", push.git_ref),
        });
    }
    let reason = if let Some(branch) = push.branch() {
        if !glob_match(&filter.branch, branch) {
            return Err(format!(
                "push to branch `{branch}` (the webhook deploys `{}`)",
                filter.branch
            ));
        }
        if filter.branch == branch {
            format!("push to {branch}")
        } else {
            format!("push to {branch} (matches `{}`)", filter.branch)
        }
    } else if let Some(tag) = push.tag() {
        let Some(pattern) = &filter.tags else {
            return Err("tag pushes are not deployed (set a tag pattern)".to_owned());
        };
        if !glob_match(pattern, tag) {
            return Err(format!("tag `{tag}` does not match `{pattern}`"));
        }
        format!("tag {tag} matches {pattern}")
    } else {
        return Err(format!("`{}` is neither a branch nor a tag", push.git_ref));
    };
    if push.commit.is_none() {
        return Err("push has no commit".to_owned());
    }
    Ok(reason)
}

/// Whether an image push deploys under an image app's hook, whose `filter.branch` is the
/// app's image repository and `filter.tags` the tag patterns its stages take (`None`: any).
///
/// Repositories are compared without their registry host: a registry's notification names
/// the host it was reached by, which need not be the one the server pulls from.
pub fn decide_image(push: &crate::ImagePush, filter: &WebhookFilter) -> Result<String, String> {
    if image_path(&push.repository) != image_path(&filter.branch) {
        return Err(format!(
            "image {} is not this app's ({})",
            push.repository, filter.branch
        ));
    }
    match &filter.tags {
        None => Ok(format!("image {} pushed", push.reference())),
        Some(patterns) => {
            let taken = patterns
                .split(',')
                .map(str::trim)
                .find(|p| crate::glob_match(p, &push.tag));
            match taken {
                Some(p) => Ok(format!(
                    "image {} pushed (tag matches {p})",
                    push.reference()
                )),
                None => Err(format!(
                    "tag `{}` matches none of the app's tag patterns `{patterns}`",
                    push.tag
                )),
            }
        }
    }
}

/// `registry.example.com:5000/acme/web` → `acme/web`; `docker.io/library/nginx` → `nginx`.
fn image_path(repository: &str) -> &str {
    let path = match repository.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => repository,
    };
    path.strip_prefix("library/").unwrap_or(path)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` (or more stars)
    Globstar,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(pattern.len());
    for c in pattern.chars() {
        let token = match c {
            '?' => Token::One,
            '*' => match out.last_mut() {
                Some(last @ (Token::Star | Token::Globstar)) => {
                    *last = Token::Globstar;
                    continue;
                }
                _ => Token::Star,
            },
            c => Token::Char(c),
        };
        out.push(token);
    }
    out
}

/// Whether `text` matches `pattern` as a whole: `*` is any run of characters but `/`, `**` any
/// run at all, `?` one character but `/`; everything else stands for itself.
///
/// Runs in O(pattern × text), whatever the pattern.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // `reach[j]`: the tokens so far can match exactly `text[..j]`.
    let mut reach = vec![false; text.len() + 1];
    if let Some(first) = reach.first_mut() {
        *first = true;
    }
    for token in tokens(pattern) {
        let mut next = vec![false; text.len() + 1];
        match token {
            Token::Char(_) | Token::One => {
                for (j, &c) in text.iter().enumerate() {
                    let fits = match token {
                        Token::Char(want) => c == want,
                        _ => c != '/',
                    };
                    if reach[j] && fits {
                        next[j + 1] = true;
                    }
                }
            }
            Token::Star | Token::Globstar => {
                let mut open = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    open |= reach[j];
                    *slot = open;
                    if token == Token::Star && text.get(j) == Some(&'/') {
                        open = false;
                    }
                }
            }
        }
        if !next.contains(&true) {
            return false;
        }
        reach = next;
    }
    reach.last().copied().unwrap_or(false)
}

/// Checks a branch name or pattern, or a tag pattern, typed by a user: roughly git's rules for
/// ref names, with `*` and `?` allowed. `Err` says what to change.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    let shown = || pattern.escape_debug().to_string();
    if pattern.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    if pattern.chars().count() > MAX_PATTERN {
        return Err(format!(
            "the pattern is longer than {MAX_PATTERN} characters"
        ));
    }
    if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{}` contains whitespace or a control character",
            shown()
        ));
    }
    if pattern.starts_with("refs/") {
        return Err(format!(
            "`{pattern}`: give the branch or tag name without `refs/heads/` or `refs/tags/`"
        ));
    }
    if pattern.starts_with('-') {
        return Err(format!("`{pattern}` must not start with `-`"));
    }
    if pattern.starts_with('/') || pattern.ends_with('/') {
        return Err(format!("`{pattern}` must not start or end with `/`"));
    }
    for bad in ["..", "//", "@{", "***"] {
        if pattern.contains(bad) {
            let hint = if bad == "***" {
                " (use `*` or `**`)"
            } else {
                ""
            };
            return Err(format!("`{pattern}` must not contain `{bad}`{hint}"));
        }
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| matches!(c, '~' | '^' | ':' | '\\' | '['))
    {
        return Err(format!("`{pattern}` must not contain `{c}`"));
    }
    if pattern == "@" {
        return Err("`@` is not a valid name".to_owned());
    }
    if pattern.ends_with('.') {
        return Err(format!("`{pattern}` must not end with `.`"));
    }
    for part in pattern.split('/') {
        if part.starts_with('.') {
            return Err(format!(
                "`{pattern}`: a part between slashes must not start with `.`"
            ));
        }
        if part.ends_with(".lock") {
            return Err(format!(
                "`{pattern}`: a part between slashes must not end with `.lock`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(git_ref: &str, commit: Option<&str>, deleted: bool) -> Push {
        Push {
            git_ref: git_ref.to_owned(),
            commit: commit.map(str::to_owned),
            deleted,
            message: None,
            pusher: None,
            repository: None,
        }
    }

    fn filter(branch: &str, tags: Option<&str>) -> WebhookFilter {
        WebhookFilter {
            branch: branch.to_owned(),
            tags: tags.map(str::to_owned),
        }
    }

    #[test]
    fn decisions() {
        let sha = Some("a".repeat(40));
        let sha = sha.as_deref();
        let main = filter("main", None);
        let tagged = filter("release/*", Some("v*"));
        let cases: [(Push, &WebhookFilter, Result<&str, &str>); 11] = [
            (
                push("refs/heads/main", sha, false),
                &main,
                Ok("push to main"),
            ),
            (
                push("refs/heads/feature", sha, false),
                &main,
                Err("push to branch `feature` (the webhook deploys `main`)"),
            ),
            (
                push("refs/heads/release/1.0", sha, false),
                &tagged,
                Ok("push to release/1.0 (matches `release/*`)"),
            ),
            (
                push("refs/heads/release/1/x", sha, false),
                &tagged,
                Err("push to branch `release/1/x` (the webhook deploys `release/*`)"),
            ),
            (
                push("refs/tags/v1.2", sha, false),
                &main,
                Err("tag pushes are not deployed (set a tag pattern)"),
            ),
            (
                push("refs/tags/v1.2", sha, false),
                &tagged,
                Ok("tag v1.2 matches v*"),
            ),
            (
                push("refs/tags/x", sha, false),
                &tagged,
                Err("tag `x` does not match `v*`"),
            ),
            (
                push("refs/heads/main", None, true),
                &main,
                Err("branch main was deleted"),
            ),
            (
                push("refs/tags/v1", None, true),
                &tagged,
                Err("tag v1 was deleted"),
            ),
            (
                push("refs/heads/main", None, false),
                &main,
                Err("push has no commit"),
            ),
            (
                push("refs/pull/12/head", sha, false),
                &main,
                Err("`refs/pull/12/head` is neither a branch nor a tag"),
            ),
        ];
        for (push, filter, expected) in cases {
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(decide(&push, filter), expected, "{push:?} {filter:?}");
        }
    }

    #[test]
    fn globs() {
        let cases = [
            ("main", "main", true),
            ("main", "mainline", false),
            ("main", "mai", false),
            ("release/*", "release/1.0", true),
            ("release/*", "release/1/x", false),
            ("release/*", "release/", true),
            ("release/**", "release/1/x", true),
            ("**", "any/thing/at/all", true),
            ("**", "", true),
            ("*", "feature/x", false),
            ("*", "feature", true),
            ("**/hotfix", "team/a/hotfix", true),
            ("**/hotfix", "hotfix", false),
            ("v?", "v1", true),
            ("v?", "v12", false),
            ("a?b", "a/b", false),
            ("v*.*", "v1.2", true),
            ("v*.*", "v1", false),
            ("*-rc*", "v2-rc1", true),
            ("feat*/**", "feature/a/b", true),
            ("feat*/**", "feat/x/y", true),
            ("***", "a/b", true),
            ("é?", "éü", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} ~ {text}");
        }
        // No exponential backtracking.
        let pattern = "*a".repeat(50) + "b";
        assert!(!glob_match(&pattern, &"a".repeat(1000)));
    }

    #[test]
    fn patterns() {
        for ok in [
            "main",
            "release/*",
            "v*",
            "feature/**",
            "hotfix-?",
            "ünï/cøde",
            "a.b",
        ] {
            assert_eq!(validate_pattern(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", "the pattern is empty"),
            (
                "main branch",
                "`main branch` contains whitespace or a control character",
            ),
            (
                "a\u{7}",
                "`a\\u{7}` contains whitespace or a control character",
            ),
            (
                "refs/heads/main",
                "`refs/heads/main`: give the branch or tag name without `refs/heads/` or `refs/tags/`",
            ),
            ("-x", "`-x` must not start with `-`"),
            ("/x", "`/x` must not start or end with `/`"),
            ("x/", "`x/` must not start or end with `/`"),
            ("a..b", "`a..b` must not contain `..`"),
            ("a//b", "`a//b` must not contain `//`"),
            ("a@{1}", "`a@{1}` must not contain `@{`"),
            ("a***", "`a***` must not contain `***` (use `*` or `**`)"),
            ("a~1", "`a~1` must not contain `~`"),
            ("a:b", "`a:b` must not contain `:`"),
            ("[ab]", "`[ab]` must not contain `[`"),
            ("@", "`@` is not a valid name"),
            ("a.", "`a.` must not end with `.`"),
            (
                "a/.b",
                "`a/.b`: a part between slashes must not start with `.`",
            ),
            (
                "a.lock/b",
                "`a.lock/b`: a part between slashes must not end with `.lock`",
            ),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                validate_pattern(pattern),
                Err(expected.to_owned()),
                "{pattern}"
            );
        }
        assert_eq!(
            validate_pattern(&"a".repeat(201)),
            Err("the pattern is longer than 200 characters".to_owned())
        );
        assert_eq!(validate_pattern(&"é".repeat(200)), Ok(()));
    }
}
