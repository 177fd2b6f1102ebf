//! Terminal colours in logs: turns a line with ANSI escape sequences into styled spans.
//!
//! SGR sequences (`ESC [ … m`) set the style: reset, bold, dim, italic, underline, the 16
//! basic colours (30–37, 90–97 and their backgrounds), 256-colour (`38;5;n`) and true colour
//! (`38;2;r;g;b`), also with `:` separators. Every other escape sequence (cursor moves, erase,
//! OSC titles and links) is dropped, as are control characters other than tab. A carriage
//! return inside a line is a progress update that redraws the line: only what comes after the
//! last one is kept. Pure code, unit-tested natively.

/// A colour: one of the 256 palette entries or an RGB value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Palette(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    /// The CSS class for the 16 basic colours (themed in `style.css`); `None` for the others,
    /// which get an inline colour.
    fn class(self, prefix: &str) -> Option<String> {
        match self {
            Color::Palette(n) if n < 16 => Some(format!("{prefix}{n}")),
            _ => None,
        }
    }

    /// `rgb(r, g, b)` for 256-palette entries above 15 and true colours.
    fn css(self) -> Option<String> {
        let (r, g, b) = match self {
            Color::Palette(n) if n < 16 => return None,
            Color::Palette(n) if n < 232 => {
                let i = n - 16;
                let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
                (level(i / 36), level((i / 6) % 6), level(i % 6))
            }
            Color::Palette(n) => {
                let v = 8 + (n - 232) * 10;
                (v, v, v)
            }
            Color::Rgb(r, g, b) => (r, g, b),
        };
        Some(format!("rgb({r}, {g}, {b})"))
    }
}

/// How a piece of text looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub fg: Option<Color>,
    pub bg: Option<Color>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
}

impl Style {
    pub fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// CSS classes for this style (`ansi-b ansi-fg1 …`), empty for plain text.
    pub fn classes(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        if self.bold {
            out.push("ansi-b".into());
        }
        if self.dim {
            out.push("ansi-d".into());
        }
        if self.italic {
            out.push("ansi-i".into());
        }
        if self.underline {
            out.push("ansi-u".into());
        }
        if let Some(c) = self.fg.and_then(|c| c.class("ansi-fg")) {
            out.push(c);
        }
        if let Some(c) = self.bg.and_then(|c| c.class("ansi-bg")) {
            out.push(c);
        }
        out.join(" ")
    }

    /// Inline CSS for colours outside the 16 basic ones, empty when there are none.
    pub fn inline(&self) -> String {
        let mut out = String::new();
        if let Some(c) = self.fg.and_then(Color::css) {
            out.push_str(&format!("color: {c};"));
        }
        if let Some(c) = self.bg.and_then(Color::css) {
            out.push_str(&format!("background-color: {c};"));
        }
        out
    }

