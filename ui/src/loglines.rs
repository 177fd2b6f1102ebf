//! The lines a log view keeps: a capped buffer of parsed lines with stable ids, and the
//! case-insensitive search that filters them and splits their spans around the matches.
//! Pure code, unit-tested natively.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::ansi::{self, Span};

/// What kind of line it is (its colour in the view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Standard output, or build output.
    Out,
    /// Standard error.
    Err,
    /// A note from Berth itself ("commit 1a2b3c4 …", "stream ended").
    Note,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Unique within its buffer, never reused: the key of the line's element.
    pub id: u64,
    pub kind: LineKind,
    pub spans: Vec<Span>,
    /// The text without escape sequences (what search looks at).
    pub text: String,
}

/// The last `cap` lines of a log.
#[derive(Debug, Clone)]
pub struct LogLines {
    lines: VecDeque<Arc<Line>>,
    cap: usize,
    next_id: u64,
    dropped: u64,
    parser: ansi::Parser,
}

/// How many lines a log view keeps by default.
pub const DEFAULT_CAP: usize = 5_000;

impl LogLines {
    pub fn new(cap: usize) -> LogLines {
        LogLines {
            lines: VecDeque::new(),
            cap: cap.max(1),
            next_id: 0,
            dropped: 0,
            parser: ansi::Parser::new(),
        }
    }

    /// Adds a line (ANSI colours parsed; a style left open carries to the next line), dropping
    /// the oldest beyond the cap.
    pub fn push(&mut self, raw: &str, kind: LineKind) {
        let spans = if kind == LineKind::Note {
            vec![Span {
                text: raw.to_owned(),
                style: ansi::Style::default(),
            }]
        } else {
            self.parser.line(raw)
        };
        let text = ansi::plain(&spans);
        self.lines.push_back(Arc::new(Line {
            id: self.next_id,
            kind,
            spans,
            text,
        }));
        self.next_id += 1;
        while self.lines.len() > self.cap {
            self.lines.pop_front();
            self.dropped += 1;
        }
    }

    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.parser = ansi::Parser::new();
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many lines were dropped at the top because of the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Line>> {
        self.lines.iter()
    }

    /// The lines matching `query` (all of them when it is blank).
    pub fn filtered(&self, query: &str) -> Vec<Arc<Line>> {
        self.lines
            .iter()
            .filter(|l| query.is_empty() || !find_all(&l.text, query).is_empty())
            .cloned()
            .collect()
    }

    /// How many matches of `query` the kept lines hold.
    pub fn count_matches(&self, query: &str) -> usize {
        if query.is_empty() {
            return 0;
        }
        self.lines
            .iter()
            .map(|l| find_all(&l.text, query).len())
            .sum()
    }
}

