//! Small string helpers: making untrusted text safe to store and show, within a length.

/// `s` cut to at most `max` characters, with `…` as the last one when something was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One line of untrusted text for records and messages: control characters become spaces, runs of
/// whitespace collapse, the ends are trimmed and the result is at most `max` characters.
/// `None` when nothing is left.
pub(crate) fn clean_line(s: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > max * 4 {
            break;
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(truncate_chars(&out, max))
    }
}

/// The first non-blank line of a commit message, cleaned, at most `max` characters.
pub(crate) fn first_line(message: &str, max: usize) -> Option<String> {
    message.lines().find_map(|line| clean_line(line, max))
}

/// Lowercase hex of SHA-256 over `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo!", 5), "héll…");
        assert_eq!(
            clean_line("  a\tb\u{7}\u{1b}[31mc  ", 80).as_deref(),
            Some("a b [31mc")
        );
        assert_eq!(clean_line(" \r\n ", 80), None);
        assert_eq!(
            first_line("\n\n  Fix the thing  \n\nLonger body", 200).as_deref(),
            Some("Fix the thing")
        );
        assert_eq!(first_line("", 200), None);
        assert_eq!(
            first_line(&"x".repeat(300), 200).map(|l| l.chars().count()),
            Some(200)
        );
    }
}