    /// Applies one SGR sequence's parameters (`1;31`, `38;5;208`, `38:2:255:0:0`, ``).
    fn apply_sgr(&mut self, params: &str) {
        // An empty sequence is a reset; `:` separates sub-parameters like `;` does here.
        let nums: Vec<u16> = if params.is_empty() {
            vec![0]
        } else {
            params
                .split([';', ':'])
                .map(|p| p.parse::<u16>().unwrap_or(0))
                .collect()
        };
        let mut it = nums.into_iter();
        while let Some(n) = it.next() {
            match n {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Some(Color::Palette((n - 30) as u8)),
                39 => self.fg = None,
                40..=47 => self.bg = Some(Color::Palette((n - 40) as u8)),
                49 => self.bg = None,
                90..=97 => self.fg = Some(Color::Palette((n - 90 + 8) as u8)),
                100..=107 => self.bg = Some(Color::Palette((n - 100 + 8) as u8)),
                38 | 48 => {
                    let color = match it.next() {
                        Some(5) => it.next().map(|i| Color::Palette(clamp(i))),
                        Some(2) => match (it.next(), it.next(), it.next()) {
                            (Some(r), Some(g), Some(b)) => {
                                Some(Color::Rgb(clamp(r), clamp(g), clamp(b)))
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    if n == 38 {
                        self.fg = color;
                    } else {
                        self.bg = color;
                    }
                }
                // Blink, inverse, hidden, strike, fonts…: ignored.
                _ => {}
            }
        }
    }
}

fn clamp(n: u16) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
}

/// Parses lines one after the other: a style set on one line carries to the next, as in a
/// terminal.
#[derive(Debug, Clone, Default)]
pub struct Parser {
    style: Style,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The spans of one line (without its newline). Adjacent text in the same style is one
    /// span; empty text gives no span.
    pub fn line(&mut self, line: &str) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        let mut text = String::new();
        let mut chars = line.chars().peekable();
        let flush = |spans: &mut Vec<Span>, text: &mut String, style: Style| {
            if text.is_empty() {
                return;
            }
            match spans.last_mut() {
                Some(last) if last.style == style => last.text.push_str(text),
                _ => spans.push(Span {
                    text: std::mem::take(text),
                    style,
                }),
            }
            text.clear();
        };
        while let Some(c) = chars.next() {
            match c {
                '\u{1b}' => match chars.next() {
                    Some('[') => {
                        let (params, fin) = csi(&mut chars);
                        if fin == Some('m') {
                            flush(&mut spans, &mut text, self.style);
                            self.style.apply_sgr(&params);
                        }
                    }
                    // OSC (title, hyperlink): up to BEL or ESC \.
                    Some(']') | Some('P') | Some('_') | Some('^') => {
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' {
                                break;
                            }
                            if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                                chars.next();
                                break;
                            }
                        }
                    }
                    // A two-character sequence (ESC 7, ESC =, ESC ( B takes one more).
                    Some('(') | Some(')') | Some('#') => {
                        chars.next();
                    }
                    _ => {}
                },
                // The 8-bit CSI.
                '\u{9b}' => {
                    let (params, fin) = csi(&mut chars);
                    if fin == Some('m') {
                        flush(&mut spans, &mut text, self.style);
                        self.style.apply_sgr(&params);
                    }
                }
                // A redraw: what came before is overwritten (a trailing `\r`, as in CRLF, is
                // not one).
                '\r' => {
                    if chars.clone().any(|c| c != '\r') {
                        spans.clear();
                        text.clear();
                    }
                }
                '\t' => text.push(c),
                c if c.is_control() => {}
                c => text.push(c),
            }
        }
        flush(&mut spans, &mut text, self.style);
        spans
    }
}

/// The parameters and final character of a CSI sequence (after `ESC [`).
fn csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> (String, Option<char>) {
    let mut params = String::new();
    for c in chars.by_ref() {
        match c {
            '\u{30}'..='\u{3f}' => params.push(c),
            '\u{20}'..='\u{2f}' => {}
            '\u{40}'..='\u{7e}' => return (params, Some(c)),
            // Not a valid sequence: stop here.
            _ => return (params, None),
        }
    }
    (params, None)
}

/// The spans of one line on its own (no style carried in).
pub fn parse_line(line: &str) -> Vec<Span> {
    Parser::new().line(line)
}