/// Byte ranges of the non-overlapping, case-insensitive matches of `query` in `text`.
pub fn find_all(text: &str, query: &str) -> Vec<Range<usize>> {
    let needle: Vec<char> = query.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return Vec::new();
    }
    // Lowercase each char of the text, remembering where in `text` it came from.
    let hay: Vec<(usize, char)> = text
        .char_indices()
        .flat_map(|(i, c)| c.to_lowercase().map(move |l| (i, l)))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if hay[i..i + needle.len()]
            .iter()
            .map(|(_, c)| *c)
            .eq(needle.iter().copied())
        {
            let start = hay[i].0;
            let last = i + needle.len() - 1;
            // End after the last matched char of the text.
            let end = hay[last].0 + text[hay[last].0..].chars().next().map_or(0, char::len_utf8);
            // A char whose lowercase is several chars may be half matched: skip that.
            if out.last().is_none_or(|r: &Range<usize>| r.end <= start) {
                out.push(start..end);
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

/// A piece of a line as shown: its text and style, and whether it is part of a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub span: Span,
    pub hit: bool,
}

/// Splits `spans` at the boundaries of `hits` (byte ranges of the spans' joined text).
pub fn highlight(spans: &[Span], hits: &[Range<usize>]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut offset = 0;
    for span in spans {
        let (start, end) = (offset, offset + span.text.len());
        offset = end;
        // Cut points inside this span.
        let mut cuts = vec![start, end];
        for h in hits {
            for p in [h.start, h.end] {
                if p > start && p < end {
                    cuts.push(p);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let Some(text) = span.text.get(a - start..b - start) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let hit = hits.iter().any(|h| h.start <= a && b <= h.end);
            out.push(Piece {
                span: Span {
                    text: text.to_owned(),
                    style: span.style,
                },
                hit,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ansi::parse_line;

    fn render(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| {
                let styled = if p.span.style.is_plain() {
                    p.span.text.clone()
                } else {
                    format!("<{}>{}", p.span.style.classes(), p.span.text)
                };
                if p.hit { format!("[{styled}]") } else { styled }
            })
            .collect()
    }

    fn check(line: &str, query: &str, want: &str) {
        let spans = parse_line(line);
        let hits = find_all(&ansi::plain(&spans), query);
        assert_eq!(
            render(&highlight(&spans, &hits)),
            want,
            "{line:?} / {query:?}"
        );
    }

    #[test]
    fn matches_are_case_insensitive_and_do_not_overlap() {
        assert_eq!(
            find_all("Error: error ERROR", "error"),
            vec![0..5, 7..12, 13..18]
        );
        assert_eq!(find_all("aaaa", "aa"), vec![0..2, 2..4]);
        assert_eq!(find_all("abc", ""), Vec::<Range<usize>>::new());
        assert_eq!(find_all("abc", "abcd"), Vec::<Range<usize>>::new());
        assert_eq!(find_all("Ünïcode ÜNÏ", "ünï"), vec![0..5, 10..15]);
    }

    #[test]
    fn highlights_split_styled_spans() {
        check("GET /healthz 200", "health", "GET /[health]z 200");
        check(
            "\x1b[31mfailed\x1b[0m to start",
            "ed to",
            "<ansi-fg1>fail[<ansi-fg1>ed][ to] start",
        );
        check("no match here", "zzz", "no match here");
        check("xx", "x", "[x][x]");
    }

    #[test]
    fn the_buffer_keeps_the_last_lines_with_stable_ids() {
        let mut l = LogLines::new(3);
        for i in 0..5 {
            l.push(&format!("line {i}"), LineKind::Out);
        }
        let ids: Vec<u64> = l.iter().map(|x| x.id).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        assert_eq!(l.dropped(), 2);
        assert_eq!(l.iter().next().map(|x| x.text.as_str()), Some("line 2"));
        l.clear();
        assert!(l.is_empty());
        l.push("again", LineKind::Out);
        assert_eq!(
            l.iter().next().map(|x| x.id),
            Some(5),
            "ids are never reused"
        );
    }

    #[test]
    fn filtering_and_counting() {
        let mut l = LogLines::new(10);
        l.push("GET / 200", LineKind::Out);
        l.push("\x1b[31mGET /missing 404\x1b[0m", LineKind::Err);
        l.push("serving v1", LineKind::Note);
        let texts =
            |q: &str| -> Vec<String> { l.filtered(q).iter().map(|x| x.text.clone()).collect() };
        assert_eq!(texts("get"), vec!["GET / 200", "GET /missing 404"]);
        assert_eq!(texts("").len(), 3);
        assert_eq!(l.count_matches("/"), 2);
        assert_eq!(l.count_matches("e"), 3);
        assert_eq!(l.count_matches(""), 0);
    }

    #[test]
    fn notes_are_not_parsed() {
        let mut l = LogLines::new(10);
        l.push("\x1b[31m", LineKind::Note);
        assert_eq!(l.iter().next().map(|x| x.text.as_str()), Some("\x1b[31m"));
    }
}
