//! Time-series charts: drawn with `plotters` on a canvas (axes with units, a line per
//! series, events marked as vertical lines), in the theme's colours (read from the CSS
//! variables, so light and dark both hold), with the nearest values shown on hover.

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsCast;

/// How a series' values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Percent (of one core for an app, of the host for a server).
    Percent,
    Bytes,
}

impl Unit {
    fn format(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v:.1} %"),
            Unit::Bytes => berth_model::format::bytes(v.max(0.0) as u64),
        }
    }
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// The CSS variable its colour comes from (`--accent`).
    pub color: &'static str,
    /// (unix ms, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// An event marked on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: i64,
    pub label: String,
    /// Bad news (red) or good (green).
    pub bad: bool,
}

/// The canvas's width before it is laid out; then it takes the width it is shown at (one
/// canvas pixel per CSS pixel: crisp text, no scaling).
const WIDTH: u32 = 640;
const HEIGHT: u32 = 200;
const MARGIN: u32 = 8;
const Y_LABELS: u32 = 64;
const X_LABELS: u32 = 24;

/// The theme colour in CSS variable `var` (`#rrggbb`), or `fallback`.
fn css_color(var: &str, fallback: RGBColor) -> RGBColor {
    let value = web_sys::window()
        .and_then(|w| {
            let root = w.document()?.document_element()?;
            w.get_computed_style(&root).ok().flatten()
        })
        .and_then(|s| s.get_property_value(var).ok())
        .unwrap_or_default();
    let hex = value.trim().trim_start_matches('#');
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    match (hex.len(), channel(0), channel(2), channel(4)) {
        (6, Some(r), Some(g), Some(b)) => RGBColor(r, g, b),
        _ => fallback,
    }
}

/// `14:05` within a day and a half, `3 Dec 14:05` beyond (local time).
fn time_label(ms: i64, span_ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let hm = format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
    if span_ms <= 36 * 3_600_000 {
        hm
    } else {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {} {hm}",
            d.get_date(),
            MONTHS[(d.get_month() as usize).min(11)]
        )
    }
}

/// The time span shown: the window asked for, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: i64,
    pub to: i64,
}

fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    span: Span,
    unit: Unit,
    series: &[Series],
    marks: &[Mark],
) -> Result<(), String> {
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| "no 2D context on the canvas".to_owned())?;
    let root = backend.into_drawing_area();
    let muted = css_color("--muted", RGBColor(93, 102, 120));
    let grid = css_color("--border", RGBColor(223, 227, 234));
    let bg = css_color("--panel", RGBColor(255, 255, 255));
    root.fill(&bg).map_err(|e| e.to_string())?;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let top = match unit {
        Unit::Percent => (max * 1.15).max(5.0),
        Unit::Bytes => (max * 1.15).max(1024.0 * 1024.0),
    };
    let span_ms = span.to - span.from;
    let label_style = ("sans-serif", 11).into_font().color(&muted);
    let mut chart = ChartBuilder::on(&root)
        .margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(span.from..span.to, 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(grid)
        .axis_style(grid)
        .x_labels(6)
        .y_labels(5)
        .label_style(label_style)
        .x_label_formatter(&|x| time_label(*x, span_ms))
        .y_label_formatter(&|y| unit.format(*y))
        .draw()
        .map_err(|e| e.to_string())?;
    for m in marks
        .iter()
        .filter(|m| m.at >= span.from && m.at <= span.to)
    {
        let color = if m.bad {
            css_color("--bad", RGBColor(194, 38, 31))
        } else {
            css_color("--ok", RGBColor(22, 128, 60))
        };
        chart
            .draw_series(LineSeries::new(
                [(m.at, 0.0), (m.at, top)],
                color.mix(0.8).stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
    }
    for s in series {
        let color = css_color(s.color, RGBColor(37, 99, 235));
        chart
            .draw_series(AreaSeries::new(
                s.points.iter().copied(),
                0.0,
                color.mix(0.12),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        // The latest value, as a dot (a lone first sample shows too).
        if let Some(last) = s.points.last() {
            chart
                .draw_series(std::iter::once(Circle::new(*last, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// A chart of `series` over `span`, with `marks`; hovering shows the values nearest the
/// pointer. `testid` names it for the UI tests.
#[component]
pub fn Chart(
    #[prop(into)] title: String,
    unit: Unit,
    span: Signal<Span>,
    series: Signal<Vec<Series>>,
    marks: Signal<Vec<Mark>>,
    #[prop(into)] testid: String,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let tip = RwSignal::new(None::<(f64, String)>);
    // Redrawn at the new width when the window is resized.
    let resized = RwSignal::new(0u32);
    let on_resize = window_event_listener(leptos::ev::resize, move |_| resized.update(|n| *n += 1));
    on_cleanup(move || on_resize.remove());
    Effect::new(move |_| {
        let (span, series, marks) = (span.get(), series.get(), marks.get());
        resized.track();
        if let Some(c) = canvas.get() {
            let shown = c.client_width();
            if shown > 0 && u32::try_from(shown).ok() != Some(c.width()) {
                c.set_width(u32::try_from(shown).unwrap_or(WIDTH));
            }
            if let Err(e) = draw(&c, span, unit, &series, &marks) {
                web_sys::console::warn_1(&format!("chart: {e}").into());
            }
        }
    });
    let on_move = move |ev: web_sys::MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let Some(el) = c.dyn_ref::<web_sys::Element>() else {
            return;
        };
        let rect = el.get_bounding_client_rect();
        if rect.width() <= 0.0 {
            return;
        }
        // Canvas pixels (it may be shown scaled).
        let width = f64::from(c.width());
        let x = (f64::from(ev.client_x()) - rect.left()) * width / rect.width();
        let left = f64::from(MARGIN + Y_LABELS);
        let right = width - f64::from(MARGIN);
        if x < left || x > right {
            tip.set(None);
            return;
        }
        let s = span.get_untracked();
        let at = s.from + ((x - left) / (right - left) * (s.to - s.from) as f64) as i64;
        let lines: Vec<String> = series.with_untracked(|all| {
            all.iter()
                .filter_map(|se| {
                    let p = se.points.iter().min_by_key(|p| (p.0 - at).abs())?;
                    Some(format!("{} {}", se.label, unit.format(p.1)))
                })
                .collect()
        });
        if lines.is_empty() {
            tip.set(None);
            return;
        }
        let mut text = time_label(at, 0);
        for l in lines {
            text.push_str(" · ");
            text.push_str(&l);
        }
        marks.with_untracked(|ms| {
            let near = (s.to - s.from) / 60;
            for m in ms.iter().filter(|m| (m.at - at).abs() <= near) {
                text.push_str(" · ");
                text.push_str(&m.label);
            }
        });
        tip.set(Some(((x / width * 100.0).clamp(0.0, 80.0), text)));
    };
    let legend = move || {
        series
            .get()
            .into_iter()
            .map(|s| {
                view! {
                    <span class="legend-item">
                        <span class="legend-swatch" style=format!("background: var({})", s.color)></span>
                        {s.label}
                    </span>
                }
            })
            .collect_view()
    };
    view! {
        <div class="chart" data-testid=testid>
            <div class="chart-head">
                <span class="chart-title">{title}</span>
                <span class="chart-legend">{legend}</span>
            </div>
            <div class="chart-body">
                <canvas
                    node_ref=canvas
                    width=WIDTH
                    height=HEIGHT
                    on:mousemove=on_move
                    on:mouseleave=move |_| tip.set(None)
                ></canvas>
                {move || {
                    tip.get()
                        .map(|(left, text)| {
                            view! {
                                <div class="chart-tip" style=format!("left: {left:.0}%")>
                                    {text}
                                </div>
                            }
                        })
                }}
            </div>
        </div>
    }
}