/// A line's text without escape sequences.
pub fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| s.text.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A readable rendering: `[b fg1]text` per styled span, plain text as is.
    fn render(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| {
                if s.style.is_plain() {
                    s.text.clone()
                } else {
                    let mut tags = s.style.classes();
                    let inline = s.style.inline();
                    if !inline.is_empty() {
                        if !tags.is_empty() {
                            tags.push(' ');
                        }
                        tags.push_str(&inline);
                    }
                    format!("[{tags}]{}", s.text)
                }
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    fn check(input: &str, want: &str) {
        assert_eq!(render(&parse_line(input)), want, "input {input:?}");
    }

    #[test]
    fn plain_text_is_one_span() {
        check("hello world", "hello world");
        assert!(parse_line("").is_empty());
    }

    #[test]
    fn basic_colours_and_reset() {
        check("\x1b[31mred\x1b[0m plain", "[ansi-fg1]red| plain");
        check("\x1b[1;32mok\x1b[m", "[ansi-b ansi-fg2]ok");
        check("\x1b[91mbright\x1b[39m", "[ansi-fg9]bright");
        check("\x1b[44;97mx", "[ansi-fg15 ansi-bg4]x");
        check("\x1b[103mx\x1b[49my", "[ansi-bg11]x|y");
    }

    #[test]
    fn bold_dim_italic_underline() {
        check("\x1b[2mdim\x1b[22m", "[ansi-d]dim");
        check("\x1b[1mb\x1b[2md\x1b[22mn", "[ansi-b]b|[ansi-b ansi-d]d|n");
        check("\x1b[3;4mx\x1b[23;24my", "[ansi-i ansi-u]x|y");
    }

    #[test]
    fn palette_256_and_true_colour() {
        check("\x1b[38;5;1mx", "[ansi-fg1]x");
        check("\x1b[38;5;208mx", "[color: rgb(255, 135, 0);]x");
        check("\x1b[38;5;16mx", "[color: rgb(0, 0, 0);]x");
        check("\x1b[38;5;244mx", "[color: rgb(128, 128, 128);]x");
        check(
            "\x1b[38;2;10;20;30;48;2;1;2;3mx",
            "[color: rgb(10, 20, 30);background-color: rgb(1, 2, 3);]x",
        );
        check("\x1b[38:2:255:0:0mx", "[color: rgb(255, 0, 0);]x");
        check(
            "\x1b[48;5;300mx",
            "[background-color: rgb(238, 238, 238);]x",
        );
        // Incomplete: the colour is dropped, the text stays.
        check("\x1b[38;2;1mx", "x");
    }

    #[test]
    fn adjacent_spans_of_one_style_merge() {
        check("\x1b[31ma\x1b[31mb\x1b[0m\x1b[0mc", "[ansi-fg1]ab|c");
        check("\x1b[31m\x1b[0mx", "x");
    }

    #[test]
    fn other_sequences_are_stripped() {
        check("\x1b[2K\x1b[1Gdone", "done");
        check("a\x1b[?25lb\x1b[?25h", "ab");
        check("\x1b]0;title\x07text", "text");
        check("\x1b]8;;https://x.y\x1b\\link\x1b]8;;\x1b\\", "link");
        check("\x1b(Bx\x1b=y", "xy");
        check("\u{9b}32mgreen", "[ansi-fg2]green");
        check("bell\x07 and\x08 nul\0", "bell and nul");
        check("tab\there", "tab\there");
        // A lone ESC at the end, an unterminated CSI.
        check("end\x1b", "end");
        check("x\x1b[31", "x");
    }

    #[test]
    fn carriage_returns_redraw_the_line() {
        check("10%\r50%\r100%", "100%");
        check("line\r", "line");
        check("crlf\r\r", "crlf");
        check("\x1b[32m10%\r\x1b[1m100%", "[ansi-b ansi-fg2]100%");
    }

    #[test]
    fn style_carries_across_lines() {
        let mut p = Parser::new();
        assert_eq!(render(&p.line("\x1b[33mwarn")), "[ansi-fg3]warn");
        assert_eq!(render(&p.line("still")), "[ansi-fg3]still");
        assert_eq!(render(&p.line("\x1b[0mplain")), "plain");
    }

    #[test]
    fn unicode_survives() {
        check("\x1b[36m→ ✓ 日本\x1b[0m", "[ansi-fg6]→ ✓ 日本");
        assert_eq!(plain(&parse_line("\x1b[1mé\x1b[0mx")), "éx");
    }
}
