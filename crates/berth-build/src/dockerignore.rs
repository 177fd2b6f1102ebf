//! `.dockerignore` with the docker CLI's semantics (moby/patternmatcher), so a context filtered
//! here holds exactly what `docker build` would have sent.
//!
//! - Patterns are relative to the context root and cleaned like Go's `filepath.Clean`; a
//!   leading `/` or `./` is ignored. Lines starting with `#` are comments; blank lines are
//!   skipped; surrounding whitespace is trimmed.
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` /
//!   `[^a-z]` a character class (as in docker, a class can match `/`), `\` escapes the next
//!   character. `**` matches any number of directories (including none); a trailing `**`
//!   matches everything below.
//! - A pattern excludes a path if it matches the path or any of its parent directories, so an
//!   excluded directory excludes everything beneath it.
//! - `!pattern` re-includes; the last pattern that matches decides.

use crate::BuildError;

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*`: any run without `/`.
    Star,
    /// A trailing `**`: anything.
    AnyPath,
    /// `**` (or `**/`) elsewhere: nothing, or anything ending in `/`.
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`. A malformed pattern (an unclosed `[`, an empty
    /// class, a trailing `\`, a lone `!`) is an error naming its line.
    pub fn parse(text: &str) -> Result<Self, BuildError> {
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = if i == 0 {
                raw.trim_start_matches('\u{feff}')
            } else {
                raw
            };
            if raw.starts_with('#') {
                continue;
            }
            let mut pattern = raw.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
                if pattern.is_empty() {
                    return Err(bad(line, "`!` must be followed by a pattern"));
                }
            }
            let mut cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let tokens = compile(&cleaned).map_err(|reason| bad(line, &reason))?;
            patterns.push(Pattern { exclusion, tokens });
        }
        Ok(DockerIgnore { patterns })
    }

    /// Whether `path` ('/'-separated, relative to the context root) is left out of the context.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        let path: Vec<char> = path.chars().collect();
        // The path itself and each parent directory, shortest last.
        let mut candidates = vec![&path[..]];
        for (i, c) in path.iter().enumerate() {
            if *c == '/' {
                candidates.push(&path[..i]);
            }
        }
        self.patterns
            .iter()
            .rev()
            .find(|p| candidates.iter().any(|c| matches(&p.tokens, c)))
            .is_some_and(|p| !p.exclusion)
    }

    /// Whether there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

fn bad(line: usize, reason: &str) -> BuildError {
    BuildError::BadDockerignore {
        file: ".dockerignore".to_owned(),
        line,
        reason: reason.to_owned(),
    }
}

/// Go's `filepath.Clean` for '/'-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                let leading = i == 0;
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                } else if leading && !chars[i..].iter().any(|c| "*?[\\".contains(*c)) {
                    // docker matches `**name` as "ends with name" (its suffix fast path).
                    tokens.push(Token::AnyPath);
                    continue;
                }
                tokens.push(if i == chars.len() {
                    Token::AnyPath
                } else {
                    Token::AnyDirs
                });
                continue;
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::AnyChar),
            '\\' => {
                i += 1;
                let Some(&c) = chars.get(i) else {
                    return Err(format!("pattern `{pattern}` ends with an escaping `\\`"));
                };
                tokens.push(Token::Literal(c));
            }
            '[' => {
                let (token, next) = class(&chars, i + 1)
                    .ok_or_else(|| format!("pattern `{pattern}` has a malformed `[...]` class"))?;
                tokens.push(token);
                i = next;
                continue;
            }
            c => tokens.push(Token::Literal(c)),
        }
        i += 1;
    }
    Ok(tokens)
}

/// Parses a class starting after its `[`; returns it and the index after its `]`.
fn class(chars: &[char], mut i: usize) -> Option<(Token, usize)> {
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !ranges.is_empty() {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        if c == '-' || c == ']' {
            return None;
        }
        let lo = escaped(chars, &mut i)?;
        let hi = if chars.get(i) == Some(&'-') && chars.get(i + 1) != Some(&']') {
            i += 1;
            escaped(chars, &mut i)?
        } else {
            lo
        };
        if lo > hi {
            return None;
        }
        ranges.push((lo, hi));
    }
}

fn escaped(chars: &[char], i: &mut usize) -> Option<char> {
    let mut c = *chars.get(*i)?;
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i)?;
    }
    *i += 1;
    Some(c)
}

/// Whether `tokens` match all of `path`: a simulation over the set of reachable positions, so
/// no pattern can make it exponential.
fn matches(tokens: &[Token], path: &[char]) -> bool {
    let n = path.len();
    let mut at = vec![false; n + 1];
    at[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        let Some(first) = at.iter().position(|&b| b) else {
            return false;
        };
        match token {
            Token::Literal(c) => step(&at, &mut next, |j| path[j] == *c),
            Token::AnyChar => step(&at, &mut next, |j| path[j] != '/'),
            Token::Class { negated, ranges } => step(&at, &mut next, |j| {
                let c = path[j];
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }),
            Token::Star => {
                for j in 0..=n {
                    // Reachable if reachable before, or one step on from a reachable non-'/'.
                    next[j] = at[j] || (j > 0 && next[j - 1] && path[j - 1] != '/');
                }
            }
            Token::AnyPath => next[first..].fill(true),
            Token::AnyDirs => {
                for j in first..=n {
                    next[j] = at[j] || (j > first && path[j - 1] == '/');
                }
            }
        }
        at = next;
    }
    at[n]
}

fn step(at: &[bool], next: &mut [bool], ok: impl Fn(usize) -> bool) {
    for j in 0..at.len() - 1 {
        if at[j] && ok(j) {
            next[j + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantics() {
        // (patterns, path, excluded?)
        let cases: &[(&str, &str, bool)] = &[
            // plain names, anchored at the root
            ("node_modules", "node_modules", true),
            ("node_modules", "node_modules/a/b.js", true),
            ("node_modules", "web/node_modules", false),
            ("a/b", "a/b", true),
            ("a/b", "a/bc", false),
            // leading '/' and './' are ignored; patterns are cleaned
            ("/secret.txt", "secret.txt", true),
            ("./secret.txt", "secret.txt", true),
            ("a//b/./c", "a/b/c", true),
            ("a/x/../b", "a/b", true),
            ("dist/", "dist/app.js", true),
            // the path given may be './'-prefixed or a directory with a trailing '/'
            ("dist", "./dist/app.js", true),
            ("dist", "dist/", true),
            // '*' stays within one segment
            ("*.log", "error.log", true),
            ("*.log", "logs/error.log", false),
            ("*/*.log", "logs/error.log", true),
            ("*", "anything/at/all", true),
            ("a*", "abc/d", true),
            ("*.md", ".md", true),
            // '?' is one character, not '/'
            ("file?.txt", "file1.txt", true),
            ("file?.txt", "file10.txt", false),
            ("a?b", "a/b", false),
            // classes
            ("file[0-9].txt", "file7.txt", true),
            ("file[0-9].txt", "filex.txt", false),
            ("file[^0-9].txt", "filex.txt", true),
            ("file[^0-9].txt", "file7.txt", false),
            ("file[abc].txt", "fileb.txt", true),
            // classes are regex classes in docker: they can match '/'
            ("a[/]b", "a/b", true),
            // escapes
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            // '**' across directories
            ("**/*.go", "main.go", true),
            ("**/*.go", "cmd/app/main.go", true),
            ("**/*.go", "main.rs", false),
            ("**/.git", ".git", true),
            ("**/.git", "sub/.git/config", true),
            ("docs/**", "docs/a/b.md", true),
            ("docs/**/*.md", "docs/a.md", true),
            ("docs/**/*.md", "docs/a/b/c.md", true),
            ("docs/**/*.md", "src/a.md", false),
            ("a**b", "a/x/b", true),
            ("a**b", "ab", true),
            ("**", "x/y", true),
            // docker's quirk: a leading `**` glued to a plain name is a suffix match
            ("**foo", "a/barfoo", true),
            ("**foo", "barfoo", true),
            ("**/foo", "barfoo", false),
            // '!' exceptions, last match wins
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md", "CHANGES.md", true),
            ("!README.md\n*.md", "README.md", true),
            ("docs\n!docs/keep.md", "docs/keep.md", false),
            ("docs\n!docs/keep.md", "docs/other.md", true),
            ("docs\n!docs/keep\ndocs/keep/tmp", "docs/keep/tmp/x", true),
            ("docs\n!docs/keep\ndocs/keep/tmp", "docs/keep/a", false),
            ("!docs", "docs/a", false),
            // comments, blank lines, whitespace
            ("# a comment\n\n   \n  build  \n", "build/out", true),
            ("# build", "# build", false),
            ("#build", "build", false),
            (" # not a comment", " # not a comment", false),
            (" # not a comment", "# not a comment", true),
            ("\u{feff}secret", "secret", true),
            ("", "anything", false),
            ("*.tmp\r\n", "x.tmp", true),
            // other characters are literal
            ("a.b", "axb", false),
            ("a+b(1)", "a+b(1)", true),
        ];
        let mut failures = Vec::new();
        for (patterns, path, want) in cases {
            let ignore = DockerIgnore::parse(patterns).unwrap();
            let got = ignore.is_excluded(path);
            if got != *want {
                failures.push(format!("{patterns:?} on {path:?}: got {got}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn malformed_patterns_name_their_line() {
        let cases = [
            (
                "ok\n[abc",
                ".dockerignore line 2: pattern `[abc` has a malformed `[...]` class",
            ),
            (
                "a[]b",
                ".dockerignore line 1: pattern `a[]b` has a malformed `[...]` class",
            ),
            (
                "x\ny\n[z-a]",
                ".dockerignore line 3: pattern `[z-a]` has a malformed `[...]` class",
            ),
            (
                "# c\nfoo\\",
                ".dockerignore line 2: pattern `foo\\` ends with an escaping `\\`",
            ),
            (
                "!",
                ".dockerignore line 1: `!` must be followed by a pattern",
            ),
        ];
        for (text, want) in cases {
            let err = DockerIgnore::parse(text).unwrap_err();
            assert_eq!(err.to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let ignore = DockerIgnore::parse(&"*a".repeat(30)).unwrap();
        let path = "a".repeat(200) + "b";
        let start = std::time::Instant::now();
        assert!(!ignore.is_excluded(&path));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn clean_is_go_filepath_clean() {
        let cases = [
            ("a/b", "a/b"),
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/./b/", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("/", "/"),
            (".", "."),
            ("a/..", "."),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
